//! Server settings, layered: built-in defaults, then an optional TOML file,
//! then `ASA_`-prefixed environment variables (each later layer wins).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::store::url::{DatabaseUrl, SqliteOptions, Synchronous};

/// A secret that never shows in `Debug` output or logs.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on (`ASA_BIND`).
    pub bind: String,
    /// Where the default SQLite database lives (`ASA_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Which store to open (`ASA_DATABASE_URL`; see [`DatabaseUrl`]);
    /// unset: SQLite in `data_dir`.
    pub database_url: Option<DatabaseUrl>,
    /// The first admin's password; generated and printed once when unset.
    pub admin_password: Option<Secret>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Most changes in one push (PROTOCOL.md: 1000).
    pub max_push_changes: usize,
    /// Most bytes of a decoded request body (PROTOCOL.md: 4 MiB).
    pub max_body_bytes: usize,
    pub pull_default_limit: usize,
    pub pull_max_limit: usize,
    pub records_default_limit: usize,
    /// Failed logins for one username before it is throttled.
    pub login_max_failures: u32,
    /// Failed logins from one client address (any usernames) before it waits.
    pub login_address_max_failures: u32,
    /// How long failures count.
    pub login_window_secs: u64,
    pub workers: usize,
    pub log_format: LogFormat,
    /// Seconds SIGTERM waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client address
    /// (`ASA_TRUSTED_PROXIES`, comma-separated addresses).
    pub trusted_proxies: Vec<IpAddr>,
    /// When set, `/metrics` is served only on this address (`ASA_METRICS_BIND`).
    pub metrics_bind: Option<String>,
    /// A console session ends after this long without a request.
    pub console_idle_secs: u64,
    /// The cost of new password hashes (`ASA_PASSWORD_COST`): `standard`,
    /// or `simulation` for a simulator's throwaway accounts only.
    pub password_cost: PasswordCost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordCost {
    #[default]
    Standard,
    Simulation,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./asa-data"),
            database_url: None,
            admin_password: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 60 * 24 * 3600,
            max_push_changes: 1000,
            max_body_bytes: 4 * 1024 * 1024,
            pull_default_limit: 500,
            pull_max_limit: 1000,
            records_default_limit: 100,
            login_max_failures: 5,
            login_address_max_failures: 20,
            login_window_secs: 15 * 60,
            workers: 0,
            log_format: LogFormat::Text,
            shutdown_timeout_secs: 30,
            trusted_proxies: Vec::new(),
            metrics_bind: None,
            console_idle_secs: 30 * 60,
            password_cost: PasswordCost::Standard,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {path} is invalid: {source}")]
    File {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Env {
        name: String,
        value: String,
        reason: String,
    },
    #[error("setting {name} (ASA_{env}) is invalid: {reason}", env = .name.to_ascii_uppercase())]
    Invalid { name: &'static str, reason: String },
}

impl Settings {
    /// Defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Settings::load_from(file, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment, for tests.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| SettingsError::File {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?
            }
            None => Settings::default(),
        };
        for (name, value) in env {
            let Some(key) = name.strip_prefix("ASA_") else {
                continue;
            };
            settings
                .set(&key.to_ascii_lowercase(), &value)
                .map_err(|reason| SettingsError::Env {
                    name: name.clone(),
                    value: if key == "ADMIN_PASSWORD" {
                        "..".into()
                    } else {
                        value.clone()
                    },
                    reason,
                })?;
        }
        settings.check()?;
        Ok(settings)
    }

    /// Refuses combinations that would make every request fail.
    fn check(&self) -> Result<(), SettingsError> {
        let invalid = |name, reason: &str| {
            Err(SettingsError::Invalid {
                name,
                reason: reason.to_owned(),
            })
        };
        if !(1..=1000).contains(&self.pull_max_limit) {
            return invalid("pull_max_limit", "must be between 1 and 1000");
        }
        if !(1..=self.pull_max_limit).contains(&self.pull_default_limit) {
            return invalid("pull_default_limit", "must be between 1 and pull_max_limit");
        }
        if !(1..=1000).contains(&self.records_default_limit) {
            return invalid("records_default_limit", "must be between 1 and 1000");
        }
        if !(1..=1000).contains(&self.max_push_changes) {
            return invalid("max_push_changes", "must be between 1 and 1000");
        }
        if self.login_max_failures == 0 || self.login_address_max_failures == 0 {
            return invalid(
                "login_max_failures",
                "login_max_failures and login_address_max_failures must be at least 1",
            );
        }
        if self.login_window_secs == 0 {
            return invalid("login_window_secs", "must be at least 1");
        }
        if self.console_idle_secs == 0 {
            return invalid("console_idle_secs", "must be at least 1");
        }
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        fn num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
            v.parse().map_err(|_| "expected a whole number".to_owned())
        }
        match key {
            "bind" => self.bind = value.to_owned(),
            "data_dir" => self.data_dir = PathBuf::from(value),
            "admin_password" => self.admin_password = Some(Secret::new(value)),
            "access_token_ttl_secs" => self.access_token_ttl_secs = num(value)?,
            "refresh_token_ttl_secs" => self.refresh_token_ttl_secs = num(value)?,
            "max_push_changes" => self.max_push_changes = num(value)?,
            "max_body_bytes" => self.max_body_bytes = num(value)?,
            "pull_default_limit" => self.pull_default_limit = num(value)?,
            "pull_max_limit" => self.pull_max_limit = num(value)?,
            "records_default_limit" => self.records_default_limit = num(value)?,
            "login_max_failures" => self.login_max_failures = num(value)?,
            "login_window_secs" => self.login_window_secs = num(value)?,
            "login_address_max_failures" => self.login_address_max_failures = num(value)?,
            "database_url" => {
                self.database_url = if value.is_empty() {
                    None
                } else {
                    Some(DatabaseUrl::parse(value)?)
                }
            }
            "reader_connections" | "sqlite_synchronous" => {
                return Err("SQLite's knobs are now part of the database URL: \
                     ASA_DATABASE_URL=sqlite://PATH?synchronous=normal&readers=4"
                    .into())
            }
            "workers" => self.workers = num(value)?,
            "shutdown_timeout_secs" => self.shutdown_timeout_secs = num(value)?,
            "console_idle_secs" => self.console_idle_secs = num(value)?,
            "trusted_proxies" => {
                self.trusted_proxies = value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| {
                        v.parse::<IpAddr>()
                            .map_err(|_| format!("{v:?} is not an IP address"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "metrics_bind" => self.metrics_bind = Some(value.to_owned()).filter(|v| !v.is_empty()),
            "log_format" => {
                self.log_format = match value {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err("expected text or json".into()),
                }
            }
            "password_cost" => {
                self.password_cost = match value {
                    "standard" => PasswordCost::Standard,
                    "simulation" => PasswordCost::Simulation,
                    _ => return Err("expected standard or simulation".into()),
                }
            }
            // ASA_CONFIG names the file itself; other ASA_ variables belong to
            // the client CLI (ASA_DB) and are not the server's business.
            _ => {}
        }
        Ok(())
    }

    /// The store to open: `database_url`, or SQLite in the data directory.
    pub fn database(&self) -> DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| DatabaseUrl::in_data_dir(&self.data_dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_the_file_which_overrides_the_defaults() {
        let dir = tempfile::TempDir::new().unwrap();
        let file = dir.path().join("asa.toml");
        std::fs::write(
            &file,
            "bind = \"0.0.0.0:9000\"\nmax_push_changes = 500\ndatabase_url = \"sqlite:///srv/asa.db?synchronous=normal\"\n",
        )
        .unwrap();
        let s = Settings::load_from(
            Some(&file),
            env(&[("ASA_MAX_PUSH_CHANGES", "250"), ("PATH", "/bin")]),
        )
        .unwrap();
        assert_eq!(s.bind, "0.0.0.0:9000", "from the file");
        assert_eq!(s.max_push_changes, 250, "the environment wins");
        assert_eq!(
            s.database(),
            DatabaseUrl::Sqlite(SqliteOptions {
                synchronous: Synchronous::Normal,
                ..SqliteOptions::at("/srv/asa.db")
            })
        );
        assert_eq!(
            Settings::load_from(None, env(&[("ASA_DATA_DIR", "/data")]))
                .unwrap()
                .database(),
            DatabaseUrl::Sqlite(SqliteOptions::at("/data/asa.db")),
            "SQLite in the data directory by default"
        );
        assert_eq!(s.access_token_ttl_secs, 900, "a default");
        let s = Settings::load_from(None, env(&[("ASA_ADMIN_PASSWORD", "hunter22")])).unwrap();
        assert_eq!(
            s.admin_password.as_ref().map(Secret::expose),
            Some("hunter22")
        );
        assert!(
            !format!("{s:?}").contains("hunter22"),
            "secrets never print"
        );
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let err = Settings::load_from(None, env(&[("ASA_WORKERS", "many")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ASA_WORKERS=\"many\" is invalid: expected a whole number"
        );
        let err = Settings::load_from(None, env(&[("ASA_PASSWORD_COST", "cheap")])).unwrap_err();
        assert!(
            err.to_string().contains("expected standard or simulation"),
            "{err}"
        );
        let s = Settings::load_from(None, env(&[("ASA_PASSWORD_COST", "simulation")])).unwrap();
        assert_eq!(s.password_cost, PasswordCost::Simulation);
        let dir = tempfile::TempDir::new().unwrap();
        let file = dir.path().join("asa.toml");
        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        assert!(Settings::load_from(Some(&file), env(&[]))
            .unwrap_err()
            .to_string()
            .contains("asa.toml"));
        let err =
            Settings::load_from(None, env(&[("ASA_PULL_DEFAULT_LIMIT", "5000")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "setting pull_default_limit (ASA_PULL_DEFAULT_LIMIT) is invalid: must be between 1 and pull_max_limit"
        );
        let err =
            Settings::load_from(None, env(&[("ASA_SQLITE_SYNCHRONOUS", "normal")])).unwrap_err();
        assert!(
            err.to_string()
                .contains("ASA_DATABASE_URL=sqlite://PATH?synchronous=normal"),
            "{err}"
        );
        let err = Settings::load_from(None, env(&[("ASA_DATABASE_URL", "sqlite://x?readers=99")]))
            .unwrap_err();
        assert!(err.to_string().contains("readers=\"99\""), "{err}");
        let err = Settings::load_from(None, env(&[("ASA_TRUSTED_PROXIES", "10.0.0.1, nginx")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("\"nginx\" is not an IP address"),
            "{err}"
        );
    }
}
