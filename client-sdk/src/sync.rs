//! The sync loop: push the outbox in batches, then pull pages until caught up.
//!
//! Each step commits on its own, so an interruption anywhere loses nothing:
//! the outbox is trimmed only up to the server's `acked_seq` (a resent batch
//! comes back as `duplicate`), and a pulled page is applied together with its
//! cursor (a page pulled twice merges to the same state anyway).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use reqwest::{Method, StatusCode};
use sync_core::{
    Change, ChangeDto, Collection, PullResponse, PushResponse, PushStatus, RecordState, Rules,
};
use uuid::Uuid;

use crate::client::{Client, META_CURSOR, META_HLC, META_RESYNC};
use crate::error::{Error, Result, StepExt};
use crate::http::Meter;
use crate::store;
use crate::types::{SyncOptions, SyncReport};

/// Pulled changes were validated by the server when they were pushed; the
/// device does not re-judge them by its own idea of the current year.
const PULL_RULES: Rules = Rules { current_year: 9999 };

impl Client {
    /// Pushes every pending change, then pulls everything new.
    pub fn sync(&self) -> Result<SyncReport> {
        self.sync_with(&SyncOptions::default(), &mut |_| {})
    }

    /// [`Client::sync`] with a byte budget, calling `progress` after every
    /// batch and page with the running report.
    pub fn sync_with(
        &self,
        options: &SyncOptions,
        progress: &mut dyn FnMut(&SyncReport),
    ) -> Result<SyncReport> {
        let _one_sync = self.sync_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut report = SyncReport::default();
        let mut meter = Meter::default();
        let spent = |m: &Meter| options.byte_budget.is_some_and(|b| m.total() >= b);
        let mut batch_size = self.http.config().batch_size.clamp(1, 1000);
        let mut done_pushing = false;
        let mut authors = HashSet::new();
        // A second round only when a pull said the server was restored and
        // changes went back to the outbox.
        for _round in 0..2 {
            let resent = report.resent_after_restore;
            done_pushing = false;
            while !done_pushing {
                if spent(&meter) {
                    report.budget_exhausted = true;
                    break;
                }
                match self.push_batch(batch_size, &mut meter, &mut report)? {
                    Pushed::Nothing => done_pushing = true,
                    // The outbox cannot go on past a gap that only a
                    // manager can settle; pulling still can.
                    Pushed::Stuck => done_pushing = true,
                    Pushed::Batch => {}
                    Pushed::TooLarge => batch_size = (batch_size / 2).max(1),
                }
                report.bytes_sent = meter.sent;
                report.bytes_received = meter.received;
                progress(&report);
            }
            if !done_pushing {
                break;
            }
            loop {
                if spent(&meter) {
                    report.budget_exhausted = true;
                    break;
                }
                let more = self.pull_page(&mut meter, &mut report, &mut authors)?;
                report.bytes_sent = meter.sent;
                report.bytes_received = meter.received;
                progress(&report);
                if !more {
                    break;
                }
            }
            if report.budget_exhausted || report.resent_after_restore == resent {
                break;
            }
        }
        if done_pushing && !report.budget_exhausted && !spent(&meter) {
            self.refresh_directory(&authors, &mut meter)?;
            report.bytes_sent = meter.sent;
            report.bytes_received = meter.received;
        }
        let local = self.lock();
        report.pending = store::outbox_len(&local.conn)?;
        report.conflicts = local
            .conn
            .query_row(
                "SELECT COALESCE(SUM(\"conflicts\"), 0) FROM \"records\"",
                [],
                |r| r.get::<_, i64>(0),
            )
            .step("counting conflicts")? as u64;
        Ok(report)
    }

    fn push_batch(
        &self,
        size: usize,
        meter: &mut Meter,
        report: &mut SyncReport,
    ) -> Result<Pushed> {
        let (batch, device_id) = {
            let local = self.lock();
            (store::outbox_batch(&local.conn, size)?, local.device_id)
        };
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(Pushed::Nothing);
        };
        let (first_seq, last_seq) = (first.device_seq, last.device_seq);
        // The stored bodies are already wire JSON: join them rather than re-encode.
        let device_time = chrono::DateTime::from_timestamp_millis(self.clock.now_ms() as i64)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut body = format!(
            "{{\"device_id\":\"{device_id}\",\"device_time\":\"{device_time}\",\"changes\":["
        );
        for (i, change) in batch.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&change.body);
        }
        body.push_str("]}");
        let response = self.call(
            Method::POST,
            "/v1/sync/push",
            Some(body.into_bytes()),
            "application/json",
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
        let seqs: HashMap<String, u64> = batch
            .iter()
            .filter_map(|c| {
                serde_json::from_str::<ChangeDto>(&c.body)
                    .ok()
                    .map(|d| (d.id, d.device_seq))
            })
            .collect();
        let now = self.clock.now_ms();
        let mut guard = self.lock();
        let local = &mut *guard;
        let mut clock = local.hlc.clone();
        let tx = Client::begin(&mut local.conn, &mut clock, "starting to record a push")?;
        for result in &answer.results {
            let Some(&seq) = seqs.get(&result.id) else {
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
        let limit = self.http.config().pull_limit.clamp(1, 1000);
        // Pulling again from the beginning, the device asks for its own
        // changes too: it dropped them with the rest of its pulled data.
        let own = if resyncing { "&include_own=true" } else { "" };
        let path = format!(
            "/v1/sync/pull?cursor={}&limit={limit}{own}",
            encode_query(&cursor)
        );
        let response = self.call(Method::GET, &path, None, "application/json", meter)?;
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
        let mut touched: HashMap<(Collection, Uuid), RecordState> = HashMap::new();
        for dto in &page.changes {
            authors.extend(dto.author);
            // Keys of a newer protocol are kept in the record's merge state,
            // not a reason to set the whole change aside (contract section 7).
            let decoded = match dto.author {
                Some(author) => Change::decode_pulled(dto, author, &PULL_RULES)
                    .map_err(|e| (e.code(), e.to_string())),
                None => Err(("missing_author", "a pulled change has no author".to_owned())),
            };
            let (change, unknown) = match decoded {
                Ok(c) => c,
                Err((code, detail)) => {
                    let body = serde_json::to_string(dto).unwrap_or_default();
                    store::keep_unreadable(&tx, &dto.id.to_string(), code, &detail, &body)?;
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
        let mut states: HashMap<(Collection, Uuid), RecordState> = HashMap::new();
        for body in store::outbox_bodies(&tx)? {
            let dto: ChangeDto = serde_json::from_str(&body)
                .map_err(|e| Error::Corrupt(format!("an outbox change: {e}")))?;
            let change = Change::decode(&dto, user.id, &PULL_RULES)?;
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
