//! Idempotency through the binary: a command id is bound to its first permanent outcome, so
//! resubmitting a command (in the same `apply`, a later one, or after a restart) answers with
//! the stored outcome (`replayed: true`) and changes nothing; the same id with other content is
//! 2512; dry runs bind nothing; every line of a batch is its own command.

mod common;

use common::{codes, line, Sandbox};
use serde_json::{json, Value};

const REG: &str = "IND01";

fn setup_lines() -> Vec<String> {
    vec![
        line("s-open", REG, "open_registry", json!({})),
        line(
            "s-holder-1",
            REG,
            "register_holder",
            json!({"holder": 1, "kind": "government", "name": "Government of India"}),
        ),
        line(
            "s-holder-2",
            REG,
            "register_holder",
            json!({"holder": 2, "kind": "company", "name": "Surya Solar Pvt Ltd"}),
        ),
        line(
            "s-1080",
            REG,
            "open_account",
            json!({"account": 1080, "holder": 1, "kind": "pending-issuance"}),
        ),
        line(
            "s-1002",
            REG,
            "open_account",
            json!({"account": 1002, "holder": 2, "kind": "entity-holding"}),
        ),
        line(
            "s-1003",
            REG,
            "open_account",
            json!({"account": 1003, "holder": 2, "kind": "entity-holding"}),
        ),
        line(
            "s-1090",
            REG,
            "open_account",
            json!({"account": 1090, "holder": 1, "kind": "retirement"}),
        ),
        line(
            "s-issue",
            REG,
            "issue",
            json!({"account": 1080, "kind": "JCM", "project": "IN001",
            "period": {"start": "2026-01-01", "end": "2026-12-31"}, "quantity": 100}),
        ),
        line(
            "s-distribute",
            REG,
            "transfer",
            json!({"from": 1080, "to": 1002, "quantity": 50, "unit": {"kind": "JCM"}}),
        ),
    ]
}

/// A registry where 1002 holds 50 units (and 1080 the other 50), built through `apply`.
fn registry() -> Sandbox {
    let s = Sandbox::new();
    s.apply_ok(&setup_lines());
    s
}

fn transfer(id: &str, from: u64, to: u64, quantity: u64) -> String {
    line(
        id,
        REG,
        "transfer",
        json!({"from": from, "to": to, "quantity": quantity, "unit": {"kind": "JCM"}}),
    )
}

/// The result without its `replayed` flag, for comparing a replay with the original.
fn without_replayed(v: &Value) -> Value {
    let mut v = v.clone();
    v.as_object_mut().expect("result object").remove("replayed");
    v
}

#[test]
fn the_same_command_file_applied_twice_changes_nothing_the_second_time() {
    let s = Sandbox::new();
    let mut lines = setup_lines();
    lines.extend([
        transfer("f-split", 1002, 1003, 20),
        line(
            "f-retire",
            REG,
            "retire",
            json!({"from": 1003, "to": 1090, "quantity": 5, "unit": {"kind": "JCM"},
            "purpose": "voluntary", "beneficiary_name": "Bharat Steel Ltd, FY2026 claims"}),
        ),
        transfer("f-rejected", 1002, 9999, 1),
        "{\"id\": \"f-malformed\",".to_owned(),
    ]);
    let first = s.apply(&lines);
    let n = lines.len();
    assert!(
        first[..n - 2].iter().all(|r| r["status"] == "accepted"),
        "{first:?}"
    );
    assert_eq!(codes(&first[n - 2]), [2002]);
    assert_eq!(codes(&first[n - 1]), [6006]);
    assert!(first.iter().all(|r| r["replayed"] == false));
    let before = s.snapshot();

    let second = s.apply(&lines);
    for (i, (a, b)) in first.iter().zip(&second).enumerate() {
        // The malformed line has no id to bind: it is checked again, with the same answer.
        let bound = i != n - 1;
        assert_eq!(b["replayed"], bound, "line {i}: {b}");
        assert_eq!(
            without_replayed(a),
            without_replayed(b),
            "line {i} answered differently"
        );
    }
    assert_eq!(s.snapshot(), before, "the second apply changed the store");
}

#[test]
fn a_command_id_reused_with_other_content_is_2512_and_keeps_its_first_outcome() {
    let s = registry();
    let original = transfer("t-1", 1002, 1003, 10);
    let first = s.apply_one(&original);
    assert_eq!(first["status"], "accepted", "{first}");
    let before = s.snapshot();

    let reused = s.apply_one(&transfer("t-1", 1002, 1003, 11));
    assert_eq!(codes(&reused), [2512], "{reused}");
    assert_eq!(reused["replayed"], false);
    assert_eq!(reused["id"], "t-1");
    assert_eq!(s.snapshot(), before, "a 2512 changed the store");

    let again = s.apply_one(&original);
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(without_replayed(&again), without_replayed(&first));
}

/// The content hash is over canonical JSON (sorted keys, no whitespace) without the dry-run
/// flag, so the same command written differently is the same command.
#[test]
fn the_same_content_written_differently_is_a_replay_not_2512() {
    let s = registry();
    let first = s.apply_one(&transfer("t-1", 1002, 1003, 10));
    assert_eq!(first["status"], "accepted", "{first}");
    let reordered = r#"{ "unit": {"kind": "JCM"},  "quantity": 10, "to": 1003, "from": 1002,
        "command": "transfer", "actor": "tester", "chain": "IND01", "id": "t-1", "dry_run": false }"#
        .replace('\n', " ");
    let again = s.apply_one(&reordered);
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(without_replayed(&again), without_replayed(&first));
}

/// The rejection is bound to the id: even once the command would be accepted (more units
/// arrived), the id keeps its first answer, in a new process as in the old.
#[test]
fn a_stored_rejection_is_answered_identically_after_a_restart() {
    let s = registry();
    let short = transfer("t-short", 1002, 1003, 60);
    let first = s.apply_one(&short);
    assert_eq!(codes(&first), [3005], "{first}");
    let restarted = s.apply_one(&short);
    assert_eq!(restarted["replayed"], true, "{restarted}");
    assert_eq!(without_replayed(&restarted), without_replayed(&first));

    s.apply_ok(&[transfer("t-top-up", 1080, 1002, 50)]);
    let later = s.apply_one(&short);
    assert_eq!(later["replayed"], true, "{later}");
    assert_eq!(later["errors"], first["errors"]);
    let fresh = s.apply_one(&transfer("t-short-again", 1002, 1003, 60));
    assert_eq!(
        fresh["status"], "accepted",
        "the same transfer under a new id: {fresh}"
    );
}

#[test]
fn a_dry_run_changes_nothing_and_does_not_bind_its_id() {
    let s = registry();
    let before = s.snapshot();
    let real = transfer("d-1", 1002, 1003, 10);
    let mut dry: Value = serde_json::from_str(&real).expect("json");
    dry["dry_run"] = json!(true);

    let answer = s.apply_one(&dry.to_string());
    assert_eq!(answer["status"], "would_accept", "{answer}");
    assert_eq!(answer["dry_run"], true);
    assert_eq!(answer["replayed"], false);
    assert!(
        answer.get("hash").is_none(),
        "a dry run has no entry hash: {answer}"
    );
    assert_eq!(answer["events"][0]["event"], "transferred", "{answer}");
    let mut again = s.apply_one(&dry.to_string());
    // A dry run carries the time it was checked at; everything else repeats.
    again["time"] = answer["time"].clone();
    assert_eq!(again, answer, "a second dry run answers the same");
    assert_eq!(s.snapshot(), before, "a dry run changed the store");

    let applied = s.apply_one(&real);
    assert_eq!(
        applied["status"], "accepted",
        "the id was bound by a dry run: {applied}"
    );
    assert_eq!(applied["replayed"], false);
    assert_eq!(
        applied["seq"], answer["seq"],
        "the dry run predicted the seq"
    );
    assert_eq!(
        applied["events"], answer["events"],
        "the dry run predicted the events"
    );
}

#[test]
fn a_rejected_dry_run_stores_no_rejection_and_does_not_bind_its_id() {
    let s = registry();
    let before = s.snapshot();
    let dry = line(
        "d-2",
        REG,
        "transfer",
        json!({"from": 1002, "to": 9999, "quantity": 1, "dry_run": true}),
    );
    let answer = s.apply_one(&dry);
    assert_eq!(answer["status"], "rejected");
    assert_eq!(answer["dry_run"], true);
    assert_eq!(codes(&answer), [2002]);
    assert_eq!(
        s.snapshot(),
        before,
        "a rejected dry run changed the store or stored a rejection"
    );

    // Other content under the same id is a first submission, not 2512.
    let applied = s.apply_one(&transfer("d-2", 1002, 1003, 1));
    assert_eq!(applied["status"], "accepted", "{applied}");
}

#[test]
fn two_lines_with_different_ids_in_one_apply_are_two_entries() {
    let s = registry();
    let results = s.apply(&[
        transfer("b-1", 1002, 1003, 1),
        transfer("b-2", 1002, 1003, 1),
    ]);
    assert!(
        results
            .iter()
            .all(|r| r["status"] == "accepted" && r["replayed"] == false),
        "{results:?}"
    );
    let seq = |r: &Value| r["seq"].as_u64().expect("seq");
    assert_eq!(seq(&results[1]), seq(&results[0]) + 1);
    assert_ne!(results[0]["hash"], results[1]["hash"]);
    assert_ne!(
        results[0]["events"], results[1]["events"],
        "different serials moved"
    );
    let (code, out) = s.verify();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("verify: ok IND01 entries={} ", seq(&results[1]))),
        "{out}"
    );
}

#[test]
fn an_id_repeated_within_one_apply_is_one_command() {
    let s = registry();
    let results = s.apply(&[
        transfer("r-1", 1002, 1003, 1),
        transfer("r-1", 1002, 1003, 1),
        transfer("r-1", 1002, 1003, 2),
    ]);
    assert_eq!(results[0]["status"], "accepted", "{results:?}");
    assert_eq!(results[1]["replayed"], true, "{}", results[1]);
    assert_eq!(without_replayed(&results[1]), without_replayed(&results[0]));
    assert_eq!(codes(&results[2]), [2512], "{}", results[2]);
    let (code, out) = s.verify();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("verify: ok IND01 entries={} ", results[0]["seq"])),
        "{out}"
    );
}
