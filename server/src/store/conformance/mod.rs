//! One suite for every store (the pattern of matrix-rust-sdk's
//! `statestore_integration_tests!`): each test is a function of a fresh
//! store, and [`conformance!`] runs it on SQLite and on PostgreSQL.
//!
//! PostgreSQL runs when `ASA_POSTGRES_TESTS=1` (`scripts/test` and CI always
//! set it), each test on its own scratch database
//! ([`super::postgres::scratch`]). Without it, each PostgreSQL test prints
//! that it was skipped and passes.

use std::sync::Arc;

use uuid::Uuid;

use super::postgres::scratch::{self, ScratchDatabase};
use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use super::url::{SqliteOptions, Synchronous};
use std::collections::{HashMap, HashSet};

use sync_core::{Collection, Hlc, RecordState};

use super::{Device, PushTx, PushWrites, Store, StoreError, StoredChange, StoredRejection};

mod accounts;
mod push;
mod reads;

/// A fresh, empty, migrated store and what must outlive it. Fields drop in
/// order: the store's connections close, then its database or directory
/// goes.
pub(crate) struct Fixture {
    pub store: Arc<dyn Store>,
    /// The URL of a PostgreSQL fixture's database, for tests that open a
    /// second store on it (another server process).
    pub postgres_url: Option<String>,
    _dir: Option<tempfile::TempDir>,
    _database: Option<ScratchDatabase>,
}

pub(crate) fn sqlite() -> Fixture {
    let dir = tempfile::TempDir::new().expect("temporary directory");
    let store = SqliteStore::open(&SqliteOptions {
        path: dir.path().join("asa.db"),
        synchronous: Synchronous::Normal,
        readers: 2,
    })
    .expect("SQLite store opens");
    Fixture {
        store: Arc::new(store),
        postgres_url: None,
        _dir: Some(dir),
        _database: None,
    }
}

/// `None` (after saying so) when the PostgreSQL half is off.
pub(crate) fn postgres() -> Option<Fixture> {
    if !scratch::enabled() {
        eprintln!("skipped: set ASA_POSTGRES_TESTS=1 to run the PostgreSQL store's tests");
        return None;
    }
    let database = ScratchDatabase::create();
    let store = PostgresStore::open(&database.url).expect("PostgreSQL store opens");
    Some(Fixture {
        store: Arc::new(store),
        postgres_url: Some(database.url.clone()),
        _dir: None,
        _database: Some(database),
    })
}

/// Runs each listed test, a `fn(&Fixture)` of the calling module, on both
/// stores: `sqlite::NAME` and `postgres::NAME`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&$crate::store::conformance::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(fixture) = $crate::store::conformance::postgres() {
                        super::$name(&fixture);
                    }
                }
            )*
        }
    };
}
pub(crate) use conformance;

/// Someone pushing from a device bound to them.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub principal: sync_core::Principal,
    pub device: Uuid,
}

/// The wall clock now, as pushes are judged.
pub(crate) fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// Creates a centre with this code.
pub(crate) fn centre(store: &dyn Store, code: &str) {
    let created = store
        .create_centre(&super::Centre {
            code: code.into(),
            name: format!("ศูนย์ {code}"),
            province: "เชียงใหม่".into(),
            district: "แม่ริม".into(),
        })
        .expect("centre created");
    assert!(created, "centre {code} was new");
}

/// A user of `role` in `centre` with a device bound to them.
pub(crate) fn actor(
    store: &dyn Store,
    username: &str,
    role: sync_core::Role,
    centre: Option<&str>,
) -> Actor {
    let user = super::User {
        id: Uuid::now_v7(),
        username: username.into(),
        display_name: format!("คุณ {username}"),
        password_hash: "not used by these tests".into(),
        role,
        centre_id: centre.map(str::to_owned),
        disabled: false,
    };
    assert!(matches!(
        store.create_user(&user).expect("user created"),
        super::CreateUser::Created(_)
    ));
    let device = Uuid::now_v7();
    store
        .bind_device(device, &user, 0, &|_| false)
        .expect("device bound");
    Actor {
        principal: sync_core::Principal {
            user_id: user.id,
            role,
            centre_id: user.centre_id,
        },
        device,
    }
}

/// A change of `actor`'s device at `seq` writing `fields` (a JSON object of
/// key to `{"value": ...}`) to a record.
pub(crate) fn change(
    actor: &Actor,
    seq: u64,
    collection: &str,
    record: Uuid,
    fields: serde_json::Value,
) -> sync_core::ChangeDto {
    serde_json::from_value(serde_json::json!({
        "id": Uuid::now_v7(),
        "device_seq": seq,
        "collection": collection,
        "record_id": record,
        "hlc": format!("{:013}-{:04x}-{}", now_ms(), seq % 0x1_0000, actor.device),
        "fields": fields,
    }))
    .expect("a change")
}

/// The fields of a new session by `actor` in their centre.
pub(crate) fn session_fields(actor: &Actor, help_type: &str) -> serde_json::Value {
    serde_json::json!({
        "centre_id": {"value": actor.principal.centre_id},
        "volunteer_id": {"value": actor.principal.user_id},
        "village_code": {"value": "50010203"},
        "help_type": {"value": help_type},
        "started_at": {"value": "2026-11-28T09:30:00+07:00"},
        "duration_min": {"value": 45},
        "people_helped": {"value": 2},
    })
}

/// Pushes `changes` from `actor`'s device with the server's own algorithm.
pub(crate) fn push(
    store: &dyn Store,
    actor: &Actor,
    changes: &[sync_core::ChangeDto],
) -> crate::sync::push::PushOutcome {
    push_counting(store, actor, changes).0
}

/// Like [`push`], and how often the algorithm called each method of the
/// store's transaction.
pub(crate) fn push_counting(
    store: &dyn Store,
    actor: &Actor,
    changes: &[sync_core::ChangeDto],
) -> (crate::sync::push::PushOutcome, Calls) {
    push_on(store, actor, changes, false).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the server's push algorithm, `restored` saying whether the store
/// was restored from a backup; a refusal comes back as the error.
pub(crate) fn push_on(
    store: &dyn Store,
    actor: &Actor,
    changes: &[sync_core::ChangeDto],
    restored: bool,
) -> Result<(crate::sync::push::PushOutcome, Calls), crate::sync::push::PushError> {
    use crate::sync::push::{prepare, run, PushContext, PushError};
    let now = now_ms();
    let ctx = PushContext {
        principal: &actor.principal,
        device_id: actor.device,
        clock_offset_ms: 0,
        now_ms: now,
        rules: sync_core::Rules::at(now),
        restored,
    };
    let prepared = prepare(changes, &ctx);
    let mut result = None;
    store
        .push(&mut |tx| {
            let mut counting = Counting {
                tx,
                calls: Calls::new(),
            };
            result = Some(match run(&mut counting, &ctx, &prepared) {
                Err(PushError::Store(e)) => return Err(e),
                Ok(outcome) => Ok((outcome, std::mem::take(&mut counting.calls))),
                Err(refused) => Err(refused),
            });
            Ok(())
        })
        .expect("push committed");
    result.expect("the push ran")
}

/// Calls per method of a push transaction.
pub(crate) type Calls = std::collections::BTreeMap<&'static str, usize>;

/// A store's real push transaction, with each call counted.
struct Counting<'t> {
    tx: &'t mut dyn PushTx,
    calls: Calls,
}

impl Counting<'_> {
    fn count(&mut self, name: &'static str) {
        *self.calls.entry(name).or_default() += 1;
    }
}

impl PushTx for Counting<'_> {
    fn device(&mut self, device_id: Uuid) -> Result<Option<Device>, StoreError> {
        self.count("device");
        self.tx.device(device_id)
    }
    fn find_changes(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, StoredChange>, StoreError> {
        self.count("find_changes");
        self.tx.find_changes(ids)
    }
    fn find_rejections(
        &mut self,
        device_id: Uuid,
        seqs: &[u64],
    ) -> Result<HashMap<u64, StoredRejection>, StoreError> {
        self.count("find_rejections");
        self.tx.find_rejections(device_id, seqs)
    }
    fn load_records(
        &mut self,
        keys: &[(Collection, Uuid)],
    ) -> Result<HashMap<(Collection, Uuid), RecordState>, StoreError> {
        self.count("load_records");
        self.tx.load_records(keys)
    }
    fn existing_centres(&mut self, codes: &[&str]) -> Result<HashSet<String>, StoreError> {
        self.count("existing_centres");
        self.tx.existing_centres(codes)
    }
    fn server_clock(&mut self) -> Result<Option<Hlc>, StoreError> {
        self.count("server_clock");
        self.tx.server_clock()
    }
    fn write(&mut self, writes: &PushWrites<'_>) -> Result<(), StoreError> {
        self.count("write");
        self.tx.write(writes)
    }
    fn erasure(&mut self, record_id: Uuid) -> Result<Option<super::Erasure>, StoreError> {
        self.count("erasure");
        self.tx.erasure(record_id)
    }
    fn erased_among(&mut self, ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        self.count("erased_among");
        self.tx.erased_among(ids)
    }
    fn erase(&mut self, erasure: &super::Erasure) -> Result<(), StoreError> {
        self.count("erase");
        self.tx.erase(erasure)
    }
}

/// The ids of every change after `after` that the scope reads, pulled in
/// pages of `limit`, in log order, and the cursor at the end.
pub(crate) fn pull_all(
    store: &dyn Store,
    scope: super::ReadScope,
    after: i64,
    limit: usize,
) -> (Vec<Uuid>, i64) {
    let mut seen = Vec::new();
    let mut cursor = after;
    loop {
        let page = store
            .pull(&super::PullQuery {
                after_seq: cursor,
                limit,
                max_bytes: None,
                scope: scope.clone(),
                exclude_device: None,
                reader: crate::sync::minimise::Reader::everything(),
            })
            .expect("pull");
        for body in &page.bodies {
            let dto: sync_core::ChangeDto = serde_json::from_str(body).expect("a change");
            seen.push(dto.id.parse().expect("canonical id"));
        }
        cursor = page.next_after_seq;
        if !page.has_more {
            return (seen, cursor);
        }
    }
}
