//! Report charts: a line chart (emissions balance against the NDC trajectory, by year) and a
//! grouped bar chart (ITMO flows by year), each as SVG text or as a PNG image.
//!
//! A chart is first laid out as a small scene of rectangles, lines, circles and text on an
//! 800 × 450 canvas; the SVG writer and the PNG rasterizer draw the same scene, so the two
//! formats show the same picture. Text is measured and drawn with one embedded font (DejaVu
//! Sans), never a system font, so the PNG bytes depend only on the input. Values are whole
//! numbers (tonnes); floats appear only as pixel coordinates.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use tiny_skia::{FillRule, Mask, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

use crate::ReportError;

/// Width of the chart's canvas, in SVG user units (and PNG pixels at scale 1).
pub const CANVAS_WIDTH: u32 = 800;
/// Height of the chart's canvas.
pub const CANVAS_HEIGHT: u32 = 450;

/// Title of the line chart of the annual report.
pub const EMISSIONS_BALANCE_TITLE: &str = "Emissions balance vs NDC trajectory";
/// Title of the bar chart of the annual report.
pub const ITMO_FLOWS_TITLE: &str = "ITMO flows by year";

/// One named series of `(year, value)` points, value in whole units (t CO2 eq).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(u16, i64)>,
}

/// The ITMOs of one year, by kind of action, for [`itmo_flows_chart`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItmoFlows {
    pub year: u16,
    pub first_transferred: u64,
    pub acquired: u64,
    pub used: u64,
    pub cancelled: u64,
}

/// A laid-out chart, ready to be written as SVG or rasterized as PNG.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    title: String,
    items: Vec<Item>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rgb(u8, u8, u8);

const PALETTE: [Rgb; 6] = [
    Rgb(0x1f, 0x77, 0xb4),
    Rgb(0xd6, 0x27, 0x28),
    Rgb(0x2c, 0xa0, 0x2c),
    Rgb(0xff, 0x7f, 0x0e),
    Rgb(0x94, 0x67, 0xbd),
    Rgb(0x8c, 0x56, 0x4b),
];
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
const INK: Rgb = Rgb(0x22, 0x22, 0x22);
const AXIS: Rgb = Rgb(0x55, 0x55, 0x55);
const GRID: Rgb = Rgb(0xe0, 0xe0, 0xe0);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchor {
    Start,
    Middle,
    End,
}

/// What an element stands for; written as the SVG `class`, so a reader (or a test) can find
/// the marks of the data apart from axes and legend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Frame,
    Bar,
    Point,
    Series,
    Legend,
}

impl Role {
    fn class(self) -> &'static str {
        match self {
            Role::Frame => "frame",
            Role::Bar => "bar",
            Role::Point => "point",
            Role::Series => "series",
            Role::Legend => "legend",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Item {
    Rect {
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        fill: Rgb,
        role: Role,
    },
    Polyline {
        points: Vec<(f64, f64)>,
        stroke: Rgb,
        width: f64,
        role: Role,
    },
    Circle {
        cx: f64,
        cy: f64,
        r: f64,
        fill: Rgb,
    },
    Text {
        x: f64,
        y: f64,
        size: f64,
        bold: bool,
        anchor: Anchor,
        fill: Rgb,
        text: String,
    },
}

// Layout of the canvas: plot area and where the text goes.
const LEFT: f64 = 96.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 64.0;
const BOTTOM: f64 = 76.0;
const TITLE_SIZE: f64 = 18.0;
const LABEL_SIZE: f64 = 12.0;
const LINE_INSET: f64 = 24.0;

fn canvas() -> (f64, f64) {
    (f64::from(CANVAS_WIDTH), f64::from(CANVAS_HEIGHT))
}

fn plot_area() -> (f64, f64, f64, f64) {
    let (w, h) = canvas();
    (LEFT, TOP, w - LEFT - RIGHT, h - TOP - BOTTOM)
}

/// Lines by year, one per series, with a marker (`class="point"`) on every point.
pub fn line_chart(title: &str, y_label: &str, series: &[Series]) -> Chart {
    let mut items = frame(title, y_label);
    let scale = ValueScale::new(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let years: Vec<u16> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let (year_min, year_max) = match (years.iter().min(), years.iter().max()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => (0, 0),
    };
    // The first and last years sit a little inside the plot, clear of the axis.
    let (left, _, plot_w, _) = plot_area();
    let (left, plot_w) = (left + LINE_INSET, plot_w - 2.0 * LINE_INSET);
    let x_of = |year: u16| {
        if year_max == year_min {
            left + plot_w / 2.0
        } else {
            left + plot_w * fraction(i128::from(year - year_min), i128::from(year_max - year_min))
        }
    };
    items.extend(scale.grid());
    if !years.is_empty() {
        let span = year_max - year_min;
        let step = span.div_ceil(12).max(1);
        let mut year = year_min;
        loop {
            items.push(x_label(x_of(year), &year.to_string()));
            match year.checked_add(step) {
                Some(next) if next <= year_max => year = next,
                _ => break,
            }
        }
    }
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut points = s.points.clone();
        points.sort_by_key(|p| p.0);
        let xy: Vec<(f64, f64)> = points
            .iter()
            .map(|&(y, v)| (x_of(y), scale.y_of(v)))
            .collect();
        if xy.len() > 1 {
            items.push(Item::Polyline {
                points: xy.clone(),
                stroke: color,
                width: 2.5,
                role: Role::Series,
            });
        }
        items.extend(xy.into_iter().map(|(cx, cy)| Item::Circle {
            cx,
            cy,
            r: 3.5,
            fill: color,
        }));
    }
    items.extend(legend(series));
    Chart {
        title: title.to_owned(),
        items,
    }
}

/// Bars grouped by category (year): one bar (`class="bar"`) per series point whose year is one
/// of `categories`; points of other years are not drawn.
pub fn bar_chart(title: &str, y_label: &str, categories: &[u16], series: &[Series]) -> Chart {
    let mut items = frame(title, y_label);
    let shown = |year: &u16| categories.contains(year);
    let scale = ValueScale::new(
        series
            .iter()
            .flat_map(|s| s.points.iter().filter(|p| shown(&p.0)).map(|p| p.1)),
    );
    items.extend(scale.grid());
    let (left, _, plot_w, _) = plot_area();
    let band = plot_w / count(categories.len()).max(1.0);
    let bar_w = band * 0.8 / count(series.len()).max(1.0);
    let zero = scale.y_of(0);
    for (c, year) in categories.iter().enumerate() {
        let band_left = left + band * count(c);
        items.push(x_label(band_left + band / 2.0, &year.to_string()));
        for (i, s) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let x = band_left + band * 0.1 + bar_w * count(i);
            for &(_, value) in s.points.iter().filter(|p| p.0 == *year) {
                let y = scale.y_of(value);
                items.push(Item::Rect {
                    x,
                    y: y.min(zero),
                    w: bar_w,
                    h: (y - zero).abs(),
                    fill: color,
                    role: Role::Bar,
                });
            }
        }
    }
    items.extend(legend(series));
    Chart {
        title: title.to_owned(),
        items,
    }
}

/// [`line_chart`] as SVG text.
pub fn line_chart_svg(title: &str, y_label: &str, series: &[Series]) -> String {
    line_chart(title, y_label, series).to_svg()
}

/// [`bar_chart`] as SVG text.
pub fn bar_chart_svg(title: &str, y_label: &str, categories: &[u16], series: &[Series]) -> String {
    bar_chart(title, y_label, categories, series).to_svg()
}

/// The annual report's line chart: the emissions balance and the NDC trajectory, by year.
pub fn emissions_balance_chart(balance: &[(u16, i64)], ndc_trajectory: &[(u16, i64)]) -> Chart {
    line_chart(
        EMISSIONS_BALANCE_TITLE,
        "t CO2 eq",
        &[
            Series {
                name: "Emissions balance".to_owned(),
                points: balance.to_vec(),
            },
            Series {
                name: "NDC trajectory".to_owned(),
                points: ndc_trajectory.to_vec(),
            },
        ],
    )
}

/// The annual report's bar chart: ITMOs first transferred, acquired, used and cancelled, by
/// year, in the order given.
pub fn itmo_flows_chart(flows: &[ItmoFlows]) -> Chart {
    // A chart cannot show more than i64::MAX tonnes apart anyway; clamp rather than fail.
    let value = |q: u64| i64::try_from(q).unwrap_or(i64::MAX);
    let series = |name: &str, pick: fn(&ItmoFlows) -> u64| Series {
        name: name.to_owned(),
        points: flows.iter().map(|f| (f.year, value(pick(f)))).collect(),
    };
    let years: Vec<u16> = flows.iter().map(|f| f.year).collect();
    bar_chart(
        ITMO_FLOWS_TITLE,
        "ITMOs (t CO2 eq)",
        &years,
        &[
            series("First transferred", |f| f.first_transferred),
            series("Acquired", |f| f.acquired),
            series("Used", |f| f.used),
            series("Cancelled", |f| f.cancelled),
        ],
    )
}

impl Chart {
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The chart as a standalone SVG document, 800 × 450 user units.
    pub fn to_svg(&self) -> String {
        let (w, h) = canvas();
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Verdana, sans-serif">"#
        );
        let _ = writeln!(out, "<title>{}</title>", escape(&self.title));
        for item in &self.items {
            match item {
                Item::Rect {
                    x,
                    y,
                    w,
                    h,
                    fill,
                    role,
                } => {
                    let _ = writeln!(
                        out,
                        r#"<rect class="{}" x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
                        role.class(),
                        num(*x),
                        num(*y),
                        num(*w),
                        num(*h),
                        hex(*fill)
                    );
                }
                Item::Polyline {
                    points,
                    stroke,
                    width,
                    role,
                } => {
                    let mut d = String::new();
                    for (i, (x, y)) in points.iter().enumerate() {
                        let op = if i == 0 { "M" } else { " L" };
                        let _ = write!(d, "{op}{} {}", num(*x), num(*y));
                    }
                    let _ = writeln!(
                        out,
                        r#"<path class="{}" d="{d}" fill="none" stroke="{}" stroke-width="{}" stroke-linejoin="round"/>"#,
                        role.class(),
                        hex(*stroke),
                        num(*width)
                    );
                }
                Item::Circle { cx, cy, r, fill } => {
                    let _ = writeln!(
                        out,
                        r#"<circle class="{}" cx="{}" cy="{}" r="{}" fill="{}"/>"#,
                        Role::Point.class(),
                        num(*cx),
                        num(*cy),
                        num(*r),
                        hex(*fill)
                    );
                }
                Item::Text {
                    x,
                    y,
                    size,
                    bold,
                    anchor,
                    fill,
                    text,
                } => {
                    let anchor = match anchor {
                        Anchor::Start => "start",
                        Anchor::Middle => "middle",
                        Anchor::End => "end",
                    };
                    let weight = if *bold { r#" font-weight="bold""# } else { "" };
                    let _ = writeln!(
                        out,
                        r#"<text x="{}" y="{}" font-size="{}"{weight} text-anchor="{anchor}" fill="{}">{}</text>"#,
                        num(*x),
                        num(*y),
                        num(*size),
                        hex(*fill),
                        escape(text)
                    );
                }
            }
        }
        out.push_str("</svg>\n");
        out
    }

    /// Writes [`Chart::to_svg`] to `path`.
    pub fn write_svg(&self, path: &Path) -> Result<(), ReportError> {
        std::fs::write(path, self.to_svg()).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The chart rasterized to a `width` × `height` PNG (the canvas stretched to fit).
    pub fn to_png(&self, width: u32, height: u32) -> Result<Vec<u8>, ReportError> {
        let mut pixmap = Pixmap::new(width, height)
            .ok_or_else(|| ReportError::Png(format!("bad image size {width} x {height}")))?;
        pixmap.fill(tiny_skia::Color::WHITE);
        let (canvas_w, canvas_h) = canvas();
        let sx = f64::from(width) / canvas_w;
        let sy = f64::from(height) / canvas_h;
        let transform = Transform::from_scale(px(sx), px(sy));
        let regular = FontRef::try_from_slice(dejavu::sans::regular())
            .map_err(|e| ReportError::Png(format!("load embedded font: {e}")))?;
        let bold = FontRef::try_from_slice(dejavu::sans::bold())
            .map_err(|e| ReportError::Png(format!("load embedded font: {e}")))?;
        // Text is drawn last, through one coverage mask per colour.
        let mut text_masks: BTreeMap<Rgb, Mask> = BTreeMap::new();
        for item in &self.items {
            match item {
                Item::Rect {
                    x, y, w, h, fill, ..
                } => {
                    if let Some(rect) = Rect::from_xywh(px(*x), px(*y), px(*w), px(*h)) {
                        pixmap.fill_rect(rect, &paint(*fill), transform, None);
                    }
                }
                Item::Polyline {
                    points,
                    stroke,
                    width,
                    ..
                } => {
                    let mut builder = PathBuilder::new();
                    for (i, (x, y)) in points.iter().enumerate() {
                        if i == 0 {
                            builder.move_to(px(*x), px(*y));
                        } else {
                            builder.line_to(px(*x), px(*y));
                        }
                    }
                    if let Some(path) = builder.finish() {
                        let stroke_style = Stroke {
                            width: px(*width),
                            line_join: tiny_skia::LineJoin::Round,
                            ..Stroke::default()
                        };
                        pixmap.stroke_path(&path, &paint(*stroke), &stroke_style, transform, None);
                    }
                }
                Item::Circle { cx, cy, r, fill } => {
                    if let Some(path) = PathBuilder::from_circle(px(*cx), px(*cy), px(*r)) {
                        pixmap.fill_path(&path, &paint(*fill), FillRule::Winding, transform, None);
                    }
                }
                Item::Text {
                    x,
                    y,
                    size,
                    bold: is_bold,
                    anchor,
                    fill,
                    text,
                } => {
                    let mask = match text_masks.entry(*fill) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(Mask::new(width, height).ok_or_else(|| {
                                ReportError::Png(format!("bad image size {width} x {height}"))
                            })?)
                        }
                    };
                    let font = if *is_bold { &bold } else { &regular };
                    let x0 = *x - anchor_offset(font, text, *size, *anchor);
                    draw_text(mask, font, text, x0 * sx, *y * sy, *size * sx, *size * sy);
                }
            }
        }
        let full = Rect::from_xywh(0.0, 0.0, px(f64::from(width)), px(f64::from(height)))
            .ok_or_else(|| ReportError::Png(format!("bad image size {width} x {height}")))?;
        for (color, mask) in &text_masks {
            pixmap.fill_rect(full, &paint(*color), Transform::identity(), Some(mask));
        }
        pixmap
            .encode_png()
            .map_err(|e| ReportError::Png(format!("encode: {e}")))
    }

    /// Writes [`Chart::to_png`] to `path`.
    pub fn write_png(&self, path: &Path, width: u32, height: u32) -> Result<(), ReportError> {
        let png = self.to_png(width, height)?;
        std::fs::write(path, png).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Background, title and y-axis caption.
fn frame(title: &str, y_label: &str) -> Vec<Item> {
    let (w, h) = canvas();
    vec![
        Item::Rect {
            x: 0.0,
            y: 0.0,
            w,
            h,
            fill: WHITE,
            role: Role::Frame,
        },
        Item::Text {
            x: w / 2.0,
            y: 32.0,
            size: TITLE_SIZE,
            bold: true,
            anchor: Anchor::Middle,
            fill: INK,
            text: title.to_owned(),
        },
        Item::Text {
            x: LEFT,
            y: TOP - 12.0,
            size: LABEL_SIZE,
            bold: false,
            anchor: Anchor::Start,
            fill: AXIS,
            text: y_label.to_owned(),
        },
    ]
}

fn x_label(x: f64, text: &str) -> Item {
    let (_, top, _, plot_h) = plot_area();
    Item::Text {
        x,
        y: top + plot_h + 18.0,
        size: LABEL_SIZE,
        bold: false,
        anchor: Anchor::Middle,
        fill: AXIS,
        text: text.to_owned(),
    }
}

/// One swatch (`class="legend"`) and name per series, in a row under the plot.
fn legend(series: &[Series]) -> Vec<Item> {
    let (_, h) = canvas();
    let baseline = h - 20.0;
    let mut x = LEFT;
    let mut items = Vec::new();
    for (i, s) in series.iter().enumerate() {
        items.push(Item::Rect {
            x,
            y: baseline - 10.0,
            w: 12.0,
            h: 12.0,
            fill: PALETTE[i % PALETTE.len()],
            role: Role::Legend,
        });
        items.push(Item::Text {
            x: x + 17.0,
            y: baseline,
            size: LABEL_SIZE,
            bold: false,
            anchor: Anchor::Start,
            fill: INK,
            text: s.name.clone(),
        });
        x += 17.0 + text_width(&s.name, LABEL_SIZE, false) + 24.0;
    }
    items
}

/// The value axis: a "nice" range that includes zero, ticks every `step`.
struct ValueScale {
    low: i128,
    high: i128,
    step: i128,
}

impl ValueScale {
    fn new(values: impl Iterator<Item = i64>) -> ValueScale {
        let (mut min, mut max) = (0i128, 0i128);
        for v in values {
            min = min.min(i128::from(v));
            max = max.max(i128::from(v));
        }
        let raw = ((max - min) + 4) / 5;
        let raw = raw.max(1);
        let mut magnitude: i128 = 1;
        while magnitude * 10 <= raw {
            magnitude *= 10;
        }
        let step = [1, 2, 5, 10]
            .iter()
            .map(|k| k * magnitude)
            .find(|s| *s >= raw)
            .unwrap_or(10 * magnitude);
        let low = min.div_euclid(step) * step;
        let high = -((-max).div_euclid(step)) * step;
        let high = if high == low { low + step } else { high };
        ValueScale { low, high, step }
    }

    fn y_of(&self, value: i64) -> f64 {
        let (_, top, _, plot_h) = plot_area();
        top + plot_h * fraction(self.high - i128::from(value), self.high - self.low)
    }

    /// Grid lines and labels at every tick, the zero line darker.
    fn grid(&self) -> Vec<Item> {
        let (left, top, plot_w, plot_h) = plot_area();
        let mut items = Vec::new();
        let mut tick = self.low;
        while tick <= self.high {
            let y = top + plot_h * fraction(self.high - tick, self.high - self.low);
            items.push(Item::Polyline {
                points: vec![(left, y), (left + plot_w, y)],
                stroke: if tick == 0 { AXIS } else { GRID },
                width: 1.0,
                role: Role::Frame,
            });
            items.push(Item::Text {
                x: left - 8.0,
                y: y + 4.0,
                size: LABEL_SIZE,
                bold: false,
                anchor: Anchor::End,
                fill: AXIS,
                text: grouped(tick),
            });
            tick += self.step;
        }
        items.push(Item::Polyline {
            points: vec![(left, top), (left, top + plot_h)],
            stroke: AXIS,
            width: 1.0,
            role: Role::Frame,
        });
        items
    }
}

/// `part / whole` in [0, 1], to a millionth: exact integer arithmetic, then one conversion
/// of a number below 2^20 to a float (for a pixel coordinate only).
fn fraction(part: i128, whole: i128) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    let ppm = (part.clamp(0, whole) * 1_000_000) / whole;
    f64::from(u32::try_from(ppm).unwrap_or(1_000_000)) / 1_000_000.0
}

fn count(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

/// A pixel coordinate for tiny-skia, which draws in f32.
fn px(v: f64) -> f32 {
    // Pixel coordinates are small; the narrowing only drops precision no pixel can show.
    v as f32
}

/// `-1,234,500` style.
fn grouped(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A coordinate with at most two decimals, no trailing zeros, never `-0`.
fn num(v: f64) -> String {
    let s = format!("{:.2}", v + 0.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn paint(c: Rgb) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color_rgba8(c.0, c.1, c.2, 255);
    paint.anti_alias = true;
    paint
}

/// The advance width of `text` in the embedded font, at `size` pixels.
fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    let data = if bold {
        dejavu::sans::bold()
    } else {
        dejavu::sans::regular()
    };
    match FontRef::try_from_slice(data) {
        Ok(font) => advance(&font, text, size),
        // Unreachable with the embedded font; an average glyph width keeps the layout sane.
        Err(_) => 0.6 * size * count(text.chars().count()),
    }
}

fn advance(font: &FontRef<'_>, text: &str, size: f64) -> f64 {
    let scaled = font.as_scaled(PxScale::from(px(size)));
    let mut width = 0.0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = previous {
            width += scaled.kern(p, id);
        }
        width += scaled.h_advance(id);
        previous = Some(id);
    }
    f64::from(width)
}

fn anchor_offset(font: &FontRef<'_>, text: &str, size: f64, anchor: Anchor) -> f64 {
    match anchor {
        Anchor::Start => 0.0,
        Anchor::Middle => advance(font, text, size) / 2.0,
        Anchor::End => advance(font, text, size),
    }
}

/// Adds the coverage of `text` (baseline at `y`, starting at `x`, in image pixels) to `mask`.
fn draw_text(
    mask: &mut Mask,
    font: &FontRef<'_>,
    text: &str,
    x: f64,
    y: f64,
    size_x: f64,
    size_y: f64,
) {
    let scale = PxScale {
        x: px(size_x),
        y: px(size_y),
    };
    let scaled = font.as_scaled(scale);
    let (mask_w, mask_h) = (mask.width(), mask.height());
    let data = mask.data_mut();
    let mut caret = px(x);
    let mut previous = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(caret, px(y)));
        caret += scaled.h_advance(id);
        previous = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        // Glyph bounds are whole pixel indices already (px_bounds rounds them).
        let (left, top) = (bounds.min.x as i64, bounds.min.y as i64);
        outline.draw(|gx, gy, coverage| {
            let (Ok(px_x), Ok(px_y)) = (
                u32::try_from(left + i64::from(gx)),
                u32::try_from(top + i64::from(gy)),
            ) else {
                return;
            };
            if px_x >= mask_w || px_y >= mask_h {
                return;
            }
            let Ok(index) = usize::try_from(u64::from(px_y) * u64::from(mask_w) + u64::from(px_x))
            else {
                return;
            };
            // Coverage is clamped to 0..=1, so the product fits a byte.
            let alpha = (coverage.clamp(0.0, 1.0) * 255.0).round() as u8;
            if let Some(cell) = data.get_mut(index) {
                *cell = (*cell).max(alpha);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_scale_includes_zero_and_rounds_to_nice_steps() {
        let s = ValueScale::new([120, 980].into_iter());
        assert_eq!((s.low, s.high, s.step), (0, 1000, 200));
        let s = ValueScale::new([-35, 70].into_iter());
        assert_eq!((s.low, s.high, s.step), (-50, 100, 50));
        let s = ValueScale::new(std::iter::empty());
        assert_eq!((s.low, s.high, s.step), (0, 1, 1));
    }

    #[test]
    fn grouped_inserts_thousands_separators() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(-1_234_500), "-1,234,500");
    }

    #[test]
    fn num_trims_zeros_and_never_prints_negative_zero() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(10.0), "10");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(1.234), "1.23");
    }

    #[test]
    fn escape_covers_xml_specials() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
