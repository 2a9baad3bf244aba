//! The merge laws, as properties: random offline work on several devices,
//! delivered in any order, duplicated and grouped at random, converges.

use proptest::prelude::*;
use sync_core::{
    Change, Collection, Field, Hlc, HlcClock, Key, Node, RecordState, Replica, Value, Write,
};
use uuid::Uuid;

use crate::fixtures::T0;

const DEVICES: usize = 4;
const RECORDS: usize = 3;

/// One step of a random script.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// A device edits one or two keys of a record with what it has seen.
    Edit {
        device: usize,
        record: usize,
        keys: Vec<(u8, u8)>,
        clock_ms: i64,
    },
    /// A device receives some of what another device knows (a partial sync).
    Receive {
        from: usize,
        to: usize,
        keep_one_in: u8,
    },
}

pub(crate) fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..DEVICES, 0..RECORDS, prop::collection::vec((0u8..8, 0u8..4), 1..3), -5_000i64..5_000)
            .prop_map(|(device, record, keys, clock_ms)| Step::Edit { device, record, keys, clock_ms }),
        2 => (0..DEVICES, 0..DEVICES, 1u8..3)
            .prop_map(|(from, to, keep_one_in)| Step::Receive { from, to, keep_one_in }),
    ]
}

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0b7e_0000_0000_4000_8000_0000_0000_0000 + n)
}

/// Key choice 0..8 and value choice 0..4 become a key of `sessions` and a value for it.
fn write_for(key: u8, value: u8) -> (Key, Value) {
    match key {
        0 | 1 => (
            Key::field(Field::Notes),
            Value::text(["ก", "ข", "ค", "ง"][value as usize]),
        ),
        2 => (
            Key::field(Field::DurationMin),
            Value::Int(10 + i64::from(value)),
        ),
        3 => (
            Key::field(Field::Outcome),
            if value == 0 {
                Value::Null
            } else {
                Value::text("resolved")
            },
        ),
        4 => (
            Key::field(Field::Deleted),
            Value::Bool(value.is_multiple_of(2)),
        ),
        _ => (
            Key::member(Field::BeneficiaryIds, uuid(u128::from(key))),
            Value::Bool(value != 0),
        ),
    }
}

struct Device {
    _id: Uuid,
    clock: HlcClock,
    replica: Replica,
    seq: u64,
    /// Indices into the list of all changes that this device holds.
    known: Vec<usize>,
}

/// Runs a script and returns every change any device made, in creation order.
pub(crate) fn run(script: &[Step]) -> Vec<Change> {
    let mut devices: Vec<Device> = (0..DEVICES)
        .map(|i| {
            let id = uuid(100 + i as u128);
            Device {
                _id: id,
                clock: HlcClock::new(Node::Device(id)),
                replica: Replica::new(),
                seq: 0,
                known: vec![],
            }
        })
        .collect();
    let mut all: Vec<Change> = Vec::new();
    for (t, step) in script.iter().enumerate() {
        match step {
            Step::Edit {
                device,
                record,
                keys,
                clock_ms,
            } => {
                let d = &mut devices[*device];
                let record_id = uuid(1000 + *record as u128);
                let now = (T0 as i64 + t as i64 * 100 + clock_ms) as u64;
                let hlc = d.clock.tick(now);
                let state = d
                    .replica
                    .get(Collection::Sessions, record_id)
                    .cloned()
                    .unwrap_or_default();
                let mut writes: Vec<Write> = keys
                    .iter()
                    .map(|(k, v)| {
                        let (key, value) = write_for(*k, *v);
                        state.resolve(key, value)
                    })
                    .collect();
                writes.sort_by_key(|w| w.key);
                writes.dedup_by_key(|w| w.key);
                d.seq += 1;
                let change = Change {
                    id: Uuid::from_u128(all.len() as u128 + 1),
                    device_seq: d.seq,
                    collection: Collection::Sessions,
                    record_id,
                    hlc,
                    author: uuid(200 + *device as u128),
                    writes,
                };
                d.replica.apply(&change);
                d.known.push(all.len());
                all.push(change);
            }
            Step::Receive {
                from,
                to,
                keep_one_in,
            } => {
                if from == to {
                    continue;
                }
                let incoming: Vec<usize> = devices[*from]
                    .known
                    .iter()
                    .copied()
                    .filter(|i| i % usize::from(*keep_one_in) == 0)
                    .collect();
                let now = T0 + t as u64 * 100;
                let d = &mut devices[*to];
                for i in incoming {
                    if !d.known.contains(&i) {
                        d.replica.apply(&all[i]);
                        d.clock.observe(all[i].hlc, now);
                        d.known.push(i);
                    }
                }
            }
        }
    }
    all
}

/// A small deterministic generator for shuffles (splitmix64).
struct Mix(u64);

impl Mix {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % below.max(1) as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.next(i + 1));
        }
    }
}

pub(crate) fn merged<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Replica {
    let mut replica = Replica::new();
    for change in changes {
        replica.apply(change);
    }
    replica
}

/// Every record rendered, sorted: what a user would see.
fn rendered(replica: &Replica) -> Vec<String> {
    let mut out: Vec<String> = replica
        .records()
        .map(|((c, id), state)| serde_json::to_string(&state.render(*c, *id)).unwrap())
        .collect();
    out.sort();
    out
}

/// The same changes in a random order, with random duplicates.
fn shuffled_with_duplicates(changes: &[Change], mix: &mut Mix) -> Vec<Change> {
    let mut out = changes.to_vec();
    for _ in 0..mix.next(changes.len() + 1) {
        out.push(changes[mix.next(changes.len())].clone());
    }
    mix.shuffle(&mut out);
    out
}

/// The same changes split into random batches, each merged on its own replica,
/// and the replicas joined in a random order.
fn grouped_and_joined(changes: &[Change], mix: &mut Mix) -> Replica {
    let groups = 1 + mix.next(5);
    let mut parts = vec![Replica::new(); groups];
    for change in changes {
        parts[mix.next(groups)].apply(change);
    }
    mix.shuffle(&mut parts);
    let mut out = Replica::new();
    for part in &parts {
        out.join(part);
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 400,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_order_duplication_and_grouping_converges(
        script in prop::collection::vec(step(), 1..60),
        seed in any::<u64>(),
    ) {
        let changes = run(&script);
        prop_assume!(!changes.is_empty());
        let reference = merged(&changes);
        let mut mix = Mix(seed);
        for _ in 0..4 {
            let replay = merged(&shuffled_with_duplicates(&changes, &mut mix));
            prop_assert_eq!(&replay, &reference);
            prop_assert_eq!(rendered(&replay), rendered(&reference));
            let joined = grouped_and_joined(&changes, &mut mix);
            prop_assert_eq!(&joined, &reference);
        }
        // Merging a slice at once is the same as one by one.
        let mut all_at_once = Replica::new();
        all_at_once.apply_all(&shuffled_with_duplicates(&changes, &mut mix));
        prop_assert_eq!(&all_at_once, &reference);
        // Merging everything again changes nothing (idempotence).
        let mut again = reference.clone();
        for change in &changes {
            prop_assert!(!again.apply(change));
        }
        prop_assert_eq!(&again, &reference);
    }

    #[test]
    fn a_write_whose_base_covers_the_heads_wins_whatever_its_clock(
        script in prop::collection::vec(step(), 1..40),
        seed in any::<u64>(),
        key in 0u8..8,
        value in 0u8..4,
        wall in prop_oneof![Just(0u64), Just(T0 - 1), Just(T0 + 10_000_000)],
    ) {
        let changes = run(&script);
        prop_assume!(!changes.is_empty());
        let reference = merged(&changes);
        let target = changes[seed as usize % changes.len()].record_id;
        let state = reference.get(Collection::Sessions, target).unwrap();
        let (key, value) = write_for(key, value);
        let writer = uuid(999);
        let winning = Change {
            id: Uuid::from_u128(u128::MAX),
            device_seq: 1,
            collection: Collection::Sessions,
            record_id: target,
            hlc: Hlc::new(wall, 0, Node::Device(writer)),
            author: writer,
            writes: vec![state.resolve(key, value.clone())],
        };
        let mut mix = Mix(seed);
        for _ in 0..3 {
            let mut all = shuffled_with_duplicates(&changes, &mut mix);
            let at = mix.next(all.len() + 1);
            all.insert(at, winning.clone());
            let replica = merged(&all);
            let record = replica.get(Collection::Sessions, target).unwrap();
            prop_assert_eq!(record.value(&key), Some(&value));
            prop_assert!(record.conflicts().iter().all(|c| c.key != key));
            prop_assert_eq!(record.heads(&key).len(), 1);
        }
    }

    #[test]
    fn conflicts_show_alike_everywhere_and_one_resolution_clears_them(
        script in prop::collection::vec(step(), 1..60),
        seed in any::<u64>(),
    ) {
        let changes = run(&script);
        prop_assume!(!changes.is_empty());
        let reference = merged(&changes);
        let mut mix = Mix(seed);
        let replicas: Vec<Replica> =
            (0..3).map(|_| merged(&shuffled_with_duplicates(&changes, &mut mix))).collect();
        for ((collection, id), state) in reference.records() {
            let expected = state.conflicts();
            for replica in &replicas {
                prop_assert_eq!(&replica.get(*collection, *id).unwrap().conflicts(), &expected);
            }
            // A manager resolves every conflict of the record on one replica.
            let Some(first) = expected.first() else { continue };
            let resolver = uuid(998);
            let writes: Vec<Write> = expected
                .iter()
                .map(|c| state.resolve(c.key, c.heads[c.heads.len() - 1].value.clone()))
                .collect();
            let resolution = Change {
                id: Uuid::from_u128(u128::MAX - 1),
                device_seq: 1,
                collection: *collection,
                record_id: *id,
                hlc: Hlc::new(first.heads[0].hlc.wall_ms(), 0, Node::Device(resolver)),
                author: resolver,
                writes,
            };
            let mut resolved: Vec<RecordState> = Vec::new();
            for replica in &replicas {
                let mut replica = replica.clone();
                replica.apply(&resolution);
                let record = replica.get(*collection, *id).unwrap();
                prop_assert!(record.conflicts().is_empty());
                resolved.push(record.clone());
            }
            prop_assert!(resolved.windows(2).all(|w| w[0] == w[1]));
        }
    }
}

#[test]
fn concurrent_edits_keep_the_loser_and_show_the_conflict() {
    let (a, b) = (uuid(1), uuid(2));
    let record = uuid(3);
    let key = Key::field(Field::Notes);
    let create = Change {
        id: uuid(10),
        device_seq: 1,
        collection: Collection::Sessions,
        record_id: record,
        hlc: Hlc::new(T0, 0, Node::Device(a)),
        author: a,
        writes: vec![Write::new(key, Value::text("เริ่ม"), vec![])],
    };
    let edit = |id, device: Uuid, wall, text| Change {
        id: uuid(id),
        device_seq: 2,
        collection: Collection::Sessions,
        record_id: record,
        hlc: Hlc::new(wall, 0, Node::Device(device)),
        author: device,
        writes: vec![Write::new(key, Value::text(text), vec![create.hlc])],
    };
    let from_a = edit(11, a, T0 + 10, "ของ A");
    let from_b = edit(12, b, T0 + 20, "ของ B");
    let state = merged([&create, &from_a, &from_b])
        .get(Collection::Sessions, record)
        .unwrap()
        .clone();
    assert_eq!(state.value(&key), Some(&Value::text("ของ B")));
    let conflicts = state.conflicts();
    assert_eq!(conflicts.len(), 1);
    let heads: Vec<&Value> = conflicts[0].heads.iter().map(|h| &h.value).collect();
    assert_eq!(heads, [&Value::text("ของ B"), &Value::text("ของ A")]);
    let rendered = state.render(Collection::Sessions, record);
    assert_eq!(rendered.conflicts[0].key, "notes");
    assert_eq!(rendered.conflicts[0].heads[1].author, a);
}

#[test]
fn a_set_member_added_and_removed_concurrently_stays_added() {
    let (a, b) = (uuid(1), uuid(2));
    let key = Key::member(Field::BeneficiaryIds, uuid(50));
    let add = Write::new(key, Value::Bool(true), vec![]);
    let first = Change {
        id: uuid(10),
        device_seq: 1,
        collection: Collection::Sessions,
        record_id: uuid(3),
        hlc: Hlc::new(T0, 0, Node::Device(a)),
        author: a,
        writes: vec![add],
    };
    let readd = Change {
        id: uuid(11),
        hlc: Hlc::new(T0 + 1, 0, Node::Device(a)),
        writes: vec![Write::new(key, Value::Bool(true), vec![first.hlc])],
        ..first.clone()
    };
    let remove = Change {
        id: uuid(12),
        hlc: Hlc::new(T0 + 2, 0, Node::Device(b)),
        author: b,
        writes: vec![Write::new(key, Value::Bool(false), vec![first.hlc])],
        ..first.clone()
    };
    let state = merged([&first, &readd, &remove])
        .get(Collection::Sessions, uuid(3))
        .unwrap()
        .clone();
    assert_eq!(state.value(&key), Some(&Value::Bool(true)));
    assert_eq!(state.members(Field::BeneficiaryIds), vec![uuid(50)]);
    assert_eq!(
        state.render(Collection::Sessions, uuid(3)).fields["beneficiary_ids"],
        serde_json::json!([uuid(50)])
    );
}

/// Guards the properties above against passing vacuously: the scripts they run
/// must produce conflicts and deliveries of a write before its base.
#[test]
fn random_scripts_produce_conflicts_and_out_of_order_bases() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = prop::collection::vec(step(), 40..60);
    let (mut with_conflicts, mut with_stale_bases) = (0, 0);
    for _ in 0..100 {
        let changes = run(&strategy.new_tree(&mut runner).unwrap().current());
        let replica = merged(&changes);
        if replica.records().any(|(_, s)| !s.conflicts().is_empty()) {
            with_conflicts += 1;
        }
        // In reverse creation order, a based-on write arrives after the write naming it.
        if changes
            .iter()
            .any(|c| c.writes.iter().any(|w| !w.base.is_empty()))
        {
            with_stale_bases += 1;
        }
    }
    assert!(
        with_conflicts >= 20,
        "only {with_conflicts} of 100 scripts made a conflict"
    );
    assert!(
        with_stale_bases >= 50,
        "only {with_stale_bases} of 100 scripts wrote with a base"
    );
}
