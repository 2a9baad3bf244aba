//! Every error the API returns, as RFC 9457 problem+json with a stable `code`
//! (a [`ProblemCode`]; the list lives in sync-core). 5xx bodies say nothing
//! about the cause; the cause goes to the log.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use sync_core::wire::Problem;
use sync_core::ProblemCode;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { code: ProblemCode, detail: String },
    /// A value or key that breaks a rule of the collections: 400 with the
    /// push's rejection code (`invalid_value`, `too_long`, ...).
    #[error("{0}")]
    Invalid(sync_core::ChangeError),
    #[error("{detail}")]
    Unauthorized { code: ProblemCode, detail: String },
    #[error("{detail}")]
    Forbidden { code: ProblemCode, detail: String },
    #[error("{detail}")]
    NotFound { code: ProblemCode, detail: String },
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{detail}")]
    Conflict { code: ProblemCode, detail: String },
    /// 409 `server_restored`, with the device's `acked_seq` in the body.
    #[error("{detail}")]
    ServerRestored { acked_seq: u64, detail: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    TooManyRequests {
        retry_after_secs: u64,
        detail: String,
    },
    #[error("the database is not answering; try again in a moment")]
    Unavailable,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(code: ProblemCode, detail: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn unauthorized(code: ProblemCode, detail: impl Into<String>) -> ApiError {
        ApiError::Unauthorized {
            code,
            detail: detail.into(),
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::Forbidden {
            code: ProblemCode::Forbidden,
            detail: detail.into(),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::NotFound {
            code: ProblemCode::NotFound,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: ProblemCode, detail: impl Into<String>) -> ApiError {
        ApiError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(cause.into())
    }

    pub fn code(&self) -> ProblemCode {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. } => *code,
            ApiError::Invalid(_) => ProblemCode::InvalidRequest,
            ApiError::ServerRestored { .. } => ProblemCode::ServerRestored,
            ApiError::MethodNotAllowed(_) => ProblemCode::MethodNotAllowed,
            ApiError::PayloadTooLarge(_) => ProblemCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => ProblemCode::UnsupportedMediaType,
            ApiError::TooManyRequests { .. } => ProblemCode::TooManyRequests,
            ApiError::Unavailable => ProblemCode::StoreUnavailable,
            ApiError::Internal(_) => ProblemCode::Internal,
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let code = match self {
            ApiError::Invalid(e) => e.code(),
            other => other.code().as_str(),
        };
        let mut problem = Problem::new(
            status.as_u16(),
            code,
            status.canonical_reason().unwrap_or("Error"),
            self.to_string(),
        );
        if let ApiError::ServerRestored { acked_seq, .. } = self {
            problem.acked_seq = Some(*acked_seq);
        }
        problem
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => ApiError::Unavailable,
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } | ApiError::ServerRestored { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        match self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::Unauthorized { .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}
