//! A real headless Chromium for end-to-end tests of the pages the server
//! renders, driven over WebDriver (`chromedriver` and fantoccini).
//!
//! ```no_run
//! # async fn example(app: &tests::TestApp) {
//! use tests::browser::{self, Browser, WindowSize};
//! if !browser::enabled() {
//!     return; // printed `skipped: set ASA_BROWSER_TESTS=1 ...`
//! }
//! let browser = Browser::start(WindowSize::PHONE).await;
//! browser.goto(&app.url("/")).await;
//! browser.fill("#username", "somsri").await;
//! browser.submit("form.login").await;
//! browser.wait_for("main").await;
//! browser.screenshot("console-home-phone").await;
//! browser.assert_no_serious_violations().await;
//! # }
//! ```
//!
//! Each [`Browser`] is its own `chromedriver` child (in its own process
//! group, on a port the kernel picks) driving its own Chromium with a fresh
//! profile in a temporary directory. Dropping the `Browser`, also while a
//! test panics, kills the whole process group (chromedriver and every
//! Chromium process), waits until none of them runs, and removes the
//! directory. Start one per test and reuse it within the test: a start
//! costs about a second.
//!
//! What it needs on the machine, all installed by `scripts/test`: Debian's
//! `chromium` (at [`CHROMIUM`]) and `chromium-driver` (`chromedriver` on
//! `PATH`), `fonts-thai-tlwg` for Thai text in screenshots, and axe-core in
//! `tests/browser/node_modules` (`npm ci` there). Browser tests run only when
//! [`VARIABLE`] is `1` (see [`enabled`]), so `cargo test` passes on a
//! machine without Chromium.

use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::Deserialize;
use serde_json::{json, Value};
use tempfile::TempDir;

pub use fantoccini::elements::Element;

/// The environment variable that turns the browser tests on: `1` runs them.
pub const VARIABLE: &str = "ASA_BROWSER_TESTS";

/// Debian's Chromium (package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Debian's ChromeDriver (package `chromium-driver`), looked up on `PATH`.
pub const CHROMEDRIVER: &str = "chromedriver";

/// Chromium's command line, besides `--user-data-dir` and `--window-size`:
/// headless, no sandbox (tests run as root), and nothing that reaches out to
/// the network.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// How long [`Browser::wait_for`] waits for an element.
pub const WAIT: Duration = Duration::from_secs(10);

/// How long chromedriver may take to start, and Chromium to open a session.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a page load or a script (axe) may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(25);

/// How long a dropped browser waits for its processes to be gone.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// axe-core, installed by `npm ci` in `tests/browser` (pinned by its
/// `package-lock.json`).
pub const AXE_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/browser/node_modules/axe-core/axe.min.js"
);

/// Whether browser tests run: [`VARIABLE`] is `1`. When it is not, writes
/// one `skipped: ...` line naming the calling test to standard error (past
/// the test harness's capture, so it shows without `--nocapture`), and the
/// test should return and pass:
///
/// ```no_run
/// if !tests::browser::enabled() {
///     return;
/// }
/// ```
pub fn enabled() -> bool {
    if std::env::var(VARIABLE).as_deref() == Ok("1") {
        return true;
    }
    let thread = std::thread::current();
    let test = thread
        .name()
        .filter(|name| *name != "main")
        .unwrap_or("this browser test");
    let _ = writeln!(
        std::io::stderr(),
        "skipped: set {VARIABLE}=1 to run {test} in headless Chromium \
         (scripts/test sets it and installs chromium, chromedriver and axe-core)"
    );
    false
}

/// The viewport a page is shown in: its size in CSS pixels (at one device
/// pixel per CSS pixel, so screenshots are that size), and whether the
/// browser behaves as a phone's (it honours `<meta name="viewport">`, so a
/// page without one is laid out 980 px wide and shrunk, as on a real phone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSize {
    pub width: u32,
    pub height: u32,
    pub mobile: bool,
}

impl WindowSize {
    /// A phone in portrait, as a volunteer or manager holds it (390 x 844).
    pub const PHONE: WindowSize = WindowSize {
        width: 390,
        height: 844,
        mobile: true,
    };
    /// A centre's desktop or laptop screen (1280 x 900).
    pub const DESKTOP: WindowSize = WindowSize {
        width: 1280,
        height: 900,
        mobile: false,
    };
}

/// How bad an accessibility violation is, in axe's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    Minor,
    Moderate,
    Serious,
    Critical,
}

/// One failed axe rule and the elements that fail it.
#[derive(Debug, Clone, Deserialize)]
pub struct Violation {
    /// The rule, e.g. `image-alt`.
    pub id: String,
    /// The worst impact among its nodes (axe gives none for some rules).
    pub impact: Option<Impact>,
    /// What the rule asks for, in one sentence.
    pub help: String,
    #[serde(rename = "helpUrl")]
    pub help_url: String,
    pub nodes: Vec<ViolationNode>,
}

/// An element that fails a rule.
#[derive(Debug, Clone, Deserialize)]
pub struct ViolationNode {
    /// CSS selectors that find the element (one per frame or shadow root on
    /// the way to it, joined with ` >>> `).
    pub target: Vec<String>,
    /// The element's opening HTML.
    pub html: String,
}

impl Violation {
    /// Whether the violation is `serious` or `critical`.
    pub fn is_serious(&self) -> bool {
        self.impact >= Some(Impact::Serious)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let impact = match self.impact {
            Some(impact) => format!("{impact:?}").to_lowercase(),
            None => "unrated".into(),
        };
        write!(f, "{} ({impact}): {}", self.id, self.help)?;
        for node in &self.nodes {
            write!(f, "\n    {}  {}", node.target.join(", "), node.html)?;
        }
        Ok(())
    }
}

/// A cookie as the browser keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub domain: Option<String>,
    pub path: Option<String>,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<SameSite>,
    /// Unix seconds; `None` for a session cookie.
    pub expires: Option<i64>,
}

/// A cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl Cookie {
    fn from_webdriver(cookie: &fantoccini::cookies::Cookie<'_>) -> Cookie {
        let same_site = cookie.same_site().map(|s| match s.to_string().as_str() {
            "Strict" => SameSite::Strict,
            "Lax" => SameSite::Lax,
            _ => SameSite::None,
        });
        Cookie {
            name: cookie.name().to_owned(),
            value: cookie.value().to_owned(),
            domain: cookie.domain().map(str::to_owned),
            path: cookie.path().map(str::to_owned),
            secure: cookie.secure().unwrap_or(false),
            http_only: cookie.http_only().unwrap_or(false),
            same_site,
            expires: cookie.expires_datetime().map(|t| t.unix_timestamp()),
        }
    }
}

/// A headless Chromium with its own chromedriver and profile, for one test.
///
/// Every helper panics with the selector and the page's URL when the browser
/// cannot do what it was asked: a test wants the failure, not a `Result`.
/// [`Browser::client`] gives the fantoccini client for anything else.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a Chromium session with a window of `size`.
    pub async fn start(size: WindowSize) -> Browser {
        let driver = Driver::start().await;
        let profile = driver.dir.path().join("profile");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={},{}", size.width, size.height));
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        // chromedriver listens on 127.0.0.1 only: plain HTTP, no TLS.
        let connect = async {
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&driver.url())
                .await
        };
        let client = match tokio::time::timeout(START_TIMEOUT, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "Chromium ({CHROMIUM}) did not start a session: {e}\n{}",
                driver.log()
            ),
            Err(_) => panic!(
                "Chromium ({CHROMIUM}) did not start a session within {START_TIMEOUT:?}\n{}",
                driver.log()
            ),
        };
        let timeouts =
            TimeoutConfiguration::new(Some(PAGE_TIMEOUT), Some(PAGE_TIMEOUT), Some(Duration::ZERO));
        client
            .update_timeouts(timeouts)
            .await
            .expect("WebDriver timeouts set");
        let browser = Browser { client, driver };
        browser.set_window_size(size).await;
        browser
    }

    /// The fantoccini client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and returns once the page has loaded.
    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            panic!("browser could not open {url}: {e}");
        }
    }

    /// The address of the page shown.
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(String::from)
            .unwrap_or_else(|e| format!("<unknown page: {e}>"))
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> String {
        match self.client.title().await {
            Ok(title) => title,
            Err(e) => panic!("no title on {}: {e}", self.current_url().await),
        }
    }

    /// The first element matching `css`, now (no waiting: see
    /// [`Browser::wait_for`]).
    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no element `{css}` on {}: {e}", self.current_url().await),
        }
    }

    /// Every element matching `css`, now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        match self.client.find_all(Locator::Css(css)).await {
            Ok(elements) => elements,
            Err(e) => panic!(
                "cannot look for `{css}` on {}: {e}",
                self.current_url().await
            ),
        }
    }

    /// Waits up to [`WAIT`] for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_for_within(css, WAIT).await
    }

    /// Waits up to `limit` for an element matching `css`, looking again
    /// every 25 ms.
    pub async fn wait_for_within(&self, css: &str, limit: Duration) -> Element {
        let deadline = Instant::now() + limit;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(e) if !e.is_no_such_element() => {
                    panic!(
                        "cannot look for `{css}` on {}: {e}",
                        self.current_url().await
                    )
                }
                Err(_) if Instant::now() >= deadline => panic!(
                    "no element `{css}` on {} after {limit:?}",
                    self.current_url().await
                ),
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Clears the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        if let Err(e) = field.clear().await {
            panic!("cannot clear `{css}` on {}: {e}", self.current_url().await);
        }
        if let Err(e) = field.send_keys(text).await {
            panic!(
                "cannot type into `{css}` on {}: {e}",
                self.current_url().await
            );
        }
    }

    /// Clicks the element matching `css` and returns at once (a click that
    /// opens another page: [`Browser::follow`]).
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        if let Err(e) = element.click().await {
            panic!("cannot click `{css}` on {}: {e}", self.current_url().await);
        }
    }

    /// Clicks the link (or button) matching `css` and returns once the page
    /// it opens has loaded.
    pub async fn follow(&self, css: &str) {
        let old = self.find("html").await;
        self.click(css).await;
        self.wait_for_new_page(&old, css).await;
    }

    /// Waits up to [`WAIT`] for `old`, the root of the page shown before an
    /// action, to be replaced by a new page, and for that page to load.
    /// Chromedriver sometimes answers a click before the navigation it
    /// starts has begun, so the old page would still be there to read.
    async fn wait_for_new_page(&self, old: &Element, action: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            // The old root cannot be read once its document is gone: a
            // stale element, or (Chromium, mid-navigation) a node that "does
            // not belong to the document". A dead session fails below too,
            // and ends in the timeout's message.
            let gone = old.tag_name().await.is_err();
            if gone {
                let state = self
                    .client
                    .execute("return document.readyState;", vec![])
                    .await;
                if matches!(state, Ok(Value::String(s)) if s == "complete") {
                    return;
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "`{action}` opened no new page within {WAIT:?}: still on {}",
                    self.current_url().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Submits the form matching `form_css` as a person would: by clicking
    /// its first submit button, or, when it has none, as Enter in a field
    /// does (`requestSubmit()`, which also checks the fields' constraints).
    /// Returns once the answer has loaded (a form that opens no new page
    /// fails the test).
    pub async fn submit(&self, form_css: &str) {
        let old = self.find("html").await;
        let form = self.find(form_css).await;
        let buttons = form
            .find_all(Locator::Css(
                "button:not([type]), button[type=submit], input[type=submit], input[type=image]",
            ))
            .await
            .unwrap_or_default();
        let submitted = match buttons.first() {
            Some(button) => button.click().await.map(drop),
            None => {
                let form = serde_json::to_value(&form).expect("element reference");
                self.client
                    .execute("arguments[0].requestSubmit();", vec![form])
                    .await
                    .map(drop)
            }
        };
        if let Err(e) = submitted {
            panic!(
                "cannot submit `{form_css}` on {}: {e}",
                self.current_url().await
            );
        }
        self.wait_for_new_page(&old, form_css).await;
    }

    /// The visible text of the element matching `css` (`body` for the page).
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        match element.text().await {
            Ok(text) => text,
            Err(e) => panic!("no text for `{css}` on {}: {e}", self.current_url().await),
        }
    }

    /// The attribute `name` of the element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css).await;
        match element.attr(name).await {
            Ok(value) => value,
            Err(e) => panic!(
                "no attribute {name} for `{css}` on {}: {e}",
                self.current_url().await
            ),
        }
    }

    /// The current value of the form field matching `css`.
    pub async fn value(&self, css: &str) -> String {
        let element = self.find(css).await;
        match element.prop("value").await {
            Ok(value) => value.unwrap_or_default(),
            Err(e) => panic!("no value for `{css}` on {}: {e}", self.current_url().await),
        }
    }

    /// Runs `script` as the body of a function called with `args`, and
    /// returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        match self.client.execute(script, args).await {
            Ok(value) => value,
            Err(e) => panic!("script failed on {}: {e}", self.current_url().await),
        }
    }

    /// Saves a PNG of the viewport as `target/browser-screenshots/<name>.png`
    /// and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        assert!(
            !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..",
            "screenshot name {name:?} must be a plain file name"
        );
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(e) => panic!("no screenshot of {}: {e}", self.current_url().await),
        };
        let dir = screenshot_dir();
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// Runs axe-core on the page and returns its violations (every rule axe
    /// runs by default: WCAG 2.x A and AA, and best practices).
    pub async fn axe(&self) -> Vec<Violation> {
        let loaded = self.execute("return typeof window.axe;", vec![]).await;
        if loaded != "object" {
            if let Err(e) = self.client.execute(axe_source(), vec![]).await {
                panic!(
                    "axe-core did not load into {}: {e}",
                    self.current_url().await
                );
            }
        }
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
                .then(results => done({ violations: results.violations.map(v => ({
                    id: v.id,
                    impact: v.impact,
                    help: v.help,
                    helpUrl: v.helpUrl,
                    nodes: v.nodes.map(n => ({
                        target: n.target.map(t => Array.isArray(t) ? t.join(" >>> ") : String(t)),
                        html: n.html,
                    })),
                })) }))
                .catch(e => done({ error: String((e && e.stack) || e) }));
        "#;
        let answer = match self.client.execute_async(script, vec![]).await {
            Ok(answer) => answer,
            Err(e) => panic!("axe did not run on {}: {e}", self.current_url().await),
        };
        if let Some(error) = answer.get("error") {
            panic!("axe failed on {}: {error}", self.current_url().await);
        }
        serde_json::from_value(answer["violations"].clone())
            .unwrap_or_else(|e| panic!("axe's results do not read as violations ({e}): {answer}"))
    }

    /// Runs axe and fails the test on any `serious` or `critical` violation,
    /// listing each with the elements at fault.
    pub async fn assert_no_serious_violations(&self) {
        let serious: Vec<String> = self
            .axe()
            .await
            .iter()
            .filter(|v| v.is_serious())
            .map(|v| v.to_string())
            .collect();
        assert!(
            serious.is_empty(),
            "serious accessibility violations on {}:\n  {}",
            self.current_url().await,
            serious.join("\n  ")
        );
    }

    /// Every cookie the browser holds for the page shown, with the
    /// attributes a page cannot read (HttpOnly, SameSite).
    pub async fn cookies(&self) -> Vec<Cookie> {
        match self.client.get_all_cookies().await {
            Ok(cookies) => cookies.iter().map(Cookie::from_webdriver).collect(),
            Err(e) => panic!("no cookies for {}: {e}", self.current_url().await),
        }
    }

    /// The cookie called `name` for the page shown, if the browser has one.
    pub async fn cookie(&self, name: &str) -> Option<Cookie> {
        self.cookies().await.into_iter().find(|c| c.name == name)
    }

    /// Shows pages at `size` from now on (also after navigating). Headless
    /// Chromium keeps a window at least 500 px wide and takes its own tool
    /// bar off the height, so the viewport is set with Chromium's device
    /// emulation, not with the window's size.
    pub async fn set_window_size(&self, size: WindowSize) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": size.width,
                "height": size.height,
                "deviceScaleFactor": 1,
                "mobile": size.mobile,
            }),
        )
        .await;
    }

    /// The viewport as the page sees it: `(innerWidth, innerHeight)`.
    pub async fn viewport(&self) -> (u32, u32) {
        let size = self
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await;
        let side = |i: usize| size[i].as_u64().and_then(|n| u32::try_from(n).ok());
        match (side(0), side(1)) {
            (Some(width), Some(height)) => (width, height),
            _ => panic!("the viewport reads as {size}"),
        }
    }

    /// Sends a Chrome DevTools Protocol command to the page's target (through
    /// chromedriver) and returns its result: for what WebDriver cannot do,
    /// such as `Emulation.setTimezoneOverride` or
    /// `Network.emulateNetworkConditions`.
    pub async fn cdp(&self, command: &str, params: Value) -> Value {
        let session = match self.client.session_id().await {
            Ok(Some(session)) => session,
            other => panic!("no WebDriver session for {command}: {other:?}"),
        };
        let url = format!("{}/session/{session}/goog/cdp/execute", self.driver.url());
        let answer = self
            .driver
            .http
            .post(&url)
            .json(&json!({"cmd": command, "params": params}))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{command} did not reach chromedriver: {e}\n{}",
                    self.driver.log()
                )
            });
        let status = answer.status();
        let body: Value = answer
            .json()
            .await
            .unwrap_or_else(|e| panic!("{command}: chromedriver's answer is not JSON: {e}"));
        assert!(status.is_success(), "{command} failed ({status}): {body}");
        body["value"].clone()
    }

    /// chromedriver's and Chromium's log so far, for a failure message.
    pub fn driver_log(&self) -> String {
        self.driver.log()
    }

    /// The process group of chromedriver and Chromium (chromedriver's pid).
    pub fn process_group(&self) -> u32 {
        self.driver.child.id()
    }

    /// The temporary directory of the profile and the log, removed on drop.
    pub fn temp_dir(&self) -> &Path {
        self.driver.dir.path()
    }

    /// Ends the WebDriver session (Chromium exits), then stops chromedriver.
    /// Dropping the `Browser` is enough; this is the polite way.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// Where screenshots go: `target/browser-screenshots/` of the workspace
/// (or of `CARGO_TARGET_DIR` when the tests were built with it).
pub fn screenshot_dir() -> PathBuf {
    let target = match option_env!("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let package = Path::new(env!("CARGO_MANIFEST_DIR"));
            package.parent().unwrap_or(package).join("target")
        }
    };
    target.join("browser-screenshots")
}

/// axe-core's source, read once.
fn axe_source() -> &'static str {
    static AXE: OnceLock<String> = OnceLock::new();
    AXE.get_or_init(|| {
        fs::read_to_string(AXE_PATH).unwrap_or_else(|e| {
            panic!(
                "cannot read {AXE_PATH} ({e}): run `npm ci` in tests/browser (scripts/test does)"
            )
        })
    })
}

/// A chromedriver child in its own process group, with the temporary
/// directory that holds its log and Chromium's profile (and, through
/// `XDG_CONFIG_HOME` and `XDG_CACHE_HOME`, what Chromium would keep in the
/// home directory).
#[derive(Debug)]
struct Driver {
    child: Child,
    port: u16,
    http: reqwest::Client,
    dir: TempDir,
}

impl Driver {
    /// Starts chromedriver on a port the kernel picks (`--port=0`, read back
    /// from its log) and waits until `/status` says it is ready.
    async fn start() -> Driver {
        let dir = tempfile::Builder::new()
            .prefix("asa-browser-")
            .tempdir()
            .expect("temporary directory for the browser");
        let log_path = dir.path().join("chromedriver.log");
        let log = File::create(&log_path).expect("chromedriver log file");
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg("--port=0")
            // Chromium keeps crash reports and caches under these, not
            // under the user's home.
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("chromedriver log file"))
            .stderr(log)
            // Chromium's processes stay in this group, so one signal ends them all.
            .process_group(0);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot run {CHROMEDRIVER} ({e}): install Debian's chromium and chromium-driver \
                 (scripts/test does)"
            )
        });
        let mut driver = Driver {
            child,
            port: 0,
            http: reqwest::Client::builder()
                .timeout(PAGE_TIMEOUT)
                .build()
                .expect("http client"),
            dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        driver.port = driver.wait_for_port(deadline).await;
        driver.wait_until_ready(deadline).await;
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        let path = self.dir.path().join("chromedriver.log");
        let log = fs::read_to_string(&path).unwrap_or_default();
        format!("--- {CHROMEDRIVER} log ---\n{}", log.trim_end())
    }

    /// Fails the test if chromedriver has exited.
    fn check_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{CHROMEDRIVER} exited ({status}) while starting\n{}",
                self.log()
            );
        }
    }

    async fn wait_for_port(&mut self, deadline: Instant) -> u16 {
        const STARTED: &str = "started successfully on port ";
        loop {
            let log =
                fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
            if let Some(at) = log.find(STARTED) {
                let digits: String = log[at + STARTED.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(port) = digits.parse::<u16>() {
                    return port;
                }
            }
            self.check_running();
            if Instant::now() >= deadline {
                panic!(
                    "{CHROMEDRIVER} did not say its port within {START_TIMEOUT:?}\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn wait_until_ready(&mut self, deadline: Instant) {
        let status = format!("{}/status", self.url());
        loop {
            let ask = self
                .http
                .get(&status)
                .timeout(Duration::from_secs(2))
                .send();
            if let Ok(answer) = ask.await {
                if let Ok(body) = answer.json::<Value>().await {
                    if body["value"]["ready"] == true {
                        return;
                    }
                }
            }
            self.check_running();
            if Instant::now() >= deadline {
                panic!(
                    "{CHROMEDRIVER} on port {} was not ready within {START_TIMEOUT:?}\n{}",
                    self.port,
                    self.log()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Driver {
    /// SIGKILLs chromedriver's process group (chromedriver and every Chromium
    /// process but the crash handlers, which start sessions of their own and
    /// end once Chromium is gone), reaps chromedriver, and waits (up to a
    /// deadline) until none of them runs any more; then `dir` is removed.
    /// Their zombies are left to init, which may take a second or two to
    /// reap them: nothing waits for that.
    fn drop(&mut self) {
        let group = self.child.id();
        if let Ok(pid) = i32::try_from(group) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.wait();
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while still_running(group, self.dir.path()) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
    }
}

/// Whether a process runs (is neither gone nor a zombie) that is in the
/// process group `group` or names `dir` on its command line: what is left
/// of a [`Browser`] given its [`Browser::process_group`] and
/// [`Browser::temp_dir`]. Read from `/proc`.
pub fn still_running(group: u32, dir: &Path) -> bool {
    let Ok(processes) = fs::read_dir("/proc") else {
        return false;
    };
    let group = group.to_string();
    let dir = dir.to_string_lossy();
    processes.flatten().any(|process| {
        let Ok(stat) = fs::read_to_string(process.path().join("stat")) else {
            return false;
        };
        // `pid (command) state ppid pgrp ...`; the command may hold spaces
        // and parentheses, so fields are counted after the last `)`.
        let Some((_, fields)) = stat.rsplit_once(')') else {
            return false;
        };
        let mut fields = fields.split_whitespace();
        if matches!(fields.next(), None | Some("Z" | "X")) {
            return false;
        }
        fields.nth(1) == Some(group.as_str())
            || fs::read(process.path().join("cmdline"))
                .is_ok_and(|line| String::from_utf8_lossy(&line).contains(dir.as_ref()))
    })
}
