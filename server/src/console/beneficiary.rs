//! One beneficiary: their fields, the record's conflicts and its history.
//! Reached from a session's list of linked beneficiaries.

use maud::{html, Markup};

use super::i18n::{self, Text};
use super::layout::{self, NavItem, PageContext};
use super::session_detail::{history_table, HistoryEntry};
use super::{urls, Value};

/// A beneficiary as the manager reads them, with the record's history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BeneficiaryDetail {
    pub id: String,
    /// The centre's name (or its code when the name is unknown).
    pub centre: String,
    pub display_name: String,
    pub village_code: String,
    pub phone: Option<String>,
    pub birth_year: Option<i64>,
    pub consent: bool,
    /// The record this one was merged into (a duplicate), if any.
    pub merged_into: Option<String>,
    pub deleted: bool,
    /// The keys of this record in conflict; empty when none.
    pub conflicted_keys: Vec<String>,
    /// The changes that wrote this record, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// The beneficiary's page.
pub fn beneficiary_detail(ctx: &PageContext, b: &BeneficiaryDetail) -> Markup {
    let lang = ctx.lang;
    let conflicted = |field: &str| b.conflicted_keys.iter().any(|k| k == field);
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
    let text = |key: &str, v: &Option<String>| {
        layout::value(lang, key, &v.clone().map_or(Value::Null, Value::Text))
    };
    let content = html! {
        p { a href=(urls::SESSIONS) { "← " (lang.t(Text::BackToSessions)) } }
        @if b.deleted {
            p { span.flag.flag-deleted { (lang.t(Text::MarkDeleted)) } }
        }
        dl.fields {
            div.field-row {
                dt { (lang.t(Text::FieldRecordId)) }
                dd { code { (b.id) } }
            }
            (row("centre_id", html! { (b.centre) }))
            (row("display_name", html! { (b.display_name) }))
            (row("village_code", html! { (b.village_code) }))
            (row("phone", text("phone", &b.phone)))
            (row("birth_year", layout::value(lang, "birth_year", &b.birth_year.map_or(Value::Null, Value::Int))))
            (row("consent", layout::value(lang, "consent", &Value::Bool(b.consent))))
            @if let Some(into) = &b.merged_into {
                (row("merged_into", html! { a href=(urls::beneficiary(into)) { code { (into) } } }))
            }
            (row("_deleted", layout::value(lang, "_deleted", &Value::Bool(b.deleted))))
        }
        @if !b.conflicted_keys.is_empty() {
            section.conflict-box aria-labelledby="record-conflicts" {
                h2 #record-conflicts { (lang.t(Text::RecordConflicts)) }
                p { (lang.t(Text::RecordConflictsIntro)) }
                ul {
                    @for key in &b.conflicted_keys {
                        li { (i18n::field_label(lang, key)) }
                    }
                }
                p { a.button.primary href=(urls::conflict_record("beneficiaries", &b.id)) { (lang.t(Text::ReviewConflicts)) } }
            }
        }
        section {
            h2 #history { (lang.t(Text::HistoryHeading)) }
            @if b.history.is_empty() {
                p { (lang.t(Text::NoHistory)) }
            } @else {
                (history_table(lang, &b.history))
            }
        }
    };
    layout::page(
        ctx,
        Some(NavItem::Sessions),
        lang.t(Text::BeneficiaryTitle),
        content,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;

    #[test]
    fn a_beneficiary_page_escapes_their_name_and_links_the_conflict() {
        let page = BeneficiaryDetail {
            id: "0190c1a2-0000-7000-8000-0000000000b1".into(),
            centre: "C1".into(),
            display_name: "<b>มาลี</b>".into(),
            village_code: "50010203".into(),
            phone: Some("0812345678".into()),
            birth_year: Some(1950),
            consent: true,
            merged_into: None,
            deleted: false,
            conflicted_keys: vec!["phone".into()],
            history: Vec::new(),
        };
        let html = beneficiary_detail(&context(), &page).into_string();
        assert!(html.contains("&lt;b&gt;มาลี&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<b>มาลี"));
        assert!(html.contains("/conflicts/beneficiaries/0190c1a2-0000-7000-8000-0000000000b1"));
        assert!(html.contains("0812345678"));
        check_accessible(&html);
    }
}
