//! What every handler shares.

use std::sync::{Arc, Mutex};

use sync_core::{Clock, Hlc, HlcClock, Node};

use crate::auth::hasher::Hasher;
use crate::auth::tokens::Keys;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::store::lineage::Lineage;
use crate::store::Store;

pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The change log's epochs and when they were read: read at start and
    /// again every 30 s (see [`AppState::lineage`]).
    pub lineage: Mutex<(Lineage, std::time::Instant)>,
    pub keys: Keys,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    /// The server's own HLC, sent back as `server_hlc` on every push.
    pub hlc: Mutex<HlcClock>,
    pub metrics: Metrics,
    pub hasher: Hasher,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn now_secs(&self) -> i64 {
        i64::try_from(self.clock.now_ms() / 1000).unwrap_or(i64::MAX)
    }

    /// Takes the greatest clock of a push into account and issues the reply's HLC.
    pub fn server_hlc(&self, seen: Option<Hlc>) -> Hlc {
        let now = self.clock.now_ms();
        let mut clock = self.hlc.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seen) = seen {
            clock.observe(seen, now);
        }
        clock.tick(now)
    }

    /// The change log's epochs. A restore happens with every server
    /// stopped; should one have kept running (its database out of reach at
    /// the time), it learns of the restore within 30 s. Blocks on the store
    /// when the copy is old: call it from a blocking thread.
    pub fn lineage(&self) -> Lineage {
        const FRESH: std::time::Duration = std::time::Duration::from_secs(30);
        let mut held = self.lineage.lock().unwrap_or_else(|p| p.into_inner());
        if held.1.elapsed() > FRESH {
            match self.store.lineage() {
                Ok(fresh) => *held = (fresh, std::time::Instant::now()),
                Err(e) => tracing::warn!(error = %e, "could not read the change log's epochs"),
            }
        }
        held.0.clone()
    }

    pub fn new_hlc_clock() -> Mutex<HlcClock> {
        Mutex::new(HlcClock::new(Node::Server))
    }
}
