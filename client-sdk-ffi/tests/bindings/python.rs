//! The Python bindings, generated and run by `tests/python/test_sdk.py`.

use std::process::Command;

use uniffi::TargetLanguage;

use crate::harness::{crate_dir, generate, library, Harness};

#[test]
fn the_python_bindings_log_in_edit_offline_sync_and_raise_typed_errors() {
    let harness = Harness::new();
    let out = harness.dir.path().join("python");
    generate(TargetLanguage::Python, &out);
    // The generated module loads the library from its own directory.
    let lib = library();
    std::fs::copy(&lib, out.join(lib.file_name().expect("a file name"))).expect("copy the library");
    let mut python = Command::new("python3");
    python
        .arg(crate_dir().join("tests/python/test_sdk.py"))
        .env("PYTHONPATH", &out)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // The program's checks are `assert`s: never optimised away.
        .env_remove("PYTHONOPTIMIZE");
    harness.run(python);
}
