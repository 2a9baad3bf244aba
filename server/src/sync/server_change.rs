//! A change the server itself writes, inside one store write transaction
//! like a push: a manager's resolution of a conflict, a merge of two
//! beneficiaries from the console. Stamped by the server's own clock (node
//! `server`, `device_seq` 0, kept in the store so that every server process
//! continues it); it enters the log like any change, so every device that
//! may read the record gets it at its next pull.

use sync_core::{
    check_against_state, Change, Collection, Field, HlcClock, Key, Node, RecordState, Value, Write,
};
use uuid::Uuid;

use crate::store::{NewChange, PushTx, PushWrites, StoreError};
use crate::sync::push::record_write;

/// Why the server's change was not written.
#[derive(Debug, thiserror::Error)]
pub enum ServerChangeError {
    /// The change breaks a rule of the record (an immutable key...).
    #[error(transparent)]
    Invalid(sync_core::ChangeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes `writes` to the stored record `state` as `author`; returns the
/// record's state afterwards.
pub fn write(
    tx: &mut dyn PushTx,
    collection: Collection,
    record_id: Uuid,
    mut state: RecordState,
    writes: Vec<Write>,
    author: Uuid,
    now_ms: u64,
) -> Result<RecordState, ServerChangeError> {
    // Taking the server's device first serialises these changes like a
    // device's pushes, so the server clock advances one change at a time.
    tx.device(Uuid::max())?
        .ok_or_else(|| StoreError::Corrupt("the server's own device row is missing".into()))?;
    let mut clock = match tx.server_clock()? {
        Some(last) => HlcClock::resume(Node::Server, last),
        None => HlcClock::new(Node::Server),
    };
    if let Some(version) = state.version() {
        clock.observe(version, now_ms);
    }
    let hlc = clock.tick(now_ms);
    let mut writes = writes;
    writes.sort_by_key(|w| w.key);
    let change = Change {
        id: Uuid::now_v7(),
        device_seq: 0,
        collection,
        record_id,
        hlc,
        author,
        writes,
    };
    check_against_state(&change, Some(&state)).map_err(ServerChangeError::Invalid)?;
    let body = serde_json::to_string(&change.to_dto(true))
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    let volunteer = state
        .value(&Key::field(Field::VolunteerId))
        .and_then(Value::as_str)
        .and_then(sync_core::hlc::parse_canonical_uuid)
        .map(|u| u.to_string());
    let new_change = NewChange {
        change_id: change.id,
        device_seq: 0,
        collection,
        record_id,
        centre_id: state.centre_id().map(str::to_owned),
        volunteer_id: volunteer,
        body: &body,
    };
    state.apply(&change);
    tx.write(&PushWrites {
        device_id: Uuid::max(),
        changes: vec![new_change],
        rejections: Vec::new(),
        records: vec![record_write(collection, record_id, &state, None)],
        device: None,
        server_clock: Some(hlc),
    })?;
    Ok(state)
}
