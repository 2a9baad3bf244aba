//! The Kotlin bindings, generated, compiled with `tests/kotlin/SdkTest.kt`
//! and run on the JVM through JNA. Gated by `ASA_KOTLIN_TESTS=1`, which
//! `scripts/test` sets after installing the compiler (npm's
//! `kotlin-compiler`, pinned in `tests/kotlin/package-lock.json`) and JNA
//! (Debian's `libjna-java`). `KOTLINC` and `ASA_JNA_JAR` override where
//! they are looked for.

use std::path::PathBuf;
use std::process::Command;

use uniffi::TargetLanguage;

use crate::harness::{crate_dir, generate, library, Harness};

fn kotlinc() -> PathBuf {
    std::env::var_os("KOTLINC").map_or_else(
        || crate_dir().join("tests/kotlin/node_modules/kotlin-compiler/bin/kotlinc"),
        PathBuf::from,
    )
}

#[test]
fn the_kotlin_bindings_run_on_the_jvm_against_a_real_server() {
    if std::env::var("ASA_KOTLIN_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: ASA_KOTLIN_TESTS is not 1 (scripts/test sets it)");
        return;
    }
    let jna = std::env::var("ASA_JNA_JAR").unwrap_or_else(|_| "/usr/share/java/jna.jar".into());
    let kotlinc = kotlinc();
    let stdlib = kotlinc
        .parent()
        .and_then(|bin| bin.parent())
        .expect("the compiler's home")
        .join("lib/kotlin-stdlib.jar");
    let harness = Harness::new();
    let out = harness.dir.path().join("kotlin");
    generate(TargetLanguage::Kotlin, &out);
    let jar = harness.dir.path().join("sdk-test.jar");
    let compiled = Command::new(&kotlinc)
        .arg(out.join("org/asasync/sdk/asa_sdk.kt"))
        .arg(crate_dir().join("tests/kotlin/SdkTest.kt"))
        .args(["-nowarn", "-cp", &jna, "-d"])
        .arg(&jar)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", kotlinc.display()));
    assert!(compiled.success(), "kotlinc failed: {compiled}");
    let lib_dir = library()
        .parent()
        .expect("the library's directory")
        .to_owned();
    let classpath = format!("{}:{jna}:{}", jar.display(), stdlib.display());
    let mut java = Command::new("java");
    java.arg(format!("-Djna.library.path={}", lib_dir.display()))
        .args(["-cp", &classpath, "SdkTestKt"]);
    harness.run(java);
}
