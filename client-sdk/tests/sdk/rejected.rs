//! A change the server rejects is listed with its reason and does not block
//! the changes after it.

use std::sync::Arc;

use client_sdk::{Collection, FieldEdit, ManualClock, SyncStatus};

use crate::support::{new_beneficiary, sync_ok, World};

#[test]
fn a_rejected_change_is_listed_with_its_reason_and_does_not_block_later_changes() {
    let world = World::new();
    let vol = world.account("volunteer", "C0001");
    // The phone thinks it is mid-2027, so a birth year of 2027 passes its own
    // checks; the server, still in 2026, refuses it.
    let phone = Arc::new(ManualClock::new(1_811_808_000_000)); // 2027-06-01
    let a = world.device_with(&vol, world.new_db(), world.config(), Some(phone));
    let mut baby = new_beneficiary("เด็กเกิดใหม่");
    baby.birth_year = Some(2027);
    let bad = a.create_beneficiary(&baby).unwrap();
    let good = a.create_beneficiary(&new_beneficiary("ผู้ใหญ่")).unwrap();

    let report = sync_ok(&a);
    assert_eq!((report.acked, report.rejected), (2, 1));
    let rejected = a.rejected().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].record_id, bad);
    assert_eq!(rejected[0].code, "out_of_range");
    assert!(
        rejected[0].detail.contains("birth_year"),
        "{}",
        rejected[0].detail
    );
    assert_eq!(
        a.status(Collection::Beneficiaries, bad).unwrap(),
        SyncStatus::Rejected
    );
    assert_eq!(
        a.status(Collection::Beneficiaries, good).unwrap(),
        SyncStatus::Synced
    );

    // Later changes flow as usual.
    a.edit(
        Collection::Beneficiaries,
        good,
        &[FieldEdit::new("phone", "0899999999")],
    )
    .unwrap();
    assert_eq!(
        a.status(Collection::Beneficiaries, good).unwrap(),
        SyncStatus::Pending
    );
    let report = sync_ok(&a);
    assert_eq!((report.acked, report.rejected), (1, 0));
    assert_eq!(a.rejected().unwrap().len(), 1, "kept until dismissed");
    assert!(a.dismiss_rejected(rejected[0].change_id).unwrap());
    assert!(a.rejected().unwrap().is_empty());
    let stored = world.server_changes(&vol);
    assert_eq!(stored.len(), 2, "the good create and its edit");
}
