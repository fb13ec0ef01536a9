//! `tanso serve` as a process over loopback, with a real HTTP client (curl): a command, a
//! proof checked offline by `tanso verify-proof`, and a graceful stop on SIGTERM after which
//! the journal verifies. And the bounded schemathesis run of the served OpenAPI document, once
//! per role (`scripts/api-fuzz.sh`).

mod common;

use common::{Sandbox, TANSO};
use serde_json::Value;
use std::process::Command;

fn curl(args: &[&str]) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (Debian package curl) runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("status line");
    (
        code.trim().parse().expect("status"),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// An index capacity past the largest taken is a usage error; one whose index does not fit in
/// the memory available is refused before the data directory is touched.
#[test]
fn serve_refuses_an_index_capacity_it_cannot_provision() {
    let s = Sandbox::new();
    let out = s.run(&["serve", "--index-capacity", "1000000001"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--index-capacity"));
    let available_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .expect("meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("MemAvailable");
    // A billion commands take 51 GB of index.
    if available_kib < 50 << 20 {
        let out = s.run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--index-capacity",
            "1000000000",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("MiB of memory is available"), "{stderr}");
        let untouched = std::fs::read_dir(&s.data).map_or(true, |mut d| d.next().is_none());
        assert!(untouched, "the refused serve wrote into the data directory");
    }
}

#[test]
fn serve_answers_a_real_client_and_stops_gracefully_on_sigterm() {
    let s = Sandbox::new();
    s.demo();
    let out = s.run(&["admin", "bootstrap", "--user", "root-admin"]);
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("token line")
        .trim()
        .to_owned();
    assert!(token.starts_with("tanso_"));
    // A second bootstrap is refused.
    assert!(!s.run(&["admin", "bootstrap"]).status.success());
    // Provisioned for 100,000 accepted commands: the demo's are indexed into it at open.
    let (mut child, base) = s.serve_with(&["--index-capacity", "100000"]);
    let auth = format!("Authorization: Bearer {token}");
    let (code, v) = curl(&[&format!("{base}/health")]);
    assert_eq!((code, v["status"].as_str()), (200, Some("ok")));
    // An administrator defines a currency: applied and durable.
    let (code, v) = curl(&[
        "-X",
        "POST",
        "-H",
        &auth,
        "-H",
        "Idempotency-Key: loop-1",
        "-d",
        r#"{"chain":"IND01","command":"define_currency","code":"USD","minor_units":2}"#,
        &format!("{base}/commands"),
    ]);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["status"], "accepted");
    let seq = v["seq"].as_u64().expect("seq");
    // Its proof, fetched as an auditor would, checks offline.
    let (code, proof) = curl(&["-H", &auth, &format!("{base}/public/proofs/IND01/{seq}")]);
    assert_eq!(code, 200, "{proof}");
    let file = s.scratch("proof.json");
    std::fs::write(&file, proof.to_string()).expect("write proof");
    let out = s.run(&["verify-proof", file.to_str().expect("path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Without a token: 401 in the envelope.
    let (code, v) = curl(&[&format!("{base}/users")]);
    assert_eq!((code, v["codes"][0].as_u64()), (401, Some(6101)));
    // SIGTERM: the server finishes, signs its last checkpoints and exits 0.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit {status:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut logs)
        .expect("logs");
    assert!(
        logs.contains("request") && logs.contains("stopped"),
        "{logs}"
    );
    assert!(!logs.contains(&token), "a token in the logs");
    let out = s.run(&["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let ind = text
        .lines()
        .find(|l| l.contains(" IND01 "))
        .expect("IND01 line");
    assert!(
        ind.contains(&format!("checkpoint_seq={seq}")) && ind.contains("unanchored=0"),
        "{ind}"
    );
}

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_break_for_any_role() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/api-fuzz.sh"))
        .arg(TANSO)
        .env("API_FUZZ_MAX_EXAMPLES", "5")
        .output()
        .expect("run scripts/api-fuzz.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "api-fuzz failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("api-fuzz: ") && l.contains(" operations, "))
        .expect("summary");
    assert!(
        summary.contains(" 0 server errors, 0 schema failures"),
        "{summary}"
    );
}
