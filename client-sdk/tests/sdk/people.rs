//! An erasure reaches the phone (contract section 10): a phone that was
//! offline with an edit of the person's name pushes it (refused `erased`),
//! then pulls the erasure, and keeps no copy of the person's data in its
//! records, its outbox, its acknowledged changes or its rejections.

use client_sdk::{Collection, FieldEdit, FieldValue};
use serde_json::json;

use crate::support::{new_beneficiary, sync_ok, World};

#[test]
fn an_erasure_overwrites_the_person_on_the_phone_and_its_offline_edit_is_refused() {
    let world = World::new();
    let volunteer = world.account("volunteer", "C0001");
    let manager = world.account("manager", "C0001");
    let db = world.new_db();
    let phone = world.device_with(&volunteer, db.clone(), world.config(), None);
    let name = "นางสาวลบจากโทรศัพท์ ทดสอบ";
    let person = phone
        .create_beneficiary(&client_sdk::NewBeneficiary {
            display_name: name.into(),
            ..new_beneficiary("")
        })
        .unwrap();
    sync_ok(&phone);
    // Offline: a new spelling of the name waits in the outbox.
    let respelled = "นางสาวลบจากโทรศัพท์ ทดสอบใหม่";
    phone
        .edit(
            Collection::Beneficiaries,
            person,
            &[
                FieldEdit::new("display_name", respelled),
                FieldEdit::new("village_code", "50010299"),
            ],
        )
        .unwrap();
    let erased = world.rt.block_on(async {
        world
            .app
            .post_json(
                &format!("/v1/beneficiaries/{person}/erase"),
                Some(&manager.raw.access),
                &json!({}),
            )
            .await
            .status()
    });
    assert_eq!(erased, 200);

    let report = phone.sync().expect("sync");
    assert_eq!(report.pending, 0);
    let rejected = phone.rejected().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].code, "erased");
    let record = phone
        .record(Collection::Beneficiaries, person)
        .unwrap()
        .unwrap();
    assert!(record.erased);
    assert_eq!(record.text("display_name"), Some("-"));
    assert_eq!(record.fields["phone"], FieldValue::Null);
    assert_eq!(record.fields["national_id"], FieldValue::Null);

    // Nothing the phone keeps holds the name any more: read its tables.
    drop(phone);
    let conn = rusqlite::Connection::open(&db).unwrap();
    for table in ["records", "outbox", "sent", "rejected", "unreadable"] {
        let column = if table == "records" {
            "rendered"
        } else {
            "body"
        };
        let texts: Vec<String> = conn
            .prepare(&format!("SELECT \"{column}\" FROM \"{table}\""))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for text in texts {
            assert!(
                !text.contains("ลบจากโทรศัพท์") && !text.contains("812345678"),
                "{table}: {text}"
            );
        }
    }
    let kept: i64 = conn
        .query_row("SELECT count(*) FROM \"sent\"", [], |r| r.get(0))
        .unwrap();
    assert!(kept >= 1, "the acknowledged changes are kept, overwritten");
}
