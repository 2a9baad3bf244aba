//! What the foreign test programs run against: the library as built, the
//! bindings uniffi generates from it, and a real server whose accounts and
//! clock the program asks for over a line protocol.
//!
//! The program writes one JSON request per line on its standard output and
//! reads one JSON answer per line on its standard input; what it prints on
//! standard error is the test's output. Requests:
//! - `{"op":"account","role":"volunteer","centre":"C0001"}` makes a user and
//!   answers `{"username","password","id"}`;
//! - `{"op":"advance","ms":N}` moves the server's clock forward;
//! - `{"op":"set_clock","offset_ms":N}` sets it to the wall time plus N
//!   (negative: behind);
//! - `{"op":"disable","id":"<user id>"}` disables the user as the admin,
//!   which ends their logins;
//! - `{"op":"figures", ...}` hands over measurements (benchmarks), which
//!   [`Harness::run`] returns.

// Shared with benches/bindings.rs; each uses its own part.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tempfile::TempDir;
use tests::{Session, TestApp};
use uniffi::TargetLanguage;

/// The longest a test program may run.
pub const PROGRAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The crate's directory, where the test programs are.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shared library cargo built for this test binary: beside it in
/// `target/<profile>/deps/` (a library built as a dependency is not copied
/// up to `target/<profile>/`, where an older one may lie).
pub fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("target/<profile>/deps");
    let name = format!(
        "{}asa_sdk{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = deps.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Generates the bindings of `language` from the built library into `out`.
pub fn generate(language: TargetLanguage, out: &Path) {
    let utf8 = |p: &Path| camino::Utf8PathBuf::from_path_buf(p.to_owned()).expect("a UTF-8 path");
    uniffi::generate(uniffi::GenerateOptions {
        languages: vec![language],
        source: utf8(&library()),
        out_dir: utf8(out),
        // uniffi.toml in the crate's root, found through cargo metadata.
        config_override: None,
        format: false,
        crate_filter: None,
        metadata_no_deps: true,
    })
    .expect("uniffi generates the bindings");
}

/// The Kotlin compiler and JNA: `KOTLINC` and `ASA_JNA_JAR`, or where
/// `scripts/test` installs them.
pub struct Kotlin {
    kotlinc: PathBuf,
    jna: String,
}

impl Kotlin {
    /// The toolchain, when both parts are there.
    pub fn find() -> Option<Kotlin> {
        let kotlinc = std::env::var_os("KOTLINC").map_or_else(
            || crate_dir().join("tests/kotlin/node_modules/kotlin-compiler/bin/kotlinc"),
            PathBuf::from,
        );
        let jna = std::env::var("ASA_JNA_JAR").unwrap_or_else(|_| "/usr/share/java/jna.jar".into());
        (kotlinc.exists() && Path::new(&jna).exists()).then_some(Kotlin { kotlinc, jna })
    }

    /// Generates the Kotlin bindings, compiles them with `program` into one
    /// jar in `harness`'s directory, and returns how to start its
    /// `main_class` on the JVM, with the built library on JNA's path.
    pub fn build(&self, harness: &Harness, program: &Path, main_class: &str) -> Command {
        let out = harness.dir.path().join("kotlin");
        generate(TargetLanguage::Kotlin, &out);
        let jar = harness.dir.path().join(format!("{main_class}.jar"));
        let compiled = Command::new(&self.kotlinc)
            .arg(out.join("org/asasync/sdk/asa_sdk.kt"))
            .arg(program)
            .args(["-nowarn", "-cp", &self.jna, "-d"])
            .arg(&jar)
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.kotlinc.display()));
        assert!(compiled.success(), "kotlinc failed: {compiled}");
        let stdlib = self
            .kotlinc
            .parent()
            .and_then(Path::parent)
            .expect("the compiler's home")
            .join("lib/kotlin-stdlib.jar");
        let lib = library();
        let lib_dir = lib.parent().expect("the library's directory");
        let mut java = Command::new("java");
        java.arg(format!("-Djna.library.path={}", lib_dir.display()))
            .arg("-cp")
            .arg(format!(
                "{}:{}:{}",
                jar.display(),
                self.jna,
                stdlib.display()
            ))
            .arg(main_class);
        java
    }
}

/// A real server with an admin, and a scratch directory for the program.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    app: TestApp,
    admin: Session,
    pub dir: TempDir,
    figures: Mutex<Vec<Value>>,
}

impl Harness {
    pub fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let app = rt.block_on(TestApp::spawn());
        let admin = rt.block_on(app.admin());
        Harness {
            rt,
            app,
            admin,
            dir: TempDir::new().expect("a scratch directory"),
            figures: Mutex::new(Vec::new()),
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.app.base
    }

    /// A user on the server, for the Rust side of a benchmark.
    pub fn account(&self, role: &str, centre: &str) -> Session {
        self.rt.block_on(self.app.user(role, Some(centre)))
    }

    /// Runs the test program `command` (its environment gets `ASA_SERVER`
    /// and `ASA_SCRATCH`), answering its requests, and fails the test when
    /// the program fails, or is killed after [`PROGRAM_TIMEOUT`] (an SDK
    /// call that never returns must fail CI, not hang it). Returns the
    /// figures it handed over.
    pub fn run(&self, mut command: Command) -> Vec<Value> {
        let mut child = command
            .env("ASA_SERVER", &self.app.base)
            .env("ASA_SCRATCH", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        // The program's output, shown by the test harness (with the
        // failure, or with --nocapture).
        let output = BufReader::new(child.stderr.take().expect("piped stderr"));
        let echo = std::thread::spawn(move || {
            for line in output.lines().map_while(Result::ok) {
                eprintln!("{line}");
            }
        });
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
        let watchdog = std::thread::spawn(move || {
            let timed_out = finished.recv_timeout(PROGRAM_TIMEOUT).is_err();
            if timed_out {
                // Its pipes close, so the loop below ends.
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
            timed_out
        });
        let mut answers = child.stdin.take().expect("piped stdin");
        let requests = BufReader::new(child.stdout.take().expect("piped stdout"));
        for line in requests.lines() {
            let line = line.expect("a request line");
            let request: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("the program wrote {line:?}, not a request: {e}"));
            let answer = self.answer(&request);
            writeln!(answers, "{answer}")
                .and_then(|()| answers.flush())
                .expect("the program reads its answers");
        }
        let status = child.wait().expect("the program ends");
        let _ = done.send(());
        let timed_out = watchdog.join().expect("the watchdog");
        echo.join().expect("the program's output");
        assert!(
            !timed_out,
            "{command:?} ran over {PROGRAM_TIMEOUT:?} and was killed"
        );
        assert!(status.success(), "{command:?} failed: {status}");
        std::mem::take(&mut *self.figures.lock().expect("figures"))
    }

    fn answer(&self, request: &Value) -> Value {
        let text = |key: &str| request[key].as_str().unwrap_or_default().to_owned();
        match request["op"].as_str() {
            Some("account") => {
                let centre = text("centre");
                let user = self
                    .rt
                    .block_on(self.app.user(&text("role"), Some(centre.as_str())));
                json!({"username": user.username, "password": user.password, "id": user.user_id})
            }
            Some("advance") => {
                self.app.clock.advance(request["ms"].as_u64().expect("ms"));
                json!({})
            }
            Some("set_clock") => {
                let offset = request["offset_ms"].as_i64().expect("offset_ms");
                let wall = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .expect("after 1970")
                    .as_millis() as i64;
                self.app.clock.set((wall + offset) as u64);
                json!({})
            }
            Some("disable") => {
                let path = format!("/v1/admin/users/{}", text("id"));
                let response = self.rt.block_on(self.app.patch_json(
                    &path,
                    &self.admin.access,
                    &json!({"disabled": true}),
                ));
                json!({"status": response.status().as_u16()})
            }
            Some("figures") => {
                self.figures.lock().expect("figures").push(request.clone());
                json!({})
            }
            _ => panic!("unknown request {request}"),
        }
    }
}
