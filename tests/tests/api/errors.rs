//! Every error of the protocol is problem+json with its specific code, and a
//! refused request changes nothing.

use serde_json::{json, Value};
use tests::{assert_problem, TestApp};
use uuid::Uuid;

#[tokio::test]
async fn routing_errors_are_problems() {
    let app = TestApp::spawn().await;
    let client = &app.client;
    assert_problem(
        client.get(app.url("/v2/anything")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_problem(
        client
            .delete(app.url("/v1/sync/push"))
            .send()
            .await
            .unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
    assert_problem(
        client.get(app.url("/v1/auth/login")).send().await.unwrap(),
        405,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn bodies_of_the_wrong_type_or_shape_are_refused() {
    let app = TestApp::spawn().await;
    let vol = app.user("volunteer", Some("C0001")).await;
    let push = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/v1/sync/push"))
            .bearer_auth(&vol.access)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_problem(
        push("{}", "text/plain").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_problem(
        push("{\"device_id\": ", "application/json").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_problem(
        push("[1, 2]", "application/json").await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        push("{\"device_id\": 7}", "application/json")
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    let response = app
        .client
        .post(app.url("/v1/sync/push"))
        .bearer_auth(&vol.access)
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "unsupported_media_type").await;
    let bad_login = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("content-type", "application/json")
        .body(b"{\"username\": \"\xff\xfe\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_problem(bad_login, 400, "invalid_json").await;
}

#[tokio::test]
async fn missing_tokens_get_401() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1/sync/pull",
        "/v1/records/sessions",
        "/v1/reports/summary",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_problem(response, 401, "unauthorized").await;
    }
    let response = app
        .client
        .post(app.url("/v1/sync/push"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn bad_query_parameters_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    assert_problem(
        app.pull(&admin, "cursor=garbage").await,
        400,
        "invalid_cursor",
    )
    .await;
    assert_problem(app.pull(&admin, "limit=0").await, 400, "invalid_limit").await;
    assert_problem(app.pull(&admin, "limit=1001").await, 400, "invalid_limit").await;
    assert_problem(app.pull(&admin, "limit=-3").await, 400, "invalid_query").await;
    assert_problem(
        app.records(&admin, "sessions", "from=yesterday").await,
        400,
        "invalid_date",
    )
    .await;
    assert_problem(
        app.records(&admin, "sessions", "page_token=zzz").await,
        400,
        "invalid_page_token",
    )
    .await;
    assert_problem(
        app.records(&admin, "sessions", "conflicts=maybe").await,
        400,
        "invalid_filter",
    )
    .await;
}

/// Every change-level rejection code the server can give, with a change that earns it.
#[tokio::test]
async fn each_invalid_change_is_rejected_with_its_code_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let existing = Uuid::now_v7();
    let batch = vec![vol.new_session(existing)];
    app.push_ok(&vol, batch).await;
    let (before, _) = app.pull_all(&vol, "include_own=true").await;

    let fresh = Uuid::now_v7;
    let session = |patch: Value| {
        let mut fields = tests::session_fields("C0001", Uuid::nil());
        for (k, v) in patch.as_object().unwrap() {
            fields[k] = v.clone();
        }
        fields
    };
    let volunteer = vol.user_id;
    let cases: Vec<(&str, &str, Uuid, Value)> = vec![
        (
            "unknown_collection",
            "people",
            fresh(),
            json!({"x": {"value": 1}}),
        ),
        (
            "unknown_field",
            "sessions",
            existing,
            json!({"colour": {"value": "red"}}),
        ),
        (
            "invalid_base",
            "sessions",
            existing,
            json!({"notes": {"value": "x", "base": ["nope"]}}),
        ),
        ("empty_change", "sessions", existing, json!({})),
        (
            "invalid_type",
            "sessions",
            existing,
            json!({"duration_min": {"value": "forty"}}),
        ),
        (
            "invalid_value",
            "sessions",
            existing,
            json!({"help_type": {"value": "gardening"}}),
        ),
        (
            "out_of_range",
            "sessions",
            existing,
            json!({"people_helped": {"value": 501}}),
        ),
        (
            "too_long",
            "sessions",
            existing,
            json!({"notes": {"value": "ก".repeat(4001)}}),
        ),
        (
            "missing_field",
            "sessions",
            fresh(),
            json!({"notes": {"value": "only notes"}}),
        ),
        (
            "consent_required",
            "beneficiaries",
            fresh(),
            json!({"centre_id": {"value": "C0001"}, "village_code": {"value": "50010203"}, "display_name": {"value": "ก"}, "consent": {"value": false}}),
        ),
        (
            "immutable_field",
            "sessions",
            existing,
            json!({"centre_id": {"value": "C0001-B"}}),
        ),
        ("forbidden", "sessions", fresh(), {
            let mut f = session(json!({}));
            f["volunteer_id"]["value"] = json!(Uuid::new_v4());
            f
        }),
    ];
    let _ = volunteer;
    for (code, collection, record, fields) in cases {
        let change = vol.change(collection, record, fields);
        let response = app.push_ok(&vol, vec![change]).await;
        assert_eq!(response["results"][0]["status"], "rejected", "{code}");
        assert_eq!(response["results"][0]["code"], code, "{response}");
        assert!(response["results"][0]["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }
    let (after, _) = app.pull_all(&vol, "include_own=true").await;
    assert_eq!(before, after, "no rejected change reached the log");
    let record: Value = app
        .record(&vol, "sessions", existing)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["fields"]["centre_id"], "C0001");
    assert_eq!(record["fields"]["people_helped"], 3);
}

/// Sends raw bytes on a new connection and reads until the server closes it.
async fn raw(app: &TestApp, bytes: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = app.base.rsplit(':').next().unwrap();
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    stream.write_all(&bytes).await.unwrap();
    let mut out = Vec::new();
    // The server may reset instead of closing after a refused request; what
    // arrived before counts.
    let _ = stream.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The status line and the problem of a raw answer.
fn problem_of(answer: &str) -> (String, Value) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a response");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{answer}"
    );
    let status = head.lines().next().unwrap().to_owned();
    (status, serde_json::from_str(body).expect("problem json"))
}

#[tokio::test]
async fn malformed_http_gets_a_problem_too() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "a Content-Length that is not a number",
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request",
            "invalid_http",
        ),
        (
            "a request line that is not HTTP",
            b"GARBAGE\r\n\r\n".to_vec(),
            "HTTP/1.1 400 Bad Request",
            "invalid_http",
        ),
        (
            "two different Content-Lengths",
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}".to_vec(),
            "HTTP/1.1 400 Bad Request",
            "invalid_http",
        ),
        (
            "a header of 200 KB",
            [
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec(),
                vec![b'a'; 200_000],
                b"\r\n\r\n".to_vec(),
            ]
            .concat(),
            "HTTP/1.1 431 Request Header Fields Too Large",
            "headers_too_large",
        ),
    ];
    for (what, bytes, status, code) in cases {
        let answer = raw(&app, bytes).await;
        let (line, problem) = problem_of(&answer);
        assert_eq!(line, status, "{what}");
        assert_eq!(problem["code"], code, "{what}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            !detail.is_empty() && !detail.contains('{'),
            "{what}: {detail}"
        );
    }
    // A well-formed request on the same server is answered as usual.
    let answer = raw(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
}

#[tokio::test]
async fn a_body_cut_short_gets_a_plain_language_detail() {
    let app = TestApp::spawn().await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = app.base.rsplit(':').next().unwrap();
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    stream
        .write_all(b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    let answer = String::from_utf8_lossy(&out);
    let (_, problem) = problem_of(&answer);
    assert_eq!(problem["code"], "invalid_body");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        !detail.contains("Some(") && !detail.contains("Custom"),
        "{detail}"
    );
}
