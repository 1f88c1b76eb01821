//! Pictures: a small SVG figure builder with axes and legends, contour lines, and PNG rendering.
//!
//! Every plot is drawn once as SVG; PNG is that SVG rasterized (so the two always agree).

pub mod contour;
pub mod png;

use std::fmt::Write;
use std::path::Path;

use anyhow::Result;

/// Colours for series, in order (Tableau 10: distinguishable, and friendly to colour-blindness).
pub const PALETTE: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/// A linear mapping from a data interval to a pixel interval.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Data interval.
    pub domain: (f64, f64),
    /// Pixel interval (may be reversed, as for y).
    pub range: (f64, f64),
}

impl Scale {
    /// The pixel coordinate of `value`.
    pub fn map(&self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        r0 + (value - d0) / (d1 - d0) * (r1 - r0)
    }
}

/// A figure with one set of axes, built up as SVG.
pub struct Figure {
    width: f64,
    height: f64,
    /// x mapping.
    pub x: Scale,
    /// y mapping.
    pub y: Scale,
    body: String,
    legend: Vec<(String, String)>,
    title: String,
    x_label: String,
    y_label: String,
    log_ticks: (bool, bool),
    /// Ticks of x at chosen places with chosen labels, instead of round values.
    x_ticks: Option<Vec<(f64, String)>>,
}

impl Figure {
    /// An empty figure of `width × height` pixels showing `x_domain × y_domain`.
    pub fn new(width: f64, height: f64, x_domain: (f64, f64), y_domain: (f64, f64)) -> Self {
        let (left, right, top, bottom) = (70.0, 20.0, 40.0, 55.0);
        Figure {
            width,
            height,
            x: Scale { domain: x_domain, range: (left, width - right) },
            y: Scale { domain: y_domain, range: (height - bottom, top) },
            body: String::new(),
            legend: Vec::new(),
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            log_ticks: (false, false),
            x_ticks: None,
        }
    }

    /// Puts the ticks of x at `ticks` (value on the axis, label): for a log axis of another base.
    pub fn x_ticks(mut self, ticks: Vec<(f64, String)>) -> Self {
        self.x_ticks = Some(ticks);
        self
    }

    /// Labels the ticks of x and/or y as powers of ten: the data on that axis are log₁₀ values.
    pub fn log_ticks(mut self, x: bool, y: bool) -> Self {
        self.log_ticks = (x, y);
        self
    }

    /// Fills the region between `low` and `high` along x (points `(x, low, high)`), for a spread
    /// around a mean line.
    pub fn band(&mut self, points: &[(f64, f64, f64)], colour: &str, opacity: f64) {
        let visible: Vec<(f64, f64, f64)> = points
            .iter()
            .map(|&(x, low, high)| (self.x.map(x), self.y.map(low), self.y.map(high)))
            .filter(|(x, low, high)| x.is_finite() && low.is_finite() && high.is_finite())
            .map(|(x, low, high)| (x, low.clamp(-1e4, 1e4), high.clamp(-1e4, 1e4)))
            .collect();
        if visible.len() < 2 {
            return;
        }
        let mut path = String::new();
        for (index, (x, _, high)) in visible.iter().enumerate() {
            let _ = write!(path, "{}{x:.2} {high:.2}", if index == 0 { "M" } else { "L" });
        }
        for (x, low, _) in visible.iter().rev() {
            let _ = write!(path, "L{x:.2} {low:.2}");
        }
        let _ = writeln!(
            self.body,
            r#"<path d="{path}Z" fill="{colour}" fill-opacity="{opacity}" stroke="none" clip-path="url(#plot-area)"/>"#
        );
    }

    /// Sets the title and axis labels.
    pub fn labels(mut self, title: &str, x_label: &str, y_label: &str) -> Self {
        self.title = title.to_string();
        self.x_label = x_label.to_string();
        self.y_label = y_label.to_string();
        self
    }

    /// Draws line segments given in data coordinates as one path.
    pub fn segments(&mut self, segments: &[[(f64, f64); 2]], colour: &str, width: f64, opacity: f64) {
        if segments.is_empty() {
            return;
        }
        let mut path = String::new();
        for [(x0, y0), (x1, y1)] in segments {
            let _ = write!(
                path,
                "M{:.1} {:.1}L{:.1} {:.1}",
                self.x.map(*x0),
                self.y.map(*y0),
                self.x.map(*x1),
                self.y.map(*y1)
            );
        }
        let _ = writeln!(
            self.body,
            r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="{width}" stroke-opacity="{opacity}"/>"#
        );
    }

    /// Draws a polyline through `points` (data coordinates), with an entry in the legend.
    /// Points that are not finite break the line.
    pub fn line(&mut self, points: &[(f64, f64)], colour: &str, label: Option<&str>) {
        let mut path = String::new();
        let mut pen_down = false;
        for &(x, y) in points {
            let (px, py) = (self.x.map(x), self.y.map(y));
            if !(px.is_finite() && py.is_finite()) {
                pen_down = false;
                continue;
            }
            // Keep far-away points from producing huge coordinates: clamp to a margin around the view.
            let (px, py) = (px.clamp(-1e4, 1e4), py.clamp(-1e4, 1e4));
            let _ = write!(path, "{}{px:.2} {py:.2}", if pen_down { "L" } else { "M" });
            pen_down = true;
        }
        if !path.is_empty() {
            let _ = writeln!(
                self.body,
                r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" clip-path="url(#plot-area)"/>"#
            );
        }
        if let Some(label) = label {
            self.legend.push((label.to_string(), colour.to_string()));
        }
    }

    /// Draws a marker at a data point: `shape` is "circle", "square", "star" or "cross".
    pub fn marker(&mut self, (x, y): (f64, f64), shape: &str, colour: &str, size: f64) {
        let (px, py) = (self.x.map(x), self.y.map(y));
        if !(px.is_finite() && py.is_finite()) {
            return;
        }
        let element = match shape {
            "square" => format!(
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}" stroke="white"/>"#,
                px - size,
                py - size,
                2.0 * size,
                2.0 * size
            ),
            "cross" => format!(
                r#"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{colour}" stroke-width="2.5"/>"#,
                px - size,
                py - size,
                px + size,
                py + size,
                px - size,
                py + size,
                px + size,
                py - size
            ),
            "star" => {
                let points: Vec<String> = (0..10)
                    .map(|i| {
                        let radius = if i % 2 == 0 { size * 1.6 } else { size * 0.7 };
                        let angle = std::f64::consts::PI * (i as f64 / 5.0 - 0.5);
                        format!("{:.1},{:.1}", px + radius * angle.cos(), py + radius * angle.sin())
                    })
                    .collect();
                format!(r#"<polygon points="{}" fill="{colour}" stroke="white" stroke-width="0.8"/>"#, points.join(" "))
            }
            _ => format!(r#"<circle cx="{px:.1}" cy="{py:.1}" r="{size}" fill="{colour}" stroke="white"/>"#),
        };
        let _ = writeln!(self.body, r#"<g clip-path="url(#plot-area)">{element}</g>"#);
    }

    /// The finished SVG document.
    pub fn to_svg(&self) -> String {
        let mut svg = String::new();
        let (w, h) = (self.width, self.height);
        let (x0, x1) = self.x.range;
        let (y1, y0) = self.y.range;
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            svg,
            r#"<defs><clipPath id="plot-area"><rect x="{x0}" y="{y0}" width="{}" height="{}"/></clipPath></defs>"#,
            x1 - x0,
            y1 - y0
        );
        let _ = writeln!(svg, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r##"<rect x="{x0}" y="{y0}" width="{}" height="{}" fill="#fcfcfc" stroke="#444"/>"##,
            x1 - x0,
            y1 - y0
        );
        svg.push_str(&self.axes());
        svg.push_str(&self.body);
        svg.push_str(&self.legend_box());
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
            w / 2.0,
            escape(&self.title)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            h - 12.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            svg,
            r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
            (y0 + y1) / 2.0,
            escape(&self.y_label)
        );
        svg.push_str("</svg>\n");
        svg
    }

    fn axes(&self) -> String {
        let mut svg = String::new();
        let (y_bottom, _) = self.y.range;
        let (x_left, _) = self.x.range;
        let x_ticks = match &self.x_ticks {
            Some(ticks) => ticks.clone(),
            None => {
                nice_ticks(self.x.domain, 7).into_iter().map(|t| (t, format_axis_tick(t, self.log_ticks.0))).collect()
            }
        };
        for (tick, label) in x_ticks {
            let px = self.x.map(tick);
            let _ = writeln!(
                svg,
                r##"<line x1="{px:.1}" y1="{y_bottom}" x2="{px:.1}" y2="{:.1}" stroke="#444"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                y_bottom + 5.0,
                y_bottom + 18.0,
                escape(&label)
            );
        }
        for tick in nice_ticks(self.y.domain, 6) {
            let py = self.y.map(tick);
            let _ = writeln!(
                svg,
                r##"<line x1="{:.1}" y1="{py:.1}" x2="{x_left}" y2="{py:.1}" stroke="#444"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                x_left - 5.0,
                x_left - 8.0,
                py + 4.0,
                format_axis_tick(tick, self.log_ticks.1)
            );
        }
        svg
    }

    fn legend_box(&self) -> String {
        if self.legend.is_empty() {
            return String::new();
        }
        let (_, right) = self.x.range;
        let (_, top) = self.y.range;
        let longest = self.legend.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0) as f64;
        let box_width = 40.0 + 7.8 * longest;
        let (x, y) = (right - box_width - 8.0, top + 8.0);
        let mut svg = format!(
            r##"<rect x="{x:.1}" y="{y:.1}" width="{box_width:.1}" height="{:.1}" fill="white" fill-opacity="0.9" stroke="#999"/>"##,
            8.0 + 18.0 * self.legend.len() as f64
        );
        for (index, (label, colour)) in self.legend.iter().enumerate() {
            let row = y + 16.0 + 18.0 * index as f64;
            let _ = write!(
                svg,
                r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                x + 6.0,
                row - 4.0,
                x + 24.0,
                row - 4.0,
                x + 30.0,
                row,
                escape(label)
            );
        }
        svg.push('\n');
        svg
    }
}

/// About `count` round tick values covering `domain`.
pub fn nice_ticks((low, high): (f64, f64), count: usize) -> Vec<f64> {
    if !(low.is_finite() && high.is_finite()) || high <= low {
        return Vec::new();
    }
    let raw = (high - low) / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn format_tick(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    if value.abs() >= 1e4 || value.abs() < 1e-3 {
        return format!("{value:.0e}");
    }
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A tick label: the value, or 10^value on a log axis.
fn format_axis_tick(tick: f64, log: bool) -> String {
    if !log {
        return format_tick(tick);
    }
    if tick.fract() == 0.0 {
        format!("1e{tick:.0}")
    } else {
        format!("{:.1e}", 10f64.powf(tick))
    }
}

/// Escapes text for SVG.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Several figures one above the other, as one SVG document.
pub fn stack(figures: &[Figure]) -> String {
    let width = figures.iter().map(|f| f.width).fold(0.0, f64::max);
    let height: f64 = figures.iter().map(|f| f.height).sum();
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">"#
    );
    let mut top = 0.0;
    for (index, figure) in figures.iter().enumerate() {
        // Each panel's clip path needs its own id inside one document.
        let panel = figure.to_svg().replace("plot-area", &format!("plot-area-{index}"));
        let _ = write!(svg, r#"<g transform="translate(0 {top})">{panel}</g>"#);
        top += figure.height;
    }
    svg.push_str("</svg>\n");
    svg
}

/// Writes an SVG document to `path` as SVG or PNG, chosen by the extension.
/// Writes a file of descent's output atomically: never torn, never through a symbolic link.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    descent::files::write_atomically(path, bytes).map_err(anyhow::Error::from)
}

pub fn save_svg(svg: &str, path: &Path) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => png::write_png(svg, path),
        _ => write_file(path, svg.as_bytes()),
    }
}

/// Writes `figure` to `path` as SVG or PNG, chosen by the extension.
pub fn save(figure: &Figure, path: &Path) -> Result<()> {
    save_svg(&figure.to_svg(), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        // Span 4 over 7 ticks: raw step 0.57, rounded up among 0.1·{1, 2, 2.5, 5, 10} to 1.
        assert_eq!(nice_ticks((-2.0, 2.0), 7), vec![-2.0, -1.0, 0.0, 1.0, 2.0]);
        // Span 95 over 5: raw 19, rounded up among 10·{1, 2, 2.5, 5, 10} to 20.
        assert_eq!(nice_ticks((0.0, 95.0), 5), vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        assert!(nice_ticks((1.0, 1.0), 5).is_empty());
    }

    #[test]
    fn scale_maps_ends_to_ends() {
        let scale = Scale { domain: (-1.0, 3.0), range: (100.0, 0.0) };
        assert_eq!(scale.map(-1.0), 100.0);
        assert_eq!(scale.map(3.0), 0.0);
        assert_eq!(scale.map(1.0), 50.0);
    }
}
