//! Helpers for the black-box tests: a real `asa-server` application on
//! `127.0.0.1:0` over a temporary SQLite file, or with `ASA_TEST_STORE=postgres`
//! a scratch PostgreSQL database, driven through real HTTP, with one method
//! per endpoint and builders for valid changes.

#![forbid(unsafe_code)]

pub mod audit;
pub mod browser;
pub mod console;
pub mod fault_proxy;
pub mod link;
pub mod process;
pub mod remote;
pub mod rng;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use asa_server::settings::{DatabaseUrl, Secret, Settings, SqliteOptions, Synchronous};
pub use asa_server::store::backup;
pub use asa_server::store::postgres::scratch::off_runtime;
use asa_server::store::postgres::scratch::ScratchDatabase;
use asa_server::store::Store;
use asa_server::Application;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sync_core::ManualClock;
use tempfile::TempDir;
use uuid::Uuid;

pub const ADMIN_PASSWORD: &str = "admin password for tests";

/// A running server with its own data directory and a clock the test drives.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    /// The metrics listener's base URL, when `metrics_bind` is set.
    pub metrics_base: Option<String>,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    data: TestStore,
    handle: ServerHandle,
    tune: fn(&mut Settings),
}

/// Whether the black-box tests run on PostgreSQL (`ASA_TEST_STORE=postgres`;
/// `scripts/test` runs them once on each store) rather than SQLite.
pub fn on_postgres() -> bool {
    std::env::var("ASA_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// Where a test server keeps its data: a data directory and, on PostgreSQL,
/// a scratch database; both removed when the last clone is dropped. Clones
/// share them: on PostgreSQL, servers on clones are several servers on one
/// database.
#[derive(Debug, Clone)]
pub struct TestStore {
    dir: Arc<TempDir>,
    postgres: Option<Arc<ScratchDatabase>>,
    /// A PostgreSQL database the test set up itself (a Patroni cluster).
    external: Option<String>,
    /// Reach the database through this port on 127.0.0.1 (a [`link::Link`]).
    through: Option<u16>,
}

impl TestStore {
    pub fn new() -> TestStore {
        TestStore {
            dir: Arc::new(TempDir::new().expect("temporary directory")),
            postgres: on_postgres().then(|| Arc::new(ScratchDatabase::create())),
            external: None,
            through: None,
        }
    }

    /// A store on the PostgreSQL database at `url`, which the test made and
    /// removes itself.
    pub fn on_url(url: &str) -> TestStore {
        TestStore {
            dir: Arc::new(TempDir::new().expect("temporary directory")),
            postgres: None,
            external: Some(url.to_owned()),
            through: None,
        }
    }

    /// The port of the PostgreSQL server, on PostgreSQL.
    pub fn postgres_port(&self) -> Option<u16> {
        let db = self.postgres.as_ref()?;
        let config: postgres::Config = db.url.parse().expect("a PostgreSQL URL");
        Some(config.get_ports().first().copied().unwrap_or(5432))
    }

    /// The same store, its database reached through `port` on 127.0.0.1.
    pub fn through(mut self, port: u16) -> TestStore {
        self.through = Some(port);
        self
    }

    fn postgres_url(&self) -> Option<String> {
        if let Some(url) = &self.external {
            return Some(url.clone());
        }
        let db = self.postgres.as_ref()?;
        Some(match self.through {
            None => db.url.clone(),
            Some(port) => {
                // postgresql://user@host:port/name -> ...@127.0.0.1:PORT/name
                let (head, tail) = db.url.split_once('@').expect("a user in the URL");
                let (_, name) = tail.split_once('/').expect("a database in the URL");
                format!("{head}@127.0.0.1:{port}/{name}")
            }
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The store's URL: the scratch database, or SQLite in the directory
    /// (`synchronous=normal`: the tests need no power-loss durability).
    pub fn database_url(&self) -> DatabaseUrl {
        match self.postgres_url() {
            Some(url) => DatabaseUrl::Postgres(url),
            None => DatabaseUrl::Sqlite(SqliteOptions {
                path: self.path().join("asa.db"),
                synchronous: Synchronous::Normal,
                readers: 2,
            }),
        }
    }

    /// The environment a child `asa-server` needs for this store (none for
    /// SQLite: its default is the data directory, `synchronous=full`).
    pub fn env(&self) -> Vec<(String, String)> {
        match self.postgres_url() {
            Some(url) => vec![("ASA_DATABASE_URL".into(), url)],
            None => Vec::new(),
        }
    }

    /// A second handle on the same store, as another process would open it
    /// (its calls block: from an async test, make them in [`off_runtime`]).
    pub fn open(&self) -> Arc<dyn Store> {
        let url = self.database_url();
        off_runtime(|| asa_server::store::connect(&url).expect("the test store opens"))
    }
}

impl Default for TestStore {
    fn default() -> Self {
        TestStore::new()
    }
}

fn wall_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A logged-in user on one device.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: Uuid,
    pub username: String,
    pub password: String,
    pub centre: Option<String>,
    pub device: Uuid,
    pub access: String,
    pub refresh: String,
    next_seq: u64,
    counter: u16,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_tuned(|_| {}).await
    }

    /// Another server on this one's store (on PostgreSQL: a second server
    /// on the same database), with its own clock.
    pub async fn another_server(&self) -> TestApp {
        let clock = Arc::new(ManualClock::new(wall_now_ms()));
        TestApp::start(self.data.clone(), self.tune, clock).await
    }

    /// This app's helpers aimed at `base` instead (a proxy in front of it).
    pub fn via(&self, base: &str) -> TestApp {
        TestApp {
            base: base.to_owned(),
            metrics_base: None,
            client: self.client.clone(),
            clock: self.clock.clone(),
            data: self.data.clone(),
            handle: self.handle.clone(),
            tune: self.tune,
        }
    }

    /// Spawns on `store`.
    pub async fn spawn_on(store: TestStore) -> TestApp {
        TestApp::start(store, |_| {}, Arc::new(ManualClock::new(wall_now_ms()))).await
    }

    /// Spawns with settings changed by `tune` (kept across restarts).
    pub async fn spawn_tuned(tune: fn(&mut Settings)) -> TestApp {
        TestApp::start(
            TestStore::new(),
            tune,
            Arc::new(ManualClock::new(wall_now_ms())),
        )
        .await
    }

    async fn start(data: TestStore, tune: fn(&mut Settings), clock: Arc<ManualClock>) -> TestApp {
        let mut settings = Settings {
            bind: "127.0.0.1:0".into(),
            data_dir: data.path().to_owned(),
            admin_password: Some(Secret::new(ADMIN_PASSWORD)),
            workers: 2,
            database_url: Some(data.database_url()),
            shutdown_timeout_secs: 5,
            ..Settings::default()
        };
        tune(&mut settings);
        let app = Application::build(settings, clock.clone()).expect("server builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let metrics_base = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base,
            metrics_base,
            client: reqwest::Client::new(),
            clock,
            data,
            handle,
            tune,
        }
    }

    /// Stops the server gracefully and starts a new one on the same data
    /// directory and clock.
    pub async fn restart(self) -> TestApp {
        self.handle.stop(true).await;
        let clock = self.clock.clone();
        TestApp::start(self.data, self.tune, clock).await
    }

    /// Stops the server gracefully, runs `between` on its store as an
    /// operator would with the server stopped (a restore, say), and starts a
    /// new server on it, on a new port, with the same settings and clock.
    pub async fn restart_with(&self, between: impl FnOnce(&DatabaseUrl) + Send) -> TestApp {
        self.handle.stop(true).await;
        let url = self.data.database_url();
        off_runtime(move || {
            // The stopped server's last threads let go of the store a
            // moment after it stopped answering.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while let Some(who) = backup::in_use(&url).expect("the store answers") {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the stopped server still holds its store: {who}"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            between(&url)
        });
        TestApp::start(self.data.clone(), self.tune, self.clock.clone()).await
    }

    /// The store's URL, as `asa-server` subcommands would be given it.
    pub fn database_url(&self) -> DatabaseUrl {
        self.data.database_url()
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The SQLite file of a test on SQLite.
    pub fn database_path(&self) -> PathBuf {
        self.data.path().join("asa.db")
    }

    /// The app's store, opened a second time as another process would.
    pub fn store(&self) -> Arc<dyn Store> {
        self.data.open()
    }

    /// Rewrites the body of the newest change in the server's log with
    /// `edit`, behind the server's back (a newer server's change, say).
    pub fn rewrite_last_change(&self, edit: impl FnOnce(&mut Value) + Send) {
        const LAST: &str = "SELECT seq, body FROM changes ORDER BY seq DESC LIMIT 1";
        const SET: &str = "UPDATE changes SET body = $1 WHERE seq = $2";
        match &self.data.postgres {
            Some(db) => off_runtime(|| {
                let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
                let row = c.query_one(LAST, &[]).unwrap();
                let (seq, body): (i64, String) = (row.get(0), row.get(1));
                let mut body: Value = serde_json::from_str(&body).unwrap();
                edit(&mut body);
                c.execute(SET, &[&body.to_string(), &seq]).unwrap();
            }),
            None => {
                let c = rusqlite::Connection::open(self.database_path()).unwrap();
                let (seq, body): (i64, String) = c
                    .query_row(LAST, [], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap();
                let mut body: Value = serde_json::from_str(&body).unwrap();
                edit(&mut body);
                c.execute(&SET.replace('$', "?"), (body.to_string(), seq))
                    .unwrap();
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn login(&self, username: &str, password: &str, device: Uuid) -> Response {
        self.post_json(
            "/v1/auth/login",
            None,
            &json!({"username": username, "password": password, "device_id": device}),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// Logs in as the built-in admin on a new device.
    pub async fn admin(&self) -> Session {
        self.session_for("admin", ADMIN_PASSWORD, Uuid::new_v4())
            .await
    }

    pub async fn session_for(&self, username: &str, password: &str, device: Uuid) -> Session {
        let response = self.login(username, password, device).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        let body: Value = response.json().await.expect("token json");
        Session {
            user_id: Uuid::parse_str(body["user"]["id"].as_str().unwrap_or_default())
                .unwrap_or_default(),
            username: username.to_owned(),
            password: password.to_owned(),
            centre: body["user"]["centre_id"].as_str().map(str::to_owned),
            device,
            access: body["access_token"].as_str().unwrap_or_default().to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            next_seq: 1,
            counter: 0,
        }
    }

    /// Creates a centre through the admin API unless it exists already.
    pub async fn ensure_centre(&self, admin: &Session, code: &str) {
        let response = self
            .post_json(
                "/v1/admin/centres",
                Some(&admin.access),
                &json!({"code": code, "name": format!("ศูนย์ {code}"), "province": "เชียงใหม่", "district": "เมืองเชียงใหม่"}),
            )
            .await;
        assert!(
            [StatusCode::CREATED, StatusCode::CONFLICT].contains(&response.status()),
            "create centre {code}: {}",
            response.status()
        );
    }

    /// Creates a user through the admin API (and their centre, if it does not
    /// exist yet) and logs them in on a new device.
    pub async fn user(&self, role: &str, centre: Option<&str>) -> Session {
        self.user_named(role, centre, None).await
    }

    /// [`TestApp::user`] with a display name (else the username).
    pub async fn user_named(
        &self,
        role: &str,
        centre: Option<&str>,
        display_name: Option<&str>,
    ) -> Session {
        let admin = self.admin().await;
        if let Some(code) = centre {
            self.ensure_centre(&admin, code).await;
        }
        let username = format!("{role}-{}", &Uuid::new_v4().simple().to_string()[..8]);
        let password = "correct horse battery";
        let response = self
            .post_json(
                "/v1/admin/users",
                Some(&admin.access),
                &json!({"username": username, "password": password, "role": role, "centre_id": centre, "display_name": display_name}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "create {role}");
        self.session_for(&username, password, Uuid::new_v4()).await
    }

    /// Logs the same user in on another device.
    pub async fn another_device(&self, user: &Session) -> Session {
        self.session_for(&user.username, &user.password, Uuid::new_v4())
            .await
    }

    pub async fn push(&self, who: &Session, changes: Vec<Value>) -> Response {
        let body = json!({
            "device_id": who.device,
            "device_time": chrono::Utc::now().to_rfc3339(),
            "changes": changes,
        });
        self.post_json("/v1/sync/push", Some(&who.access), &body)
            .await
    }

    /// Pushes and returns the 200 response body.
    pub async fn push_ok(&self, who: &Session, changes: Vec<Value>) -> Value {
        let response = self.push(who, changes).await;
        assert_eq!(response.status(), StatusCode::OK, "push");
        response.json().await.expect("push json")
    }

    /// A pull as a version-1 client makes it (no `Asa-Protocol`).
    pub async fn pull(&self, who: &Session, query: &str) -> Response {
        self.get(&format!("/v1/sync/pull?{query}"), &who.access)
            .await
    }

    /// A pull from a client that says `Asa-Protocol: 1.1`.
    pub async fn pull_v1_1(&self, who: &Session, query: &str) -> Response {
        self.client
            .get(self.url(&format!("/v1/sync/pull?{query}")))
            .bearer_auth(&who.access)
            .header("asa-protocol", "1.1")
            .send()
            .await
            .expect("request sent")
    }

    /// Pulls every page from the start as a version-1 client; returns all
    /// changes and the final cursor.
    pub async fn pull_all(&self, who: &Session, extra: &str) -> (Vec<Value>, String) {
        self.pull_all_as(who, extra, false).await
    }

    /// [`TestApp::pull_all`], as a version-1.1 client when `v1_1`.
    pub async fn pull_all_as(
        &self,
        who: &Session,
        extra: &str,
        v1_1: bool,
    ) -> (Vec<Value>, String) {
        let mut cursor = String::new();
        let mut changes = Vec::new();
        loop {
            let query = format!("cursor={cursor}&{extra}");
            let response = if v1_1 {
                self.pull_v1_1(who, &query).await
            } else {
                self.pull(who, &query).await
            };
            assert_eq!(response.status(), StatusCode::OK, "pull");
            let page: Value = response.json().await.expect("pull json");
            changes.extend(page["changes"].as_array().cloned().unwrap_or_default());
            cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
            if page["has_more"] != json!(true) {
                return (changes, cursor);
            }
        }
    }

    pub async fn record(&self, who: &Session, collection: &str, id: Uuid) -> Response {
        self.get(&format!("/v1/records/{collection}/{id}"), &who.access)
            .await
    }

    pub async fn records(&self, who: &Session, collection: &str, query: &str) -> Response {
        self.get(&format!("/v1/records/{collection}?{query}"), &who.access)
            .await
    }
}

/// The response's Content-Type, or "" when it has none.
pub fn content_type(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Reads a problem+json body and checks its status and code.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status for expected `{code}`"
    );
    let content_type = content_type(&response);
    assert_eq!(
        content_type, "application/problem+json",
        "problem content type for `{code}`"
    );
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["code"], code, "problem code: {body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

impl Session {
    /// The next change of this device: its id, sequence and HLC are filled in.
    pub fn change(&mut self, collection: &str, record: Uuid, fields: Value) -> Value {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.counter = self.counter.wrapping_add(1);
        json!({
            "id": Uuid::now_v7(),
            "device_seq": seq,
            "collection": collection,
            "record_id": record,
            "hlc": format!("{:013}-{:04x}-{}", wall_now_ms(), self.counter, self.device),
            "fields": fields,
        })
    }

    /// Moves this device's sequence back, to replay changes as a retry would.
    pub fn set_next_seq(&mut self, seq: u64) {
        self.next_seq = seq;
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn centre(&self) -> &str {
        self.centre.as_deref().unwrap_or("")
    }

    /// A new session record authored by this volunteer.
    pub fn new_session(&mut self, record: Uuid) -> Value {
        let fields = session_fields(self.centre(), self.user_id);
        self.change("sessions", record, fields)
    }

    pub fn new_beneficiary(&mut self, record: Uuid, name: &str) -> Value {
        let fields = json!({
            "centre_id": {"value": self.centre()},
            "village_code": {"value": "50010203"},
            "display_name": {"value": name},
            "consent": {"value": true},
        });
        self.change("beneficiaries", record, fields)
    }
}

/// The fields of a valid new session.
pub fn session_fields(centre: &str, volunteer: Uuid) -> Value {
    json!({
        "centre_id": {"value": centre},
        "volunteer_id": {"value": volunteer},
        "village_code": {"value": "50010203"},
        "help_type": {"value": "welfare_rights"},
        "started_at": {"value": "2026-11-28T09:30:00+07:00"},
        "duration_min": {"value": 45},
        "people_helped": {"value": 3},
        "notes": {"value": "ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ"},
    })
}
