//! Three servers on one PostgreSQL database behind nginx, configured as the
//! README shows (PostgreSQL only; Debian's nginx, which `scripts/test`
//! installs): the clients see one server.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::TestApp;
use uuid::Uuid;

/// nginx in the foreground with a configuration and paths of its own.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// SIGTERM, not SIGKILL: the master stops its workers, which would
/// otherwise outlive the test holding its output pipes open.
impl Drop for Nginx {
    fn drop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// The `upstream` and `server` blocks of the README's configuration.
fn site(upstreams: &[u16], port: u16) -> String {
    let servers: String = upstreams
        .iter()
        .map(|p| format!("        server 127.0.0.1:{p};\n"))
        .collect();
    format!(
        "    upstream asa {{\n{servers}        keepalive 16;\n    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 5m;
        location / {{
            proxy_pass http://asa;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}\n"
    )
}

fn start_nginx(upstreams: &[u16]) -> Nginx {
    let dir = tempfile::TempDir::new().expect("nginx directory");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let d = dir.path().display();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{}}}\n",
        site(upstreams, port)
    );
    let path = dir.path().join("nginx.conf");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(conf.as_bytes()))
        .expect("nginx.conf");
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&path)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx runs (scripts/test installs Debian's nginx)");
    // nginx says nothing when it is ready: wait until it accepts.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
    Nginx {
        child,
        port,
        _dir: dir,
    }
}

async fn pushes_seen(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("asa_http_requests_total") && l.contains("/v1/sync/push"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn three_servers_behind_nginx_serve_as_one() {
    if !tests::on_postgres() {
        return;
    }
    let one =
        TestApp::spawn_tuned(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let two = one.another_server().await;
    let three = one.another_server().await;
    let ports: Vec<u16> = [&one, &two, &three]
        .iter()
        .map(|a| a.base.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    let nginx = start_nginx(&ports);
    // Accounts are made directly; everything else goes through nginx.
    let somchai = one.user("volunteer", Some("C0001")).await;
    let boss = one.user("manager", Some("C0001")).await;
    let front = one.via(&format!("http://127.0.0.1:{}", nginx.port));
    let mut somchai = somchai;
    let mut sent = Vec::new();
    for _ in 0..9 {
        let batch = vec![somchai.new_session(Uuid::now_v7())];
        sent.push(batch[0]["id"].as_str().unwrap().to_owned());
        let answer = front.push_ok(&somchai, batch).await;
        assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    }
    let (changes, _) = front.pull_all(&boss, "").await;
    let pulled: Vec<&str> = changes.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(pulled, sent, "every change once, in push order");
    // nginx spread the pushes over the three servers.
    for (i, app) in [&one, &two, &three].into_iter().enumerate() {
        assert!(pushes_seen(app).await > 0, "server {i} got no push");
    }
    let ready = front.client.get(front.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}
