//! A line chart as SVG, for the simulation examples (`overload`, `adaptive_pool`): a plot
//! area, horizontal grid lines with labels, labels along the time axis, dashed marks, one
//! coloured line per series with its name beside the plot, and a caption.

use std::fmt::Write as _;

const WIDTH: f64 = 800.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 20.0;
const COLORS: [&str; 4] = ["#d62728", "#1f77b4", "#ff7f0e", "#2ca02c"];

/// A chart being drawn; coordinates are fractions of the plot area: `x` from 0 (left) to 1,
/// `y` from 0 (bottom) to 1.
pub(crate) struct Chart {
    svg: String,
    height: f64,
    series: usize,
}

impl Chart {
    /// An empty chart whose plot area is `height` pixels high.
    pub(crate) fn new(height: f64) -> Self {
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">"#,
            LEFT + WIDTH + 140.0,
            TOP + height + 50.0
        );
        Self {
            svg,
            height,
            series: 0,
        }
    }

    fn x(&self, x: f64) -> f64 {
        LEFT + WIDTH * x
    }

    fn y(&self, y: f64) -> f64 {
        TOP + self.height * (1.0 - y)
    }

    /// A grid line across the plot at height `y`, labelled at the left.
    pub(crate) fn grid(&mut self, y: f64, label: &str) {
        let at = self.y(y);
        let _ = write!(
            self.svg,
            r##"<line x1="{LEFT}" y1="{at}" x2="{}" y2="{at}" stroke="#ddd"/><text x="5" y="{}">{label}</text>"##,
            LEFT + WIDTH,
            at + 4.0
        );
    }

    /// A label under the plot at `x`.
    pub(crate) fn tick(&mut self, x: f64, label: &str) {
        let _ = write!(
            self.svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{label}</text>"#,
            self.x(x),
            TOP + self.height + 20.0
        );
    }

    /// A dashed vertical line at `x` (a change of load).
    pub(crate) fn mark(&mut self, x: f64) {
        let at = self.x(x);
        let _ = write!(
            self.svg,
            r##"<line x1="{at}" y1="{TOP}" x2="{at}" y2="{}" stroke="#999" stroke-dasharray="4"/>"##,
            TOP + self.height
        );
    }

    /// One series: a line through `points` (`(x, y)`), named beside the plot.
    pub(crate) fn line(&mut self, name: &str, points: impl IntoIterator<Item = (f64, f64)>) {
        let points: Vec<String> = points
            .into_iter()
            .map(|(x, y)| format!("{:.1},{:.1}", self.x(x), self.y(y)))
            .collect();
        let color = COLORS[self.series % COLORS.len()];
        self.series += 1;
        let _ = write!(
            self.svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/><text x="{}" y="{}" fill="{color}">{name}</text>"#,
            points.join(" "),
            LEFT + WIDTH + 10.0,
            TOP + 20.0 * self.series as f64
        );
    }

    /// The chart, with `caption` under it.
    pub(crate) fn finish(mut self, caption: &str) -> String {
        let _ = write!(
            self.svg,
            r#"<text x="{LEFT}" y="{}">{caption}</text></svg>"#,
            TOP + self.height + 42.0
        );
        self.svg
    }
}
