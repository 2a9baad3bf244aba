//! `asa-server backup DEST` and `asa-server restore SRC` (issue 10).
//!
//! A backup is a consistent copy taken while servers keep serving: SQLite's
//! online backup API in one step (one read transaction, which in WAL mode
//! never blocks a writer), or `pg_dump` (one snapshot) in its custom format.
//! It is written next to `DEST` and renamed into place, so `DEST` is never a
//! half-written backup.
//!
//! A restore puts a backup's data back with every server stopped, migrates
//! it to this version and starts a new epoch of the change log
//! ([`super::lineage`]): pull cursors handed out since resume at the backup's
//! last position, and devices whose acknowledged changes the backup lacks
//! are told `server_restored` and send them again.

use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::lineage::Lineage;
use super::url::DatabaseUrl;
use super::{connect, StoreError};

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
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Copies the store `url` names to `dest`; returns the backup's size in bytes.
pub fn backup(url: &DatabaseUrl, dest: &Path) -> Result<u64, BackupError> {
    let partial = partial_path(dest);
    match url {
        DatabaseUrl::Sqlite(options) => sqlite_backup(&options.path, &partial)?,
        DatabaseUrl::Postgres(url) => {
            private_file(&partial)?;
            run_tool(
                "pg_dump",
                Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--file"])
                    .arg(&partial)
                    .arg(format!("--dbname={url}")),
            )?;
        }
    }
    std::fs::rename(&partial, dest).map_err(|source| BackupError::File {
        path: dest.to_owned(),
        source,
    })?;
    let bytes = std::fs::metadata(dest)
        .map_err(|source| BackupError::File {
            path: dest.to_owned(),
            source,
        })?
        .len();
    Ok(bytes)
}

/// Replaces the data of the store `url` names by the backup at `src` (every
/// server of that store must be stopped), migrates it and starts a new
/// epoch; returns the new lineage.
pub fn restore(url: &DatabaseUrl, src: &Path, now: i64) -> Result<Lineage, BackupError> {
    match url {
        DatabaseUrl::Sqlite(options) => sqlite_restore(src, &options.path)?,
        DatabaseUrl::Postgres(url) => {
            // Read the archive's table of contents first: a file that is
            // not a dump is refused before anything is dropped.
            run_tool(
                "pg_restore",
                Command::new("pg_restore").arg("--list").arg(src),
            )
            .map_err(|e| BackupError::NotABackup(src.to_owned(), e.to_string()))?;
            let mut client = postgres::Client::connect(url, postgres::NoTls)
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
            if let Some(who) = postgres_in_use(&mut client)? {
                return Err(BackupError::InUse(who));
            }
            client
                .batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
            drop(client);
            run_tool(
                "pg_restore",
                Command::new("pg_restore")
                    .args(["--no-owner", "--exit-on-error", "--single-transaction"])
                    .arg(format!("--dbname={url}"))
                    .arg(src),
            )?;
        }
    }
    let store = connect(url)?;
    Ok(store.begin_epoch(now)?)
}

/// What has the store open (a running server, another `asa-server`
/// command), if anything: a restore refuses to run under it.
pub fn in_use(url: &DatabaseUrl) -> Result<Option<String>, BackupError> {
    match url {
        DatabaseUrl::Sqlite(options) => {
            let lock =
                super::sqlite::serving_lock(&options.path).map_err(|source| BackupError::File {
                    path: options.path.clone(),
                    source,
                })?;
            Ok(lock
                .try_lock()
                .is_err()
                .then(|| format!("{} is open", options.path.display())))
        }
        DatabaseUrl::Postgres(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls)
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
            postgres_in_use(&mut client)
        }
    }
}

fn postgres_in_use(client: &mut postgres::Client) -> Result<Option<String>, BackupError> {
    let serving: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = $1
               AND pid <> pg_backend_pid()",
            &[&super::postgres::APPLICATION_NAME],
        )
        .map_err(|e| StoreError::Backend(Box::new(e)))?
        .get(0);
    Ok((serving > 0).then(|| {
        format!("{serving} connection(s) of a running asa-server are open on the database")
    }))
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".partial");
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
        .map_err(|source| BackupError::File {
            path: path.to_owned(),
            source,
        })
}

fn run_tool(program: &'static str, command: &mut Command) -> Result<(), BackupError> {
    let output = command.output().map_err(|e| BackupError::Tool {
        program,
        status: "not started".into(),
        stderr: e.to_string(),
    })?;
    if output.status.success() {
        Ok(())
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
    std::fs::File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(|source| BackupError::File {
            path: partial.to_owned(),
            source,
        })
}

fn sqlite_restore(src: &Path, db: &Path) -> Result<(), BackupError> {
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
    let lock = super::sqlite::serving_lock(db).map_err(|source| BackupError::File {
        path: db.to_owned(),
        source,
    })?;
    lock.try_lock()
        .map_err(|_| BackupError::InUse(format!("{} is open", db.display())))?;
    let mut to = Connection::open(db).map_err(sqlite_err)?;
    copy_pages(&from, &mut to)
}
