//! Article 6.2 through the real binary: the demo's AEF workbooks pass the UNFCCC-style checker
//! (`../shared/tools/aef_check.py`) and read back with their exact values; `tanso report`
//! checks, exports CSV and draws charts; a later first transfer of an earlier vintage changes
//! the earlier year's balance.

mod common;

use common::Sandbox;
use std::process::Command;

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The UNFCCC-style checker beside the repository (`../shared/tools`), or the copy kept in
/// `tools/` for machines that have only the repository.
fn checker() -> String {
    let shared = format!(
        "{}/../shared/tools/aef_check.py",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::path::Path::new(&shared).exists() {
        shared
    } else {
        format!("{}/tools/aef_check.py", env!("CARGO_MANIFEST_DIR"))
    }
}

/// Reads cells with openpyxl (the library the checker uses): `sheet!A1` → value as text.
fn cells(xlsx: &std::path::Path, refs: &[(&str, &str)]) -> Vec<String> {
    let script = format!(
        "from openpyxl import load_workbook\nwb = load_workbook({:?})\n{}",
        xlsx.to_str().expect("utf-8"),
        refs.iter()
            .map(|(s, c)| format!("print(repr(wb[{s:?}][{c:?}].value))"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3 runs (scripts/test.sh installs openpyxl)");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_demo_writes_workbooks_that_pass_the_aef_checker_and_read_back_exactly() {
    let s = Sandbox::new();
    let out = s.run(&["demo"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // India's 2025 balance includes the 2025-vintage credits first transferred in 2026.
    assert!(
        t.contains("IND emissions balance 2025: 2950000100 t CO2e"),
        "{t}"
    );
    assert!(
        t.contains("JPN emissions balance 2026: 1009999750 t CO2e"),
        "{t}"
    );
    let dir = s.scratch("data").join("reports");
    let books: Vec<_> = ["aef_IND_2026.xlsx", "aef_JPN_2026.xlsx"]
        .iter()
        .map(|b| dir.join(b))
        .collect();
    let check = Command::new("python3")
        .arg(checker())
        .args(&books)
        .output()
        .expect("run aef_check");
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(
        text(&check).contains("aef_check: 2 passed, 0 failed, 2 with actions or holdings"),
        "{}",
        text(&check)
    );
    // Japan's workbook: the form, the authorization, the acquisition, the use, the holdings.
    let v = cells(
        &books[1],
        &[
            ("Table 1 Submission", "A1"),
            ("Table 1 Submission", "B1"),
            ("Table 2 Authorizations", "A2"),
            ("Table 3 Actions", "A2"),
            ("Table 3 Actions", "B2"),
            ("Table 3 Actions", "H2"),
            ("Table 3 Actions", "I2"),
            ("Table 3 Actions", "P2"),
            ("Table 4 Holdings", "E2"),
            ("Table 4 Holdings", "M2"),
        ],
    );
    assert_eq!(
        v,
        vec![
            "'Party'",
            "'JPN'",
            "'IND-A6-2026-001'",
            "'05/06/2026'",
            "'Acquisition'",
            "'CA0001-JPN01-IND-176-2025'",
            "'CA0001-JPN01-IND-275-2025'",
            "100",
            "'CA0001-JPN01-IND-176-2025'",
            "100",
        ]
    );
    // Charts were drawn.
    for c in ["ind_emissions_balance", "jpn_itmo_flows"] {
        let png = std::fs::read(dir.join("charts").join(format!("{c}.png"))).expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg =
            std::fs::read_to_string(dir.join("charts").join(format!("{c}.svg"))).expect("svg");
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{c}");
    }
    let (code, v) = s.verify();
    assert_eq!(code, 0, "{v}");
    assert!(v.contains("verify: ok party:IND "), "{v}");
}

#[test]
fn tanso_report_checks_and_exports_csv() {
    let s = Sandbox::new();
    s.demo();
    let ok = s.run(&["report", "check", "--party", "JPN", "--year", "2026"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("consistency checks: JPN 2026: all pass"));
    // 2024 has no reported emissions: the balance check cannot run, so it does not pass.
    let missing = s.run(&["report", "check", "--party", "JPN", "--year", "2024"]);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(
        text(&missing).contains("check 8514 DATA_MISSING"),
        "{}",
        text(&missing)
    );
    let refused = s.run(&[
        "report",
        "aef",
        "--party",
        "JPN",
        "--year",
        "2024",
        "--out",
        s.scratch("x.xlsx").to_str().expect("utf-8"),
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(!s.scratch("x.xlsx").exists());
    let csv_dir = s.scratch("csv");
    let csv = s.run(&[
        "report",
        "aef",
        "--party",
        "IND",
        "--year",
        "2026",
        "--format",
        "csv",
        "--out",
        csv_dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(csv.status.code(), Some(0), "{}", text(&csv));
    let actions = std::fs::read_to_string(csv_dir.join("table3_actions.csv")).expect("table 3");
    let lines: Vec<&str> = actions.lines().collect();
    assert!(lines[0].starts_with("Action date,Action type,Action subtype,Cooperative approach ID"));
    // Two first-transfer rows: vintage 2025 (100) and 2026 (270).
    assert_eq!(lines.len(), 3, "{actions}");
    assert!(
        lines.iter().skip(1).all(|l| l.contains(",First transfer,")),
        "{actions}"
    );
}
