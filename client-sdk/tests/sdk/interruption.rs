//! Interrupted syncs: a link cut mid-response, and a database closed between
//! two halves of a sync. Nothing is lost and nothing is applied twice.

use std::collections::HashSet;

use std::time::{Duration, Instant};

use client_sdk::{Client, Collection, Config, Error, Query, SyncOptions, SyncReport};

use crate::proxy::Proxy;
use crate::support::{new_session, sync_ok, view, World};

fn distinct_ids(changes: &[serde_json::Value]) -> usize {
    changes
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect::<HashSet<_>>()
        .len()
}

#[test]
fn a_connection_cut_mid_response_then_a_resync_applies_everything_exactly_once() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let proxy = Proxy::start(&world.app.base);
    // One attempt per request, so the cut surfaces as an error and the
    // recovery happens in the next sync() call.
    let config = Config {
        max_attempts: 1,
        batch_size: 50,
        pull_limit: 25,
        ..world.config_for(&proxy.url)
    };
    let a = world.device_with(&vol, world.new_db(), config.clone(), None);
    let sessions: Vec<_> = (0..30)
        .map(|i| {
            a.create_session(&new_session(&format!("ครั้งที่ {i}")))
                .unwrap()
        })
        .collect();

    // The push answer is cut after 40 bytes: the server has committed the batch.
    proxy.cut_next_response_after(40);
    let err = a.sync().unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(
        a.pending_count().unwrap(),
        30,
        "nothing acked without an answer"
    );
    let report = sync_ok(&a);
    assert_eq!(report.acked, 30);
    let on_server = world.server_changes(&boss);
    assert_eq!(on_server.len(), 30, "each change stored once");
    assert_eq!(distinct_ids(&on_server), 30);

    // A new device pulls through the proxy; its first page is cut mid-body.
    let m = world.device_with(&boss, world.new_db(), config, None);
    proxy.cut_next_response_after(600);
    let err = m.sync().unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert_eq!(proxy.cuts(), 2);
    let none = m.records(Collection::Sessions, &Query::default()).unwrap();
    assert!(
        none.is_empty(),
        "a cut page is not applied, its cursor not stored"
    );
    let report = sync_ok(&m);
    assert_eq!(report.pulled, 30, "the page is pulled again, once");
    let records = m.records(Collection::Sessions, &Query::default()).unwrap();
    assert_eq!(records.len(), 30);
    assert_eq!(
        view(&m, Collection::Sessions),
        view(&a, Collection::Sessions)
    );
    for id in sessions {
        assert!(m.record(Collection::Sessions, id).unwrap().is_some());
    }
}

#[test]
fn reopening_the_database_between_two_halves_of_a_sync_resumes_it() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let small = Config {
        batch_size: 4,
        pull_limit: 4,
        ..world.config()
    };
    // Room for a batch or a page, not for all ten sessions.
    let budget = |bytes| SyncOptions {
        byte_budget: Some(bytes),
    };
    let db_a = world.new_db();
    let a = world.device_with(&vol, db_a.clone(), small.clone(), None);
    for i in 0..10 {
        a.create_session(&new_session(&format!("บันทึก {i}")))
            .unwrap();
    }
    let first = a.sync_with(&budget(1_000), &|_: &SyncReport| {}).unwrap();
    assert!(first.budget_exhausted);
    assert!(first.acked > 0 && first.acked < 10, "{first:?}");
    assert_eq!(first.pending, 10 - first.acked);
    assert_eq!(first.pulled, 0);
    drop(a);

    let a = Client::open(&db_a, small.clone()).unwrap();
    assert_eq!(a.pending_count().unwrap(), 10 - first.acked);
    let second = sync_ok(&a);
    assert_eq!(second.acked, 10 - first.acked);
    assert_eq!(world.server_changes(&boss).len(), 10);

    let db_m = world.new_db();
    let m = world.device_with(&boss, db_m.clone(), small.clone(), None);
    let first = m.sync_with(&budget(1_200), &|_: &SyncReport| {}).unwrap();
    assert!(first.budget_exhausted && first.more_to_pull, "{first:?}");
    assert!(first.pulled > 0 && first.pulled < 10, "{first:?}");
    drop(m);
    let m = Client::open(&db_m, small).unwrap();
    let second = sync_ok(&m);
    assert_eq!(
        second.pulled,
        10 - first.pulled,
        "resumes after the stored cursor"
    );
    assert!(!second.more_to_pull);
    assert_eq!(
        view(&m, Collection::Sessions),
        view(&a, Collection::Sessions)
    );
}

/// A budget is a ceiling, in both directions: every sync under it spends at
/// most the budget, says what is left, and the syncs after it finish the
/// work with nothing lost or doubled.
#[test]
fn a_byte_budget_is_never_crossed_and_what_is_left_is_said() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let a = world.device(&vol);
    for i in 0..60 {
        let mut s = new_session(&format!("งบข้อมูล {i} {}", "ก".repeat(i * 7)));
        s.people_helped = 1 + i as i64 % 5;
        a.create_session(&s).unwrap();
    }
    let budget = 4_000;
    let options = SyncOptions {
        byte_budget: Some(budget),
    };
    let mut syncs = 0;
    let mut acked = 0;
    let seen = std::cell::Cell::new(0u64);
    loop {
        let observer = |r: &SyncReport| {
            assert!(r.bytes_sent + r.bytes_received <= budget, "{r:?}");
            seen.set(seen.get() + 1);
        };
        let r = a.sync_with(&options, &observer).unwrap();
        assert!(r.bytes_sent + r.bytes_received <= budget, "{r:?}");
        acked += r.acked;
        assert_eq!(r.pending, 60 - acked, "{r:?}");
        syncs += 1;
        if !r.budget_exhausted {
            break;
        }
        assert!(syncs < 60, "the pushes make progress");
    }
    assert!(
        syncs > 2,
        "sixty long sessions do not fit in {budget} bytes"
    );
    assert!(seen.get() >= syncs, "the observer hears of every batch");
    assert_eq!(world.server_changes(&boss).len(), 60);

    // Pulling them all under the same budget, page by page.
    let m = world.device(&boss);
    let (mut pulled, mut pulls) = (0, 0);
    loop {
        let r = m.sync_with(&options, &|_: &SyncReport| {}).unwrap();
        assert!(r.bytes_sent + r.bytes_received <= budget, "{r:?}");
        assert_eq!(r.more_to_pull, r.budget_exhausted, "{r:?}");
        pulled += r.pulled;
        pulls += 1;
        if !r.more_to_pull {
            break;
        }
        assert!(pulls < 60, "the pulls make progress");
    }
    assert!(pulls > 2);
    assert_eq!(pulled, 60);
    assert_eq!(
        view(&m, Collection::Sessions),
        view(&a, Collection::Sessions)
    );
}

/// The budget holds when the sync must also refresh an expired login, and
/// when the user directory is read: every request is measured against what
/// is left, retries and refreshes included.
#[test]
fn a_byte_budget_holds_through_a_token_refresh_and_the_user_directory() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let a = world.device(&vol);
    let m = world.device(&boss);
    for i in 0..30 {
        a.create_session(&new_session(&format!("รีเฟรช {i}")))
            .unwrap();
    }
    sync_ok(&a);
    // A day later: both access tokens are long expired.
    world.app.clock.advance(24 * 3600 * 1000);
    for budget in [3_000, 100_000] {
        let options = SyncOptions {
            byte_budget: Some(budget),
        };
        for syncs in 1.. {
            let r = m.sync_with(&options, &|_: &SyncReport| {}).unwrap();
            assert!(r.bytes_sent + r.bytes_received <= budget, "{budget}: {r:?}");
            if !r.budget_exhausted {
                break;
            }
            assert!(syncs < 40, "{budget}: the syncs make progress: {r:?}");
        }
        world.app.clock.advance(24 * 3600 * 1000);
    }
    assert_eq!(
        view(&m, Collection::Sessions),
        view(&a, Collection::Sessions)
    );
    // The 100 kB syncs had room for the directory: the volunteer's name is known.
    assert!(
        m.known_users()
            .unwrap()
            .iter()
            .any(|u| u.username == vol.username),
        "the directory was read"
    );
}

const UNAVAILABLE: &str = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const BROKEN: &str =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[test]
fn server_errors_are_retried_with_backoff_honouring_retry_after_up_to_a_bound() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let proxy = Proxy::start(&world.app.base);
    let config = Config {
        max_attempts: 3,
        backoff_max_ms: 5_000,
        ..world.config_for(&proxy.url)
    };
    let a = world.device_with(&vol, world.new_db(), config, None);
    a.create_session(&new_session("ลองใหม่")).unwrap();

    // A 503 asking for one second, then a 500: the third attempt goes through.
    proxy.answer_next_requests_with(&[UNAVAILABLE, BROKEN]);
    let start = Instant::now();
    let report = sync_ok(&a);
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "waited for Retry-After"
    );
    assert_eq!((proxy.canned_sent(), report.acked), (2, 1));

    // Three failures in a row exhaust the attempts: the last answer as a typed,
    // retryable error, and nothing lost.
    a.create_session(&new_session("ไม่สำเร็จ")).unwrap();
    proxy.answer_next_requests_with(&[BROKEN, BROKEN, BROKEN]);
    let err = a.sync().unwrap_err();
    assert!(matches!(err, Error::Server { status: 500, .. }), "{err}");
    assert!(err.is_retryable());
    // Three attempts; the first may go out on the connection the last sync
    // left pooled, which the server may have closed meanwhile: that attempt
    // fails before it reaches the proxy's queue, and one 500 is left over.
    let sent = proxy.canned_sent();
    assert!((4..=5).contains(&sent), "{sent} canned answers");
    proxy.discard_canned();
    assert_eq!(a.pending_count().unwrap(), 1);
    assert_eq!(sync_ok(&a).acked, 1);
}
