//! The sync loop: push the outbox in batches, then pull pages until caught up.
//!
//! Each step commits on its own, so an interruption anywhere loses nothing:
//! the outbox is trimmed only up to the server's `acked_seq` (a resent batch
//! comes back as `duplicate`), and a pulled page is applied together with its
//! cursor (a page pulled twice merges to the same state anyway).
//!
//! A byte budget is a ceiling: a batch is made smaller until its request and
//! the answer it can expect fit in what is left, a pull asks for a page of at
//! most what is left (`max_bytes`, contract section 9), and the transport
//! makes no request (a retry, a token refresh) whose body and largest answer
//! do not fit ([`Error::BudgetSpent`], which ends the sync).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use reqwest::{Method, StatusCode};
use serde_json::value::RawValue;
use sync_core::{Change, ChangeDto, PullResponse, PushResponse, PushStatus, RecordState, Rules};
use uuid::Uuid;

use crate::client::{Client, META_CURSOR, META_HLC, META_RESYNC};
use crate::error::{Error, Result, StepExt};
use crate::http::{gzip, Meter};
use crate::store;
use crate::types::{SyncOptions, SyncReport};

/// Pulled changes were validated by the server when they were pushed; the
/// device does not re-judge them by its own idea of the current year.
const PULL_RULES: Rules = Rules { current_year: 9999 };

/// The most a push answer takes: its envelope, and per change its result
/// (the id and status; a rejection's code and detail too), compressed when
/// gzip is on (results repeat their shape, so they shrink well) and not.
const PUSH_ANSWER_BYTES: u64 = 160;
const PUSH_ANSWER_BYTES_PER_CHANGE_GZIP: u64 = 96;
const PUSH_ANSWER_BYTES_PER_CHANGE: u64 = 320;

/// Under a budget, a pull is not started with less room than this: a page
/// holds at least one change whatever `max_bytes` says, and one change is
/// rarely larger.
const PULL_MIN_ROOM: u64 = 1024;

/// What gzip may add to a page the server could not make smaller: its
/// header and trailer, and deflate's stored blocks.
const GZIP_OVERHEAD: u64 = 64;

/// Under a budget, the user directory is refreshed only with this much room
/// left; otherwise a later sync does it.
const DIRECTORY_MIN_ROOM: u64 = 64 * 1024;

/// Told how a sync goes, after every pushed batch and pulled page.
///
/// Called on the thread that called [`Client::sync_with`], between two
/// steps (no lock of the store is held): a slow observer slows the sync.
pub trait SyncObserver {
    /// The running report of the sync so far.
    fn progress(&self, report: &SyncReport);
}

impl<F: Fn(&SyncReport)> SyncObserver for F {
    fn progress(&self, report: &SyncReport) {
        self(report)
    }
}

impl Client {
    /// Pushes every pending change, then pulls everything new.
    pub fn sync(&self) -> Result<SyncReport> {
        self.sync_with(&SyncOptions::default(), &|_: &SyncReport| {})
    }

    /// [`Client::sync`] with a byte budget, telling `observer` the running
    /// report after every batch and page.
    ///
    /// With `byte_budget`, the request and response bodies of the whole
    /// sync stay within it: the sync stops before a request that would
    /// cross it, sets `budget_exhausted`, and says what is left (`pending`
    /// changes to push, `more_to_pull`). The next sync goes on from there.
    /// A pulled page holds at least one change, so one change larger than
    /// what is left can pass the budget by its size.
    pub fn sync_with(
        &self,
        options: &SyncOptions,
        observer: &dyn SyncObserver,
    ) -> Result<SyncReport> {
        let _one_sync = self.sync_lock.lock().unwrap_or_else(|e| e.into_inner());
        // Until a last page says otherwise, there may be more to pull.
        let mut report = SyncReport {
            more_to_pull: true,
            ..SyncReport::default()
        };
        let mut meter = Meter::within(options.byte_budget);
        match self.exchange(observer, &mut report, &mut meter) {
            Ok(()) => {}
            // A request that would have crossed the budget was not made.
            Err(Error::BudgetSpent) => report.budget_exhausted = true,
            Err(e) => return Err(e),
        }
        report.bytes_sent = meter.sent;
        report.bytes_received = meter.received;
        let local = self.lock();
        report.pending = store::outbox_len(&local.conn)?;
        report.conflicts = store::conflict_count(&local.conn)?;
        Ok(report)
    }

    /// The steps of a sync: push rounds, pull pages, the user directory.
    fn exchange(
        &self,
        observer: &dyn SyncObserver,
        report: &mut SyncReport,
        meter: &mut Meter,
    ) -> Result<()> {
        let mut batch_size = self.http.config().batch_size.clamp(1, 1000);
        let mut authors = HashSet::new();
        let show = |report: &mut SyncReport, meter: &Meter| {
            report.bytes_sent = meter.sent;
            report.bytes_received = meter.received;
            observer.progress(report);
        };
        // A second round only when a pull said the server was restored and
        // changes went back to the outbox.
        for _round in 0..2 {
            let resent = report.resent_after_restore;
            let mut done_pushing = false;
            while !done_pushing {
                match self.push_batch(batch_size, meter, report)? {
                    Pushed::Nothing => done_pushing = true,
                    // The outbox cannot go on past a gap that only a
                    // manager can settle; pulling still can.
                    Pushed::Stuck => done_pushing = true,
                    Pushed::Batch => {}
                    Pushed::TooLarge => batch_size = (batch_size / 2).max(1),
                    // Not even one change fits: what is left may still
                    // pull a page.
                    Pushed::OverBudget => {
                        report.budget_exhausted = true;
                        done_pushing = true;
                    }
                }
                show(report, meter);
            }
            report.more_to_pull = true;
            while report.more_to_pull {
                if meter.room().is_some_and(|room| room < PULL_MIN_ROOM) {
                    report.budget_exhausted = true;
                    break;
                }
                report.more_to_pull = self.pull_page(meter, report, &mut authors)?;
                show(report, meter);
            }
            if report.budget_exhausted || report.resent_after_restore == resent {
                break;
            }
        }
        let room_for_directory = meter.room().is_none_or(|room| room >= DIRECTORY_MIN_ROOM);
        if !report.budget_exhausted && room_for_directory {
            self.refresh_directory(&authors, meter)?;
        }
        Ok(())
    }

    fn push_batch(
        &self,
        size: usize,
        meter: &mut Meter,
        report: &mut SyncReport,
    ) -> Result<Pushed> {
        let (mut batch, device_id) = {
            let local = self.lock();
            (store::outbox_batch(&local.conn, size)?, local.device_id)
        };
        if batch.is_empty() {
            return Ok(Pushed::Nothing);
        }
        let device_time = chrono::DateTime::from_timestamp_millis(self.clock.now_ms() as i64)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let gzip_on = self.http.config().gzip;
        let per_change = if gzip_on {
            PUSH_ANSWER_BYTES_PER_CHANGE_GZIP
        } else {
            PUSH_ANSWER_BYTES_PER_CHANGE
        };
        let answer_bound = |n: usize| PUSH_ANSWER_BYTES + per_change * n as u64;
        // Under a budget, the batch shrinks until it and its answer fit.
        let body = loop {
            let body = push_body(device_id, &device_time, &batch)?;
            let Some(room) = meter.room() else {
                break body;
            };
            let on_wire = if gzip_on {
                gzip(&body)?.len() as u64
            } else {
                body.len() as u64
            };
            if on_wire + answer_bound(batch.len()) <= room {
                break body;
            }
            if batch.len() == 1 {
                return Ok(Pushed::OverBudget);
            }
            batch.truncate(batch.len() / 2);
        };
        let (first_seq, last_seq) = (batch[0].device_seq, batch[batch.len() - 1].device_seq);
        let response = self.call(
            Method::POST,
            "/v1/sync/push",
            Some(body),
            "application/json",
            answer_bound(batch.len()),
            meter,
        )?;
        if response.status == StatusCode::PAYLOAD_TOO_LARGE && batch.len() > 1 {
            return Ok(Pushed::TooLarge);
        }
        if response.status == StatusCode::CONFLICT {
            let problem = response.problem();
            if let ("server_restored", Some(acked_seq)) = (problem.code.as_str(), problem.acked_seq)
            {
                // The server lost what it acknowledged after `acked_seq`:
                // the kept copies go out again, unchanged.
                let mut local = self.lock();
                let tx = local
                    .conn
                    .transaction()
                    .step("starting to resend after a restore")?;
                let (moved, continuous) = store::unacknowledge_after(&tx, acked_seq)?;
                tx.commit().step("resending after a restore")?;
                report.resent_after_restore += moved;
                if !continuous {
                    report.restore_gap = Some(acked_seq);
                    return Ok(Pushed::Stuck);
                }
                return Ok(Pushed::Batch);
            }
        }
        if response.status != StatusCode::OK {
            return Err(response.into_error());
        }
        let answer: PushResponse = response.json()?;
        report.pushed += batch.len() as u64;
        if answer.acked_seq < first_seq {
            // The server holds a gap before this batch: resending cannot help.
            let why = answer
                .results
                .first()
                .and_then(|r| r.code.clone())
                .unwrap_or_default();
            return Err(Error::Protocol(format!(
                "the server acknowledged up to {} but the outbox starts at {first_seq} ({why}); the device is out of step",
                answer.acked_seq
            )));
        }
        let seqs: HashMap<&str, u64> = batch
            .iter()
            .map(|c| (c.change_id.as_str(), c.device_seq))
            .collect();
        let now = self.clock.now_ms();
        let mut guard = self.lock();
        let local = &mut *guard;
        let mut clock = local.hlc.clone();
        let tx = Client::begin(&mut local.conn, &mut clock, "starting to record a push")?;
        for result in &answer.results {
            let Some(&seq) = seqs.get(result.id.as_str()) else {
                continue;
            };
            if result.status == PushStatus::Rejected && seq <= answer.acked_seq {
                let code = result.code.as_deref().unwrap_or("rejected");
                let detail = result.detail.as_deref().unwrap_or("");
                if store::reject(&tx, seq, code, detail)? {
                    report.rejected += 1;
                }
            } else if result.status != PushStatus::Rejected {
                // Sent again after a restore, a change refused before may
                // be stored this time.
                store::unreject(&tx, seq)?;
            }
        }
        // Kept copies age by the server's clock: a phone's clock that jumps
        // must not throw them away early.
        let server_ms = answer.server_hlc.wall_ms();
        report.acked += store::ack_through(&tx, answer.acked_seq.min(last_seq), server_ms)?;
        if clock.observe(answer.server_hlc, now) != sync_core::Observed::Advanced {
            report.skewed_clocks += 1;
        }
        store::set_meta(&tx, META_HLC, &clock.last().to_string())?;
        tx.commit().step("recording a push")?;
        local.hlc = clock;
        Ok(Pushed::Batch)
    }

    /// Pulls one page and applies it with its cursor; returns whether more
    /// wait. The authors of the page's changes are added to `authors`.
    fn pull_page(
        &self,
        meter: &mut Meter,
        report: &mut SyncReport,
        authors: &mut HashSet<Uuid>,
    ) -> Result<bool> {
        let (cursor, resyncing) = {
            let local = self.lock();
            (
                store::get_meta(&local.conn, META_CURSOR)?.unwrap_or_default(),
                store::get_meta(&local.conn, META_RESYNC)?.is_some(),
            )
        };
        let mut limit = self.http.config().pull_limit.clamp(1, 1000);
        // Pulling again from the beginning, the device asks for its own
        // changes too: it dropped them with the rest of its pulled data.
        let own = if resyncing { "&include_own=true" } else { "" };
        // The server measures the page before compressing it; gzip makes
        // it smaller, but for its overhead on a page that does not shrink.
        let (mut max_bytes, mut reply_bound) = (String::new(), 0);
        if let Some(room) = meter.room() {
            if self.server_lacks_max_bytes.load(Ordering::Relaxed) {
                // A server older than `max_bytes`: small pages, as a best
                // effort; their size cannot be bounded.
                limit = limit.min((room / 1024).max(1) as usize);
            } else {
                let max = room.saturating_sub(GZIP_OVERHEAD).max(1);
                max_bytes = format!("&max_bytes={max}");
                reply_bound = max + GZIP_OVERHEAD;
            }
        }
        let path = format!(
            "/v1/sync/pull?cursor={}&limit={limit}{own}{max_bytes}",
            encode_query(&cursor)
        );
        let response = self.call(
            Method::GET,
            &path,
            None,
            "application/json",
            reply_bound,
            meter,
        )?;
        if !max_bytes.is_empty()
            && response.status == StatusCode::BAD_REQUEST
            && response.problem().code == "invalid_query"
        {
            self.server_lacks_max_bytes.store(true, Ordering::Relaxed);
            return Ok(true);
        }
        if response.status == StatusCode::CONFLICT && response.problem().code == "resync_required" {
            self.start_resync()?;
            report.resyncs += 1;
            return Ok(true);
        }
        if response.status != StatusCode::OK {
            return Err(response.into_error());
        }
        let page: PullResponse = response.json()?;
        let now = self.clock.now_ms();
        let mut guard = self.lock();
        let local = &mut *guard;
        let mut clock = local.hlc.clone();
        let tx = Client::begin(&mut local.conn, &mut clock, "starting to apply a page")?;
        let mut touched: HashMap<(sync_core::Collection, Uuid), RecordState> = HashMap::new();
        for dto in &page.changes {
            authors.extend(dto.author);
            // Keys of a newer protocol are kept in the record's merge state,
            // not a reason to set the whole change aside (contract section 7).
            let decoded = match dto.author {
                Some(author) => Change::decode_pulled(dto, author, &PULL_RULES)
                    .map_err(|e| (e.code(), e.to_string())),
                None => Err(("missing_author", "a pulled change has no author".to_owned())),
            };
            let sync_core::Pulled {
                change,
                unknown,
                masked,
            } = match decoded {
                Ok(c) => c,
                Err((code, detail)) => {
                    let body = serde_json::to_string(dto).unwrap_or_default();
                    store::keep_unreadable(&tx, &dto.id.to_string(), code, &detail, &body)?;
                    report.unreadable += 1;
                    continue;
                }
            };
            let key = (change.collection, change.record_id);
            let state = match touched.entry(key) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(store::load_state(&tx, key.0, key.1)?),
            };
            state.apply(&change);
            for write in &unknown {
                state.apply_unknown(change.hlc, change.author, write);
            }
            for (masked_key, shown) in &masked {
                store::keep_mask(&tx, key.0, key.1, *masked_key, change.hlc, shown)?;
            }
            let erases = change.writes.iter().any(|w| {
                w.key == sync_core::Key::field(sync_core::Field::Erased)
                    && w.value == sync_core::Value::Bool(true)
            });
            if erases {
                state.scrub_personal();
                store::scrub_record(&tx, key.0, key.1)?;
            }
            if clock.observe(change.hlc, now) != sync_core::Observed::Advanced {
                report.skewed_clocks += 1;
            }
            report.pulled += 1;
        }
        for ((collection, id), state) in &touched {
            store::save_state(&tx, *collection, *id, state)?;
        }
        if let Some(acked_seq) = page.acked_seq {
            // The server holds this device's changes up to `acked_seq`: one
            // restored from an older backup sees the kept ones again.
            let (moved, continuous) = store::unacknowledge_after(&tx, acked_seq)?;
            if !continuous {
                report.restore_gap = Some(acked_seq);
            }
            report.resent_after_restore += moved;
        }
        store::set_meta(&tx, META_CURSOR, &page.cursor)?;
        store::set_meta(&tx, META_HLC, &clock.last().to_string())?;
        if resyncing && !page.has_more {
            store::delete_meta(&tx, META_RESYNC)?;
        }
        tx.commit().step("applying a page")?;
        local.hlc = clock;
        Ok(page.has_more)
    }

    /// The user's access changed (a new role or centre, or another user on
    /// this phone): drop everything pulled, keep the outbox (and show its
    /// edits again) and the list of rejections, and pull from the beginning.
    /// All in one transaction, so an interruption leaves either the old
    /// state or the new start.
    fn start_resync(&self) -> Result<()> {
        let mut guard = self.lock();
        let local = &mut *guard;
        let user = local.user.clone().ok_or(Error::NotLoggedIn)?;
        let mut clock = local.hlc.clone();
        let tx = Client::begin(&mut local.conn, &mut clock, "starting a resync")?;
        store::drop_records(&tx)?;
        let mut states: HashMap<(sync_core::Collection, Uuid), RecordState> = HashMap::new();
        for body in store::outbox_bodies(&tx)? {
            let dto: ChangeDto = serde_json::from_str(&body)
                .map_err(|e| Error::Corrupt(format!("an outbox change: {e}")))?;
            let change = Change::decode(&dto, user.id, &PULL_RULES).map_err(Error::invalid)?;
            states
                .entry((change.collection, change.record_id))
                .or_default()
                .apply(&change);
        }
        for ((collection, id), state) in &states {
            store::save_state(&tx, *collection, *id, state)?;
        }
        store::delete_meta(&tx, META_CURSOR)?;
        store::set_meta(&tx, META_RESYNC, "1")?;
        tx.commit().step("starting a resync")?;
        Ok(())
    }
}

enum Pushed {
    Nothing,
    Batch,
    TooLarge,
    /// The server was restored past what the device still keeps.
    Stuck,
    /// Not even one change and its answer fit in what is left of the budget.
    OverBudget,
}

/// A push request around outbox bodies, which are already wire JSON: they
/// go in as they are stored, not decoded and encoded again.
fn push_body(device_id: Uuid, device_time: &str, batch: &[store::Outgoing]) -> Result<Vec<u8>> {
    #[derive(serde::Serialize)]
    struct Push<'a> {
        device_id: Uuid,
        device_time: &'a str,
        changes: Vec<&'a RawValue>,
    }
    let changes = batch
        .iter()
        .map(|c| serde_json::from_str::<&RawValue>(&c.body))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Corrupt(format!("an outbox change: {e}")))?;
    serde_json::to_vec(&Push {
        device_id,
        device_time,
        changes,
    })
    .map_err(|e| Error::Corrupt(format!("cannot encode a push: {e}")))
}

/// Percent-encodes a query value (the cursor is opaque to the device).
pub(crate) fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
