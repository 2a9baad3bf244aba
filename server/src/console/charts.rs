//! Charts drawn on the server as inline SVG: pure functions from data to
//! markup. Each chart is an image with a title and a description
//! (`role="img"`, `aria-labelledby`); the page puts the same numbers beside it
//! in a table. Sizes come from the `viewBox`, so the stylesheet scales a chart
//! to its column's width; every label is escaped like any other text.
//!
//! Colours are classes (`.s0`, `.s1`, `.meets`, `.target`) styled in
//! `console.css`: the Content-Security-Policy forbids inline styles.

use maud::{html, Markup};

/// One bar: a label and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: u64,
}

/// One series of a column chart: its name (in the legend) and one value per
/// category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub values: Vec<u64>,
}

/// A line across a bar chart at `value`, labelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub value: u64,
    pub label: String,
}

/// The width of every chart's `viewBox`: narrow enough that text stays
/// legible when a phone shrinks the chart to its screen.
const WIDTH: f64 = 400.0;
const FONT: f64 = 13.0;

/// The smallest of 1, 2, 5 × 10ⁿ that is at least `max` (1 for 0): the top of
/// a chart's scale.
pub fn nice_ceiling(max: u64) -> u64 {
    let mut step: u64 = 1;
    loop {
        for m in [1, 2, 5] {
            let candidate = step.saturating_mul(m);
            if candidate >= max {
                return candidate;
            }
        }
        if step > u64::MAX / 10 {
            return u64::MAX;
        }
        step *= 10;
    }
}

/// A coordinate with at most one decimal (short SVG, stable tests).
fn n(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn ratio(value: u64, max: u64) -> f64 {
    if max == 0 {
        0.0
    } else {
        value as f64 / max as f64
    }
}

fn frame(id: &str, title: &str, desc: &str, height: f64, class: &str, body: Markup) -> Markup {
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    html! {
        svg class={ "chart " (class) } id=(id) viewBox={ "0 0 " (n(WIDTH)) " " (n(height)) }
            width="100%" role="img" aria-labelledby={ (title_id) " " (desc_id) } focusable="false" {
            title id=(title_id) { (title) }
            desc id=(desc_id) { (desc) }
            (body)
        }
    }
}

/// Vertical columns, one group per category and one column per series in
/// it, with a legend, a scale on the left and category labels below (thinned
/// out when there are many).
pub fn columns(
    id: &str,
    title: &str,
    desc: &str,
    categories: &[String],
    series: &[Series],
) -> Markup {
    let (top, bottom, left, right) = (28.0, 26.0, 34.0, 6.0);
    let height = 220.0;
    let plot_w = WIDTH - left - right;
    let plot_h = height - top - bottom;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let scale = nice_ceiling(max);
    let groups = categories.len().max(1) as f64;
    let group_w = plot_w / groups;
    let per_group = series.len().max(1) as f64;
    let bar_w = group_w * 0.8 / per_group;
    let max_labels = (plot_w / 44.0).floor().max(1.0) as usize;
    let every = categories.len().div_ceil(max_labels).max(1);
    let base = top + plot_h;
    let mut ticks = vec![0, scale];
    if scale.is_multiple_of(2) && scale >= 2 {
        ticks.insert(1, scale / 2);
    }
    let body = html! {
        g.legend {
            @for (j, s) in series.iter().enumerate() {
                @let x = left + j as f64 * 120.0;
                rect class={ "s" (j % 4) } x=(n(x)) y="6" width="10" height="10" {}
                text x=(n(x + 14.0)) y="15" font-size=(n(FONT)) { (s.name) }
            }
        }
        g.axis {
            @for t in &ticks {
                @let y = base - ratio(*t, scale) * plot_h;
                line x1=(n(left)) x2=(n(WIDTH - right)) y1=(n(y)) y2=(n(y)) {}
                text x=(n(left - 4.0)) y=(n(y + 4.0)) font-size=(n(FONT - 1.0)) text-anchor="end" {
                    (super::i18n::number(*t))
                }
            }
        }
        @for (i, category) in categories.iter().enumerate() {
            @let gx = left + i as f64 * group_w;
            g {
                @for (j, s) in series.iter().enumerate() {
                    @let value = s.values.get(i).copied().unwrap_or(0);
                    @let h = ratio(value, scale) * plot_h;
                    rect class={ "s" (j % 4) } x=(n(gx + group_w * 0.1 + j as f64 * bar_w))
                        y=(n(base - h)) width=(n(bar_w)) height=(n(h)) {
                        title { (category) " · " (s.name) ": " (super::i18n::number(value)) }
                    }
                }
                @if i % every == 0 {
                    text x=(n(gx + group_w / 2.0)) y=(n(base + 16.0)) font-size=(n(FONT - 1.0))
                        text-anchor="middle" { (category) }
                }
            }
        }
    };
    frame(id, title, desc, height, "columns", body)
}

/// Horizontal bars, one row per bar: the label above its bar, the value
/// after it. With a target, a dashed line marks it, bars that reach it get
/// the class `meets`, and the scale always shows it.
pub fn bars(id: &str, title: &str, desc: &str, bars: &[Bar], target: Option<&Target>) -> Markup {
    let row = 34.0;
    let side = 4.0;
    let value_space = 56.0;
    let top = if target.is_some() { 22.0 } else { 4.0 };
    let height = top + bars.len().max(1) as f64 * row + 6.0;
    let bar_max = WIDTH - 2.0 * side - value_space;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0);
    let scale = max.max(target.map_or(0, |t| t.value)).max(1);
    let x_of = |v: u64| side + ratio(v, scale) * bar_max;
    let body = html! {
        @for (i, bar) in bars.iter().enumerate() {
            @let y = top + i as f64 * row;
            @let w = x_of(bar.value) - side;
            @let meets = target.is_some_and(|t| bar.value >= t.value);
            g {
                text x=(n(side)) y=(n(y + 12.0)) font-size=(n(FONT)) { (bar.label) }
                rect.s0.meets[meets] x=(n(side)) y=(n(y + 16.0)) width=(n(w)) height="12" {}
                text.value x=(n(side + w + 4.0)) y=(n(y + 26.0)) font-size=(n(FONT)) {
                    (super::i18n::number(bar.value))
                }
            }
        }
        @if let Some(t) = target {
            @let x = x_of(t.value);
            g.target {
                line x1=(n(x)) x2=(n(x)) y1=(n(top - 6.0)) y2=(n(height - 2.0)) {}
                text x=(n(x.clamp(40.0, WIDTH - 40.0))) y="12" font-size=(n(FONT)) text-anchor="middle" {
                    (t.label)
                }
            }
        }
    };
    frame(id, title, desc, height, "bars", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::tags;

    fn bar(label: &str, value: u64) -> Bar {
        Bar {
            label: label.into(),
            value,
        }
    }

    fn numbers(svg: &str, tag: &str, attr: &str) -> Vec<f64> {
        tags(svg)
            .iter()
            .filter(|t| t.name == tag)
            .filter_map(|t| t.attr(attr).map(|v| v.parse::<f64>().expect(attr)))
            .collect()
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(40), 50);
        assert_eq!(nice_ceiling(1234), 2000);
        assert_eq!(nice_ceiling(u64::MAX), u64::MAX);
    }

    #[test]
    fn charts_are_accessible_images() {
        let svg = bars("c1", "ชื่อ", "คำอธิบาย", &[bar("ก", 1)], None).into_string();
        assert!(svg.starts_with("<svg class=\"chart bars\" id=\"c1\" viewBox=\"0 0 400 "));
        assert!(svg.contains(r#"role="img" aria-labelledby="c1-title c1-desc""#));
        assert!(svg.contains(r#"<title id="c1-title">ชื่อ</title>"#));
        assert!(svg.contains(r#"<desc id="c1-desc">คำอธิบาย</desc>"#));
        assert!(svg.contains(r#"width="100%""#));
        // Every SVG element is closed: no void `<rect ...>` swallowing the next.
        assert_eq!(svg.matches("<rect").count(), svg.matches("</rect>").count());
        assert_eq!(svg.matches("<line").count(), svg.matches("</line>").count());
    }

    #[test]
    fn zero_data_draws_nothing_and_divides_by_nothing() {
        let empty = bars("e", "t", "d", &[], None).into_string();
        assert!(!empty.contains("NaN") && !empty.contains("inf"));
        assert!(!empty.contains("<rect"));
        let zeros = bars("z", "t", "d", &[bar("a", 0), bar("b", 0)], None).into_string();
        assert!(!zeros.contains("NaN"));
        assert_eq!(numbers(&zeros, "rect", "width"), vec![0.0, 0.0]);
        let cols = columns("c", "t", "d", &[], &[]).into_string();
        assert!(!cols.contains("NaN") && !cols.contains("inf"));
        let cols = columns(
            "c",
            "t",
            "d",
            &["w1".into()],
            &[Series {
                name: "s".into(),
                values: vec![0],
            }],
        )
        .into_string();
        assert!(!cols.contains("NaN"));
        assert!(numbers(&cols, "rect", "height").contains(&0.0));
    }

    #[test]
    fn one_bar_fills_the_scale() {
        let svg = bars("o", "t", "d", &[bar("ก", 7)], None).into_string();
        let widths = numbers(&svg, "rect", "width");
        assert_eq!(widths, vec![WIDTH - 8.0 - 56.0]);
        assert!(svg.contains(">7</text>"));
    }

    #[test]
    fn many_bars_scale_to_the_largest_and_grow_the_chart() {
        let data: Vec<Bar> = (0..30).map(|i| bar(&format!("หมู่ {i}"), i * 10)).collect();
        let svg = bars("m", "t", "d", &data, None).into_string();
        let widths = numbers(&svg, "rect", "width");
        assert_eq!(widths.len(), 30);
        assert!(widths.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(widths[29], WIDTH - 8.0 - 56.0);
        assert!((widths[15] - widths[29] * 150.0 / 290.0).abs() < 0.1);
        let vb = tags(&svg)[0].attr("viewBox").unwrap().to_owned();
        let h: f64 = vb.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(h > 30.0 * 34.0);
    }

    #[test]
    fn a_target_line_shows_and_marks_the_bars_that_reach_it() {
        let target = Target {
            value: 4,
            label: "เป้าหมาย 4 คน".into(),
        };
        let svg = bars(
            "t",
            "t",
            "d",
            &[bar("ก", 2), bar("ข", 4), bar("ค", 0)],
            Some(&target),
        )
        .into_string();
        assert!(svg.contains("เป้าหมาย 4 คน"));
        assert_eq!(svg.matches("class=\"s0 meets\"").count(), 1);
        // The scale reaches the target even when no bar does.
        let low = bars("l", "t", "d", &[bar("ก", 1)], Some(&target)).into_string();
        let line = tags(&low).into_iter().find(|t| t.name == "line").unwrap();
        let x: f64 = line.attr("x1").unwrap().parse().unwrap();
        assert_eq!(x, 4.0 + WIDTH - 8.0 - 56.0);
    }

    #[test]
    fn columns_group_series_and_thin_labels() {
        let cats: Vec<String> = (1..=52).map(|w| format!("w{w}")).collect();
        let s = vec![
            Series {
                name: "ครั้ง".into(),
                values: (1..=52).collect(),
            },
            Series {
                name: "คน".into(),
                values: (1..=52).map(|v| v * 3).collect(),
            },
        ];
        let svg = columns("w", "t", "d", &cats, &s).into_string();
        assert_eq!(svg.matches("class=\"s0\"").count(), 53); // 52 columns + legend
        assert_eq!(svg.matches("class=\"s1\"").count(), 53);
        let labels = svg.matches("text-anchor=\"middle\"").count();
        assert!((6..52).contains(&labels), "{labels}");
        assert!(svg.contains(">200</text>")); // the scale's top: 156 → 200
        let heights = numbers(&svg, "rect", "height");
        assert!(heights.iter().all(|h| h.is_finite() && *h >= 0.0));
    }

    #[test]
    fn labels_are_escaped() {
        let evil = r#"<script>alert(1)</script>"><img src=x onerror=alert(1)>"#;
        let svg = bars(
            "x",
            evil,
            evil,
            &[bar(evil, 3)],
            Some(&Target {
                value: 1,
                label: evil.into(),
            }),
        )
        .into_string();
        let cols = columns(
            "y",
            evil,
            evil,
            &[evil.into()],
            &[Series {
                name: evil.into(),
                values: vec![1],
            }],
        )
        .into_string();
        for out in [svg, cols] {
            assert!(!out.contains("<script"));
            assert!(!out.contains("<img"));
            assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img"));
        }
        let id = bars(r#"a" onload="x"#, "t", "d", &[], None).into_string();
        assert!(id.contains(r#"id="a&quot; onload=&quot;x""#));
    }
}
