//! What the operator commands of `asa-server` do (`user ...`, `centre ...`),
//! on the store directly: for the machine's administrator, who needs no
//! token (and may have locked every admin out).

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};
use sync_core::Hlc;
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

/// A span of time as the retention command takes it: `5y`, `18m` (months),
/// `90d`; years of 365 days, months of 30.
pub fn parse_age(text: &str) -> anyhow::Result<chrono::Duration> {
    let text = text.trim();
    let unit_len = text.chars().last().map_or(0, char::len_utf8);
    let (number, unit) = text.split_at(text.len() - unit_len);
    let n: i64 = number.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        anyhow!("{text:?} is not an age: write a number and y, m or d (5y, 18m, 90d)")
    })?;
    let days = match unit {
        "y" => n.checked_mul(365),
        "m" => n.checked_mul(30),
        "d" => Some(n),
        _ => None,
    }
    .filter(|d| *d <= 365 * 200)
    .ok_or_else(|| {
        anyhow!("{text:?} is not an age: write a number and y, m or d (5y, 18m, 90d)")
    })?;
    Ok(chrono::Duration::days(days))
}

/// When a person (all their records) was last seen.
#[derive(Default)]
struct Seen {
    last_session_on: Option<String>,
    version: Option<Hlc>,
    records: Vec<Uuid>,
}

/// The people the retention rule erases at `now_ms`, each as the records
/// that are one person (merged into one another, sorted): no session
/// linking any of them started on or after the cutoff, and (for someone
/// never linked to a session) none of their records was last written
/// after it. Returns the cutoff day too.
pub fn retention_due(
    store: &dyn Store,
    older_than: chrono::Duration,
    now_ms: u64,
) -> anyhow::Result<(String, Vec<Vec<Uuid>>)> {
    let now = chrono::DateTime::from_timestamp_millis(i64::try_from(now_ms).unwrap_or(i64::MAX))
        .ok_or_else(|| anyhow!("the clock is out of range"))?;
    let cutoff = now - older_than;
    // Session dates are the volunteer's local dates (Thailand, UTC+7).
    let cutoff_day = (cutoff + chrono::Duration::hours(7))
        .format("%Y-%m-%d")
        .to_string();
    let cutoff_ms = u64::try_from(cutoff.timestamp_millis()).unwrap_or(0);
    let people = store.people()?;
    let mut seen: BTreeMap<Uuid, Seen> = BTreeMap::new();
    for record in store.people_last_seen()? {
        let person = seen.entry(people.person(record.id)).or_default();
        person.last_session_on = person.last_session_on.take().max(record.last_session_on);
        person.version = person.version.max(record.version);
        person.records.push(record.id);
    }
    let due = seen
        .into_values()
        .filter(|p| match &p.last_session_on {
            Some(day) => day.as_str() < cutoff_day.as_str(),
            None => p.version.is_none_or(|v| v.wall_ms() < cutoff_ms),
        })
        .map(|mut p| {
            p.records.sort_unstable();
            p.records
        })
        .collect();
    Ok((cutoff_day, due))
}

/// Erases `people` as the server (the retention rule, not a user), each
/// person's records in one transaction, then settles the store's files
/// once. Returns the number of records erased.
pub fn erase_people(store: &dyn Store, people: &[Vec<Uuid>], now_ms: u64) -> anyhow::Result<usize> {
    let at = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
    let mut erased = 0;
    for records in people {
        let mut done = 0;
        store.push(&mut |tx| {
            done = 0;
            for &id in records {
                let erasure = crate::sync::erasure::erase(tx, id, Uuid::max(), at, now_ms)
                    .map_err(|e| match e {
                        crate::sync::server_change::ServerChangeError::Store(e) => e,
                        other => crate::store::StoreError::Corrupt(format!("{id}: {other}")),
                    })?;
                done += usize::from(erasure.is_some());
            }
            Ok(())
        })?;
        erased += done;
        for id in records {
            tracing::info!(target: "audit", record = %id, "beneficiary erased by the retention rule");
        }
    }
    store.settle_erasure()?;
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_years_months_or_days() {
        assert_eq!(parse_age("5y").unwrap(), chrono::Duration::days(5 * 365));
        assert_eq!(parse_age("18m").unwrap(), chrono::Duration::days(540));
        assert_eq!(parse_age("90d").unwrap(), chrono::Duration::days(90));
        for bad in ["", "y", "5", "0y", "-1y", "5w", "99999y", "๕y", "y๕", "5ปี"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }
}
