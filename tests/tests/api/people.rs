//! Beneficiaries as people (contract section 10): the national id and its
//! check digit, consent and its history, and minimisation by role.

use serde_json::{json, Value};
use tests::{Session, TestApp};
use uuid::Uuid;

const NATIONAL_ID: &str = "1101700230708";

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "a 200");
    response.json().await.unwrap()
}

fn person(who: &mut Session, id: Uuid, extra: Value) -> Value {
    let mut fields = json!({
        "centre_id": {"value": who.centre()},
        "village_code": {"value": "50010203"},
        "display_name": {"value": "นางสาวมาลี ใจดี"},
        "consent": {"value": true},
        "consent_version": {"value": "2026-01"},
    });
    for (k, v) in extra.as_object().unwrap() {
        fields[k] = v.clone();
    }
    who.change("beneficiaries", id, fields)
}

fn results(pushed: &Value) -> Vec<(String, String)> {
    pushed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_national_id_needs_its_check_digit_and_consent_keeps_its_history() {
    let app = TestApp::spawn().await;
    let mut volunteer = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let id = Uuid::now_v7();
    let bad = person(
        &mut volunteer,
        Uuid::now_v7(),
        json!({"national_id": {"value": "1101700230709"}}),
    );
    let without_consent = person(
        &mut volunteer,
        Uuid::now_v7(),
        json!({"consent": {"value": false}}),
    );
    let erased_by_hand = person(
        &mut volunteer,
        Uuid::now_v7(),
        json!({"_erased": {"value": true}}),
    );
    let good = person(
        &mut volunteer,
        id,
        json!({"national_id": {"value": NATIONAL_ID}}),
    );
    let given = good["hlc"].as_str().unwrap().to_owned();
    let pushed = app
        .push_ok(&volunteer, vec![bad, without_consent, erased_by_hand, good])
        .await;
    let codes: Vec<_> = results(&pushed).into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        codes,
        [
            "invalid_national_id",
            "consent_required",
            "server_only_field",
            ""
        ]
    );

    // A withdrawal under a newer consent text, recorded like any write.
    let withdrawal = volunteer.change(
        "beneficiaries",
        id,
        json!({"consent": {"value": false, "base": [given]},
               "consent_version": {"value": "2026-06", "base": [given]}}),
    );
    let withdrawn = withdrawal["hlc"].as_str().unwrap().to_owned();
    let pushed = app.push_ok(&volunteer, vec![withdrawal]).await;
    assert_eq!(results(&pushed)[0].0, "applied");

    let record = json_of(app.record(&manager, "beneficiaries", id).await).await;
    assert_eq!(record["fields"]["consent"], false);
    assert_eq!(record["fields"]["national_id"], NATIONAL_ID);
    let history = record["consent_history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{record}");
    for (entry, (consent, version, hlc)) in history
        .iter()
        .zip([(true, "2026-01", &given), (false, "2026-06", &withdrawn)])
    {
        assert_eq!(entry["consent"], consent);
        assert_eq!(entry["consent_version"], version);
        assert_eq!(&entry["hlc"], hlc);
        assert_eq!(entry["author"], json!(volunteer.user_id));
        assert_eq!(entry["device_id"], json!(volunteer.device));
        assert!(entry["at"].as_str().unwrap().ends_with('Z'));
    }
    // A list of records does not carry the history.
    let page = json_of(app.records(&manager, "beneficiaries", "").await).await;
    assert!(page["records"][0].get("consent_history").is_none());
}

#[tokio::test]
async fn a_volunteer_sees_phone_and_national_id_only_on_the_people_they_created() {
    let app = TestApp::spawn().await;
    let mut creator = app.user("volunteer", Some("C0001")).await;
    let mut other = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let id = Uuid::now_v7();
    let create = person(
        &mut creator,
        id,
        json!({"phone": {"value": "0812345678"}, "national_id": {"value": NATIONAL_ID}}),
    );
    let created = create["hlc"].as_str().unwrap().to_owned();
    app.push_ok(&creator, vec![create]).await;

    // In a pull: masked writes with the real HLC and base.
    let (pulled, _) = app.pull_all_as(&other, "", true).await;
    let fields = &pulled[0]["fields"];
    assert_eq!(fields["phone"], json!({"value": null, "masked": "5678"}));
    assert_eq!(
        fields["national_id"],
        json!({"value": null, "masked": "0708"})
    );
    assert_eq!(fields["display_name"]["value"], "นางสาวมาลี ใจดี");
    assert_eq!(pulled[0]["hlc"], created.as_str());
    let (theirs, _) = app.pull_all_as(&creator, "include_own=true", true).await;
    assert_eq!(theirs[0]["fields"]["phone"]["value"], "0812345678");
    let (managers, _) = app.pull_all_as(&manager, "", true).await;
    assert_eq!(managers[0]["fields"]["national_id"]["value"], NATIONAL_ID);

    // In a record read and an export.
    let record = json_of(app.record(&other, "beneficiaries", id).await).await;
    assert_eq!(record["fields"]["phone"], Value::Null);
    assert_eq!(
        record["masked"],
        json!({"phone": "5678", "national_id": "0708"})
    );
    let record = json_of(app.record(&manager, "beneficiaries", id).await).await;
    assert_eq!(record["fields"]["phone"], "0812345678");
    assert!(record.get("masked").is_none());
    let csv = app
        .records(&other, "beneficiaries", "format=csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("****5678") && csv.contains("****0708"),
        "{csv}"
    );
    assert!(!csv.contains("0812345678") && !csv.contains(NATIONAL_ID));
    let header = csv.lines().next().unwrap().trim_start_matches('\u{feff}');
    assert!(
        header.ends_with(",updated_at,national_id,consent_version,erased"),
        "the new columns come after version 1's: {header}"
    );

    // The other volunteer corrects the phone over the masked value: an
    // ordinary write; the creator sees it in full, the writer still masked.
    let edit = other.change(
        "beneficiaries",
        id,
        json!({"phone": {"value": "0899990000", "base": [created]}}),
    );
    let pushed = app.push_ok(&other, vec![edit]).await;
    assert_eq!(results(&pushed)[0].0, "applied");
    let record = json_of(app.record(&manager, "beneficiaries", id).await).await;
    assert_eq!(record["fields"]["phone"], "0899990000");
    assert_eq!(record["conflicts"], json!([]));
    let (pulled, _) = app.pull_all_as(&creator, "", true).await;
    assert_eq!(pulled[0]["fields"]["phone"]["value"], "0899990000");
    let record = json_of(app.record(&other, "beneficiaries", id).await).await;
    assert_eq!(record["masked"]["phone"], "0000");
}

#[tokio::test]
async fn a_version_1_client_gets_no_key_of_1_1_and_no_masked_attribute() {
    let app = TestApp::spawn().await;
    let mut creator = app.user("volunteer", Some("C0001")).await;
    let other = app.user("volunteer", Some("C0001")).await;
    let id = Uuid::now_v7();
    let create = person(
        &mut creator,
        id,
        json!({"phone": {"value": "0812345678"}, "national_id": {"value": NATIONAL_ID}}),
    );
    let base = create["hlc"].as_str().unwrap().to_owned();
    let only_new = creator.change(
        "beneficiaries",
        id,
        json!({"consent_version": {"value": "2026-06", "base": [base]}}),
    );
    let skipped = only_new["id"].clone();
    app.push_ok(&creator, vec![create, only_new]).await;

    let (pulled, cursor) = app.pull_all(&other, "").await;
    assert_eq!(pulled.len(), 1, "the change of 1.1 keys only is skipped");
    assert!(pulled.iter().all(|c| c["id"] != skipped));
    let fields = pulled[0]["fields"].as_object().unwrap();
    assert!(!fields.contains_key("national_id") && !fields.contains_key("consent_version"));
    assert_eq!(fields["phone"], json!({"value": null}));
    // The cursor passed the skipped change: nothing more to pull.
    let again = json_of(app.pull(&other, &format!("cursor={cursor}")).await).await;
    assert_eq!(again["changes"], json!([]));
}

fn named(who: &mut Session, id: Uuid, name: &str, extra: Value) -> Value {
    let mut fields = json!({"display_name": {"value": name}, "birth_year": {"value": 1960}});
    for (k, v) in extra.as_object().unwrap() {
        fields[k] = v.clone();
    }
    person(who, id, fields)
}

#[tokio::test]
async fn managers_find_duplicates_dismiss_them_and_a_merged_person_counts_once() {
    let app = TestApp::spawn().await;
    let mut volunteer = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let elsewhere = app.user("manager", Some("C0002")).await;
    let admin = app.admin().await;
    let [a, b, c, d, e, f] = [(); 6].map(|_| Uuid::now_v7());
    let changes = vec![
        named(&mut volunteer, a, "นายสมชาย ใจดี", json!({})),
        named(
            &mut volunteer,
            b,
            "สมชาย  ใจดีี",
            json!({"birth_year": {"value": 1961}}),
        ),
        named(
            &mut volunteer,
            c,
            "มาลี ศรีสุข",
            json!({"national_id": {"value": NATIONAL_ID}}),
        ),
        named(
            &mut volunteer,
            d,
            "บุญมา แก้วดี",
            json!({"national_id": {"value": NATIONAL_ID}}),
        ),
        named(
            &mut volunteer,
            e,
            "ประยูร ทองคำ",
            json!({"phone": {"value": "+66812345678"}}),
        ),
        named(
            &mut volunteer,
            f,
            "สมศรี มีสุข",
            json!({"phone": {"value": "0812345678"}}),
        ),
    ];
    let pushed = app.push_ok(&volunteer, changes).await;
    assert!(
        results(&pushed).iter().all(|(s, _)| s == "applied"),
        "{pushed}"
    );
    let pair = |x: Uuid, y: Uuid| (x.min(y), x.max(y));
    let listed = |page: &Value| -> Vec<((Uuid, Uuid), Vec<String>)> {
        page["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let id = |k: &str| Uuid::parse_str(p[k].as_str().unwrap()).unwrap();
                assert!(id("a") < id("b"));
                let score = p["score"].as_f64().unwrap();
                assert!((0.0..=1.0).contains(&score));
                let reasons = p["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect();
                ((id("a"), id("b")), reasons)
            })
            .collect()
    };
    let path = "/v1/beneficiaries/duplicates";
    let page = json_of(app.get(path, &manager.access).await).await;
    let found = listed(&page);
    assert_eq!(
        found,
        [
            (pair(c, d), vec!["national_id".to_owned()]),
            (pair(a, b), vec!["name_village_birth_year".to_owned()]),
            (pair(e, f), vec!["phone".to_owned()]),
        ],
        "most likely first: {page}"
    );

    // Who may ask.
    tests::assert_problem(app.get(path, &volunteer.access).await, 403, "forbidden").await;
    tests::assert_problem(
        app.get(&format!("{path}?centre_id=C0001"), &elsewhere.access)
            .await,
        403,
        "forbidden",
    )
    .await;
    tests::assert_problem(app.get(path, &admin.access).await, 400, "missing_centre").await;
    let by_admin = json_of(
        app.get(&format!("{path}?centre_id=C0001"), &admin.access)
            .await,
    )
    .await;
    assert_eq!(listed(&by_admin), found);

    // Dismissing, in either order, twice: the pair is gone and stays gone.
    let dismiss = "/v1/beneficiaries/duplicates/dismiss";
    for _ in 0..2 {
        let answer = app
            .post_json(dismiss, Some(&manager.access), &json!({"a": f, "b": e}))
            .await;
        let answer = json_of(answer).await;
        assert_eq!(answer, json!({"a": e.min(f), "b": e.max(f)}));
    }
    let page = json_of(app.get(path, &manager.access).await).await;
    assert!(!listed(&page).iter().any(|(p, _)| *p == pair(e, f)));
    tests::assert_problem(
        app.post_json(dismiss, Some(&elsewhere.access), &json!({"a": a, "b": b}))
            .await,
        403,
        "forbidden",
    )
    .await;
    tests::assert_problem(
        app.post_json(
            dismiss,
            Some(&manager.access),
            &json!({"a": a, "b": Uuid::now_v7()}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    tests::assert_problem(
        app.post_json(dismiss, Some(&manager.access), &json!({"a": a, "b": a}))
            .await,
        400,
        "invalid_request",
    )
    .await;

    // Two sessions, one with each spelling of one person: two people,
    // until the manager merges b into a; then one, and no longer listed.
    let mut s1 = volunteer.new_session(Uuid::now_v7());
    s1["fields"][format!("beneficiary_ids/{a}")] = json!({"value": true});
    let mut s2 = volunteer.new_session(Uuid::now_v7());
    s2["fields"][format!("beneficiary_ids/{b}")] = json!({"value": true});
    s2["fields"][format!("beneficiary_ids/{c}")] = json!({"value": true});
    app.push_ok(&volunteer, vec![s1, s2]).await;
    let summary = |who: &Session| {
        let token = who.access.clone();
        let app = &app;
        async move { json_of(app.get("/v1/reports/summary?centre_id=C0001", &token).await).await }
    };
    assert_eq!(summary(&manager).await["unique_beneficiaries"], 3);
    let mut manager = manager;
    let merge = manager.change("beneficiaries", b, json!({"merged_into": {"value": a}}));
    let pushed = app.push_ok(&manager, vec![merge]).await;
    assert_eq!(results(&pushed)[0].0, "applied");
    assert_eq!(summary(&manager).await["unique_beneficiaries"], 2);
    let programme = json_of(
        app.get("/v1/reports/programme?centre_id=C0001", &manager.access)
            .await,
    )
    .await;
    assert_eq!(
        programme["totals"]["unique_beneficiaries"], 2,
        "{programme}"
    );
    let page = json_of(app.get(path, &manager.access).await).await;
    assert_eq!(
        listed(&page),
        [(pair(c, d), vec!["national_id".to_owned()])]
    );
}

/// Whether any file of the SQLite database (the database, its WAL) holds
/// these bytes.
fn files_hold(app: &TestApp, needle: &[u8]) -> Vec<String> {
    let db = app.database_path();
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-journal"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test]
async fn an_erased_person_leaves_no_byte_behind_and_cannot_be_written_again() {
    let log = tests::audit::audit_log();
    let app = TestApp::spawn().await;
    let mut volunteer = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let elsewhere = app.user("manager", Some("C0002")).await;
    let (name, phone) = ("นางสาวลบข้อมูลทดสอบ ไม่เหลือร่องรอย", "0861234567");
    let id = Uuid::now_v7();
    let create = person(
        &mut volunteer,
        id,
        json!({"display_name": {"value": name}, "phone": {"value": phone},
               "national_id": {"value": NATIONAL_ID}, "birth_year": {"value": 1971}}),
    );
    let base = create["hlc"].as_str().unwrap().to_owned();
    // A rejected change keeps its body: one with the name in it.
    let bad = volunteer.change(
        "beneficiaries",
        id,
        json!({"display_name": {"value": format!("{name} ซ้ำ"), "base": [base]},
               "national_id": {"value": "1101700230709"}}),
    );
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let mut s = volunteer.new_session(Uuid::now_v7());
        s["fields"][format!("beneficiary_ids/{id}")] = json!({"value": true});
        sessions.push(s);
    }
    let mut batch = vec![create, bad];
    batch.extend(sessions);
    let pushed = app.push_ok(&volunteer, batch).await;
    assert_eq!(results(&pushed)[1].1, "invalid_national_id");
    let before = json_of(app.get("/v1/reports/summary", &manager.access).await).await;
    assert_eq!(before["unique_beneficiaries"], 1);

    let path = format!("/v1/beneficiaries/{id}/erase");
    tests::assert_problem(
        app.post_json(&path, Some(&volunteer.access), &json!({}))
            .await,
        403,
        "forbidden",
    )
    .await;
    tests::assert_problem(
        app.post_json(&path, Some(&elsewhere.access), &json!({}))
            .await,
        403,
        "forbidden",
    )
    .await;
    tests::assert_problem(
        app.post_json(
            &format!("/v1/beneficiaries/{}/erase", Uuid::now_v7()),
            Some(&manager.access),
            &json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let first = json_of(
        app.post_json(&path, Some(&manager.access), &json!({}))
            .await,
    )
    .await;
    assert_eq!(first["id"], json!(id));
    assert_eq!(first["erased"], true);
    assert_eq!(first["erased_by"], json!(manager.user_id));
    let again = json_of(
        app.post_json(&path, Some(&manager.access), &json!({}))
            .await,
    )
    .await;
    assert_eq!(again, first, "erasing twice answers the same");
    let audited = log.lines_with(&id.to_string());
    assert!(
        audited
            .iter()
            .any(|l| l.contains("beneficiary erased") && l.contains(&manager.user_id.to_string())),
        "the erasure is in the audit log: {audited:?}"
    );

    let record = json_of(app.record(&manager, "beneficiaries", id).await).await;
    assert_eq!(record["erased"], true);
    assert_eq!(record["fields"]["display_name"], "-");
    assert_eq!(record["fields"]["phone"], Value::Null);
    assert_eq!(record["fields"]["national_id"], Value::Null);
    assert_eq!(record["fields"]["birth_year"], Value::Null);
    assert_eq!(
        record["fields"]["village_code"], "50010203",
        "other fields stay"
    );
    let after = json_of(app.get("/v1/reports/summary", &manager.access).await).await;
    assert_eq!(after["sessions"], before["sessions"]);
    assert_eq!(
        after["unique_beneficiaries"], 1,
        "the sessions still link the person"
    );
    // One server change wrote the placeholders; nothing in the log has the name.
    let (log, _) = app.pull_all_as(&manager, "", true).await;
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(name) && !text.contains(phone) && !text.contains(NATIONAL_ID));
    let erasing = log
        .iter()
        .find(|c| c["fields"].get("_erased").is_some())
        .unwrap();
    assert!(erasing["hlc"].as_str().unwrap().ends_with("-server"));

    // A phone that was offline writes the name again, and a village: the
    // name's change is refused and not kept, the rest of the batch is.
    let rename = volunteer.change(
        "beneficiaries",
        id,
        json!({"display_name": {"value": "ชื่อใหม่หลังการลบ", "base": [base]}}),
    );
    let village = volunteer.change(
        "beneficiaries",
        id,
        json!({"village_code": {"value": "50010204"}}),
    );
    // Refused `erased` even when another rule would refuse it too (a bad
    // check digit): no verdict keeps the phone number it carries.
    let invalid_too = volunteer.change(
        "beneficiaries",
        id,
        json!({"phone": {"value": phone}, "national_id": {"value": "1101700230709"}}),
    );
    let pushed = app
        .push_ok(&volunteer, vec![rename, village, invalid_too])
        .await;
    assert_eq!(
        results(&pushed),
        [
            ("rejected".to_owned(), "erased".to_owned()),
            ("applied".to_owned(), String::new()),
            ("rejected".to_owned(), "erased".to_owned()),
        ]
    );

    if !tests::on_postgres() {
        for needle in [
            name.as_bytes(),
            "ลบข้อมูลทดสอบ".as_bytes(),
            phone.as_bytes(),
            NATIONAL_ID.as_bytes(),
            "ชื่อใหม่หลังการลบ".as_bytes(),
        ] {
            let found = files_hold(&app, needle);
            assert!(
                found.is_empty(),
                "{:?} is still in {found:?}",
                String::from_utf8_lossy(needle)
            );
        }
        // The scan can fail: the same files hold what was not erased.
        assert!(!files_hold(&app, "50010204".as_bytes()).is_empty());
    }
}

#[tokio::test]
async fn a_persons_export_holds_everything_stored_about_them_with_the_consent_history() {
    let log = tests::audit::audit_log();
    let app = TestApp::spawn().await;
    let mut volunteer = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let elsewhere = app.user("manager", Some("C0002")).await;
    let id = Uuid::now_v7();
    let create = person(
        &mut volunteer,
        id,
        json!({"phone": {"value": "0812345678"}, "national_id": {"value": NATIONAL_ID}}),
    );
    let base = create["hlc"].as_str().unwrap().to_owned();
    let withdraw = volunteer.change(
        "beneficiaries",
        id,
        json!({"consent": {"value": false, "base": [base]}}),
    );
    let mut session = volunteer.new_session(Uuid::now_v7());
    session["fields"][format!("beneficiary_ids/{id}")] = json!({"value": true});
    let session_id = session["record_id"].clone();
    app.push_ok(&volunteer, vec![create, withdraw, session])
        .await;

    let path = format!("/v1/beneficiaries/{id}/export");
    tests::assert_problem(app.get(&path, &volunteer.access).await, 403, "forbidden").await;
    tests::assert_problem(app.get(&path, &elsewhere.access).await, 403, "forbidden").await;
    tests::assert_problem(
        app.get(
            &format!("/v1/beneficiaries/{}/export", Uuid::now_v7()),
            &manager.access,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let export = json_of(app.get(&path, &manager.access).await).await;
    assert_eq!(export["record"]["fields"]["phone"], "0812345678");
    assert_eq!(export["record"]["fields"]["national_id"], NATIONAL_ID);
    let history = export["record"]["consent_history"].as_array().unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| h["consent"].clone())
            .collect::<Vec<_>>(),
        [json!(true), json!(false)]
    );
    assert_eq!(export["changes"].as_array().unwrap().len(), 2);
    assert_eq!(export["sessions"], json!([session_id]));
    assert_eq!(export["erasure"], Value::Null);
    assert!(export["exported_at"].as_str().unwrap().ends_with('Z'));
    let audited = log.lines_with(&id.to_string());
    assert!(
        audited.iter().any(|l| l.contains("beneficiary exported")),
        "the export is in the audit log: {audited:?}"
    );

    // After an erasure, the export says so and holds no personal value.
    let erased = app
        .post_json(
            &format!("/v1/beneficiaries/{id}/erase"),
            Some(&manager.access),
            &json!({}),
        )
        .await;
    assert_eq!(erased.status(), 200);
    let export = json_of(app.get(&path, &manager.access).await).await;
    assert_eq!(export["erasure"]["erased"], true);
    let text = export.to_string();
    assert!(
        !text.contains("0812345678") && !text.contains(NATIONAL_ID),
        "{text}"
    );
    assert_eq!(
        export["sessions"],
        json!([session_id]),
        "the sessions still link them"
    );
}

#[tokio::test]
async fn records_merged_into_one_another_are_one_person_exported_and_erased_together() {
    let log = tests::audit::audit_log();
    let app = TestApp::spawn().await;
    let mut volunteer = app.user("volunteer", Some("C0001")).await;
    let mut manager = app.user("manager", Some("C0001")).await;
    let mut far = app.user("volunteer", Some("C0002")).await;
    let admin = app.user("admin", None).await;
    // c -> b -> a: three records of one person, written on three visits.
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (name_a, name_b, name_c) = ("นางบุญมี ศรีสุข", "นางบุญมี ศรีสุก", "นางบุญมี สีสุข");
    let mut changes = vec![
        person(
            &mut volunteer,
            a,
            json!({"display_name": {"value": name_a}}),
        ),
        person(
            &mut volunteer,
            b,
            json!({"display_name": {"value": name_b}, "phone": {"value": "0891112222"}}),
        ),
        person(
            &mut volunteer,
            c,
            json!({"display_name": {"value": name_c}}),
        ),
    ];
    let mut session = volunteer.new_session(Uuid::now_v7());
    session["fields"][format!("beneficiary_ids/{b}")] = json!({"value": true});
    let session_id = session["record_id"].clone();
    changes.push(session);
    app.push_ok(&volunteer, changes).await;
    let merges = vec![
        manager.change("beneficiaries", b, json!({"merged_into": {"value": a}})),
        manager.change("beneficiaries", c, json!({"merged_into": {"value": b}})),
    ];
    app.push_ok(&manager, merges).await;
    // Someone else, merged into no one: untouched by all of this.
    let other = Uuid::now_v7();
    let create = person(
        &mut volunteer,
        other,
        json!({"display_name": {"value": "นายอื่น ต่างคน"}}),
    );
    app.push_ok(&volunteer, vec![create]).await;

    // The export of any of the three holds all three and the session.
    let export = json_of(
        app.get(&format!("/v1/beneficiaries/{c}/export"), &manager.access)
            .await,
    )
    .await;
    assert_eq!(export["record"]["id"], json!(c));
    let merged: Vec<Value> = export["merged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["record"]["id"].clone())
        .collect();
    let mut expected = vec![json!(a), json!(b)];
    expected.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(merged, expected);
    let text = export.to_string();
    assert!(text.contains(name_a) && text.contains(name_b) && text.contains("0891112222"));
    assert_eq!(export["sessions"], json!([session_id]), "linked under b");
    assert!(!export["merged"][0]["changes"]
        .as_array()
        .unwrap()
        .is_empty());

    // Erasing b erases the person: a, b and c, each in the ledger.
    let erased = json_of(
        app.post_json(
            &format!("/v1/beneficiaries/{b}/erase"),
            Some(&manager.access),
            &json!({}),
        )
        .await,
    )
    .await;
    let mut all = vec![a, b, c];
    all.sort_unstable();
    assert_eq!(erased["id"], json!(b));
    assert_eq!(erased["records"], json!(all));
    for id in [a, b, c] {
        let record = json_of(app.record(&manager, "beneficiaries", id).await).await;
        assert_eq!(record["erased"], true, "{id}: {record}");
        assert_eq!(record["fields"]["display_name"], "-");
        assert!(
            log.lines_with(&id.to_string())
                .iter()
                .any(|l| l.contains("beneficiary erased")),
            "{id} is in the audit log"
        );
        // Each is in the ledger: a write of the name is refused `erased`.
        let rename = volunteer.change(
            "beneficiaries",
            id,
            json!({"display_name": {"value": "ชื่อกลับมา"}}),
        );
        let pushed = app.push_ok(&volunteer, vec![rename]).await;
        assert_eq!(results(&pushed)[0].1, "erased", "{id}");
    }
    let record = json_of(app.record(&manager, "beneficiaries", other).await).await;
    assert!(record.get("erased").is_none(), "{record}");
    let (log_now, _) = app.pull_all_as(&manager, "", true).await;
    let text = serde_json::to_string(&log_now).unwrap();
    for name in [name_a, name_b, name_c, "0891112222"] {
        assert!(!text.contains(name), "{name} is still in the log");
    }

    // A record of another centre merged into a person: only an admin, who
    // may act on both centres, erases them.
    let (d, e) = (Uuid::now_v7(), Uuid::now_v7());
    let create = person(&mut volunteer, d, json!({}));
    app.push_ok(&volunteer, vec![create]).await;
    let mut there = person(&mut far, e, json!({}));
    there["fields"]["merged_into"] = json!({"value": d});
    app.push_ok(&far, vec![there]).await;
    tests::assert_problem(
        app.post_json(
            &format!("/v1/beneficiaries/{d}/erase"),
            Some(&manager.access),
            &json!({}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let record = json_of(app.record(&manager, "beneficiaries", d).await).await;
    assert!(record.get("erased").is_none(), "a refusal changes nothing");
    let erased = json_of(
        app.post_json(
            &format!("/v1/beneficiaries/{d}/erase"),
            Some(&admin.access),
            &json!({}),
        )
        .await,
    )
    .await;
    let mut both = vec![d, e];
    both.sort_unstable();
    assert_eq!(erased["records"], json!(both));
}

#[tokio::test]
async fn a_conflict_on_a_masked_key_is_judged_on_what_the_reader_sees() {
    let app = TestApp::spawn().await;
    let mut creator = app.user("volunteer", Some("C0001")).await;
    let mut other = app.user("volunteer", Some("C0001")).await;
    let mut manager = app.user("manager", Some("C0001")).await;
    let id = Uuid::now_v7();
    let create = person(&mut creator, id, json!({"phone": {"value": "0811111234"}}));
    let base = create["hlc"].as_str().unwrap().to_owned();
    app.push_ok(&creator, vec![create]).await;
    // Two concurrent corrections, two numbers that end alike.
    let by_manager = manager.change(
        "beneficiaries",
        id,
        json!({"phone": {"value": "0822221234", "base": [base]}}),
    );
    app.push_ok(&manager, vec![by_manager]).await;
    let by_creator = creator.change(
        "beneficiaries",
        id,
        json!({"phone": {"value": "0833331234", "base": [base]}}),
    );
    app.push_ok(&creator, vec![by_creator]).await;

    let conflicted = |page: &Value| -> Vec<Value> {
        page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect()
    };
    // The manager sees the conflict; the other volunteer, who sees only
    // "1234" twice, sees none: not in the record, the filter or the CSV.
    let record = json_of(app.record(&manager, "beneficiaries", id).await).await;
    assert_eq!(record["conflicts"][0]["key"], "phone", "{record}");
    let page = json_of(
        app.records(&manager, "beneficiaries", "conflicts=only")
            .await,
    )
    .await;
    assert_eq!(conflicted(&page), [json!(id)]);
    let record = json_of(app.record(&other, "beneficiaries", id).await).await;
    assert_eq!(record["conflicts"], json!([]), "{record}");
    assert_eq!(record["masked"]["phone"], "1234");
    let page = json_of(app.records(&other, "beneficiaries", "conflicts=only").await).await;
    assert_eq!(conflicted(&page), Vec::<Value>::new());
    let csv = app
        .records(&other, "beneficiaries", "format=csv&conflicts=only")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1, "a header only: {csv}");

    // A third number that ends otherwise: now a conflict to them too, of
    // masked heads.
    let by_other = other.change(
        "beneficiaries",
        id,
        json!({"phone": {"value": "0844445678", "base": [base]}}),
    );
    app.push_ok(&other, vec![by_other]).await;
    let record = json_of(app.record(&other, "beneficiaries", id).await).await;
    let heads = record["conflicts"][0]["heads"].as_array().unwrap();
    assert_eq!(heads.len(), 3, "{record}");
    assert!(heads.iter().all(|h| h["value"] == Value::Null));
    let mut hints: Vec<&str> = heads
        .iter()
        .map(|h| h["masked"].as_str().unwrap())
        .collect();
    hints.sort_unstable();
    assert_eq!(hints, ["1234", "1234", "5678"]);
    let page = json_of(app.records(&other, "beneficiaries", "conflicts=only").await).await;
    assert_eq!(conflicted(&page), [json!(id)]);
}
