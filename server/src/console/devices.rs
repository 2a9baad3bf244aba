//! Devices: who has which phone, when it last synced, how far its clock is
//! off, and a form to unbind a lost phone.

use maud::{html, Markup};

use super::i18n::{self, Text};
use super::layout::{self, NavItem, PageContext};
use super::{short_id, urls};

/// A clock further off than this (either way) is marked.
pub const SKEW_LIMIT_MS: i64 = 5 * 60 * 1000;
/// A device that has not pushed for longer than this is marked.
pub const STALE_AFTER_SECS: i64 = 3 * 86_400;

/// The devices page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DevicesPage {
    /// The server's time now (unix seconds), to tell stale devices.
    pub now: i64,
    pub rows: Vec<DeviceRow>,
}

/// One bound device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceRow {
    /// The device id (a UUID); the page shows its last 8 hex digits.
    pub device_id: String,
    /// The display name of the user it is bound to.
    pub volunteer_name: String,
    /// When it was bound to this user (unix seconds).
    pub bound_at: Option<i64>,
    /// Its last authenticated request (unix seconds).
    pub last_seen_at: Option<i64>,
    /// Its last push (unix seconds).
    pub last_push_at: Option<i64>,
    /// How many of its changes the server has acknowledged.
    pub acked_seq: u64,
    /// Its changes rejected in the last 7 days.
    pub rejections_7d: u64,
    /// Its clock minus the server's at its last push (milliseconds).
    pub clock_offset_ms: Option<i64>,
    /// The error of the last unbind try (`confirm_mismatch`, `forbidden`, ...).
    pub error: Option<String>,
}

impl DeviceRow {
    /// Its clock is more than [`SKEW_LIMIT_MS`] off.
    pub fn skewed(&self) -> bool {
        self.clock_offset_ms
            .is_some_and(|o| o.unsigned_abs() > SKEW_LIMIT_MS.unsigned_abs())
    }

    /// No push for more than [`STALE_AFTER_SECS`] (counted from its binding
    /// when it never pushed).
    pub fn stale(&self, now: i64) -> bool {
        match self.last_push_at.or(self.bound_at) {
            Some(t) => now.saturating_sub(t) > STALE_AFTER_SECS,
            None => true,
        }
    }
}

fn when(lang: super::Lang, at: Option<i64>, now: i64) -> Markup {
    html! {
        @match at {
            Some(t) => {
                (layout::moment(lang, t))
                @if let Some(ago) = i18n::ago(lang, t, now) {
                    br; span.meta { (ago) }
                }
            },
            None => span.none { (lang.t(Text::Never)) },
        }
    }
}

/// The devices page. Each device's unbind form posts `csrf` and `confirm`
/// (the device's short id, typed) to [`urls::unbind_device`].
pub fn devices(ctx: &PageContext, page: &DevicesPage) -> Markup {
    let lang = ctx.lang;
    let title = lang.t(Text::DevicesTitle);
    let content = html! {
        p.intro { (lang.t(Text::DevicesIntro)) }
        @if page.rows.is_empty() {
            p.empty { (lang.t(Text::NoDevices)) }
        } @else {
            p.hint #clock-hint { (lang.t(Text::ClockHint)) }
            (layout::table_region(title, html! {
                table.data.devices {
                    thead {
                        tr {
                            th scope="col" { (lang.t(Text::ColVolunteer)) }
                            th scope="col" { (lang.t(Text::ColDeviceId)) }
                            th scope="col" { (lang.t(Text::ColStatus)) }
                            th scope="col" { (lang.t(Text::ColLastSeen)) }
                            th scope="col" { (lang.t(Text::ColLastSync)) }
                            th scope="col" .num { (lang.t(Text::ColAcked)) }
                            th scope="col" .num { (lang.t(Text::ColRejected)) }
                            th scope="col" .num aria-describedby="clock-hint" { (lang.t(Text::ColClock)) }
                            th scope="col" { (lang.t(Text::Manage)) }
                        }
                    }
                    tbody {
                        @for (i, d) in page.rows.iter().enumerate() {
                            @let skewed = d.skewed();
                            @let stale = d.stale(page.now);
                            tr class=[layout::classes(&[("is-skewed", skewed), ("is-stale", stale)])] {
                                th scope="row" { (d.volunteer_name) }
                                td { code title=(d.device_id) { (short_id(&d.device_id)) } }
                                td {
                                    @if skewed { span.flag.flag-skewed { (lang.t(Text::FlagSkewed)) } " " }
                                    @if stale { span.flag.flag-stale { (lang.t(Text::FlagStale)) } }
                                    @if !skewed && !stale { span.flag.flag-ok { (lang.t(Text::FlagOk)) } }
                                }
                                td { (when(lang, d.last_seen_at, page.now)) }
                                td { (when(lang, d.last_push_at, page.now)) }
                                td.num { (i18n::number(d.acked_seq)) }
                                td.num { (i18n::number(d.rejections_7d)) }
                                td.num {
                                    @match d.clock_offset_ms {
                                        Some(o) => (i18n::clock_offset(lang, o)),
                                        None => span.none { (lang.t(Text::Unknown)) },
                                    }
                                }
                                td {
                                    a href={ "#unbind-" (i) } {
                                        (lang.t(Text::Unbind))
                                        span.sr-only { ": " (d.volunteer_name) " " (short_id(&d.device_id)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }))
            section.manage aria-labelledby="unbind-h" {
                h2 #unbind-h { (lang.t(Text::Unbind)) }
                p.warning #unbind-warning { (lang.t(Text::UnbindWarning)) }
                @for (i, d) in page.rows.iter().enumerate() {
                    (unbind_card(ctx, i, d))
                }
            }
        }
    };
    layout::page(ctx, Some(NavItem::Devices), title, content)
}

fn unbind_card(ctx: &PageContext, i: usize, d: &DeviceRow) -> Markup {
    let lang = ctx.lang;
    let short = short_id(&d.device_id);
    let confirm_id = format!("unbind-{i}-confirm");
    let error = d.error.is_some();
    let described = match layout::described_by(&confirm_id, false, error) {
        Some(e) => format!("unbind-warning {e}"),
        None => "unbind-warning".to_owned(),
    };
    html! {
        details.card.manage-card id={ "unbind-" (i) } open[error] {
            summary { h3 { (d.volunteer_name) " · " code { (short) } } }
            (layout::post_form(&urls::unbind_device(&d.device_id), &ctx.csrf, "stack", html! {
                div.field {
                    label for=(confirm_id) { (i18n::unbind_confirm_label(lang, &short)) }
                    input id=(confirm_id) type="text" name="confirm" required
                        autocomplete="off" autocapitalize="none" spellcheck="false"
                        aria-invalid=[error.then_some("true")] aria-describedby=(described);
                    (layout::field_error(lang, &confirm_id, d.error.as_deref()))
                }
                button.danger type="submit" { (lang.t(Text::Unbind)) }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;

    const NOW: i64 = 1_796_094_120;

    fn row(name: &str, id: &str, push_ago: Option<i64>, offset: Option<i64>) -> DeviceRow {
        DeviceRow {
            device_id: id.into(),
            volunteer_name: name.into(),
            bound_at: Some(NOW - 30 * 86_400),
            last_seen_at: push_ago.map(|a| NOW - a + 60),
            last_push_at: push_ago.map(|a| NOW - a),
            acked_seq: 1234,
            rejections_7d: 2,
            clock_offset_ms: offset,
            error: None,
        }
    }

    fn page() -> DevicesPage {
        DevicesPage {
            now: NOW,
            rows: vec![
                row(
                    "สมชาย ใจดี",
                    "6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11",
                    Some(600),
                    Some(1_500),
                ),
                row(
                    "สมหญิง มีสุข",
                    "0c8e2f4a-1111-4c55-9a37-aaaabbbbcccc",
                    Some(3_600),
                    Some(3 * 86_400_000 + 7_200_000),
                ),
                row(
                    "ประยุทธ ขยัน",
                    "11111111-2222-4333-8444-555566667777",
                    Some(4 * 86_400),
                    Some(-60_000),
                ),
                row(
                    "วิชัย ใหม่",
                    "99999999-2222-4333-8444-000000000001",
                    None,
                    None,
                ),
            ],
        }
    }

    #[test]
    fn rows_show_the_device_its_syncs_and_its_clock() {
        let html = devices(&context(), &page()).into_string();
        assert!(html.contains("สมชาย ใจดี"));
        assert!(
            html.contains(r#"<code title="6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11">1c9e0a11</code>"#)
        );
        assert!(html.contains("10 นาทีที่แล้ว"));
        assert!(html.contains("1,234"));
        assert!(html.contains("+3 วัน 2 ชม."));
        assert!(html.contains("\u{2212}1 นาที"));
        assert!(html.contains("+1 วินาที"));
        assert!(html.contains("ยังไม่เคย"));
        assert!(html.contains("ไม่ทราบ"));
        assert!(html.contains(r#"<a href="/devices" aria-current="page">"#));
        check_accessible(&html);
    }

    #[test]
    fn skewed_and_stale_rows_are_marked_in_words() {
        let html = devices(&context(), &page()).into_string();
        assert_eq!(html.matches(r#"<tr class="is-skewed">"#).count(), 1);
        assert_eq!(html.matches(r#"<tr class="is-stale">"#).count(), 2);
        assert_eq!(html.matches(">นาฬิกาเครื่องคลาดเคลื่อน</span>").count(), 1);
        assert_eq!(html.matches(">ไม่ได้ส่งข้อมูลเกิน 3 วัน</span>").count(), 2);
        assert_eq!(html.matches(">ปกติ</span>").count(), 1);
    }

    #[test]
    fn unbind_forms_ask_for_the_short_id() {
        let mut p = page();
        p.rows[1].error = Some("confirm_mismatch".into());
        let html = devices(&context(), &p).into_string();
        sample("devices-th", &html);
        assert_eq!(check_forms(&html, CSRF), 1 + 4);
        assert!(html.contains(r#"action="/devices/6f1c0b2e-8d1e-4c55-9a37-2f3d1c9e0a11/unbind""#));
        assert!(html.contains("พิมพ์รหัสอุปกรณ์ 1c9e0a11 เพื่อยืนยัน"));
        assert!(html.contains(r#"name="confirm" required"#));
        assert!(html.contains("เครื่องนี้จะออกจากระบบทันที"));
        assert!(html.contains(r#"<details class="card manage-card" id="unbind-1" open>"#));
        assert!(html.contains(r##"<a href="#unbind-1">"##));
        assert!(html.contains("รหัสที่พิมพ์ไม่ตรงกับรหัสอุปกรณ์"));
        assert!(html.contains(r#"aria-describedby="unbind-warning unbind-1-confirm-error""#));
        check_accessible(&html);
    }

    #[test]
    fn thresholds() {
        let mut d = row("a", "x", Some(STALE_AFTER_SECS), Some(SKEW_LIMIT_MS));
        assert!(!d.skewed());
        assert!(!d.stale(NOW));
        d.clock_offset_ms = Some(-SKEW_LIMIT_MS - 1);
        d.last_push_at = Some(NOW - STALE_AFTER_SECS - 1);
        assert!(d.skewed());
        assert!(d.stale(NOW));
        d.last_push_at = None;
        d.bound_at = Some(NOW - 60);
        assert!(!d.stale(NOW));
        d.bound_at = None;
        assert!(d.stale(NOW));
        d.clock_offset_ms = Some(i64::MIN);
        assert!(d.skewed());
    }

    #[test]
    fn english_and_empty() {
        let html = devices(&english(), &page()).into_string();
        sample("devices-en", &html);
        assert!(html.contains("+3 d 2 h"));
        assert!(html.contains("Clock is off"));
        let empty = devices(&english(), &DevicesPage::default()).into_string();
        assert!(empty.contains("No devices are bound."));
    }
}
