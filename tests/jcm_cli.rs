//! The JCM cycle through the real binary: the demo's full cycle verifies on every chain, and
//! `tanso jcm` takes steps, stores documents, refuses the wrong role with its code, answers a
//! repeated step with the stored outcome, and issues a notified decision only once.

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
fn the_demo_runs_the_full_cycle_and_every_chain_verifies() {
    let s = Sandbox::new();
    let out = s.run(&["demo"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    // The issuance table: TV-8b's 545 / 436 / 109, each split over two vintages.
    for row in [
        "| JPN01    | 2001    | 2025    | 2025-10-01 .. 2025-12-31 | 275     |",
        "| JPN01    | 2001    | 2026    | 2026-01-01 .. 2026-03-31 | 270     |",
        "| IND01    | 1002    | 2026    | 2026-01-01 .. 2026-03-31 | 54      |",
        "| total    |         |         |                          | 1090    |",
    ] {
        assert!(t.contains(row), "missing {row:?} in\n{t}");
    }
    assert!(
        t.contains("RE = 1090.500, PE = 0, ER = 1090.500 → 1090 credits"),
        "{t}"
    );
    assert!(t.contains("is refused: [8005]"), "{t}");
    assert!(t.contains("is refused: [4524]"), "{t}");
    assert!(t.contains("is refused: [3060]"), "{t}");
    let (code, v) = s.verify();
    assert_eq!(code, 0, "{v}");
    for chain in ["IND01", "JPN01", "mechanism:JCM-IND-JPN"] {
        assert!(v.contains(&format!("verify: ok {chain} ")), "{v}");
    }
    let status = s.run(&["jcm", "status"]);
    let st = text(&status);
    assert!(status.status.success(), "{st}");
    assert!(
        st.contains("IN001") && st.contains("notified, JC-2026-001: 1090"),
        "{st}"
    );
}

#[test]
fn tanso_jcm_takes_steps_with_roles_documents_and_idempotency() {
    let s = Sandbox::new();
    s.demo();
    let pm = s.scratch("IN_AM002_proposal.txt");
    std::fs::write(&pm, "Proposed methodology IN_AM002 v1").expect("write");
    let pm = pm.to_str().expect("utf-8");
    let m = r#"methodology={"code":"IN_AM002","version":1}"#;

    let ok = s.run(&[
        "jcm",
        "submit-methodology",
        "--as",
        "pp:nihon",
        m,
        "--document",
        pm,
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).contains("methodology_submitted"), "{}", text(&ok));
    // The same step again is the same command: its stored answer, nothing new.
    let again = s.run(&[
        "jcm",
        "submit-methodology",
        "--as",
        "pp:nihon",
        m,
        "--document",
        pm,
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        text(&again).contains("accepted (replayed)"),
        "{}",
        text(&again)
    );
    // The wrong role: a participant cannot check completeness.
    let wrong = s.run(&[
        "jcm",
        "check-completeness",
        "--as",
        "pp:nihon",
        m,
        "complete=true",
    ]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(text(&wrong).contains("\"code\": 8001"), "{}", text(&wrong));
    // The document is stored under its hash and intact.
    let docs = s.run(&["jcm", "documents"]);
    assert_eq!(docs.status.code(), Some(0), "{}", text(&docs));
    assert!(
        text(&docs).contains("IN_AM002_proposal.txt"),
        "{}",
        text(&docs)
    );
    // A registry issues a notified decision at most once.
    let twice = s.run(&["jcm", "issue", "registry=IND01", "decision=JC-2026-001"]);
    assert_eq!(twice.status.code(), Some(1), "{}", text(&twice));
    assert!(text(&twice).contains("\"code\": 4524"), "{}", text(&twice));
    // The methodology engine on its own: TV-9.
    let tv9 = s.run(&[
        "jcm",
        "compute",
        "methodology=IN_AM002",
        "EC_PJ=347.2",
        "COP_PJ=6.0",
        "COP_RE=5.0",
        "EF_elec=0.727",
    ]);
    assert!(text(&tv9).contains("ER = 50.48288"), "{}", text(&tv9));
    assert!(
        text(&tv9).contains("credited (floor) = 50"),
        "{}",
        text(&tv9)
    );
    let (code, v) = s.verify();
    assert_eq!(code, 0, "{v}");
    assert!(
        v.contains("verify: ok mechanism:JCM-IND-JPN entries=30 "),
        "{v}"
    );
}
