//! Results and events as JSON: `snake_case` fields, RFC 3339 UTC times, hashes in hex, one
//! error envelope carrying the catalogue codes.

use crate::*;
use serde_json::json;

pub fn rejection_json(id: Option<&str>, r: &Rejection, replayed: bool, dry_run: bool) -> Value {
    json!({
        "id": id,
        "status": "rejected",
        "replayed": replayed,
        "dry_run": dry_run,
        "permanent": r.is_permanent(),
        "codes": r.failures.iter().map(|f| f.code.0).collect::<Vec<_>>(),
        "errors": r.failures.iter().map(|f| json!({
            "code": f.code.0,
            "name": f.code.name(),
            "message": f.message,
        })).collect::<Vec<_>>(),
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "the fields of an accepted answer, as the engine hands them over"
)]
pub fn accepted_json(
    id: &str,
    chain: &ChainId,
    seq: u64,
    hash: &[u8; 32],
    time: Timestamp,
    events: &[Event],
    replayed: bool,
    dry_run: bool,
) -> Value {
    let mut v = json!({
        "id": id,
        "status": if dry_run { "would_accept" } else { "accepted" },
        "replayed": replayed,
        "dry_run": dry_run,
        "chain": chain.to_string(),
        "seq": seq,
        "time": time.to_string(),
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
    });
    if !dry_run {
        v["hash"] = json!(hex::encode(hash));
    }
    v
}

pub fn ranges_json(rs: &[IssuedRange]) -> Value {
    Value::Array(
        rs.iter()
            .map(|r| {
                json!({"issuing": r.issuing.as_str(), "start": r.range.start(), "end": r.range.end(), "quantity": r.range.len()})
            })
            .collect(),
    )
}

pub fn citation_json(c: &Citation) -> Value {
    json!({"chain": c.chain.to_string(), "seq": c.seq, "hash": hex::encode(c.hash)})
}

fn personal(p: &Option<PersonalRef>) -> Value {
    p.map_or(Value::Null, |r| json!(hex::encode(r.0)))
}

pub fn labels_json(l: &Labels) -> Value {
    json!({
        "authorization": l.authorization.as_ref().map(|a| json!({
            "party": a.party.as_str(), "id": a.authorization.as_str(), "version": a.version
        })),
        "first_transferred": l.first_transferred,
        "adjustment": adjustment_name(l.adjustment),
    })
}

fn asset_json(a: &HeldAsset) -> Value {
    match a {
        HeldAsset::Units(rs) => json!({"ranges": ranges_json(rs)}),
        HeldAsset::Cash { currency, amount } => {
            json!({"cash": {"currency": currency.as_str(), "amount": amount.0}})
        }
    }
}

pub fn event_json(e: &Event) -> Value {
    match e {
        Event::RegistryOpened { registry, straddle } => json!({
            "event": "registry_opened", "registry": registry.as_str(), "straddle_policy": straddle_name(*straddle)}),
        Event::StraddlePolicySet(p) => {
            json!({"event": "straddle_policy_set", "policy": straddle_name(*p)})
        }
        Event::MechanismOpened { mechanism, parties } => json!({
            "event": "mechanism_opened", "mechanism": mechanism.as_str(),
            "parties": parties.iter().map(|p| p.as_str()).collect::<Vec<_>>()}),
        Event::PartyAuthorityOpened { party } => {
            json!({"event": "party_authority_opened", "party": party.as_str()})
        }
        Event::DecisionRecorded {
            decision,
            kind,
            document,
        } => json!({
            "event": "decision_recorded", "decision": decision.as_str(), "kind": kind.as_str(),
            "document_sha256": document.map(hex::encode)}),
        Event::UnitKindDefined {
            code,
            has_project,
            vintage_rule,
        } => json!({
            "event": "unit_kind_defined", "code": code.as_str(), "has_project": has_project,
            "vintage_rule": vintage_rule_name(*vintage_rule)}),
        Event::AccountKindDefined { code, class } => json!({
            "event": "account_kind_defined", "code": code.as_str(), "class": class_name(*class)}),
        Event::CurrencyDefined { code, minor_units } => json!({
            "event": "currency_defined", "code": code.as_str(), "minor_units": minor_units}),
        Event::HolderRegistered { holder, kind, name } => json!({
            "event": "holder_registered", "holder": holder.0, "kind": kind.as_str(), "name_ref": hex::encode(name.0)}),
        Event::AccountOpened {
            account,
            holder,
            kind,
        } => json!({
            "event": "account_opened", "account": account.0, "holder": holder.0, "kind": kind.as_str()}),
        Event::AccountStatusSet { account, status } => json!({
            "event": "account_status_set", "account": account.0, "status": status_name(*status)}),
        Event::Issued {
            account,
            attributes,
            range,
            unit_start,
            citation,
            business_key,
        } => json!({
            "event": "issued", "account": account.0,
            "issuing": attributes.issuing.as_str(), "start": range.start(), "end": range.end(),
            "quantity": range.len(), "unit_start": unit_start,
            "kind": attributes.kind.as_str(), "project": attributes.project.as_ref().map(|p| p.as_str()),
            "vintage": attributes.vintage.year(),
            "period": {"start": attributes.period.start().to_string(), "end": attributes.period.end().to_string()},
            "citation": citation.as_ref().map(citation_json),
            "business_key": business_key.as_ref().map(|k| k.as_str())}),
        Event::Transferred { from, to, ranges } => json!({
            "event": "transferred", "from": from.0, "to": to.0, "ranges": ranges_json(ranges)}),
        Event::Retired {
            from,
            to,
            ranges,
            purpose,
            beneficiary,
            beneficiary_name,
            note,
        } => json!({
            "event": "retired", "from": from.0, "to": to.0, "ranges": ranges_json(ranges),
            "purpose": purpose.as_str(), "beneficiary_holder": beneficiary.map(|h| h.0),
            "beneficiary_name_ref": personal(beneficiary_name), "note_ref": personal(note)}),
        Event::Cancelled {
            from,
            to,
            ranges,
            kind,
            note,
        } => json!({
            "event": "cancelled", "from": from.0, "to": to.0, "ranges": ranges_json(ranges),
            "kind": cancel_kind_name(*kind), "note_ref": personal(note)}),
        Event::LabelsSet {
            ranges,
            labels,
            citation,
        } => json!({
            "event": "labels_set", "ranges": ranges_json(ranges), "labels": labels_json(labels),
            "citation": citation.as_ref().map(citation_json)}),
        Event::HoldPlaced {
            hold,
            kind,
            account,
            asset,
            expires_at,
        } => {
            let mut v = json!({"event": "hold_placed", "hold": hold.as_str(), "kind": hold_kind_name(*kind),
                "account": account.0, "expires_at": expires_at.map(|t| t.to_string())});
            merge(&mut v, asset_json(asset));
            v
        }
        Event::HoldReleased { hold, asset, cause } => {
            let mut v = json!({"event": "hold_released", "hold": hold.as_str(), "cause": match cause {
                ReleaseCause::Request => json!("request"),
                ReleaseCause::Expiry => json!("expiry"),
                ReleaseCause::Decision(c) => json!({"decision": citation_json(c)}),
            }});
            merge(&mut v, asset_json(asset));
            v
        }
        Event::HoldPosted { hold, to, asset } => {
            let mut v = json!({"event": "hold_posted", "hold": hold.as_str(), "to": to.0});
            merge(&mut v, asset_json(asset));
            v
        }
        Event::CashDeposited {
            account,
            currency,
            amount,
        } => json!({
            "event": "cash_deposited", "account": account.0, "currency": currency.as_str(), "amount": amount.0}),
        Event::CashWithdrawn {
            account,
            currency,
            amount,
        } => json!({
            "event": "cash_withdrawn", "account": account.0, "currency": currency.as_str(), "amount": amount.0}),
        Event::CashTransferred {
            from,
            to,
            currency,
            amount,
        } => json!({
            "event": "cash_transferred", "from": from.0, "to": to.0, "currency": currency.as_str(), "amount": amount.0}),
        Event::Corrected { seq, hash, note } => json!({
            "event": "corrected", "seq": seq, "hash": hex::encode(hash), "note_ref": personal(note)}),
        Event::IssuanceVoided { account, ranges } => json!({
            "event": "issuance_voided", "account": account.0, "ranges": ranges_json(ranges)}),
        Event::TransferProposed {
            proposal,
            decide_by,
        } => {
            let mut v = proposal_json(proposal);
            merge(
                &mut v,
                json!({"event": "transfer_proposed", "decide_by": decide_by.to_string()}),
            );
            v
        }
        Event::TransferDecided(d) => {
            let mut v = decision_json(d);
            merge(&mut v, json!({"event": "transfer_decided"}));
            v
        }
        Event::TransferSettled { transfer_id } => json!({
            "event": "transfer_settled", "transfer_id": transfer_id.as_str()}),
        Event::InboundAccepted { proposal } => {
            let mut v = proposal_json(proposal);
            merge(&mut v, json!({"event": "inbound_accepted"}));
            v
        }
        Event::InboundRejected {
            transfer_id,
            from,
            propose_hash,
            codes,
        } => json!({
            "event": "inbound_rejected", "transfer_id": transfer_id.as_str(), "from": from.as_str(),
            "propose_hash": hex::encode(propose_hash), "codes": codes.iter().map(|c| c.0).collect::<Vec<_>>()}),
        Event::InboundCommitted {
            transfer_id,
            account,
            decision,
        } => json!({
            "event": "inbound_committed", "transfer_id": transfer_id.as_str(), "account": account.0,
            "decision": decision_json(decision)}),
        Event::InboundAborted {
            transfer_id,
            from,
            decision,
        } => json!({
            "event": "inbound_aborted", "transfer_id": transfer_id.as_str(), "from": from.as_str(),
            "decision": decision_json(decision)}),
        Event::LinkAlarm { transfer_id, code } => json!({
            "event": "link_alarm", "transfer_id": transfer_id.as_str(), "code": code.0, "name": code.name()}),
        Event::SuspenseAccountSet { account } => json!({
            "event": "suspense_account_set", "account": account.0}),
    }
}

pub fn proposal_json(p: &tanso_core::link::Proposal) -> Value {
    json!({
        "transfer_id": p.transfer_id.as_str(),
        "from_registry": p.from_registry.as_str(), "from_account": p.from_account.0,
        "to_registry": p.to_registry.as_str(), "to_account": p.to_account.0,
        "quantity": p.quantity, "created_at": p.created_at.to_string(),
        "propose_hash": hex::encode(p.hash()),
        "ranges": ranges_json(&p.ranges()),
    })
}

pub fn decision_json(d: &tanso_core::link::LinkDecision) -> Value {
    json!({
        "transfer_id": d.transfer_id.as_str(),
        "verdict": match d.verdict { tanso_core::link::Verdict::Commit => "commit", tanso_core::link::Verdict::Abort => "abort" },
        "status": d.status.code(), "status_name": d.status.name(),
        "decided_at": d.decided_at.to_string(),
    })
}

fn merge(v: &mut Value, extra: Value) {
    if let (Some(a), Value::Object(b)) = (v.as_object_mut(), extra) {
        a.extend(b);
    }
}
