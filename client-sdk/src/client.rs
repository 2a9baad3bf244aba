//! The [`Client`]: opening the local store, logging in, and authenticated
//! requests with one transparent token refresh.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use reqwest::{Method, StatusCode};
use rusqlite::Connection;
use sync_core::wire::{LoginRequest, RefreshRequest, TokenResponse};
use sync_core::{Hlc, HlcClock, Node};
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result, StepExt};
use crate::http::{Config, Http, Meter, Request, Response};
use crate::store;
use crate::types::{Role, UserInfo};

/// The SDK: a local store plus a sync client, safe to share between threads.
///
/// Every call blocks; call it from a background thread, never the UI thread.
pub struct Client {
    pub(crate) local: Mutex<Local>,
    /// One sync at a time; edits may run beside it.
    pub(crate) sync_lock: Mutex<()>,
    /// One token refresh at a time, so a rotated token is never presented twice.
    refresh_lock: Mutex<()>,
    pub(crate) http: Http,
    pub(crate) clock: Arc<dyn Clock>,
    /// The server refused a pull's `max_bytes` (it predates it): budgeted
    /// pulls fall back to small pages.
    pub(crate) server_lacks_max_bytes: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.http.config().server_url)
            .finish_non_exhaustive()
    }
}

/// What the store lock guards: the connection and the in-memory HLC, which is
/// persisted in every transaction that moves it.
#[derive(Debug)]
pub(crate) struct Local {
    pub conn: Connection,
    pub hlc: HlcClock,
    pub device_id: Uuid,
    pub user: Option<UserInfo>,
}

pub(crate) const META_DEVICE: &str = "device_id";
pub(crate) const META_HLC: &str = "hlc";
pub(crate) const META_NEXT_SEQ: &str = "next_seq";
pub(crate) const META_CURSOR: &str = "pull_cursor";
/// Set while the device pulls again from the beginning after the server
/// answered `resync_required`.
pub(crate) const META_RESYNC: &str = "resync";
const META_ACCESS: &str = "access_token";
const META_REFRESH: &str = "refresh_token";
const META_USER: &str = "user";

/// The most a token refresh's answer takes (two tokens and the user: about
/// 900 bytes uncompressed).
const REFRESH_REPLY_BOUND: u64 = 2048;

impl Client {
    /// Opens the store at `path` (created on first use) with the system clock.
    pub fn open(path: impl AsRef<Path>, config: Config) -> Result<Client> {
        Client::open_with_clock(path, config, Arc::new(SystemClock))
    }

    /// Opens the store with an injected clock (tests and simulations).
    pub fn open_with_clock(
        path: impl AsRef<Path>,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Client> {
        let mut conn = store::open(path.as_ref())?;
        let tx = conn.transaction().step("starting to open")?;
        let device_id = match store::get_meta(&tx, META_DEVICE)? {
            Some(id) => {
                Uuid::parse_str(&id).map_err(|e| Error::Corrupt(format!("device id: {e}")))?
            }
            None => {
                let id = Uuid::new_v4();
                store::set_meta(&tx, META_DEVICE, &id.to_string())?;
                id
            }
        };
        let node = Node::Device(device_id);
        let hlc = match store::get_meta(&tx, META_HLC)? {
            Some(text) => {
                let last: Hlc = text
                    .parse()
                    .map_err(|e| Error::Corrupt(format!("stored clock: {e}")))?;
                HlcClock::resume(node, last)
            }
            None => HlcClock::new(node),
        };
        let user = match store::get_meta(&tx, META_USER)? {
            Some(json) => Some(user_from_json(&json)?),
            None => None,
        };
        tx.commit().step("finishing opening")?;
        Ok(Client {
            local: Mutex::new(Local {
                conn,
                hlc,
                device_id,
                user,
            }),
            sync_lock: Mutex::new(()),
            refresh_lock: Mutex::new(()),
            http: Http::new(config)?,
            clock,
            server_lacks_max_bytes: AtomicBool::new(false),
        })
    }

    /// The store lock; a panic in another thread rolled its transaction back,
    /// so the store behind a poisoned lock is still consistent.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a write transaction that holds SQLite's write lock from its first
    /// statement, and brings `hlc` up to the persisted clock: another process
    /// on the same file (the `asa` CLI beside the app) may have moved it.
    pub(crate) fn begin<'c>(
        conn: &'c mut Connection,
        hlc: &mut HlcClock,
        step: &'static str,
    ) -> Result<rusqlite::Transaction<'c>> {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .step(step)?;
        if let Some(text) = store::get_meta(&tx, META_HLC)? {
            let stored: Hlc = text
                .parse()
                .map_err(|e| Error::Corrupt(format!("stored clock: {e}")))?;
            if stored > hlc.last() {
                *hlc = HlcClock::resume(hlc.node(), stored);
            }
        }
        Ok(tx)
    }

    /// This installation's device id (a UUID v4 made on first open).
    pub fn device_id(&self) -> Uuid {
        self.lock().device_id
    }

    /// The last HLC this device issued or observed.
    pub fn last_hlc(&self) -> String {
        self.lock().hlc.last().to_string()
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<UserInfo> {
        self.lock().user.clone()
    }

    /// Logs in and binds this device to the user.
    pub fn login(&self, username: &str, password: &str) -> Result<UserInfo> {
        let body = serde_json::to_vec(&LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            device_id: self.device_id(),
        })
        .map_err(|e| Error::Protocol(e.to_string()))?;
        let mut meter = Meter::default();
        let response = self.http.send(
            &Request {
                method: Method::POST,
                path: "/v1/auth/login",
                body: Some(body),
                token: None,
                accept: "application/json",
                retry_throttled: false,
                reply_bound: 0,
            },
            &mut meter,
        )?;
        match response.status {
            StatusCode::OK => {
                let tokens: TokenResponse = response.json()?;
                let centre_name = self.centre_name(&tokens, &mut meter);
                self.store_tokens(&tokens, centre_name)
            }
            StatusCode::UNAUTHORIZED => Err(Error::InvalidCredentials),
            StatusCode::FORBIDDEN if response.problem().code == "account_disabled" => {
                Err(Error::AccountDisabled)
            }
            _ => Err(response.into_error()),
        }
    }

    /// The name of the user's centre (`GET /v1/centres`), when the server
    /// answers it; a login never fails for want of it.
    fn centre_name(&self, tokens: &TokenResponse, meter: &mut Meter) -> Option<String> {
        let code = tokens.user.centre_id.as_deref()?;
        let response = self
            .http
            .send(
                &Request {
                    method: Method::GET,
                    path: "/v1/centres",
                    body: None,
                    token: Some(&tokens.access_token),
                    accept: "application/json",
                    retry_throttled: false,
                    reply_bound: 0,
                },
                meter,
            )
            .ok()?;
        if response.status != StatusCode::OK {
            return None;
        }
        let page: sync_core::wire::CentresPage = response.json().ok()?;
        page.centres
            .into_iter()
            .find(|c| c.code == code)
            .map(|c| c.name)
    }

    /// Persists tokens (and the user) at once: a rotated refresh token that
    /// was not saved would lock the device out.
    fn store_tokens(
        &self,
        tokens: &TokenResponse,
        centre_name: Option<String>,
    ) -> Result<UserInfo> {
        let user = UserInfo {
            id: tokens.user.id,
            username: tokens.user.username.clone(),
            // A v1 server sends no display name.
            display_name: if tokens.user.display_name.is_empty() {
                tokens.user.username.clone()
            } else {
                tokens.user.display_name.clone()
            },
            role: Role::from_core(tokens.user.role),
            centre_id: tokens.user.centre_id.clone(),
            centre_name,
        };
        let mut local = self.lock();
        let tx = local.conn.transaction().step("starting to save tokens")?;
        store::set_meta(&tx, META_ACCESS, &tokens.access_token)?;
        store::set_meta(&tx, META_REFRESH, &tokens.refresh_token)?;
        store::set_meta(&tx, META_USER, &user_to_json(&user))?;
        tx.commit().step("saving tokens")?;
        local.user = Some(user.clone());
        Ok(user)
    }

    fn token(&self, key: &str) -> Result<String> {
        store::get_meta(&self.lock().conn, key)?.ok_or(Error::NotLoggedIn)
    }

    /// Sends an authenticated request; a 401 triggers one refresh and one
    /// retry. `reply_bound` is the most bytes the answer can take, for a
    /// sync under a budget (see [`Request::reply_bound`]).
    pub(crate) fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        accept: &'static str,
        reply_bound: u64,
        meter: &mut Meter,
    ) -> Result<Response> {
        let token = self.token(META_ACCESS)?;
        let mut req = Request {
            method,
            path,
            body,
            token: Some(&token),
            accept,
            retry_throttled: true,
            reply_bound,
        };
        let response = self.http.send(&req, meter)?;
        if response.status != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        // A revoked login cannot be refreshed: say so at once.
        let code = response.problem().code;
        if code == "token_revoked" {
            return Err(Error::AccessRevoked { code });
        }
        let fresh = self.refresh(&token, meter)?;
        req.token = Some(&fresh);
        let response = self.http.send(&req, meter)?;
        if response.status == StatusCode::UNAUTHORIZED {
            let code = response.problem().code;
            return Err(if code == "token_revoked" {
                Error::AccessRevoked { code }
            } else {
                Error::LoginRequired { code }
            });
        }
        Ok(response)
    }

    /// Rotates the tokens, unless another thread already did since `used` failed.
    fn refresh(&self, used: &str, meter: &mut Meter) -> Result<String> {
        let _one_at_a_time = self.refresh_lock.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.token(META_ACCESS)?;
        if current != used {
            return Ok(current);
        }
        // With the device id, a retry of a refresh whose answer was lost is
        // let through (the server's grace window) instead of ending the login.
        let body = serde_json::to_vec(&RefreshRequest {
            refresh_token: self.token(META_REFRESH)?,
            device_id: Some(self.device_id()),
        })
        .map_err(|e| Error::Protocol(e.to_string()))?;
        let response = self.http.send(
            &Request {
                method: Method::POST,
                path: "/v1/auth/refresh",
                body: Some(body),
                token: None,
                accept: "application/json",
                retry_throttled: true,
                reply_bound: REFRESH_REPLY_BOUND,
            },
            meter,
        )?;
        match response.status {
            StatusCode::OK => {
                let tokens: TokenResponse = response.json()?;
                // The centre does not change within a login (a change revokes it).
                let centre_name = self.user().and_then(|u| u.centre_name);
                self.store_tokens(&tokens, centre_name)?;
                Ok(tokens.access_token)
            }
            StatusCode::UNAUTHORIZED => {
                let code = response.problem().code;
                Err(match code.as_str() {
                    "refresh_token_revoked" | "token_revoked" => Error::AccessRevoked { code },
                    _ => Error::LoginRequired { code },
                })
            }
            _ => Err(response.into_error()),
        }
    }

    /// Ends the login on the server (when it can be reached) and forgets the
    /// tokens and the user here; local records and the outbox stay. Offline,
    /// the tokens are forgotten all the same: nothing on the phone can use
    /// them again.
    pub fn logout(&self) -> Result<()> {
        if let Ok(refresh) = self.token(META_REFRESH) {
            let body = serde_json::to_vec(&sync_core::wire::LogoutRequest {
                refresh_token: refresh,
            })
            .map_err(|e| Error::Protocol(e.to_string()))?;
            let request = Request {
                method: Method::POST,
                path: "/v1/auth/logout",
                body: Some(body),
                token: None,
                accept: "application/json",
                retry_throttled: false,
                reply_bound: 0,
            };
            match self.http.send(&request, &mut Meter::default()) {
                Ok(_) | Err(Error::Unreachable { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.forget_login()
    }

    fn forget_login(&self) -> Result<()> {
        let mut local = self.lock();
        let tx = local.conn.transaction().step("starting to log out")?;
        for key in [META_ACCESS, META_REFRESH, META_USER] {
            store::delete_meta(&tx, key)?;
        }
        tx.commit().step("logging out")?;
        local.user = None;
        Ok(())
    }
}

fn user_to_json(user: &UserInfo) -> String {
    serde_json::json!({
        "id": user.id, "username": user.username, "display_name": user.display_name,
        "role": user.role.name(), "centre_id": user.centre_id, "centre_name": user.centre_name,
    })
    .to_string()
}

fn user_from_json(json: &str) -> Result<UserInfo> {
    #[derive(serde::Deserialize)]
    struct Stored {
        id: Uuid,
        username: String,
        #[serde(default)]
        display_name: String,
        role: sync_core::Role,
        centre_id: Option<String>,
        #[serde(default)]
        centre_name: Option<String>,
    }
    let s: Stored =
        serde_json::from_str(json).map_err(|e| Error::Corrupt(format!("stored user: {e}")))?;
    Ok(UserInfo {
        display_name: if s.display_name.is_empty() {
            s.username.clone()
        } else {
            s.display_name
        },
        id: s.id,
        username: s.username,
        role: Role::from_core(s.role),
        centre_id: s.centre_id,
        centre_name: s.centre_name,
    })
}
