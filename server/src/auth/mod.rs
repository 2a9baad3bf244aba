//! Authentication: the extractor that turns a bearer token into the caller's
//! identity, plus password hashing and token handling.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use sync_core::{Principal, Role};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

pub mod hasher;
pub mod password;
pub mod tokens;

/// The verified caller of a `/v1` route: a user acting through one device.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub device_id: Uuid,
}

impl Caller {
    pub fn require_role(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.principal.role) {
            Ok(())
        } else {
            tracing::warn!(target: "audit", user = %self.principal.user_id, role = %self.principal.role, "refused: role not allowed");
            Err(ApiError::forbidden(format!(
                "this needs the role {}",
                roles
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )))
        }
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("app state missing")))?;
    let refuse = |why: &str| {
        tracing::warn!(target: "audit", path = %req.path(), peer = ?req.peer_addr(), reason = why, "refused: authentication");
        ApiError::Unauthorized(why.to_owned())
    };
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| refuse("missing Authorization header; send `Bearer <access token>`"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| refuse("the Authorization header must be `Bearer <access token>`"))?;
    let now_secs = i64::try_from(state.clock.now_ms() / 1000).unwrap_or(i64::MAX);
    let claims = state
        .keys
        .verify(token.trim(), now_secs)
        .map_err(|e| refuse(&e.to_string()))?;
    Ok(Caller {
        principal: claims.principal(),
        device_id: claims.dev,
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}
