//! The console's pages (GET): each reads the store within the signed-in
//! user's scope, fills its view model and renders it. The builders of the
//! pages that carry forms are also used by [`super::forms`] to show a page
//! again with a form's error.

use std::collections::{HashMap, HashSet};

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use sync_core::schema::{HELP_TYPES, OUTCOMES};
use sync_core::validate::is_date;
use sync_core::wire::{ChangeDto, RecordDto};
use sync_core::{Collection, Hlc, Principal};
use uuid::Uuid;

use super::{context, html, scope, secure, see_other, ConsoleError, ConsoleUser, Fields};
use crate::console::{
    self, urls, BeneficiaryDetail, ConflictKey, ConflictRecord, ConflictValue, ConflictsPage,
    CreateVolunteerForm, DeletedFilter, DevicesPage, DuplicatesPage, HelpTypeStat, HistoryEntry,
    KeyWrite, LinkedBeneficiary, ProgrammePage, SessionDetail, SessionFilter, SessionRow,
    SessionsPage, Totals, VillageStat, VolunteerRow, VolunteerStat, VolunteersPage, WeekStat,
};
use crate::error::ApiError;
use crate::records::{export, render};
use crate::routes::records::check_dates;
use crate::routes::reports::{summary_query, SummaryParams};
use crate::routes::{blocking, devices::devices_of};
use crate::state::AppState;
use crate::store::{ReadScope, RecordQuery, Store, StoredRecord, UserQuery};

/// Sessions per page of the list.
pub const PAGE_SIZE: usize = 50;
/// The most volunteers a name filter may match (more: `too_broad`).
const MAX_NAME_MATCHES: usize = 500;
/// The most records the conflicts page lists per collection.
const MAX_CONFLICT_RECORDS: usize = 200;
/// The most users the volunteers page lists.
const MAX_USERS: usize = 1000;

/// `/`: the sessions list (or the sign-in page, by the extractor).
pub async fn home(_who: ConsoleUser) -> HttpResponse {
    see_other(urls::SESSIONS)
}

/// The stylesheet: cached for a year when asked by its fingerprint.
pub async fn stylesheet(req: HttpRequest) -> HttpResponse {
    let version = console::css_version();
    let etag = format!("\"{version}\"");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    let cache = if Fields::of_query(&req).get("v") == version {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache));
    if matches {
        return secure(response.finish());
    }
    secure(
        response
            .content_type("text/css; charset=utf-8")
            .body(console::CSS),
    )
}

/// The sessions filter of a query string, and the first problem with it.
fn read_filter(q: &Fields) -> (SessionFilter, Option<String>) {
    let filter = SessionFilter {
        volunteer: q.get("volunteer").trim().to_owned(),
        village: q.get("village").trim().to_owned(),
        from: q.get("from").trim().to_owned(),
        to: q.get("to").trim().to_owned(),
        help_type: q.get("help_type").to_owned(),
        outcome: q.get("outcome").to_owned(),
        conflicts_only: q.get("conflicts") == "1",
        deleted: DeletedFilter::parse(q.get("deleted")).unwrap_or_default(),
    };
    let given = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let bad_choice = |value: &str, allowed: &[&str]| !value.is_empty() && !allowed.contains(&value);
    let village_ok = filter.village.is_empty()
        || (filter.village.len() == 8 && filter.village.bytes().all(|b| b.is_ascii_digit()));
    let error = if let Err(e) = check_dates(&given(&filter.from), &given(&filter.to)) {
        Some(e.problem().code)
    } else if bad_choice(&filter.help_type, HELP_TYPES)
        || bad_choice(&filter.outcome, OUTCOMES)
        || (!q.get("deleted").is_empty() && DeletedFilter::parse(q.get("deleted")).is_none())
        || !village_ok
    {
        Some("invalid_value".to_owned())
    } else {
        None
    };
    (filter, error)
}

/// The filter as a query string (without `page`), empty fields left out.
fn filter_query(f: &SessionFilter) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("volunteer", f.volunteer.as_str()),
        ("village", f.village.as_str()),
        ("from", f.from.as_str()),
        ("to", f.to.as_str()),
        ("help_type", f.help_type.as_str()),
        ("outcome", f.outcome.as_str()),
    ] {
        if !value.is_empty() {
            out.append_pair(name, value);
        }
    }
    if f.conflicts_only {
        out.append_pair("conflicts", "1");
    }
    if f.deleted != DeletedFilter::Exclude {
        out.append_pair("deleted", f.deleted.code());
    }
    out.finish()
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// The store query of a (valid) filter, in the user's scope; `Err` with
/// `too_broad` when a volunteer name matches too many people.
fn session_query(
    store: &dyn Store,
    scope: ReadScope,
    f: &SessionFilter,
    limit: usize,
) -> Result<Result<RecordQuery, String>, ApiError> {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let volunteer_ids = if f.volunteer.is_empty() {
        None
    } else {
        let centre = match &scope {
            ReadScope::All => None,
            ReadScope::Centre(c) | ReadScope::Volunteer { centre: c, .. } => Some(c.as_str()),
        };
        let ids = store.users_matching(centre, &f.volunteer)?;
        if ids.len() > MAX_NAME_MATCHES {
            return Ok(Err("too_broad".to_owned()));
        }
        Some(ids)
    };
    Ok(Ok(RecordQuery {
        village_code: opt(&f.village),
        from: opt(&f.from),
        to: opt(&f.to),
        help_type: opt(&f.help_type),
        outcome: opt(&f.outcome),
        conflicts_only: f.conflicts_only,
        exclude_deleted: f.deleted == DeletedFilter::Exclude,
        only_deleted: f.deleted == DeletedFilter::Only,
        volunteer_ids,
        newest_first: true,
        ..RecordQuery::new(Collection::Sessions, scope, limit)
    }))
}

fn text(dto: &RecordDto, name: &str) -> Option<String> {
    dto.fields
        .get(name)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

fn int(dto: &RecordDto, name: &str) -> Option<i64> {
    dto.fields.get(name).and_then(serde_json::Value::as_i64)
}

fn volunteer_name(dto: &RecordDto) -> String {
    dto.author_name
        .clone()
        .or_else(|| text(dto, "volunteer_id").map(|id| console::short_id(&id)))
        .unwrap_or_default()
}

fn session_row(dto: &RecordDto) -> SessionRow {
    SessionRow {
        id: dto.id.to_string(),
        started_at: text(dto, "started_at").unwrap_or_default(),
        volunteer_name: volunteer_name(dto),
        village_code: text(dto, "village_code").unwrap_or_default(),
        help_type: text(dto, "help_type").unwrap_or_default(),
        duration_min: int(dto, "duration_min"),
        people_helped: int(dto, "people_helped"),
        outcome: text(dto, "outcome"),
        conflicted: !dto.conflicts.is_empty(),
        deleted: dto.deleted,
    }
}

/// `/sessions`: the filtered, paged list, newest first.
pub async fn sessions(
    who: ConsoleUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let lang = who.lang;
    let q = Fields::of_query(&req);
    let (filter, mut filter_error) = read_filter(&q);
    let page_no: usize = q.get("page").parse().ok().filter(|&n| n >= 1).unwrap_or(1);
    let scope = scope(&who.principal)?;
    let store = state.store.clone();
    let reader = who.principal.clone();
    let f = filter.clone();
    let checked = filter_error.is_none();
    let found = blocking(move || {
        if !checked {
            return Ok(Err(None));
        }
        let mut query = match session_query(store.as_ref(), scope, &f, PAGE_SIZE)? {
            Ok(query) => query,
            Err(code) => return Ok(Err(Some(code))),
        };
        let total = store.count_records(&query)?;
        query.offset = (page_no - 1).saturating_mul(PAGE_SIZE);
        let page = store.list_records(&query)?;
        Ok(Ok((total, render(store.as_ref(), &page.records, &reader)?)))
    })
    .await
    .map_err(|e| ConsoleError::from(e).in_lang(lang))?;
    let (total, rows) = match found {
        Ok(found) => found,
        Err(code) => {
            filter_error = filter_error.or(code);
            (0, Vec::new())
        }
    };
    let query = filter_query(&filter);
    let page_href = |n: usize| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("{}?{query}{sep}page={n}", urls::SESSIONS)
    };
    let offset = (page_no - 1).saturating_mul(PAGE_SIZE) as u64;
    let page = SessionsPage {
        filter,
        filter_error,
        first: if rows.is_empty() { 0 } else { offset + 1 },
        total,
        prev_href: (page_no > 1 && total > 0).then(|| page_href(page_no - 1)),
        next_href: (offset + (rows.len() as u64) < total).then(|| page_href(page_no + 1)),
        csv_href: with_query("/export/sessions.csv", &query),
        xlsx_href: with_query("/export/sessions.xlsx", &query),
        rows: rows.iter().map(session_row).collect(),
    };
    let ctx = context(&who, &state, &req).await?;
    Ok(html(StatusCode::OK, console::sessions(&ctx, &page)))
}

/// `/export/sessions.csv` and `/export/sessions.xlsx`: every session the
/// filter matches (deleted ones as the filter says).
pub async fn export(
    who: ConsoleUser,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let lang = who.lang;
    let xlsx = match path.as_str() {
        "sessions.csv" => false,
        "sessions.xlsx" => true,
        _ => return Err(not_found(lang)),
    };
    let (filter, error) = read_filter(&Fields::of_query(&req));
    if let Some(code) = error {
        return Err(ConsoleError::Page {
            status: 400,
            code,
            lang,
        });
    }
    let scope = scope(&who.principal)?;
    let store = state.store.clone();
    let reader = who.principal.clone();
    let records = blocking(move || {
        let mut query = match session_query(store.as_ref(), scope, &filter, 1000)? {
            Ok(query) => query,
            Err(code) => return Ok(Err(code)),
        };
        let mut records = Vec::new();
        loop {
            let page = store.list_records(&query)?;
            let n = page.records.len();
            records.extend(render(store.as_ref(), &page.records, &reader)?);
            if n < query.limit {
                break;
            }
            query.offset += n;
        }
        Ok(Ok(records))
    })
    .await
    .map_err(|e| ConsoleError::from(e).in_lang(lang))?
    .map_err(|code| ConsoleError::Page {
        status: 400,
        code,
        lang,
    })?;
    let (body, content_type) = if xlsx {
        let bytes = export::to_xlsx(Collection::Sessions, &records)
            .map_err(|e| ConsoleError::Internal(e.into()))?;
        (bytes, crate::routes::records::XLSX)
    } else {
        let text = export::to_csv(Collection::Sessions, &records)
            .map_err(|e| ConsoleError::Internal(e.into()))?;
        (text.into_bytes(), "text/csv; charset=utf-8")
    };
    tracing::info!(target: "audit", user = %who.user.id, file = %path.as_str(), records = records.len(), "console export");
    Ok(secure(
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", path.as_str()),
            ))
            .body(body),
    ))
}

fn not_found(lang: console::Lang) -> ConsoleError {
    ConsoleError::Page {
        status: 404,
        code: "not_found".to_owned(),
        lang,
    }
}

/// A record of the path, if it exists and the user may read it (others
/// are "not found", so a page does not tell what exists elsewhere).
fn readable(
    store: &dyn Store,
    principal: &Principal,
    collection: Collection,
    id: &str,
) -> Result<Option<StoredRecord>, ApiError> {
    let Some(id) = sync_core::hlc::parse_canonical_uuid(id) else {
        return Ok(None);
    };
    let Some(row) = store.get_record(collection, id)? else {
        return Ok(None);
    };
    if principal.may_read(
        collection,
        row.centre_id.as_deref(),
        row.volunteer_id.as_deref(),
    ) {
        Ok(Some(row))
    } else {
        tracing::warn!(target: "audit", user = %principal.user_id, record = %id, "refused: console read outside the user's scope");
        Ok(None)
    }
}

/// Display names of beneficiaries the user may read, by id.
fn beneficiary_names(
    store: &dyn Store,
    principal: &Principal,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, RecordDto>, ApiError> {
    let mut out = HashMap::new();
    for id in ids.into_iter().collect::<HashSet<_>>() {
        if let Some(row) = readable(store, principal, Collection::Beneficiaries, &id.to_string())? {
            if let Some(dto) = render(store, std::slice::from_ref(&row), principal)?.pop() {
                out.insert(id, dto);
            }
        }
    }
    Ok(out)
}

/// The member a set key names (`beneficiary_ids/<uuid>`).
fn member(key: &str) -> Option<Uuid> {
    key.split_once('/')
        .and_then(|(_, m)| sync_core::hlc::parse_canonical_uuid(m))
}

fn wall_secs(hlc: &Hlc) -> i64 {
    i64::try_from(hlc.wall_ms() / 1000).unwrap_or(i64::MAX)
}

/// A record's history, oldest first, with authors and member names.
fn history(
    store: &dyn Store,
    principal: &Principal,
    collection: Collection,
    id: Uuid,
) -> Result<Vec<HistoryEntry>, ApiError> {
    let changes: Vec<(Uuid, ChangeDto)> = store
        .record_history(collection, id)?
        .into_iter()
        .filter_map(|h| Some((h.device_id, serde_json::from_str(&h.body).ok()?)))
        .collect();
    let authors: Vec<Uuid> = changes.iter().filter_map(|(_, c)| c.author).collect();
    let names = store.display_names(&authors)?;
    let members = beneficiary_names(
        store,
        principal,
        changes
            .iter()
            .flat_map(|(_, c)| c.fields.keys().filter_map(|k| member(k))),
    )?;
    Ok(changes
        .into_iter()
        .map(|(device_id, change)| HistoryEntry {
            at: change.hlc.parse::<Hlc>().map_or(0, |h| wall_secs(&h)),
            author_name: change
                .author
                .and_then(|a| names.get(&a).cloned())
                .unwrap_or_default(),
            device_id: device_id.to_string(),
            writes: change
                .fields
                .iter()
                .map(|(key, write)| KeyWrite {
                    key: key.clone(),
                    value: console::Value::from(&write.value),
                    member_label: member(key)
                        .and_then(|m| members.get(&m))
                        .and_then(|b| text(b, "display_name")),
                })
                .collect(),
        })
        .collect())
}

/// The centre's name, or its code.
fn centre_name(store: &dyn Store, code: Option<&str>) -> Result<String, ApiError> {
    let Some(code) = code else {
        return Ok(String::new());
    };
    Ok(store
        .list_centres(Some(code))?
        .into_iter()
        .next()
        .map_or_else(|| code.to_owned(), |c| c.name))
}

/// `/sessions/{id}`: one session, its beneficiaries and history.
pub async fn session(
    who: ConsoleUser,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let lang = who.lang;
    let store = state.store.clone();
    let principal = who.principal.clone();
    let detail = blocking(move || {
        let store = store.as_ref();
        let Some(row) = readable(store, &principal, Collection::Sessions, &path)? else {
            return Ok(None);
        };
        let Some(dto) = render(store, std::slice::from_ref(&row), &principal)?.pop() else {
            return Ok(None);
        };
        let linked: Vec<Uuid> = dto
            .fields
            .get("beneficiary_ids")
            .and_then(serde_json::Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(|v| v.as_str().and_then(sync_core::hlc::parse_canonical_uuid))
                    .collect()
            })
            .unwrap_or_default();
        let people = beneficiary_names(store, &principal, linked.iter().copied())?;
        Ok(Some(SessionDetail {
            id: dto.id.to_string(),
            centre: centre_name(store, dto.centre_id.as_deref())?,
            volunteer_name: volunteer_name(&dto),
            village_code: text(&dto, "village_code").unwrap_or_default(),
            help_type: text(&dto, "help_type").unwrap_or_default(),
            started_at: text(&dto, "started_at").unwrap_or_default(),
            duration_min: int(&dto, "duration_min"),
            people_helped: int(&dto, "people_helped"),
            outcome: text(&dto, "outcome"),
            notes: text(&dto, "notes"),
            follow_up_on: text(&dto, "follow_up_on"),
            deleted: dto.deleted,
            beneficiaries: linked
                .iter()
                .filter_map(|id| people.get(id))
                .map(|b| LinkedBeneficiary {
                    id: b.id.to_string(),
                    display_name: text(b, "display_name").unwrap_or_default(),
                    village_code: text(b, "village_code").unwrap_or_default(),
                })
                .collect(),
            conflicted_keys: dto.conflicts.iter().map(|c| c.key.clone()).collect(),
            history: history(store, &principal, Collection::Sessions, row.id)?,
        }))
    })
    .await
    .map_err(|e| ConsoleError::from(e).in_lang(lang))?
    .ok_or_else(|| not_found(lang))?;
    let ctx = context(&who, &state, &req).await?;
    Ok(html(StatusCode::OK, console::session_detail(&ctx, &detail)))
}

/// `/beneficiaries/{id}`: one beneficiary and the record's history.
pub async fn beneficiary(
    who: ConsoleUser,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let lang = who.lang;
    let store = state.store.clone();
    let principal = who.principal.clone();
    let detail = blocking(move || {
        let store = store.as_ref();
        let Some(row) = readable(store, &principal, Collection::Beneficiaries, &path)? else {
            return Ok(None);
        };
        let Some(dto) = render(store, std::slice::from_ref(&row), &principal)?.pop() else {
            return Ok(None);
        };
        Ok(Some(BeneficiaryDetail {
            id: dto.id.to_string(),
            centre: centre_name(store, dto.centre_id.as_deref())?,
            display_name: text(&dto, "display_name").unwrap_or_default(),
            village_code: text(&dto, "village_code").unwrap_or_default(),
            phone: text(&dto, "phone"),
            birth_year: int(&dto, "birth_year"),
            consent: dto
                .fields
                .get("consent")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            merged_into: text(&dto, "merged_into"),
            deleted: dto.deleted,
            conflicted_keys: dto.conflicts.iter().map(|c| c.key.clone()).collect(),
            history: history(store, &principal, Collection::Beneficiaries, row.id)?,
        }))
    })
    .await
    .map_err(|e| ConsoleError::from(e).in_lang(lang))?
    .ok_or_else(|| not_found(lang))?;
    let ctx = context(&who, &state, &req).await?;
    Ok(html(
        StatusCode::OK,
        console::beneficiary_detail(&ctx, &detail),
    ))
}

/// The conflicts of the user's scope, or of one record (`only`; `None`
/// when it does not exist or is not theirs).
pub(super) async fn conflicts_page(
    who: &ConsoleUser,
    state: &web::Data<AppState>,
    only: Option<(Collection, String)>,
) -> Result<Option<ConflictsPage>, ConsoleError> {
    let lang = who.lang;
    let scope = scope(&who.principal)?;
    let store = state.store.clone();
    let principal = who.principal.clone();
    let single = only.is_some();
    blocking(move || {
        let store = store.as_ref();
        let rows = match &only {
            Some((collection, id)) => match readable(store, &principal, *collection, id)? {
                Some(row) => vec![row],
                None => return Ok(None),
            },
            None => {
                let mut rows = Vec::new();
                for collection in Collection::ALL {
                    let query = RecordQuery {
                        conflicts_only: true,
                        exclude_deleted: true,
                        newest_first: true,
                        ..RecordQuery::new(collection, scope.clone(), MAX_CONFLICT_RECORDS)
                    };
                    rows.extend(store.list_records(&query)?.records);
                }
                rows
            }
        };
        let dtos: Vec<RecordDto> = render(store, &rows, &principal)?
            .into_iter()
            .filter(|d| !d.conflicts.is_empty())
            .collect();
        let authors: Vec<Uuid> = dtos
            .iter()
            .flat_map(|d| {
                d.conflicts
                    .iter()
                    .flat_map(|c| c.heads.iter().map(|h| h.author))
            })
            .collect();
        let names = store.display_names(&authors)?;
        let members = beneficiary_names(
            store,
            &principal,
            dtos.iter()
                .flat_map(|d| d.conflicts.iter().filter_map(|c| member(&c.key))),
        )?;
        let records =
            dtos.iter()
                .map(|d| ConflictRecord {
                    collection: d.collection.clone(),
                    id: d.id.to_string(),
                    name: if d.collection == Collection::Sessions.name() {
                        volunteer_name(d)
                    } else {
                        text(d, "display_name").unwrap_or_default()
                    },
                    keys: d
                        .conflicts
                        .iter()
                        .map(|c| ConflictKey {
                            key: c.key.clone(),
                            member_label: member(&c.key)
                                .and_then(|m| members.get(&m))
                                .and_then(|b| text(b, "display_name")),
                            values: c
                                .heads
                                .iter()
                                .enumerate()
                                .map(|(i, h)| ConflictValue {
                                    head: h.hlc.to_string(),
                                    value: console::Value::from(&h.value),
                                    author_name: names.get(&h.author).cloned().unwrap_or_else(
                                        || console::short_id(&h.author.to_string()),
                                    ),
                                    at: wall_secs(&h.hlc),
                                    shown: i == 0,
                                })
                                .collect(),
                            heads: c.heads.iter().map(|h| h.hlc.to_string()).collect(),
                            error: None,
                            new_value: String::new(),
                        })
                        .collect(),
                })
                .collect();
        Ok(Some(ConflictsPage { records, single }))
    })
    .await
    .map_err(|e| ConsoleError::from(e).in_lang(lang))
}

/// `/conflicts`: every record of the scope with a key in conflict.
pub async fn conflicts(
    who: ConsoleUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let page = conflicts_page(&who, &state, None)
        .await?
        .unwrap_or_default();
    let ctx = context(&who, &state, &req).await?;
    Ok(html(StatusCode::OK, console::conflicts(&ctx, &page)))
}

/// The collection named in a console path.
pub(super) fn collection(name: &str, lang: console::Lang) -> Result<Collection, ConsoleError> {
    Collection::parse(name).ok_or_else(|| not_found(lang))
}

/// `/conflicts/{collection}/{id}`: one record's conflicts.
pub async fn conflict_record(
    who: ConsoleUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (name, id) = path.into_inner();
    let collection = collection(&name, who.lang)?;
    let page = conflicts_page(&who, &state, Some((collection, id)))
        .await?
        .ok_or_else(|| not_found(who.lang))?;
    let ctx = context(&who, &state, &req).await?;
    Ok(html(StatusCode::OK, console::conflicts(&ctx, &page)))
}

/// The devices of the user's centre (every device for an admin).
pub(super) async fn devices_page(
    who: &ConsoleUser,
    state: &web::Data<AppState>,
) -> Result<DevicesPage, ConsoleError> {
    let rows = devices_of(&who.principal, state, None)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(who.lang))?;
    Ok(DevicesPage {
        now: state.now_secs(),
        rows: rows
            .iter()
            .map(|d| console::DeviceRow {
                device_id: d.device_id.to_string(),
                volunteer_name: d.user.display_name.clone(),
                bound_at: d.bound_at,
                last_seen_at: d.last_seen_at,
                last_push_at: d.last_push_at,
                acked_seq: d.acked_seq,
                rejections_7d: d.rejections,
                clock_offset_ms: d.last_push_at.map(|_| d.clock_offset_ms),
                error: None,
            })
            .collect(),
    })
}

/// `/devices`.
pub async fn devices(
    who: ConsoleUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let page = devices_page(&who, &state).await?;
    let ctx = context(&who, &state, &req).await?;
    Ok(html(StatusCode::OK, console::devices(&ctx, &page)))
}

/// The likely duplicates of the user's centre, each side as a manager
/// tells people apart.
pub(super) async fn duplicates_page(
    who: &ConsoleUser,
    state: &web::Data<AppState>,
) -> Result<DuplicatesPage, ConsoleError> {
    use crate::routes::beneficiaries::{centre_of, duplicates_among, people_of};
    let centre = centre_of(&who.principal, state, who.user.centre_id.clone())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(who.lang))?;
    let store = state.store.clone();
    let (people, pairs) = blocking(move || {
        let people = people_of(store.as_ref(), &centre)?;
        let pairs = duplicates_among(&people, &store.dismissed_pairs(&centre)?);
        Ok((people, pairs))
    })
    .await
    .map_err(|e| ConsoleError::from(e).in_lang(who.lang))?;
    let by_id: HashMap<Uuid, &StoredRecord> = people.iter().map(|r| (r.id, r)).collect();
    let person = |id: Uuid| {
        let text = |field| {
            by_id.get(&id).and_then(|r| {
                r.state
                    .value(&sync_core::Key::field(field))
                    .and_then(sync_core::Value::as_str)
                    .map(str::to_owned)
            })
        };
        console::Person {
            id: id.to_string(),
            name: text(sync_core::Field::DisplayName).unwrap_or_default(),
            village: text(sync_core::Field::VillageCode).unwrap_or_default(),
            birth_year: by_id.get(&id).and_then(|r| {
                r.state
                    .value(&sync_core::Key::field(sync_core::Field::BirthYear))
                    .and_then(sync_core::Value::as_i64)
            }),
            phone: text(sync_core::Field::Phone),
        }
    };
    Ok(DuplicatesPage {
        rows: pairs
            .iter()
            .map(|p| console::DuplicateRow {
                a: person(p.a),
                b: person(p.b),
                reasons: p.reasons.clone(),
                score: p.score,
                error: None,
            })
            .collect(),
    })
}

/// `/duplicates`.
pub async fn duplicates(
    who: ConsoleUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let page = duplicates_page(&who, &state).await?;
    let ctx = context(&who, &state, &req).await?;
    Ok(html(StatusCode::OK, console::duplicates(&ctx, &page)))
}

/// The users of the user's centre (every user for an admin), by username.
pub(super) async fn volunteers_page(
    who: &ConsoleUser,
    state: &web::Data<AppState>,
) -> Result<VolunteersPage, ConsoleError> {
    let store = state.store.clone();
    let query = UserQuery {
        centre_id: who.user.centre_id.clone(),
        role: None,
        after: None,
        limit: MAX_USERS,
    };
    let users = blocking(move || Ok(store.list_users(&query)?.users))
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(who.lang))?;
    Ok(VolunteersPage {
        rows: users
            .iter()
            .map(|(u, devices)| VolunteerRow {
                user_id: u.id.to_string(),
                display_name: u.display_name.clone(),
                username: u.username.clone(),
                role: super::console_role(u.role),
                disabled: u.disabled,
                devices: devices.len() as u64,
                is_self: u.id == who.user.id,
                status_error: None,
                password_error: None,
                rename_error: None,
                rename_value: None,
            })
            .collect(),
        create: CreateVolunteerForm::default(),
    })
}

/// `/volunteers`.
pub async fn volunteers(
    who: ConsoleUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let page = volunteers_page(&who, &state).await?;
    let ctx = context(&who, &state, &req).await?;
    Ok(html(StatusCode::OK, console::volunteers(&ctx, &page)))
}

/// `/programme?from=&to=`: the period's figures against the 1:4 target.
pub async fn programme(
    who: ConsoleUser,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let lang = who.lang;
    let q = Fields::of_query(&req);
    let (from, to) = (
        q.get("from").trim().to_owned(),
        q.get("to").trim().to_owned(),
    );
    let given = |s: &str| (!s.is_empty() && is_date(s)).then(|| s.to_owned());
    let given_raw = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let period_error = check_dates(&given_raw(&from), &given_raw(&to))
        .err()
        .map(|e| e.problem().code);
    let params = SummaryParams {
        centre_id: None,
        from: given(&from),
        to: given(&to),
    };
    let params = if period_error.is_some() {
        SummaryParams {
            centre_id: None,
            from: None,
            to: None,
        }
    } else {
        params
    };
    let query = summary_query(&who.principal, &state, params)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(lang))?;
    let store = state.store.clone();
    let (rows, names) = blocking(move || {
        let rows = store.programme(&query)?;
        let ids: Vec<Uuid> = rows
            .volunteers
            .iter()
            .filter_map(|v| v.volunteer_id.parse().ok())
            .collect();
        let names = store.display_names(&ids)?;
        Ok((rows, names))
    })
    .await
    .map_err(|e| ConsoleError::from(e).in_lang(lang))?;
    let target = Totals::TARGET_PER_VOLUNTEER;
    let mut volunteers: Vec<VolunteerStat> = rows
        .volunteers
        .iter()
        .map(|v| VolunteerStat {
            name: v
                .volunteer_id
                .parse::<Uuid>()
                .ok()
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_else(|| console::short_id(&v.volunteer_id)),
            sessions: v.sessions,
            people_helped: v.people_helped,
        })
        .collect();
    volunteers.sort_by(|a, b| {
        b.people_helped
            .cmp(&a.people_helped)
            .then(a.name.cmp(&b.name))
    });
    let page = ProgrammePage {
        from,
        to,
        period_error,
        totals: Totals {
            sessions: rows.volunteers.iter().map(|v| v.sessions).sum(),
            people_helped: rows.volunteers.iter().map(|v| v.people_helped).sum(),
            unique_beneficiaries: rows.unique_beneficiaries,
            minutes: rows.volunteers.iter().map(|v| v.minutes).sum(),
            active_volunteers: rows.volunteers.len() as u64,
            volunteers_meeting_target: rows
                .volunteers
                .iter()
                .filter(|v| v.people_helped >= target)
                .count() as u64,
            target_per_volunteer: target,
        },
        weeks: rows
            .weeks
            .iter()
            .map(|w| WeekStat {
                week_start: w.monday.clone(),
                sessions: w.sessions,
                people_helped: w.people_helped,
            })
            .collect(),
        help_types: rows
            .by_help_type
            .iter()
            .map(|g| HelpTypeStat {
                help_type: g.value.clone(),
                sessions: g.sessions,
                people_helped: g.people_helped,
            })
            .collect(),
        villages: rows
            .by_village
            .iter()
            .map(|g| VillageStat {
                village_code: g.value.clone(),
                sessions: g.sessions,
                people_helped: g.people_helped,
            })
            .collect(),
        volunteers,
    };
    let ctx = context(&who, &state, &req).await?;
    Ok(html(StatusCode::OK, console::programme(&ctx, &page)))
}
