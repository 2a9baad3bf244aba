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
    /// The change log's epochs, read at start: a restore happens with every
    /// server stopped.
    pub lineage: Lineage,
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

    pub fn new_hlc_clock() -> Mutex<HlcClock> {
        Mutex::new(HlcClock::new(Node::Server))
    }
}
