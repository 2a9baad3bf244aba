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
use harness::{crate_dir, generate, library, Harness, Kotlin};
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

/// What one side measured over every round.
#[derive(Default)]
struct Side {
    saves: Vec<Duration>,
    syncs: Vec<Duration>,
}

impl Side {
    /// Adds the figures a foreign program handed over.
    fn add(&mut self, figures: &[serde_json::Value]) {
        for f in figures {
            let ns = |key: &str| -> Vec<Duration> {
                f[key]
                    .as_array()
                    .expect("a list")
                    .iter()
                    .map(|v| Duration::from_nanos(v.as_u64().expect("nanoseconds")))
                    .collect()
            };
            self.saves.extend(ns("saves_ns"));
            self.syncs.extend(ns("sync_ns"));
        }
    }
}

/// The Kotlin side, when the compiler and JNA are here (as `scripts/test`
/// installs them): the bindings and `benches/Save.kt` in one jar, and how
/// to start it for one round.
fn kotlin(harness: &Harness) -> Option<impl Fn() -> Command> {
    let Some(kotlin) = Kotlin::find() else {
        eprintln!(
            "no Kotlin compiler or JNA: the Kotlin side is left out (scripts/test installs them)"
        );
        return None;
    };
    let template = kotlin.build(harness, &crate_dir().join("benches/Save.kt"), "SaveKt");
    let (program, args): (_, Vec<_>) = (
        template.get_program().to_owned(),
        template.get_args().map(ToOwned::to_owned).collect(),
    );
    Some(move || {
        let mut java = Command::new(&program);
        java.args(&args)
            // The JIT needs more calls than Python to settle.
            .env("ASA_WARMUP", (WARMUP * 25).to_string())
            .env("ASA_SAVES", SAVES.to_string());
        java
    })
}

fn main() {
    let harness = Harness::new();
    let out = harness.dir.path().join("python");
    generate(TargetLanguage::Python, &out);
    let lib = library();
    std::fs::copy(&lib, out.join(lib.file_name().expect("a name"))).expect("copy the library");
    let java = kotlin(&harness);

    let (mut rust, mut python, mut kotlin_side) =
        (Side::default(), Side::default(), Side::default());
    for _ in 0..ROUNDS {
        let (saves, sync) = rust_round(&harness);
        rust.saves.extend(saves);
        rust.syncs.push(sync);

        let mut py = Command::new("python3");
        py.arg(crate_dir().join("benches/save.py"))
            .env("PYTHONPATH", &out)
            .env("ASA_WARMUP", WARMUP.to_string())
            .env("ASA_SAVES", SAVES.to_string());
        python.add(&harness.run(py));
        if let Some(java) = &java {
            kotlin_side.add(&harness.run(java()));
        }
    }
    let mut sides = vec![("Rust SDK", rust), ("Python bindings", python)];
    if java.is_some() {
        sides.push(("Kotlin bindings", kotlin_side));
    }
    for (_, side) in &mut sides {
        side.saves.sort();
        side.syncs.sort();
    }
    let rust_save = percentile(&sides[0].1.saves, 0.5).as_secs_f64();
    let rust_sync = percentile(&sides[0].1.syncs, 0.5).as_secs_f64();
    println!(
        "save ({} each, {ROUNDS} alternating rounds)   p50 µs   p99 µs   p50 / Rust",
        SAVES * ROUNDS
    );
    for (name, side) in &sides {
        let p50 = percentile(&side.saves, 0.5);
        println!(
            "  {name:<16} {:>8.0} {:>8.0} {:>12.3}",
            micros(p50),
            micros(percentile(&side.saves, 0.99)),
            p50.as_secs_f64() / rust_save
        );
    }
    println!("sync of {SAVES} saved sessions (median of {ROUNDS})   ms   / Rust");
    for (name, side) in &sides {
        let median = percentile(&side.syncs, 0.5).as_secs_f64();
        println!(
            "  {name:<16} {:>8.1} {:>8.3}",
            median * 1e3,
            median / rust_sync
        );
    }
}
