//! Users, centres, devices, logins and login throttling on SQLite.

use std::collections::HashMap;

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use sync_core::Role;
use uuid::Uuid;

use super::{map_err, uuid_col};
use crate::store::{
    AttemptCounts, BindOutcome, BoundDevice, Centre, CentrePatch, CreateUser, DeviceRow,
    LoginState, RotateOutcome, StoreError, TokenRow, UpdateUser, User, UserPage, UserPatch,
    UserQuery, WebSession,
};

const USER_COLUMNS: &str = "\"id\", \"username\", \"display_name\", \"password_hash\", \"role\", \"centre_id\", \"disabled\"";

/// The columns of [`USER_COLUMNS`], as read before they are checked.
type UserRow = (
    Vec<u8>,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
);

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn user_from(row: UserRow) -> Result<User, StoreError> {
    let (id, username, display_name, password_hash, role, centre_id, disabled) = row;
    Ok(User {
        id: uuid_col(id)?,
        username,
        display_name,
        password_hash,
        role: role
            .parse::<Role>()
            .map_err(|_| StoreError::Corrupt(format!("unknown stored role {role:?}")))?,
        centre_id,
        disabled,
    })
}

pub(super) fn user_where(
    c: &Connection,
    condition: &str,
    param: impl rusqlite::ToSql,
) -> Result<Option<User>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM \"users\" WHERE {condition}"
    ))
    .map_err(map_err)?
    .query_row([param], user_row)
    .optional()
    .map_err(map_err)?
    .map(user_from)
    .transpose()
}

fn centre_known(c: &Connection, code: &str) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT 1 FROM \"centres\" WHERE \"code\" = ?1")
        .map_err(map_err)?
        .exists([code])
        .map_err(map_err)
}

pub(super) fn create_user(c: &mut Connection, user: &User) -> Result<CreateUser, StoreError> {
    let tx = c.transaction().map_err(map_err)?;
    if let Some(centre) = &user.centre_id {
        if !centre_known(&tx, centre)? {
            return Ok(CreateUser::UnknownCentre);
        }
    }
    let taken = tx
        .prepare_cached("SELECT 1 FROM \"users\" WHERE \"username\" = ?1 COLLATE NOCASE")
        .map_err(map_err)?
        .exists([&user.username])
        .map_err(map_err)?;
    if taken {
        return Ok(CreateUser::UsernameTaken);
    }
    tx.execute(
        "INSERT INTO \"users\" (\"id\", \"username\", \"display_name\", \"password_hash\", \"role\", \"centre_id\", \"disabled\", \"created_at\")
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, unixepoch())",
        (
            user.id.as_bytes(),
            &user.username,
            &user.display_name,
            &user.password_hash,
            user.role.name(),
            &user.centre_id,
            user.disabled,
        ),
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(CreateUser::Created(user.clone()))
}

pub(super) fn list_users(c: &Connection, q: &UserQuery) -> Result<UserPage, StoreError> {
    let mut sql = format!("SELECT {USER_COLUMNS} FROM \"users\" WHERE 1 = 1");
    let mut params = Vec::new();
    if let Some(centre) = &q.centre_id {
        sql.push_str(" AND \"centre_id\" = ?");
        params.push(Sql::Text(centre.clone()));
    }
    if let Some(role) = q.role {
        sql.push_str(" AND \"role\" = ?");
        params.push(Sql::Text(role.name().to_owned()));
    }
    if let Some(after) = &q.after {
        sql.push_str(" AND lower(\"username\") > ?");
        params.push(Sql::Text(after.clone()));
    }
    sql.push_str(" ORDER BY lower(\"username\") LIMIT ?");
    params.push(Sql::Integer(i64::try_from(q.limit + 1).unwrap_or(i64::MAX)));
    let rows: Vec<UserRow> = c
        .prepare_cached(&sql)
        .map_err(map_err)?
        .query_map(params_from_iter(params), user_row)
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)?;
    let has_more = rows.len() > q.limit;
    let mut users = Vec::with_capacity(rows.len().min(q.limit));
    for row in rows.into_iter().take(q.limit) {
        let user = user_from(row)?;
        let devices = user_devices(c, user.id)?;
        users.push((user, devices));
    }
    Ok(UserPage { users, has_more })
}

pub(super) fn user_devices(c: &Connection, user_id: Uuid) -> Result<Vec<BoundDevice>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT \"device_id\", \"bound_at\", \"last_seen_at\" FROM \"devices\" WHERE \"user_id\" = ?1 ORDER BY \"key\"",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map([user_id.as_bytes()], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })
        .map_err(map_err)?;
    rows.map(|row| {
        let (id, bound_at, last_seen_at) = row.map_err(map_err)?;
        Ok(BoundDevice {
            device_id: uuid_col(id)?,
            bound_at,
            last_seen_at,
        })
    })
    .collect()
}

pub(super) fn update_user(
    c: &mut Connection,
    id: Uuid,
    patch: &UserPatch,
) -> Result<UpdateUser, StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let Some(before) = user_where(&tx, "\"id\" = ?1", id.as_bytes())? else {
        return Ok(UpdateUser::NotFound);
    };
    if let Some(Some(centre)) = &patch.centre_id {
        if !centre_known(&tx, centre)? {
            return Ok(UpdateUser::UnknownCentre);
        }
    }
    let after = patch.apply(&before);
    tx.execute(
        "UPDATE \"users\" SET \"display_name\" = ?2, \"disabled\" = ?3, \"password_hash\" = ?4, \"role\" = ?5, \"centre_id\" = ?6
         WHERE \"id\" = ?1",
        (
            id.as_bytes(),
            &after.display_name,
            after.disabled,
            &after.password_hash,
            after.role.name(),
            &after.centre_id,
        ),
    )
    .map_err(map_err)?;
    if patch.revokes(&before) {
        tx.execute(
            "UPDATE \"refresh_families\" SET \"revoked\" = 1 WHERE \"user_id\" = ?1",
            [id.as_bytes()],
        )
        .map_err(map_err)?;
        tx.execute(
            "DELETE FROM \"web_sessions\" WHERE \"user_id\" = ?1",
            [id.as_bytes()],
        )
        .map_err(map_err)?;
    }
    if patch.changes_scope(&before) {
        tx.execute(
            "UPDATE \"devices\" SET \"resync\" = \"resync\" + 1 WHERE \"user_id\" = ?1",
            [id.as_bytes()],
        )
        .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)?;
    Ok(UpdateUser::Updated(after))
}

pub(super) fn display_names(
    c: &Connection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, String>, StoreError> {
    let mut stmt = c
        .prepare_cached("SELECT \"display_name\" FROM \"users\" WHERE \"id\" = ?1")
        .map_err(map_err)?;
    let mut names = HashMap::with_capacity(ids.len());
    for id in ids {
        if names.contains_key(id) {
            continue;
        }
        let name: Option<String> = stmt
            .query_row([id.as_bytes()], |r| r.get(0))
            .optional()
            .map_err(map_err)?;
        if let Some(name) = name {
            names.insert(*id, name);
        }
    }
    Ok(names)
}

pub(super) fn create_centre(c: &mut Connection, centre: &Centre) -> Result<bool, StoreError> {
    let inserted = c
        .execute(
            "INSERT INTO \"centres\" (\"code\", \"name\", \"province\", \"district\", \"created_at\")
             VALUES (?1, ?2, ?3, ?4, unixepoch()) ON CONFLICT (\"code\") DO NOTHING",
            (
                &centre.code,
                &centre.name,
                &centre.province,
                &centre.district,
            ),
        )
        .map_err(map_err)?;
    Ok(inserted == 1)
}

pub(super) fn update_centre(
    c: &mut Connection,
    code: &str,
    patch: &CentrePatch,
) -> Result<Option<Centre>, StoreError> {
    let tx = c.transaction().map_err(map_err)?;
    let Some(before) = list_centres(&tx, Some(code))?.into_iter().next() else {
        return Ok(None);
    };
    let after = Centre {
        name: patch.name.clone().unwrap_or(before.name),
        province: patch.province.clone().unwrap_or(before.province),
        district: patch.district.clone().unwrap_or(before.district),
        code: before.code,
    };
    tx.execute(
        "UPDATE \"centres\" SET \"name\" = ?2, \"province\" = ?3, \"district\" = ?4 WHERE \"code\" = ?1",
        (&after.code, &after.name, &after.province, &after.district),
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(Some(after))
}

pub(super) fn list_centres(c: &Connection, only: Option<&str>) -> Result<Vec<Centre>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT \"code\", \"name\", \"province\", \"district\" FROM \"centres\"
             WHERE ?1 IS NULL OR \"code\" = ?1 ORDER BY \"code\"",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map([only], |r| {
            Ok(Centre {
                code: r.get(0)?,
                name: r.get(1)?,
                province: r.get(2)?,
                district: r.get(3)?,
            })
        })
        .map_err(map_err)?;
    rows.collect::<Result<_, _>>().map_err(map_err)
}

pub(super) fn reserve_login(
    c: &mut Connection,
    username: &str,
    address: &str,
    now: i64,
    since: i64,
    judge: &dyn Fn(&AttemptCounts) -> Option<u64>,
) -> Result<Result<i64, u64>, StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    tx.prepare_cached("DELETE FROM \"login_attempts\" WHERE \"at\" < ?1")
        .map_err(map_err)?
        .execute([since])
        .map_err(map_err)?;
    let (address_count, address_oldest_at): (u32, Option<i64>) = tx
        .prepare_cached(
            "SELECT count(*), min(\"at\") FROM \"login_attempts\" WHERE \"address\" = ?1",
        )
        .map_err(map_err)?
        .query_row([address], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(map_err)?;
    let (username_count, from_address, latest): (u32, u32, Option<i64>) = tx
        .prepare_cached(
            "SELECT count(*), coalesce(sum(\"address\" = ?2), 0), max(\"at\") FROM \"login_attempts\" WHERE \"username\" = ?1",
        )
        .map_err(map_err)?
        .query_row((username, address), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(map_err)?;
    let counts = AttemptCounts {
        address: address_count,
        address_oldest_at: address_oldest_at.unwrap_or(now),
        username: username_count,
        username_from_address: from_address,
        username_latest_at: latest.unwrap_or(now),
    };
    if let Some(wait) = judge(&counts) {
        return Ok(Err(wait));
    }
    tx.prepare_cached(
        "INSERT INTO \"login_attempts\" (\"username\", \"address\", \"at\", \"pending\") VALUES (?1, ?2, ?3, 1)",
    )
    .map_err(map_err)?
    .execute((username, address, now))
    .map_err(map_err)?;
    let id = tx.last_insert_rowid();
    tx.commit().map_err(map_err)?;
    Ok(Ok(id))
}

pub(super) fn finish_login(
    c: &mut Connection,
    attempt: i64,
    succeeded: bool,
) -> Result<(), StoreError> {
    if succeeded {
        c.execute(
            "DELETE FROM \"login_attempts\" WHERE \"id\" = ?1 OR \"id\" IN (
               SELECT o.\"id\" FROM \"login_attempts\" o JOIN \"login_attempts\" a
               ON a.\"id\" = ?1 AND o.\"username\" = a.\"username\" AND o.\"address\" = a.\"address\")",
            [attempt],
        )
    } else {
        c.execute(
            "UPDATE \"login_attempts\" SET \"pending\" = 0 WHERE \"id\" = ?1",
            [attempt],
        )
    }
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn bind_device(
    c: &mut Connection,
    device_id: Uuid,
    user: &User,
    now: i64,
    may_take_over: &dyn Fn(&User) -> bool,
) -> Result<BindOutcome, StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let owner: Option<Option<Vec<u8>>> = tx
        .query_row(
            "SELECT \"user_id\" FROM \"devices\" WHERE \"device_id\" = ?1",
            [device_id.as_bytes()],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    let outcome = match owner {
        None => {
            tx.execute(
                "INSERT INTO \"devices\" (\"device_id\", \"user_id\", \"bound_at\", \"last_seen_at\") VALUES (?1, ?2, ?3, ?3)",
                (device_id.as_bytes(), user.id.as_bytes(), now),
            )
            .map_err(map_err)?;
            BindOutcome::Bound
        }
        Some(Some(owner)) if uuid_col(owner.clone())? == user.id => {
            tx.execute(
                "UPDATE \"devices\" SET \"last_seen_at\" = ?2 WHERE \"device_id\" = ?1",
                (device_id.as_bytes(), now),
            )
            .map_err(map_err)?;
            BindOutcome::Bound
        }
        Some(owner) => {
            let previous = match owner {
                Some(id) => user_where(&tx, "\"id\" = ?1", id)?,
                None => None,
            };
            if previous.as_ref().is_some_and(|p| !may_take_over(p)) {
                return Ok(BindOutcome::OwnedByOther);
            }
            // The device's pulled data was another user's scope: it pulls
            // again from the beginning. Its sequence ("acked_seq") is kept.
            tx.execute(
                "UPDATE \"devices\" SET \"user_id\" = ?2, \"bound_at\" = ?3, \"last_seen_at\" = ?3, \"resync\" = \"resync\" + 1 WHERE \"device_id\" = ?1",
                (device_id.as_bytes(), user.id.as_bytes(), now),
            )
            .map_err(map_err)?;
            tx.execute(
                "UPDATE \"refresh_families\" SET \"revoked\" = 1 WHERE \"device_id\" = ?1 AND \"user_id\" <> ?2",
                (device_id.as_bytes(), user.id.as_bytes()),
            )
            .map_err(map_err)?;
            if previous.is_some() {
                BindOutcome::TookOver
            } else {
                BindOutcome::Bound
            }
        }
    };
    tx.commit().map_err(map_err)?;
    Ok(outcome)
}

pub(super) fn unbind_device(
    c: &mut Connection,
    user_id: Uuid,
    device_id: Uuid,
) -> Result<bool, StoreError> {
    let tx = c.transaction().map_err(map_err)?;
    let unbound = tx
        .execute(
            "UPDATE \"devices\" SET \"user_id\" = NULL WHERE \"device_id\" = ?1 AND \"user_id\" = ?2",
            (device_id.as_bytes(), user_id.as_bytes()),
        )
        .map_err(map_err)?;
    if unbound != 1 {
        // Not this user's device: nothing may change, its logins included.
        return Ok(false);
    }
    tx.execute(
        "UPDATE \"refresh_families\" SET \"revoked\" = 1 WHERE \"device_id\" = ?1",
        [device_id.as_bytes()],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(true)
}

pub(super) fn create_refresh_token(
    c: &mut Connection,
    hash: &[u8; 32],
    user_id: Uuid,
    device_id: Uuid,
    expires_at: i64,
    now: i64,
) -> Result<i64, StoreError> {
    let tx = c.transaction().map_err(map_err)?;
    tx.execute(
        "INSERT INTO \"refresh_families\" (\"user_id\", \"device_id\", \"created_at\") VALUES (?1, ?2, ?3)",
        (user_id.as_bytes(), device_id.as_bytes(), now),
    )
    .map_err(map_err)?;
    let family = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO \"refresh_tokens\" (\"hash\", \"family_id\", \"expires_at\") VALUES (?1, ?2, ?3)",
        (&hash[..], family, expires_at),
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(family)
}

pub(super) fn rotate_refresh_token(
    c: &mut Connection,
    old: &[u8; 32],
    new: &[u8; 32],
    device_id: Option<Uuid>,
    now: i64,
    new_expires_at: i64,
    grace_secs: i64,
) -> Result<RotateOutcome, StoreError> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let row = tx
        .query_row(
            "SELECT t.\"family_id\", t.\"used_at\", t.\"successor\", t.\"graced\", t.\"expires_at\", f.\"revoked\", f.\"user_id\", f.\"device_id\"
             FROM \"refresh_tokens\" t JOIN \"refresh_families\" f ON f.\"id\" = t.\"family_id\"
             WHERE t.\"hash\" = ?1",
            [&old[..]],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<Vec<u8>>>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, Vec<u8>>(6)?,
                    r.get::<_, Vec<u8>>(7)?,
                ))
            },
        )
        .optional()
        .map_err(map_err)?;
    let Some((family, used_at, successor, graced, expires_at, revoked, user, device)) = row else {
        return Ok(RotateOutcome::Unknown);
    };
    let t = TokenRow {
        family,
        used_at,
        successor,
        graced,
        expires_at,
        revoked,
        user_id: uuid_col(user)?,
        device_id: uuid_col(device)?,
    };
    let issue = |tx: &rusqlite::Transaction<'_>| -> Result<(), StoreError> {
        tx.execute(
            "UPDATE \"refresh_tokens\" SET \"used_at\" = ?2, \"successor\" = ?3 WHERE \"hash\" = ?1",
            (&old[..], now, &new[..]),
        )
        .map_err(map_err)?;
        tx.execute(
            "INSERT INTO \"refresh_tokens\" (\"hash\", \"family_id\", \"expires_at\") VALUES (?1, ?2, ?3)",
            (&new[..], t.family, new_expires_at),
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
            issue(&tx)?;
            rotated
        }
    } else if in_grace(&tx, &t, device_id, now, grace_secs)? {
        // The successor's answer was lost: revoke it, hand out a new one once.
        if let Some(successor) = &t.successor {
            tx.execute(
                "DELETE FROM \"refresh_tokens\" WHERE \"hash\" = ?1",
                [successor],
            )
            .map_err(map_err)?;
        }
        tx.execute(
            "UPDATE \"refresh_tokens\" SET \"graced\" = 1 WHERE \"hash\" = ?1",
            [&old[..]],
        )
        .map_err(map_err)?;
        issue(&tx)?;
        rotated
    } else {
        // A spent token presented again means it leaked: end the login.
        tx.execute(
            "UPDATE \"refresh_families\" SET \"revoked\" = 1 WHERE \"id\" = ?1",
            [t.family],
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
    tx: &rusqlite::Transaction<'_>,
    t: &TokenRow,
    device_id: Option<Uuid>,
    now: i64,
    grace_secs: i64,
) -> Result<bool, StoreError> {
    let Some(successor) = t.grace_successor(device_id, now, grace_secs) else {
        return Ok(false);
    };
    let successor_unused: Option<bool> = tx
        .query_row(
            "SELECT \"used_at\" IS NULL FROM \"refresh_tokens\" WHERE \"hash\" = ?1",
            [successor],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    Ok(successor_unused == Some(true))
}

/// Family revoked, user disabled, device owner, device resync, device last seen.
type LoginRow = (
    bool,
    bool,
    Option<Vec<u8>>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

pub(super) fn login_state(c: &Connection, family: i64) -> Result<Option<LoginState>, StoreError> {
    let row: Option<LoginRow> = c
        .prepare_cached(
            "SELECT f.\"revoked\", u.\"disabled\", d.\"user_id\", d.\"resync\", d.\"last_seen_at\", d.\"acked_seq\"
             FROM \"refresh_families\" f JOIN \"users\" u ON u.\"id\" = f.\"user_id\"
             LEFT JOIN \"devices\" d ON d.\"device_id\" = f.\"device_id\"
             WHERE f.\"id\" = ?1",
        )
        .map_err(map_err)?
        .query_row([family], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()
        .map_err(map_err)?;
    row.map(
        |(revoked, user_disabled, owner, resync, last_seen_at, acked)| {
            Ok(LoginState {
                revoked,
                user_disabled,
                device_owner: owner.map(uuid_col).transpose()?,
                resync: resync.unwrap_or(0),
                last_seen_at,
                acked_seq: u64::try_from(acked.unwrap_or(0)).unwrap_or(0),
            })
        },
    )
    .transpose()
}

pub(super) fn list_devices(
    c: &Connection,
    centre: Option<&str>,
    since: i64,
) -> Result<Vec<DeviceRow>, StoreError> {
    let columns = USER_COLUMNS
        .split(", ")
        .map(|col| format!("u.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {columns}, d.\"device_id\", d.\"last_seen_at\", d.\"last_push_at\", d.\"acked_seq\", d.\"clock_offset_ms\",
               (SELECT count(*) FROM \"rejections\" r WHERE r.\"device_key\" = d.\"key\" AND r.\"rejected_at\" >= ?2),
               d.\"bound_at\"
             FROM \"devices\" d JOIN \"users\" u ON u.\"id\" = d.\"user_id\"
             WHERE ?1 IS NULL OR u.\"centre_id\" = ?1
             ORDER BY lower(u.\"display_name\"), d.\"key\""
        ))
        .map_err(map_err)?;
    let rows = stmt
        .query_map((centre, since), |r| {
            Ok((
                user_row(r)?,
                r.get::<_, Vec<u8>>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<i64>>(9)?,
                r.get::<_, i64>(10)?,
                r.get::<_, i64>(11)?,
                r.get::<_, i64>(12)?,
                r.get::<_, Option<i64>>(13)?,
            ))
        })
        .map_err(map_err)?;
    rows.map(|row| {
        let (user, device, last_seen_at, last_push_at, acked, offset, rejections, bound_at) =
            row.map_err(map_err)?;
        Ok(DeviceRow {
            device_id: uuid_col(device)?,
            user: user_from(user)?,
            bound_at,
            last_seen_at,
            last_push_at,
            acked_seq: u64::try_from(acked).unwrap_or(0),
            clock_offset_ms: offset,
            rejections: u64::try_from(rejections).unwrap_or(0),
        })
    })
    .collect()
}

pub(super) fn users_matching(
    c: &Connection,
    centre: Option<&str>,
    text: &str,
) -> Result<Vec<Uuid>, StoreError> {
    // LIKE with the text escaped, so `%` and `_` in a name are literal.
    let pattern = format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let mut stmt = c
        .prepare_cached(
            "SELECT \"id\" FROM \"users\" WHERE (?1 IS NULL OR \"centre_id\" = ?1)
             AND (\"display_name\" LIKE ?2 ESCAPE '\\' OR \"username\" LIKE ?2 ESCAPE '\\')",
        )
        .map_err(map_err)?;
    let rows = stmt
        .query_map((centre, pattern), |r| r.get::<_, Vec<u8>>(0))
        .map_err(map_err)?;
    rows.map(|row| uuid_col(row.map_err(map_err)?)).collect()
}

pub(super) fn create_web_session(
    c: &mut Connection,
    hash: &[u8; 32],
    user_id: Uuid,
    csrf: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO \"web_sessions\" (\"hash\", \"user_id\", \"csrf\", \"created_at\", \"last_seen_at\") VALUES (?1, ?2, ?3, ?4, ?4)",
        (&hash[..], user_id.as_bytes(), csrf, now),
    )
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn web_session(
    c: &Connection,
    hash: &[u8; 32],
    idle_since: i64,
) -> Result<Option<WebSession>, StoreError> {
    let columns = USER_COLUMNS
        .split(", ")
        .map(|col| format!("u.{col}"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = c
        .prepare_cached(&format!(
            "SELECT {columns}, s.\"csrf\", s.\"last_seen_at\" FROM \"web_sessions\" s
             JOIN \"users\" u ON u.\"id\" = s.\"user_id\" WHERE s.\"hash\" = ?1 AND s.\"last_seen_at\" >= ?2"
        ))
        .map_err(map_err)?
        .query_row((&hash[..], idle_since), |r| {
            Ok((user_row(r)?, r.get::<_, String>(7)?, r.get::<_, i64>(8)?))
        })
        .optional()
        .map_err(map_err)?;
    row.map(|(user, csrf, last_seen_at)| {
        Ok(WebSession {
            user: user_from(user)?,
            csrf,
            last_seen_at,
        })
    })
    .transpose()
}

pub(super) fn touch_web_session(
    c: &mut Connection,
    hash: &[u8; 32],
    now: i64,
    idle_since: i64,
) -> Result<(), StoreError> {
    let tx = c.transaction().map_err(map_err)?;
    tx.execute(
        "UPDATE \"web_sessions\" SET \"last_seen_at\" = ?2 WHERE \"hash\" = ?1",
        (&hash[..], now),
    )
    .map_err(map_err)?;
    // Sessions idle past expiry are forgotten as the others are used.
    tx.execute(
        "DELETE FROM \"web_sessions\" WHERE \"last_seen_at\" < ?1",
        [idle_since],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(())
}
