//! The rules of accounts and centres (contract section 8), shared by the
//! admin API, the `asa-server user` commands and the first start's admin.

use sync_core::{check_name, ProblemCode, Role};
use uuid::Uuid;

use crate::auth::password;
use crate::store::{CreateUser, Store, StoreError, User};

pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most code points in a display name, and in a centre's name, province and district.
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_CENTRE_CODE_CHARS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a username is 3 to 64 ASCII letters, digits, `.`, `_` or `-`")]
    BadUsername,
    #[error("{0}")]
    BadText(String),
    #[error("a password is at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("role must be volunteer, manager or admin")]
    BadRole,
    #[error("a {0} must belong to a centre: give centre_id")]
    MissingCentre(Role),
    #[error("an admin belongs to no centre: leave centre_id out")]
    AdminWithCentre,
    #[error("a centre code is 1 to {MAX_CENTRE_CODE_CHARS} of A-Z, a-z, 0-9, `-` and `_`")]
    BadCentreCode,
    #[error("there is no centre {0:?}; create it first")]
    UnknownCentre(String),
    #[error("username {0:?} is taken")]
    Taken(String),
    #[error("cannot hash the password: {0}")]
    Hash(#[from] password::HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    pub fn code(&self) -> ProblemCode {
        match self {
            AccountError::BadUsername => ProblemCode::InvalidUsername,
            AccountError::BadText(_) => ProblemCode::InvalidText,
            AccountError::WeakPassword => ProblemCode::WeakPassword,
            AccountError::BadRole => ProblemCode::InvalidRole,
            AccountError::MissingCentre(_) => ProblemCode::MissingCentre,
            AccountError::AdminWithCentre | AccountError::BadCentreCode => {
                ProblemCode::InvalidCentre
            }
            AccountError::UnknownCentre(_) => ProblemCode::UnknownCentre,
            AccountError::Taken(_) => ProblemCode::UsernameTaken,
            AccountError::Hash(_) | AccountError::Store(_) => ProblemCode::Internal,
        }
    }
}

/// 3..=64 ASCII letters, digits, `.`, `_`, `-`: nothing that can look like
/// another name (no zero-width or right-to-left characters, no accents).
pub fn check_username(username: &str) -> Result<(), AccountError> {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::BadUsername)
    }
}

/// A display name or a centre's name: sync-core's rule for names.
pub fn check_text(field: &str, text: &str) -> Result<(), AccountError> {
    check_name(field, text, MAX_NAME_CHARS).map_err(|e| AccountError::BadText(e.to_string()))
}

pub fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    Ok(())
}

pub fn check_centre_code(code: &str) -> Result<(), AccountError> {
    let ok = (1..=MAX_CENTRE_CODE_CHARS).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(AccountError::BadCentreCode)
    }
}

/// Whether a role and a centre go together: admins have none, others one.
pub fn check_role_centre(role: Role, centre_id: Option<&str>) -> Result<(), AccountError> {
    match (role, centre_id) {
        (Role::Admin, Some(_)) => Err(AccountError::AdminWithCentre),
        (Role::Admin, None) => Ok(()),
        (role, None) => Err(AccountError::MissingCentre(role)),
        (_, Some(_)) => Ok(()),
    }
}

/// A validated request for an account, waiting for its password hash.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub centre_id: Option<String>,
}

/// Checks what an account request says, before any hashing is spent on it.
/// The username and names are kept exactly as given.
pub fn check(
    username: &str,
    password: &str,
    role: &str,
    centre_id: Option<&str>,
    display_name: Option<&str>,
) -> Result<NewAccount, AccountError> {
    check_username(username)?;
    if let Some(name) = display_name {
        check_text("display_name", name)?;
    }
    check_password(password)?;
    let role: Role = role.parse().map_err(|_| AccountError::BadRole)?;
    check_role_centre(role, centre_id)?;
    Ok(NewAccount {
        username: username.to_owned(),
        display_name: display_name.unwrap_or(username).to_owned(),
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
        display_name: account.display_name,
        password_hash,
        role: account.role,
        centre_id: account.centre_id,
        disabled: false,
    };
    match store.create_user(&user)? {
        CreateUser::Created(user) => Ok(user),
        CreateUser::UsernameTaken => Err(AccountError::Taken(user.username)),
        CreateUser::UnknownCentre => Err(AccountError::UnknownCentre(
            user.centre_id.unwrap_or_default(),
        )),
    }
}

/// Checks, hashes on this thread, and stores: for the command line and the
/// first start, where no request threads need protecting.
pub fn create_user(
    store: &dyn Store,
    username: &str,
    password: &str,
    role: &str,
    centre_id: Option<&str>,
    display_name: Option<&str>,
) -> Result<User, AccountError> {
    let account = check(username, password, role, centre_id, display_name)?;
    insert(store, account, password::hash(password)?)
}
