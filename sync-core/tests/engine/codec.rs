//! The stored form of a record's merge state: it round-trips exactly, and
//! corrupt bytes are an error, never a panic.

use proptest::prelude::*;
use sync_core::codec::{decode, encode, DecodeError};
use sync_core::RecordState;

use crate::merge_laws::{merged, run, step};

fn states(script: &[crate::merge_laws::Step]) -> Vec<RecordState> {
    merged(&run(script))
        .records()
        .map(|(_, s)| s.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn a_state_round_trips_through_its_stored_form(script in prop::collection::vec(step(), 1..60)) {
        for state in states(&script) {
            let bytes = encode(&state);
            prop_assert_eq!(decode(&bytes).unwrap(), state);
        }
    }

    #[test]
    fn corrupt_stored_states_are_errors_not_panics(
        script in prop::collection::vec(step(), 1..30),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        for state in states(&script) {
            let bytes = encode(&state);
            let mut corrupt = bytes.clone();
            for (at, byte) in &flips {
                let i = at.index(corrupt.len());
                corrupt[i] = *byte;
            }
            let _ = decode(&corrupt);
            let truncated = &bytes[..cut.index(bytes.len())];
            prop_assert!(decode(truncated).is_err());
        }
    }

    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }
}

#[test]
fn an_empty_state_and_a_wrong_version_are_told_apart() {
    let empty = encode(&RecordState::new());
    assert_eq!(decode(&empty).unwrap(), RecordState::new());
    assert_eq!(decode(&[9, 0]), Err(DecodeError::Version(9)));
    assert_eq!(decode(&[]), Err(DecodeError::Truncated));
    assert_eq!(decode(&[1, 0, 0]), Err(DecodeError::Trailing(1)));
}
