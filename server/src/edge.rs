//! The HTTP edge: the listeners, serving the application over each TCP
//! connection wrapped in [`ProblemIo`].
//!
//! actix-http answers some requests itself, before the application sees
//! them: a malformed request line or header (a bad `Content-Length`, say),
//! headers over its limit, a request head that never finished arriving. It
//! sends those answers with an empty body. The application cannot be asked
//! to answer them, so the connection is wrapped instead: those exact answers
//! (a 400, 431 or 408 head with `content-length: 0`, which the application
//! itself never sends, since all of its errors carry a body) are replaced
//! on their way out by the same response with a problem+json body, and every
//! other byte passes through untouched.

use std::fmt;
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, Protocol, Request, Response};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::dev::{AppConfig, Server, Service};
use actix_web::rt::net::TcpStream;
use sync_core::wire::Problem;
use sync_core::ProblemCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How the listeners run.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// 0: one per core.
    pub workers: usize,
    pub max_blocking_threads: usize,
    pub shutdown_timeout_secs: u64,
}

/// Serves the application made by `factory` on `listener`.
pub fn serve<F, I, S, B>(
    name: &str,
    listener: TcpListener,
    tuning: Tuning,
    factory: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let mut builder = Server::build()
        .worker_max_blocking_threads(tuning.max_blocking_threads)
        .shutdown_timeout(tuning.shutdown_timeout_secs);
    if tuning.workers > 0 {
        builder = builder.workers(tuning.workers);
    }
    let server = builder.listen(name, listener, move || {
        let app = factory()
            .into_factory()
            .map_err(|e| e.into().error_response());
        // As actix-web's HttpServer does: after answering early (a 413
        // before the body is read), wait a second for the client to stop
        // sending before closing, or the close resets the connection and the
        // client loses the answer.
        let http = HttpService::build()
            .client_request_timeout(Duration::from_secs(60))
            .client_disconnect_timeout(Duration::from_secs(1))
            .finish(map_config(app, |_| AppConfig::default()));
        fn_service(|io: TcpStream| async move {
            // Without TCP_NODELAY a response written in two segments waits
            // for the client's delayed ACK (40 ms) on every keep-alive request.
            let _ = io.set_nodelay(true);
            let peer = io.peer_addr().ok();
            Ok::<_, actix_http::error::DispatchError>((ProblemIo::new(io), Protocol::Http1, peer))
        })
        .and_then(http)
    })?;
    Ok(server.run())
}

/// The answers actix-http gives on its own, and what each means.
const FRAMEWORK_ANSWERS: &[(u16, &str, ProblemCode, &str)] = &[
    (
        400,
        "Bad Request",
        ProblemCode::InvalidHttp,
        "the request is not valid HTTP/1.1: check the request line, the headers and Content-Length",
    ),
    (
        431,
        "Request Header Fields Too Large",
        ProblemCode::HeadersTooLarge,
        "the request's headers are too large",
    ),
    (
        408,
        "Request Timeout",
        ProblemCode::RequestTimeout,
        "the request did not arrive in time",
    ),
];

/// The problem+json response that replaces a framework answer, if `head` is
/// one: exactly a response head (status line and headers, no body) with
/// `content-length: 0`.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    if head.len() > 512 || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let (status_line, headers) = text.split_once("\r\n")?;
    let version = status_line.get(..9).filter(|v| v.starts_with("HTTP/1."))?;
    if !headers.contains("content-length: 0\r\n") {
        return None;
    }
    let (status, reason, code, detail) = FRAMEWORK_ANSWERS
        .iter()
        .find(|(status, reason, ..)| status_line[9..] == format!("{status} {reason}"))?;
    let body =
        serde_json::to_string(&Problem::new(*status, code.as_str(), reason, *detail)).ok()?;
    Some(
        format!(
            "{version}{status} {reason}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A connection whose framework answers get a problem+json body (see the
/// module documentation).
#[derive(Debug)]
pub struct ProblemIo<T> {
    io: T,
    /// A replacement being written, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> ProblemIo<T> {
    pub fn new(io: T) -> ProblemIo<T> {
        ProblemIo { io, pending: None }
    }
}

impl<T: AsyncWrite + Unpin> ProblemIo<T> {
    /// Writes out what is left of a replacement.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, sent)) = &mut self.pending {
            if *sent == bytes.len() {
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match replacement(buf) {
                Some(bytes) => this.pending = Some((bytes, 0)),
                None => return Pin::new(&mut this.io).poll_write(cx, buf),
            }
        }
        // After a framework answer the connection closes; anything more the
        // dispatcher writes is dropped with it.
        ready!(this.drain(cx))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_frameworks_bodiless_error_heads_are_replaced() {
        let head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Tue, 01 Dec 2026 22:53:10 GMT\r\n\r\n";
        let new = String::from_utf8(replacement(head).unwrap()).unwrap();
        assert!(new
            .starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"));
        assert!(new.ends_with("\"code\":\"invalid_http\"}"), "{new}");
        let big = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        assert!(String::from_utf8(replacement(big).unwrap())
            .unwrap()
            .contains("headers_too_large"));
        // The application's own answers always carry a body.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 150\r\ncontent-type: application/problem+json\r\n\r\n";
        assert!(replacement(ours).is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(replacement(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}").is_none());
    }
}
