//! Conflicts: every conflicted key of every record with all its competing
//! values, and a form per key to keep one value or type a new one.

use maud::{html, Markup};
use sync_core::schema::{HELP_TYPES, OUTCOMES};

use super::i18n::{self, Text};
use super::layout::{self, NavItem, PageContext};
use super::{urls, Lang, Value};

/// The conflicts page: all conflicted records of the user's scope at
/// `/conflicts`, or one record at `/conflicts/{collection}/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConflictsPage {
    pub records: Vec<ConflictRecord>,
    /// The page of one record: it links back to the whole list.
    pub single: bool,
}

/// A record with at least one key in conflict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConflictRecord {
    /// `sessions` or `beneficiaries`.
    pub collection: String,
    pub id: String,
    /// Whose record: a session's volunteer, or the beneficiary's name.
    pub name: String,
    pub keys: Vec<ConflictKey>,
}

/// One key in conflict and its form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConflictKey {
    /// The key (`notes`, `beneficiary_ids/<uuid>`, ...), posted as `key`.
    pub key: String,
    /// For a set member: who it names (a beneficiary's name), if known.
    pub member_label: Option<String>,
    /// The competing values, in the order to show them.
    pub values: Vec<ConflictValue>,
    /// The heads the manager sees (HLC strings), posted back as one `head`
    /// field each: the resolution supersedes exactly these.
    pub heads: Vec<String>,
    /// The error of the last try on this key (`heads_changed` when another
    /// edit arrived meanwhile and this is the new state, `not_in_conflict`,
    /// `invalid_value`, `invalid_type`, `too_long`, `invalid_text`, `csrf`, ...).
    pub error: Option<String>,
    /// The new value the manager typed, shown again after an error.
    pub new_value: String,
}

/// One competing value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictValue {
    /// Its head's HLC, posted as `choice` when the manager keeps this value.
    pub head: String,
    pub value: Value,
    pub author_name: String,
    /// When it was written (the HLC's wall time, unix seconds).
    pub at: i64,
    /// The value the records show now (the merge's winner).
    pub shown: bool,
}

/// What a new value of a key is typed into.
enum Entry {
    /// No new value: the key holds a yes/no (a link, a deletion).
    None,
    Text,
    LongText,
    Number,
    Date,
    DateTime,
    Village,
    Choice(&'static [&'static str], fn(Lang, &str) -> String, bool),
}

fn entry(key: &str) -> Entry {
    let field = key.split_once('/').map_or(key, |(f, _)| f);
    match field {
        "beneficiary_ids" | "_deleted" | "consent" => Entry::None,
        "notes" => Entry::LongText,
        "duration_min" | "people_helped" | "birth_year" => Entry::Number,
        "follow_up_on" => Entry::Date,
        "started_at" => Entry::DateTime,
        "village_code" => Entry::Village,
        "help_type" => Entry::Choice(HELP_TYPES, i18n::help_type_label, false),
        "outcome" => Entry::Choice(OUTCOMES, i18n::outcome_label, true),
        _ => Entry::Text,
    }
}

fn new_value_field(lang: Lang, key: &ConflictKey, id: &str) -> Markup {
    let v = key.new_value.as_str();
    let described = layout::described_by(id, false, key.error.is_some());
    html! {
        @match entry(&key.key) {
            Entry::None => {},
            Entry::LongText => {
                textarea id=(id) name="new_value" rows="3" maxlength="4000"
                    aria-describedby=[described.as_deref()] { (v) }
            },
            Entry::Number => {
                input id=(id) type="number" name="new_value" value=(v) inputmode="numeric"
                    aria-describedby=[described.as_deref()];
            },
            Entry::Date => {
                input id=(id) type="date" name="new_value" value=(v)
                    aria-describedby=[described.as_deref()];
            },
            Entry::DateTime => {
                input id=(id) type="datetime-local" name="new_value" value=(v)
                    aria-describedby=[described.as_deref()];
            },
            Entry::Village => {
                input id=(id) type="text" name="new_value" value=(v) inputmode="numeric"
                    pattern="[0-9]{8}" maxlength="8" aria-describedby=[described.as_deref()];
            },
            Entry::Text => {
                input id=(id) type="text" name="new_value" value=(v) maxlength="200"
                    aria-describedby=[described.as_deref()];
            },
            Entry::Choice(codes, label, nullable) => {
                select id=(id) name="new_value" aria-describedby=[described.as_deref()] {
                    @if nullable {
                        option value="" selected[v.is_empty()] { (lang.t(Text::NotGiven)) }
                    }
                    @for code in codes {
                        option value=(code) selected[v == *code] { (label(lang, code)) }
                    }
                }
            },
        }
    }
}

fn key_form(ctx: &PageContext, record: &ConflictRecord, key: &ConflictKey, prefix: &str) -> Markup {
    let lang = ctx.lang;
    let typed = !matches!(entry(&key.key), Entry::None);
    let new_id = format!("{prefix}-new");
    let value_id = format!("{prefix}-value");
    let label = layout::key_label(lang, &key.key, key.member_label.as_deref());
    let pick_new = key.error.is_some() && !key.new_value.is_empty();
    html! {
        section.conflict-key id=(prefix) aria-labelledby={ (prefix) "-h" } {
            h3 id={ (prefix) "-h" } { (label) }
            (layout::post_form(&urls::conflict_record(&record.collection, &record.id), &ctx.csrf, "resolve", html! {
                input type="hidden" name="key" value=(key.key);
                @for head in &key.heads {
                    input type="hidden" name="head" value=(head);
                }
                @if let Some(code) = &key.error {
                    div.flash.err role="alert" id=(layout::error_id(&value_id)) { (layout::error_text(lang, code)) }
                }
                fieldset {
                    legend { (lang.t(Text::ChooseValue)) }
                    @for (i, v) in key.values.iter().enumerate() {
                        @let id = format!("{prefix}-v{i}");
                        div.choice.shown[v.shown] {
                            input id=(id) type="radio" name="choice" value=(v.head) required;
                            label for=(id) {
                                span.value { (layout::value(lang, &key.key, &v.value)) }
                                span.meta {
                                    (lang.t(Text::ValueBy)) " " (v.author_name) " · " (layout::moment(lang, v.at))
                                    @if v.shown {
                                        " · " span.flag { (lang.t(Text::ShownNow)) }
                                    }
                                }
                            }
                        }
                    }
                    @if typed {
                        div.choice {
                            input id=(new_id) type="radio" name="choice" value="new" required checked[pick_new];
                            label for=(new_id) { (lang.t(Text::UseNewValue)) }
                        }
                        div.field.new-value {
                            label for=(value_id) { (lang.t(Text::NewValue)) " (" (label) ")" }
                            (new_value_field(lang, key, &value_id))
                        }
                    }
                }
                button.primary type="submit" { (lang.t(Text::ResolveButton)) }
            }))
        }
    }
}

/// The conflicts page.
pub fn conflicts(ctx: &PageContext, page: &ConflictsPage) -> Markup {
    let lang = ctx.lang;
    let title = lang.t(Text::ConflictsTitle);
    let content = html! {
        @if page.single {
            p { a href=(urls::CONFLICTS) { "← " (lang.t(Text::ListAllConflicts)) } }
        }
        @if page.records.is_empty() {
            p.empty { (lang.t(Text::NoConflicts)) }
        } @else {
            p.intro { (lang.t(Text::ConflictsIntro)) }
        }
        @for (ri, record) in page.records.iter().enumerate() {
            @let collection = lang.t(if record.collection == "beneficiaries" {
                Text::CollectionBeneficiaries
            } else {
                Text::CollectionSessions
            });
            @let href = if record.collection == "beneficiaries" {
                urls::beneficiary(&record.id)
            } else {
                urls::session(&record.id)
            };
            article.record.card aria-labelledby={ "r" (ri) "-h" } {
                h2 id={ "r" (ri) "-h" } { (i18n::record_of(lang, collection, &record.name)) }
                p.meta {
                    a href=(href) { (lang.t(Text::OpenRecord)) }
                    " · " code { (record.id) }
                }
                @for (ki, key) in record.keys.iter().enumerate() {
                    (key_form(ctx, record, key, &format!("r{ri}k{ki}")))
                }
            }
        }
    };
    layout::page(ctx, Some(NavItem::Conflicts), title, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;

    fn value(head: &str, v: Value, author: &str, shown: bool) -> ConflictValue {
        ConflictValue {
            head: head.into(),
            value: v,
            author_name: author.into(),
            at: 1_796_094_120,
            shown,
        }
    }

    fn page() -> ConflictsPage {
        let h1 = "1796094120000-0000-6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11";
        let h2 = "1796094060000-0001-0c8e2f4a-1111-4c55-9a37-aaaabbbbcccc";
        ConflictsPage {
            single: false,
            records: vec![
                ConflictRecord {
                    collection: "sessions".into(),
                    id: "0190c1a2-0000-7000-8000-000000000001".into(),
                    name: "สมชาย ใจดี".into(),
                    keys: vec![
                        ConflictKey {
                            key: "notes".into(),
                            member_label: None,
                            values: vec![
                                value(h1, Value::Text("อาสาแก้ไข".into()), "สมชาย ใจดี", true),
                                value(h2, Value::Text("ผู้จัดการแก้ไข".into()), "สมศรี รักงาน", false),
                            ],
                            heads: vec![h1.into(), h2.into()],
                            error: None,
                            new_value: String::new(),
                        },
                        ConflictKey {
                            key: "help_type".into(),
                            member_label: None,
                            values: vec![
                                value(h1, Value::Text("welfare_rights".into()), "สมชาย ใจดี", true),
                                value(h2, Value::Text("e_government".into()), "สมศรี รักงาน", false),
                            ],
                            heads: vec![h1.into(), h2.into()],
                            error: None,
                            new_value: String::new(),
                        },
                    ],
                },
                ConflictRecord {
                    collection: "beneficiaries".into(),
                    id: "0190c1a2-0000-7000-8000-0000000000b1".into(),
                    name: "นางมาลี ใจดี".into(),
                    keys: vec![ConflictKey {
                        key: "_deleted".into(),
                        member_label: None,
                        values: vec![
                            value(h1, Value::Bool(true), "สมชาย ใจดี", true),
                            value(h2, Value::Bool(false), "สมศรี รักงาน", false),
                        ],
                        heads: vec![h1.into(), h2.into()],
                        error: None,
                        new_value: String::new(),
                    }],
                },
            ],
        }
    }

    #[test]
    fn each_key_has_a_form_with_every_value_its_heads_and_csrf() {
        let html = conflicts(&context(), &page()).into_string();
        sample("conflicts-th", &html);
        assert_eq!(check_forms(&html, CSRF), 1 + 3);
        check_accessible(&html);
        assert!(html.contains("บันทึกการช่วยเหลือของ สมชาย ใจดี"));
        assert!(html.contains("ผู้รับบริการของ นางมาลี ใจดี"));
        assert!(html.contains(r#"<form method="post" action="/conflicts/sessions/0190c1a2-0000-7000-8000-000000000001" class="resolve">"#));
        assert!(html
            .contains(r#"action="/conflicts/beneficiaries/0190c1a2-0000-7000-8000-0000000000b1""#));
        assert!(html.contains(r#"<input type="hidden" name="key" value="notes">"#));
        assert_eq!(
            html.matches(r#"<input type="hidden" name="head" value="1796094120000-0000-6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11">"#).count(),
            3
        );
        assert!(html.contains(r#"type="radio" name="choice" value="1796094060000-0001-0c8e2f4a-1111-4c55-9a37-aaaabbbbcccc" required"#));
        assert!(html.contains("อาสาแก้ไข"));
        assert!(html.contains("ผู้จัดการแก้ไข"));
        assert!(html.contains("โดย สมศรี รักงาน"));
        assert!(html.contains("ค่าที่แสดงอยู่ขณะนี้"));
        assert!(html.contains(r#"<a href="/conflicts" aria-current="page">"#));
    }

    #[test]
    fn new_values_are_typed_into_the_right_control() {
        let html = conflicts(&context(), &page()).into_string();
        // notes: a text area; help type: a select of labels; a deletion: no new value.
        assert!(html.contains(r#"<textarea id="r0k0-value" name="new_value""#));
        assert!(html.contains(r#"<select id="r0k1-value" name="new_value">"#));
        assert!(html.contains(r#"<option value="e_government">บริการภาครัฐออนไลน์</option>"#));
        assert!(!html.contains("r1k0-value"));
        assert_eq!(html.matches(r#"value="new" required"#).count(), 2);
        assert!(html.contains("ใช่"));
        assert!(html.contains("ไม่ใช่"));
    }

    #[test]
    fn heads_changed_shows_the_notice_and_keeps_what_was_typed() {
        let mut p = page();
        p.single = true;
        p.records.truncate(1);
        let key = &mut p.records[0].keys[0];
        key.error = Some("heads_changed".into());
        key.new_value = "ค่าใหม่ <b>ของผู้จัดการ</b>".into();
        key.heads
            .push("1796094180000-0000-6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11".into());
        let html = conflicts(&context(), &p).into_string();
        sample("conflicts-th-changed", &html);
        assert!(html.contains(r#"role="alert" id="r0k0-value-error""#));
        assert!(html.contains("มีการแก้ไขใหม่เข้ามาระหว่างที่คุณกำลังตรวจสอบ"));
        assert!(html.contains("ค่าใหม่ &lt;b&gt;ของผู้จัดการ&lt;/b&gt;</textarea>"));
        assert!(html.contains(r#"value="new" required checked"#));
        assert!(html.contains(r#"aria-describedby="r0k0-value-error""#));
        assert!(html.contains("1796094180000-0000"));
        assert!(html.contains("ดูข้อมูลขัดแย้งทั้งหมด"));
        check_accessible(&html);
    }

    #[test]
    fn none_left() {
        let html = conflicts(&english(), &ConflictsPage::default()).into_string();
        sample("conflicts-en-none", &html);
        assert!(html.contains("No conflicts to review."));
        assert_eq!(check_forms(&html, CSRF), 1);
    }
}
