//! India's CCTS through the real binary: the demo's compliance year (TV-6, TV-7, a partial
//! surrender) verifies; `tanso ccts import-schedule` imports every row or none and names each
//! bad line.

mod common;

use common::Sandbox;

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_demo_runs_a_compliance_year_and_shows_who_earned_owes_surrendered_and_pays() {
    let s = Sandbox::new();
    let out = s.run(&["demo"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for row in [
        "| VEDANTA-JHARSUGUDA | aluminium      | 2025-26 | 13.2260    | 13.1         | surplus             | 156030 ",
        "| HINDALU-RENUKOOT   | aluminium      | 2025-26 | 13.2260    | 13.3         | shortfall 91636.864 | 0                   | 91637        | 0           | 91637       | 183273728 ",
        "| ACC-WADI           | cement         | 2025-26 | 0.7000     | 0.71         | shortfall 10250     | 0                   | 10250        | 6000        | 4250        | 8500000 ",
    ] {
        assert!(t.contains(row), "missing {row:?} in\n{t}");
    }
    assert!(
        t.contains("crediting the same surrender twice is refused: [4524]"),
        "{t}"
    );
    let (code, v) = s.verify();
    assert_eq!(code, 0, "{v}");
    assert!(v.contains("verify: ok mechanism:CCTS-IND "), "{v}");
    let status = s.run(&["ccts", "status"]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(text(&status).contains("DECCAN-PAPER"));
}

#[test]
fn a_schedule_with_bad_rows_imports_nothing_and_names_each_line() {
    let s = Sandbox::new();
    s.demo();
    let bad = s.scratch("bad.csv");
    std::fs::write(
        &bad,
        "entity,sector,baseline_output,baseline_gei,target_2025_26\n\
         NEWCO-1,cement,1000,0.7,0.69\n\
         NEWCO-2,cement,-5,0.7,0.69\n\
         NEWCO-3,,1000,0.7,0.69\n\
         NEWCO-4,cement,1000,0.7,abc\n",
    )
    .expect("write");
    let out = s.run(&[
        "ccts",
        "import-schedule",
        "--as",
        "bee",
        "--file",
        bad.to_str().expect("utf-8"),
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    for line in [":3:", ":4:", ":5:"] {
        assert!(t.contains(line), "line {line} not named in {t}");
    }
    assert!(t.contains("nothing imported (3 bad rows)"), "{t}");
    let status = text(&s.run(&["ccts", "status"]));
    assert!(!status.contains("NEWCO-1"), "{status}");
    // The good rows alone import, through the same command.
    let good = s.scratch("good.csv");
    std::fs::write(
        &good,
        "entity,sector,baseline_output,baseline_gei,target_2025_26\nNEWCO-1,cement,1000,0.7,0.69\n",
    )
    .expect("write");
    let ok = s.run(&[
        "ccts",
        "import-schedule",
        "--as",
        "bee",
        "--file",
        good.to_str().expect("utf-8"),
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    // A step by the wrong role through the CLI: an entity cannot evaluate.
    let wrong = s.run(&[
        "ccts",
        "evaluate",
        "--as",
        "rep:acc",
        "entity=ACC-WADI",
        "year=2025",
    ]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(text(&wrong).contains("\"code\": 8001"), "{}", text(&wrong));
}
