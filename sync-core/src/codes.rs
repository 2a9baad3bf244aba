//! The stable codes of request-level errors: the `code` of every
//! problem+json body the server sends. Per-change rejection codes are
//! [`crate::ChangeError::CODES`]; both lists are in
//! `schemas/problem.schema.json`, and a test keeps them equal.
//!
//! A code names a reason, not a status: `unknown_centre` is a 400 when a new
//! user names a centre that does not exist and a 404 when an admin asks for
//! the report of one.

use std::fmt;

macro_rules! codes {
    ($($variant:ident = $name:literal,)*) => {
        /// Why a request was refused. Changing a name is a protocol change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ProblemCode {
            $($variant,)*
        }

        impl ProblemCode {
            /// Every code, in the order of the reference's table.
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ProblemCode::$variant => $name,)*
                }
            }

            pub fn parse(name: &str) -> Option<ProblemCode> {
                match name {
                    $($name => Some(ProblemCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    // 400: the request cannot be read or breaks a rule.
    InvalidJson = "invalid_json",
    InvalidBody = "invalid_body",
    InvalidRequest = "invalid_request",
    InvalidQuery = "invalid_query",
    InvalidId = "invalid_id",
    InvalidText = "invalid_text",
    InvalidCursor = "invalid_cursor",
    InvalidLimit = "invalid_limit",
    InvalidDate = "invalid_date",
    InvalidRange = "invalid_range",
    InvalidPageToken = "invalid_page_token",
    InvalidFilter = "invalid_filter",
    InvalidUsername = "invalid_username",
    WeakPassword = "weak_password",
    InvalidRole = "invalid_role",
    MissingCentre = "missing_centre",
    InvalidCentre = "invalid_centre",
    UnknownCentre = "unknown_centre",
    InvalidHttp = "invalid_http",
    // 408, 431: answered at the HTTP edge, before the application.
    RequestTimeout = "request_timeout",
    HeadersTooLarge = "headers_too_large",
    // 401: who is calling is not established.
    Unauthorized = "unauthorized",
    TokenRevoked = "token_revoked",
    InvalidCredentials = "invalid_credentials",
    InvalidRefreshToken = "invalid_refresh_token",
    RefreshTokenReused = "refresh_token_reused",
    RefreshTokenRevoked = "refresh_token_revoked",
    RefreshTokenExpired = "refresh_token_expired",
    // 403: the caller may not do this.
    Forbidden = "forbidden",
    AccountDisabled = "account_disabled",
    DeviceMismatch = "device_mismatch",
    DeviceNotBound = "device_not_bound",
    // 404, 405
    NotFound = "not_found",
    MethodNotAllowed = "method_not_allowed",
    // 409: the state of the server does not allow it.
    DeviceBound = "device_bound",
    UsernameTaken = "username_taken",
    CentreTaken = "centre_taken",
    ResyncRequired = "resync_required",
    HeadsChanged = "heads_changed",
    NotInConflict = "not_in_conflict",
    ServerRestored = "server_restored",
    // 413, 415, 429
    PayloadTooLarge = "payload_too_large",
    UnsupportedMediaType = "unsupported_media_type",
    TooManyRequests = "too_many_requests",
    // 5xx: never the caller's fault; the detail says nothing of the cause.
    Internal = "internal",
    StoreUnavailable = "store_unavailable",
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
