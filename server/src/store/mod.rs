//! What the server needs from storage, as one trait, so a PostgreSQL store can
//! sit beside SQLite without touching handlers. The push algorithm itself
//! lives in [`crate::sync`] and drives a store's write transaction through
//! [`PushTx`], so every backend merges with the same code.

use std::collections::BTreeMap;

use serde::Serialize;
use sync_core::{Collection, RecordState, Role};
use uuid::Uuid;

pub mod sqlite;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database is locked or out of connections; the client may retry.
    #[error("the database is busy")]
    Busy,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub centre_id: Option<String>,
}

/// A device as the push transaction sees it. `key` is the store's compact id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    pub key: i64,
    pub user_id: Uuid,
    pub acked_seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindOutcome {
    Bound,
    /// The device already belongs to another user.
    OwnedByOther,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    Rotated {
        user_id: Uuid,
        device_id: Uuid,
    },
    Unknown,
    /// The token had been used before: its whole family is now revoked.
    Reused,
    Revoked,
    Expired,
}

/// A change already in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    pub device_key: i64,
    pub device_seq: u64,
    /// The change as pull returns it (JSON, with author).
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRejection {
    pub change_id: Uuid,
    pub code: String,
    pub detail: String,
}

/// A change to append to the log.
#[derive(Debug, Clone)]
pub struct NewChange<'a> {
    pub change_id: Uuid,
    pub device_key: i64,
    pub device_seq: u64,
    pub collection: Collection,
    pub centre_id: Option<&'a str>,
    pub volunteer_id: Option<&'a str>,
    pub body: &'a str,
}

#[derive(Debug, Clone)]
pub struct NewRejection<'a> {
    pub device_key: i64,
    pub device_seq: u64,
    pub change_id: Uuid,
    pub code: &'a str,
    pub detail: &'a str,
    pub body: &'a str,
}

/// A record's merge state and its materialized view, written once per
/// record a push touched.
#[derive(Debug, Clone)]
pub struct RecordWrite<'a> {
    pub collection: Collection,
    pub record_id: Uuid,
    pub state: &'a RecordState,
    pub centre_id: Option<&'a str>,
    pub volunteer_id: Option<&'a str>,
    pub village_code: Option<&'a str>,
    /// The local date of `started_at` as the volunteer wrote it (`YYYY-MM-DD`).
    pub started_on: Option<&'a str>,
    pub deleted: bool,
    pub conflicts: usize,
    pub version: Option<String>,
    pub help_type: Option<&'a str>,
    pub people_helped: Option<i64>,
    /// A session's linked beneficiaries, as a JSON array of ids.
    pub beneficiaries: Option<String>,
}

/// The operations a push runs inside one write transaction.
pub trait PushTx {
    fn device(&mut self, device_id: Uuid) -> Result<Option<Device>, StoreError>;
    fn find_change(&mut self, change_id: Uuid) -> Result<Option<StoredChange>, StoreError>;
    fn find_rejection(
        &mut self,
        device_key: i64,
        device_seq: u64,
    ) -> Result<Option<StoredRejection>, StoreError>;
    fn load_record(
        &mut self,
        collection: Collection,
        record_id: Uuid,
    ) -> Result<Option<RecordState>, StoreError>;
    /// Appends a change to the log; false (and nothing written) when a change
    /// with that id is already stored.
    fn insert_change(&mut self, change: &NewChange<'_>) -> Result<bool, StoreError>;
    fn insert_rejection(&mut self, rejection: &NewRejection<'_>) -> Result<(), StoreError>;
    fn save_record(&mut self, record: &RecordWrite<'_>) -> Result<(), StoreError>;
    fn update_device(
        &mut self,
        device_key: i64,
        acked_seq: u64,
        clock_offset_ms: i64,
    ) -> Result<(), StoreError>;
}

/// Which records a reader may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    All,
    Centre(String),
    /// A volunteer: their own sessions and their centre's beneficiaries.
    Volunteer {
        centre: String,
        user_id: Uuid,
    },
}

#[derive(Debug, Clone)]
pub struct PullQuery {
    pub after_seq: i64,
    pub limit: usize,
    pub scope: ReadScope,
    /// Leave out this device's own changes.
    pub exclude_device: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct PullPage {
    pub bodies: Vec<String>,
    /// Where the next pull starts.
    pub next_after_seq: i64,
    pub has_more: bool,
}

#[derive(Debug, Clone)]
pub struct RecordQuery {
    pub collection: Collection,
    pub scope: ReadScope,
    pub volunteer_id: Option<String>,
    pub village_code: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub conflicts_only: bool,
    pub exclude_deleted: bool,
    pub after_key: i64,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct RecordPage {
    pub rendered: Vec<String>,
    pub next_after_key: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub centre_id: Option<String>,
    pub volunteer_id: Option<String>,
    pub rendered: String,
}

#[derive(Debug, Clone)]
pub struct SummaryQuery {
    pub centre_id: Option<String>,
    /// Only this volunteer's sessions (a volunteer's own report).
    pub volunteer_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub sessions: u64,
    pub people_helped: u64,
    pub unique_beneficiaries: u64,
    pub active_volunteers: u64,
    pub by_help_type: BTreeMap<String, u64>,
    pub by_village: BTreeMap<String, u64>,
    pub open_conflicts: u64,
}

/// Everything the server stores.
pub trait Store: Send + Sync + 'static {
    /// Whether the store answers.
    fn ping(&self) -> Result<(), StoreError>;

    /// A named secret, created by `make` the first time it is asked for.
    fn secret(&self, name: &str, make: &dyn Fn() -> Vec<u8>) -> Result<Vec<u8>, StoreError>;

    fn count_users(&self) -> Result<u64, StoreError>;
    /// Creates a user; `Ok(None)` when the username is taken.
    fn create_user(&self, user: &User) -> Result<Option<User>, StoreError>;
    fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;
    fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError>;

    /// Failed logins counted for `username` since `since` (unix seconds), and
    /// when the oldest of them happened.
    fn login_failures(&self, username: &str, since: i64) -> Result<(u32, i64), StoreError>;
    fn record_login_failure(&self, username: &str, now: i64, since: i64) -> Result<(), StoreError>;
    fn clear_login_failures(&self, username: &str) -> Result<(), StoreError>;

    fn bind_device(&self, device_id: Uuid, user_id: Uuid) -> Result<BindOutcome, StoreError>;

    fn create_refresh_token(
        &self,
        hash: &[u8; 32],
        user_id: Uuid,
        device_id: Uuid,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Spends the token `old` and stores `new` in its family.
    fn rotate_refresh_token(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
        now: i64,
        new_expires_at: i64,
    ) -> Result<RotateOutcome, StoreError>;

    /// Runs `work` in one write transaction, committed only if it returns Ok.
    fn push(
        &self,
        work: &mut dyn FnMut(&mut dyn PushTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    fn pull(&self, query: &PullQuery) -> Result<PullPage, StoreError>;

    fn list_records(&self, query: &RecordQuery) -> Result<RecordPage, StoreError>;
    fn get_record(
        &self,
        collection: Collection,
        record_id: Uuid,
    ) -> Result<Option<StoredRecord>, StoreError>;
    fn summary(&self, query: &SummaryQuery) -> Result<Summary, StoreError>;
}
