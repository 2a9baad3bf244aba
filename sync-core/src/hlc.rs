//! Hybrid logical clocks: the `WWWWWWWWWWWWW-CCCC-NODE` timestamps of PROTOCOL.md section 2.
//!
//! An [`Hlc`] is a plain `Copy` value whose derived ordering equals the byte
//! order of its string form, so the engine can compare clocks without ever
//! formatting them. [`HlcClock`] holds the send and receive rules; it reads
//! physical time through the [`Clock`] trait so tests can drive it by hand.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

/// A received clock more than this far ahead of local physical time does not
/// advance the local clock (PROTOCOL.md section 2).
pub const MAX_FORWARD_SKEW_MS: u64 = 5 * 60 * 1000;

/// The largest wall time the 13-digit string form can carry (year 2286).
pub const MAX_WALL_MS: u64 = 9_999_999_999_999;

/// The node part of an HLC: a device id, or the server.
///
/// `Device` sorts before `Server` because in the string form every UUID starts
/// with a hex digit, and `'s'` sorts after all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    Device(Uuid),
    Server,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Device(id) => write!(f, "{}", id.hyphenated()),
            Node::Server => f.write_str("server"),
        }
    }
}

/// A hybrid logical clock timestamp.
///
/// Packed into 24 bytes because the merge state keeps one per head and per
/// superseded mark: `time` is the wall milliseconds shifted left 16 bits plus
/// the counter, and `node` is the device UUID's bytes, or all `0xff` for the
/// server (the max UUID is reserved for it). The derived `Ord` (time, then
/// node bytes) is exactly the byte order of the string form.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hlc {
    time: u64,
    node: [u8; 16],
}

const SERVER_NODE: [u8; 16] = [0xff; 16];

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({self})")
    }
}

/// Why a string is not a valid HLC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HlcParseError {
    #[error("an hlc is `WWWWWWWWWWWWW-CCCC-NODE` (13 digits, 4 lowercase hex digits, a device uuid or `server`)")]
    Malformed,
    #[error("the node part of an hlc must be a lowercase hyphenated uuid or `server`")]
    BadNode,
}

impl Hlc {
    /// Builds an HLC, saturating the wall time at [`MAX_WALL_MS`].
    pub fn new(wall_ms: u64, counter: u16, node: Node) -> Self {
        let node = match node {
            Node::Device(id) => id.into_bytes(),
            Node::Server => SERVER_NODE,
        };
        Hlc {
            time: (wall_ms.min(MAX_WALL_MS) << 16) | u64::from(counter),
            node,
        }
    }

    pub fn wall_ms(&self) -> u64 {
        self.time >> 16
    }

    pub fn counter(&self) -> u16 {
        // The low 16 bits are the counter; the cast keeps exactly those.
        (self.time & 0xffff) as u16
    }

    pub fn node(&self) -> Node {
        if self.node == SERVER_NODE {
            Node::Server
        } else {
            Node::Device(Uuid::from_bytes(self.node))
        }
    }

    /// A 24-byte form whose byte order is the clock order, for storage keys.
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&self.time.to_be_bytes());
        out[8..].copy_from_slice(&self.node);
        out
    }

    /// The inverse of [`Hlc::to_bytes`]; `None` when the wall time is out of range.
    pub fn from_bytes(bytes: [u8; 24]) -> Option<Hlc> {
        let mut time = [0u8; 8];
        time.copy_from_slice(&bytes[..8]);
        let time = u64::from_be_bytes(time);
        let mut node = [0u8; 16];
        node.copy_from_slice(&bytes[8..]);
        (time >> 16 <= MAX_WALL_MS).then_some(Hlc { time, node })
    }

    /// The wall time as an RFC 3339 UTC timestamp with millisecond precision.
    pub fn to_rfc3339(&self) -> String {
        let millis = i64::try_from(self.wall_ms()).unwrap_or(i64::MAX);
        chrono::DateTime::from_timestamp_millis(millis)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:013}-{:04x}-{}",
            self.wall_ms(),
            self.counter(),
            self.node()
        )
    }
}

impl FromStr for Hlc {
    type Err = HlcParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() < 20 || b[13] != b'-' || b[18] != b'-' {
            return Err(HlcParseError::Malformed);
        }
        let wall = &b[..13];
        let counter = &b[14..18];
        if !wall.iter().all(u8::is_ascii_digit) {
            return Err(HlcParseError::Malformed);
        }
        if !counter
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        {
            return Err(HlcParseError::Malformed);
        }
        // Both slices were checked to be ASCII digits, so these parses cannot fail.
        let wall_ms = s[..13].parse().map_err(|_| HlcParseError::Malformed)?;
        let counter = u16::from_str_radix(&s[14..18], 16).map_err(|_| HlcParseError::Malformed)?;
        let node = parse_node(&s[19..])?;
        Ok(Hlc::new(wall_ms, counter, node))
    }
}

fn parse_node(s: &str) -> Result<Node, HlcParseError> {
    if s == "server" {
        return Ok(Node::Server);
    }
    match parse_canonical_uuid(s) {
        // The max UUID stands for the server inside an Hlc; no device may use it.
        Some(id) if id != Uuid::max() => Ok(Node::Device(id)),
        _ => Err(HlcParseError::BadNode),
    }
}

/// Parses a UUID only in the protocol's canonical form: lowercase and hyphenated.
pub fn parse_canonical_uuid(s: &str) -> Option<Uuid> {
    if s.len() != 36 || s.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    Uuid::try_parse(s).ok()
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Hlc {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(
                "^[0-9]{13}-[0-9a-f]{4}-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|server)$",
            ))
            .description(Some(
                "A hybrid logical clock: 13-digit wall milliseconds, 4 lowercase hex counter digits, node (device uuid or `server`). Byte order is clock order.",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Hlc {}

impl serde::Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A source of physical time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            // A clock set before 1970 reads as the epoch; the HLC stays monotonic anyway.
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(now_ms: u64) -> Self {
        ManualClock(AtomicU64::new(now_ms))
    }

    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    pub fn advance(&self, by_ms: u64) {
        self.0.fetch_add(by_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What happened when a remote HLC was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The local clock now orders after the remote one.
    Advanced,
    /// The remote wall time is more than [`MAX_FORWARD_SKEW_MS`] ahead of local
    /// physical time, so the local clock was left where it was.
    IgnoredSkew { ahead_ms: u64 },
}

/// The HLC state of one node: the last timestamp it issued or observed.
///
/// Persist [`HlcClock::last`] and restore it with [`HlcClock::resume`] so that
/// timestamps never go backwards, even when the phone's clock does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlcClock {
    node: Node,
    wall_ms: u64,
    counter: u16,
}

impl HlcClock {
    /// A clock that has issued nothing yet.
    pub fn new(node: Node) -> Self {
        HlcClock {
            node,
            wall_ms: 0,
            counter: 0,
        }
    }

    /// A clock that continues after a persisted timestamp.
    pub fn resume(node: Node, last: Hlc) -> Self {
        HlcClock {
            node,
            wall_ms: last.wall_ms(),
            counter: last.counter(),
        }
    }

    pub fn node(&self) -> Node {
        self.node
    }

    /// The last timestamp issued or observed, for persisting.
    pub fn last(&self) -> Hlc {
        Hlc::new(self.wall_ms, self.counter, self.node)
    }

    /// Issues a timestamp for a local event (the HLC send rule).
    pub fn tick(&mut self, now_ms: u64) -> Hlc {
        let now_ms = now_ms.min(MAX_WALL_MS);
        if now_ms > self.wall_ms {
            self.wall_ms = now_ms;
            self.counter = 0;
        } else {
            self.bump_counter(self.counter);
        }
        self.last()
    }

    /// Takes a remote timestamp into account (the HLC receive rule, with the
    /// forward-skew guard): after this, [`HlcClock::tick`] orders after `remote`.
    pub fn observe(&mut self, remote: Hlc, now_ms: u64) -> Observed {
        let now_ms = now_ms.min(MAX_WALL_MS);
        let (remote_wall, remote_counter) = (remote.wall_ms(), remote.counter());
        if remote_wall > now_ms.saturating_add(MAX_FORWARD_SKEW_MS) {
            return Observed::IgnoredSkew {
                ahead_ms: remote_wall - now_ms,
            };
        }
        let wall = self.wall_ms.max(remote_wall).max(now_ms);
        let local_same = wall == self.wall_ms;
        let remote_same = wall == remote_wall;
        let base_counter = match (local_same, remote_same) {
            (true, true) => Some(self.counter.max(remote_counter)),
            (true, false) => Some(self.counter),
            (false, true) => Some(remote_counter),
            (false, false) => None,
        };
        self.wall_ms = wall;
        match base_counter {
            Some(c) => self.bump_counter(c),
            None => self.counter = 0,
        }
        Observed::Advanced
    }

    /// Sets the counter to `from + 1`; on overflow, moves the wall time one
    /// millisecond ahead instead, so the clock never repeats or goes back.
    fn bump_counter(&mut self, from: u16) {
        match from.checked_add(1) {
            Some(c) => self.counter = c,
            None => {
                self.wall_ms = (self.wall_ms + 1).min(MAX_WALL_MS);
                self.counter = 0;
            }
        }
    }
}
