//! `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated
//! from the handlers' annotations and the wire types' schemas (sync-core's
//! `openapi` feature), so it cannot drift from the code. Tests check it
//! against the route table ([`crate::ROUTES`]) and the published JSON
//! Schemas in `schemas/`.
//!
//! The error answers every operation shares (a body or query that cannot be
//! read, a missing token, the store unavailable) are added by [`CommonErrors`]
//! from what each operation takes, rather than repeated on every handler.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::routes::{auth, beneficiaries, centres, devices, ops, records, reports, sync, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Asa Sync",
        version = "1.1",
        description = "The offline-first sync API for Thailand's digital volunteers. The reference, with the rules behind every field and code, is docs/PROTOCOL.md in the repository."
    ),
    paths(
        ops::healthz, ops::readyz, ops::metrics, serve,
        auth::login, auth::refresh, auth::logout,
        users::list, users::create, users::patch, users::unbind,
        centres::list, centres::create, centres::patch,
        sync::push, sync::pull,
        records::list, records::get, records::resolve,
        devices::list,
        reports::summary, reports::programme,
        beneficiaries::duplicates, beneficiaries::dismiss, beneficiaries::erase,
        beneficiaries::export,
    ),
    components(schemas(sync_core::wire::Problem)),
    modifiers(&BearerAuth, &CommonErrors),
    tags(
        (name = "auth", description = "Logging in, refreshing and ending logins"),
        (name = "accounts", description = "Users and their devices (section 8)"),
        (name = "centres", description = "Community digital centres (section 8)"),
        (name = "sync", description = "Pushing and pulling changes"),
        (name = "records", description = "Merged records and exports"),
        (name = "reports", description = "Totals for supervision"),
        (name = "beneficiaries", description = "Beneficiaries as people: duplicates (section 10)"),
        (name = "ops", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The access token from /v1/auth/login or /v1/auth/refresh",
                    ))
                    .build(),
            ),
        );
    }
}

struct CommonErrors;

fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn add(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| problem(description).into());
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let params = operation.parameters.clone().unwrap_or_default();
                let takes = |place: ParameterIn| {
                    params.iter().any(|p| match p {
                        RefOr::T(p) => p.parameter_in == place,
                        RefOr::Ref(_) => false,
                    })
                };
                if operation.request_body.is_some() {
                    add(operation, "400", "`invalid_json`, `invalid_body`, `invalid_request`, `invalid_id`, or a rule of the body broken (see docs/PROTOCOL.md)");
                    add(operation, "413", "`payload_too_large`");
                    add(operation, "415", "`unsupported_media_type`");
                }
                if takes(ParameterIn::Query) {
                    add(
                        operation,
                        "400",
                        "`invalid_query` or a rule of a parameter broken (see docs/PROTOCOL.md)",
                    );
                }
                if takes(ParameterIn::Path) {
                    add(operation, "404", "`not_found`");
                }
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add(
                        operation,
                        "401",
                        "`unauthorized` (missing, expired or forged token) or `token_revoked`",
                    );
                }
                add(operation, "500", "`internal`");
                add(operation, "503", "`store_unavailable`, with Retry-After");
            }
        }
    }
}

/// The document, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default())
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)))]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}
