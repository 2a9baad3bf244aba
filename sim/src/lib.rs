//! asa-sim: a week of the national programme, simulated against real
//! `asa-server` processes over real HTTP: every volunteer's phone (see
//! [`phone`]) on its own 2G link ([`link`]), then a proof that everyone
//! converged ([`proof`]) and the figures (`Report`).
//!
//! Set-up (centres, accounts, logins) happens before the measured week.
//! Simulated days are compressed (`week_secs` of real time for the week);
//! HLCs use the real clock, as the server's skew guard expects.

pub mod link;
pub mod phone;
pub mod proof;
mod rng;
pub mod servers;
mod text;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::link::Transport;
use crate::phone::{Ctx, Phone, Stats, WeekClock};
use crate::servers::{Servers, Store, ADMIN_PASSWORD};

/// Every simulated volunteer's password (hashed at the simulation cost).
pub(crate) const PASSWORD: &str = "simulated volunteer password";

/// Phones per centre: 75,000 volunteers in about 2,200 centres.
pub const PER_CENTRE: usize = 34;

#[derive(Debug, Clone)]
pub struct Config {
    pub devices: usize,
    pub days: u32,
    pub store: Store,
    pub servers: usize,
    /// Real seconds the simulated week takes.
    pub week_secs: f64,
    /// Most requests the servers see at once.
    pub connections: usize,
    /// Share of requests lost on the way up, and of answers on the way down.
    pub loss: f64,
    /// Share of phones whose clock is wrong.
    pub skewed: f64,
    /// Link waits multiplied by this (1: real time; 0: no link).
    pub link_scale: f64,
    pub seed: u64,
    pub server_bin: PathBuf,
    /// Threads of the simulator's runtime.
    pub threads: usize,
    /// Token lifetimes the servers get, seconds (None: their defaults):
    /// short ones make phones refresh, and log in again, during the week.
    pub access_ttl_secs: Option<u64>,
    pub refresh_ttl_secs: Option<u64>,
}

/// Every figure of a run.
#[derive(Debug)]
pub struct Report {
    pub config: Config,
    pub setup: Duration,
    pub week: Duration,
    pub changes: u64,
    pub sessions: u64,
    pub beneficiaries: u64,
    pub edits: u64,
    pub unsent: u64,
    pub server_cpu: f64,
    pub postgres_cpu: f64,
    pub pushes: usize,
    pub push_ms: [f64; 4],
    pub rush_pushes: usize,
    pub rush_ms: [f64; 4],
    pub rush_syncs: usize,
    /// How long a sync begun in the rush took, p50 and p99 (real s).
    pub rush_sync_secs: [f64; 2],
    /// How long after the rush window the last of its syncs finished.
    pub rush_drain_secs: f64,
    pub rush_window_secs: f64,
    /// Per kind of request: count, head up, body up, head down, body down.
    pub kinds: Vec<(String, [u64; 5])>,
    /// A phone's bearer token, bytes (sent in every request's head).
    pub token_bytes: usize,
    pub server_peak_mib: f64,
    pub sim_peak_mib: f64,
    pub database_bytes: u64,
    pub http_up: u64,
    pub http_down: u64,
    pub link_up: u64,
    pub link_down: u64,
    pub requests: u64,
    pub lost: u64,
    pub syncs: u64,
    pub failed_syncs: u64,
    pub refreshes: u64,
    /// Logins again after a refresh was refused.
    pub logins: u64,
    pub duplicates: u64,
    pub clock_skew: u64,
    pub rejected: Vec<(String, u64)>,
    pub errors: Vec<String>,
    pub proof: proof::Proof,
}

pub fn run(config: Config) -> anyhow::Result<Report> {
    if config.days == 0
        || config.devices == 0
        || config.week_secs.is_nan()
        || config.week_secs <= 0.0
    {
        bail!("simulate at least one device for at least one day, in more than 0 s");
    }
    // The servers (and PostgreSQL's blocking client) outside the runtime.
    let setup_started = Instant::now();
    let mut settings = Vec::new();
    if let Some(secs) = config.access_ttl_secs {
        settings.push(("ASA_ACCESS_TOKEN_TTL_SECS", secs.to_string()));
    }
    if let Some(secs) = config.refresh_ttl_secs {
        settings.push(("ASA_REFRESH_TOKEN_TTL_SECS", secs.to_string()));
    }
    let servers = Servers::start(&config.server_bin, &config.store, config.servers, &settings)?;
    let mut report = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads.max(1))
        .enable_all()
        .build()?
        .block_on(simulate(config, &servers, setup_started))?;
    report.database_bytes = servers.database_bytes().context("the database's size")?;
    Ok(report)
}

async fn simulate(
    config: Config,
    servers: &Servers,
    setup_started: Instant,
) -> anyhow::Result<Report> {
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let first = servers.bases[0].clone();
    let admin = login(&client, &first, "admin", ADMIN_PASSWORD, Uuid::new_v4()).await?;
    let admin_token = admin["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let centres = config.devices.div_ceil(PER_CENTRE).max(1);
    eprintln!(
        "set-up: {centres} centres, {} volunteers' accounts and logins",
        config.devices
    );
    for c in 0..centres {
        let body = json!({"code": centre_code(c), "name": format!("ศูนย์ดิจิทัลชุมชนที่ {}", c + 1),
                          "province": "เชียงใหม่", "district": "สันทราย"});
        let response = client
            .post(format!("{first}/v1/admin/centres"))
            .bearer_auth(&admin_token)
            .json(&body)
            .send()
            .await?;
        if response.status() != 201 {
            bail!("creating a centre: {}", response.status());
        }
    }
    let phones = accounts(&client, &servers.bases, &admin_token, &config).await?;
    let setup = setup_started.elapsed();

    let transport = Transport::new(config.connections, config.link_scale);
    let today = chrono::Utc::now().timestamp() + 7 * 3600;
    let first_midnight =
        today - today.rem_euclid(86_400) - 7 * 3600 - i64::from(config.days) * 86_400;
    let ctx = Arc::new(Ctx {
        transport: transport.clone(),
        bases: servers.bases.clone(),
        stats: Stats::default(),
        clock: WeekClock {
            start: Instant::now(),
            speed: f64::from(config.days) * 86_400.0 / config.week_secs,
            first_midnight,
        },
        days: config.days,
    });
    let cpu_before = servers.cpu_seconds();
    eprintln!(
        "the week: {} days in {:.0} s",
        config.days, config.week_secs
    );
    let mut tasks = Vec::with_capacity(phones.len());
    for phone in phones {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move { phone.live(&ctx).await }));
    }
    let mut phones = Vec::with_capacity(tasks.len());
    for task in tasks {
        phones.push(task.await?);
    }
    let week = ctx.clock.start.elapsed();
    let cpu_after = servers.cpu_seconds();
    eprintln!(
        "the week is over in {:.1} s; settling and proving",
        week.as_secs_f64()
    );

    // Everyone has pushed: one more pull each brings in the last changes.
    let mut tasks = Vec::with_capacity(phones.len());
    for mut phone in phones {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            ctx.transport.bytes.connection();
            let _ = Box::pin(phone.pull_all(&ctx)).await;
            phone
        }));
    }
    let mut phones = Vec::with_capacity(tasks.len());
    for task in tasks {
        phones.push(task.await?);
    }
    // The sampled phones' scopes, each read afresh with a token renewed
    // just before (at 75,000 phones, settling and these reads outlast an
    // access token).
    let mut fresh = HashMap::new();
    for (i, phone) in phones.iter_mut().enumerate().step_by(proof::SAMPLE_EVERY) {
        phone.renew(&ctx).await.map_err(anyhow::Error::msg)?;
        let (token, server) = phone.credentials();
        fresh.insert(
            i,
            proof::scope_afresh(&client, &servers.bases[server], token).await?,
        );
    }
    let admin = login(&client, &first, "admin", ADMIN_PASSWORD, Uuid::new_v4()).await?;
    let admin_token = admin["access_token"].as_str().unwrap_or_default();
    let proof = proof::check(&client, &servers.bases, admin_token, &phones, &fresh).await?;

    let stats = &ctx.stats;
    let (changes, unsent) = phones.iter().fold((0, 0), |(c, u), p| {
        let (made, left) = p.made();
        (c + made, u + left as u64)
    });
    let mut pushes = std::mem::take(&mut *stats.pushes.lock().expect("not poisoned"));
    let rush: Vec<(u8, f32, f32)> = pushes
        .iter()
        .copied()
        .filter(|p| (18..21).contains(&p.0))
        .collect();
    let bytes = &transport.bytes;
    let rush_syncs = std::mem::take(&mut *stats.rush.lock().expect("not poisoned"));
    let mut took: Vec<f64> = rush_syncs.iter().map(|r| r.1).collect();
    took.sort_by(f64::total_cmp);
    let drain = rush_syncs.iter().map(|r| r.2).fold(0.0, f64::max);
    pushes.sort_by(|a, b| a.1.total_cmp(&b.1));
    let report = Report {
        setup,
        week,
        changes,
        sessions: stats.sessions.load(Ordering::Relaxed),
        beneficiaries: stats.beneficiaries.load(Ordering::Relaxed),
        edits: stats.edits.load(Ordering::Relaxed),
        unsent,
        server_cpu: cpu_after.0 - cpu_before.0,
        postgres_cpu: cpu_after.1 - cpu_before.1,
        pushes: pushes.len(),
        push_ms: quantiles(&pushes),
        rush_pushes: rush.len(),
        rush_ms: quantiles(&{
            let mut r = rush;
            r.sort_by(|a, b| a.1.total_cmp(&b.1));
            r
        }),
        rush_syncs: took.len(),
        rush_sync_secs: [pick(&took, 0.5), pick(&took, 0.99)],
        rush_drain_secs: drain,
        rush_window_secs: 3.0 * 3600.0 / (f64::from(config.days) * 86_400.0 / config.week_secs),
        kinds: link::KINDS
            .iter()
            .zip(&bytes.kinds)
            .map(|(name, k)| {
                let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                (
                    (*name).to_owned(),
                    [
                        get(&k.requests),
                        get(&k.head_up),
                        get(&k.body_up),
                        get(&k.head_down),
                        get(&k.body_down),
                    ],
                )
            })
            .collect(),
        server_peak_mib: servers.peak_rss_mib(),
        sim_peak_mib: servers::status_mib("/proc/self/status", "VmHWM:"),
        database_bytes: 0,
        token_bytes: phones.first().map_or(0, Phone::token_bytes),
        http_up: bytes.http_up.load(Ordering::Relaxed),
        http_down: bytes.http_down.load(Ordering::Relaxed),
        link_up: bytes.link_up.load(Ordering::Relaxed),
        link_down: bytes.link_down.load(Ordering::Relaxed),
        requests: bytes.requests.load(Ordering::Relaxed),
        lost: bytes.lost.load(Ordering::Relaxed),
        syncs: stats.syncs.load(Ordering::Relaxed),
        failed_syncs: stats.failed_syncs.load(Ordering::Relaxed),
        refreshes: stats.refreshes.load(Ordering::Relaxed),
        logins: stats.logins.load(Ordering::Relaxed),
        duplicates: stats.duplicate.load(Ordering::Relaxed),
        clock_skew: stats.clock_skew.load(Ordering::Relaxed),
        rejected: stats
            .rejected
            .lock()
            .expect("not poisoned")
            .clone()
            .into_iter()
            .collect(),
        errors: stats.errors.lock().expect("not poisoned").clone(),
        proof,
        config,
    };
    Ok(report)
}

fn pick(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// p50 and p99 of the whole latency (sorted by it), p50 and p99 of the
/// round trip alone.
fn quantiles(sorted: &[(u8, f32, f32)]) -> [f64; 4] {
    let total: Vec<f64> = sorted.iter().map(|p| f64::from(p.1)).collect();
    let mut trip: Vec<f64> = sorted.iter().map(|p| f64::from(p.2)).collect();
    trip.sort_by(f64::total_cmp);
    [
        pick(&total, 0.5),
        pick(&total, 0.99),
        pick(&trip, 0.5),
        pick(&trip, 0.99),
    ]
}

fn centre_code(c: usize) -> String {
    format!("C{:05}", c + 1)
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
    device: Uuid,
) -> anyhow::Result<Value> {
    let response = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": username, "password": password, "device_id": device}))
        .send()
        .await?;
    if response.status() != 200 {
        bail!("login of {username}: {}", response.status());
    }
    Ok(response.json().await?)
}

/// Creates every volunteer's account and logs each phone in on its
/// server (round robin), `connections` at a time.
async fn accounts(
    client: &reqwest::Client,
    bases: &[String],
    admin: &str,
    config: &Config,
) -> anyhow::Result<Vec<Phone>> {
    let centres = config.devices.div_ceil(PER_CENTRE).max(1);
    let limit = Arc::new(tokio::sync::Semaphore::new(config.connections.clamp(1, 64)));
    let mut tasks = Vec::with_capacity(config.devices);
    for i in 0..config.devices {
        let (client, limit, admin) = (client.clone(), limit.clone(), admin.to_owned());
        let first = bases[0].clone();
        let server = i % bases.len();
        let base = bases[server].clone();
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await?;
            let centre = centre_code(i % centres);
            let username = format!("v{i:06}");
            let password = PASSWORD;
            let response = client
                .post(format!("{first}/v1/admin/users"))
                .bearer_auth(&admin)
                .json(
                    &json!({"username": username, "password": password, "role": "volunteer",
                              "centre_id": centre, "display_name": format!("อาสา {i}")}),
                )
                .send()
                .await?;
            if response.status() != 201 {
                bail!("creating {username}: {}", response.status());
            }
            let mut seed =
                crate::rng::Rng::new(config.seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
            let device = seed.uuid();
            let tokens = login(&client, &base, &username, password, device).await?;
            let text = |k: &str| tokens[k].as_str().unwrap_or_default().to_owned();
            let user = tokens["user"]["id"]
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .context("a user id")?;
            Ok(Phone::new(
                seed.next_u64(),
                user,
                username,
                device,
                centre,
                server,
                text("access_token"),
                text("refresh_token"),
                config.loss,
                config.skewed,
            ))
        }));
    }
    let mut phones = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.into_iter().enumerate() {
        phones.push(task.await??);
        if (i + 1) % 10_000 == 0 {
            eprintln!("  {} accounts", i + 1);
        }
    }
    Ok(phones)
}
