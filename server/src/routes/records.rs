//! `GET /v1/records/{collection}` (JSON pages or CSV) and
//! `GET /v1/records/{collection}/{id}`: merged records for managers, admins,
//! and volunteers (their own).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sync_core::validate::is_date;
use sync_core::wire::RecordDto;
use sync_core::{Collection, Role};
use uuid::Uuid;

use super::{blocking, read_scope};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{ReadScope, RecordQuery};
use crate::sync::cursor;

#[derive(Debug, Deserialize)]
pub struct ListParams {
    centre_id: Option<String>,
    volunteer_id: Option<String>,
    village_code: Option<String>,
    from: Option<String>,
    to: Option<String>,
    conflicts: Option<String>,
    deleted: Option<String>,
    limit: Option<usize>,
    page_token: Option<String>,
    format: Option<String>,
}

pub(crate) fn parse_collection(name: &str) -> Result<Collection, ApiError> {
    Collection::parse(name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "there is no collection {name:?}; use sessions or beneficiaries"
        ))
    })
}

/// The scope a caller reads with, narrowed by a `centre_id` filter. A manager
/// or volunteer naming another centre is refused.
pub(crate) fn scope_for(caller: &Caller, centre_id: Option<&str>) -> Result<ReadScope, ApiError> {
    let principal = &caller.principal;
    match (principal.role, centre_id) {
        (Role::Admin, Some(c)) => Ok(ReadScope::Centre(c.to_owned())),
        (_, Some(c)) if principal.centre_id.as_deref() != Some(c) => {
            tracing::warn!(target: "audit", user = %principal.user_id, centre = c, "refused: read of another centre");
            Err(ApiError::forbidden(format!(
                "you may not read centre {c:?}"
            )))
        }
        _ => read_scope(principal),
    }
}

pub(crate) fn check_date(name: &str, value: &Option<String>) -> Result<(), ApiError> {
    match value {
        Some(v) if !is_date(v) => Err(ApiError::bad_request(
            "invalid_date",
            format!("{name} must be a date written YYYY-MM-DD"),
        )),
        _ => Ok(()),
    }
}

pub async fn list(
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let collection = parse_collection(&path)?;
    let params = params.into_inner();
    let scope = scope_for(&caller, params.centre_id.as_deref())?;
    check_date("from", &params.from)?;
    check_date("to", &params.to)?;
    let limit = params.limit.unwrap_or(state.settings.records_default_limit);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be between 1 and 1000",
        ));
    }
    let after_key = match params.page_token.as_deref() {
        None | Some("") => 0,
        Some(t) => cursor::decode(t).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_page_token",
                "the page_token is not one this server handed out",
            )
        })?,
    };
    let conflicts_only = match params.conflicts.as_deref() {
        None => false,
        Some("only") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_filter",
                format!("conflicts must be `only`, not {other:?}"),
            ))
        }
    };
    let exclude_deleted = match params.deleted.as_deref() {
        None | Some("include") => false,
        Some("exclude") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_filter",
                format!("deleted must be `exclude` or `include`, not {other:?}"),
            ))
        }
    };
    let wants_csv = params.format.as_deref() == Some("csv")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"));
    let mut query = RecordQuery {
        collection,
        scope,
        volunteer_id: params.volunteer_id,
        village_code: params.village_code,
        from: params.from,
        to: params.to,
        conflicts_only,
        exclude_deleted,
        after_key,
        limit: if wants_csv { 1000 } else { limit },
    };
    let store = state.store.clone();
    if wants_csv {
        // An export is every matching record, read a thousand at a time.
        let csv = blocking(move || {
            let mut records = Vec::new();
            loop {
                let page = store.list_records(&query)?;
                records.extend(page.rendered);
                match page.next_after_key {
                    Some(k) => query.after_key = k,
                    None => break,
                }
            }
            to_csv(collection, &records)
        })
        .await?;
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.csv\"", collection.name()),
            ))
            .body(csv));
    }
    let page = blocking(move || Ok(store.list_records(&query)?)).await?;
    let mut body = String::from("{\"records\":[");
    body.push_str(&page.rendered.join(","));
    body.push_str("],\"next_page_token\":");
    match page.next_after_key {
        Some(k) => {
            body.push('"');
            body.push_str(&cursor::encode(k));
            body.push('"');
        }
        None => body.push_str("null"),
    }
    body.push('}');
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body))
}

pub async fn get(
    caller: Caller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id) = path.into_inner();
    let collection = parse_collection(&collection)?;
    let id = Uuid::try_parse(&id)
        .map_err(|_| ApiError::NotFound(format!("{id:?} is not a record id")))?;
    let store = state.store.clone();
    let record = blocking(move || Ok(store.get_record(collection, id)?))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no {} record {id}", collection.name())))?;
    if !caller.principal.may_read(
        collection,
        record.centre_id.as_deref(),
        record.volunteer_id.as_deref(),
    ) {
        tracing::warn!(target: "audit", user = %caller.principal.user_id, record = %id, "refused: record outside the caller's scope");
        return Err(ApiError::forbidden("you may not read this record"));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(record.rendered))
}

/// A CSV file with a header row, UTF-8 with a byte-order mark so spreadsheet
/// programs open Thai text correctly. Set fields are `;`-separated lists.
fn to_csv(collection: Collection, rendered: &[String]) -> Result<String, ApiError> {
    let fields: Vec<&str> = collection
        .fields()
        .iter()
        .filter(|s| s.field != sync_core::Field::Deleted)
        .map(|s| s.field.name())
        .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| ApiError::Internal(e.into());
    let mut header_row = vec!["id"];
    header_row.extend(fields.iter().copied());
    header_row.extend(["deleted", "conflicts", "version", "updated_at"]);
    out.write_record(&header_row).map_err(internal)?;
    for text in rendered {
        let record: RecordDto = serde_json::from_str(text).map_err(|e| {
            ApiError::Internal(anyhow::anyhow!("stored record is not a record: {e}"))
        })?;
        let mut row = vec![record.id.to_string()];
        for name in &fields {
            row.push(match record.fields.get(*name) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(";"),
                Some(other) => other.to_string(),
            });
        }
        row.push(record.deleted.to_string());
        row.push(
            record
                .conflicts
                .iter()
                .map(|c| c.key.as_str())
                .collect::<Vec<_>>()
                .join(";"),
        );
        row.push(record.version.map(|v| v.to_string()).unwrap_or_default());
        row.push(record.updated_at.unwrap_or_default());
        out.write_record(&row).map_err(internal)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("csv: {e}")))?;
    let mut text = String::from("\u{feff}");
    text.push_str(&String::from_utf8(bytes).map_err(|e| ApiError::Internal(e.into()))?);
    Ok(text)
}
