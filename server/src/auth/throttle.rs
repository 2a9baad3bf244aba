//! Login throttling (contract section 8): failures are counted per client
//! address and per username, and every attempt is counted from the moment it
//! is reserved, before its password is checked, so parallel guesses get no
//! more tries than sequential ones.
//!
//! - An address with too many recent failures (any usernames) waits until the
//!   oldest of them leaves the window.
//! - A username with too many recent failures is slowed down, not locked:
//!   an address that itself failed on it waits 2^(n - limit) seconds (capped
//!   at the window) after the username's latest attempt. An address that has
//!   not failed on it is never refused because others did, so a guessing
//!   attacker cannot lock the real user (or the admin) out.

use crate::store::AttemptCounts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures of one username before attempts on it are slowed down.
    pub username_failures: u32,
    /// Failures from one address before it must wait. Higher than the
    /// username limit: many phones share one address behind a mobile
    /// operator's NAT.
    pub address_failures: u32,
    pub window_secs: i64,
}

/// The seconds this attempt must wait, or `None` to let it through.
pub fn judge(policy: &Policy, counts: &AttemptCounts, now: i64) -> Option<u64> {
    let wait = |until: i64| u64::try_from((until - now).max(1)).unwrap_or(1);
    if counts.address >= policy.address_failures {
        return Some(wait(counts.address_oldest_at + policy.window_secs));
    }
    if counts.username_from_address > 0 && counts.username >= policy.username_failures {
        let excess = (counts.username - policy.username_failures).min(30);
        let delay = (1i64 << excess).min(policy.window_secs);
        let until = counts.username_latest_at + delay;
        if now < until {
            return Some(wait(until));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        username_failures: 5,
        address_failures: 20,
        window_secs: 900,
    };

    #[test]
    fn a_username_under_attack_slows_the_attacker_down_more_each_time() {
        let at = |n| AttemptCounts {
            address: n,
            address_oldest_at: 0,
            username: n,
            username_from_address: n,
            username_latest_at: 100,
        };
        assert_eq!(judge(&POLICY, &at(4), 100), None);
        assert_eq!(judge(&POLICY, &at(5), 100), Some(1));
        assert_eq!(judge(&POLICY, &at(8), 100), Some(8));
        assert_eq!(judge(&POLICY, &at(8), 108), None, "the wait has passed");
        assert_eq!(
            judge(&POLICY, &at(19), 100),
            Some(900),
            "capped at the window"
        );
    }

    #[test]
    fn an_address_that_never_failed_is_never_refused_for_a_username() {
        let counts = AttemptCounts {
            address: 0,
            address_oldest_at: 0,
            username: 400,
            username_from_address: 0,
            username_latest_at: 100,
        };
        assert_eq!(judge(&POLICY, &counts, 100), None);
    }

    #[test]
    fn an_address_with_many_failures_waits_for_the_oldest_to_expire() {
        let counts = AttemptCounts {
            address: 20,
            address_oldest_at: 50,
            username: 0,
            username_from_address: 0,
            username_latest_at: 0,
        };
        assert_eq!(judge(&POLICY, &counts, 100), Some(850));
    }
}
