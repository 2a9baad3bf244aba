//! A TCP proxy on 127.0.0.1:0 that can cut one response after N bytes, to
//! simulate a link that drops mid-answer (after the server has committed), and
//! can answer the next requests itself (a 503 from a load balancer, say).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Debug)]
pub struct Proxy {
    pub url: String,
    cut: Arc<Mutex<Option<u64>>>,
    cuts: Arc<AtomicUsize>,
    canned: Canned,
}

/// Raw HTTP responses to send instead of forwarding, and how many were sent.
type Canned = Arc<(Mutex<VecDeque<&'static str>>, AtomicUsize)>;

impl Proxy {
    /// Forwards every connection to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let target = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let cut = Arc::new(Mutex::new(None));
        let cuts = Arc::new(AtomicUsize::new(0));
        let canned: Canned = Arc::default();
        let (cut2, cuts2, canned2) = (cut.clone(), cuts.clone(), canned.clone());
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let (cut, cuts, canned) = (cut2.clone(), cuts2.clone(), canned2.clone());
                thread::spawn(move || relay(client, server, &cut, &cuts, canned));
            }
        });
        Proxy {
            url,
            cut,
            cuts,
            canned,
        }
    }

    /// The next requests get these raw responses, one each, instead of the server's.
    pub fn answer_next_requests_with(&self, responses: &[&'static str]) {
        self.canned.0.lock().unwrap().extend(responses);
    }

    /// Forgets the canned responses not sent yet.
    pub fn discard_canned(&self) {
        self.canned.0.lock().unwrap().clear();
    }

    /// How many canned responses were sent so far.
    pub fn canned_sent(&self) -> usize {
        self.canned.1.load(Ordering::SeqCst)
    }

    /// The next response to start flowing is cut after `bytes` bytes.
    pub fn cut_next_response_after(&self, bytes: u64) {
        *self.cut.lock().unwrap() = Some(bytes);
    }

    /// How many responses were cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

fn relay(
    client: TcpStream,
    server: TcpStream,
    cut: &Mutex<Option<u64>>,
    cuts: &AtomicUsize,
    canned: Canned,
) {
    let (Ok(client_r), Ok(server_w)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    thread::spawn(move || forward_requests(client_r, server_w, &canned));
    let (mut server_r, mut client_w) = (server, client);
    let mut budget: Option<u64> = None;
    let mut buf = [0u8; 8192];
    loop {
        let n = match server_r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if budget.is_none() {
            budget = cut.lock().unwrap().take();
        }
        match budget {
            Some(left) if (n as u64) >= left => {
                let _ = client_w.write_all(&buf[..left as usize]);
                let _ = client_w.flush();
                cuts.fetch_add(1, Ordering::SeqCst);
                let _ = client_w.shutdown(Shutdown::Both);
                let _ = server_r.shutdown(Shutdown::Both);
                return;
            }
            Some(left) => {
                budget = Some(left - n as u64);
                if client_w.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            None => {
                if client_w.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = client_w.shutdown(Shutdown::Write);
}

/// Client to server; a request arriving while a canned response waits gets
/// that response, and the connection is closed.
fn forward_requests(mut client: TcpStream, mut server: TcpStream, canned: &Canned) {
    let mut buf = [0u8; 8192];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let answer = canned.0.lock().unwrap().pop_front();
        if let Some(response) = answer {
            let _ = client.write_all(response.as_bytes());
            let _ = client.flush();
            canned.1.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        if server.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Write);
}
