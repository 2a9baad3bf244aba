//! Accounts, centres, logins, devices and console sessions on PostgreSQL:
//! the same rules as `store/sqlite/accounts.rs`, statement for statement.
//!
//! SQLite keeps these rules by having one writer; here several servers
//! write at once, so each rule that reads before it writes holds a lock on
//! what it read until it commits:
//! - `update_user` reads the user `FOR UPDATE`, so two patches of one user
//!   queue and each decides what it revokes from the state the other left;
//! - `reserve_login` takes transaction-scoped advisory locks on the
//!   username and on the address before it counts, so attempts for either
//!   are counted and reserved one at a time;
//! - `bind_device` reads the device `FOR UPDATE`, and a device first seen
//!   by two servers at once is inserted by one of them (`ON CONFLICT DO
//!   NOTHING`) while the other decides again on the row it finds;
//! - `rotate_refresh_token` locks the token's family first, so every
//!   rotation of one login runs one at a time and reads the tokens as the
//!   previous one left them.
//!
//! Text is ordered and case-folded as SQLite does it (`COLLATE "C"`: bytes,
//! ASCII-only case), whatever the database's locale.

use std::collections::HashMap;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Transaction};
use sync_core::Role;
use uuid::Uuid;

use super::{map_err, text, unsigned};
use crate::store::{
    AttemptCounts, BindOutcome, BoundDevice, Centre, CentrePatch, CreateUser, DeviceRow,
    LoginState, RotateOutcome, StoreError, TokenRow, UpdateUser, User, UserPage, UserPatch,
    UserQuery, WebSession,
};

const USER_COLUMNS: &str = "id, username, display_name, password_hash, role, centre_id, disabled";

/// [`USER_COLUMNS`] of `users u`, first in a joined row.
const U_COLUMNS: &str =
    "u.id, u.username, u.display_name, u.password_hash, u.role, u.centre_id, u.disabled";

/// The advisory lock spaces (two-key form) of login attempts: one per
/// lowercased username, one per address.
const USERNAME_LOCKS: i32 = 0x4153_0001;
const ADDRESS_LOCKS: i32 = 0x4153_0002;

/// The user in the row's [`USER_COLUMNS`], from column `at` on.
fn user_from(r: &Row, at: usize) -> Result<User, StoreError> {
    let role: String = r.get(at + 4);
    Ok(User {
        id: r.get(at),
        username: r.get(at + 1),
        display_name: r.get(at + 2),
        password_hash: r.get(at + 3),
        role: role
            .parse::<Role>()
            .map_err(|_| StoreError::Corrupt(format!("unknown stored role {role:?}")))?,
        centre_id: r.get(at + 5),
        disabled: r.get(at + 6),
    })
}

fn user_where(
    c: &mut impl GenericClient,
    condition: &str,
    param: &(dyn ToSql + Sync),
) -> Result<Option<User>, StoreError> {
    c.query_opt(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}"),
        &[param],
    )
    .map_err(map_err)?
    .map(|r| user_from(&r, 0))
    .transpose()
}

/// Whether the centre exists; its row is share-locked until commit, so it
/// cannot go (or change its code) under a user being given it.
fn centre_known(c: &mut impl GenericClient, code: &str) -> Result<bool, StoreError> {
    let code = &*text(code);
    Ok(c.query_opt(
        "SELECT 1 FROM centres WHERE code = $1 FOR KEY SHARE",
        &[&code],
    )
    .map_err(map_err)?
    .is_some())
}

/// Whether an insert failed on the case-insensitive username index.
fn username_taken(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error().and_then(|d| d.constraint()) == Some("users_by_name")
}

pub(super) fn create_user(c: &mut Client, user: &User) -> Result<CreateUser, StoreError> {
    let mut tx = c.transaction().map_err(map_err)?;
    if let Some(centre) = &user.centre_id {
        if !centre_known(&mut tx, centre)? {
            return Ok(CreateUser::UnknownCentre);
        }
    }
    let taken = tx
        .query_opt(
            "SELECT 1 FROM users WHERE lower(username COLLATE \"C\") = lower($1::text COLLATE \"C\")",
            &[&user.username],
        )
        .map_err(map_err)?
        .is_some();
    if taken {
        return Ok(CreateUser::UsernameTaken);
    }
    let inserted = tx.execute(
        "INSERT INTO users (id, username, display_name, password_hash, role, centre_id, disabled, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, floor(extract(epoch FROM now()))::bigint)",
        &[
            &user.id,
            &user.username,
            &user.display_name,
            &user.password_hash,
            &user.role.name(),
            &user.centre_id,
            &user.disabled,
        ],
    );
    match inserted {
        // Another server created the name since the check above.
        Err(e) if username_taken(&e) => return Ok(CreateUser::UsernameTaken),
        other => other.map_err(map_err)?,
    };
    tx.commit().map_err(map_err)?;
    Ok(CreateUser::Created(user.clone()))
}

pub(super) fn user_by_name(c: &mut Client, username: &str) -> Result<Option<User>, StoreError> {
    let username = &*text(username);
    // The expression of the unique index `users_by_name`.
    user_where(
        c,
        "lower(username COLLATE \"C\") = lower($1::text COLLATE \"C\")",
        &username,
    )
}

pub(super) fn user_by_id(c: &mut Client, id: Uuid) -> Result<Option<User>, StoreError> {
    user_where(c, "id = $1", &id)
}

pub(super) fn list_users(c: &mut Client, q: &UserQuery) -> Result<UserPage, StoreError> {
    let centre_filter = q.centre_id.as_deref().map(|c| text(c).into_owned());
    let after_filter = q.after.as_deref().map(|a| text(a).into_owned());
    let role = q.role.map(Role::name);
    let limit = i64::try_from(q.limit.saturating_add(1)).unwrap_or(i64::MAX);
    let mut sql = format!("SELECT {USER_COLUMNS} FROM users WHERE true");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if let Some(centre) = &centre_filter {
        params.push(centre);
        sql.push_str(&format!(" AND centre_id = ${}", params.len()));
    }
    if let Some(role) = &role {
        params.push(role);
        sql.push_str(&format!(" AND role = ${}", params.len()));
    }
    if let Some(after) = &after_filter {
        params.push(after);
        sql.push_str(&format!(
            " AND lower(username COLLATE \"C\") > ${}",
            params.len()
        ));
    }
    params.push(&limit);
    sql.push_str(&format!(
        " ORDER BY lower(username COLLATE \"C\") LIMIT ${}",
        params.len()
    ));
    let rows = c.query(&sql, &params).map_err(map_err)?;
    let has_more = rows.len() > q.limit;
    let users = rows
        .iter()
        .take(q.limit)
        .map(|r| user_from(r, 0))
        .collect::<Result<Vec<User>, StoreError>>()?;
    // Every listed user's devices in one statement, not one per user.
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let mut devices: HashMap<Uuid, Vec<BoundDevice>> = HashMap::new();
    for r in c
        .query(
            "SELECT user_id, device_id, bound_at, last_seen_at FROM devices
             WHERE user_id = ANY($1) ORDER BY key",
            &[&ids],
        )
        .map_err(map_err)?
    {
        devices.entry(r.get(0)).or_default().push(BoundDevice {
            device_id: r.get(1),
            bound_at: r.get(2),
            last_seen_at: r.get(3),
        });
    }
    let users = users
        .into_iter()
        .map(|u| {
            let bound = devices.remove(&u.id).unwrap_or_default();
            (u, bound)
        })
        .collect();
    Ok(UserPage { users, has_more })
}

pub(super) fn user_devices(c: &mut Client, user_id: Uuid) -> Result<Vec<BoundDevice>, StoreError> {
    let rows = c
        .query(
            "SELECT device_id, bound_at, last_seen_at FROM devices WHERE user_id = $1 ORDER BY key",
            &[&user_id],
        )
        .map_err(map_err)?;
    Ok(rows
        .iter()
        .map(|r| BoundDevice {
            device_id: r.get(0),
            bound_at: r.get(1),
            last_seen_at: r.get(2),
        })
        .collect())
}

pub(super) fn update_user(
    c: &mut Client,
    id: Uuid,
    patch: &UserPatch,
) -> Result<UpdateUser, StoreError> {
    let mut tx = c.transaction().map_err(map_err)?;
    // Locked until commit: a concurrent patch of this user waits, then
    // decides what it revokes from the state this one leaves.
    let Some(before) = user_where(&mut tx, "id = $1 FOR UPDATE", &id)? else {
        return Ok(UpdateUser::NotFound);
    };
    if let Some(Some(centre)) = &patch.centre_id {
        if !centre_known(&mut tx, centre)? {
            return Ok(UpdateUser::UnknownCentre);
        }
    }
    let after = patch.apply(&before);
    tx.execute(
        "UPDATE users SET display_name = $2, disabled = $3, password_hash = $4, role = $5, centre_id = $6
         WHERE id = $1",
        &[
            &id,
            &after.display_name,
            &after.disabled,
            &after.password_hash,
            &after.role.name(),
            &after.centre_id,
        ],
    )
    .map_err(map_err)?;
    // Devices before refresh families, in the order binding and unbinding
    // take them, so that neither waits for the other in a cycle.
    tx.execute(
        "SELECT 1 FROM devices WHERE user_id = $1 ORDER BY key FOR UPDATE",
        &[&id],
    )
    .map_err(map_err)?;
    if patch.revokes(&before) {
        tx.execute(
            "UPDATE refresh_families SET revoked = true WHERE user_id = $1",
            &[&id],
        )
        .map_err(map_err)?;
        tx.execute("DELETE FROM web_sessions WHERE user_id = $1", &[&id])
            .map_err(map_err)?;
    }
    if patch.changes_scope(&before) {
        tx.execute(
            "UPDATE devices SET resync = resync + 1 WHERE user_id = $1",
            &[&id],
        )
        .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)?;
    Ok(UpdateUser::Updated(after))
}

pub(super) fn display_names(
    c: &mut Client,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, String>, StoreError> {
    let rows = c
        .query(
            "SELECT id, display_name FROM users WHERE id = ANY($1)",
            &[&ids],
        )
        .map_err(map_err)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(super) fn create_centre(c: &mut Client, centre: &Centre) -> Result<bool, StoreError> {
    let inserted = c
        .execute(
            "INSERT INTO centres (code, name, province, district, created_at)
             VALUES ($1, $2, $3, $4, floor(extract(epoch FROM now()))::bigint)
             ON CONFLICT (code) DO NOTHING",
            &[
                &centre.code,
                &centre.name,
                &centre.province,
                &centre.district,
            ],
        )
        .map_err(map_err)?;
    Ok(inserted == 1)
}

pub(super) fn update_centre(
    c: &mut Client,
    code: &str,
    patch: &CentrePatch,
) -> Result<Option<Centre>, StoreError> {
    let code = &*text(code);
    // One statement reads and writes the row under its lock (SQLite: a
    // read, then a write, in one transaction).
    let row = c
        .query_opt(
            "UPDATE centres SET name = coalesce($2, name), province = coalesce($3, province),
               district = coalesce($4, district)
             WHERE code = $1 RETURNING code, name, province, district",
            &[&code, &patch.name, &patch.province, &patch.district],
        )
        .map_err(map_err)?;
    Ok(row.map(|r| Centre {
        code: r.get(0),
        name: r.get(1),
        province: r.get(2),
        district: r.get(3),
    }))
}

pub(super) fn list_centres(c: &mut Client, only: Option<&str>) -> Result<Vec<Centre>, StoreError> {
    let only = only.map(text);
    let only = only.as_deref();
    let rows = c
        .query(
            "SELECT code, name, province, district FROM centres
             WHERE $1::text IS NULL OR code = $1 ORDER BY code COLLATE \"C\"",
            &[&only],
        )
        .map_err(map_err)?;
    Ok(rows
        .iter()
        .map(|r| Centre {
            code: r.get(0),
            name: r.get(1),
            province: r.get(2),
            district: r.get(3),
        })
        .collect())
}

/// A count as the store's `u32` counts.
fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX })
}

pub(super) fn reserve_login(
    c: &mut Client,
    username: &str,
    address: &str,
    now: i64,
    since: i64,
    judge: &dyn Fn(&AttemptCounts) -> Option<u64>,
) -> Result<Result<i64, u64>, StoreError> {
    let (username, address) = (&*text(username), &*text(address));
    let mut tx = c.transaction().map_err(map_err)?;
    // Held until commit: reservations for this username, or from this
    // address, are counted one at a time, each after the one before has
    // recorded its attempt. Every reservation takes the username's lock
    // before the address's, and both before the DELETE below locks any
    // row, so two reservations cannot deadlock on them.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(lower($2::text))),
                pg_advisory_xact_lock($3, hashtext($4::text))",
        &[&USERNAME_LOCKS, &username, &ADDRESS_LOCKS, &address],
    )
    .map_err(map_err)?;
    tx.execute("DELETE FROM login_attempts WHERE at < $1", &[&since])
        .map_err(map_err)?;
    // `at >= since` as well: another server may have recorded an attempt
    // older than this one's window since the delete.
    let row = tx
        .query_one(
            "SELECT count(*), min(at) FROM login_attempts WHERE address = $1 AND at >= $2",
            &[&address, &since],
        )
        .map_err(map_err)?;
    let (address_count, address_oldest_at): (i64, Option<i64>) = (row.get(0), row.get(1));
    let row = tx
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE address = $2), max(at) FROM login_attempts
             WHERE lower(username COLLATE \"C\") = lower($1::text COLLATE \"C\") AND at >= $3",
            &[&username, &address, &since],
        )
        .map_err(map_err)?;
    let (username_count, from_address, latest): (i64, i64, Option<i64>) =
        (row.get(0), row.get(1), row.get(2));
    let counts = AttemptCounts {
        address: count(address_count),
        address_oldest_at: address_oldest_at.unwrap_or(now),
        username: count(username_count),
        username_from_address: count(from_address),
        username_latest_at: latest.unwrap_or(now),
    };
    if let Some(wait) = judge(&counts) {
        return Ok(Err(wait));
    }
    let id: i64 = tx
        .query_one(
            "INSERT INTO login_attempts (username, address, at, pending) VALUES ($1, $2, $3, true)
             RETURNING id",
            &[&username, &address, &now],
        )
        .map_err(map_err)?
        .get(0);
    tx.commit().map_err(map_err)?;
    Ok(Ok(id))
}

pub(super) fn finish_login(
    c: &mut Client,
    attempt: i64,
    succeeded: bool,
) -> Result<(), StoreError> {
    if succeeded {
        c.execute(
            "DELETE FROM login_attempts WHERE id = $1 OR id IN (
               SELECT o.id FROM login_attempts o JOIN login_attempts a
               ON a.id = $1 AND lower(o.username COLLATE \"C\") = lower(a.username COLLATE \"C\") AND o.address = a.address)",
            &[&attempt],
        )
    } else {
        c.execute(
            "UPDATE login_attempts SET pending = false WHERE id = $1",
            &[&attempt],
        )
    }
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn bind_device(
    c: &mut Client,
    device_id: Uuid,
    user: &User,
    now: i64,
    may_take_over: &dyn Fn(&User) -> bool,
) -> Result<BindOutcome, StoreError> {
    let mut tx = c.transaction().map_err(map_err)?;
    // A device no server has seen may be inserted by another one between
    // the read and the insert; the second round reads (and locks) its row.
    let mut rounds = 0;
    let outcome = loop {
        rounds += 1;
        let owner: Option<Option<Uuid>> = tx
            .query_opt(
                "SELECT user_id FROM devices WHERE device_id = $1 FOR UPDATE",
                &[&device_id],
            )
            .map_err(map_err)?
            .map(|r| r.get(0));
        match owner {
            None => {
                let inserted = tx
                    .execute(
                        "INSERT INTO devices (device_id, user_id, bound_at, last_seen_at) VALUES ($1, $2, $3, $3)
                         ON CONFLICT (device_id) DO NOTHING",
                        &[&device_id, &user.id, &now],
                    )
                    .map_err(map_err)?;
                if inserted == 1 {
                    break BindOutcome::Bound;
                }
                if rounds >= 3 {
                    return Err(StoreError::Busy);
                }
            }
            Some(Some(owner)) if owner == user.id => {
                tx.execute(
                    "UPDATE devices SET last_seen_at = $2 WHERE device_id = $1",
                    &[&device_id, &now],
                )
                .map_err(map_err)?;
                break BindOutcome::Bound;
            }
            Some(owner) => {
                let previous = match owner {
                    Some(id) => user_where(&mut tx, "id = $1", &id)?,
                    None => None,
                };
                if previous.as_ref().is_some_and(|p| !may_take_over(p)) {
                    return Ok(BindOutcome::OwnedByOther);
                }
                // The device's pulled data was another user's scope: it pulls
                // again from the beginning. Its sequence (acked_seq) is kept.
                tx.execute(
                    "UPDATE devices SET user_id = $2, bound_at = $3, last_seen_at = $3, resync = resync + 1
                     WHERE device_id = $1",
                    &[&device_id, &user.id, &now],
                )
                .map_err(map_err)?;
                tx.execute(
                    "UPDATE refresh_families SET revoked = true WHERE device_id = $1 AND user_id <> $2",
                    &[&device_id, &user.id],
                )
                .map_err(map_err)?;
                break if previous.is_some() {
                    BindOutcome::TookOver
                } else {
                    BindOutcome::Bound
                };
            }
        }
    };
    tx.commit().map_err(map_err)?;
    Ok(outcome)
}

pub(super) fn unbind_device(
    c: &mut Client,
    user_id: Uuid,
    device_id: Uuid,
) -> Result<bool, StoreError> {
    let mut tx = c.transaction().map_err(map_err)?;
    let unbound = tx
        .execute(
            "UPDATE devices SET user_id = NULL WHERE device_id = $1 AND user_id = $2",
            &[&device_id, &user_id],
        )
        .map_err(map_err)?;
    if unbound != 1 {
        // Not this user's device: nothing may change, its logins included.
        return Ok(false);
    }
    tx.execute(
        "UPDATE refresh_families SET revoked = true WHERE device_id = $1",
        &[&device_id],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(true)
}

pub(super) fn create_refresh_token(
    c: &mut Client,
    hash: &[u8; 32],
    user_id: Uuid,
    device_id: Uuid,
    expires_at: i64,
    now: i64,
) -> Result<i64, StoreError> {
    let mut tx = c.transaction().map_err(map_err)?;
    let family: i64 = tx
        .query_one(
            "INSERT INTO refresh_families (user_id, device_id, created_at) VALUES ($1, $2, $3)
             RETURNING id",
            &[&user_id, &device_id, &now],
        )
        .map_err(map_err)?
        .get(0);
    tx.execute(
        "INSERT INTO refresh_tokens (hash, family_id, expires_at) VALUES ($1, $2, $3)",
        &[&&hash[..], &family, &expires_at],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(family)
}

pub(super) fn rotate_refresh_token(
    c: &mut Client,
    old: &[u8; 32],
    new: &[u8; 32],
    device_id: Option<Uuid>,
    now: i64,
    new_expires_at: i64,
    grace_secs: i64,
) -> Result<RotateOutcome, StoreError> {
    let mut tx = c.transaction().map_err(map_err)?;
    // The family first, locked until commit: every rotation of this login
    // waits for the one before it. Only then the token, read afresh (READ
    // COMMITTED: this statement sees what the one before committed).
    let family = tx
        .query_opt(
            "SELECT id, revoked, user_id, device_id FROM refresh_families
             WHERE id = (SELECT family_id FROM refresh_tokens WHERE hash = $1)
             FOR UPDATE",
            &[&&old[..]],
        )
        .map_err(map_err)?;
    let Some(family) = family else {
        return Ok(RotateOutcome::Unknown);
    };
    let token = tx
        .query_opt(
            "SELECT used_at, successor, graced, expires_at FROM refresh_tokens WHERE hash = $1",
            &[&&old[..]],
        )
        .map_err(map_err)?;
    let Some(token) = token else {
        // Deleted (a successor revoked in a grace window) while we waited.
        return Ok(RotateOutcome::Unknown);
    };
    let t = TokenRow {
        family: family.get(0),
        revoked: family.get(1),
        user_id: family.get(2),
        device_id: family.get(3),
        used_at: token.get(0),
        successor: token.get(1),
        graced: token.get(2),
        expires_at: token.get(3),
    };
    let issue = |tx: &mut Transaction<'_>| -> Result<(), StoreError> {
        tx.execute(
            "UPDATE refresh_tokens SET used_at = $2, successor = $3 WHERE hash = $1",
            &[&&old[..], &now, &&new[..]],
        )
        .map_err(map_err)?;
        tx.execute(
            "INSERT INTO refresh_tokens (hash, family_id, expires_at) VALUES ($1, $2, $3)",
            &[&&new[..], &t.family, &new_expires_at],
        )
        .map_err(map_err)?;
        Ok(())
    };
    let rotated = RotateOutcome::Rotated {
        user_id: t.user_id,
        device_id: t.device_id,
        family: t.family,
    };
    let outcome = if t.revoked {
        RotateOutcome::Revoked
    } else if t.used_at.is_none() {
        if t.expires_at <= now {
            RotateOutcome::Expired
        } else {
            issue(&mut tx)?;
            rotated
        }
    } else if in_grace(&mut tx, &t, device_id, now, grace_secs)? {
        // The successor's answer was lost: revoke it, hand out a new one once.
        if let Some(successor) = &t.successor {
            tx.execute("DELETE FROM refresh_tokens WHERE hash = $1", &[successor])
                .map_err(map_err)?;
        }
        tx.execute(
            "UPDATE refresh_tokens SET graced = true WHERE hash = $1",
            &[&&old[..]],
        )
        .map_err(map_err)?;
        issue(&mut tx)?;
        rotated
    } else {
        // A spent token presented again means it leaked: end the login.
        tx.execute(
            "UPDATE refresh_families SET revoked = true WHERE id = $1",
            &[&t.family],
        )
        .map_err(map_err)?;
        RotateOutcome::Reused
    };
    tx.commit().map_err(map_err)?;
    Ok(outcome)
}

/// Whether a spent token may be spent again: once, soon after, from its own
/// device, and only while the token that replaced it was never used.
fn in_grace(
    tx: &mut Transaction<'_>,
    t: &TokenRow,
    device_id: Option<Uuid>,
    now: i64,
    grace_secs: i64,
) -> Result<bool, StoreError> {
    let Some(successor) = t.grace_successor(device_id, now, grace_secs) else {
        return Ok(false);
    };
    let successor_unused: Option<bool> = tx
        .query_opt(
            "SELECT used_at IS NULL FROM refresh_tokens WHERE hash = $1",
            &[&successor],
        )
        .map_err(map_err)?
        .map(|r| r.get(0));
    Ok(successor_unused == Some(true))
}

pub(super) fn login_state(c: &mut Client, family: i64) -> Result<Option<LoginState>, StoreError> {
    let row = c
        .query_opt(
            "SELECT f.revoked, u.disabled, d.user_id, d.resync, d.last_seen_at, d.acked_seq
             FROM refresh_families f JOIN users u ON u.id = f.user_id
             LEFT JOIN devices d ON d.device_id = f.device_id
             WHERE f.id = $1",
            &[&family],
        )
        .map_err(map_err)?;
    Ok(row.map(|r| LoginState {
        revoked: r.get(0),
        user_disabled: r.get(1),
        device_owner: r.get(2),
        resync: r.get::<_, Option<i64>>(3).unwrap_or(0),
        last_seen_at: r.get(4),
        acked_seq: unsigned(r.get::<_, Option<i64>>(5).unwrap_or(0)),
    }))
}

pub(super) fn list_devices(
    c: &mut Client,
    centre: Option<&str>,
    since: i64,
) -> Result<Vec<DeviceRow>, StoreError> {
    let centre = centre.map(text);
    let centre = centre.as_deref();
    // `lower(... COLLATE "C")`: ASCII-only folding and byte order, as
    // SQLite's lower() and BINARY collation.
    let rows = c
        .query(
            &format!(
                "SELECT {U_COLUMNS}, d.device_id, d.last_seen_at, d.last_push_at, d.acked_seq, d.clock_offset_ms,
                   (SELECT count(*) FROM rejections r WHERE r.device_key = d.key AND r.rejected_at >= $2),
                   d.bound_at
                 FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE $1::text IS NULL OR u.centre_id = $1
                 ORDER BY lower(u.display_name COLLATE \"C\"), d.key"
            ),
            &[&centre, &since],
        )
        .map_err(map_err)?;
    rows.iter()
        .map(|r| {
            Ok(DeviceRow {
                user: user_from(r, 0)?,
                device_id: r.get(7),
                last_seen_at: r.get(8),
                last_push_at: r.get(9),
                acked_seq: unsigned(r.get(10)),
                clock_offset_ms: r.get(11),
                rejections: unsigned(r.get(12)),
                bound_at: r.get(13),
            })
        })
        .collect()
}

pub(super) fn users_matching(
    c: &mut Client,
    centre: Option<&str>,
    text: &str,
) -> Result<Vec<Uuid>, StoreError> {
    let (centre, text) = (centre.map(self::text), self::text(text));
    let (centre, text) = (centre.as_deref(), &*text);
    // ILIKE with the text escaped, so `%` and `_` in a name are literal.
    // Under COLLATE "C" it folds ASCII letters only, as SQLite's LIKE does.
    let pattern = format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows = c
        .query(
            "SELECT id FROM users WHERE ($1::text IS NULL OR centre_id = $1)
             AND ((display_name COLLATE \"C\") ILIKE $2 ESCAPE '\\'
                  OR (username COLLATE \"C\") ILIKE $2 ESCAPE '\\')
             ORDER BY id",
            &[&centre, &pattern],
        )
        .map_err(map_err)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(super) fn create_web_session(
    c: &mut Client,
    hash: &[u8; 32],
    user_id: Uuid,
    csrf: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO web_sessions (hash, user_id, csrf, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)",
        &[&&hash[..], &user_id, &csrf, &now],
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn web_session(
    c: &mut Client,
    hash: &[u8; 32],
    idle_since: i64,
) -> Result<Option<WebSession>, StoreError> {
    // The session, unless it has been idle since before `idle_since`: then
    // it is deleted, in the same statement (the SELECT sees the table as it
    // was before the DELETE, hence the same condition on both).
    let row = c
        .query_opt(
            &format!(
                "WITH idle AS (DELETE FROM web_sessions WHERE hash = $1 AND last_seen_at < $2)
                 SELECT {U_COLUMNS}, s.csrf, s.last_seen_at FROM web_sessions s
                 JOIN users u ON u.id = s.user_id WHERE s.hash = $1 AND s.last_seen_at >= $2"
            ),
            &[&&hash[..], &idle_since],
        )
        .map_err(map_err)?;
    row.map(|r| {
        Ok(WebSession {
            user: user_from(&r, 0)?,
            csrf: r.get(7),
            last_seen_at: r.get(8),
        })
    })
    .transpose()
}

pub(super) fn touch_web_session(
    c: &mut Client,
    hash: &[u8; 32],
    now: i64,
    idle_since: i64,
) -> Result<(), StoreError> {
    let mut tx = c.transaction().map_err(map_err)?;
    tx.execute(
        "UPDATE web_sessions SET last_seen_at = $2 WHERE hash = $1",
        &[&&hash[..], &now],
    )
    .map_err(map_err)?;
    // Sessions idle past expiry are forgotten as the others are used.
    tx.execute(
        "DELETE FROM web_sessions WHERE last_seen_at < $1",
        &[&idle_since],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(())
}
