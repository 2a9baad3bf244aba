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
    let settings = &state.settings;
    let now = state.now_secs();
    let window = i64::try_from(settings.login_window_secs).unwrap_or(i64::MAX);
    let since = now.saturating_sub(window);
    let lookup = state.clone();
    let username = body.username.clone();
    let ((failures, first_at), user) = blocking(move || {
        let failures = lookup.store.login_failures(&username, since)?;
        Ok((failures, lookup.store.user_by_name(&username)?))
    })
    .await?;
    if failures >= settings.login_max_failures {
        tracing::warn!(target: "audit", username = %body.username, failures, "refused: login throttled");
        let retry = (first_at + window - now).max(1);
        return Err(ApiError::TooManyRequests {
            retry_after_secs: u64::try_from(retry).unwrap_or(1),
        });
    }
    // An unknown username is checked against a decoy hash, so it takes as
    // long as a wrong password.
    let stored = user.as_ref().map_or_else(
        || password::decoy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let verified = state
        .hasher
        .verify(body.password.clone(), stored)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let tokens =
        blocking(move || finish_login(&state, body, user.filter(|_| verified), now, since)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Records the outcome of a password check and, for the right password,
/// binds the device and issues the tokens.
fn finish_login(
    state: &AppState,
    body: LoginRequest,
    user: Option<User>,
    now: i64,
    since: i64,
) -> Result<TokenResponse, ApiError> {
    let Some(user) = user else {
        state
            .store
            .record_login_failure(&body.username, now, since)?;
        tracing::warn!(target: "audit", username = %body.username, "refused: wrong credentials");
        return Err(ApiError::InvalidCredentials("invalid_credentials"));
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
    let expires =
        now + i64::try_from(state.settings.refresh_token_ttl_secs).unwrap_or(i64::MAX / 2);
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
    // The first bytes of the token's hash tell refusals of one token apart in
    // the audit log without revealing anything that could be replayed.
    let fingerprint: String = old_hash[..6].iter().map(|b| format!("{b:02x}")).collect();
    let refused = |code: &'static str| {
        tracing::warn!(target: "audit", code, token = %fingerprint, "refused: refresh");
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
