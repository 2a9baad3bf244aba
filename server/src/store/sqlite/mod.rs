//! The SQLite store: one writer connection (every push batch is one
//! transaction on it) and a pool of readers, so pulls and manager reads never
//! wait behind a push (WAL mode lets them read the last committed state).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use sync_core::{Collection, Role};
use uuid::Uuid;

use super::{
    BindOutcome, PullPage, PullQuery, PushTx, RecordPage, RecordQuery, RotateOutcome, Store,
    StoreError, StoredRecord, Summary, SummaryQuery, User,
};
use crate::settings::Synchronous;

mod push;
mod queries;

const MIGRATIONS: &[(u32, &str)] = &[(1, include_str!("migrations/0001_init.sql"))];

/// The stored code of a collection.
pub(crate) fn collection_code(c: Collection) -> i64 {
    match c {
        Collection::Sessions => 1,
        Collection::Beneficiaries => 2,
    }
}

#[derive(Debug)]
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: r2d2::Pool<SqliteConnectionManager>,
}

pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy,
        _ => StoreError::Backend(Box::new(e)),
    }
}

fn pool_err(e: r2d2::Error) -> StoreError {
    tracing::warn!(error = %e, "no reader connection available");
    StoreError::Busy
}

fn uuid_col(bytes: Vec<u8>) -> Result<Uuid, StoreError> {
    Uuid::from_slice(&bytes)
        .map_err(|_| StoreError::Corrupt("a stored uuid is not 16 bytes".into()))
}

/// id, username, password hash, role, centre.
type UserRow = (Vec<u8>, String, String, String, Option<String>);

/// family, used, expires_at, family revoked, user, device.
type RefreshRow = (i64, bool, i64, bool, Vec<u8>, Vec<u8>);

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn user_from_parts(parts: UserRow) -> Result<User, StoreError> {
    let (id, username, password_hash, role, centre_id) = parts;
    Ok(User {
        id: uuid_col(id)?,
        username,
        password_hash,
        role: role
            .parse::<Role>()
            .map_err(|_| StoreError::Corrupt(format!("unknown stored role {role:?}")))?,
        centre_id,
    })
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(
        path: &Path,
        synchronous: Synchronous,
        readers: u32,
    ) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(Box::new(e)))?;
        }
        let mut writer = Connection::open(path).map_err(map_err)?;
        let sync = match synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        writer
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
            ))
            .map_err(map_err)?;
        writer
            .busy_timeout(Duration::from_secs(5))
            .map_err(map_err)?;
        migrate(&mut writer)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                c.busy_timeout(Duration::from_secs(5))?;
                c.execute_batch("PRAGMA query_only = ON;")
            });
        let readers = r2d2::Pool::builder()
            .max_size(readers.max(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers,
        })
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic while holding the lock cannot leave a half-done transaction
        // (rusqlite rolls back on drop), so a poisoned lock is safe to reuse.
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.get().map_err(pool_err)?;
        f(&conn)
    }
}

/// Applies every migration newer than the database's `user_version`, each in
/// its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let current: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(map_err)?;
    let mut version = current;
    for (number, sql) in MIGRATIONS.iter().filter(|(n, _)| *n > current) {
        let tx = conn.transaction().map_err(map_err)?;
        tx.execute_batch(sql).map_err(map_err)?;
        tx.execute_batch(&format!("PRAGMA user_version = {number}"))
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        version = *number;
    }
    Ok(version)
}

impl Store for SqliteStore {
    fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(map_err))
    }

    fn secret(&self, name: &str, make: &dyn Fn() -> Vec<u8>) -> Result<Vec<u8>, StoreError> {
        self.write(|c| {
            let tx = c.transaction().map_err(map_err)?;
            let existing: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT \"value\" FROM \"meta\" WHERE \"name\" = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err)?;
            let value = match existing {
                Some(v) => v,
                None => {
                    let v = make();
                    tx.execute(
                        "INSERT INTO \"meta\" (\"name\", \"value\") VALUES (?1, ?2)",
                        (name, &v),
                    )
                    .map_err(map_err)?;
                    v
                }
            };
            tx.commit().map_err(map_err)?;
            Ok(value)
        })
    }

    fn count_users(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM \"users\"", [], |r| r.get(0))
                .map_err(map_err)
        })
    }

    fn create_user(&self, user: &User) -> Result<Option<User>, StoreError> {
        self.write(|c| {
            let inserted = c
                .execute(
                    "INSERT INTO \"users\" (\"id\", \"username\", \"password_hash\", \"role\", \"centre_id\", \"created_at\")
                     VALUES (?1, ?2, ?3, ?4, ?5, unixepoch()) ON CONFLICT (\"username\") DO NOTHING",
                    (user.id.as_bytes(), &user.username, &user.password_hash, user.role.name(), &user.centre_id),
                )
                .map_err(map_err)?;
            Ok((inserted == 1).then(|| user.clone()))
        })
    }

    fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.read(|c| {
            c.query_row(
                "SELECT \"id\", \"username\", \"password_hash\", \"role\", \"centre_id\" FROM \"users\" WHERE \"username\" = ?1",
                [username],
                user_from_row,
            )
            .optional()
            .map_err(map_err)?
            .map(user_from_parts)
            .transpose()
        })
    }

    fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.read(|c| {
            c.query_row(
                "SELECT \"id\", \"username\", \"password_hash\", \"role\", \"centre_id\" FROM \"users\" WHERE \"id\" = ?1",
                [id.as_bytes()],
                user_from_row,
            )
            .optional()
            .map_err(map_err)?
            .map(user_from_parts)
            .transpose()
        })
    }

    fn login_failures(&self, username: &str, since: i64) -> Result<(u32, i64), StoreError> {
        self.read(|c| {
            let row: Option<(u32, i64)> = c
                .query_row(
                    "SELECT \"failures\", \"first_at\" FROM \"login_failures\" WHERE \"username\" = ?1 AND \"first_at\" >= ?2",
                    (username, since),
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(map_err)?;
            Ok(row.unwrap_or((0, 0)))
        })
    }

    fn record_login_failure(&self, username: &str, now: i64, since: i64) -> Result<(), StoreError> {
        self.write(|c| {
            // A failure outside the window starts a new window.
            c.execute(
                "INSERT INTO \"login_failures\" (\"username\", \"failures\", \"first_at\") VALUES (?1, 1, ?2)
                 ON CONFLICT (\"username\") DO UPDATE SET
                   \"failures\" = CASE WHEN \"first_at\" >= ?3 THEN \"failures\" + 1 ELSE 1 END,
                   \"first_at\" = CASE WHEN \"first_at\" >= ?3 THEN \"first_at\" ELSE ?2 END",
                (username, now, since),
            )
            .map_err(map_err)?;
            Ok(())
        })
    }

    fn clear_login_failures(&self, username: &str) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute(
                "DELETE FROM \"login_failures\" WHERE \"username\" = ?1",
                [username],
            )
            .map_err(map_err)?;
            Ok(())
        })
    }

    fn bind_device(&self, device_id: Uuid, user_id: Uuid) -> Result<BindOutcome, StoreError> {
        self.write(|c| {
            c.execute(
                "INSERT INTO \"devices\" (\"device_id\", \"user_id\", \"bound_at\") VALUES (?1, ?2, unixepoch())
                 ON CONFLICT (\"device_id\") DO NOTHING",
                (device_id.as_bytes(), user_id.as_bytes()),
            )
            .map_err(map_err)?;
            let owner: Vec<u8> = c
                .query_row("SELECT \"user_id\" FROM \"devices\" WHERE \"device_id\" = ?1", [device_id.as_bytes()], |r| r.get(0))
                .map_err(map_err)?;
            Ok(if uuid_col(owner)? == user_id { BindOutcome::Bound } else { BindOutcome::OwnedByOther })
        })
    }

    fn create_refresh_token(
        &self,
        hash: &[u8; 32],
        user_id: Uuid,
        device_id: Uuid,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|c| {
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
            tx.commit().map_err(map_err)
        })
    }

    fn rotate_refresh_token(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
        now: i64,
        new_expires_at: i64,
    ) -> Result<RotateOutcome, StoreError> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            let row: Option<RefreshRow> = tx
                .query_row(
                    "SELECT t.\"family_id\", t.\"used\", t.\"expires_at\", f.\"revoked\", f.\"user_id\", f.\"device_id\"
                     FROM \"refresh_tokens\" t JOIN \"refresh_families\" f ON f.\"id\" = t.\"family_id\"
                     WHERE t.\"hash\" = ?1",
                    [&old[..]],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                )
                .optional()
                .map_err(map_err)?;
            let Some((family, used, expires_at, revoked, user, device)) = row else {
                return Ok(RotateOutcome::Unknown);
            };
            let outcome = if revoked {
                RotateOutcome::Revoked
            } else if used {
                // A spent token presented again means it leaked: end the login.
                tx.execute("UPDATE \"refresh_families\" SET \"revoked\" = 1 WHERE \"id\" = ?1", [family])
                    .map_err(map_err)?;
                RotateOutcome::Reused
            } else if expires_at <= now {
                RotateOutcome::Expired
            } else {
                tx.execute("UPDATE \"refresh_tokens\" SET \"used\" = 1 WHERE \"hash\" = ?1", [&old[..]])
                    .map_err(map_err)?;
                tx.execute(
                    "INSERT INTO \"refresh_tokens\" (\"hash\", \"family_id\", \"expires_at\") VALUES (?1, ?2, ?3)",
                    (&new[..], family, new_expires_at),
                )
                .map_err(map_err)?;
                RotateOutcome::Rotated {
                    user_id: uuid_col(user)?,
                    device_id: uuid_col(device)?,
                }
            };
            tx.commit().map_err(map_err)?;
            Ok(outcome)
        })
    }

    fn push(
        &self,
        work: &mut dyn FnMut(&mut dyn PushTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            {
                let mut push_tx = push::SqlitePushTx::new(&tx);
                work(&mut push_tx)?;
            }
            tx.commit().map_err(map_err)
        })
    }

    fn pull(&self, query: &PullQuery) -> Result<PullPage, StoreError> {
        self.read(|c| queries::pull(c, query))
    }

    fn list_records(&self, query: &RecordQuery) -> Result<RecordPage, StoreError> {
        self.read(|c| queries::list_records(c, query))
    }

    fn get_record(
        &self,
        collection: Collection,
        record_id: Uuid,
    ) -> Result<Option<StoredRecord>, StoreError> {
        self.read(|c| queries::get_record(c, collection, record_id))
    }

    fn summary(&self, query: &SummaryQuery) -> Result<Summary, StoreError> {
        self.read(|c| queries::summary(c, query))
    }
}
