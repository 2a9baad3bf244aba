//! Beneficiaries as people (contract section 10): the likely duplicates of
//! a centre, and a manager's word that a pair is not one person. Merging
//! is the ordinary `merged_into` write; reports count a merged person once.

use std::collections::HashSet;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sync_core::duplicates::{self, Person};
use sync_core::wire::{
    BeneficiaryExport, DismissRequest, DuplicatePair, DuplicatesPage, ErasureDto, MergedExport,
    Problem,
};
use sync_core::{Collection, Field, Key, Principal, ProblemCode, Role, Value};
use uuid::Uuid;

use super::records::may_resolve;
use super::{blocking, canonical_path_id, known_centre, timestamp};
use crate::auth::{require_role, Caller};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Dismissal, Erasure, ReadScope, RecordQuery, Store, StoreError, StoredRecord};
use crate::sync::erasure;
use crate::sync::server_change::{self, ServerChangeError};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DuplicatesParams {
    /// The centre (a manager's own when left out; an admin names one).
    centre_id: Option<String>,
}

/// The centre a manager or admin works on: a manager's own (another is
/// 403), an admin's choice (required: `missing_centre`).
pub(crate) async fn centre_of(
    caller: &Principal,
    state: &web::Data<AppState>,
    centre_id: Option<String>,
) -> Result<String, ApiError> {
    require_role(caller, &[Role::Admin, Role::Manager])?;
    let centre = match (caller.role, centre_id) {
        (Role::Admin, Some(c)) => c,
        (Role::Admin, None) => {
            return Err(ApiError::bad_request(
                ProblemCode::MissingCentre,
                "name the centre: centre_id",
            ))
        }
        (_, Some(c)) if Some(&c) != caller.centre_id.as_ref() => {
            tracing::warn!(target: "audit", user = %caller.user_id, centre = %c, "refused: duplicates of another centre");
            return Err(ApiError::forbidden(format!(
                "you may not read the beneficiaries of centre {c:?}"
            )));
        }
        (_, _) => caller
            .centre_id
            .clone()
            .ok_or_else(|| ApiError::forbidden("this account belongs to no centre"))?,
    };
    known_centre(state, caller, &centre).await?;
    Ok(centre)
}

/// Every beneficiary of `centre` that may still be counted as a person of
/// its own: not deleted, not erased, not merged into another.
pub(crate) fn people_of(store: &dyn Store, centre: &str) -> Result<Vec<StoredRecord>, StoreError> {
    let mut query = RecordQuery {
        exclude_deleted: true,
        ..RecordQuery::new(
            Collection::Beneficiaries,
            ReadScope::Centre(centre.to_owned()),
            1000,
        )
    };
    let mut people = Vec::new();
    loop {
        let page = store.list_records(&query)?;
        people.extend(page.records.into_iter().filter(|r| {
            let merged = r
                .state
                .value(&Key::field(Field::MergedInto))
                .is_some_and(|v| *v != Value::Null);
            !merged && !r.state.is_erased()
        }));
        match page.next_after_key {
            Some(k) => query.after_key = k,
            None => return Ok(people),
        }
    }
}

/// The likely duplicates among `people`, without the dismissed pairs.
pub(crate) fn duplicates_among(
    people: &[StoredRecord],
    dismissed: &HashSet<(Uuid, Uuid)>,
) -> Vec<DuplicatePair> {
    let text = |r: &StoredRecord, field| {
        r.state
            .value(&Key::field(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let read: Vec<_> = people
        .iter()
        .map(|r| {
            (
                r.id,
                text(r, Field::VillageCode).unwrap_or_default(),
                text(r, Field::DisplayName).unwrap_or_default(),
                text(r, Field::Phone),
                text(r, Field::NationalId),
                r.state
                    .value(&Key::field(Field::BirthYear))
                    .and_then(Value::as_i64),
            )
        })
        .collect();
    let persons: Vec<Person<'_>> = read
        .iter()
        .map(|(id, village, name, phone, national_id, year)| Person {
            id: *id,
            village,
            name,
            phone: phone.as_deref(),
            national_id: national_id.as_deref(),
            birth_year: *year,
        })
        .collect();
    duplicates::find(&persons)
        .into_iter()
        .filter(|p| !dismissed.contains(&(p.a, p.b)))
        .map(|p| DuplicatePair {
            a: p.a,
            b: p.b,
            reasons: p.reasons.iter().map(|r| r.name().to_owned()).collect(),
            score: p.score,
        })
        .collect()
}

#[utoipa::path(get, path = "/v1/beneficiaries/duplicates", tag = "beneficiaries", params(DuplicatesParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The likely duplicates of the centre, most likely first", body = DuplicatesPage),
        (status = 400, description = "`missing_centre`: an admin names the centre", content_type = "application/problem+json", body = Problem),
        (status = 403, description = "`forbidden`: a volunteer, or another centre", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`unknown_centre` (admin)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn duplicates(
    caller: Caller,
    params: web::Query<DuplicatesParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let centre = centre_of(&caller.principal, &state, params.into_inner().centre_id).await?;
    let store = state.store.clone();
    let pairs = blocking(move || {
        let people = people_of(store.as_ref(), &centre)?;
        let dismissed = store.dismissed_pairs(&centre)?;
        Ok(duplicates_among(&people, &dismissed))
    })
    .await?;
    Ok(HttpResponse::Ok().json(DuplicatesPage { pairs }))
}

/// Dismisses a pair as `caller`: both must be beneficiaries of a centre the
/// caller manages. Dismissing again answers the same.
pub(crate) async fn dismiss_as(
    caller: &Principal,
    state: &web::Data<AppState>,
    a: Uuid,
    b: Uuid,
) -> Result<(Uuid, Uuid), ApiError> {
    let (a, b) = (a.min(b), a.max(b));
    let centre = dismiss_check(caller, state, a, b).await?;
    let dismissal = Dismissal {
        a,
        b,
        centre_id: centre,
        by: caller.user_id,
        at: state.now_secs(),
    };
    let store = state.store.clone();
    blocking(move || Ok(store.dismiss_pair(&dismissal)?)).await?;
    tracing::info!(target: "audit", user = %caller.user_id, %a, %b, "duplicate pair dismissed");
    Ok((a, b))
}

/// Checks that `caller` may act on the pair: both are beneficiaries (404),
/// of one centre (400), that the caller manages (403). Returns the centre.
async fn dismiss_check(
    caller: &Principal,
    state: &web::Data<AppState>,
    a: Uuid,
    b: Uuid,
) -> Result<String, ApiError> {
    require_role(caller, &[Role::Admin, Role::Manager])?;
    if a == b {
        return Err(ApiError::bad_request(
            ProblemCode::InvalidRequest,
            "a and b must be two different beneficiaries",
        ));
    }
    let store = state.store.clone();
    let centres = blocking(move || {
        let centre = |id: Uuid| -> Result<Option<Option<String>>, ApiError> {
            Ok(store
                .get_record(Collection::Beneficiaries, id)?
                .map(|r| r.centre_id))
        };
        Ok((centre(a)?, centre(b)?))
    })
    .await?;
    let (Some(centre_a), Some(centre_b)) = centres else {
        return Err(ApiError::not_found("no such beneficiary"));
    };
    if !may_resolve(caller, centre_a.as_deref()) || !may_resolve(caller, centre_b.as_deref()) {
        tracing::warn!(target: "audit", user = %caller.user_id, "refused: dismissal outside the caller's centre");
        return Err(ApiError::forbidden(
            "only a manager of both beneficiaries' centre, or an admin, dismisses a pair",
        ));
    }
    if centre_a != centre_b {
        return Err(ApiError::bad_request(
            ProblemCode::InvalidRequest,
            "the two beneficiaries belong to different centres",
        ));
    }
    Ok(centre_a.unwrap_or_default())
}

#[utoipa::path(post, path = "/v1/beneficiaries/duplicates/dismiss", tag = "beneficiaries", request_body = DismissRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pair, `a` < `b`: no longer listed", body = DismissRequest),
        (status = 400, description = "`invalid_request`: the same beneficiary twice, or two centres; `invalid_id`", content_type = "application/problem+json", body = Problem),
        (status = 403, description = "`forbidden`: not a manager of their centre or an admin", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`not_found`: no such beneficiary", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn dismiss(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: DismissRequest = crate::body::read_json(&req, payload, 4096).await?;
    let (a, b) = dismiss_as(&caller.principal, &state, body.a, body.b).await?;
    Ok(HttpResponse::Ok().json(DismissRequest { a, b }))
}

/// Merges beneficiary `from` into `into` as `caller` (the console's "the
/// same person"): the server writes `merged_into` on `from` over every head
/// it has, as a change in the log (`sync::server_change`), exactly as a
/// manager's phone would push it.
pub(crate) async fn merge_as(
    caller: &Principal,
    state: &web::Data<AppState>,
    from: Uuid,
    into: Uuid,
) -> Result<(), ApiError> {
    // Who may, and whether both exist in one centre: as for a dismissal.
    dismiss_check(caller, state, from, into).await?;
    let now_ms = state.clock.now_ms();
    let author = caller.user_id;
    let store = state.store.clone();
    blocking(move || {
        let mut outcome = None;
        store.push(&mut |tx| {
            let key = (Collection::Beneficiaries, from);
            let Some(record) = tx.load_records(&[key])?.remove(&key) else {
                outcome = Some(Err(ApiError::not_found("no such beneficiary")));
                return Ok(());
            };
            let field = Key::field(Field::MergedInto);
            let write = record.resolve(field, Value::text(&into.to_string()));
            match server_change::write(tx, key.0, from, record, vec![write], author, now_ms) {
                Ok(_) => outcome = Some(Ok(())),
                Err(ServerChangeError::Invalid(e)) => outcome = Some(Err(ApiError::Invalid(e))),
                Err(ServerChangeError::Store(e)) => return Err(e),
            }
            Ok(())
        })?;
        outcome.unwrap_or_else(|| {
            Err(ApiError::internal(anyhow::anyhow!(
                "merge produced no outcome"
            )))
        })
    })
    .await?;
    tracing::info!(target: "audit", user = %author, %from, %into, "beneficiaries merged");
    Ok(())
}

/// The stored records of the person `id` is one of (itself and every
/// record merged into one another with it), after checking that `caller`
/// may act on each (`what` names the act for the refusal): 404 when `id`
/// is no beneficiary, 403 when any record is of a centre the caller does
/// not manage.
async fn person_as(
    caller: &Principal,
    state: &web::Data<AppState>,
    id: Uuid,
    what: &'static str,
) -> Result<Vec<StoredRecord>, ApiError> {
    require_role(caller, &[Role::Admin, Role::Manager])?;
    let store = state.store.clone();
    let rows = blocking(move || {
        let group = store.people()?.group_of(id);
        let mut rows = Vec::with_capacity(group.len());
        for member in group {
            rows.extend(store.get_record(Collection::Beneficiaries, member)?);
        }
        Ok(rows)
    })
    .await?;
    if !rows.iter().any(|r| r.id == id) {
        return Err(ApiError::not_found(format!("no beneficiary {id}")));
    }
    if let Some(outside) = rows
        .iter()
        .find(|r| !may_resolve(caller, r.centre_id.as_deref()))
    {
        tracing::warn!(target: "audit", user = %caller.user_id, record = %id, outside = %outside.id, "refused: {what} outside the caller's centre");
        return Err(ApiError::forbidden(format!(
            "only a manager of the beneficiary's centre (and of every record merged with it), or an admin, may {what}"
        )));
    }
    Ok(rows)
}

/// Erases a beneficiary as `caller` (contract section 10), with every
/// record merged with it (one person), in one store transaction
/// (`sync::erasure`), then has the store leave no old byte in its files
/// where it can. Erasing again answers the first erasure.
pub(crate) async fn erase_as(
    caller: &Principal,
    state: &web::Data<AppState>,
    id: Uuid,
) -> Result<(Erasure, Vec<Uuid>), ApiError> {
    let group: Vec<Uuid> = person_as(caller, state, id, "erase them")
        .await?
        .iter()
        .map(|r| r.id)
        .collect();
    let (by, at, now_ms) = (caller.user_id, state.now_secs(), state.clock.now_ms());
    let store = state.store.clone();
    let members = group.clone();
    let erasure = blocking(move || {
        let mut outcome: Option<Result<Erasure, ApiError>> = None;
        store.push(&mut |tx| {
            outcome = match erasure::erase_group(tx, id, &members, by, at, now_ms) {
                Ok(Some(e)) => Some(Ok(e)),
                Ok(None) => Some(Err(ApiError::not_found(format!("no beneficiary {id}")))),
                Err(ServerChangeError::Invalid(e)) => Some(Err(ApiError::internal(
                    anyhow::anyhow!("an erasure's change was refused: {e}"),
                ))),
                Err(ServerChangeError::Store(e)) => return Err(e),
            };
            Ok(())
        })?;
        let erasure = outcome.unwrap_or_else(|| {
            Err(ApiError::internal(anyhow::anyhow!(
                "erasure produced no outcome"
            )))
        })?;
        store.settle_erasure()?;
        Ok(erasure)
    })
    .await?;
    for member in &group {
        tracing::info!(target: "audit", user = %caller.user_id, record = %member, asked = %id, "beneficiary erased");
    }
    Ok((erasure, group))
}

#[utoipa::path(post, path = "/v1/beneficiaries/{id}/erase", tag = "beneficiaries",
    params(("id" = String, Path, description = "The beneficiary's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The person is erased (the same answer when they already were)", body = ErasureDto),
        (status = 403, description = "`forbidden`: not a manager of the beneficiary's centre or an admin", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`not_found`: no such beneficiary", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn erase(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = canonical_path_id(&path, "beneficiary")?;
    let (e, group) = erase_as(&caller.principal, &state, id).await?;
    Ok(HttpResponse::Ok().json(erasure_dto(&e, group)))
}

fn erasure_dto(e: &Erasure, records: Vec<Uuid>) -> ErasureDto {
    ErasureDto {
        id: e.record_id,
        erased: true,
        erased_at: timestamp(e.at),
        erased_by: e.by,
        records,
    }
}

#[utoipa::path(get, path = "/v1/beneficiaries/{id}/export", tag = "beneficiaries",
    params(("id" = String, Path, description = "The beneficiary's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Everything stored about the person (a PDPA access request)", body = BeneficiaryExport),
        (status = 403, description = "`forbidden`: not a manager of the beneficiary's centre or an admin", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`not_found`: no such beneficiary", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn export(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = canonical_path_id(&path, "beneficiary")?;
    let rows = person_as(&caller.principal, &state, id, "export their data").await?;
    let store = state.store.clone();
    let principal = caller.principal.clone();
    let exported_at = timestamp(state.now_secs());
    let export = blocking(move || {
        let group: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut records = crate::records::render(store.as_ref(), &rows, &principal)?;
        let mut asked = None;
        let mut merged = Vec::new();
        let mut sessions = Vec::new();
        for (row, mut record) in rows.iter().zip(records.drain(..)) {
            let history = store.record_history(Collection::Beneficiaries, row.id)?;
            let changes = history
                .iter()
                .filter_map(|h| serde_json::from_str(&h.body).ok())
                .collect();
            sessions.extend(store.sessions_linking(row.id)?);
            record.consent_history = Some(crate::records::consent_history(&history));
            if row.id == id {
                asked = Some((record, changes));
            } else {
                merged.push(MergedExport { record, changes });
            }
        }
        let (record, changes) =
            asked.ok_or_else(|| ApiError::not_found(format!("no beneficiary {id}")))?;
        sessions.sort_unstable();
        sessions.dedup();
        Ok(BeneficiaryExport {
            exported_at,
            record,
            changes,
            merged,
            sessions,
            erasure: store.erasure_of(id)?.map(|e| erasure_dto(&e, group)),
        })
    })
    .await?;
    tracing::info!(target: "audit", user = %caller.principal.user_id, record = %id, "beneficiary exported (PDPA access)");
    Ok(HttpResponse::Ok().json(export))
}
