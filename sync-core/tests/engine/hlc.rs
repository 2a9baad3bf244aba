//! Hybrid logical clock edge cases.

use sync_core::hlc::{HlcParseError, MAX_FORWARD_SKEW_MS};
use sync_core::{Hlc, HlcClock, Node, Observed};
use uuid::Uuid;

use crate::fixtures::T0;

fn device() -> Node {
    Node::Device(Uuid::new_v4())
}

#[test]
fn hlc_string_form_round_trips_and_orders_like_its_bytes() {
    let a = Uuid::parse_str("6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11").unwrap();
    let text = "1732070462123-00ff-6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11";
    let hlc: Hlc = text.parse().unwrap();
    assert_eq!(hlc.wall_ms(), 1_732_070_462_123);
    assert_eq!(hlc.counter(), 255);
    assert_eq!(hlc.node(), Node::Device(a));
    assert_eq!(hlc.to_string(), text);

    let samples = [
        "0000000000000-0000-00000000-0000-0000-0000-000000000000",
        "1732070462123-0000-6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11",
        "1732070462123-0000-ffffffff-8d1e-4c55-9a37-2f3d1c9e0a11",
        "1732070462123-0000-server",
        "1732070462123-000a-00000000-8d1e-4c55-9a37-2f3d1c9e0a11",
        "1732070462123-ffff-00000000-8d1e-4c55-9a37-2f3d1c9e0a11",
        "1732070462124-0000-00000000-8d1e-4c55-9a37-2f3d1c9e0a11",
        "9999999999999-ffff-server",
    ];
    for x in samples {
        for y in samples {
            let (hx, hy): (Hlc, Hlc) = (x.parse().unwrap(), y.parse().unwrap());
            assert_eq!(hx.cmp(&hy), x.cmp(y), "{x} vs {y}");
        }
    }
}

#[test]
fn malformed_hlc_strings_are_refused() {
    let bad = [
        "",
        "1732070462123-0000",
        "173207046212-0000-server",
        "17320704621234-0000-server",
        "1732070462123-00G0-server",
        "1732070462123-00A0-server",
        "1732070462123_0000-server",
        "1732070462123-0000-Server",
        "1732070462123-0000-6F1C0B2E-8D1E-4C55-9A37-2F3D1C9E0A11",
        "1732070462123-0000-6f1c0b2e8d1e4c559a372f3d1c9e0a11",
        "+732070462123-0000-server",
        "1732070462123-0000-server ",
        "๑๗๓๒๐๗๐๔๖๒๑๒๓-0000-server",
    ];
    for s in bad {
        assert!(s.parse::<Hlc>().is_err(), "{s:?} should not parse");
    }
    assert_eq!(
        "1732070462123-0000-somebody".parse::<Hlc>(),
        Err(HlcParseError::BadNode)
    );
}

#[test]
fn ticks_at_the_same_wall_time_count_up() {
    let mut clock = HlcClock::new(device());
    let a = clock.tick(T0);
    let b = clock.tick(T0);
    let c = clock.tick(T0);
    assert_eq!((a.wall_ms(), a.counter()), (T0, 0));
    assert_eq!((b.wall_ms(), b.counter()), (T0, 1));
    assert_eq!((c.wall_ms(), c.counter()), (T0, 2));
    let d = clock.tick(T0 + 1);
    assert_eq!((d.wall_ms(), d.counter()), (T0 + 1, 0));
}

#[test]
fn counter_overflow_moves_the_wall_time_forward_instead_of_wrapping() {
    let node = device();
    let mut clock = HlcClock::resume(node, Hlc::new(T0, u16::MAX - 1, node));
    let a = clock.tick(T0);
    let b = clock.tick(T0);
    assert_eq!((a.wall_ms(), a.counter()), (T0, u16::MAX));
    assert_eq!((b.wall_ms(), b.counter()), (T0 + 1, 0));
    assert!(a < b);
}

#[test]
fn a_phone_clock_reset_to_1970_keeps_timestamps_increasing() {
    let mut clock = HlcClock::new(device());
    let before = clock.tick(T0);
    let mut prev = before;
    for _ in 0..1000 {
        let next = clock.tick(0);
        assert!(next > prev, "{next} must order after {prev}");
        prev = next;
    }
    assert_eq!(
        prev.wall_ms(),
        T0,
        "a clock reset must not move the wall part back"
    );
}

#[test]
fn resuming_a_persisted_clock_never_goes_backwards() {
    let node = device();
    let mut clock = HlcClock::new(node);
    let last = clock.tick(T0 + 10_000);
    let mut resumed = HlcClock::resume(node, clock.last());
    assert!(resumed.tick(T0) > last);
}

#[test]
fn a_received_clock_3_days_ahead_does_not_drag_the_local_clock() {
    let mut clock = HlcClock::new(device());
    let three_days = 3 * 24 * 3600 * 1000;
    let remote = Hlc::new(T0 + three_days, 7, Node::Server);
    assert_eq!(
        clock.observe(remote, T0),
        Observed::IgnoredSkew {
            ahead_ms: three_days
        }
    );
    assert_eq!(clock.tick(T0).wall_ms(), T0);
}

#[test]
fn a_received_clock_within_the_skew_window_is_followed() {
    let mut clock = HlcClock::new(device());
    clock.tick(T0);
    let remote = Hlc::new(T0 + MAX_FORWARD_SKEW_MS, 7, Node::Server);
    assert_eq!(clock.observe(remote, T0), Observed::Advanced);
    let next = clock.tick(T0);
    assert!(next > remote);
    assert_eq!(
        (next.wall_ms(), next.counter()),
        (T0 + MAX_FORWARD_SKEW_MS, 9)
    );
}

#[test]
fn receiving_at_equal_wall_times_takes_the_larger_counter() {
    let mut clock = HlcClock::new(device());
    clock.tick(T0);
    clock.tick(T0);
    assert_eq!(
        clock.observe(Hlc::new(T0, 40, Node::Server), T0),
        Observed::Advanced
    );
    assert_eq!(clock.last().counter(), 41);
    clock.observe(Hlc::new(T0, 3, Node::Server), T0);
    assert_eq!(clock.last().counter(), 42);
}

#[test]
fn receiving_an_older_clock_still_advances_the_counter() {
    let mut clock = HlcClock::new(device());
    clock.tick(T0);
    clock.observe(Hlc::new(T0 - 5_000, 99, Node::Server), T0 - 10_000);
    assert_eq!((clock.last().wall_ms(), clock.last().counter()), (T0, 1));
    // Physical time moved past both: the counter starts again.
    clock.observe(Hlc::new(T0 - 5_000, 99, Node::Server), T0 + 1);
    assert_eq!(
        (clock.last().wall_ms(), clock.last().counter()),
        (T0 + 1, 0)
    );
}

#[test]
fn hlc_renders_its_wall_time_as_rfc3339() {
    let hlc = Hlc::new(1_732_070_462_123, 0, Node::Server);
    assert_eq!(hlc.to_rfc3339(), "2024-11-20T02:41:02.123Z");
}

#[test]
fn the_max_uuid_is_reserved_for_the_server_node() {
    assert!("1732070462123-0000-ffffffff-ffff-ffff-ffff-ffffffffffff"
        .parse::<Hlc>()
        .is_err());
    let server: Hlc = "1732070462123-0000-server".parse().unwrap();
    assert_eq!(server.node(), Node::Server);
    assert_eq!(std::mem::size_of::<Hlc>(), 24);
}
