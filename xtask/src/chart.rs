//! One SVG bar chart per bench group: each case's throughput (items per second, or runs per
//! second for groups without a declared throughput), ours marked, fastest first.

use std::fmt::Write as _;

use crate::bench::Case;

/// Width of the drawing, the room for case names on the left, and one bar's height.
const WIDTH: f64 = 720.0;
const LABELS: f64 = 190.0;
const VALUES: f64 = 110.0;
const BAR: f64 = 22.0;
const GAP: f64 = 8.0;
const TOP: f64 = 34.0;

/// The chart of one group's `cases`, `ours` naming the cases drawn as ours.
pub(crate) fn group_svg(group: &str, cases: &[Case], ours: &[&str]) -> String {
    let mut rows: Vec<(&Case, f64)> = cases.iter().map(|case| (case, speed(case))).collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let fastest = rows.first().map_or(1.0, |row| row.1).max(f64::MIN_POSITIVE);
    let unit = if cases.iter().all(|case| case.elements.is_some()) {
        "items/s"
    } else {
        "runs/s"
    };
    let height = TOP + rows.len() as f64 * (BAR + GAP) + 10.0;
    let span = WIDTH - LABELS - VALUES;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r##"<text x="10" y="20" font-size="14" font-weight="bold">{} ({unit}, longer is faster)</text>"##,
        escape(group)
    );
    for (row, (case, value)) in rows.iter().enumerate() {
        let y = TOP + row as f64 * (BAR + GAP);
        let ours = ours.contains(&case.name.as_str());
        let (fill, class, weight) = if ours {
            ("#2f6fdf", "ours", "bold")
        } else {
            ("#9aa3b5", "peer", "normal")
        };
        let width = (value / fastest * span).max(1.0);
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end" font-weight="{weight}">{}</text>"##,
            LABELS - 8.0,
            y + BAR * 0.7,
            escape(&case.name)
        );
        let _ = writeln!(
            svg,
            r##"<rect class="{class}" x="{LABELS}" y="{y}" width="{width:.1}" height="{BAR}" fill="{fill}"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{}" font-weight="{weight}">{}</text>"##,
            LABELS + width + 6.0,
            y + BAR * 0.7,
            human_rate(*value)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Items per second when the group declares them, else runs per second.
fn speed(case: &Case) -> f64 {
    let per_run = case.elements.unwrap_or(1.0);
    if case.mean_ns > 0.0 {
        per_run / case.mean_ns * 1e9
    } else {
        0.0
    }
}

fn human_rate(per_second: f64) -> String {
    if per_second >= 1e9 {
        format!("{:.2} G", per_second / 1e9)
    } else if per_second >= 1e6 {
        format!("{:.2} M", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.2} k", per_second / 1e3)
    } else {
        format!("{per_second:.1}")
    }
}

/// Escapes text for SVG: `&`, `<`, `>` and quotes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A group's name as a file name: anything but letters, digits, `-` and `_` becomes `_`.
pub(crate) fn file_name(group: &str) -> String {
    let stem: String = group
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}.svg")
}

#[cfg(test)]
mod tests {
    use super::{file_name, group_svg};
    use crate::bench::Case;

    fn case(name: &str, mean_ns: f64, elements: Option<f64>) -> Case {
        Case {
            name: name.into(),
            mean_ns,
            elements,
        }
    }

    #[test]
    fn bars_are_in_proportion_fastest_first_and_ours_marked() {
        let cases = [
            case("slow <peer>", 4e6, Some(1e5)),
            case("pc", 1e6, Some(1e5)),
            case("mid", 2e6, Some(1e5)),
        ];
        let svg = group_svg("channel-ct", &cases, &["pc"]);
        let widths: Vec<(&str, f64)> = svg
            .lines()
            .filter(|line| line.starts_with("<rect class="))
            .map(|line| {
                let class = line.split('"').nth(1).unwrap();
                let width = line
                    .split("width=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                (class, width.parse().unwrap())
            })
            .collect();
        // 720 - 190 - 110 = 420 for the fastest; half and a quarter for the others.
        assert_eq!(widths, [("ours", 420.0), ("peer", 210.0), ("peer", 105.0)]);
        assert!(svg.contains("slow &lt;peer&gt;"), "{svg}");
        assert!(svg.contains(">100.00 M</text>"), "{svg}");
        assert!(svg.contains("items/s"));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
    }

    #[test]
    fn groups_without_a_throughput_chart_runs_per_second() {
        let svg = group_svg("lock-1t", &[case("pc", 2e6, None)], &["pc"]);
        assert!(svg.contains("runs/s"), "{svg}");
        assert!(svg.contains(">500.0</text>"), "{svg}");
    }

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(
            file_name("channel-ct-1p1c-cap16"),
            "channel-ct-1p1c-cap16.svg"
        );
        assert_eq!(file_name("a/b c"), "a_b_c.svg");
    }
}
