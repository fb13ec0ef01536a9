//! Article 6.2 on the wire: a party authority chain's commands (`a6_*`) and events, and the
//! registry's `apply_authorization` and `use_towards_ndc`. Field shapes are shared between
//! commands and events, so an event's JSON reads like the command that made it.

use super::*;
use serde_json::json;
use std::collections::BTreeMap;
use tanso_core::article6::accounting::{AdjustmentStatus, CaMethod, Metric, Ndc, NdcKind};
use tanso_core::article6::authority::*;
use tanso_core::article6::itmo::CaId;

const NDC_KINDS: &[(&str, NdcKind)] = &[
    ("single_year", NdcKind::SingleYear),
    ("multi_year", NdcKind::MultiYear),
];
const METHODS: &[(&str, CaMethod)] = &[
    ("trajectory", CaMethod::Trajectory),
    ("averaging", CaMethod::Averaging),
    ("multi_year", CaMethod::MultiYear),
];
const METRICS: &[(&str, Metric)] = &[("GHG", Metric::Ghg), ("non-GHG", Metric::NonGhg)];
const FT_DEFS: &[(&str, FirstTransferDefinition)] = &[
    ("authorization", FirstTransferDefinition::Authorization),
    ("issuance", FirstTransferDefinition::Issuance),
    (
        "use_or_cancellation",
        FirstTransferDefinition::UseOrCancellation,
    ),
];
const STEPS: &[&str] = &["draft", "submit", "approve", "return_to_draft", "finalize"];

fn ca(o: &Obj, k: &str) -> R<CaId> {
    o.id(k, CaId::parse)
}

fn parties(o: &Obj, k: &str) -> R<Vec<PartyId>> {
    o.array(k)?
        .iter()
        .map(|v| {
            let s = v
                .as_str()
                .ok_or_else(|| malformed(format!("{k} must be party codes")))?;
            PartyId::parse(s).map_err(|c| Rejection::one(c, format!("{k}: {s:?}")))
        })
        .collect()
}

fn label(v: &Value, what: &str) -> R<String> {
    match v.as_str() {
        Some(s) if valid_label(s) => Ok(s.to_owned()),
        _ => Err(malformed(format!(
            "{what} must be 1–64 printable characters"
        ))),
    }
}

fn opt_doc(o: &Obj, k: &str) -> R<Option<DocRef>> {
    match o.opt(k) {
        None => Ok(None),
        Some(_) => o.document(k).map(Some),
    }
}

fn year_map(o: &Obj, k: &str) -> R<BTreeMap<u16, Decimal>> {
    let Some(v) = o.opt(k) else {
        return Ok(BTreeMap::new());
    };
    let m = v
        .as_object()
        .ok_or_else(|| malformed(format!("{k} must be an object of year → decimal")))?;
    m.iter()
        .map(|(y, v)| {
            let year: u16 = y
                .parse()
                .ok()
                .filter(|y| (1000..=9999).contains(y))
                .ok_or_else(|| Rejection::one(Code::VINTAGE_INVALID, format!("{k}: year {y:?}")))?;
            Ok((year, decimal(v, &format!("{k}.{y}"))?))
        })
        .collect()
}

fn ndc(o: &Obj) -> R<Ndc> {
    Ok(Ndc {
        kind: enum_of(o, "kind", NDC_KINDS)?,
        first_year: o.u16("first_year")?,
        last_year: o.u16("last_year")?,
        target_year: o.u16("target_year")?,
        method: enum_of(o, "method", METHODS)?,
        metric: enum_of(o, "metric", METRICS)?,
    })
}

fn purposes(o: &Obj) -> R<Purposes> {
    let mut p = Purposes {
        ndc: false,
        oimp: false,
    };
    for v in o.array("purposes")? {
        match v.as_str() {
            Some("NDC") => p.ndc = true,
            Some("OIMP") => p.oimp = true,
            _ => return Err(malformed("purposes are \"NDC\" and/or \"OIMP\"")),
        }
    }
    Ok(p)
}

pub(crate) fn a6_command(name: &str, o: &Obj) -> R<A6Command> {
    Ok(match name {
        "a6_register_approach" => A6Command::RegisterApproach {
            ca: ca(o, "ca")?,
            parties: parties(o, "parties")?,
            document: o.document("document")?,
        },
        "a6_set_ndc" => A6Command::SetNdc {
            ndc: ndc(&o.obj("ndc")?)?,
            time_zone_minutes: {
                let v = o.req("time_zone_minutes")?;
                v.as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| malformed("time_zone_minutes must be an integer"))?
            },
            trajectory: year_map(o, "trajectory")?,
        },
        "a6_record_initial_report" => A6Command::RecordInitialReport(InitialReport {
            ndc_quantified: match o.opt("ndc_quantified") {
                None | Some(Value::Null) => None,
                Some(v) => Some(decimal(v, "ndc_quantified")?),
            },
            participation_demonstrated: o.bool("participation_demonstrated")?,
            sustainable_development: opt_doc(o, "sustainable_development")?,
            human_rights: opt_doc(o, "human_rights")?,
            gender: opt_doc(o, "gender")?,
            safeguards: opt_doc(o, "safeguards")?,
            environmental_integrity: opt_doc(o, "environmental_integrity")?,
            entities_listed: o.bool("entities_listed")?,
            document: o.document("document")?,
        }),
        "a6_report_emissions" => A6Command::ReportEmissions {
            year: o.u16("year")?,
            emissions: o.decimal("emissions")?,
        },
        "a6_authorize" => A6Command::Authorize(Authorization {
            id: o.id("authorization", DecisionId::parse)?,
            version: o.u32("version")?,
            ca: ca(o, "ca")?,
            date: o.id("date", Date::parse)?,
            purposes: purposes(o)?,
            parties: parties(o, "parties")?,
            entities: match o.opt("entities") {
                None => Vec::new(),
                Some(_) => o
                    .array("entities")?
                    .iter()
                    .map(|v| {
                        let e = Obj(v
                            .as_object()
                            .ok_or_else(|| malformed("entities are objects"))?);
                        Ok(AuthorizedEntity {
                            registry: e.id("registry", RegistryId::parse)?,
                            holder: HolderId(e.u64("holder")?),
                        })
                    })
                    .collect::<R<_>>()?,
            },
            quantity: match o.opt("quantity") {
                None | Some(Value::Null) => None,
                Some(_) => Some(o.u64("quantity")?),
            },
            first_vintage: o.u16("first_vintage")?,
            last_vintage: o.u16("last_vintage")?,
            activity_types: match o.opt("activity_types") {
                None => Vec::new(),
                Some(_) => o
                    .array("activity_types")?
                    .iter()
                    .map(|v| label(v, "activity_types"))
                    .collect::<R<_>>()?,
            },
            sectors: match o.opt("sectors") {
                None => Vec::new(),
                Some(_) => o
                    .array("sectors")?
                    .iter()
                    .map(|v| label(v, "sectors"))
                    .collect::<R<_>>()?,
            },
            first_transfer_oimp: match o.opt("first_transfer_oimp") {
                None | Some(Value::Null) => None,
                Some(_) => Some(enum_of(o, "first_transfer_oimp", FT_DEFS)?),
            },
            oimp_purpose: match o.opt("oimp_purpose") {
                None | Some(Value::Null) => None,
                Some(v) => Some(label(v, "oimp_purpose")?),
            },
            metric: match o.opt("metric") {
                None => Metric::Ghg,
                Some(_) => enum_of(o, "metric", METRICS)?,
            },
            terms: o.document("terms")?,
        }),
        "a6_adjustment" => A6Command::Adjustment {
            year: o.u16("year")?,
            step: match o.str("step")? {
                "draft" => AdjustmentStep::Draft(o.decimal("quantity")?),
                "submit" => AdjustmentStep::Submit,
                "approve" => AdjustmentStep::Approve,
                "return_to_draft" => AdjustmentStep::ReturnToDraft,
                "finalize" => AdjustmentStep::Finalize,
                s => return Err(malformed(format!("step {s:?} is not one of {STEPS:?}"))),
            },
        },
        "a6_set_require_initial_report" => A6Command::SetRequireInitialReport(o.bool("require")?),
        other => return Err(malformed(format!("unknown command {other:?}"))),
    })
}

fn name_of<T: PartialEq + Copy>(table: &[(&'static str, T)], v: T) -> &'static str {
    table.iter().find(|(_, x)| *x == v).map_or("?", |(n, _)| n)
}

pub fn ndc_json(n: &Ndc) -> Value {
    json!({"kind": name_of(NDC_KINDS, n.kind), "first_year": n.first_year, "last_year": n.last_year,
        "target_year": n.target_year, "method": name_of(METHODS, n.method), "metric": name_of(METRICS, n.metric)})
}

fn doc(d: &Option<DocRef>) -> Value {
    d.as_ref().map_or(Value::Null, out::document_json)
}

pub fn authorization_json(a: &Authorization) -> Value {
    let mut purposes = Vec::new();
    if a.purposes.ndc {
        purposes.push("NDC");
    }
    if a.purposes.oimp {
        purposes.push("OIMP");
    }
    json!({
        "authorization": a.id.as_str(), "version": a.version, "ca": a.ca.to_string(),
        "date": a.date.to_string(), "purposes": purposes,
        "parties": a.parties.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "entities": a.entities.iter().map(|e| json!({"registry": e.registry.as_str(), "holder": e.holder.0})).collect::<Vec<_>>(),
        "quantity": a.quantity, "first_vintage": a.first_vintage, "last_vintage": a.last_vintage,
        "activity_types": a.activity_types, "sectors": a.sectors,
        "first_transfer_oimp": a.first_transfer_oimp.map(|f| name_of(FT_DEFS, f)),
        "oimp_purpose": a.oimp_purpose, "metric": name_of(METRICS, a.metric),
        "terms": out::document_json(&a.terms),
    })
}

pub fn a6_event_json(e: &A6Event) -> Value {
    match e {
        A6Event::ApproachRegistered {
            ca,
            parties,
            document,
        } => json!({"event": "approach_registered", "ca": ca.to_string(),
            "parties": parties.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "document": out::document_json(document)}),
        A6Event::NdcSet {
            ndc,
            time_zone_minutes,
            trajectory,
        } => {
            json!({"event": "ndc_set", "ndc": ndc_json(ndc), "time_zone_minutes": time_zone_minutes,
            "trajectory": trajectory.iter().map(|(y, v)| (y.to_string(), json!(v.to_string()))).collect::<serde_json::Map<_, _>>()})
        }
        A6Event::InitialReportRecorded(r) => json!({"event": "initial_report_recorded",
            "ndc_quantified": r.ndc_quantified.map(|d| d.to_string()),
            "participation_demonstrated": r.participation_demonstrated,
            "sustainable_development": doc(&r.sustainable_development), "human_rights": doc(&r.human_rights),
            "gender": doc(&r.gender), "safeguards": doc(&r.safeguards),
            "environmental_integrity": doc(&r.environmental_integrity),
            "entities_listed": r.entities_listed, "document": out::document_json(&r.document)}),
        A6Event::EmissionsReported { year, emissions } => json!({"event": "emissions_reported",
            "year": year, "emissions": emissions.to_string()}),
        A6Event::Authorized(a) => {
            let mut v = authorization_json(a);
            v["event"] = json!("authorized");
            v
        }
        A6Event::AdjustmentStepped { year, step } => {
            let (name, q) = match step {
                AdjustmentStep::Draft(q) => ("draft", Some(q.to_string())),
                AdjustmentStep::Submit => ("submit", None),
                AdjustmentStep::Approve => ("approve", None),
                AdjustmentStep::ReturnToDraft => ("return_to_draft", None),
                AdjustmentStep::Finalize => ("finalize", None),
            };
            json!({"event": "adjustment_stepped", "year": year, "step": name, "quantity": q})
        }
        A6Event::RequireInitialReportSet(b) => {
            json!({"event": "require_initial_report_set", "require": b})
        }
    }
}

pub fn adjustment_status_name(s: AdjustmentStatus) -> &'static str {
    match s {
        AdjustmentStatus::Draft => "draft",
        AdjustmentStatus::Submitted => "submitted",
        AdjustmentStatus::Approved => "approved",
        AdjustmentStatus::Finalized => "finalized",
    }
}
