//! The real `asa-server` binary as a child process: started on a data
//! directory, SIGKILLed, and restarted on the same directory and port.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;

/// How many times a restart may find its port still taken before giving up.
const START_ATTEMPTS: u32 = 50;

/// A running `asa-server` child. Dropping it kills the process.
#[derive(Debug)]
pub struct ServerProcess {
    bin: PathBuf,
    data: PathBuf,
    env: Vec<(String, String)>,
    port: u16,
    child: Option<Child>,
    starts: u32,
}

impl ServerProcess {
    /// Starts `bin` on `data` with `ASA_BIND=127.0.0.1:0` and the given extra
    /// environment; returns once it printed the port it listens on.
    pub fn start(bin: &Path, data: &Path, env: &[(String, String)]) -> ServerProcess {
        let mut server = ServerProcess {
            bin: bin.to_owned(),
            data: data.to_owned(),
            env: env.to_vec(),
            port: 0,
            child: None,
            starts: 0,
        };
        server.spawn();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many times the process was started (1 + restarts).
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// SIGKILL: no shutdown handler runs, nothing is flushed by the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process if it runs, then starts it again on the same data
    /// directory and port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn spawn(&mut self) {
        let log = self.data.join("server.log");
        for _ in 0..START_ATTEMPTS {
            let stderr = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .expect("server log file");
            let mut command = Command::new(&self.bin);
            command
                .env_clear()
                .env("ASA_DATA_DIR", &self.data)
                .env("ASA_BIND", format!("127.0.0.1:{}", self.port))
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr);
            for (k, v) in &self.env {
                command.env(k, v);
            }
            let mut child = command.spawn().expect("asa-server starts");
            let stdout = child.stdout.take().expect("server stdout");
            let mut lines = BufReader::new(stdout).lines();
            // The child prints this line once it is bound; a child that
            // could not bind exits and its stdout ends instead.
            let port = lines.by_ref().map_while(Result::ok).find_map(|line| {
                line.strip_prefix("asa-server listening on port ")
                    .and_then(|p| p.trim().parse::<u16>().ok())
            });
            match port {
                Some(port) => {
                    // Keep draining stdout so the child never blocks on a full pipe.
                    thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
                    self.port = port;
                    self.child = Some(child);
                    self.starts += 1;
                    return;
                }
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!(
            "asa-server did not start on port {} after {START_ATTEMPTS} attempts; see {}",
            self.port,
            log.display()
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
