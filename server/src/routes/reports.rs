//! `GET /v1/reports/summary`: a centre's totals for supervision and reporting.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use sync_core::wire::{Problem, Summary};
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
    centre_id: Option<String>,
    #[param(format = Date)]
    from: Option<String>,
    #[param(format = Date)]
    to: Option<String>,
}

/// Managers get their centre's figures, admins any centre's (or all), and a
/// volunteer the figures of their own sessions.
#[utoipa::path(get, path = "/v1/reports/summary", tag = "reports", params(SummaryParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The totals of the caller's scope, or of one centre", body = Summary),
        (status = 403, description = "`forbidden`: another centre", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`unknown_centre` (admin)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn summary(
    caller: Caller,
    params: web::Query<SummaryParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    check_dates(&params.from, &params.to)?;
    let (centre_id, volunteer_id) =
        match scope_for(&caller, &state, params.centre_id.as_deref()).await? {
            ReadScope::All => (None, None),
            ReadScope::Centre(c) => (Some(c), None),
            ReadScope::Volunteer { centre, user_id } => {
                debug_assert_eq!(caller.principal.role, Role::Volunteer);
                (Some(centre), Some(user_id.to_string()))
            }
        };
    let query = SummaryQuery {
        centre_id,
        volunteer_id,
        from: params.from,
        to: params.to,
    };
    let store = state.store.clone();
    let summary = blocking(move || Ok(store.summary(&query)?)).await?;
    Ok(HttpResponse::Ok().json(summary))
}
