//! What the operator commands of `asa-server` do (`user ...`, `centre ...`),
//! on the store directly: for the machine's administrator, who needs no
//! token (and may have locked every admin out).

use anyhow::{anyhow, bail, Context};
use uuid::Uuid;

use crate::accounts::{self, AccountError};
use crate::auth::password;
use crate::store::{Centre, Store, UpdateUser, User, UserPatch, UserQuery};

fn find_user(store: &dyn Store, username: &str) -> anyhow::Result<User> {
    store
        .user_by_name(username)?
        .ok_or_else(|| anyhow!("there is no user {username:?}"))
}

fn account_error(e: AccountError) -> anyhow::Error {
    anyhow!("{e} ({})", e.code())
}

pub fn add_user(
    store: &dyn Store,
    username: &str,
    password: &str,
    role: &str,
    centre: Option<&str>,
    display_name: Option<&str>,
) -> anyhow::Result<User> {
    accounts::create_user(store, username, password, role, centre, display_name)
        .map_err(account_error)
}

/// One line per user: username, role, centre, state, display name.
pub fn list_users(store: &dyn Store, centre: Option<&str>) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_users(&UserQuery {
            centre_id: centre.map(str::to_owned),
            role: None,
            after: after.clone(),
            limit: 500,
        })?;
        for (user, devices) in &page.users {
            lines.push(format!(
                "{}\t{}\t{}\t{}\t{} device(s)\t{}",
                user.username,
                user.role,
                user.centre_id.as_deref().unwrap_or("-"),
                if user.disabled { "disabled" } else { "active" },
                devices.len(),
                user.display_name,
            ));
        }
        if !page.has_more {
            return Ok(lines);
        }
        after = page.users.last().map(|(u, _)| u.username.to_lowercase());
    }
}

fn patch_user(store: &dyn Store, username: &str, patch: UserPatch) -> anyhow::Result<User> {
    let user = find_user(store, username)?;
    match store.update_user(user.id, &patch)? {
        UpdateUser::Updated(u) => Ok(u),
        UpdateUser::NotFound => bail!("there is no user {username:?}"),
        UpdateUser::UnknownCentre => bail!("that centre does not exist"),
    }
}

/// Disables or enables a user; disabling ends every login at once.
pub fn set_disabled(store: &dyn Store, username: &str, disabled: bool) -> anyhow::Result<User> {
    patch_user(
        store,
        username,
        UserPatch {
            disabled: Some(disabled),
            ..UserPatch::default()
        },
    )
}

/// Sets a new password and ends every login of the user.
pub fn set_password(store: &dyn Store, username: &str, new: &str) -> anyhow::Result<User> {
    accounts::check_password(new).map_err(account_error)?;
    let hash = password::hash(new).context("hashing the password")?;
    patch_user(
        store,
        username,
        UserPatch {
            password_hash: Some(hash),
            ..UserPatch::default()
        },
    )
}

/// Unbinds one device of a user, or every device when `device` is `None`.
pub fn unbind(store: &dyn Store, username: &str, device: Option<Uuid>) -> anyhow::Result<usize> {
    let user = find_user(store, username)?;
    let devices: Vec<Uuid> = match device {
        Some(d) => vec![d],
        None => store
            .user_devices(user.id)?
            .into_iter()
            .map(|d| d.device_id)
            .collect(),
    };
    let mut unbound = 0;
    for d in devices {
        if store.unbind_device(user.id, d)? {
            unbound += 1;
        } else {
            bail!("device {d} is not bound to {username:?}");
        }
    }
    Ok(unbound)
}

pub fn add_centre(
    store: &dyn Store,
    code: &str,
    name: &str,
    province: &str,
    district: &str,
) -> anyhow::Result<Centre> {
    accounts::check_centre_code(code).map_err(account_error)?;
    for (field, text) in [
        ("name", name),
        ("province", province),
        ("district", district),
    ] {
        accounts::check_text(field, text).map_err(account_error)?;
    }
    let centre = Centre {
        code: code.to_owned(),
        name: name.to_owned(),
        province: province.to_owned(),
        district: district.to_owned(),
    };
    if !store.create_centre(&centre)? {
        bail!("centre {code:?} exists already");
    }
    Ok(centre)
}

pub fn list_centres(store: &dyn Store) -> anyhow::Result<Vec<String>> {
    Ok(store
        .list_centres(None)?
        .into_iter()
        .map(|c| format!("{}\t{}\t{}\t{}", c.code, c.name, c.province, c.district))
        .collect())
}
