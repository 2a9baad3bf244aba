//! The device's SQLite store: schema migrations and every SQL statement the SDK runs.
//!
//! One row per record holds the `sync_core::codec` blob and the rendered JSON;
//! the outbox holds unsent changes in `device_seq` order; `meta` holds the
//! device id, the persisted HLC, the next `device_seq`, the pull cursor, the
//! tokens and the signed-in user; `users` holds the server's user directory
//! as a manager's device last read it; `masks` what the server showed of the
//! values it masked for this user. Every function takes a `&Connection` so
//! callers can group them in one transaction.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use sync_core::{codec, Collection, Hlc, Key, RecordState};
use uuid::Uuid;

use crate::error::{Error, Result, StepExt};
use crate::types::{KnownUser, RejectedChange, UnreadableChange};

/// The migrations, in order; `PRAGMA user_version` counts how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_init.sql"),
    include_str!("migrations/002_users.sql"),
    include_str!("migrations/003_sent.sql"),
    include_str!("migrations/004_masks.sql"),
];

/// Opens (creating if needed) and migrates the database at `path`.
pub fn open(path: &Path) -> Result<Connection> {
    private_file(path).map_err(|source| Error::FileAccess {
        path: path.display().to_string(),
        source,
    })?;
    let mut conn = Connection::open(path).step("opening the database")?;
    // WAL lets readers run beside the writer; FULL makes every commit durable
    // before a save returns, which is what the app promises the volunteer.
    conn.pragma_update(None, "journal_mode", "WAL")
        .step("enabling WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")
        .step("setting synchronous")?;
    // An erased person's data, once overwritten, leaves no copy in freed
    // pages of the file.
    conn.pragma_update(None, "secure_delete", "ON")
        .step("setting secure_delete")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .step("setting busy timeout")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// The file holds the login's tokens and beneficiaries' personal data: it is
/// created readable by the app's user only (0600), before SQLite opens it
/// (SQLite gives its `-wal` and `-shm` files the same mode), and a file made
/// by an older version is tightened.
fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if path.as_os_str().is_empty() || path == Path::new(":memory:") {
            return Ok(());
        }
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            // A directory, or a missing parent: SQLite says so more usefully.
            Err(_) => return Ok(()),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = Path::new(&name);
            if file.is_file() {
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .step("reading the schema version")?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(Error::DatabaseTooNew {
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().step("starting a migration")?;
        tx.execute_batch(sql).step("running a migration")?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .step("recording the schema version")?;
        tx.commit().step("committing a migration")?;
    }
    Ok(())
}

pub fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT \"value\" FROM \"meta\" WHERE \"key\" = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .step("reading settings")
}

pub fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO \"meta\" (\"key\", \"value\") VALUES (?1, ?2)
         ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\"",
    )
    .and_then(|mut s| s.execute([key, value]))
    .step("writing settings")?;
    Ok(())
}

pub fn delete_meta(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM \"meta\" WHERE \"key\" = ?1", [key])
        .step("clearing settings")?;
    Ok(())
}

/// The merge state of a record, empty when this device has never seen it.
pub fn load_state(conn: &Connection, collection: Collection, id: Uuid) -> Result<RecordState> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT \"state\" FROM \"records\" WHERE \"collection\" = ?1 AND \"id\" = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![collection.name(), id.to_string()], |r| r.get(0))
                .optional()
        })
        .step("reading a record")?;
    match blob {
        Some(bytes) => codec::decode(&bytes)
            .map_err(|e| Error::Corrupt(format!("record {collection}/{id}: {e}"))),
        None => Ok(RecordState::new()),
    }
}

/// Writes a record's state and its rendering.
pub fn save_state(
    conn: &Connection,
    collection: Collection,
    id: Uuid,
    state: &RecordState,
) -> Result<()> {
    let rendered = state.render_masked(collection, id, &masks(conn, collection, id)?);
    let json = serde_json::to_string(&rendered)
        .map_err(|e| Error::Corrupt(format!("cannot render {collection}/{id}: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO \"records\" (\"collection\", \"id\", \"state\", \"rendered\", \"deleted\", \"conflicts\")
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (\"collection\", \"id\") DO UPDATE SET \"state\" = excluded.\"state\",
           \"rendered\" = excluded.\"rendered\", \"deleted\" = excluded.\"deleted\",
           \"conflicts\" = excluded.\"conflicts\"",
    )
    .and_then(|mut s| {
        s.execute(params![
            collection.name(),
            id.to_string(),
            codec::encode(state),
            json,
            rendered.deleted,
            rendered.conflicts.len() as i64
        ])
    })
    .step("writing a record")?;
    Ok(())
}

/// What the server showed of the writes it masked in a record.
fn masks(
    conn: &Connection,
    collection: Collection,
    id: Uuid,
) -> Result<BTreeMap<(Key, Hlc), String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT \"key\", \"hlc\", \"shown\" FROM \"masks\" WHERE \"collection\" = ?1 AND \"id\" = ?2",
        )
        .step("reading masked values")?;
    let rows = stmt
        .query_map(params![collection.name(), id.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
        })
        .step("reading masked values")?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (key, hlc, shown) = row.step("reading masked values")?;
        // A row this version cannot read shows the value as null, no worse.
        if let (Some((key, _)), Ok(hlc)) = (Key::parse(collection, &key), hlc.parse()) {
            out.insert((key, hlc), shown);
        }
    }
    Ok(out)
}

/// A person was erased (a pulled change wrote `_erased`): overwrites their
/// personal fields in every change this device keeps of the record (the
/// outbox, the acknowledged ones kept for a restore, the rejected and the
/// unreadable), ids and `device_seq` unchanged so nothing gaps, and forgets
/// what the server showed of their masked values.
pub fn scrub_record(conn: &Connection, collection: Collection, id: Uuid) -> Result<()> {
    let record = id.to_string();
    for table in ["outbox", "sent", "rejected"] {
        let select = format!(
            "SELECT \"device_seq\", \"body\" FROM \"{table}\" WHERE \"collection\" = ?1 AND \"record_id\" = ?2"
        );
        let rows: Vec<(i64, String)> = conn
            .prepare_cached(&select)
            .and_then(|mut s| {
                s.query_map(params![collection.name(), record], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect()
            })
            .step("reading changes of an erased person")?;
        for (seq, body) in rows {
            if let Some(clean) = sync_core::ChangeDto::scrubbed_json(&body) {
                let update =
                    format!("UPDATE \"{table}\" SET \"body\" = ?1 WHERE \"device_seq\" = ?2");
                conn.execute(&update, params![clean, seq])
                    .step("overwriting an erased person's data")?;
            }
        }
    }
    let pattern = format!("%\"record_id\":\"{record}\"%");
    let rows: Vec<(String, String)> = conn
        .prepare_cached("SELECT \"change_id\", \"body\" FROM \"unreadable\" WHERE \"body\" LIKE ?1")
        .and_then(|mut s| {
            s.query_map([pattern], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .step("reading changes of an erased person")?;
    for (change_id, body) in rows {
        if let Some(clean) = sync_core::ChangeDto::scrubbed_json(&body) {
            conn.execute(
                "UPDATE \"unreadable\" SET \"body\" = ?1 WHERE \"change_id\" = ?2",
                params![clean, change_id],
            )
            .step("overwriting an erased person's data")?;
        }
    }
    conn.execute(
        "DELETE FROM \"masks\" WHERE \"collection\" = ?1 AND \"id\" = ?2",
        params![collection.name(), record],
    )
    .step("forgetting an erased person's masked values")?;
    Ok(())
}

/// Remembers that the server masked a pulled write.
pub fn keep_mask(
    conn: &Connection,
    collection: Collection,
    id: Uuid,
    key: Key,
    hlc: Hlc,
    shown: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO \"masks\" (\"collection\", \"id\", \"key\", \"hlc\", \"shown\") VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            collection.name(),
            id.to_string(),
            key.to_string(),
            hlc.to_string(),
            shown
        ])
    })
    .step("keeping a masked value")?;
    Ok(())
}

/// Rendered records of a collection (JSON text), optionally only those in conflict.
pub fn rendered(
    conn: &Connection,
    collection: Collection,
    conflicts_only: bool,
) -> Result<Vec<String>> {
    let sql = if conflicts_only {
        "SELECT \"rendered\" FROM \"records\" WHERE \"collection\" = ?1 AND \"conflicts\" > 0 ORDER BY \"id\""
    } else {
        "SELECT \"rendered\" FROM \"records\" WHERE \"collection\" = ?1 ORDER BY \"id\""
    };
    let mut stmt = conn.prepare_cached(sql).step("listing records")?;
    let rows = stmt
        .query_map([collection.name()], |r| r.get(0))
        .step("listing records")?;
    rows.collect::<rusqlite::Result<_>>()
        .step("listing records")
}

pub fn rendered_one(conn: &Connection, collection: Collection, id: Uuid) -> Result<Option<String>> {
    conn.prepare_cached(
        "SELECT \"rendered\" FROM \"records\" WHERE \"collection\" = ?1 AND \"id\" = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![collection.name(), id.to_string()], |r| r.get(0))
            .optional()
    })
    .step("reading a record")
}

/// A change waiting to be pushed.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub device_seq: u64,
    pub change_id: String,
    pub body: String,
}

pub fn append_outbox(
    conn: &Connection,
    seq: u64,
    change_id: Uuid,
    collection: Collection,
    record_id: Uuid,
    body: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO \"outbox\" (\"device_seq\", \"change_id\", \"collection\", \"record_id\", \"body\")
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            seq as i64,
            change_id.to_string(),
            collection.name(),
            record_id.to_string(),
            body
        ])
    })
    .step("appending to the outbox")?;
    Ok(())
}

/// The oldest `limit` changes of the outbox.
pub fn outbox_batch(conn: &Connection, limit: usize) -> Result<Vec<Outgoing>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT \"device_seq\", \"change_id\", \"body\" FROM \"outbox\" ORDER BY \"device_seq\" LIMIT ?1",
        )
        .step("reading the outbox")?;
    let rows = stmt
        .query_map([limit as i64], |r| {
            Ok(Outgoing {
                device_seq: r.get::<_, i64>(0)? as u64,
                change_id: r.get(1)?,
                body: r.get(2)?,
            })
        })
        .step("reading the outbox")?;
    rows.collect::<rusqlite::Result<_>>()
        .step("reading the outbox")
}

pub fn outbox_len(conn: &Connection) -> Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM \"outbox\"", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
    .step("counting the outbox")
}

/// The bodies of the changes waiting in the outbox, in `device_seq` order.
pub fn outbox_bodies(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached("SELECT \"body\" FROM \"outbox\" ORDER BY \"device_seq\"")
        .step("reading the outbox")?;
    let rows = stmt
        .query_map([], |r| r.get(0))
        .step("reading the outbox")?;
    rows.collect::<rusqlite::Result<_>>()
        .step("reading the outbox")
}

/// Forgets every record and unreadable change pulled from the server; the
/// outbox, the rejections and the settings stay.
pub fn drop_records(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM \"records\"; DELETE FROM \"unreadable\"; DELETE FROM \"masks\";",
    )
    .step("dropping pulled records")
}

/// Moves a change the server rejected from the outbox to `rejected`.
pub fn reject(conn: &Connection, seq: u64, code: &str, detail: &str) -> Result<bool> {
    let moved = conn
        .prepare_cached(
            "INSERT OR REPLACE INTO \"rejected\" (\"device_seq\", \"change_id\", \"collection\", \"record_id\", \"code\", \"detail\", \"body\")
             SELECT \"device_seq\", \"change_id\", \"collection\", \"record_id\", ?2, ?3, \"body\"
             FROM \"outbox\" WHERE \"device_seq\" = ?1",
        )
        .and_then(|mut s| s.execute(params![seq as i64, code, detail]))
        .step("recording a rejection")?;
    Ok(moved > 0)
}

/// Forgets the rejection of change `seq` (stored after all when sent again).
pub fn unreject(conn: &Connection, seq: u64) -> Result<()> {
    conn.execute(
        "DELETE FROM \"rejected\" WHERE \"device_seq\" = ?1",
        [seq as i64],
    )
    .map(drop)
    .step("forgetting a rejection")
}

/// How long acknowledged changes are kept for a server restored from an
/// older backup to ask for again.
pub const KEEP_SENT_MS: u64 = 30 * 24 * 3600 * 1000;

/// Moves every change up to `acked_seq` from the outbox to `sent` (stamped
/// `now_ms`, the server's time), and forgets sent changes acknowledged over
/// 30 days before it.
pub fn ack_through(conn: &Connection, acked_seq: u64, now_ms: u64) -> Result<u64> {
    conn.execute(
        "INSERT OR REPLACE INTO \"sent\" (\"device_seq\", \"change_id\", \"collection\", \"record_id\", \"body\", \"acked_at_ms\")
         SELECT \"device_seq\", \"change_id\", \"collection\", \"record_id\", \"body\", ?2
         FROM \"outbox\" WHERE \"device_seq\" <= ?1",
        params![acked_seq as i64, now_ms as i64],
    )
    .step("keeping acknowledged changes")?;
    conn.execute(
        "DELETE FROM \"sent\" WHERE \"acked_at_ms\" < ?1",
        [now_ms.saturating_sub(KEEP_SENT_MS) as i64],
    )
    .step("forgetting old acknowledged changes")?;
    conn.execute(
        "DELETE FROM \"outbox\" WHERE \"device_seq\" <= ?1",
        [acked_seq as i64],
    )
    .map(|n| n as u64)
    .step("acknowledging the outbox")
}

/// A restored server holds this device's changes only up to `acked_seq`:
/// the kept changes after it go back to the outbox, unchanged. Returns how
/// many went back, and whether the outbox now continues from `acked_seq`
/// (false when the device no longer holds the change after it; changes at
/// or before it still waiting are a resend, which the server answers).
pub fn unacknowledge_after(conn: &Connection, acked_seq: u64) -> Result<(u64, bool)> {
    let moved = conn
        .execute(
            "INSERT OR IGNORE INTO \"outbox\" (\"device_seq\", \"change_id\", \"collection\", \"record_id\", \"body\")
             SELECT \"device_seq\", \"change_id\", \"collection\", \"record_id\", \"body\"
             FROM \"sent\" WHERE \"device_seq\" > ?1",
            [acked_seq as i64],
        )
        .step("sending acknowledged changes again")?;
    conn.execute(
        "DELETE FROM \"sent\" WHERE \"device_seq\" > ?1",
        [acked_seq as i64],
    )
    .step("sending acknowledged changes again")?;
    let first: Option<i64> = conn
        .query_row("SELECT min(\"device_seq\") FROM \"outbox\"", [], |r| {
            r.get(0)
        })
        .step("reading the outbox")?;
    Ok((
        moved as u64,
        first.is_none_or(|seq| seq as u64 <= acked_seq + 1),
    ))
}

pub fn rejected(conn: &Connection) -> Result<Vec<RejectedChange>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT \"device_seq\", \"change_id\", \"collection\", \"record_id\", \"code\", \"detail\", \"body\"
             FROM \"rejected\" ORDER BY \"device_seq\"",
        )
        .step("listing rejections")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .step("listing rejections")?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, id, collection, record, code, detail, body) = row.step("listing rejections")?;
        let uuid =
            |s: &str| Uuid::parse_str(s).map_err(|e| Error::Corrupt(format!("rejection: {e}")));
        out.push(RejectedChange {
            change_id: uuid(&id)?,
            device_seq: seq as u64,
            collection: Collection::parse(&collection)
                .map(crate::types::Collection::from_core)
                .ok_or_else(|| Error::Corrupt(format!("rejection of collection {collection}")))?,
            record_id: uuid(&record)?,
            code,
            detail,
            written_at_ms: change_hlc(&body)?.wall_ms(),
        });
    }
    Ok(out)
}

/// The HLC of a stored change body (wire JSON this device wrote).
fn change_hlc(body: &str) -> Result<Hlc> {
    #[derive(serde::Deserialize)]
    struct Stamp {
        hlc: String,
    }
    let stamp: Stamp =
        serde_json::from_str(body).map_err(|e| Error::Corrupt(format!("rejected change: {e}")))?;
    stamp
        .hlc
        .parse()
        .map_err(|e| Error::Corrupt(format!("rejected change's hlc: {e}")))
}

pub fn dismiss_rejected(conn: &Connection, change_id: Uuid) -> Result<bool> {
    conn.execute(
        "DELETE FROM \"rejected\" WHERE \"change_id\" = ?1",
        [change_id.to_string()],
    )
    .map(|n| n > 0)
    .step("dismissing a rejection")
}

/// Adds or updates users of the server's directory; users not listed are kept.
pub fn upsert_users(conn: &Connection, users: &[KnownUser]) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO \"users\" (\"id\", \"username\", \"display_name\") VALUES (?1, ?2, ?3)
             ON CONFLICT (\"id\") DO UPDATE SET \"username\" = excluded.\"username\",
               \"display_name\" = excluded.\"display_name\"",
        )
        .step("saving the user directory")?;
    for u in users {
        stmt.execute(params![u.id.to_string(), u.username, u.display_name])
            .step("saving the user directory")?;
    }
    Ok(())
}

pub fn known_users(conn: &Connection) -> Result<Vec<KnownUser>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT \"id\", \"username\", \"display_name\" FROM \"users\" ORDER BY \"username\"",
        )
        .step("reading the user directory")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .step("reading the user directory")?;
    let mut out = Vec::new();
    for row in rows {
        let (id, username, display_name) = row.step("reading the user directory")?;
        out.push(KnownUser {
            id: Uuid::parse_str(&id).map_err(|e| Error::Corrupt(format!("user id: {e}")))?,
            username,
            display_name,
        });
    }
    Ok(out)
}

/// Whether the directory holds a user with this id.
pub fn is_known_user(conn: &Connection, id: Uuid) -> Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM \"users\" WHERE \"id\" = ?1)")
        .and_then(|mut s| s.query_row([id.to_string()], |r| r.get(0)))
        .step("reading the user directory")
}

/// The keys in conflict over every record on this device.
pub fn conflict_count(conn: &Connection) -> Result<u64> {
    conn.query_row(
        "SELECT COALESCE(SUM(\"conflicts\"), 0) FROM \"records\"",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .step("counting conflicts")
}

/// The records of `collection` that `table` holds a change of.
pub fn records_with_changes(
    conn: &Connection,
    table: Table,
    collection: Collection,
) -> Result<HashSet<Uuid>> {
    let sql = match table {
        Table::Outbox => "SELECT DISTINCT \"record_id\" FROM \"outbox\" WHERE \"collection\" = ?1",
        Table::Rejected => {
            "SELECT DISTINCT \"record_id\" FROM \"rejected\" WHERE \"collection\" = ?1"
        }
    };
    let mut stmt = conn.prepare_cached(sql).step("reading sync status")?;
    let rows = stmt
        .query_map([collection.name()], |r| r.get::<_, String>(0))
        .step("reading sync status")?;
    let mut out = HashSet::new();
    for row in rows {
        let id = row.step("reading sync status")?;
        out.insert(Uuid::parse_str(&id).map_err(|e| Error::Corrupt(format!("record id: {e}")))?);
    }
    Ok(out)
}

/// Whether `table` (`outbox` or `rejected`) holds a change of the record.
pub fn has_change_for(
    conn: &Connection,
    table: Table,
    collection: Collection,
    id: Uuid,
) -> Result<bool> {
    let sql = match table {
        Table::Outbox => "SELECT EXISTS (SELECT 1 FROM \"outbox\" WHERE \"collection\" = ?1 AND \"record_id\" = ?2)",
        Table::Rejected => "SELECT EXISTS (SELECT 1 FROM \"rejected\" WHERE \"collection\" = ?1 AND \"record_id\" = ?2)",
    };
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row(params![collection.name(), id.to_string()], |r| r.get(0)))
        .step("reading sync status")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Outbox,
    Rejected,
}

/// The pulled changes this SDK could not read, by change id.
pub fn unreadable(conn: &Connection) -> Result<Vec<UnreadableChange>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT \"change_id\", \"code\", \"detail\" FROM \"unreadable\" ORDER BY \"change_id\"",
        )
        .step("listing unreadable changes")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(UnreadableChange {
                change_id: r.get(0)?,
                code: r.get(1)?,
                detail: r.get(2)?,
            })
        })
        .step("listing unreadable changes")?;
    rows.collect::<rusqlite::Result<_>>()
        .step("listing unreadable changes")
}

/// Keeps a pulled change this SDK cannot decode, instead of dropping it.
pub fn keep_unreadable(
    conn: &Connection,
    change_id: &str,
    code: &str,
    detail: &str,
    body: &str,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO \"unreadable\" (\"change_id\", \"code\", \"detail\", \"body\") VALUES (?1, ?2, ?3, ?4)",
        [change_id, code, detail, body],
    )
    .step("keeping an unreadable change")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox_seqs(conn: &Connection, table: &str) -> Vec<u64> {
        conn.prepare(&format!(
            "SELECT \"device_seq\" FROM \"{table}\" ORDER BY \"device_seq\""
        ))
        .unwrap()
        .query_map([], |r| r.get::<_, i64>(0).map(|s| s as u64))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    #[test]
    fn acknowledged_changes_are_kept_30_days_and_go_back_unchanged() {
        let dir = tempfile::TempDir::new().unwrap();
        let conn = open(&dir.path().join("device.db")).unwrap();
        let record = Uuid::new_v4();
        for seq in 1..=6 {
            let body = format!("{{\"device_seq\":{seq},\"note\":\"ครั้งที่ {seq}\"}}");
            append_outbox(
                &conn,
                seq,
                Uuid::new_v4(),
                Collection::Sessions,
                record,
                &body,
            )
            .unwrap();
        }
        let day = 24 * 3600 * 1000;
        assert_eq!(ack_through(&conn, 2, 1_000 * day).unwrap(), 2);
        assert_eq!(ack_through(&conn, 5, 1_010 * day).unwrap(), 3);
        assert_eq!(outbox_seqs(&conn, "outbox"), [6]);
        assert_eq!(outbox_seqs(&conn, "sent"), [1, 2, 3, 4, 5]);
        // 31 days after the first acknowledgement, 1 and 2 are forgotten.
        ack_through(&conn, 5, 1_031 * day).unwrap();
        assert_eq!(outbox_seqs(&conn, "sent"), [3, 4, 5]);

        // A server restored to acked_seq 3 gets 4 and 5 again, byte for byte.
        let sent_bodies: Vec<String> = conn
            .prepare("SELECT \"body\" FROM \"sent\" WHERE \"device_seq\" > 3 ORDER BY 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(unacknowledge_after(&conn, 3).unwrap(), (2, true));
        assert_eq!(outbox_seqs(&conn, "outbox"), [4, 5, 6]);
        assert_eq!(outbox_bodies(&conn).unwrap()[..2], sent_bodies[..]);
        assert_eq!(outbox_seqs(&conn, "sent"), [3]);
        // Restored to 1: the device no longer holds 2.
        ack_through(&conn, 6, 1_031 * day).unwrap();
        assert_eq!(unacknowledge_after(&conn, 1).unwrap(), (4, false));
    }
}
