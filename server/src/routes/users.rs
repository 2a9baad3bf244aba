//! Accounts (contract section 8): `GET /v1/users`, `POST /v1/admin/users`,
//! `PATCH /v1/admin/users/{id}` and
//! `DELETE /v1/admin/users/{id}/devices/{device_id}`.
//!
//! Admins manage everyone. A manager creates volunteers of their own centre
//! and may rename, disable, re-enable and reset the password of those
//! volunteers, and unbind their phones; nothing else.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sync_core::wire::Problem;
use sync_core::wire::{AccountDto, BoundDeviceDto, CreateUserRequest, PatchUserRequest, UsersPage};
use sync_core::{Principal, ProblemCode, Role};

use super::{blocking, canonical_path_id, known_centre, page_limit, timestamp};
use crate::accounts::{self, AccountError};
use crate::auth::{require_role, Caller};
use crate::body::read_json;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{BoundDevice, UpdateUser, User, UserPatch, UserQuery};
use crate::sync::cursor;

const USER_BODY_LIMIT: usize = 16 * 1024;

/// An account error as the API answers it.
fn refuse(e: AccountError) -> ApiError {
    match e {
        AccountError::Taken(_) => ApiError::conflict(e.code(), e.to_string()),
        AccountError::Store(s) => s.into(),
        AccountError::Hash(h) => ApiError::internal(h),
        other => ApiError::bad_request(other.code(), other.to_string()),
    }
}

pub(crate) fn account_dto(user: &User, devices: &[BoundDevice]) -> AccountDto {
    AccountDto {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        centre_id: user.centre_id.clone(),
        disabled: user.disabled,
        devices: devices
            .iter()
            .map(|d| BoundDeviceDto {
                device_id: d.device_id,
                bound_at: d.bound_at.map(timestamp),
                last_seen_at: d.last_seen_at.map(timestamp),
            })
            .collect(),
    }
}

/// Whether the caller manages `user`: an admin anyone, a manager the
/// volunteers of their centre.
pub(crate) fn manages(p: &Principal, user: &User) -> bool {
    match p.role {
        Role::Admin => true,
        Role::Manager => {
            user.role == Role::Volunteer
                && user.centre_id.is_some()
                && user.centre_id == p.centre_id
        }
        Role::Volunteer => false,
    }
}

fn not_managed(p: &Principal, user: &User) -> ApiError {
    tracing::warn!(target: "audit", caller = %p.user_id, user = %user.id, "refused: user outside the caller's management");
    ApiError::forbidden("you may only manage the volunteers of your own centre")
}

#[utoipa::path(post, path = "/v1/admin/users", tag = "accounts", request_body = CreateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new user", body = AccountDto),
        (status = 403, description = "`forbidden`: not an admin, or a manager creating anything but a volunteer of their centre", content_type = "application/problem+json", body = Problem),
        (status = 409, description = "`username_taken`", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn create(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: CreateUserRequest = read_json(&req, payload, USER_BODY_LIMIT).await?;
    let user = create_account(&caller.principal, &state, body).await?;
    Ok(HttpResponse::Created().json(account_dto(&user, &[])))
}

/// Creates an account as `by` (the API's and the console's way).
pub(crate) async fn create_account(
    by: &Principal,
    state: &web::Data<AppState>,
    mut body: CreateUserRequest,
) -> Result<User, ApiError> {
    require_role(by, &[Role::Admin, Role::Manager])?;
    if by.role == Role::Manager {
        // A manager's volunteers join the manager's centre.
        let own = by.centre_id.clone();
        if body.centre_id.is_none() {
            body.centre_id = own.clone();
        }
        if body.role != Role::Volunteer.name() || body.centre_id != own {
            tracing::warn!(target: "audit", manager = %by.user_id, role = %body.role, "refused: manager creating a user outside their remit");
            return Err(ApiError::forbidden(
                "a manager may only create volunteers of their own centre",
            ));
        }
    }
    let account = accounts::check(
        &body.username,
        &body.password,
        &body.role,
        body.centre_id.as_deref(),
        body.display_name.as_deref(),
    )
    .map_err(refuse)?;
    let hash = state
        .hasher
        .hash(body.password)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let store = state.store.clone();
    let user =
        blocking(move || accounts::insert(store.as_ref(), account, hash).map_err(refuse)).await?;
    tracing::info!(target: "audit", by = %by.user_id, username = %user.username, role = %user.role, "user created");
    Ok(user)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this centre (a manager's own, unless an admin).
    centre_id: Option<String>,
    #[param(pattern = "^(volunteer|manager|admin)$")]
    role: Option<String>,
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// `next_page_token` of the previous page.
    #[param(pattern = "^([0-9a-f]{2})*$")]
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/users", tag = "accounts", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Users ordered by username", body = UsersPage),
        (status = 403, description = "`forbidden`: a volunteer, or another centre", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`unknown_centre` (admin)", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn list(
    caller: Caller,
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require_role(&[Role::Admin, Role::Manager])?;
    let params = params.into_inner();
    let centre_id = match caller.principal.role {
        Role::Admin => params.centre_id,
        _ => match params.centre_id {
            Some(c) if Some(&c) != caller.principal.centre_id.as_ref() => {
                return Err(ApiError::forbidden(format!(
                    "you may not list the users of centre {c:?}"
                )))
            }
            _ => caller.principal.centre_id.clone(),
        },
    };
    let role = params
        .role
        .map(|r| {
            r.parse::<Role>().map_err(|_| {
                ApiError::bad_request(
                    ProblemCode::InvalidRole,
                    "role must be volunteer, manager or admin",
                )
            })
        })
        .transpose()?;
    let limit = page_limit(params.limit, 100)?;
    let after = match params.page_token.as_deref() {
        None | Some("") => None,
        Some(t) => Some(cursor::decode_text(t).ok_or_else(|| {
            ApiError::bad_request(
                ProblemCode::InvalidPageToken,
                "the page_token is not one this server handed out",
            )
        })?),
    };
    if let Some(centre) = &centre_id {
        known_centre(&state, &caller.principal, centre).await?;
    }
    let query = UserQuery {
        centre_id,
        role,
        after,
        limit,
    };
    let store = state.store.clone();
    let page = blocking(move || Ok(store.list_users(&query)?)).await?;
    let next_page_token = if page.has_more {
        page.users
            .last()
            .map(|(u, _)| cursor::encode_text(&u.username.to_lowercase()))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(UsersPage {
        users: page.users.iter().map(|(u, d)| account_dto(u, d)).collect(),
        next_page_token,
    }))
}

/// The user named in a path, if the caller may manage them.
pub(crate) async fn managed_user(
    by: &Principal,
    state: &web::Data<AppState>,
    id: &str,
) -> Result<User, ApiError> {
    require_role(by, &[Role::Admin, Role::Manager])?;
    let id = canonical_path_id(id, "user")?;
    let store = state.store.clone();
    let user = blocking(move || Ok(store.user_by_id(id)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {id}")))?;
    if !manages(by, &user) {
        return Err(not_managed(by, &user));
    }
    Ok(user)
}

#[utoipa::path(patch, path = "/v1/admin/users/{id}", tag = "accounts", request_body = PatchUserRequest,
    params(("id" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user as changed", body = AccountDto),
        (status = 403, description = "`forbidden`: not someone the caller manages, or a field a manager may not change", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`not_found`", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn patch(
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: PatchUserRequest = read_json(&req, payload, USER_BODY_LIMIT).await?;
    let (updated, devices) = change_user(&caller.principal, &state, &path, body).await?;
    Ok(HttpResponse::Ok().json(account_dto(&updated, &devices)))
}

/// Changes a user as `by` (the API's and the console's way); the user as
/// changed, and their devices.
pub(crate) async fn change_user(
    by: &Principal,
    state: &web::Data<AppState>,
    id: &str,
    body: PatchUserRequest,
) -> Result<(User, Vec<BoundDevice>), ApiError> {
    let user = managed_user(by, state, id).await?;
    if by.role == Role::Manager && (body.role.is_some() || body.centre_id.is_some()) {
        return Err(not_managed(by, &user));
    }
    // Nobody locks themselves out: another admin must do it.
    let changes_own_access = body.disabled == Some(true)
        || body.role.as_deref().is_some_and(|r| r != user.role.name())
        || body
            .centre_id
            .as_ref()
            .is_some_and(|c| *c != user.centre_id);
    if user.id == by.user_id && changes_own_access {
        return Err(ApiError::forbidden(
            "you may not disable yourself or change your own role or centre; ask another admin",
        ));
    }
    if let Some(name) = &body.display_name {
        accounts::check_text("display_name", name).map_err(refuse)?;
    }
    if let Some(password) = &body.password {
        accounts::check_password(password).map_err(refuse)?;
    }
    let role = body
        .role
        .as_deref()
        .map(|r| r.parse::<Role>().map_err(|_| refuse(AccountError::BadRole)))
        .transpose()?;
    let centre_after = body.centre_id.clone().unwrap_or(user.centre_id.clone());
    accounts::check_role_centre(role.unwrap_or(user.role), centre_after.as_deref())
        .map_err(refuse)?;
    let password_hash = match body.password {
        Some(p) => Some(
            state
                .hasher
                .hash(p)
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let patch = UserPatch {
        display_name: body.display_name,
        disabled: body.disabled,
        password_hash,
        role,
        centre_id: body.centre_id,
    };
    let revokes = patch.revokes(&user);
    let store = state.store.clone();
    let id = user.id;
    let updated = blocking(move || Ok(store.update_user(id, &patch)?)).await?;
    let updated = match updated {
        UpdateUser::Updated(u) => u,
        UpdateUser::NotFound => return Err(ApiError::not_found(format!("no user {id}"))),
        UpdateUser::UnknownCentre => {
            return Err(refuse(AccountError::UnknownCentre(
                centre_after.unwrap_or_default(),
            )))
        }
    };
    tracing::info!(target: "audit", by = %by.user_id, user = %updated.id, disabled = updated.disabled, revoked = revokes, "user changed");
    let store = state.store.clone();
    let devices = blocking(move || Ok(store.user_devices(id)?)).await?;
    Ok((updated, devices))
}

#[utoipa::path(delete, path = "/v1/admin/users/{id}/devices/{device_id}", tag = "accounts",
    params(("id" = String, Path, description = "The user's id"), ("device_id" = String, Path, description = "The device's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Unbound; the device's logins are revoked and its sequence kept"),
        (status = 403, description = "`forbidden`", content_type = "application/problem+json", body = Problem),
        (status = 404, description = "`not_found`: no such user, or the device is not bound to them", content_type = "application/problem+json", body = Problem),
    ))]
pub async fn unbind(
    caller: Caller,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, device_id) = path.into_inner();
    unbind_device(&caller.principal, &state, &user_id, &device_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Unbinds a device of a user `by` manages (the API's and the console's way).
pub(crate) async fn unbind_device(
    by: &Principal,
    state: &web::Data<AppState>,
    user_id: &str,
    device_id: &str,
) -> Result<(), ApiError> {
    let user = managed_user(by, state, user_id).await?;
    let device_id = canonical_path_id(device_id, "device")?;
    let store = state.store.clone();
    let id = user.id;
    let unbound = blocking(move || Ok(store.unbind_device(id, device_id)?)).await?;
    if !unbound {
        return Err(ApiError::not_found(format!(
            "device {device_id} is not bound to user {id}"
        )));
    }
    tracing::info!(target: "audit", by = %by.user_id, user = %id, device = %device_id, "device unbound");
    Ok(())
}
