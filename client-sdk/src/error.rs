//! The SDK's typed errors: every failure a caller can see, as an enum to
//! match on, each with a stable [`Error::code`].

use crate::types::{Collection, Key};

/// Everything that can go wrong in an SDK call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The edit breaks a rule of the protocol; nothing was stored. `code` is
    /// the protocol's rejection code (`out_of_range`, `consent_required`, ...),
    /// the same one the server would answer.
    #[error("invalid edit ({code}): {detail}")]
    Invalid { code: String, detail: String },
    /// The signed-in user may not make this edit; nothing was stored.
    #[error("you may not edit this record: {0}")]
    Forbidden(String),
    #[error("no {collection} record {id} on this device")]
    NotFound {
        collection: Collection,
        id: uuid::Uuid,
    },
    #[error("`{key}` is not in conflict on {collection} {id}")]
    NoConflict {
        collection: Collection,
        id: uuid::Uuid,
        key: Key,
    },
    #[error("this device is not logged in; log in first")]
    NotLoggedIn,
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The refresh token was refused (expired or reused): the user must log in again.
    #[error("the login has expired or was revoked ({code}); log in again")]
    LoginRequired { code: String },
    /// The server ended this login: the account was disabled or its password,
    /// role or centre changed, this device was unbound, or the user logged
    /// out. Everything this device saved stays in its outbox and is pushed by
    /// whoever logs in on it next (the re-enabled user, or a manager).
    #[error("the server ended this login ({code}); log in again — what this device saved is kept")]
    AccessRevoked { code: String },
    /// The account is disabled; a manager can enable it again.
    #[error("this account is disabled; ask your centre's manager")]
    AccountDisabled,
    /// The server answered with an error the SDK cannot retry.
    #[error("the server refused the request: {status} {code}: {detail}")]
    Server {
        status: u16,
        code: String,
        detail: String,
    },
    /// The configured server URL cannot be used (`Config::server_url`).
    #[error("`{url}` is not a server address: {reason}")]
    InvalidServerUrl { url: String, reason: String },
    /// The network or the server stayed unavailable for every attempt.
    #[error("the server could not be reached after {attempts} attempts: {reason}")]
    Unreachable { attempts: u32, reason: String },
    /// The server answered something that does not follow the protocol.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The sync's data budget leaves no room for the next request.
    /// [`crate::Client::sync_with`] never returns it: it ends the sync with
    /// `budget_exhausted` set.
    #[error("the data budget leaves no room for the next request")]
    BudgetSpent,
    /// The device's SQLite database failed (a full disk, a damaged file).
    #[error("local database error while {step}: {detail}")]
    Database { step: &'static str, detail: String },
    #[error("local database file is newer than this app (version {found}, this app knows {known}); update the app")]
    DatabaseTooNew { found: i64, known: i64 },
    #[error("local data is corrupt: {0}")]
    Corrupt(String),
    /// The local database file could not be made private to the app.
    #[error("cannot prepare the local database file {path}: {source}")]
    FileAccess {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The stable code of the error, for programs to branch on: the
    /// protocol's or the server's code where there is one (`out_of_range`,
    /// `token_revoked`, `rate_limited`, ...), else the SDK's own
    /// (`not_logged_in`, `unreachable`, ...).
    pub fn code(&self) -> &str {
        match self {
            Error::Invalid { code, .. }
            | Error::LoginRequired { code }
            | Error::AccessRevoked { code }
            | Error::Server { code, .. } => code,
            Error::Forbidden(_) => "forbidden",
            Error::NotFound { .. } => "not_found",
            Error::NoConflict { .. } => "no_conflict",
            Error::NotLoggedIn => "not_logged_in",
            Error::InvalidCredentials => "invalid_credentials",
            Error::AccountDisabled => "account_disabled",
            Error::InvalidServerUrl { .. } => "invalid_server_url",
            Error::Unreachable { .. } => "unreachable",
            Error::BudgetSpent => "budget_spent",
            Error::Protocol(_) => "protocol",
            Error::Database { .. } => "database",
            Error::DatabaseTooNew { .. } => "database_too_new",
            Error::Corrupt(_) => "corrupt",
            Error::FileAccess { .. } => "file_access",
        }
    }

    /// An edit that breaks a rule of sync-core.
    pub(crate) fn invalid(e: sync_core::ChangeError) -> Error {
        Error::Invalid {
            code: e.code().to_owned(),
            detail: e.to_string(),
        }
    }

    /// Whether the same call may succeed later without the user doing
    /// anything: the network or the server was unavailable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Server { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds the failing step to a SQLite error.
pub(crate) trait StepExt<T> {
    fn step(self, step: &'static str) -> Result<T>;
}

impl<T> StepExt<T> for rusqlite::Result<T> {
    fn step(self, step: &'static str) -> Result<T> {
        self.map_err(|e| Error::Database {
            step,
            detail: e.to_string(),
        })
    }
}
