//! Load generator: the real `asa-server` binary (release build, SQLite with
//! synchronous=FULL) under 1, 8 and 64 devices pushing batches of 200 new
//! sessions, then one centre's manager pulling everything. In the same run it
//! measures the ceiling: a plain append of the same change rows into SQLite,
//! without HTTP or merge, so the result holds as a ratio on a noisy machine.
//!
//! Then the same on PostgreSQL (the server named by ASA_LOAD_POSTGRES,
//! default postgresql://postgres@127.0.0.1:5432/postgres; skipped with a
//! line when it does not answer), each run on a fresh database: PostgreSQL's
//! own ceiling for the same rows (one multi-row INSERT per 200 into the
//! `changes` layout, no HTTP), then 8 and 64 devices spread over 1, 2 and 3
//! servers on one database, a pull, and the round trips between a server
//! and PostgreSQL per push for batches of 1 to 1000 changes, counted on the
//! wire by a relay between them.
//!
//! Then beneficiaries as people: a centre of 20,000 beneficiaries (one in
//! ten a second record of another, spelled differently), and the time the
//! manager's `GET /v1/beneficiaries/duplicates` takes on it.
//!
//! Run: `cargo bench -p server --bench load` (ASA_LOAD_SCALE=0.25 for a quick
//! run; ASA_LOAD_PART=people for the beneficiaries part alone).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

const BATCH: usize = 200;
const ADMIN_PASSWORD: &str = "load test admin password";
const HELP_TYPES: [&str; 5] = [
    "digital_literacy",
    "e_government",
    "welfare_rights",
    "online_safety",
    "fake_news",
];

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_on(None)
    }

    /// A server on the PostgreSQL database `url`, or on SQLite.
    fn start_on(url: Option<&str>) -> Server {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_asa-server"));
        if let Some(url) = url {
            command.env("ASA_DATABASE_URL", url);
        }
        let mut child = command
            .env("ASA_BIND", "127.0.0.1:0")
            .env("ASA_DATA_DIR", dir.path())
            .env("ASA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("ASA_LOGIN_MAX_FAILURES", "1000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("asa-server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut port = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("server output");
            if let Some(p) = line.strip_prefix("asa-server listening on port ") {
                port = p.trim().parse::<u16>().ok();
                break;
            }
        }
        let port = port.expect("server printed its port");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    fn peak_rss_mib(&self) -> f64 {
        self.status_mib("VmHWM:")
    }

    fn rss_mib(&self) -> f64 {
        self.status_mib("VmRSS:")
    }

    fn status_mib(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("http client")
}

struct Device {
    token: String,
    id: Uuid,
    user: Uuid,
}

async fn login(client: &reqwest::Client, base: &str, username: &str, password: &str) -> Device {
    let id = Uuid::new_v4();
    let body: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": username, "password": password, "device_id": id}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    Device {
        token: body["access_token"].as_str().expect("token").to_owned(),
        id,
        user: body["user"]["id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .expect("user id"),
    }
}

async fn create_user(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    username: &str,
    role: &str,
) {
    // The centre must exist first; the first user's call creates it.
    let centre = client
        .post(format!("{base}/v1/admin/centres"))
        .bearer_auth(admin)
        .json(&json!({"code": "C0001", "name": "ศูนย์ดิจิทัลชุมชน", "province": "เชียงใหม่", "district": "แม่ริม"}))
        .send()
        .await
        .expect("create centre");
    assert!([201, 409].contains(&centre.status().as_u16()));
    let response = client
        .post(format!("{base}/v1/admin/users"))
        .bearer_auth(admin)
        .json(&json!({"username": username, "password": "load test password", "role": role, "centre_id": "C0001"}))
        .send()
        .await
        .expect("create user");
    assert_eq!(response.status(), 201);
}

/// `count` realistic new sessions of one device, as pushes of `BATCH`.
fn session_batches(device: &Device, count: usize, first_seq: u64) -> Vec<String> {
    session_pushes(device, count, first_seq, BATCH)
}

/// `count` realistic new sessions of one device, as pushes of `batch`.
fn session_pushes(device: &Device, count: usize, first_seq: u64, batch: usize) -> Vec<String> {
    let now = chrono::Utc::now().timestamp_millis();
    let changes: Vec<Value> = (0..count)
        .map(|i| {
            let seq = first_seq + i as u64;
            let mut fields = json!({
                "centre_id": {"value": "C0001"},
                "volunteer_id": {"value": device.user},
                "village_code": {"value": format!("5001{:04}", i % 97)},
                "help_type": {"value": HELP_TYPES[i % HELP_TYPES.len()]},
                "started_at": {"value": "2026-11-28T09:30:00+07:00"},
                "duration_min": {"value": 30 + (i % 90)},
                "people_helped": {"value": 1 + (i % 5)},
                "outcome": {"value": "resolved"},
                "notes": {"value": format!("ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐและตั้งค่าแอปเป๋าตัง ครั้งที่ {i}")},
            });
            if i % 3 == 0 {
                fields[format!("beneficiary_ids/{}", Uuid::now_v7())] = json!({"value": true});
            }
            json!({
                "id": Uuid::now_v7(),
                "device_seq": seq,
                "collection": "sessions",
                "record_id": Uuid::now_v7(),
                "hlc": format!("{:013}-{:04x}-{}", now, (seq % 65536) as u16, device.id),
                "fields": fields,
            })
        })
        .collect();
    changes
        .chunks(batch)
        .map(|chunk| {
            serde_json::to_string(&json!({
                "device_id": device.id,
                "device_time": chrono::Utc::now().to_rfc3339(),
                "changes": chunk,
            }))
            .expect("json")
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct PushRun {
    rss_before_mib: f64,
    changes: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

async fn push_run(server: &Server, devices: usize, batches_per_device: usize) -> PushRun {
    push_spread(std::slice::from_ref(server), devices, batches_per_device).await
}

/// Devices spread round-robin over `servers` (several servers on one
/// database), each pushing its batches to its own server.
async fn push_spread(servers: &[Server], devices: usize, batches_per_device: usize) -> PushRun {
    let client = http_client();
    let first = &servers[0];
    let admin = login(&client, &first.base, "admin", ADMIN_PASSWORD).await;
    let mut work = Vec::new();
    for d in 0..devices {
        let name = format!("vol{d}");
        let server = &servers[d % servers.len()];
        create_user(&client, &first.base, &admin.token, &name, "volunteer").await;
        let device = login(&client, &server.base, &name, "load test password").await;
        let bodies = session_batches(&device, batches_per_device * BATCH, 1);
        work.push((device, bodies, server.base.clone()));
    }
    let rss_before_mib = first.rss_mib();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (device, bodies, base) in work {
        let client = client.clone();
        let url = format!("{base}/v1/sync/push");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for body in bodies {
                let t = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&device.token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("push");
                assert_eq!(response.status(), 200);
                let answer: Value = response.json().await.expect("push json");
                assert!(answer["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .all(|r| r["status"] == "applied"));
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("device task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    PushRun {
        rss_before_mib,
        changes: devices * batches_per_device * BATCH,
        elapsed,
        latencies,
    }
}

/// The manager's merged-records listing of the whole centre, in pages of 1000.
async fn list_records(server: &Server) -> (usize, Duration) {
    let client = http_client();
    let manager = login(&client, &server.base, "manager", "load test password").await;
    let started = Instant::now();
    let (mut count, mut token) = (0usize, String::new());
    loop {
        let page: Value = client
            .get(format!(
                "{}/v1/records/sessions?limit=1000&page_token={token}",
                server.base
            ))
            .bearer_auth(&manager.token)
            .send()
            .await
            .expect("records")
            .json()
            .await
            .expect("records json");
        count += page["records"].as_array().map_or(0, Vec::len);
        match page["next_page_token"].as_str() {
            Some(t) => token = t.to_owned(),
            None => break,
        }
    }
    (count, started.elapsed())
}

async fn pull_all(server: &Server) -> (usize, Duration, u64) {
    let client = http_client();
    let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
    create_user(&client, &server.base, &admin.token, "manager", "manager").await;
    let manager = login(&client, &server.base, "manager", "load test password").await;
    let started = Instant::now();
    let (mut count, mut bytes, mut cursor) = (0usize, 0u64, String::new());
    loop {
        let response = client
            .get(format!(
                "{}/v1/sync/pull?limit=1000&cursor={cursor}",
                server.base
            ))
            .bearer_auth(&manager.token)
            .send()
            .await
            .expect("pull");
        let text = response.text().await.expect("pull body");
        bytes += text.len() as u64;
        let page: Value = serde_json::from_str(&text).expect("pull json");
        count += page["changes"].as_array().map_or(0, Vec::len);
        cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
        if page["has_more"] != json!(true) {
            break;
        }
    }
    (count, started.elapsed(), bytes)
}

/// The rows a ceiling appends: `rows` sessions of one device, as pushes.
fn ceiling_batches(rows: usize) -> (Device, Vec<String>) {
    let device = Device {
        token: String::new(),
        id: Uuid::new_v4(),
        user: Uuid::new_v4(),
    };
    let batches = session_batches(&device, rows, 1);
    (device, batches)
}

/// The ceiling: the same change rows appended to the server's `changes` table
/// layout, in transactions of `BATCH`, with the server's pragmas.
fn append_ceiling(rows: usize) -> f64 {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let conn = rusqlite::Connection::open(dir.path().join("ceiling.db")).expect("open");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE \"changes\" (\"seq\" INTEGER PRIMARY KEY, \"change_id\" BLOB NOT NULL UNIQUE,
           \"device_key\" INTEGER NOT NULL, \"device_seq\" INTEGER NOT NULL, \"collection\" INTEGER NOT NULL,
           \"centre_id\" TEXT, \"volunteer_id\" TEXT, \"body\" TEXT NOT NULL);
         CREATE INDEX \"changes_by_centre\" ON \"changes\" (\"centre_id\", \"seq\");",
    )
    .expect("schema");
    let (device, batches) = ceiling_batches(rows);
    let started = Instant::now();
    let mut conn = conn;
    for body in &batches {
        let request: Value = serde_json::from_str(body).expect("json");
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO \"changes\" (\"change_id\", \"device_key\", \"device_seq\", \"collection\", \"centre_id\", \"volunteer_id\", \"body\") VALUES (?1, 1, ?2, 1, 'C0001', ?3, ?4)")
                .expect("prepare");
            for change in request["changes"].as_array().expect("changes") {
                let id = Uuid::parse_str(change["id"].as_str().expect("id")).expect("uuid");
                insert
                    .execute((
                        id.as_bytes(),
                        change["device_seq"].as_i64(),
                        device.user.to_string(),
                        change.to_string(),
                    ))
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    rows as f64 / started.elapsed().as_secs_f64()
}

/// A database of its own on the benchmark's PostgreSQL, dropped after.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn create(admin: &str) -> Database {
        let name = format!("asa_load_{}", Uuid::new_v4().simple());
        let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("PostgreSQL");
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        let (server, _) = admin.rsplit_once('/').expect("a URL ending in /DATABASE");
        Database {
            admin: admin.to_owned(),
            url: format!("{server}/{name}"),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// PostgreSQL's ceiling for the same rows: each batch of `BATCH` changes one
/// multi-row INSERT (arrays through `unnest`) in its own transaction, into
/// the layout of the server's `changes` table and its indexes, on one
/// connection, no HTTP, no merge, no records.
fn postgres_ceiling(admin: &str, rows: usize) -> f64 {
    let db = Database::create(admin);
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).expect("connect");
    c.batch_execute(
        "CREATE TABLE changes (seq bigint PRIMARY KEY, change_id uuid NOT NULL UNIQUE,
           device_key bigint NOT NULL, device_seq bigint NOT NULL, collection smallint NOT NULL,
           centre_id text, volunteer_id text, record_id uuid NOT NULL, body text NOT NULL);
         CREATE INDEX changes_by_centre ON changes (centre_id, seq);
         CREATE INDEX changes_by_record ON changes (record_id, seq);",
    )
    .expect("schema");
    let (device, batches) = ceiling_batches(rows);
    let started = Instant::now();
    let mut next = 1i64;
    for body in &batches {
        let request: Value = serde_json::from_str(body).expect("json");
        let changes = request["changes"].as_array().expect("changes");
        let seqs: Vec<i64> = (next..next + changes.len() as i64).collect();
        next += changes.len() as i64;
        let ids: Vec<Uuid> = changes
            .iter()
            .map(|c| Uuid::parse_str(c["id"].as_str().expect("id")).expect("uuid"))
            .collect();
        let device_seqs: Vec<i64> = changes
            .iter()
            .map(|c| c["device_seq"].as_i64().unwrap_or(0))
            .collect();
        let records: Vec<Uuid> = changes
            .iter()
            .map(|c| Uuid::parse_str(c["record_id"].as_str().expect("record")).expect("uuid"))
            .collect();
        let bodies: Vec<String> = changes.iter().map(Value::to_string).collect();
        let volunteer = device.user.to_string();
        let mut tx = c.transaction().expect("tx");
        tx.execute(
            "INSERT INTO changes (seq, change_id, device_key, device_seq, collection, centre_id, volunteer_id, record_id, body)
             SELECT s, i, 1, d, 1, 'C0001', $5, r, b FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::uuid[], $6::text[]) AS u (s, i, d, r, b)",
            &[&seqs, &ids, &device_seqs, &records, &volunteer, &bodies],
        )
        .expect("insert");
        tx.commit().expect("commit");
    }
    rows as f64 / started.elapsed().as_secs_f64()
}

/// A TCP relay from 127.0.0.1:0 to PostgreSQL that counts round trips: each
/// time an answer comes back after the client sent something.
struct Relay {
    port: u16,
    round_trips: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    fn start(upstream: (String, u16)) -> Relay {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("relay listens");
        let port = listener.local_addr().expect("relay address").port();
        let round_trips = Arc::new(AtomicU64::new(0));
        let counter = round_trips.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = std::net::TcpStream::connect(upstream.clone()) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let asked = Arc::new(AtomicBool::new(false));
                let pipe =
                    |mut from: std::net::TcpStream, mut to: std::net::TcpStream, up: bool| {
                        let (asked, counter) = (asked.clone(), counter.clone());
                        std::thread::spawn(move || {
                            use std::io::{Read, Write};
                            let mut buf = vec![0u8; 64 * 1024];
                            while let Ok(n) = from.read(&mut buf) {
                                if n == 0 {
                                    break;
                                }
                                if up {
                                    asked.store(true, Ordering::SeqCst);
                                } else if asked.swap(false, Ordering::SeqCst) {
                                    counter.fetch_add(1, Ordering::SeqCst);
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            let _ = to.shutdown(std::net::Shutdown::Both);
                        });
                    };
                pipe(
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                    true,
                );
                pipe(server, client, false);
            }
        });
        Relay { port, round_trips }
    }

    fn count(&self) -> u64 {
        self.round_trips.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Round trips between one server and PostgreSQL per push of `size` new
/// sessions (the push's login check included), over `pushes` pushes.
async fn round_trips_per_push(
    server: &Server,
    relay: &Relay,
    size: usize,
    pushes: usize,
    name: &str,
) -> f64 {
    let client = http_client();
    let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
    create_user(&client, &server.base, &admin.token, name, "volunteer").await;
    let device = login(&client, &server.base, name, "load test password").await;
    let bodies = session_pushes(&device, size * pushes, 1, size);
    let before = relay.count();
    for body in bodies {
        let response = client
            .post(format!("{}/v1/sync/push", server.base))
            .bearer_auth(&device.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("push");
        assert_eq!(response.status(), 200);
    }
    (relay.count() - before) as f64 / pushes as f64
}

fn report_push(label: &str, run: &PushRun, ceiling: f64) {
    let rate = run.changes as f64 / run.elapsed.as_secs_f64();
    println!(
        "{label}: {} changes in {:.2} s = {rate:.0} changes/s ({:.0}% of the ceiling); latency p50 {:.1} ms, p99 {:.1} ms",
        run.changes,
        run.elapsed.as_secs_f64(),
        100.0 * rate / ceiling,
        percentile(&run.latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&run.latencies, 0.99).as_secs_f64() * 1000.0,
    );
}

/// The PostgreSQL half of the run (see the module's comment).
fn postgres_runs(runtime: &tokio::runtime::Runtime, total: usize) {
    let admin = std::env::var("ASA_LOAD_POSTGRES")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".into());
    if let Err(e) = postgres::Client::connect(&admin, postgres::NoTls) {
        println!("postgres: skipped, {admin} does not answer: {e}");
        return;
    }
    let ceiling = postgres_ceiling(&admin, total);
    println!("postgres ceiling: multi-row INSERT of the same rows, {total} rows in transactions of {BATCH}: {ceiling:.0} rows/s");
    for instances in [1usize, 2, 3] {
        for devices in [8usize, 64] {
            let db = Database::create(&admin);
            let servers: Vec<Server> = (0..instances)
                .map(|_| Server::start_on(Some(&db.url)))
                .collect();
            let batches = (total / BATCH / devices).max(1);
            let run = runtime.block_on(push_spread(&servers, devices, batches));
            report_push(
                &format!("postgres push: {instances} server(s), {devices:>2} devices x {batches} batches of {BATCH}"),
                &run,
                ceiling,
            );
            if devices == 64 && instances == 1 {
                let (count, elapsed, _) = runtime.block_on(pull_all(&servers[0]));
                println!(
                    "postgres pull: a manager pulls the centre's {count} changes in pages of 1000: {:.2} s = {:.0} changes/s; 10,000 changes take {:.0} ms",
                    elapsed.as_secs_f64(),
                    count as f64 / elapsed.as_secs_f64(),
                    elapsed.as_secs_f64() * 1000.0 * 10_000.0 / count as f64,
                );
            }
        }
    }
    let db = Database::create(&admin);
    let config: postgres::Config = admin.parse().expect("URL");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let relay = Relay::start((host, port));
    let (head, tail) = db.url.split_once('@').expect("a user in the URL");
    let (_, name) = tail.split_once('/').expect("a database");
    let through = format!("{head}@127.0.0.1:{}/{name}", relay.port);
    let server = Server::start_on(Some(&through));
    let mut line = String::from("postgres round trips per push (login check included):");
    for (i, size) in [1usize, 10, 100, 1000].into_iter().enumerate() {
        let trips = runtime.block_on(round_trips_per_push(
            &server,
            &relay,
            size,
            5,
            &format!("trips{i}"),
        ));
        line.push_str(&format!(" {size} changes: {trips:.1};"));
    }
    println!("{}", line.trim_end_matches(';'));
}

/// Thai name parts for generated beneficiaries.
const FIRST_NAMES: [&str; 12] = [
    "สมชาย",
    "มาลี",
    "ประเสริฐ",
    "สุดา",
    "บุญมา",
    "วิชัย",
    "กมล",
    "ทิพย์",
    "อรุณ",
    "รัตนา",
    "ชาติ",
    "เพ็ญ",
];
const LAST_NAMES: [&str; 10] = [
    "ใจดี",
    "ศรีสุข",
    "วงศ์ใหญ่",
    "แก้วมณี",
    "ทองคำ",
    "มีสุข",
    "สายทอง",
    "พรหมมา",
    "จันทร์เพ็ญ",
    "บุญมี",
];

/// A centre of `count` beneficiaries in 40 villages, pushed by one
/// volunteer in pushes of 1,000: one in ten is a second record of an
/// earlier one (same village and birth year, a title added and a vowel
/// doubled). Then the manager asks for the centre's duplicates three
/// times; returns the pairs listed and the times.
async fn duplicates_run(server: &Server, count: usize) -> (usize, Vec<Duration>) {
    let client = http_client();
    let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
    create_user(&client, &server.base, &admin.token, "recorder", "volunteer").await;
    create_user(&client, &server.base, &admin.token, "boss", "manager").await;
    let device = login(&client, &server.base, "recorder", "load test password").await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut rng: u64 = 0x5EED_1202;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut people: Vec<(String, String, u64)> = Vec::with_capacity(count);
    let changes: Vec<Value> = (0..count)
        .map(|i| {
            let (name, village, year) = if i % 10 == 9 {
                let (name, village, year) = people[(next() % people.len() as u64) as usize].clone();
                (format!("นาย{name}ี"), village, year)
            } else {
                let name = format!(
                    "{} {}{}",
                    FIRST_NAMES[(next() % 12) as usize],
                    LAST_NAMES[(next() % 10) as usize],
                    LAST_NAMES[(next() % 10) as usize]
                );
                (
                    name,
                    format!("500102{:02}", next() % 40),
                    1940 + next() % 70,
                )
            };
            people.push((name.clone(), village.clone(), year));
            let seq = i as u64 + 1;
            json!({
                "id": Uuid::now_v7(), "device_seq": seq, "collection": "beneficiaries",
                "record_id": Uuid::now_v7(),
                "hlc": format!("{:013}-{:04x}-{}", now, (seq % 65536) as u16, device.id),
                "fields": {
                    "centre_id": {"value": "C0001"}, "village_code": {"value": village},
                    "display_name": {"value": name}, "birth_year": {"value": year},
                    "consent": {"value": true},
                },
            })
        })
        .collect();
    for chunk in changes.chunks(1000) {
        let body = json!({"device_id": device.id, "device_time": chrono::Utc::now().to_rfc3339(), "changes": chunk});
        let response = client
            .post(format!("{}/v1/sync/push", server.base))
            .bearer_auth(&device.token)
            .json(&body)
            .send()
            .await
            .expect("push");
        assert_eq!(response.status(), 200);
    }
    let manager = login(&client, &server.base, "boss", "load test password").await;
    let mut times = Vec::new();
    let mut pairs = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let page: Value = client
            .get(format!("{}/v1/beneficiaries/duplicates", server.base))
            .bearer_auth(&manager.token)
            .send()
            .await
            .expect("duplicates")
            .json()
            .await
            .expect("duplicates json");
        times.push(started.elapsed());
        pairs = page["pairs"].as_array().map_or(0, Vec::len);
    }
    times.sort();
    (pairs, times)
}

/// One beneficiary linked by `sessions` sessions (and edited a few times),
/// erased by the manager; returns how long the erasure took.
async fn erasure_run(server: &Server, sessions: usize) -> Duration {
    let client = http_client();
    let admin = login(&client, &server.base, "admin", ADMIN_PASSWORD).await;
    create_user(&client, &server.base, &admin.token, "helper", "volunteer").await;
    create_user(&client, &server.base, &admin.token, "chief", "manager").await;
    let device = login(&client, &server.base, "helper", "load test password").await;
    let person = Uuid::now_v7();
    let now = chrono::Utc::now().timestamp_millis();
    let mut changes = vec![json!({
        "id": Uuid::now_v7(), "device_seq": 1, "collection": "beneficiaries", "record_id": person,
        "hlc": format!("{now:013}-0000-{}", device.id),
        "fields": {
            "centre_id": {"value": "C0001"}, "village_code": {"value": "50010203"},
            "display_name": {"value": "นางสาวมาลี ศรีสุข"}, "phone": {"value": "0812345678"},
            "birth_year": {"value": 1970}, "consent": {"value": true},
        },
    })];
    for i in 0..sessions {
        let seq = i as u64 + 2;
        changes.push(json!({
            "id": Uuid::now_v7(), "device_seq": seq, "collection": "sessions", "record_id": Uuid::now_v7(),
            "hlc": format!("{now:013}-{:04x}-{}", (seq % 65536) as u16, device.id),
            "fields": {
                "centre_id": {"value": "C0001"}, "volunteer_id": {"value": device.user},
                "village_code": {"value": "50010203"}, "help_type": {"value": "welfare_rights"},
                "started_at": {"value": "2026-11-28T09:30:00+07:00"}, "duration_min": {"value": 30},
                "people_helped": {"value": 1}, format!("beneficiary_ids/{person}"): {"value": true},
            },
        }));
    }
    for chunk in changes.chunks(1000) {
        let body = json!({"device_id": device.id, "device_time": chrono::Utc::now().to_rfc3339(), "changes": chunk});
        let response = client
            .post(format!("{}/v1/sync/push", server.base))
            .bearer_auth(&device.token)
            .json(&body)
            .send()
            .await
            .expect("push");
        assert_eq!(response.status(), 200);
    }
    let manager = login(&client, &server.base, "chief", "load test password").await;
    let started = Instant::now();
    let response = client
        .post(format!("{}/v1/beneficiaries/{person}/erase", server.base))
        .bearer_auth(&manager.token)
        .send()
        .await
        .expect("erase");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    elapsed
}

fn people_runs(runtime: &tokio::runtime::Runtime) {
    let server = Server::start();
    let mut erasures: Vec<Duration> = (0..3)
        .map(|_| runtime.block_on(erasure_run(&Server::start(), 1000)))
        .collect();
    erasures.sort();
    println!(
        "erasure: a manager's POST /v1/beneficiaries/{{id}}/erase of a person linked by 1000 sessions \
         (with the WAL checkpointed and truncated): median {:.0} ms, slowest {:.0} ms of 3 servers",
        erasures[1].as_secs_f64() * 1000.0,
        erasures[2].as_secs_f64() * 1000.0,
    );
    let (pairs, times) = runtime.block_on(duplicates_run(&server, 20_000));
    println!(
        "duplicates: a manager's GET /v1/beneficiaries/duplicates over a centre of 20000 beneficiaries \
         ({pairs} pairs listed): median {:.0} ms, slowest {:.0} ms of 3",
        times[1].as_secs_f64() * 1000.0,
        times[2].as_secs_f64() * 1000.0,
    );
}

fn main() {
    let part = std::env::var("ASA_LOAD_PART").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if part == "people" {
        return people_runs(&runtime);
    }
    let scale: f64 = std::env::var("ASA_LOAD_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let total = ((40_000.0 * scale) as usize).max(BATCH * 64);
    let ceiling = append_ceiling(total);
    println!("ceiling: plain SQLite append of the same rows, {total} rows in transactions of {BATCH}: {ceiling:.0} rows/s");
    for devices in [1usize, 8, 64] {
        let server = Server::start();
        let batches = (total / BATCH / devices).max(1);
        let run = runtime.block_on(push_run(&server, devices, batches));
        let rate = run.changes as f64 / run.elapsed.as_secs_f64();
        println!(
            "push: {devices:>2} devices x {batches} batches of {BATCH}: {} changes in {:.2} s = {rate:.0} changes/s \
             ({:.0}% of the ceiling); latency p50 {:.1} ms, p99 {:.1} ms; server RSS {:.0} MiB before the pushes, {:.0} MiB after, {:.0} MiB at peak",
            run.changes,
            run.elapsed.as_secs_f64(),
            100.0 * rate / ceiling,
            percentile(&run.latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&run.latencies, 0.99).as_secs_f64() * 1000.0,
            run.rss_before_mib,
            server.rss_mib(),
            server.peak_rss_mib(),
        );
        if devices == 64 {
            let (count, elapsed, bytes) = runtime.block_on(pull_all(&server));
            println!(
                "pull: a manager pulls the centre's {count} changes in pages of 1000: {:.2} s = {:.0} changes/s, {:.1} MiB; \
                 10,000 changes take {:.0} ms",
                elapsed.as_secs_f64(),
                count as f64 / elapsed.as_secs_f64(),
                bytes as f64 / (1024.0 * 1024.0),
                elapsed.as_secs_f64() * 1000.0 * 10_000.0 / count as f64,
            );
            let (records, elapsed) = runtime.block_on(list_records(&server));
            println!(
                "records: the manager lists the centre's {records} merged sessions in pages of 1000: {:.2} s = {:.0} records/s",
                elapsed.as_secs_f64(),
                records as f64 / elapsed.as_secs_f64(),
            );
        }
    }
    postgres_runs(&runtime, total);
    people_runs(&runtime);
}
