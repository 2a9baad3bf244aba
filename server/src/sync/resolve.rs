//! A manager's resolution of a conflict (contract section 9): the server
//! writes one change (`sync::server_change`) whose base is every head the
//! manager saw, once it has checked that those are still the key's heads
//! and that they are in conflict.

use sync_core::{
    Change, ChangeDto, ChangeError, Collection, Hlc, Key, Node, RecordState, Rules, Write,
};
use uuid::Uuid;

use crate::store::{PushTx, StoreError};
use crate::sync::server_change::{self, ServerChangeError};

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
    let state = tx
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
    let writes = vec![Write::new(key, write.value.clone(), heads)];
    server_change::write(
        tx,
        r.collection,
        r.record_id,
        state,
        writes,
        r.author,
        r.now_ms,
    )
    .map_err(|e| match e {
        ServerChangeError::Invalid(e) => ResolveError::Invalid(e),
        ServerChangeError::Store(e) => ResolveError::Store(e),
    })
}
