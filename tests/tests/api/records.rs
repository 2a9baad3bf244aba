//! Merged records for managers: filters, pages, CSV, single records, the
//! summary report, and who sees what.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{assert_problem, Session, TestApp};
use uuid::Uuid;

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn listed(page: &Value) -> Vec<String> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Two volunteers of C0001 and one of C0002, each with sessions; returns them.
async fn centre_with_sessions(app: &TestApp) -> (Session, Session, Session, Vec<Uuid>) {
    let mut a = app.user("volunteer", Some("C0001")).await;
    let mut b = app.user("volunteer", Some("C0001")).await;
    let mut c = app.user("volunteer", Some("C0002")).await;
    let mut ids = Vec::new();
    for (author, village, day) in [
        (0, "50010203", "2026-11-01"),
        (0, "50010204", "2026-11-15"),
        (1, "50010203", "2026-11-20"),
    ] {
        let who = if author == 0 { &mut a } else { &mut b };
        let id = Uuid::now_v7();
        let mut fields = tests::session_fields(who.centre(), who.user_id);
        fields["village_code"]["value"] = json!(village);
        fields["started_at"]["value"] = json!(format!("{day}T10:00:00+07:00"));
        let change = who.change("sessions", id, fields);
        app.push_ok(who, vec![change]).await;
        ids.push(id);
    }
    let other = c.new_session(Uuid::now_v7());
    app.push_ok(&c, vec![other]).await;
    (a, b, c, ids)
}

#[tokio::test]
async fn managers_list_their_centres_records_with_filters_and_pages() {
    let app = TestApp::spawn().await;
    let (a, _, _, ids) = centre_with_sessions(&app).await;
    let manager = app.user("manager", Some("C0001")).await;
    let all = json_of(app.records(&manager, "sessions", "").await).await;
    assert_eq!(listed(&all).len(), 3);
    assert_eq!(all["next_page_token"], Value::Null);
    let record = &all["records"][0];
    assert_eq!(record["collection"], "sessions");
    assert_eq!(record["centre_id"], "C0001");
    assert_eq!(record["deleted"], false);
    assert_eq!(record["fields"]["beneficiary_ids"], json!([]));

    let mine = json_of(
        app.records(&manager, "sessions", &format!("volunteer_id={}", a.user_id))
            .await,
    )
    .await;
    assert_eq!(listed(&mine).len(), 2);
    let village = json_of(
        app.records(&manager, "sessions", "village_code=50010204")
            .await,
    )
    .await;
    assert_eq!(listed(&village), [ids[1].to_string()]);
    let dated = json_of(
        app.records(&manager, "sessions", "from=2026-11-15&to=2026-11-20")
            .await,
    )
    .await;
    assert_eq!(listed(&dated), [ids[1].to_string(), ids[2].to_string()]);

    let first = json_of(app.records(&manager, "sessions", "limit=2").await).await;
    assert_eq!(listed(&first).len(), 2);
    let token = first["next_page_token"].as_str().unwrap();
    let second = json_of(
        app.records(&manager, "sessions", &format!("limit=2&page_token={token}"))
            .await,
    )
    .await;
    assert_eq!(listed(&second).len(), 1);
    assert_eq!(second["next_page_token"], Value::Null);
}

#[tokio::test]
async fn deleted_records_are_listed_flagged_unless_excluded() {
    let app = TestApp::spawn().await;
    let (mut a, _, _, ids) = centre_with_sessions(&app).await;
    let delete = a.change("sessions", ids[0], json!({"_deleted": {"value": true}}));
    app.push_ok(&a, vec![delete]).await;
    let manager = app.user("manager", Some("C0001")).await;
    let record = json_of(app.record(&manager, "sessions", ids[0]).await).await;
    assert_eq!(record["deleted"], true);
    assert!(record["fields"].get("_deleted").is_none());
    let kept = json_of(app.records(&manager, "sessions", "deleted=exclude").await).await;
    assert_eq!(listed(&kept).len(), 2);
    let summary = json_of(app.get("/v1/reports/summary", &manager.access).await).await;
    assert_eq!(summary["sessions"], 2);
}

#[tokio::test]
async fn csv_export_has_a_header_and_opens_thai_text_correctly() {
    let app = TestApp::spawn().await;
    let (_, _, _, ids) = centre_with_sessions(&app).await;
    let manager = app.user("manager", Some("C0001")).await;
    for request in [
        app.client
            .get(app.url("/v1/records/sessions?format=csv"))
            .bearer_auth(&manager.access),
        app.client
            .get(app.url("/v1/records/sessions"))
            .bearer_auth(&manager.access)
            .header("accept", "text/csv"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        let bytes = response.bytes().await.unwrap();
        assert_eq!(
            &bytes[..3],
            b"\xEF\xBB\xBF",
            "a UTF-8 byte-order mark for spreadsheets"
        );
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(&header[..3], ["id", "centre_id", "volunteer_id"]);
        assert!(header.contains(&"notes".to_owned()) && header.contains(&"deleted".to_owned()));
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        let notes = header.iter().position(|h| h == "notes").unwrap();
        assert_eq!(&rows[0][notes], "ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ");
        assert!(rows.iter().any(|r| r[0] == ids[0].to_string()));
    }
}

#[tokio::test]
async fn the_summary_counts_sessions_people_beneficiaries_and_volunteers() {
    let app = TestApp::spawn().await;
    let (mut a, _, _, ids) = centre_with_sessions(&app).await;
    let person = Uuid::now_v7();
    let link = a.change(
        "sessions",
        ids[0],
        json!({format!("beneficiary_ids/{person}"): {"value": true}}),
    );
    let create = a.new_beneficiary(person, "นางมาลี");
    app.push_ok(&a, vec![create, link]).await;
    let manager = app.user("manager", Some("C0001")).await;
    let summary = json_of(app.get("/v1/reports/summary", &manager.access).await).await;
    assert_eq!(summary["sessions"], 3);
    assert_eq!(summary["people_helped"], 9);
    assert_eq!(summary["unique_beneficiaries"], 1);
    assert_eq!(summary["active_volunteers"], 2);
    assert_eq!(summary["by_help_type"], json!({"welfare_rights": 3}));
    assert_eq!(summary["by_village"], json!({"50010203": 2, "50010204": 1}));
    assert_eq!(summary["open_conflicts"], 0);
    let november_firsts = json_of(
        app.get(
            "/v1/reports/summary?from=2026-11-01&to=2026-11-01",
            &manager.access,
        )
        .await,
    )
    .await;
    assert_eq!(november_firsts["sessions"], 1);
    let admin = app.admin().await;
    let everything = json_of(app.get("/v1/reports/summary", &admin.access).await).await;
    assert_eq!(everything["sessions"], 4);
    let own = json_of(app.get("/v1/reports/summary", &a.access).await).await;
    assert_eq!(
        own["sessions"], 2,
        "a volunteer's report covers their own sessions"
    );
}

#[tokio::test]
async fn each_role_reads_only_its_scope() {
    let app = TestApp::spawn().await;
    let (mut a, b, c, ids) = centre_with_sessions(&app).await;
    let person = Uuid::now_v7();
    let batch = vec![a.new_beneficiary(person, "นายดำ")];
    app.push_ok(&a, batch).await;
    let manager = app.user("manager", Some("C0001")).await;
    let admin = app.admin().await;

    // Volunteers: their own sessions, their centre's beneficiaries.
    let b_sessions = json_of(app.records(&b, "sessions", "").await).await;
    assert_eq!(listed(&b_sessions), [ids[2].to_string()]);
    let b_people = json_of(app.records(&b, "beneficiaries", "").await).await;
    assert_eq!(listed(&b_people), [person.to_string()]);
    assert_problem(app.record(&b, "sessions", ids[0]).await, 403, "forbidden").await;
    let (b_pull, _) = app.pull_all(&b, "include_own=true").await;
    assert_eq!(b_pull.len(), 2, "own session and the centre's beneficiary");
    let c_people = json_of(app.records(&c, "beneficiaries", "").await).await;
    assert_eq!(listed(&c_people).len(), 0);

    // Managers: their centre, and 403 for another.
    assert_eq!(
        listed(&json_of(app.records(&manager, "sessions", "").await).await).len(),
        3
    );
    assert_problem(
        app.records(&manager, "sessions", "centre_id=C0002").await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get("/v1/reports/summary?centre_id=C0002", &manager.access)
            .await,
        403,
        "forbidden",
    )
    .await;
    let (manager_pull, _) = app.pull_all(&manager, "").await;
    assert_eq!(manager_pull.len(), 4);

    // Admins: everything, or one centre.
    assert_eq!(
        listed(&json_of(app.records(&admin, "sessions", "").await).await).len(),
        4
    );
    assert_eq!(
        listed(&json_of(app.records(&admin, "sessions", "centre_id=C0002").await).await).len(),
        1
    );
    let (admin_pull, _) = app.pull_all(&admin, "").await;
    assert_eq!(admin_pull.len(), 5);
}

#[tokio::test]
async fn unknown_collections_and_records_are_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    assert_problem(app.records(&admin, "people", "").await, 404, "not_found").await;
    assert_problem(
        app.record(&admin, "sessions", Uuid::now_v7()).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.get("/v1/records/sessions/not-a-uuid", &admin.access)
            .await,
        404,
        "not_found",
    )
    .await;
}

/// A session whose notes and a beneficiary whose name and phone would each
/// run as a formula in a spreadsheet, plus a deleted session.
async fn hostile_exports(app: &TestApp) -> (Session, Uuid, Uuid, Uuid) {
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let (session, person, gone) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut first = vol.new_session(session);
    first["fields"]["notes"]["value"] = json!("=HYPERLINK(\"http://evil.example\",\"คลิก\")");
    first["fields"]["follow_up_on"] = json!({"value": "2026-12-15"});
    let beneficiary = vol.change(
        "beneficiaries",
        person,
        json!({
            "centre_id": {"value": "C0001"}, "village_code": {"value": "50010203"},
            "display_name": {"value": "@SUM(1+1)"}, "phone": {"value": "0812345678"},
            "consent": {"value": true},
        }),
    );
    let deleted = vol.new_session(gone);
    let delete = vol.change("sessions", gone, json!({"_deleted": {"value": true}}));
    app.push_ok(&vol, vec![first, beneficiary, deleted, delete])
        .await;
    (manager, session, person, gone)
}

#[tokio::test]
async fn csv_cells_that_would_run_as_formulas_are_made_inert() {
    let app = TestApp::spawn().await;
    let (manager, session, person, gone) = hostile_exports(&app).await;
    let csv = app
        .records(&manager, "sessions", "format=csv")
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(
        headers.iter().next_back(),
        Some("author_name"),
        "new columns last"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "CSV lists deleted records too, as in v1");
    let row = rows
        .iter()
        .find(|r| r[column("id")] == session.to_string())
        .unwrap();
    assert_eq!(
        &row[column("notes")],
        "'=HYPERLINK(\"http://evil.example\",\"คลิก\")"
    );
    assert!(rows.iter().any(|r| r[column("id")] == gone.to_string()));
    let csv = app
        .records(&manager, "beneficiaries", "format=csv")
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let cell = |name: &str| row[headers.iter().position(|h| h == name).unwrap()].to_owned();
    assert_eq!(cell("id"), person.to_string());
    assert_eq!(cell("display_name"), "'@SUM(1+1)");
    assert_eq!(cell("phone"), "0812345678");
}

#[tokio::test]
async fn xlsx_exports_have_typed_cells_and_leave_deleted_records_out() {
    use calamine::{Data, Reader, Xlsx};
    let app = TestApp::spawn().await;
    let (manager, session, person, gone) = hostile_exports(&app).await;
    let sheet = |bytes: Vec<u8>, name: &str| {
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).expect("an xlsx workbook");
        book.worksheet_range(name).expect("the collection's sheet")
    };
    let response = app.records(&manager, "sessions", "format=xlsx").await;
    assert_eq!(
        tests::content_type(&response),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let range = sheet(response.bytes().await.unwrap().to_vec(), "sessions");
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<&[Data]> = range.rows().skip(1).collect();
    assert_eq!(rows.len(), 1, "the deleted session is left out");
    let row = rows[0];
    assert_eq!(row[col("id")], Data::String(session.to_string()));
    assert_eq!(row[col("people_helped")], Data::Float(3.0));
    assert_eq!(row[col("deleted")], Data::Bool(false));
    assert!(
        matches!(row[col("started_at")], Data::DateTime(_)),
        "{:?}",
        row[col("started_at")]
    );
    assert!(matches!(row[col("follow_up_on")], Data::DateTime(_)));
    assert_eq!(
        row[col("notes")],
        Data::String("=HYPERLINK(\"http://evil.example\",\"คลิก\")".into()),
        "a string cell, never a formula"
    );
    assert_eq!(row[col("village_code")], Data::String("50010203".into()));

    let with_deleted = sheet(
        app.records(&manager, "sessions", "format=xlsx&deleted=include")
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        "sessions",
    );
    let ids: Vec<String> = with_deleted
        .rows()
        .skip(1)
        .map(|r| r[col("id")].to_string())
        .collect();
    assert!(ids.contains(&gone.to_string()));

    let accept = app
        .client
        .get(app.url("/v1/records/beneficiaries"))
        .bearer_auth(&manager.access)
        .header(
            "accept",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        .send()
        .await
        .unwrap();
    let people = sheet(accept.bytes().await.unwrap().to_vec(), "beneficiaries");
    let header: Vec<String> = people
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let row = people.rows().nth(1).unwrap();
    let cell = |name: &str| row[header.iter().position(|h| h == name).unwrap()].clone();
    assert_eq!(cell("id"), Data::String(person.to_string()));
    assert_eq!(
        cell("phone"),
        Data::String("0812345678".into()),
        "the leading 0 survives"
    );
    assert_eq!(cell("consent"), Data::Bool(true));
}

#[tokio::test]
async fn sessions_show_their_authors_display_name() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.ensure_centre(&admin, "C0001").await;
    let created = app
        .post_json(
            "/v1/admin/users",
            Some(&admin.access),
            &json!({"username": "somchai", "password": "correct horse battery", "role": "volunteer", "centre_id": "C0001", "display_name": "สมชาย ใจดี"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let mut vol = app
        .session_for("somchai", "correct horse battery", Uuid::new_v4())
        .await;
    let id = Uuid::now_v7();
    let change = vol.new_session(id);
    app.push_ok(&vol, vec![change]).await;
    let record = json_of(app.record(&admin, "sessions", id).await).await;
    assert_eq!(record["author_name"], "สมชาย ใจดี");
    let page = json_of(app.records(&admin, "sessions", "").await).await;
    assert_eq!(page["records"][0]["author_name"], "สมชาย ใจดี");
}
