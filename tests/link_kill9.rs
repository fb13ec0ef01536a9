//! Two stores in one process — India's registry and Japan's, each in its own data directory —
//! linked by `tanso link run` over the in-process transport with lost and duplicated
//! messages, killed with SIGKILL mid-transfer at 20 or more random moments (more transfers are
//! proposed between kills). After the last restart every transfer has completed or aborted
//! exactly once, both registries agree, no unit is lost or counted twice, and `tanso verify`
//! passes on both chains.
//!
//! `TANSO_LINK_KILL9_ROUNDS` (default 20) and `TANSO_LINK_KILL9_SEED` tune it.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tanso");

fn tanso(data: &Path, keys: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--data")
        .arg(data)
        .arg("--keys")
        .arg(keys)
        .args(args)
        .output()
        .expect("run tanso")
}

fn apply(data: &Path, keys: &Path, lines: &[Value]) -> Vec<Value> {
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .arg("--keys")
        .arg(keys)
        .args(["apply", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apply");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        for l in lines {
            writeln!(stdin, "{l}").expect("write");
        }
    }
    let out = child.wait_with_output().expect("apply");
    assert!(
        out.status.success(),
        "apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("result json"))
        .collect()
}

fn cmd(id: &str, chain: &str, command: &str, fields: Value) -> Value {
    let mut v = json!({"id": id, "chain": chain, "actor": "test", "command": command});
    if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
        o.extend(f);
    }
    v
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn transfers(data: &Path, keys: &Path) -> Vec<Value> {
    let out = tanso(data, keys, &["transfers", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("transfers json")
}

fn holdings_total(data: &Path, keys: &Path, registry: &str, account: u64) -> u64 {
    let out = tanso(
        data,
        keys,
        &[
            "holdings",
            "--registry",
            registry,
            "--account",
            &account.to_string(),
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("holdings json");
    v["total"].as_u64().expect("total")
}

fn propose(rng: &mut Rng, n: &mut u64, count: u64) -> Vec<Value> {
    (0..count)
        .map(|_| {
            *n += 1;
            let from = 1 + rng.below(5);
            // One in eight goes to an account Japan's registry does not have: rejected, aborted.
            let to = if rng.below(8) == 0 {
                2999
            } else {
                2001 + rng.below(2)
            };
            cmd(
                &format!("out-{n}"),
                "IND01",
                "transfer_out",
                json!({
                "from": from, "to_registry": "JPN01", "to_account": to,
                "quantity": 1 + rng.below(40), "unit": {"kind": "JCM"},
                "decide_by": "2099-01-01T00:00:00Z"}),
            )
        })
        .collect()
}

#[test]
fn kill9_of_two_linked_registries_mid_transfer_completes_or_aborts_every_transfer_exactly_once() {
    let rounds: u64 = std::env::var("TANSO_LINK_KILL9_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("TANSO_LINK_KILL9_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261128);
    println!("seed {seed}, {rounds} rounds");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ind, jpn, keys) = (
        tmp.path().join("ind"),
        tmp.path().join("jpn"),
        tmp.path().join("keys"),
    );

    let mut setup = vec![
        cmd("i-open", "IND01", "open_registry", json!({})),
        cmd(
            "i-holder",
            "IND01",
            "register_holder",
            json!({"holder": 1, "kind": "company", "name": "Surya"}),
        ),
    ];
    for a in 1..=5u64 {
        setup.push(cmd(
            &format!("i-acct-{a}"),
            "IND01",
            "open_account",
            json!({"account": a, "holder": 1, "kind": "entity-holding"}),
        ));
        setup.push(cmd(
            &format!("i-issue-{a}"),
            "IND01",
            "issue",
            json!({"account": a, "kind": "JCM", "project": "IN001",
            "period": {"start": "2026-01-01", "end": "2026-12-31"}, "quantity": 1000}),
        ));
    }
    assert!(apply(&ind, &keys, &setup)
        .iter()
        .all(|r| r["status"] == "accepted"));
    let setup_j = vec![
        cmd("j-open", "JPN01", "open_registry", json!({})),
        cmd(
            "j-holder",
            "JPN01",
            "register_holder",
            json!({"holder": 1, "kind": "company", "name": "Nihon"}),
        ),
        cmd(
            "j-2001",
            "JPN01",
            "open_account",
            json!({"account": 2001, "holder": 1, "kind": "entity-holding"}),
        ),
        cmd(
            "j-2002",
            "JPN01",
            "open_account",
            json!({"account": 2002, "holder": 1, "kind": "entity-holding"}),
        ),
    ];
    assert!(apply(&jpn, &keys, &setup_j)
        .iter()
        .all(|r| r["status"] == "accepted"));

    let mut n = 0u64;
    let accepted = |rs: Vec<Value>| rs.iter().filter(|r| r["status"] == "accepted").count() as u64;
    let first = propose(&mut rng, &mut n, 30);
    let mut proposed = accepted(apply(&ind, &keys, &first));
    let mut killed_mid_transfer = 0;
    for round in 0..rounds {
        // New proposals every round, so each run has transfers in flight to interrupt.
        let more = propose(&mut rng, &mut n, 12);
        proposed += accepted(apply(&ind, &keys, &more));
        let mut child = Command::new(BIN)
            .arg("--data")
            .arg(&ind)
            .arg("--keys")
            .arg(&keys)
            .args([
                "link",
                "run",
                "--until-settled",
                "--seconds",
                "30",
                "--retry-ms",
                "20",
            ])
            .args(["--drop-per-mille", "150", "--duplicate-per-mille", "150"])
            .arg("--seed")
            .arg((seed ^ round).to_string())
            .arg("--peer")
            .arg(&jpn)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn link run");
        std::thread::sleep(Duration::from_millis(5 + rng.below(60)));
        if child.try_wait().expect("poll").is_none() {
            killed_mid_transfer += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    println!("killed {killed_mid_transfer} of {rounds} runs while they were still working");
    assert!(
        killed_mid_transfer * 2 >= rounds,
        "most kills must land mid-run"
    );
    // The killed runs did real work, and left work in flight for the restart to finish.
    let before: Vec<Value> = transfers(&ind, &keys)
        .into_iter()
        .filter(|r| r["direction"] == "out")
        .collect();
    let decided = before.iter().filter(|r| r["status"] != 1).count();
    let open = before
        .iter()
        .filter(|r| r["status"] == 1 || r["settled"] == false)
        .count();
    println!("before the last restart: {decided} decided, {open} still proposed or unacknowledged");
    assert!(decided > 0, "the killed runs decided nothing");

    // The last restart runs to the end.
    let out = tanso(
        &ind,
        &keys,
        &[
            "link",
            "run",
            "--until-settled",
            "--seconds",
            "120",
            "--retry-ms",
            "20",
            "--peer",
            jpn.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "link did not settle: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Every transfer ended exactly once, the same way on both sides.
    let out_rows: BTreeMap<String, Value> = transfers(&ind, &keys)
        .into_iter()
        .filter(|r| r["direction"] == "out")
        .map(|r| (r["transfer_id"].as_str().unwrap().to_owned(), r))
        .collect();
    let in_rows: BTreeMap<String, Value> = transfers(&jpn, &keys)
        .into_iter()
        .filter(|r| r["direction"] == "in")
        .map(|r| (r["transfer_id"].as_str().unwrap().to_owned(), r))
        .collect();
    assert_eq!(
        out_rows.len() as u64,
        proposed,
        "every accepted proposal is one transfer"
    );
    assert!(
        proposed * 2 > n,
        "most proposals must be accepted: {proposed} of {n}"
    );
    let (mut committed, mut units_moved) = (0, 0u64);
    for (id, o) in &out_rows {
        assert_eq!(o["settled"], true, "{id} not acknowledged: {o}");
        let i = in_rows
            .get(id)
            .unwrap_or_else(|| panic!("{id} unknown at JPN01"));
        match o["status"].as_u64() {
            Some(4) => {
                assert_eq!(i["status"], 4, "{id} committed at IND01 but {i} at JPN01");
                assert_eq!(i["quantity"], o["quantity"]);
                committed += 1;
                units_moved += o["quantity"].as_u64().unwrap();
            }
            Some(6) | Some(7) => assert!(
                i["status"] == 5 || i["status"] == 6,
                "{id} aborted at IND01 but {i} at JPN01"
            ),
            s => panic!("{id} ended in status {s:?}"),
        }
    }
    assert!(
        committed > 0 && committed < out_rows.len(),
        "{committed} of {} committed",
        out_rows.len()
    );

    // Conservation: what left India arrived in Japan, once.
    let ind_total: u64 = (1..=5)
        .map(|a| holdings_total(&ind, &keys, "IND01", a))
        .sum();
    let jpn_total: u64 = [2001, 2002]
        .iter()
        .map(|&a| holdings_total(&jpn, &keys, "JPN01", a))
        .sum();
    assert_eq!(ind_total + jpn_total, 5000, "units lost or doubled");
    assert_eq!(jpn_total, units_moved);

    for d in [&ind, &jpn] {
        let c = tanso(d, &keys, &["checkpoint"]);
        assert!(c.status.success());
        let v = tanso(d, &keys, &["verify"]);
        assert!(
            v.status.success(),
            "verify failed: {}",
            String::from_utf8_lossy(&v.stdout)
        );
    }
    println!(
        "{} transfers, {committed} committed, {units_moved} units moved",
        out_rows.len()
    );
}
