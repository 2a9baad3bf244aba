//! Black-box tests of the server against PROTOCOL.md, in one binary: each
//! test starts a real server on 127.0.0.1:0 over a temporary SQLite file and
//! talks to it over real HTTP. `crash` and `faults` run the real binary as a
//! child process and SIGKILL it.

mod accounts;
mod auth;
mod bad_input;
mod browser;
mod console;
mod console_browser;
mod crash;
mod errors;
mod failover;
mod faults;
mod instances;
mod managers;
mod nginx;
mod openapi;
mod ops;
mod outage;
mod people;
mod records;
mod restore;
mod security;
mod sim;
mod sync;

/// The server's own `main.rs`, built by this package (see `tests/Cargo.toml`).
pub const SERVER_BIN: &str = env!("CARGO_BIN_EXE_asa-server-under-test");

/// The settings of a child server on `store`: a known admin password, and
/// on SQLite the default store in its data directory, where a 200 survives
/// power loss (`synchronous=full`), as in production.
pub fn server_env(store: &tests::TestStore) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "ASA_ADMIN_PASSWORD".to_owned(),
            tests::ADMIN_PASSWORD.to_owned(),
        ),
        ("ASA_WORKERS".to_owned(), "2".to_owned()),
    ];
    env.extend(store.env());
    env
}
