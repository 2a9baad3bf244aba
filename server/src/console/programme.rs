//! The programme overview: totals and charts (drawn on the server, with
//! their numbers in a table beside each).

use maud::{html, Markup};

use super::charts::{self, Bar, Series, Target};
use super::i18n::{self, Text};
use super::layout::{self, NavItem, PageContext};
use super::{urls, Lang};

/// The programme page for a period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProgrammePage {
    /// The period as asked (`YYYY-MM-DD`, inclusive; empty: open), from
    /// the query's `from` and `to`.
    pub from: String,
    pub to: String,
    /// An error code about the period (`invalid_date`, `invalid_range`).
    pub period_error: Option<String>,
    pub totals: Totals,
    /// One entry per week, oldest first.
    pub weeks: Vec<WeekStat>,
    /// Per help type, in the order to show.
    pub help_types: Vec<HelpTypeStat>,
    /// Per village, in the order to show.
    pub villages: Vec<VillageStat>,
    /// Per active volunteer, in the order to show.
    pub volunteers: Vec<VolunteerStat>,
}

/// The period's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub sessions: u64,
    pub people_helped: u64,
    pub unique_beneficiaries: u64,
    /// Minutes of help (the page shows hours).
    pub minutes: u64,
    pub active_volunteers: u64,
    pub volunteers_meeting_target: u64,
    /// People a volunteer should help: [`Totals::TARGET_PER_VOLUNTEER`].
    pub target_per_volunteer: u64,
}

impl Totals {
    /// The programme's 1:4 target: each volunteer helps four people.
    pub const TARGET_PER_VOLUNTEER: u64 = 4;
}

impl Default for Totals {
    fn default() -> Totals {
        Totals {
            sessions: 0,
            people_helped: 0,
            unique_beneficiaries: 0,
            minutes: 0,
            active_volunteers: 0,
            volunteers_meeting_target: 0,
            target_per_volunteer: Totals::TARGET_PER_VOLUNTEER,
        }
    }
}

/// One week.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeekStat {
    /// Its first day, `YYYY-MM-DD`.
    pub week_start: String,
    pub sessions: u64,
    pub people_helped: u64,
}

/// One help type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HelpTypeStat {
    /// A help type code.
    pub help_type: String,
    pub sessions: u64,
    pub people_helped: u64,
}

/// One village.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VillageStat {
    pub village_code: String,
    pub sessions: u64,
    pub people_helped: u64,
}

/// One volunteer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolunteerStat {
    pub name: String,
    pub sessions: u64,
    pub people_helped: u64,
}

/// A chart and its table, under a heading.
fn chart_section(
    id: &str,
    heading: &str,
    chart: Markup,
    table: Markup,
    empty: bool,
    lang: Lang,
) -> Markup {
    html! {
        section.chart-section aria-labelledby={ (id) "-h" } {
            h2 id={ (id) "-h" } { (heading) }
            @if empty {
                p.empty { (lang.t(Text::NoData)) }
            } @else {
                div.chart-pair {
                    figure.chart-box { (chart) }
                    (layout::table_region(&format!("{heading}: {}", lang.t(Text::ChartData)), table))
                }
            }
        }
    }
}

fn count_table(lang: Lang, first: &str, rows: &[(String, u64, u64)]) -> Markup {
    html! {
        table.data.compact {
            thead {
                tr {
                    th scope="col" { (first) }
                    th scope="col" .num { (lang.t(Text::ColSessions)) }
                    th scope="col" .num { (lang.t(Text::ColPeopleHelped)) }
                }
            }
            tbody {
                @for (label, sessions, people) in rows {
                    tr {
                        th scope="row" { (label) }
                        td.num { (i18n::number(*sessions)) }
                        td.num { (i18n::number(*people)) }
                    }
                }
            }
        }
    }
}

/// The programme page. Its period form is a GET of [`urls::PROGRAMME`]
/// with `from` and `to`.
pub fn programme(ctx: &PageContext, page: &ProgrammePage) -> Markup {
    let lang = ctx.lang;
    let title = lang.t(Text::ProgrammeTitle);
    let t = &page.totals;
    let target = t.target_per_volunteer;

    let week_labels: Vec<String> = page
        .weeks
        .iter()
        .map(|w| i18n::short_date(lang, &w.week_start))
        .collect();
    let week_series = [
        Series {
            name: lang.t(Text::ColSessions).to_owned(),
            values: page.weeks.iter().map(|w| w.sessions).collect(),
        },
        Series {
            name: lang.t(Text::ColPeopleHelped).to_owned(),
            values: page.weeks.iter().map(|w| w.people_helped).collect(),
        },
    ];
    let week_max = page
        .weeks
        .iter()
        .map(|w| w.sessions.max(w.people_helped))
        .max()
        .unwrap_or(0);
    let weeks_chart = charts::columns(
        "chart-weeks",
        lang.t(Text::ChartWeeks),
        &i18n::chart_summary(lang, page.weeks.len(), week_max),
        &week_labels,
        &week_series,
    );
    let week_rows: Vec<(String, u64, u64)> = page
        .weeks
        .iter()
        .map(|w| (i18n::date(lang, &w.week_start), w.sessions, w.people_helped))
        .collect();

    let type_rows: Vec<(String, u64, u64)> = page
        .help_types
        .iter()
        .map(|h| {
            (
                i18n::help_type_label(lang, &h.help_type),
                h.sessions,
                h.people_helped,
            )
        })
        .collect();
    let village_rows: Vec<(String, u64, u64)> = page
        .villages
        .iter()
        .map(|v| (v.village_code.clone(), v.sessions, v.people_helped))
        .collect();
    let bars_of = |rows: &[(String, u64, u64)]| -> Vec<Bar> {
        rows.iter()
            .map(|(label, sessions, _)| Bar {
                label: label.clone(),
                value: *sessions,
            })
            .collect()
    };
    let max_of = |rows: &[(String, u64, u64)]| rows.iter().map(|r| r.1).max().unwrap_or(0);
    let types_chart = charts::bars(
        "chart-types",
        lang.t(Text::ChartHelpTypes),
        &i18n::chart_summary(lang, type_rows.len(), max_of(&type_rows)),
        &bars_of(&type_rows),
        None,
    );
    let villages_chart = charts::bars(
        "chart-villages",
        lang.t(Text::ChartVillages),
        &i18n::chart_summary(lang, village_rows.len(), max_of(&village_rows)),
        &bars_of(&village_rows),
        None,
    );
    let volunteer_bars: Vec<Bar> = page
        .volunteers
        .iter()
        .map(|v| Bar {
            label: v.name.clone(),
            value: v.people_helped,
        })
        .collect();
    let volunteers_chart = charts::bars(
        "chart-volunteers",
        lang.t(Text::ChartVolunteers),
        &i18n::meeting_summary(lang, t.volunteers_meeting_target, t.active_volunteers),
        &volunteer_bars,
        Some(&Target {
            value: target,
            label: i18n::target_label(lang, target),
        }),
    );
    let volunteers_table = html! {
        table.data.compact {
            thead {
                tr {
                    th scope="col" { (lang.t(Text::ColVolunteer)) }
                    th scope="col" .num { (lang.t(Text::ColSessions)) }
                    th scope="col" .num { (lang.t(Text::ColPeopleHelped)) }
                    th scope="col" { (lang.t(Text::ColTarget)) }
                }
            }
            tbody {
                @for v in &page.volunteers {
                    @let meets = v.people_helped >= target;
                    tr class=[layout::classes(&[("meets", meets)])] {
                        th scope="row" { (v.name) }
                        td.num { (i18n::number(v.sessions)) }
                        td.num { (i18n::number(v.people_helped)) }
                        td {
                            @if meets {
                                span.flag.flag-ok { (lang.t(Text::MeetsTarget)) }
                            } @else {
                                span.flag.flag-below { (lang.t(Text::BelowTarget)) }
                            }
                        }
                    }
                }
            }
        }
    };

    let content = html! {
        form method="get" action=(urls::PROGRAMME) class="filter-grid period" {
            div.field {
                label for="p-from" { (lang.t(Text::FilterFrom)) }
                input #p-from type="date" name="from" value=(page.from);
            }
            div.field {
                label for="p-to" { (lang.t(Text::FilterTo)) }
                input #p-to type="date" name="to" value=(page.to);
            }
            div.actions { button.primary type="submit" { (lang.t(Text::Show)) } }
        }
        @if let Some(code) = &page.period_error {
            div.flash.err role="alert" { (layout::error_text(lang, code)) }
        }
        section aria-labelledby="totals-h" {
            h2 #totals-h .sr-only { (lang.t(Text::Period)) }
            dl.totals {
                div { dt { (lang.t(Text::TotalSessions)) } dd { (i18n::number(t.sessions)) } }
                div { dt { (lang.t(Text::TotalPeople)) } dd { (i18n::number(t.people_helped)) } }
                div { dt { (lang.t(Text::TotalBeneficiaries)) } dd { (i18n::number(t.unique_beneficiaries)) } }
                div { dt { (lang.t(Text::TotalHours)) } dd { (i18n::hours(t.minutes)) } }
                div { dt { (lang.t(Text::TotalActive)) } dd { (i18n::number(t.active_volunteers)) } }
                div { dt { (lang.t(Text::TotalMeeting)) } dd { (i18n::number(t.volunteers_meeting_target)) } }
                div { dt { (lang.t(Text::TotalTarget)) } dd { (i18n::number(target)) } }
            }
        }
        (chart_section("weeks", lang.t(Text::ChartWeeks), weeks_chart,
            count_table(lang, lang.t(Text::ColWeekOf), &week_rows), page.weeks.is_empty(), lang))
        (chart_section("types", lang.t(Text::ChartHelpTypes), types_chart,
            count_table(lang, lang.t(Text::ColHelpType), &type_rows), type_rows.is_empty(), lang))
        (chart_section("villages", lang.t(Text::ChartVillages), villages_chart,
            count_table(lang, lang.t(Text::ColVillage), &village_rows), village_rows.is_empty(), lang))
        (chart_section("volunteers", lang.t(Text::ChartVolunteers), volunteers_chart,
            volunteers_table, page.volunteers.is_empty(), lang))
    };
    layout::page(ctx, Some(NavItem::Programme), title, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;

    fn page() -> ProgrammePage {
        ProgrammePage {
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
            period_error: None,
            totals: Totals {
                sessions: 1234,
                people_helped: 2345,
                unique_beneficiaries: 870,
                minutes: 55_530,
                active_volunteers: 20,
                volunteers_meeting_target: 12,
                target_per_volunteer: 4,
            },
            weeks: (0..5)
                .map(|i| WeekStat {
                    week_start: format!("2026-11-{:02}", 2 + 7 * i),
                    sessions: 40 + i,
                    people_helped: 80 + 3 * i,
                })
                .collect(),
            help_types: vec![
                HelpTypeStat {
                    help_type: "welfare_rights".into(),
                    sessions: 500,
                    people_helped: 900,
                },
                HelpTypeStat {
                    help_type: "fake_news".into(),
                    sessions: 30,
                    people_helped: 45,
                },
            ],
            villages: vec![VillageStat {
                village_code: "50010203".into(),
                sessions: 700,
                people_helped: 1400,
            }],
            volunteers: vec![
                VolunteerStat {
                    name: "สมชาย ใจดี".into(),
                    sessions: 10,
                    people_helped: 12,
                },
                VolunteerStat {
                    name: "สมหญิง มีสุข".into(),
                    sessions: 2,
                    people_helped: 3,
                },
            ],
        }
    }

    #[test]
    fn totals_and_charts_with_their_tables() {
        let html = programme(&context(), &page()).into_string();
        sample("programme-th", &html);
        assert!(html.contains("<dd>1,234</dd>"));
        assert!(html.contains("<dd>2,345</dd>"));
        assert!(html.contains("<dd>870</dd>"));
        assert!(html.contains("<dd>925.5</dd>"));
        assert!(html.contains("<dd>12</dd>"));
        assert!(html.contains("<dd>4</dd>"));
        assert!(html.contains("อาสาสมัครที่ถึงเป้าหมาย 1:4"));
        assert_eq!(html.matches("<svg").count(), 4);
        assert_eq!(html.matches(r#"role="img""#).count(), 4);
        assert!(html.contains("เป้าหมาย 4 คน"));
        assert!(html.contains("อาสาสมัคร 12 คนจาก 20 คนถึงเป้าหมาย"));
        assert!(html.contains("สิทธิสวัสดิการของรัฐ"));
        assert!(html.contains("2 พ.ย."));
        assert!(html.contains("<th scope=\"row\">2 พ.ย. 2569</th>"));
        assert!(html.contains(">ถึงเป้าหมาย</span>"));
        assert!(html.contains(">ยังไม่ถึงเป้าหมาย</span>"));
        assert!(html.contains(r#"<form method="get" action="/programme""#));
        assert!(html.contains(r#"name="from" value="2026-11-01""#));
        assert!(html.contains(r#"<a href="/programme" aria-current="page">"#));
        check_accessible(&html);
    }

    #[test]
    fn an_empty_period_has_no_charts_and_no_division_by_zero() {
        let p = ProgrammePage::default();
        let html = programme(&context(), &p).into_string();
        sample("programme-th-empty", &html);
        assert_eq!(html.matches("ยังไม่มีข้อมูลในช่วงเวลานี้").count(), 4);
        assert!(!html.contains("<svg"));
        assert!(html.contains("<dd>0.0</dd>"));
        assert!(!html.contains("NaN"));
        check_accessible(&html);
    }

    #[test]
    fn names_in_charts_are_escaped() {
        let mut p = page();
        p.volunteers[0].name = r#"<script>alert(1)</script>"#.into();
        p.villages[0].village_code = r#""><img src=x onerror=alert(1)>"#.into();
        let html = programme(&english(), &p).into_string();
        sample("programme-en", &html);
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(html.contains("Volunteers against the target"));
    }
}
