//! Forward compatibility (contract section 7): a pulled change that writes
//! keys this version does not know is merged whole, its unknown keys kept in
//! the merge state (merged as any key, stored, shown nowhere) instead of
//! setting the whole change aside.

use serde_json::json;
use sync_core::codec::{decode, encode};
use sync_core::{Change, ChangeDto, Collection, RecordState, Rules};
use uuid::Uuid;

const RULES: Rules = Rules { current_year: 2026 };

fn pulled(device: Uuid, record: Uuid, wall: u64, fields: serde_json::Value) -> ChangeDto {
    serde_json::from_value(json!({
        "id": Uuid::now_v7(), "device_seq": 1, "collection": "beneficiaries",
        "record_id": record, "hlc": format!("{wall:013}-0000-{device}"),
        "fields": fields, "author": Uuid::nil(),
    }))
    .unwrap()
}

#[test]
fn unknown_keys_of_a_pulled_change_are_kept_and_merged_like_any_key() {
    let (device, record) = (Uuid::new_v4(), Uuid::now_v7());
    let first = pulled(
        device,
        record,
        1_790_000_000_000,
        json!({
            "centre_id": {"value": "C0001"}, "village_code": {"value": "50010203"},
            "display_name": {"value": "มาลี"}, "consent": {"value": true},
            "household_id": {"value": "1101700207366"},
            "guardian": {"value": {"v": 2, "text": "ยินยอม"}},
        }),
    );
    assert!(
        Change::decode(&first, Uuid::nil(), &RULES).is_err(),
        "a push with unknown keys stays refused"
    );
    let sync_core::Pulled {
        change, unknown, ..
    } = Change::decode_pulled(&first, Uuid::nil(), &RULES).unwrap();
    assert_eq!(change.writes.len(), 4, "every known key is decoded");
    let names: Vec<&str> = unknown.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(names, ["guardian", "household_id"]);

    let later_hlc = format!("1790000000001-0000-{device}");
    let second = pulled(
        device,
        record,
        1_790_000_000_001,
        json!({"household_id": {"value": "3100600812734", "base": [format!("1790000000000-0000-{device}")]}}),
    );
    let sync_core::Pulled {
        change: later,
        unknown: later_unknown,
        ..
    } = Change::decode_pulled(&second, Uuid::nil(), &RULES).unwrap();
    assert!(later.writes.is_empty(), "a change of unknown keys only");

    // Either order gives the same state, and the later write supersedes.
    let apply = |order: &[(&Change, &Vec<sync_core::UnknownWrite>)]| {
        let mut state = RecordState::new();
        for (c, u) in order {
            state.apply(c);
            for w in u.iter() {
                state.apply_unknown(c.hlc, c.author, w);
            }
        }
        state
    };
    let a = apply(&[(&change, &unknown), (&later, &later_unknown)]);
    let b = apply(&[(&later, &later_unknown), (&change, &unknown)]);
    assert_eq!(a, b);
    let (_, national) = a
        .unknown_registers()
        .find(|(k, _)| *k == "household_id")
        .unwrap();
    assert_eq!(national.heads().len(), 1);
    assert_eq!(national.heads()[0].hlc.to_string(), later_hlc);
    assert_eq!(a.version().unwrap().to_string(), later_hlc);

    // Stored and read back whole; shown nowhere.
    assert_eq!(decode(&encode(&a)).unwrap(), a);
    let shown = a.render(Collection::Beneficiaries, record);
    assert!(!shown.fields.contains_key("household_id"));
    assert_eq!(shown.fields["display_name"], "มาลี");
}

#[test]
fn a_state_without_unknown_keys_keeps_the_version_1_stored_form() {
    let (device, record) = (Uuid::new_v4(), Uuid::now_v7());
    let dto = pulled(
        device,
        record,
        1_790_000_000_000,
        json!({
            "centre_id": {"value": "C0001"}, "village_code": {"value": "50010203"},
            "display_name": {"value": "มาลี"}, "consent": {"value": true},
        }),
    );
    let change = Change::decode(&dto, Uuid::nil(), &RULES).unwrap();
    let mut state = RecordState::new();
    state.apply(&change);
    assert_eq!(
        encode(&state)[0],
        1,
        "servers and old devices read it as before"
    );
}
