//! `GET /v1/records/{collection}` (JSON pages, CSV or XLSX),
//! `GET /v1/records/{collection}/{id}`: merged records for managers, admins,
//! and volunteers (their own); and `POST .../{id}/resolve`, a manager's
//! resolution of a conflict.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sync_core::hlc::parse_canonical_uuid;
use sync_core::validate::is_date;
use sync_core::wire::{Problem, RecordDto, RecordsPage, ResolveRequest};
use sync_core::{Collection, ProblemCode, Role, Rules};
use uuid::Uuid;

use super::{blocking, canonical_path_id, known_centre, page_limit, read_scope};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::records::{consent_history, export, render};
use crate::state::AppState;
use crate::store::{ReadScope, RecordQuery, StoredRecord};
use crate::sync::cursor;
use crate::sync::resolve::{self, Resolution, ResolveError};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this centre (yours, unless you are an admin).
    centre_id: Option<String>,
    /// Only this volunteer's sessions.
    #[param(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    volunteer_id: Option<String>,
    village_code: Option<String>,
    /// Sessions started on or after this local date.
    #[param(format = Date)]
    from: Option<String>,
    /// Sessions started on or before this local date (not before `from`).
    #[param(format = Date)]
    to: Option<String>,
    #[param(pattern = "^only$")]
    conflicts: Option<String>,
    /// JSON and CSV include deleted records unless `exclude`; XLSX leaves them out unless `include`.
    #[param(pattern = "^(include|exclude)$")]
    deleted: Option<String>,
    /// Records per JSON page (exports hold every match).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_page_token` of the previous page.
    #[param(pattern = "^(A[Q-X][A-Za-z0-9_-]{10})?$")]
    page_token: Option<String>,
    #[param(pattern = "^(json|csv|xlsx)$")]
    format: Option<String>,
}

pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

/// The format asked for by `format=`, or else by the Accept header.
fn format(req: &HttpRequest, param: Option<&str>) -> Result<Format, ApiError> {
    match param {
        Some("json") => return Ok(Format::Json),
        Some("csv") => return Ok(Format::Csv),
        Some("xlsx") => return Ok(Format::Xlsx),
        Some(other) => {
            return Err(ApiError::bad_request(
                ProblemCode::InvalidQuery,
                format!("format must be json, csv or xlsx, not {other:?}"),
            ))
        }
        None => {}
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(if accept.contains(XLSX) {
        Format::Xlsx
    } else if accept.contains("text/csv") {
        Format::Csv
    } else {
        Format::Json
    })
}

pub(crate) fn parse_collection(name: &str) -> Result<Collection, ApiError> {
    Collection::parse(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "there is no collection {name:?}; use sessions or beneficiaries"
        ))
    })
}

/// The scope a caller reads with, narrowed by a `centre_id` filter. A manager
/// or volunteer naming another centre is refused; an admin naming a centre
/// that does not exist gets 404 `unknown_centre`.
pub(crate) async fn scope_for(
    principal: &sync_core::Principal,
    state: &web::Data<AppState>,
    centre_id: Option<&str>,
) -> Result<ReadScope, ApiError> {
    match (principal.role, centre_id) {
        (Role::Admin, Some(c)) => {
            known_centre(state, principal, c).await?;
            Ok(ReadScope::Centre(c.to_owned()))
        }
        (_, Some(c)) if principal.centre_id.as_deref() != Some(c) => {
            tracing::warn!(target: "audit", user = %principal.user_id, centre = c, "refused: read of another centre");
            Err(ApiError::forbidden(format!(
                "you may not read centre {c:?}"
            )))
        }
        _ => read_scope(principal),
    }
}

/// Checks `from` and `to` (dates, `from` not after `to`).
pub(crate) fn check_dates(from: &Option<String>, to: &Option<String>) -> Result<(), ApiError> {
    for (name, value) in [("from", from), ("to", to)] {
        if let Some(v) = value {
            if !is_date(v) {
                return Err(ApiError::bad_request(
                    ProblemCode::InvalidDate,
                    format!("{name} must be a date written YYYY-MM-DD"),
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (from, to) {
        // Both are YYYY-MM-DD, so text order is date order.
        if from > to {
            return Err(ApiError::bad_request(
                ProblemCode::InvalidRange,
                format!("from ({from}) is after to ({to})"),
            ));
        }
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/records/{collection}", tag = "records",
    params(("collection" = String, Path, description = "`sessions` or `beneficiaries`"), ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of merged records (JSON), or every matching record as CSV or XLSX",
            content(
                (RecordsPage = "application/json"),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 400, description = "`invalid_date`, or `invalid_range`: `from` after `to`", content_type = "application/problem+json", body = Problem),
        (status = 403, description = "`forbidden`: another centre", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`not_found` (collection), `unknown_centre` (admin)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn list(
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let collection = parse_collection(&path)?;
    let params = params.into_inner();
    check_dates(&params.from, &params.to)?;
    if let Some(v) = &params.volunteer_id {
        if parse_canonical_uuid(v).is_none() {
            return Err(ApiError::bad_request(
                ProblemCode::InvalidId,
                format!("volunteer_id {v:?} is not a lowercase hyphenated uuid"),
            ));
        }
    }
    let limit = page_limit(params.limit, state.settings.records_default_limit)?;
    let after_key = match params.page_token.as_deref() {
        None | Some("") => 0,
        Some(t) => cursor::decode_position(t).ok_or_else(|| {
            ApiError::bad_request(
                ProblemCode::InvalidPageToken,
                "the page_token is not one this server handed out",
            )
        })?,
    };
    let conflicts_only = match params.conflicts.as_deref() {
        None => false,
        Some("only") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                ProblemCode::InvalidFilter,
                format!("conflicts must be `only`, not {other:?}"),
            ))
        }
    };
    let format = format(&req, params.format.as_deref())?;
    let exclude_deleted = match params.deleted.as_deref() {
        // XLSX is for reading and counting: deleted records stay out unless
        // asked for. JSON and CSV list them, marked, as in version 1.
        None => format == Format::Xlsx,
        Some("include") => false,
        Some("exclude") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                ProblemCode::InvalidFilter,
                format!("deleted must be `exclude` or `include`, not {other:?}"),
            ))
        }
    };
    let scope = scope_for(&caller.principal, &state, params.centre_id.as_deref()).await?;
    let mut query = RecordQuery {
        volunteer_id: params.volunteer_id,
        village_code: params.village_code,
        from: params.from,
        to: params.to,
        conflicts_only,
        exclude_deleted,
        after_key,
        ..RecordQuery::new(
            collection,
            scope,
            if format == Format::Json { limit } else { 1000 },
        )
    };
    let store = state.store.clone();
    let reader = caller.principal.clone();
    if format != Format::Json {
        // An export is every matching record, read a thousand at a time.
        let records = blocking(move || {
            let mut records = Vec::new();
            loop {
                let page = store.list_records(&query)?;
                records.extend(seen_conflicted(
                    render(store.as_ref(), &page.records, &reader)?,
                    conflicts_only,
                ));
                match page.next_after_key {
                    Some(k) => query.after_key = k,
                    None => break,
                }
            }
            Ok(records)
        })
        .await?;
        let (body, content_type, extension) = if format == Format::Csv {
            let csv = export::to_csv(collection, &records).map_err(ApiError::internal)?;
            (csv.into_bytes(), "text/csv; charset=utf-8", "csv")
        } else {
            let xlsx = export::to_xlsx(collection, &records).map_err(ApiError::internal)?;
            (xlsx, XLSX, "xlsx")
        };
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.{extension}\"", collection.name()),
            ))
            .body(body));
    }
    let page = blocking(move || {
        let page = store.list_records(&query)?;
        Ok((
            seen_conflicted(
                render(store.as_ref(), &page.records, &reader)?,
                conflicts_only,
            ),
            page.next_after_key,
        ))
    })
    .await?;
    Ok(HttpResponse::Ok().json(RecordsPage {
        records: page.0,
        next_page_token: page.1.map(cursor::encode_position),
    }))
}

/// With `conflicts=only`, the records whose conflicts the reader sees: the
/// store selects every record with a key in conflict, but one on a masked
/// key whose heads all end alike is no conflict to a volunteer (contract
/// section 10), so it is not listed to them either. A page may then hold
/// fewer records than the limit; its `next_page_token` goes on as usual.
fn seen_conflicted(mut records: Vec<RecordDto>, conflicts_only: bool) -> Vec<RecordDto> {
    if conflicts_only {
        records.retain(|r| !r.conflicts.is_empty());
    }
    records
}

#[utoipa::path(get, path = "/v1/records/{collection}/{id}", tag = "records",
    params(("collection" = String, Path, description = "`sessions` or `beneficiaries`"), ("id" = String, Path, description = "The record's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The merged record", body = RecordDto),
        (status = 403, description = "`forbidden`", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`not_found`", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn get(
    caller: Caller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id) = path.into_inner();
    let collection = parse_collection(&collection)?;
    let id = canonical_path_id(&id, "record")?;
    let store = state.store.clone();
    let record = blocking(move || {
        let Some(row) = store.get_record(collection, id)? else {
            return Ok(None);
        };
        let may_read = caller.principal.may_read(
            collection,
            row.centre_id.as_deref(),
            row.volunteer_id.as_deref(),
        );
        if !may_read {
            tracing::warn!(target: "audit", user = %caller.principal.user_id, record = %id, "refused: record outside the caller's scope");
            return Err(ApiError::forbidden("you may not read this record"));
        }
        let mut dto = render(store.as_ref(), std::slice::from_ref(&row), &caller.principal)?.pop();
        if let Some(dto) = dto.as_mut().filter(|_| collection == Collection::Beneficiaries) {
            let history = store.record_history(collection, id)?;
            dto.consent_history = Some(consent_history(&history));
        }
        Ok(dto)
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no {} record {id}", collection.name())))?;
    Ok(HttpResponse::Ok().json(record))
}

/// Whether the caller may resolve conflicts of a record of this centre: a
/// manager of the centre, or an admin.
pub(crate) fn may_resolve(principal: &sync_core::Principal, centre: Option<&str>) -> bool {
    match principal.role {
        Role::Admin => true,
        Role::Manager => centre.is_some() && principal.centre_id.as_deref() == centre,
        Role::Volunteer => false,
    }
}

/// Resolves a conflict as `caller`; the record afterwards, rendered.
pub(crate) async fn resolve_as(
    caller: &sync_core::Principal,
    state: &web::Data<AppState>,
    collection: Collection,
    id: Uuid,
    body: ResolveRequest,
) -> Result<RecordDto, ApiError> {
    let store = state.store.clone();
    let row = blocking(move || Ok(store.get_record(collection, id)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no {} record {id}", collection.name())))?;
    if !may_resolve(caller, row.centre_id.as_deref()) {
        tracing::warn!(target: "audit", user = %caller.user_id, record = %id, "refused: resolve outside the caller's centre");
        return Err(ApiError::forbidden(
            "only a manager of the record's centre, or an admin, resolves its conflicts",
        ));
    }
    let now_ms = state.clock.now_ms();
    let author = caller.user_id;
    let reader = caller.clone();
    let store = state.store.clone();
    let outcome = blocking(move || {
        let mut outcome = None;
        store.push(&mut |tx| {
            let resolution = Resolution {
                collection,
                record_id: id,
                key: &body.key,
                value: &body.value,
                base: &body.base,
                author,
                now_ms,
                rules: Rules::at(now_ms),
            };
            match resolve::run(tx, &resolution) {
                Err(ResolveError::Store(e)) => Err(e),
                other => {
                    outcome = Some(other);
                    Ok(())
                }
            }
        })?;
        let state = match outcome {
            Some(Ok(state)) => state,
            Some(Err(ResolveError::NotFound)) | None => {
                return Err(ApiError::not_found(format!("no record {id}")))
            }
            Some(Err(e @ ResolveError::HeadsChanged { .. })) => {
                return Err(ApiError::conflict(ProblemCode::HeadsChanged, e.to_string()))
            }
            Some(Err(e @ ResolveError::NotInConflict(_))) => {
                return Err(ApiError::conflict(
                    ProblemCode::NotInConflict,
                    e.to_string(),
                ))
            }
            Some(Err(ResolveError::Invalid(e))) => return Err(ApiError::Invalid(e)),
            Some(Err(ResolveError::Store(e))) => return Err(e.into()),
        };
        let row = StoredRecord {
            collection,
            id,
            centre_id: state.centre_id().map(str::to_owned),
            volunteer_id: state
                .value(&sync_core::Key::field(sync_core::Field::VolunteerId))
                .and_then(sync_core::Value::as_str)
                .map(str::to_owned),
            // Only managers and admins resolve: they see every field.
            created_by: None,
            state,
        };
        Ok(render(store.as_ref(), std::slice::from_ref(&row), &reader)?.pop())
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no record {id}")))?;
    tracing::info!(target: "audit", user = %author, record = %id, "conflict resolved");
    Ok(outcome)
}

#[utoipa::path(post, path = "/v1/records/{collection}/{id}/resolve", tag = "records", request_body = ResolveRequest,
    params(("collection" = String, Path, description = "`sessions` or `beneficiaries`"), ("id" = String, Path, description = "The record's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The record after the resolution; the resolving change is in the log", body = RecordDto),
        (status = 403, description = "`forbidden`: not a manager of the record's centre or an admin", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`not_found`", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "`heads_changed`: another edit arrived since; `not_in_conflict`", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn resolve(
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id) = path.into_inner();
    let collection = parse_collection(&collection)?;
    let id = canonical_path_id(&id, "record")?;
    let body: ResolveRequest = crate::body::read_json(&req, payload, 256 * 1024).await?;
    let record = resolve_as(&caller.principal, &state, collection, id, body).await?;
    Ok(HttpResponse::Ok().json(record))
}
