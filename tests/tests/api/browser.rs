//! The browser harness (`tests::browser`) proved against a real server and
//! against two small pages served here: a form that sets an HttpOnly,
//! SameSite=Strict cookie, and its answer, in Thai, with an image that has
//! no `alt` (which axe must report). One Chromium session, reused, at the
//! phone size and then the desktop size.

use std::sync::mpsc;
use std::thread;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Deserialize;
use tests::browser::{self, Browser, Impact, SameSite, WindowSize};
use tests::TestApp;

#[tokio::test]
async fn chromium_reads_the_server_fills_a_form_and_axe_reports_a_missing_alt() {
    if !browser::enabled() {
        return;
    }
    let app = TestApp::spawn().await;
    let pages = Pages::start();
    let browser = Browser::start(WindowSize::PHONE).await;

    // The real server, through Chromium.
    browser.goto(&app.url("/healthz")).await;
    let health = browser.text("body").await;
    assert!(
        health.contains("ok"),
        "{health:?}\n{}",
        browser.driver_log()
    );
    browser.goto(&app.url("/openapi.json")).await;
    assert!(browser.text("body").await.contains("\"openapi\""));
    let shot = browser.screenshot("harness-openapi-phone").await;
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        shot.display()
    );

    // A form, its cookie, and Thai typed into it.
    browser.goto(&pages.url("/form")).await;
    assert_eq!(browser.title().await, "ลงชื่อ");
    // A phone lays out a page with `<meta name="viewport">` at its width.
    assert_eq!(browser.viewport().await, (390, 844));
    let cookie = browser
        .cookie("asa_probe")
        .await
        .expect("the page's cookie");
    assert_eq!(cookie.value, "1");
    assert!(cookie.http_only, "{cookie:?}");
    assert_eq!(cookie.same_site, Some(SameSite::Strict), "{cookie:?}");
    assert_eq!(
        browser.execute("return document.cookie;", vec![]).await,
        "",
        "an HttpOnly cookie is out of the page's reach"
    );
    browser.assert_no_serious_violations().await;

    browser.fill("#name", "สมศรี รักงาน").await;
    assert_eq!(browser.value("#name").await, "สมศรี รักงาน");
    browser.submit("form").await;
    let greeting = browser.wait_for("#greeting").await;
    assert_eq!(greeting.text().await.unwrap(), "สวัสดี สมศรี รักงาน");
    browser.screenshot("harness-greeting-phone").await;

    // axe was injected and ran: the image without alt is reported.
    let violations = browser.axe().await;
    let image_alt = violations
        .iter()
        .find(|v| v.id == "image-alt")
        .unwrap_or_else(|| panic!("image-alt reported: {violations:#?}"));
    assert!(image_alt.impact >= Some(Impact::Serious), "{image_alt}");
    assert!(image_alt.is_serious());
    assert_eq!(image_alt.nodes.len(), 1, "{image_alt}");
    assert!(image_alt.nodes[0].html.starts_with("<img"), "{image_alt}");
    assert!(!image_alt.nodes[0].target.is_empty(), "{image_alt}");

    // The same session at the desktop size.
    browser.set_window_size(WindowSize::DESKTOP).await;
    assert_eq!(browser.viewport().await, (1280, 900));
    browser.screenshot("harness-greeting-desktop").await;
    browser.follow("a#again").await;
    browser.wait_for("form").await;
    assert!(browser.current_url().await.ends_with("/form"));
}

/// A test that panics with a browser open leaves no chromedriver or
/// Chromium process running and no temporary directory behind.
#[test]
fn a_panicking_test_leaves_no_browser_behind() {
    if !browser::enabled() {
        return;
    }
    let (opened, seen) = mpsc::channel();
    let test = thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let browser = Browser::start(WindowSize::DESKTOP).await;
            browser.goto("about:blank").await;
            let (group, dir) = (browser.process_group(), browser.temp_dir().to_owned());
            assert!(browser::still_running(group, &dir));
            opened.send((group, dir)).unwrap();
            panic!("a browser test fails");
        })
    });
    assert!(test.join().is_err(), "the test panicked");
    let (group, dir) = seen.recv().unwrap();
    assert!(
        !browser::still_running(group, &dir),
        "process group {group} still runs"
    );
    assert!(!dir.exists(), "{} is left", dir.display());
}

/// Two pages on 127.0.0.1:0, stopped with the test's runtime.
struct Pages {
    base: String,
}

impl Pages {
    fn start() -> Pages {
        let server = HttpServer::new(|| {
            App::new()
                .route("/form", web::get().to(form))
                .route("/greet", web::post().to(greet))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("a port for the test pages");
        let base = format!("http://{}", server.addrs()[0]);
        tokio::spawn(server.run());
        Pages { base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"th\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body><main>{body}</main></body></html>"
    )
}

async fn form() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "set-cookie",
            "asa_probe=1; Path=/; HttpOnly; SameSite=Strict",
        ))
        .body(page(
            "ลงชื่อ",
            "<h1>ลงชื่อ</h1><form method=\"post\" action=\"/greet\">\
             <label for=\"name\">ชื่อ</label> <input id=\"name\" name=\"name\" required>\
             <button>ส่ง</button></form>",
        ))
}

#[derive(Deserialize)]
struct Greet {
    name: String,
}

async fn greet(form: web::Form<Greet>) -> HttpResponse {
    let name = form
        .name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page(
            "สวัสดี",
            &format!(
                "<h1>สวัสดี</h1><p id=\"greeting\">สวัสดี {name}</p>\
                 <img src=\"data:image/gif;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==\" width=\"40\" height=\"40\">\
                 <p><a id=\"again\" href=\"/form\">อีกครั้ง</a></p>"
            ),
        ))
}
