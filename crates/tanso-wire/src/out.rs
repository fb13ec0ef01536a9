//! Results and events as JSON: `snake_case` fields, RFC 3339 UTC times, hashes in hex, one
//! error envelope carrying the catalogue codes.

use crate::*;
use serde_json::json;
use tanso_core::jcm::methodology::Params;
use tanso_core::jcm::{
    Allocation, DocRef, InputTarget, IssuanceLine, JcmEvent, JcmPolicy, MethodologyRef, Subject,
};

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
        Event::ProjectHostRecorded {
            project,
            host,
            foreign,
            eligible,
        } => json!({
            "event": "project_host_recorded", "project": project.as_str(), "host": host.as_str(),
            "foreign": foreign_issuance_name(*foreign), "article6_eligible": eligible}),
        Event::A6(e) => crate::a6::a6_event_json(e),
        Event::Ccts(e) => crate::ccts::ccts_event_json(e),
        Event::Surrendered {
            from,
            to,
            ranges,
            entity,
            year,
        } => {
            json!({"event": "surrendered", "from": from.0, "to": to.0, "ranges": ranges_json(ranges),
            "entity": entity.as_str(), "year": year})
        }
        Event::CertificatesExpired { from, to, ranges } => json!({"event": "certificates_expired",
            "from": from.0, "to": to.0, "ranges": ranges_json(ranges)}),
        Event::CertificateValiditySet { years } => {
            json!({"event": "certificate_validity_set", "years": years})
        }
        Event::AuthorizationApplied {
            authorization,
            ca,
            purposes,
            parties,
        } => json!({
            "event": "authorization_applied", "party": authorization.party.as_str(),
            "authorization": authorization.authorization.as_str(), "version": authorization.version,
            "ca": ca.to_string(), "purposes": purposes.aef(),
            "parties": parties.iter().map(|p| p.as_str()).collect::<Vec<_>>()}),
        Event::UseYearRecorded { ranges, year } => json!({
            "event": "use_year_recorded", "ranges": ranges_json(ranges), "year": year}),
        Event::Jcm(e) => jcm_event_json(e),
    }
}

pub fn period_json(p: &MitigationPeriod) -> Value {
    json!({"start": p.start().to_string(), "end": p.end().to_string()})
}

pub fn methodology_json(m: &MethodologyRef) -> Value {
    json!({"code": m.code, "version": m.version})
}

pub fn document_json(d: &DocRef) -> Value {
    json!({"sha256": hex::encode(d.hash), "size": d.size})
}

/// Decimals as their exact text (`"0.10"` keeps its scale), never as JSON numbers.
pub fn params_json(p: &Params) -> Value {
    Value::Object(
        p.iter()
            .map(|(k, v)| (k.clone(), json!(v.to_string())))
            .collect(),
    )
}

pub fn allocation_json(a: &Allocation) -> Value {
    json!({
        "shares": a.shares.iter().map(|s| json!({
            "registry": s.registry.as_str(), "account": s.account.0, "percent": s.percent.to_string(),
        })).collect::<Vec<_>>(),
        "remainder_to": a.remainder_to,
    })
}

/// A public-input target, as the fields `jcm_close_public_input` takes: `methodology` or
/// `project`.
fn target_json(t: &InputTarget) -> Value {
    match t {
        InputTarget::Methodology(m) => json!({"methodology": methodology_json(m)}),
        InputTarget::Project(p) => json!({"project": p.as_str()}),
    }
}

/// Every field of a JCM policy, by the names `set_policy` takes.
pub fn policy_json(p: &JcmPolicy) -> Value {
    json!({
        "rounding": rounding_name(p.rounding),
        "methodology_public_input_days": p.methodology_public_input_days,
        "pdd_public_input_days": p.pdd_public_input_days,
        "outside_list_registration": outside_list_registration_name(p.outside_list_registration),
        "outside_list_authorization": outside_list_authorization_name(p.outside_list_authorization),
        "straddle": straddle_name(p.straddle),
        "foreign_issuance": foreign_issuance_name(p.foreign_issuance),
        "remainder": remainder_name(p.remainder),
    })
}

/// A decision subject as `jcm_propose` takes it: `{"type": "<name>", ...fields}`.
pub fn subject_json(s: &Subject) -> Value {
    let mut v = json!({"type": s.name()});
    merge(
        &mut v,
        match s {
            Subject::ApproveMethodology(m) | Subject::RejectMethodology(m) => {
                json!({"methodology": methodology_json(m)})
            }
            Subject::DesignateTpe(a) => json!({"tpe": a.as_str()}),
            Subject::AppointMember { actor, party } => {
                json!({"member": actor.as_str(), "party": party.as_str()})
            }
            Subject::SetActivityList { party, activities } => {
                json!({"party": party.as_str(), "activities": activities})
            }
            Subject::SetPolicy(p) => json!({"policy": policy_json(p)}),
            Subject::RegisterProject(p)
            | Subject::RejectRegistration(p)
            | Subject::ApproveChange(p) => json!({"project": p.as_str()}),
            Subject::RenewCreditingPeriod { project, until } => {
                json!({"project": project.as_str(), "until": until.to_string()})
            }
            Subject::DecideIssuance {
                project,
                period_no,
                quantity,
            } => json!({"project": project.as_str(), "period_no": period_no, "quantity": quantity}),
            Subject::RejectIssuance { project, period_no } => {
                json!({"project": project.as_str(), "period_no": period_no})
            }
        },
    );
    v
}

pub fn issuance_line_json(l: &IssuanceLine) -> Value {
    json!({
        "registry": l.registry.as_str(), "account": l.account.0, "period": period_json(&l.period),
        "quantity": l.quantity, "unit_start": l.unit_start,
    })
}

/// A JCM event: `{"event": "<name>", ...fields}`, with the field shapes of the commands and
/// `by`, the actor who took the step.
pub fn jcm_event_json(e: &JcmEvent) -> Value {
    match e {
        JcmEvent::Appointed { actor, role, by } => json!({
            "event": "appointed", "appointee": actor.as_str(), "role": role_name(role),
            "party": role_party(role).map(|p| p.as_str().to_owned()), "by": by.as_str()}),
        JcmEvent::MethodologySubmitted {
            methodology,
            spec_hash,
            document,
            by,
        } => json!({
            "event": "methodology_submitted", "methodology": methodology_json(methodology),
            "spec_sha256": hex::encode(spec_hash), "document": document_json(document),
            "by": by.as_str()}),
        JcmEvent::CompletenessChecked {
            methodology,
            complete,
            by,
        } => json!({
            "event": "completeness_checked", "methodology": methodology_json(methodology),
            "complete": complete, "by": by.as_str()}),
        JcmEvent::PublicInputOpened {
            target,
            at,
            closes_not_before,
            by,
        } => {
            let mut v = json!({"event": "public_input_opened", "at": at.to_string(),
                "closes_not_before": closes_not_before.to_string(), "by": by.as_str()});
            merge(&mut v, target_json(target));
            v
        }
        JcmEvent::PublicInputClosed { target, by } => {
            let mut v = json!({"event": "public_input_closed", "by": by.as_str()});
            merge(&mut v, target_json(target));
            v
        }
        JcmEvent::PinSubmitted {
            project,
            host,
            activity,
            participants,
            document,
            by,
        } => json!({
            "event": "pin_submitted", "project": project.as_str(), "host": host.as_str(),
            "activity": activity,
            "participants": participants.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            "document": document_json(document), "by": by.as_str()}),
        JcmEvent::PddSubmitted {
            project,
            methodology,
            ex_ante,
            criteria,
            crediting,
            allocation,
            document,
            by,
        } => json!({
            "event": "pdd_submitted", "project": project.as_str(),
            "methodology": methodology_json(methodology), "ex_ante": params_json(ex_ante),
            "criteria": criteria, "crediting": period_json(crediting),
            "allocation": allocation_json(allocation), "document": document_json(document),
            "by": by.as_str()}),
        JcmEvent::Validated {
            project,
            positive,
            document,
            by,
        } => json!({
            "event": "validated", "project": project.as_str(), "positive": positive,
            "document": document_json(document), "by": by.as_str()}),
        JcmEvent::RegistrationRequested {
            project,
            document,
            by,
        } => json!({
            "event": "registration_requested", "project": project.as_str(),
            "document": document_json(document), "by": by.as_str()}),
        JcmEvent::RegistrationRequestWithdrawn { project, by } => json!({
            "event": "registration_request_withdrawn", "project": project.as_str(), "by": by.as_str()}),
        JcmEvent::ChangeRequested {
            project,
            change,
            document,
            by,
        } => json!({
            "event": "change_requested", "project": project.as_str(),
            "change": {
                "allocation": change.allocation.as_ref().map(allocation_json),
                "ex_ante": params_json(&change.ex_ante),
            },
            "document": document_json(document), "by": by.as_str()}),
        JcmEvent::RenewalRequested {
            project,
            until,
            document,
            by,
        } => json!({
            "event": "renewal_requested", "project": project.as_str(), "until": until.to_string(),
            "document": document_json(document), "by": by.as_str()}),
        JcmEvent::ProjectWithdrawn {
            project,
            document,
            by,
        } => json!({
            "event": "project_withdrawn", "project": project.as_str(),
            "document": document_json(document), "by": by.as_str()}),
        JcmEvent::MonitoringReported {
            project,
            period_no,
            period,
            inputs,
            re,
            pe,
            er,
            credited,
            document,
            by,
        } => json!({
            "event": "monitoring_reported", "project": project.as_str(), "period_no": period_no,
            "period": period_json(period), "inputs": params_json(inputs),
            "re": re.to_string(), "pe": pe.to_string(), "er": er.to_string(),
            "credited": credited, "document": document_json(document), "by": by.as_str()}),
        JcmEvent::Verified {
            project,
            period_no,
            amount,
            document,
            by,
        } => json!({
            "event": "verified", "project": project.as_str(), "period_no": period_no,
            "amount": amount, "document": document_json(document), "by": by.as_str()}),
        JcmEvent::IssuanceRequested {
            project,
            period_no,
            quantity,
            document,
            by,
        } => json!({
            "event": "issuance_requested", "project": project.as_str(), "period_no": period_no,
            "quantity": quantity, "document": document_json(document), "by": by.as_str()}),
        JcmEvent::IssuanceRequestWithdrawn {
            project,
            period_no,
            by,
        } => json!({
            "event": "issuance_request_withdrawn", "project": project.as_str(),
            "period_no": period_no, "by": by.as_str()}),
        JcmEvent::MotionProposed {
            decision,
            subject,
            party,
            by,
        } => json!({
            "event": "motion_proposed", "decision": decision.as_str(),
            "subject": subject_json(subject), "party": party.as_str(), "by": by.as_str()}),
        JcmEvent::MotionConcurred {
            decision,
            party,
            by,
        } => json!({
            "event": "motion_concurred", "decision": decision.as_str(), "party": party.as_str(),
            "by": by.as_str()}),
        JcmEvent::MotionRefused {
            decision,
            party,
            by,
        } => json!({
            "event": "motion_refused", "decision": decision.as_str(), "party": party.as_str(),
            "by": by.as_str()}),
        JcmEvent::DecisionAdopted { decision } => json!({
            "event": "decision_adopted", "decision": decision.as_str()}),
        JcmEvent::ProjectFlagged { project, code } => json!({
            "event": "project_flagged", "project": project.as_str(), "code": code.0,
            "name": code.name()}),
        JcmEvent::IssuanceNotified {
            decision,
            project,
            host,
            period_no,
            foreign,
            eligible,
            lines,
            by,
        } => json!({
            "event": "issuance_notified", "decision": decision.as_str(),
            "project": project.as_str(), "host": host.as_str(), "period_no": period_no,
            "foreign": foreign_issuance_name(*foreign), "article6_eligible": eligible,
            "lines": lines.iter().map(issuance_line_json).collect::<Vec<_>>(),
            "by": by.as_str()}),
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
