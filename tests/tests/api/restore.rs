//! `asa-server backup` and `asa-server restore` (PROTOCOL.md section 4.11),
//! run as the operator runs them: the real binary, a backup taken while the
//! server serves and a restore with it stopped. After the restore, cursors
//! from before it resume at the restore point, a device pushing past what
//! the server holds is told `server_restored` with its `acked_seq`, and its
//! resend is applied once.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use tests::{assert_problem, TestApp, TestStore};
use uuid::Uuid;

use crate::{server_env, SERVER_BIN};

fn asa_server(store: &TestStore, args: &[&str]) -> Output {
    Command::new(SERVER_BIN)
        .args(args)
        .env("ASA_DATA_DIR", store.path())
        .envs(server_env(store))
        .output()
        .expect("asa-server runs")
}

/// Runs `asa-server ARGS`, which must succeed and say `says`.
fn succeeds(store: &TestStore, args: &[&str], says: &str) {
    let out = asa_server(store, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(says), "{stdout}");
}

/// Runs `asa-server ARGS`, which must fail and say `says` on stderr.
fn fails(store: &TestStore, args: &[&str], says: &str) {
    let out = asa_server(store, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(says), "{stderr}");
}

fn ids(changes: &[Value]) -> Vec<String> {
    changes
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn page(app: &TestApp, who: &tests::Session, cursor: &str) -> Value {
    let response = app
        .pull(who, &format!("cursor={cursor}&include_own=true"))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_into_a_new_epoch_of_the_log() {
    let store = TestStore::new();
    let app = TestApp::spawn_on(store.clone()).await;
    let mut phone = app.user("volunteer", Some("C0001")).await;
    let early: Vec<Value> = (0..3).map(|_| phone.new_session(Uuid::now_v7())).collect();
    app.push_ok(&phone, early.clone()).await;
    let (_, at_backup) = app.pull_all(&phone, "include_own=true").await;

    let dest = store.path().join("asa.backup");
    let dest_arg = dest.to_str().unwrap();
    succeeds(&store, &["backup", dest_arg], "backed up");
    private(&dest);

    // Not under a running server.
    fails(&store, &["restore", dest_arg], "stop every server");

    // Acknowledged after the backup: the phone trims them from its outbox.
    let late: Vec<Value> = (0..2).map(|_| phone.new_session(Uuid::now_v7())).collect();
    app.push_ok(&phone, late.clone()).await;
    let (all, at_end) = app.pull_all(&phone, "include_own=true").await;
    assert_eq!(ids(&all), ids(&[early.clone(), late.clone()].concat()));

    // A file that is not a backup is refused, and nothing changes.
    let junk = store.path().join("junk");
    std::fs::write(&junk, "not a database").unwrap();
    let app = app
        .restart_with(|_| {
            fails(
                &store,
                &["restore", junk.to_str().unwrap()],
                "is not a backup",
            )
        })
        .await;
    assert_eq!(page(&app, &phone, &at_end).await["changes"], json!([]));

    let app = app
        .restart_with(|_| succeeds(&store, &["restore", dest_arg], "epoch"))
        .await;

    // Both old cursors resume at the restore point; the answer says what the
    // server holds of this device's changes.
    for cursor in [&at_backup, &at_end] {
        let p = page(&app, &phone, cursor).await;
        assert_eq!(p["changes"], json!([]));
        assert_eq!(p["acked_seq"], 3);
        assert_ne!(&p["cursor"], &json!(cursor), "a cursor of the new epoch");
    }

    // The phone's next change is 6: the server asks for 4 and 5 again.
    let next = phone.new_session(Uuid::now_v7());
    let refused = assert_problem(
        app.push(&phone, vec![next.clone()]).await,
        409,
        "server_restored",
    )
    .await;
    assert_eq!(refused["acked_seq"], 3);
    let resend = [late.clone(), vec![next.clone()]].concat();
    let answer = app.push_ok(&phone, resend.clone()).await;
    assert_eq!(answer["acked_seq"], 6);
    assert!(answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "applied"));
    let again = app.push_ok(&phone, resend).await;
    assert!(again["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "duplicate"));

    // From the old cursor the log goes on with exactly the resent changes;
    // a cursor of the new epoch gets no `acked_seq`.
    let p = page(&app, &phone, &at_end).await;
    let resumed: Vec<Value> = p["changes"].as_array().unwrap().clone();
    assert_eq!(ids(&resumed), ids(&[late, vec![next]].concat()));
    let p = page(&app, &phone, p["cursor"].as_str().unwrap()).await;
    assert_eq!(p["changes"], json!([]));
    assert!(p.get("acked_seq").is_none(), "{p}");
    let (whole, _) = app.pull_all(&phone, "include_own=true").await;
    assert_eq!(whole.len(), 6, "each change once");
}

fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "a backup is its owner's only: {mode:o}");
}

#[tokio::test]
async fn a_restore_to_a_backup_older_than_an_erasure_keeps_the_person_erased() {
    let store = TestStore::new();
    let app = TestApp::spawn_on(store.clone()).await;
    let mut phone = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let name = "นางสาวกู้คืนแล้วยังลบ ทดสอบ";
    let person = Uuid::now_v7();
    let mut create = phone.new_beneficiary(person, name);
    create["fields"]["phone"] = json!({"value": "0869998877"});
    app.push_ok(&phone, vec![create]).await;

    let dest = store.path().join("before-erasure.backup");
    let dest_arg = dest.to_str().unwrap();
    succeeds(&store, &["backup", dest_arg], "backed up");
    let erased = app
        .post_json(
            &format!("/v1/beneficiaries/{person}/erase"),
            Some(&manager.access),
            &json!({}),
        )
        .await;
    assert_eq!(erased.status(), 200);

    let app = app
        .restart_with(|_| succeeds(&store, &["restore", dest_arg], "epoch"))
        .await;
    let record: Value = app
        .record(&manager, "beneficiaries", person)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["erased"], true, "{record}");
    assert_eq!(record["fields"]["display_name"], "-");
    let (log, _) = app.pull_all(&manager, "").await;
    let text = serde_json::to_string(&log).unwrap();
    assert!(
        !text.contains(name) && !text.contains("0869998877"),
        "{text}"
    );
    if !tests::on_postgres() {
        let db = app.database_path();
        for suffix in ["", "-wal"] {
            let path = format!("{}{suffix}", db.display());
            if let Ok(bytes) = std::fs::read(&path) {
                let needle = "กู้คืนแล้วยังลบ".as_bytes();
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{path} holds the name"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_person_created_after_the_backup_and_erased_cannot_be_sent_again_after_a_restore() {
    let store = TestStore::new();
    let app = TestApp::spawn_on(store.clone()).await;
    let mut phone = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let dest = store.path().join("before-the-person.backup");
    let dest_arg = dest.to_str().unwrap();
    succeeds(&store, &["backup", dest_arg], "backed up");

    let person = Uuid::now_v7();
    let create = phone.new_beneficiary(person, "นางสาวมาหลังสำรอง ข้อมูล");
    app.push_ok(&phone, vec![create.clone()]).await;
    let erased = app
        .post_json(
            &format!("/v1/beneficiaries/{person}/erase"),
            Some(&manager.access),
            &json!({}),
        )
        .await;
    assert_eq!(erased.status(), 200);
    let app = app
        .restart_with(|_| succeeds(&store, &["restore", dest_arg], "epoch"))
        .await;

    // A phone that never pulled the erasure sends the person again (a
    // second phone, new to the server, with its own copy).
    let mut other = app.another_device(&phone).await;
    let mut again = other.change("beneficiaries", person, create["fields"].clone());
    again["device_seq"] = json!(1);
    let pushed = app.push_ok(&other, vec![again]).await;
    assert_eq!(pushed["results"][0]["status"], "rejected", "{pushed}");
    assert_eq!(pushed["results"][0]["code"], "erased");
    let record = app.record(&manager, "beneficiaries", person).await;
    assert_eq!(record.status(), 404, "the person is not brought back");
}

#[tokio::test]
async fn retention_lists_then_erases_the_people_without_a_session_for_five_years() {
    let store = TestStore::new();
    let app = TestApp::spawn_on(store.clone()).await;
    let mut phone = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let (old, recent, unlinked) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut changes = vec![
        phone.new_beneficiary(old, "นายเก่ามาก ไม่ได้มานาน"),
        phone.new_beneficiary(recent, "นางมาเมื่อวาน"),
        phone.new_beneficiary(unlinked, "นางสาวเพิ่งบันทึก"),
    ];
    for (person, started_at) in [
        (old, "2019-03-01T09:00:00+07:00"),
        (old, "2020-06-01T09:00:00+07:00"),
        (recent, "2019-03-01T09:00:00+07:00"),
        (recent, "2026-11-28T09:00:00+07:00"),
    ] {
        let mut s = phone.new_session(Uuid::now_v7());
        s["fields"]["started_at"] = json!({"value": started_at});
        s["fields"][format!("beneficiary_ids/{person}")] = json!({"value": true});
        changes.push(s);
    }
    // Records merged into one another are one person: `twin` (no session,
    // written today) goes with `old`; `stale` (seen only in 2019) stays
    // with `recent`.
    let (twin, stale) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, into, name) in [
        (twin, old, "นายเก่ามาก ไม่ได้มา"),
        (stale, recent, "นางมาเมื่อวานนี้"),
    ] {
        let mut b = phone.new_beneficiary(id, name);
        b["fields"]["merged_into"] = json!({"value": into});
        changes.push(b);
    }
    let mut s = phone.new_session(Uuid::now_v7());
    s["fields"]["started_at"] = json!({"value": "2019-03-01T09:00:00+07:00"});
    s["fields"][format!("beneficiary_ids/{stale}")] = json!({"value": true});
    changes.push(s);
    let pushed = app.push_ok(&phone, changes).await;
    assert!(
        pushed["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "applied"),
        "{pushed}"
    );

    fails(
        &store,
        &["retention", "--older-than", "5x"],
        "is not an age",
    );
    let dry = asa_server(&store, &["retention", "--older-than", "5y"]);
    let stdout = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(stdout.contains("dry run: 1 people (2 records)"), "{stdout}");
    let (first, second) = (old.min(twin), old.max(twin));
    assert!(
        stdout.contains(&format!("{first} {second}")),
        "one line per person: {stdout}"
    );
    assert!(!stdout.contains(&recent.to_string()) && !stdout.contains(&stale.to_string()));
    let record: Value = app
        .record(&manager, "beneficiaries", old)
        .await
        .json()
        .await
        .unwrap();
    assert!(record.get("erased").is_none(), "a dry run changes nothing");

    let applied = asa_server(&store, &["retention", "--older-than", "5y", "--apply"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr),
    );
    assert!(applied.status.success(), "{stderr}");
    assert!(stdout.contains("erased 1 people (2 records)"), "{stdout}");
    // The run and each erasure are in the audit log (the `audit` target).
    assert!(
        stderr.contains("retention run") && stderr.contains("audit"),
        "{stderr}"
    );
    assert!(
        stderr.contains("erased by the retention rule") && stderr.contains(&old.to_string()),
        "{stderr}"
    );
    for gone in [old, twin] {
        let record: Value = app
            .record(&manager, "beneficiaries", gone)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(record["erased"], true, "{record}");
        assert_eq!(record["fields"]["display_name"], "-");
    }
    for kept in [recent, unlinked, stale] {
        let record: Value = app
            .record(&manager, "beneficiaries", kept)
            .await
            .json()
            .await
            .unwrap();
        assert!(record.get("erased").is_none(), "{record}");
    }
    // Run again: nobody is due any more.
    succeeds(
        &store,
        &["retention", "--older-than", "5y"],
        "dry run: 0 people (0 records)",
    );
}
