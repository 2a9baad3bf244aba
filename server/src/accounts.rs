//! Creating user accounts: shared by the admin API, the `user add` command and
//! the first start's admin.

use sync_core::Role;
use uuid::Uuid;

use crate::auth::password;
use crate::store::{Store, StoreError, User};

pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("username must be 1 to 64 characters without spaces or control characters")]
    BadUsername,
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("role must be volunteer, manager or admin")]
    BadRole,
    #[error("a {0} must belong to a centre: give centre_id")]
    MissingCentre(Role),
    #[error("centre_id must be 1 to 64 characters without control characters")]
    BadCentre,
    #[error("username {0:?} is taken")]
    Taken(String),
    #[error("cannot hash the password: {0}")]
    Hash(#[from] password::HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::BadUsername => "invalid_username",
            AccountError::WeakPassword => "weak_password",
            AccountError::BadRole => "invalid_role",
            AccountError::MissingCentre(_) => "missing_centre",
            AccountError::BadCentre => "invalid_centre",
            AccountError::Taken(_) => "username_taken",
            AccountError::Hash(_) | AccountError::Store(_) => "internal",
        }
    }
}

/// A validated request for an account, waiting for its password hash.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub role: Role,
    pub centre_id: Option<String>,
}

/// Checks what an account request says, before any hashing is spent on it.
pub fn check(
    username: &str,
    password: &str,
    role: &str,
    centre_id: Option<&str>,
) -> Result<NewAccount, AccountError> {
    let username = username.trim();
    let len = username.chars().count();
    if len == 0
        || len > 64
        || username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AccountError::BadUsername);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    let role: Role = role.parse().map_err(|_| AccountError::BadRole)?;
    let centre_id = centre_id.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = centre_id {
        if c.chars().count() > 64 || c.chars().any(char::is_control) {
            return Err(AccountError::BadCentre);
        }
    }
    if role != Role::Admin && centre_id.is_none() {
        return Err(AccountError::MissingCentre(role));
    }
    Ok(NewAccount {
        username: username.to_owned(),
        role,
        centre_id: centre_id.map(str::to_owned),
    })
}

/// Stores a checked account with its password hash.
pub fn insert(
    store: &dyn Store,
    account: NewAccount,
    password_hash: String,
) -> Result<User, AccountError> {
    let user = User {
        id: Uuid::now_v7(),
        username: account.username,
        password_hash,
        role: account.role,
        centre_id: account.centre_id,
    };
    let username = user.username.clone();
    store
        .create_user(&user)?
        .ok_or(AccountError::Taken(username))
}

/// Checks, hashes on this thread, and stores: for the command line and the
/// first start, where no request threads need protecting.
pub fn create_user(
    store: &dyn Store,
    username: &str,
    password: &str,
    role: &str,
    centre_id: Option<&str>,
) -> Result<User, AccountError> {
    let account = check(username, password, role, centre_id)?;
    insert(store, account, password::hash(password)?)
}
