//! What the server needs from storage, as one trait, so a PostgreSQL store can
//! sit beside SQLite without touching handlers. The push algorithm itself
//! lives in [`crate::sync`] and drives a store's write transaction through
//! [`PushTx`], so every backend merges with the same code.

use std::collections::{HashMap, HashSet};

use sync_core::{Collection, Hlc, RecordState, Role};
use uuid::Uuid;

pub mod backup;
#[cfg(test)]
pub(crate) mod conformance;
pub mod lineage;
pub mod postgres;
pub(crate) mod report;
pub mod sqlite;
pub mod url;

use std::sync::Arc;

use lineage::Lineage;
use url::DatabaseUrl;

/// Opens the store `url` names and migrates it to this version's schema
/// (the one place that knows which stores exist).
pub fn connect(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        DatabaseUrl::Sqlite(options) => Ok(Arc::new(sqlite::SqliteStore::open(options)?)),
        DatabaseUrl::Postgres(url) => Ok(Arc::new(postgres::PostgresStore::open(url)?)),
    }
}

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
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub centre_id: Option<String>,
    pub disabled: bool,
}

/// A device bound to a user, as user listings show it (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundDevice {
    pub device_id: Uuid,
    pub bound_at: Option<i64>,
    pub last_seen_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct UserQuery {
    /// Only users of this centre.
    pub centre_id: Option<String>,
    pub role: Option<Role>,
    /// Users whose username sorts after this one (lowercased), for paging.
    pub after: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct UserPage {
    pub users: Vec<(User, Vec<BoundDevice>)>,
    pub has_more: bool,
}

/// What a PATCH of a user changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    /// `Some(None)`: no centre (an admin).
    pub centre_id: Option<Option<String>>,
}

impl UserPatch {
    /// `user` with the patch applied.
    pub fn apply(&self, user: &User) -> User {
        User {
            display_name: self
                .display_name
                .clone()
                .unwrap_or_else(|| user.display_name.clone()),
            disabled: self.disabled.unwrap_or(user.disabled),
            password_hash: self
                .password_hash
                .clone()
                .unwrap_or_else(|| user.password_hash.clone()),
            role: self.role.unwrap_or(user.role),
            centre_id: self
                .centre_id
                .clone()
                .unwrap_or_else(|| user.centre_id.clone()),
            ..user.clone()
        }
    }

    /// Whether applying the patch to `user` ends every login of theirs.
    pub fn revokes(&self, user: &User) -> bool {
        self.disabled == Some(true) || self.password_hash.is_some() || self.changes_scope(user)
    }

    /// Whether the user's read scope changes, so their devices must pull again.
    pub fn changes_scope(&self, user: &User) -> bool {
        self.role.is_some_and(|r| r != user.role)
            || self
                .centre_id
                .as_ref()
                .is_some_and(|c| *c != user.centre_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateUser {
    Created(User),
    UsernameTaken,
    UnknownCentre,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateUser {
    Updated(User),
    NotFound,
    UnknownCentre,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Centre {
    pub code: String,
    pub name: String,
    pub province: String,
    pub district: String,
}

#[derive(Debug, Clone, Default)]
pub struct CentrePatch {
    pub name: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
}

/// Recent login attempts, counted when a new one is reserved (failures and
/// attempts still being checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptCounts {
    /// By this client address, for any username.
    pub address: u32,
    /// When the oldest of those was made.
    pub address_oldest_at: i64,
    /// For this username, from any address.
    pub username: u32,
    /// For this username from this address.
    pub username_from_address: u32,
    /// When the latest attempt for this username was made.
    pub username_latest_at: i64,
}

/// The server clock as both stores keep it (its text, as bytes).
pub(crate) fn server_clock_from(bytes: &[u8]) -> Result<Hlc, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<Hlc>().ok())
        .ok_or_else(|| StoreError::Corrupt("the stored server clock is not an hlc".into()))
}

/// A refresh token with its family, as rotation reads it (both stores).
#[derive(Debug, Clone)]
pub(crate) struct TokenRow {
    pub family: i64,
    pub used_at: Option<i64>,
    pub successor: Option<Vec<u8>>,
    pub graced: bool,
    pub expires_at: i64,
    pub revoked: bool,
    pub user_id: Uuid,
    pub device_id: Uuid,
}

impl TokenRow {
    /// The grace window's rule, but for the successor being unused (which
    /// the store reads): a spent token, spent less than `grace_secs` ago,
    /// never graced before, unexpired, presented with its family's device,
    /// may be spent once more in place of its successor, returned here.
    pub(crate) fn grace_successor(
        &self,
        device_id: Option<Uuid>,
        now: i64,
        grace_secs: i64,
    ) -> Option<&[u8]> {
        let recent = self.used_at.is_some_and(|at| now - at <= grace_secs);
        if self.graced || !recent || device_id != Some(self.device_id) || self.expires_at <= now {
            return None;
        }
        self.successor.as_deref()
    }
}

/// Whether the login behind an access token still stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginState {
    pub revoked: bool,
    pub user_disabled: bool,
    /// The user the token's device is bound to now (`None`: unbound).
    pub device_owner: Option<Uuid>,
    /// Non-zero: the device must pull from the beginning before anything
    /// else. Each change of scope adds one, so clearing a value read before
    /// a newer change cannot clear that change.
    pub resync: i64,
    pub last_seen_at: Option<i64>,
    /// The device's `acked_seq` (0 for a device never bound).
    pub acked_seq: u64,
}

/// A device as the push transaction sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    /// The user it is bound to; `None` when unbound (and for the server's own).
    pub user_id: Option<Uuid>,
    pub acked_seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindOutcome {
    Bound,
    /// The device was another user's; the caller was allowed to take it over
    /// (its sequence continues, its old logins are revoked).
    TookOver,
    /// The device belongs to another user.
    OwnedByOther,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateOutcome {
    Rotated {
        user_id: Uuid,
        device_id: Uuid,
        family: i64,
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
    /// The device that pushed it.
    pub device_id: Uuid,
    pub device_seq: u64,
    /// The change as pull returns it: its wire JSON with author, written by
    /// [`crate::sync::push::prepare`] and kept verbatim by the store.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRejection {
    /// The change id as it was sent (not always a canonical uuid).
    pub change_id: String,
    pub code: String,
    pub detail: String,
}

/// A change to append to the log, from the device the write names.
#[derive(Debug, Clone)]
pub struct NewChange<'a> {
    pub change_id: Uuid,
    pub device_seq: u64,
    pub collection: Collection,
    pub record_id: Uuid,
    /// The record's centre and author, which decide who pulls the change.
    pub centre_id: Option<String>,
    pub volunteer_id: Option<String>,
    pub body: &'a str,
}

/// A change refused with its reason, kept so a resend gets the same answer.
#[derive(Debug, Clone)]
pub struct NewRejection<'a> {
    pub device_seq: u64,
    /// As sent (not always a canonical uuid).
    pub change_id: &'a str,
    pub code: &'static str,
    pub detail: String,
    pub body: &'a str,
    /// Unix seconds.
    pub at: i64,
}

/// A record's merge state and the columns that reads filter and reports
/// count on, written once per record a push touched.
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
    pub version: Option<Hlc>,
    pub help_type: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub duration_min: Option<i64>,
    pub people_helped: Option<i64>,
    /// A session's linked beneficiaries (empty for a beneficiary).
    pub beneficiaries: Vec<Uuid>,
    /// Who stored the record first: kept only when this write inserts it.
    pub created_by: Option<Uuid>,
    /// A beneficiary's `merged_into`.
    pub merged_into: Option<Uuid>,
}

/// The device's state after a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceUpdate {
    pub acked_seq: u64,
    /// The device's clock minus the server's.
    pub clock_offset_ms: i64,
    /// When it pushed (unix seconds).
    pub now: i64,
}

/// Everything a push (or a resolution) decided to write, handed to the
/// store in one call.
#[derive(Debug, Clone)]
pub struct PushWrites<'a> {
    /// The device whose changes and rejections these are; [`PushTx::device`]
    /// has read it in this transaction.
    pub device_id: Uuid,
    pub changes: Vec<NewChange<'a>>,
    pub rejections: Vec<NewRejection<'a>>,
    pub records: Vec<RecordWrite<'a>>,
    pub device: Option<DeviceUpdate>,
    /// The server clock's new last value, when the server wrote a change.
    pub server_clock: Option<Hlc>,
}

/// The reads and the one write of a push, inside one write transaction.
///
/// **Round trips.** Each method is one request to the database whatever the
/// length of its arguments, and the push algorithm calls each at most once
/// per batch: a push of 1,000 changes costs the same number of round trips
/// as a push of one (`sync::push` tests count them).
///
/// **Isolation.** A transaction sees the state committed before it and its
/// own writes, and the store makes every push transaction serializable:
/// the result is as if pushes ran one at a time. [`PushTx::device`] takes
/// the device for the transaction (two pushes of one device never
/// interleave) and [`PushTx::load_records`] takes the records it returns and
/// the keys it did not find; a store that runs transactions concurrently
/// fails one of two that conflict with [`StoreError::Busy`] (answered 503,
/// the client retries) and keeps nothing of it. A change id that is
/// already stored makes [`PushTx::write`] fail rather than skip it.
///
/// **Ordering.** Changes appended by one transaction get log positions in
/// the order of [`PushWrites::changes`], and a pull that has returned a
/// position never later finds a new change at or before it.
pub trait PushTx {
    /// The device, or `None` when it was never bound.
    fn device(&mut self, device_id: Uuid) -> Result<Option<Device>, StoreError>;
    /// The stored changes among these ids (ids not stored are absent).
    fn find_changes(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, StoredChange>, StoreError>;
    /// The device's stored rejections at these sequence numbers.
    fn find_rejections(
        &mut self,
        device_id: Uuid,
        seqs: &[u64],
    ) -> Result<HashMap<u64, StoredRejection>, StoreError>;
    /// The merge states of the stored records among these keys.
    fn load_records(
        &mut self,
        keys: &[(Collection, Uuid)],
    ) -> Result<HashMap<(Collection, Uuid), RecordState>, StoreError>;
    /// Which of these centre codes exist.
    fn existing_centres(&mut self, codes: &[&str]) -> Result<HashSet<String>, StoreError>;
    /// The last HLC the server's own clock handed out, kept in the store so
    /// every server process continues it (changes the server writes).
    fn server_clock(&mut self) -> Result<Option<Hlc>, StoreError>;
    /// Appends the changes and rejections, writes the records, the device
    /// and the server clock.
    fn write(&mut self, writes: &PushWrites<'_>) -> Result<(), StoreError>;
    /// The ledger's entry for this beneficiary, if it was erased.
    fn erasure(&mut self, record_id: Uuid) -> Result<Option<Erasure>, StoreError>;
    /// Which of these beneficiaries the ledger says were erased.
    fn erased_among(&mut self, ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError>;
    /// Overwrites the personal fields of every stored change and rejection
    /// of the beneficiary with their placeholders
    /// ([`sync_core::ChangeDto::scrub_personal`]: HLC and base kept), and
    /// adds the erasure to the ledger (an entry already there stays).
    fn erase(&mut self, erasure: &Erasure) -> Result<(), StoreError>;
}

/// When a beneficiary was last seen (see [`Store::people_last_seen`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSeen {
    pub id: Uuid,
    /// `YYYY-MM-DD`, the latest local start date of a session linking them.
    pub last_session_on: Option<String>,
    /// The greatest HLC merged into their record.
    pub version: Option<Hlc>,
}

/// An entry of the erasure ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub record_id: Uuid,
    pub centre_id: Option<String>,
    pub by: Uuid,
    /// Unix seconds.
    pub at: i64,
}

/// A manager's word that two beneficiaries are not one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dismissal {
    /// `a` < `b`.
    pub a: Uuid,
    pub b: Uuid,
    pub centre_id: String,
    pub by: Uuid,
    /// Unix seconds.
    pub at: i64,
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
    /// End the page before its JSON would pass this many bytes (at least
    /// one change all the same).
    pub max_bytes: Option<usize>,
    pub scope: ReadScope,
    /// Leave out this device's own changes.
    pub exclude_device: Option<Uuid>,
    /// What the reader gets of each change (masked writes, version 1).
    pub reader: crate::sync::minimise::Reader,
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
    /// Only deleted records.
    pub only_deleted: bool,
    pub help_type: Option<String>,
    pub outcome: Option<String>,
    /// Only sessions of these volunteers (a name search's matches).
    pub volunteer_ids: Option<Vec<Uuid>>,
    /// Newest first (the console's lists) instead of oldest first.
    pub newest_first: bool,
    /// Rows to skip (the console's page numbers); API pages use `after_key`.
    pub offset: usize,
    pub after_key: i64,
    pub limit: usize,
}

impl RecordQuery {
    /// Every record of `collection` the scope may read, a page at a time.
    pub fn new(collection: Collection, scope: ReadScope, limit: usize) -> RecordQuery {
        RecordQuery {
            collection,
            scope,
            volunteer_id: None,
            village_code: None,
            from: None,
            to: None,
            conflicts_only: false,
            exclude_deleted: false,
            only_deleted: false,
            help_type: None,
            outcome: None,
            volunteer_ids: None,
            newest_first: false,
            offset: 0,
            after_key: 0,
            limit,
        }
    }
}

/// One change of a record's history, in log order.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub seq: i64,
    /// The device that pushed it (the all-ones uuid: the server).
    pub device_id: Uuid,
    /// The change as pull returns it (JSON, with author).
    pub body: String,
}

/// A device as managers see it (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub device_id: Uuid,
    pub user: User,
    pub bound_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub last_push_at: Option<i64>,
    pub acked_seq: u64,
    pub clock_offset_ms: i64,
    /// Rejections since the query's `since`.
    pub rejections: u64,
}

/// Figures of one volunteer for the programme report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolunteerFigures {
    pub volunteer_id: String,
    pub sessions: u64,
    pub people_helped: u64,
    pub unique_beneficiaries: u64,
    pub minutes: u64,
}

/// Sessions and people helped in the week starting `monday` (YYYY-MM-DD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekFigures {
    pub monday: String,
    pub sessions: u64,
    pub people_helped: u64,
}

/// Sessions and people helped per value of a column (help type, village).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFigures {
    pub value: String,
    pub sessions: u64,
    pub people_helped: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgrammeRows {
    pub volunteers: Vec<VolunteerFigures>,
    pub weeks: Vec<WeekFigures>,
    pub by_help_type: Vec<GroupFigures>,
    pub by_village: Vec<GroupFigures>,
    /// Totals over the whole range, each person counted once.
    pub unique_beneficiaries: u64,
}

/// A console login, as its cookie finds it.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub user: User,
    pub csrf: String,
    pub last_seen_at: i64,
}

/// A record as stored: its merge state and the columns reads filter on.
/// The store renders nothing; [`crate::render`] does.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub collection: Collection,
    pub id: Uuid,
    pub centre_id: Option<String>,
    pub volunteer_id: Option<String>,
    /// The user whose change first stored the record.
    pub created_by: Option<Uuid>,
    pub state: RecordState,
}

#[derive(Debug, Clone)]
pub struct RecordPage {
    pub records: Vec<StoredRecord>,
    pub next_after_key: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct SummaryQuery {
    pub centre_id: Option<String>,
    /// Only this volunteer's sessions (a volunteer's own report).
    pub volunteer_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

pub use report::People;
/// The summary report is a wire type; the store fills it in.
pub use sync_core::wire::Summary;

/// Everything the server stores.
pub trait Store: Send + Sync + 'static {
    /// Whether the store answers.
    fn ping(&self) -> Result<(), StoreError>;

    /// How many calls the store can serve at once (its connections); the
    /// server sizes its pool of blocking threads from it.
    fn connections(&self) -> usize;

    /// A named secret, created by `make` the first time it is asked for.
    fn secret(&self, name: &str, make: &dyn Fn() -> Vec<u8>) -> Result<Vec<u8>, StoreError>;

    /// The change log's epochs, root first.
    fn lineage(&self) -> Result<Lineage, StoreError>;
    /// Starts a new epoch forked at the log's last position (what a restore
    /// does once the backup's data is in place) and returns the lineage.
    fn begin_epoch(&self, now: i64) -> Result<Lineage, StoreError>;

    fn count_users(&self) -> Result<u64, StoreError>;
    fn create_user(&self, user: &User) -> Result<CreateUser, StoreError>;
    /// The user with this username, compared without regard to case.
    fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;
    fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError>;
    /// Users ordered by lowercased username, with their bound devices.
    fn list_users(&self, query: &UserQuery) -> Result<UserPage, StoreError>;
    fn user_devices(&self, user_id: Uuid) -> Result<Vec<BoundDevice>, StoreError>;
    /// Applies a patch in one transaction; when it [`UserPatch::revokes`],
    /// every login of the user is revoked in the same transaction, and when
    /// it [`UserPatch::changes_scope`], each of their devices must resync.
    fn update_user(&self, id: Uuid, patch: &UserPatch) -> Result<UpdateUser, StoreError>;
    /// Display names of these users (unknown ids are left out).
    fn display_names(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, StoreError>;

    /// Creates a centre; false when the code is taken.
    fn create_centre(&self, centre: &Centre) -> Result<bool, StoreError>;
    fn update_centre(&self, code: &str, patch: &CentrePatch) -> Result<Option<Centre>, StoreError>;
    /// Every centre, or only the one with this code.
    fn list_centres(&self, only: Option<&str>) -> Result<Vec<Centre>, StoreError>;

    /// Counts recent attempts for `username` and `address` (made at or after
    /// `since`) and, unless `judge` answers a wait in seconds, records a
    /// pending attempt, all in one write transaction: concurrent logins are
    /// counted before their passwords are checked. `Ok(attempt id)` or
    /// `Err(seconds to wait)`.
    fn reserve_login(
        &self,
        username: &str,
        address: &str,
        now: i64,
        since: i64,
        judge: &dyn Fn(&AttemptCounts) -> Option<u64>,
    ) -> Result<Result<i64, u64>, StoreError>;
    /// Ends an attempt: a failure stays counted; a success is forgotten with
    /// the earlier failures of that username from that address.
    fn finish_login(&self, attempt: i64, succeeded: bool) -> Result<(), StoreError>;

    /// Binds a device to `user`. A device bound to someone else stays theirs
    /// unless `may_take_over(owner)` allows the new user to take it over.
    fn bind_device(
        &self,
        device_id: Uuid,
        user: &User,
        now: i64,
        may_take_over: &dyn Fn(&User) -> bool,
    ) -> Result<BindOutcome, StoreError>;
    /// Unbinds a device from `user_id` and revokes its logins; false when the
    /// device is not bound to that user. The device's sequence is kept.
    fn unbind_device(&self, user_id: Uuid, device_id: Uuid) -> Result<bool, StoreError>;
    /// The device pulled from the beginning after the resync mark `seen`:
    /// clears it, unless a newer change of scope raised it since.
    fn clear_resync(&self, device_id: Uuid, seen: i64) -> Result<(), StoreError>;
    fn touch_device(&self, device_id: Uuid, now: i64) -> Result<(), StoreError>;

    /// Starts a login (a refresh token family); returns the family id.
    fn create_refresh_token(
        &self,
        hash: &[u8; 32],
        user_id: Uuid,
        device_id: Uuid,
        expires_at: i64,
        now: i64,
    ) -> Result<i64, StoreError>;
    /// Spends the token `old` and stores `new` in its family. A token spent
    /// less than `grace_secs` ago, presented again with its family's
    /// `device_id` while its successor is unused, is spent once more: the
    /// successor is revoked and `new` replaces it (the answer that carried
    /// the successor was lost).
    fn rotate_refresh_token(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
        device_id: Option<Uuid>,
        now: i64,
        new_expires_at: i64,
        grace_secs: i64,
    ) -> Result<RotateOutcome, StoreError>;
    /// Revokes the login this refresh token belongs to (logout).
    fn revoke_login(&self, hash: &[u8; 32]) -> Result<(), StoreError>;
    /// The state of a login, for checking an access token issued from it.
    fn login_state(&self, family: i64) -> Result<Option<LoginState>, StoreError>;

    /// Runs `work` in one write transaction (isolated as [`PushTx`] says),
    /// committed only if it returns Ok. A store may run `work` again after
    /// a conflict it settles by retrying, so `work` must act only through
    /// its transaction and overwrite what it reports on each run.
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
    /// How many records match (paging and limit aside).
    fn count_records(&self, query: &RecordQuery) -> Result<u64, StoreError>;
    fn record_history(
        &self,
        collection: Collection,
        record_id: Uuid,
    ) -> Result<Vec<HistoryEntry>, StoreError>;
    /// Devices bound to users of `centre` (every bound device when `None`),
    /// with their rejections since `since` (unix seconds).
    fn list_devices(&self, centre: Option<&str>, since: i64) -> Result<Vec<DeviceRow>, StoreError>;
    /// Per volunteer and per week figures of the sessions `query` selects.
    fn programme(&self, query: &SummaryQuery) -> Result<ProgrammeRows, StoreError>;
    /// Ids of the users of `centre` (any centre when `None`) whose display
    /// name or username contains `text` (without regard to case).
    fn users_matching(&self, centre: Option<&str>, text: &str) -> Result<Vec<Uuid>, StoreError>;

    /// The pairs of beneficiaries dismissed from `centre`'s duplicates, each
    /// as `(a, b)` with `a` < `b`.
    fn dismissed_pairs(&self, centre: &str) -> Result<HashSet<(Uuid, Uuid)>, StoreError>;
    /// Records that `a` and `b` (`a` < `b`) are not one person; dismissing a
    /// pair again changes nothing.
    fn dismiss_pair(&self, dismissal: &Dismissal) -> Result<(), StoreError>;
    /// After an erasure committed: leave none of the overwritten bytes in
    /// the store's files where the store can (SQLite: checkpoint the WAL
    /// and truncate it; `secure_delete` is always on). PostgreSQL: nothing
    /// (docs/PROTOCOL.md says what VACUUM, WAL and backups mean).
    fn settle_erasure(&self) -> Result<(), StoreError>;
    /// The sessions whose `beneficiary_ids` hold this beneficiary.
    fn sessions_linking(&self, beneficiary: Uuid) -> Result<Vec<Uuid>, StoreError>;
    /// The ledger's entry for this beneficiary, if it was erased.
    fn erasure_of(&self, beneficiary: Uuid) -> Result<Option<Erasure>, StoreError>;
    /// Every beneficiary not erased, with when they were last seen: the
    /// latest start date of a session linking them, and their record's
    /// version (for the retention command).
    fn people_last_seen(&self) -> Result<Vec<LastSeen>, StoreError>;
    /// Who each beneficiary is: their `merged_into` chains resolved (the
    /// erasure, the export and the retention rule act on a whole person).
    fn people(&self) -> Result<People, StoreError>;

    fn create_web_session(
        &self,
        hash: &[u8; 32],
        user_id: Uuid,
        csrf: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The session of this cookie hash, if it exists and its user does;
    /// sessions idle since before `idle_since` are deleted and not found.
    fn web_session(
        &self,
        hash: &[u8; 32],
        idle_since: i64,
    ) -> Result<Option<WebSession>, StoreError>;
    /// Marks the session used now, and forgets every session idle since
    /// before `idle_since`.
    fn touch_web_session(
        &self,
        hash: &[u8; 32],
        now: i64,
        idle_since: i64,
    ) -> Result<(), StoreError>;
    fn end_web_session(&self, hash: &[u8; 32]) -> Result<(), StoreError>;
}
