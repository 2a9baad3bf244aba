//! `asa-sim`: a week of the national programme against real servers.
//!
//! ```sh
//! cargo build --release -p server -p asa-sim
//! target/release/asa-sim --devices 75000 --days 7 --store sqlite
//! target/release/asa-sim --devices 75000 --store postgres --servers 3
//! ```

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, ValueEnum};

use asa_sim::servers::Store;
use asa_sim::{Config, Report};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StoreArg {
    Sqlite,
    Postgres,
}

#[derive(Debug, Parser)]
#[command(
    about = "A national week of volunteers' phones on 2G links against real asa-server processes"
)]
struct Args {
    /// Phones (one volunteer each; 34 to a centre).
    #[arg(long, default_value_t = 75_000)]
    devices: usize,
    #[arg(long, default_value_t = 7)]
    days: u32,
    #[arg(long, value_enum, default_value_t = StoreArg::Sqlite)]
    store: StoreArg,
    /// Servers on the one database (PostgreSQL only for more than 1).
    #[arg(long, default_value_t = 1)]
    servers: usize,
    /// Real seconds the simulated week takes.
    #[arg(long, default_value_t = 600.0)]
    week_secs: f64,
    /// Most requests the servers see at once (a proxy's pool).
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// Share of requests lost up, and of answers lost down.
    #[arg(long, default_value_t = 0.02)]
    loss: f64,
    /// Share of phones with a wrong clock.
    #[arg(long, default_value_t = 0.05)]
    skewed: f64,
    /// Link waits are multiplied by this (1: real 2G time, 0: none).
    #[arg(long, default_value_t = 1.0)]
    link_scale: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(
        long,
        env = "ASA_SIM_POSTGRES",
        default_value = "postgresql://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// The asa-server binary (default: beside this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The servers' access token lifetime, seconds (default: theirs, 15 min).
    #[arg(long)]
    access_ttl: Option<u64>,
    /// The servers' refresh token lifetime, seconds (default: theirs, 60 days).
    #[arg(long)]
    refresh_ttl: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server_bin = match args.server_bin {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .context("the binary's directory")?
            .join("asa-server"),
    };
    if !server_bin.exists() {
        anyhow::bail!(
            "{} is not there: build it first (cargo build --release -p server) or name it with --server-bin",
            server_bin.display()
        );
    }
    let config = Config {
        devices: args.devices,
        days: args.days,
        store: match args.store {
            StoreArg::Sqlite => Store::Sqlite,
            StoreArg::Postgres => Store::Postgres(args.postgres_url),
        },
        servers: args.servers,
        week_secs: args.week_secs,
        connections: args.connections,
        loss: args.loss,
        skewed: args.skewed,
        link_scale: args.link_scale,
        seed: args.seed,
        server_bin,
        threads: args.threads,
        access_ttl_secs: args.access_ttl,
        refresh_ttl_secs: args.refresh_ttl,
    };
    let report = asa_sim::run(config)?;
    print!("{}", render(&report));
    // Every change a phone makes is valid: a rejection is a bug, and a
    // rejected write stays a head on its phone but not on the server.
    if !report.proof.holds() || report.unsent > 0 || !report.rejected.is_empty() {
        anyhow::bail!("the run did not converge");
    }
    Ok(())
}

fn render(r: &Report) -> String {
    let c = &r.config;
    let store = match c.store {
        Store::Sqlite => "sqlite".to_owned(),
        Store::Postgres(_) => "postgres".to_owned(),
    };
    let per_k = |x: f64| x / (r.changes.max(1) as f64 / 1000.0);
    let device_days = (c.devices as f64 * f64::from(c.days)).max(1.0);
    let sessions = r.sessions.max(1) as f64;
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "asa-sim: {} devices, {} days in {:.0} s, {store}, {} server(s), {} connections, loss {}, skewed clocks {}, link x{}",
        c.devices, c.days, c.week_secs, c.servers, c.connections, c.loss, c.skewed, c.link_scale
    ));
    line(format!(
        "set-up (accounts and logins, not measured): {:.1} s",
        r.setup.as_secs_f64()
    ));
    line(format!(
        "changes: {} ({} sessions, {} beneficiaries, {} edits); unsent at the end: {}",
        r.changes, r.sessions, r.beneficiaries, r.edits, r.unsent
    ));
    line(format!(
        "week: {:.1} s real; server busy CPU {:.1} s ({:.3} s per 1,000 changes){}",
        r.week.as_secs_f64(),
        r.server_cpu,
        per_k(r.server_cpu),
        if r.postgres_cpu > 0.0 {
            format!(
                "; PostgreSQL {:.1} s ({:.3} s per 1,000)",
                r.postgres_cpu,
                per_k(r.postgres_cpu)
            )
        } else {
            String::new()
        }
    ));
    line(format!(
        "pushes: {}; p50 {:.1} ms, p99 {:.1} ms (round trip alone p50 {:.1}, p99 {:.1})",
        r.pushes, r.push_ms[0], r.push_ms[1], r.push_ms[2], r.push_ms[3]
    ));
    line(format!(
        "evening rush (18-21 h, {:.1} s real a day): {} pushes, p50 {:.1} ms, p99 {:.1} ms (round trip p50 {:.1}, p99 {:.1}); {} syncs took p50 {:.1} s, p99 {:.1} s on their links; the last ended {:.1} s after the rush",
        r.rush_window_secs, r.rush_pushes, r.rush_ms[0], r.rush_ms[1], r.rush_ms[2], r.rush_ms[3], r.rush_syncs,
        r.rush_sync_secs[0], r.rush_sync_secs[1], r.rush_drain_secs
    ));
    line(format!(
        "peak RSS: server {:.0} MiB, simulator {:.0} MiB",
        r.server_peak_mib, r.sim_peak_mib
    ));
    line(format!(
        "database: {:.1} MiB, {:.0} MiB per million changes",
        r.database_bytes as f64 / 1048576.0,
        r.database_bytes as f64 / 1048576.0 / (r.changes.max(1) as f64 / 1e6)
    ));
    line(format!(
        "wire, HTTP: up {:.0} B, down {:.0} B per device per day; {:.0} B per session",
        r.http_up as f64 / device_days,
        r.http_down as f64 / device_days,
        (r.http_up + r.http_down) as f64 / sessions
    ));
    line(format!(
        "wire, with TCP/IP/TLS: up {:.0} B, down {:.0} B per device per day; {:.0} B per session",
        r.link_up as f64 / device_days,
        r.link_down as f64 / device_days,
        (r.link_up + r.link_down) as f64 / sessions
    ));
    for (kind, [n, head_up, body_up, head_down, body_down]) in &r.kinds {
        let per = |x: &u64| *x as f64 / (*n).max(1) as f64;
        line(format!(
            "  {kind}: {n} requests; per request up {:.0} B head + {:.0} B body, down {:.0} B head + {:.0} B body",
            per(head_up), per(body_up), per(head_down), per(body_down)
        ));
    }
    line(format!(
        "  the bearer token in each request head: {} B",
        r.token_bytes
    ));
    line(format!(
        "requests: {}, lost {}; syncs {}, failed {}; token refreshes {}, logins again {}; resends answered duplicate {}; clock_skew warnings {}",
        r.requests, r.lost, r.syncs, r.failed_syncs, r.refreshes, r.logins, r.duplicates, r.clock_skew
    ));
    if !r.rejected.is_empty() {
        line(format!("rejected: {:?}", r.rejected));
    }
    for e in &r.errors {
        line(format!("error: {e}"));
    }
    let p = &r.proof;
    line(format!(
        "proof: {} changes in the log, {} ids repeated, log {} acknowledged {}; {} devices diverged: {}",
        p.log_changes,
        p.repeated_ids,
        if p.log == p.acknowledged { "=" } else { "!=" },
        p.acknowledged.count,
        p.diverged.len(),
        if p.holds() { "CONVERGED" } else { "NOT CONVERGED" }
    ));
    line(format!(
        "proof: {} phones pulled their whole scope afresh, their own changes included: {} differed",
        p.sampled,
        p.sample_diverged.len()
    ));
    for d in p.diverged.iter().chain(&p.sample_diverged) {
        line(format!("  {d}"));
    }
    out
}
