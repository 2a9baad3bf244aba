//! The Rust wire types and the published JSON Schemas in `schemas/` must agree:
//! examples deserialize into the Rust types, and what Rust serializes validates.

use std::path::PathBuf;

use serde_json::{json, Value as Json};
use sync_core::wire::{Problem, PushResult};
use sync_core::{
    Change, Collection, Field, Hlc, Key, Node, PullResponse, PushRequest, PushResponse, PushStatus,
    RecordState, Value, Write,
};
use uuid::Uuid;

use crate::fixtures::{change_json, decode, hlc, session_create_fields, T0};

const BASE: &str = "https://asa-sync.invalid/schemas/";
const FILES: [&str; 7] = [
    "common",
    "change",
    "push-request",
    "push-response",
    "pull-response",
    "record",
    "problem",
];

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn read_json(path: PathBuf) -> Json {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Validates `instance` against `schemas/<name>.schema.json`, resolving the
/// references between the files offline.
fn assert_valid(name: &str, instance: &Json) {
    let mut registry = jsonschema::Registry::new();
    for file in FILES {
        let schema = read_json(schemas_dir().join(format!("{file}.schema.json")));
        assert_eq!(
            schema["$id"],
            format!("{BASE}{file}.schema.json"),
            "{file}: $id"
        );
        registry = registry
            .add(format!("{BASE}{file}.schema.json"), schema)
            .expect("schema is a resource");
    }
    let registry = registry.prepare().expect("schemas resolve");
    let root = json!({"$ref": format!("{BASE}{name}.schema.json")});
    let validator = jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(&root)
        .expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{instance:#}");
}

fn assert_invalid(name: &str, instance: &Json) {
    let result = std::panic::catch_unwind(|| assert_valid(name, instance));
    assert!(result.is_err(), "{name} should refuse {instance}");
}

fn sample_change() -> Change {
    let me = Uuid::new_v4();
    let device = Uuid::new_v4();
    let mut fields = session_create_fields(me);
    fields["notes"] = json!({"value": "ช่วยลงทะเบียน", "base": [hlc(T0 - 1, 0, device)]});
    fields[format!("beneficiary_ids/{}", Uuid::new_v4())] = json!({"value": true});
    decode(
        change_json("sessions", Uuid::now_v7(), &hlc(T0, 0, device), fields),
        me,
    )
    .unwrap()
}

#[test]
fn examples_validate_and_deserialize_into_the_rust_types() {
    let examples = schemas_dir().join("examples");
    let push: Json = read_json(examples.join("push-request.json"));
    assert_valid("push-request", &push);
    let typed: PushRequest = serde_json::from_value(push.clone()).unwrap();
    assert_eq!(typed.changes[0].device_seq, 17);
    let change =
        Change::decode(&typed.changes[0], Uuid::new_v4(), &crate::fixtures::RULES).unwrap();
    assert_valid(
        "change",
        &serde_json::to_value(change.to_dto(false)).unwrap(),
    );

    let response = read_json(examples.join("push-response.json"));
    assert_valid("push-response", &response);
    let typed: PushResponse = serde_json::from_value(response.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), response);

    let problem = read_json(examples.join("problem.json"));
    assert_valid("problem", &problem);
    let typed: Problem = serde_json::from_value(problem.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), problem);
}

#[test]
fn serialized_changes_and_pushes_validate() {
    let change = sample_change();
    let dto = change.to_dto(false);
    assert_valid("change", &serde_json::to_value(&dto).unwrap());
    let request = PushRequest {
        device_id: Uuid::new_v4(),
        device_time: chrono::Utc::now(),
        changes: vec![dto.clone()],
    };
    assert_valid("push-request", &serde_json::to_value(&request).unwrap());
    let response = PushResponse {
        acked_seq: 1,
        server_hlc: Hlc::new(T0, 3, Node::Server),
        results: vec![
            PushResult {
                id: change.id.to_string(),
                status: PushStatus::Applied,
                code: None,
                detail: None,
                warning: Some("clock_skew".into()),
            },
            PushResult {
                id: Uuid::new_v4().to_string(),
                status: PushStatus::Rejected,
                code: Some("seq_gap".into()),
                detail: Some("expected device_seq 2".into()),
                warning: None,
            },
        ],
    };
    assert_valid("push-response", &serde_json::to_value(&response).unwrap());
    let pull = PullResponse {
        changes: vec![change.to_dto(true)],
        cursor: "AAAB".into(),
        has_more: false,
        acked_seq: None,
    };
    assert_valid("pull-response", &serde_json::to_value(&pull).unwrap());
    let first_pull = PullResponse {
        acked_seq: Some(12),
        ..pull
    };
    assert_valid("pull-response", &serde_json::to_value(&first_pull).unwrap());
    let problem = Problem::new(
        400,
        "invalid_json",
        "Invalid JSON",
        "expected value at line 1 column 1",
    );
    assert_valid("problem", &serde_json::to_value(&problem).unwrap());
    let restored = Problem {
        acked_seq: Some(40),
        ..Problem::new(409, "server_restored", "Conflict", "send again")
    };
    assert_valid("problem", &serde_json::to_value(&restored).unwrap());
}

#[test]
fn rendered_records_with_conflicts_validate() {
    let change = sample_change();
    let mut state = RecordState::new();
    state.apply(&change);
    let other = Uuid::new_v4();
    let concurrent = Change {
        id: Uuid::new_v4(),
        device_seq: 1,
        hlc: Hlc::new(T0 + 1, 0, Node::Device(other)),
        author: other,
        writes: vec![Write::new(
            Key::field(Field::Notes),
            Value::text("อีกฉบับ"),
            vec![],
        )],
        ..change.clone()
    };
    state.apply(&concurrent);
    let record = state.render(Collection::Sessions, change.record_id);
    assert_eq!(record.conflicts.len(), 1);
    assert_valid("record", &serde_json::to_value(&record).unwrap());
    assert_valid(
        "record",
        &serde_json::to_value(RecordState::new().render(Collection::Beneficiaries, other)).unwrap(),
    );
}

#[test]
fn the_schemas_refuse_what_the_protocol_forbids() {
    let good = serde_json::to_value(sample_change().to_dto(false)).unwrap();
    let mut bad_hlc = good.clone();
    bad_hlc["hlc"] = json!("1764386100000-0000-Server");
    assert_invalid("change", &bad_hlc);
    let mut no_fields = good.clone();
    no_fields["fields"] = json!({});
    assert_invalid("change", &no_fields);
    let mut object_value = good.clone();
    object_value["fields"]["notes"]["value"] = json!({"nested": true});
    assert_invalid("change", &object_value);
    let mut extra = good;
    extra["surprise"] = json!(1);
    assert_invalid("change", &extra);
}

/// Every code the engine and the server can send is listed in
/// `schemas/problem.schema.json`, and nothing else is.
#[test]
fn the_problem_schema_lists_every_code_exactly() {
    let schema = read_json(schemas_dir().join("problem.schema.json"));
    let listed = |key: &str| -> Vec<String> {
        schema["properties"]["code"][key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} is listed"))
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    let request: Vec<String> = sync_core::ProblemCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(listed("x-request-codes"), request);
    let change: Vec<String> = sync_core::ChangeError::CODES
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    assert_eq!(listed("x-change-codes"), change);
    for code in &request {
        assert_eq!(
            sync_core::ProblemCode::parse(code).map(|c| c.as_str()),
            Some(code.as_str()),
            "{code} reads back"
        );
    }
}

/// The pull example's changes, merged, are exactly the record example: two
/// concurrent edits of `notes`, the later clock shown and the other listed.
#[test]
fn the_pull_example_merges_into_the_record_example() {
    let examples = schemas_dir().join("examples");
    let pull = read_json(examples.join("pull-response.json"));
    assert_valid("pull-response", &pull);
    let typed: PullResponse = serde_json::from_value(pull).unwrap();
    let mut state = RecordState::new();
    for dto in &typed.changes {
        let change = Change::decode(dto, dto.author.unwrap(), &crate::fixtures::RULES).unwrap();
        state.apply(&change);
    }
    let id: Uuid = typed.changes[0].record_id.parse().unwrap();
    let rendered = serde_json::to_value(state.render(Collection::Sessions, id)).unwrap();
    assert_valid("record", &rendered);
    let path = examples.join("record.json");
    if std::env::var_os("ASA_WRITE_EXAMPLES").is_some() {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&rendered).unwrap() + "\n",
        )
        .unwrap();
    }
    assert_eq!(read_json(path), rendered);
}
