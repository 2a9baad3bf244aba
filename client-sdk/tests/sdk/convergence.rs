//! Two volunteers and a manager edit offline, then sync in every order: all
//! three devices end with identical records.

use client_sdk::{Client, Collection, FieldEdit, FieldValue, Key};

use crate::support::{new_beneficiary, new_session, sync_ok, view, World};

const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

fn converge_in_order(order: [usize; 3]) {
    let world = World::new();
    let accounts = [
        world.account("volunteer", "C0001"),
        world.account("volunteer", "C0001"),
        world.account("manager", "C0001"),
    ];
    let devices: Vec<Client> = accounts.iter().map(|a| world.device(a)).collect();
    let (a, b, m) = (&devices[0], &devices[1], &devices[2]);

    // Round one: everyone creates something and everyone catches up.
    let session = a.create_session(&new_session("ช่วยสมัครแอปเป๋าตัง")).unwrap();
    let shared = a.create_beneficiary(&new_beneficiary("สมศรี มีสุข")).unwrap();
    let from_b = b.create_beneficiary(&new_beneficiary("บุญมา")).unwrap();
    let from_m = m.create_beneficiary(&new_beneficiary("ประยูร")).unwrap();
    for d in [a, b, m, a, b] {
        sync_ok(d);
    }

    // Offline: overlapping and disjoint edits on all three devices.
    a.edit(
        Collection::Sessions,
        session,
        &[FieldEdit::new("notes", "แก้ไขโดยอาสา")],
    )
    .unwrap();
    a.link_beneficiary(session, shared, true).unwrap();
    a.edit(
        Collection::Beneficiaries,
        shared,
        &[FieldEdit::new("phone", "0811111111")],
    )
    .unwrap();
    b.edit(
        Collection::Beneficiaries,
        shared,
        &[FieldEdit::new("display_name", "สมศรี ใจงาม")],
    )
    .unwrap();
    b.edit(
        Collection::Beneficiaries,
        shared,
        &[FieldEdit::new("phone", "0822222222")],
    )
    .unwrap();
    b.delete(Collection::Beneficiaries, from_b).unwrap();
    m.edit(
        Collection::Sessions,
        session,
        &[FieldEdit::new("duration_min", 90)],
    )
    .unwrap();
    m.edit(
        Collection::Beneficiaries,
        shared,
        &[FieldEdit::new("birth_year", 1955)],
    )
    .unwrap();
    m.edit(
        Collection::Beneficiaries,
        from_m,
        &[FieldEdit::new("village_code", "50010299")],
    )
    .unwrap();
    let late = m.create_beneficiary(&new_beneficiary("คนใหม่")).unwrap();

    // Sync in the given order, twice round so every device hears from every other.
    for _ in 0..2 {
        for i in order {
            sync_ok(&devices[i]);
        }
    }

    let beneficiaries = view(a, Collection::Beneficiaries);
    assert_eq!(beneficiaries.len(), 4, "{order:?}");
    assert!(beneficiaries.contains_key(&late));
    assert_eq!(
        view(b, Collection::Beneficiaries),
        beneficiaries,
        "{order:?}"
    );
    assert_eq!(
        view(m, Collection::Beneficiaries),
        beneficiaries,
        "{order:?}"
    );
    // The volunteer's own session looks the same to the manager.
    assert_eq!(
        view(a, Collection::Sessions),
        view(m, Collection::Sessions),
        "{order:?}"
    );
    assert!(
        view(b, Collection::Sessions).is_empty(),
        "b may not read a's sessions"
    );

    let record = m.record(Collection::Sessions, session).unwrap().unwrap();
    assert_eq!(record.text("notes"), Some("แก้ไขโดยอาสา"));
    assert_eq!(record.int("duration_min"), Some(90));
    assert_eq!(record.members("beneficiary_ids"), [shared]);
    let person = b
        .record(Collection::Beneficiaries, shared)
        .unwrap()
        .unwrap();
    assert_eq!(person.text("display_name"), Some("สมศรี ใจงาม"));
    assert_eq!(person.int("birth_year"), Some(1955));
    // Two concurrent phone numbers: a conflict, the same on every device.
    assert_eq!(person.conflicts.len(), 1);
    assert_eq!(person.conflicts[0].key, Key::field("phone"));
    // The person is a's: a and the manager see both numbers; b its own and
    // a's masked (contract section 10), never as empty.
    let phones = |c: &Client| {
        let record = c
            .record(Collection::Beneficiaries, shared)
            .unwrap()
            .unwrap();
        let mut heads: Vec<FieldValue> = record.conflicts[0]
            .heads
            .iter()
            .map(|h| h.value.clone())
            .collect();
        heads.sort_by_key(|v| format!("{v:?}"));
        heads
    };
    let text = |s: &str| FieldValue::Text(s.to_owned());
    assert_eq!(phones(a), [text("0811111111"), text("0822222222")]);
    assert_eq!(phones(m), phones(a));
    assert_eq!(
        phones(b),
        [FieldValue::Masked("1111".into()), text("0822222222")]
    );
    assert_eq!(
        person.fields["national_id"],
        FieldValue::Masked("0708".into())
    );
    let mine = a
        .record(Collection::Beneficiaries, shared)
        .unwrap()
        .unwrap();
    assert_eq!(mine.text("national_id"), Some("1101700230708"));
    assert!(
        b.record(Collection::Beneficiaries, from_b)
            .unwrap()
            .unwrap()
            .deleted
    );
}

#[test]
fn two_volunteers_and_a_manager_converge_whatever_order_they_sync_in() {
    for order in ORDERS {
        converge_in_order(order);
    }
}
