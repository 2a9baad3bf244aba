//! Local edits: invalid input is a typed error and stores nothing; valid
//! edits are merged locally at once and counted as pending; the client can be
//! shared between threads.

use std::sync::Arc;

use client_sdk::{Collection, Error, FieldEdit, Key, Likeness, NewBeneficiary, Query, SyncStatus};

use crate::support::{new_beneficiary, new_session, sync_ok, World};

#[test]
fn invalid_edits_are_typed_errors_and_store_nothing() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let a = world.device(&vol);
    let mut bad = new_session("x");
    bad.village_code = "123".into();
    let err = a.create_session(&bad).unwrap_err();
    assert!(
        matches!(&err, Error::Invalid { code, .. } if code == "invalid_value"),
        "{err}"
    );
    let mut no_consent = new_beneficiary("ไม่ยินยอม");
    no_consent.consent = false;
    let err = a.create_beneficiary(&no_consent).unwrap_err();
    assert!(
        matches!(&err, Error::Invalid { code, .. } if code == "consent_required"),
        "{err}"
    );
    let id = a.create_session(&new_session("ok")).unwrap();
    for (key, value) in [
        ("duration_min", 0.into()),
        ("colour", "red".into()),
        ("centre_id", "C0002".into()),
    ] {
        let err = a
            .edit(
                Collection::Sessions,
                id,
                &[FieldEdit {
                    key: key.into(),
                    value,
                }],
            )
            .unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{key}: {err}");
    }
    let missing = uuid::Uuid::now_v7();
    let err = a.delete(Collection::Sessions, missing).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_eq!(
        a.pending_count().unwrap(),
        1,
        "only the valid create is queued"
    );
    let record = a.record(Collection::Sessions, id).unwrap().unwrap();
    assert_eq!(record.status, SyncStatus::Pending);
    assert_eq!(record.int("duration_min"), Some(30));
}

#[test]
fn queries_filter_local_records_including_unsynced_edits() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let a = world.device(&vol);
    let kept = a.create_session(&new_session("เก็บ")).unwrap();
    let mut elsewhere = new_session("หมู่บ้านอื่น");
    elsewhere.village_code = "50019999".into();
    a.create_session(&elsewhere).unwrap();
    let gone = a.create_session(&new_session("ลบ")).unwrap();
    a.delete(Collection::Sessions, gone).unwrap();
    let village = Query {
        village_code: Some("50010203".into()),
        ..Query::default()
    };
    let found = a.records(Collection::Sessions, &village).unwrap();
    assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), vec![kept]);
    let all = Query {
        include_deleted: true,
        ..Query::default()
    };
    assert_eq!(a.records(Collection::Sessions, &all).unwrap().len(), 3);
    sync_ok(&a);
    let synced = Query {
        status: Some(SyncStatus::Synced),
        ..Query::default()
    };
    assert_eq!(a.records(Collection::Sessions, &synced).unwrap().len(), 2);
}

#[test]
fn the_client_can_be_shared_between_threads_saving_while_syncing() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let boss = world.account("manager", "C0001");
    let a = Arc::new(world.device(&vol));
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    a.create_session(&new_session(&format!("{t}-{i}"))).unwrap();
                }
            })
        })
        .collect();
    let syncer = {
        let a = a.clone();
        std::thread::spawn(move || {
            for _ in 0..3 {
                a.sync().unwrap();
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    syncer.join().unwrap();
    sync_ok(&a);
    assert_eq!(world.server_changes(&boss).len(), 30);
}

/// A set member is a typed key: spelled out by hand as a field's name, it
/// is refused, even when it names a real beneficiary.
#[test]
fn set_members_are_typed_keys_not_spelled_out_names() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let a = world.device(&vol);
    let session = a.create_session(&new_session("ลิงก์")).unwrap();
    let person = a.create_beneficiary(&new_beneficiary("สมศรี")).unwrap();
    let spelled = format!("beneficiary_ids/{person}");
    let err = a
        .edit(
            Collection::Sessions,
            session,
            &[FieldEdit::new(spelled.as_str(), true)],
        )
        .unwrap_err();
    assert_eq!(err.code(), "unknown_field", "{err}");
    assert_eq!(
        a.pending_count().unwrap(),
        2,
        "the refused edit is not queued"
    );
    let member = Key::member("beneficiary_ids", person);
    assert_eq!(member.to_string(), spelled);
    assert_eq!(Key::parse(&spelled), member);
    a.edit(
        Collection::Sessions,
        session,
        &[FieldEdit::new(member, true)],
    )
    .unwrap();
    let linked = a.record(Collection::Sessions, session).unwrap().unwrap();
    assert_eq!(linked.members("beneficiary_ids"), [person]);
}

/// Search before create: offline, the phone finds the people it already
/// holds who may be the one about to be recorded.
#[test]
fn similar_beneficiaries_are_found_offline_by_phone_and_by_thai_name() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    let a = world.device(&vol);
    let person = |name: &str, village: &str, phone: Option<&str>| NewBeneficiary {
        village_code: village.into(),
        phone: phone.map(Into::into),
        ..new_beneficiary(name)
    };
    let somchai = a
        .create_beneficiary(&person("นายสมชาย ใจดี", "50010204", Some("0812345678")))
        .unwrap();
    let malee = a
        .create_beneficiary(&person("มาลี ศรีสุข", "50010204", None))
        .unwrap();
    let elsewhere = a
        .create_beneficiary(&person("สมชาย ใจดี", "50010299", None))
        .unwrap();
    let found = |name: &str, village: Option<&str>, phone: Option<&str>| {
        a.similar_beneficiaries(name, village, phone)
            .unwrap()
            .into_iter()
            .map(|s| (s.record.id, s.reason))
            .collect::<Vec<_>>()
    };
    // Title, spacing and a zero-width space set aside; in the village asked.
    assert_eq!(
        found("สมชาย\u{200B}  ใจดี", Some("50010204"), None),
        [(somchai, Likeness::SimilarName)]
    );
    // Any village: both, the exact spelling first.
    let both = found("สมชาย ใจดี", None, None);
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(both.iter().all(|(id, _)| [somchai, elsewhere].contains(id)));
    // The same phone, written another way, whatever the name.
    assert_eq!(
        found("ไม่ทราบชื่อ", Some("50010204"), Some("+66 81 234 5678")),
        [(somchai, Likeness::SamePhone)]
    );
    // A slip of a final consonant.
    assert_eq!(
        found("มาลี ศรีสุก", Some("50010204"), None),
        [(malee, Likeness::SimilarName)]
    );
    assert!(found("สมศักดิ์ รักไทย", Some("50010204"), None).is_empty());
}
