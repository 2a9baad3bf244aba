//! Builders for valid changes, shared by the test modules.

use serde_json::{json, Value as Json};
use sync_core::{Change, ChangeDto, Rules};
use uuid::Uuid;

pub const RULES: Rules = Rules { current_year: 2026 };
pub const T0: u64 = 1_764_400_000_000;

pub fn hlc(wall: u64, counter: u16, device: Uuid) -> String {
    format!("{wall:013}-{counter:04x}-{device}")
}

pub fn session_create_fields(volunteer: Uuid) -> Json {
    json!({
        "centre_id": {"value": "C0001"},
        "volunteer_id": {"value": volunteer.to_string()},
        "village_code": {"value": "50010203"},
        "help_type": {"value": "welfare_rights"},
        "started_at": {"value": "2026-11-28T09:30:00+07:00"},
        "duration_min": {"value": 45},
        "people_helped": {"value": 3}
    })
}

pub fn beneficiary_create_fields() -> Json {
    json!({
        "centre_id": {"value": "C0001"},
        "village_code": {"value": "50010203"},
        "display_name": {"value": "นางสาวสมศรี มีสุข"},
        "consent": {"value": true}
    })
}

pub fn change_json(collection: &str, record: Uuid, hlc: &str, fields: Json) -> Json {
    json!({
        "id": Uuid::now_v7(),
        "device_seq": 1,
        "collection": collection,
        "record_id": record,
        "hlc": hlc,
        "fields": fields,
    })
}

pub fn dto(json: Json) -> ChangeDto {
    serde_json::from_value(json).expect("test change is well-formed")
}

pub fn decode(json: Json, author: Uuid) -> Result<Change, sync_core::ChangeError> {
    Change::decode(&dto(json), author, &RULES)
}
