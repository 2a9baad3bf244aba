//! The SQLite store: one writer connection (pushes that queue for it share a
//! transaction and its commit: [`writer`]) and a pool of readers, so pulls and manager reads never
//! wait behind a push (WAL mode lets them read the last committed state).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};
use sync_core::Collection;
use uuid::Uuid;

use super::lineage::Lineage;
use super::{
    AttemptCounts, BindOutcome, BoundDevice, Centre, CentrePatch, CreateUser, DeviceRow, Dismissal,
    HistoryEntry, LoginState, ProgrammeRows, PullPage, PullQuery, PushTx, RecordPage, RecordQuery,
    RotateOutcome, Store, StoreError, StoredRecord, Summary, SummaryQuery, UpdateUser, User,
    UserPage, UserPatch, UserQuery, WebSession,
};
use crate::store::url::{SqliteOptions, Synchronous};

mod accounts;
mod push;
mod queries;
mod writer;

use writer::Writer;

const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_accounts_centres.sql")),
    (3, include_str!("migrations/0003_managers.sql")),
    (4, include_str!("migrations/0004_console_indexes.sql")),
    (5, include_str!("migrations/0005_log_epochs.sql")),
    (6, include_str!("migrations/0006_beneficiaries.sql")),
    (7, include_str!("migrations/0007_erasures.sql")),
];

/// The stored code of a collection.
pub(crate) fn collection_code(c: Collection) -> i64 {
    match c {
        Collection::Sessions => 1,
        Collection::Beneficiaries => 2,
    }
}

#[derive(Debug)]
pub struct SqliteStore {
    writer: Writer,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// The writer and the readers.
    connections: usize,
    /// A shared lock on [`serving_lock`] for as long as the store is open,
    /// so that `asa-server restore` refuses to run under a server.
    _serving: std::fs::File,
}

/// The file beside the database that every open store holds a shared lock
/// on, and a restore an exclusive one (a file of its own: a second
/// descriptor on the database would release SQLite's POSIX locks on close).
/// It is opened for reading only (a lock needs no more), private like the
/// database, and owned by the database's owner: an `asa-server` command run
/// as root never locks the server's user out of it.
pub(crate) fn serving_lock(db: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    match std::fs::File::open(&name) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&name)?;
            if let Ok(owner) = std::fs::metadata(db) {
                // Only root may give a file away; anyone else made it theirs.
                let _ = std::os::unix::fs::chown(&name, Some(owner.uid()), Some(owner.gid()));
            }
            std::fs::File::open(&name)
        }
        other => other,
    }
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

/// Prepared statements kept per connection: a push runs about twenty
/// different ones, and an LRU cache smaller than the working set would
/// parse every one of them again on every push.
const STATEMENT_CACHE: usize = 128;

/// Settings every connection gets.
fn tune(c: &Connection) -> rusqlite::Result<()> {
    c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Plans do not depend on bound values (query planner stability). Without
    // it, a bound `LIMIT ?` marks a cached statement to be parsed and planned
    // again whenever the value is rebound: on every pull.
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn uuid_col(bytes: Vec<u8>) -> Result<Uuid, StoreError> {
    Uuid::from_slice(&bytes)
        .map_err(|_| StoreError::Corrupt("a stored uuid is not 16 bytes".into()))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `options.path` and
    /// migrates it.
    pub fn open(options: &SqliteOptions) -> Result<SqliteStore, StoreError> {
        let path = options.path.as_path();
        private_files(path).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let serving = serving_lock(path).map_err(|e| StoreError::Backend(Box::new(e)))?;
        serving.try_lock_shared().map_err(|e| {
            StoreError::Backend(match e {
                std::fs::TryLockError::WouldBlock => {
                    format!("{}: a restore is running", path.display()).into()
                }
                std::fs::TryLockError::Error(e) => Box::new(e),
            })
        })?;
        let mut writer = Connection::open(path).map_err(map_err)?;
        let sync = match options.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        writer
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;
                 PRAGMA secure_delete = ON;"
            ))
            .map_err(map_err)?;
        writer
            .busy_timeout(Duration::from_secs(5))
            .map_err(map_err)?;
        tune(&writer).map_err(map_err)?;
        migrate(&mut writer)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                c.busy_timeout(Duration::from_secs(5))?;
                tune(c)?;
                c.execute_batch("PRAGMA query_only = ON;")
            });
        let readers = r2d2::Pool::builder()
            .max_size(options.readers.max(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(SqliteStore {
            writer: Writer::new(writer),
            readers,
            connections: usize::try_from(options.readers.max(1)).unwrap_or(1) + 1,
            _serving: serving,
        })
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.writer.write(f)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.get().map_err(pool_err)?;
        f(&conn)
    }
}

/// The database holds the signing key, password hashes and beneficiaries'
/// names and phones: its directory is the server user's only (0700), and the
/// database file is created 0600 before SQLite opens it (SQLite gives its
/// `-wal` and `-shm` files the database file's mode). Modes of files made by
/// an older server are tightened.
fn private_files(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = Path::new(&name);
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Adds an epoch forked at the log's last position (inside the caller's
/// transaction) and returns the lineage.
pub(crate) fn begin_epoch_on(c: &Connection, now: i64) -> Result<Lineage, StoreError> {
    c.execute(
        "INSERT INTO \"log_epochs\" (\"generation\", \"epoch\", \"forked_at\", \"began_at\")
         SELECT max(\"generation\") + 1, random(),
                (SELECT coalesce(max(\"seq\"), 0) FROM \"changes\"), ?1
         FROM \"log_epochs\"",
        [now],
    )
    .map_err(map_err)?;
    read_lineage(c)
}

fn read_lineage(c: &Connection) -> Result<Lineage, StoreError> {
    let rows = c
        .prepare_cached(
            "SELECT \"epoch\", \"forked_at\" FROM \"log_epochs\" ORDER BY \"generation\"",
        )
        .map_err(map_err)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    Lineage::from_rows(rows)
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
        if *number == 3 {
            backfill_manager_columns(&tx)?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {number}"))
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        version = *number;
    }
    Ok(version)
}

/// Fills migration 3's new record columns from each record's merge state.
fn backfill_manager_columns(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    use sync_core::{Field, Key, Value};
    let rows: Vec<(i64, Vec<u8>)> = tx
        .prepare("SELECT \"key\", \"state\" FROM \"records\"")
        .map_err(map_err)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(map_err)?
        .collect::<Result<_, _>>()
        .map_err(map_err)?;
    let mut update = tx
        .prepare(
            "UPDATE \"records\" SET \"outcome\" = ?2, \"duration_min\" = ?3 WHERE \"key\" = ?1",
        )
        .map_err(map_err)?;
    for (key, bytes) in rows {
        let state = sync_core::codec::decode(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("record {key}: {e}")))?;
        let outcome = state
            .value(&Key::field(Field::Outcome))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let duration = state
            .value(&Key::field(Field::DurationMin))
            .and_then(Value::as_i64);
        update.execute((key, outcome, duration)).map_err(map_err)?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(map_err))
    }

    fn connections(&self) -> usize {
        self.connections
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

    fn lineage(&self) -> Result<Lineage, StoreError> {
        self.read(read_lineage)
    }

    fn begin_epoch(&self, now: i64) -> Result<Lineage, StoreError> {
        self.write(|c| {
            let tx = c.transaction().map_err(map_err)?;
            let lineage = begin_epoch_on(&tx, now)?;
            tx.commit().map_err(map_err)?;
            Ok(lineage)
        })
    }

    fn count_users(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM \"users\"", [], |r| r.get(0))
                .map_err(map_err)
        })
    }

    fn create_user(&self, user: &User) -> Result<CreateUser, StoreError> {
        self.write(|c| accounts::create_user(c, user))
    }

    fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.read(|c| accounts::user_where(c, "\"username\" = ?1 COLLATE NOCASE", username))
    }

    fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.read(|c| accounts::user_where(c, "\"id\" = ?1", id.as_bytes()))
    }

    fn list_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        self.read(|c| accounts::list_users(c, query))
    }

    fn user_devices(&self, user_id: Uuid) -> Result<Vec<BoundDevice>, StoreError> {
        self.read(|c| accounts::user_devices(c, user_id))
    }

    fn update_user(&self, id: Uuid, patch: &UserPatch) -> Result<UpdateUser, StoreError> {
        self.write(|c| accounts::update_user(c, id, patch))
    }

    fn display_names(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, StoreError> {
        self.read(|c| accounts::display_names(c, ids))
    }

    fn create_centre(&self, centre: &Centre) -> Result<bool, StoreError> {
        self.write(|c| accounts::create_centre(c, centre))
    }

    fn update_centre(&self, code: &str, patch: &CentrePatch) -> Result<Option<Centre>, StoreError> {
        self.write(|c| accounts::update_centre(c, code, patch))
    }

    fn list_centres(&self, only: Option<&str>) -> Result<Vec<Centre>, StoreError> {
        self.read(|c| accounts::list_centres(c, only))
    }

    fn reserve_login(
        &self,
        username: &str,
        address: &str,
        now: i64,
        since: i64,
        judge: &dyn Fn(&AttemptCounts) -> Option<u64>,
    ) -> Result<Result<i64, u64>, StoreError> {
        self.write(|c| accounts::reserve_login(c, username, address, now, since, judge))
    }

    fn finish_login(&self, attempt: i64, succeeded: bool) -> Result<(), StoreError> {
        self.write(|c| accounts::finish_login(c, attempt, succeeded))
    }

    fn bind_device(
        &self,
        device_id: Uuid,
        user: &User,
        now: i64,
        may_take_over: &dyn Fn(&User) -> bool,
    ) -> Result<BindOutcome, StoreError> {
        self.write(|c| accounts::bind_device(c, device_id, user, now, may_take_over))
    }

    fn unbind_device(&self, user_id: Uuid, device_id: Uuid) -> Result<bool, StoreError> {
        self.write(|c| accounts::unbind_device(c, user_id, device_id))
    }

    fn clear_resync(&self, device_id: Uuid, seen: i64) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute(
                "UPDATE \"devices\" SET \"resync\" = 0 WHERE \"device_id\" = ?1 AND \"resync\" = ?2",
                (device_id.as_bytes(), seen),
            )
            .map_err(map_err)?;
            Ok(())
        })
    }

    fn touch_device(&self, device_id: Uuid, now: i64) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute(
                "UPDATE \"devices\" SET \"last_seen_at\" = ?2 WHERE \"device_id\" = ?1",
                (device_id.as_bytes(), now),
            )
            .map_err(map_err)?;
            Ok(())
        })
    }

    fn create_refresh_token(
        &self,
        hash: &[u8; 32],
        user_id: Uuid,
        device_id: Uuid,
        expires_at: i64,
        now: i64,
    ) -> Result<i64, StoreError> {
        self.write(|c| accounts::create_refresh_token(c, hash, user_id, device_id, expires_at, now))
    }

    fn rotate_refresh_token(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
        device_id: Option<Uuid>,
        now: i64,
        new_expires_at: i64,
        grace_secs: i64,
    ) -> Result<RotateOutcome, StoreError> {
        self.write(|c| {
            accounts::rotate_refresh_token(c, old, new, device_id, now, new_expires_at, grace_secs)
        })
    }

    fn revoke_login(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute(
                "UPDATE \"refresh_families\" SET \"revoked\" = 1 WHERE \"id\" =
                   (SELECT \"family_id\" FROM \"refresh_tokens\" WHERE \"hash\" = ?1)",
                [&hash[..]],
            )
            .map_err(map_err)?;
            Ok(())
        })
    }

    fn login_state(&self, family: i64) -> Result<Option<LoginState>, StoreError> {
        self.read(|c| accounts::login_state(c, family))
    }

    fn push(
        &self,
        work: &mut dyn FnMut(&mut dyn PushTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.writer.push(|c| {
            let mut tx = push::SqlitePushTx::new(c);
            work(&mut tx)
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

    fn count_records(&self, query: &RecordQuery) -> Result<u64, StoreError> {
        self.read(|c| queries::count_records(c, query))
    }

    fn record_history(
        &self,
        collection: Collection,
        record_id: Uuid,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        self.read(|c| queries::record_history(c, collection, record_id))
    }

    fn list_devices(&self, centre: Option<&str>, since: i64) -> Result<Vec<DeviceRow>, StoreError> {
        self.read(|c| accounts::list_devices(c, centre, since))
    }

    fn programme(&self, query: &SummaryQuery) -> Result<ProgrammeRows, StoreError> {
        self.read(|c| queries::programme(c, query))
    }

    fn users_matching(&self, centre: Option<&str>, text: &str) -> Result<Vec<Uuid>, StoreError> {
        self.read(|c| accounts::users_matching(c, centre, text))
    }

    fn dismissed_pairs(&self, centre: &str) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT \"a\", \"b\" FROM \"duplicate_dismissals\" WHERE \"centre_id\" = ?1",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map([centre], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(map_err)?;
            let mut pairs = HashSet::new();
            for row in rows {
                let (a, b) = row.map_err(map_err)?;
                if let (Ok(a), Ok(b)) = (Uuid::parse_str(&a), Uuid::parse_str(&b)) {
                    pairs.insert((a, b));
                }
            }
            Ok(pairs)
        })
    }

    fn sessions_linking(&self, beneficiary: Uuid) -> Result<Vec<Uuid>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT r.\"record_id\" FROM \"records\" r, json_each(r.\"beneficiaries\") j
                     WHERE r.\"collection\" = ?1 AND j.\"value\" = ?2 ORDER BY r.\"key\"",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(
                    rusqlite::params![
                        collection_code(Collection::Sessions),
                        beneficiary.to_string()
                    ],
                    |r| r.get::<_, Vec<u8>>(0),
                )
                .map_err(map_err)?;
            rows.map(|r| uuid_col(r.map_err(map_err)?)).collect()
        })
    }

    fn erasure_of(&self, beneficiary: Uuid) -> Result<Option<super::Erasure>, StoreError> {
        self.read(|c| {
            let tx = c.unchecked_transaction().map_err(map_err)?;
            push::SqlitePushTx::new(&tx).erasure(beneficiary)
        })
    }

    fn people(&self) -> Result<super::People, StoreError> {
        self.read(queries::people)
    }

    fn people_last_seen(&self) -> Result<Vec<super::LastSeen>, StoreError> {
        self.read(|c| {
            let mut last: HashMap<String, String> = HashMap::new();
            let mut stmt = c
                .prepare(
                    "SELECT j.\"value\", max(r.\"started_on\") FROM \"records\" r, json_each(r.\"beneficiaries\") j
                     WHERE r.\"collection\" = ?1 AND NOT r.\"deleted\" GROUP BY j.\"value\"",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map([collection_code(Collection::Sessions)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .map_err(map_err)?;
            for row in rows {
                if let (id, Some(on)) = row.map_err(map_err)? {
                    last.insert(id, on);
                }
            }
            let mut stmt = c
                .prepare(
                    "SELECT \"record_id\", \"version\" FROM \"records\" WHERE \"collection\" = ?1
                     AND lower(hex(\"record_id\")) NOT IN (SELECT lower(replace(\"record_id\", '-', '')) FROM \"erasures\")",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map([collection_code(Collection::Beneficiaries)], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .map_err(map_err)?;
            let mut people = Vec::new();
            for row in rows {
                let (id, version) = row.map_err(map_err)?;
                let id = uuid_col(id)?;
                people.push(super::LastSeen {
                    id,
                    last_session_on: last.get(&id.to_string()).cloned(),
                    version: version.and_then(|v| v.parse().ok()),
                });
            }
            Ok(people)
        })
    }

    fn settle_erasure(&self) -> Result<(), StoreError> {
        // Readers that still hold a snapshot keep the WAL from being
        // truncated; they finish within moments, so the checkpoint waits
        // for them (busy_timeout) and is tried again a few times.
        self.write(|c| {
            // A database made before `secure_delete` was on may hold old
            // values in its free pages: the first erasure rewrites it whole
            // (VACUUM), once.
            let vacuumed: bool = c
                .query_row(
                    "SELECT count(*) > 0 FROM \"meta\" WHERE \"name\" = 'vacuumed_for_erasure'",
                    [],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if !vacuumed {
                c.execute_batch(
                    "VACUUM; INSERT INTO \"meta\" (\"name\", \"value\") VALUES ('vacuumed_for_erasure', x'01')
                     ON CONFLICT (\"name\") DO NOTHING;",
                )
                .map_err(map_err)?;
            }
            for _ in 0..20 {
                let busy: i64 = c
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                    .map_err(map_err)?;
                if busy == 0 {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(StoreError::Busy)
        })
    }

    fn dismiss_pair(&self, d: &Dismissal) -> Result<(), StoreError> {
        self.write(|c| {
            c.prepare_cached(
                "INSERT INTO \"duplicate_dismissals\" (\"a\", \"b\", \"centre_id\", \"dismissed_by\", \"dismissed_at\")
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (\"a\", \"b\") DO NOTHING",
            )
            .map_err(map_err)?
            .execute(rusqlite::params![
                d.a.to_string(),
                d.b.to_string(),
                d.centre_id,
                d.by.to_string(),
                d.at
            ])
            .map_err(map_err)?;
            Ok(())
        })
    }

    fn create_web_session(
        &self,
        hash: &[u8; 32],
        user_id: Uuid,
        csrf: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(|c| accounts::create_web_session(c, hash, user_id, csrf, now))
    }

    fn web_session(
        &self,
        hash: &[u8; 32],
        idle_since: i64,
    ) -> Result<Option<WebSession>, StoreError> {
        self.read(|c| accounts::web_session(c, hash, idle_since))
    }

    fn touch_web_session(
        &self,
        hash: &[u8; 32],
        now: i64,
        idle_since: i64,
    ) -> Result<(), StoreError> {
        self.write(|c| accounts::touch_web_session(c, hash, now, idle_since))
    }

    fn end_web_session(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute(
                "DELETE FROM \"web_sessions\" WHERE \"hash\" = ?1",
                [&hash[..]],
            )
            .map_err(map_err)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database a v1 server made: only the first migration, with users,
    /// records and changes naming centres that were free text then.
    fn v1_database(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(MIGRATIONS[0].1).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO \"users\" VALUES (x'00000000000000000000000000000001', 'Somchai', 'hash', 'volunteer', 'centre 1', 0);
             INSERT INTO \"users\" VALUES (x'00000000000000000000000000000002', 'admin', 'hash', 'admin', NULL, 0);
             INSERT INTO \"devices\" VALUES (1, x'00000000000000000000000000000009', x'00000000000000000000000000000001', 7, 0, 0);
             INSERT INTO \"records\" (\"collection\", \"record_id\", \"centre_id\", \"deleted\", \"conflicts\", \"state\")
               VALUES (1, x'00000000000000000000000000000003', 'C0002', 0, 0, x'0100');
             INSERT INTO \"changes\" (\"change_id\", \"device_key\", \"device_seq\", \"collection\", \"centre_id\", \"body\")
               VALUES (x'00000000000000000000000000000004', 1, 1, 2, 'C0003', '{}');",
        )
        .unwrap();
    }

    #[test]
    fn a_v1_database_gets_a_centre_per_code_in_use_and_keeps_its_devices() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("asa.db");
        v1_database(&path);
        let store = SqliteStore::open(&SqliteOptions {
            path: path.clone(),
            synchronous: Synchronous::Normal,
            readers: 1,
        })
        .unwrap();
        let centres: Vec<(String, String)> = store
            .list_centres(None)
            .unwrap()
            .into_iter()
            .map(|c| (c.code, c.name))
            .collect();
        assert_eq!(
            centres,
            [
                ("C0002", "C0002"),
                ("C0003", "C0003"),
                ("centre 1", "centre 1")
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        let somchai = store
            .user_by_name("somchai")
            .unwrap()
            .expect("found without case");
        assert_eq!(somchai.display_name, "Somchai", "named by the username");
        assert!(!somchai.disabled);
        let devices = store.user_devices(somchai.id).unwrap();
        assert_eq!(devices.len(), 1);
        let acked: i64 = store
            .read(|c| {
                c.query_row("SELECT \"acked_seq\" FROM \"devices\"", [], |r| r.get(0))
                    .map_err(map_err)
            })
            .unwrap();
        assert_eq!(acked, 7, "the device's sequence survives the new table");
    }

    #[test]
    fn records_stored_before_migration_6_learn_their_creator_and_merge_from_the_log() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("asa.db");
        let mut conn = Connection::open(&path).unwrap();
        for (number, sql) in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
            conn.execute_batch(&format!("PRAGMA user_version = {number}"))
                .unwrap();
        }
        let record = "0190a000-0000-7000-8000-0000000000b1";
        let change = |seq: i64, author: &str, hlc: &str, fields: &str| {
            format!(
                "INSERT INTO \"changes\" (\"seq\", \"change_id\", \"device_key\", \"device_seq\", \"collection\", \"centre_id\", \"body\", \"record_id\")
                 VALUES ({seq}, randomblob(16), 1, {seq}, 2, 'C0001',
                 '{{\"collection\":\"beneficiaries\",\"record_id\":\"{record}\",\"hlc\":\"{hlc}\",\"fields\":{fields},\"author\":\"{author}\"}}', '{record}');"
            )
        };
        let into_late = "0190a000-0000-7000-8000-0000000000c2";
        conn.execute_batch(&format!(
            "INSERT INTO \"records\" (\"collection\", \"record_id\", \"centre_id\", \"deleted\", \"conflicts\", \"state\")
               VALUES (2, x'0190a0000000700080000000000000b1', 'C0001', 0, 0, x'0100');
             {}{}{}",
            change(1, "0190a000-0000-7000-8000-0000000000a1", "1790000000000-0000-d", "{\"display_name\":{\"value\":\"x\"}}"),
            change(2, "0190a000-0000-7000-8000-0000000000a2", "1790000000009-0000-d", &format!("{{\"merged_into\":{{\"value\":\"{into_late}\"}}}}")),
            change(3, "0190a000-0000-7000-8000-0000000000a2", "1790000000005-0000-d", "{\"merged_into\":{\"value\":\"0190a000-0000-7000-8000-0000000000c1\"}}"),
        ))
        .unwrap();
        migrate(&mut conn).unwrap();
        let (creator, merged): (String, String) = conn
            .query_row(
                "SELECT \"created_by\", \"merged_into\" FROM \"records\"",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            creator, "0190a000-0000-7000-8000-0000000000a1",
            "the first change's author"
        );
        assert_eq!(merged, into_late, "the write with the greatest HLC");
    }
}
