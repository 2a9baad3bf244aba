//! Scratch databases for tests: each test makes its own database on the
//! PostgreSQL server that `ASA_TEST_POSTGRES` names (default
//! `postgresql://postgres@127.0.0.1:5432/postgres`) and drops it after, so
//! runs never collide. Tests on PostgreSQL run when `ASA_POSTGRES_TESTS=1`
//! (`scripts/test` and CI always set it). Built for the server's own tests
//! and, with the `test-support` feature, for the black-box tests.

use uuid::Uuid;

/// Whether tests on PostgreSQL run.
pub fn enabled() -> bool {
    std::env::var("ASA_POSTGRES_TESTS").is_ok_and(|v| v == "1")
}

/// The server scratch databases are made on.
pub fn admin_url() -> String {
    std::env::var("ASA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".into())
}

/// A new, empty database, dropped (with its last connections) on drop.
#[derive(Debug)]
pub struct ScratchDatabase {
    /// Its connection URL.
    pub url: String,
    admin: String,
    name: String,
}

impl ScratchDatabase {
    /// Panics when the test server does not answer: a test that asked for
    /// PostgreSQL must not pass without it.
    pub fn create() -> ScratchDatabase {
        off_runtime(ScratchDatabase::create_here)
    }

    fn create_here() -> ScratchDatabase {
        let admin = admin_url();
        let name = format!("asa_test_{}", Uuid::new_v4().simple());
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("the test PostgreSQL at {admin} does not answer: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("scratch database created");
        let url = match admin.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("ASA_TEST_POSTGRES must end in /DATABASE: {admin}"),
        };
        ScratchDatabase { url, admin, name }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let (admin, name) = (&self.admin, &self.name);
        off_runtime(|| {
            if let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls) {
                // With the databases a restore made beside it.
                let names: Vec<String> = c
                    .query(
                        "SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $1 || '\\_%'",
                        &[name],
                    )
                    .map(|rows| rows.iter().map(|r| r.get(0)).collect())
                    .unwrap_or_default();
                for name in names {
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            }
        });
    }
}

/// Runs `f` on a thread of its own and waits for it: the blocking client
/// runs a small runtime of its own, which a thread of an async runtime (an
/// async test) must not. Panics of `f` carry over.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}
