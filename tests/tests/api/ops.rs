//! Health, metrics, gzip both ways, size limits, and restarts.

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{assert_problem, TestApp};
use uuid::Uuid;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            app.client.get(app.url(path)).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let batch = vec![vol.new_session(Uuid::now_v7())];
    app.push_ok(&vol, batch).await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for needle in [
        "asa_http_requests_total{method=\"POST\",route=\"/v1/sync/push\",status=\"200\"} 1",
        "asa_http_request_duration_seconds_bucket{route=\"/v1/sync/push\"",
        "asa_changes_total{status=\"applied\"} 1",
        "asa_push_batch_size_count 1",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
}

#[tokio::test]
async fn gzip_request_bodies_are_accepted_and_responses_are_gzipped_on_request() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let changes: Vec<Value> = (0..50).map(|_| vol.new_session(Uuid::now_v7())).collect();
    let body = json!({"device_id": vol.device, "device_time": chrono::Utc::now().to_rfc3339(), "changes": changes});
    let plain = serde_json::to_vec(&body).unwrap();
    let compressed = gzip(&plain);
    assert!(compressed.len() * 5 < plain.len());
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = client
        .post(app.url("/v1/sync/push"))
        .bearer_auth(&vol.access)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("accept-encoding", "gzip")
        .body(compressed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let mut text = String::new();
    GzDecoder::new(&response.bytes().await.unwrap()[..])
        .read_to_string(&mut text)
        .unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["acked_seq"], 50);

    let pulled = client
        .get(app.url("/v1/sync/pull?include_own=true"))
        .bearer_auth(&vol.access)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn a_5_mib_body_gets_413_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let mut change = vol.new_session(Uuid::now_v7());
    change["fields"]["notes"]["value"] = json!("x".repeat(5 * 1024 * 1024));
    assert_problem(app.push(&vol, vec![change]).await, 413, "payload_too_large").await;
    // The same limit holds for what a small gzip body inflates to.
    let bomb = gzip(&vec![b' '; 64 * 1024 * 1024]);
    assert!(bomb.len() < 128 * 1024);
    let response = app
        .client
        .post(app.url("/v1/sync/push"))
        .bearer_auth(&vol.access)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "payload_too_large").await;
    let (changes, _) = app.pull_all(&vol, "include_own=true").await;
    assert!(changes.is_empty());
    let page: Value = app
        .records(&app.admin().await, "sessions", "")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["records"], json!([]));
}

#[tokio::test]
async fn a_restarted_server_keeps_every_change_token_and_cursor() {
    let app = TestApp::spawn().await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let first: Vec<Value> = (0..10).map(|_| vol.new_session(Uuid::now_v7())).collect();
    app.push_ok(&vol, first).await;
    let (seen, cursor) = app.pull_all(&manager, "").await;
    assert_eq!(seen.len(), 10);

    let app = app.restart().await;
    // Tokens signed before the restart still verify: the key is persisted.
    let second: Vec<Value> = (0..3).map(|_| vol.new_session(Uuid::now_v7())).collect();
    let response = app.push_ok(&vol, second.clone()).await;
    assert_eq!(response["acked_seq"], 13, "the device's sequence survived");
    let page: Value = app
        .pull(&manager, &format!("cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&Value> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    let sent: Vec<&Value> = second.iter().map(|c| &c["id"]).collect();
    assert_eq!(ids, sent, "the old cursor continues exactly where it was");
    let (all, _) = app.pull_all(&manager, "").await;
    assert_eq!(all.len(), 13);
}

#[tokio::test]
async fn metric_labels_never_come_from_request_data() {
    let app = TestApp::spawn().await;
    for method in ["FROBNICATE", "X-MADE-UP", "GET"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url(&format!("/no/such/{}", Uuid::new_v4())))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error());
        let response = app
            .client
            .request(
                reqwest::Method::from_bytes(b"FROBNICATE").unwrap(),
                app.url("/v1/sync/pull"),
            )
            .send()
            .await
            .unwrap();
        assert_problem(response, 405, "method_not_allowed").await;
    }
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for absent in ["FROBNICATE", "X-MADE-UP", "/no/such"] {
        assert!(!text.contains(absent), "{absent} became a label:\n{text}");
    }
    assert!(text.contains("method=\"other\",route=\"/v1/sync/pull\",status=\"405\"} 3"));
    assert!(text.contains("route=\"unmatched\""));
}

#[tokio::test]
async fn with_metrics_bind_metrics_are_served_only_on_their_own_listener() {
    let app = TestApp::spawn_tuned(|s| s.metrics_bind = Some("127.0.0.1:0".into())).await;
    assert_problem(
        app.client.get(app.url("/metrics")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    let metrics = app.metrics_base.clone().expect("a metrics listener");
    let response = app
        .client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("asa_http_requests_total"));
    let api_on_metrics = app
        .client
        .get(format!("{metrics}/healthz"))
        .send()
        .await
        .unwrap();
    assert_problem(api_on_metrics, 404, "not_found").await;
}

#[tokio::test]
async fn the_data_directory_and_database_files_are_private_to_the_server() {
    use std::os::unix::fs::PermissionsExt;
    if tests::on_postgres() {
        // PostgreSQL keeps no files in the data directory.
        return;
    }
    let app = TestApp::spawn().await;
    // Write something so the WAL exists.
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let batch = vec![vol.new_session(Uuid::now_v7())];
    app.push_ok(&vol, batch).await;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(app.data_dir()), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(app.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files += 1;
    }
    assert!(files >= 2, "the database and its WAL");
}
