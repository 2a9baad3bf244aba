//! A world for SDK tests: a real server on its own tokio runtime, user
//! accounts, and devices (SDK clients over temporary database files).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use client_sdk::{
    Client, Clock, Collection, Config, FieldValue, NewBeneficiary, NewSession, Query,
};
use tempfile::TempDir;
use tests::TestApp;
use uuid::Uuid;

/// A user the admin created on the server.
#[derive(Debug, Clone)]
pub struct Account {
    pub username: String,
    pub password: String,
    /// The same user logged in on a raw-HTTP device, for checks from the outside.
    pub raw: tests::Session,
}

#[derive(Debug)]
pub struct World {
    pub rt: tokio::runtime::Runtime,
    pub app: TestApp,
    dir: TempDir,
}

impl World {
    pub fn new() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let app = rt.block_on(TestApp::spawn());
        World {
            rt,
            app,
            dir: TempDir::new().expect("temporary directory"),
        }
    }

    pub fn account(&self, role: &str, centre: &str) -> Account {
        let raw = self.rt.block_on(self.app.user(role, Some(centre)));
        Account {
            username: raw.username.clone(),
            password: raw.password.clone(),
            raw,
        }
    }

    /// A config for this server with short backoffs, so retries do not slow tests.
    pub fn config(&self) -> Config {
        self.config_for(&self.app.base)
    }

    pub fn config_for(&self, url: &str) -> Config {
        Config {
            backoff_base_ms: 2,
            backoff_max_ms: 20,
            ..Config::new(url)
        }
    }

    pub fn new_db(&self) -> PathBuf {
        self.dir.path().join(format!("{}.db", Uuid::new_v4()))
    }

    /// A new device (its own database file) logged in as `account`.
    pub fn device(&self, account: &Account) -> Client {
        self.device_with(account, self.new_db(), self.config(), None)
    }

    pub fn device_with(
        &self,
        account: &Account,
        db: PathBuf,
        config: Config,
        clock: Option<Arc<dyn Clock>>,
    ) -> Client {
        let client = match clock {
            Some(c) => Client::open_with_clock(db, config, c),
            None => Client::open(db, config),
        }
        .expect("open the device store");
        client
            .login(&account.username, &account.password)
            .expect("login");
        client
    }

    /// Every change stored on the server for records the account may read,
    /// its own device's included.
    pub fn server_changes(&self, account: &Account) -> Vec<serde_json::Value> {
        self.rt
            .block_on(self.app.pull_all(&account.raw, "include_own=true"))
            .0
    }
}

pub fn new_session(notes: &str) -> NewSession {
    NewSession {
        village_code: "50010203".into(),
        help_type: "e_government".into(),
        started_at: "2026-11-28T09:30:00+07:00".into(),
        duration_min: 30,
        people_helped: 2,
        outcome: Some("resolved".into()),
        notes: Some(notes.into()),
        follow_up_on: None,
    }
}

pub fn new_beneficiary(name: &str) -> NewBeneficiary {
    NewBeneficiary {
        village_code: "50010204".into(),
        display_name: name.into(),
        phone: Some("+66812345678".into()),
        birth_year: Some(1960),
        national_id: Some("1101700230708".into()),
        consent: true,
        consent_version: Some("2026-01".into()),
    }
}

/// What must be equal on every device: fields, deletion, conflicts, version.
pub type View = BTreeMap<Uuid, String>;

/// A device's records as text, comparable across devices. A volunteer gets
/// the `phone` and `national_id` of beneficiaries they did not create
/// masked (contract section 10), so those two are compared as everyone may
/// see them: by their last 4 characters.
pub fn view(client: &Client, collection: Collection) -> View {
    let query = Query {
        include_deleted: true,
        ..Query::default()
    };
    let as_masked = |key: &str, value: &mut FieldValue| {
        if let ("phone" | "national_id", FieldValue::Text(text)) = (key, &*value) {
            let count = text.chars().count();
            *value = FieldValue::Masked(text.chars().skip(count.saturating_sub(4)).collect());
        }
    };
    client
        .records(collection, &query)
        .expect("records")
        .into_iter()
        .map(|mut r| {
            for (key, value) in r.fields.iter_mut() {
                as_masked(key, value);
            }
            for conflict in &mut r.conflicts {
                let key = conflict.key.to_string();
                for head in &mut conflict.heads {
                    as_masked(&key, &mut head.value);
                }
            }
            let shown = format!(
                "{:?} {:?} {} {:?} {:?}",
                r.fields, r.sets, r.deleted, r.conflicts, r.version
            );
            (r.id, shown)
        })
        .collect()
}

/// Syncs until nothing is pending, failing the test on any error.
pub fn sync_ok(client: &Client) -> client_sdk::SyncReport {
    let report = client.sync().expect("sync");
    assert_eq!(report.pending, 0, "outbox drained: {report:?}");
    report
}
