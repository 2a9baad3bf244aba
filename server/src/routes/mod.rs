//! Every route of the API, listed in one place.

use actix_web::{web, HttpRequest, HttpResponse};
use sync_core::ProblemCode;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

mod auth;
mod centres;
mod ops;
mod records;
mod reports;
mod sync;
mod users;

/// Registers every route; any other path is a problem+json 404, and a known
/// path with another method a 405.
pub fn configure(cfg: &mut web::ServiceConfig, metrics_here: bool) {
    cfg.service(route("/healthz", web::get().to(ops::healthz)))
        .service(route("/readyz", web::get().to(ops::readyz)));
    if metrics_here {
        cfg.service(route("/metrics", web::get().to(ops::metrics)));
    }
    cfg.service(route("/v1/auth/login", web::post().to(auth::login)))
        .service(route("/v1/auth/refresh", web::post().to(auth::refresh)))
        .service(route("/v1/auth/logout", web::post().to(auth::logout)))
        .service(route("/v1/users", web::get().to(users::list)))
        .service(route("/v1/admin/users", web::post().to(users::create)))
        .service(route("/v1/admin/users/{id}", web::patch().to(users::patch)))
        .service(route(
            "/v1/admin/users/{id}/devices/{device_id}",
            web::delete().to(users::unbind),
        ))
        .service(route("/v1/centres", web::get().to(centres::list)))
        .service(route("/v1/admin/centres", web::post().to(centres::create)))
        .service(route(
            "/v1/admin/centres/{code}",
            web::patch().to(centres::patch),
        ))
        .service(route("/v1/sync/push", web::post().to(sync::push)))
        .service(route("/v1/sync/pull", web::get().to(sync::pull)))
        .service(route(
            "/v1/records/{collection}",
            web::get().to(records::list),
        ))
        .service(route(
            "/v1/records/{collection}/{id}",
            web::get().to(records::get),
        ))
        .service(route(
            "/v1/reports/summary",
            web::get().to(reports::summary),
        ))
        .default_service(web::to(not_found));
}

/// Only `/metrics`, for the separate listener of `metrics_bind`.
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(route("/metrics", web::get().to(ops::metrics)))
        .default_service(web::to(not_found));
}

fn route(path: &str, handler: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(handler)
        .default_service(web::to(method_not_allowed))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "there is no route {}",
        req.path()
    )))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        req.method(),
        req.path()
    )))
}

/// An id in a path: only the canonical form names anything, so any other
/// spelling is a 404 like any record that does not exist.
pub(crate) fn canonical_path_id(text: &str, what: &str) -> Result<Uuid, ApiError> {
    sync_core::hlc::parse_canonical_uuid(text)
        .ok_or_else(|| ApiError::not_found(format!("there is no {what} {text:?}")))
}

/// A page size: `default` when absent, otherwise 1..=1000.
pub(crate) fn page_limit(limit: Option<usize>, default: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(
            ProblemCode::InvalidLimit,
            "limit must be between 1 and 1000",
        ))
    }
}

/// Unix seconds as an RFC 3339 UTC timestamp.
pub(crate) fn timestamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Refuses a centre filter naming a centre that does not exist: 404
/// `unknown_centre` for an admin (a typo must not read as an empty centre),
/// 403 for anyone else (who may only name their own).
pub(crate) async fn known_centre(
    state: &web::Data<AppState>,
    caller: &Caller,
    code: &str,
) -> Result<(), ApiError> {
    let store = state.store.clone();
    let lookup = code.to_owned();
    let found = blocking(move || Ok(store.list_centres(Some(&lookup))?)).await?;
    if !found.is_empty() {
        return Ok(());
    }
    if caller.principal.role == sync_core::Role::Admin {
        Err(ApiError::NotFound {
            code: ProblemCode::UnknownCentre,
            detail: format!("there is no centre {code:?}"),
        })
    } else {
        Err(ApiError::forbidden(format!(
            "you may not read centre {code:?}"
        )))
    }
}

/// Runs blocking store work on actix's thread pool.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await?
}

/// Which records a caller may read.
pub(crate) fn read_scope(
    principal: &sync_core::Principal,
) -> Result<crate::store::ReadScope, ApiError> {
    use crate::store::ReadScope;
    use sync_core::Role;
    let centre = || {
        principal
            .centre_id
            .clone()
            .ok_or_else(|| ApiError::forbidden("this account belongs to no centre"))
    };
    Ok(match principal.role {
        Role::Admin => ReadScope::All,
        Role::Manager => ReadScope::Centre(centre()?),
        Role::Volunteer => ReadScope::Volunteer {
            centre: centre()?,
            user_id: principal.user_id,
        },
    })
}
