//! What a party decides under Article 6.2, on its authority chain (`party:IND`): cooperative
//! approaches, its NDC and chosen adjustment method, its initial report, reported emissions,
//! authorizations as append-only versions, and corresponding-adjustment records with a guarded
//! workflow. Registries apply authorizations to units by commands that cite these entries.

use super::accounting::{self, AdjustmentRecord, AdjustmentStatus, CaMethod, Metric, Ndc, NdcKind};
use super::itmo::CaId;
use crate::checks::{Checks, Code, Rejection};
use crate::encode::{bad, get_dec, get_doc, put_dec, put_doc, tok, Dec, Enc, R as DR};
use crate::ids::*;
use crate::jcm::DocRef;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

type R<T> = Result<T, Rejection>;

fn rej(code: Code, msg: impl Into<String>) -> Rejection {
    Rejection::one(code, msg)
}

/// Purposes of an authorization: a set (F5: "NDC and OIMP" is expressible).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Purposes {
    pub ndc: bool,
    pub oimp: bool,
}

impl Purposes {
    /// The AEF spelling.
    pub fn aef(&self) -> &'static str {
        match (self.ndc, self.oimp) {
            (true, true) => "NDC and OIMP",
            (false, true) => "OIMP",
            _ => "NDC",
        }
    }
}

/// What counts as the first transfer of units authorized for OIMP (para 2(b)), chosen per
/// authorization (F6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FirstTransferDefinition {
    Authorization,
    Issuance,
    UseOrCancellation,
}

impl FirstTransferDefinition {
    pub fn aef(&self) -> &'static str {
        match self {
            FirstTransferDefinition::Authorization => "Authorization",
            FirstTransferDefinition::Issuance => "Issuance",
            FirstTransferDefinition::UseOrCancellation => "Use or cancellation",
        }
    }
}

/// An entity an authorization names, linked to its holder in a registry (F7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthorizedEntity {
    pub registry: RegistryId,
    pub holder: HolderId,
}

/// One version of an authorization (append-only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub id: DecisionId,
    pub version: u32,
    pub ca: CaId,
    /// Date of authorization (in the party's time zone).
    pub date: crate::units::Date,
    pub purposes: Purposes,
    pub parties: Vec<PartyId>,
    pub entities: Vec<AuthorizedEntity>,
    /// Authorized quantity in t CO2e over every version (none = not limited).
    pub quantity: Option<u64>,
    /// Vintages covered (timeframe), first and last.
    pub first_vintage: u16,
    pub last_vintage: u16,
    /// Activity types (data, e.g. `Solar`).
    pub activity_types: Vec<String>,
    /// Sectors (data, IPCC-style, e.g. `Energy`).
    pub sectors: Vec<String>,
    /// Required when the purposes include OIMP.
    pub first_transfer_oimp: Option<FirstTransferDefinition>,
    /// e.g. `CORSIA`.
    pub oimp_purpose: Option<String>,
    pub metric: Metric,
    /// The signed statement with its terms (change and revocation conditions).
    pub terms: DocRef,
}

/// The initial report (para 18, F11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialReport {
    /// The NDC quantified in t CO2e; required.
    pub ndc_quantified: Option<Decimal>,
    pub participation_demonstrated: bool,
    pub sustainable_development: Option<DocRef>,
    pub human_rights: Option<DocRef>,
    pub gender: Option<DocRef>,
    pub safeguards: Option<DocRef>,
    pub environmental_integrity: Option<DocRef>,
    /// The authorized entities are listed in it.
    pub entities_listed: bool,
    pub document: DocRef,
}

/// One step of an adjustment record's workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjustmentStep {
    /// Creates or redrafts the record for a year with a quantity.
    Draft(Decimal),
    Submit,
    Approve,
    ReturnToDraft,
    Finalize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum A6Command {
    RegisterApproach {
        ca: CaId,
        parties: Vec<PartyId>,
        document: DocRef,
    },
    SetNdc {
        ndc: Ndc,
        time_zone_minutes: i32,
        trajectory: BTreeMap<u16, Decimal>,
    },
    RecordInitialReport(InitialReport),
    ReportEmissions {
        year: u16,
        emissions: Decimal,
    },
    Authorize(Authorization),
    Adjustment {
        year: u16,
        step: AdjustmentStep,
    },
    /// Named policy, on by default: no authorization before the initial report.
    SetRequireInitialReport(bool),
}

impl A6Command {
    pub fn name(&self) -> &'static str {
        match self {
            A6Command::RegisterApproach { .. } => "a6_register_approach",
            A6Command::SetNdc { .. } => "a6_set_ndc",
            A6Command::RecordInitialReport(_) => "a6_record_initial_report",
            A6Command::ReportEmissions { .. } => "a6_report_emissions",
            A6Command::Authorize(_) => "a6_authorize",
            A6Command::Adjustment { .. } => "a6_adjustment",
            A6Command::SetRequireInitialReport(_) => "a6_set_require_initial_report",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum A6Event {
    ApproachRegistered {
        ca: CaId,
        parties: Vec<PartyId>,
        document: DocRef,
    },
    NdcSet {
        ndc: Ndc,
        time_zone_minutes: i32,
        trajectory: BTreeMap<u16, Decimal>,
    },
    InitialReportRecorded(InitialReport),
    EmissionsReported {
        year: u16,
        emissions: Decimal,
    },
    Authorized(Authorization),
    AdjustmentStepped {
        year: u16,
        step: AdjustmentStep,
    },
    RequireInitialReportSet(bool),
}

/// The Article 6 state of one party's authority chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyA6 {
    pub approaches: BTreeMap<CaId, (Vec<PartyId>, DocRef)>,
    pub ndc: Option<(Ndc, i32, BTreeMap<u16, Decimal>)>,
    pub initial_report: Option<InitialReport>,
    pub emissions: BTreeMap<u16, Decimal>,
    /// Every version of every authorization, ascending.
    pub authorizations: BTreeMap<DecisionId, Vec<Authorization>>,
    pub adjustments: BTreeMap<u16, AdjustmentRecord>,
    pub require_initial_report: bool,
}

impl Default for PartyA6 {
    fn default() -> Self {
        PartyA6 {
            approaches: BTreeMap::new(),
            ndc: None,
            initial_report: None,
            emissions: BTreeMap::new(),
            authorizations: BTreeMap::new(),
            adjustments: BTreeMap::new(),
            require_initial_report: true,
        }
    }
}

impl PartyA6 {
    pub fn authorization(&self, id: &DecisionId, version: u32) -> Option<&Authorization> {
        self.authorizations
            .get(id)?
            .iter()
            .find(|a| a.version == version)
    }

    pub fn decide(&self, party: PartyId, cmd: &A6Command) -> R<Vec<A6Event>> {
        Ok(vec![match cmd {
            A6Command::RegisterApproach {
                ca,
                parties,
                document,
            } => {
                if self.approaches.contains_key(ca) {
                    return Err(rej(Code::ALREADY_EXISTS, format!("{ca} is registered")));
                }
                if !parties.contains(&party) || parties.len() < 2 {
                    return Err(rej(
                        Code::PARTY_NOT_AUTHORIZED,
                        "a cooperative approach names this party and at least one other",
                    ));
                }
                A6Event::ApproachRegistered {
                    ca: *ca,
                    parties: parties.clone(),
                    document: *document,
                }
            }
            A6Command::SetNdc {
                ndc,
                time_zone_minutes,
                trajectory,
            } => {
                accounting::check_method(ndc)?;
                if ndc.first_year > ndc.last_year
                    || !(ndc.first_year..=ndc.last_year).contains(&ndc.target_year)
                {
                    return Err(rej(
                        Code::PERIOD_INVALID,
                        "the NDC period or target year is invalid",
                    ));
                }
                if !(-14 * 60..=14 * 60).contains(time_zone_minutes) {
                    return Err(rej(Code::PERIOD_INVALID, "time zone offset out of range"));
                }
                A6Event::NdcSet {
                    ndc: *ndc,
                    time_zone_minutes: *time_zone_minutes,
                    trajectory: trajectory.clone(),
                }
            }
            A6Command::RecordInitialReport(r) => {
                let mut c = Checks::new();
                let missing: Vec<&str> = [
                    ("NDC quantification", r.ndc_quantified.is_none()),
                    ("participation requirements", !r.participation_demonstrated),
                    (
                        "sustainable development",
                        r.sustainable_development.is_none(),
                    ),
                    ("human rights", r.human_rights.is_none()),
                    ("gender", r.gender.is_none()),
                    ("safeguards", r.safeguards.is_none()),
                    (
                        "environmental integrity",
                        r.environmental_integrity.is_none(),
                    ),
                    ("authorized entities", !r.entities_listed),
                ]
                .into_iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| n)
                .collect();
                c.require(missing.is_empty(), Code::INITIAL_REPORT_INCOMPLETE, || {
                    format!("the initial report lacks: {}", missing.join(", "))
                });
                c.require(self.ndc.is_some(), Code::NDC_UNKNOWN, || {
                    "record the NDC first".into()
                });
                c.finish()?;
                A6Event::InitialReportRecorded(r.clone())
            }
            A6Command::ReportEmissions { year, emissions } => {
                accounting::check_vintage(*year as i64)?;
                if self
                    .adjustments
                    .get(year)
                    .is_some_and(|a| a.status == AdjustmentStatus::Finalized)
                {
                    return Err(rej(Code::PERIOD_FINALIZED, format!("{year} is final")));
                }
                A6Event::EmissionsReported {
                    year: *year,
                    emissions: *emissions,
                }
            }
            A6Command::Authorize(a) => {
                let mut c = Checks::new();
                c.require(
                    self.approaches.contains_key(&a.ca),
                    Code::CA_UNKNOWN,
                    || format!("{} is not registered", a.ca),
                );
                if self.require_initial_report {
                    c.require(
                        self.initial_report.is_some(),
                        Code::INITIAL_REPORT_MISSING,
                        || "no authorization before the initial report (policy)".into(),
                    );
                }
                let next = self
                    .authorizations
                    .get(&a.id)
                    .map_or(1, |v| v.len() as u32 + 1);
                c.require(a.version == next, Code::AUTHORIZATION_VERSION, || {
                    format!("authorization {} must be version {next}", a.id)
                });
                c.require(
                    a.first_vintage >= 2021
                        && a.first_vintage <= a.last_vintage
                        && a.last_vintage <= 9999,
                    Code::VINTAGE_NOT_AUTHORIZABLE,
                    || "vintages from 2021 on, first ≤ last".into(),
                );
                c.require(
                    a.purposes.ndc || a.purposes.oimp,
                    Code::PURPOSE_NOT_AUTHORIZED,
                    || "an authorization has at least one purpose".into(),
                );
                c.require(
                    a.purposes.oimp == a.first_transfer_oimp.is_some(),
                    Code::PURPOSE_NOT_AUTHORIZED,
                    || "the first-transfer definition is set exactly when OIMP is a purpose".into(),
                );
                c.require(a.metric == Metric::Ghg, Code::METRIC_UNSUPPORTED, || {
                    "non-GHG metrics are not supported".into()
                });
                c.require(!a.parties.is_empty(), Code::PARTY_NOT_AUTHORIZED, || {
                    "an authorization names the parties it authorizes".into()
                });
                // A new version may not shrink below what earlier versions let registries use:
                // registries enforce the quantity; the version only changes terms ahead.
                c.finish()?;
                A6Event::Authorized(a.clone())
            }
            A6Command::Adjustment { year, step } => {
                let mut rec = self.adjustments.get(year).cloned();
                apply_step(&mut rec, *year, *step)?;
                A6Event::AdjustmentStepped {
                    year: *year,
                    step: *step,
                }
            }
            A6Command::SetRequireInitialReport(b) => A6Event::RequireInitialReportSet(*b),
        }])
    }

    pub fn fold(&mut self, ev: &A6Event) -> R<()> {
        match ev {
            A6Event::ApproachRegistered {
                ca,
                parties,
                document,
            } => {
                self.approaches.insert(*ca, (parties.clone(), *document));
            }
            A6Event::NdcSet {
                ndc,
                time_zone_minutes,
                trajectory,
            } => {
                self.ndc = Some((*ndc, *time_zone_minutes, trajectory.clone()));
            }
            A6Event::InitialReportRecorded(r) => self.initial_report = Some(r.clone()),
            A6Event::EmissionsReported { year, emissions } => {
                self.emissions.insert(*year, *emissions);
            }
            A6Event::Authorized(a) => {
                let next = self
                    .authorizations
                    .get(&a.id)
                    .map_or(1, |v| v.len() as u32 + 1);
                if a.version != next {
                    return Err(rej(
                        Code::AUTHORIZATION_VERSION,
                        "replay: version out of order",
                    ));
                }
                self.authorizations
                    .entry(a.id.clone())
                    .or_default()
                    .push(a.clone());
            }
            A6Event::AdjustmentStepped { year, step } => {
                let mut rec = self.adjustments.get(year).cloned();
                apply_step(&mut rec, *year, *step)?;
                if let Some(r) = rec {
                    self.adjustments.insert(*year, r);
                }
            }
            A6Event::RequireInitialReportSet(b) => self.require_initial_report = *b,
        }
        Ok(())
    }

    pub fn encode_state(&self, e: &mut Enc) {
        e.len(self.approaches.len());
        for (ca, (parties, doc)) in &self.approaches {
            e.u16(ca.number());
            put_parties(e, parties);
            put_doc(e, doc);
        }
        e.opt(&self.ndc, |e, (ndc, tz, traj)| {
            put_ndc(e, ndc);
            e.i32(*tz);
            put_year_map(e, traj);
        });
        e.opt(&self.initial_report, put_initial_report);
        put_year_map(e, &self.emissions);
        e.len(self.authorizations.len());
        for v in self.authorizations.values() {
            e.len(v.len());
            for a in v {
                put_authorization(e, a);
            }
        }
        e.len(self.adjustments.len());
        for (y, a) in &self.adjustments {
            e.u16(*y);
            put_dec(e, &a.quantity);
            e.u8(status_tag(a.status));
        }
        e.bool(self.require_initial_report);
    }
}

fn status_tag(s: AdjustmentStatus) -> u8 {
    match s {
        AdjustmentStatus::Draft => 0,
        AdjustmentStatus::Submitted => 1,
        AdjustmentStatus::Approved => 2,
        AdjustmentStatus::Finalized => 3,
    }
}

/// The adjustment workflow (F12): draft → submitted → approved → finalized; returned to draft
/// only from submitted; a finalized record never changes (8513).
fn apply_step(rec: &mut Option<AdjustmentRecord>, year: u16, step: AdjustmentStep) -> R<()> {
    match (rec.as_mut(), step) {
        (None, AdjustmentStep::Draft(q)) => {
            *rec = Some(AdjustmentRecord {
                year,
                quantity: q,
                status: AdjustmentStatus::Draft,
            });
            Ok(())
        }
        (None, _) => Err(rej(
            Code::ADJUSTMENT_STATE,
            format!("no adjustment record for {year}: draft one first"),
        )),
        (Some(r), _) if r.status == AdjustmentStatus::Finalized => Err(rej(
            Code::PERIOD_FINALIZED,
            format!("the adjustment for {year} is final"),
        )),
        (Some(r), AdjustmentStep::Draft(q)) => {
            if r.status != AdjustmentStatus::Draft {
                return Err(rej(
                    Code::ADJUSTMENT_STATE,
                    format!("the adjustment for {year} is {:?}, not a draft", r.status),
                ));
            }
            r.quantity = q;
            Ok(())
        }
        (Some(r), AdjustmentStep::Submit) => r.submit(),
        (Some(r), AdjustmentStep::Approve) => r.approve(),
        (Some(r), AdjustmentStep::ReturnToDraft) => r.return_to_draft(),
        (Some(r), AdjustmentStep::Finalize) => r.finalize(),
    }
}

// ----- canonical encoding ---------------------------------------------------------------------

fn put_parties(e: &mut Enc, ps: &[PartyId]) {
    e.len(ps.len());
    for p in ps {
        e.party(p);
    }
}

fn get_parties(d: &mut Dec) -> DR<Vec<PartyId>> {
    let n = d.count()?;
    let mut v = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        v.push(d.party()?);
    }
    Ok(v)
}

fn put_year_map(e: &mut Enc, m: &BTreeMap<u16, Decimal>) {
    e.len(m.len());
    for (y, v) in m {
        e.u16(*y);
        put_dec(e, v);
    }
}

fn get_year_map(d: &mut Dec) -> DR<BTreeMap<u16, Decimal>> {
    let n = d.count()?;
    let mut m = BTreeMap::new();
    for _ in 0..n {
        let y = d.u16()?;
        if m.insert(y, get_dec(d)?).is_some() {
            return bad("year twice");
        }
    }
    Ok(m)
}

fn put_ndc(e: &mut Enc, n: &Ndc) {
    e.u8(match n.kind {
        NdcKind::SingleYear => 0,
        NdcKind::MultiYear => 1,
    });
    e.u16(n.first_year);
    e.u16(n.last_year);
    e.u16(n.target_year);
    e.u8(match n.method {
        CaMethod::Trajectory => 0,
        CaMethod::Averaging => 1,
        CaMethod::MultiYear => 2,
    });
    e.u8(match n.metric {
        Metric::Ghg => 0,
        Metric::NonGhg => 1,
    });
}

fn get_ndc(d: &mut Dec) -> DR<Ndc> {
    Ok(Ndc {
        kind: match d.u8()? {
            0 => NdcKind::SingleYear,
            1 => NdcKind::MultiYear,
            _ => return bad("unknown NDC kind"),
        },
        first_year: d.u16()?,
        last_year: d.u16()?,
        target_year: d.u16()?,
        method: match d.u8()? {
            0 => CaMethod::Trajectory,
            1 => CaMethod::Averaging,
            2 => CaMethod::MultiYear,
            _ => return bad("unknown method"),
        },
        metric: match d.u8()? {
            0 => Metric::Ghg,
            1 => Metric::NonGhg,
            _ => return bad("unknown metric"),
        },
    })
}

fn put_opt_doc(e: &mut Enc, d: &Option<DocRef>) {
    e.opt(d, put_doc);
}

fn put_initial_report(e: &mut Enc, r: &InitialReport) {
    e.opt(&r.ndc_quantified, put_dec);
    e.bool(r.participation_demonstrated);
    put_opt_doc(e, &r.sustainable_development);
    put_opt_doc(e, &r.human_rights);
    put_opt_doc(e, &r.gender);
    put_opt_doc(e, &r.safeguards);
    put_opt_doc(e, &r.environmental_integrity);
    e.bool(r.entities_listed);
    put_doc(e, &r.document);
}

fn get_initial_report(d: &mut Dec) -> DR<InitialReport> {
    Ok(InitialReport {
        ndc_quantified: d.opt(get_dec)?,
        participation_demonstrated: d.bool()?,
        sustainable_development: d.opt(get_doc)?,
        human_rights: d.opt(get_doc)?,
        gender: d.opt(get_doc)?,
        safeguards: d.opt(get_doc)?,
        environmental_integrity: d.opt(get_doc)?,
        entities_listed: d.bool()?,
        document: get_doc(d)?,
    })
}

fn put_strs(e: &mut Enc, v: &[String]) {
    e.len(v.len());
    for s in v {
        e.str(s);
    }
}

fn get_strs(d: &mut Dec) -> DR<Vec<String>> {
    let n = d.count()?;
    let mut v = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        v.push(label(d.str()?)?);
    }
    Ok(v)
}

/// Short labels (activity types, OIMP purposes): 1–64 printable ASCII characters.
pub fn valid_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn label(s: &str) -> DR<String> {
    if valid_label(s) {
        Ok(s.to_owned())
    } else {
        bad("invalid label")
    }
}

fn put_authorization(e: &mut Enc, a: &Authorization) {
    e.str(a.id.as_str());
    e.u32(a.version);
    e.u16(a.ca.number());
    e.i32(a.date.days());
    e.bool(a.purposes.ndc);
    e.bool(a.purposes.oimp);
    put_parties(e, &a.parties);
    e.len(a.entities.len());
    for en in &a.entities {
        e.registry(&en.registry);
        e.u64(en.holder.0);
    }
    e.opt(&a.quantity, |e, q| e.u64(*q));
    e.u16(a.first_vintage);
    e.u16(a.last_vintage);
    put_strs(e, &a.activity_types);
    put_strs(e, &a.sectors);
    e.opt(&a.first_transfer_oimp, |e, f| {
        e.u8(match f {
            FirstTransferDefinition::Authorization => 0,
            FirstTransferDefinition::Issuance => 1,
            FirstTransferDefinition::UseOrCancellation => 2,
        })
    });
    e.opt(&a.oimp_purpose, |e, s| e.str(s));
    e.u8(match a.metric {
        Metric::Ghg => 0,
        Metric::NonGhg => 1,
    });
    put_doc(e, &a.terms);
}

fn get_authorization(d: &mut Dec) -> DR<Authorization> {
    let id = tok(d.str()?, DecisionId::parse)?;
    let version = d.u32()?;
    let ca = CaId::new(d.u16()?).or_else(|_| bad("invalid CA id"))?;
    let date = crate::units::Date::from_days(d.i32()?);
    let purposes = Purposes {
        ndc: d.bool()?,
        oimp: d.bool()?,
    };
    let parties = get_parties(d)?;
    let n = d.count()?;
    let mut entities = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        entities.push(AuthorizedEntity {
            registry: d.registry()?,
            holder: HolderId(d.u64()?),
        });
    }
    Ok(Authorization {
        id,
        version,
        ca,
        date,
        purposes,
        parties,
        entities,
        quantity: d.opt(|d| d.u64())?,
        first_vintage: d.u16()?,
        last_vintage: d.u16()?,
        activity_types: get_strs(d)?,
        sectors: get_strs(d)?,
        first_transfer_oimp: d.opt(|d| {
            Ok(match d.u8()? {
                0 => FirstTransferDefinition::Authorization,
                1 => FirstTransferDefinition::Issuance,
                2 => FirstTransferDefinition::UseOrCancellation,
                _ => return bad("unknown first-transfer definition"),
            })
        })?,
        oimp_purpose: d.opt(|d| label(d.str()?))?,
        metric: match d.u8()? {
            0 => Metric::Ghg,
            1 => Metric::NonGhg,
            _ => return bad("unknown metric"),
        },
        terms: get_doc(d)?,
    })
}

/// Sub-tags inside event tag 71: 0 ApproachRegistered, 1 NdcSet, 2 InitialReportRecorded,
/// 3 EmissionsReported, 4 Authorized, 5 AdjustmentStepped, 6 RequireInitialReportSet.
pub fn put_event(e: &mut Enc, ev: &A6Event) {
    match ev {
        A6Event::ApproachRegistered {
            ca,
            parties,
            document,
        } => {
            e.u8(0);
            e.u16(ca.number());
            put_parties(e, parties);
            put_doc(e, document);
        }
        A6Event::NdcSet {
            ndc,
            time_zone_minutes,
            trajectory,
        } => {
            e.u8(1);
            put_ndc(e, ndc);
            e.i32(*time_zone_minutes);
            put_year_map(e, trajectory);
        }
        A6Event::InitialReportRecorded(r) => {
            e.u8(2);
            put_initial_report(e, r);
        }
        A6Event::EmissionsReported { year, emissions } => {
            e.u8(3);
            e.u16(*year);
            put_dec(e, emissions);
        }
        A6Event::Authorized(a) => {
            e.u8(4);
            put_authorization(e, a);
        }
        A6Event::AdjustmentStepped { year, step } => {
            e.u8(5);
            e.u16(*year);
            match step {
                AdjustmentStep::Draft(q) => {
                    e.u8(0);
                    put_dec(e, q);
                }
                AdjustmentStep::Submit => e.u8(1),
                AdjustmentStep::Approve => e.u8(2),
                AdjustmentStep::ReturnToDraft => e.u8(3),
                AdjustmentStep::Finalize => e.u8(4),
            }
        }
        A6Event::RequireInitialReportSet(b) => {
            e.u8(6);
            e.bool(*b);
        }
    }
}

pub fn get_event(d: &mut Dec) -> DR<A6Event> {
    Ok(match d.u8()? {
        0 => A6Event::ApproachRegistered {
            ca: CaId::new(d.u16()?).or_else(|_| bad("invalid CA id"))?,
            parties: get_parties(d)?,
            document: get_doc(d)?,
        },
        1 => A6Event::NdcSet {
            ndc: get_ndc(d)?,
            time_zone_minutes: d.i32()?,
            trajectory: get_year_map(d)?,
        },
        2 => A6Event::InitialReportRecorded(get_initial_report(d)?),
        3 => A6Event::EmissionsReported {
            year: d.u16()?,
            emissions: get_dec(d)?,
        },
        4 => A6Event::Authorized(get_authorization(d)?),
        5 => {
            let year = d.u16()?;
            let step = match d.u8()? {
                0 => AdjustmentStep::Draft(get_dec(d)?),
                1 => AdjustmentStep::Submit,
                2 => AdjustmentStep::Approve,
                3 => AdjustmentStep::ReturnToDraft,
                4 => AdjustmentStep::Finalize,
                _ => return bad("unknown adjustment step"),
            };
            A6Event::AdjustmentStepped { year, step }
        }
        6 => A6Event::RequireInitialReportSet(d.bool()?),
        _ => return bad("unknown Article 6 event"),
    })
}
