//! The Asa Sync client SDK for Kotlin (Android), Swift (iOS) and Python,
//! through uniffi.
//!
//! This crate is a thin layer over `client-sdk`: the same [`client_sdk::Client`],
//! its store, outbox and sync loop. What it adds is the shape foreign
//! languages need: ids as strings, maps as `HashMap`, every error one typed
//! exception ([`AsaError`]) carrying the stable code and whether a retry
//! may help, and progress as a [`SyncObserver`] the app implements.
//!
//! Every method of [`AsaClient`] blocks (SQLite and HTTP): call it from a
//! background thread (a Kotlin `Dispatchers.IO` coroutine, a WorkManager
//! worker, a Swift `Task.detached`), never the UI thread. One `AsaClient`
//! per database file, shared by every thread of the app: edits may run
//! while a sync runs; two syncs run one after the other.

use std::collections::HashMap;
use std::sync::Arc;

mod convert;

pub use convert::AsaError;

uniffi::setup_scaffolding!("asa_sdk");

/// The two collections of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Collection {
    Sessions,
    Beneficiaries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    Volunteer,
    Manager,
    Admin,
}

/// Where a record stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStatus {
    /// Every local edit has been acknowledged by the server.
    Synced,
    /// Some local edits wait to be pushed.
    Pending,
    /// The server refused one of this device's edits (see `rejected()`).
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ExportFormat {
    Csv,
    Json,
    Xlsx,
}

/// A value a key holds.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum FieldValue {
    Null,
    Bool {
        value: bool,
    },
    Int {
        value: i64,
    },
    /// A number that is not a 64-bit integer (no key of protocol 1.1 holds one).
    Float {
        value: f64,
    },
    Text {
        value: String,
    },
    /// A value of a kind this SDK does not know (from a newer protocol), as JSON text.
    Json {
        value: String,
    },
    /// A value this user may not see (a volunteer, the `phone` and
    /// `national_id` of a beneficiary someone else created): its last 4
    /// characters. Show it masked (`••••5678`), not as empty; it cannot be
    /// written back (`invalid_value`), but a new value can be written over it.
    Masked {
        shown: String,
    },
}

/// A key of a record: a field (`notes`), or one member of a set (one
/// beneficiary linked to a session: `Member { set: "beneficiary_ids", id }`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Key {
    Field { name: String },
    Member { set: String, id: String },
}

/// One key to write.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FieldEdit {
    pub key: Key,
    pub value: FieldValue,
}

/// How the client talks to the server. Only `server_url` has no default.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientConfig {
    /// The server's base URL, e.g. `https://asa.example.org`.
    pub server_url: String,
    /// Changes per push request (at most 1000).
    #[uniffi(default = 200)]
    pub batch_size: u32,
    /// Changes per pulled page (1 to 1000).
    #[uniffi(default = 500)]
    pub pull_limit: u32,
    /// Compress request bodies and ask for compressed responses.
    #[uniffi(default = true)]
    pub gzip: bool,
    /// Attempts per request before a network error or a 5xx is given up on.
    #[uniffi(default = 5)]
    pub max_attempts: u32,
    /// The first retry waits about this long, each later one twice as long.
    #[uniffi(default = 500)]
    pub backoff_base_ms: u64,
    /// No single wait (backoff or `Retry-After`) is longer than this.
    #[uniffi(default = 60000)]
    pub backoff_max_ms: u64,
    #[uniffi(default = 60)]
    pub timeout_secs: u64,
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub centre_id: Option<String>,
    pub centre_name: Option<String>,
}

/// A new help session by the signed-in user, in their centre.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewSession {
    pub village_code: String,
    /// One of [`help_types`].
    pub help_type: String,
    /// RFC 3339, e.g. `2026-11-28T09:30:00+07:00`.
    pub started_at: String,
    pub duration_min: i64,
    pub people_helped: i64,
    /// One of [`outcomes`].
    #[uniffi(default = None)]
    pub outcome: Option<String>,
    #[uniffi(default = None)]
    pub notes: Option<String>,
    /// `YYYY-MM-DD`.
    #[uniffi(default = None)]
    pub follow_up_on: Option<String>,
}

/// A new beneficiary in the signed-in user's centre.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewBeneficiary {
    pub village_code: String,
    pub display_name: String,
    #[uniffi(default = None)]
    pub phone: Option<String>,
    #[uniffi(default = None)]
    pub birth_year: Option<i64>,
    /// The person agreed to have their data recorded (must be true).
    pub consent: bool,
    /// The Thai national id (13 digits, valid check digit).
    #[uniffi(default = None)]
    pub national_id: Option<String>,
    /// The version of the consent text the person agreed to.
    #[uniffi(default = None)]
    pub consent_version: Option<String>,
}

/// A merged record as this device sees it, unsynced edits included.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Record {
    pub id: String,
    pub collection: Collection,
    pub centre_id: Option<String>,
    /// The winning value of each field that has one.
    pub fields: HashMap<String, FieldValue>,
    /// The members of each set (`beneficiary_ids`), as ids.
    pub sets: HashMap<String, Vec<String>>,
    pub deleted: bool,
    /// The person was erased under the PDPA: their personal fields hold
    /// placeholders and can no longer be written.
    pub erased: bool,
    pub conflicts: Vec<Conflict>,
    /// The greatest HLC merged into the record.
    pub version: Option<String>,
    pub status: SyncStatus,
}

/// A key whose concurrent writes hold different values.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Conflict {
    pub collection: Collection,
    pub record_id: String,
    pub key: Key,
    /// Every competing value, the one shown as the winner first.
    pub heads: Vec<ConflictHead>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConflictHead {
    pub value: FieldValue,
    pub hlc: String,
    /// The user who wrote it.
    pub author: String,
    /// When it was written, in milliseconds since the Unix epoch.
    pub written_at_ms: u64,
}

/// One of this device's changes that the server refused, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedChange {
    pub change_id: String,
    pub device_seq: u64,
    pub collection: Collection,
    pub record_id: String,
    /// The stable rejection code, e.g. `out_of_range`.
    pub code: String,
    pub detail: String,
    pub written_at_ms: u64,
}

/// Why a beneficiary may be the person about to be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Likeness {
    /// The same phone number.
    SamePhone,
    /// A similar name (Thai titles, spaces and a slip or two set aside).
    SimilarName,
}

/// A beneficiary who may be the person about to be recorded.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SimilarBeneficiary {
    pub record: Record,
    pub reason: Likeness,
}

/// A change pulled from the server that this SDK cannot read; kept aside.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UnreadableChange {
    pub change_id: String,
    pub code: String,
    pub detail: String,
}

/// A user of the server's directory, as a manager's device knows them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KnownUser {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
}

/// Filters for `records()`; the defaults list every live record.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct Query {
    #[uniffi(default = None)]
    pub village_code: Option<String>,
    #[uniffi(default = None)]
    pub volunteer_id: Option<String>,
    #[uniffi(default = false)]
    pub include_deleted: bool,
    #[uniffi(default = false)]
    pub conflicts_only: bool,
    #[uniffi(default = None)]
    pub status: Option<SyncStatus>,
}

/// Options for one sync.
#[derive(Debug, Clone, PartialEq, Eq, Default, uniffi::Record)]
pub struct SyncOptions {
    /// The most bytes (request and response bodies, compressed) the sync may
    /// spend both ways; it stops before a request that would cross it. (A
    /// pulled page holds one change at least: one change larger than what
    /// is left can pass it by its size.)
    #[uniffi(default = None)]
    pub byte_budget: Option<u64>,
}

/// What one sync did; see the Rust SDK's `SyncReport` for each figure.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    pub pushed: u64,
    pub acked: u64,
    pub rejected: u64,
    pub pulled: u64,
    pub conflicts: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub skewed_clocks: u64,
    pub unreadable: u64,
    /// The budget ran out before everything was exchanged.
    pub budget_exhausted: bool,
    /// Changes still waiting to be pushed.
    pub pending: u64,
    /// The server may hold more for this device: sync again.
    pub more_to_pull: bool,
    pub resyncs: u64,
    pub resent_after_restore: u64,
    /// Set when the server was restored from a backup older than what this
    /// device still keeps: tell the user to call a manager.
    pub restore_gap: Option<u64>,
}

/// A manager's export of the server's records.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ExportRequest {
    pub collection: Collection,
    pub format: ExportFormat,
    #[uniffi(default = None)]
    pub centre_id: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    #[uniffi(default = None)]
    pub from: Option<String>,
    #[uniffi(default = None)]
    pub to: Option<String>,
    #[uniffi(default = false)]
    pub conflicts_only: bool,
    /// `None`: the format's default (CSV and JSON include deleted records).
    #[uniffi(default = None)]
    pub include_deleted: Option<bool>,
}

/// Told how a sync goes; the app implements it (a progress bar, a
/// notification). Called on the syncing thread after every pushed batch
/// and pulled page. An exception it throws is ignored: the sync goes on.
#[uniffi::export(callback_interface)]
pub trait SyncObserver: Send + Sync {
    fn progress(&self, report: SyncReport) -> Result<(), ObserverError>;
}

/// What a [`SyncObserver`] threw; any exception of the app's becomes one,
/// and the sync ignores it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum ObserverError {
    #[error("{detail}")]
    Failed { detail: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ObserverError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> ObserverError {
        ObserverError::Failed { detail: e.reason }
    }
}

/// The help types a session may record, in the schema's order.
#[uniffi::export]
pub fn help_types() -> Vec<String> {
    client_sdk::HELP_TYPES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The outcomes a session may record, in the schema's order.
#[uniffi::export]
pub fn outcomes() -> Vec<String> {
    client_sdk::OUTCOMES.iter().map(|s| s.to_string()).collect()
}

/// The SDK: a local store plus a sync client. One per database file,
/// shared by every thread; every method blocks.
#[derive(Debug, uniffi::Object)]
pub struct AsaClient {
    inner: client_sdk::Client,
}

type Result<T, E = AsaError> = std::result::Result<T, E>;

#[uniffi::export]
impl AsaClient {
    /// Opens the store at `path` (created on first use), e.g. in Android's
    /// `context.filesDir` or iOS's Application Support directory.
    #[uniffi::constructor]
    pub fn open(path: String, config: ClientConfig) -> Result<Arc<AsaClient>> {
        let inner = client_sdk::Client::open(path, config.into())?;
        Ok(Arc::new(AsaClient { inner }))
    }

    /// This installation's device id.
    pub fn device_id(&self) -> String {
        self.inner.device_id().to_string()
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<UserInfo> {
        self.inner.user().map(Into::into)
    }

    /// Logs in and binds this device to the user.
    pub fn login(&self, username: String, password: String) -> Result<UserInfo> {
        Ok(self.inner.login(&username, &password)?.into())
    }

    /// Ends the login; what this device saved stays and is pushed by
    /// whoever logs in next.
    pub fn logout(&self) -> Result<()> {
        Ok(self.inner.logout()?)
    }

    /// Records a new help session; returns its id.
    pub fn create_session(&self, session: NewSession) -> Result<String> {
        Ok(self.inner.create_session(&session.into())?.to_string())
    }

    /// Records a new beneficiary; returns its id.
    pub fn create_beneficiary(&self, beneficiary: NewBeneficiary) -> Result<String> {
        Ok(self
            .inner
            .create_beneficiary(&beneficiary.into())?
            .to_string())
    }

    /// Writes keys of an existing record.
    pub fn edit(&self, collection: Collection, id: String, edits: Vec<FieldEdit>) -> Result<()> {
        let edits = edits
            .into_iter()
            .map(client_sdk::FieldEdit::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .inner
            .edit(collection.into(), convert::id(&id)?, &edits)?)
    }

    /// Marks a record deleted.
    pub fn delete(&self, collection: Collection, id: String) -> Result<()> {
        Ok(self.inner.delete(collection.into(), convert::id(&id)?)?)
    }

    /// Links (or unlinks) a beneficiary to a session.
    pub fn link_beneficiary(
        &self,
        session: String,
        beneficiary: String,
        linked: bool,
    ) -> Result<()> {
        Ok(self.inner.link_beneficiary(
            convert::id(&session)?,
            convert::id(&beneficiary)?,
            linked,
        )?)
    }

    /// Settles a conflict on `key` with `value`, on every device once synced.
    pub fn resolve(
        &self,
        collection: Collection,
        id: String,
        key: Key,
        value: FieldValue,
    ) -> Result<()> {
        Ok(self.inner.resolve(
            collection.into(),
            convert::id(&id)?,
            &key.try_into()?,
            value.into(),
        )?)
    }

    /// Records of a collection as merged on this device.
    pub fn records(&self, collection: Collection, query: Query) -> Result<Vec<Record>> {
        let records = self.inner.records(collection.into(), &query.try_into()?)?;
        Ok(records.into_iter().map(Into::into).collect())
    }

    /// One record, or nothing when this device has never seen it.
    pub fn record(&self, collection: Collection, id: String) -> Result<Option<Record>> {
        Ok(self
            .inner
            .record(collection.into(), convert::id(&id)?)?
            .map(Into::into))
    }

    pub fn status(&self, collection: Collection, id: String) -> Result<SyncStatus> {
        Ok(self
            .inner
            .status(collection.into(), convert::id(&id)?)?
            .into())
    }

    /// Every key in conflict on this device.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        Ok(self
            .inner
            .conflicts()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// This device's changes the server refused, oldest first.
    pub fn rejected(&self) -> Result<Vec<RejectedChange>> {
        Ok(self.inner.rejected()?.into_iter().map(Into::into).collect())
    }

    /// Forgets a rejection the user has dealt with.
    pub fn dismiss_rejected(&self, change_id: String) -> Result<bool> {
        Ok(self.inner.dismiss_rejected(convert::id(&change_id)?)?)
    }

    /// Pulled changes this SDK could not read (ask the user to update the app).
    pub fn unreadable(&self) -> Result<Vec<UnreadableChange>> {
        Ok(self
            .inner
            .unreadable()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The users a manager's device knows from the server's directory.
    pub fn known_users(&self) -> Result<Vec<KnownUser>> {
        Ok(self
            .inner
            .known_users()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Before creating a beneficiary: the people this phone holds who may
    /// be the same person (same phone, or a similar name in the village),
    /// searched offline; same phone first.
    pub fn similar_beneficiaries(
        &self,
        name: String,
        village_code: Option<String>,
        phone: Option<String>,
    ) -> Result<Vec<SimilarBeneficiary>> {
        let found =
            self.inner
                .similar_beneficiaries(&name, village_code.as_deref(), phone.as_deref())?;
        Ok(found.into_iter().map(Into::into).collect())
    }

    /// Changes waiting to be pushed.
    pub fn pending_count(&self) -> Result<u64> {
        Ok(self.inner.pending_count()?)
    }

    /// Pushes every pending change, then pulls everything new.
    pub fn sync(&self) -> Result<SyncReport> {
        Ok(self.inner.sync()?.into())
    }

    /// A sync within `options`, telling `observer` how it goes.
    pub fn sync_with(
        &self,
        options: SyncOptions,
        observer: Box<dyn SyncObserver>,
    ) -> Result<SyncReport> {
        let options = client_sdk::SyncOptions {
            byte_budget: options.byte_budget,
        };
        // The app's failure to show progress is no reason to stop syncing.
        let tell = |report: &client_sdk::SyncReport| {
            let _ignored = observer.progress(report.clone().into());
        };
        Ok(self.inner.sync_with(&options, &tell)?.into())
    }

    /// A manager's export, as the file's bytes.
    pub fn export(&self, request: ExportRequest) -> Result<Vec<u8>> {
        Ok(self.inner.export(&request.into())?)
    }
}
