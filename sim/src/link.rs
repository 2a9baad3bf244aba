//! The phone's link, in the client transport: each request waits out its
//! round trip (300-800 ms) and its bytes at the device's speed (50-200
//! kbit/s) on the simulator's clock, and a share of requests is lost, on
//! the way up (the server never sees it) or on the way down (the server did
//! the work; the phone never hears). The waits happen outside the pool of
//! connections to the server, as when a reverse proxy terminates the slow
//! links and forwards over a few kept-alive connections, so the server sees
//! at most `connections` requests at once.
//!
//! Bytes are counted as they cross the link: the HTTP request line and
//! headers as sent, the bodies gzip-compressed as sent and received, and the
//! response head; [`LINK`] adds what TCP, IP and TLS put around them.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::rng::Rng;

/// What TCP/IP and TLS 1.3 add around the HTTP bytes (stated assumptions,
/// not measured): 40 bytes of TCP/IP headers per segment of up to 1460
/// bytes, and one ACK of 40 bytes back for every two segments; 22 bytes of
/// TLS record per segment; each sync opens one connection: the TCP
/// handshake and teardown (7 segments) and a TLS 1.3 resumption (a
/// ClientHello with a pre-shared key, about 520 bytes, and the server's
/// answer, about 250).
#[derive(Debug, Clone, Copy)]
pub struct LinkCosts {
    pub segment: u64,
    pub header: u64,
    pub tls_record: u64,
    pub connect_up: u64,
    pub connect_down: u64,
}

pub const LINK: LinkCosts = LinkCosts {
    segment: 1460,
    header: 40,
    tls_record: 22,
    connect_up: 4 * 40 + 520 + 80,
    connect_down: 3 * 40 + 250,
};

impl LinkCosts {
    /// `(this direction, ACKs in the other)` for `bytes` of HTTP.
    pub fn around(&self, bytes: u64) -> (u64, u64) {
        let segments = bytes.div_ceil(self.segment).max(1);
        (
            bytes + segments * (self.header + self.tls_record),
            segments.div_ceil(2) * self.header,
        )
    }
}

/// The kinds of request, for the breakdown of bytes.
pub const KINDS: [&str; 3] = ["push", "pull", "refresh"];

/// HTTP bytes of one kind of request: how many, and the heads and bodies
/// each way.
#[derive(Debug, Default)]
pub struct KindBytes {
    pub requests: AtomicU64,
    pub head_up: AtomicU64,
    pub body_up: AtomicU64,
    pub head_down: AtomicU64,
    pub body_down: AtomicU64,
}

/// Bytes counted over the whole run.
#[derive(Debug, Default)]
pub struct Bytes {
    pub http_up: AtomicU64,
    pub http_down: AtomicU64,
    pub link_up: AtomicU64,
    pub link_down: AtomicU64,
    pub requests: AtomicU64,
    pub lost: AtomicU64,
    pub kinds: [KindBytes; 3],
}

fn kind_of(path: &str) -> usize {
    if path.starts_with("/v1/sync/push") {
        0
    } else if path.starts_with("/v1/sync/pull") {
        1
    } else {
        2
    }
}

impl Bytes {
    fn count(&self, path: &str, head_up: u64, body_up: u64, head_down: u64, body_down: u64) {
        let kind = &self.kinds[kind_of(path)];
        kind.requests.fetch_add(1, Ordering::Relaxed);
        kind.head_up.fetch_add(head_up, Ordering::Relaxed);
        kind.body_up.fetch_add(body_up, Ordering::Relaxed);
        kind.head_down.fetch_add(head_down, Ordering::Relaxed);
        kind.body_down.fetch_add(body_down, Ordering::Relaxed);
        self.add(head_up + body_up, head_down + body_down);
    }

    fn add(&self, up: u64, down: u64) {
        self.http_up.fetch_add(up, Ordering::Relaxed);
        self.http_down.fetch_add(down, Ordering::Relaxed);
        let (up_link, acks_down) = LINK.around(up);
        let (down_link, acks_up) = if down == 0 { (0, 0) } else { LINK.around(down) };
        self.link_up.fetch_add(up_link + acks_up, Ordering::Relaxed);
        self.link_down
            .fetch_add(down_link + acks_down, Ordering::Relaxed);
    }

    pub fn connection(&self) {
        self.link_up.fetch_add(LINK.connect_up, Ordering::Relaxed);
        self.link_down
            .fetch_add(LINK.connect_down, Ordering::Relaxed);
    }
}

/// One device's link.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub rtt_ms: u64,
    pub kbit_s: u64,
    /// Share of requests lost each way.
    pub loss: f64,
}

impl Link {
    pub fn draw(rng: &mut Rng, loss: f64) -> Link {
        Link {
            rtt_ms: rng.range(300, 801),
            kbit_s: rng.range(50, 201),
            loss,
        }
    }

    /// How long `bytes` take on this link, plus half a round trip.
    fn leg(&self, bytes: u64, scale: f64) -> Duration {
        let ms = self.rtt_ms as f64 / 2.0 + (bytes * 8) as f64 / self.kbit_s as f64;
        Duration::from_secs_f64(ms * scale / 1000.0)
    }
}

/// The shared transport: one HTTP client, the bound on requests the
/// servers see at once, and the byte counters.
#[derive(Debug, Clone)]
pub struct Transport {
    pub client: reqwest::Client,
    pub open: Arc<Semaphore>,
    pub bytes: Arc<Bytes>,
    /// Link waits are multiplied by this (1.0: real time).
    pub link_scale: f64,
}

/// A request as the phone sends it.
#[derive(Debug)]
pub struct Request<'a> {
    pub post: bool,
    pub base: &'a str,
    pub path_and_query: &'a str,
    pub token: Option<&'a str>,
    /// JSON, gzip-compressed on the way.
    pub body: Option<&'a [u8]>,
}

/// What came back: the status and the body, inflated.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// From acquiring a connection to the last byte, and the wait before it.
    pub round_trip: Duration,
    pub waited: Duration,
}

/// Why a request did not answer.
#[derive(Debug)]
pub enum Failure {
    /// Lost on the link (up: the server never saw it; down: it did).
    Lost,
    /// The server or the connection failed.
    Http(String),
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| Failure::Http(format!("a corrupt gzip body: {e}")))?;
    Ok(out)
}

impl Transport {
    pub fn new(connections: usize, link_scale: f64) -> Transport {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .no_gzip()
            .pool_max_idle_per_host(connections)
            // Below the server's keep-alive (5 s), so that the pool never
            // reuses a connection the server is closing.
            .pool_idle_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(600))
            .build()
            .expect("an HTTP client");
        Transport {
            client,
            open: Arc::new(Semaphore::new(connections)),
            bytes: Arc::new(Bytes::default()),
            link_scale,
        }
    }

    /// Sends `request` over `link`, drawing its fate from `rng`.
    pub async fn send(
        &self,
        link: &Link,
        rng: &mut Rng,
        request: Request<'_>,
    ) -> Result<Answer, Failure> {
        let body = request.body.map(gzip);
        let url = format!("{}{}", request.base, request.path_and_query);
        // The request head as it goes on the wire.
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {}\r\naccept: */*\r\naccept-encoding: gzip\r\nasa-protocol: 1.1\r\n",
            if request.post { "POST" } else { "GET" },
            request.path_and_query,
            request.base.trim_start_matches("http://"),
        );
        if let Some(token) = request.token {
            head.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        if let Some(b) = &body {
            head.push_str(&format!(
                "content-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        let (head_up, body_up) = (head.len() as u64, body.as_ref().map_or(0, Vec::len) as u64);
        let up = head_up + body_up;
        self.bytes.requests.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(link.leg(up, self.link_scale)).await;
        if rng.chance(link.loss) {
            self.bytes
                .count(request.path_and_query, head_up, body_up, 0, 0);
            self.bytes.lost.fetch_add(1, Ordering::Relaxed);
            return Err(Failure::Lost);
        }
        let asked = Instant::now();
        let permit = self
            .open
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let started = Instant::now();
        let mut builder = if request.post {
            self.client.post(&url)
        } else {
            self.client.get(&url)
        }
        .header("accept-encoding", "gzip")
        .header("asa-protocol", "1.1");
        if let Some(token) = request.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(b) = body {
            builder = builder
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(b);
        }
        // Boxed, as the body read below: only the requests holding a
        // connection carry reqwest's large futures; the thousands of phones
        // waiting for one, or on their link, hold a small one each.
        let response = Box::pin(builder.send())
            .await
            .map_err(|e| Failure::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let mut down = 17 + 2; // "HTTP/1.1 200 OK\r\n" and the blank line
        let gzipped = response
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v == "gzip");
        for (name, value) in response.headers() {
            down += name.as_str().len() + 2 + value.len() + 2;
        }
        let raw = Box::pin(response.bytes())
            .await
            .map_err(|e| Failure::Http(e.to_string()))?;
        let round_trip = started.elapsed();
        drop(permit);
        let (head_down, body_down) = (down as u64, raw.len() as u64);
        let down = head_down + body_down;
        self.bytes.count(
            request.path_and_query,
            head_up,
            body_up,
            head_down,
            body_down,
        );
        tokio::time::sleep(link.leg(down, self.link_scale)).await;
        if rng.chance(link.loss) {
            self.bytes.lost.fetch_add(1, Ordering::Relaxed);
            return Err(Failure::Lost);
        }
        let body = if gzipped { gunzip(&raw)? } else { raw.to_vec() };
        Ok(Answer {
            status,
            body,
            round_trip,
            waited: started - asked,
        })
    }
}
