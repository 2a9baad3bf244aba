//! SDK figures for docs/BENCHMARKS.md, against a real server on 127.0.0.1:0:
//! local save latency (p50/p99), bytes on the wire for a week offline (100 new
//! sessions + 50 edits) with and without gzip, and a new device's first sync
//! of a 10,000-record centre. Run: `cargo bench -p client-sdk --bench sdk`.

use std::time::{Duration, Instant};

use client_sdk::{Client, Collection, Config, FieldEdit, NewSession, SyncReport};
use tests::TestApp;

fn session(i: usize) -> NewSession {
    NewSession {
        village_code: format!("500102{:02}", i % 100),
        help_type: "welfare_rights".into(),
        started_at: format!("2026-11-{:02}T09:30:00+07:00", 20 + i % 7),
        duration_min: 30 + (i % 60) as i64,
        people_helped: 1 + (i % 5) as i64,
        outcome: Some("resolved".into()),
        notes: Some(format!("ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ ครั้งที่ {i}")),
        follow_up_on: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

struct Bench {
    rt: tokio::runtime::Runtime,
    app: TestApp,
    dir: tempfile::TempDir,
}

impl Bench {
    fn device(&self, who: &tests::Session, gzip: bool) -> Client {
        let db = self.dir.path().join(format!("{}.db", uuid::Uuid::new_v4()));
        let config = Config {
            gzip,
            ..Config::new(&self.app.base)
        };
        let client = Client::open(db, config).expect("open");
        client.login(&who.username, &who.password).expect("login");
        client
    }

    fn user(&self, role: &str) -> tests::Session {
        self.user_in(role, "C0001")
    }

    fn user_in(&self, role: &str, centre: &str) -> tests::Session {
        self.rt.block_on(self.app.user(role, Some(centre)))
    }
}

fn save_latency(b: &Bench) {
    let vol = b.user("volunteer");
    let client = b.device(&vol, true);
    let ids: Vec<_> = (0..50)
        .map(|i| client.create_session(&session(i)).unwrap())
        .collect();
    let mut times = Vec::with_capacity(2000);
    for i in 0..2000 {
        let start = Instant::now();
        if i % 2 == 0 {
            client.create_session(&session(i)).unwrap();
        } else {
            let id = ids[i % ids.len()];
            let edit = FieldEdit::new("notes", format!("แก้ไข {i}").as_str());
            client.edit(Collection::Sessions, id, &[edit]).unwrap();
        }
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "save latency (2000 saves, half creates, half edits; synchronous=FULL, WAL): p50 {:?}  p99 {:?}  max {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
}

fn week_offline(b: &Bench, gzip: bool) -> SyncReport {
    let vol = b.user("volunteer");
    let client = b.device(&vol, gzip);
    let ids: Vec<_> = (0..100)
        .map(|i| client.create_session(&session(i)).unwrap())
        .collect();
    for i in 0..50 {
        let edit = FieldEdit::new("outcome", "follow_up");
        client
            .edit(Collection::Sessions, ids[i * 2], &[edit])
            .unwrap();
    }
    let report = client.sync().unwrap();
    assert_eq!(report.acked, 150);
    println!(
        "week offline, gzip {gzip}: 100 sessions + 50 edits: sent {} B, received {} B; {:.0} B sent per new session (all 150 changes / 100)",
        report.bytes_sent,
        report.bytes_received,
        report.bytes_sent as f64 / 100.0
    );
    report
}

fn first_sync(b: &Bench) {
    // Fill a centre with 10,000 sessions pushed over raw HTTP in 1000-change batches.
    // A centre of its own, so the other figures' sessions are not counted.
    let mut vol = b.user_in("volunteer", "C0002");
    for _ in 0..10 {
        let batch = (0..1000)
            .map(|_| vol.new_session(uuid::Uuid::now_v7()))
            .collect();
        b.rt.block_on(b.app.push_ok(&vol, batch));
    }
    let boss = b.user_in("manager", "C0002");
    for gzip in [true, false] {
        let client = b.device(&boss, gzip);
        let start = Instant::now();
        let report = client.sync().unwrap();
        let took = start.elapsed();
        assert_eq!(report.pulled, 10_000);
        println!(
            "first sync of a 10,000-record centre, gzip {gzip}: {took:?}, received {} B ({:.0} B per record), sent {} B",
            report.bytes_received,
            report.bytes_received as f64 / 10_000.0,
            report.bytes_sent
        );
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(TestApp::spawn());
    let b = Bench {
        rt,
        app,
        dir: tempfile::tempdir().expect("temporary directory"),
    };
    if quick {
        week_offline(&b, true);
        return;
    }
    save_latency(&b);
    week_offline(&b, true);
    week_offline(&b, false);
    first_sync(&b);
}
