//! The console's forms (POST, and the sign-in page): each checks the CSRF
//! token, acts through the same functions as the API (so the same rules and
//! the same audit lines apply), and answers with a 303 to the page with a
//! notice, or with the page again showing the error beside the form and
//! what was typed (never a password).

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use sync_core::schema::Kind;
use sync_core::wire::{CreateUserRequest, PatchUserRequest, ResolveRequest};
use sync_core::{Collection, Key, Role};

use super::pages::{collection, conflicts_page, devices_page, volunteers_page};
use super::session::{
    cookie, lang_of, over_tls, random_token, removal, same_token, token_hash, LANG_COOKIE,
    LOGIN_COOKIE, SESSION_COOKIE,
};
use super::{context, html, local_path, see_other, ConsoleError, ConsoleUser, Fields};
use crate::auth::client_address;
use crate::console::{self, urls, CreateVolunteerForm, Flash, Lang, LoginPage, Notice};
use crate::error::ApiError;
use crate::routes::auth::check_password;
use crate::routes::blocking;
use crate::routes::records::resolve_as;
use crate::routes::users::{change_user, create_account, unbind_device};
use crate::state::AppState;

/// An error of a form: its code and the status to answer with.
struct Refusal {
    code: String,
    status: StatusCode,
}

impl Refusal {
    fn new(code: &str, status: StatusCode) -> Refusal {
        Refusal {
            code: code.to_owned(),
            status,
        }
    }

    fn csrf() -> Refusal {
        Refusal::new("csrf", StatusCode::FORBIDDEN)
    }

    /// The API's refusal, shown on the form; an internal error is not a
    /// form's error and becomes the error page.
    fn of(e: ApiError) -> Result<Refusal, ConsoleError> {
        match e {
            ApiError::Internal(cause) => Err(ConsoleError::Internal(cause)),
            other => Ok(Refusal {
                status: other.status_code(),
                code: other.problem().code,
            }),
        }
    }
}

/// A console path given as `next`, if it is one.
fn next_path(fields: &Fields) -> Option<String> {
    Some(fields.get("next"))
        .filter(|n| local_path(n) && !n.starts_with(urls::LOGIN))
        .map(str::to_owned)
}

/// The sign-in page with its pre-session CSRF token (the `asa_login`
/// cookie's, made here when there is none).
fn login_response(
    req: &HttpRequest,
    state: &AppState,
    mut page: LoginPage,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    let token = match req.cookie(LOGIN_COOKIE) {
        Some(c) if c.value().len() == 43 => c.value().to_owned(),
        _ => random_token()?,
    };
    page.csrf = token.clone();
    let mut response = html(status, console::login(&page));
    response
        .add_cookie(&cookie(LOGIN_COOKIE, token, over_tls(req, state)))
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    Ok(response)
}

/// `GET /login`. Someone already signed in goes on to the console.
pub async fn login_page(
    who: Option<ConsoleUser>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let q = Fields::of_query(&req);
    let next = next_path(&q);
    if who.is_some() {
        return Ok(see_other(next.as_deref().unwrap_or(urls::SESSIONS)));
    }
    let flash = (q.get("done") == "signed_out").then_some(Flash::Success(Notice::SignedOut));
    let page = LoginPage {
        lang: lang_of(&req),
        csrf: String::new(),
        username: String::new(),
        error: None,
        next,
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| urls::LOGIN.to_owned(), |p| p.to_string()),
        flash,
    };
    login_response(&req, &state, page, StatusCode::OK)
}

/// `POST /login`: `csrf`, `username`, `password`, `next`. The same checks
/// and throttle as the API's login; only managers and admins get a session.
pub async fn login(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let f = Fields::parse(&body);
    let next = next_path(&f);
    let mut page = LoginPage {
        lang: lang_of(&req),
        csrf: String::new(),
        username: f.get("username").to_owned(),
        error: None,
        next: next.clone(),
        path: urls::LOGIN.to_owned(),
        flash: None,
    };
    let token_ok = req
        .cookie(LOGIN_COOKIE)
        .is_some_and(|c| same_token(c.value(), f.get("csrf")));
    if !token_ok {
        tracing::warn!(target: "audit", "refused: console sign-in without its csrf token");
        page.error = Some("csrf".to_owned());
        return login_response(&req, &state, page, StatusCode::FORBIDDEN);
    }
    let address = client_address(&req, &state.settings.trusted_proxies);
    let user = match check_password(&state, &address, f.get("username"), f.get("password")).await {
        Ok(user) => user,
        Err(e) => {
            let retry = match &e {
                ApiError::TooManyRequests {
                    retry_after_secs, ..
                } => Some(*retry_after_secs),
                _ => None,
            };
            let refusal = Refusal::of(e)?;
            page.error = Some(refusal.code);
            let mut response = login_response(&req, &state, page, refusal.status)?;
            if let Some(secs) = retry {
                if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            return Ok(response);
        }
    };
    if user.role == Role::Volunteer {
        tracing::warn!(target: "audit", username = %user.username, "refused: console sign-in of a volunteer");
        page.error = Some("console_for_managers".to_owned());
        return login_response(&req, &state, page, StatusCode::FORBIDDEN);
    }
    let token = random_token()?;
    let csrf = random_token()?;
    let hash = token_hash(&token);
    let now = state.now_secs();
    let store = state.store.clone();
    let user_id = user.id;
    blocking(move || Ok(store.create_web_session(&hash, user_id, &csrf, now)?)).await?;
    tracing::info!(target: "audit", username = %user.username, address, "console sign-in");
    let secure = over_tls(&req, &state);
    let mut response = see_other(next.as_deref().unwrap_or(urls::SESSIONS));
    for c in [
        cookie(SESSION_COOKIE, token, secure),
        removal(LOGIN_COOKIE, secure),
    ] {
        response
            .add_cookie(&c)
            .map_err(|e| ConsoleError::Internal(e.into()))?;
    }
    Ok(response)
}

/// `POST /logout`: ends this session.
pub async fn logout(
    who: ConsoleUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    who.check_csrf(Fields::parse(&body).get("csrf"))?;
    let store = state.store.clone();
    let hash = who.hash;
    blocking(move || Ok(store.end_web_session(&hash)?)).await?;
    tracing::info!(target: "audit", user = %who.user.id, "console sign-out");
    let mut response = see_other(&format!("{}?done=signed_out", urls::LOGIN));
    response
        .add_cookie(&removal(SESSION_COOKIE, over_tls(&req, &state)))
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    Ok(response)
}

/// `GET /lang?to=en&back=/sessions`: remembers the language (a cookie) and
/// goes back to the page.
pub async fn lang(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let q = Fields::of_query(&req);
    let lang = Lang::parse(q.get("to")).unwrap_or(Lang::Th);
    let back = Some(q.get("back"))
        .filter(|b| local_path(b))
        .unwrap_or(urls::HOME);
    let mut c = cookie(LANG_COOKIE, lang.code().to_owned(), over_tls(&req, &state));
    c.set_max_age(actix_web::cookie::time::Duration::days(365));
    let mut response = see_other(back);
    response
        .add_cookie(&c)
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    Ok(response)
}

/// A new value typed on the conflicts page, as the key's JSON value: an
/// empty box is `null` where the key may be empty, numbers are numbers, and
/// a `datetime-local` time is Thailand's (+07:00).
fn typed_value(
    collection: Collection,
    key: &str,
    text: &str,
) -> Result<serde_json::Value, Refusal> {
    let invalid = || Refusal::new("invalid_value", StatusCode::BAD_REQUEST);
    let (_, spec) = Key::parse(collection, key).ok_or_else(invalid)?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return if spec.nullable {
            Ok(serde_json::Value::Null)
        } else {
            Err(invalid())
        };
    }
    match spec.kind {
        Kind::Int { .. } | Kind::BirthYear => trimmed
            .parse::<i64>()
            .map(serde_json::Value::from)
            .map_err(|_| Refusal::new("invalid_type", StatusCode::BAD_REQUEST)),
        Kind::DateTime => Ok(serde_json::Value::from(match trimmed.len() {
            16 => format!("{trimmed}:00+07:00"),
            19 => format!("{trimmed}+07:00"),
            _ => trimmed.to_owned(),
        })),
        Kind::Bool | Kind::Consent | Kind::SetMember => Err(invalid()),
        Kind::Text { .. } => Ok(serde_json::Value::from(text)),
        _ => Ok(serde_json::Value::from(trimmed)),
    }
}

/// `POST /conflicts/{collection}/{id}`: `key`, every `head` seen, `choice`
/// (a head's HLC, or `new` with `new_value`). Resolves through the API's
/// resolve, so a change that arrived meanwhile is `heads_changed` and the
/// page shows the new state.
pub async fn resolve(
    who: ConsoleUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (name, id) = path.into_inner();
    let collection = collection(&name, who.lang)?;
    let f = Fields::parse(&body);
    let key = f.get("key").to_owned();
    let new_value = f.get("new_value").to_owned();
    let outcome = if who.check_csrf(f.get("csrf")).is_err() {
        Err(Refusal::csrf())
    } else {
        resolve_form(&who, &state, collection, &id, &key, &f).await?
    };
    let refusal = match outcome {
        Ok(()) => return Ok(see_other(&format!("{}?done=resolved", urls::CONFLICTS))),
        Err(r) => r,
    };
    let page = conflicts_page(&who, &state, Some((collection, id))).await?;
    let Some(mut page) = page else {
        return Err(ConsoleError::Page {
            status: 404,
            code: "not_found".to_owned(),
            lang: who.lang,
        });
    };
    let mut shown = false;
    for k in page.records.iter_mut().flat_map(|r| r.keys.iter_mut()) {
        if k.key == key {
            k.error = Some(refusal.code.clone());
            k.new_value = new_value.clone();
            shown = true;
        }
    }
    let mut ctx = context(&who, &state, &req).await?;
    if !shown {
        ctx.flash = Some(Flash::Error(refusal.code));
    }
    Ok(html(refusal.status, console::conflicts(&ctx, &page)))
}

async fn resolve_form(
    who: &ConsoleUser,
    state: &web::Data<AppState>,
    collection: Collection,
    id: &str,
    key: &str,
    f: &Fields,
) -> Result<Result<(), Refusal>, ConsoleError> {
    let Some(record_id) = sync_core::hlc::parse_canonical_uuid(id) else {
        return Ok(Err(Refusal::new("not_found", StatusCode::NOT_FOUND)));
    };
    let choice = f.get("choice");
    let value = if choice == "new" {
        match typed_value(collection, key, f.get("new_value")) {
            Ok(v) => v,
            Err(r) => return Ok(Err(r)),
        }
    } else {
        // The chosen head's value, from the record as it is now.
        let store = state.store.clone();
        let principal = who.principal.clone();
        let row = blocking(move || {
            let Some(row) = store.get_record(collection, record_id)? else {
                return Ok(None);
            };
            let readable = principal.may_read(
                collection,
                row.centre_id.as_deref(),
                row.volunteer_id.as_deref(),
            );
            Ok(readable
                .then(|| {
                    crate::records::render(store.as_ref(), std::slice::from_ref(&row), &principal)
                })
                .transpose()?
                .and_then(|mut v| v.pop()))
        })
        .await?;
        let Some(dto) = row else {
            return Ok(Err(Refusal::new("not_found", StatusCode::NOT_FOUND)));
        };
        let Some(conflict) = dto.conflicts.iter().find(|c| c.key == key) else {
            return Ok(Err(Refusal::new("not_in_conflict", StatusCode::CONFLICT)));
        };
        match conflict.heads.iter().find(|h| h.hlc.to_string() == choice) {
            Some(head) => head.value.clone(),
            None if choice.is_empty() => {
                return Ok(Err(Refusal::new("invalid_value", StatusCode::BAD_REQUEST)))
            }
            None => return Ok(Err(Refusal::new("heads_changed", StatusCode::CONFLICT))),
        }
    };
    let request = ResolveRequest {
        key: key.to_owned(),
        value,
        base: f.all("head"),
    };
    match resolve_as(&who.principal, state, collection, record_id, request).await {
        Ok(_) => Ok(Ok(())),
        Err(e) => Ok(Err(Refusal::of(e)?)),
    }
}

/// `POST /devices/{id}/unbind`: `confirm` must be the device's short id.
pub async fn unbind(
    who: ConsoleUser,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let device_id = path.into_inner();
    let f = Fields::parse(&body);
    let outcome = if who.check_csrf(f.get("csrf")).is_err() {
        Err(Refusal::csrf())
    } else if f.get("confirm").trim().to_lowercase() != console::short_id(&device_id) {
        Err(Refusal::new("confirm_mismatch", StatusCode::BAD_REQUEST))
    } else {
        let rows = crate::routes::devices::devices_of(&who.principal, &state, None).await;
        match rows {
            Err(e) => Err(Refusal::of(e)?),
            Ok(rows) => match rows.iter().find(|r| r.device_id.to_string() == device_id) {
                None => Err(Refusal::new("not_found", StatusCode::NOT_FOUND)),
                Some(row) => {
                    let user = row.user.id.to_string();
                    match unbind_device(&who.principal, &state, &user, &device_id).await {
                        Ok(()) => Ok(()),
                        Err(e) => Err(Refusal::of(e)?),
                    }
                }
            },
        }
    };
    let refusal = match outcome {
        Ok(()) => return Ok(see_other(&format!("{}?done=unbound", urls::DEVICES))),
        Err(r) => r,
    };
    let mut page = devices_page(&who, &state).await?;
    let mut shown = false;
    for row in page.rows.iter_mut().filter(|r| r.device_id == device_id) {
        row.error = Some(refusal.code.clone());
        shown = true;
    }
    let mut ctx = context(&who, &state, &req).await?;
    if !shown {
        ctx.flash = Some(Flash::Error(refusal.code));
    }
    Ok(html(refusal.status, console::devices(&ctx, &page)))
}

/// `POST /volunteers`: `username`, `display_name`, `password`. A manager's
/// volunteer joins the manager's centre.
pub async fn create_volunteer(
    who: ConsoleUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let f = Fields::parse(&body);
    let username = f.get("username").trim().to_owned();
    let display_name = f.get("display_name").trim().to_owned();
    let outcome = if who.check_csrf(f.get("csrf")).is_err() {
        Err(Refusal::csrf())
    } else {
        let request = CreateUserRequest {
            username: username.clone(),
            password: f.get("password").to_owned(),
            role: Role::Volunteer.name().to_owned(),
            centre_id: None,
            display_name: (!display_name.is_empty()).then(|| display_name.clone()),
        };
        match create_account(&who.principal, &state, request).await {
            Ok(_) => Ok(()),
            Err(e) => Err(Refusal::of(e)?),
        }
    };
    let refusal = match outcome {
        Ok(()) => return Ok(see_other(&format!("{}?done=created", urls::VOLUNTEERS))),
        Err(r) => r,
    };
    let mut page = volunteers_page(&who, &state).await?;
    let code = Some(refusal.code.clone());
    page.create = CreateVolunteerForm {
        username,
        display_name,
        open: true,
        ..CreateVolunteerForm::default()
    };
    match refusal.code.as_str() {
        "invalid_username" | "username_taken" => page.create.username_error = code,
        "invalid_text" | "too_long" => page.create.display_name_error = code,
        "weak_password" => page.create.password_error = code,
        _ => page.create.error = code,
    }
    let ctx = context(&who, &state, &req).await?;
    Ok(html(refusal.status, console::volunteers(&ctx, &page)))
}

/// `POST /volunteers/{id}/{disable|enable|password|rename}`.
pub async fn volunteer(
    who: ConsoleUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (user_id, action) = path.into_inner();
    let f = Fields::parse(&body);
    let rename_value = f.get("display_name").trim().to_owned();
    let (patch, done) = match action.as_str() {
        "disable" => (
            PatchUserRequest {
                disabled: Some(true),
                ..PatchUserRequest::default()
            },
            "disabled",
        ),
        "enable" => (
            PatchUserRequest {
                disabled: Some(false),
                ..PatchUserRequest::default()
            },
            "enabled",
        ),
        "password" => (
            PatchUserRequest {
                password: Some(f.get("password").to_owned()),
                ..PatchUserRequest::default()
            },
            "password",
        ),
        "rename" => (
            PatchUserRequest {
                display_name: Some(rename_value.clone()),
                ..PatchUserRequest::default()
            },
            "renamed",
        ),
        _ => {
            return Err(ConsoleError::Page {
                status: 404,
                code: "not_found".to_owned(),
                lang: who.lang,
            })
        }
    };
    let outcome = if who.check_csrf(f.get("csrf")).is_err() {
        Err(Refusal::csrf())
    } else {
        match change_user(&who.principal, &state, &user_id, patch).await {
            Ok(_) => Ok(()),
            Err(e) => Err(Refusal::of(e)?),
        }
    };
    let refusal = match outcome {
        Ok(()) => return Ok(see_other(&format!("{}?done={done}", urls::VOLUNTEERS))),
        Err(r) => r,
    };
    let mut page = volunteers_page(&who, &state).await?;
    let code = Some(refusal.code.clone());
    let mut shown = false;
    for row in page.rows.iter_mut().filter(|r| r.user_id == user_id) {
        shown = true;
        match action.as_str() {
            "password" => row.password_error = code.clone(),
            "rename" => {
                row.rename_error = code.clone();
                row.rename_value = Some(rename_value.clone());
            }
            _ => row.status_error = code.clone(),
        }
    }
    let mut ctx = context(&who, &state, &req).await?;
    if !shown {
        ctx.flash = Some(Flash::Error(refusal.code));
    }
    Ok(html(refusal.status, console::volunteers(&ctx, &page)))
}

/// The pair a duplicates form names (`a`, `b`), as canonical ids.
fn pair_of(f: &Fields) -> Option<(uuid::Uuid, uuid::Uuid)> {
    let id = |name| sync_core::hlc::parse_canonical_uuid(f.get(name));
    Some((id("a")?, id("b")?))
}

/// `POST /duplicates/dismiss` (`a`, `b`) and `POST /duplicates/merge`
/// (`a`, `b`: `b` is merged into `a`), through the API's own rules; a
/// refusal is shown on the pair's row.
async fn on_duplicate(
    who: ConsoleUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    merge: bool,
) -> Result<HttpResponse, ConsoleError> {
    use crate::routes::beneficiaries::{dismiss_as, merge_as};
    let f = Fields::parse(&body);
    let pair = pair_of(&f);
    let outcome = if who.check_csrf(f.get("csrf")).is_err() {
        Err(Refusal::csrf())
    } else {
        match pair {
            None => Err(Refusal::new("not_found", StatusCode::NOT_FOUND)),
            Some((a, b)) => {
                let done = if merge {
                    merge_as(&who.principal, &state, b, a).await
                } else {
                    dismiss_as(&who.principal, &state, a, b).await.map(|_| ())
                };
                match done {
                    Ok(()) => Ok(()),
                    Err(e) => Err(Refusal::of(e)?),
                }
            }
        }
    };
    let refusal = match outcome {
        Ok(()) => {
            let done = if merge { "merged" } else { "dismissed" };
            return Ok(see_other(&format!("{}?done={done}", urls::DUPLICATES)));
        }
        Err(r) => r,
    };
    let mut page = super::pages::duplicates_page(&who, &state).await?;
    let mut shown = false;
    if let Some((a, b)) = pair {
        let (a, b) = (a.to_string(), b.to_string());
        for row in page.rows.iter_mut().filter(|r| r.a.id == a && r.b.id == b) {
            row.error = Some(refusal.code.clone());
            shown = true;
        }
    }
    let mut ctx = context(&who, &state, &req).await?;
    if !shown {
        ctx.flash = Some(Flash::Error(refusal.code));
    }
    Ok(html(refusal.status, console::duplicates(&ctx, &page)))
}

pub async fn dismiss_duplicate(
    who: ConsoleUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    on_duplicate(who, req, body, state, false).await
}

pub async fn merge_duplicate(
    who: ConsoleUser,
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    on_duplicate(who, req, body, state, true).await
}
