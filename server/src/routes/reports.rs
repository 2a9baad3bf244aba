//! `GET /v1/reports/summary`: a centre's totals for supervision and
//! reporting; `GET /v1/reports/programme`: progress against the programme's
//! target of four people helped per volunteer.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use sync_core::wire::{
    Problem, ProgrammeReport, ProgrammeTotals, Summary, VolunteerReport, WeekReport,
};
use sync_core::Role;

use super::blocking;
use super::records::{check_dates, scope_for};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{ReadScope, SummaryQuery};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    pub centre_id: Option<String>,
    #[param(format = Date)]
    pub from: Option<String>,
    #[param(format = Date)]
    pub to: Option<String>,
}

/// Managers get their centre's figures, admins any centre's (or all), and a
/// volunteer the figures of their own sessions.
#[utoipa::path(get, path = "/v1/reports/summary", tag = "reports", params(SummaryParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The totals of the caller's scope, or of one centre", body = Summary),
        (status = 400, description = "`invalid_date`, or `invalid_range`: `from` after `to`", content_type = "application/problem+json", body = Problem),
        (status = 403, description = "`forbidden`: another centre", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`unknown_centre` (admin)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn summary(
    caller: Caller,
    params: web::Query<SummaryParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = summary_query(&caller.principal, &state, params.into_inner()).await?;
    let store = state.store.clone();
    let summary = blocking(move || Ok(store.summary(&query)?)).await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// The sessions a report covers: the caller's scope, narrowed by the
/// parameters.
pub(crate) async fn summary_query(
    principal: &sync_core::Principal,
    state: &web::Data<AppState>,
    params: SummaryParams,
) -> Result<SummaryQuery, ApiError> {
    check_dates(&params.from, &params.to)?;
    let (centre_id, volunteer_id) =
        match scope_for(principal, state, params.centre_id.as_deref()).await? {
            ReadScope::All => (None, None),
            ReadScope::Centre(c) => (Some(c), None),
            ReadScope::Volunteer { centre, user_id } => {
                debug_assert_eq!(principal.role, Role::Volunteer);
                (Some(centre), Some(user_id.to_string()))
            }
        };
    Ok(SummaryQuery {
        centre_id,
        volunteer_id,
        from: params.from,
        to: params.to,
    })
}

/// The people-helped target per volunteer of the programme: four.
pub const TARGET_PER_VOLUNTEER: u64 = 4;

fn hours(minutes: u64) -> f64 {
    (minutes as f64 / 6.0).round() / 10.0
}

/// Sessions per group, as the report's maps.
fn counts(groups: &[crate::store::GroupFigures]) -> std::collections::BTreeMap<String, u64> {
    groups
        .iter()
        .map(|g| (g.value.clone(), g.sessions))
        .collect()
}

/// The programme report of `query`'s sessions.
pub(crate) fn programme_report(
    store: &dyn crate::store::Store,
    query: &SummaryQuery,
) -> Result<ProgrammeReport, ApiError> {
    let rows = store.programme(query)?;
    let ids: Vec<uuid::Uuid> = rows
        .volunteers
        .iter()
        .filter_map(|v| v.volunteer_id.parse().ok())
        .collect();
    let names = store.display_names(&ids)?;
    let volunteers: Vec<VolunteerReport> = rows
        .volunteers
        .iter()
        .filter_map(|v| {
            let id: uuid::Uuid = v.volunteer_id.parse().ok()?;
            Some(VolunteerReport {
                volunteer_id: id,
                display_name: names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                sessions: v.sessions,
                people_helped: v.people_helped,
                unique_beneficiaries: v.unique_beneficiaries,
                hours: hours(v.minutes),
                meets_target: v.people_helped >= TARGET_PER_VOLUNTEER,
            })
        })
        .collect();
    let minutes: u64 = rows.volunteers.iter().map(|v| v.minutes).sum();
    Ok(ProgrammeReport {
        totals: ProgrammeTotals {
            sessions: rows.volunteers.iter().map(|v| v.sessions).sum(),
            people_helped: rows.volunteers.iter().map(|v| v.people_helped).sum(),
            unique_beneficiaries: rows.unique_beneficiaries,
            hours: hours(minutes),
            volunteers: volunteers.len() as u64,
        },
        target_per_volunteer: TARGET_PER_VOLUNTEER,
        volunteers_meeting_target: volunteers.iter().filter(|v| v.meets_target).count() as u64,
        weeks: rows
            .weeks
            .into_iter()
            .map(|w| WeekReport {
                week_start: w.monday,
                sessions: w.sessions,
                people_helped: w.people_helped,
            })
            .collect(),
        by_help_type: counts(&rows.by_help_type),
        by_village: counts(&rows.by_village),
        volunteers,
    })
}

#[utoipa::path(get, path = "/v1/reports/programme", tag = "reports", params(SummaryParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Per volunteer and per week figures against the target of four people helped per volunteer", body = ProgrammeReport),
        (status = 400, description = "`invalid_date`, or `invalid_range`: `from` after `to`", content_type = "application/problem+json", body = Problem),
        (status = 403, description = "`forbidden`: another centre", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`unknown_centre` (admin)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn programme(
    caller: Caller,
    params: web::Query<SummaryParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = summary_query(&caller.principal, &state, params.into_inner()).await?;
    let store = state.store.clone();
    let report = blocking(move || programme_report(store.as_ref(), &query)).await?;
    Ok(HttpResponse::Ok().json(report))
}
