//! The push handler's request path, from arbitrary bytes: the server's own
//! body parser (`asa_server::body::parse_json`), the handler's request
//! checks, then the push algorithm (`push::run`) in a transaction of a real
//! SQLite store in a temporary directory, rolled back after each input, as
//! a bound admin's device (admins may write any record, so every change
//! reaches validation and merge).

#![no_main]

use std::sync::OnceLock;

use asa_server::body::parse_json;
use asa_server::settings::{SqliteOptions, Synchronous};
use asa_server::store::sqlite::SqliteStore;
use asa_server::store::{Store, StoreError};
use asa_server::sync::push::{self, PushContext, PushError};
use libfuzzer_sys::fuzz_target;
use sync_core::{Principal, PushRequest, Role, Rules};
use uuid::Uuid;

const DEVICE: Uuid = Uuid::from_u128(0x6f1c_0b2e_8d1e_4c55_9a37_2f3d_1c9e_0a11);
const NOW_MS: u64 = 1_764_000_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    principal: Principal,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::TempDir::new().expect("temporary directory");
        let store = SqliteStore::open(&SqliteOptions {
            path: dir.path().join("asa.db"),
            synchronous: Synchronous::Normal,
            readers: 1,
        })
        .expect("store opens");
        let user = asa_server::accounts::create_user(
            &store,
            "fuzz-admin",
            "correct horse battery",
            "admin",
            None,
            None,
        )
        .expect("user created");
        for code in ["C0001", "C0002"] {
            store
                .create_centre(&asa_server::store::Centre {
                    code: code.into(),
                    name: code.into(),
                    province: "เชียงใหม่".into(),
                    district: "แม่ริม".into(),
                })
                .expect("centre created");
        }
        store
            .bind_device(DEVICE, &user, 0, &|_| false)
            .expect("device bound");
        Fixture {
            _dir: dir,
            store,
            principal: Principal {
                user_id: user.id,
                role: Role::Admin,
                centre_id: None,
            },
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let Ok(body) = parse_json::<PushRequest>(data) else {
        return;
    };
    // The handler's checks before the store: batch size, sequence range.
    if body.changes.len() > 1000
        || body
            .changes
            .iter()
            .any(|c| c.device_seq == 0 || c.device_seq > i64::MAX as u64)
    {
        return;
    }
    let ctx = PushContext {
        principal: &fixture.principal,
        device_id: DEVICE,
        clock_offset_ms: body.device_time.timestamp_millis() - NOW_MS as i64,
        now_ms: NOW_MS,
        rules: Rules::at(NOW_MS),
    };
    // Every push is rolled back (the closure's error aborts the
    // transaction), so the store stays as the fixture made it: the device's
    // acked_seq stays 0, a change numbered 1, 2, 3... reaches validation and
    // merge on every run, and a crash reproduces from its input alone.
    let prepared = push::prepare(&body.changes, &ctx);
    let mut ran = false;
    let result = fixture.store.push(&mut |tx| {
        match push::run(tx, &ctx, &prepared) {
            Err(PushError::Store(e)) => return Err(e),
            Err(PushError::DeviceNotBound(d)) => panic!("device {d} lost its binding"),
            Ok(outcome) => {
                assert_eq!(outcome.results.len(), body.changes.len());
                assert!(outcome.acked_seq <= body.changes.len() as u64);
            }
        }
        ran = true;
        Err(StoreError::Corrupt("rolled back by the fuzz target".into()))
    });
    assert!(
        ran,
        "a push never fails in the store on any input: {result:?}"
    );
});
