//! A blocking HTTP client for tests that run the server as a child process:
//! admin log-in, user creation, raw pushes, and reading the whole change log
//! and every merged record as the admin sees them.

use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::ADMIN_PASSWORD;

/// A user logged in on one device of a server at `base`.
#[derive(Debug, Clone)]
pub struct Remote {
    pub base: String,
    pub device: Uuid,
    pub user_id: Uuid,
    access: String,
    http: Client,
}

/// Why a remote call failed: the link (the server may be down) or an answer.
#[derive(Debug)]
pub enum RemoteError {
    Link(reqwest::Error),
    Status(StatusCode, String),
}

impl Remote {
    /// Logs in as the built-in admin on a new device.
    pub fn admin(base: &str) -> Remote {
        Remote::login(base, "admin", ADMIN_PASSWORD, Uuid::new_v4()).expect("admin login")
    }

    pub fn login(
        base: &str,
        username: &str,
        password: &str,
        device: Uuid,
    ) -> Result<Remote, RemoteError> {
        // No idle connections kept: after a SIGKILL a pooled connection is
        // dead, and a request on it would fail without reaching the server.
        let http = Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .expect("http client");
        let body: Value = answer(
            http.post(format!("{base}/v1/auth/login"))
                .json(&json!({"username": username, "password": password, "device_id": device}))
                .send(),
        )?;
        Ok(Remote {
            base: base.to_owned(),
            device,
            user_id: body["user"]["id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .unwrap_or_default(),
            access: body["access_token"].as_str().unwrap_or_default().to_owned(),
            http,
        })
    }

    /// Creates a user (as admin), and their centre unless it exists, and
    /// returns the username and password.
    pub fn create_user(&self, role: &str, centre: &str) -> (String, String) {
        let created = self
            .http
            .post(format!("{}/v1/admin/centres", self.base))
            .bearer_auth(&self.access)
            .json(&json!({"code": centre, "name": centre, "province": "ลำปาง", "district": "เมืองลำปาง"}))
            .send()
            .unwrap_or_else(|e| panic!("create centre {centre}: {e}"));
        assert!(
            [StatusCode::CREATED, StatusCode::CONFLICT].contains(&created.status()),
            "create centre {centre}: {}",
            created.status()
        );
        let username = format!("{role}-{}", &Uuid::new_v4().simple().to_string()[..12]);
        let password = "correct horse battery".to_owned();
        let body =
            json!({"username": username, "password": password, "role": role, "centre_id": centre});
        answer(
            self.http
                .post(format!("{}/v1/admin/users", self.base))
                .bearer_auth(&self.access)
                .json(&body)
                .send(),
        )
        .unwrap_or_else(|e| panic!("create {role}: {e:?}"));
        (username, password)
    }

    /// Pushes `changes` from this device; the answer body on a 200.
    pub fn push(&self, changes: &[Value]) -> Result<Value, RemoteError> {
        let body = json!({
            "device_id": self.device,
            "device_time": chrono::Utc::now().to_rfc3339(),
            "changes": changes,
        });
        answer(
            self.http
                .post(format!("{}/v1/sync/push", self.base))
                .bearer_auth(&self.access)
                .json(&body)
                .send(),
        )
    }

    /// Every change in the log this user may read, own included, in log order.
    pub fn pull_all(&self) -> Vec<Value> {
        let mut cursor = String::new();
        let mut out = Vec::new();
        // A page holds up to 1000 changes; the bound only stops a runaway loop.
        for _ in 0..1_000_000 {
            let url = format!(
                "{}/v1/sync/pull?include_own=true&limit=1000&cursor={cursor}",
                self.base
            );
            let page: Value = answer(self.http.get(url).bearer_auth(&self.access).send())
                .unwrap_or_else(|e| panic!("pull: {e:?}"));
            out.extend(page["changes"].as_array().cloned().unwrap_or_default());
            cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
            if page["has_more"] != json!(true) {
                return out;
            }
        }
        panic!("the change log never ended");
    }

    /// The ids of every change in the log, in log order.
    pub fn log_ids(&self) -> Vec<String> {
        self.pull_all()
            .into_iter()
            .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Every record of `collection` this user may read, deleted ones included.
    pub fn records(&self, collection: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..1_000_000 {
            let mut url = format!("{}/v1/records/{collection}?limit=1000", self.base);
            if let Some(t) = &token {
                url.push_str(&format!("&page_token={t}"));
            }
            let page: Value = answer(self.http.get(url).bearer_auth(&self.access).send())
                .unwrap_or_else(|e| panic!("records: {e:?}"));
            out.extend(page["records"].as_array().cloned().unwrap_or_default());
            match page["next_page_token"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => return out,
            }
        }
        panic!("the record list never ended");
    }
}

fn answer(sent: reqwest::Result<reqwest::blocking::Response>) -> Result<Value, RemoteError> {
    let response = sent.map_err(RemoteError::Link)?;
    let status = response.status();
    let text = response.text().map_err(RemoteError::Link)?;
    if !status.is_success() {
        return Err(RemoteError::Status(status, text));
    }
    serde_json::from_str(&text).map_err(|e| RemoteError::Status(status, format!("{e}: {text}")))
}
