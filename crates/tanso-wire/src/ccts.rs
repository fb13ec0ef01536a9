//! India's CCTS on the wire: the administrator chain's commands (`ccts_*`) and events.

use super::*;
use serde_json::json;
use tanso_core::ccts::compliance::{
    CctsPolicy, CompensationBase, IssuanceRounding, ObligationRounding, Outcome,
};
use tanso_core::ccts::*;

const ISSUANCE: &[(&str, IssuanceRounding)] = &[
    ("floor", IssuanceRounding::Floor),
    ("half_up", IssuanceRounding::HalfUp),
];
const OBLIGATION: &[(&str, ObligationRounding)] = &[
    ("ceil", ObligationRounding::Ceil),
    ("half_up", ObligationRounding::HalfUp),
];
const BASES: &[(&str, CompensationBase)] = &[
    (
        "exact_shortfall_less_surrendered",
        CompensationBase::ExactShortfallLessSurrendered,
    ),
    (
        "rounded_obligation_less_surrendered",
        CompensationBase::RoundedObligationLessSurrendered,
    ),
];

fn entity(o: &Obj) -> R<ProjectId> {
    o.id("entity", ProjectId::parse)
}

fn policy(o: &Obj) -> R<CctsPolicy> {
    let d = CctsPolicy::default();
    let u32_or = |k: &str, v: u32| -> R<u32> {
        match o.opt(k) {
            None => Ok(v),
            Some(_) => o.u32(k),
        }
    };
    Ok(CctsPolicy {
        issuance: match o.opt("issuance") {
            None => d.issuance,
            Some(_) => enum_of(o, "issuance", ISSUANCE)?,
        },
        obligation: match o.opt("obligation") {
            None => d.obligation,
            Some(_) => enum_of(o, "obligation", OBLIGATION)?,
        },
        compensation_base: match o.opt("compensation_base") {
            None => d.compensation_base,
            Some(_) => enum_of(o, "compensation_base", BASES)?,
        },
        compensation_multiple: u32_or("compensation_multiple", d.compensation_multiple)?,
        surrender_deadline_days: u32_or("surrender_deadline_days", d.surrender_deadline_days)?,
        compensation_due_days: u32_or("compensation_due_days", d.compensation_due_days)?,
        validity_years: match o.opt("validity_years") {
            None => d.validity_years,
            Some(_) => o.u16("validity_years")?,
        },
    })
}

fn row(v: &Value) -> R<ScheduleRow> {
    let o = Obj(v.as_object().ok_or_else(|| malformed("rows are objects"))?);
    let targets = o
        .obj("targets")?
        .0
        .iter()
        .map(|(y, v)| {
            let year: u16 = y.parse().map_err(|_| {
                Rejection::one(Code::VINTAGE_INVALID, format!("targets: year {y:?}"))
            })?;
            Ok((year, decimal(v, &format!("targets.{y}"))?))
        })
        .collect::<R<Vec<_>>>()?;
    let sector = o.str("sector")?;
    if !tanso_core::article6::authority::valid_label(sector) {
        return Err(malformed("sector must be 1–64 printable characters"));
    }
    Ok(ScheduleRow {
        entity: entity(&o)?,
        sector: sector.to_owned(),
        baseline_output: o.decimal("baseline_output")?,
        baseline_gei: o.decimal("baseline_gei")?,
        targets,
    })
}

pub(crate) fn ccts_command(p: &Ctx, name: &str, o: &Obj) -> R<CctsCommand> {
    Ok(match name {
        "ccts_appoint" => CctsCommand::Appoint {
            actor: o.id("appointee", Actor::parse)?,
            role: match o.str("role")? {
                "administrator" => CctsRole::Administrator,
                "verifier" => CctsRole::Verifier,
                "cpcb" => CctsRole::Cpcb,
                "entity" => CctsRole::Entity(entity(o)?),
                r => return Err(malformed(format!("unknown role {r:?}"))),
            },
        },
        "ccts_set_policy" => CctsCommand::SetPolicy(policy(&o.obj("policy")?)?),
        "ccts_import_schedule" => {
            CctsCommand::ImportSchedule(o.array("rows")?.iter().map(row).collect::<R<_>>()?)
        }
        "ccts_register_account" => CctsCommand::RegisterAccount {
            entity: entity(o)?,
            registry: o.id("registry", RegistryId::parse)?,
            account: AccountId(o.u64("account")?),
        },
        "ccts_submit_performance" => CctsCommand::SubmitPerformance {
            entity: entity(o)?,
            year: o.u16("year")?,
            output: o.decimal("output")?,
            emissions: o.decimal("emissions")?,
            document: o.document("document")?,
        },
        "ccts_verify_performance" => CctsCommand::VerifyPerformance {
            entity: entity(o)?,
            year: o.u16("year")?,
            document: o.document("document")?,
        },
        "ccts_evaluate" => CctsCommand::Evaluate {
            entity: entity(o)?,
            year: o.u16("year")?,
        },
        "ccts_record_surrender" => CctsCommand::RecordSurrender {
            citation: p.citation(&o.obj("citation")?)?,
            cited: None,
        },
        "ccts_impose_compensation" => CctsCommand::ImposeCompensation {
            entity: entity(o)?,
            year: o.u16("year")?,
            average_price: o.decimal("average_price")?,
        },
        other => return Err(malformed(format!("unknown command {other:?}"))),
    })
}

fn name_of<T: PartialEq + Copy>(table: &[(&'static str, T)], v: T) -> &'static str {
    table.iter().find(|(_, x)| *x == v).map_or("?", |(n, _)| n)
}

pub fn ccts_policy_json(p: &CctsPolicy) -> Value {
    json!({"issuance": name_of(ISSUANCE, p.issuance), "obligation": name_of(OBLIGATION, p.obligation),
        "compensation_base": name_of(BASES, p.compensation_base),
        "compensation_multiple": p.compensation_multiple,
        "surrender_deadline_days": p.surrender_deadline_days,
        "compensation_due_days": p.compensation_due_days, "validity_years": p.validity_years})
}

pub fn outcome_json(o: &Outcome) -> Value {
    match o {
        Outcome::Surplus {
            exact,
            certificates,
        } => json!({"result": "surplus", "exact": exact.to_string(), "certificates": certificates}),
        Outcome::Balanced => json!({"result": "balanced"}),
        Outcome::Shortfall { exact, obligation } => {
            json!({"result": "shortfall", "exact": exact.to_string(), "obligation": obligation})
        }
    }
}

fn role_json(r: &CctsRole) -> Value {
    match r {
        CctsRole::Administrator => json!({"role": "administrator"}),
        CctsRole::Verifier => json!({"role": "verifier"}),
        CctsRole::Cpcb => json!({"role": "cpcb"}),
        CctsRole::Entity(e) => json!({"role": "entity", "entity": e.as_str()}),
    }
}

pub fn ccts_event_json(e: &CctsEvent) -> Value {
    match e {
        CctsEvent::Appointed { actor, role, by } => {
            let mut v = role_json(role);
            v["event"] = json!("ccts_appointed");
            v["appointee"] = json!(actor.as_str());
            v["by"] = json!(by.as_str());
            v
        }
        CctsEvent::PolicySet(p) => {
            json!({"event": "ccts_policy_set", "policy": ccts_policy_json(p)})
        }
        CctsEvent::ScheduleImported(rows) => json!({"event": "schedule_imported",
            "rows": rows.iter().map(|r| json!({"entity": r.entity.as_str(), "sector": r.sector,
                "baseline_output": r.baseline_output.to_string(), "baseline_gei": r.baseline_gei.to_string(),
                "targets": r.targets.iter().map(|(y, t)| (y.to_string(), json!(t.to_string()))).collect::<serde_json::Map<_, _>>()})).collect::<Vec<_>>()}),
        CctsEvent::AccountRegistered {
            entity,
            registry,
            account,
        } => json!({"event": "entity_account_registered", "entity": entity.as_str(),
            "registry": registry.as_str(), "account": account.0}),
        CctsEvent::PerformanceSubmitted {
            entity,
            year,
            output,
            emissions,
            document,
            by,
        } => json!({"event": "performance_submitted", "entity": entity.as_str(), "year": year,
            "output": output.to_string(), "emissions": emissions.to_string(),
            "document": out::document_json(document), "by": by.as_str()}),
        CctsEvent::PerformanceVerified {
            entity,
            year,
            document,
            by,
        } => json!({"event": "performance_verified", "entity": entity.as_str(), "year": year,
            "document": out::document_json(document), "by": by.as_str()}),
        CctsEvent::Evaluated {
            entity,
            year,
            achieved,
            target,
            outcome,
            registry,
            account,
            deadline,
            by,
        } => json!({"event": "evaluated", "entity": entity.as_str(), "year": year,
            "achieved_gei": achieved.to_string(), "target_gei": target.to_string(),
            "outcome": outcome_json(outcome), "registry": registry.as_str(), "account": account.0,
            "deadline": deadline.to_string(), "by": by.as_str()}),
        CctsEvent::SurrenderRecorded {
            entity,
            year,
            quantity,
            citation,
        } => json!({"event": "surrender_recorded", "entity": entity.as_str(), "year": year,
            "quantity": quantity, "citation": out::citation_json(citation)}),
        CctsEvent::CompensationImposed {
            entity,
            year,
            outstanding,
            average_price,
            amount,
            due,
            by,
        } => json!({"event": "compensation_imposed", "entity": entity.as_str(), "year": year,
            "outstanding": outstanding, "average_price": average_price.to_string(),
            "amount_inr": amount.to_string(), "due": due.to_string(), "by": by.as_str()}),
    }
}
