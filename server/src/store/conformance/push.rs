//! Conformance: pushes (idempotency and the sequence rules), and pull
//! cursors under concurrent writers.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;
use sync_core::{ChangeDto, PushStatus, Role};
use uuid::Uuid;

use super::{
    actor, centre, change, conformance, pull_all, push, push_counting, session_fields, Fixture,
};
use crate::store::postgres::PostgresStore;
use crate::store::{ReadScope, Store};

fn codes(outcome: &crate::sync::push::PushOutcome) -> Vec<String> {
    outcome
        .results
        .iter()
        .map(|r| match r.status {
            PushStatus::Applied => "applied".to_owned(),
            PushStatus::Duplicate => "duplicate".to_owned(),
            PushStatus::Rejected => r.code.clone().unwrap_or_default(),
        })
        .collect()
}

fn sessions(who: &super::Actor, seqs: std::ops::RangeInclusive<u64>) -> Vec<ChangeDto> {
    seqs.map(|seq| {
        change(
            who,
            seq,
            "sessions",
            Uuid::now_v7(),
            session_fields(who, "welfare_rights"),
        )
    })
    .collect()
}

fn a_resent_batch_is_answered_as_before_and_logged_once(f: &Fixture) {
    let store = f.store.as_ref();
    centre(store, "C0001");
    let somchai = actor(store, "somchai", Role::Volunteer, Some("C0001"));
    let batch = sessions(&somchai, 1..=5);
    let first = push(store, &somchai, &batch);
    assert_eq!(codes(&first), ["applied"; 5]);
    assert_eq!(first.acked_seq, 5);
    let again = push(store, &somchai, &batch);
    assert_eq!(codes(&again), ["duplicate"; 5]);
    assert_eq!(again.acked_seq, 5);
    let (ids, _) = pull_all(store, ReadScope::All, 0, 2);
    let sent: Vec<Uuid> = batch.iter().map(|c| c.id.parse().unwrap()).collect();
    assert_eq!(ids, sent, "each change once, in push order");
}

fn the_sequence_rules_hold_and_a_rejection_keeps_its_slot(f: &Fixture) {
    let store = f.store.as_ref();
    centre(store, "C0001");
    let somchai = actor(store, "somchai", Role::Volunteer, Some("C0001"));
    let somsri = actor(store, "somsri", Role::Volunteer, Some("C0001"));
    let mut batch = sessions(&somchai, 1..=2);
    // Refused for its content, it still takes sequence 3.
    batch.push(change(
        &somchai,
        3,
        "sessions",
        Uuid::now_v7(),
        session_fields(&somchai, "fortune_telling"),
    ));
    // 5 after 3: a gap.
    batch.extend(sessions(&somchai, 5..=5));
    let outcome = push(store, &somchai, &batch);
    assert_eq!(
        codes(&outcome),
        ["applied", "applied", "invalid_value", "seq_gap"]
    );
    assert_eq!(outcome.acked_seq, 3);

    // The rejected change sent again gets the same answer; another change
    // at a taken sequence is a reuse; an id somebody else used is refused.
    let mut reused = batch[0].clone();
    reused.id = Uuid::now_v7().to_string();
    let mut taken = sessions(&somsri, 1..=1);
    taken[0].id = batch[1].id.clone();
    let outcome = push(store, &somchai, &[batch[2].clone(), reused]);
    assert_eq!(codes(&outcome), ["invalid_value", "seq_reused"]);
    let outcome = push(store, &somsri, &taken);
    assert_eq!(codes(&outcome), ["change_id_reused"]);
    // Two changes with one id in one batch: the second is refused.
    let mut twins = sessions(&somsri, 2..=3);
    twins[1].id = twins[0].id.clone();
    assert_eq!(
        codes(&push(store, &somsri, &twins)),
        ["applied", "change_id_reused"]
    );
    let (ids, _) = pull_all(store, ReadScope::All, 0, 100);
    assert_eq!(ids.len(), 3, "two of somchai's and one of somsri's");
}

fn an_unknown_centre_is_refused_and_an_edit_merges_into_the_stored_record(f: &Fixture) {
    let store = f.store.as_ref();
    centre(store, "C0001");
    let somchai = actor(store, "somchai", Role::Volunteer, Some("C0001"));
    let admin = actor(store, "boss", Role::Admin, None);
    let record = Uuid::now_v7();
    let mut fields = session_fields(&somchai, "welfare_rights");
    fields["centre_id"] = json!({"value": "C9999"});
    let nowhere = change(&admin, 1, "sessions", Uuid::now_v7(), fields.clone());
    assert_eq!(codes(&push(store, &admin, &[nowhere])), ["unknown_centre"]);
    let wrong = change(&somchai, 1, "sessions", record, fields);
    assert_eq!(
        codes(&push(store, &somchai, &[wrong])),
        ["forbidden"],
        "a volunteer writes only their own centre"
    );
    let create = change(
        &somchai,
        2,
        "sessions",
        record,
        session_fields(&somchai, "welfare_rights"),
    );
    let edit = change(
        &somchai,
        3,
        "sessions",
        record,
        json!({"notes": {"value": "ช่วยลงทะเบียน"}}),
    );
    assert_eq!(
        codes(&push(store, &somchai, &[create])),
        ["applied"],
        "a record made in one push"
    );
    assert_eq!(
        codes(&push(store, &somchai, &[edit])),
        ["applied"],
        "and edited in the next"
    );
    let stored = store
        .get_record(sync_core::Collection::Sessions, record)
        .unwrap()
        .expect("stored");
    let notes = stored
        .state
        .value(&sync_core::Key::field(sync_core::Field::Notes))
        .and_then(sync_core::Value::as_str)
        .map(str::to_owned);
    assert_eq!(notes.as_deref(), Some("ช่วยลงทะเบียน"));
    let help = stored
        .state
        .value(&sync_core::Key::field(sync_core::Field::HelpType))
        .and_then(sync_core::Value::as_str)
        .map(str::to_owned);
    assert_eq!(
        help.as_deref(),
        Some("welfare_rights"),
        "the first push kept"
    );
}

/// A push reads in one call per kind and writes in one, whatever its
/// length: its round trips to the database do not grow with the batch.
fn a_push_makes_the_same_store_calls_whatever_its_length(f: &Fixture) {
    let store = f.store.as_ref();
    centre(store, "C0001");
    let somchai = actor(store, "somchai", Role::Volunteer, Some("C0001"));
    let first = sessions(&somchai, 1..=3);
    assert_eq!(push(store, &somchai, &first).applied, 3);
    let mut acked = 3;
    let mut seen = Vec::new();
    for length in [4, 40, 400] {
        // A resend of a change already stored, an edit of a stored record,
        // a change refused, and new sessions.
        let mut batch = vec![first[0].clone()];
        acked += 1;
        let notes = json!({"notes": {"value": format!("แก้ไขครั้งที่ {acked}")}});
        batch.push(change(
            &somchai,
            acked,
            "sessions",
            first[1].ids().unwrap().1,
            notes,
        ));
        acked += 1;
        let refused = session_fields(&somchai, "fortune_telling");
        batch.push(change(&somchai, acked, "sessions", Uuid::now_v7(), refused));
        let rest = u64::try_from(length - batch.len()).unwrap();
        batch.extend(sessions(&somchai, acked + 1..=acked + rest));
        acked += rest;
        let (outcome, calls) = push_counting(store, &somchai, &batch);
        assert_eq!(
            (outcome.duplicates, outcome.rejected, outcome.applied),
            (1, 1, length - 2),
            "{outcome:?}"
        );
        assert_eq!(outcome.acked_seq, acked);
        assert!(calls.values().all(|&n| n == 1), "{length}: {calls:?}");
        seen.push(calls);
    }
    assert!(seen.windows(2).all(|p| p[0] == p[1]), "{seen:?}");
    assert_eq!(
        seen[0].keys().copied().collect::<Vec<_>>(),
        [
            "device",
            "existing_centres",
            "find_changes",
            "find_rejections",
            "load_records",
            "write"
        ]
    );
}

/// Writers on several store instances (on PostgreSQL, several "servers" on
/// one database) push concurrently while a reader pulls all the time: the
/// reader ends with every change exactly once, though positions taken by
/// one transaction may commit after another's.
fn a_pull_running_through_concurrent_pushes_gets_every_change_once(f: &Fixture) {
    const WRITERS: usize = 6;
    const BATCHES: u64 = 15;
    const BATCH: u64 = 20;
    let stores: Vec<Arc<dyn Store>> = match &f.postgres_url {
        Some(url) => (0..3)
            .map(|_| Arc::new(PostgresStore::open(url).expect("another server")) as Arc<dyn Store>)
            .collect(),
        None => vec![f.store.clone()],
    };
    centre(f.store.as_ref(), "C0001");
    let writers: Vec<super::Actor> = (0..WRITERS)
        .map(|i| {
            actor(
                f.store.as_ref(),
                &format!("writer{i}"),
                Role::Volunteer,
                Some("C0001"),
            )
        })
        .collect();
    let done = AtomicBool::new(false);
    let mut sent = HashSet::new();
    let received = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for (i, who) in writers.iter().enumerate() {
            let store = stores[i % stores.len()].clone();
            handles.push(s.spawn(move || {
                let mut ids = Vec::new();
                for b in 0..BATCHES {
                    let batch = sessions(who, b * BATCH + 1..=(b + 1) * BATCH);
                    let outcome = push(store.as_ref(), who, &batch);
                    assert_eq!(outcome.applied, batch.len(), "{outcome:?}");
                    ids.extend(batch.iter().map(|c| c.id.parse::<Uuid>().unwrap()));
                }
                ids
            }));
        }
        let reader_store = stores[stores.len() - 1].clone();
        let done = &done;
        let reader = s.spawn(move || {
            let mut all = Vec::new();
            let mut cursor = 0;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let (ids, next) = pull_all(reader_store.as_ref(), ReadScope::All, cursor, 7);
                all.extend(ids);
                cursor = next;
                if finished {
                    return all;
                }
            }
        });
        // Every writer ends, failed or not, before the reader is stopped.
        let written: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        done.store(true, Ordering::SeqCst);
        let received = reader.join().expect("the reader");
        for ids in written {
            sent.extend(ids.expect("a writer"));
        }
        received
    });
    let total = WRITERS * usize::try_from(BATCHES * BATCH).unwrap();
    assert_eq!(sent.len(), total);
    let unique: HashSet<Uuid> = received.iter().copied().collect();
    assert_eq!(unique.len(), received.len(), "no change twice");
    let skipped = sent.difference(&unique).count();
    assert_eq!(skipped, 0, "{skipped} of {total} changes never pulled");
    assert_eq!(unique.len(), total, "nothing that was not sent");
}

fn a_restore_forks_the_log_and_a_device_past_it_is_asked_to_resend(f: &Fixture) {
    use crate::sync::push::PushError;
    let store = f.store.as_ref();
    centre(store, "C0001");
    let somchai = actor(store, "somchai", Role::Volunteer, Some("C0001"));
    let fresh = store.lineage().expect("lineage");
    assert!(!fresh.restored());
    push(store, &somchai, &sessions(&somchai, 1..=3));
    let (_, head) = pull_all(store, ReadScope::All, 0, 10);
    // What `restore` does once the backup's data is back.
    let restored = store.begin_epoch(1_800_000_000).expect("new epoch");
    assert!(restored.restored());
    assert_ne!(restored.current(), fresh.current());
    assert_eq!(store.lineage().expect("lineage"), restored, "stored");
    let old = Some(fresh.current());
    assert_eq!(restored.resume(old, head + 50), head, "resumes at the fork");
    assert_eq!(restored.resume(old, 1), 1);
    // The phone had 4 and 5 acknowledged before the restore and trimmed
    // them: its next batch starts at 6.
    let later = sessions(&somchai, 4..=7);
    match super::push_on(store, &somchai, &later[2..], true) {
        Err(PushError::ServerRestored(acked)) => assert_eq!(acked, 3),
        other => panic!("expected server_restored, got {other:?}"),
    }
    let (outcome, _) = super::push_on(store, &somchai, &later, true).expect("the resend");
    assert_eq!(codes(&outcome), ["applied"; 4]);
    assert_eq!(outcome.acked_seq, 7);
    // A batch that starts in order keeps the per-change rule for a gap
    // inside it.
    let mut gapped = sessions(&somchai, 8..=10);
    gapped.remove(1);
    let (outcome, _) = super::push_on(store, &somchai, &gapped, true).expect("pushed");
    assert_eq!(codes(&outcome), ["applied", "seq_gap"]);
    // A store never restored answers a batch past a gap change by change.
    let (outcome, _) = super::push_on(store, &somchai, &gapped[1..], false).expect("pushed");
    assert_eq!(codes(&outcome), ["seq_gap"]);
}

conformance!(
    a_restore_forks_the_log_and_a_device_past_it_is_asked_to_resend,
    a_push_makes_the_same_store_calls_whatever_its_length,
    a_resent_batch_is_answered_as_before_and_logged_once,
    the_sequence_rules_hold_and_a_rejection_keeps_its_slot,
    an_unknown_centre_is_refused_and_an_edit_merges_into_the_stored_record,
    a_pull_running_through_concurrent_pushes_gets_every_change_once,
);
