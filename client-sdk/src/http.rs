//! HTTP transport: blocking requests with gzip on both directions, honest
//! byte counting, and retries with exponential backoff and jitter.
//!
//! Automatic decompression is off so the SDK can count the bytes that really
//! crossed the link; it asks for gzip itself and inflates the body here.

use std::io::{Read, Write};
use std::time::Duration;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use reqwest::blocking::Client as HttpClient;
use reqwest::header::{
    HeaderMap, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER,
};
use reqwest::{Method, StatusCode};
use sync_core::wire::Problem;

use crate::error::{Error, Result};

/// The protocol version this SDK speaks, sent on every request so the
/// server knows it may send version 1.1 keys (contract section 7).
pub const PROTOCOL_HEADER: &str = "asa-protocol";
pub const PROTOCOL_VERSION: &str = "1.1";

/// How the SDK talks to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The server's base URL, e.g. `https://asa.example.org`.
    pub server_url: String,
    /// Changes per push request (the server takes at most 1000).
    pub batch_size: usize,
    /// Changes per pull page (1..=1000).
    pub pull_limit: usize,
    /// Compress request bodies and ask for compressed responses.
    pub gzip: bool,
    /// Attempts per request before giving up on a network error or a 5xx.
    pub max_attempts: u32,
    /// The first retry waits about this long; each later one twice as long.
    pub backoff_base_ms: u64,
    /// No single wait (backoff or Retry-After) is longer than this.
    pub backoff_max_ms: u64,
    pub timeout_secs: u64,
}

impl Config {
    pub fn new(server_url: impl Into<String>) -> Config {
        Config {
            server_url: server_url.into(),
            batch_size: 200,
            pull_limit: 500,
            gzip: true,
            max_attempts: 5,
            backoff_base_ms: 500,
            backoff_max_ms: 60_000,
            timeout_secs: 60,
        }
    }
}

/// A request to send; the body is JSON.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    pub body: Option<Vec<u8>>,
    pub token: Option<&'a str>,
    pub accept: &'static str,
    /// Whether a 429 is waited out and retried (a throttled login is not).
    pub retry_throttled: bool,
    /// The most bytes the answer can take, for a meter with a ceiling: no
    /// attempt is made unless the body and this fit in what is left.
    pub reply_bound: u64,
}

/// A response with its body inflated, and the bytes it cost.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: StatusCode,
    /// The Content-Type header, "" when there is none.
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::Protocol(format!("cannot read the server's answer: {e}")))
    }

    /// The problem document of an error answer, or a stand-in when there is none.
    pub fn problem(&self) -> Problem {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            Problem::new(
                self.status.as_u16(),
                "unknown",
                "error",
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect::<String>(),
            )
        })
    }

    pub fn into_error(self) -> Error {
        let p = self.problem();
        Error::Server {
            status: p.status,
            code: p.code,
            detail: p.detail,
        }
    }
}

/// Bytes that crossed the link, bodies only (HTTP headers are not counted),
/// and the budget they must stay within, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Meter {
    pub sent: u64,
    pub received: u64,
    pub ceiling: Option<u64>,
}

impl Meter {
    pub fn within(ceiling: Option<u64>) -> Meter {
        Meter {
            ceiling,
            ..Meter::default()
        }
    }

    pub fn total(&self) -> u64 {
        self.sent + self.received
    }

    /// The bytes left under the ceiling (`None`: no ceiling).
    pub fn room(&self) -> Option<u64> {
        self.ceiling.map(|c| c.saturating_sub(self.total()))
    }
}

#[derive(Debug)]
pub(crate) struct Http {
    client: HttpClient,
    config: Config,
}

impl Http {
    pub fn new(config: Config) -> Result<Http> {
        check_server_url(&config.server_url)?;
        let client = HttpClient::builder()
            .no_gzip()
            .timeout(Duration::from_secs(config.timeout_secs))
            .build()
            .map_err(|e| Error::Unreachable {
                attempts: 0,
                reason: format!("cannot start the http client: {e}"),
            })?;
        Ok(Http { client, config })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends a request, retrying network errors, 5xx, 429 and 503. Returns the
    /// final answer whatever its status; bytes of failed attempts are added to
    /// `spent` so budgets see them too. Under `spent`'s ceiling, no attempt
    /// (the first or a retry) is made unless its body and `reply_bound` fit
    /// in what is left: [`Error::BudgetSpent`].
    pub fn send(&self, req: &Request<'_>, spent: &mut Meter) -> Result<Response> {
        let body = match (&req.body, self.config.gzip) {
            (Some(raw), true) => Some(gzip(raw)?),
            (Some(raw), false) => Some(raw.clone()),
            (None, _) => None,
        };
        let url = format!(
            "{}{}",
            self.config.server_url.trim_end_matches('/'),
            req.path
        );
        let attempts = self.config.max_attempts.max(1);
        let mut last_reason = String::new();
        for attempt in 1..=attempts {
            let mut builder = self
                .client
                .request(req.method.clone(), &url)
                .header(ACCEPT, req.accept)
                .header(PROTOCOL_HEADER, PROTOCOL_VERSION);
            if self.config.gzip {
                builder = builder.header(ACCEPT_ENCODING, "gzip");
            }
            if let Some(token) = req.token {
                builder = builder.bearer_auth(token);
            }
            let sent = body.as_ref().map_or(0, |b| b.len() as u64);
            if spent
                .room()
                .is_some_and(|room| sent + req.reply_bound > room)
            {
                return Err(Error::BudgetSpent);
            }
            if let Some(b) = &body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(b.clone());
                if self.config.gzip {
                    builder = builder.header(CONTENT_ENCODING, "gzip");
                }
            }
            spent.sent += sent;
            let wait = match builder.send().and_then(read) {
                Ok((status, headers, raw)) => {
                    spent.received += raw.len() as u64;
                    let retryable = status.is_server_error()
                        || (req.retry_throttled && status == StatusCode::TOO_MANY_REQUESTS);
                    if !retryable || attempt == attempts {
                        let body = inflate(&headers, raw)?;
                        let content_type = headers
                            .get(CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        return Ok(Response {
                            status,
                            content_type,
                            body,
                        });
                    }
                    last_reason = format!("server answered {status}");
                    retry_after(&headers).unwrap_or_else(|| self.backoff(attempt))
                }
                Err(e) => {
                    last_reason = causes(&e);
                    self.backoff(attempt)
                }
            };
            if attempt < attempts {
                std::thread::sleep(wait.min(Duration::from_millis(self.config.backoff_max_ms)));
            }
        }
        Err(Error::Unreachable {
            attempts,
            reason: last_reason,
        })
    }

    /// Exponential backoff with full jitter: a random wait in [d/2, d].
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .backoff_base_ms
            .saturating_mul(1u64 << (attempt - 1).min(20))
            .min(self.config.backoff_max_ms);
        let jitter = u64::from(uuid::Uuid::new_v4().as_fields().0) % (exp / 2 + 1);
        Duration::from_millis(exp / 2 + jitter)
    }
}

/// A server URL the transport can put paths after: http or https, a host,
/// no query or fragment.
fn check_server_url(url: &str) -> Result<()> {
    let bad = |reason: &str| Error::InvalidServerUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("it must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("it must not have a query (`?`) or a fragment (`#`)"));
    }
    Ok(())
}

/// An error with its causes, each once: reqwest's own message names only the
/// URL, the reason (refused, timed out, no such host) is in the causes.
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

fn read(r: reqwest::blocking::Response) -> reqwest::Result<(StatusCode, HeaderMap, Vec<u8>)> {
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = r.bytes()?;
    Ok((status, headers, bytes.to_vec()))
}

/// Retry-After in seconds (the HTTP-date form is rare and treated as absent).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

pub(crate) fn gzip(raw: &[u8]) -> Result<Vec<u8>> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(raw.len() / 4 + 64),
        flate2::Compression::default(),
    );
    enc.write_all(raw)
        .and_then(|()| enc.finish())
        .map_err(|e| Error::Protocol(format!("cannot compress a request: {e}")))
}

fn inflate(headers: &HeaderMap, raw: Vec<u8>) -> Result<Vec<u8>> {
    let gzipped = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzipped {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    GzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| Error::Protocol(format!("cannot inflate the server's answer: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_url_is_http_or_https_with_a_host() {
        for good in [
            "http://127.0.0.1:8080",
            "https://asa.example.org",
            "https://asa.example.org/sync/",
        ] {
            assert!(check_server_url(good).is_ok(), "{good}");
        }
        for bad in [
            "127.0.0.1:8080",
            "ftp://asa.example.org",
            "http://",
            "http://a b",
            "https://asa.example.org/?x=1",
            "",
        ] {
            assert!(
                matches!(check_server_url(bad), Err(Error::InvalidServerUrl { .. })),
                "{bad}"
            );
        }
    }
}
