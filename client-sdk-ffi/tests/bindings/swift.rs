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
    if std::env::var("ASA_UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
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
/// what an iOS app can call or implement, without the glue that changes
/// with every build. A declaration over several lines (an `init` with its
/// parameters and defaults) is joined into one.
fn public_api(source: &str) -> String {
    let mut out = String::new();
    let mut lines = source.lines().map(str::trim);
    while let Some(line) = lines.next() {
        // A protocol's requirements are plain `func`s.
        let declares = line.starts_with("public ")
            || line.starts_with("open ")
            || line.starts_with("func ")
            || is_enum_case(line);
        if !declares {
            continue;
        }
        let mut decl = line.to_owned();
        while depth(&decl) > 0 {
            match lines.next() {
                Some(more) => {
                    decl.push(' ');
                    decl.push_str(more);
                }
                None => break,
            }
        }
        let decl = without_comments(&decl);
        // The declaration, without a body that starts on its line.
        let decl = decl.split('{').next().unwrap_or_default().trim();
        // The converters between Swift and the FFI's buffers.
        let glue = decl.contains("FfiConverter")
            || decl.to_lowercase().contains("uniffi")
            || ["lift(", "lower(", "read(from", "write("]
                .iter()
                .any(|f| decl.starts_with(&format!("public static func {f}")));
        if !glue {
            out.push_str(decl);
            out.push('\n');
        }
    }
    out
}

/// An enum's case, not a switch's (`case 1: return .sessions`,
/// `case .bool(let value):`).
fn is_enum_case(line: &str) -> bool {
    line.starts_with("case ")
        && !line.ends_with(':')
        && !line.contains("return")
        && !line.contains("let ")
}

/// `text` without its `/* ... */` comments (the docs of `init` parameters).
fn without_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How many parentheses are open at the end of `text`.
fn depth(text: &str) -> i32 {
    text.chars().fold(0, |d, c| match c {
        '(' => d + 1,
        ')' => d - 1,
        _ => d,
    })
}
