//! The CLI on PostgreSQL (`--db`): `tanso migrate`, the whole demo, `tanso verify --db`, and
//! the projection tables that reporting tools read with SQL, checked against the journal
//! (every event once) and against `tanso holdings` (every account's blocks), also after a
//! later command.

mod common;

use common::{run_with_input, TANSO};
use serde_json::{json, Value};
use std::process::{Command, Output};
use tanso_store_postgres::testing::{owner_url, service_url, TempSchema};

struct Pg {
    schema: TempSchema,
    dir: tempfile::TempDir,
}

impl Pg {
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(TANSO);
        cmd.arg("--data")
            .arg(self.dir.path().join("data"))
            .arg("--keys")
            .arg(self.dir.path().join("keys"))
            .args(["--db", &service_url(), "--db-schema", &self.schema.name])
            .args(args);
        run_with_input(cmd, stdin)
    }

    fn sql(&self) -> postgres::Client {
        let mut c = postgres::Client::connect(&service_url(), postgres::NoTls).expect("connect");
        c.batch_execute(&format!("SET search_path TO {}", self.schema.name))
            .expect("search path");
        c
    }

    /// Every IND01 account in the projection agrees with `tanso holdings --json`.
    fn projection_matches_holdings(&self) -> usize {
        let mut sql = self.sql();
        let rows = sql
            .query(
                "SELECT account, units, blocks FROM proj_accounts WHERE chain = 'IND01' ORDER BY account",
                &[],
            )
            .expect("accounts");
        for row in &rows {
            let (account, units, blocks): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
            let out = self.run(
                &["holdings", "--account", &account.to_string(), "--json"],
                "",
            );
            assert!(out.status.success(), "holdings {account}");
            let v: Value = serde_json::from_slice(&out.stdout).expect("holdings json");
            let list = v["blocks"].as_array().expect("blocks");
            let total: u64 = list
                .iter()
                .map(|b| b["quantity"].as_u64().expect("q"))
                .sum();
            assert_eq!(
                (units as u64, blocks as usize),
                (total, list.len()),
                "account {account}: projection vs holdings"
            );
            let serials: Vec<(i64, i64)> = sql
                .query(
                    "SELECT first_serial, last_serial FROM proj_blocks
                     WHERE chain = 'IND01' AND account = $1 ORDER BY issuing, first_serial",
                    &[&account],
                )
                .expect("blocks")
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let mut want: Vec<(i64, i64)> = list
                .iter()
                .map(|b| {
                    (
                        b["start"].as_i64().expect("start"),
                        b["end"].as_i64().expect("end"),
                    )
                })
                .collect();
            want.sort();
            let mut got = serials;
            got.sort();
            assert_eq!(got, want, "account {account}: block serials");
        }
        rows.len()
    }
}

#[test]
fn demo_on_postgresql_verifies_and_its_projections_match_the_journal() {
    let pg = Pg {
        schema: TempSchema::new("tcli"),
        dir: tempfile::tempdir().expect("temp dir"),
    };
    // migrate is idempotent, and refuses a service-role-less call without --db.
    let out = Command::new(TANSO)
        .args([
            "--db",
            &owner_url(),
            "--db-schema",
            &pg.schema.name,
            "migrate",
        ])
        .output()
        .expect("migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("at version 1 (was 1)"));
    let out = Command::new(TANSO)
        .arg("migrate")
        .output()
        .expect("migrate");
    assert_eq!(out.status.code(), Some(2));

    let out = pg.run(&["demo"], "");
    assert!(
        out.status.success(),
        "demo --db: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A second demo on the same schema is refused: the service role cannot wipe a journal.
    let again = pg.run(&["demo", "--fresh"], "");
    assert_eq!(again.status.code(), Some(1));

    let out = pg.run(&["verify"], "");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "verify --db: {text}");
    let mut events = 0u64;
    for line in text.lines().filter(|l| l.starts_with("verify: ok ")) {
        assert!(line.contains("unanchored=0"), "{line}");
        let n = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix("events="))
            .expect("events field");
        events += n.parse::<u64>().expect("events");
    }
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("verify: ok "))
            .count(),
        6,
        "{text}"
    );
    let mut sql = pg.sql();
    let actions: i64 = sql
        .query_one("SELECT count(*) FROM proj_actions", &[])
        .expect("count")
        .get(0);
    assert_eq!(actions as u64, events, "one action row per journal event");
    let progress: Vec<(String, i64)> = sql
        .query("SELECT chain, seq FROM proj_progress ORDER BY chain", &[])
        .expect("progress")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(progress.len(), 6);
    let accounts = pg.projection_matches_holdings();
    assert!(accounts >= 10, "IND01 accounts projected: {accounts}");

    // A later command moves the projection: a new account appears, the rest stay equal.
    let line = json!({"id": "late-open", "chain": "IND01", "command": "open_account",
                      "account": 1555, "holder": 1, "kind": "entity-holding"});
    let out = pg.run(&["apply"], &format!("{line}\n"));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"accepted\""),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let n: i64 = sql
        .query_one(
            "SELECT count(*) FROM proj_accounts WHERE chain = 'IND01' AND account = 1555",
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(n, 1);
    assert_eq!(pg.projection_matches_holdings(), accounts + 1);
    let kind: String = sql
        .query_one(
            "SELECT kind FROM proj_actions WHERE command_id = 'late-open'",
            &[],
        )
        .expect("action")
        .get(0);
    assert_eq!(kind, "account_opened");
}
