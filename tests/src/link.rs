//! A TCP link on 127.0.0.1:0 to an upstream port that a test can cut and
//! restore: cut, it closes every open connection and every new one at once
//! (a database that became unreachable); restored, it relays again.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Debug)]
pub struct Link {
    port: u16,
    cut: Arc<AtomicBool>,
    /// Both ends of every relayed connection, to close on a cut.
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Link {
    pub fn start(upstream_port: u16) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").expect("link listens");
        let port = listener.local_addr().expect("link address").port();
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (cut2, open2) = (cut.clone(), open.clone());
        thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if cut2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                if let Err(e) = relay(client, server, &open2) {
                    eprintln!("link: cannot relay: {e}");
                }
            }
        });
        Link { port, cut, open }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes every connection and refuses new ones until [`Link::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for stream in open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

fn relay(client: TcpStream, server: TcpStream, open: &Mutex<Vec<TcpStream>>) -> io::Result<()> {
    {
        let mut open = open.lock().unwrap_or_else(|p| p.into_inner());
        open.push(client.try_clone()?);
        open.push(server.try_clone()?);
    }
    for (mut from, mut to) in [(client.try_clone()?, server.try_clone()?), (server, client)] {
        thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    }
    Ok(())
}
