//! The web console over plain HTTP, as a browser without JavaScript uses
//! it: a cookie jar, forms posted as `application/x-www-form-urlencoded`,
//! redirects not followed (tests look at each 303). The browser suite
//! (`tests::browser`) drives the same pages in Chromium.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};

use crate::TestApp;

/// A console visitor: their cookies, and the server's address.
#[derive(Debug)]
pub struct ConsoleClient {
    base: String,
    client: reqwest::Client,
    jar: Mutex<BTreeMap<String, String>>,
}

/// A console response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// Where a redirect points.
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie` header as sent.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The `Set-Cookie` header of one cookie.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        self.input_value("csrf")
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }

    /// The `value` of the first `<input>` named `name`.
    pub fn input_value(&self, name: &str) -> Option<String> {
        self.input_values(name).into_iter().next()
    }

    /// The `value` of every `<input>` named `name`, in order.
    pub fn input_values(&self, name: &str) -> Vec<String> {
        let marker = format!("name=\"{name}\" value=\"");
        self.body
            .match_indices(&marker)
            .filter_map(|(at, _)| {
                let rest = &self.body[at + marker.len()..];
                rest.find('"').map(|end| unescape(&rest[..end]))
            })
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Undoes the escaping of an attribute value.
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl ConsoleClient {
    pub fn new(app: &TestApp) -> ConsoleClient {
        ConsoleClient {
            base: app.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            jar: Mutex::new(BTreeMap::new()),
        }
    }

    /// Signs in through the sign-in form; panics unless it works.
    pub async fn signed_in(app: &TestApp, username: &str, password: &str) -> ConsoleClient {
        let console = ConsoleClient::new(app);
        let answer = console.sign_in(username, password).await;
        assert_eq!(answer.status, 303, "sign-in of {username}: {}", answer.body);
        console
    }

    /// Opens the sign-in page and posts its form.
    pub async fn sign_in(&self, username: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        assert_eq!(form.status, 200, "the sign-in page");
        let csrf = form.csrf();
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// A cookie this visitor holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().expect("jar").get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .expect("jar")
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn forget_cookies(&self) {
        self.jar.lock().expect("jar").clear();
    }

    fn cookie_header(&self) -> String {
        self.jar
            .lock()
            .expect("jar")
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        let page = Page {
            status,
            headers,
            body,
        };
        let mut jar = self.jar.lock().expect("jar");
        for c in page.set_cookies() {
            let (pair, attributes) = c.split_once(';').unwrap_or((c.as_str(), ""));
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = attributes.to_ascii_lowercase().contains("max-age=0");
            if expired || value.is_empty() {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        page
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("console GET");
        self.read(response).await
    }

    /// The raw bytes of a download.
    pub async fn download(&self, path: &str) -> (u16, HeaderMap, Vec<u8>) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("console download");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("bytes").to_vec();
        (status, headers, bytes)
    }

    /// Posts a form: `fields` in order (a name may repeat).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[]).await
    }

    /// Posts a form with extra headers (`Origin`, say).
    pub async fn post_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut body = String::new();
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                body.push('&');
            }
            body.push_str(&encode(k));
            body.push('=');
            body.push_str(&encode(v));
        }
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("console POST");
        self.read(response).await
    }
}

/// Form encoding of one name or value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
