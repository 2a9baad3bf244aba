//! The sessions list: a GET filter form (the filter lives in the URL), a
//! summary, the table, paging and export links.

use maud::{html, Markup};
use sync_core::schema::{HELP_TYPES, OUTCOMES};

use super::i18n::{self, Text};
use super::layout::{self, NavItem, PageContext};
use super::urls;

/// The sessions page. The handler reads the filter from the query string
/// (`volunteer`, `village`, `from`, `to`, `help_type`, `outcome`,
/// `conflicts=1`, `deleted=exclude|include|only`) and gives back what the
/// user asked for, the page of rows and the links.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionsPage {
    pub filter: SessionFilter,
    /// An error code about the filter (`invalid_date`, `invalid_range`,
    /// `invalid_value`), shown above the form.
    pub filter_error: Option<String>,
    pub rows: Vec<SessionRow>,
    /// The 1-based position of the first row among all matching sessions.
    pub first: u64,
    /// How many sessions match the filter.
    pub total: u64,
    /// The previous and next pages, with the same filter (`None`: none).
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    /// Exports of every session matching the filter.
    pub csv_href: String,
    pub xlsx_href: String,
}

/// The filter as the user gave it (empty strings: no filter on that field).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionFilter {
    /// Part of a volunteer's display name (`volunteer`).
    pub volunteer: String,
    /// A village code (`village`).
    pub village: String,
    /// `YYYY-MM-DD` bounds of the start date, both inclusive (`from`, `to`).
    pub from: String,
    pub to: String,
    /// A help type code or `""` (`help_type`).
    pub help_type: String,
    /// An outcome code or `""` (`outcome`).
    pub outcome: String,
    /// Only records with a key in conflict (`conflicts=1`).
    pub conflicts_only: bool,
    /// `deleted=exclude|include|only`.
    pub deleted: DeletedFilter,
}

/// What to do with deleted sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeletedFilter {
    #[default]
    Exclude,
    Include,
    Only,
}

impl DeletedFilter {
    pub const ALL: [DeletedFilter; 3] = [
        DeletedFilter::Exclude,
        DeletedFilter::Include,
        DeletedFilter::Only,
    ];

    /// The query value: `exclude`, `include` or `only`.
    pub fn code(self) -> &'static str {
        match self {
            DeletedFilter::Exclude => "exclude",
            DeletedFilter::Include => "include",
            DeletedFilter::Only => "only",
        }
    }

    pub fn parse(code: &str) -> Option<DeletedFilter> {
        DeletedFilter::ALL.into_iter().find(|d| d.code() == code)
    }

    fn text(self) -> Text {
        match self {
            DeletedFilter::Exclude => Text::DeletedExclude,
            DeletedFilter::Include => Text::DeletedInclude,
            DeletedFilter::Only => Text::DeletedOnly,
        }
    }
}

/// One session in the table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionRow {
    pub id: String,
    /// RFC 3339, as the volunteer's phone wrote it.
    pub started_at: String,
    pub volunteer_name: String,
    pub village_code: String,
    /// A help type code.
    pub help_type: String,
    pub duration_min: Option<i64>,
    pub people_helped: Option<i64>,
    /// An outcome code.
    pub outcome: Option<String>,
    /// A key of the record is in conflict.
    pub conflicted: bool,
    pub deleted: bool,
}

/// The sessions page.
pub fn sessions(ctx: &PageContext, page: &SessionsPage) -> Markup {
    let lang = ctx.lang;
    let title = lang.t(Text::SessionsTitle);
    let f = &page.filter;
    let content = html! {
        section.filters aria-labelledby="filter-heading" {
            h2 #filter-heading { (lang.t(Text::FilterHeading)) }
            @if let Some(code) = &page.filter_error {
                div.flash.err role="alert" { (layout::error_text(lang, code)) }
            }
            form method="get" action=(urls::SESSIONS) class="filter-grid" {
                div.field {
                    label for="f-volunteer" { (lang.t(Text::FilterVolunteer)) }
                    input #f-volunteer type="search" name="volunteer" value=(f.volunteer) maxlength="200";
                }
                div.field {
                    label for="f-village" { (lang.t(Text::FilterVillage)) }
                    input #f-village type="text" name="village" value=(f.village)
                        inputmode="numeric" pattern="[0-9]{8}" maxlength="8";
                }
                div.field {
                    label for="f-from" { (lang.t(Text::FilterFrom)) }
                    input #f-from type="date" name="from" value=(f.from);
                }
                div.field {
                    label for="f-to" { (lang.t(Text::FilterTo)) }
                    input #f-to type="date" name="to" value=(f.to);
                }
                div.field {
                    label for="f-help-type" { (lang.t(Text::ColHelpType)) }
                    select #f-help-type name="help_type" {
                        option value="" selected[f.help_type.is_empty()] { (lang.t(Text::FilterAny)) }
                        @for code in HELP_TYPES {
                            option value=(code) selected[f.help_type == *code] {
                                (i18n::help_type_label(lang, code))
                            }
                        }
                    }
                }
                div.field {
                    label for="f-outcome" { (lang.t(Text::ColOutcome)) }
                    select #f-outcome name="outcome" {
                        option value="" selected[f.outcome.is_empty()] { (lang.t(Text::FilterAny)) }
                        @for code in OUTCOMES {
                            option value=(code) selected[f.outcome == *code] {
                                (i18n::outcome_label(lang, code))
                            }
                        }
                    }
                }
                div.field {
                    label for="f-deleted" { (lang.t(Text::FilterDeleted)) }
                    select #f-deleted name="deleted" {
                        @for d in DeletedFilter::ALL {
                            option value=(d.code()) selected[f.deleted == d] { (lang.t(d.text())) }
                        }
                    }
                }
                div.field.check {
                    input #f-conflicts type="checkbox" name="conflicts" value="1" checked[f.conflicts_only];
                    label for="f-conflicts" { (lang.t(Text::FilterConflictsOnly)) }
                }
                div.actions {
                    button.primary type="submit" { (lang.t(Text::Search)) }
                    a.button href=(urls::SESSIONS) { (lang.t(Text::ClearFilters)) }
                }
            }
        }
        section aria-labelledby="results-heading" {
            h2 #results-heading .summary {
                @if page.rows.is_empty() {
                    (lang.t(Text::NoSessions))
                } @else {
                    (i18n::results_summary(lang, page.first, page.first + page.rows.len() as u64 - 1, page.total))
                }
            }
            @if !page.rows.is_empty() {
                (layout::table_region(title, html! {
                    table.data {
                        thead {
                            tr {
                                th scope="col" { (lang.t(Text::ColStartedAt)) }
                                th scope="col" { (lang.t(Text::ColVolunteer)) }
                                th scope="col" { (lang.t(Text::ColVillage)) }
                                th scope="col" { (lang.t(Text::ColHelpType)) }
                                th scope="col" .num { (lang.t(Text::ColDuration)) }
                                th scope="col" .num { (lang.t(Text::ColPeople)) }
                                th scope="col" { (lang.t(Text::ColOutcome)) }
                                th scope="col" { (lang.t(Text::ColStatus)) }
                            }
                        }
                        tbody {
                            @for row in &page.rows {
                                tr class=[layout::classes(&[("is-conflict", row.conflicted), ("is-deleted", row.deleted)])] {
                                    td { a href=(urls::session(&row.id)) { (layout::written(lang, &row.started_at)) } }
                                    td { (row.volunteer_name) }
                                    td { (row.village_code) }
                                    td { (i18n::help_type_label(lang, &row.help_type)) }
                                    td.num {
                                        @match row.duration_min {
                                            Some(m) => (i18n::duration_minutes(lang, m)),
                                            None => (lang.t(Text::NotGiven)),
                                        }
                                    }
                                    td.num {
                                        @match row.people_helped {
                                            Some(p) => (i18n::signed_number(p)),
                                            None => (lang.t(Text::NotGiven)),
                                        }
                                    }
                                    td {
                                        @match &row.outcome {
                                            Some(o) => (i18n::outcome_label(lang, o)),
                                            None => (lang.t(Text::NotGiven)),
                                        }
                                    }
                                    td {
                                        @if row.conflicted {
                                            span.flag.flag-conflict { (lang.t(Text::MarkConflict)) }
                                            " "
                                        }
                                        @if row.deleted {
                                            span.flag.flag-deleted { (lang.t(Text::MarkDeleted)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }))
            }
            @if page.prev_href.is_some() || page.next_href.is_some() {
                nav.pager aria-label=(lang.t(Text::Pages)) {
                    @if let Some(href) = &page.prev_href {
                        a.button href=(href) rel="prev" { "← " (lang.t(Text::PreviousPage)) }
                    }
                    @if let Some(href) = &page.next_href {
                        a.button href=(href) rel="next" { (lang.t(Text::NextPage)) " →" }
                    }
                }
            }
        }
        section.export aria-labelledby="export-heading" {
            h2 #export-heading { (lang.t(Text::ExportHeading)) }
            ul.inline {
                li { a.button href=(page.csv_href) download { (lang.t(Text::ExportCsv)) } }
                li { a.button href=(page.xlsx_href) download { (lang.t(Text::ExportXlsx)) } }
            }
        }
    };
    layout::page(ctx, Some(NavItem::Sessions), title, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;

    pub fn row(i: u64) -> SessionRow {
        SessionRow {
            id: format!("0190c1a2-0000-7000-8000-{i:012}"),
            started_at: "2026-11-28T09:30:00+07:00".into(),
            volunteer_name: "สมชาย ใจดี".into(),
            village_code: "50010203".into(),
            help_type: "welfare_rights".into(),
            duration_min: Some(45),
            people_helped: Some(2),
            outcome: Some("resolved".into()),
            conflicted: i == 2,
            deleted: i == 3,
        }
    }

    fn page() -> SessionsPage {
        SessionsPage {
            filter: SessionFilter {
                volunteer: "สมชาย".into(),
                from: "2026-11-01".into(),
                to: "2026-11-30".into(),
                help_type: "welfare_rights".into(),
                conflicts_only: true,
                deleted: DeletedFilter::Include,
                ..SessionFilter::default()
            },
            filter_error: None,
            rows: (1..=50).map(row).collect(),
            first: 1,
            total: 1234,
            prev_href: None,
            next_href: Some("/sessions?volunteer=%E0%B8%AA&page=2".into()),
            csv_href: "/sessions/export.csv?volunteer=%E0%B8%AA".into(),
            xlsx_href: "/sessions/export.xlsx?volunteer=%E0%B8%AA".into(),
        }
    }

    #[test]
    fn the_filter_form_is_a_labelled_get_form_holding_the_filter() {
        let html = sessions(&context(), &page()).into_string();
        assert!(html.contains(r#"<form method="get" action="/sessions""#));
        for name in [
            "volunteer",
            "village",
            "from",
            "to",
            "help_type",
            "outcome",
            "deleted",
            "conflicts",
        ] {
            assert!(html.contains(&format!("name=\"{name}\"")), "{name}");
        }
        assert!(html.contains(r#"type="date" name="from" value="2026-11-01""#));
        assert!(html.contains(r#"name="volunteer" value="สมชาย""#));
        assert!(
            html.contains(r#"<option value="welfare_rights" selected>สิทธิสวัสดิการของรัฐ</option>"#)
        );
        assert!(html.contains(r#"<option value="include" selected>"#));
        assert!(html.contains(r#"name="conflicts" value="1" checked"#));
        assert_eq!(check_forms(&html, CSRF), 1); // the logout form only
        check_accessible(&html);
    }

    #[test]
    fn the_table_links_rows_and_marks_conflicts_and_deletions() {
        let html = sessions(&context(), &page()).into_string();
        sample("sessions-th", &html);
        assert!(html.contains("รายการที่ 1–50 จาก 1,234"));
        assert!(html.contains(r#"href="/sessions/0190c1a2-0000-7000-8000-000000000001""#));
        assert!(html.contains(
            r#"<time datetime="2026-11-28T09:30:00+07:00">28 พ.ย. 2569 09:30 น.</time>"#
        ));
        assert!(html.contains("สมชาย ใจดี"));
        assert!(html.contains("45 นาที"));
        assert!(html.contains("แก้ไขได้แล้ว"));
        assert!(html.contains(r#"<tr class="is-conflict">"#));
        assert!(html.contains(r#"<tr class="is-deleted">"#));
        assert_eq!(
            html.matches(r#"<span class="flag flag-conflict">ข้อมูลขัดแย้ง</span>"#)
                .count(),
            1
        );
        assert_eq!(
            html.matches(r#"<span class="flag flag-deleted">ลบแล้ว</span>"#)
                .count(),
            1
        );
        assert!(html.contains(r#"role="region""#));
        assert!(html.contains(r#"href="/sessions?volunteer=%E0%B8%AA&amp;page=2" rel="next""#));
        assert!(!html.contains("rel=\"prev\""));
        assert!(html.contains(r#"href="/sessions/export.csv?volunteer=%E0%B8%AA""#));
        assert!(html.contains(r#"href="/sessions/export.xlsx?volunteer=%E0%B8%AA""#));
        assert!(html.contains(r#"<a href="/sessions" aria-current="page">"#));
    }

    #[test]
    fn no_results_and_a_filter_error() {
        let mut p = page();
        p.rows.clear();
        p.total = 0;
        p.next_href = None;
        p.filter_error = Some("invalid_range".into());
        let html = sessions(&context(), &p).into_string();
        assert!(html.contains("ไม่พบรายการที่ตรงกับเงื่อนไข"));
        assert!(html.contains("วันที่เริ่มต้องไม่อยู่หลังวันที่สิ้นสุด"));
        assert!(!html.contains("<table"));
        assert!(!html.contains("class=\"pager\""));
        check_accessible(&html);
    }

    #[test]
    fn in_english() {
        let mut p = page();
        p.first = 51;
        p.prev_href = Some("/sessions?page=1".into());
        let html = sessions(&english(), &p).into_string();
        sample("sessions-en", &html);
        assert!(html.contains("Showing 51–100 of 1,234"));
        assert!(html.contains("Welfare rights"));
        assert!(html.contains("28 Nov 2026, 09:30"));
        assert!(html.contains("rel=\"prev\""));
        assert!(html.contains("Previous page"));
    }

    #[test]
    fn a_long_page_stays_far_below_the_first_load_budget() {
        let mut p = page();
        p.rows = (1..=200).map(row).collect();
        let html = sessions(&context(), &p).into_string();
        // 150 KB gzipped is the budget; even uncompressed this is well under.
        assert!(
            html.len() + crate::console::CSS.len() < 150 * 1024,
            "{}",
            html.len()
        );
    }

    #[test]
    fn deleted_filter_codes_round_trip() {
        for d in DeletedFilter::ALL {
            assert_eq!(DeletedFilter::parse(d.code()), Some(d));
        }
        assert_eq!(DeletedFilter::parse("all"), None);
        assert_eq!(DeletedFilter::default(), DeletedFilter::Exclude);
    }
}
