//! Authentication: the extractor that turns a bearer token into the caller's
//! identity, plus password hashing and token handling.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use sync_core::{Principal, ProblemCode, Role};
use uuid::Uuid;

use crate::error::ApiError;
use crate::routes::blocking;
use crate::state::AppState;

pub mod hasher;
pub mod password;
pub mod throttle;
pub mod tokens;

/// The verified caller of a `/v1` route: a user acting through one device.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub device_id: Uuid,
    /// The login (refresh token family) the access token was issued from.
    pub family: i64,
    /// Non-zero: the device must pull from the beginning before it pulls
    /// anything else (the store's resync mark, as read for this request).
    pub resync: i64,
    /// The device's `acked_seq`, as read for this request.
    pub acked_seq: u64,
}

impl Caller {
    pub fn require_role(&self, roles: &[Role]) -> Result<(), ApiError> {
        require_role(&self.principal, roles)
    }
}

/// Refuses a user whose role is not one of `roles` (403, audited).
pub fn require_role(principal: &Principal, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&principal.role) {
        Ok(())
    } else {
        tracing::warn!(target: "audit", user = %principal.user_id, role = %principal.role, "refused: role not allowed");
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

/// How stale a device's `last_seen_at` may get before a request refreshes it:
/// often enough for a manager's view, rarely enough to cost no write per request.
const TOUCH_AFTER_SECS: i64 = 300;

/// Checks the token's signature and times, then that its login still stands:
/// not logged out or revoked, the user not disabled, the device still bound
/// to them (so disabling or unbinding takes effect on the next request).
async fn authenticate(req: HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("app state missing")))?;
    let refuse = |code: ProblemCode, why: &str| {
        tracing::warn!(target: "audit", path = %req.path(), peer = ?req.peer_addr(), reason = why, "refused: authentication");
        ApiError::unauthorized(code, why.to_owned())
    };
    let header = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        refuse(
            ProblemCode::Unauthorized,
            "missing Authorization header; send `Bearer <access token>`",
        )
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| {
            refuse(
                ProblemCode::Unauthorized,
                "the Authorization header must be `Bearer <access token>`",
            )
        })?;
    let now_secs = state.now_secs();
    let claims = state
        .keys
        .verify(token.trim(), now_secs)
        .map_err(|e| refuse(ProblemCode::Unauthorized, &e.to_string()))?;
    let store = state.store.clone();
    let family = claims.fam;
    let login = blocking(move || Ok(store.login_state(family)?)).await?;
    let revoked = match &login {
        None => Some("this login no longer exists; log in again"),
        Some(l) if l.revoked => {
            Some("this login was ended (logged out, or the account was changed); log in again")
        }
        Some(l) if l.user_disabled => Some("this account is disabled; ask your centre's manager"),
        Some(l) if l.device_owner != Some(claims.sub) => {
            Some("this device is no longer registered to this account; log in again")
        }
        Some(_) => None,
    };
    if let Some(why) = revoked {
        return Err(refuse(ProblemCode::TokenRevoked, why));
    }
    let login = login.ok_or_else(|| ApiError::internal(anyhow::anyhow!("login vanished")))?;
    if login
        .last_seen_at
        .is_none_or(|seen| now_secs - seen > TOUCH_AFTER_SECS)
    {
        // Best effort: a missed update only makes "last seen" a little older.
        let store = state.store.clone();
        let device = claims.dev;
        actix_web::rt::spawn(async move {
            let _ = web::block(move || store.touch_device(device, now_secs)).await;
        });
    }
    Ok(Caller {
        principal: claims.principal(),
        device_id: claims.dev,
        family,
        resync: login.resync,
        acked_seq: login.acked_seq,
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

/// The address a request comes from: the peer, or when the peer is one of
/// `trusted_proxies`, the rightmost `X-Forwarded-For` entry that is not
/// itself a trusted proxy (entries further left are the client's own claims).
pub fn client_address(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".to_owned();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip.to_string(),
            // A malformed entry ends what can be trusted.
            Err(_) => break,
        }
    }
    peer.to_string()
}
