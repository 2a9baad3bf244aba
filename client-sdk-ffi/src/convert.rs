//! Between the SDK's types and the foreign-friendly ones of this crate, and
//! the one error type every call raises.

use client_sdk as sdk;
use uuid::Uuid;

use crate::{
    ClientConfig, Collection, Conflict, ConflictHead, ExportFormat, ExportRequest, FieldEdit,
    FieldValue, Key, KnownUser, Likeness, NewBeneficiary, NewSession, Query, Record,
    RejectedChange, Role, SimilarBeneficiary, SyncReport, SyncStatus, UnreadableChange, UserInfo,
};

/// Every failure of an SDK call, as one exception type with a variant per
/// kind. Each carries `code`, the stable code to branch on (the protocol's
/// or the server's, e.g. `out_of_range`, `token_revoked`, or the SDK's own,
/// e.g. `not_logged_in`, `unreachable`), `detail`, a sentence for logs, and
/// `is_retryable`: whether the same call may succeed later with nothing
/// done by the user (the network or the server was unavailable).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum AsaError {
    /// The edit breaks a rule of the protocol; nothing was stored.
    #[error("{code}: {detail}")]
    Invalid {
        code: String,
        detail: String,
        is_retryable: bool,
    },
    /// The signed-in user may not do this; nothing was stored.
    #[error("{code}: {detail}")]
    Forbidden {
        code: String,
        detail: String,
        is_retryable: bool,
    },
    /// No such record on this device, or the key is not in conflict.
    #[error("{code}: {detail}")]
    NotFound {
        code: String,
        detail: String,
        is_retryable: bool,
    },
    /// Nobody is logged in on this device, the password was wrong, the
    /// login expired or was ended by the server, or the account is
    /// disabled: show the login screen. What the device saved is kept.
    #[error("{code}: {detail}")]
    Login {
        code: String,
        detail: String,
        is_retryable: bool,
    },
    /// The server refused the request (`status` is its HTTP status).
    #[error("{code} ({status}): {detail}")]
    Server {
        status: u16,
        code: String,
        detail: String,
        is_retryable: bool,
    },
    /// The network or the server stayed unavailable; sync again later.
    #[error("{code}: {detail}")]
    Unreachable {
        code: String,
        detail: String,
        is_retryable: bool,
    },
    /// An argument cannot be used: an id that is not a UUID, a server URL
    /// that is not one.
    #[error("{code}: {detail}")]
    InvalidArgument {
        code: String,
        detail: String,
        is_retryable: bool,
    },
    /// The device's database or the server's answers are not what they
    /// should be: a full disk, a damaged file, a newer database than this
    /// app, an answer outside the protocol.
    #[error("{code}: {detail}")]
    Local {
        code: String,
        detail: String,
        is_retryable: bool,
    },
}

impl From<sdk::Error> for AsaError {
    fn from(e: sdk::Error) -> AsaError {
        let code = e.code().to_owned();
        let detail = e.to_string();
        let is_retryable = e.is_retryable();
        match e {
            sdk::Error::Invalid { .. } => AsaError::Invalid {
                code,
                detail,
                is_retryable,
            },
            sdk::Error::Forbidden(_) => AsaError::Forbidden {
                code,
                detail,
                is_retryable,
            },
            sdk::Error::NotFound { .. } | sdk::Error::NoConflict { .. } => AsaError::NotFound {
                code,
                detail,
                is_retryable,
            },
            sdk::Error::NotLoggedIn
            | sdk::Error::InvalidCredentials
            | sdk::Error::LoginRequired { .. }
            | sdk::Error::AccessRevoked { .. }
            | sdk::Error::AccountDisabled => AsaError::Login {
                code,
                detail,
                is_retryable,
            },
            sdk::Error::Server { status, .. } => AsaError::Server {
                status,
                code,
                detail,
                is_retryable,
            },
            sdk::Error::Unreachable { .. } => AsaError::Unreachable {
                code,
                detail,
                is_retryable,
            },
            sdk::Error::InvalidServerUrl { .. } => AsaError::InvalidArgument {
                code,
                detail,
                is_retryable,
            },
            _ => AsaError::Local {
                code,
                detail,
                is_retryable,
            },
        }
    }
}

/// An id from the foreign side.
pub(crate) fn id(text: &str) -> Result<Uuid, AsaError> {
    Uuid::parse_str(text).map_err(|e| AsaError::InvalidArgument {
        code: "invalid_id".to_owned(),
        detail: format!("`{text}` is not a UUID: {e}"),
        is_retryable: false,
    })
}

fn ids(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

impl From<Collection> for sdk::Collection {
    fn from(c: Collection) -> Self {
        match c {
            Collection::Sessions => sdk::Collection::Sessions,
            Collection::Beneficiaries => sdk::Collection::Beneficiaries,
        }
    }
}

impl From<sdk::Collection> for Collection {
    fn from(c: sdk::Collection) -> Self {
        match c {
            sdk::Collection::Sessions => Collection::Sessions,
            sdk::Collection::Beneficiaries => Collection::Beneficiaries,
        }
    }
}

impl From<sdk::Role> for Role {
    fn from(r: sdk::Role) -> Self {
        match r {
            sdk::Role::Volunteer => Role::Volunteer,
            sdk::Role::Manager => Role::Manager,
            sdk::Role::Admin => Role::Admin,
        }
    }
}

impl From<sdk::SyncStatus> for SyncStatus {
    fn from(s: sdk::SyncStatus) -> Self {
        match s {
            sdk::SyncStatus::Synced => SyncStatus::Synced,
            sdk::SyncStatus::Pending => SyncStatus::Pending,
            sdk::SyncStatus::Rejected => SyncStatus::Rejected,
        }
    }
}

impl From<SyncStatus> for sdk::SyncStatus {
    fn from(s: SyncStatus) -> Self {
        match s {
            SyncStatus::Synced => sdk::SyncStatus::Synced,
            SyncStatus::Pending => sdk::SyncStatus::Pending,
            SyncStatus::Rejected => sdk::SyncStatus::Rejected,
        }
    }
}

impl From<ExportFormat> for sdk::ExportFormat {
    fn from(f: ExportFormat) -> Self {
        match f {
            ExportFormat::Csv => sdk::ExportFormat::Csv,
            ExportFormat::Json => sdk::ExportFormat::Json,
            ExportFormat::Xlsx => sdk::ExportFormat::Xlsx,
        }
    }
}

impl From<FieldValue> for sdk::FieldValue {
    fn from(v: FieldValue) -> Self {
        match v {
            FieldValue::Null => sdk::FieldValue::Null,
            FieldValue::Bool { value } => sdk::FieldValue::Bool(value),
            FieldValue::Int { value } => sdk::FieldValue::Int(value),
            FieldValue::Float { value } => sdk::FieldValue::Float(value),
            FieldValue::Text { value } => sdk::FieldValue::Text(value),
            FieldValue::Json { value } => sdk::FieldValue::Json(value),
            FieldValue::Masked { shown } => sdk::FieldValue::Masked(shown),
        }
    }
}

impl From<sdk::FieldValue> for FieldValue {
    fn from(v: sdk::FieldValue) -> Self {
        match v {
            sdk::FieldValue::Null => FieldValue::Null,
            sdk::FieldValue::Bool(value) => FieldValue::Bool { value },
            sdk::FieldValue::Int(value) => FieldValue::Int { value },
            sdk::FieldValue::Float(value) => FieldValue::Float { value },
            sdk::FieldValue::Text(value) => FieldValue::Text { value },
            sdk::FieldValue::Json(value) => FieldValue::Json { value },
            sdk::FieldValue::Masked(shown) => FieldValue::Masked { shown },
        }
    }
}

impl TryFrom<Key> for sdk::Key {
    type Error = AsaError;

    fn try_from(k: Key) -> Result<Self, AsaError> {
        Ok(match k {
            Key::Field { name } => sdk::Key::Field(name),
            Key::Member { set, id: member } => sdk::Key::Member {
                set,
                id: id(&member)?,
            },
        })
    }
}

impl From<sdk::Key> for Key {
    fn from(k: sdk::Key) -> Self {
        match k {
            sdk::Key::Field(name) => Key::Field { name },
            sdk::Key::Member { set, id } => Key::Member {
                set,
                id: id.to_string(),
            },
        }
    }
}

impl TryFrom<FieldEdit> for sdk::FieldEdit {
    type Error = AsaError;

    fn try_from(e: FieldEdit) -> Result<Self, AsaError> {
        Ok(sdk::FieldEdit {
            key: e.key.try_into()?,
            value: e.value.into(),
        })
    }
}

impl From<ClientConfig> for sdk::Config {
    fn from(c: ClientConfig) -> Self {
        sdk::Config {
            server_url: c.server_url,
            batch_size: c.batch_size as usize,
            pull_limit: c.pull_limit as usize,
            gzip: c.gzip,
            max_attempts: c.max_attempts,
            backoff_base_ms: c.backoff_base_ms,
            backoff_max_ms: c.backoff_max_ms,
            timeout_secs: c.timeout_secs,
        }
    }
}

impl From<sdk::UserInfo> for UserInfo {
    fn from(u: sdk::UserInfo) -> Self {
        UserInfo {
            id: u.id.to_string(),
            username: u.username,
            display_name: u.display_name,
            role: u.role.into(),
            centre_id: u.centre_id,
            centre_name: u.centre_name,
        }
    }
}

impl From<NewSession> for sdk::NewSession {
    fn from(s: NewSession) -> Self {
        sdk::NewSession {
            village_code: s.village_code,
            help_type: s.help_type,
            started_at: s.started_at,
            duration_min: s.duration_min,
            people_helped: s.people_helped,
            outcome: s.outcome,
            notes: s.notes,
            follow_up_on: s.follow_up_on,
        }
    }
}

impl From<NewBeneficiary> for sdk::NewBeneficiary {
    fn from(b: NewBeneficiary) -> Self {
        sdk::NewBeneficiary {
            village_code: b.village_code,
            display_name: b.display_name,
            phone: b.phone,
            birth_year: b.birth_year,
            national_id: b.national_id,
            consent: b.consent,
            consent_version: b.consent_version,
        }
    }
}

impl From<sdk::Record> for Record {
    fn from(r: sdk::Record) -> Self {
        Record {
            id: r.id.to_string(),
            collection: r.collection.into(),
            centre_id: r.centre_id,
            fields: r.fields.into_iter().map(|(k, v)| (k, v.into())).collect(),
            sets: r.sets.into_iter().map(|(k, v)| (k, ids(&v))).collect(),
            deleted: r.deleted,
            erased: r.erased,
            conflicts: r.conflicts.into_iter().map(Into::into).collect(),
            version: r.version,
            status: r.status.into(),
        }
    }
}

impl From<sdk::Conflict> for Conflict {
    fn from(c: sdk::Conflict) -> Self {
        Conflict {
            collection: c.collection.into(),
            record_id: c.record_id.to_string(),
            key: c.key.into(),
            heads: c
                .heads
                .into_iter()
                .map(|h| ConflictHead {
                    value: h.value.into(),
                    hlc: h.hlc,
                    author: h.author.to_string(),
                    written_at_ms: h.written_at_ms,
                })
                .collect(),
        }
    }
}

impl From<sdk::RejectedChange> for RejectedChange {
    fn from(r: sdk::RejectedChange) -> Self {
        RejectedChange {
            change_id: r.change_id.to_string(),
            device_seq: r.device_seq,
            collection: r.collection.into(),
            record_id: r.record_id.to_string(),
            code: r.code,
            detail: r.detail,
            written_at_ms: r.written_at_ms,
        }
    }
}

impl From<sdk::SimilarBeneficiary> for SimilarBeneficiary {
    fn from(s: sdk::SimilarBeneficiary) -> Self {
        SimilarBeneficiary {
            record: s.record.into(),
            reason: match s.reason {
                sdk::Likeness::SamePhone => Likeness::SamePhone,
                sdk::Likeness::SimilarName => Likeness::SimilarName,
            },
        }
    }
}

impl From<sdk::UnreadableChange> for UnreadableChange {
    fn from(u: sdk::UnreadableChange) -> Self {
        UnreadableChange {
            change_id: u.change_id,
            code: u.code,
            detail: u.detail,
        }
    }
}

impl From<sdk::KnownUser> for KnownUser {
    fn from(u: sdk::KnownUser) -> Self {
        KnownUser {
            id: u.id.to_string(),
            username: u.username,
            display_name: u.display_name,
        }
    }
}

impl TryFrom<Query> for sdk::Query {
    type Error = AsaError;

    fn try_from(q: Query) -> Result<Self, AsaError> {
        Ok(sdk::Query {
            village_code: q.village_code,
            volunteer_id: q.volunteer_id.as_deref().map(id).transpose()?,
            include_deleted: q.include_deleted,
            conflicts_only: q.conflicts_only,
            status: q.status.map(Into::into),
        })
    }
}

impl From<sdk::SyncReport> for SyncReport {
    fn from(r: sdk::SyncReport) -> Self {
        SyncReport {
            pushed: r.pushed,
            acked: r.acked,
            rejected: r.rejected,
            pulled: r.pulled,
            conflicts: r.conflicts,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            skewed_clocks: r.skewed_clocks,
            unreadable: r.unreadable,
            budget_exhausted: r.budget_exhausted,
            pending: r.pending,
            more_to_pull: r.more_to_pull,
            resyncs: r.resyncs,
            resent_after_restore: r.resent_after_restore,
            restore_gap: r.restore_gap,
        }
    }
}

impl From<ExportRequest> for sdk::ExportRequest {
    fn from(r: ExportRequest) -> Self {
        sdk::ExportRequest {
            collection: r.collection.into(),
            centre_id: r.centre_id,
            from: r.from,
            to: r.to,
            format: r.format.into(),
            conflicts_only: r.conflicts_only,
            include_deleted: r.include_deleted,
        }
    }
}
