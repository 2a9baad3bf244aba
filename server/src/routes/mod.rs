//! Every route of the API, listed in one place.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;

mod admin;
mod auth;
mod ops;
mod records;
mod reports;
mod sync;

/// Registers every route; any other path is a problem+json 404, and a known
/// path with another method a 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(route("/healthz", web::get().to(ops::healthz)))
        .service(route("/readyz", web::get().to(ops::readyz)))
        .service(route("/metrics", web::get().to(ops::metrics)))
        .service(route("/v1/auth/login", web::post().to(auth::login)))
        .service(route("/v1/auth/refresh", web::post().to(auth::refresh)))
        .service(route("/v1/admin/users", web::post().to(admin::create_user)))
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

fn route(path: &str, handler: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(handler)
        .default_service(web::to(method_not_allowed))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
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

/// Runs blocking store work on actix's thread pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
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
