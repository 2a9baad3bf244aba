//! The `asa-server` binary as an operator runs it: first start with no
//! set-up, the `centre` and `user` commands and `migrate`, restarts on the
//! same data directory, and SIGTERM letting an in-flight push finish.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_asa-server");

struct Running {
    child: Child,
    port: u16,
    /// Lines the server printed before it was listening.
    printed: Vec<String>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        self.child.wait().expect("server exits")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, extra_env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("ASA_DATA_DIR", data)
        .env("ASA_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra_env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("asa-server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = Vec::new();
    let port = loop {
        let line = lines
            .next()
            .expect("server printed a line")
            .expect("utf-8 line");
        if let Some(port) = line.strip_prefix("asa-server listening on port ") {
            break port.trim().parse().expect("a port number");
        }
        printed.push(line);
    };
    Running {
        child,
        port,
        printed,
    }
}

fn login(server: &Running, username: &str, password: &str) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .post(server.url("/v1/auth/login"))
        .json(&json!({"username": username, "password": password, "device_id": Uuid::new_v4()}))
        .send()
        .expect("login request")
}

#[test]
fn first_start_creates_an_admin_whose_generated_password_is_printed_once() {
    let data = tempfile::TempDir::new().unwrap();
    let server = start(data.path(), &[]);
    let line = server
        .printed
        .iter()
        .find(|l| l.starts_with("created user `admin` with password: "))
        .expect("the generated password is printed");
    let password = line.rsplit(' ').next().unwrap().to_owned();
    assert!(password.len() >= 20);
    assert_eq!(login(&server, "admin", &password).status(), 200);
    assert!(server.terminate().success(), "SIGTERM is a clean exit");

    let again = start(data.path(), &[]);
    assert!(
        again.printed.iter().all(|l| !l.contains("password")),
        "{:?}",
        again.printed
    );
    assert_eq!(login(&again, "admin", &password).status(), 200);
}

/// Runs an operator command of the binary on a data directory, with `stdin`.
fn run(data: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("ASA_DATA_DIR", data)
        .env("ASA_ADMIN_PASSWORD", "first admin password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn operator_commands_manage_centres_and_users_on_the_database() {
    let data = tempfile::TempDir::new().unwrap();
    let data = data.path();
    for _ in 0..2 {
        let out = run(data, &["migrate"], "");
        assert!(out.status.success());
        assert!(stdout(&out).contains("is up to date"));
    }
    let add_somsri = [
        "user",
        "add",
        "--username",
        "somsri",
        "--role",
        "manager",
        "--centre",
        "C0001",
        "--display-name",
        "สมศรี รักงาน",
    ];
    let out = run(data, &add_somsri, "ขอให้ปลอดภัย 123\n");
    assert!(!out.status.success(), "the centre must exist first");
    assert!(stderr(&out).contains("unknown_centre"), "{}", stderr(&out));

    let centre = [
        "centre",
        "add",
        "--code",
        "C0001",
        "--name",
        "ศูนย์ดิจิทัลชุมชนบ้านแม่ริม",
        "--province",
        "เชียงใหม่",
        "--district",
        "แม่ริม",
    ];
    assert!(run(data, &centre, "").status.success());
    assert!(!run(data, &centre, "").status.success(), "codes are unique");
    let out = run(data, &["centre", "list"], "");
    assert!(stdout(&out).contains("C0001\tศูนย์ดิจิทัลชุมชนบ้านแม่ริม"));

    let out = run(data, &add_somsri, "ขอให้ปลอดภัย 123\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("created manager somsri"));
    let mut again = add_somsri;
    again[3] = "SomSri";
    let out = run(data, &again, "another password\n");
    assert!(!out.status.success(), "usernames are compared without case");
    assert!(stderr(&out).contains("taken"));
    let short = [
        "user",
        "add",
        "--username",
        "nopass",
        "--role",
        "volunteer",
        "--centre",
        "C0001",
    ];
    assert!(!run(data, &short, "short\n").status.success());
    let out = run(data, &["user", "list", "--centre", "C0001"], "");
    assert!(stdout(&out).contains("somsri\tmanager\tC0001\tactive"));

    let server = start(data, &[]);
    let response = login(&server, "SOMSRI", "ขอให้ปลอดภัย 123");
    assert_eq!(
        response.status(),
        200,
        "a login finds the user without case"
    );
    let body: Value = response.json().unwrap();
    assert_eq!(body["user"]["role"], "manager");
    assert_eq!(body["user"]["centre_id"], "C0001");
    assert_eq!(body["user"]["display_name"], "สมศรี รักงาน");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let centres = |token: &str| {
        reqwest::blocking::Client::new()
            .get(server.url("/v1/centres"))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    assert_eq!(centres(&token).status(), 200);

    // Disabling ends the login at once, on the running server.
    assert!(run(data, &["user", "disable", "somsri"], "")
        .status
        .success());
    let refused = centres(&token);
    assert_eq!(refused.status(), 401);
    let problem: Value = refused.json().unwrap();
    assert_eq!(problem["code"], "token_revoked");
    assert_eq!(
        login(&server, "somsri", "ขอให้ปลอดภัย 123").status(),
        403,
        "a disabled account cannot log in"
    );
    assert!(run(data, &["user", "enable", "somsri"], "")
        .status
        .success());
    assert!(run(data, &["user", "passwd", "somsri"], "รหัสใหม่ที่ยาวพอ\n")
        .status
        .success());
    assert_eq!(login(&server, "somsri", "ขอให้ปลอดภัย 123").status(), 401);
    let body: Value = login(&server, "somsri", "รหัสใหม่ที่ยาวพอ").json().unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(centres(&token).status(), 200);
    let out = run(data, &["user", "unbind", "somsri"], "");
    // Two logins above bound two phones.
    assert!(
        stdout(&out).contains("unbound 2 device(s)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        centres(&token).status(),
        401,
        "an unbound device's token ends"
    );
}

#[test]
fn sigterm_lets_an_in_flight_push_finish_and_the_data_survives() {
    let data = tempfile::TempDir::new().unwrap();
    let env = [("ASA_ADMIN_PASSWORD", "first admin password")];
    let server = start(data.path(), &env);
    let tokens: Value = login(&server, "admin", "first admin password")
        .json()
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let created = reqwest::blocking::Client::new()
        .post(server.url("/v1/admin/centres"))
        .bearer_auth(token)
        .json(&json!({"code": "C1", "name": "ศูนย์หนึ่ง", "province": "น่าน", "district": "เมืองน่าน"}))
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);
    let device: Uuid = {
        // The login above bound a fresh device; read it back from the token.
        let claims = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(&base64_decode(claims)).unwrap();
        claims["dev"].as_str().unwrap().parse().unwrap()
    };
    let now = chrono::Utc::now().timestamp_millis();
    let changes: Vec<Value> = (1..=300u64)
        .map(|seq| {
            json!({
                "id": Uuid::now_v7(), "device_seq": seq, "collection": "beneficiaries",
                "record_id": Uuid::now_v7(), "hlc": format!("{now:013}-{:04x}-{device}", seq),
                "fields": {"centre_id": {"value": "C1"}, "village_code": {"value": "50010203"},
                           "display_name": {"value": format!("คนที่ {seq}")}, "consent": {"value": true}}
            })
        })
        .collect();
    let body = serde_json::to_vec(&json!({"device_id": device, "device_time": chrono::Utc::now().to_rfc3339(), "changes": changes})).unwrap();

    // A first request on the connection makes sure a worker has accepted it;
    // then the push's headers and half its body, SIGTERM, and the rest.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    read_one_response(&mut stream);
    let head = format!(
        "POST /v1/sync/push HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();
    stream.flush().unwrap();
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    stream.write_all(&body[body.len() / 2..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"acked_seq\":300"));
    let mut server = server;
    assert!(server.child.wait().unwrap().success());

    let restarted = start(data.path(), &env);
    let tokens: Value = login(&restarted, "admin", "first admin password")
        .json()
        .unwrap();
    let page: Value = reqwest::blocking::Client::new()
        .get(restarted.url("/v1/sync/pull?limit=1000"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(page["changes"].as_array().unwrap().len(), 300);
}

/// Reads one HTTP/1.1 response with a Content-Length body off a kept-alive stream.
fn read_one_response(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        bytes.push(byte[0]);
    }
    let head = String::from_utf8(bytes).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    head + &String::from_utf8_lossy(&body)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}
