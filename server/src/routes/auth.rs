//! Login and refresh (PROTOCOL.md section 6, Auth).

use actix_web::{web, HttpRequest, HttpResponse};
use sync_core::wire::{LoginRequest, RefreshRequest, TokenResponse, UserDto};
use uuid::Uuid;

use super::blocking;
use crate::auth::{password, tokens};
use crate::body::read_json;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{BindOutcome, RotateOutcome, User};

/// Auth bodies are small; anything bigger is not a login.
const AUTH_BODY_LIMIT: usize = 16 * 1024;

pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: LoginRequest = read_json(&req, payload, AUTH_BODY_LIMIT).await?;
    let tokens = blocking(move || login_blocking(&state, body)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

fn login_blocking(state: &AppState, body: LoginRequest) -> Result<TokenResponse, ApiError> {
    let settings = &state.settings;
    let now = state.now_secs();
    let window = i64::try_from(settings.login_window_secs).unwrap_or(i64::MAX);
    let since = now.saturating_sub(window);
    let (failures, first_at) = state.store.login_failures(&body.username, since)?;
    if failures >= settings.login_max_failures {
        tracing::warn!(target: "audit", username = %body.username, failures, "refused: login throttled");
        let retry = (first_at + window - now).max(1);
        return Err(ApiError::TooManyRequests {
            retry_after_secs: u64::try_from(retry).unwrap_or(1),
        });
    }
    let user = state.store.user_by_name(&body.username)?;
    let verified = match &user {
        Some(u) => password::verify(&body.password, &u.password_hash),
        None => {
            password::verify(&body.password, password::decoy_hash());
            false
        }
    };
    let user = match user {
        Some(u) if verified => u,
        _ => {
            state
                .store
                .record_login_failure(&body.username, now, since)?;
            tracing::warn!(target: "audit", username = %body.username, "refused: wrong credentials");
            return Err(ApiError::InvalidCredentials("invalid_credentials"));
        }
    };
    state.store.clear_login_failures(&body.username)?;
    if state.store.bind_device(body.device_id, user.id)? == BindOutcome::OwnedByOther {
        tracing::warn!(target: "audit", username = %body.username, device = %body.device_id, "refused: device bound to another user");
        return Err(ApiError::Conflict {
            code: "device_bound",
            detail: "this device is registered to another user; reinstall the app to get a new device id".into(),
        });
    }
    let (refresh, hash) = tokens::new_refresh_token()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    let expires = now + i64::try_from(settings.refresh_token_ttl_secs).unwrap_or(i64::MAX / 2);
    state
        .store
        .create_refresh_token(&hash, user.id, body.device_id, expires, now)?;
    tracing::info!(target: "audit", username = %user.username, device = %body.device_id, "login");
    token_response(state, &user, body.device_id, refresh)
}

pub async fn refresh(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: RefreshRequest = read_json(&req, payload, AUTH_BODY_LIMIT).await?;
    let tokens = blocking(move || refresh_blocking(&state, body)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

fn refresh_blocking(state: &AppState, body: RefreshRequest) -> Result<TokenResponse, ApiError> {
    let now = state.now_secs();
    let (next, next_hash) = tokens::new_refresh_token()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    let expires =
        now + i64::try_from(state.settings.refresh_token_ttl_secs).unwrap_or(i64::MAX / 2);
    let old_hash = tokens::refresh_hash(&body.refresh_token);
    let refused = |code: &'static str| {
        tracing::warn!(target: "audit", code, "refused: refresh");
        Err(ApiError::InvalidCredentials(code))
    };
    let (user_id, device_id) = match state
        .store
        .rotate_refresh_token(&old_hash, &next_hash, now, expires)?
    {
        RotateOutcome::Rotated { user_id, device_id } => (user_id, device_id),
        RotateOutcome::Unknown => return refused("invalid_refresh_token"),
        RotateOutcome::Reused => return refused("refresh_token_reused"),
        RotateOutcome::Revoked => return refused("refresh_token_revoked"),
        RotateOutcome::Expired => return refused("refresh_token_expired"),
    };
    let Some(user) = state.store.user_by_id(user_id)? else {
        return refused("invalid_refresh_token");
    };
    token_response(state, &user, device_id, next)
}

fn token_response(
    state: &AppState,
    user: &User,
    device_id: Uuid,
    refresh: String,
) -> Result<TokenResponse, ApiError> {
    let now = state.now_secs();
    let ttl = state.settings.access_token_ttl_secs;
    let claims = tokens::Claims {
        sub: user.id,
        dev: device_id,
        role: user.role,
        centre: user.centre_id.clone(),
        iat: now,
        nbf: now,
        exp: now + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
    };
    let access = state
        .keys
        .issue(&claims)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot sign a token: {e}")))?;
    Ok(TokenResponse {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer".into(),
        expires_in: ttl,
        user: UserDto {
            id: user.id,
            username: user.username.clone(),
            role: user.role,
            centre_id: user.centre_id.clone(),
        },
    })
}
