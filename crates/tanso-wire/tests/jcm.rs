//! The JCM project cycle at the JSON edge: every `jcm_*` command and `issue_from_decision`
//! parses to the exact core value, decimals stay exact, bad fields get their codes, and the
//! rendered subjects, policies and events keep the commands' shapes.

use serde_json::{json, Value};
use tanso_core::jcm::allocation::Share;
use tanso_core::jcm::methodology::{Decimal, Params, Rounding};
use tanso_core::jcm::*;
use tanso_core::*;
use tanso_wire::out::{event_json, jcm_event_json};
use tanso_wire::{parse_value, policy_json, role_name, subject_json};

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn fixed_salt() -> [u8; 32] {
    [9; 32]
}

/// A command on the JCM mechanism chain: the envelope plus `fields`.
fn line(command: &str, fields: Value) -> Value {
    let mut v = json!({"id": "j1", "chain": "mechanism:JCM-IND-JPN", "actor": "jc:ind-1", "command": command});
    if let (Some(a), Value::Object(b)) = (v.as_object_mut(), fields) {
        a.extend(b);
    }
    v
}

fn parse(v: Value) -> Command {
    let mut s = fixed_salt;
    let p = parse_value(&v, &mut s).unwrap_or_else(|u| panic!("{v}: {:?}", u.rejection));
    p.command.unwrap_or_else(|r| panic!("{v} is rejected: {r}"))
}

fn jcm(command: &str, fields: Value) -> JcmCommand {
    match parse(line(command, fields)) {
        Command::Jcm(c) => c,
        other => panic!("{command} parsed to {}", other.name()),
    }
}

fn rejection(v: Value) -> Rejection {
    let mut s = fixed_salt;
    match parse_value(&v, &mut s) {
        Ok(p) => match p.command {
            Ok(c) => panic!("{v} parsed to {} without rejection", c.name()),
            Err(r) => r,
        },
        Err(u) => u.rejection,
    }
}

fn codes(command: &str, fields: Value) -> Vec<u16> {
    rejection(line(command, fields))
        .codes()
        .into_iter()
        .map(|c| c.0)
        .collect()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap()
}

fn doc(size: u64) -> DocRef {
    DocRef {
        hash: hex::decode(HASH).unwrap().try_into().unwrap(),
        size,
    }
}

fn doc_json(size: u64) -> Value {
    json!({"sha256": HASH, "size": size})
}

fn am001() -> MethodologyRef {
    MethodologyRef {
        code: "IN_AM001".into(),
        version: 1,
    }
}

fn am001_json() -> Value {
    json!({"code": "IN_AM001", "version": 1})
}

fn project() -> ProjectId {
    ProjectId::parse("IN001").unwrap()
}

fn actor(s: &str) -> Actor {
    Actor::parse(s).unwrap()
}

fn party(s: &str) -> PartyId {
    PartyId::parse(s).unwrap()
}

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn period(start: &str, end: &str) -> MitigationPeriod {
    MitigationPeriod::new(date(start), date(end)).unwrap()
}

fn params(kv: &[(&str, &str)]) -> Params {
    kv.iter().map(|(k, v)| ((*k).to_owned(), dec(v))).collect()
}

fn allocation_json() -> Value {
    json!({"shares": [
        {"registry": "IND01", "account": 1080, "percent": "33.34"},
        {"registry": "JPN01", "account": 2001, "percent": 66}
    ], "remainder_to": 1})
}

fn allocation() -> Allocation {
    Allocation {
        shares: vec![
            Share {
                registry: RegistryId::parse("IND01").unwrap(),
                account: AccountId(1080),
                percent: dec("33.34"),
            },
            Share {
                registry: RegistryId::parse("JPN01").unwrap(),
                account: AccountId(2001),
                percent: dec("66"),
            },
        ],
        remainder_to: 1,
    }
}

#[test]
fn appoint_takes_the_appointee_a_role_and_a_party_for_members_and_participants() {
    let cases = [
        (
            json!({"appointee": "jc:ind-1", "role": "member", "party": "IND"}),
            Role::Member(party("IND")),
        ),
        (
            json!({"appointee": "jc:ind-1", "role": "participant", "party": "JPN"}),
            Role::Participant(party("JPN")),
        ),
        (
            json!({"appointee": "jc:ind-1", "role": "secretariat"}),
            Role::Secretariat,
        ),
        (json!({"appointee": "jc:ind-1", "role": "tpe"}), Role::Tpe),
    ];
    for (fields, role) in cases {
        assert_eq!(
            parse(line("jcm_appoint", fields)),
            Command::Jcm(JcmCommand::Appoint {
                actor: actor("jc:ind-1"),
                role
            })
        );
    }
    // The appointee is its own field, not the submitting actor.
    assert_eq!(
        jcm(
            "jcm_appoint",
            json!({"appointee": "pp:surya", "role": "participant", "party": "IND"})
        ),
        JcmCommand::Appoint {
            actor: actor("pp:surya"),
            role: Role::Participant(party("IND"))
        }
    );
}

#[test]
fn appoint_party_is_required_for_members_and_participants_and_refused_otherwise() {
    for role in ["member", "participant"] {
        assert_eq!(
            codes("jcm_appoint", json!({"appointee": "a", "role": role})),
            vec![6006]
        );
    }
    for role in ["secretariat", "tpe"] {
        assert_eq!(
            codes(
                "jcm_appoint",
                json!({"appointee": "a", "role": role, "party": "IND"})
            ),
            vec![6006]
        );
    }
    assert_eq!(
        codes("jcm_appoint", json!({"appointee": "a", "role": "chair"})),
        vec![6006]
    );
    assert_eq!(
        codes(
            "jcm_appoint",
            json!({"appointee": "a", "role": "member", "party": "India"})
        ),
        vec![2513]
    );
    assert_eq!(
        codes("jcm_appoint", json!({"appointee": "a b", "role": "tpe"})),
        vec![2513]
    );
    assert_eq!(
        codes("jcm_appoint", json!({"role": "tpe"})),
        vec![6006],
        "the appointee is not taken from actor"
    );
}

#[test]
fn methodology_steps_parse() {
    assert_eq!(
        parse(line(
            "jcm_submit_methodology",
            json!({"methodology": am001_json(), "document": doc_json(48213)})
        )),
        Command::Jcm(JcmCommand::SubmitMethodology {
            methodology: am001(),
            document: doc(48213)
        })
    );
    assert_eq!(
        jcm(
            "jcm_check_completeness",
            json!({"methodology": am001_json(), "complete": false})
        ),
        JcmCommand::CheckCompleteness {
            methodology: am001(),
            complete: false
        }
    );
    assert_eq!(
        jcm(
            "jcm_close_public_input",
            json!({"methodology": am001_json()})
        ),
        JcmCommand::ClosePublicInput {
            target: InputTarget::Methodology(am001())
        }
    );
    assert_eq!(
        jcm("jcm_close_public_input", json!({"project": "IN001"})),
        JcmCommand::ClosePublicInput {
            target: InputTarget::Project(project())
        }
    );
}

#[test]
fn close_public_input_needs_exactly_one_target() {
    assert_eq!(codes("jcm_close_public_input", json!({})), vec![6006]);
    assert_eq!(
        codes(
            "jcm_close_public_input",
            json!({"project": "IN001", "methodology": am001_json()})
        ),
        vec![6006]
    );
}

#[test]
fn pin_and_pdd_parse_with_their_defaults() {
    assert_eq!(
        jcm(
            "jcm_submit_pin",
            json!({"project": "IN001", "host": "IND", "activity": 1,
                   "participants": ["pp:tokyo-gas", "pp:surya"], "document": doc_json(9120)})
        ),
        JcmCommand::SubmitPin {
            project: project(),
            host: party("IND"),
            activity: 1,
            participants: vec![actor("pp:tokyo-gas"), actor("pp:surya")],
            document: doc(9120),
        }
    );
    assert_eq!(
        jcm(
            "jcm_submit_pin",
            json!({"project": "IN001", "host": "IND", "activity": 65535, "document": doc_json(1)})
        ),
        JcmCommand::SubmitPin {
            project: project(),
            host: party("IND"),
            activity: 65535,
            participants: Vec::new(),
            document: doc(1),
        }
    );
    assert_eq!(
        parse(line(
            "jcm_submit_pdd",
            json!({"project": "IN001", "methodology": am001_json(),
                   "ex_ante": {"EF_RE": "0.727"}, "criteria": ["C1", "C2", "C3"],
                   "crediting": {"start": "2026-01-01", "end": "2035-12-31"},
                   "allocation": allocation_json(), "document": doc_json(212004)})
        )),
        Command::Jcm(JcmCommand::SubmitPdd {
            project: project(),
            methodology: am001(),
            ex_ante: params(&[("EF_RE", "0.727")]),
            criteria: vec!["C1".into(), "C2".into(), "C3".into()],
            crediting: period("2026-01-01", "2035-12-31"),
            allocation: allocation(),
            document: doc(212004),
        })
    );
    // ex_ante defaults to {} and remainder_to to 0.
    assert_eq!(
        jcm(
            "jcm_submit_pdd",
            json!({"project": "IN001", "methodology": am001_json(), "criteria": [],
                   "crediting": {"start": "2026-01-01", "end": "2026-01-01"},
                   "allocation": {"shares": [{"registry": "JPN01", "account": 2001, "percent": "100"}]},
                   "document": doc_json(5)})
        ),
        JcmCommand::SubmitPdd {
            project: project(),
            methodology: am001(),
            ex_ante: Params::new(),
            criteria: Vec::new(),
            crediting: period("2026-01-01", "2026-01-01"),
            allocation: Allocation {
                shares: vec![Share {
                    registry: RegistryId::parse("JPN01").unwrap(),
                    account: AccountId(2001),
                    percent: dec("100"),
                }],
                remainder_to: 0,
            },
            document: doc(5),
        }
    );
}

#[test]
fn validation_and_registration_steps_parse() {
    assert_eq!(
        jcm("jcm_open_pdd_public_input", json!({"project": "IN001"})),
        JcmCommand::OpenPddPublicInput { project: project() }
    );
    assert_eq!(
        jcm(
            "jcm_validate",
            json!({"project": "IN001", "positive": true, "document": doc_json(83311)})
        ),
        JcmCommand::Validate {
            project: project(),
            positive: true,
            document: doc(83311)
        }
    );
    assert_eq!(
        jcm(
            "jcm_request_registration",
            json!({"project": "IN001", "document": doc_json(15002)})
        ),
        JcmCommand::RequestRegistration {
            project: project(),
            document: doc(15002)
        }
    );
    assert_eq!(
        jcm(
            "jcm_withdraw_registration_request",
            json!({"project": "IN001"})
        ),
        JcmCommand::WithdrawRegistrationRequest { project: project() }
    );
}

#[test]
fn registered_project_steps_parse() {
    assert_eq!(
        jcm(
            "jcm_request_change",
            json!({"project": "IN001", "change": {"allocation": allocation_json(), "ex_ante": {"EF_RE": "0.716"}},
                   "document": doc_json(20480)})
        ),
        JcmCommand::RequestChange {
            project: project(),
            change: Change {
                allocation: Some(allocation()),
                ex_ante: params(&[("EF_RE", "0.716")]),
            },
            document: doc(20480),
        }
    );
    // Both parts of a change are optional at the edge (the core refuses an empty change).
    assert_eq!(
        jcm(
            "jcm_request_change",
            json!({"project": "IN001", "change": {}, "document": doc_json(1)})
        ),
        JcmCommand::RequestChange {
            project: project(),
            change: Change {
                allocation: None,
                ex_ante: Params::new()
            },
            document: doc(1),
        }
    );
    assert_eq!(
        jcm(
            "jcm_request_renewal",
            json!({"project": "IN001", "until": "2045-12-31", "document": doc_json(11877)})
        ),
        JcmCommand::RequestRenewal {
            project: project(),
            until: date("2045-12-31"),
            document: doc(11877),
        }
    );
    assert_eq!(
        jcm(
            "jcm_withdraw_project",
            json!({"project": "IN001", "document": doc_json(4096)})
        ),
        JcmCommand::WithdrawProject {
            project: project(),
            document: doc(4096)
        }
    );
}

#[test]
fn monitoring_and_issuance_steps_parse() {
    assert_eq!(
        jcm(
            "jcm_report_monitoring",
            json!({"project": "IN001", "period_no": 1,
                   "period": {"start": "2026-01-01", "end": "2026-12-31"},
                   "values": {"EG_BESS": "150.50", "X.y-z": 7}, "document": doc_json(66012)})
        ),
        JcmCommand::ReportMonitoring {
            project: project(),
            period_no: 1,
            period: period("2026-01-01", "2026-12-31"),
            values: params(&[("EG_BESS", "150.50"), ("X.y-z", "7")]),
            document: doc(66012),
        }
    );
    assert_eq!(
        jcm(
            "jcm_verify",
            json!({"project": "IN001", "period_no": 1, "amount": 109, "document": doc_json(70114)})
        ),
        JcmCommand::Verify {
            project: project(),
            period_no: 1,
            amount: 109,
            document: doc(70114),
        }
    );
    // Zero passes the edge: the core answers it (3007).
    assert_eq!(
        jcm(
            "jcm_request_issuance",
            json!({"project": "IN001", "period_no": 4294967295u64, "quantity": 0, "document": doc_json(3072)})
        ),
        JcmCommand::RequestIssuance {
            project: project(),
            period_no: u32::MAX,
            quantity: 0,
            document: doc(3072),
        }
    );
    assert_eq!(
        jcm(
            "jcm_withdraw_issuance_request",
            json!({"project": "IN001", "period_no": 2})
        ),
        JcmCommand::WithdrawIssuanceRequest {
            project: project(),
            period_no: 2
        }
    );
}

#[test]
fn out_of_range_numbers_are_schema_violations() {
    assert_eq!(
        codes(
            "jcm_submit_pin",
            json!({"project": "IN001", "host": "IND", "activity": 65536, "document": doc_json(1)})
        ),
        vec![6006]
    );
    assert_eq!(
        codes(
            "jcm_withdraw_issuance_request",
            json!({"project": "IN001", "period_no": 4294967296u64})
        ),
        vec![6006]
    );
    assert_eq!(
        codes(
            "jcm_verify",
            json!({"project": "IN001", "period_no": 1, "amount": -1, "document": doc_json(1)})
        ),
        vec![6006]
    );
    assert_eq!(
        codes(
            "jcm_submit_methodology",
            json!({"methodology": {"code": "IN_AM001", "version": 1.5}, "document": doc_json(1)})
        ),
        vec![6006]
    );
}

#[test]
fn committee_steps_parse() {
    let decision = DecisionId::parse("JC-2026-001").unwrap();
    assert_eq!(
        jcm(
            "jcm_propose",
            json!({"decision": "JC-2026-001",
                   "subject": {"type": "approve_methodology", "methodology": am001_json()}})
        ),
        JcmCommand::Propose {
            decision: decision.clone(),
            subject: Subject::ApproveMethodology(am001())
        }
    );
    assert_eq!(
        jcm("jcm_concur", json!({"decision": "JC-2026-001"})),
        JcmCommand::Concur {
            decision: decision.clone()
        }
    );
    assert_eq!(
        jcm("jcm_refuse", json!({"decision": "JC-2026-001"})),
        JcmCommand::Refuse {
            decision: decision.clone()
        }
    );
    assert_eq!(
        jcm("jcm_notify", json!({"decision": "JC-2026-001"})),
        JcmCommand::Notify { decision }
    );
    assert_eq!(codes("jcm_concur", json!({"decision": "JC 1"})), vec![2513]);
    assert_eq!(codes("jcm_notify", json!({})), vec![6006]);
}

fn propose(subject: Value) -> Subject {
    match jcm(
        "jcm_propose",
        json!({"decision": "JC-2026-007", "subject": subject}),
    ) {
        JcmCommand::Propose { subject, .. } => subject,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_decision_subject_parses() {
    let cases = [
        (
            json!({"type": "approve_methodology", "methodology": am001_json()}),
            Subject::ApproveMethodology(am001()),
        ),
        (
            json!({"type": "reject_methodology", "methodology": am001_json()}),
            Subject::RejectMethodology(am001()),
        ),
        (
            json!({"type": "designate_tpe", "tpe": "tpe:dnv"}),
            Subject::DesignateTpe(actor("tpe:dnv")),
        ),
        (
            json!({"type": "appoint_member", "member": "jc:jpn-2", "party": "JPN"}),
            Subject::AppointMember {
                actor: actor("jc:jpn-2"),
                party: party("JPN"),
            },
        ),
        (
            json!({"type": "set_activity_list", "party": "IND", "activities": [1, 2, 5]}),
            Subject::SetActivityList {
                party: party("IND"),
                activities: vec![1, 2, 5],
            },
        ),
        (
            json!({"type": "set_policy", "policy": {}}),
            Subject::SetPolicy(JcmPolicy::default()),
        ),
        (
            json!({"type": "register_project", "project": "IN001"}),
            Subject::RegisterProject(project()),
        ),
        (
            json!({"type": "reject_registration", "project": "IN001"}),
            Subject::RejectRegistration(project()),
        ),
        (
            json!({"type": "approve_change", "project": "IN001"}),
            Subject::ApproveChange(project()),
        ),
        (
            json!({"type": "renew_crediting_period", "project": "IN001", "until": "2045-12-31"}),
            Subject::RenewCreditingPeriod {
                project: project(),
                until: date("2045-12-31"),
            },
        ),
        (
            json!({"type": "decide_issuance", "project": "IN001", "period_no": 1, "quantity": 109}),
            Subject::DecideIssuance {
                project: project(),
                period_no: 1,
                quantity: 109,
            },
        ),
        (
            json!({"type": "reject_issuance", "project": "IN001", "period_no": 1}),
            Subject::RejectIssuance {
                project: project(),
                period_no: 1,
            },
        ),
    ];
    for (json, subject) in cases {
        assert_eq!(propose(json.clone()), subject, "{json}");
        // Rendered as the command takes it, so it parses back to itself.
        assert_eq!(
            subject_json(&subject),
            json_with_full_policy(&json),
            "{json}"
        );
        assert_eq!(propose(subject_json(&subject)), subject);
    }
}

/// `subject_json` renders every policy field; the input of the test may leave them out.
fn json_with_full_policy(v: &Value) -> Value {
    let mut v = v.clone();
    if v["type"] == "set_policy" {
        v["policy"] = policy_json(&JcmPolicy::default());
    }
    v
}

#[test]
fn policy_fields_are_optional_with_the_documented_defaults() {
    let all = json!({
        "rounding": "half_even", "methodology_public_input_days": 20, "pdd_public_input_days": 45,
        "outside_list_registration": "block", "outside_list_authorization": "allow",
        "straddle": "refuse", "foreign_issuance": "unrestricted", "remainder": "largest_share"
    });
    let p = JcmPolicy {
        rounding: Rounding::HalfEven,
        methodology_public_input_days: 20,
        pdd_public_input_days: 45,
        outside_list_registration: OutsideListAtRegistration::Block,
        outside_list_authorization: OutsideListAuthorization::Allow,
        straddle: StraddlePolicy::Refuse,
        foreign_issuance: ForeignIssuance::Unrestricted,
        remainder: RemainderPolicy::LargestShare,
    };
    assert_eq!(
        propose(json!({"type": "set_policy", "policy": all})),
        Subject::SetPolicy(p)
    );
    assert_eq!(policy_json(&p), all);
    assert_eq!(
        policy_json(&JcmPolicy::default()),
        json!({
            "rounding": "floor", "methodology_public_input_days": 15, "pdd_public_input_days": 30,
            "outside_list_registration": "warn", "outside_list_authorization": "block",
            "straddle": "pro_rata_days_remainder_last", "foreign_issuance": "not_yet_authorized",
            "remainder": "designated_share"
        })
    );
    assert_eq!(
        propose(json!({"type": "set_policy", "policy": {"rounding": "half_up"}})),
        Subject::SetPolicy(JcmPolicy {
            rounding: Rounding::HalfUp,
            ..JcmPolicy::default()
        })
    );
    for bad in [
        json!({"rounding": "ceil"}),
        json!({"straddle": "pro_rata"}),
        json!({"remainder": 1}),
        json!({"pdd_public_input_days": -1}),
        json!({"methodology_public_input_days": 4294967296u64}),
    ] {
        assert_eq!(
            codes(
                "jcm_propose",
                json!({"decision": "JC-1", "subject": {"type": "set_policy", "policy": bad}})
            ),
            vec![6006],
            "{bad}"
        );
    }
}

#[test]
fn malformed_subjects_get_their_codes() {
    let code = |subject: Value| {
        codes(
            "jcm_propose",
            json!({"decision": "JC-1", "subject": subject}),
        )
    };
    assert_eq!(code(json!({"type": "dissolve_committee"})), vec![6006]);
    assert_eq!(code(json!({"project": "IN001"})), vec![6006]);
    assert_eq!(code(json!("register_project")), vec![6006]);
    assert_eq!(
        code(json!({"type": "set_activity_list", "party": "IND", "activities": [1, 70000]})),
        vec![6006]
    );
    assert_eq!(
        code(
            json!({"type": "approve_methodology", "methodology": {"code": "IN AM001", "version": 1}})
        ),
        vec![2513]
    );
    assert_eq!(
        code(json!({"type": "renew_crediting_period", "project": "IN001", "until": "2045-13-01"})),
        vec![Code::PERIOD_INVALID.0]
    );
}

/// A PDD whose only variable part is `ex_ante`.
fn pdd_with_ex_ante(ex_ante: Value) -> Value {
    line(
        "jcm_submit_pdd",
        json!({"project": "IN001", "methodology": am001_json(), "ex_ante": ex_ante, "criteria": [],
               "crediting": {"start": "2026-01-01", "end": "2035-12-31"},
               "allocation": allocation_json(), "document": doc_json(1)}),
    )
}

fn ex_ante_of(v: Value) -> Params {
    match parse(v) {
        Command::Jcm(JcmCommand::SubmitPdd { ex_ante, .. }) => ex_ante,
        other => panic!("{}", other.name()),
    }
}

#[test]
fn decimals_stay_exact_and_keep_their_scale() {
    let p = ex_ante_of(pdd_with_ex_ante(
        json!({"A": "0.10", "B": "0.727", "C": 3, "D": "-2.50", "E": "79228162514264337593543950335", "F": "0.0000000000000000000000000001"}),
    ));
    assert_eq!(p["A"].to_string(), "0.10");
    assert_eq!(p["A"].scale(), 2);
    assert_eq!(p["B"], dec("0.727"));
    assert_eq!(p["C"], Decimal::from(3));
    assert_eq!(p["C"].scale(), 0);
    assert_eq!(p["D"].to_string(), "-2.50");
    assert_eq!(p["E"], Decimal::MAX);
    assert_eq!(p["F"].to_string(), "0.0000000000000000000000000001");
    // A line with the float in its text, so serde_json sees it exactly as a caller sends it.
    let mut s = fixed_salt;
    let raw = format!(
        r#"{{"id":"j","chain":"mechanism:JCM-IND-JPN","command":"jcm_submit_pdd","project":"IN001","methodology":{{"code":"IN_AM001","version":1}},"ex_ante":{{"EF_RE":1e-1}},"criteria":[],"crediting":{{"start":"2026-01-01","end":"2035-12-31"}},"allocation":{{"shares":[]}},"document":{{"sha256":"{HASH}","size":1}}}}"#
    );
    let r = tanso_wire::parse_line(&raw, &mut s)
        .unwrap()
        .command
        .unwrap_err();
    assert_eq!(r.codes(), vec![Code::MALFORMED_COMMAND]);
    assert!(r.failures[0].message.contains("ex_ante.EF_RE"), "{r}");
}

#[test]
fn anything_but_plain_decimal_text_or_an_integer_is_refused_naming_the_field() {
    for bad in [
        json!(0.1),
        json!(1e-1),
        json!(1.0),
        json!(18446744073709551616.0),
        json!("1e-1"),
        json!("1E5"),
        json!("+1"),
        json!("1_000"),
        json!(".5"),
        json!("5."),
        json!("-"),
        json!(""),
        json!(" 1"),
        json!("0x10"),
        json!("NaN"),
        json!("79228162514264337593543950336"),
        json!(true),
        json!(null),
        json!(["1"]),
        json!({"value": "1"}),
    ] {
        let r = rejection(pdd_with_ex_ante(json!({ "EF_RE": bad })));
        assert_eq!(r.codes(), vec![Code::MALFORMED_COMMAND], "{bad}");
        assert!(
            r.failures[0].message.contains("ex_ante.EF_RE"),
            "{bad}: {r}"
        );
    }
    // The same for a monitored value and a share's percent.
    let r = rejection(line(
        "jcm_report_monitoring",
        json!({"project": "IN001", "period_no": 1, "period": {"start": "2026-01-01", "end": "2026-12-31"},
               "values": {"EG_BESS": 150.5}, "document": doc_json(1)}),
    ));
    assert_eq!(r.codes(), vec![Code::MALFORMED_COMMAND]);
    assert!(r.failures[0].message.contains("values.EG_BESS"), "{r}");
    let r = rejection(line(
        "jcm_request_change",
        json!({"project": "IN001", "document": doc_json(1), "change": {"allocation": {"shares": [
            {"registry": "IND01", "account": 1, "percent": 50.5}]}}}),
    ));
    assert_eq!(r.codes(), vec![Code::MALFORMED_COMMAND]);
    assert!(r.failures[0].message.contains("percent"), "{r}");
    assert_eq!(
        rejection(pdd_with_ex_ante(json!(["EF_RE", "0.727"]))).codes(),
        vec![Code::MALFORMED_COMMAND]
    );
}

#[test]
fn malformed_codes_names_and_documents_are_2513() {
    assert_eq!(
        rejection(pdd_with_ex_ante(json!({"EF RE": "1"}))).codes(),
        vec![Code::MALFORMED_ID]
    );
    assert_eq!(
        rejection(pdd_with_ex_ante(json!({"": "1"}))).codes(),
        vec![Code::MALFORMED_ID]
    );
    assert_eq!(
        rejection(pdd_with_ex_ante(json!({ ("A".repeat(33)): "1" }))).codes(),
        vec![Code::MALFORMED_ID]
    );
    for code in ["IN AM001", "", "IN/AM001", &"X".repeat(33)] {
        assert_eq!(
            codes(
                "jcm_check_completeness",
                json!({"methodology": {"code": code, "version": 1}, "complete": true})
            ),
            vec![2513],
            "{code:?}"
        );
    }
    assert_eq!(
        codes(
            "jcm_validate",
            json!({"project": "IN001", "positive": true, "document": {"sha256": "abc", "size": 1}})
        ),
        vec![2513]
    );
    assert_eq!(
        codes(
            "jcm_validate",
            json!({"project": "IN001", "positive": true, "document": {"sha256": HASH}})
        ),
        vec![6006]
    );
    assert_eq!(
        codes(
            "jcm_validate",
            json!({"project": "IN001", "positive": "yes", "document": doc_json(1)})
        ),
        vec![6006]
    );
    assert_eq!(
        codes(
            "jcm_submit_pin",
            json!({"project": "IN001", "host": "IND", "activity": 1, "participants": ["a b"], "document": doc_json(1)})
        ),
        vec![2513]
    );
    assert_eq!(
        codes(
            "jcm_submit_pdd",
            json!({"project": "IN001", "methodology": am001_json(), "criteria": ["C 1"],
                   "crediting": {"start": "2026-01-01", "end": "2035-12-31"},
                   "allocation": allocation_json(), "document": doc_json(1)})
        ),
        vec![2513]
    );
    assert_eq!(
        codes(
            "jcm_submit_pdd",
            json!({"project": "IN001", "methodology": am001_json(), "criteria": [],
                   "crediting": {"start": "2026-01-01", "end": "2035-12-31"},
                   "allocation": {"shares": [{"registry": "IN01", "account": 1, "percent": "100"}]},
                   "document": doc_json(1)})
        ),
        vec![2513]
    );
    assert_eq!(
        codes("jcm_open_pdd_public_input", json!({"project": "IN 001"})),
        vec![2513]
    );
    assert_eq!(codes("jcm_mint", json!({})), vec![6006]);
}

#[test]
fn issue_from_decision_takes_a_citation_and_never_the_cited_entry() {
    let v = json!({"id": "i2", "chain": "IND01", "command": "issue_from_decision",
                   "citation": {"chain": "mechanism:JCM-IND-JPN", "seq": 41, "hash": HASH},
                   "cited": {"seq": 41, "hash": HASH, "events": []}});
    assert_eq!(
        parse(v),
        Command::IssueFromDecision {
            citation: Citation {
                chain: ChainId::parse("mechanism:JCM-IND-JPN").unwrap(),
                seq: 41,
                hash: doc(0).hash,
            },
            cited: None,
        }
    );
    let bad = |citation: Value| -> Vec<Code> {
        rejection(json!({"id": "i2", "chain": "IND01", "command": "issue_from_decision", "citation": citation}))
            .codes()
    };
    assert_eq!(
        bad(json!({"chain": "mechanism:JCM-IND-JPN", "seq": 41, "hash": "19c1cb…"})),
        vec![Code::MALFORMED_ID]
    );
    assert_eq!(
        bad(json!({"chain": "mechanism:JCM-IND-JPN", "hash": HASH})),
        vec![Code::MALFORMED_COMMAND]
    );
    assert_eq!(bad(json!("JC-2026-009")), vec![Code::MALFORMED_COMMAND]);
}

#[test]
fn jcm_events_render_with_the_command_shapes() {
    let by = actor("pp:surya");
    assert_eq!(
        event_json(&Event::Jcm(JcmEvent::Appointed {
            actor: actor("jc:ind-1"),
            role: Role::Member(party("IND")),
            by: by.clone(),
        })),
        json!({"event": "appointed", "appointee": "jc:ind-1", "role": "member", "party": "IND", "by": "pp:surya"})
    );
    assert_eq!(role_name(&Role::Tpe), "tpe");
    assert_eq!(
        jcm_event_json(&JcmEvent::Appointed {
            actor: actor("jc:sec"),
            role: Role::Secretariat,
            by: by.clone(),
        })["party"],
        Value::Null
    );
    assert_eq!(
        jcm_event_json(&JcmEvent::PddSubmitted {
            project: project(),
            methodology: am001(),
            ex_ante: params(&[("EF_RE", "0.10")]),
            criteria: vec!["C1".into()],
            crediting: period("2026-01-01", "2035-12-31"),
            allocation: allocation(),
            document: doc(7),
            by: by.clone(),
        }),
        json!({"event": "pdd_submitted", "project": "IN001", "methodology": am001_json(),
               "ex_ante": {"EF_RE": "0.10"}, "criteria": ["C1"],
               "crediting": {"start": "2026-01-01", "end": "2035-12-31"},
               "allocation": {"shares": [
                   {"registry": "IND01", "account": 1080, "percent": "33.34"},
                   {"registry": "JPN01", "account": 2001, "percent": "66"}], "remainder_to": 1},
               "document": doc_json(7), "by": "pp:surya"})
    );
    assert_eq!(
        jcm_event_json(&JcmEvent::PublicInputOpened {
            target: InputTarget::Methodology(am001()),
            at: Timestamp(1_767_225_600_000_000),
            closes_not_before: Timestamp(1_768_521_600_000_000),
            by: actor("jc:sec"),
        }),
        json!({"event": "public_input_opened", "methodology": am001_json(),
               "at": "2026-01-01T00:00:00.000000Z", "closes_not_before": "2026-01-16T00:00:00.000000Z",
               "by": "jc:sec"})
    );
    assert_eq!(
        jcm_event_json(&JcmEvent::MonitoringReported {
            project: project(),
            period_no: 1,
            period: period("2026-01-01", "2026-12-31"),
            inputs: params(&[("EF_RE", "0.727"), ("EG_BESS", "150.50")]),
            re: dec("109.41350"),
            pe: dec("0"),
            er: dec("109.41350"),
            credited: 109,
            document: doc(3),
            by: by.clone(),
        }),
        json!({"event": "monitoring_reported", "project": "IN001", "period_no": 1,
               "period": {"start": "2026-01-01", "end": "2026-12-31"},
               "inputs": {"EF_RE": "0.727", "EG_BESS": "150.50"},
               "re": "109.41350", "pe": "0", "er": "109.41350", "credited": 109,
               "document": doc_json(3), "by": "pp:surya"})
    );
    assert_eq!(
        jcm_event_json(&JcmEvent::MotionProposed {
            decision: DecisionId::parse("JC-2026-009").unwrap(),
            subject: Subject::DecideIssuance {
                project: project(),
                period_no: 1,
                quantity: 109
            },
            party: party("IND"),
            by: actor("jc:ind-1"),
        }),
        json!({"event": "motion_proposed", "decision": "JC-2026-009",
               "subject": {"type": "decide_issuance", "project": "IN001", "period_no": 1, "quantity": 109},
               "party": "IND", "by": "jc:ind-1"})
    );
    assert_eq!(
        jcm_event_json(&JcmEvent::ProjectFlagged {
            project: project(),
            code: Code::ACTIVITY_NOT_ELIGIBLE
        }),
        json!({"event": "project_flagged", "project": "IN001", "code": 8035, "name": "ACTIVITY_NOT_ELIGIBLE"})
    );
    assert_eq!(
        jcm_event_json(&JcmEvent::IssuanceNotified {
            decision: DecisionId::parse("JC-2026-009").unwrap(),
            project: project(),
            host: party("IND"),
            period_no: 1,
            foreign: ForeignIssuance::NotYetAuthorized,
            eligible: true,
            lines: vec![IssuanceLine {
                registry: RegistryId::parse("JPN01").unwrap(),
                account: AccountId(2001),
                period: period("2026-07-01", "2026-12-31"),
                quantity: 55,
                unit_start: 1,
            }],
            by: actor("jc:sec"),
        }),
        json!({"event": "issuance_notified", "decision": "JC-2026-009", "project": "IN001",
               "host": "IND", "period_no": 1, "foreign": "not_yet_authorized",
               "article6_eligible": true,
               "lines": [{"registry": "JPN01", "account": 2001,
                          "period": {"start": "2026-07-01", "end": "2026-12-31"},
                          "quantity": 55, "unit_start": 1}],
               "by": "jc:sec"})
    );
    assert_eq!(
        event_json(&Event::ProjectHostRecorded {
            project: project(),
            host: party("IND"),
            foreign: ForeignIssuance::Unrestricted,
            eligible: false,
        }),
        json!({"event": "project_host_recorded", "project": "IN001", "host": "IND", "foreign": "unrestricted",
               "article6_eligible": false})
    );
}

#[test]
fn every_jcm_event_has_its_name() {
    let by = actor("x");
    let d = DecisionId::parse("JC-1").unwrap();
    let events = [
        (
            JcmEvent::MethodologySubmitted {
                methodology: am001(),
                spec_hash: [1; 32],
                document: doc(1),
                by: by.clone(),
            },
            "methodology_submitted",
        ),
        (
            JcmEvent::CompletenessChecked {
                methodology: am001(),
                complete: true,
                by: by.clone(),
            },
            "completeness_checked",
        ),
        (
            JcmEvent::PublicInputClosed {
                target: InputTarget::Project(project()),
                by: by.clone(),
            },
            "public_input_closed",
        ),
        (
            JcmEvent::PinSubmitted {
                project: project(),
                host: party("IND"),
                activity: 1,
                participants: vec![by.clone()],
                document: doc(1),
                by: by.clone(),
            },
            "pin_submitted",
        ),
        (
            JcmEvent::Validated {
                project: project(),
                positive: false,
                document: doc(1),
                by: by.clone(),
            },
            "validated",
        ),
        (
            JcmEvent::RegistrationRequested {
                project: project(),
                document: doc(1),
                by: by.clone(),
            },
            "registration_requested",
        ),
        (
            JcmEvent::RegistrationRequestWithdrawn {
                project: project(),
                by: by.clone(),
            },
            "registration_request_withdrawn",
        ),
        (
            JcmEvent::ChangeRequested {
                project: project(),
                change: Change {
                    allocation: None,
                    ex_ante: params(&[("EF_RE", "0.5")]),
                },
                document: doc(1),
                by: by.clone(),
            },
            "change_requested",
        ),
        (
            JcmEvent::RenewalRequested {
                project: project(),
                until: date("2045-12-31"),
                document: doc(1),
                by: by.clone(),
            },
            "renewal_requested",
        ),
        (
            JcmEvent::ProjectWithdrawn {
                project: project(),
                document: doc(1),
                by: by.clone(),
            },
            "project_withdrawn",
        ),
        (
            JcmEvent::Verified {
                project: project(),
                period_no: 1,
                amount: 5,
                document: doc(1),
                by: by.clone(),
            },
            "verified",
        ),
        (
            JcmEvent::IssuanceRequested {
                project: project(),
                period_no: 1,
                quantity: 5,
                document: doc(1),
                by: by.clone(),
            },
            "issuance_requested",
        ),
        (
            JcmEvent::IssuanceRequestWithdrawn {
                project: project(),
                period_no: 1,
                by: by.clone(),
            },
            "issuance_request_withdrawn",
        ),
        (
            JcmEvent::MotionConcurred {
                decision: d.clone(),
                party: party("JPN"),
                by: by.clone(),
            },
            "motion_concurred",
        ),
        (
            JcmEvent::MotionRefused {
                decision: d.clone(),
                party: party("JPN"),
                by: by.clone(),
            },
            "motion_refused",
        ),
        (
            JcmEvent::DecisionAdopted { decision: d },
            "decision_adopted",
        ),
    ];
    for (e, name) in events {
        let v = event_json(&Event::Jcm(e));
        assert_eq!(v["event"], name, "{v}");
        if name != "decision_adopted" {
            assert_eq!(v["by"], "x", "{v}");
        }
    }
    let v = jcm_event_json(&JcmEvent::ChangeRequested {
        project: project(),
        change: Change {
            allocation: None,
            ex_ante: params(&[("EF_RE", "0.5")]),
        },
        document: doc(1),
        by: by.clone(),
    });
    assert_eq!(
        v["change"],
        json!({"allocation": null, "ex_ante": {"EF_RE": "0.5"}})
    );
    let v = jcm_event_json(&JcmEvent::MethodologySubmitted {
        methodology: am001(),
        spec_hash: [1; 32],
        document: doc(1),
        by,
    });
    assert_eq!(v["spec_sha256"], hex::encode([1u8; 32]));
}
