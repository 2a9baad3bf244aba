//! Duplicates: beneficiaries of the centre who may be one person, with why
//! (same national id, same phone, a similar name in the same village), and
//! two forms per pair: "not the same person" (dismiss) and "the same
//! person" (merge the second record into the first).

use maud::{html, Markup};

use super::i18n::{self, Text};
use super::layout::{self, NavItem, PageContext};
use super::urls;

/// The duplicates page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DuplicatesPage {
    pub rows: Vec<DuplicateRow>,
}

/// One pair: `a` is kept when the two are merged, `b` merged into it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DuplicateRow {
    pub a: Person,
    pub b: Person,
    /// `national_id`, `phone`, `name_village_birth_year`.
    pub reasons: Vec<String>,
    /// 0..=1.
    pub score: f64,
    /// The error of the last try on this pair (`forbidden`, ...).
    pub error: Option<String>,
}

/// One side of a pair, as a manager tells people apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub village: String,
    pub birth_year: Option<i64>,
    /// The phone as the manager may see it.
    pub phone: Option<String>,
}

fn reason(lang: super::Lang, code: &str) -> &'static str {
    match code {
        "national_id" => lang.t(Text::ReasonNationalId),
        "phone" => lang.t(Text::ReasonPhone),
        _ => lang.t(Text::ReasonName),
    }
}

fn person(lang: super::Lang, p: &Person) -> Markup {
    html! {
        a href=(urls::beneficiary(&p.id)) { (p.name) }
        br;
        span.meta {
            (lang.t(Text::ColVillage)) " " (p.village)
            @if let Some(year) = p.birth_year { " · " (lang.t(Text::ColBirthYear)) " " (year) }
            @if let Some(phone) = &p.phone { " · " (phone) }
        }
    }
}

/// The duplicates page. Each pair's forms post `csrf`, `a` and `b` to
/// [`urls::DISMISS_DUPLICATE`] and [`urls::MERGE_DUPLICATE`].
pub fn duplicates(ctx: &PageContext, page: &DuplicatesPage) -> Markup {
    let lang = ctx.lang;
    let title = lang.t(Text::DuplicatesTitle);
    let content = html! {
        p.intro { (lang.t(Text::DuplicatesIntro)) }
        @if page.rows.is_empty() {
            p.empty { (lang.t(Text::NoDuplicates)) }
        } @else {
            // A card per pair, not a table: on a phone both people, why,
            // and the two buttons are in view without scrolling sideways.
            ol.pairs {
                @for row in &page.rows {
                    li.card.pair {
                        h2 { (row.a.name) " · " (row.b.name) }
                        dl.pair-people {
                            div {
                                dt { (lang.t(Text::ColPersonKept)) }
                                dd { (person(lang, &row.a)) }
                            }
                            div {
                                dt { (lang.t(Text::ColPersonMerged)) }
                                dd { (person(lang, &row.b)) }
                            }
                            div {
                                dt { (lang.t(Text::ColWhy)) }
                                dd {
                                    @for (i, r) in row.reasons.iter().enumerate() {
                                        @if i > 0 { " · " }
                                        (reason(lang, r))
                                    }
                                }
                            }
                            div {
                                dt { (lang.t(Text::ColLikeness)) }
                                dd { (format!("{:.0}%", row.score * 100.0)) }
                            }
                        }
                        div.actions {
                            (layout::post_form(urls::MERGE_DUPLICATE, &ctx.csrf, "inline", html! {
                                input type="hidden" name="a" value=(row.a.id);
                                input type="hidden" name="b" value=(row.b.id);
                                button type="submit" { (lang.t(Text::SamePerson)) }
                            }))
                            (layout::post_form(urls::DISMISS_DUPLICATE, &ctx.csrf, "inline", html! {
                                input type="hidden" name="a" value=(row.a.id);
                                input type="hidden" name="b" value=(row.b.id);
                                button.secondary type="submit" { (lang.t(Text::NotSamePerson)) }
                            }))
                        }
                        @if let Some(code) = &row.error {
                            p.error role="alert" { (i18n::error_message(lang, code)) }
                        }
                    }
                }
            }
        }
    };
    layout::page(ctx, Some(NavItem::Duplicates), title, content)
}
