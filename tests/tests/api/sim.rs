//! The simulator (`asa-sim`, docs/BENCHMARKS.md) on a small scale: a few
//! centres' phones through two simulated days, with lost requests and
//! answers, wrong clocks and link waits shortened, against a real server;
//! it must end converged (its proof: every phone holds exactly its scope's
//! changes, the log every acknowledged change once). The national figures
//! come from the release binary, not from here.

use asa_sim::servers::Store;
use asa_sim::{Config, Report};

use crate::SERVER_BIN;

fn small(store: Store, servers: usize) -> Config {
    Config {
        devices: 80,
        days: 2,
        store,
        servers,
        week_secs: 4.0,
        connections: 16,
        loss: 0.08,
        skewed: 0.3,
        link_scale: 0.02,
        seed: 7,
        server_bin: SERVER_BIN.into(),
        threads: 2,
        access_ttl_secs: None,
        refresh_ttl_secs: None,
    }
}

fn converges(config: Config) -> Report {
    let report = asa_sim::run(config).expect("the simulation runs");
    let proof = &report.proof;
    assert!(
        report.changes > 100,
        "the phones worked: {}",
        report.changes
    );
    assert_eq!(report.unsent, 0, "every change was sent");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(
        proof.log_changes, report.changes,
        "each change is in the log"
    );
    assert_eq!(proof.repeated_ids, 0);
    assert!(proof.diverged.is_empty(), "{:?}", proof.diverged);
    assert!(
        proof.sampled > 0 && proof.sample_diverged.is_empty(),
        "{:?}",
        proof.sample_diverged
    );
    assert!(proof.holds());
    // The faults happened and were survived: resends of pushes whose answer
    // was lost were answered `duplicate`, wrong clocks were warned about.
    assert!(
        report.lost > 0 && report.duplicates > 0,
        "lost {} duplicates {}",
        report.lost,
        report.duplicates
    );
    assert!(report.clock_skew > 0);
    assert!(report.http_up > 0 && report.link_up > report.http_up);
    report
}

#[test]
fn a_small_simulated_week_on_sqlite_converges() {
    converges(small(Store::Sqlite, 1));
}

#[test]
fn phones_whose_tokens_expire_in_the_week_refresh_or_log_in_again_and_converge() {
    // Access tokens live a second, refresh tokens three: a phone's token has
    // expired at most syncs, and after a quiet stretch its refresh token too.
    let report = converges(Config {
        devices: 40,
        access_ttl_secs: Some(1),
        refresh_ttl_secs: Some(3),
        ..small(Store::Sqlite, 1)
    });
    assert!(
        report.refreshes > 0 && report.logins > 0,
        "refreshes {} logins again {}",
        report.refreshes,
        report.logins
    );
}

#[test]
fn a_small_simulated_week_on_two_servers_and_postgresql_converges() {
    if !asa_server::store::postgres::scratch::enabled() {
        return;
    }
    converges(small(
        Store::Postgres(asa_server::store::postgres::scratch::admin_url()),
        2,
    ));
}
