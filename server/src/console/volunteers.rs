//! Volunteers: the centre's users, with forms to disable or enable, reset a
//! password and rename each one, and a form to add a volunteer.

use maud::{html, Markup};

use super::i18n::{self, Text};
use super::layout::{self, NavItem, PageContext};
use super::{urls, Lang, Role};

/// The volunteers page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolunteersPage {
    pub rows: Vec<VolunteerRow>,
    /// The "add a volunteer" form, with what was typed after an error.
    pub create: CreateVolunteerForm,
}

/// One user of the centre.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolunteerRow {
    pub user_id: String,
    pub display_name: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    /// How many devices are bound to them.
    pub devices: u64,
    /// The signed-in user themselves: no disable form (nobody disables themselves).
    pub is_self: bool,
    /// The error of the last disable or enable try.
    pub status_error: Option<String>,
    /// The error of the last password reset (`weak_password`, ...).
    pub password_error: Option<String>,
    /// The error of the last rename (`invalid_text`, ...) and what was typed.
    pub rename_error: Option<String>,
    pub rename_value: Option<String>,
}

/// The "add a volunteer" form: what was typed (never the password) and
/// the error of each field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateVolunteerForm {
    pub username: String,
    pub display_name: String,
    /// `invalid_username`, `username_taken`.
    pub username_error: Option<String>,
    /// `invalid_text`, `too_long`.
    pub display_name_error: Option<String>,
    /// `weak_password`.
    pub password_error: Option<String>,
    /// An error of the whole form (`forbidden`, `csrf`, ...).
    pub error: Option<String>,
    /// Open the form (it is folded when there is nothing to show).
    pub open: bool,
}

struct Field<'a> {
    id: String,
    name: &'a str,
    kind: &'a str,
    label: &'a str,
    hint: Option<&'a str>,
    value: Option<&'a str>,
    error: Option<&'a str>,
    autocomplete: &'a str,
}

fn field(lang: Lang, f: Field<'_>) -> Markup {
    let described = layout::described_by(&f.id, f.hint.is_some(), f.error.is_some());
    html! {
        div.field {
            label for=(f.id) { (f.label) }
            @if let Some(hint) = f.hint {
                p.hint id=(layout::hint_id(&f.id)) { (hint) }
            }
            input id=(f.id) type=(f.kind) name=(f.name) value=[f.value] required
                autocomplete=(f.autocomplete) aria-invalid=[f.error.is_some().then_some("true")]
                aria-describedby=[described.as_deref()];
            (layout::field_error(lang, &f.id, f.error))
        }
    }
}

fn user_card(ctx: &PageContext, i: usize, u: &VolunteerRow) -> Markup {
    let lang = ctx.lang;
    let open = u.status_error.is_some() || u.password_error.is_some() || u.rename_error.is_some();
    html! {
        details.card.manage-card id={ "user-" (i) } open[open] {
            summary {
                h3 {
                    (u.display_name) " " span.meta { "(" (u.username) ")" }
                    @if u.is_self { " " span.meta { (lang.t(Text::You)) } }
                }
            }
            div.forms {
                @if !u.is_self {
                    @let (action, text) = if u.disabled { ("enable", Text::Enable) } else { ("disable", Text::Disable) };
                    (layout::post_form(&urls::volunteer_action(&u.user_id, action), &ctx.csrf, "stack", html! {
                        @if !u.disabled {
                            p.warning { (lang.t(Text::DisableWarning)) }
                        }
                        @if let Some(code) = &u.status_error {
                            div.flash.err role="alert" { (layout::error_text(lang, code)) }
                        }
                        button class=[layout::classes(&[("danger", !u.disabled)])] type="submit" { (lang.t(text)) }
                    }))
                }
                (layout::post_form(&urls::volunteer_action(&u.user_id, "password"), &ctx.csrf, "stack", html! {
                    (field(lang, Field {
                        id: format!("u{i}-password"),
                        name: "password",
                        kind: "password",
                        label: lang.t(Text::NewPassword),
                        hint: None,
                        value: None,
                        error: u.password_error.as_deref(),
                        autocomplete: "new-password",
                    }))
                    button type="submit" { (lang.t(Text::ResetPassword)) }
                }))
                (layout::post_form(&urls::volunteer_action(&u.user_id, "rename"), &ctx.csrf, "stack", html! {
                    (field(lang, Field {
                        id: format!("u{i}-name"),
                        name: "display_name",
                        kind: "text",
                        label: lang.t(Text::NewDisplayName),
                        hint: None,
                        value: Some(u.rename_value.as_deref().unwrap_or(&u.display_name)),
                        error: u.rename_error.as_deref(),
                        autocomplete: "off",
                    }))
                    button type="submit" { (lang.t(Text::Rename)) }
                }))
            }
        }
    }
}

/// The volunteers page. Forms post, each with `csrf`: to
/// `/volunteers/{id}/disable` or `/enable` (nothing else),
/// `/volunteers/{id}/password` (`password`), `/volunteers/{id}/rename`
/// (`display_name`), and `/volunteers` (`username`, `display_name`,
/// `password`) to add a volunteer.
pub fn volunteers(ctx: &PageContext, page: &VolunteersPage) -> Markup {
    let lang = ctx.lang;
    let title = lang.t(Text::VolunteersTitle);
    let c = &page.create;
    let create_open = c.open
        || c.error.is_some()
        || c.username_error.is_some()
        || c.display_name_error.is_some()
        || c.password_error.is_some();
    let content = html! {
        p.intro { (lang.t(Text::VolunteersIntro)) }
        @if page.rows.is_empty() {
            p.empty { (lang.t(Text::NoUsers)) }
        } @else {
            (layout::table_region(title, html! {
                table.data.users {
                    thead {
                        tr {
                            th scope="col" { (lang.t(Text::ColDisplayName)) }
                            th scope="col" { (lang.t(Text::ColUsername)) }
                            th scope="col" { (lang.t(Text::ColRole)) }
                            th scope="col" { (lang.t(Text::ColAccount)) }
                            th scope="col" .num { (lang.t(Text::ColDevices)) }
                            th scope="col" { (lang.t(Text::Manage)) }
                        }
                    }
                    tbody {
                        @for (i, u) in page.rows.iter().enumerate() {
                            tr class=[layout::classes(&[("is-disabled", u.disabled)])] {
                                th scope="row" {
                                    (u.display_name)
                                    @if u.is_self { " " span.meta { (lang.t(Text::You)) } }
                                }
                                td { code { (u.username) } }
                                td { (u.role.label(lang)) }
                                td {
                                    @if u.disabled {
                                        span.flag.flag-disabled { (lang.t(Text::AccountDisabled)) }
                                    } @else {
                                        span.flag.flag-ok { (lang.t(Text::AccountActive)) }
                                    }
                                }
                                td.num { (i18n::number(u.devices)) }
                                td {
                                    a href={ "#user-" (i) } {
                                        (lang.t(Text::Manage))
                                        span.sr-only { ": " (u.display_name) }
                                    }
                                }
                            }
                        }
                    }
                }
            }))
        }
        @if !page.rows.is_empty() {
            section.manage aria-labelledby="manage-h" {
                h2 #manage-h { (lang.t(Text::ManageAccounts)) }
                @for (i, u) in page.rows.iter().enumerate() {
                    (user_card(ctx, i, u))
                }
            }
        }
        section.card aria-labelledby="create-heading" {
            details.create open[create_open] {
                summary { h2 #create-heading { (lang.t(Text::CreateVolunteer)) } }
                (layout::post_form(urls::create_volunteer(), &ctx.csrf, "stack", html! {
                    @if let Some(code) = &c.error {
                        div.flash.err role="alert" { (layout::error_text(lang, code)) }
                    }
                    (field(lang, Field {
                        id: "new-username".into(),
                        name: "username",
                        kind: "text",
                        label: lang.t(Text::Username),
                        hint: Some(lang.t(Text::UsernameHint)),
                        value: Some(&c.username),
                        error: c.username_error.as_deref(),
                        autocomplete: "off",
                    }))
                    (field(lang, Field {
                        id: "new-display-name".into(),
                        name: "display_name",
                        kind: "text",
                        label: lang.t(Text::ColDisplayName),
                        hint: Some(lang.t(Text::DisplayNameHint)),
                        value: Some(&c.display_name),
                        error: c.display_name_error.as_deref(),
                        autocomplete: "off",
                    }))
                    (field(lang, Field {
                        id: "new-password".into(),
                        name: "password",
                        kind: "password",
                        label: lang.t(Text::Password),
                        hint: Some(lang.t(Text::PasswordHint)),
                        value: None,
                        error: c.password_error.as_deref(),
                        autocomplete: "new-password",
                    }))
                    button.primary type="submit" { (lang.t(Text::CreateVolunteer)) }
                }))
            }
        }
    };
    layout::page(ctx, Some(NavItem::Volunteers), title, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;

    fn user(i: u32, name: &str, username: &str, role: Role) -> VolunteerRow {
        VolunteerRow {
            user_id: format!("0190c1a2-0000-7000-8000-0000000000{i:02}"),
            display_name: name.into(),
            username: username.into(),
            role,
            disabled: false,
            devices: 1,
            is_self: false,
            status_error: None,
            password_error: None,
            rename_error: None,
            rename_value: None,
        }
    }

    fn page() -> VolunteersPage {
        let mut me = user(1, "สมศรี รักงาน", "somsri", Role::Manager);
        me.is_self = true;
        let mut off = user(3, "ประยุทธ ขยัน", "prayut", Role::Volunteer);
        off.disabled = true;
        off.devices = 0;
        VolunteersPage {
            rows: vec![me, user(2, "สมชาย ใจดี", "somchai", Role::Volunteer), off],
            create: CreateVolunteerForm::default(),
        }
    }

    #[test]
    fn the_table_and_its_forms() {
        let html = volunteers(&context(), &page()).into_string();
        sample("volunteers-th", &html);
        assert!(html.contains("สมชาย ใจดี"));
        assert!(html.contains("<code>somchai</code>"));
        assert!(html.contains("ผู้จัดการศูนย์"));
        assert!(html.contains(">ระงับการใช้งาน</span>"));
        assert!(html.contains("(คุณ)"));
        // Self: password and rename; others: status, password, rename; create.
        assert_eq!(check_forms(&html, CSRF), 1 + 2 + 3 + 3 + 1);
        assert!(!html.contains("/volunteers/0190c1a2-0000-7000-8000-000000000001/disable"));
        assert!(
            html.contains(r#"action="/volunteers/0190c1a2-0000-7000-8000-000000000002/disable""#)
        );
        assert!(
            html.contains(r#"action="/volunteers/0190c1a2-0000-7000-8000-000000000003/enable""#)
        );
        assert!(
            html.contains(r#"action="/volunteers/0190c1a2-0000-7000-8000-000000000002/password""#)
        );
        assert!(
            html.contains(r#"action="/volunteers/0190c1a2-0000-7000-8000-000000000002/rename""#)
        );
        assert!(html.contains(r#"<form method="post" action="/volunteers" class="stack">"#));
        assert!(html.contains(r#"name="display_name" value="สมชาย ใจดี""#));
        assert!(!html.contains(" open>"));
        check_accessible(&html);
    }

    #[test]
    fn field_errors_come_back_with_what_was_typed_but_no_password() {
        let mut p = page();
        p.create = CreateVolunteerForm {
            username: "Somchai!".into(),
            display_name: "สมชาย ใจดี".into(),
            username_error: Some("invalid_username".into()),
            display_name_error: None,
            password_error: Some("weak_password".into()),
            error: None,
            open: false,
        };
        p.rows[1].rename_error = Some("invalid_text".into());
        p.rows[1].rename_value = Some("  ".into());
        p.rows[1].password_error = Some("weak_password".into());
        let html = volunteers(&context(), &p).into_string();
        sample("volunteers-th-errors", &html);
        assert!(html.contains(r#"value="Somchai!""#));
        assert!(html.contains(r#"aria-describedby="new-username-hint new-username-error""#));
        assert!(html.contains(r#"<p class="field-error" id="new-username-error">ชื่อผู้ใช้ต้องยาว"#));
        assert!(html.contains(r#"id="new-password-error">รหัสผ่านต้องมีอย่างน้อย 8 ตัวอักษร"#));
        assert!(html.contains(r#"id="u1-password-error""#));
        assert!(html.contains(r#"id="u1-name" type="text" name="display_name" value="  ""#));
        assert!(html.contains(r#"<details class="create" open>"#));
        assert!(html.contains(r#"<details class="card manage-card" id="user-1" open>"#));
        assert!(html.contains(r##"<a href="#user-1">"##));
        assert!(html.contains(r#"aria-invalid="true""#));
        check_accessible(&html); // also: no password input has a value
    }

    #[test]
    fn in_english() {
        let html = volunteers(&english(), &page()).into_string();
        sample("volunteers-en", &html);
        assert!(html.contains("Add a volunteer"));
        assert!(html.contains("Centre manager"));
        assert!(html.contains(">Enable</button>"));
        assert!(html.contains(">Disable</button>"));
    }
}
