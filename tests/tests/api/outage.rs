//! The database out of reach (PostgreSQL only: SQLite lives in the server's
//! process): requests get 503 `store_unavailable` with `Retry-After`, never a
//! partial batch or a 500; `/readyz` says not ready; once the database is
//! back the same server answers again, without a restart.

use tests::link::Link;
use tests::{assert_problem, TestApp, TestStore};
use uuid::Uuid;

#[tokio::test]
async fn while_the_database_is_out_of_reach_requests_get_503_and_the_server_recovers_by_itself() {
    if !tests::on_postgres() {
        return;
    }
    let store = TestStore::new();
    let link = Link::start(store.postgres_port().expect("on PostgreSQL"));
    let app = TestApp::spawn_on(store.through(link.port())).await;
    let mut somchai = app.user("volunteer", Some("C0001")).await;
    let boss = app.user("manager", Some("C0001")).await;
    let first = vec![somchai.new_session(Uuid::now_v7())];
    app.push_ok(&somchai, first).await;

    link.cut();
    let batch = vec![
        somchai.new_session(Uuid::now_v7()),
        somchai.new_session(Uuid::now_v7()),
    ];
    let response = app.push(&somchai, batch.clone()).await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_problem(response, 503, "store_unavailable").await;
    assert_problem(app.pull(&somchai, "").await, 503, "store_unavailable").await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);

    link.restore();
    let answer = app.push_ok(&somchai, batch).await;
    let statuses: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["applied", "applied"], "nothing of it was kept");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let (changes, _) = app.pull_all(&boss, "").await;
    assert_eq!(changes.len(), 3, "each change once");
}
