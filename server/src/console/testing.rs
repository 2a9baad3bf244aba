//! Test helpers: realistic contexts and checks that read the rendered HTML
//! (maud escapes `&`, `<`, `>` and `"` in attribute values, so a plain scan
//! of tags is exact for its output).

use std::collections::{HashMap, HashSet};

use super::layout::{PageContext, SignedIn};
use super::{Lang, Role};

pub const CSRF: &str = "csrf-token-7f3a9c";

pub fn context() -> PageContext {
    PageContext {
        lang: Lang::Th,
        csrf: CSRF.to_owned(),
        path: "/sessions?page=2".to_owned(),
        user: Some(SignedIn {
            display_name: "สมศรี รักงาน".to_owned(),
            role: Role::Manager,
            centre_name: Some("ศูนย์ดิจิทัลชุมชนบ้านแม่ริม".to_owned()),
        }),
        conflicts: 0,
        flash: None,
    }
}

pub fn english() -> PageContext {
    PageContext {
        lang: Lang::En,
        ..context()
    }
}

/// One start tag.
#[derive(Debug)]
pub struct Tag {
    pub name: String,
    pub attrs: HashMap<String, String>,
    /// Byte offset of the `<`.
    pub at: usize,
}

impl Tag {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// Every start tag of a document, in order.
pub fn tags(html: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let start = i + off;
        let end = start + html[start..].find('>').expect("unclosed tag");
        let inner = &html[start + 1..end];
        i = end + 1;
        if inner.starts_with('/') || inner.starts_with('!') {
            continue;
        }
        let name_end = inner
            .find(|c: char| c.is_whitespace())
            .unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        let mut attrs = HashMap::new();
        let rest = &inner[name_end..];
        let mut j = 0;
        let rb = rest.as_bytes();
        while j < rb.len() {
            while j < rb.len() && rb[j].is_ascii_whitespace() {
                j += 1;
            }
            let ks = j;
            while j < rb.len() && !rb[j].is_ascii_whitespace() && rb[j] != b'=' {
                j += 1;
            }
            if ks == j {
                j += 1;
                continue;
            }
            let key = rest[ks..j].to_owned();
            let mut value = String::new();
            if j < rb.len() && rb[j] == b'=' {
                assert_eq!(rb[j + 1], b'"', "unquoted attribute in {inner}");
                let vs = j + 2;
                let ve = vs + rest[vs..].find('"').expect("unclosed attribute");
                value = rest[vs..ve].to_owned();
                j = ve + 1;
            }
            assert!(
                attrs.insert(key.clone(), value).is_none(),
                "duplicate {key} in {inner}"
            );
        }
        out.push(Tag {
            name,
            attrs,
            at: start,
        });
    }
    out
}

/// Checks every form: a method; every POST form holds the CSRF field with
/// this token. Returns how many POST forms there are.
pub fn check_forms(html: &str, csrf: &str) -> usize {
    let field = format!(r#"<input type="hidden" name="csrf" value="{csrf}">"#);
    let mut posts = 0;
    for tag in tags(html).iter().filter(|t| t.name == "form") {
        let method = tag.attr("method").expect("a form without method");
        let end = tag.at + html[tag.at..].find("</form>").expect("unclosed form");
        let body = &html[tag.at..end];
        assert!(!body[5..].contains("<form"), "nested form");
        match method {
            "post" => {
                posts += 1;
                assert!(body.contains(&field), "POST form without csrf: {body}");
                assert!(tag.attr("action").is_some_and(|a| a.starts_with('/')));
            }
            "get" => assert!(!body.contains("name=\"csrf\""), "csrf in a GET form"),
            other => panic!("method {other}"),
        }
    }
    posts
}

/// Checks that every control has a label (a `<label for>` or an
/// `aria-label`), that ids are unique, that every `aria-describedby` and
/// `aria-labelledby` names an element, that `<label for>` names a control,
/// and that nothing needs inline script or style.
pub fn check_accessible(html: &str) {
    let tags = tags(html);
    let mut ids = HashSet::new();
    for t in &tags {
        if let Some(id) = t.attr("id") {
            assert!(ids.insert(id.to_owned()), "duplicate id {id}");
        }
        assert!(t.attr("style").is_none(), "inline style on {}", t.name);
        if let Some(class) = t.attr("class") {
            assert!(
                !class.is_empty() && class.trim() == class,
                "class {class:?}"
            );
        }
        assert!(t.name != "script", "script");
        assert!(!t.attrs.keys().any(|k| k.starts_with("on")), "handler attr");
        for attr in ["href", "src", "action"] {
            if let Some(url) = t.attr(attr) {
                let local = url.starts_with('/') && !url.starts_with("//")
                    || url.starts_with('#')
                    || url.starts_with("data:");
                assert!(local, "{attr}={url}: nothing may come from elsewhere");
            }
        }
    }
    let label_for: HashSet<&str> = tags
        .iter()
        .filter(|t| t.name == "label")
        .filter_map(|t| t.attr("for"))
        .collect();
    for f in &label_for {
        assert!(ids.contains(*f), "label for missing id {f}");
    }
    for t in &tags {
        let control = match t.name.as_str() {
            "input" => !matches!(t.attr("type"), Some("hidden" | "submit" | "button")),
            "select" | "textarea" => true,
            _ => false,
        };
        if control {
            let labelled = t.attr("aria-label").is_some()
                || t.attr("id").is_some_and(|id| label_for.contains(id));
            assert!(labelled, "unlabelled {} {:?}", t.name, t.attrs);
            if t.name == "input" && t.attr("type") == Some("password") {
                assert!(t.attr("value").is_none(), "a password re-rendered");
            }
        }
        for aria in ["aria-describedby", "aria-labelledby"] {
            if let Some(refs) = t.attr(aria) {
                for r in refs.split_whitespace() {
                    assert!(ids.contains(r), "{aria} names missing id {r}");
                }
            }
        }
        if t.name == "a" {
            assert!(t.attr("href").is_some(), "a link without href");
        }
    }
    assert_eq!(html.matches("<main").count(), 1, "one main");
    assert_eq!(html.matches("<h1").count(), 1, "one h1");
}

/// With `ASA_CONSOLE_SAMPLES=<dir>` set, writes a rendered page to
/// `<dir>/<name>.html` (and the stylesheet beside it, at the path the pages
/// link), for looking at in a browser or running axe-core on.
pub fn sample(name: &str, html: &str) {
    let Some(dir) = std::env::var_os("ASA_CONSOLE_SAMPLES") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let css = dir.join("console");
    std::fs::create_dir_all(&css).expect("sample directory");
    std::fs::write(css.join("console.css"), super::CSS).expect("write css");
    // Relative links, so the files open from disk.
    let html = html.replace("href=\"/console/", "href=\"console/");
    std::fs::write(dir.join(format!("{name}.html")), html).expect("write sample");
}
