//! Every route of the API, listed in one place.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use sync_core::ProblemCode;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) mod auth;
pub(crate) mod beneficiaries;
pub(crate) mod centres;
pub(crate) mod console;
pub(crate) mod devices;
pub(crate) mod ops;
pub(crate) mod records;
pub(crate) mod reports;
pub(crate) mod sync;
pub(crate) mod users;

/// Lists every route once: registers them, and lists them as
/// `(method, path)` in [`ROUTES`] for the OpenAPI document's drift test.
macro_rules! api {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Every route of the API (but `/metrics`, which moves to its own
        /// listener with `metrics_bind`), as `(method, path)`.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn register(cfg: &mut web::ServiceConfig) {
            $(cfg.service(route($path, stringify!($method), web::$method().to($handler)));)*
        }
    };
}

api! {
    get "/healthz" => ops::healthz;
    get "/readyz" => ops::readyz;
    get "/openapi.json" => crate::openapi::serve;
    post "/v1/auth/login" => auth::login;
    post "/v1/auth/refresh" => auth::refresh;
    post "/v1/auth/logout" => auth::logout;
    get "/v1/users" => users::list;
    post "/v1/admin/users" => users::create;
    patch "/v1/admin/users/{id}" => users::patch;
    delete "/v1/admin/users/{id}/devices/{device_id}" => users::unbind;
    get "/v1/centres" => centres::list;
    post "/v1/admin/centres" => centres::create;
    patch "/v1/admin/centres/{code}" => centres::patch;
    post "/v1/sync/push" => sync::push;
    get "/v1/sync/pull" => sync::pull;
    get "/v1/records/{collection}" => records::list;
    get "/v1/records/{collection}/{id}" => records::get;
    post "/v1/records/{collection}/{id}/resolve" => records::resolve;
    get "/v1/devices" => devices::list;
    get "/v1/reports/summary" => reports::summary;
    get "/v1/reports/programme" => reports::programme;
    get "/v1/beneficiaries/duplicates" => beneficiaries::duplicates;
    post "/v1/beneficiaries/duplicates/dismiss" => beneficiaries::dismiss;
    post "/v1/beneficiaries/{id}/erase" => beneficiaries::erase;
    get "/v1/beneficiaries/{id}/export" => beneficiaries::export;
}

/// Registers every route; any other path is a problem+json 404, and a known
/// path with another method a 405 that names the allowed one.
pub fn configure(cfg: &mut web::ServiceConfig, metrics_here: bool) {
    register(cfg);
    console::configure(cfg);
    if metrics_here {
        cfg.service(route("/metrics", "get", web::get().to(ops::metrics)));
    }
    cfg.default_service(web::to(not_found));
}

/// Only `/metrics`, for the separate listener of `metrics_bind`.
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.service(route("/metrics", "get", web::get().to(ops::metrics)))
        .default_service(web::to(not_found));
}

fn route(path: &str, method: &'static str, handler: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(handler)
        .default_service(web::to(move |req: HttpRequest| {
            method_not_allowed(req, method)
        }))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "there is no route {}",
        req.path()
    )))
}

async fn method_not_allowed(
    req: HttpRequest,
    allowed: &'static str,
) -> Result<HttpResponse, ApiError> {
    let allowed = allowed.to_ascii_uppercase();
    let mut response = ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}; use {allowed}",
        req.method(),
        req.path()
    ))
    .error_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allowed) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    Ok(response)
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
    caller: &sync_core::Principal,
    code: &str,
) -> Result<(), ApiError> {
    let store = state.store.clone();
    let lookup = code.to_owned();
    let found = blocking(move || Ok(store.list_centres(Some(&lookup))?)).await?;
    if !found.is_empty() {
        return Ok(());
    }
    if caller.role == sync_core::Role::Admin {
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
