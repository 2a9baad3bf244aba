//! `database_url` (contract section 11): which store the server opens, and
//! that store's own knobs, as the URL's query.
//!
//! - absent: SQLite in the data directory (`asa.db`), `synchronous=full`,
//!   4 readers;
//! - `sqlite://PATH?synchronous=full|normal&readers=N`: SQLite at `PATH`
//!   (`sqlite:///var/lib/asa/asa.db` is absolute, `sqlite://asa.db`
//!   relative to the working directory);
//! - `postgres://...` or `postgresql://...`: PostgreSQL, libpq's syntax,
//!   several hosts allowed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How hard SQLite syncs to disk at commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync at every commit: a push that got 200 survives power loss.
    Full,
    /// fsync at checkpoints: survives a process crash, not a power cut.
    Normal,
}

/// The SQLite store's file and knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    pub path: PathBuf,
    pub synchronous: Synchronous,
    /// Read connections beside the single writer.
    pub readers: u32,
}

impl SqliteOptions {
    /// The defaults, at `path`.
    pub fn at(path: impl Into<PathBuf>) -> SqliteOptions {
        SqliteOptions {
            path: path.into(),
            synchronous: Synchronous::Full,
            readers: 4,
        }
    }
}

/// A parsed `database_url`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum DatabaseUrl {
    Sqlite(SqliteOptions),
    /// A libpq connection URL, several hosts allowed
    /// (`postgresql://u@h1:5432,h2:5433/asa?target_session_attrs=read-write`).
    Postgres(String),
}

impl DatabaseUrl {
    /// The default store: SQLite in `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite(SqliteOptions::at(data_dir.join("asa.db")))
    }

    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            format!("{text:?} is not a URL: expected sqlite://PATH or postgresql://...")
        })?;
        match scheme {
            "sqlite" => parse_sqlite(rest),
            "postgres" | "postgresql" => {
                text.parse::<postgres::Config>()
                    .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
                Ok(DatabaseUrl::Postgres(text.to_owned()))
            }
            other => Err(format!(
                "unknown database kind {other:?}: expected sqlite:// or postgresql://"
            )),
        }
    }
}

impl TryFrom<String> for DatabaseUrl {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        DatabaseUrl::parse(&text)
    }
}

/// The URL as logs may show it.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(o) => {
                let sync = match o.synchronous {
                    Synchronous::Full => "full",
                    Synchronous::Normal => "normal",
                };
                write!(
                    f,
                    "sqlite://{}?synchronous={sync}&readers={}",
                    o.path.display(),
                    o.readers
                )
            }
            DatabaseUrl::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

/// `url` with the password of its user part, if any, replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, hosts)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{hosts}")
        }
        _ => url.to_owned(),
    }
}

/// A PostgreSQL URL taken apart, for naming another database on the same
/// server and for handing the password to a command-line tool out of sight
/// of `ps` (in `PGPASSWORD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    /// `scheme://user@hosts`, without the password.
    authority: String,
    pub dbname: String,
    /// `?...`, or empty.
    query: String,
    /// Percent-decoded.
    pub password: Option<String>,
}

impl PostgresTarget {
    pub fn parse(url: &str) -> Result<PostgresTarget, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("`{}` is not a PostgreSQL URL", without_password(url)))?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, format!("?{query}")),
            None => (rest, String::new()),
        };
        let (user_hosts, dbname) = rest.split_once('/').unwrap_or((rest, ""));
        if dbname.is_empty() {
            return Err(format!(
                "`{}` names no database: add /NAME",
                without_password(url)
            ));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let (authority, password) = match user_hosts.split_once('@') {
            Some((user, hosts)) => match user.split_once(':') {
                Some((name, password)) => {
                    (format!("{scheme}://{name}@{hosts}"), Some(decode(password)))
                }
                None => (format!("{scheme}://{user_hosts}"), None),
            },
            None => (format!("{scheme}://{user_hosts}"), None),
        };
        Ok(PostgresTarget {
            authority,
            dbname: decode(dbname),
            query,
            password,
        })
    }

    /// The URL of database `name` on the same hosts, without the password.
    pub fn url_for(&self, name: &str) -> String {
        let name = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
        format!("{}/{name}{}", self.authority, self.query)
    }
}

fn parse_sqlite(rest: &str) -> Result<DatabaseUrl, String> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err("sqlite:// needs a file path, as in sqlite:///var/lib/asa/asa.db".into());
    }
    let mut options = SqliteOptions::at(path);
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "synchronous" => {
                options.synchronous = match &*value {
                    "full" => Synchronous::Full,
                    "normal" => Synchronous::Normal,
                    _ => return Err(format!("synchronous={value:?}: expected full or normal")),
                }
            }
            "readers" => {
                options.readers = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| format!("readers={value:?}: expected 1 to 64"))?
            }
            other => {
                return Err(format!(
                    "unknown SQLite option {other:?}: expected synchronous or readers"
                ))
            }
        }
    }
    Ok(DatabaseUrl::Sqlite(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_carry_their_path_and_knobs() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/asa/asa.db").unwrap(),
            DatabaseUrl::Sqlite(SqliteOptions::at("/var/lib/asa/asa.db"))
        );
        let DatabaseUrl::Sqlite(o) =
            DatabaseUrl::parse("sqlite://data/asa.db?synchronous=normal&readers=2").unwrap()
        else {
            panic!("a SQLite URL")
        };
        assert_eq!(o.path, Path::new("data/asa.db"));
        assert_eq!(o.synchronous, Synchronous::Normal);
        assert_eq!(o.readers, 2);
        let url = DatabaseUrl::Sqlite(o);
        assert_eq!(DatabaseUrl::parse(&url.to_string()).unwrap(), url);
    }

    #[test]
    fn postgres_urls_keep_libpq_syntax_and_logs_never_show_the_password() {
        let multi = "postgresql://asa@h1:5432,h2:5433/asa?target_session_attrs=read-write";
        assert_eq!(
            DatabaseUrl::parse(multi).unwrap(),
            DatabaseUrl::Postgres(multi.to_owned())
        );
        let url = DatabaseUrl::parse("postgres://asa:s3cret@db/asa").unwrap();
        assert_eq!(url.to_string(), "postgres://asa:***@db/asa");
    }

    #[test]
    fn a_postgres_url_names_other_databases_on_the_same_hosts() {
        let t = PostgresTarget::parse(
            "postgresql://asa:p%40ss@h1:5432,h2:5433/asa_prod?target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(t.dbname, "asa_prod");
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert_eq!(
            t.url_for("asa_prod_restoring"),
            "postgresql://asa@h1:5432,h2:5433/asa%5Fprod%5Frestoring?target_session_attrs=read-write"
        );
        let plain = PostgresTarget::parse("postgres://db/asa").unwrap();
        assert_eq!(plain.url_for("postgres"), "postgres://db/postgres");
        assert_eq!(plain.password, None);
        assert!(PostgresTarget::parse("postgres://db").is_err());
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (text, says) in [
            ("asa.db", "not a URL"),
            ("sqlite://", "needs a file path"),
            ("sqlite://a.db?synchronous=off", "expected full or normal"),
            ("sqlite://a.db?readers=0", "expected 1 to 64"),
            ("sqlite://a.db?journal=delete", "unknown SQLite option"),
            ("mysql://h/db", "unknown database kind"),
            (
                "postgresql://u@h/asa?sslmode=sometimes",
                "not a PostgreSQL URL",
            ),
        ] {
            let err = DatabaseUrl::parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
