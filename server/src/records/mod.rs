//! Merged records as the API shows them: rendered from their stored merge
//! state in one place, with each session's author by display name (contract
//! section 9) and a beneficiary's `phone` and `national_id` masked for a
//! volunteer who did not create it (section 10), and exported as CSV or XLSX.
//! Pulls apply the same rule to changes (`sync::minimise`).

use std::collections::HashMap;

use sync_core::hlc::parse_canonical_uuid;
use sync_core::wire::{ChangeDto, ConsentEntry, RecordDto};
use sync_core::{Collection, Principal, Role};
use uuid::Uuid;

use crate::store::{HistoryEntry, Store, StoreError, StoredRecord};

pub mod export;

/// Whether `reader` sees this beneficiary's `phone` and `national_id`
/// (contract section 10): managers and admins always, a volunteer only on
/// the beneficiaries they created.
pub fn sees_personal(reader: &Principal, created_by: Option<Uuid>) -> bool {
    reader.role != Role::Volunteer || created_by == Some(reader.user_id)
}

/// Renders stored records as `reader` may see them, looking up the display
/// names of their authors once for the whole page.
pub fn render(
    store: &dyn Store,
    rows: &[StoredRecord],
    reader: &Principal,
) -> Result<Vec<RecordDto>, StoreError> {
    let authors: Vec<Uuid> = rows
        .iter()
        .filter_map(|r| r.volunteer_id.as_deref().and_then(parse_canonical_uuid))
        .collect();
    let names = if authors.is_empty() {
        HashMap::new()
    } else {
        store.display_names(&authors)?
    };
    Ok(rows
        .iter()
        .map(|row| {
            let mut dto = row.state.render(row.collection, row.id);
            dto.author_name = row
                .volunteer_id
                .as_deref()
                .and_then(parse_canonical_uuid)
                .and_then(|id| names.get(&id).cloned());
            if row.collection == Collection::Beneficiaries && !sees_personal(reader, row.created_by)
            {
                dto.mask_personal();
            }
            dto
        })
        .collect())
}

/// A change's writes of `consent` and `consent_version`: its HLC, the
/// consent it wrote, the version it wrote (`Some(None)`: set to null), its
/// author and device.
type ConsentWrite = (
    sync_core::Hlc,
    Option<bool>,
    Option<Option<String>>,
    Uuid,
    Uuid,
);

/// A beneficiary's consent history from its changes in the log: every
/// write of `consent`, by HLC, each with the consent text version it wrote
/// or, if it wrote none, the latest one written before it.
pub fn consent_history(entries: &[HistoryEntry]) -> Vec<ConsentEntry> {
    let mut writes: Vec<ConsentWrite> = Vec::new();
    for entry in entries {
        let Ok(dto) = serde_json::from_str::<ChangeDto>(&entry.body) else {
            continue;
        };
        let (Ok(hlc), Some(author)) = (dto.hlc.parse::<sync_core::Hlc>(), dto.author) else {
            continue;
        };
        let consent = dto.fields.get("consent").and_then(|w| w.value.as_bool());
        let version = dto
            .fields
            .get("consent_version")
            .map(|w| w.value.as_str().map(str::to_owned));
        if consent.is_some() || version.is_some() {
            writes.push((hlc, consent, version, author, entry.device_id));
        }
    }
    writes.sort_by_key(|w| w.0);
    let mut current_version = None;
    let mut history = Vec::new();
    for (hlc, consent, version, author, device) in writes {
        if let Some(v) = version {
            current_version = v;
        }
        if let Some(consent) = consent {
            history.push(ConsentEntry {
                consent,
                consent_version: current_version.clone(),
                at: hlc.to_rfc3339(),
                author,
                device_id: (device != Uuid::max()).then_some(device),
                hlc,
            });
        }
    }
    history
}
