//! Login, refresh and logout (contract sections 6 and 8).

use actix_web::{web, HttpRequest, HttpResponse};
use sync_core::wire::Problem;
use sync_core::wire::{LoginRequest, LogoutRequest, RefreshRequest, TokenResponse, UserDto};
use sync_core::{ProblemCode, Role};
use uuid::Uuid;

use super::blocking;
use crate::auth::throttle::{self, Policy};
use crate::auth::{client_address, password, tokens};
use crate::body::read_json;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{BindOutcome, RotateOutcome, User};

/// Auth bodies are small; anything bigger is not a login.
const AUTH_BODY_LIMIT: usize = 16 * 1024;
/// How long a rotated refresh token may be presented again by its own device
/// when the answer that carried its successor was lost.
pub const REFRESH_GRACE_SECS: i64 = 60;
/// Attempts are counted under at most this much of the username sent, so a
/// huge username cannot bloat the attempts table.
const MAX_COUNTED_USERNAME: usize = 128;

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens for this user on this device", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`", content_type = "application/problem+json", body = Problem),
        (status = 403, description = "`account_disabled`", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "`device_bound`: the device belongs to another user", content_type = "application/problem+json", body = Problem),
        (status = 429, description = "`too_many_requests`, with Retry-After", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: LoginRequest = read_json(&req, payload, AUTH_BODY_LIMIT).await?;
    let address = client_address(&req, &state.settings.trusted_proxies);
    let user = check_password(&state, &address, &body.username, &body.password).await?;
    let now = state.now_secs();
    let tokens = blocking(move || finish_login(&state, body, user, now)).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Checks a username and password under the login throttle (shared by the
/// API's login and the console's): the user, or why not. A disabled
/// account with the right password is `account_disabled`.
pub(crate) async fn check_password(
    state: &web::Data<AppState>,
    address: &str,
    username: &str,
    password_text: &str,
) -> Result<User, ApiError> {
    let settings = &state.settings;
    let now = state.now_secs();
    let window = i64::try_from(settings.login_window_secs).unwrap_or(i64::MAX / 2);
    let policy = Policy {
        username_failures: settings.login_max_failures,
        address_failures: settings.login_address_max_failures,
        window_secs: window,
    };
    let counted: String = username.chars().take(MAX_COUNTED_USERNAME).collect();
    let store = state.store.clone();
    let (name, addr) = (counted.clone(), address.to_owned());
    let lookup = username.to_owned();
    let (reservation, user) = blocking(move || {
        let reservation =
            store.reserve_login(&name, &addr, now, now.saturating_sub(window), &|counts| {
                throttle::judge(&policy, counts, now)
            })?;
        let user = match reservation {
            Ok(_) => store.user_by_name(&lookup)?,
            Err(_) => None,
        };
        Ok((reservation, user))
    })
    .await?;
    let attempt = match reservation {
        Ok(attempt) => attempt,
        Err(retry_after_secs) => {
            tracing::warn!(target: "audit", username = %counted, address = %address, retry_after_secs, "refused: login throttled");
            return Err(ApiError::TooManyRequests {
                retry_after_secs,
                detail: format!(
                    "too many failed logins; wait {retry_after_secs} s before trying again"
                ),
            });
        }
    };
    // An unknown username is checked against a decoy hash, so it takes as
    // long as a wrong password.
    let stored = user.as_ref().map_or_else(
        || password::decoy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let verified = state
        .hasher
        .verify(password_text.to_owned(), stored)
        .await
        .map_err(ApiError::internal)?;
    let user = user.filter(|_| verified);
    let store = state.store.clone();
    let succeeded = user.is_some();
    blocking(move || Ok(store.finish_login(attempt, succeeded)?)).await?;
    let Some(user) = user else {
        tracing::warn!(target: "audit", username = %counted, address, "refused: wrong credentials");
        return Err(ApiError::unauthorized(
            ProblemCode::InvalidCredentials,
            "wrong username or password",
        ));
    };
    if user.disabled {
        tracing::warn!(target: "audit", username = %user.username, "refused: login of a disabled account");
        return Err(ApiError::Forbidden {
            code: ProblemCode::AccountDisabled,
            detail: "this account is disabled; ask your centre's manager".into(),
        });
    }
    Ok(user)
}

/// For the right password: binds the device and issues the tokens.
fn finish_login(
    state: &AppState,
    body: LoginRequest,
    user: User,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    // A manager of the owner's centre, or an admin, may take over a phone
    // bound to someone else: a disabled volunteer's outbox then reaches the
    // server, and the device's sequence continues.
    let may_take_over = |owner: &User| match user.role {
        Role::Admin => true,
        Role::Manager => owner.role == Role::Volunteer && owner.centre_id == user.centre_id,
        Role::Volunteer => false,
    };
    match state
        .store
        .bind_device(body.device_id, &user, now, &may_take_over)?
    {
        BindOutcome::Bound => {}
        BindOutcome::TookOver => {
            tracing::info!(target: "audit", username = %user.username, device = %body.device_id, "device taken over");
        }
        BindOutcome::OwnedByOther => {
            tracing::warn!(target: "audit", username = %body.username, device = %body.device_id, "refused: device bound to another user");
            return Err(ApiError::conflict(
                ProblemCode::DeviceBound,
                "this device is registered to another user; ask a manager to unbind it, or reinstall the app to get a new device id",
            ));
        }
    }
    let (refresh, hash) = tokens::new_refresh_token()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("no randomness: {e}")))?;
    let expires = now + ttl(state.settings.refresh_token_ttl_secs);
    let family = state
        .store
        .create_refresh_token(&hash, user.id, body.device_id, expires, now)?;
    tracing::info!(target: "audit", username = %user.username, device = %body.device_id, "login");
    token_response(state, &user, body.device_id, family, refresh)
}

fn ttl(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 4)
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair of tokens; the old refresh token is spent", body = TokenResponse),
        (status = 401, description = "`invalid_refresh_token`, `refresh_token_reused`, `refresh_token_revoked`, `refresh_token_expired`, `token_revoked`", content_type = "application/problem+json", body = Problem),
    ))]
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
        .map_err(|e| ApiError::internal(anyhow::anyhow!("no randomness: {e}")))?;
    let expires = now + ttl(state.settings.refresh_token_ttl_secs);
    let old_hash = tokens::refresh_hash(&body.refresh_token);
    // The first bytes of the token's hash tell refusals of one token apart in
    // the audit log without revealing anything that could be replayed.
    let fingerprint: String = old_hash[..6].iter().map(|b| format!("{b:02x}")).collect();
    let refused = |code: ProblemCode, detail: &str| {
        tracing::warn!(target: "audit", code = %code, token = %fingerprint, "refused: refresh");
        Err(ApiError::unauthorized(code, detail.to_owned()))
    };
    let (user_id, device_id, family) = match state.store.rotate_refresh_token(
        &old_hash,
        &next_hash,
        body.device_id,
        now,
        expires,
        REFRESH_GRACE_SECS,
    )? {
        RotateOutcome::Rotated {
            user_id,
            device_id,
            family,
        } => (user_id, device_id, family),
        RotateOutcome::Unknown => {
            return refused(
                ProblemCode::InvalidRefreshToken,
                "this refresh token is unknown; log in again",
            )
        }
        RotateOutcome::Reused => return refused(
            ProblemCode::RefreshTokenReused,
            "this refresh token was already used, so the login was ended for safety; log in again",
        ),
        RotateOutcome::Revoked => {
            return refused(
                ProblemCode::RefreshTokenRevoked,
                "this login was ended (logged out, disabled or changed); log in again",
            )
        }
        RotateOutcome::Expired => {
            return refused(
                ProblemCode::RefreshTokenExpired,
                "this login has expired; log in again",
            )
        }
    };
    let user = match state.store.user_by_id(user_id)? {
        Some(u) if !u.disabled => u,
        Some(_) => {
            return refused(
                ProblemCode::TokenRevoked,
                "this account is disabled; ask your centre's manager",
            )
        }
        None => {
            return refused(
                ProblemCode::InvalidRefreshToken,
                "this login's account no longer exists",
            )
        }
    };
    state.store.touch_device(device_id, now)?;
    token_response(state, &user, device_id, family, next)
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = LogoutRequest,
    responses((status = 204, description = "The login is ended (also when the token was unknown)")))]
pub async fn logout(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: LogoutRequest = read_json(&req, payload, AUTH_BODY_LIMIT).await?;
    let hash = tokens::refresh_hash(&body.refresh_token);
    let store = state.store.clone();
    blocking(move || Ok(store.revoke_login(&hash)?)).await?;
    tracing::info!(target: "audit", "logout");
    Ok(HttpResponse::NoContent().finish())
}

fn token_response(
    state: &AppState,
    user: &User,
    device_id: Uuid,
    family: i64,
    refresh: String,
) -> Result<TokenResponse, ApiError> {
    let now = state.now_secs();
    let ttl_secs = state.settings.access_token_ttl_secs;
    let claims = tokens::Claims {
        sub: user.id,
        dev: device_id,
        role: user.role,
        centre: user.centre_id.clone(),
        fam: family,
        iat: now,
        nbf: now,
        exp: now + ttl(ttl_secs),
    };
    let access = state
        .keys
        .issue(&claims)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("cannot sign a token: {e}")))?;
    Ok(TokenResponse {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer".into(),
        expires_in: ttl_secs,
        user: user_dto(user),
    })
}

pub(crate) fn user_dto(user: &User) -> UserDto {
    UserDto {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        centre_id: user.centre_id.clone(),
    }
}
