//! `POST /v1/admin/users`: admins create accounts.

use actix_web::{web, HttpRequest, HttpResponse};
use sync_core::wire::{CreateUserRequest, UserDto};
use sync_core::Role;

use super::blocking;
use crate::accounts::{self, AccountError};
use crate::auth::Caller;
use crate::body::read_json;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn create_user(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_role(&[Role::Admin])?;
    let body: CreateUserRequest = read_json(&req, payload, 16 * 1024).await?;
    let refuse = |e: AccountError| match e {
        AccountError::Taken(_) => ApiError::Conflict {
            code: e.code(),
            detail: e.to_string(),
        },
        AccountError::Store(s) => s.into(),
        AccountError::Hash(h) => ApiError::Internal(h.into()),
        other => ApiError::bad_request(other.code(), other.to_string()),
    };
    let account = accounts::check(
        &body.username,
        &body.password,
        &body.role,
        body.centre_id.as_deref(),
    )
    .map_err(refuse)?;
    let hash = state
        .hasher
        .hash(body.password)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(e.into()))?;
    let user =
        blocking(move || accounts::insert(state.store.as_ref(), account, hash).map_err(refuse))
            .await?;
    tracing::info!(target: "audit", admin = %caller.principal.user_id, username = %user.username, role = %user.role, "user created");
    Ok(HttpResponse::Created().json(UserDto {
        id: user.id,
        username: user.username,
        role: user.role,
        centre_id: user.centre_id,
    }))
}
