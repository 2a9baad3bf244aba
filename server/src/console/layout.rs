//! The page shell (head, header with the user and the navigation, language
//! switch, logout, flash message, main area) and the small pieces every page
//! shares: the CSRF field, POST forms, field errors, scrollable tables.

use maud::{html, Markup, DOCTYPE};

use super::i18n::{self, Lang, Text};
use super::{css_version, urls, Role, Value};

/// What every signed-in page needs besides its own view model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageContext {
    pub lang: Lang,
    /// The CSRF token every POST form carries as its hidden `csrf` field.
    pub csrf: String,
    /// This page's path and query (`/sessions?page=2`): where the language
    /// switch brings the user back to.
    pub path: String,
    /// The signed-in user; `None` on an error page for someone signed out
    /// (no navigation, no logout then).
    pub user: Option<SignedIn>,
    /// How many records of the user's scope have a key in conflict: the
    /// badge on the navigation (none shown at 0).
    pub conflicts: u64,
    /// The message after a form's redirect, if any.
    pub flash: Option<Flash>,
}

/// The signed-in user, as the header shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub display_name: String,
    pub role: Role,
    /// The centre's name; `None` for an admin (all centres).
    pub centre_name: Option<String>,
}

/// An entry of the navigation; a page marks its own with `aria-current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavItem {
    Sessions,
    Conflicts,
    Devices,
    Volunteers,
    Programme,
    Duplicates,
}

impl NavItem {
    pub const ALL: [NavItem; 6] = [
        NavItem::Sessions,
        NavItem::Conflicts,
        NavItem::Duplicates,
        NavItem::Devices,
        NavItem::Volunteers,
        NavItem::Programme,
    ];

    pub fn href(self) -> &'static str {
        match self {
            NavItem::Sessions => urls::SESSIONS,
            NavItem::Conflicts => urls::CONFLICTS,
            NavItem::Devices => urls::DEVICES,
            NavItem::Volunteers => urls::VOLUNTEERS,
            NavItem::Programme => urls::PROGRAMME,
            NavItem::Duplicates => urls::DUPLICATES,
        }
    }

    fn text(self) -> Text {
        match self {
            NavItem::Sessions => Text::NavSessions,
            NavItem::Conflicts => Text::NavConflicts,
            NavItem::Devices => Text::NavDevices,
            NavItem::Volunteers => Text::NavVolunteers,
            NavItem::Programme => Text::NavProgramme,
            NavItem::Duplicates => Text::NavDuplicates,
        }
    }
}

/// A message shown once at the top of the main area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flash {
    Success(Notice),
    /// An error code (see [`i18n::error_message`]).
    Error(String),
}

/// What went well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Saved,
    Resolved,
    Unbound,
    Created,
    Disabled,
    Enabled,
    PasswordReset,
    Renamed,
    SignedOut,
    Dismissed,
    Merged,
}

impl Notice {
    fn text(self) -> Text {
        match self {
            Notice::Saved => Text::NoticeSaved,
            Notice::Resolved => Text::NoticeResolved,
            Notice::Unbound => Text::NoticeUnbound,
            Notice::Created => Text::NoticeCreated,
            Notice::Disabled => Text::NoticeDisabled,
            Notice::Enabled => Text::NoticeEnabled,
            Notice::PasswordReset => Text::NoticePasswordReset,
            Notice::Renamed => Text::NoticeRenamed,
            Notice::SignedOut => Text::NoticeSignedOut,
            Notice::Dismissed => Text::NoticeDismissed,
            Notice::Merged => Text::NoticeMerged,
        }
    }
}

/// The whole document: head and a body.
pub(crate) fn document(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (i18n::page_title(lang, title)) }
                link rel="stylesheet" href={ (urls::CSS) "?v=" (css_version()) };
                link rel="icon" href="data:,";
            }
            body {
                a.skip href="#main" { (lang.t(Text::SkipToContent)) }
                (body)
            }
        }
    }
}

/// A signed-in page: header, navigation, the flash message, `<h1>title</h1>`
/// and the page's content in `<main>`.
pub fn page(ctx: &PageContext, active: Option<NavItem>, title: &str, content: Markup) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        header.top {
            div.bar {
                a.brand href=(urls::HOME) { (lang.t(Text::ProductName)) }
                span.tagline { (lang.t(Text::Tagline)) }
                div.account {
                    @if let Some(user) = &ctx.user {
                        p.who {
                            span.sr-only { (lang.t(Text::SignedInAs)) " " }
                            strong { (user.display_name) }
                            " · "
                            span {
                                (user.centre_name.as_deref().unwrap_or(lang.t(Text::AllCentres)))
                            }
                            " (" (user.role.label(lang)) ")"
                        }
                    }
                    (lang_switch(lang, &ctx.path))
                    @if ctx.user.is_some() {
                        (post_form(urls::LOGOUT, &ctx.csrf, "logout", html! {
                            button.link type="submit" { (lang.t(Text::SignOut)) }
                        }))
                    }
                }
            }
            @if ctx.user.is_some() {
                nav.main-nav aria-label=(lang.t(Text::MainMenu)) {
                    ul {
                        @for item in NavItem::ALL {
                            li {
                                a href=(item.href())
                                    aria-current=[(active == Some(item)).then_some("page")] {
                                    (lang.t(item.text()))
                                    @if item == NavItem::Conflicts && ctx.conflicts > 0 {
                                        " "
                                        span.badge {
                                            span aria-hidden="true" { (i18n::number(ctx.conflicts)) }
                                            span.sr-only { "(" (i18n::waiting_count(lang, ctx.conflicts)) ")" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        main #main tabindex="-1" {
            @if let Some(f) = &ctx.flash { (flash(lang, f)) }
            h1 { (title) }
            (content)
        }
    };
    document(lang, title, body)
}

/// The language switch: a link to `/lang?to=<other>&back=<path>`.
pub(crate) fn lang_switch(lang: Lang, path: &str) -> Markup {
    let other = lang.other();
    html! {
        a.lang-switch href=(urls::lang_switch(other, path)) lang=(other.code())
            hreflang=(other.code()) aria-label={ (lang.t(Text::LanguageMenu)) ": " (other.t(Text::LanguageName)) } {
            (other.t(Text::LanguageName))
        }
    }
}

/// A flash message: a status for success, an alert for an error.
pub(crate) fn flash(lang: Lang, flash: &Flash) -> Markup {
    match flash {
        Flash::Success(notice) => html! {
            div.flash.ok role="status" { p { (lang.t(notice.text())) } }
        },
        Flash::Error(code) => html! {
            div.flash.err role="alert" { (error_text(lang, code)) }
        },
    }
}

/// An error's message; for a code without a message of its own, the code too.
pub(crate) fn error_text(lang: Lang, code: &str) -> Markup {
    html! {
        p {
            (i18n::error_message(lang, code))
            @if !i18n::is_known_error(code) && !code.is_empty() {
                " " span.code { "(" (lang.t(Text::ErrorCode)) ": " (code) ")" }
            }
        }
    }
}

/// A `class` value from toggled names; `None` when none is on.
pub(crate) fn classes(list: &[(&str, bool)]) -> Option<String> {
    let on: Vec<&str> = list.iter().filter(|(_, on)| *on).map(|(c, _)| *c).collect();
    (!on.is_empty()).then(|| on.join(" "))
}

/// The hidden CSRF field of a POST form.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A POST form with its CSRF field first. Every POST form of the console is
/// made here.
pub fn post_form(action: &str, csrf: &str, class: &str, body: Markup) -> Markup {
    html! {
        form method="post" action=(action) class=(class) {
            (csrf_field(csrf))
            (body)
        }
    }
}

/// The id of a field's error message (for `aria-describedby`).
pub(crate) fn error_id(field_id: &str) -> String {
    format!("{field_id}-error")
}

/// The id of a field's hint (for `aria-describedby`).
pub(crate) fn hint_id(field_id: &str) -> String {
    format!("{field_id}-hint")
}

/// `aria-describedby` for a field with an optional hint and error.
pub(crate) fn described_by(field_id: &str, hint: bool, error: bool) -> Option<String> {
    let mut ids = Vec::new();
    if hint {
        ids.push(hint_id(field_id));
    }
    if error {
        ids.push(error_id(field_id));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A field's error message, if it has one.
pub(crate) fn field_error(lang: Lang, field_id: &str, code: Option<&str>) -> Markup {
    html! {
        @if let Some(code) = code {
            p.field-error id=(error_id(field_id)) { (i18n::error_message(lang, code)) }
        }
    }
}

/// A table in a region that scrolls sideways on a narrow screen (focusable,
/// so a keyboard can scroll it too), named by `label`.
pub(crate) fn table_region(label: &str, table: Markup) -> Markup {
    html! {
        div.table-wrap role="region" aria-label=(label) tabindex="0" {
            (table)
        }
    }
}

/// A `<time>` for a moment in unix seconds.
pub(crate) fn moment(lang: Lang, unix_secs: i64) -> Markup {
    let iso = chrono::DateTime::<chrono::Utc>::from_timestamp(unix_secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    html! {
        time datetime=[iso] { (i18n::date_time(lang, unix_secs)) }
    }
}

/// A `<time>` for an RFC 3339 time as written.
pub(crate) fn written(lang: Lang, rfc3339: &str) -> Markup {
    html! {
        time datetime=(rfc3339) { (i18n::written_time(lang, rfc3339)) }
    }
}

/// The label of a key; for a set member with a name (a linked beneficiary),
/// the field and the name.
pub(crate) fn key_label(lang: Lang, key: &str, member_label: Option<&str>) -> String {
    let field = i18n::field_label(lang, key);
    match member_label {
        Some(name) => format!("{field}: {name}"),
        None => field,
    }
}

/// A record value as a person reads it: labels for codes, local times,
/// dates, durations; text as text (never markup).
pub(crate) fn value(lang: Lang, key: &str, value: &Value) -> Markup {
    let field = key.split_once('/').map_or(key, |(f, _)| f);
    match value {
        Value::Null => html! { span.none { (lang.t(Text::NotGiven)) } },
        Value::Bool(b) if field == "beneficiary_ids" => {
            html! { (lang.t(if *b { Text::Linked } else { Text::Unlinked })) }
        }
        Value::Bool(b) => html! { (lang.t(if *b { Text::Yes } else { Text::No })) },
        Value::Int(m) if field == "duration_min" => html! { (i18n::duration_minutes(lang, *m)) },
        Value::Int(y) if field == "birth_year" => html! { (y) },
        Value::Int(i) => html! { (i18n::signed_number(*i)) },
        Value::Text(t) => match field {
            "help_type" => html! { (i18n::help_type_label(lang, t)) },
            "outcome" => html! { (i18n::outcome_label(lang, t)) },
            "started_at" => written(lang, t),
            "follow_up_on" => html! { time datetime=(t) { (i18n::date(lang, t)) } },
            "notes" => html! { span.text { (t) } },
            _ => html! { (t) },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;

    #[test]
    fn the_shell_has_landmarks_nav_and_logout() {
        let mut ctx = context();
        ctx.conflicts = 3;
        let html = page(
            &ctx,
            Some(NavItem::Conflicts),
            "หัวข้อ",
            html! { p { "เนื้อหา" } },
        )
        .into_string();
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"th\">"));
        assert!(html
            .contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#));
        assert!(html.contains("<title>หัวข้อ · Asa Sync</title>"));
        assert!(html.contains(r#"href="/console/console.css?v="#));
        assert!(html.contains(r##"<a class="skip" href="#main">ข้ามไปยังเนื้อหาหลัก</a>"##));
        assert!(html.contains("<header"));
        assert!(html.contains(r#"<nav class="main-nav" aria-label="เมนูหลัก">"#));
        assert!(html.contains(r#"<main id="main" tabindex="-1">"#));
        assert!(html.contains("<h1>หัวข้อ</h1>"));
        assert!(html.contains("สมศรี รักงาน"));
        assert!(html.contains("ศูนย์ดิจิทัลชุมชนบ้านแม่ริม"));
        for (href, name) in [
            ("/sessions", "บันทึกการช่วยเหลือ"),
            ("/conflicts", "ข้อมูลขัดแย้ง"),
            ("/devices", "อุปกรณ์"),
            ("/volunteers", "อาสาสมัคร"),
            ("/programme", "ภาพรวมโครงการ"),
        ] {
            assert!(html.contains(&format!("href=\"{href}\"")), "{href}");
            assert!(html.contains(name), "{name}");
        }
        assert_eq!(html.matches("aria-current=\"page\"").count(), 1);
        assert!(html.contains(r#"<a href="/conflicts" aria-current="page">"#));
        assert!(html.contains("3 รายการรอตรวจสอบ"));
        assert!(html.contains(r#"action="/logout""#));
        assert!(html.contains(
            r#"href="/lang?to=en&amp;back=%2Fsessions%3Fpage%3D2" lang="en" hreflang="en""#
        ));
        check_forms(&html, CSRF);
    }

    #[test]
    fn english_pages_say_so() {
        let mut ctx = context();
        ctx.lang = Lang::En;
        ctx.flash = Some(Flash::Success(Notice::Saved));
        let html = page(&ctx, None, "Title", html! {}).into_string();
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("Sign out"));
        assert!(html.contains(r#"href="/lang?to=th&amp;back="#));
        assert!(html.contains(">ภาษาไทย</a>"));
        assert!(html.contains(r#"role="status""#));
        assert!(!html.contains("aria-current"));
    }

    #[test]
    fn signed_out_error_pages_have_no_nav_or_logout() {
        let mut ctx = context();
        ctx.user = None;
        ctx.flash = Some(Flash::Error("internal".into()));
        let html = page(&ctx, None, "x", html! {}).into_string();
        assert!(!html.contains("<nav"));
        assert!(!html.contains("/logout"));
        assert!(html.contains(r#"role="alert""#));
        assert!(html.contains("(รหัสข้อผิดพลาด: internal)"));
    }

    #[test]
    fn the_badge_hides_at_zero() {
        let html = page(&context(), None, "x", html! {}).into_string();
        assert!(!html.contains("badge"));
    }
}
