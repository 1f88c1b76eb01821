//! Pictures, drawn with `plotters`: a small figure builder (lines, bands, markers, segments,
//! labels, log and percent axes) whose SVG and PNG come from the same drawing code, with text in
//! the bundled DejaVu Sans (`assets/`, its licence beside it) so that no system font is needed;
//! and descent's own contour tracing (`contour`), which plotters has none of.
//!
//! What every figure promises:
//! - its axes take in all its data (lines, bands, markers), unless the caller keeps a view
//!   (`keep_view`), in which case what lies beyond is cut at the frame and a note under the plot
//!   says how many points were;
//! - ticks at 1-2-5 steps with plain labels, log axes labelled as powers of ten, percent axes
//!   with "%" (see `ticks`);
//! - on a log axis, values ≤ 0 (which have no logarithm) are drawn in a grey strip below the
//!   data marked "≤ 0", with a note saying so, never dropped;
//! - the legend sits to the right of the plot area, outside the data.
//!
//! In the SVG, the drawing is grouped for checking: `<g class="axes" data-frame="x0 y0 x1
//! y1">` (frame, ticks, labels, notes), `<g class="data">` (lines, bands, contours),
//! `<g class="markers">` and `<g class="legend">`.

pub mod contour;
pub mod ticks;

use std::fmt::Write;
use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Colours for series, in order (Tableau 10: distinguishable, and friendly to colour-blindness).
pub const PALETTE: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/// DejaVu Sans (see `assets/DejaVuSans-LICENSE.txt`), registered as plotters' sans-serif: text
/// is measured with it for both formats and drawn with it in PNGs.
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let registered = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok();
        assert!(registered, "the bundled DejaVuSans.ttf is a TrueType font");
    });
}

/// How the values given for one axis become positions along it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// As given.
    Linear,
    /// Fractions, shown as percent.
    Percent,
    /// Positive values on a log₁₀ axis; values ≤ 0 go to the strip below the data.
    Log,
}

/// A value placed on an axis.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    At(f64),
    /// ≤ 0 on a log axis.
    Floor,
    Missing,
}

impl Kind {
    fn place(self, value: f64) -> Place {
        match self {
            Kind::Linear | Kind::Percent if value.is_finite() => {
                Place::At(if self == Kind::Percent { 100.0 * value } else { value })
            }
            Kind::Log if value > 0.0 && value.is_finite() => Place::At(value.log10()),
            Kind::Log if value <= 0.0 => Place::Floor,
            _ => Place::Missing,
        }
    }

    /// A bound of the caller's view, on the axis.
    fn bound(self, value: f64) -> f64 {
        match self.place(value) {
            Place::At(at) => at,
            _ => f64::NAN,
        }
    }
}

/// A marker's shape.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Circle,
    Square,
    Star,
    Cross,
}

enum Item {
    Line { points: Vec<(f64, f64)>, colour: String },
    Band { points: Vec<(f64, f64, f64)>, colour: String, opacity: f64 },
    Marker { at: (f64, f64), shape: Shape, colour: String, size: f64 },
    Segments { segments: Vec<[(f64, f64); 2]>, colour: String, width: f64, opacity: f64 },
}

/// A figure with one set of axes: built up from series, drawn as SVG or PNG.
pub struct Figure {
    width: f64,
    height: f64,
    view: ((f64, f64), (f64, f64)),
    kinds: (Kind, Kind),
    keep: (bool, bool),
    items: Vec<Item>,
    legend: Vec<(String, String)>,
    notes: Vec<String>,
    title: String,
    x_label: String,
    y_label: String,
    /// Ticks of x at chosen places with chosen labels, instead of round values.
    x_ticks: Option<Vec<(f64, String)>>,
}

impl Figure {
    /// An empty figure of `width × height` pixels (taller by a line per note) showing at least
    /// `x_domain × y_domain`: the axes grow to take in all the data unless `keep_view` says not.
    pub fn new(width: f64, height: f64, x_domain: (f64, f64), y_domain: (f64, f64)) -> Self {
        Figure {
            width,
            height,
            view: (x_domain, y_domain),
            kinds: (Kind::Linear, Kind::Linear),
            keep: (false, false),
            items: Vec::new(),
            legend: Vec::new(),
            notes: Vec::new(),
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x_ticks: None,
        }
    }

    /// Puts the ticks of x at `ticks` (value on the axis, label): for a log axis of another base.
    pub fn x_ticks(mut self, ticks: Vec<(f64, String)>) -> Self {
        self.x_ticks = Some(ticks);
        self
    }

    /// Draws x and/or y on a log₁₀ axis: give the values themselves (and the domain in them);
    /// values ≤ 0 on y are drawn in a grey strip below the data marked "≤ 0", explained in a
    /// note under the plot.
    pub fn log_scale(mut self, x: bool, y: bool) -> Self {
        self.set_kinds(x, y, Kind::Log);
        self
    }

    /// The values on y are fractions: the axis shows them as percent.
    pub fn percent_y(mut self) -> Self {
        self.kinds.1 = Kind::Percent;
        self
    }

    /// Keeps the domain given to `new` on x and/or y even where data lie beyond it: lines are
    /// cut at the frame, and a note under the plot counts the points beyond.
    pub fn keep_view(mut self, x: bool, y: bool) -> Self {
        self.keep = (x, y);
        self
    }

    fn set_kinds(&mut self, x: bool, y: bool, kind: Kind) {
        if x {
            self.kinds.0 = kind;
        }
        if y {
            self.kinds.1 = kind;
        }
    }

    /// Sets the title and axis labels.
    pub fn labels(mut self, title: &str, x_label: &str, y_label: &str) -> Self {
        self.title = title.to_string();
        self.x_label = x_label.to_string();
        self.y_label = y_label.to_string();
        self
    }

    /// Adds a line of text under the plot.
    pub fn note(&mut self, text: &str) {
        self.notes.push(text.to_string());
    }

    /// Fills the region between `low` and `high` along x (points `(x, low, high)`), for a spread
    /// around a mean line; its edges are drawn faintly so that overlapping bands stay apart.
    pub fn band(&mut self, points: &[(f64, f64, f64)], colour: &str, opacity: f64) {
        self.items.push(Item::Band { points: points.to_vec(), colour: colour.to_string(), opacity });
    }

    /// Draws line segments given in data coordinates (contour lines: not counted as data for the
    /// axes' extent).
    pub fn segments(&mut self, segments: &[[(f64, f64); 2]], colour: &str, width: f64, opacity: f64) {
        if !segments.is_empty() {
            self.items.push(Item::Segments { segments: segments.to_vec(), colour: colour.to_string(), width, opacity });
        }
    }

    /// Draws a polyline through `points` (data coordinates), with an entry in the legend.
    /// Points that are not finite break the line.
    pub fn line(&mut self, points: &[(f64, f64)], colour: &str, label: Option<&str>) {
        self.items.push(Item::Line { points: points.to_vec(), colour: colour.to_string() });
        if let Some(label) = label {
            self.legend.push((label.to_string(), colour.to_string()));
        }
    }

    /// Draws a marker at a data point: `shape` is "circle", "square", "star" or "cross".
    pub fn marker(&mut self, at: (f64, f64), shape: &str, colour: &str, size: f64) {
        let shape = match shape {
            "square" => Shape::Square,
            "star" => Shape::Star,
            "cross" => Shape::Cross,
            _ => Shape::Circle,
        };
        self.items.push(Item::Marker { at, shape, colour: colour.to_string(), size });
    }

    /// The figure's height in pixels, its notes included.
    fn total_height(&self) -> f64 {
        self.height + NOTE_LINE * self.layout().notes.len() as f64
    }

    /// The finished SVG document.
    pub fn to_svg(&self) -> String {
        self.svg(&self.layout())
    }

    fn svg(&self, layout: &Layout) -> String {
        register_font();
        let (width, height) = (self.width.round() as u32, self.total_height().round() as u32);
        let mut groups = String::new();
        let mut plot_area = (0, 0, 0, 0);
        for (class, layer) in
            [("axes", Layer::Axes), ("data", Layer::Data), ("markers", Layer::Markers), ("legend", Layer::Legend)]
        {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                match self.draw(&root, layout, 1.0, layer).and_then(|area| root.present().map(|_| area).map_err(text)) {
                    Ok(area) => plot_area = area,
                    // Drawing into a string has no way to fail; say so in the picture if it did.
                    Err(error) => groups.push_str(&format!("<!-- {} -->", escape(&error))),
                }
            }
            let inner = svg.split_once(">\n").map_or("", |(_, rest)| rest);
            let inner = inner.trim_end().strip_suffix("</svg>").unwrap_or(inner);
            if class == "axes" {
                let (x0, y0, x1, y1) = plot_area;
                let _ = write!(groups, r#"<g class="axes" data-frame="{x0} {y0} {x1} {y1}">"#);
            } else {
                let _ = write!(groups, r#"<g class="{class}">"#);
            }
            groups.push_str(inner);
            groups.push_str("</g>\n");
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} \
             {height}\" font-family=\"DejaVu Sans, sans-serif\">\n{groups}</svg>\n"
        )
    }
}

/// Height of one note under the plot.
const NOTE_LINE: f64 = 18.0;

/// Which part of a figure to draw: all of it (PNG) or one group (SVG).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layer {
    All,
    Axes,
    Data,
    Markers,
    Legend,
}

/// One axis as drawn: its interval (in axis values: log₁₀ on log axes, percent on percent
/// axes) and its ticks.
#[derive(Debug, Clone)]
struct Axis {
    low: f64,
    high: f64,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    fn contains(&self, value: f64) -> bool {
        value >= self.low - 1e-9 * (self.high - self.low) && value <= self.high + 1e-9 * (self.high - self.low)
    }

    fn label(&self, value: f64) -> String {
        let tolerance = 1e-9 * (self.high - self.low);
        self.ticks.iter().find(|(at, _)| (at - value).abs() <= tolerance).map_or_else(String::new, |t| t.1.clone())
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = (value - self.low) / (self.high - self.low);
        (limit.0 as f64 + t * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // The ticks are the bold points; no light grid lines between them.
        if hint.weight().allow_light_points() {
            return Vec::new();
        }
        self.ticks.iter().map(|t| t.0).collect()
    }

    fn range(&self) -> Range<f64> {
        self.low..self.high
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, value: &f64) -> String {
        self.label(*value)
    }
}

/// Where everything goes, worked out from the data before drawing.
struct Layout {
    x: Axis,
    y: Axis,
    /// The strip for values ≤ 0 on a log y axis: (bottom, centre, top) in axis values.
    floor: Option<(f64, f64, f64)>,
    notes: Vec<String>,
    /// The widths of the legend's column and of the y tick labels, in pixels: in a stack, the
    /// widest of its figures', so that the plot areas line up.
    legend: f64,
    gutter: f64,
}

impl Figure {
    /// Where every data point (line points, band edges, markers) falls on x and on y, as two
    /// lists of the same length.
    fn places(&self) -> (Vec<Place>, Vec<Place>) {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        let (kx, ky) = self.kinds;
        for item in &self.items {
            match item {
                Item::Line { points, .. } => {
                    for &(x, y) in points {
                        xs.push(kx.place(x));
                        ys.push(ky.place(y));
                    }
                }
                Item::Band { points, .. } => {
                    // Each edge of a band is a point of its own: xs and ys stay pairs.
                    for &(x, low, high) in points {
                        xs.extend([kx.place(x), kx.place(x)]);
                        ys.extend([ky.place(low), ky.place(high)]);
                    }
                }
                Item::Marker { at: (x, y), .. } => {
                    xs.push(kx.place(*x));
                    ys.push(ky.place(*y));
                }
                Item::Segments { .. } => {}
            }
        }
        (xs, ys)
    }

    fn layout(&self) -> Layout {
        let (kx, ky) = self.kinds;
        let (xs, ys) = self.places();
        let at = |places: &[Place]| {
            places.iter().filter_map(|p| if let Place::At(v) = p { Some(*v) } else { None }).collect::<Vec<_>>()
        };
        let view = |kind: Kind, (low, high): (f64, f64)| (kind.bound(low), kind.bound(high));
        let interval = |kind: Kind, domain, keep: bool, values: &[f64]| {
            let view = view(kind, domain);
            if keep && view.0.is_finite() && view.1.is_finite() && view.1 > view.0 {
                view
            } else {
                ticks::cover(view, values.iter().copied(), 0.04)
            }
        };
        let (x_values, y_values) = (at(&xs), at(&ys));
        let (x_low, x_high) = interval(kx, self.view.0, self.keep.0, &x_values);
        let (y_low, y_high) = interval(ky, self.view.1, self.keep.1, &y_values);
        let axis_ticks = |kind: Kind, (low, high): (f64, f64), count: usize| match kind {
            Kind::Linear => ticks::linear((low, high), count, ""),
            Kind::Percent => ticks::linear((low, high), count, "%"),
            Kind::Log => ticks::log((low, high), count),
        };
        let x_ticks = match &self.x_ticks {
            Some(chosen) => chosen.iter().filter(|(v, _)| *v >= x_low && *v <= x_high).cloned().collect(),
            None => axis_ticks(kx, (x_low, x_high), ((self.width / 110.0) as usize).clamp(3, 8)),
        };
        let mut y = Axis {
            low: y_low,
            high: y_high,
            ticks: axis_ticks(ky, (y_low, y_high), ((self.height / 65.0) as usize).clamp(3, 7)),
        };
        let x = Axis { low: x_low, high: x_high, ticks: x_ticks };
        let mut notes = self.notes.clone();
        let mut floor = None;
        let floored = ys.iter().filter(|p| **p == Place::Floor).count();
        if floored > 0 {
            let span = y.high - y.low;
            let strip = (y.low - 0.16 * span, y.low - 0.095 * span, y.low - 0.03 * span);
            y.low = strip.0;
            y.ticks.push((strip.1, "≤ 0".into()));
            floor = Some(strip);
            notes.push(format!(
                "{floored} value{} ≤ 0 (no logarithm) {} drawn in the grey strip marked ≤ 0.",
                plural(floored),
                if floored == 1 { "is" } else { "are" }
            ));
        }
        let outside = |place: &Place, axis: &Axis| matches!(place, Place::At(v) if !axis.contains(*v));
        let beyond = xs.iter().zip(&ys).filter(|(px, py)| outside(px, &x) || outside(py, &y)).count();
        if beyond > 0 {
            notes.push(format!(
                "{beyond} point{} beyond the frame {} cut off at its edge.",
                plural(beyond),
                if beyond == 1 { "is" } else { "are" }
            ));
        }
        let unplaceable = xs.iter().filter(|p| **p == Place::Floor).count();
        if unplaceable > 0 {
            notes.push(format!(
                "{unplaceable} point{} with x ≤ 0 cannot be shown on the log axis.",
                plural(unplaceable)
            ));
        }
        register_font();
        let width =
            |text: &str, size: f64| ("sans-serif", size).into_font().box_size(text).map_or(0.0, |(w, _)| w as f64);
        let legend = self.legend.iter().map(|(label, _)| width(label, 13.0) + 44.0).fold(0.0, f64::max);
        let gutter = y.ticks.iter().map(|(_, label)| width(label, 12.0)).fold(0.0, f64::max);
        Layout { x, y, floor, notes, legend, gutter }
    }

    /// Draws `layer` of the figure on `root` at `zoom` pixels per unit; returns the plot area
    /// (x0, y0, x1, y1) in `root`'s pixels.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        layout: &Layout,
        zoom: f64,
        layer: Layer,
    ) -> Result<(i32, i32, i32, i32), String> {
        let px = |v: f64| (v * zoom).round() as i32;
        let font = |size: f64| ("sans-serif", size * zoom).into_font();
        let ink = RGBColor(0x22, 0x22, 0x22);
        let (width, height) = root.dim_in_pixel();
        let (width, height) = (width as i32, height as i32);
        let wants = |part: Layer| layer == Layer::All || layer == part;
        if wants(Layer::Axes) {
            root.fill(&WHITE).map_err(text)?;
        }
        let (legend_width, y_tick_width) = (px(layout.legend), px(layout.gutter));
        let notes_height = px(NOTE_LINE) * layout.notes.len() as i32;
        let title_height = px(34.0);
        let chart_area = root.margin(title_height, notes_height, 0, legend_width);
        let mut chart = ChartBuilder::on(&chart_area)
            .margin_left(px(6.0))
            .margin_right(px(18.0))
            .margin_bottom(px(4.0))
            .x_label_area_size(px(44.0))
            .y_label_area_size(y_tick_width + px(34.0))
            .build_cartesian_2d(layout.x.clone(), layout.y.clone())
            .map_err(text)?;
        // Pixels relative to `root` (plotters reports them on the whole backend).
        let (base_x, base_y) = root.get_base_pixel();
        let (x_pixels, y_pixels) = chart.plotting_area().get_pixel_range();
        let plot_area =
            (x_pixels.start - base_x, y_pixels.start - base_y, x_pixels.end - base_x, y_pixels.end - base_y);

        if wants(Layer::Axes) {
            if let Some((bottom, _, top)) = layout.floor {
                let strip =
                    Rectangle::new([(layout.x.low, bottom), (layout.x.high, top)], RGBColor(228, 228, 228).filled());
                chart.draw_series(std::iter::once(strip)).map_err(text)?;
            }
            let x_axis = layout.x.clone();
            let y_axis = layout.y.clone();
            let x_format = move |v: &f64| x_axis.label(*v);
            let y_format = move |v: &f64| y_axis.label(*v);
            chart
                .configure_mesh()
                .bold_line_style(RGBColor(236, 236, 236))
                .axis_style(RGBColor(0x44, 0x44, 0x44))
                .x_labels(layout.x.ticks.len() + 1)
                .y_labels(layout.y.ticks.len() + 1)
                .x_label_formatter(&x_format)
                .y_label_formatter(&y_format)
                .label_style(font(12.0).color(&ink))
                .axis_desc_style(font(13.0).color(&ink))
                .x_desc(self.x_label.as_str())
                .y_desc(self.y_label.as_str())
                .set_all_tick_mark_size(px(5.0))
                .draw()
                .map_err(text)?;
            let frame = Rectangle::new(
                [(layout.x.low, layout.y.low), (layout.x.high, layout.y.high)],
                RGBColor(0x44, 0x44, 0x44).stroke_width(1),
            );
            chart.draw_series(std::iter::once(frame)).map_err(text)?;
            let centre = Pos::new(HPos::Center, VPos::Top);
            root.draw(&Text::new(self.title.clone(), (width / 2, px(9.0)), font(15.0).color(&ink).pos(centre)))
                .map_err(text)?;
            for (index, note) in layout.notes.iter().enumerate() {
                let y = height - notes_height + px(NOTE_LINE) * index as i32 + px(2.0);
                let left = Pos::new(HPos::Left, VPos::Top);
                root.draw(&Text::new(note.clone(), (px(12.0), y), font(12.0).color(&ink).pos(left))).map_err(text)?;
            }
        }

        let place = |kind: Kind, value: f64| match kind.place(value) {
            Place::At(v) => Some(v),
            Place::Floor => layout.floor.map(|strip| strip.1),
            Place::Missing => None,
        };
        let to_axes = |(x, y): (f64, f64)| Some((place(self.kinds.0, x)?, place(self.kinds.1, y)?));
        let bounds = ((layout.x.low, layout.x.high), (layout.y.low, layout.y.high));
        if wants(Layer::Data) {
            for item in &self.items {
                match item {
                    Item::Segments { segments, colour, width, opacity } => {
                        let style = colour_of(colour).mix(*opacity).stroke_width(stroke(*width, zoom));
                        let visible =
                            segments.iter().filter_map(|[a, b]| clip_segment(to_axes(*a)?, to_axes(*b)?, bounds));
                        chart.draw_series(visible.map(|(a, b)| PathElement::new(vec![a, b], style))).map_err(text)?;
                    }
                    Item::Band { points, colour, opacity } => {
                        let inside: Vec<(f64, f64, f64)> = points
                            .iter()
                            .filter_map(|&(x, low, high)| {
                                let x = place(self.kinds.0, x).filter(|x| layout.x.contains(*x))?;
                                let clamp = |v: f64| v.clamp(layout.y.low, layout.y.high);
                                Some((x, clamp(place(self.kinds.1, low)?), clamp(place(self.kinds.1, high)?)))
                            })
                            .collect();
                        if inside.len() < 2 {
                            continue;
                        }
                        let outline: Vec<(f64, f64)> = inside
                            .iter()
                            .map(|&(x, _, high)| (x, high))
                            .chain(inside.iter().rev().map(|&(x, low, _)| (x, low)))
                            .collect();
                        let colour = colour_of(colour);
                        chart
                            .draw_series(std::iter::once(Polygon::new(outline, colour.mix(*opacity).filled())))
                            .map_err(text)?;
                        let edge = colour.mix(0.45).stroke_width(stroke(0.8, zoom));
                        for pick in [|p: &(f64, f64, f64)| (p.0, p.1), |p: &(f64, f64, f64)| (p.0, p.2)] {
                            let edge_line: Vec<(f64, f64)> = inside.iter().map(pick).collect();
                            chart.draw_series(std::iter::once(PathElement::new(edge_line, edge))).map_err(text)?;
                        }
                    }
                    Item::Line { points, colour } => {
                        let style = colour_of(colour).stroke_width(stroke(2.0, zoom));
                        let pieces = clip_polyline(points.iter().map(|p| to_axes(*p)), bounds);
                        if layer == Layer::All {
                            // In bitmaps plotters joins thick lines with unbounded mitres, which
                            // spike at a zig-zag's turns: draw each segment on its own.
                            let segments = pieces.iter().flat_map(|piece| piece.windows(2));
                            chart
                                .draw_series(segments.map(|pair| PathElement::new(pair.to_vec(), style)))
                                .map_err(text)?;
                        } else {
                            chart
                                .draw_series(pieces.into_iter().map(|piece| PathElement::new(piece, style)))
                                .map_err(text)?;
                        }
                    }
                    Item::Marker { .. } => {}
                }
            }
        }
        if wants(Layer::Markers) {
            for item in &self.items {
                let Item::Marker { at, shape, colour, size } = item else { continue };
                let Some((x, y)) = to_axes(*at).filter(|(x, y)| layout.x.contains(*x) && layout.y.contains(*y)) else {
                    continue;
                };
                let (cx, cy) = chart.backend_coord(&(x, y));
                let (cx, cy) = (cx - base_x, cy - base_y);
                let colour = colour_of(colour);
                let r = size * zoom;
                let outline = WHITE.stroke_width(stroke(1.0, zoom));
                match shape {
                    Shape::Circle => {
                        root.draw(&Circle::new((cx, cy), r.round() as i32, colour.filled())).map_err(text)?;
                        root.draw(&Circle::new((cx, cy), r.round() as i32, outline)).map_err(text)?;
                    }
                    Shape::Square => {
                        let corners = [(cx - r as i32, cy - r as i32), (cx + r as i32, cy + r as i32)];
                        root.draw(&Rectangle::new(corners, colour.filled())).map_err(text)?;
                        root.draw(&Rectangle::new(corners, outline)).map_err(text)?;
                    }
                    Shape::Star => {
                        let points: Vec<(i32, i32)> = (0..10)
                            .map(|i| {
                                let radius = if i % 2 == 0 { r * 1.6 } else { r * 0.7 };
                                let angle = std::f64::consts::PI * (i as f64 / 5.0 - 0.5);
                                (cx + (radius * angle.cos()).round() as i32, cy + (radius * angle.sin()).round() as i32)
                            })
                            .collect();
                        root.draw(&Polygon::new(points, colour.filled())).map_err(text)?;
                    }
                    Shape::Cross => {
                        let style = colour.stroke_width(stroke(2.5, zoom));
                        let d = r.round() as i32;
                        root.draw(&PathElement::new(vec![(cx - d, cy - d), (cx + d, cy + d)], style)).map_err(text)?;
                        root.draw(&PathElement::new(vec![(cx - d, cy + d), (cx + d, cy - d)], style)).map_err(text)?;
                    }
                }
            }
        }
        if wants(Layer::Legend) && !self.legend.is_empty() {
            let left = plot_area.2 + px(14.0);
            let mut row = plot_area.1 + px(4.0);
            for (label, colour) in &self.legend {
                let middle = row + px(8.0);
                let sample = colour_of(colour).stroke_width(stroke(3.0, zoom));
                root.draw(&PathElement::new(vec![(left, middle), (left + px(22.0), middle)], sample)).map_err(text)?;
                let at = Pos::new(HPos::Left, VPos::Center);
                root.draw(&Text::new(label.clone(), (left + px(28.0), middle), font(13.0).color(&ink).pos(at)))
                    .map_err(text)?;
                row += px(20.0);
            }
        }
        Ok(plot_area)
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn text(error: impl std::fmt::Display) -> String {
    error.to_string()
}

/// A stroke width in whole pixels (plotters draws no thinner), at least 1.
fn stroke(width: f64, zoom: f64) -> u32 {
    (width * zoom).round().max(1.0) as u32
}

/// "#rrggbb" as a colour (grey where it is not one).
fn colour_of(hex: &str) -> RGBColor {
    let channel = |at: usize| hex.get(at..at + 2).and_then(|h| u8::from_str_radix(h, 16).ok());
    match (hex.len(), channel(1), channel(3), channel(5)) {
        (7, Some(r), Some(g), Some(b)) => RGBColor(r, g, b),
        _ => RGBColor(0x80, 0x80, 0x80),
    }
}

type Bounds = ((f64, f64), (f64, f64));

/// The part of the segment a–b inside `bounds` (Liang–Barsky), if any.
fn clip_segment(a: (f64, f64), b: (f64, f64), ((x0, x1), (y0, y1)): Bounds) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut enter, mut leave) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - x0), (dx, x1 - a.0), (-dy, a.1 - y0), (dy, y1 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                enter = enter.max(t);
            } else {
                leave = leave.min(t);
            }
        }
    }
    // Ends inside stay exactly as given, so that consecutive segments still join.
    let at = |t: f64| match t {
        0.0 => a,
        1.0 => b,
        _ => (a.0 + t * dx, a.1 + t * dy),
    };
    (enter <= leave).then(|| (at(enter), at(leave)))
}

/// The visible pieces of a polyline (`None` points break it) cut at `bounds`.
fn clip_polyline(points: impl Iterator<Item = Option<(f64, f64)>>, bounds: Bounds) -> Vec<Vec<(f64, f64)>> {
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let mut previous: Option<(f64, f64)> = None;
    let flush = |current: &mut Vec<(f64, f64)>, pieces: &mut Vec<Vec<(f64, f64)>>| {
        if current.len() >= 2 {
            pieces.push(std::mem::take(current));
        }
        current.clear();
    };
    for point in points {
        match (previous, point) {
            (Some(a), Some(b)) => match clip_segment(a, b, bounds) {
                Some((start, end)) => {
                    if current.last() != Some(&start) {
                        flush(&mut current, &mut pieces);
                        current.push(start);
                    }
                    current.push(end);
                }
                None => flush(&mut current, &mut pieces),
            },
            _ => flush(&mut current, &mut pieces),
        }
        previous = point;
    }
    flush(&mut current, &mut pieces);
    pieces
}

/// Escapes text for SVG.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Several figures one above the other, as one SVG document.
pub fn stack(figures: &[Figure]) -> String {
    let width = figures.iter().map(|f| f.width).fold(0.0, f64::max).round();
    let height: f64 = figures.iter().map(|f| f.total_height().round()).sum();
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">"#
    );
    let mut top = 0.0;
    for (figure, layout) in figures.iter().zip(aligned(figures)) {
        let _ = write!(svg, r#"<g transform="translate(0 {top})">{}</g>"#, figure.svg(&layout));
        top += figure.total_height().round();
    }
    svg.push_str("</svg>\n");
    svg
}

/// The layouts of `figures` with one legend column and one y label gutter, the widest, so that
/// their plot areas line up.
fn aligned(figures: &[Figure]) -> Vec<Layout> {
    let mut layouts: Vec<Layout> = figures.iter().map(Figure::layout).collect();
    let legend = layouts.iter().map(|l| l.legend).fold(0.0, f64::max);
    let gutter = layouts.iter().map(|l| l.gutter).fold(0.0, f64::max);
    for layout in &mut layouts {
        (layout.legend, layout.gutter) = (legend, gutter);
    }
    layouts
}

/// The PNG file's bytes for `figures` one above the other, at `zoom` pixels per SVG pixel.
pub fn png(figures: &[Figure], zoom: f64) -> Result<Vec<u8>> {
    register_font();
    let width = (figures.iter().map(|f| f.width).fold(0.0, f64::max) * zoom).round() as u32;
    let heights: Vec<u32> = figures.iter().map(|f| (f.total_height().round() * zoom).round() as u32).collect();
    let height: u32 = heights.iter().sum();
    let mut pixels = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        let mut top = 0;
        for ((figure, figure_height), layout) in figures.iter().zip(&heights).zip(aligned(figures)) {
            let area = root.clone().shrink((0, top), (width, *figure_height));
            figure.draw(&area, &layout, zoom, Layer::All).map_err(|e| anyhow!("cannot draw the plot: {e}"))?;
            top += figure_height;
        }
        root.present().map_err(|e| anyhow!("cannot draw the plot: {e}"))?;
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| anyhow!("cannot encode PNG: {e}"))?;
    writer.write_image_data(&pixels).map_err(|e| anyhow!("cannot encode PNG: {e}"))?;
    writer.finish().map_err(|e| anyhow!("cannot encode PNG: {e}"))?;
    Ok(bytes)
}

/// Writes a file of descent's output atomically: never torn, never through a symbolic link.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    descent::files::write_atomically(path, bytes).map_err(anyhow::Error::from)
}

/// Writes an SVG document to `path`.
pub fn save_svg(svg: &str, path: &Path) -> Result<()> {
    write_file(path, svg.as_bytes())
}

/// Writes `figures` one above the other to `path`: PNG (at twice the size, sharp on dense
/// screens) when it ends in .png, SVG otherwise.
pub fn save_stack(figures: &[Figure], path: &Path) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => write_file(path, &png(figures, 2.0)?),
        _ => write_file(path, stack(figures).as_bytes()),
    }
}

/// Writes `figure` to `path` as SVG or PNG, chosen by the extension.
pub fn save(figure: &Figure, path: &Path) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => write_file(path, &png(std::slice::from_ref(figure), 2.0)?),
        _ => write_file(path, figure.to_svg().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axes_take_in_every_series_and_their_ticks_lie_inside() {
        // The issue's training-loss plot: a 1.8 frame asked for, a first epoch at 2.28.
        let mut figure = Figure::new(720.0, 320.0, (1.0, 10.0), (0.0, 1.8));
        figure.line(&[(1.0, 2.28), (2.0, 0.9), (10.0, 0.3)], PALETTE[0], Some("sgd"));
        figure.band(&[(1.0, 1.9, 2.4), (10.0, 0.2, 0.35)], PALETTE[0], 0.15);
        figure.marker((12.0, 0.5), "circle", PALETTE[1], 3.0);
        let layout = figure.layout();
        assert!(layout.y.low <= 0.0 && layout.y.high >= 2.4, "{:?}", layout.y);
        assert!(layout.x.low <= 1.0 && layout.x.high >= 12.0, "{:?}", layout.x);
        assert!(layout.notes.is_empty(), "nothing cut: {:?}", layout.notes);
        for axis in [&layout.x, &layout.y] {
            assert!(axis.ticks.len() >= 3 && axis.ticks.iter().all(|(at, _)| axis.contains(*at)), "{axis:?}");
        }
    }

    #[test]
    fn a_kept_view_says_how_many_points_it_cuts_off() {
        let mut figure = Figure::new(720.0, 400.0, (0.0, 1.0), (0.0, 1.0)).keep_view(true, true);
        // Two of the five points lie above y = 1, one of them also right of x = 1: two points.
        figure.line(&[(0.0, 0.5), (0.3, 3.0), (1.5, 2.0), (1.0, 0.1), (0.5, 0.5)], PALETTE[0], None);
        let layout = figure.layout();
        assert_eq!((layout.y.low, layout.y.high), (0.0, 1.0));
        assert_eq!(layout.notes, vec!["2 points beyond the frame are cut off at its edge.".to_string()]);
    }

    #[test]
    fn values_at_or_below_zero_on_a_log_axis_go_to_a_marked_strip() {
        let mut figure = Figure::new(760.0, 300.0, (f64::NAN, f64::NAN), (f64::NAN, f64::NAN)).log_scale(false, true);
        figure.line(&[(0.0, 10.0), (1.0, 1.0), (2.0, -3.0), (3.0, 0.0), (4.0, 0.1), (5.0, f64::NAN)], PALETTE[0], None);
        let layout = figure.layout();
        let (bottom, centre, top) = layout.floor.expect("a strip");
        // The data span log₁₀ 0.1 = −1 to log₁₀ 10 = 1, padded by 4%: the strip lies below −1.
        assert!(bottom < centre && centre < top && top < -1.0, "{:?}", layout.floor);
        assert!(layout.y.ticks.iter().any(|(at, label)| *at == centre && label == "≤ 0"));
        assert_eq!(layout.notes, vec!["2 values ≤ 0 (no logarithm) are drawn in the grey strip marked ≤ 0."]);
        // Decades −1, 0 and 1 as powers of ten.
        let labels: Vec<&str> = layout.y.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, vec!["10⁻¹", "10⁰", "10¹", "≤ 0"]);
    }

    #[test]
    fn percent_axes_scale_fractions() {
        let mut figure = Figure::new(720.0, 320.0, (1.0, 3.0), (0.0, 0.0)).percent_y();
        figure.line(&[(1.0, 0.12), (3.0, 0.08)], PALETTE[0], None);
        let layout = figure.layout();
        // 12% plus 4% of the 0–12 span.
        assert!((layout.y.high - 12.48).abs() < 1e-9 && layout.y.low == 0.0, "{:?}", layout.y);
        assert!(layout.y.ticks.iter().all(|(_, label)| label.ends_with('%')));
    }

    #[test]
    fn lines_are_cut_where_they_cross_the_frame() {
        let unit = ((0.0, 1.0), (0.0, 1.0));
        // y = 0.5 from x = −1 to 2 enters at x = 0 and leaves at x = 1.
        assert_eq!(clip_segment((-1.0, 0.5), (2.0, 0.5), unit), Some(((0.0, 0.5), (1.0, 0.5))));
        // The diagonal from (−1, −1) to (0.5, 0.5) enters at the corner.
        assert_eq!(clip_segment((-1.0, -1.0), (0.5, 0.5), unit), Some(((0.0, 0.0), (0.5, 0.5))));
        assert_eq!(clip_segment((2.0, 2.0), (3.0, 0.5), unit), None);
        // Out and back in: two pieces, the first ending and the second starting on the frame.
        let pieces = clip_polyline([(0.5, 0.5), (0.5, 1.5), (0.7, 0.5)].into_iter().map(Some), unit);
        assert_eq!(pieces, vec![vec![(0.5, 0.5), (0.5, 1.0)], vec![(0.6, 1.0), (0.7, 0.5)]]);
        // Inside, one piece however the arithmetic rounds (0.2 + (0.9 − 0.2) ≠ 0.9 in f64).
        let inside = [(0.2, 0.2), (0.9, 0.3), (0.3, 0.9), (0.6, 0.5)];
        assert_eq!(clip_polyline(inside.into_iter().map(Some), unit), vec![inside.to_vec()]);
    }

    #[test]
    fn a_stack_lines_up_its_plot_areas() {
        let mut short = Figure::new(700.0, 300.0, (0.0, 1.0), (0.0, 1.0));
        short.line(&[(0.0, 0.0), (1.0, 1.0)], PALETTE[0], Some("a"));
        let mut long = Figure::new(700.0, 300.0, (0.0, 1.0), (0.0, 100000.0));
        long.line(&[(0.0, 0.0), (1.0, 1.0)], PALETTE[0], Some("a much longer legend entry"));
        let svg = stack(&[short, long]);
        let frames: Vec<Vec<&str>> = svg
            .split("data-frame=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().split(' ').collect())
            .collect();
        assert_eq!(frames.len(), 2);
        // Same left (x0) and right (x1) edges.
        assert_eq!((frames[0][0], frames[0][2]), (frames[1][0], frames[1][2]), "{frames:?}");
    }

    #[test]
    fn both_formats_draw() {
        let mut figure = Figure::new(300.0, 200.0, (0.0, 1.0), (0.0, 1.0)).labels("t", "x", "y");
        figure.line(&[(0.0, 0.0), (1.0, 1.0)], PALETTE[0], Some("a"));
        let svg = figure.to_svg();
        assert!(svg.starts_with("<svg") && svg.contains(r#"<g class="data">"#) && !svg.contains("<!--"), "{svg}");
        let png = png(&[figure], 2.0).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
