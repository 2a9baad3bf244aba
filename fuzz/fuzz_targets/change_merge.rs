//! Change decoding and merge in sync-core, from arbitrary bytes: the first
//! byte picks the path. Even: the bytes are a record state blob for
//! `codec::decode` (what a corrupt SQLite row or client database would hold).
//! Odd: the bytes are a JSON list of wire changes, decoded with
//! `Change::decode`, merged into record states in delivery order and in
//! reverse order (merging must not depend on order), then rendered.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use sync_core::{codec, Change, ChangeDto, Collection, RecordState, Rules};
use uuid::Uuid;

const AUTHOR: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);

fn merged<'a>(changes: impl Iterator<Item = &'a Change>) -> BTreeMap<(String, Uuid), RecordState> {
    let mut states: BTreeMap<(String, Uuid), RecordState> = BTreeMap::new();
    for change in changes {
        let key = (change.collection.name().to_owned(), change.record_id);
        states.entry(key).or_default().apply(change);
    }
    states
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(state) = codec::decode(rest) {
            let again = codec::decode(&codec::encode(&state)).expect("an encoded state decodes");
            assert_eq!(again, state, "encode and decode round-trip");
            let _ = state.render(Collection::Sessions, AUTHOR);
            let _ = state.conflicts();
        }
        return;
    }
    let Ok(dtos) = serde_json::from_slice::<Vec<ChangeDto>>(rest) else {
        return;
    };
    let rules = Rules::at(1_764_000_000_000);
    let changes: Vec<Change> = dtos
        .iter()
        .filter_map(|d| Change::decode(d, AUTHOR, &rules).ok())
        .collect();
    let forward = merged(changes.iter());
    let backward = merged(changes.iter().rev());
    assert_eq!(forward, backward, "merge depends on delivery order");
    for ((collection, id), state) in &forward {
        let collection = Collection::parse(collection).expect("a decoded collection");
        let record = state.render(collection, *id);
        let _ = serde_json::to_string(&record).expect("a rendered record serializes");
        let blob = codec::encode(state);
        assert_eq!(&codec::decode(&blob).expect("round-trip"), state);
    }
});
