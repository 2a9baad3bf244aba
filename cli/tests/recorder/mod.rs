//! A recording HTTP proxy in front of the real test server: it forwards
//! every request unchanged and keeps the head of each, so tests can check
//! what the SDK asked for (and how often), not only what it did with the
//! answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Debug)]
pub struct Recorder {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    heads: Arc<Mutex<Vec<String>>>,
}

/// One request as read from a client.
struct Incoming {
    /// The request line and headers, without the final blank line.
    head: String,
    body: Vec<u8>,
}

impl Recorder {
    /// Starts a proxy forwarding to `upstream` (`http://127.0.0.1:<port>`).
    pub fn start(upstream: &str) -> Recorder {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the recording proxy");
        let base = format!(
            "http://{}",
            listener.local_addr().expect("the proxy's address")
        );
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, seen) = (upstream.clone(), seen.clone());
                thread::spawn(move || serve(client, &upstream, &seen));
            }
        });
        Recorder { base, heads }
    }

    /// The head (request line and headers) of every request so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("request log").clone()
    }

    /// The request lines (`GET /v1/users HTTP/1.1`) so far.
    pub fn request_lines(&self) -> Vec<String> {
        self.heads()
            .iter()
            .map(|h| h.lines().next().unwrap_or_default().to_owned())
            .collect()
    }
}

fn serve(client: TcpStream, upstream: &str, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().expect("clone the client stream"));
    let mut client = client;
    if let Some(req) = read_request(&mut reader) {
        seen.lock().expect("request log").push(req.head.clone());
        forward(&mut client, upstream, &req);
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Incoming> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push_str(&line);
    }
    head.lines().next()?;
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Incoming {
        head: head.trim_end().to_owned(),
        body,
    })
}

/// Sends the request upstream with `connection: close` and copies the whole
/// answer back.
fn forward(client: &mut TcpStream, upstream: &str, req: &Incoming) {
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    let mut head: String = req
        .head
        .lines()
        .filter(|l| {
            !l.to_ascii_lowercase().starts_with("connection:")
                && !l.to_ascii_lowercase().starts_with("keep-alive:")
        })
        .map(|l| format!("{l}\r\n"))
        .collect();
    head.push_str("connection: close\r\n\r\n");
    if server.write_all(head.as_bytes()).is_err() || server.write_all(&req.body).is_err() {
        return;
    }
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    let _ = client.write_all(&answer);
}
