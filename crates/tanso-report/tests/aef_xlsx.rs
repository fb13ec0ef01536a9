//! The AEF workbook, read back with calamine, and accepted by `shared/tools/aef_check.py`.
//!
//! The checker needs python3 with openpyxl (scripts/test.sh installs it). Without them these
//! tests fail: they never skip, so CI really runs the checker.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{open_workbook, Data, Range, Reader, Xlsx};
use common::*;
use tanso_report::aef::{TABLE2_LABELS, TABLE3_LABELS, TABLE4_LABELS, TABLE5_LABELS};
use tanso_report::*;

fn write(report: &AefReport) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("create temp dir");
    let path = dir.path().join("aef.xlsx");
    write_xlsx(report, &path).expect("write xlsx");
    (dir, path)
}

fn sheet(path: &Path, name: &str) -> Range<Data> {
    let mut workbook: Xlsx<_> = open_workbook(path).expect("open xlsx");
    workbook.worksheet_range(name).expect("sheet exists")
}

/// The cell at 0-based `(row, col)`; blank cells are `Data::Empty`.
fn at(range: &Range<Data>, row: u32, col: u32) -> Data {
    range.get_value((row, col)).cloned().unwrap_or(Data::Empty)
}

fn text(s: &str) -> Data {
    Data::String(s.to_owned())
}

fn header(range: &Range<Data>) -> Vec<Data> {
    let width = u32::try_from(range.width()).expect("narrow sheet");
    (0..width).map(|c| at(range, 0, c)).collect()
}

fn labels(expected: &[&str]) -> Vec<Data> {
    expected.iter().map(|l| text(l)).collect()
}

fn checker() -> PathBuf {
    // The UNFCCC-style checker beside the repository (`../shared/tools`), or the copy kept in
    // `tools/` for machines that have only the repository.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = repo.join("../shared/tools/aef_check.py");
    if shared.exists() {
        shared
    } else {
        repo.join("tools/aef_check.py")
    }
}

/// Runs the checker; returns its exit code and its stdout and stderr together.
fn aef_check(path: &Path) -> (Option<i32>, String) {
    let output = Command::new("python3")
        .arg(checker())
        .arg(path)
        .output()
        .expect("run python3 (scripts/test.sh installs python3 and openpyxl)");
    let mut all = String::from_utf8_lossy(&output.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code(), all)
}

#[test]
fn workbook_has_the_five_template_sheets_in_order() {
    let (_dir, path) = write(&report());
    let workbook: Xlsx<_> = open_workbook(&path).expect("open xlsx");
    assert_eq!(
        workbook.sheet_names(),
        [
            "Table 1 Submission",
            "Table 2 Authorizations",
            "Table 3 Actions",
            "Table 4 Holdings",
            "Table 5 Auth. entities"
        ]
    );
}

#[test]
fn table1_is_a_form_with_values_right_of_labels_and_carp_fields_empty() {
    let (_dir, path) = write(&report());
    let t1 = sheet(&path, "Table 1 Submission");
    let expected = [
        ("Party", text("IND")),
        ("Version", text("1.0")),
        ("Reported year", Data::Float(2026.0)),
        ("Date of submission", text("15/04/2027")),
        ("Review status of the initial report", Data::Empty),
        (
            "First year of the NDC implementation period",
            Data::Float(2021.0),
        ),
        (
            "Last year of the NDC implementation period",
            Data::Float(2030.0),
        ),
        (
            "Reference to the Article 6 technical expert review report of the initial report",
            Data::Empty,
        ),
    ];
    for (row, (label, value)) in (0u32..).zip(expected) {
        assert_eq!(at(&t1, row, 0), text(label), "label of row {row}");
        assert_eq!(at(&t1, row, 1), value, "value of {label}");
    }
}

#[test]
fn table2_keeps_every_column_and_writes_numbers_as_numbers() {
    let (_dir, path) = write(&report());
    let t2 = sheet(&path, "Table 2 Authorizations");
    assert_eq!(header(&t2), labels(&TABLE2_LABELS));
    assert_eq!(t2.height(), 3);
    assert_eq!(at(&t2, 1, 0), text(AUTH_1));
    assert_eq!(at(&t2, 1, 1), text("05/01/2026"));
    assert_eq!(at(&t2, 1, 3), Data::Float(1.0));
    assert_eq!(at(&t2, 1, 4), Data::Float(100_000.0));
    assert_eq!(at(&t2, 1, 10), text("NDC and OIMP"));
    assert_eq!(
        at(&t2, 1, 15),
        text("Revocable before first transfer, \"as agreed\"")
    );
    assert_eq!(at(&t2, 1, 17), text("Authorization"));
    assert_eq!(at(&t2, 2, 0), text(AUTH_2));
    assert_eq!(at(&t2, 2, 3), Data::Float(2.0));
    assert_eq!(at(&t2, 2, 4), Data::Empty, "no cap is a blank quantity");
    assert_eq!(at(&t2, 2, 10), text("NDC"));
    assert_eq!(at(&t2, 2, 17), Data::Empty);
}

#[test]
fn table3_has_all_27_columns_and_one_row_per_action() {
    let (_dir, path) = write(&report());
    let t3 = sheet(&path, "Table 3 Actions");
    assert_eq!(header(&t3), labels(&TABLE3_LABELS));
    assert_eq!(t3.height(), 6);
    let types: Vec<Data> = (1..6).map(|r| at(&t3, r, 1)).collect();
    assert_eq!(
        types,
        labels(&[
            "First transfer",
            "Transfer",
            "Acquisition",
            "Use",
            "Cancellation"
        ])
    );
    // First transfer.
    assert_eq!(at(&t3, 1, 0), text("01/03/2026"));
    assert_eq!(at(&t3, 1, 3), text("CA0001"));
    assert_eq!(at(&t3, 1, 4), text(AUTH_1));
    assert_eq!(at(&t3, 1, 6), text("IND01"));
    assert_eq!(at(&t3, 1, 7), text("CA0001-IND01-IND-1-2026"));
    assert_eq!(at(&t3, 1, 8), text("CA0001-IND01-IND-1000-2026"));
    assert_eq!(at(&t3, 1, 12), text("GHG"));
    assert_eq!(at(&t3, 1, 15), Data::Float(1000.0));
    assert_eq!(at(&t3, 1, 16), text("NA"), "GHG block: non-GHG quantity NA");
    assert_eq!(at(&t3, 1, 17), text("Emission reductions"));
    assert_eq!(at(&t3, 1, 18), Data::Float(2026.0));
    assert_eq!(at(&t3, 1, 19), text("IND"));
    assert_eq!(at(&t3, 1, 20), text("JPN"));
    assert_eq!(at(&t3, 1, 22), text("NA"), "no using Party: NA");
    assert_eq!(at(&t3, 1, 24), text("NA"), "no NDC year: NA");
    assert_eq!(
        at(&t3, 1, 25),
        Data::Empty,
        "consistency-check result is CARP's"
    );
    // Use towards the NDC.
    assert_eq!(at(&t3, 4, 2), text("use towards NDC"));
    assert_eq!(at(&t3, 4, 15), Data::Float(400.0));
    assert_eq!(at(&t3, 4, 22), text("JPN"));
    assert_eq!(at(&t3, 4, 24), Data::Float(2026.0));
    // Cancellation.
    assert_eq!(at(&t3, 5, 0), text("31/12/2026"));
    assert_eq!(at(&t3, 5, 23), text("ENT-01"));
    assert_eq!(at(&t3, 5, 26), text("cancelled, on request"));
}

#[test]
fn table4_is_columns_4_to_19_of_table3() {
    let (_dir, path) = write(&report());
    let t4 = sheet(&path, "Table 4 Holdings");
    assert_eq!(header(&t4), labels(&TABLE4_LABELS));
    assert_eq!(t4.height(), 3);
    assert_eq!(at(&t4, 1, 1), text(AUTH_1));
    assert_eq!(at(&t4, 1, 4), text("CA0001-IND01-IND-1501-2026"));
    assert_eq!(at(&t4, 1, 5), text("CA0001-IND01-IND-2000-2026"));
    assert_eq!(at(&t4, 1, 12), Data::Float(500.0));
    assert_eq!(at(&t4, 1, 15), Data::Float(2026.0));
    assert_eq!(at(&t4, 2, 4), text("CA0001-IND01-IND-1-2027"));
    assert_eq!(at(&t4, 2, 15), Data::Float(2027.0));
}

#[test]
fn table5_lists_authorized_entities_with_blank_optional_columns() {
    let (_dir, path) = write(&report());
    let t5 = sheet(&path, "Table 5 Auth. entities");
    assert_eq!(header(&t5), labels(&TABLE5_LABELS));
    assert_eq!(t5.height(), 3);
    assert_eq!(at(&t5, 1, 0), text("10/01/2026"));
    assert_eq!(at(&t5, 1, 1), text("Surya Renewables Pvt Ltd"));
    assert_eq!(at(&t5, 1, 4), text("CA0001"));
    assert_eq!(at(&t5, 2, 0), Data::Empty);
    assert_eq!(at(&t5, 2, 1), text("Nippon Offsets K.K."));
}

#[test]
fn f9_every_column_label_is_written_even_with_no_records() {
    let mut empty = report();
    empty.authorizations.clear();
    empty.actions.clear();
    empty.holdings.clear();
    empty.entities.clear();
    let (_dir, path) = write(&empty);
    for (name, expected) in [
        ("Table 2 Authorizations", &TABLE2_LABELS[..]),
        ("Table 3 Actions", &TABLE3_LABELS[..]),
        ("Table 4 Holdings", &TABLE4_LABELS[..]),
        ("Table 5 Auth. entities", &TABLE5_LABELS[..]),
    ] {
        let range = sheet(&path, name);
        assert_eq!(header(&range), labels(expected), "{name}");
        assert_eq!(range.height(), 1, "{name} has only its header");
    }
}

#[test]
fn same_report_gives_the_same_bytes() {
    let (_a, first) = write(&report());
    let (_b, second) = write(&report());
    let first = std::fs::read(first).expect("read first");
    let second = std::fs::read(second).expect("read second");
    assert!(first == second, "xlsx output is not deterministic");
}

#[test]
fn aef_check_accepts_the_workbook() {
    let (_dir, path) = write(&report());
    let (code, output) = aef_check(&path);
    assert_eq!(code, Some(0), "aef_check failed:\n{output}");
    assert!(
        output
            .lines()
            .any(|l| l == "aef_check: 1 passed, 0 failed, 1 with actions or holdings"),
        "unexpected aef_check output:\n{output}"
    );
}

#[test]
fn aef_check_rejects_an_action_whose_authorization_is_missing_from_table2() {
    let mut report = report();
    report.actions[1].block.authorization_id = "IND-JPN-2026-999".to_owned();
    let (_dir, path) = write(&report);
    let (code, output) = aef_check(&path);
    assert_eq!(code, Some(1), "aef_check should fail:\n{output}");
    assert!(
        output.contains("Table 3 row 2: authorization 'IND-JPN-2026-999' not in Table 2"),
        "unexpected aef_check output:\n{output}"
    );
    assert!(
        output
            .lines()
            .any(|l| l == "aef_check: 0 passed, 1 failed, 1 with actions or holdings"),
        "unexpected aef_check output:\n{output}"
    );
}

#[test]
fn quantity_above_2_pow_53_is_refused_not_rounded() {
    let mut report = report();
    report.holdings[0].block.quantity_t_co2e = Some((1 << 53) + 1);
    let dir = tempfile::tempdir().expect("create temp dir");
    let result = write_xlsx(&report, &dir.path().join("aef.xlsx"));
    assert!(matches!(
        result,
        Err(ReportError::NumberTooLarge { value }) if value == (1 << 53) + 1
    ));
}
