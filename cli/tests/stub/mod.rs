//! A stand-in for server features that are not in this tree yet: a small
//! HTTP proxy in front of the real test server that answers some requests
//! itself (`GET /v1/users`, `format=xlsx`) and forwards every other one
//! unchanged. It records the head of every request it sees, so tests can
//! check what the SDK asked for.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// An answer the proxy gives itself.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn json(status: u16, body: &serde_json::Value) -> Canned {
        Canned {
            status,
            content_type: if status < 400 {
                "application/json".into()
            } else {
                "application/problem+json".into()
            },
            body: body.to_string().into_bytes(),
        }
    }
}

/// Decides, from a request's method and target (`/v1/users?page_token=x`),
/// whether the proxy answers it itself.
pub type Answer = dyn Fn(&str, &str) -> Option<Canned> + Send + Sync;

#[derive(Debug)]
pub struct StubProxy {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    heads: Arc<Mutex<Vec<String>>>,
}

/// One request as read from a client.
struct Incoming {
    method: String,
    target: String,
    /// The request line and headers, without the final blank line.
    head: String,
    body: Vec<u8>,
}

impl StubProxy {
    /// Starts a proxy forwarding to `upstream` (`http://127.0.0.1:<port>`).
    pub fn start(upstream: &str, answer: Box<Answer>) -> StubProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub proxy");
        let base = format!(
            "http://{}",
            listener.local_addr().expect("the proxy's address")
        );
        let heads = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::from(answer);
        let seen = heads.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, answer, seen) = (upstream.clone(), answer.clone(), seen.clone());
                thread::spawn(move || serve(client, &upstream, &*answer, &seen));
            }
        });
        StubProxy { base, heads }
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

fn serve(client: TcpStream, upstream: &str, answer: &Answer, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().expect("clone the client stream"));
    let mut client = client;
    // Canned answers keep the connection; a forwarded one closes it.
    while let Some(req) = read_request(&mut reader) {
        seen.lock().expect("request log").push(req.head.clone());
        match answer(&req.method, &req.target) {
            Some(canned) => {
                let head = format!(
                    "HTTP/1.1 {} Stub\r\ncontent-type: {}\r\ncontent-length: {}\r\n\r\n",
                    canned.status,
                    canned.content_type,
                    canned.body.len()
                );
                if client.write_all(head.as_bytes()).is_err()
                    || client.write_all(&canned.body).is_err()
                {
                    return;
                }
            }
            None => {
                forward(&mut client, upstream, &req);
                return;
            }
        }
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
    let mut request_line = head.lines().next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Incoming {
        method,
        target,
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
