//! Console logins: a web session without a device. The cookie holds a random
//! token (the store keeps only its SHA-256 hash) and is HttpOnly,
//! SameSite=Strict, Path=/, and Secure when the request came over TLS. Every
//! state-changing form carries the session's CSRF token; a session ends at
//! logout, after `console_idle_secs` without a request, and when its user is
//! disabled or their password, role or centre changes (the store deletes it).

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use sync_core::{Principal, Role};

use super::ConsoleError;
use crate::console::Lang;
use crate::routes::blocking;
use crate::state::AppState;
use crate::store::User;

pub const SESSION_COOKIE: &str = "asa_console";
/// The sign-in form's CSRF token, before there is a session (double submit).
pub const LOGIN_COOKIE: &str = "asa_login";
pub const LANG_COOKIE: &str = "asa_lang";
/// How often a session's "last seen" is written: not on every request.
const TOUCH_EVERY_SECS: i64 = 60;

/// A random token, 32 bytes as base64url.
pub fn random_token() -> Result<String, ConsoleError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ConsoleError::Internal(anyhow::anyhow!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equal tokens, compared in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (token_hash(a), token_hash(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Whether the request came over TLS: the connection, or a trusted proxy's
/// `X-Forwarded-Proto`.
pub fn over_tls(req: &HttpRequest, state: &AppState) -> bool {
    if req.connection_info().scheme() == "https" && req.headers().get("x-forwarded-proto").is_none()
    {
        return true;
    }
    let trusted = req
        .peer_addr()
        .is_some_and(|p| state.settings.trusted_proxies.contains(&p.ip()));
    trusted
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A cookie of the console: HttpOnly, SameSite=Strict, for the whole site.
pub fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

/// The same cookie, expired: sent to forget it.
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), secure);
    c.make_removal();
    c
}

/// The language the visitor chose (cookie), Thai otherwise.
pub fn lang_of(req: &HttpRequest) -> Lang {
    Lang::from_param(req.cookie(LANG_COOKIE).as_ref().map(|c| c.value()))
}

/// A signed-in manager or admin on the console.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub user: User,
    pub principal: Principal,
    pub csrf: String,
    pub lang: Lang,
    /// The session cookie's hash, to end it at logout.
    pub hash: [u8; 32],
}

impl ConsoleUser {
    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), ConsoleError> {
        if same_token(token, &self.csrf) {
            Ok(())
        } else {
            tracing::warn!(target: "audit", user = %self.user.id, "refused: console form without its csrf token");
            Err(ConsoleError::Csrf)
        }
    }
}

async fn authenticate(req: HttpRequest) -> Result<ConsoleUser, ConsoleError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ConsoleError::Internal(anyhow::anyhow!("app state missing")))?;
    let lang = lang_of(&req);
    let next = req.uri().path_and_query().map(|p| p.to_string());
    let login = || ConsoleError::Login { next: next.clone() };
    let cookie = req.cookie(SESSION_COOKIE).ok_or_else(login)?;
    let hash = token_hash(cookie.value());
    let now = state.now_secs();
    let idle = i64::try_from(state.settings.console_idle_secs).unwrap_or(i64::MAX / 2);
    let store = state.store.clone();
    let session = blocking(move || Ok(store.web_session(&hash, now - idle)?))
        .await
        .map_err(ConsoleError::from)?
        .ok_or_else(login)?;
    if session.user.disabled {
        return Err(login());
    }
    if session.user.role == Role::Volunteer {
        return Err(ConsoleError::Forbidden);
    }
    if now - session.last_seen_at >= TOUCH_EVERY_SECS {
        let store = state.store.clone();
        blocking(move || Ok(store.touch_web_session(&hash, now, now - idle)?))
            .await
            .map_err(ConsoleError::from)?;
    }
    let principal = Principal {
        user_id: session.user.id,
        role: session.user.role,
        centre_id: session.user.centre_id.clone(),
    };
    Ok(ConsoleUser {
        user: session.user,
        principal,
        csrf: session.csrf,
        lang,
        hash,
    })
}

impl FromRequest for ConsoleUser {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<ConsoleUser, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
