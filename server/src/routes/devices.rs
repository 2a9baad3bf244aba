//! `GET /v1/devices` (contract section 9): the phones of a centre's people,
//! with their last sync, recent rejections and clock offset.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use sync_core::hlc::MAX_FORWARD_SKEW_MS;
use sync_core::wire::{DeviceDto, DevicesPage, Problem};
use sync_core::{Principal, Role};

use super::{blocking, known_centre, timestamp};
use crate::auth::{require_role, Caller};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::DeviceRow;

/// "Recent" rejections: the last seven days.
pub const REJECTION_WINDOW_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DevicesParams {
    /// Only this centre (a manager's own, unless an admin).
    centre_id: Option<String>,
}

pub(crate) fn device_dto(row: &DeviceRow) -> DeviceDto {
    DeviceDto {
        device_id: row.device_id,
        user_id: row.user.id,
        username: row.user.username.clone(),
        display_name: row.user.display_name.clone(),
        last_seen_at: row.last_seen_at.map(timestamp),
        last_push_at: row.last_push_at.map(timestamp),
        acked_seq: row.acked_seq,
        rejections_7d: row.rejections,
        clock_offset_ms: row.clock_offset_ms,
        clock_skewed: row.clock_offset_ms.unsigned_abs() > MAX_FORWARD_SKEW_MS,
    }
}

/// The centre a caller's device list covers: a manager's own (another is
/// 403), an admin's choice (all when `None`).
pub(crate) async fn devices_of(
    caller: &Principal,
    state: &web::Data<AppState>,
    centre_id: Option<String>,
) -> Result<Vec<DeviceRow>, ApiError> {
    require_role(caller, &[Role::Admin, Role::Manager])?;
    let centre = match caller.role {
        Role::Admin => centre_id,
        _ => match centre_id {
            Some(c) if Some(&c) != caller.centre_id.as_ref() => {
                return Err(ApiError::forbidden(format!(
                    "you may not list the devices of centre {c:?}"
                )))
            }
            _ => caller.centre_id.clone(),
        },
    };
    if let Some(c) = &centre {
        known_centre(state, caller, c).await?;
    }
    let since = state.now_secs() - REJECTION_WINDOW_SECS;
    let store = state.store.clone();
    blocking(move || Ok(store.list_devices(centre.as_deref(), since)?)).await
}

#[utoipa::path(get, path = "/v1/devices", tag = "accounts", params(DevicesParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The devices bound to the centre's users", body = DevicesPage),
        (status = 403, description = "`forbidden`: a volunteer, or another centre", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`unknown_centre` (admin)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn list(
    caller: Caller,
    params: web::Query<DevicesParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rows = devices_of(&caller.principal, &state, params.into_inner().centre_id).await?;
    Ok(HttpResponse::Ok().json(DevicesPage {
        devices: rows.iter().map(device_dto).collect(),
    }))
}
