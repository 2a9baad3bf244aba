//! The sign-in page: no navigation, just the form and the language switch.

use maud::{html, Markup};

use super::i18n::{Lang, Text};
use super::layout::{self, Flash};
use super::urls;

/// The sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPage {
    pub lang: Lang,
    /// The CSRF token of the sign-in form (a pre-session token).
    pub csrf: String,
    /// What the user typed, shown again after an error (never the password).
    pub username: String,
    /// The error code of the last attempt (`invalid_credentials`,
    /// `too_many_requests`, `account_disabled`, `csrf`, `expired`, ...).
    pub error: Option<String>,
    /// A console path to go to once signed in; sent back as `next`.
    pub next: Option<String>,
    /// This page's path and query, for the language switch.
    pub path: String,
    /// A notice to show, such as [`super::Notice::SignedOut`].
    pub flash: Option<Flash>,
}

/// The sign-in page. Posts `csrf`, `username`, `password` and, when given,
/// `next` to [`urls::LOGIN`].
pub fn login(page: &LoginPage) -> Markup {
    let lang = page.lang;
    let title = lang.t(Text::LoginTitle);
    let error_id = layout::error_id("login");
    let invalid = page.error.is_some().then_some("true");
    let described = page.error.as_ref().map(|_| error_id.clone());
    let body = html! {
        header.top {
            div.bar {
                span.brand { (lang.t(Text::ProductName)) }
                span.tagline { (lang.t(Text::Tagline)) }
                div.account { (layout::lang_switch(lang, &page.path)) }
            }
        }
        main #main tabindex="-1" {
            div.card.login {
                @if let Some(f) = &page.flash { (layout::flash(lang, f)) }
                h1 { (title) }
                p.intro { (lang.t(Text::LoginIntro)) }
                @if let Some(code) = &page.error {
                    div.flash.err role="alert" id=(error_id) { (layout::error_text(lang, code)) }
                }
                (layout::post_form(urls::LOGIN, &page.csrf, "stack", html! {
                    @if let Some(next) = &page.next {
                        input type="hidden" name="next" value=(next);
                    }
                    div.field {
                        label for="login-username" { (lang.t(Text::Username)) }
                        input #login-username type="text" name="username" value=(page.username)
                            autocomplete="username" autocapitalize="none" spellcheck="false"
                            required maxlength="64" aria-invalid=[invalid]
                            aria-describedby=[described.as_deref()];
                    }
                    div.field {
                        label for="login-password" { (lang.t(Text::Password)) }
                        input #login-password type="password" name="password"
                            autocomplete="current-password" required aria-invalid=[invalid];
                    }
                    button.primary type="submit" { (lang.t(Text::SignIn)) }
                }))
            }
        }
    };
    layout::document(lang, title, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;
    use crate::console::Notice;

    fn page() -> LoginPage {
        LoginPage {
            lang: Lang::Th,
            csrf: CSRF.into(),
            username: String::new(),
            error: None,
            next: None,
            path: "/login".into(),
            flash: None,
        }
    }

    #[test]
    fn the_form_has_labelled_fields_and_csrf() {
        let html = login(&page()).into_string();
        assert!(html.contains("<html lang=\"th\">"));
        assert!(html.contains("<title>เข้าสู่ระบบ · Asa Sync</title>"));
        assert!(html.contains(r#"<label for="login-username">ชื่อผู้ใช้</label>"#));
        assert!(html.contains(r#"<label for="login-password">รหัสผ่าน</label>"#));
        assert!(html.contains(r#"type="password" name="password""#));
        assert!(html.contains(r#"<form method="post" action="/login""#));
        assert!(html.contains("href=\"/lang?to=en&amp;back=%2Flogin\""));
        assert!(!html.contains("<nav"));
        assert!(!html.contains("/logout"));
        assert_eq!(check_forms(&html, CSRF), 1);
        check_accessible(&html);
    }

    #[test]
    fn an_error_keeps_the_username_but_never_the_password() {
        let mut p = page();
        p.username = "somsri".into();
        p.error = Some("invalid_credentials".into());
        p.next = Some("/conflicts".into());
        let html = login(&p).into_string();
        sample("login-th-error", &html);
        assert!(html.contains(r#"role="alert""#));
        assert!(html.contains("ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง"));
        assert!(html.contains(r#"value="somsri""#));
        assert!(html.contains(r#"aria-describedby="login-error""#));
        assert!(html.contains(r#"<input type="hidden" name="next" value="/conflicts">"#));
        check_accessible(&html);
    }

    #[test]
    fn english_and_a_notice() {
        let mut p = page();
        p.lang = Lang::En;
        p.flash = Some(Flash::Success(Notice::SignedOut));
        p.error = Some("too_many_requests".into());
        let html = login(&p).into_string();
        sample("login-en", &html);
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("You are signed out."));
        assert!(html.contains("Too many attempts"));
        assert!(html.contains(">ภาษาไทย</a>"));
    }
}
