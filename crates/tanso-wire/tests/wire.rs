//! The JSON edge: exact codes per bad field, the documented examples, content hashing.

use serde_json::{json, Value};
use tanso_core::*;
use tanso_wire::{content_hash, parse_line, parse_time, parse_value};

fn fixed_salt() -> [u8; 32] {
    [9; 32]
}

fn codes_of(v: Value) -> Vec<u16> {
    let mut s = fixed_salt;
    match parse_value(&v, &mut s) {
        Ok(p) => match p.command {
            Ok(c) => panic!("parsed {} without rejection", c.name()),
            Err(r) => r.codes().into_iter().map(|c| c.0).collect(),
        },
        Err(u) => u.rejection.codes().into_iter().map(|c| c.0).collect(),
    }
}

fn transfer(q: Value) -> Value {
    json!({"id": "t1", "chain": "IND01", "command": "transfer", "from": 1, "to": 2, "quantity": q, "unit": {"kind": "JCM"}})
}

#[test]
fn quantities_zero_negative_fractional_and_overflowing_get_their_codes() {
    assert_eq!(codes_of(transfer(json!(0))), vec![3007]);
    assert_eq!(codes_of(transfer(json!(-5))), vec![3008]);
    assert_eq!(codes_of(transfer(json!(1.5))), vec![3008]);
    assert_eq!(codes_of(transfer(json!("12"))), vec![3008]);
    let mut s = fixed_salt;
    let line = r#"{"id":"t1","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":18446744073709551616,"unit":{"kind":"JCM"}}"#;
    let p = parse_line(line, &mut s).expect("envelope parses");
    assert_eq!(p.command.unwrap_err().codes(), vec![Code::QUANTITY_INVALID]);
}

#[test]
fn malformed_json_and_ids_are_unbound_rejections() {
    let mut s = fixed_salt;
    let u = parse_line("{not json", &mut s).unwrap_err();
    assert_eq!(
        (u.id, u.rejection.codes()),
        (None, vec![Code::MALFORMED_COMMAND])
    );
    let u = parse_line(
        r#"{"id":"a b","chain":"IND01","command":"transfer"}"#,
        &mut s,
    )
    .unwrap_err();
    assert_eq!(u.rejection.codes(), vec![Code::MALFORMED_ID]);
    let u = parse_line(r#"{"id":"a","chain":"IN01","command":"transfer"}"#, &mut s).unwrap_err();
    assert_eq!(u.rejection.codes(), vec![Code::MALFORMED_ID]);
}

#[test]
fn unknown_commands_and_missing_fields_are_schema_violations() {
    assert_eq!(
        codes_of(json!({"id": "x", "chain": "IND01", "command": "mint"})),
        vec![6006]
    );
    assert_eq!(
        codes_of(json!({"id": "x", "chain": "IND01", "command": "transfer", "from": 1})),
        vec![6006]
    );
}

#[test]
fn content_hash_ignores_key_order_and_whitespace_but_not_values() {
    let a: Value = serde_json::from_str(r#"{"b":1,"a":[1,2]}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{ "a" : [1,2], "b":1 }"#).unwrap();
    let c: Value = serde_json::from_str(r#"{"a":[2,1],"b":1}"#).unwrap();
    assert_eq!(content_hash(&a), content_hash(&b));
    assert_ne!(content_hash(&a), content_hash(&c));
}

#[test]
fn personal_text_is_salted_and_kept_out_of_the_command() {
    let mut s = fixed_salt;
    let p = parse_value(
        &json!({"id": "h", "chain": "IND01", "command": "register_holder", "holder": 1, "kind": "company", "name": "Tata"}),
        &mut s,
    )
    .unwrap();
    let Ok(Command::RegisterHolder { name, .. }) = p.command else {
        panic!("holder")
    };
    assert_eq!(p.personal.len(), 1);
    assert_eq!(p.personal[0].0, name.0);
    assert_eq!(p.personal[0].2, "Tata");
    assert_ne!(&name.0[..4], b"Tata");
}

#[test]
fn rfc3339_times_parse_exactly() {
    assert_eq!(
        parse_time("1970-01-01T00:00:01Z"),
        Some(Timestamp(1_000_000))
    );
    assert_eq!(
        parse_time("1970-01-01T00:00:00.5Z"),
        Some(Timestamp(500_000))
    );
    assert_eq!(parse_time("1970-01-01T24:00:00Z"), None);
    assert_eq!(parse_time("1970-01-01T00:00:00+01:00"), None);
    let t = Timestamp(1_767_225_600_123_456);
    assert_eq!(parse_time(&t.to_string()), Some(t));
}

/// Every JSON command in docs/COMMANDS.md parses into a core command (hashes elided with
/// "…" in the docs may only fail as malformed ids).
#[test]
fn every_documented_command_example_parses() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/COMMANDS.md"
    ))
    .expect("docs/COMMANDS.md");
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in doc.lines() {
        match (&mut cur, line.trim_start()) {
            (None, "```json") => cur = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(std::mem::take(b));
                cur = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    let mut commands = 0;
    let mut names = std::collections::BTreeSet::new();
    for b in &blocks {
        for v in serde_json::Deserializer::from_str(b).into_iter::<Value>() {
            let v = v.unwrap_or_else(|e| panic!("docs example is not JSON: {e}\n{b}"));
            if v.get("status").is_some() {
                continue; // a result, not a command
            }
            let mut s = fixed_salt;
            let p = parse_value(&v, &mut s).unwrap_or_else(|u| panic!("{v}: {:?}", u.rejection));
            match p.command {
                Ok(c) => {
                    names.insert(c.name());
                }
                Err(r) if v.to_string().contains('…') => {
                    assert_eq!(r.codes(), vec![Code::MALFORMED_ID], "{v}")
                }
                Err(r) => panic!("documented example {v} is rejected: {r}"),
            }
            commands += 1;
        }
    }
    assert!(commands >= 55, "found only {commands} documented commands");
    // Every JCM step and the registry's issuance from a decision has a documented example
    // that parses in full.
    let documented = [
        "jcm_appoint",
        "jcm_submit_methodology",
        "jcm_check_completeness",
        "jcm_close_public_input",
        "jcm_submit_pin",
        "jcm_submit_pdd",
        "jcm_open_pdd_public_input",
        "jcm_validate",
        "jcm_request_registration",
        "jcm_withdraw_registration_request",
        "jcm_request_change",
        "jcm_request_renewal",
        "jcm_withdraw_project",
        "jcm_report_monitoring",
        "jcm_verify",
        "jcm_request_issuance",
        "jcm_withdraw_issuance_request",
        "jcm_propose",
        "jcm_concur",
        "jcm_refuse",
        "jcm_notify",
        "issue_from_decision",
    ];
    let missing: Vec<_> = documented.iter().filter(|n| !names.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "no parsing example in docs/COMMANDS.md for {missing:?}"
    );
}

fn arb_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z_\"\\\\é ]{0,6}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z_]{0,7}", inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    /// The content hash computed without copying the command equals the hash of the copy with
    /// the member removed (idempotency compares hashes stored by earlier versions).
    #[test]
    fn content_hash_without_a_member_equals_hashing_the_copy(
        members in proptest::collection::btree_map("[a-z_]{0,7}", arb_json(), 0..6),
        dry_run in proptest::option::of(proptest::prelude::any::<bool>()),
        skip in proptest::prop_oneof![proptest::strategy::Just("dry_run".to_string()), "[a-z_]{0,7}"],
    ) {
        let mut obj: serde_json::Map<String, serde_json::Value> = members.into_iter().collect();
        if let Some(d) = dry_run {
            obj.insert("dry_run".into(), serde_json::Value::from(d));
        }
        let mut copy = obj.clone();
        copy.remove(&skip);
        proptest::prop_assert_eq!(
            tanso_wire::content_hash_without(&obj, &skip),
            tanso_wire::content_hash(&serde_json::Value::Object(copy))
        );
    }
}
