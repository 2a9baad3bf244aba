//! The Swift API, as generated: a snapshot of its public declarations in
//! `bindings/swift-api.txt`. Swift cannot be compiled here; this catches an
//! API change that nobody meant, or one whose iOS side nobody looked at.
//! After a change on purpose: `ASA_UPDATE_SNAPSHOTS=1 cargo test -p
//! client-sdk-ffi --test bindings swift`, and review the diff.

use uniffi::TargetLanguage;

use crate::harness::{crate_dir, generate, Harness};

#[test]
fn the_generated_swift_api_matches_its_snapshot() {
    let harness = Harness::new();
    let out = harness.dir.path().join("swift");
    generate(TargetLanguage::Swift, &out);
    let source = std::fs::read_to_string(out.join("AsaSdk.swift")).expect("AsaSdk.swift");
    for file in ["AsaSdkFFI.h", "AsaSdkFFI.modulemap"] {
        assert!(out.join(file).exists(), "{file} is generated");
    }
    let api = public_api(&source);
    let snapshot = crate_dir().join("bindings/swift-api.txt");
    if std::env::var_os("ASA_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(snapshot.parent().expect("a parent")).expect("bindings/");
        std::fs::write(&snapshot, &api).expect("write the snapshot");
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    if api != expected {
        let added: Vec<&str> = api
            .lines()
            .filter(|l| !expected.lines().any(|e| e == *l))
            .collect();
        let removed: Vec<&str> = expected
            .lines()
            .filter(|l| !api.lines().any(|a| a == *l))
            .collect();
        panic!(
            "the generated Swift API changed; if on purpose, update {} with ASA_UPDATE_SNAPSHOTS=1\nadded:\n{}\nremoved:\n{}",
            snapshot.display(),
            added.join("\n"),
            removed.join("\n"),
        );
    }
}

/// The public declarations of the generated Swift, one per line, in order:
/// what an iOS app can call, without the glue that changes with every build.
fn public_api(source: &str) -> String {
    let mut out = String::new();
    for line in source.lines() {
        // The declaration, without a body that starts on its line.
        let line = line.split('{').next().unwrap_or_default().trim();
        // An enum's cases, not a switch's (`case 1: return .sessions`,
        // `case .bool(let value):`).
        let enum_case = line.starts_with("case ")
            && !line.ends_with(':')
            && !line.contains("return")
            && !line.contains("let ");
        let declares = line.starts_with("public ") || line.starts_with("open ") || enum_case;
        // The converters between Swift and the FFI's buffers.
        let glue = line.contains("FfiConverter")
            || line.to_lowercase().contains("uniffi")
            || ["lift(", "lower(", "read(from", "write("]
                .iter()
                .any(|f| line.starts_with(&format!("public static func {f}")));
        if declares && !glue {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
