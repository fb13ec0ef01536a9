//! Charts: the SVG carries the title and one mark per data point; the PNG has the PNG
//! signature, the requested size, and the same bytes for the same input.

use tanso_report::chart::{emissions_balance_chart, itmo_flows_chart, ItmoFlows};
use tanso_report::*;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

fn series(name: &str, points: &[(u16, i64)]) -> Series {
    Series {
        name: name.to_owned(),
        points: points.to_vec(),
    }
}

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

/// Width and height from the PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(png[..8], PNG_SIGNATURE);
    assert_eq!(&png[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

fn balance_series() -> Vec<Series> {
    vec![
        series(
            "Emissions balance",
            &[
                (2021, 2_900_000),
                (2022, 2_950_000),
                (2023, 2_870_000),
                (2024, 2_800_000),
            ],
        ),
        series(
            "NDC trajectory",
            &[
                (2021, 3_000_000),
                (2022, 2_900_000),
                (2023, 2_800_000),
                (2024, 2_700_000),
                (2025, 2_600_000),
            ],
        ),
    ]
}

#[test]
fn line_chart_svg_has_title_one_path_per_series_and_one_point_per_value() {
    let svg = line_chart_svg("Emissions <balance> & NDC", "t CO2 eq", &balance_series());
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("<title>Emissions &lt;balance&gt; &amp; NDC</title>"));
    assert_eq!(count(&svg, r#"class="point""#), 9);
    assert_eq!(count(&svg, r#"<path class="series""#), 2);
    assert_eq!(count(&svg, r#"class="legend""#), 2);
    assert!(svg.contains(">NDC trajectory</text>"));
    assert!(svg.contains(">3,000,000</text>"), "grouped tick label");
    assert!(svg.contains(">2025</text>"), "year label");
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn bar_chart_svg_has_one_rect_per_point_in_the_categories() {
    let flows = [
        series("First transferred", &[(2025, 1000), (2026, 1500)]),
        series("Acquired", &[(2025, 200), (2026, 250)]),
        series("Used", &[(2026, 400)]),
        series("Cancelled", &[(2026, 50), (2027, 99)]),
    ];
    let svg = bar_chart_svg(
        "ITMO flows by year",
        "ITMOs (t CO2 eq)",
        &[2025, 2026],
        &flows,
    );
    assert!(svg.contains("<title>ITMO flows by year</title>"));
    // 2027 is not a category: its point is not drawn.
    assert_eq!(count(&svg, r#"class="bar""#), 6);
    assert_eq!(count(&svg, r#"class="legend""#), 4);
    assert!(svg.contains(">Cancelled</text>"));
}

#[test]
fn bars_of_negative_values_hang_below_the_zero_line() {
    let svg = bar_chart_svg(
        "Net",
        "t",
        &[2026],
        &[
            series("net", &[(2026, -40)]),
            series("gross", &[(2026, 80)]),
        ],
    );
    let bars: Vec<&str> = svg
        .lines()
        .filter(|l| l.contains(r#"class="bar""#))
        .collect();
    assert_eq!(bars.len(), 2);
    let attr = |line: &str, name: &str| -> f64 {
        let start = line.find(&format!(" {name}=\"")).expect("attribute") + name.len() + 3;
        let end = start + line[start..].find('"').expect("closing quote");
        line[start..end].parse().expect("number")
    };
    // The negative bar starts where the positive one ends: at the zero line.
    let (neg_y, pos_y, pos_h) = (
        attr(bars[0], "y"),
        attr(bars[1], "y"),
        attr(bars[1], "height"),
    );
    assert!(
        (neg_y - (pos_y + pos_h)).abs() < 0.02,
        "{neg_y} vs {pos_y}+{pos_h}"
    );
    assert!(attr(bars[0], "height") > 0.0);
}

#[test]
fn png_has_the_signature_and_the_requested_size() {
    let dir = tempfile::tempdir().expect("create temp dir");
    let path = dir.path().join("balance.png");
    let chart = line_chart(
        "Emissions balance vs NDC trajectory",
        "t CO2 eq",
        &balance_series(),
    );
    chart.write_png(&path, 1200, 675).expect("write png");
    let png = std::fs::read(&path).expect("read png");
    assert_eq!(png_size(&png), (1200, 675));

    let bars = itmo_flows_chart(&[
        ItmoFlows {
            year: 2025,
            first_transferred: 1000,
            acquired: 200,
            used: 0,
            cancelled: 0,
        },
        ItmoFlows {
            year: 2026,
            first_transferred: 1500,
            acquired: 250,
            used: 400,
            cancelled: 50,
        },
    ]);
    assert_eq!(bars.title(), "ITMO flows by year");
    let png = bars.to_png(640, 360).expect("render png");
    assert_eq!(png_size(&png), (640, 360));
}

#[test]
fn png_draws_text_and_is_deterministic() {
    let chart = emissions_balance_chart(&[(2021, 10), (2022, 12)], &[(2021, 11), (2022, 9)]);
    let first = chart.to_png(800, 450).expect("render png");
    let second = chart.to_png(800, 450).expect("render png");
    assert!(first == second, "png output is not deterministic");
    // The same chart with an empty title differs: the title's text reaches the pixels.
    let untitled = line_chart(
        "",
        "t CO2 eq",
        &[
            series("Emissions balance", &[(2021, 10), (2022, 12)]),
            series("NDC trajectory", &[(2021, 11), (2022, 9)]),
        ],
    );
    assert!(untitled.to_png(800, 450).expect("render png") != first);
}

#[test]
fn empty_chart_still_renders() {
    let svg = line_chart_svg("Nothing yet", "t", &[]);
    assert!(svg.contains("<title>Nothing yet</title>"));
    assert_eq!(count(&svg, r#"class="point""#), 0);
    let png = line_chart("Nothing yet", "t", &[])
        .to_png(100, 50)
        .expect("render png");
    assert_eq!(png_size(&png), (100, 50));
}
