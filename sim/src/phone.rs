//! One volunteer's phone: its clock, its outbox, its cursor, and its week
//! (sessions during the day, a few syncs at random moments, most in the
//! evening, whole days offline now and then), speaking the wire format of
//! docs/PROTOCOL.md itself (the SDK's sync loop is blocking; 75,000 of them
//! would be 75,000 threads).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sync_core::schema::{HELP_TYPES, OUTCOMES};
use uuid::Uuid;

use crate::link::{Answer, Failure, Link, Request, Transport};
use crate::rng::Rng;
use crate::text;

/// The 5-minute skew guard of the HLC (contract section 2.2).
const SKEW_GUARD_MS: u64 = 5 * 60 * 1000;
const DAY: f64 = 86_400.0;

/// An order-free digest of a set of change ids: their count and their sum.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub count: u64,
    pub sum: u128,
}

impl Digest {
    pub fn add(&mut self, id: Uuid) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(id.as_u128());
    }

    pub fn merge(&mut self, other: Digest) {
        self.count += other.count;
        self.sum = self.sum.wrapping_add(other.sum);
    }
}

/// What the phones saw, shared by all of them.
#[derive(Debug, Default)]
pub struct Stats {
    pub sessions: AtomicU64,
    pub beneficiaries: AtomicU64,
    pub edits: AtomicU64,
    pub applied: AtomicU64,
    pub duplicate: AtomicU64,
    pub clock_skew: AtomicU64,
    pub syncs: AtomicU64,
    pub failed_syncs: AtomicU64,
    pub pulled: AtomicU64,
    pub refreshes: AtomicU64,
    pub logins: AtomicU64,
    pub rejected: Mutex<BTreeMap<String, u64>>,
    pub errors: Mutex<Vec<String>>,
    /// Every push: its simulated hour of the day, the time from wanting a
    /// connection to the answer, and the round trip alone (ms).
    pub pushes: Mutex<Vec<(u8, f32, f32)>>,
    /// Every sync that began in the evening rush (18 to 21 h): its day,
    /// how long it took and how far past the rush's end it finished (real
    /// seconds, negative when within it).
    pub rush: Mutex<Vec<(u32, f64, f64)>>,
}

impl Stats {
    fn error(&self, what: String) {
        let mut errors = self.errors.lock().expect("not poisoned");
        if errors.len() < 20 {
            errors.push(what);
        }
    }
}

/// The simulated week's clock: simulated seconds since the week began,
/// `speed` of them per real second.
#[derive(Debug, Clone, Copy)]
pub struct WeekClock {
    pub start: Instant,
    pub speed: f64,
    /// Unix seconds of the simulated week's first midnight (UTC+7).
    pub first_midnight: i64,
}

impl WeekClock {
    pub fn real_at(&self, sim_secs: f64) -> Instant {
        self.start + Duration::from_secs_f64(sim_secs / self.speed)
    }
}

/// Everything a phone needs from the run.
#[derive(Debug)]
pub struct Ctx {
    pub transport: Transport,
    pub bases: Vec<String>,
    pub stats: Stats,
    pub clock: WeekClock,
    pub days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    Session,
    Sync,
}

#[derive(Debug)]
pub struct Phone {
    pub user: Uuid,
    username: String,
    pub device: Uuid,
    pub centre: String,
    pub server: usize,
    village: String,
    access: String,
    refresh: String,
    /// This phone's clock is off by this much (most are 0).
    pub skew_ms: i64,
    link: Link,
    rng: Rng,
    hlc: (u64, u16),
    seq: u64,
    /// `(device_seq, change id, JSON)`, not yet acknowledged.
    outbox: VecDeque<(u64, Uuid, String)>,
    cursor: Option<String>,
    /// Beneficiaries of the centre this phone knows (made or pulled).
    people: Vec<Uuid>,
    /// Own sessions that may be edited: the record and its notes' HLC.
    sessions: Vec<(Uuid, String)>,
    /// Own changes the server acknowledged, and changes pulled.
    pub own: Digest,
    pub pulled: Digest,
}

#[allow(clippy::too_many_arguments)]
impl Phone {
    pub fn new(
        seed: u64,
        user: Uuid,
        username: String,
        device: Uuid,
        centre: String,
        server: usize,
        access: String,
        refresh: String,
        loss: f64,
        skewed_share: f64,
    ) -> Phone {
        let mut rng = Rng::new(seed);
        let link = Link::draw(&mut rng, loss);
        let skew_ms = if rng.chance(skewed_share) {
            // Wrong dates and times as phones have them: hours or days off,
            // either way.
            let minutes = *rng.pick(&[-3 * 1440, -1440, -120, -7, 7, 45, 180, 1440, 3 * 1440]);
            minutes * 60_000
        } else {
            0
        };
        let village = format!(
            "{:04}{:02}{:02}",
            1000 + rng.range(0, 8000),
            rng.range(1, 20),
            rng.range(1, 25)
        );
        Phone {
            user,
            username,
            device,
            centre,
            server,
            village,
            access,
            refresh,
            skew_ms,
            link,
            rng,
            hlc: (0, 0),
            seq: 0,
            outbox: VecDeque::new(),
            cursor: None,
            people: Vec::new(),
            sessions: Vec::new(),
            own: Digest::default(),
            pulled: Digest::default(),
        }
    }

    /// Its bearer token and server.
    pub fn credentials(&self) -> (&str, usize) {
        (&self.access, self.server)
    }

    /// The length of its bearer token, bytes.
    pub fn token_bytes(&self) -> usize {
        self.access.len()
    }

    /// Changes made on this phone, and those still in its outbox.
    pub fn made(&self) -> (u64, usize) {
        (self.seq, self.outbox.len())
    }

    /// The phone's own idea of the time, ms.
    fn now_ms(&self) -> u64 {
        let real = chrono::Utc::now().timestamp_millis();
        u64::try_from(real + self.skew_ms).unwrap_or(0)
    }

    /// A local event's HLC (contract section 2.2).
    fn tick(&mut self) -> String {
        let now = self.now_ms();
        let (wall, counter) = self.hlc;
        self.hlc = if now > wall {
            (now, 0)
        } else if counter == u16::MAX {
            (wall + 1, 0)
        } else {
            (wall, counter + 1)
        };
        format!("{:013}-{:04x}-{}", self.hlc.0, self.hlc.1, self.device)
    }

    /// A received HLC, with the skew guard.
    fn receive(&mut self, hlc: &str) {
        let mut parts = hlc.splitn(3, '-');
        let (Some(Ok(wall)), Some(Ok(counter))) = (
            parts.next().map(str::parse::<u64>),
            parts.next().map(|c| u16::from_str_radix(c, 16)),
        ) else {
            return;
        };
        let now = self.now_ms();
        if wall > now + SKEW_GUARD_MS {
            return;
        }
        let (own, own_counter) = self.hlc;
        self.hlc = if now > own && now > wall {
            (now, 0)
        } else if wall > own {
            (wall, counter.saturating_add(1))
        } else if wall == own {
            (own, own_counter.max(counter).saturating_add(1))
        } else {
            (own, own_counter.saturating_add(1))
        };
    }

    fn queue(&mut self, collection: &str, record: Uuid, fields: Value) -> Uuid {
        self.seq += 1;
        let id = Uuid::now_v7();
        let change = json!({
            "id": id,
            "device_seq": self.seq,
            "collection": collection,
            "record_id": record,
            "hlc": self.tick(),
            "fields": fields,
        });
        self.outbox.push_back((self.seq, id, change.to_string()));
        id
    }

    /// The week's events, in order: sessions in working hours, syncs when
    /// there is signal (the evening most of all), whole days offline.
    fn week(&mut self, days: u32) -> Vec<(f64, Event)> {
        let rng = &mut self.rng;
        // A skewed activity: most volunteers log a session or two a day,
        // some hardly any, a few a great many.
        let rate = *rng.pick(&[0.3, 0.3, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 5.0]);
        let mut events = Vec::new();
        for day in 0..days {
            let midnight = f64::from(day) * DAY;
            for _ in 0..rng.poisson(rate) {
                events.push((midnight + (8.0 + rng.unit() * 9.0) * 3600.0, Event::Session));
            }
            if rng.chance(0.15) {
                continue; // no signal all day: tomorrow's syncs carry it
            }
            if rng.chance(0.7) {
                events.push((midnight + (18.0 + rng.unit() * 3.0) * 3600.0, Event::Sync));
            }
            for _ in 0..rng.poisson(0.8) {
                events.push((midnight + (7.0 + rng.unit() * 15.0) * 3600.0, Event::Sync));
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        events
    }

    /// Lives the week, then syncs once more.
    pub async fn live(mut self, ctx: &Ctx) -> Phone {
        for (at, event) in self.week(ctx.days) {
            tokio::time::sleep_until(ctx.clock.real_at(at).into()).await;
            match event {
                Event::Session => self.record_session(ctx, at),
                Event::Sync => {
                    let day = (at / DAY) as u32;
                    let hour = (at % DAY) / 3600.0;
                    let began = Instant::now();
                    // Boxed: the request's state lives only while it runs,
                    // so a phone between events holds a few hundred bytes.
                    Box::pin(self.sync(ctx, hour as u8)).await;
                    if (18.0..21.0).contains(&hour) {
                        let rush_end = ctx.clock.real_at(f64::from(day) * DAY + 21.0 * 3600.0);
                        let now = Instant::now();
                        let late = if now > rush_end {
                            (now - rush_end).as_secs_f64()
                        } else {
                            -(rush_end - now).as_secs_f64()
                        };
                        let took = began.elapsed().as_secs_f64();
                        ctx.stats
                            .rush
                            .lock()
                            .expect("not poisoned")
                            .push((day, took, late));
                    }
                }
            }
        }
        tokio::time::sleep_until(ctx.clock.real_at(f64::from(ctx.days) * DAY).into()).await;
        Box::pin(self.sync(ctx, 24)).await;
        self
    }

    /// A help session, sometimes with a new beneficiary, sometimes an edit
    /// of an earlier one instead.
    fn record_session(&mut self, ctx: &Ctx, at: f64) {
        if !self.sessions.is_empty() && self.rng.chance(0.1) {
            let i = self.rng.range(0, self.sessions.len() as u64) as usize;
            let (record, base) = self.sessions[i].clone();
            let note = text::note(&mut self.rng);
            let outcome = *self.rng.pick(OUTCOMES);
            self.queue(
                "sessions",
                record,
                json!({"notes": {"value": note, "base": [base]}, "outcome": {"value": outcome, "base": [base]}}),
            );
            let hlc = format!("{:013}-{:04x}-{}", self.hlc.0, self.hlc.1, self.device);
            self.sessions[i].1 = hlc;
            ctx.stats.edits.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.people.is_empty() || self.rng.chance(0.3) {
            let id = Uuid::now_v7();
            let mut fields = json!({
                "centre_id": {"value": self.centre},
                "village_code": {"value": self.village},
                "display_name": {"value": text::person_name(&mut self.rng)},
                "consent": {"value": true},
                "consent_version": {"value": "2026-01"},
            });
            if self.rng.chance(0.6) {
                fields["phone"] = json!({"value": format!("0{}{:08}", self.rng.pick(&["8", "9", "6"]), self.rng.range(0, 100_000_000))});
            }
            if self.rng.chance(0.5) {
                fields["birth_year"] = json!({"value": self.rng.range(1935, 2010)});
            }
            if self.rng.chance(0.2) {
                fields["national_id"] = json!({"value": text::national_id(&mut self.rng)});
            }
            self.queue("beneficiaries", id, fields);
            self.know(id);
            ctx.stats.beneficiaries.fetch_add(1, Ordering::Relaxed);
        }
        // The session's start as the app stamps it: the simulated moment,
        // read off this phone's clock.
        let start = ctx.clock.first_midnight + at as i64 + self.skew_ms / 1000;
        let started_at = chrono::DateTime::from_timestamp(start, 0)
            .unwrap_or_default()
            .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7"))
            .to_rfc3339();
        let record = Uuid::now_v7();
        let mut fields = json!({
            "centre_id": {"value": self.centre},
            "volunteer_id": {"value": self.user},
            "village_code": {"value": self.village},
            "help_type": {"value": self.rng.pick(HELP_TYPES)},
            "started_at": {"value": started_at},
            "duration_min": {"value": 5 * self.rng.range(2, 25)},
            "people_helped": {"value": 1 + self.rng.poisson(0.6)},
        });
        if self.rng.chance(0.8) {
            fields["outcome"] = json!({"value": self.rng.pick(OUTCOMES)});
        }
        if self.rng.chance(0.95) {
            fields["notes"] = json!({"value": text::note(&mut self.rng)});
        }
        for _ in 0..self.rng.range(0, 3) {
            let person = *self.rng.pick(&self.people);
            fields[format!("beneficiary_ids/{person}")] = json!({"value": true});
        }
        self.queue("sessions", record, fields);
        let hlc = format!("{:013}-{:04x}-{}", self.hlc.0, self.hlc.1, self.device);
        if self.sessions.len() < 16 {
            self.sessions.push((record, hlc));
        } else {
            let i = self.rng.range(0, 16) as usize;
            self.sessions[i] = (record, hlc);
        }
        ctx.stats.sessions.fetch_add(1, Ordering::Relaxed);
    }

    fn know(&mut self, person: Uuid) {
        if self.people.len() < 48 {
            self.people.push(person);
        } else {
            let i = self.rng.range(0, 48) as usize;
            self.people[i] = person;
        }
    }

    /// Pushes the outbox, then pulls until up to date. `hour` is the
    /// simulated hour it began (24: after the week).
    pub async fn sync(&mut self, ctx: &Ctx, hour: u8) {
        ctx.stats.syncs.fetch_add(1, Ordering::Relaxed);
        ctx.transport.bytes.connection();
        if let Err(e) = self.push_all(ctx, hour).await {
            ctx.stats.failed_syncs.fetch_add(1, Ordering::Relaxed);
            ctx.stats.error(format!("push: {e}"));
            return;
        }
        if let Err(e) = self.pull_all(ctx).await {
            ctx.stats.failed_syncs.fetch_add(1, Ordering::Relaxed);
            ctx.stats.error(format!("pull: {e}"));
        }
    }

    async fn push_all(&mut self, ctx: &Ctx, hour: u8) -> Result<(), String> {
        while !self.outbox.is_empty() {
            let changes: Vec<&str> = self.outbox.iter().take(500).map(|c| c.2.as_str()).collect();
            let device_time = chrono::DateTime::from_timestamp_millis(self.now_ms() as i64)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let body = format!(
                r#"{{"device_id":"{}","device_time":"{device_time}","changes":[{}]}}"#,
                self.device,
                changes.join(",")
            );
            let answer = self
                .call(ctx, true, "/v1/sync/push", Some(body.as_bytes()))
                .await?;
            ctx.stats.pushes.lock().expect("not poisoned").push((
                hour,
                (answer.waited + answer.round_trip).as_secs_f32() * 1000.0,
                answer.round_trip.as_secs_f32() * 1000.0,
            ));
            let answer: Value = serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
            let acked = answer["acked_seq"].as_u64().ok_or("no acked_seq")?;
            if let Some(hlc) = answer["server_hlc"].as_str() {
                self.receive(hlc);
            }
            for result in answer["results"].as_array().ok_or("no results")? {
                let id = result["id"].as_str().and_then(|s| Uuid::parse_str(s).ok());
                match (result["status"].as_str(), id) {
                    (Some("applied"), Some(id)) => {
                        self.own.add(id);
                        ctx.stats.applied.fetch_add(1, Ordering::Relaxed);
                    }
                    (Some("duplicate"), Some(id)) => {
                        self.own.add(id);
                        ctx.stats.duplicate.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        let code = result["code"].as_str().unwrap_or("?").to_owned();
                        *ctx.stats
                            .rejected
                            .lock()
                            .expect("not poisoned")
                            .entry(code)
                            .or_default() += 1;
                    }
                }
                if result["warning"] == "clock_skew" {
                    ctx.stats.clock_skew.fetch_add(1, Ordering::Relaxed);
                }
            }
            let before = self.outbox.len();
            while self.outbox.front().is_some_and(|c| c.0 <= acked) {
                self.outbox.pop_front();
            }
            if self.outbox.len() == before {
                return Err(format!("acked_seq {acked} did not move"));
            }
        }
        Ok(())
    }

    /// Pulls until `has_more` is false.
    pub async fn pull_all(&mut self, ctx: &Ctx) -> Result<(), String> {
        loop {
            let path = match &self.cursor {
                Some(c) => format!("/v1/sync/pull?limit=500&cursor={c}"),
                None => "/v1/sync/pull?limit=500".to_owned(),
            };
            let answer = self.call(ctx, false, &path, None).await?;
            let page: Value = serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
            for change in page["changes"].as_array().ok_or("no changes")? {
                if let Some(id) = change["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()) {
                    self.pulled.add(id);
                }
                if let Some(hlc) = change["hlc"].as_str() {
                    self.receive(hlc);
                }
                if change["collection"] == "beneficiaries"
                    && change["fields"].get("display_name").is_some()
                {
                    if let Some(id) = change["record_id"]
                        .as_str()
                        .and_then(|s| Uuid::parse_str(s).ok())
                    {
                        self.know(id);
                    }
                }
                ctx.stats.pulled.fetch_add(1, Ordering::Relaxed);
            }
            let cursor = page["cursor"].as_str().map(str::to_owned);
            if cursor.is_none() || (page["has_more"] == true && cursor == self.cursor) {
                return Err(format!(
                    "a pull page without a new cursor: {}",
                    page["cursor"]
                ));
            }
            self.cursor = cursor;
            if page["has_more"] != true {
                return Ok(());
            }
        }
    }

    /// One request, retried after a loss or a failure (backing off) and
    /// after a token refresh (on a 401).
    async fn call(
        &mut self,
        ctx: &Ctx,
        post: bool,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Answer, String> {
        let base = ctx.bases[self.server].clone();
        for attempt in 0..12u32 {
            let request = Request {
                post,
                base: &base,
                path_and_query: path,
                token: Some(&self.access),
                body,
            };
            match ctx.transport.send(&self.link, &mut self.rng, request).await {
                Ok(a) if a.status == 200 => return Ok(a),
                Ok(a) if a.status == 401 => {
                    Box::pin(self.refresh(ctx, &base)).await?;
                    continue;
                }
                // Busy or failing for now (contract 5.9): back off, again.
                Ok(a) if a.status == 429 || a.status >= 500 => {
                    ctx.stats.error(format!("{path}: {} (retried)", a.status));
                }
                Ok(a) => {
                    return Err(format!(
                        "{path}: {} {}",
                        a.status,
                        String::from_utf8_lossy(&a.body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    ))
                }
                Err(Failure::Lost) => {}
                Err(Failure::Http(e)) => ctx.stats.error(format!("{path}: {e}")),
            }
            let wait = Duration::from_millis(500 << attempt.min(6));
            tokio::time::sleep(wait.mul_f64(ctx.transport.link_scale)).await;
            // A phone that lost its answer dials again.
            ctx.transport.bytes.connection();
        }
        Err(format!("{path}: no answer after 12 tries"))
    }

    /// New tokens now, as after a 401.
    pub async fn renew(&mut self, ctx: &Ctx) -> Result<(), String> {
        let base = ctx.bases[self.server].clone();
        self.refresh(ctx, &base).await
    }

    /// Exchanges the refresh token; one refused (spent, revoked) means
    /// the app asks the volunteer to log in again, which the simulation
    /// does itself.
    async fn refresh(&mut self, ctx: &Ctx, base: &str) -> Result<(), String> {
        ctx.stats.refreshes.fetch_add(1, Ordering::Relaxed);
        let body = json!({"refresh_token": self.refresh, "device_id": self.device});
        match self
            .take_tokens(ctx, base, "/v1/auth/refresh", body)
            .await?
        {
            None => Ok(()),
            Some(401) => {
                ctx.stats.logins.fetch_add(1, Ordering::Relaxed);
                let body = json!({"username": self.username, "password": crate::PASSWORD,
                                  "device_id": self.device});
                match self.take_tokens(ctx, base, "/v1/auth/login", body).await? {
                    None => Ok(()),
                    Some(status) => Err(format!("login: {status}")),
                }
            }
            Some(status) => Err(format!("refresh: {status}")),
        }
    }

    /// Posts `body` to `path` (a login or a refresh) until it answers, and
    /// keeps the tokens of a 200; the status of any other answer.
    async fn take_tokens(
        &mut self,
        ctx: &Ctx,
        base: &str,
        path: &str,
        body: Value,
    ) -> Result<Option<u16>, String> {
        let body = body.to_string();
        for _ in 0..12 {
            let request = Request {
                post: true,
                base,
                path_and_query: path,
                token: None,
                body: Some(body.as_bytes()),
            };
            match ctx.transport.send(&self.link, &mut self.rng, request).await {
                Ok(a) if a.status == 200 => {
                    let tokens: Value =
                        serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
                    let token = |k: &str| tokens[k].as_str().map(str::to_owned).ok_or("no token");
                    self.access = token("access_token")?;
                    self.refresh = token("refresh_token")?;
                    return Ok(None);
                }
                Ok(a) => return Ok(Some(a.status)),
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1).mul_f64(ctx.transport.link_scale))
                        .await
                }
            }
        }
        Err(format!("{path}: no answer"))
    }
}
