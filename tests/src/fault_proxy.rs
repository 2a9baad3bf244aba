//! A fault-injecting TCP proxy on 127.0.0.1:0. Every HTTP exchange (a request
//! and its response on one connection) gets a fault chosen by a seeded
//! generator: pass, drop before forwarding the request, drop after forwarding
//! it (the server did the work, the answer is lost), cut the response after N
//! bytes, delay, reset, or, when a kill is armed, SIGKILL the server while it
//! handles a push.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::rng::Rng;

/// What happens to one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// Close both sides before the request reaches the server.
    DropBeforeRequest,
    /// Forward the request, then close both sides when the answer starts.
    DropAfterRequest,
    /// Forward the request and this many bytes of the answer, then close.
    CutResponse(u64),
    /// Hold the request this many milliseconds, then forward it.
    Delay(u64),
    /// Close the client side with a TCP reset before forwarding.
    Reset,
    /// Forward a push and SIGKILL the server this many milliseconds later.
    Kill(u64),
}

impl Fault {
    pub fn kind(self) -> &'static str {
        match self {
            Fault::Pass => "pass",
            Fault::DropBeforeRequest => "drop_before_request",
            Fault::DropAfterRequest => "drop_after_request",
            Fault::CutResponse(_) => "cut_mid_response",
            Fault::Delay(_) => "delay",
            Fault::Reset => "reset",
            Fault::Kill(_) => "server_kill",
        }
    }
}

/// What the proxy does to the server when a kill fault fires.
pub trait ServerControl: Send + Sync {
    /// Called before the doomed request is forwarded (the server is still up).
    fn before_kill(&self);
    /// SIGKILL the server and start it again on the same port.
    fn kill_and_restart(&self);
}

#[derive(Debug)]
struct State {
    rng: Rng,
    /// Percentage of exchanges that get a fault other than a kill.
    fault_percent: u64,
    armed_kills: u64,
    counts: BTreeMap<&'static str, u64>,
}

struct Shared {
    upstream: SocketAddr,
    state: Mutex<State>,
    control: Arc<dyn ServerControl>,
    kills: Mutex<Vec<JoinHandle<()>>>,
}

/// The proxy; it runs until the test process ends (its threads hold no data
/// a test needs once the test is over).
pub struct FaultProxy {
    pub url: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Forwards to `127.0.0.1:upstream_port`; faults are off until
    /// [`FaultProxy::set_fault_percent`] turns them on.
    pub fn start(upstream_port: u16, seed: u64, control: Arc<dyn ServerControl>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let shared = Arc::new(Shared {
            upstream: SocketAddr::from(([127, 0, 0, 1], upstream_port)),
            state: Mutex::new(State {
                rng: Rng::new(seed),
                fault_percent: 0,
                armed_kills: 0,
                counts: BTreeMap::new(),
            }),
            control,
            kills: Mutex::new(Vec::new()),
        });
        let accept = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let shared = accept.clone();
                thread::spawn(move || relay(&shared, client));
            }
        });
        FaultProxy { url, shared }
    }

    pub fn set_fault_percent(&self, percent: u64) {
        self.shared.state().fault_percent = percent.min(100);
    }

    /// The next push to pass through kills the server while it is handled.
    pub fn arm_kill(&self) {
        self.shared.state().armed_kills += 1;
    }

    pub fn armed_kills(&self) -> u64 {
        self.shared.state().armed_kills
    }

    /// Turns faults off, disarms kills and waits for kills in progress, so
    /// the server is up and every exchange passes from now on.
    pub fn calm(&self) {
        {
            let mut state = self.shared.state();
            state.fault_percent = 0;
            state.armed_kills = 0;
        }
        let running: Vec<_> = std::mem::take(&mut *self.shared.kills.lock().expect("kills"));
        for handle in running {
            handle.join().expect("kill thread");
        }
    }

    /// How many exchanges got each fault (`pass` included).
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.shared.state().counts.clone()
    }
}

/// Whether this exchange gets a fault, at the configured rate.
fn chance(state: &mut State) -> bool {
    let percent = state.fault_percent;
    state.rng.chance(percent)
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Chooses the fault of an exchange from its first bytes.
    fn choose(&self, first: &[u8]) -> Fault {
        let mut state = self.state();
        let is_push = first.starts_with(b"POST /v1/sync/push");
        let fault = if is_push && state.armed_kills > 0 {
            state.armed_kills -= 1;
            Fault::Kill(state.rng.below(30))
        } else if state.fault_percent > 0 && chance(&mut state) {
            match state.rng.below(5) {
                0 => Fault::DropBeforeRequest,
                1 => Fault::DropAfterRequest,
                2 => Fault::CutResponse(state.rng.range(1, 600)),
                3 => Fault::Delay(state.rng.range(1, 40)),
                _ => Fault::Reset,
            }
        } else {
            Fault::Pass
        };
        *state.counts.entry(fault.kind()).or_default() += 1;
        fault
    }

    fn count(&self, kind: &'static str) {
        *self.state().counts.entry(kind).or_default() += 1;
    }
}

/// The fault of the exchange in progress on one connection.
struct Exchange {
    fault: Mutex<Fault>,
    /// Set once the server started answering: the next client bytes begin a
    /// new exchange.
    answering: AtomicBool,
    /// Set when the client side is being reset: no FIN may go out first.
    reset: AtomicBool,
}

fn relay(shared: &Arc<Shared>, client: TcpStream) {
    let Ok(server) = TcpStream::connect(shared.upstream) else {
        // The server is down (being restarted): the client sees a closed link.
        shared.count("upstream_down");
        return;
    };
    let (Ok(client_w), Ok(server_r)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let exchange = Arc::new(Exchange {
        fault: Mutex::new(Fault::Pass),
        answering: AtomicBool::new(true),
        reset: AtomicBool::new(false),
    });
    let back = exchange.clone();
    let answers = thread::spawn(move || relay_answers(server_r, client_w, &back));
    relay_requests(shared, client, server, &exchange);
    let _ = answers.join();
}

/// Client to server: each new request draws its fault.
fn relay_requests(
    shared: &Arc<Shared>,
    mut client: TcpStream,
    mut server: TcpStream,
    ex: &Exchange,
) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if ex.answering.swap(false, Ordering::SeqCst) {
            let fault = shared.choose(&buf[..n]);
            *ex.fault.lock().expect("fault") = fault;
            match fault {
                Fault::DropBeforeRequest => {
                    let _ = client.shutdown(Shutdown::Both);
                    let _ = server.shutdown(Shutdown::Both);
                    return;
                }
                Fault::Reset => {
                    ex.reset.store(true, Ordering::SeqCst);
                    let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
                    let _ = server.shutdown(Shutdown::Both);
                    // Dropping the last handle with a zero linger sends RST.
                    return;
                }
                Fault::Delay(ms) => thread::sleep(Duration::from_millis(ms)),
                Fault::Kill(ms) => {
                    // A previous kill must be over: the server is up again.
                    let previous = std::mem::take(&mut *shared.kills.lock().expect("kills"));
                    for handle in previous {
                        handle.join().expect("kill thread");
                    }
                    shared.control.before_kill();
                    let control = shared.control.clone();
                    let handle = thread::spawn(move || {
                        // Where in the push the kill lands is the point of
                        // this fault: before, during or after the commit.
                        thread::sleep(Duration::from_millis(ms));
                        control.kill_and_restart();
                    });
                    shared.kills.lock().expect("kills").push(handle);
                }
                Fault::Pass | Fault::DropAfterRequest | Fault::CutResponse(_) => {}
            }
        }
        if server.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Write);
}

/// Server to client: drops or cuts answers as the exchange's fault says.
fn relay_answers(mut server: TcpStream, mut client: TcpStream, ex: &Exchange) {
    let mut buf = [0u8; 16 * 1024];
    let mut left: Option<u64> = None;
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !ex.answering.swap(true, Ordering::SeqCst) {
            left = match *ex.fault.lock().expect("fault") {
                Fault::DropAfterRequest => Some(0),
                Fault::CutResponse(bytes) => Some(bytes),
                _ => None,
            };
        }
        let send = left.map_or(n, |l| n.min(l as usize));
        if client.write_all(&buf[..send]).is_err() {
            break;
        }
        if let Some(l) = left {
            if (n as u64) >= l {
                let _ = client.flush();
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
                return;
            }
            left = Some(l - n as u64);
        }
    }
    if !ex.reset.load(Ordering::SeqCst) {
        let _ = client.shutdown(Shutdown::Write);
    }
}
