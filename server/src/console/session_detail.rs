//! One session: every field, the linked beneficiaries, the record's
//! conflicts and its history of changes.

use maud::{html, Markup};

use super::i18n::{self, Text};
use super::layout::{self, NavItem, PageContext};
use super::{short_id, urls, Value};

/// One session as the manager reads it, with its history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionDetail {
    pub id: String,
    /// The centre's name (or its code when the name is unknown).
    pub centre: String,
    pub volunteer_name: String,
    pub village_code: String,
    /// A help type code.
    pub help_type: String,
    /// RFC 3339, as the volunteer's phone wrote it.
    pub started_at: String,
    pub duration_min: Option<i64>,
    pub people_helped: Option<i64>,
    /// An outcome code.
    pub outcome: Option<String>,
    /// Free text, shown as text.
    pub notes: Option<String>,
    /// `YYYY-MM-DD`.
    pub follow_up_on: Option<String>,
    pub deleted: bool,
    pub beneficiaries: Vec<LinkedBeneficiary>,
    /// The keys of this record in conflict (`notes`,
    /// `beneficiary_ids/<uuid>`, ...); empty when none.
    pub conflicted_keys: Vec<String>,
    /// The changes that wrote this record, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// A beneficiary linked to the session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkedBeneficiary {
    pub id: String,
    pub display_name: String,
    pub village_code: String,
}

/// One change of the record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryEntry {
    /// When it was written (its HLC's wall time, unix seconds).
    pub at: i64,
    /// Its author's display name.
    pub author_name: String,
    /// The device it came from (the full id; the page shows the short one).
    pub device_id: String,
    /// The keys it wrote, with their new values.
    pub writes: Vec<KeyWrite>,
}

/// A key a change wrote and the value it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyWrite {
    /// The key (`notes`, `beneficiary_ids/<uuid>`, `_deleted`, ...).
    pub key: String,
    pub value: Value,
    /// For a set member: who it names (a beneficiary's name), if known.
    pub member_label: Option<String>,
}

/// The session's page.
pub fn session_detail(ctx: &PageContext, s: &SessionDetail) -> Markup {
    let lang = ctx.lang;
    let title = lang.t(Text::SessionTitle);
    let conflicted = |field: &str| {
        s.conflicted_keys
            .iter()
            .any(|k| k.split_once('/').map_or(k.as_str(), |(f, _)| f) == field)
    };
    let row = |field: &str, value: Markup| {
        html! {
            div.field-row.is-conflict[conflicted(field)] {
                dt { (i18n::field_label(lang, field)) }
                dd {
                    (value)
                    @if conflicted(field) {
                        " " span.flag.flag-conflict { (lang.t(Text::MarkConflict)) }
                    }
                }
            }
        }
    };
    let opt_text = |key: &str, v: &Option<String>| {
        layout::value(lang, key, &v.clone().map_or(Value::Null, Value::Text))
    };
    let opt_int =
        |key: &str, v: Option<i64>| layout::value(lang, key, &v.map_or(Value::Null, Value::Int));
    let content = html! {
        p { a href=(urls::SESSIONS) { "← " (lang.t(Text::BackToSessions)) } }
        @if s.deleted {
            p { span.flag.flag-deleted { (lang.t(Text::MarkDeleted)) } }
        }
        dl.fields {
            div.field-row {
                dt { (lang.t(Text::FieldRecordId)) }
                dd { code { (s.id) } }
            }
            (row("centre_id", html! { (s.centre) }))
            (row("volunteer_id", html! { (s.volunteer_name) }))
            (row("village_code", html! { (s.village_code) }))
            (row("help_type", layout::value(lang, "help_type", &Value::Text(s.help_type.clone()))))
            (row("started_at", layout::written(lang, &s.started_at)))
            (row("duration_min", opt_int("duration_min", s.duration_min)))
            (row("people_helped", opt_int("people_helped", s.people_helped)))
            (row("outcome", opt_text("outcome", &s.outcome)))
            (row("follow_up_on", opt_text("follow_up_on", &s.follow_up_on)))
            (row("notes", opt_text("notes", &s.notes)))
            (row("_deleted", layout::value(lang, "_deleted", &Value::Bool(s.deleted))))
        }
        @if !s.conflicted_keys.is_empty() {
            section.conflict-box aria-labelledby="record-conflicts" {
                h2 #record-conflicts { (lang.t(Text::RecordConflicts)) }
                p { (lang.t(Text::RecordConflictsIntro)) }
                ul {
                    @for key in &s.conflicted_keys {
                        li { (i18n::field_label(lang, key)) }
                    }
                }
                p { a.button.primary href=(urls::conflict_record("sessions", &s.id)) { (lang.t(Text::ReviewConflicts)) } }
            }
        }
        section aria-labelledby="beneficiaries" {
            h2 #beneficiaries class=[layout::classes(&[("is-conflict", conflicted("beneficiary_ids"))])] { (lang.t(Text::FieldBeneficiaries)) }
            @if s.beneficiaries.is_empty() {
                p { (lang.t(Text::NoBeneficiaries)) }
            } @else {
                ul.people {
                    @for b in &s.beneficiaries {
                        li {
                            a href=(urls::beneficiary(&b.id)) { (b.display_name) }
                            " · " (i18n::field_label(lang, "village_code")) " " (b.village_code)
                        }
                    }
                }
            }
        }
        section {
            h2 #history { (lang.t(Text::HistoryHeading)) }
            @if s.history.is_empty() {
                p { (lang.t(Text::NoHistory)) }
            } @else {
                (history_table(lang, &s.history))
            }
        }
    };
    layout::page(ctx, Some(NavItem::Sessions), title, content)
}

/// A record's history as a table: when, who, from which device, what.
pub(crate) fn history_table(lang: super::Lang, history: &[HistoryEntry]) -> Markup {
    html! {
        (layout::table_region(lang.t(Text::HistoryHeading), html! {
        table.data.history {
            thead {
                tr {
                    th scope="col" { (lang.t(Text::ColWhen)) }
                    th scope="col" { (lang.t(Text::ColWho)) }
                    th scope="col" { (lang.t(Text::ColDevice)) }
                    th scope="col" { (lang.t(Text::ColWrites)) }
                }
            }
            tbody {
                @for h in history {
                    tr {
                        td { (layout::moment(lang, h.at)) }
                        td { (h.author_name) }
                        td { code title=(h.device_id) { (short_id(&h.device_id)) } }
                        td {
                            ul.writes {
                                @for w in &h.writes {
                                    li {
                                        span.key { (layout::key_label(lang, &w.key, w.member_label.as_deref())) ": " }
                                        (layout::value(lang, &w.key, &w.value))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;

    const XSS: &str = r#"<script>alert(1)</script>"><img src=x onerror=alert(1)>"#;

    fn detail() -> SessionDetail {
        SessionDetail {
            id: "0190c1a2-0000-7000-8000-000000000001".into(),
            centre: "ศูนย์ดิจิทัลชุมชนบ้านแม่ริม".into(),
            volunteer_name: "สมชาย ใจดี".into(),
            village_code: "50010203".into(),
            help_type: "welfare_rights".into(),
            started_at: "2026-11-28T09:30:00+07:00".into(),
            duration_min: Some(45),
            people_helped: Some(2),
            outcome: Some("follow_up".into()),
            notes: Some("ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ\nนัดอีกครั้งสัปดาห์หน้า".into()),
            follow_up_on: Some("2026-12-05".into()),
            deleted: false,
            beneficiaries: vec![LinkedBeneficiary {
                id: "0190c1a2-0000-7000-8000-0000000000b1".into(),
                display_name: "นางมาลี ใจดี".into(),
                village_code: "50010203".into(),
            }],
            conflicted_keys: vec!["notes".into()],
            history: vec![
                HistoryEntry {
                    at: 1_795_833_000,
                    author_name: "สมชาย ใจดี".into(),
                    device_id: "6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11".into(),
                    writes: vec![
                        KeyWrite {
                            key: "help_type".into(),
                            value: Value::Text("welfare_rights".into()),
                            member_label: None,
                        },
                        KeyWrite {
                            key: "duration_min".into(),
                            value: Value::Int(45),
                            member_label: None,
                        },
                        KeyWrite {
                            key: "outcome".into(),
                            value: Value::Null,
                            member_label: None,
                        },
                    ],
                },
                HistoryEntry {
                    at: 1_795_836_600,
                    author_name: "สมศรี รักงาน".into(),
                    device_id: "0c8e2f4a-1111-4c55-9a37-aaaabbbbcccc".into(),
                    writes: vec![KeyWrite {
                        key: "beneficiary_ids/0190c1a2-0000-7000-8000-0000000000b1".into(),
                        value: Value::Bool(true),
                        member_label: Some("นางมาลี ใจดี".into()),
                    }],
                },
            ],
        }
    }

    #[test]
    fn every_field_has_its_label_and_value() {
        let html = session_detail(&context(), &detail()).into_string();
        for (label, value) in [
            ("รหัสหมู่บ้าน", "50010203"),
            ("ประเภทการช่วยเหลือ", "สิทธิสวัสดิการของรัฐ"),
            ("วันเวลาที่เริ่ม", "28 พ.ย. 2569 09:30 น."),
            ("ระยะเวลา", "45 นาที"),
            ("จำนวนผู้ได้รับความช่วยเหลือ (คน)", "2"),
            ("ผลการช่วยเหลือ", "ต้องติดตามผล"),
            ("วันนัดติดตามผล", "5 ธ.ค. 2569"),
            ("บันทึกเพิ่มเติม", "ช่วยลงทะเบียนรับสวัสดิการแห่งรัฐ"),
        ] {
            assert!(html.contains(&format!("<dt>{label}</dt>")), "{label}");
            assert!(html.contains(value), "{value}");
        }
        assert!(html.contains("<code>0190c1a2-0000-7000-8000-000000000001</code>"));
        assert!(html.contains(r#"<a href="/sessions" aria-current="page">"#));
        check_accessible(&html);
    }

    #[test]
    fn beneficiaries_conflicts_and_history() {
        let html = session_detail(&context(), &detail()).into_string();
        sample("session-th", &html);
        assert!(html.contains(
            r#"<a href="/beneficiaries/0190c1a2-0000-7000-8000-0000000000b1">นางมาลี ใจดี</a>"#
        ));
        assert!(html.contains(r#"href="/conflicts/sessions/0190c1a2-0000-7000-8000-000000000001""#));
        assert!(html.contains(r#"<div class="field-row is-conflict"><dt>บันทึกเพิ่มเติม</dt>"#));
        assert!(html.contains("ประวัติการแก้ไข"));
        assert!(html.contains(">1c9e0a11</code>"));
        assert!(html.contains("สมศรี รักงาน"));
        assert!(html.contains("ผู้รับบริการที่เชื่อมโยง: นางมาลี ใจดี: </span>เชื่อมโยง"));
        assert!(html.contains("(ไม่ระบุ)"));
        assert!(
            html.contains(r#"<time datetime="2026-11-28T02:30:00Z">28 พ.ย. 2569 09:30 น.</time>"#)
        );
    }

    #[test]
    fn notes_are_text_never_markup() {
        let mut d = detail();
        d.notes = Some(XSS.into());
        d.volunteer_name = XSS.into();
        d.beneficiaries[0].display_name = XSS.into();
        d.history[0].writes.push(KeyWrite {
            key: "notes".into(),
            value: Value::Text(XSS.into()),
            member_label: None,
        });
        d.history[0].author_name = XSS.into();
        let html = session_detail(&context(), &d).into_string();
        sample("session-th-xss", &html);
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("onerror=alert(1)>"));
        assert!(html.contains(
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
        ));
        check_accessible(&html);
    }

    #[test]
    fn deleted_and_empty_in_english() {
        let mut d = detail();
        d.deleted = true;
        d.beneficiaries.clear();
        d.conflicted_keys.clear();
        d.history.clear();
        d.notes = None;
        let html = session_detail(&english(), &d).into_string();
        sample("session-en", &html);
        assert!(html.contains(r#"<span class="flag flag-deleted">Deleted</span>"#));
        assert!(html.contains("No linked beneficiaries."));
        assert!(html.contains("No changes recorded."));
        assert!(!html.contains("/conflicts/sessions/"));
        assert!(html.contains("Needs follow-up"));
    }
}
