//! `asa-server backup DEST` and `asa-server restore SRC` (issue 10).
//!
//! A backup is a consistent copy taken while servers keep serving: SQLite's
//! online backup API in one step (one read transaction, which in WAL mode
//! never blocks a writer), or `pg_dump` (one snapshot) in its custom format.
//! It is written next to `DEST` and renamed into place, so `DEST` is never a
//! half-written backup.
//!
//! A restore builds the restored database beside the live one, complete:
//! the backup's data, migrated to this version, with a new epoch of the
//! change log ([`super::lineage`]). Only then is it swapped in, in one step
//! that cannot happen while a server has the database open (SQLite: a
//! rename under the exclusive lock every open store shares; PostgreSQL:
//! two `ALTER DATABASE ... RENAME` in one transaction, which PostgreSQL
//! refuses while anyone is connected). A restore stopped anywhere leaves
//! either the old database or the restored one, never a mix. Afterwards pull
//! cursors handed out before it resume at the backup's last position, and
//! devices whose acknowledged changes the backup lacks send them again.
//!
//! Before the swap, every erasure in the live database's ledger is applied
//! again to the restored one (`sync::erasure::apply_again`): a backup older
//! than an erasure does not bring the person back (contract section 10).

use std::path::{Path, PathBuf};
use std::process::Command;

use postgres::error::SqlState;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::lineage::Lineage;
use super::url::{DatabaseUrl, PostgresTarget};
use super::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a backup of an Asa Sync database: {1}")]
    NotABackup(PathBuf, String),
    #[error("{0}: stop every server of this database (and any other asa-server command on it) before a restore")]
    InUse(String),
    #[error("{program} failed ({status}): {stderr}")]
    Tool {
        program: &'static str,
        status: String,
        stderr: String,
    },
    #[error("{0}")]
    Url(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn file_err(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::File {
        path: path.to_owned(),
        source,
    }
}

fn pg_err(e: postgres::Error) -> BackupError {
    BackupError::Store(StoreError::Backend(Box::new(e)))
}

/// Copies the store `url` names to `dest`; returns the backup's size in bytes.
pub fn backup(url: &DatabaseUrl, dest: &Path) -> Result<u64, BackupError> {
    let partial = with_suffix(dest, ".partial");
    match url {
        DatabaseUrl::Sqlite(options) => sqlite_backup(&options.path, &partial)?,
        DatabaseUrl::Postgres(url) => {
            let target = PostgresTarget::parse(url).map_err(BackupError::Url)?;
            private_file(&partial)?;
            run_tool(
                "pg_dump",
                Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--no-acl", "--file"])
                    .arg(&partial)
                    .arg(format!("--dbname={}", target.url_for(&target.dbname))),
                &target,
            )?;
        }
    }
    std::fs::rename(&partial, dest).map_err(file_err(dest))?;
    Ok(std::fs::metadata(dest).map_err(file_err(dest))?.len())
}

/// Replaces the database `url` names by the backup at `src`, migrated to
/// this version, in a new epoch of the change log; returns the new lineage.
/// Refused while a server (or another `asa-server` command) has it open.
pub fn restore(url: &DatabaseUrl, src: &Path, now: i64) -> Result<Lineage, BackupError> {
    match url {
        DatabaseUrl::Sqlite(options) => sqlite_restore(src, &options.path, now),
        DatabaseUrl::Postgres(url) => postgres_restore(url, src, now),
    }
}

/// What has the store open (a running server, another `asa-server`
/// command), if anything: a restore refuses to run under it.
pub fn in_use(url: &DatabaseUrl) -> Result<Option<String>, BackupError> {
    match url {
        DatabaseUrl::Sqlite(options) => {
            let lock =
                super::sqlite::serving_lock(&options.path).map_err(file_err(&options.path))?;
            Ok(lock
                .try_lock()
                .is_err()
                .then(|| format!("{} is open", options.path.display())))
        }
        DatabaseUrl::Postgres(url) => {
            let target = PostgresTarget::parse(url).map_err(BackupError::Url)?;
            let mut admin = maintenance(&target)?;
            sessions_on(&mut admin, &target.dbname)
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A backup holds password hashes and beneficiaries' personal data: it is
/// created readable by its owner only.
fn private_file(path: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(file_err(path))
}

/// Runs a PostgreSQL tool, its password in `PGPASSWORD` (never in its
/// arguments, which `ps` shows); returns its standard output.
fn run_tool(
    program: &'static str,
    command: &mut Command,
    target: &PostgresTarget,
) -> Result<String, BackupError> {
    if let Some(password) = &target.password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().map_err(|e| BackupError::Tool {
        program,
        status: "not started".into(),
        stderr: e.to_string(),
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(BackupError::Tool {
            program,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

fn sqlite_err(e: rusqlite::Error) -> BackupError {
    BackupError::Store(super::sqlite::map_err(e))
}

/// Copies every page of `from` to `to` in one step, so the copy is one
/// consistent snapshot (a step that meets a lock is tried again).
fn copy_pages(from: &Connection, to: &mut Connection) -> Result<(), BackupError> {
    let backup = Backup::new(from, to).map_err(sqlite_err)?;
    for _ in 0..50 {
        match backup.step(-1).map_err(sqlite_err)? {
            StepResult::Done => return Ok(()),
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
    Err(StoreError::Busy.into())
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(file_err(path))
}

fn sqlite_backup(db: &Path, partial: &Path) -> Result<(), BackupError> {
    let from =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite_err)?;
    from.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sqlite_err)?;
    private_file(partial)?;
    let mut to = Connection::open(partial).map_err(sqlite_err)?;
    copy_pages(&from, &mut to)?;
    // The copy keeps the source's WAL mode in its header; a backup is one
    // self-contained file.
    to.pragma_update(None, "journal_mode", "DELETE")
        .map_err(sqlite_err)?;
    drop(to);
    sync_file(partial)
}

fn sqlite_restore(src: &Path, db: &Path, now: i64) -> Result<Lineage, BackupError> {
    let not_a_backup = |why: String| BackupError::NotABackup(src.to_owned(), why);
    if !src.is_file() {
        return Err(not_a_backup("no such file".into()));
    }
    let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| not_a_backup(e.to_string()))?;
    let check: String = from
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| not_a_backup(e.to_string()))?;
    let has_log: bool = from
        .query_row(
            "SELECT count(*) = 1 FROM sqlite_master WHERE type = 'table' AND name = 'changes'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| not_a_backup(e.to_string()))?;
    if check != "ok" || !has_log {
        return Err(not_a_backup(if has_log {
            format!("the integrity check says {check}")
        } else {
            "it has no change log".into()
        }));
    }
    // Checked before the work and again at the swap.
    if let Some(who) = in_use(&DatabaseUrl::Sqlite(super::url::SqliteOptions::at(db)))? {
        return Err(BackupError::InUse(who));
    }

    // The restored database, complete, beside the live one.
    let staging = with_suffix(db, ".restoring");
    let _ = std::fs::remove_file(&staging);
    private_file(&staging)?;
    let lineage = {
        let mut to = Connection::open(&staging).map_err(sqlite_err)?;
        copy_pages(&from, &mut to)?;
        to.pragma_update(None, "journal_mode", "DELETE")
            .map_err(sqlite_err)?;
        super::sqlite::migrate(&mut to)?;
        let tx = to.transaction().map_err(sqlite_err)?;
        let lineage = super::sqlite::begin_epoch_on(&tx, now)?;
        tx.commit().map_err(sqlite_err)?;
        lineage
    };
    let ledger = sqlite_ledger(db)?;
    if !ledger.is_empty() {
        let store = super::sqlite::SqliteStore::open(&super::url::SqliteOptions::at(&staging))?;
        reapply_ledger(&store, &ledger, now)?;
        drop(store);
        let _ = std::fs::remove_file(with_suffix(&staging, ".lock"));
        // Back to the journal the swap expects; closing the store folded
        // its WAL into the file.
        let to = Connection::open(&staging).map_err(sqlite_err)?;
        to.pragma_update(None, "journal_mode", "DELETE")
            .map_err(sqlite_err)?;
    }
    sync_file(&staging)?;

    // The swap, under the lock that every open store shares.
    let lock = super::sqlite::serving_lock(db).map_err(file_err(db))?;
    lock.try_lock()
        .map_err(|_| BackupError::InUse(format!("{} is open", db.display())))?;
    if db.exists() {
        // Nothing of the live database may stay in a WAL that SQLite would
        // replay onto the restored file: fold it in, then remove it. A live
        // database too damaged to fold is being replaced anyway.
        if let Ok(live) = Connection::open(db) {
            let _ = live.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
    for suffix in ["-wal", "-shm"] {
        match std::fs::remove_file(with_suffix(db, suffix)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(file_err(db)(e));
            }
            _ => {}
        }
    }
    std::fs::rename(&staging, db).map_err(file_err(db))?;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync_file(dir)?;
    }
    Ok(lineage)
}

/// The erasure ledger of the live SQLite database (empty when there is no
/// live database yet, or it predates the ledger).
fn sqlite_ledger(db: &Path) -> Result<Vec<super::Erasure>, BackupError> {
    if !db.exists() {
        return Ok(Vec::new());
    }
    let live =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite_err)?;
    let has_ledger: bool = live
        .query_row(
            "SELECT count(*) = 1 FROM sqlite_master WHERE type = 'table' AND name = 'erasures'",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err)?;
    if !has_ledger {
        return Ok(Vec::new());
    }
    let mut stmt = live
        .prepare(
            "SELECT \"record_id\", \"centre_id\", \"erased_by\", \"erased_at\" FROM \"erasures\"",
        )
        .map_err(sqlite_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(sqlite_err)?;
    let mut ledger = Vec::new();
    for row in rows {
        let (id, centre_id, by, at) = row.map_err(sqlite_err)?;
        if let (Ok(record_id), Ok(by)) = (uuid::Uuid::parse_str(&id), uuid::Uuid::parse_str(&by)) {
            ledger.push(super::Erasure {
                record_id,
                centre_id,
                by,
                at,
            });
        }
    }
    Ok(ledger)
}

/// Applies every erasure of `ledger` again to the restored `store`, in one
/// transaction, and settles its files.
fn reapply_ledger(
    store: &dyn super::Store,
    ledger: &[super::Erasure],
    now: i64,
) -> Result<(), BackupError> {
    let now_ms = u64::try_from(now).unwrap_or(0).saturating_mul(1000);
    store.push(&mut |tx| {
        for erasure in ledger {
            crate::sync::erasure::apply_again(tx, erasure, now_ms).map_err(|e| match e {
                crate::sync::server_change::ServerChangeError::Store(e) => e,
                other => StoreError::Corrupt(format!("an erasure does not apply again: {other}")),
            })?;
        }
        Ok(())
    })?;
    store.settle_erasure()?;
    tracing::info!(
        erasures = ledger.len(),
        "the erasure ledger is applied to the restored database"
    );
    Ok(())
}

/// The erasure ledger of the live PostgreSQL database (empty when it does
/// not exist yet or predates the ledger).
fn postgres_ledger(target: &PostgresTarget) -> Result<Vec<super::Erasure>, BackupError> {
    let mut config: postgres::Config = target.url_for(&target.dbname).parse().map_err(pg_err)?;
    if let Some(password) = &target.password {
        config.password(password);
    }
    let mut live = match config.connect(postgres::NoTls) {
        Ok(c) => c,
        // No live database yet: nothing was ever erased in it.
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => return Ok(Vec::new()),
        // Any other failure must not pass for an empty ledger: the restore
        // would bring erased people back.
        Err(e) => return Err(pg_err(e)),
    };
    let exists: bool = live
        .query_one("SELECT to_regclass('erasures') IS NOT NULL", &[])
        .map_err(pg_err)?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    let rows = live
        .query(
            "SELECT record_id, centre_id, erased_by, erased_at FROM erasures",
            &[],
        )
        .map_err(pg_err)?;
    Ok(rows
        .iter()
        .map(|r| super::Erasure {
            record_id: r.get(0),
            centre_id: r.get(1),
            by: r.get(2),
            at: r.get(3),
        })
        .collect())
}

/// A connection to the server's maintenance database (`postgres`, or
/// `template1` when the store's database is `postgres` itself), from which
/// databases are created and renamed.
fn maintenance(target: &PostgresTarget) -> Result<postgres::Client, BackupError> {
    let name = if target.dbname == "postgres" {
        "template1"
    } else {
        "postgres"
    };
    let mut config: postgres::Config = target.url_for(name).parse().map_err(pg_err)?;
    if let Some(password) = &target.password {
        config.password(password);
    }
    config.connect(postgres::NoTls).map_err(pg_err)
}

fn sessions_on(admin: &mut postgres::Client, dbname: &str) -> Result<Option<String>, BackupError> {
    let sessions: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
            &[&dbname],
        )
        .map_err(pg_err)?
        .get(0);
    Ok((sessions > 0).then(|| format!("{sessions} session(s) are connected to database {dbname}")))
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn postgres_restore(url: &str, src: &Path, now: i64) -> Result<Lineage, BackupError> {
    let target = PostgresTarget::parse(url).map_err(BackupError::Url)?;
    // The archive's table of contents: a file that is not a dump of an Asa
    // Sync database is refused before anything is made.
    let listing = run_tool(
        "pg_restore",
        Command::new("pg_restore").arg("--list").arg(src),
        &target,
    )
    .map_err(|e| BackupError::NotABackup(src.to_owned(), e.to_string()))?;
    if !listing.contains(" TABLE DATA public changes ") {
        return Err(BackupError::NotABackup(
            src.to_owned(),
            "the dump holds no change log".into(),
        ));
    }
    let mut admin = maintenance(&target)?;
    if let Some(who) = sessions_on(&mut admin, &target.dbname)? {
        return Err(BackupError::InUse(who));
    }

    // The restored database, complete, beside the live one.
    let staging = format!("{}_restoring", target.dbname);
    // Two statements: neither may run in a transaction block, which one
    // query string of several statements is.
    for statement in ["DROP DATABASE IF EXISTS", "CREATE DATABASE"] {
        admin
            .batch_execute(&format!("{statement} {}", quoted(&staging)))
            .map_err(pg_err)?;
    }
    run_tool(
        "pg_restore",
        Command::new("pg_restore")
            .args([
                "--no-owner",
                "--no-acl",
                "--exit-on-error",
                "--single-transaction",
            ])
            .arg(format!("--dbname={}", target.url_for(&staging)))
            .arg(src),
        &target,
    )?;
    let lineage = {
        let mut config: postgres::Config = target.url_for(&staging).parse().map_err(pg_err)?;
        if let Some(password) = &target.password {
            config.password(password);
        }
        let mut c = config.connect(postgres::NoTls).map_err(pg_err)?;
        super::postgres::migrate(&mut c)?;
        let mut tx = c.transaction().map_err(pg_err)?;
        let lineage = super::postgres::begin_epoch_on(&mut tx, now)?;
        tx.commit().map_err(pg_err)?;
        lineage
    };
    let ledger = postgres_ledger(&target)?;
    if !ledger.is_empty() {
        let store = super::postgres::PostgresStore::open(&target.url_for(&staging))?;
        reapply_ledger(&store, &ledger, now)?;
    }

    // The swap: one transaction, refused while anyone is connected to
    // either database. The replaced database is kept under another name.
    let kept = format!("{}_before_restore_{now}", target.dbname);
    let swap = format!(
        "BEGIN; ALTER DATABASE {live} RENAME TO {kept}; ALTER DATABASE {staging} RENAME TO {live}; COMMIT",
        live = quoted(&target.dbname),
        kept = quoted(&kept),
        staging = quoted(&staging),
    );
    // The staging database's last session ends a moment after its client
    // closed it.
    for attempt in 0.. {
        match admin.batch_execute(&swap) {
            Ok(()) => break,
            Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) => {
                let _ = admin.batch_execute("ROLLBACK");
                if let Some(who) = sessions_on(&mut admin, &target.dbname)? {
                    return Err(BackupError::InUse(who));
                }
                if attempt == 50 {
                    return Err(pg_err(e));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(pg_err(e)),
        }
    }
    tracing::info!(kept = %kept, "restored; the replaced database is kept: drop it when satisfied");
    Ok(lineage)
}
