//! A manager's resolution of a conflict (contract section 9), run inside one
//! store write transaction like a push: the server writes one change whose
//! base is every head the manager saw, stamped by the server's own clock
//! (node `server`, `device_seq` 0, kept in the store so every server process
//! continues it), and it enters the log like any change, so every device
//! that may read the record gets it at its next pull.

use sync_core::hlc::parse_canonical_uuid;
use sync_core::{
    check_against_state, Change, ChangeDto, ChangeError, Collection, Hlc, HlcClock, Key, Node,
    RecordState, Rules, Write,
};
use uuid::Uuid;

use crate::store::{NewChange, PushTx, PushWrites, StoreError};
use crate::sync::push::record_write;

/// What a resolution is about.
#[derive(Debug, Clone)]
pub struct Resolution<'a> {
    pub collection: Collection,
    pub record_id: Uuid,
    pub key: &'a str,
    pub value: &'a serde_json::Value,
    /// The heads the manager saw, as HLC strings.
    pub base: &'a [String],
    pub author: Uuid,
    pub now_ms: u64,
    pub rules: Rules,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("there is no such record")]
    NotFound,
    /// The key's heads are no longer the ones the manager saw: another edit
    /// arrived meanwhile. Carries the record as it is now.
    #[error("another edit of `{key}` arrived meanwhile; look at the new values and choose again")]
    HeadsChanged {
        key: String,
        state: Box<RecordState>,
    },
    #[error("`{0}` is not in conflict: its heads do not hold two different values")]
    NotInConflict(String),
    /// The key or the value breaks a rule (the push's validation codes).
    #[error(transparent)]
    Invalid(ChangeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves a conflict; returns the record's state afterwards.
pub fn run(tx: &mut dyn PushTx, r: &Resolution<'_>) -> Result<RecordState, ResolveError> {
    let mut state = tx
        .load_records(&[(r.collection, r.record_id)])?
        .remove(&(r.collection, r.record_id))
        .filter(|s| !s.is_empty())
        .ok_or(ResolveError::NotFound)?;
    // The value is checked as the push would check a change writing it.
    let dto = ChangeDto {
        id: Uuid::now_v7().to_string(),
        device_seq: 0,
        collection: r.collection.name().to_owned(),
        record_id: r.record_id.to_string(),
        hlc: Hlc::new(r.now_ms, 0, Node::Server).to_string(),
        fields: [(
            r.key.to_owned(),
            sync_core::wire::WriteDto {
                value: r.value.clone(),
                base: Vec::new(),
                masked: None,
            },
        )]
        .into_iter()
        .collect(),
        author: None,
    };
    let decoded = Change::decode(&dto, r.author, &r.rules).map_err(ResolveError::Invalid)?;
    let Some(write) = decoded.writes.first() else {
        return Err(ResolveError::Invalid(ChangeError::EmptyChange));
    };
    let key: Key = write.key;
    let mut seen: Vec<Hlc> = r
        .base
        .iter()
        .map(|s| {
            s.parse::<Hlc>().map_err(|e| {
                ResolveError::Invalid(ChangeError::InvalidBase {
                    key: r.key.to_owned(),
                    reason: format!("`{s}`: {e}"),
                })
            })
        })
        .collect::<Result<_, _>>()?;
    seen.sort_unstable();
    seen.dedup();
    let mut heads: Vec<Hlc> = state.heads(&key).iter().map(|h| h.hlc).collect();
    heads.sort_unstable();
    if heads != seen {
        return Err(ResolveError::HeadsChanged {
            key: r.key.to_owned(),
            state: Box::new(state),
        });
    }
    if !state.register(&key).is_some_and(|reg| reg.in_conflict()) {
        return Err(ResolveError::NotInConflict(r.key.to_owned()));
    }
    // Taking the server's device first serialises resolutions like a
    // device's pushes, so the server clock advances one change at a time.
    tx.device(Uuid::max())?
        .ok_or_else(|| StoreError::Corrupt("the server's own device row is missing".into()))?;
    let mut clock = match tx.server_clock()? {
        Some(last) => HlcClock::resume(Node::Server, last),
        None => HlcClock::new(Node::Server),
    };
    if let Some(version) = state.version() {
        clock.observe(version, r.now_ms);
    }
    let hlc = clock.tick(r.now_ms);
    let change = Change {
        id: Uuid::now_v7(),
        device_seq: 0,
        collection: r.collection,
        record_id: r.record_id,
        hlc,
        author: r.author,
        writes: vec![Write::new(key, write.value.clone(), heads)],
    };
    check_against_state(&change, Some(&state)).map_err(ResolveError::Invalid)?;
    let body = serde_json::to_string(&change.to_dto(true))
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    let centre = state.centre_id().map(str::to_owned);
    let volunteer = state
        .value(&Key::field(sync_core::Field::VolunteerId))
        .and_then(sync_core::Value::as_str)
        .and_then(parse_canonical_uuid)
        .map(|u| u.to_string());
    let new_change = NewChange {
        change_id: change.id,
        device_seq: 0,
        collection: r.collection,
        record_id: r.record_id,
        centre_id: centre,
        volunteer_id: volunteer,
        body: &body,
    };
    state.apply(&change);
    tx.write(&PushWrites {
        device_id: Uuid::max(),
        changes: vec![new_change],
        rejections: Vec::new(),
        records: vec![record_write(r.collection, r.record_id, &state, None)],
        device: None,
        server_clock: Some(hlc),
    })?;
    Ok(state)
}
