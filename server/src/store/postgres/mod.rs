//! The PostgreSQL store (contract section 11): any number of servers share
//! one database. Connections come from an r2d2 pool over the blocking
//! `postgres` client, whose `Config` keeps libpq's URL syntax, several hosts
//! and `target_session_attrs=read-write` included, so after a failover a new
//! connection finds the new primary by itself.
//!
//! Every rule that SQLite keeps by having one writer is kept here by the
//! database: a push locks its device row and the records it read
//! (`SELECT ... FOR UPDATE`), a record it found absent is inserted only if
//! it is still absent, and the log's positions are taken from one row
//! (`log_head`) as the push's last statement, whose lock is held until
//! commit, so positions commit in order and a pull cursor never skips a
//! change committed later (see [`push`]). A conflict between two
//! transactions fails one of them, which [`Store::push`] runs again.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls};
use r2d2_postgres::PostgresConnectionManager;
use sync_core::Collection;
use uuid::Uuid;

use super::lineage::Lineage;
use super::{
    AttemptCounts, BindOutcome, BoundDevice, Centre, CentrePatch, CreateUser, DeviceRow, Dismissal,
    HistoryEntry, LoginState, ProgrammeRows, PullPage, PullQuery, PushTx, RecordPage, RecordQuery,
    RotateOutcome, Store, StoreError, StoredRecord, Summary, SummaryQuery, UpdateUser, User,
    UserPage, UserPatch, UserQuery, WebSession,
};

mod accounts;
mod push;
mod queries;
#[cfg(any(test, feature = "test-support"))]
pub mod scratch;

const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_log_epochs.sql")),
    (3, include_str!("migrations/0003_beneficiaries.sql")),
    (4, include_str!("migrations/0004_erasures.sql")),
];

/// The `application_name` of every connection a store opens.
pub(crate) const APPLICATION_NAME: &str = "asa-server";

/// The longest a statement waits for a lock (PostgreSQL's syntax).
const LOCK_TIMEOUT: &str = "5s";

/// The longest a session may sit idle inside a transaction.
const IDLE_IN_TRANSACTION: &str = "30s";

/// Connections per server process.
const POOL_SIZE: u32 = 8;

/// How often a push that lost a conflict to another transaction is run
/// again before the client is told to retry (503).
const PUSH_ATTEMPTS: usize = 4;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

#[derive(Debug)]
pub struct PostgresStore {
    /// Always `Some` but in `drop`.
    pool: Option<Pool>,
}

/// The blocking client closes its connections by running a small runtime of
/// its own, which must not happen on a thread of the server's async
/// runtime, where the last handle on the store may be dropped: the pool is
/// dropped on a thread of its own.
impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// The stored code of a collection (as in the SQLite store).
pub(crate) fn collection_code(c: Collection) -> i16 {
    match c {
        Collection::Sessions => 1,
        Collection::Beneficiaries => 2,
    }
}

pub(crate) fn collection_from(code: i16) -> Result<Collection, StoreError> {
    match code {
        1 => Ok(Collection::Sessions),
        2 => Ok(Collection::Beneficiaries),
        other => Err(StoreError::Corrupt(format!(
            "unknown collection code {other}"
        ))),
    }
}

/// Errors a retry can cure are `Busy` (answered 503 with `Retry-After`):
/// conflicts between transactions, a lost or refused connection, a node
/// that is shutting down or has become a standby during a failover.
pub(crate) fn map_err(e: postgres::Error) -> StoreError {
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    let retryable = e.is_closed()
        || io
        || e.code().is_some_and(|code| {
            [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::READ_ONLY_SQL_TRANSACTION,
                SqlState::TOO_MANY_CONNECTIONS,
            ]
            .contains(code)
                || code.code().starts_with("08")
        });
    if retryable {
        tracing::warn!(error = %e, "PostgreSQL: retryable failure");
        StoreError::Busy
    } else {
        StoreError::Backend(Box::new(e))
    }
}

fn pool_err(e: r2d2::Error) -> StoreError {
    tracing::warn!(error = %e, "no PostgreSQL connection available");
    StoreError::Busy
}

/// Text from the network as PostgreSQL may take it. Its `text` cannot hold
/// NUL (U+0000), so no stored text has one: a NUL becomes U+FFFD, and a
/// lookup of such a value finds nothing (and a login attempt's username as
/// typed is counted under that spelling) instead of failing the request.
pub(crate) fn text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// A stored count or time as the store's unsigned types.
pub(crate) fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A sequence number as PostgreSQL's signed bigint (the server refuses
/// sequence numbers past i64::MAX before they get here).
pub(crate) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PostgresStore {
    /// Connects to `url` (libpq syntax) and migrates the database. Several
    /// servers starting at once migrate one at a time.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| StoreError::Backend(Box::new(e)))?;
        // No wait without end: a push waits at most LOCK_TIMEOUT for a lock
        // (then 503, and the client retries), and a session that stops
        // talking inside a transaction (a server cut off mid-push) loses it
        // and its locks, so one stuck server cannot stall the others.
        let options = format!(
            "{} -c lock_timeout={LOCK_TIMEOUT} -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION}",
            config.get_options().unwrap_or_default()
        );
        config.options(options.trim_start());
        // How `asa-server restore` tells that servers are still connected.
        config.application_name(APPLICATION_NAME);
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            // While the database is out of reach a request waits this
            // long for a connection, then gets 503 with Retry-After.
            .connection_timeout(Duration::from_secs(2))
            .build(manager)
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let store = PostgresStore { pool: Some(pool) };
        store.with(migrate)?;
        Ok(store)
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pool = self.pool.as_ref().expect("the pool lives until drop");
        let mut conn = pool.get().map_err(pool_err)?;
        f(&mut conn)
    }
}

/// Adds an epoch forked at the log's last position (inside the caller's
/// transaction: `log_head` is locked as a push locks it, so no change
/// commits between reading the last position and forking there).
pub(crate) fn begin_epoch_on(
    c: &mut impl postgres::GenericClient,
    now: i64,
) -> Result<Lineage, StoreError> {
    c.execute(
        "INSERT INTO log_epochs (generation, epoch, forked_at, began_at)
         SELECT max(generation) + 1, (random() * 9.2e18)::bigint,
                (SELECT seq FROM log_head WHERE id = 1 FOR UPDATE), $1
         FROM log_epochs",
        &[&now],
    )
    .map_err(map_err)?;
    read_lineage(c)
}

fn read_lineage(c: &mut impl postgres::GenericClient) -> Result<Lineage, StoreError> {
    let rows = c
        .query(
            "SELECT epoch, forked_at FROM log_epochs ORDER BY generation",
            &[],
        )
        .map_err(map_err)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Lineage::from_rows(rows)
}

/// Applies every migration the database lacks, under an advisory lock so
/// that servers starting together do not race.
pub(crate) fn migrate(c: &mut Client) -> Result<(), StoreError> {
    const LOCK: i64 = 0x0041_5341_5359_4e43; // "ASASYNC"
                                             // The lock first: even CREATE TABLE IF NOT EXISTS races with itself.
                                             // A migration may take longer than the lock timeout pushes use.
    c.batch_execute("SET lock_timeout = 0").map_err(map_err)?;
    c.execute("SELECT pg_advisory_lock($1)", &[&LOCK])
        .map_err(map_err)?;
    let result = (|| {
        c.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .map_err(map_err)?;
        let applied: i32 = c
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .map_err(map_err)?
            .get(0);
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
            let mut tx = c.transaction().map_err(map_err)?;
            tx.batch_execute(sql).map_err(map_err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
        }
        Ok(())
    })();
    c.execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
        .map_err(map_err)?;
    c.batch_execute("RESET lock_timeout").map_err(map_err)?;
    result
}

impl Store for PostgresStore {
    fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| c.simple_query("SELECT 1").map(drop).map_err(map_err))
    }

    fn connections(&self) -> usize {
        usize::try_from(POOL_SIZE).unwrap_or(8)
    }

    fn lineage(&self) -> Result<Lineage, StoreError> {
        self.with(read_lineage)
    }

    fn begin_epoch(&self, now: i64) -> Result<Lineage, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction().map_err(map_err)?;
            let lineage = begin_epoch_on(&mut tx, now)?;
            tx.commit().map_err(map_err)?;
            Ok(lineage)
        })
    }

    fn secret(&self, name: &str, make: &dyn Fn() -> Vec<u8>) -> Result<Vec<u8>, StoreError> {
        const READ: &str = "SELECT value FROM meta WHERE name = $1";
        self.with(|c| {
            if let Some(row) = c.query_opt(READ, &[&name]).map_err(map_err)? {
                return Ok(row.get(0));
            }
            // Two servers starting together keep the first one's secret.
            c.execute(
                "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &make()],
            )
            .map_err(map_err)?;
            Ok(c.query_one(READ, &[&name]).map_err(map_err)?.get(0))
        })
    }

    fn count_users(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            let n: i64 = c
                .query_one("SELECT count(*) FROM users", &[])
                .map_err(map_err)?
                .get(0);
            Ok(unsigned(n))
        })
    }

    fn create_user(&self, user: &User) -> Result<CreateUser, StoreError> {
        self.with(|c| accounts::create_user(c, user))
    }

    fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.with(|c| accounts::user_by_name(c, username))
    }

    fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.with(|c| accounts::user_by_id(c, id))
    }

    fn list_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        self.with(|c| accounts::list_users(c, query))
    }

    fn user_devices(&self, user_id: Uuid) -> Result<Vec<BoundDevice>, StoreError> {
        self.with(|c| accounts::user_devices(c, user_id))
    }

    fn update_user(&self, id: Uuid, patch: &UserPatch) -> Result<UpdateUser, StoreError> {
        self.with(|c| accounts::update_user(c, id, patch))
    }

    fn display_names(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, StoreError> {
        self.with(|c| accounts::display_names(c, ids))
    }

    fn create_centre(&self, centre: &Centre) -> Result<bool, StoreError> {
        self.with(|c| accounts::create_centre(c, centre))
    }

    fn update_centre(&self, code: &str, patch: &CentrePatch) -> Result<Option<Centre>, StoreError> {
        self.with(|c| accounts::update_centre(c, code, patch))
    }

    fn list_centres(&self, only: Option<&str>) -> Result<Vec<Centre>, StoreError> {
        self.with(|c| accounts::list_centres(c, only))
    }

    fn reserve_login(
        &self,
        username: &str,
        address: &str,
        now: i64,
        since: i64,
        judge: &dyn Fn(&AttemptCounts) -> Option<u64>,
    ) -> Result<Result<i64, u64>, StoreError> {
        self.with(|c| accounts::reserve_login(c, username, address, now, since, judge))
    }

    fn finish_login(&self, attempt: i64, succeeded: bool) -> Result<(), StoreError> {
        self.with(|c| accounts::finish_login(c, attempt, succeeded))
    }

    fn bind_device(
        &self,
        device_id: Uuid,
        user: &User,
        now: i64,
        may_take_over: &dyn Fn(&User) -> bool,
    ) -> Result<BindOutcome, StoreError> {
        self.with(|c| accounts::bind_device(c, device_id, user, now, may_take_over))
    }

    fn unbind_device(&self, user_id: Uuid, device_id: Uuid) -> Result<bool, StoreError> {
        self.with(|c| accounts::unbind_device(c, user_id, device_id))
    }

    fn clear_resync(&self, device_id: Uuid, seen: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE devices SET resync = 0 WHERE device_id = $1 AND resync = $2",
                &[&device_id, &seen],
            )
            .map(drop)
            .map_err(map_err)
        })
    }

    fn touch_device(&self, device_id: Uuid, now: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE devices SET last_seen_at = $2 WHERE device_id = $1",
                &[&device_id, &now],
            )
            .map(drop)
            .map_err(map_err)
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
        self.with(|c| accounts::create_refresh_token(c, hash, user_id, device_id, expires_at, now))
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
        self.with(|c| {
            accounts::rotate_refresh_token(c, old, new, device_id, now, new_expires_at, grace_secs)
        })
    }

    fn revoke_login(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE refresh_families SET revoked = true WHERE id =
                   (SELECT family_id FROM refresh_tokens WHERE hash = $1)",
                &[&&hash[..]],
            )
            .map(drop)
            .map_err(map_err)
        })
    }

    fn login_state(&self, family: i64) -> Result<Option<LoginState>, StoreError> {
        self.with(|c| accounts::login_state(c, family))
    }

    fn push(
        &self,
        work: &mut dyn FnMut(&mut dyn PushTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut attempt = 1;
        loop {
            let result = self.with(|c| {
                let mut tx = c.transaction().map_err(map_err)?;
                {
                    let mut push_tx = push::PostgresPushTx::new(&mut tx);
                    work(&mut push_tx)?;
                }
                tx.commit().map_err(map_err)
            });
            match result {
                Err(StoreError::Busy) if attempt < PUSH_ATTEMPTS => {
                    // A short, growing pause lets the transaction that won
                    // commit; the push then sees what it wrote.
                    std::thread::sleep(Duration::from_millis(5 << attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn pull(&self, query: &PullQuery) -> Result<PullPage, StoreError> {
        self.with(|c| queries::pull(c, query))
    }

    fn list_records(&self, query: &RecordQuery) -> Result<RecordPage, StoreError> {
        self.with(|c| queries::list_records(c, query))
    }

    fn get_record(
        &self,
        collection: Collection,
        record_id: Uuid,
    ) -> Result<Option<StoredRecord>, StoreError> {
        self.with(|c| queries::get_record(c, collection, record_id))
    }

    fn summary(&self, query: &SummaryQuery) -> Result<Summary, StoreError> {
        self.with(|c| queries::summary(c, query))
    }

    fn count_records(&self, query: &RecordQuery) -> Result<u64, StoreError> {
        self.with(|c| queries::count_records(c, query))
    }

    fn record_history(
        &self,
        collection: Collection,
        record_id: Uuid,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        self.with(|c| queries::record_history(c, collection, record_id))
    }

    fn list_devices(&self, centre: Option<&str>, since: i64) -> Result<Vec<DeviceRow>, StoreError> {
        self.with(|c| accounts::list_devices(c, centre, since))
    }

    fn programme(&self, query: &SummaryQuery) -> Result<ProgrammeRows, StoreError> {
        self.with(|c| queries::programme(c, query))
    }

    fn users_matching(&self, centre: Option<&str>, text: &str) -> Result<Vec<Uuid>, StoreError> {
        self.with(|c| accounts::users_matching(c, centre, text))
    }

    fn dismissed_pairs(&self, centre: &str) -> Result<HashSet<(Uuid, Uuid)>, StoreError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT a, b FROM duplicate_dismissals WHERE centre_id = $1",
                    &[&text(centre).as_ref()],
                )
                .map_err(map_err)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn sessions_linking(&self, beneficiary: Uuid) -> Result<Vec<Uuid>, StoreError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT record_id FROM records WHERE collection = $1 AND $2 = ANY(beneficiaries) ORDER BY key",
                    &[&collection_code(Collection::Sessions), &beneficiary],
                )
                .map_err(map_err)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn erasure_of(&self, beneficiary: Uuid) -> Result<Option<super::Erasure>, StoreError> {
        self.with(|c| {
            let row = c
                .query_opt(
                    "SELECT centre_id, erased_by, erased_at FROM erasures WHERE record_id = $1",
                    &[&beneficiary],
                )
                .map_err(map_err)?;
            Ok(row.map(|r| super::Erasure {
                record_id: beneficiary,
                centre_id: r.get(0),
                by: r.get(1),
                at: r.get(2),
            }))
        })
    }

    fn people(&self) -> Result<super::People, StoreError> {
        self.with(queries::people)
    }

    fn people_last_seen(&self) -> Result<Vec<super::LastSeen>, StoreError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT p.record_id, p.version, max(s.started_on)
                     FROM records p
                     LEFT JOIN records s ON s.collection = $1 AND NOT s.deleted AND p.record_id = ANY(s.beneficiaries)
                     WHERE p.collection = $2 AND p.record_id NOT IN (SELECT record_id FROM erasures)
                     GROUP BY p.record_id, p.version",
                    &[&collection_code(Collection::Sessions), &collection_code(Collection::Beneficiaries)],
                )
                .map_err(map_err)?;
            Ok(rows
                .iter()
                .map(|r| super::LastSeen {
                    id: r.get(0),
                    version: r.get::<_, Option<String>>(1).and_then(|v| v.parse().ok()),
                    last_session_on: r.get(2),
                })
                .collect())
        })
    }

    fn settle_erasure(&self) -> Result<(), StoreError> {
        // Live rows hold only placeholders now; the old row versions age
        // out as VACUUM reclaims them and WAL segments and backups are
        // recycled (docs/PROTOCOL.md, erasure).
        Ok(())
    }

    fn dismiss_pair(&self, d: &Dismissal) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO duplicate_dismissals (a, b, centre_id, dismissed_by, dismissed_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (a, b) DO NOTHING",
                &[&d.a, &d.b, &text(&d.centre_id).as_ref(), &d.by, &d.at],
            )
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
        self.with(|c| accounts::create_web_session(c, hash, user_id, csrf, now))
    }

    fn web_session(
        &self,
        hash: &[u8; 32],
        idle_since: i64,
    ) -> Result<Option<WebSession>, StoreError> {
        self.with(|c| accounts::web_session(c, hash, idle_since))
    }

    fn touch_web_session(
        &self,
        hash: &[u8; 32],
        now: i64,
        idle_since: i64,
    ) -> Result<(), StoreError> {
        self.with(|c| accounts::touch_web_session(c, hash, now, idle_since))
    }

    fn end_web_session(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute("DELETE FROM web_sessions WHERE hash = $1", &[&&hash[..]])
                .map(drop)
                .map_err(map_err)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Servers that start together on a new database take turns to
    /// migrate it: every one of them opens.
    #[test]
    fn servers_starting_together_on_a_new_database_all_open() {
        if !scratch::enabled() {
            eprintln!("skipped: set ASA_POSTGRES_TESTS=1 to run the PostgreSQL store's tests");
            return;
        }
        for _ in 0..4 {
            let db = scratch::ScratchDatabase::create();
            let opened: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..6)
                    .map(|_| s.spawn(|| PostgresStore::open(&db.url).map(drop)))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(opened.iter().all(Result::is_ok), "{opened:?}");
        }
    }
}
