//! Console benchmark: the real `asa-server` binary (release build) with one
//! centre of 100,000 sessions from 40 volunteers, pushed through the API.
//! Then a manager signed in through the console's form asks for the
//! sessions page in the ways a manager does (first page, a deep page, by
//! name, by dates and type, conflicts only) and the programme page, and,
//! for a ratio that holds on a noisy machine, the API's page of 50 merged
//! records in the same run. Latency is measured by the client over
//! loopback, so it bounds the server's time from above.
//!
//! It also counts the bytes of a manager's first visit with gzip, as a
//! phone on mobile data receives them: the sign-in page, the stylesheet,
//! and the first sessions page (response heads included).
//!
//! Run: `cargo bench -p server --bench console` (ASA_CONSOLE_SESSIONS=20000
//! for a quick run).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

const ADMIN_PASSWORD: &str = "console bench admin password";
const PASSWORD: &str = "console bench password";
const BATCH: usize = 500;
const VOLUNTEERS: usize = 40;
const HELP_TYPES: [&str; 5] = [
    "digital_literacy",
    "e_government",
    "welfare_rights",
    "online_safety",
    "fake_news",
];
const NAMES: [&str; 8] = [
    "สมชาย",
    "สมศรี",
    "มาลี",
    "ประเสริฐ",
    "วิไล",
    "บุญมี",
    "จันทร์เพ็ญ",
    "ทองดี",
];

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_asa-server"))
            .env("ASA_BIND", "127.0.0.1:0")
            .env("ASA_DATA_DIR", dir.path())
            .env("ASA_ADMIN_PASSWORD", ADMIN_PASSWORD)
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
        Server {
            child,
            base: format!(
                "http://127.0.0.1:{}",
                port.expect("server printed its port")
            ),
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone)]
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
    name: &str,
    role: &str,
) {
    let response = client
        .post(format!("{base}/v1/admin/users"))
        .bearer_auth(admin)
        .json(&json!({"username": username, "password": PASSWORD, "role": role, "centre_id": "C0001", "display_name": name}))
        .send()
        .await
        .expect("create user");
    assert_eq!(response.status(), 201);
}

/// `count` sessions of one volunteer, spread over 2026, as push bodies.
fn session_batches(device: &Device, count: usize, salt: usize) -> Vec<String> {
    let now = chrono::Utc::now().timestamp_millis();
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
    let changes: Vec<Value> = (0..count)
        .map(|i| {
            let seq = 1 + i as u64;
            let day = start + chrono::Days::new(((i * 7 + salt) % 330) as u64);
            json!({
                "id": Uuid::now_v7(),
                "device_seq": seq,
                "collection": "sessions",
                "record_id": Uuid::now_v7(),
                "hlc": format!("{:013}-{:04x}-{}", now, (seq % 65536) as u16, device.id),
                "fields": {
                    "centre_id": {"value": "C0001"},
                    "volunteer_id": {"value": device.user},
                    "village_code": {"value": format!("5001{:04}", (i + salt) % 60)},
                    "help_type": {"value": HELP_TYPES[(i + salt) % HELP_TYPES.len()]},
                    "started_at": {"value": format!("{day}T09:30:00+07:00")},
                    "duration_min": {"value": 30 + (i % 90)},
                    "people_helped": {"value": 1 + (i % 5)},
                    "outcome": {"value": "resolved"},
                    "notes": {"value": format!("ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐและตั้งค่าแอปเป๋าตัง ครั้งที่ {i}")},
                },
            })
        })
        .collect();
    changes
        .chunks(BATCH)
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

/// The centre's sessions, pushed by `VOLUNTEERS` devices two at a time.
async fn seed(client: &reqwest::Client, base: &str, sessions: usize) -> Duration {
    let admin = login(client, base, "admin", ADMIN_PASSWORD).await;
    let centre = client
        .post(format!("{base}/v1/admin/centres"))
        .bearer_auth(&admin.token)
        .json(&json!({"code": "C0001", "name": "ศูนย์ดิจิทัลชุมชนแม่ริม", "province": "เชียงใหม่", "district": "แม่ริม"}))
        .send()
        .await
        .expect("create centre");
    assert_eq!(centre.status(), 201);
    create_user(
        client,
        base,
        &admin.token,
        "manager",
        "สมหญิง ผู้จัดการ",
        "manager",
    )
    .await;
    let mut work = Vec::new();
    for v in 0..VOLUNTEERS {
        let username = format!("vol{v}");
        let name = format!("{} อาสา{v}", NAMES[v % NAMES.len()]);
        create_user(client, base, &admin.token, &username, &name, "volunteer").await;
        let device = login(client, base, &username, PASSWORD).await;
        let bodies = session_batches(&device, sessions / VOLUNTEERS, v);
        work.push((device, bodies));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for lane in work.chunks(VOLUNTEERS / 2).map(<[_]>::to_vec) {
        let client = client.clone();
        let url = format!("{base}/v1/sync/push");
        tasks.push(tokio::spawn(async move {
            for (device, bodies) in lane {
                for body in bodies {
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
                    let results = answer["results"].as_array().expect("results");
                    assert!(results.iter().all(|r| r["status"] == "applied"), "{answer}");
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("push lane");
    }
    started.elapsed()
}

/// A console visitor: the session cookie, after signing in through the form.
async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    let form = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page");
    let pre = cookie_of(&form, "asa_login");
    let html = form.text().await.expect("login html");
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker).expect("csrf field") + marker.len();
    let csrf: String = html[at..].chars().take_while(|c| *c != '"').collect();
    let answer = client
        .post(format!("{base}/login"))
        .header("cookie", format!("asa_login={pre}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&username=manager&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .expect("sign in");
    assert_eq!(answer.status(), 303, "signed in");
    cookie_of(&answer, "asa_console")
}

fn cookie_of(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .expect("the cookie")
        .to_owned()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `n` sequential requests (after 10 to warm up): sorted latencies and the
/// size of the last body.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    auth: (&str, &str),
    n: usize,
) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::with_capacity(n);
    let mut size = 0;
    for i in 0..n + 10 {
        let started = Instant::now();
        let response = client
            .get(url)
            .header(auth.0, auth.1)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{url}");
        let body = response.bytes().await.expect("body");
        if i >= 10 {
            latencies.push(started.elapsed());
        }
        size = body.len();
    }
    latencies.sort();
    (latencies, size)
}

/// What a phone receives for one GET with gzip: head and body bytes.
async fn transfer(raw: &reqwest::Client, url: &str, cookie: Option<&str>) -> (usize, String) {
    let mut request = raw.get(url).header("accept-encoding", "gzip");
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    let response = request.send().await.expect("request");
    let head: usize = response
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + 17;
    let encoding = response
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_owned();
    let body = response.bytes().await.expect("body").len();
    (head + body, encoding)
}

#[tokio::main]
async fn main() {
    let sessions: usize = std::env::var("ASA_CONSOLE_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let server = Server::start();
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let seeding = seed(&client, &server.base, sessions).await;
    println!(
        "seeded {sessions} sessions of {VOLUNTEERS} volunteers in {:.1} s ({:.0} changes/s)",
        seeding.as_secs_f64(),
        sessions as f64 / seeding.as_secs_f64()
    );
    let cookie = format!("asa_console={}", sign_in(&client, &server.base).await);
    let manager = login(&client, &server.base, "manager", PASSWORD).await;
    let bearer = format!("Bearer {}", manager.token);
    let deep = sessions / 50 / 2;
    let cases: Vec<(String, String, (&str, &str), usize)> = vec![
        (
            "API: GET /v1/records/sessions?limit=50".into(),
            "/v1/records/sessions?limit=50".into(),
            ("authorization", bearer.as_str()),
            200,
        ),
        (
            "sessions, first page".into(),
            "/sessions".into(),
            ("cookie", cookie.as_str()),
            200,
        ),
        (
            format!("sessions, page {deep}"),
            format!("/sessions?page={deep}"),
            ("cookie", cookie.as_str()),
            200,
        ),
        (
            "sessions, by volunteer name".into(),
            "/sessions?volunteer=%E0%B8%A1%E0%B8%B2%E0%B8%A5%E0%B8%B5".into(),
            ("cookie", cookie.as_str()),
            200,
        ),
        (
            "sessions, June and one help type".into(),
            "/sessions?from=2026-06-01&to=2026-06-30&help_type=e_government".into(),
            ("cookie", cookie.as_str()),
            200,
        ),
        (
            "sessions, conflicts only".into(),
            "/sessions?conflicts=1".into(),
            ("cookie", cookie.as_str()),
            200,
        ),
        (
            "programme, the whole year".into(),
            "/programme".into(),
            ("cookie", cookie.as_str()),
            30,
        ),
    ];
    println!("\n| request | p50 ms | p99 ms | max ms | p50 / API p50 | body KiB |\n|---|---|---|---|---|---|");
    let mut api_p50 = 0.0;
    for (name, path, auth, n) in &cases {
        let (lat, size) = measure(&client, &format!("{}{path}", server.base), *auth, *n).await;
        let p50 = ms(percentile(&lat, 0.5));
        if api_p50 == 0.0 {
            api_p50 = p50;
        }
        println!(
            "| {name} | {p50:.1} | {:.1} | {:.1} | {:.2} | {:.1} |",
            ms(percentile(&lat, 0.99)),
            ms(*lat.last().expect("a latency")),
            p50 / api_p50,
            size as f64 / 1024.0
        );
    }

    // A first visit over gzip: without following redirects or decompressing.
    let raw = reqwest::Client::builder()
        .no_gzip()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login_page = client
        .get(format!("{}/login", server.base))
        .send()
        .await
        .expect("login")
        .text()
        .await
        .expect("html");
    let at = login_page
        .find("/console/console.css?v=")
        .expect("stylesheet link");
    let css: String = login_page[at..].chars().take_while(|c| *c != '"').collect();
    let (login_bytes, login_enc) = transfer(&raw, &format!("{}/login", server.base), None).await;
    let (css_bytes, css_enc) = transfer(&raw, &format!("{}{css}", server.base), None).await;
    let (page_bytes, page_enc) =
        transfer(&raw, &format!("{}/sessions", server.base), Some(&cookie)).await;
    println!(
        "\nfirst visit over gzip: sign-in page {:.1} KiB ({login_enc}), stylesheet {:.1} KiB ({css_enc}), sessions page {:.1} KiB ({page_enc}); total {:.1} KiB",
        login_bytes as f64 / 1024.0,
        css_bytes as f64 / 1024.0,
        page_bytes as f64 / 1024.0,
        (login_bytes + css_bytes + page_bytes) as f64 / 1024.0
    );
}
