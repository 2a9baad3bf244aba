//! `GET /openapi.json` says what the server does: every route and nothing
//! else, the same documents as the published JSON Schemas in `schemas/`,
//! and the server's own answers validate against it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{json, Value};
use tests::TestApp;
use uuid::Uuid;

async fn document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(tests::content_type(&response), "application/json");
    response.json().await.unwrap()
}

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn read(path: PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Validates `instance` against the document's component `name`.
fn assert_valid(doc: &Value, name: &str, instance: &Value) {
    let root =
        json!({"$ref": format!("#/components/schemas/{name}"), "components": doc["components"]});
    let validator = jsonschema::options()
        .offline()
        .build(&root)
        .unwrap_or_else(|e| panic!("{name} compiles: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{instance}");
}

fn names(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn strings(array: &Value) -> BTreeSet<String> {
    array
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_document_lists_every_route_and_nothing_else() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut served: BTreeSet<(String, String)> = asa_server::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    served.insert(("get".into(), "/metrics".into()));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    assert_eq!(documented, served);
    // Every documented route answers (none is the server's "no such route").
    let admin = app.admin().await;
    for (method, path) in &served {
        let concrete = path
            .replace("{collection}", "sessions")
            .replace("{code}", "C0001")
            .replace("{id}", &Uuid::nil().to_string())
            .replace("{device_id}", &Uuid::nil().to_string());
        let response = app
            .client
            .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap();
        if response.status() == 404 {
            let body: Value = response.json().await.unwrap();
            assert!(
                !body["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with("there is no route"),
                "{method} {path} is documented but not served"
            );
        }
    }
}

#[tokio::test]
async fn the_documents_match_the_published_json_schemas() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let components = &doc["components"]["schemas"];
    for (component, file) in [
        ("ChangeDto", "change"),
        ("PushRequest", "push-request"),
        ("PushResponse", "push-response"),
        ("PullResponse", "pull-response"),
        ("RecordDto", "record"),
        ("Problem", "problem"),
    ] {
        let published = read(schemas_dir().join(format!("{file}.schema.json")));
        let generated = &components[component];
        assert_eq!(
            names(&generated["properties"]),
            names(&published["properties"]),
            "{component} and {file}.schema.json name the same properties"
        );
        assert_eq!(
            strings(&generated["required"]),
            strings(&published["required"]),
            "{component} and {file}.schema.json require the same properties"
        );
    }
    for (example, component) in [
        ("push-request", "PushRequest"),
        ("push-response", "PushResponse"),
        ("pull-response", "PullResponse"),
        ("record", "RecordDto"),
        ("problem", "Problem"),
    ] {
        let instance = read(schemas_dir().join(format!("examples/{example}.json")));
        assert_valid(&doc, component, &instance);
    }
}

#[tokio::test]
async fn the_servers_answers_validate_against_its_own_document() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let mut vol = app.user("volunteer", Some("C0001")).await;
    let manager = app.user("manager", Some("C0001")).await;
    let (session, person) = (Uuid::now_v7(), Uuid::now_v7());
    let changes = vec![
        vol.new_session(session),
        vol.new_beneficiary(person, "นางมาลี ใจดี"),
    ];
    let pushed = app.push_ok(&vol, changes).await;
    assert_valid(&doc, "PushResponse", &pushed);
    let pulled: Value = app.pull(&manager, "").await.json().await.unwrap();
    assert_valid(&doc, "PullResponse", &pulled);
    let record: Value = app
        .record(&manager, "sessions", session)
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&doc, "RecordDto", &record);
    let page: Value = app
        .records(&manager, "beneficiaries", "")
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&doc, "RecordsPage", &page);
    let users: Value = app
        .get("/v1/users", &manager.access)
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&doc, "UsersPage", &users);
    let centres: Value = app
        .get("/v1/centres", &manager.access)
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&doc, "CentresPage", &centres);
    let summary: Value = app
        .get("/v1/reports/summary", &manager.access)
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&doc, "Summary", &summary);
    let problem: Value = app
        .get("/v1/users", &vol.access)
        .await
        .json()
        .await
        .unwrap();
    assert_valid(&doc, "Problem", &problem);
    let tokens: Value = app.refresh(&vol.refresh).await.json().await.unwrap();
    assert_valid(&doc, "TokenResponse", &tokens);
}
