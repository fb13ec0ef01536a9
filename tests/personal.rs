//! Personal text never enters the chain: events carry salted hashes, the text sits in the
//! erasable side store. Erasing it leaves the chain verifying and the name gone.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tanso");

fn tanso(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--keys")
        .arg(dir.join("keys"))
        .args(args)
        .output()
        .expect("run tanso")
}

#[test]
fn a_name_is_off_chain_and_erasing_it_keeps_the_chain_verifiable() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert!(tanso(d, &["demo"]).status.success());
    // The demo's holder names are in the side store table, never inside an entry: the runs
    // hold their salted references. Find the reference of the retirement's beneficiary name.
    let hist = tanso(d, &["history", "--serial", "100", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&hist.stdout).unwrap();
    let reference = v
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["events"].as_array().unwrap().clone())
        .find_map(|ev| ev["beneficiary_name_ref"].as_str().map(str::to_owned))
        .expect("the retirement names its beneficiary by reference");
    let shown = tanso(d, &["personal", "show", "--ref", &reference]);
    assert!(shown.status.success());
    let name = String::from_utf8_lossy(&shown.stdout).trim().to_owned();
    assert_eq!(name, "Bharat Steel Ltd, FY2026 claims");

    let erased = tanso(d, &["personal", "erase", "--ref", &reference]);
    assert!(
        erased.status.success(),
        "{}",
        String::from_utf8_lossy(&erased.stdout)
    );
    let again = tanso(d, &["personal", "show", "--ref", &reference]);
    assert!(!again.status.success(), "the text is gone");
    assert!(
        tanso(d, &["personal", "erase", "--ref", &reference])
            .status
            .code()
            == Some(1)
    );
    let verify = tanso(d, &["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    // And the name is nowhere in the store's files any more (secure_delete, WAL truncated).
    for f in ["journal.sqlite", "journal.sqlite-wal"] {
        let bytes = std::fs::read(d.join("data").join(f)).unwrap_or_default();
        let needle = b"FY2026 claims";
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{f} still holds the erased text"
        );
    }
}
