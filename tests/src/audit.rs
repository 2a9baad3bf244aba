//! Captures the server's audit log (`tracing` target "audit") in memory, so
//! tests can prove that a refused attempt was recorded. Tests run in
//! parallel in one process and share the one global subscriber: each test
//! looks only at lines carrying a marker of its own (a username, a user or
//! device id, a unique path).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The captured audit lines, shared by every test of the process.
#[derive(Debug, Clone, Default)]
pub struct AuditLog {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl AuditLog {
    /// Every captured line containing `marker`.
    pub fn lines_with(&self, marker: &str) -> Vec<String> {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buffer)
            .lines()
            .filter(|l| l.contains(marker))
            .map(str::to_owned)
            .collect()
    }
}

/// One event's output, appended to the buffer in one piece when dropped so
/// that lines of concurrent events never interleave.
#[derive(Debug)]
pub struct LineWriter {
    buffer: Arc<Mutex<Vec<u8>>>,
    line: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        buffer.extend_from_slice(&self.line);
    }
}

impl<'a> MakeWriter<'a> for AuditLog {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            buffer: self.buffer.clone(),
            line: Vec::new(),
        }
    }
}

/// Installs the capturing subscriber once for the whole process and returns
/// the log it writes to.
pub fn audit_log() -> &'static AuditLog {
    static LOG: OnceLock<AuditLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = AuditLog::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(log.clone());
        let subscriber = tracing_subscriber::registry()
            .with(layer)
            .with(Targets::new().with_target("audit", tracing::Level::TRACE));
        // Another subscriber set first would mean no capture: fail loudly.
        tracing::subscriber::set_global_default(subscriber)
            .expect("the audit capture is the process's only subscriber");
        log
    })
}
