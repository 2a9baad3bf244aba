//! Centres (contract section 8): `GET /v1/centres`, and for admins
//! `POST /v1/admin/centres` and `PATCH /v1/admin/centres/{code}`.

use actix_web::{web, HttpRequest, HttpResponse};
use sync_core::wire::Problem;
use sync_core::wire::{CentreDto, CentresPage, CreateCentreRequest, PatchCentreRequest};
use sync_core::{ProblemCode, Role};

use super::blocking;
use crate::accounts::{self, AccountError};
use crate::auth::Caller;
use crate::body::read_json;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Centre, CentrePatch};

const CENTRE_BODY_LIMIT: usize = 16 * 1024;

fn dto(c: Centre) -> CentreDto {
    CentreDto {
        code: c.code,
        name: c.name,
        province: c.province,
        district: c.district,
    }
}

fn check_names<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), ApiError> {
    for (field, text) in fields {
        accounts::check_text(field, text)
            .map_err(|e| ApiError::bad_request(ProblemCode::InvalidText, e.to_string()))?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/centres", tag = "centres",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every centre (admin) or the caller's own", body = CentresPage),
        (status = 403, description = "`forbidden`", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let only = match caller.principal.role {
        Role::Admin => None,
        _ => Some(
            caller
                .principal
                .centre_id
                .clone()
                .ok_or_else(|| ApiError::forbidden("this account belongs to no centre"))?,
        ),
    };
    let store = state.store.clone();
    let centres = blocking(move || Ok(store.list_centres(only.as_deref())?)).await?;
    Ok(HttpResponse::Ok().json(CentresPage {
        centres: centres.into_iter().map(dto).collect(),
    }))
}

#[utoipa::path(post, path = "/v1/admin/centres", tag = "centres", request_body = CreateCentreRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new centre", body = CentreDto),
        (status = 403, description = "`forbidden`: not an admin", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "`centre_taken`", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn create(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_role(&[Role::Admin])?;
    let body: CreateCentreRequest = read_json(&req, payload, CENTRE_BODY_LIMIT).await?;
    accounts::check_centre_code(&body.code)
        .map_err(|e: AccountError| ApiError::bad_request(e.code(), e.to_string()))?;
    check_names([
        ("name", body.name.as_str()),
        ("province", body.province.as_str()),
        ("district", body.district.as_str()),
    ])?;
    let centre = Centre {
        code: body.code,
        name: body.name,
        province: body.province,
        district: body.district,
    };
    let store = state.store.clone();
    let stored = centre.clone();
    let created = blocking(move || Ok(store.create_centre(&stored)?)).await?;
    if !created {
        return Err(ApiError::conflict(
            ProblemCode::CentreTaken,
            format!("centre {:?} exists already", centre.code),
        ));
    }
    tracing::info!(target: "audit", admin = %caller.principal.user_id, centre = %centre.code, "centre created");
    Ok(HttpResponse::Created().json(dto(centre)))
}

#[utoipa::path(patch, path = "/v1/admin/centres/{code}", tag = "centres", request_body = PatchCentreRequest,
    params(("code" = String, Path, description = "The centre's code")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The centre as changed", body = CentreDto),
        (status = 403, description = "`forbidden`: not an admin", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`not_found`", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn patch(
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_role(&[Role::Admin])?;
    let body: PatchCentreRequest = read_json(&req, payload, CENTRE_BODY_LIMIT).await?;
    let fields = [
        ("name", &body.name),
        ("province", &body.province),
        ("district", &body.district),
    ];
    check_names(
        fields
            .iter()
            .filter_map(|(f, v)| v.as_deref().map(|v| (*f, v))),
    )?;
    let code = path.into_inner();
    let patch = CentrePatch {
        name: body.name,
        province: body.province,
        district: body.district,
    };
    let store = state.store.clone();
    let lookup = code.clone();
    let updated = blocking(move || Ok(store.update_centre(&lookup, &patch)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no centre {code:?}")))?;
    tracing::info!(target: "audit", admin = %caller.principal.user_id, centre = %updated.code, "centre changed");
    Ok(HttpResponse::Ok().json(dto(updated)))
}
