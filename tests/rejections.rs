//! Bad input through the real binary: every rejection `tanso apply` can give, each against a
//! real store, asserting the exact codes, that the store is byte-identical afterwards (journal,
//! heads, checkpoints, personal text, and `tanso verify`'s head and state hashes), and that
//! resubmitting the same line gives the same answer (`replayed: true` when the rejection is
//! bound to the command id).
//!
//! The cases are data (`cases!`), so that `every_catalogue_code_is_produced_by_a_test` can
//! check the catalogue against the codes they pin: a code added to the catalogue without a
//! case here (or, for the few unreachable from `apply`, in the engine's tests) fails it.

mod common;

use common::{catalogue_codes, codes, line, Image, Sandbox};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::OnceLock;

const REG: &str = "IND01";
const MECH: &str = "mechanism:JCM-IND-JPN";

/// Entries of the base registry that cases cite: (seq, hash in hex).
struct Facts {
    /// A transfer 1002 → 1003 of serials 41–45, later moved back: its units moved on.
    moved: (u64, String),
    /// A transfer 1002 → 1001 of serials 46–50, already corrected.
    corrected: (u64, String),
    /// The opening of account 1001: neither an issuance nor a transfer.
    account_opening: (u64, String),
    /// Decision JC-1 on the mechanism chain.
    decision: (u64, String),
}

fn seq_hash(r: &Value) -> (u64, String) {
    (
        r["seq"].as_u64().expect("seq"),
        r["hash"].as_str().expect("hash").to_owned(),
    )
}

/// A registry every case starts from, built through `tanso apply`:
///
/// - accounts 1001 party-holding, 1002 and 1003 entity-holding, 1004 frozen, 1005 closed,
///   1080 pending-issuance, 1090 retirement, 1091 voluntary-cancellation;
/// - 1002 holds IND01 1–100 except: 1–10 under local hold H-1, 11–20 under legal freeze F-1,
///   21–30 under cross-registry hold X-1, 31–40 retired to 1090, 91–100 moved to 1003; and
///   5000 INR;
/// - 1003 holds two sets (91–100 JCM IN001 2026 and 101–110 JCM IN002 2025);
/// - the mechanism chain holds decision JC-1; business key `issuance:JC-1:IND01` is used.
///
/// Built once per test binary and copied into each test's own sandbox.
fn base() -> (Sandbox, &'static Facts) {
    static BASE: OnceLock<(Image, Facts)> = OnceLock::new();
    let (image, facts) = BASE.get_or_init(build_base);
    (Sandbox::from_image(image), facts)
}

fn build_base() -> (Image, Facts) {
    let s = Sandbox::new();
    let period = json!({"start": "2026-01-01", "end": "2026-12-31"});
    let mut lines = vec![line("base-open", REG, "open_registry", json!({}))];
    for (holder, kind, name) in [
        (1, "government", "Government of India"),
        (2, "company", "Surya Solar Pvt Ltd"),
        (3, "company", "Bharat Steel Ltd"),
    ] {
        lines.push(line(
            &format!("base-holder-{holder}"),
            REG,
            "register_holder",
            json!({"holder": holder, "kind": kind, "name": name}),
        ));
    }
    for (account, holder, kind) in [
        (1001, 1, "party-holding"),
        (1002, 2, "entity-holding"),
        (1003, 3, "entity-holding"),
        (1004, 2, "entity-holding"),
        (1005, 2, "entity-holding"),
        (1080, 1, "pending-issuance"),
        (1090, 1, "retirement"),
        (1091, 1, "voluntary-cancellation"),
    ] {
        lines.push(line(
            &format!("base-account-{account}"),
            REG,
            "open_account",
            json!({"account": account, "holder": holder, "kind": kind}),
        ));
    }
    let more = [
        line(
            "base-freeze-1004",
            REG,
            "set_account_status",
            json!({"account": 1004, "status": "frozen"}),
        ),
        line(
            "base-close-1005",
            REG,
            "set_account_status",
            json!({"account": 1005, "status": "closed"}),
        ),
        line(
            "base-mechanism",
            MECH,
            "open_mechanism",
            json!({"parties": ["IND", "JPN"]}),
        ),
        line(
            "base-decision",
            MECH,
            "record_decision",
            json!({"decision": "JC-1", "kind": "issuance"}),
        ),
        line(
            "base-issue",
            REG,
            "issue",
            json!({"account": 1080, "kind": "JCM", "project": "IN001",
            "period": period, "quantity": 100, "business_key": "issuance:JC-1:IND01"}),
        ),
        line(
            "base-distribute",
            REG,
            "transfer",
            json!({"from": 1080, "to": 1002, "ranges": [{"start": 1, "end": 100}]}),
        ),
        line(
            "base-issue-2",
            REG,
            "issue",
            json!({"account": 1003, "kind": "JCM", "project": "IN002",
            "period": {"start": "2025-01-01", "end": "2025-12-31"}, "quantity": 10}),
        ),
        line(
            "base-second-set",
            REG,
            "transfer",
            json!({"from": 1002, "to": 1003, "ranges": [{"start": 91, "end": 100}]}),
        ),
        line(
            "base-hold",
            REG,
            "place_hold",
            json!({"hold": "H-1", "kind": "local_pending_transfer", "account": 1002,
            "ranges": [{"start": 1, "end": 10}]}),
        ),
        line(
            "base-freeze",
            REG,
            "place_hold",
            json!({"hold": "F-1", "kind": "legal_freeze", "account": 1002,
            "ranges": [{"start": 11, "end": 20}]}),
        ),
        // A cross-registry transfer that timed out before anyone answered (status 7).
        line(
            "base-transfer-out",
            REG,
            "transfer_out",
            json!({"from": 1003, "to_registry": "JPN01", "to_account": 2001,
            "ranges": [{"start": 101, "end": 101}], "decide_by": "2000-01-01T00:00:00Z"}),
        ),
        line(
            "base-expire-transfers",
            REG,
            "expire_transfers",
            json!({"now": "2000-01-02T00:00:00Z"}),
        ),
        line(
            "base-cross",
            REG,
            "place_hold",
            json!({"hold": "X-1", "kind": "cross_registry_transfer", "account": 1002,
            "ranges": [{"start": 21, "end": 30}]}),
        ),
        line(
            "base-retire",
            REG,
            "retire",
            json!({"from": 1002, "to": 1090, "ranges": [{"start": 31, "end": 40}],
            "purpose": "voluntary"}),
        ),
        line(
            "base-cash",
            REG,
            "deposit_cash",
            json!({"account": 1002, "currency": "INR", "amount": 5000}),
        ),
        line(
            "base-moved",
            REG,
            "transfer",
            json!({"from": 1002, "to": 1003, "ranges": [{"start": 41, "end": 45}]}),
        ),
        line(
            "base-moved-back",
            REG,
            "transfer",
            json!({"from": 1003, "to": 1002, "ranges": [{"start": 41, "end": 45}]}),
        ),
        line(
            "base-to-correct",
            REG,
            "transfer",
            json!({"from": 1002, "to": 1001, "ranges": [{"start": 46, "end": 50}]}),
        ),
    ];
    lines.extend(more);
    let results = s.apply_ok(&lines);
    let by_id = |id: &str| {
        results
            .iter()
            .find(|r| r["id"] == id)
            .map(seq_hash)
            .unwrap_or_else(|| panic!("no result for {id}"))
    };
    let facts = Facts {
        moved: by_id("base-moved"),
        corrected: by_id("base-to-correct"),
        account_opening: by_id("base-account-1001"),
        decision: by_id("base-decision"),
    };
    s.apply_ok(&[line(
        "base-correct",
        REG,
        "correct",
        json!({"seq": facts.corrected.0, "hash": facts.corrected.1}),
    )]);
    (s.image(), facts)
}

/// Whether a rejection is stored against its command id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binding {
    /// Stored: a resubmission is answered from the store with `replayed: true`.
    Bound,
    /// Not stored (the line has no usable id, or the answer is 2512 about another command's
    /// id): a resubmission is checked again and gets the same codes.
    Unbound,
}
use Binding::*;

/// Applies `bad` to a fresh base registry and checks the exact codes, that nothing in the
/// store moved, and the answer to a resubmission.
fn check_case(expected: &[u16], binding: Binding, make: impl FnOnce(&Facts) -> String) {
    let (s, facts) = base();
    let bad = make(facts);
    let before = s.snapshot();

    let first = s.apply_one(&bad);
    assert_eq!(first["status"], "rejected", "{bad}\n→ {first}");
    assert_eq!(codes(&first), expected, "{bad}\n→ {first}");
    assert_eq!(first["replayed"], false, "{first}");
    assert_eq!(first["permanent"], true, "{first}");
    for e in first["errors"].as_array().expect("errors") {
        assert_ne!(e["name"], "UNKNOWN", "code outside the catalogue: {e}");
        assert!(
            !e["message"].as_str().unwrap_or("").is_empty(),
            "no message: {e}"
        );
    }

    let after = s.snapshot();
    assert_eq!(
        before.journal, after.journal,
        "the rejection of {bad} changed the store"
    );
    let stored = u64::from(binding == Bound);
    assert_eq!(
        after.rejections,
        before.rejections + stored,
        "{binding:?} rejection stored wrongly"
    );

    let again = s.apply_one(&bad);
    assert_eq!(again["status"], "rejected", "{again}");
    assert_eq!(
        again["replayed"],
        binding == Bound,
        "resubmission of {bad}\n→ {again}"
    );
    assert_eq!(
        again["errors"], first["errors"],
        "resubmission answered differently"
    );
    assert_eq!(s.snapshot(), after, "the resubmission changed the store");
}

macro_rules! cases {
    ($( $(#[$doc:meta])* $name:ident => [$($code:literal),+] $binding:ident, $make:expr; )*) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                check_case(&[$($code),+], $binding, $make);
            }
        )*

        /// Every case: its name and the exact codes it pins.
        fn all_cases() -> Vec<(&'static str, Vec<u16>)> {
            vec![$( (stringify!($name), vec![$($code),+]), )*]
        }
    };
}

fn transfer(id: &str, from: u64, to: u64, units: Value) -> String {
    let mut fields = json!({"from": from, "to": to});
    if let (Some(o), Value::Object(u)) = (fields.as_object_mut(), units) {
        o.extend(u);
    }
    line(id, REG, "transfer", fields)
}

fn ranges(start: u64, end: u64) -> Value {
    json!({"ranges": [{"start": start, "end": end}]})
}

fn issue(id: &str, fields: Value) -> String {
    let mut v = json!({"account": 1080, "kind": "JCM", "project": "IN001",
        "period": {"start": "2026-01-01", "end": "2026-12-31"}, "quantity": 5});
    if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
        o.extend(f);
    }
    line(id, REG, "issue", v)
}

/// An `issue` without some of its default fields.
fn issue_without(id: &str, drop: &[&str], fields: Value) -> String {
    let mut v: Value = serde_json::from_str(&issue(id, fields)).expect("json");
    for k in drop {
        v.as_object_mut().expect("object").remove(*k);
    }
    v.to_string()
}

fn correct(id: &str, target: &(u64, String)) -> String {
    line(
        id,
        REG,
        "correct",
        json!({"seq": target.0, "hash": target.1}),
    )
}

cases! {
    // ----- envelope: lines that cannot be bound to a command id -------------------------------

    /// Not JSON at all.
    malformed_json_is_6006_and_unbound => [6006] Unbound,
        |_| r#"{"id": "bad-json", "chain": "IND01", "command": "transfer","#.to_owned();
    /// JSON, but not an object.
    a_json_array_is_6006_and_unbound => [6006] Unbound,
        |_| r#"[{"id": "bad-array"}]"#.to_owned();
    missing_command_id_is_6006_and_unbound => [6006] Unbound,
        |_| r#"{"chain": "IND01", "command": "open_registry"}"#.to_owned();
    numeric_command_id_is_6006_and_unbound => [6006] Unbound,
        |_| r#"{"id": 7, "chain": "IND01", "command": "open_registry"}"#.to_owned();
    malformed_command_id_is_2513_and_unbound => [2513] Unbound,
        |_| line("has space", REG, "open_registry", json!({}));
    overlong_command_id_is_2513_and_unbound => [2513] Unbound,
        |_| line(&"x".repeat(65), REG, "open_registry", json!({}));
    malformed_chain_is_2513_and_unbound => [2513] Unbound,
        |_| line("bad-chain", "IND1", "open_registry", json!({}));
    missing_chain_is_6006_and_unbound => [6006] Unbound,
        |_| r#"{"id": "no-chain", "command": "open_registry"}"#.to_owned();
    malformed_actor_is_2513_and_unbound => [2513] Unbound,
        |_| r#"{"id": "bad-actor", "chain": "IND01", "actor": "a b", "command": "open_registry"}"#.to_owned();

    // ----- schema: bound to the id, answered from the store when resubmitted -----------------

    unknown_command_is_6006 => [6006] Bound,
        |_| line("mint", REG, "mint", json!({"quantity": 5}));
    missing_field_is_6006 => [6006] Bound,
        |_| line("no-to", REG, "transfer", json!({"from": 1002, "quantity": 1}));
    account_given_as_text_is_6006 => [6006] Bound,
        |_| line("text-account", REG, "transfer", json!({"from": "1002", "to": 1001, "quantity": 1}));
    quantity_and_ranges_together_are_6006 => [6006] Bound,
        |_| transfer("both", 1002, 1001, json!({"quantity": 1, "ranges": [{"start": 51, "end": 51}]}));
    unknown_status_is_6006 => [6006] Bound,
        |_| line("asleep", REG, "set_account_status", json!({"account": 1002, "status": "asleep"}));
    malformed_hold_id_is_2513 => [2513] Bound,
        |_| line("bad-hold-id", REG, "place_hold", json!({"hold": "bad hold", "kind": "legal_freeze",
            "account": 1002, "ranges": [{"start": 51, "end": 51}]}));
    malformed_unit_kind_is_2513 => [2513] Bound,
        |_| issue("bad-kind", json!({"kind": "J C M"}));
    malformed_hash_is_2513 => [2513] Bound,
        |_| line("bad-hash", REG, "correct", json!({"seq": 1, "hash": "zz"}));
    malformed_currency_is_2513 => [2513] Bound,
        |_| line("bad-currency", REG, "deposit_cash", json!({"account": 1002, "currency": "inr", "amount": 5}));

    // ----- accounts ----------------------------------------------------------------------------

    unknown_transferring_account_is_1002 => [1002] Bound,
        |_| transfer("from-unknown", 9998, 1003, json!({"quantity": 1}));
    unknown_acquiring_account_is_2002 => [2002] Bound,
        |_| transfer("to-unknown", 1002, 9999, json!({"quantity": 1}));
    unknown_accounts_on_both_sides_are_1002_and_2002 => [1002, 2002] Bound,
        |_| transfer("both-unknown", 9998, 9999, json!({"quantity": 1}));
    status_of_an_unknown_account_is_1002 => [1002] Bound,
        |_| line("status-unknown", REG, "set_account_status", json!({"account": 9999, "status": "frozen"}));
    closed_transferring_account_is_1003 => [1003] Bound,
        |_| transfer("from-closed", 1005, 1003, json!({"quantity": 1}));
    closed_acquiring_account_is_2003 => [2003] Bound,
        |_| transfer("to-closed", 1002, 1005, ranges(51, 51));
    reopening_a_closed_account_is_1003 => [1003] Bound,
        |_| line("reopen", REG, "set_account_status", json!({"account": 1005, "status": "open"}));
    frozen_transferring_account_is_1004 => [1004] Bound,
        |_| transfer("from-frozen", 1004, 1003, json!({"quantity": 1}));
    frozen_acquiring_account_is_2004 => [2004] Bound,
        |_| transfer("to-frozen", 1002, 1004, ranges(51, 51));
    /// Retired units never move again: the retirement account's kind refuses it.
    moving_units_out_of_a_retirement_account_is_1007 => [1007] Bound,
        |_| transfer("unretire", 1090, 1003, ranges(31, 31));
    transferring_into_a_retirement_account_is_2007 => [2007] Bound,
        |_| transfer("transfer-to-retirement", 1002, 1090, ranges(51, 51));
    /// The beneficiary's name must not reach the personal store (the snapshot covers it).
    retiring_into_a_holding_account_is_2007 => [2007] Bound,
        |_| line("retire-to-holding", REG, "retire", json!({"from": 1002, "to": 1003,
            "ranges": [{"start": 51, "end": 51}], "purpose": "voluntary",
            "beneficiary_name": "A Person Who Must Not Be Stored"}));
    cancelling_into_the_wrong_cancellation_kind_is_2007 => [2007] Bound,
        |_| line("cancel-wrong-kind", REG, "cancel", json!({"from": 1002, "to": 1091,
            "ranges": [{"start": 51, "end": 51}], "kind": "omge"}));
    the_same_account_on_both_sides_is_2508 => [2508] Bound,
        |_| transfer("same", 1002, 1002, ranges(51, 51));
    closing_an_account_that_holds_units_is_4528 => [4528] Bound,
        |_| line("close-full", REG, "set_account_status", json!({"account": 1002, "status": "closed"}));
    opening_an_existing_account_is_4520 => [4520] Bound,
        |_| line("account-again", REG, "open_account", json!({"account": 1002, "holder": 2, "kind": "entity-holding"}));
    /// The new name must not reach the personal store (the snapshot covers it).
    registering_an_existing_holder_is_4520 => [4520] Bound,
        |_| line("holder-again", REG, "register_holder", json!({"holder": 1, "kind": "company", "name": "Someone Else"}));
    opening_an_account_for_an_unknown_holder_is_4521 => [4521] Bound,
        |_| line("no-holder", REG, "open_account", json!({"account": 1200, "holder": 99, "kind": "entity-holding"}));
    retiring_for_an_unknown_beneficiary_is_4521 => [4521] Bound,
        |_| line("no-beneficiary", REG, "retire", json!({"from": 1002, "to": 1090,
            "ranges": [{"start": 51, "end": 51}], "purpose": "voluntary", "beneficiary_holder": 99}));
    unknown_account_kind_is_4522 => [4522] Bound,
        |_| line("no-kind", REG, "open_account", json!({"account": 1200, "holder": 2, "kind": "nope"}));
    /// Every failing check is reported, in order.
    an_account_opening_failing_three_checks_reports_all_three => [4520, 4521, 4522] Bound,
        |_| line("three-wrongs", REG, "open_account", json!({"account": 1002, "holder": 99, "kind": "nope"}));

    // ----- ids, chains ---------------------------------------------------------------------------

    /// The id of an accepted command, reused for other content.
    command_id_reused_with_other_content_is_2512 => [2512] Unbound,
        |_| transfer("base-to-correct", 1002, 1001, ranges(51, 51));
    recording_a_decision_on_a_registry_chain_is_2515 => [2515] Bound,
        |_| line("decision-on-registry", REG, "record_decision", json!({"decision": "JC-9", "kind": "issuance"}));
    opening_a_registry_chain_for_another_registry_is_2515 => [2515] Bound,
        |_| line("wrong-registry", REG, "open_registry", json!({"registry": "JPN01"}));
    opening_a_party_authority_for_another_party_is_2515 => [2515] Bound,
        |_| line("wrong-party", "party:IND", "open_party_authority", json!({"party": "JPN"}));
    a_transfer_on_a_mechanism_chain_is_2515 => [2515] Bound,
        |_| line("transfer-on-mechanism", MECH, "transfer", json!({"from": 1002, "to": 1001, "quantity": 1}));
    a_command_on_a_chain_never_opened_is_4525 => [4525] Bound,
        |_| line("no-chain", "KOR01", "transfer", json!({"from": 1, "to": 2, "quantity": 1}));
    a_decision_on_a_mechanism_never_opened_is_4525 => [4525] Bound,
        |_| line("no-mechanism", "mechanism:OTHER", "record_decision", json!({"decision": "D-1", "kind": "issuance"}));
    // ----- cross-registry transfers (the link's own codes are pinned in
    // crates/tanso-core/tests/link.rs: see LINK_LEVEL) ---------------------------------------------
    a_transfer_out_to_its_own_registry_is_1020 => [1020] Bound,
        |_| line("out-to-self", REG, "transfer_out", json!({"from": 1002, "to_registry": "IND01",
            "to_account": 1001, "quantity": 1, "unit": {"kind": "JCM"}, "decide_by": "2099-01-01T00:00:00Z"}));
    a_malformed_transfer_id_is_2510 => [2510] Bound,
        |_| line("cancel-malformed", REG, "cancel_transfer", json!({"transfer_id": "IND01-12"}));
    cancelling_an_unknown_transfer_is_4501 => [4501] Bound,
        |_| line("cancel-unknown", REG, "cancel_transfer", json!({"transfer_id": "IND01-000000099"}));
    cancelling_a_decided_transfer_is_4502 => [4502] Bound,
        |_| line("cancel-decided", REG, "cancel_transfer", json!({"transfer_id": "IND01-000000001"}));
    opening_an_open_registry_again_is_4526 => [4526] Bound,
        |_| line("open-again", REG, "open_registry", json!({}));
    opening_an_open_mechanism_again_is_4526 => [4526] Bound,
        |_| line("mechanism-again", MECH, "open_mechanism", json!({"parties": ["IND", "JPN"]}));

    // ----- quantities and serials ------------------------------------------------------------------

    quantity_beyond_what_the_account_holds_is_3005 => [3005] Bound,
        |_| transfer("too-many", 1002, 1001, json!({"quantity": 1000, "unit": {"kind": "JCM"}}));
    quantity_from_an_account_holding_nothing_is_3005 => [3005] Bound,
        |_| transfer("from-empty", 1001, 1002, json!({"quantity": 1}));
    zero_quantity_is_3007 => [3007] Bound,
        |_| transfer("zero", 1002, 1001, json!({"quantity": 0}));
    no_ranges_is_3007 => [3007] Bound,
        |_| transfer("no-ranges", 1002, 1001, json!({"ranges": []}));
    negative_quantity_is_3008 => [3008] Bound,
        |_| transfer("negative", 1002, 1001, json!({"quantity": -5}));
    /// 2^64: one past the largest u64.
    overflowing_quantity_is_3008 => [3008] Bound,
        |_| r#"{"id": "overflow", "chain": "IND01", "command": "transfer", "from": 1002, "to": 1001, "quantity": 18446744073709551616}"#.to_owned();
    fractional_quantity_is_3008 => [3008] Bound,
        |_| transfer("fraction", 1002, 1001, json!({"quantity": 1.5}));
    quantity_as_text_is_3008 => [3008] Bound,
        |_| transfer("text-quantity", 1002, 1001, json!({"quantity": "5"}));
    negative_serial_is_3008 => [3008] Bound,
        |_| transfer("negative-serial", 1002, 1001, json!({"ranges": [{"start": -1, "end": 5}]}));
    a_range_ending_before_it_starts_is_3030 => [3030] Bound,
        |_| transfer("reversed", 1002, 1001, ranges(60, 55));
    overlapping_ranges_are_3031 => [3031] Bound,
        |_| transfer("overlap", 1002, 1001, json!({"ranges": [{"start": 51, "end": 60}, {"start": 55, "end": 65}]}));
    moving_units_under_a_hold_is_3034 => [3034] Bound,
        |_| transfer("held", 1002, 1001, ranges(1, 5));
    a_conflicting_hold_is_3034 => [3034] Bound,
        |_| line("hold-conflict", REG, "place_hold", json!({"hold": "H-2", "kind": "local_pending_transfer",
            "account": 1002, "ranges": [{"start": 5, "end": 6}]}));
    moving_frozen_units_is_3035 => [3035] Bound,
        |_| transfer("frozen-units", 1002, 1001, ranges(11, 12));
    holding_frozen_units_for_a_transfer_is_3035 => [3035] Bound,
        |_| line("hold-frozen", REG, "place_hold", json!({"hold": "M-1", "kind": "market_order",
            "account": 1002, "ranges": [{"start": 11, "end": 12}]}));
    a_range_another_account_holds_is_3038 => [3038] Bound,
        |_| transfer("not-mine", 1002, 1001, ranges(101, 105));
    serials_never_issued_are_3038 => [3038] Bound,
        |_| transfer("never-issued", 1002, 1001, ranges(5000, 5001));
    /// The holding account that once held them names retired serials.
    retired_serials_named_from_the_holding_account_are_3036 => [3036] Bound,
        |_| transfer("retired-serials", 1002, 1001, ranges(31, 31));
    serial_zero_is_3039 => [3039] Bound,
        |_| transfer("serial-zero", 1002, 1001, ranges(0, 3));
    a_two_digit_vintage_is_3040 => [3040] Bound,
        |_| issue("vintage-26", json!({"vintage": 26}));
    an_unknown_unit_kind_is_3041 => [3041] Bound,
        |_| issue("kind-xyz", json!({"kind": "XYZ"}));
    a_project_kind_without_a_project_is_3042 => [3042] Bound,
        |_| issue_without("no-project", &["project"], json!({}));
    a_period_ending_before_it_starts_is_3043 => [3043] Bound,
        |_| issue("period-backwards", json!({"period": {"start": "2026-12-31", "end": "2026-01-01"}}));
    an_impossible_date_is_3043 => [3043] Bound,
        |_| issue("february-30", json!({"period": {"start": "2026-02-30", "end": "2026-03-31"}}));
    an_expiry_that_is_not_rfc3339_is_3043 => [3043] Bound,
        |_| line("expiry-text", REG, "place_hold", json!({"hold": "H-3", "kind": "local_pending_transfer",
            "account": 1002, "ranges": [{"start": 51, "end": 51}], "expires_at": "tomorrow"}));
    a_quantity_from_an_account_holding_two_sets_is_3044 => [3044] Bound,
        |_| transfer("ambiguous", 1003, 1001, json!({"quantity": 1}));
    underlying_unit_ids_that_would_overflow_are_3045 => [3045] Bound,
        |_| issue("unit-overflow", json!({"unit_start": u64::MAX, "quantity": 2}));
    a_vintage_other_than_the_periods_year_is_3046 => [3046] Bound,
        |_| issue("vintage-2025", json!({"vintage": 2025}));
    a_compliance_kind_without_its_year_is_3046 => [3046] Bound,
        |_| issue("ccc-no-year", json!({"kind": "CCC"}));
    a_straddling_period_with_a_vintage_is_3046 => [3046] Bound,
        |_| issue("straddle-vintage", json!({"period": {"start": "2025-07-01", "end": "2026-06-30"}, "vintage": 2026}));

    // ----- cash --------------------------------------------------------------------------------

    an_unknown_currency_is_3050 => [3050] Bound,
        |_| line("usd", REG, "deposit_cash", json!({"account": 1002, "currency": "USD", "amount": 5}));
    withdrawing_more_than_is_available_is_3051 => [3051] Bound,
        |_| line("overdraw", REG, "withdraw_cash", json!({"account": 1002, "currency": "INR", "amount": 6000}));
    a_zero_amount_is_3052 => [3052] Bound,
        |_| line("zero-cash", REG, "deposit_cash", json!({"account": 1002, "currency": "INR", "amount": 0}));
    a_negative_amount_is_3052 => [3052] Bound,
        |_| line("negative-cash", REG, "deposit_cash", json!({"account": 1002, "currency": "INR", "amount": -5}));

    // ----- holds -------------------------------------------------------------------------------

    releasing_an_unknown_hold_is_4505 => [4505] Bound,
        |_| line("no-hold", REG, "release_hold", json!({"hold": "NOPE"}));
    a_hold_id_in_use_is_4506 => [4506] Bound,
        |_| line("hold-id-again", REG, "place_hold", json!({"hold": "H-1", "kind": "local_pending_transfer",
            "account": 1002, "ranges": [{"start": 51, "end": 51}]}));
    releasing_serials_not_under_the_hold_is_4507 => [4507] Bound,
        |_| line("release-other", REG, "release_hold", json!({"hold": "H-1", "ranges": [{"start": 11, "end": 11}]}));
    posting_from_a_freeze_is_4507 => [4507] Bound,
        |_| line("post-freeze", REG, "post_hold", json!({"hold": "F-1", "to": 1003}));
    releasing_a_cross_registry_hold_without_its_decision_is_4508 => [4508] Bound,
        |_| line("release-cross", REG, "release_hold", json!({"hold": "X-1"}));
    a_freeze_that_expires_is_4508 => [4508] Bound,
        |_| line("expiring-freeze", REG, "place_hold", json!({"hold": "F-2", "kind": "legal_freeze",
            "account": 1002, "ranges": [{"start": 51, "end": 51}], "expires_at": "2030-01-01T00:00:00Z"}));

    // ----- corrections and citations ----------------------------------------------------------

    correcting_an_entry_twice_is_3019 => [3019] Bound,
        |f| correct("correct-again", &f.corrected);
    correcting_an_account_opening_is_4509 => [4509] Bound,
        |f| correct("correct-opening", &f.account_opening);
    correcting_a_transfer_whose_units_moved_on_is_4510 => [4510] Bound,
        |f| correct("correct-moved", &f.moved);
    citing_an_entry_with_the_wrong_hash_is_4523 => [4523] Bound,
        |f| issue("wrong-hash", json!({"citation": {"chain": MECH, "seq": f.decision.0, "hash": "00".repeat(32)}}));
    citing_an_entry_past_the_head_is_4523 => [4523] Bound,
        |f| issue("past-head", json!({"citation": {"chain": MECH, "seq": f.decision.0 + 1, "hash": f.decision.1}}));
    citing_a_chain_never_opened_is_4523 => [4523] Bound,
        |f| issue("cite-nowhere", json!({"citation": {"chain": "mechanism:NOPE", "seq": 1, "hash": f.decision.1}}));
    correcting_an_entry_that_does_not_exist_is_4523 => [4523] Bound,
        |f| line("correct-nothing", REG, "correct", json!({"seq": 999_999, "hash": f.corrected.1}));
    reusing_a_business_key_is_4524 => [4524] Bound,
        |_| issue("key-again", json!({"business_key": "issuance:JC-1:IND01"}));
    issuing_from_an_entry_that_is_no_issuance_notification_is_8006 => [8006] Bound,
        |f| line("issue-from-record", REG, "issue_from_decision", json!({"citation":
            {"chain": MECH, "seq": f.decision.0, "hash": f.decision.1}}));
    a_jcm_step_by_an_actor_without_the_role_is_8001 => [8001] Bound,
        |_| line("propose-nobody", MECH, "jcm_propose", json!({"decision": "JC-9",
            "subject": {"type": "designate_tpe", "tpe": "tpe:x"}}));
    recording_a_decision_twice_is_4524 => [4524] Bound,
        |_| line("decision-again", MECH, "record_decision", json!({"decision": "JC-1", "kind": "issuance"}));

    // ----- multi-leg ---------------------------------------------------------------------------

    an_issuance_as_a_leg_is_4527 => [4527] Bound,
        |_| line("issue-leg", REG, "multi_leg", json!({"legs": [
            {"command": "issue", "account": 1080, "kind": "JCM", "project": "IN001",
             "period": {"start": "2026-01-01", "end": "2026-12-31"}, "quantity": 5}]}));
    a_multi_leg_command_without_legs_is_4527 => [4527] Bound,
        |_| line("no-legs", REG, "multi_leg", json!({"legs": []}));
    /// The first leg alone would be accepted; the snapshot shows it was undone.
    a_failing_second_leg_rejects_the_whole_command => [3034] Bound,
        |_| line("legs", REG, "multi_leg", json!({"legs": [
            {"command": "transfer", "from": 1002, "to": 1001, "ranges": [{"start": 51, "end": 51}]},
            {"command": "transfer", "from": 1002, "to": 1001, "ranges": [{"start": 1, "end": 1}]}]}));
}

/// Codes `tanso apply` cannot produce, each tested in `crates/tanso-engine/tests/rejections.rs`
/// (named there by its catalogue constant).
/// Codes the link answers inside its messages (a Reject's codes, an alarm), never as the
/// rejection of a command: pinned by the link's state-machine tests.
const LINK_LEVEL: &[(u16, &str, &str)] = &[
    (
        2511,
        "QUANTITY_MISMATCH",
        "a Reject's code for a proposal whose quantity is not its blocks' sum",
    ),
    (
        3032,
        "ATTRIBUTES_DISAGREE",
        "a Reject's code for a block naming another issuing registry",
    ),
    (
        3033,
        "SERIALS_ALREADY_PRESENT",
        "a Reject's code for serials already held or pending",
    ),
    (
        4503,
        "DECISION_CONFLICT",
        "an alarm for a COMMIT the receiver never accepted",
    ),
    (
        4504,
        "PROPOSE_AFTER_ABORT",
        "a Reject's code for a proposal after an abort tombstone",
    ),
];

#[test]
fn codes_only_the_link_answers_are_tested_in_the_link_tests() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/tanso-core/tests/link.rs"
    );
    let text = std::fs::read_to_string(path).expect("read the link's tests");
    for (code, name, why) in LINK_LEVEL {
        assert_eq!(code_def(*code), *name, "catalogue name of {code}");
        assert!(
            text.contains(&format!("Code::{name}")),
            "{code} {name} ({why}) is not tested in {path}"
        );
    }
}

/// Codes of the JCM cycle's state machine, each pinned (with the state hash unchanged) by the
/// mechanism's tests on the core; 8001 and 8006 are also produced here through `apply`.
const JCM_LEVEL: &[(u16, &str, &str)] = &[
    (
        3060,
        "UNITS_NOT_AUTHORIZED",
        "foreign JCM credits retired towards the NDC",
    ),
    (
        8002,
        "PARTY_NOT_IN_MECHANISM",
        "a participant or host outside the parties",
    ),
    (8003, "MOTION_UNKNOWN", "concurring with no open motion"),
    (
        8004,
        "SAME_SIDE_CONCURRENCE",
        "a decision concurred by the same side",
    ),
    (
        8005,
        "DECISION_NOT_ADOPTED",
        "notifying before both sides decided",
    ),
    (
        8010,
        "METHODOLOGY_UNKNOWN",
        "a methodology with no executable module",
    ),
    (
        8011,
        "METHODOLOGY_NOT_APPROVED",
        "a PDD on an unapproved methodology",
    ),
    (8012, "STEP_NOT_VALID_IN_STATE", "a step out of order"),
    (8013, "PUBLIC_INPUT_NOT_OVER", "closing public input early"),
    (8014, "PROJECT_UNKNOWN", "a step on no project"),
    (
        8020,
        "PARAMETER_MISSING",
        "a monitoring report missing a value",
    ),
    (
        8021,
        "PARAMETER_UNKNOWN",
        "a PDD naming a monitored value ex ante",
    ),
    (8022, "PARAMETER_INVALID", "a negative monitored value"),
    (
        8023,
        "CRITERIA_NOT_MET",
        "a PDD not affirming every criterion",
    ),
    (8024, "ALLOCATION_INVALID", "percentages not summing to 100"),
    (
        8030,
        "PERIOD_OUTSIDE_CREDITING",
        "a period past the crediting period",
    ),
    (
        8031,
        "PERIOD_OVERLAPS",
        "a period overlapping a reported one",
    ),
    (
        8032,
        "PERIOD_ALREADY_ISSUED",
        "a second decision for a period",
    ),
    (
        8033,
        "EXCEEDS_VERIFIED",
        "a request or decision above the verified amount",
    ),
    (
        8034,
        "VERIFIED_EXCEEDS_COMPUTED",
        "verifying more than computed",
    ),
    (
        8035,
        "ACTIVITY_NOT_ELIGIBLE",
        "registration outside the list under policy block",
    ),
];

#[test]
fn codes_of_the_jcm_cycle_are_tested_on_the_core() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/tanso-core/tests/jcm.rs"
    );
    let text = std::fs::read_to_string(path).expect("read the JCM tests");
    for (code, name, why) in JCM_LEVEL {
        assert_eq!(code_def(*code), *name, "catalogue name of {code}");
        assert!(
            text.contains(&format!("Code::{name}")),
            "{code} {name} ({why}) is not tested in {path}"
        );
    }
}

/// Article 6.2 codes, each pinned by name in the test file given (the party chain and the
/// registry on the core; the accounting arithmetic; the consistency checks of `tanso report`).
const A6_LEVEL: &[(u16, &str, &str)] = &[
    (
        3061,
        "CERTIFICATE_EXPIRED",
        "crates/tanso-core/tests/ccts.rs",
    ),
    (8501, "CA_UNKNOWN", "crates/tanso-core/tests/article6.rs"),
    (
        8502,
        "INITIAL_REPORT_MISSING",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8503,
        "INITIAL_REPORT_INCOMPLETE",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8504,
        "AUTHORIZATION_UNKNOWN",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8505,
        "AUTHORIZATION_VERSION",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8506,
        "VINTAGE_NOT_AUTHORIZABLE",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8507,
        "AUTHORIZED_QUANTITY_EXCEEDED",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8508,
        "ALREADY_FIRST_TRANSFERRED",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8509,
        "PURPOSE_NOT_AUTHORIZED",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8510,
        "PARTY_NOT_AUTHORIZED",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8511,
        "METRIC_UNSUPPORTED",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8512,
        "ADJUSTMENT_STATE",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8513,
        "PERIOD_FINALIZED",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8515,
        "USE_YEAR_INVALID",
        "crates/tanso-core/tests/article6.rs",
    ),
    (
        8516,
        "NOT_ARTICLE6_ELIGIBLE",
        "crates/tanso-core/tests/article6.rs",
    ),
    (8517, "NDC_UNKNOWN", "crates/tanso-core/tests/article6.rs"),
    (
        8514,
        "DATA_MISSING",
        "crates/tanso-core/tests/article6_accounting.rs",
    ),
    (
        8601,
        "CHECK_FIRST_TRANSFER_ABOVE_AUTHORIZED",
        "crates/tanso-cli/src/report.rs",
    ),
    (
        8602,
        "CHECK_HOLDINGS_IDENTITY",
        "crates/tanso-cli/src/report.rs",
    ),
    (8603, "CHECK_SERIAL_TWICE", "crates/tanso-cli/src/report.rs"),
    (8604, "CHECK_USED_TWICE", "crates/tanso-cli/src/report.rs"),
    (
        8605,
        "CHECK_ROW_WITHOUT_AUTHORIZATION",
        "crates/tanso-cli/src/report.rs",
    ),
    (
        8606,
        "CHECK_UNAUTHORIZED_FIRST_TRANSFER",
        "crates/tanso-cli/src/report.rs",
    ),
    (
        8607,
        "CHECK_VINTAGE_MISMATCH",
        "crates/tanso-cli/src/report.rs",
    ),
];

#[test]
fn article6_and_api_codes_are_tested_where_they_arise() {
    for (code, name, file) in A6_LEVEL.iter().chain(API_LEVEL) {
        assert_eq!(code_def(*code), *name, "catalogue name of {code}");
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("read the test file");
        assert!(
            text.contains(&format!("Code::{name}")),
            "{code} {name} is not tested in {path}"
        );
    }
}

/// The HTTP API's own codes, each produced in `crates/tanso-cli/tests/api.rs`.
const API_LEVEL: &[(u16, &str, &str)] = &[
    (
        6101,
        "AUTHENTICATION_REQUIRED",
        "crates/tanso-cli/tests/api.rs",
    ),
    (6102, "PERMISSION_DENIED", "crates/tanso-cli/tests/api.rs"),
    (
        6103,
        "IDEMPOTENCY_KEY_MISMATCH",
        "crates/tanso-cli/tests/api.rs",
    ),
    (6104, "REQUEST_TOO_LARGE", "crates/tanso-cli/tests/api.rs"),
    (6105, "RATE_LIMITED", "crates/tanso-cli/tests/api.rs"),
    (6106, "NOT_FOUND", "crates/tanso-cli/tests/api.rs"),
    (6107, "ACTOR_MISMATCH", "crates/tanso-cli/tests/api.rs"),
    (
        6108,
        "OUTSIDE_TRUSTED_LIST",
        "crates/tanso-cli/tests/api.rs",
    ),
    (
        6109,
        "APPROVAL_NOT_PENDING",
        "crates/tanso-cli/tests/api.rs",
    ),
    (6110, "OWN_REQUEST", "crates/tanso-cli/tests/api.rs"),
    (6111, "INVALID_REQUEST", "crates/tanso-cli/tests/api.rs"),
    (6112, "METHOD_NOT_ALLOWED", "crates/tanso-cli/tests/api.rs"),
];

const ENGINE_LEVEL: &[(u16, &str, &str)] = &[
    (
        6005,
        "CHAIN_NOT_HOSTED",
        "the CLI opens its node hosting every chain",
    ),
    (
        7001,
        "STORAGE_UNAVAILABLE",
        "needs a store that fails a commit",
    ),
    (
        7002,
        "WRITER_FENCED",
        "needs a second writer taking over the store",
    ),
];

#[test]
fn every_catalogue_code_is_produced_by_a_test() {
    let catalogue: BTreeSet<u16> = catalogue_codes().into_iter().collect();
    let core: BTreeSet<u16> = tanso_core::checks::CATALOGUE
        .iter()
        .map(|d| d.code.0)
        .collect();
    assert_eq!(
        catalogue, core,
        "`tanso checks --json` is not the core's catalogue"
    );

    let produced: BTreeSet<u16> = all_cases().into_iter().flat_map(|(_, c)| c).collect();
    let engine: BTreeSet<u16> = ENGINE_LEVEL
        .iter()
        .chain(LINK_LEVEL)
        .chain(JCM_LEVEL)
        .chain(A6_LEVEL)
        .chain(API_LEVEL)
        .map(|(c, _, _)| *c)
        .collect();
    let untested: Vec<u16> = catalogue
        .iter()
        .filter(|c| !produced.contains(c) && !engine.contains(c))
        .copied()
        .collect();
    assert!(
        untested.is_empty(),
        "catalogue codes no test produces: {untested:?} — add a case to tests/rejections.rs \
         (or, if `tanso apply` cannot reach it, an engine test and an ENGINE_LEVEL row)"
    );
    let unknown: Vec<u16> = produced.difference(&catalogue).copied().collect();
    assert!(
        unknown.is_empty(),
        "tests pin codes outside the catalogue: {unknown:?}"
    );
    let overlap: Vec<u16> = produced.intersection(&engine).copied().collect();
    assert!(
        overlap.is_empty(),
        "codes listed as engine-only are produced through apply: {overlap:?}"
    );
}

#[test]
fn codes_unreachable_from_apply_are_tested_in_the_engine() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/tanso-engine/tests/rejections.rs"
    );
    let text = std::fs::read_to_string(path).expect("read the engine's rejection tests");
    for (code, name, why) in ENGINE_LEVEL {
        let def = code_def(*code);
        assert_eq!(def, *name, "catalogue name of {code}");
        assert!(
            text.contains(&format!("Code::{name}")),
            "{code} {name} ({why}) is not tested in {path}"
        );
    }
}

fn code_def(code: u16) -> &'static str {
    tanso_core::Code(code).name()
}

/// A rejection bound to an id answers a reuse of that id with other content with 2512, and
/// keeps answering the original content with the original codes.
#[test]
fn an_id_bound_to_a_rejection_reused_with_other_content_is_2512() {
    let (s, _) = base();
    let original = transfer("bound-rejection", 1002, 9999, json!({"quantity": 1}));
    let first = s.apply_one(&original);
    assert_eq!(codes(&first), [2002]);
    let before = s.snapshot();

    let other = transfer("bound-rejection", 1002, 1001, ranges(51, 51));
    let reused = s.apply_one(&other);
    assert_eq!(codes(&reused), [2512], "{reused}");
    assert_eq!(reused["replayed"], false);
    assert_eq!(s.snapshot(), before, "a 2512 changed the store");

    let again = s.apply_one(&original);
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(again["errors"], first["errors"]);
}

/// A rejection does not grow a chain, so `apply` signs no new checkpoint at exit.
#[test]
fn an_apply_of_only_rejections_signs_no_checkpoint() {
    let (s, _) = base();
    let count = |s: &Sandbox| -> i64 {
        s.db()
            .query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0))
            .expect("count checkpoints")
    };
    let before = count(&s);
    assert!(
        before > 0,
        "apply signs checkpoints after accepted commands"
    );
    let results = s.apply(&[
        transfer("r-1", 9998, 1003, json!({"quantity": 1})),
        transfer("r-2", 1002, 1002, ranges(51, 51)),
        "not json".to_owned(),
    ]);
    assert!(
        results.iter().all(|r| r["status"] == "rejected"),
        "{results:?}"
    );
    assert_eq!(count(&s), before);
    let out = s.run(&["checkpoint"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "signed 0 checkpoint(s)"
    );
}

/// A stored rejection whose record is damaged is answered with the transient 7001 (retry
/// later), never with made-up codes, and nothing else changes.
#[test]
fn a_damaged_stored_rejection_is_answered_with_7001() {
    let (s, _) = base();
    let bad = transfer("damaged", 9998, 1003, json!({"quantity": 1}));
    assert_eq!(codes(&s.apply_one(&bad)), [1002]);
    let n = s
        .db()
        .execute(
            "UPDATE rejections SET body = x'ffff' WHERE command_id = 'damaged'",
            [],
        )
        .expect("damage the record");
    assert_eq!(n, 1);
    let before = s.snapshot();

    let answer = s.apply_one(&bad);
    assert_eq!(codes(&answer), [7001], "{answer}");
    assert_eq!(answer["permanent"], false, "{answer}");
    assert_eq!(s.snapshot(), before);
}
