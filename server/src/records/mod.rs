//! Merged records as the API shows them: rendered from their stored merge
//! state in one place, with each session's author by display name (contract
//! section 9), and exported as CSV or XLSX.

use std::collections::HashMap;

use sync_core::hlc::parse_canonical_uuid;
use sync_core::wire::RecordDto;
use uuid::Uuid;

use crate::store::{Store, StoreError, StoredRecord};

pub mod export;

/// Renders stored records, looking up the display names of their authors
/// once for the whole page.
pub fn render(store: &dyn Store, rows: &[StoredRecord]) -> Result<Vec<RecordDto>, StoreError> {
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
            dto
        })
        .collect())
}
