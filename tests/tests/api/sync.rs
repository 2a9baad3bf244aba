//! Push and pull: idempotency, sequence rules, authorization per change,
//! conflicts and their resolution, paging.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sync_core::{Change, ChangeDto, Replica, Rules};
use tests::{assert_problem, TestApp};
use uuid::Uuid;

fn statuses(response: &Value) -> Vec<String> {
    response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect()
}

fn codes(response: &Value) -> Vec<String> {
    response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Builds a device's view from pulled changes, with the same engine as the SDK.
fn replica_from(changes: &[Value]) -> Replica {
    let mut replica = Replica::new();
    for c in changes {
        let dto: ChangeDto = serde_json::from_value(c.clone()).unwrap();
        let author = dto.author.expect("pulled changes carry their author");
        replica.apply(&Change::decode(&dto, author, &Rules::at(u64::MAX / 4)).unwrap());
    }
    replica
}

#[tokio::test]
async fn a_push_applies_and_pull_returns_the_change_with_its_author() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let record = Uuid::now_v7();
    let change = vol.new_session(record);
    let response = app.push_ok(&vol, vec![change.clone()]).await;
    assert_eq!(response["acked_seq"], 1);
    assert_eq!(statuses(&response), ["applied"]);
    let server_hlc: sync_core::Hlc = response["server_hlc"].as_str().unwrap().parse().unwrap();
    assert_eq!(server_hlc.node(), sync_core::Node::Server);

    // Own changes are left out of pull unless asked for.
    let (own, _) = app.pull_all(&vol, "").await;
    assert!(own.is_empty());
    let (with_own, _) = app.pull_all(&vol, "include_own=true").await;
    assert_eq!(with_own.len(), 1);
    assert_eq!(with_own[0]["author"], vol.user_id.to_string());
    assert_eq!(
        with_own[0]["fields"]["notes"]["value"],
        "ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ"
    );
    let manager = app.user("manager", Some("C0001")).await;
    let (seen, _) = app.pull_all(&manager, "").await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["id"], change["id"]);
}

#[tokio::test]
async fn a_push_retried_after_a_lost_response_applies_once() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let batch: Vec<Value> = (0..5).map(|_| vol.new_session(Uuid::now_v7())).collect();
    let first = app.push_ok(&vol, batch.clone()).await;
    assert_eq!(first["acked_seq"], 5);
    // The device never saw the answer and sends the same batch again.
    let again = app.push_ok(&vol, batch.clone()).await;
    assert_eq!(again["acked_seq"], 5);
    assert_eq!(statuses(&again), vec!["duplicate"; 5]);
    let (changes, _) = app.pull_all(&vol, "include_own=true").await;
    assert_eq!(changes.len(), 5);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("asa_changes_total{status=\"duplicate\"} 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_change_beyond_a_gap_is_not_stored_until_the_gap_fills() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let one = vol.new_session(Uuid::now_v7());
    let two = vol.new_session(Uuid::now_v7());
    let three = vol.new_session(Uuid::now_v7());
    let response = app.push_ok(&vol, vec![one, three.clone()]).await;
    assert_eq!(response["acked_seq"], 1);
    assert_eq!(statuses(&response), ["applied", "rejected"]);
    assert_eq!(codes(&response), ["", "seq_gap"]);
    // Out of order in one batch is fine: the server sorts by device_seq.
    let response = app.push_ok(&vol, vec![three, two]).await;
    assert_eq!(response["acked_seq"], 3);
    assert_eq!(statuses(&response), ["applied", "applied"]);
}

#[tokio::test]
async fn a_rejected_change_advances_acked_seq_and_keeps_its_reason() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let record = Uuid::now_v7();
    let bad = vol.change("sessions", record, json!({"duration_min": {"value": 5000}}));
    let good = vol.new_session(Uuid::now_v7());
    let response = app.push_ok(&vol, vec![bad.clone(), good]).await;
    assert_eq!(response["acked_seq"], 2);
    assert_eq!(statuses(&response), ["rejected", "applied"]);
    assert_eq!(codes(&response)[0], "out_of_range");
    // Sent again, it is answered with the same reason, not re-judged or stored.
    let again = app.push_ok(&vol, vec![bad]).await;
    assert_eq!(statuses(&again), ["rejected"]);
    assert_eq!(codes(&again), ["out_of_range"]);
    assert_eq!(again["acked_seq"], 2);
}

#[tokio::test]
async fn a_change_id_reused_with_other_content_is_rejected() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let original = vol.new_session(Uuid::now_v7());
    app.push_ok(&vol, vec![original.clone()]).await;
    // The same id at the next slot, for another record.
    let mut copy = vol.new_session(Uuid::now_v7());
    copy["id"] = original["id"].clone();
    let response = app.push_ok(&vol, vec![copy]).await;
    assert_eq!(codes(&response), ["change_id_reused"]);
    assert_eq!(response["acked_seq"], 2);
    // The same id and slot with different content.
    let mut altered = original.clone();
    altered["fields"]["people_helped"]["value"] = json!(9);
    let response = app.push_ok(&vol, vec![altered]).await;
    assert_eq!(codes(&response), ["change_id_reused"]);
    let (changes, _) = app.pull_all(&vol, "include_own=true").await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["fields"]["people_helped"]["value"], 3);
}

#[tokio::test]
async fn volunteers_may_only_edit_their_own_sessions_and_their_centres_beneficiaries() {
    let app = TestApp::spawn().await;
    let mut a = app.user("volunteer", Some("C0001")).await;
    let mut b = app.user("volunteer", Some("C0001")).await;
    let mut other_centre = app.user("volunteer", Some("C0002")).await;
    let session = Uuid::now_v7();
    let person = Uuid::now_v7();
    let batch = vec![
        a.new_session(session),
        a.new_beneficiary(person, "นายสมชาย"),
    ];
    app.push_ok(&a, batch).await;

    let edit = b.change("sessions", session, json!({"notes": {"value": "not mine"}}));
    let response = app.push_ok(&b, vec![edit]).await;
    assert_eq!(codes(&response), ["forbidden"]);
    // A beneficiary of the centre is shared by its volunteers.
    let edit = b.change(
        "beneficiaries",
        person,
        json!({"phone": {"value": "0812345678"}}),
    );
    assert_eq!(statuses(&app.push_ok(&b, vec![edit]).await), ["applied"]);
    // Not across centres, and nobody creates records for another centre or volunteer.
    let edit = other_centre.change(
        "beneficiaries",
        person,
        json!({"phone": {"value": "0899999999"}}),
    );
    assert_eq!(
        codes(&app.push_ok(&other_centre, vec![edit]).await),
        ["forbidden"]
    );
    let mut fields = tests::session_fields("C0001", other_centre.user_id);
    let create = other_centre.change("sessions", Uuid::now_v7(), fields.clone());
    assert_eq!(
        codes(&app.push_ok(&other_centre, vec![create]).await),
        ["forbidden"]
    );
    fields["centre_id"]["value"] = json!("C0002");
    fields["volunteer_id"]["value"] = json!(a.user_id);
    let create = other_centre.change("sessions", Uuid::now_v7(), fields);
    assert_eq!(
        codes(&app.push_ok(&other_centre, vec![create]).await),
        ["forbidden"]
    );

    // A manager of the centre may edit any of its records.
    let mut manager = app.user("manager", Some("C0001")).await;
    let edit = manager.change(
        "sessions",
        session,
        json!({"outcome": {"value": "resolved"}}),
    );
    assert_eq!(
        statuses(&app.push_ok(&manager, vec![edit]).await),
        ["applied"]
    );
}

#[tokio::test]
async fn immutable_keys_cannot_change_and_changes_must_be_stamped_by_the_pushing_device() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let mut manager = app.user("manager", Some("C0001")).await;
    let session = Uuid::now_v7();
    let batch = vec![vol.new_session(session)];
    app.push_ok(&vol, batch).await;
    let edit = manager.change(
        "sessions",
        session,
        json!({"volunteer_id": {"value": manager.user_id}}),
    );
    assert_eq!(
        codes(&app.push_ok(&manager, vec![edit]).await),
        ["immutable_field"]
    );

    let mut forged = vol.change("sessions", session, json!({"notes": {"value": "x"}}));
    forged["hlc"] = json!(format!("1764386100000-0000-{}", Uuid::new_v4()));
    assert_eq!(
        codes(&app.push_ok(&vol, vec![forged]).await),
        ["invalid_hlc"]
    );
}

#[tokio::test]
async fn a_change_far_ahead_of_the_server_clock_is_applied_with_a_warning() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let mut change = vol.new_session(Uuid::now_v7());
    let three_days_ahead = chrono::Utc::now().timestamp_millis() + 3 * 24 * 3600 * 1000;
    change["hlc"] = json!(format!("{three_days_ahead:013}-0000-{}", vol.device));
    let response = app.push_ok(&vol, vec![change]).await;
    assert_eq!(statuses(&response), ["applied"]);
    assert_eq!(response["results"][0]["warning"], "clock_skew");
    // The server's own clock was not dragged forward.
    let server_hlc: sync_core::Hlc = response["server_hlc"].as_str().unwrap().parse().unwrap();
    assert!((server_hlc.wall_ms() as i64) < three_days_ahead - 24 * 3600 * 1000);
}

#[tokio::test]
async fn concurrent_edits_show_a_conflict_that_one_resolution_clears_everywhere() {
    let app = TestApp::spawn().await;
    let mut phone = app.user("volunteer", Some("C0001")).await;
    let mut tablet = app.another_device(&phone).await;
    let mut manager = app.user("manager", Some("C0001")).await;
    let session = Uuid::now_v7();
    let create = phone.new_session(session);
    let created_hlc = create["hlc"].clone();
    app.push_ok(&phone, vec![create]).await;

    // Both devices edit the notes having seen only the create.
    let a = phone.change(
        "sessions",
        session,
        json!({"notes": {"value": "ฉบับมือถือ", "base": [created_hlc]}}),
    );
    let b = tablet.change(
        "sessions",
        session,
        json!({"notes": {"value": "ฉบับแท็บเล็ต", "base": [created_hlc]}}),
    );
    app.push_ok(&phone, vec![a]).await;
    app.push_ok(&tablet, vec![b]).await;

    let record: Value = app
        .record(&manager, "sessions", session)
        .await
        .json()
        .await
        .unwrap();
    let conflicts = record["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0]["key"], "notes");
    let heads = conflicts[0]["heads"].as_array().unwrap();
    assert_eq!(heads.len(), 2);
    let values: HashSet<&str> = heads.iter().map(|h| h["value"].as_str().unwrap()).collect();
    assert_eq!(values, HashSet::from(["ฉบับมือถือ", "ฉบับแท็บเล็ต"]));
    assert_eq!(
        record["fields"]["notes"], heads[0]["value"],
        "the winner is shown and listed first"
    );
    let listed: Value = app
        .records(&manager, "sessions", "conflicts=only")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["records"].as_array().unwrap().len(), 1);

    // Every device sees the same conflict.
    let (phone_view, _) = app.pull_all(&phone, "include_own=true").await;
    let (tablet_view, _) = app.pull_all(&tablet, "include_own=true").await;
    let phone_state = replica_from(&phone_view);
    assert_eq!(phone_state, replica_from(&tablet_view));
    let state = phone_state
        .get(sync_core::Collection::Sessions, session)
        .unwrap();
    assert_eq!(state.conflicts().len(), 1);

    // The manager resolves it with a write whose base lists both heads.
    let base: Vec<Value> = heads.iter().map(|h| h["hlc"].clone()).collect();
    let fix = manager.change(
        "sessions",
        session,
        json!({"notes": {"value": "รวมแล้ว", "base": base}}),
    );
    assert_eq!(
        statuses(&app.push_ok(&manager, vec![fix]).await),
        ["applied"]
    );
    let record: Value = app
        .record(&manager, "sessions", session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["conflicts"], json!([]));
    assert_eq!(record["fields"]["notes"], "รวมแล้ว");
    for device in [&phone, &tablet] {
        let (view, _) = app.pull_all(device, "include_own=true").await;
        let replica = replica_from(&view);
        let state = replica
            .get(sync_core::Collection::Sessions, session)
            .unwrap();
        assert!(state.conflicts().is_empty());
        // The server adds the author's name, which a replica of changes cannot know.
        let mut expected = record.clone();
        assert!(expected["author_name"].is_string());
        expected.as_object_mut().unwrap().remove("author_name");
        assert_eq!(
            serde_json::to_value(state.render(sync_core::Collection::Sessions, session)).unwrap(),
            expected
        );
    }
}

#[tokio::test]
async fn a_thousand_changes_pulled_in_pages_arrive_exactly_once() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let batch: Vec<Value> = (0..1000).map(|_| vol.new_session(Uuid::now_v7())).collect();
    let response = app.push_ok(&vol, batch.clone()).await;
    assert_eq!(response["acked_seq"], 1000);
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page: Value = app
            .pull(&manager, &format!("limit=137&cursor={cursor}"))
            .await
            .json()
            .await
            .unwrap();
        pages += 1;
        for change in page["changes"].as_array().unwrap() {
            assert!(
                seen.insert(change["id"].as_str().unwrap().to_owned()),
                "a change came twice"
            );
        }
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == json!(false) {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(pages, 8);
    let sent: HashSet<String> = batch
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, sent);
    // The final cursor is at the end: pulling again returns nothing.
    let page: Value = app
        .pull(&manager, &format!("cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["changes"], json!([]));
    assert_eq!(page["has_more"], false);
}

/// `max_bytes` (contract section 9): a page ends before its body would pass
/// it, never before its first change, and the pages together still hold
/// every change once.
#[tokio::test]
async fn a_pull_with_max_bytes_ends_its_pages_before_they_pass_it() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let batch: Vec<Value> = (0..40).map(|_| vol.new_session(Uuid::now_v7())).collect();
    app.push_ok(&vol, batch.clone()).await;
    let max = 2_000;
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let response = app
            .pull(&manager, &format!("max_bytes={max}&cursor={cursor}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.bytes().await.unwrap();
        assert!(body.len() <= max, "a page of {} bytes", body.len());
        let page: Value = serde_json::from_slice(&body).unwrap();
        let changes = page["changes"].as_array().unwrap();
        assert!(!changes.is_empty() || page["has_more"] == json!(false));
        for change in changes {
            assert!(seen.insert(change["id"].as_str().unwrap().to_owned()));
        }
        pages += 1;
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == json!(false) {
            break;
        }
    }
    assert_eq!(seen.len(), 40);
    assert!(pages > 5, "{pages} pages of at most {max} bytes");

    // Smaller than any change: one change a page all the same.
    let page: Value = app
        .pull(&manager, "max_bytes=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["changes"].as_array().unwrap().len(), 1);
    assert_eq!(page["has_more"], true);
    for bad in [
        "max_bytes=0",
        "max_bytes=1073741825",
        "max_bytes=648212012141461372928",
    ] {
        assert_problem(app.pull(&manager, bad).await, 400, "invalid_query").await;
    }
}

#[tokio::test]
async fn a_push_of_more_than_a_thousand_changes_is_refused_whole() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let batch: Vec<Value> = (0..1001).map(|_| vol.new_session(Uuid::now_v7())).collect();
    assert_problem(app.push(&vol, batch).await, 413, "payload_too_large").await;
    let (changes, _) = app.pull_all(&vol, "include_own=true").await;
    assert!(changes.is_empty());
}

#[tokio::test]
async fn a_push_for_another_device_is_forbidden() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let change = vol.new_session(Uuid::now_v7());
    let body = json!({"device_id": Uuid::new_v4(), "device_time": chrono::Utc::now().to_rfc3339(), "changes": [change]});
    assert_problem(
        app.post_json("/v1/sync/push", Some(&vol.access), &body)
            .await,
        403,
        "device_mismatch",
    )
    .await;
}

#[tokio::test]
async fn a_change_with_a_non_canonical_id_is_rejected_alone_and_answered_with_the_id_as_sent() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let mut bad = vol.new_session(Uuid::now_v7());
    let sent = bad["id"].as_str().unwrap().to_uppercase();
    bad["id"] = json!(sent);
    let good = vol.new_session(Uuid::now_v7());
    let answer = app.push_ok(&vol, vec![bad.clone(), good]).await;
    assert_eq!(
        answer["acked_seq"], 2,
        "the bad change still takes its slot"
    );
    assert_eq!(answer["results"][0]["id"], json!(sent), "echoed exactly");
    assert_eq!(answer["results"][0]["status"], "rejected");
    assert_eq!(answer["results"][0]["code"], "invalid_id");
    assert_eq!(answer["results"][1]["status"], "applied");
    // A retry after a lost answer gets the same answer.
    let again = app.push_ok(&vol, vec![bad]).await;
    assert_eq!(again["results"][0]["id"], json!(sent));
    assert_eq!(again["results"][0]["code"], "invalid_id");
    let (pulled, _) = app.pull_all(&vol, "include_own=true").await;
    assert_eq!(pulled.len(), 1, "only the good change is in the log");
}

#[tokio::test]
async fn a_session_far_in_the_future_is_refused_unless_the_phone_clock_explains_it() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let in_three_days = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let mut fields = tests::session_fields(vol.centre(), vol.user_id);
    fields["started_at"]["value"] = json!(in_three_days);
    let change = vol.change("sessions", Uuid::now_v7(), fields.clone());
    let answer = app.push_ok(&vol, vec![change]).await;
    assert_eq!(answer["results"][0]["code"], "future_start", "{answer}");

    // The same start from a phone whose clock is three days ahead: the app
    // stamped "now" by that clock, so the work is kept.
    let change = vol.change("sessions", Uuid::now_v7(), fields);
    let body = json!({
        "device_id": vol.device,
        "device_time": in_three_days,
        "changes": [change],
    });
    let answer: Value = app
        .post_json("/v1/sync/push", Some(&vol.access), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
}
