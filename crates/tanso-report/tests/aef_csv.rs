//! The AEF tables as CSV: one file per table, the exact labels as header, one line per record.

mod common;

use tanso_report::aef::{TABLE1_LABELS, TABLE2_LABELS, TABLE3_LABELS};
use tanso_report::*;

fn read(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .expect("open csv");
    reader
        .records()
        .map(|r| r.expect("csv record").iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn one_file_per_table_with_header_and_one_line_per_record() {
    let report = common::report();
    let dir = tempfile::tempdir().expect("create temp dir");
    let paths = write_csv(&report, &dir.path().join("aef")).expect("write csv");
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "table1_submission.csv",
            "table2_authorizations.csv",
            "table3_actions.csv",
            "table4_holdings.csv",
            "table5_authorized_entities.csv"
        ]
    );
    let expected_records = [
        1,
        report.authorizations.len(),
        report.actions.len(),
        report.holdings.len(),
        report.entities.len(),
    ];
    for ((path, table), records) in paths.iter().zip(Table::ALL).zip(expected_records) {
        let rows = read(path);
        assert_eq!(rows.len(), 1 + records, "{}", path.display());
        assert_eq!(rows[0], table.labels(), "{}", path.display());
        assert!(rows.iter().all(|r| r.len() == table.labels().len()));
    }

    let t1 = read(&paths[0]);
    assert_eq!(t1[0], TABLE1_LABELS);
    assert_eq!(t1[1][..4], ["IND", "1.0", "2026", "15/04/2027"]);
    assert_eq!(t1[1][4], "", "review status is CARP's");

    let t2 = read(&paths[1]);
    assert_eq!(t2[0], TABLE2_LABELS);
    // A value with a comma and quotes survives the round trip.
    assert_eq!(t2[1][15], "Revocable before first transfer, \"as agreed\"");

    let t3 = read(&paths[2]);
    assert_eq!(t3[0], TABLE3_LABELS);
    assert_eq!(t3[1][7], "CA0001-IND01-IND-1-2026");
    assert_eq!(t3[1][15], "1000");
    assert_eq!(t3[1][16], "NA");
    assert_eq!(t3[1][18], "2026");
    assert_eq!(t3[5][26], "cancelled, on request");
}
