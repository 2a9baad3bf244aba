//! What the bindings cost, for docs/BENCHMARKS.md: a save (create a
//! session) and one sync of 200 saved sessions, through the Python
//! bindings and through the Rust SDK, against the same real server in the
//! same run, in alternating rounds so that the machine's noise falls on
//! both. Run: `cargo bench -p client-sdk-ffi --bench bindings`.

#[path = "../tests/bindings/harness.rs"]
mod harness;

use std::process::Command;
use std::time::{Duration, Instant};

use client_sdk::{Client, Config, NewSession};
use harness::{crate_dir, generate, library, Harness};
use uniffi::TargetLanguage;

const ROUNDS: usize = 5;
const WARMUP: usize = 20;
const SAVES: usize = 200;

fn session(i: usize) -> NewSession {
    NewSession {
        village_code: format!("500102{:02}", i % 100),
        help_type: "welfare_rights".into(),
        started_at: "2026-11-28T09:30:00+07:00".into(),
        duration_min: 30 + (i % 60) as i64,
        people_helped: 1 + (i % 5) as i64,
        outcome: Some("resolved".into()),
        notes: Some(format!("ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ ครั้งที่ {i}")),
        follow_up_on: None,
    }
}

/// One round in Rust: a new device, warm-up saves, timed saves, one sync.
fn rust_round(harness: &Harness) -> (Vec<Duration>, Duration) {
    let who = harness.account("volunteer", "C0001");
    let db = harness
        .dir
        .path()
        .join(format!("rust-{}.db", uuid::Uuid::new_v4()));
    let client = Client::open(db, Config::new(harness.base())).expect("open");
    client.login(&who.username, &who.password).expect("login");
    for i in 0..WARMUP {
        client.create_session(&session(i)).expect("save");
    }
    client.sync().expect("sync the warm-up");
    let inputs: Vec<NewSession> = (0..SAVES).map(session).collect();
    let mut saves = Vec::with_capacity(SAVES);
    for s in &inputs {
        let start = Instant::now();
        client.create_session(s).expect("save");
        saves.push(start.elapsed());
    }
    let start = Instant::now();
    let report = client.sync().expect("sync");
    assert_eq!(report.acked, SAVES as u64);
    (saves, start.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let harness = Harness::new();
    let out = harness.dir.path().join("python");
    generate(TargetLanguage::Python, &out);
    let lib = library();
    std::fs::copy(&lib, out.join(lib.file_name().expect("a name"))).expect("copy the library");

    let (mut rust_saves, mut rust_syncs) = (Vec::new(), Vec::new());
    let (mut py_saves, mut py_syncs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (saves, sync) = rust_round(&harness);
        rust_saves.extend(saves);
        rust_syncs.push(sync);

        let mut python = Command::new("python3");
        python
            .arg(crate_dir().join("benches/save.py"))
            .env("PYTHONPATH", &out)
            .env("ASA_WARMUP", WARMUP.to_string())
            .env("ASA_SAVES", SAVES.to_string());
        for figures in harness.run(python) {
            let ns = |key: &str| -> Vec<Duration> {
                figures[key]
                    .as_array()
                    .expect("a list")
                    .iter()
                    .map(|v| Duration::from_nanos(v.as_u64().expect("nanoseconds")))
                    .collect()
            };
            py_saves.extend(ns("saves_ns"));
            py_syncs.extend(ns("sync_ns"));
        }
    }
    for v in [
        &mut rust_saves,
        &mut rust_syncs,
        &mut py_saves,
        &mut py_syncs,
    ] {
        v.sort();
    }
    println!(
        "save ({} each, {ROUNDS} alternating rounds)   p50 µs   p99 µs",
        SAVES * ROUNDS
    );
    for (name, saves) in [("Rust SDK", &rust_saves), ("Python bindings", &py_saves)] {
        println!(
            "  {name:<16} {:>8.0} {:>8.0}",
            micros(percentile(saves, 0.5)),
            micros(percentile(saves, 0.99))
        );
    }
    let ratio =
        percentile(&py_saves, 0.5).as_secs_f64() / percentile(&rust_saves, 0.5).as_secs_f64();
    println!("  binding / Rust, p50: {ratio:.3}");
    println!("sync of {SAVES} saved sessions (median of {ROUNDS}), ms");
    for (name, syncs) in [("Rust SDK", &rust_syncs), ("Python bindings", &py_syncs)] {
        println!(
            "  {name:<16} {:>8.1}",
            percentile(syncs, 0.5).as_secs_f64() * 1e3
        );
    }
    let ratio =
        percentile(&py_syncs, 0.5).as_secs_f64() / percentile(&rust_syncs, 0.5).as_secs_f64();
    println!("  binding / Rust: {ratio:.3}");
}
