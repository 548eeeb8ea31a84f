//! A line chart as SVG, for the simulation examples (`overload`, `adaptive_pool`): a plot
//! area, horizontal grid lines with labels, labels along the time axis, dashed marks, one
//! coloured line per series with its name beside the plot, and a caption.

use std::fmt::Write as _;
use std::time::Duration;

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
    fn tick(&mut self, x: f64, label: &str) {
        let _ = write!(
            self.svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{label}</text>"#,
            self.x(x),
            TOP + self.height + 20.0
        );
    }

    /// The time axis of a run made of `phases`: a dashed line where each phase ends and the
    /// next begins, and a label every `every` seconds.
    pub(crate) fn time_axis(&mut self, phases: &[Duration], every: u64) {
        let total: Duration = phases.iter().sum();
        let mut at = Duration::ZERO;
        for length in &phases[..phases.len().saturating_sub(1)] {
            at += *length;
            self.mark(at.as_secs_f64() / total.as_secs_f64());
        }
        for second in (0..=total.as_secs()).step_by(every as usize) {
            self.tick(second as f64 / total.as_secs_f64(), &format!("{second} s"));
        }
    }

    /// A dashed vertical line at `x` (a change of load).
    fn mark(&mut self, x: f64) {
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

/// What a simulation example was asked for on its command line: `--json` (the figures as
/// JSON, no chart), and where the chart goes (`--svg PATH`, else `default`).
pub(crate) struct Options {
    pub(crate) json: bool,
    pub(crate) svg: String,
}

impl Options {
    pub(crate) fn from_args(default: &str) -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let svg = args
            .iter()
            .position(|arg| arg == "--svg")
            .and_then(|at| args.get(at + 1).cloned())
            .unwrap_or_else(|| default.to_owned());
        Self {
            json: args.iter().any(|arg| arg == "--json"),
            svg,
        }
    }

    /// Writes `svg` where the chart goes, and says where.
    pub(crate) fn write(&self, svg: &str) -> std::io::Result<()> {
        if let Some(dir) = std::path::Path::new(&self.svg).parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&self.svg, svg)?;
        println!("chart: {}", self.svg);
        Ok(())
    }
}
