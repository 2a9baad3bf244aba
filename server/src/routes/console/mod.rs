//! The manager console's routes: server-rendered pages (the views are in
//! [`crate::console`]) on top of the same scope rules and store calls as the
//! API, with a cookie session instead of a bearer token.
//!
//! Every page sends a Content-Security-Policy that allows no script at all,
//! and forms are plain POSTs carrying the session's CSRF token, answered
//! with a redirect (so a reload never posts twice) or the page again with
//! the error and what was typed.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use maud::Markup;
use sync_core::{Collection, Principal, Role};

use crate::console::{self, ErrorPage, Flash, Lang, Notice, PageContext, SignedIn};
use crate::error::ApiError;
use crate::routes::blocking;
use crate::state::AppState;
use crate::store::{ReadScope, RecordQuery};

mod forms;
mod pages;
pub mod session;

pub use session::ConsoleUser;

/// A console request that cannot be answered with its page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not signed in (or the session ended): to the sign-in page.
    #[error("sign in first")]
    Login { next: Option<String> },
    /// A form without this session's CSRF token.
    #[error("the form's token is not this session's")]
    Csrf,
    #[error("this console is for managers and admins")]
    Forbidden,
    /// An error page with this status and code, in this language.
    #[error("{code}")]
    Page {
        status: u16,
        code: String,
        lang: Lang,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Internal(cause) => ConsoleError::Internal(cause),
            other => ConsoleError::Page {
                status: other.status_code().as_u16(),
                code: other.problem().code,
                lang: Lang::Th,
            },
        }
    }
}

impl ConsoleError {
    /// The same error, shown in `lang`.
    pub fn in_lang(self, lang: Lang) -> ConsoleError {
        match self {
            ConsoleError::Page { status, code, .. } => ConsoleError::Page { status, code, lang },
            other => other,
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::Login { .. } => StatusCode::SEE_OTHER,
            ConsoleError::Csrf | ConsoleError::Forbidden => StatusCode::FORBIDDEN,
            ConsoleError::Page { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, lang) = match self {
            ConsoleError::Login { next } => {
                let target = match next.as_deref().filter(|n| local_path(n)) {
                    Some(n) if n != console::urls::HOME => {
                        format!("{}?next={}", console::urls::LOGIN, console::urls::encode(n))
                    }
                    _ => console::urls::LOGIN.to_owned(),
                };
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, target))
                    .finish();
            }
            ConsoleError::Csrf => (403, "csrf".to_owned(), Lang::Th),
            ConsoleError::Forbidden => (403, "forbidden".to_owned(), Lang::Th),
            ConsoleError::Page { status, code, lang } => (*status, code.clone(), *lang),
            ConsoleError::Internal(cause) => {
                tracing::error!(error = ?cause, "console: internal error");
                (500, "internal".to_owned(), Lang::Th)
            }
        };
        let ctx = PageContext {
            lang,
            csrf: String::new(),
            path: console::urls::HOME.to_owned(),
            user: None,
            conflicts: 0,
            flash: None,
        };
        let page = console::error_page(
            &ctx,
            &ErrorPage {
                status,
                code: Some(code),
            },
        );
        html(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            page,
        )
    }
}

/// The security headers of every console page: no script, no framing, no
/// sniffing, no caching of personal data.
pub fn secure(mut response: HttpResponse) -> HttpResponse {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// An HTML page with its status.
pub fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    secure(
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(markup.into_string()),
    )
}

/// A redirect after a form (303, so the browser GETs the page).
pub fn see_other(location: &str) -> HttpResponse {
    secure(
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location.to_owned()))
            .finish(),
    )
}

/// Whether `path` is a path of this site (not `//host` or a full URL), so
/// redirects to it stay here.
pub fn local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\")
}

/// Where a caller reads: the same rule as the API's.
pub fn scope(principal: &Principal) -> Result<ReadScope, ConsoleError> {
    Ok(crate::routes::read_scope(principal)?)
}

/// The shell of a signed-in page: the user, the conflict badge, the flash
/// message of `?done=` or `?error=`.
pub async fn context(
    who: &ConsoleUser,
    state: &web::Data<AppState>,
    req: &HttpRequest,
) -> Result<PageContext, ConsoleError> {
    let scope = scope(&who.principal)?;
    let store = state.store.clone();
    let centre = who.user.centre_id.clone();
    let (conflicts, centre_name) = blocking(move || {
        let mut conflicts = 0;
        for collection in Collection::ALL {
            let query = RecordQuery {
                conflicts_only: true,
                exclude_deleted: true,
                ..RecordQuery::new(collection, scope.clone(), 1)
            };
            conflicts += store.count_records(&query)?;
        }
        let name = match &centre {
            Some(code) => store
                .list_centres(Some(code))?
                .into_iter()
                .next()
                .map(|c| c.name),
            None => None,
        };
        Ok((conflicts, name))
    })
    .await?;
    Ok(PageContext {
        lang: who.lang,
        csrf: who.csrf.clone(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.path().to_owned(), |p| p.to_string()),
        user: Some(SignedIn {
            display_name: who.user.display_name.clone(),
            role: console_role(who.user.role),
            centre_name: centre_name.or_else(|| who.user.centre_id.clone()),
        }),
        conflicts,
        flash: flash(req),
    })
}

pub fn console_role(role: Role) -> console::Role {
    match role {
        Role::Volunteer => console::Role::Volunteer,
        Role::Manager => console::Role::Manager,
        Role::Admin => console::Role::Admin,
    }
}

/// The message a form's redirect left in the query (`done=`, `error=`).
fn flash(req: &HttpRequest) -> Option<Flash> {
    let query = req.query_string();
    let value = |name: &str| {
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    };
    if let Some(done) = value("done") {
        let notice = match done.as_str() {
            "saved" => Notice::Saved,
            "resolved" => Notice::Resolved,
            "unbound" => Notice::Unbound,
            "created" => Notice::Created,
            "disabled" => Notice::Disabled,
            "enabled" => Notice::Enabled,
            "password" => Notice::PasswordReset,
            "renamed" => Notice::Renamed,
            "signed_out" => Notice::SignedOut,
            "dismissed" => Notice::Dismissed,
            "merged" => Notice::Merged,
            _ => return None,
        };
        return Some(Flash::Success(notice));
    }
    value("error")
        .filter(|code| code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .map(Flash::Error)
}

/// The fields of a query string or of a form body
/// (`application/x-www-form-urlencoded`), in order; a name may repeat.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(text: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(text).into_owned().collect())
    }

    pub fn of_query(req: &HttpRequest) -> Fields {
        Fields::parse(req.query_string().as_bytes())
    }

    /// The first value of `name`, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Registers the console's routes (before the API's 404).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(pages::home)))
        .service(web::resource(console::urls::CSS).route(web::get().to(pages::stylesheet)))
        .service(
            web::resource(console::urls::LOGIN)
                .route(web::get().to(forms::login_page))
                .route(web::post().to(forms::login)),
        )
        .service(web::resource(console::urls::LOGOUT).route(web::post().to(forms::logout)))
        .service(web::resource(console::urls::LANG).route(web::get().to(forms::lang)))
        .service(web::resource(console::urls::SESSIONS).route(web::get().to(pages::sessions)))
        .service(web::resource("/sessions/{id}").route(web::get().to(pages::session)))
        .service(web::resource("/beneficiaries/{id}").route(web::get().to(pages::beneficiary)))
        .service(web::resource("/export/{file}").route(web::get().to(pages::export)))
        .service(web::resource(console::urls::CONFLICTS).route(web::get().to(pages::conflicts)))
        .service(
            web::resource("/conflicts/{collection}/{id}")
                .route(web::get().to(pages::conflict_record))
                .route(web::post().to(forms::resolve)),
        )
        .service(web::resource(console::urls::DEVICES).route(web::get().to(pages::devices)))
        .service(web::resource("/devices/{id}/unbind").route(web::post().to(forms::unbind)))
        .service(
            web::resource(console::urls::VOLUNTEERS)
                .route(web::get().to(pages::volunteers))
                .route(web::post().to(forms::create_volunteer)),
        )
        .service(web::resource("/volunteers/{id}/{action}").route(web::post().to(forms::volunteer)))
        .service(web::resource(console::urls::PROGRAMME).route(web::get().to(pages::programme)))
        .service(web::resource(console::urls::DUPLICATES).route(web::get().to(pages::duplicates)))
        .service(
            web::resource(console::urls::DISMISS_DUPLICATE)
                .route(web::post().to(forms::dismiss_duplicate)),
        )
        .service(
            web::resource(console::urls::MERGE_DUPLICATE)
                .route(web::post().to(forms::merge_duplicate)),
        );
}
