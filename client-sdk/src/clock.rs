//! The wall clock the SDK stamps edits with, and a clock to move by hand.

/// A wall clock, in milliseconds since the Unix epoch. [`crate::Client::open`]
/// uses the system's; tests and simulations pass their own to
/// [`crate::Client::open_with_clock`] (a phone whose clock is wrong, a week
/// offline in a second).
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        sync_core::Clock::now_ms(&sync_core::SystemClock)
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(sync_core::ManualClock);

impl ManualClock {
    pub fn new(now_ms: u64) -> ManualClock {
        ManualClock(sync_core::ManualClock::new(now_ms))
    }

    pub fn set(&self, now_ms: u64) {
        self.0.set(now_ms);
    }

    pub fn advance(&self, by_ms: u64) {
        self.0.advance(by_ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        sync_core::Clock::now_ms(&self.0)
    }
}
