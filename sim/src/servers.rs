//! Real `asa-server` processes: started on `127.0.0.1:0` (the port read
//! from their first line), on SQLite in a temporary directory or on a fresh
//! PostgreSQL database, and measured from `/proc`: busy CPU time and peak
//! resident memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{anyhow, bail, Context};

pub const ADMIN_PASSWORD: &str = "simulation admin password";

/// The store the servers share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    /// A PostgreSQL server (its URL, of a database to connect to for
    /// creating the simulation's own).
    Postgres(String),
}

#[derive(Debug)]
pub struct Servers {
    children: Vec<Child>,
    pub bases: Vec<String>,
    dir: tempfile::TempDir,
    /// On PostgreSQL: the admin URL, the database's URL and its name.
    database: Option<(String, String, String)>,
}

impl Servers {
    /// Starts `count` servers on `store` (SQLite: exactly one).
    /// `settings`: environment variables every server gets besides the
    /// simulation's own.
    pub fn start(
        binary: &Path,
        store: &Store,
        count: usize,
        settings: &[(&str, String)],
    ) -> anyhow::Result<Servers> {
        if count == 0 || (*store == Store::Sqlite && count != 1) {
            bail!("SQLite runs one server; several servers need --store postgres");
        }
        let dir = tempfile::TempDir::new()?;
        let database = match store {
            Store::Sqlite => None,
            Store::Postgres(admin_url) => {
                let name = format!(
                    "asa_sim_{}_{}",
                    std::process::id(),
                    uuid::Uuid::new_v4().simple()
                );
                let mut client = postgres::Client::connect(admin_url, postgres::NoTls)
                    .with_context(|| format!("connecting to {admin_url}"))?;
                client.batch_execute(&format!("CREATE DATABASE {name}"))?;
                let url = database_url(admin_url, &name);
                Some((admin_url.clone(), url, name))
            }
        };
        let mut servers = Servers {
            children: Vec::new(),
            bases: Vec::new(),
            dir,
            database,
        };
        // One at a time: the first migrates the database.
        for i in 0..count {
            servers.spawn(binary, i, settings)?;
        }
        Ok(servers)
    }

    fn spawn(
        &mut self,
        binary: &Path,
        i: usize,
        settings: &[(&str, String)],
    ) -> anyhow::Result<()> {
        let mut command = Command::new(binary);
        command.envs(settings.iter().map(|(k, v)| (k, v)));
        if let Some((_, url, _)) = &self.database {
            command.env("ASA_DATABASE_URL", url);
        }
        let mut child = command
            .env("ASA_BIND", "127.0.0.1:0")
            .env("ASA_DATA_DIR", self.dir.path().join(format!("server-{i}")))
            .env("ASA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            // The simulation's accounts (see `asa-server --help`): a
            // login costs microseconds instead of ~50 ms of CPU.
            .env("ASA_PASSWORD_COST", "simulation")
            // Every phone comes from 127.0.0.1 here; logins in flight
            // count against their address until they succeed.
            .env("ASA_LOGIN_ADDRESS_MAX_FAILURES", "1000000")
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let Some(line) = lines.next() else {
                bail!("asa-server exited before it listened");
            };
            if let Some(p) = line?.strip_prefix("asa-server listening on port ") {
                break p.trim().parse::<u16>()?;
            }
        };
        // Keep reading its stdout so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.children.push(child);
        self.bases.push(format!("http://127.0.0.1:{port}"));
        Ok(())
    }

    /// Busy CPU seconds (user and system) of the servers so far, and of
    /// PostgreSQL's processes on this machine when the store is PostgreSQL.
    pub fn cpu_seconds(&self) -> (f64, f64) {
        let ours = self.children.iter().map(|c| process_cpu(c.id())).sum();
        let postgres = if self.database.is_some() {
            postgres_cpu()
        } else {
            0.0
        };
        (ours, postgres)
    }

    /// The largest peak resident set of the servers, MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.children
            .iter()
            .map(|c| status_mib(&format!("/proc/{}/status", c.id()), "VmHWM:"))
            .fold(0.0, f64::max)
    }

    /// Bytes the store takes on disk.
    pub fn database_bytes(&self) -> anyhow::Result<u64> {
        match &self.database {
            None => {
                let dir = self.dir.path().join("server-0");
                let mut total = 0;
                for entry in std::fs::read_dir(&dir)? {
                    let entry = entry?;
                    if entry.file_name().to_string_lossy().contains(".db") {
                        total += entry.metadata()?.len();
                    }
                }
                Ok(total)
            }
            Some((_, url, _)) => {
                let mut client = postgres::Client::connect(url, postgres::NoTls)?;
                let size: i64 = client
                    .query_one("SELECT pg_database_size(current_database())", &[])?
                    .get(0);
                Ok(u64::try_from(size).unwrap_or(0))
            }
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some((admin, _, name)) = &self.database {
            if let Ok(mut client) = postgres::Client::connect(admin, postgres::NoTls) {
                let _ =
                    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// `admin_url` with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let (head, query) = match admin_url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let base = match head[after_scheme..].find('/') {
        Some(slash) => &head[..after_scheme + slash],
        None => head,
    };
    format!("{base}/{name}{query}")
}

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ: 100 on Linux).
const TICKS: f64 = 100.0;

fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (tick(11) + tick(12)) / TICKS
}

fn postgres_cpu() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(process_cpu)
        .sum()
}

pub fn status_mib(path: &str, field: &str) -> f64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_of_a_url_is_replaced() {
        for (url, expected) in [
            (
                "postgresql://postgres@127.0.0.1:5432/postgres",
                "postgresql://postgres@127.0.0.1:5432/asa_sim_1",
            ),
            (
                "postgresql://postgres@127.0.0.1:5432",
                "postgresql://postgres@127.0.0.1:5432/asa_sim_1",
            ),
            (
                "postgres://u@h/db?sslmode=disable",
                "postgres://u@h/asa_sim_1?sslmode=disable",
            ),
        ] {
            assert_eq!(super::database_url(url, "asa_sim_1"), expected);
        }
    }
}
