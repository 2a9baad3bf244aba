//! Crash durability: the real `asa-server` binary is SIGKILLed while several
//! devices stream pushes of 100 changes each. Every push that was answered 200
//! is in the log after the restart, and every batch is all-or-nothing.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tests::process::ServerProcess;
use tests::remote::{Remote, RemoteError};
use tests::rng::{count_from_env, seed_from_env, Rng};
use uuid::Uuid;

use crate::{server_env, SERVER_BIN};

const BATCH: u64 = 100;

/// What became of one batch, as the pushing thread saw it.
#[derive(Debug)]
struct Batch {
    ids: Vec<String>,
    /// True when the push was answered 200.
    acked: bool,
}

#[test]
fn pushes_answered_200_survive_a_sigkill_and_no_batch_is_stored_in_part() {
    let seed = seed_from_env("ASA_CRASH_SEED");
    let kills = count_from_env("ASA_CRASH_KILLS", 10);
    let threads = count_from_env("ASA_CRASH_THREADS", 4);
    let outcome = std::panic::catch_unwind(|| run(seed, kills, threads));
    if let Err(panic) = outcome {
        let why = tests::rng::panic_message(panic.as_ref());
        panic!("crash durability failed with ASA_CRASH_SEED={seed}: {why}");
    }
}

fn run(seed: u64, kills: u64, threads: u64) {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let data = tests::TestStore::new();
    let server = ServerProcess::start(SERVER_BIN.as_ref(), data.path(), &server_env(&data));
    let base = server.url();
    let admin = Remote::admin(&base);
    let users: Vec<(String, String)> = (0..threads)
        .map(|_| admin.create_user("volunteer", "C0001"))
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(Mutex::new(Vec::<Batch>::new()));
    let (acks, acked) = mpsc::channel::<()>();
    let workers: Vec<_> = users
        .into_iter()
        .map(|(username, password)| {
            let (base, stop, batches, acks) =
                (base.clone(), stop.clone(), batches.clone(), acks.clone());
            thread::spawn(move || push_stream(&base, &username, &password, &stop, &batches, &acks))
        })
        .collect();
    drop(acks);

    // Kill after a seeded number of acknowledged pushes, a seeded few
    // milliseconds later, so kills land before, during and after commits.
    let server = Mutex::new(server);
    for _ in 0..kills {
        for _ in 0..rng.range(1, 4) {
            acked
                .recv_timeout(Duration::from_secs(60))
                .expect("a push was acknowledged within a minute");
        }
        thread::sleep(Duration::from_millis(rng.below(25)));
        server.lock().expect("server").restart();
    }
    // The restarted server takes pushes again before the stream stops.
    for _ in 0..threads {
        acked
            .recv_timeout(Duration::from_secs(60))
            .expect("pushes are acknowledged after the last restart");
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("push thread");
    }

    let log = admin.log_ids();
    let mut seen = HashSet::new();
    let duplicates: Vec<_> = log.iter().filter(|id| !seen.insert(*id)).collect();
    assert!(
        duplicates.is_empty(),
        "changes stored twice: {duplicates:?}"
    );
    let batches = batches.lock().expect("batches");
    let (mut acked_batches, mut unanswered_stored, mut unanswered_absent) = (0, 0, 0);
    for (i, batch) in batches.iter().enumerate() {
        let present = batch.ids.iter().filter(|id| seen.contains(*id)).count();
        if batch.acked {
            acked_batches += 1;
            assert_eq!(
                present,
                batch.ids.len(),
                "batch {i} was answered 200 but lost changes"
            );
        } else if present == batch.ids.len() {
            unanswered_stored += 1;
        } else {
            assert_eq!(present, 0, "batch {i} was stored in part");
            unanswered_absent += 1;
        }
    }
    let starts = server.lock().expect("server").starts();
    assert_eq!(u64::from(starts), kills + 1);
    println!(
        "crash durability: seed {seed}, {threads} pushing threads, {} batches of {BATCH} changes \
         ({acked_batches} answered 200, {unanswered_stored} unanswered but stored whole, \
         {unanswered_absent} unanswered and absent), {} changes in the log, {kills} SIGKILLs \
         survived, 0 acknowledged changes lost, 0 partial batches, {:.1} s",
        batches.len(),
        log.len(),
        started.elapsed().as_secs_f64()
    );
}

/// One pushing device after another: a push that gets no 200 leaves its
/// batch's fate unknown, so the thread moves on to a new device rather than
/// resending (a resend would hide a partial batch).
fn push_stream(
    base: &str,
    username: &str,
    password: &str,
    stop: &AtomicBool,
    batches: &Mutex<Vec<Batch>>,
    acks: &mpsc::Sender<()>,
) {
    // Bounded: a few thousand batches is far more than a run needs.
    'devices: for _ in 0..10_000 {
        let Some(remote) = login_when_up(base, username, password, stop) else {
            return;
        };
        let mut seq = 1;
        let mut counter: u16 = 0;
        while !stop.load(Ordering::SeqCst) {
            let changes: Vec<Value> = (0..BATCH)
                .map(|i| {
                    counter = counter.wrapping_add(1);
                    session_change(&remote, seq + i, counter)
                })
                .collect();
            let ids = changes
                .iter()
                .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
                .collect();
            match remote.push(&changes) {
                Ok(answer) => {
                    assert_eq!(answer["acked_seq"], json!(seq + BATCH - 1), "{answer}");
                    let applied = answer["results"]
                        .as_array()
                        .map_or(0, |r| r.iter().filter(|r| r["status"] == "applied").count());
                    assert_eq!(applied as u64, BATCH, "{answer}");
                    batches
                        .lock()
                        .expect("batches")
                        .push(Batch { ids, acked: true });
                    let _ = acks.send(());
                    seq += BATCH;
                }
                Err(RemoteError::Link(_)) | Err(RemoteError::Status(_, _)) => {
                    batches
                        .lock()
                        .expect("batches")
                        .push(Batch { ids, acked: false });
                    continue 'devices;
                }
            }
        }
        return;
    }
}

/// Logs in on a new device, retrying (bounded) while the server restarts.
fn login_when_up(base: &str, username: &str, password: &str, stop: &AtomicBool) -> Option<Remote> {
    for attempt in 0..2_000u64 {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match Remote::login(base, username, password, Uuid::new_v4()) {
            Ok(remote) => return Some(remote),
            // Connection refused while the server restarts: back off and retry.
            Err(RemoteError::Link(_)) => thread::sleep(Duration::from_millis(attempt.min(20))),
            Err(e) => panic!("login of {username}: {e:?}"),
        }
    }
    panic!("the server did not come back for {username}");
}

fn session_change(remote: &Remote, seq: u64, counter: u16) -> Value {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let fields = tests::session_fields("C0001", remote.user_id);
    json!({
        "id": Uuid::now_v7(),
        "device_seq": seq,
        "collection": "sessions",
        "record_id": Uuid::now_v7(),
        "hlc": format!("{wall:013}-{counter:04x}-{}", remote.device),
        "fields": fields,
    })
}
