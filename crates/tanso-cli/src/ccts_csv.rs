//! Import of the GEI Schedule (REFERENCE §4.4): a CSV shaped like the Schedule of the GEI
//! Target Rules, one row per obligated entity, with its baseline and a target GEI per
//! compliance year.
//!
//! ```text
//! entity,sector,baseline_output,baseline_gei,target_2025_26,target_2026_27
//! VEDANTA-JHARSUGUDA,aluminium,1238336,13.4927,13.2260,12.8259
//! ```
//!
//! This is edge code: it only turns text into checked rows. The whole file is parsed before
//! anything is returned, and a single bad row fails the import with every problem found, each
//! with its line, so nothing is ever half-imported. Numbers are exact decimals
//! (`Decimal::from_str_exact`), never floats. Whether an entity already exists is for the core
//! to decide, not this parser.

use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt;
use tanso_core::ccts::compliance::ComplianceYear;
use tanso_core::ProjectId;

/// The columns every Schedule has, besides its `target_YYYY_YY` columns.
const FIXED_COLUMNS: [&str; 4] = ["entity", "sector", "baseline_output", "baseline_gei"];
const TARGET_PREFIX: &str = "target_";
/// The longest sector name, in characters.
pub const SECTOR_MAX_CHARS: usize = 64;

/// One checked row of the Schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeiRow {
    /// The row's line in the file (the header is line 1).
    pub line: usize,
    pub entity: ProjectId,
    pub sector: String,
    /// Output in the baseline year (2023-24), in units of equivalent product.
    pub baseline_output: Decimal,
    /// GEI in the baseline year, tCO2e per unit of equivalent product.
    pub baseline_gei: Decimal,
    /// (compliance year, target GEI), ascending by year; only the years with a target.
    pub targets: Vec<(u16, Decimal)>,
}

/// A problem with one line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based; the header is line 1.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Where each column is, as the header names them.
struct Layout {
    width: usize,
    entity: usize,
    sector: usize,
    baseline_output: usize,
    baseline_gei: usize,
    /// (compliance year, column), ascending by year.
    targets: Vec<(u16, usize)>,
}

/// Parses a whole GEI Schedule. On any bad line, returns every problem found (line numbers
/// 1-based, the header being line 1) and no rows.
pub fn parse_gei_schedule(text: &str) -> Result<Vec<GeiRow>, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let lines = Lines::new(text);

    let header = match records.next() {
        None => return Err(vec![error(1, "the file is empty: a header is required")]),
        Some(Err(e)) => return Err(vec![lines.of_error(&e, 1)]),
        Some(Ok(h)) => h,
    };
    let header_line = lines.of_record(&header, 1);
    let layout = layout(&header).map_err(|reasons| {
        reasons
            .into_iter()
            .map(|r| error(header_line, r))
            .collect::<Vec<_>>()
    })?;

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut first_line_of: BTreeMap<ProjectId, usize> = BTreeMap::new();
    let mut last_line = header_line;
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(lines.of_error(&e, last_line + 1));
                continue;
            }
        };
        let line = lines.of_record(&record, last_line + 1);
        last_line = line;
        match parse_row(&layout, &record, line) {
            Ok(row) => match first_line_of.get(&row.entity) {
                Some(first) => errors.push(error(
                    line,
                    format!("entity {} is already on line {first}", row.entity),
                )),
                None => {
                    first_line_of.insert(row.entity.clone(), line);
                    rows.push(row);
                }
            },
            Err(reasons) => errors.extend(reasons.into_iter().map(|r| error(line, r))),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(error(header_line, "the schedule has no entity rows"));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn error(line: usize, reason: impl Into<String>) -> RowError {
    RowError {
        line,
        reason: reason.into(),
    }
}

/// Line numbers of byte offsets. The CSV reader's own line count can start a record on the
/// `\n` of a `\r\n` line end, one line early, so the line is found from the record's first
/// byte that is not a line end.
struct Lines<'a> {
    text: &'a [u8],
    /// Byte offsets of every `\n`.
    newlines: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let text = text.as_bytes();
        let newlines = text
            .iter()
            .enumerate()
            .filter_map(|(i, b)| (*b == b'\n').then_some(i))
            .collect();
        Lines { text, newlines }
    }

    /// The 1-based line of the first byte at or after `offset` that is not a line end.
    fn at(&self, offset: u64) -> Option<usize> {
        let mut start = usize::try_from(offset).ok()?;
        while self
            .text
            .get(start)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            start += 1;
        }
        Some(self.newlines.partition_point(|&n| n < start) + 1)
    }

    fn of_record(&self, record: &csv::StringRecord, fallback: usize) -> usize {
        record
            .position()
            .and_then(|p| self.at(p.byte()))
            .unwrap_or(fallback)
    }

    fn of_error(&self, e: &csv::Error, fallback: usize) -> RowError {
        let line = e
            .position()
            .and_then(|p| self.at(p.byte()))
            .unwrap_or(fallback);
        error(line, format!("unreadable CSV: {e}"))
    }
}

/// Reads the header; every problem with it, or where each column is.
fn layout(header: &csv::StringRecord) -> Result<Layout, Vec<String>> {
    let mut problems = Vec::new();
    let mut fixed: [Option<usize>; 4] = [None; 4];
    let mut targets: BTreeMap<u16, usize> = BTreeMap::new();
    let mut bad_target_column = false;
    for (col, name) in header.iter().enumerate() {
        if let Some(i) = FIXED_COLUMNS.iter().position(|c| *c == name) {
            if fixed[i].is_some() {
                problems.push(format!("column `{name}` appears twice"));
            }
            fixed[i] = Some(col);
        } else if let Some(years) = name.strip_prefix(TARGET_PREFIX) {
            match target_year(years) {
                Some(year) => {
                    if targets.insert(year, col).is_some() {
                        problems.push(format!("column `{name}` appears twice"));
                    }
                }
                None => {
                    bad_target_column = true;
                    problems.push(format!(
                        "column `{name}` does not name a compliance year: \
                         expected target_YYYY_YY, the second year being the next, e.g. target_2025_26"
                    ));
                }
            }
        } else {
            problems.push(format!(
                "unknown column `{name}`: expected {}, and target_YYYY_YY columns",
                FIXED_COLUMNS.join(", ")
            ));
        }
    }
    for (i, col) in fixed.iter().enumerate() {
        if col.is_none() {
            problems.push(format!("missing column `{}`", FIXED_COLUMNS[i]));
        }
    }
    if targets.is_empty() && !bad_target_column {
        problems.push("no target column: add at least one target_YYYY_YY column".to_owned());
    }
    match fixed {
        [Some(entity), Some(sector), Some(baseline_output), Some(baseline_gei)]
            if problems.is_empty() =>
        {
            Ok(Layout {
                width: header.len(),
                entity,
                sector,
                baseline_output,
                baseline_gei,
                targets: targets.into_iter().collect(),
            })
        }
        _ => Err(problems),
    }
}

/// `2025_26` → 2025; `None` unless the second part is the year after the first.
fn target_year(years: &str) -> Option<u16> {
    let (first, second) = years.split_once('_')?;
    if first.len() != 4 || second.len() != 2 {
        return None;
    }
    ComplianceYear::parse(&format!("{first}-{second}"))
        .ok()
        .map(ComplianceYear::first_year)
}

/// One data row; every problem with it, or the row.
fn parse_row(
    layout: &Layout,
    record: &csv::StringRecord,
    line: usize,
) -> Result<GeiRow, Vec<String>> {
    if record.len() != layout.width {
        return Err(vec![format!(
            "expected {} fields, as the header has, found {}",
            layout.width,
            record.len()
        )]);
    }
    let field = |col: usize| record.get(col).unwrap_or("");
    let mut problems = Vec::new();

    let entity_text = field(layout.entity);
    let entity = ProjectId::parse(entity_text)
        .map_err(|_| {
            problems.push(format!(
                "entity `{entity_text}` is not a valid id: 1 to {} letters, digits, `.`, `_`, `:` or `-`",
                ProjectId::MAX_LEN
            ))
        })
        .ok();

    let sector = field(layout.sector);
    if sector.is_empty() {
        problems.push("sector is empty".to_owned());
    } else if sector.chars().count() > SECTOR_MAX_CHARS {
        problems.push(format!(
            "sector is longer than {SECTOR_MAX_CHARS} characters"
        ));
    } else if sector.chars().any(char::is_control) {
        problems.push("sector contains non-printable characters".to_owned());
    }

    let mut positive = |name: &str, text: &str| match positive_decimal(text) {
        Ok(d) => Some(d),
        Err(why) => {
            problems.push(format!("{name} {why}"));
            None
        }
    };
    let baseline_output = positive("baseline_output", field(layout.baseline_output));
    let baseline_gei = positive("baseline_gei", field(layout.baseline_gei));
    let mut targets = Vec::new();
    for &(year, col) in &layout.targets {
        let text = field(col);
        if text.is_empty() {
            continue;
        }
        let name = format!("target {}", ComplianceYear(year).label());
        if let Some(t) = positive(&name, text) {
            targets.push((year, t));
        }
    }
    let any_target_given = layout
        .targets
        .iter()
        .any(|&(_, col)| !field(col).is_empty());
    if !any_target_given {
        problems.push("no target in any compliance year".to_owned());
    }

    match (entity, baseline_output, baseline_gei) {
        (Some(entity), Some(baseline_output), Some(baseline_gei)) if problems.is_empty() => {
            Ok(GeiRow {
                line,
                entity,
                sector: sector.to_owned(),
                baseline_output,
                baseline_gei,
                targets,
            })
        }
        _ => Err(problems),
    }
}

/// A decimal greater than zero, written as digits with an optional fraction (`13.2260`); no
/// sign, exponent, thousands separator or underscore. The reason reads after the field name.
fn positive_decimal(text: &str) -> Result<Decimal, String> {
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err(format!(
            "`{text}` is not a decimal number (digits, an optional `.` and more digits)"
        ));
    }
    let value = Decimal::from_str_exact(text)
        .map_err(|_| format!("`{text}` has more digits than can be held exactly"))?;
    if value <= Decimal::ZERO {
        return Err(format!("must be positive, got {text}"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "entity,sector,baseline_output,baseline_gei,target_2025_26,target_2026_27";

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn id(s: &str) -> ProjectId {
        ProjectId::parse(s).unwrap()
    }

    fn errors(text: &str) -> Vec<(usize, String)> {
        match parse_gei_schedule(text) {
            Ok(rows) => panic!("expected errors, got {rows:?}"),
            Err(e) => e.into_iter().map(|e| (e.line, e.reason)).collect(),
        }
    }

    #[test]
    fn ccts_csv_good_schedule_parses_exactly() {
        let text = format!(
            "{HEADER}\n\
             VEDANTA-JHARSUGUDA,aluminium,1238336,13.4927,13.2260,12.8259\n\
             ACME-CEMENT-01,cement,2500000.5,0.7000,0.6800,\n\
             \"PULP.MILL:7\",\"pulp and paper\",310000,1.3386,,1.2563\n"
        );
        let rows = parse_gei_schedule(&text).unwrap();
        assert_eq!(
            rows,
            vec![
                GeiRow {
                    line: 2,
                    entity: id("VEDANTA-JHARSUGUDA"),
                    sector: "aluminium".into(),
                    baseline_output: d("1238336"),
                    baseline_gei: d("13.4927"),
                    targets: vec![(2025, d("13.2260")), (2026, d("12.8259"))],
                },
                GeiRow {
                    line: 3,
                    entity: id("ACME-CEMENT-01"),
                    sector: "cement".into(),
                    baseline_output: d("2500000.5"),
                    baseline_gei: d("0.7000"),
                    targets: vec![(2025, d("0.6800"))],
                },
                GeiRow {
                    line: 4,
                    entity: id("PULP.MILL:7"),
                    sector: "pulp and paper".into(),
                    baseline_output: d("310000"),
                    baseline_gei: d("1.3386"),
                    targets: vec![(2026, d("1.2563"))],
                },
            ]
        );
        // Scale is kept as written: 13.2260 stays four decimals.
        assert_eq!(rows[0].targets[0].1.to_string(), "13.2260");
    }

    #[test]
    fn ccts_csv_columns_in_any_order_and_targets_sorted_by_year() {
        let text = "target_2026_27,baseline_gei,entity,target_2025_26,sector,baseline_output\n\
                    12.8259,13.4927,VEDANTA-JHARSUGUDA,13.2260,aluminium,1238336\n";
        let rows = parse_gei_schedule(text).unwrap();
        assert_eq!(rows[0].entity, id("VEDANTA-JHARSUGUDA"));
        assert_eq!(
            rows[0].targets,
            vec![(2025, d("13.2260")), (2026, d("12.8259"))]
        );
    }

    #[test]
    fn ccts_csv_three_bad_rows_give_three_errors_and_no_rows() {
        let text = format!(
            "{HEADER}\n\
             VEDANTA-JHARSUGUDA,aluminium,1238336,13.4927,13.2260,12.8259\n\
             BAD ENTITY,cement,1000,1.0,0.9,0.8\n\
             GOOD-ONE,cement,1000,1.0,0.9,0.8\n\
             NEG-GEI,cement,1000,-1.0,0.9,0.8\n\
             VEDANTA-JHARSUGUDA,aluminium,1,1,1,1\n"
        );
        let e = errors(&text);
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(e[0].0, 3);
        assert!(
            e[0].1.contains("entity `BAD ENTITY` is not a valid id"),
            "{}",
            e[0].1
        );
        assert_eq!(e[1].0, 5);
        assert_eq!(e[1].1, "baseline_gei must be positive, got -1.0");
        assert_eq!(e[2].0, 6);
        assert_eq!(e[2].1, "entity VEDANTA-JHARSUGUDA is already on line 2");
    }

    #[test]
    fn ccts_csv_each_row_check_names_its_problem() {
        let cases: &[(&str, &str)] = &[
            (
                "A,cement,1000,1.0,0.9",
                "expected 6 fields, as the header has, found 5",
            ),
            (
                "A,cement,1000,1.0,0.9,0.8,7",
                "expected 6 fields, as the header has, found 7",
            ),
            ("A,,1000,1.0,0.9,0.8", "sector is empty"),
            (
                "A,cement,1e3,1.0,0.9,0.8",
                "baseline_output `1e3` is not a decimal number",
            ),
            (
                "A,cement,\"1,000\",1.0,0.9,0.8",
                "baseline_output `1,000` is not a decimal number",
            ),
            (
                "A,cement,1_000,1.0,0.9,0.8",
                "baseline_output `1_000` is not a decimal number",
            ),
            (
                "A,cement,+1000,1.0,0.9,0.8",
                "baseline_output `+1000` is not a decimal number",
            ),
            (
                "A,cement,1000.,1.0,0.9,0.8",
                "baseline_output `1000.` is not a decimal number",
            ),
            (
                "A,cement,0,1.0,0.9,0.8",
                "baseline_output must be positive, got 0",
            ),
            ("A,cement,,1.0,0.9,0.8", "baseline_output is empty"),
            (
                "A,cement,1000,0.000,0.9,0.8",
                "baseline_gei must be positive, got 0.000",
            ),
            (
                "A,cement,1000,1.0,abc,0.8",
                "target 2025-26 `abc` is not a decimal number",
            ),
            (
                "A,cement,1000,1.0,0.9,-0.8",
                "target 2026-27 must be positive, got -0.8",
            ),
            ("A,cement,1000,1.0,,", "no target in any compliance year"),
            (
                "A,cement,1000,1.0,0.12345678901234567890123456789,0.8",
                "has more digits than can be held exactly",
            ),
        ];
        for (row, want) in cases {
            let e = errors(&format!("{HEADER}\n{row}\n"));
            assert_eq!(e.len(), 1, "{row}: {e:?}");
            assert_eq!(e[0].0, 2, "{row}");
            assert!(
                e[0].1.contains(want),
                "{row}: got {:?}, want {want:?}",
                e[0].1
            );
        }
        let long = "x".repeat(SECTOR_MAX_CHARS + 1);
        let e = errors(&format!("{HEADER}\nA,{long},1000,1.0,0.9,0.8\n"));
        assert_eq!(
            e,
            vec![(2, "sector is longer than 64 characters".to_owned())]
        );
        let ok = "é".repeat(SECTOR_MAX_CHARS);
        assert!(parse_gei_schedule(&format!("{HEADER}\nA,{ok},1000,1.0,0.9,0.8\n")).is_ok());
        let e = errors(&format!("{HEADER}\nA,\"ce\tment\",1000,1.0,0.9,0.8\n"));
        assert_eq!(
            e,
            vec![(2, "sector contains non-printable characters".to_owned())]
        );
        let long_id = "E".repeat(ProjectId::MAX_LEN + 1);
        let e = errors(&format!("{HEADER}\n{long_id},cement,1000,1.0,0.9,0.8\n"));
        assert!(e[0].1.contains("is not a valid id"), "{e:?}");
    }

    #[test]
    fn ccts_csv_every_problem_of_a_row_is_reported() {
        let e = errors(&format!("{HEADER}\nBAD ID,,0,x,,\n"));
        let reasons: Vec<&str> = e.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(e.iter().filter(|(l, _)| *l == 2).count(), 5, "{reasons:?}");
        assert!(reasons[1] == "sector is empty");
        assert!(reasons[4] == "no target in any compliance year");
    }

    #[test]
    fn ccts_csv_bad_header_is_reported_at_line_1() {
        let rows = "A,cement,1000,1.0,0.9,0.8\n";
        let e = errors(&format!(
            "entity,sector,baseline_output,colour,target_2025_27\n{rows}"
        ));
        assert!(e.iter().all(|(l, _)| *l == 1), "{e:?}");
        let reasons: Vec<&str> = e.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].starts_with("unknown column `colour`"));
        assert!(reasons[1].starts_with("column `target_2025_27` does not name a compliance year"));
        assert_eq!(reasons[2], "missing column `baseline_gei`");

        let e = errors(&format!(
            "entity,sector,baseline_output,baseline_gei\n{rows}"
        ));
        assert_eq!(
            e,
            vec![(
                1,
                "no target column: add at least one target_YYYY_YY column".to_owned()
            )]
        );
        let e = errors(
            "entity,entity,sector,baseline_output,baseline_gei,target_2025_26,target_2025_26\n",
        );
        assert_eq!(
            e,
            vec![
                (1, "column `entity` appears twice".to_owned()),
                (1, "column `target_2025_26` appears twice".to_owned()),
            ]
        );
        for bad in [
            "target_2025",
            "target_25_26",
            "target_2025_2026",
            "target_2025-26",
            "target_0999_00",
        ] {
            let e = errors(&format!(
                "entity,sector,baseline_output,baseline_gei,{bad}\n"
            ));
            assert!(
                e[0].1.contains("does not name a compliance year"),
                "{bad}: {e:?}"
            );
        }
        assert_eq!(
            errors(""),
            vec![(1, "the file is empty: a header is required".to_owned())]
        );
        assert_eq!(
            errors(&format!("{HEADER}\n")),
            vec![(1, "the schedule has no entity rows".to_owned())]
        );
    }

    #[test]
    fn ccts_csv_line_numbers_follow_the_file() {
        // A quoted field spanning two lines: the next row is on line 4.
        let text =
            format!("{HEADER}\n\"A\",\"cement\nworks\",1000,1.0,0.9,0.8\nB,cement,0,1.0,0.9,0.8\n");
        let e = errors(&text);
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(
            e[0],
            (2, "sector contains non-printable characters".to_owned())
        );
        assert_eq!(
            e[1],
            (4, "baseline_output must be positive, got 0".to_owned())
        );
        // CRLF line ends, a byte-order mark and padding around fields are accepted.
        let text = format!("\u{feff}{HEADER}\r\n A , cement ,1000, 1.0 ,0.9,0.8\r\n");
        let rows = parse_gei_schedule(&text).unwrap();
        assert_eq!(rows[0].entity, id("A"));
        assert_eq!(rows[0].sector, "cement");
        assert_eq!(rows[0].line, 2);
        // With CRLF and a blank line, errors still name the file's lines.
        let text = format!(
            "{HEADER}\r\nA,cement,1000,1.0,0.9,0.8\r\n\r\nB,,1000,1.0,0.9,0.8\r\nC,cement,1000,1.0,,\r\n"
        );
        assert_eq!(
            errors(&text),
            vec![
                (4, "sector is empty".to_owned()),
                (5, "no target in any compliance year".to_owned()),
            ]
        );
    }

    #[test]
    fn ccts_csv_row_error_displays_its_line() {
        assert_eq!(
            error(3, "sector is empty").to_string(),
            "line 3: sector is empty"
        );
    }
}
