//! The Kotlin bindings, generated, compiled with `tests/kotlin/SdkTest.kt`
//! and run on the JVM through JNA. Gated by `ASA_KOTLIN_TESTS=1`, which
//! `scripts/test` sets after installing the compiler (npm's
//! `kotlin-compiler`, pinned in `tests/kotlin/package-lock.json`) and JNA
//! (Debian's `libjna-java`). `KOTLINC` and `ASA_JNA_JAR` override where
//! they are looked for.

use crate::harness::{crate_dir, Harness, Kotlin};

#[test]
fn the_kotlin_bindings_run_on_the_jvm_against_a_real_server() {
    if std::env::var("ASA_KOTLIN_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: ASA_KOTLIN_TESTS is not 1 (scripts/test sets it)");
        return;
    }
    let kotlin = Kotlin::find().expect("ASA_KOTLIN_TESTS=1, but no Kotlin compiler or JNA");
    let harness = Harness::new();
    let java = kotlin.build(
        &harness,
        &crate_dir().join("tests/kotlin/SdkTest.kt"),
        "SdkTestKt",
    );
    harness.run(java);
}
