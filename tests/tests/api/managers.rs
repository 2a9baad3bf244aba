//! What managers read and write (contract section 9): resolving a conflict
//! on the server, the devices of a centre, and the programme report.

use serde_json::{json, Value};
use tests::{assert_problem, Session, TestApp};
use uuid::Uuid;

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "a 200");
    response.json().await.unwrap()
}

/// A session with `notes` in conflict between its volunteer's two devices.
async fn conflicted(app: &TestApp) -> (Session, Session, Uuid) {
    let mut phone = app.user("volunteer", Some("C0001")).await;
    let mut tablet = app.another_device(&phone).await;
    tablet.set_next_seq(1);
    let id = Uuid::now_v7();
    let create = phone.new_session(id);
    let base = create["hlc"].as_str().unwrap().to_owned();
    app.push_ok(&phone, vec![create]).await;
    for (device, text) in [(&mut phone, "จากโทรศัพท์"), (&mut tablet, "จากแท็บเล็ต")]
    {
        let edit = device.change(
            "sessions",
            id,
            json!({"notes": {"value": text, "base": [base]}}),
        );
        app.push_ok(device, vec![edit]).await;
    }
    (phone, tablet, id)
}

fn heads(record: &Value) -> Vec<String> {
    record["conflicts"][0]["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hlc"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_manager_resolves_a_conflict_on_the_server_and_every_device_gets_it() {
    let app = TestApp::spawn().await;
    let (phone, _, id) = conflicted(&app).await;
    let manager = app.user("manager", Some("C0001")).await;
    let record = json_of(app.record(&manager, "sessions", id).await).await;
    assert_eq!(record["conflicts"][0]["key"], "notes");
    let seen = heads(&record);
    assert_eq!(seen.len(), 2);
    let path = format!("/v1/records/sessions/{id}/resolve");
    let resolved = app
        .post_json(
            &path,
            Some(&manager.access),
            &json!({"key": "notes", "value": "ยืนยันแล้ว", "base": seen}),
        )
        .await;
    let resolved = json_of(resolved).await;
    assert_eq!(resolved["conflicts"], json!([]));
    assert_eq!(resolved["fields"]["notes"], "ยืนยันแล้ว");
    // The resolution is a change in the log, from the server's own clock,
    // delivered to the volunteer's devices (and to the manager's own).
    let (pulled, _) = app.pull_all(&phone, "").await;
    let last = pulled.last().unwrap();
    assert!(last["hlc"].as_str().unwrap().ends_with("-server"), "{last}");
    assert_eq!(last["device_seq"], 0);
    assert_eq!(last["author"], json!(manager.user_id));
    assert_eq!(last["fields"]["notes"]["base"].as_array().unwrap().len(), 2);
    let (theirs, _) = app.pull_all(&manager, "").await;
    assert!(theirs.iter().any(|c| c["id"] == last["id"]));

    // Resolving again: nothing is in conflict any more.
    let current = vec![last["hlc"].as_str().unwrap().to_owned()];
    assert_problem(
        app.post_json(
            &path,
            Some(&manager.access),
            &json!({"key": "notes", "value": "อีกครั้ง", "base": current}),
        )
        .await,
        409,
        "not_in_conflict",
    )
    .await;
}

#[tokio::test]
async fn a_resolution_over_heads_that_changed_meanwhile_is_refused() {
    let app = TestApp::spawn().await;
    let (mut phone, _, id) = conflicted(&app).await;
    let manager = app.user("manager", Some("C0001")).await;
    let record = json_of(app.record(&manager, "sessions", id).await).await;
    let seen = heads(&record);
    // Another edit arrives after the manager opened the page.
    let late = phone.change(
        "sessions",
        id,
        json!({"notes": {"value": "แก้อีกรอบ", "base": [seen[0]]}}),
    );
    app.push_ok(&phone, vec![late]).await;
    let path = format!("/v1/records/sessions/{id}/resolve");
    let refused = app
        .post_json(
            &path,
            Some(&manager.access),
            &json!({"key": "notes", "value": "ยืนยัน", "base": seen}),
        )
        .await;
    assert_problem(refused, 409, "heads_changed").await;
    let after = json_of(app.record(&manager, "sessions", id).await).await;
    assert!(
        after["conflicts"][0]["heads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["value"] == "แก้อีกรอบ"),
        "nothing was overwritten: {after}"
    );
}

#[tokio::test]
async fn only_a_manager_of_the_centre_resolves_and_only_valid_values() {
    let app = TestApp::spawn().await;
    let (phone, _, id) = conflicted(&app).await;
    let manager = app.user("manager", Some("C0001")).await;
    let other = app.user("manager", Some("C0002")).await;
    let record = json_of(app.record(&manager, "sessions", id).await).await;
    let seen = heads(&record);
    let path = format!("/v1/records/sessions/{id}/resolve");
    for who in [&other, &phone] {
        assert_problem(
            app.post_json(
                &path,
                Some(&who.access),
                &json!({"key": "notes", "value": "x", "base": seen}),
            )
            .await,
            403,
            "forbidden",
        )
        .await;
    }
    for (body, code) in [
        (
            json!({"key": "notes", "value": 42, "base": seen}),
            "invalid_type",
        ),
        (
            json!({"key": "notes", "value": "ก".repeat(4001), "base": seen}),
            "too_long",
        ),
        (
            json!({"key": "shoe_size", "value": 42, "base": seen}),
            "unknown_field",
        ),
        (
            json!({"key": "notes", "value": "x", "base": ["yesterday"]}),
            "invalid_base",
        ),
    ] {
        assert_problem(
            app.post_json(&path, Some(&manager.access), &body).await,
            400,
            code,
        )
        .await;
    }
    assert_problem(
        app.post_json(
            &format!("/v1/records/sessions/{}/resolve", Uuid::now_v7()),
            Some(&manager.access),
            &json!({"key": "notes", "value": "x", "base": seen}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let unchanged = json_of(app.record(&manager, "sessions", id).await).await;
    assert_eq!(
        unchanged["conflicts"], record["conflicts"],
        "nothing changed"
    );
}

#[tokio::test]
async fn the_devices_list_shows_last_sync_rejections_and_skewed_clocks() {
    let app = TestApp::spawn().await;
    let mut skewed = app.user("volunteer", Some("C0001")).await;
    let mut fine = app.user("volunteer", Some("C0001")).await;
    let elsewhere = app.user("volunteer", Some("C0002")).await;
    let manager = app.user("manager", Some("C0001")).await;
    // A phone a year ahead pushes; its offset is recorded from device_time.
    let change = skewed.new_session(Uuid::now_v7());
    let year_ahead = (chrono::Utc::now() + chrono::Duration::days(365)).to_rfc3339();
    let body = json!({"device_id": skewed.device, "device_time": year_ahead, "changes": [change]});
    let pushed = app
        .post_json("/v1/sync/push", Some(&skewed.access), &body)
        .await;
    assert_eq!(pushed.status(), 200);
    let bad = fine.change("sessions", Uuid::now_v7(), json!({"notes": {"value": "x"}}));
    let answer = app.push_ok(&fine, vec![bad]).await;
    assert_eq!(answer["results"][0]["status"], "rejected");

    let page = json_of(app.get("/v1/devices", &manager.access).await).await;
    let devices = page["devices"].as_array().unwrap();
    let find = |device: Uuid| {
        devices
            .iter()
            .find(|d| d["device_id"] == json!(device))
            .unwrap_or_else(|| panic!("{device} listed: {page}"))
    };
    let year = find(skewed.device);
    assert_eq!(year["clock_skewed"], true);
    assert!(year["clock_offset_ms"].as_i64().unwrap() > 364 * 24 * 3600 * 1000);
    assert!(year["last_push_at"].is_string());
    assert_eq!(year["acked_seq"], 1);
    let one = find(fine.device);
    assert_eq!(one["clock_skewed"], false);
    assert_eq!(one["rejections_7d"], 1);
    assert!(
        devices
            .iter()
            .all(|d| d["device_id"] != json!(elsewhere.device)),
        "nothing of another centre"
    );
    assert_problem(
        app.get("/v1/devices?centre_id=C0002", &manager.access)
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(app.get("/v1/devices", &fine.access).await, 403, "forbidden").await;
}

#[tokio::test]
async fn the_programme_report_counts_volunteers_against_the_target_of_four() {
    let app = TestApp::spawn().await;
    let mut busy = app.user("volunteer", Some("C0001")).await;
    let mut quiet = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let mut changes = Vec::new();
    for (day, people) in [("2026-11-02", 3), ("2026-11-04", 2), ("2026-11-10", 1)] {
        let mut fields = tests::session_fields("C0001", busy.user_id);
        fields["started_at"]["value"] = json!(format!("{day}T10:00:00+07:00"));
        fields["people_helped"]["value"] = json!(people);
        fields["duration_min"]["value"] = json!(40);
        changes.push(busy.change("sessions", Uuid::now_v7(), fields));
    }
    app.push_ok(&busy, changes).await;
    let one = quiet.new_session(Uuid::now_v7());
    app.push_ok(&quiet, vec![one]).await;

    let report = json_of(
        app.get(
            "/v1/reports/programme?from=2026-11-01&to=2026-11-30",
            &manager.access,
        )
        .await,
    )
    .await;
    assert_eq!(report["target_per_volunteer"], 4);
    assert_eq!(report["volunteers_meeting_target"], 1);
    assert_eq!(report["totals"]["sessions"], 4);
    assert_eq!(report["totals"]["people_helped"], 9);
    assert_eq!(report["totals"]["volunteers"], 2);
    let me = report["volunteers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["volunteer_id"] == json!(busy.user_id))
        .unwrap();
    assert_eq!(me["sessions"], 3);
    assert_eq!(me["people_helped"], 6);
    assert_eq!(me["hours"], 2.0);
    assert_eq!(me["meets_target"], true);
    assert_eq!(me["display_name"], json!(busy.username));
    let weeks: Vec<(String, u64)> = report["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["week_start"].as_str().unwrap().to_owned(),
                w["sessions"].as_u64().unwrap(),
            )
        })
        .collect();
    // 2026-11-02 is a Monday; the 4th is in its week, the 10th in the next,
    // and the quiet volunteer's session (28 November) in the week of the 23rd.
    assert_eq!(
        weeks,
        [
            ("2026-11-02".to_owned(), 2),
            ("2026-11-09".to_owned(), 1),
            ("2026-11-23".to_owned(), 1)
        ]
    );
    assert_problem(
        app.get(
            "/v1/reports/programme?from=2026-12-01&to=2026-11-01",
            &manager.access,
        )
        .await,
        400,
        "invalid_range",
    )
    .await;
}
