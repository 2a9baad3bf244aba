//! Standard output for results. A reader that stops early (`asa ... | head`)
//! closes the pipe; the next write fails with `BrokenPipe` (Rust ignores
//! SIGPIPE), which `main` treats as a clean end rather than an error.

use std::io::{self, BufWriter, StdoutLock, Write};

/// Buffered standard output; every write reports its error instead of
/// panicking as `println!` does.
#[derive(Debug)]
pub struct Out {
    inner: BufWriter<StdoutLock<'static>>,
}

impl Out {
    pub fn stdout() -> Out {
        Out {
            inner: BufWriter::new(io::stdout().lock()),
        }
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(mark)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(mark)
    }
}

/// Standard output's reader went away (only this writer's errors carry it,
/// so a broken pipe elsewhere, such as an `--output` FIFO, stays an error).
#[derive(Debug)]
struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

fn mark(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        e
    }
}

/// Whether the error is standard output's reader having gone away.
pub fn is_closed_stdout(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}
