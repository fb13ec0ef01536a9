//! India's Carbon Credit Trading Scheme (REFERENCE §4): the administrator's chain
//! (`mechanism:CCTS-IND`) keeps obligated entities, their GEI targets (imported from the
//! Schedule, all rows or none), the compliance cycle per entity and year (§4.7) — performance,
//! verification by an accredited agency, evaluation, surrender credited from the registry,
//! environmental compensation — and its named policies. Certificates are issued and
//! surrendered in the registry, by commands citing this chain (and this chain credits a
//! surrender by citing the registry's entry, once per entry).

pub mod compliance;

use crate::checks::{Checks, Code, Rejection};
use crate::encode::{bad, get_dec, get_doc, put_dec, put_doc, tok, Dec, Enc, R as DR};
use crate::ids::*;
use crate::jcm::DocRef;
use crate::model::{CitedEntry, Event};
use crate::units::Timestamp;
use compliance::{CctsPolicy, CompensationBase, IssuanceRounding, ObligationRounding, Outcome};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

type R<T> = Result<T, Rejection>;

fn rej(code: Code, msg: impl Into<String>) -> Rejection {
    Rejection::one(code, msg)
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CctsRole {
    /// The Bureau of Energy Efficiency: targets, evaluation, issuance, surrender records.
    Administrator,
    /// An accredited carbon verification agency.
    Verifier,
    /// The representative of an obligated entity.
    Entity(ProjectId),
    /// The Central Pollution Control Board: environmental compensation.
    Cpcb,
}

/// One row of the GEI Schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleRow {
    pub entity: ProjectId,
    pub sector: String,
    pub baseline_output: Decimal,
    pub baseline_gei: Decimal,
    /// (compliance year, target GEI).
    pub targets: Vec<(u16, Decimal)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CctsCommand {
    Appoint {
        actor: Actor,
        role: CctsRole,
    },
    SetPolicy(CctsPolicy),
    /// The Schedule: every row or none.
    ImportSchedule(Vec<ScheduleRow>),
    /// The registry account an entity's certificates are issued to.
    RegisterAccount {
        entity: ProjectId,
        registry: RegistryId,
        account: AccountId,
    },
    SubmitPerformance {
        entity: ProjectId,
        year: u16,
        output: Decimal,
        emissions: Decimal,
        document: DocRef,
    },
    VerifyPerformance {
        entity: ProjectId,
        year: u16,
        document: DocRef,
    },
    Evaluate {
        entity: ProjectId,
        year: u16,
    },
    /// Credits a surrender made in the registry (the cited entry), once per entry.
    RecordSurrender {
        citation: crate::ids::Citation,
        cited: Option<CitedEntry>,
    },
    ImposeCompensation {
        entity: ProjectId,
        year: u16,
        average_price: Decimal,
    },
}

impl CctsCommand {
    pub fn name(&self) -> &'static str {
        match self {
            CctsCommand::Appoint { .. } => "ccts_appoint",
            CctsCommand::SetPolicy(_) => "ccts_set_policy",
            CctsCommand::ImportSchedule(_) => "ccts_import_schedule",
            CctsCommand::RegisterAccount { .. } => "ccts_register_account",
            CctsCommand::SubmitPerformance { .. } => "ccts_submit_performance",
            CctsCommand::VerifyPerformance { .. } => "ccts_verify_performance",
            CctsCommand::Evaluate { .. } => "ccts_evaluate",
            CctsCommand::RecordSurrender { .. } => "ccts_record_surrender",
            CctsCommand::ImposeCompensation { .. } => "ccts_impose_compensation",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CctsEvent {
    Appointed {
        actor: Actor,
        role: CctsRole,
        by: Actor,
    },
    PolicySet(CctsPolicy),
    ScheduleImported(Vec<ScheduleRow>),
    AccountRegistered {
        entity: ProjectId,
        registry: RegistryId,
        account: AccountId,
    },
    PerformanceSubmitted {
        entity: ProjectId,
        year: u16,
        output: Decimal,
        emissions: Decimal,
        document: DocRef,
        by: Actor,
    },
    PerformanceVerified {
        entity: ProjectId,
        year: u16,
        document: DocRef,
        by: Actor,
    },
    /// The evaluation: the registry issues `certificates` to `account` (surplus), or the
    /// entity owes `obligation` by `deadline` (shortfall).
    Evaluated {
        entity: ProjectId,
        year: u16,
        achieved: Decimal,
        target: Decimal,
        outcome: Outcome,
        registry: RegistryId,
        account: AccountId,
        deadline: Timestamp,
        by: Actor,
    },
    SurrenderRecorded {
        entity: ProjectId,
        year: u16,
        quantity: u64,
        citation: crate::ids::Citation,
    },
    CompensationImposed {
        entity: ProjectId,
        year: u16,
        outstanding: u64,
        average_price: Decimal,
        amount: Decimal,
        due: Timestamp,
        by: Actor,
    },
}

/// One entity's compliance year.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CycleRecord {
    pub performance: Option<(Decimal, Decimal)>,
    pub verified_by: Option<Actor>,
    pub evaluation: Option<(Decimal, Outcome, Timestamp)>,
    pub surrendered: u64,
    pub compensation: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityRecord {
    pub sector: String,
    pub baseline_output: Decimal,
    pub baseline_gei: Decimal,
    pub targets: BTreeMap<u16, Decimal>,
    pub account: Option<(RegistryId, AccountId)>,
    pub cycles: BTreeMap<u16, CycleRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CctsState {
    pub roles: BTreeMap<Actor, BTreeSet<CctsRole>>,
    pub policy: CctsPolicy,
    pub entities: BTreeMap<ProjectId, EntityRecord>,
    /// Registry entries already credited as surrenders.
    pub credited: BTreeSet<(ChainId, u64)>,
}

impl CctsState {
    fn has(&self, a: &Actor, r: &CctsRole) -> bool {
        self.roles.get(a).is_some_and(|s| s.contains(r))
    }

    fn require(&self, a: &Actor, r: CctsRole) -> R<()> {
        if self.has(a, &r) {
            Ok(())
        } else {
            Err(rej(
                Code::ROLE_REQUIRED,
                format!("{a} does not hold the role {r:?}"),
            ))
        }
    }

    /// An entity's record of a compliance year, created on first use (for folds).
    fn cycle_mut(&mut self, e: &ProjectId, year: u16) -> R<&mut CycleRecord> {
        Ok(self
            .entities
            .get_mut(e)
            .ok_or_else(|| rej(Code::PROJECT_UNKNOWN, "replay: unknown entity"))?
            .cycles
            .entry(year)
            .or_default())
    }

    pub fn entity(&self, e: &ProjectId) -> R<&EntityRecord> {
        self.entities
            .get(e)
            .ok_or_else(|| rej(Code::PROJECT_UNKNOWN, format!("no obligated entity {e}")))
    }

    fn cycle(&self, e: &ProjectId, y: u16) -> Option<&CycleRecord> {
        self.entities.get(e)?.cycles.get(&y)
    }

    pub fn decide(&self, actor: &Actor, cmd: &CctsCommand, time: Timestamp) -> R<Vec<CctsEvent>> {
        let by = actor.clone();
        let admin = || self.require(actor, CctsRole::Administrator);
        let state = |msg: String| rej(Code::STEP_NOT_VALID_IN_STATE, msg);
        Ok(vec![match cmd {
            CctsCommand::Appoint { actor: who, role } => {
                let bootstrap = matches!(role, CctsRole::Administrator)
                    && !self
                        .roles
                        .values()
                        .any(|r| r.contains(&CctsRole::Administrator));
                if !bootstrap {
                    admin()?;
                }
                if self.has(who, role) {
                    return Err(rej(Code::ALREADY_EXISTS, format!("{who} holds {role:?}")));
                }
                CctsEvent::Appointed {
                    actor: who.clone(),
                    role: role.clone(),
                    by,
                }
            }
            CctsCommand::SetPolicy(p) => {
                admin()?;
                CctsEvent::PolicySet(*p)
            }
            CctsCommand::ImportSchedule(rows) => {
                admin()?;
                let mut c = Checks::new();
                let mut seen = BTreeSet::new();
                for r in rows {
                    c.require(seen.insert(r.entity.clone()), Code::ALREADY_EXISTS, || {
                        format!("entity {} appears twice", r.entity)
                    });
                    c.require(
                        !self.entities.contains_key(&r.entity),
                        Code::ALREADY_EXISTS,
                        || format!("entity {} is registered", r.entity),
                    );
                    let positive = r.baseline_output > Decimal::ZERO
                        && r.baseline_gei > Decimal::ZERO
                        && !r.targets.is_empty()
                        && r.targets
                            .iter()
                            .all(|(y, t)| *t > Decimal::ZERO && *y >= 2023);
                    c.require(positive, Code::QUANTITY_INVALID, || {
                        format!(
                            "entity {}: baselines and targets must be positive",
                            r.entity
                        )
                    });
                }
                c.finish()?;
                CctsEvent::ScheduleImported(rows.clone())
            }
            CctsCommand::RegisterAccount {
                entity,
                registry,
                account,
            } => {
                admin()?;
                self.entity(entity)?;
                CctsEvent::AccountRegistered {
                    entity: entity.clone(),
                    registry: *registry,
                    account: *account,
                }
            }
            CctsCommand::SubmitPerformance {
                entity,
                year,
                output,
                emissions,
                document,
            } => {
                self.require(actor, CctsRole::Entity(entity.clone()))?;
                let e = self.entity(entity)?;
                if !e.targets.contains_key(year) {
                    return Err(state(format!("{entity} has no target for {year}")));
                }
                if self
                    .cycle(entity, *year)
                    .is_some_and(|c| c.evaluation.is_some())
                {
                    return Err(state(format!("{entity} {year} is evaluated")));
                }
                if *output <= Decimal::ZERO || *emissions < Decimal::ZERO {
                    return Err(rej(
                        Code::QUANTITY_INVALID,
                        "output must be positive, emissions not negative",
                    ));
                }
                CctsEvent::PerformanceSubmitted {
                    entity: entity.clone(),
                    year: *year,
                    output: *output,
                    emissions: *emissions,
                    document: *document,
                    by,
                }
            }
            CctsCommand::VerifyPerformance {
                entity,
                year,
                document,
            } => {
                self.require(actor, CctsRole::Verifier)?;
                let c = self.cycle(entity, *year);
                if c.is_none_or(|c| c.performance.is_none() || c.evaluation.is_some()) {
                    return Err(state(format!(
                        "{entity} {year} has no performance awaiting verification"
                    )));
                }
                CctsEvent::PerformanceVerified {
                    entity: entity.clone(),
                    year: *year,
                    document: *document,
                    by,
                }
            }
            CctsCommand::Evaluate { entity, year } => {
                admin()?;
                let e = self.entity(entity)?;
                let c = self.cycle(entity, *year).cloned().unwrap_or_default();
                if c.evaluation.is_some() {
                    return Err(state(format!("{entity} {year} is already evaluated")));
                }
                let Some((output, emissions)) = c.performance else {
                    return Err(state(format!("{entity} {year}: no performance submitted")));
                };
                if c.verified_by.is_none() {
                    return Err(state(format!(
                        "{entity} {year}: the performance is not verified"
                    )));
                }
                let (registry, account) = e
                    .account
                    .ok_or_else(|| state(format!("{entity} has no registry account")))?;
                let target = e.targets[year];
                let ev = compliance::evaluate(target, output, emissions, &self.policy)?;
                CctsEvent::Evaluated {
                    entity: entity.clone(),
                    year: *year,
                    achieved: ev.achieved_gei,
                    target,
                    outcome: ev.outcome,
                    registry,
                    account,
                    deadline: Timestamp(time.0.saturating_add(
                        self.policy.surrender_deadline_days as i64 * 86_400_000_000,
                    )),
                    by,
                }
            }
            CctsCommand::RecordSurrender { citation, cited } => {
                // Any role may credit a surrender: the cited registry entry (checked by the
                // engine against its hash) is the fact; crediting it twice is refused.
                if self.roles.get(actor).is_none_or(|r| r.is_empty()) {
                    return Err(rej(
                        Code::ROLE_REQUIRED,
                        format!("{actor} holds no role in the scheme"),
                    ));
                }
                if self
                    .credited
                    .contains(&(citation.chain.clone(), citation.seq))
                {
                    return Err(rej(
                        Code::BUSINESS_KEY_USED,
                        "this surrender was already credited",
                    ));
                }
                let found = cited.as_ref().and_then(|c| {
                    c.events.iter().find_map(|e| match e {
                        Event::Surrendered {
                            entity,
                            year,
                            ranges,
                            ..
                        } => Some((
                            entity.clone(),
                            *year,
                            ranges.iter().map(|r| r.range.len()).sum::<u64>(),
                        )),
                        _ => None,
                    })
                });
                let Some((entity, year, quantity)) = found else {
                    return Err(rej(
                        Code::CITATION_INVALID,
                        "the cited entry is not a surrender",
                    ));
                };
                let c = self.cycle(&entity, year);
                let owed = match c.and_then(|c| c.evaluation.as_ref()) {
                    Some((_, Outcome::Shortfall { obligation, .. }, _)) => *obligation,
                    _ => return Err(state(format!("{entity} {year} owes no surrender"))),
                };
                let already = c.map_or(0, |c| c.surrendered);
                if already >= owed {
                    return Err(state(format!(
                        "{entity} {year} has surrendered its obligation"
                    )));
                }
                CctsEvent::SurrenderRecorded {
                    entity,
                    year,
                    quantity,
                    citation: citation.clone(),
                }
            }
            CctsCommand::ImposeCompensation {
                entity,
                year,
                average_price,
            } => {
                if !self.has(actor, &CctsRole::Cpcb) {
                    admin()?;
                }
                let c = self.cycle(entity, *year).cloned().unwrap_or_default();
                let Some((_, Outcome::Shortfall { exact, obligation }, deadline)) = c.evaluation
                else {
                    return Err(state(format!("{entity} {year} has no shortfall")));
                };
                if c.compensation.is_some() {
                    return Err(state(format!(
                        "{entity} {year}: compensation already imposed"
                    )));
                }
                if time < deadline {
                    return Err(state(format!(
                        "the surrender deadline {deadline} has not passed"
                    )));
                }
                let outstanding = compliance::outstanding(obligation, c.surrendered);
                if outstanding == 0 {
                    return Err(state(format!(
                        "{entity} {year} surrendered everything it owed"
                    )));
                }
                let amount = compliance::compensation(
                    exact,
                    obligation,
                    c.surrendered,
                    *average_price,
                    &self.policy,
                )?;
                CctsEvent::CompensationImposed {
                    entity: entity.clone(),
                    year: *year,
                    outstanding,
                    average_price: *average_price,
                    amount,
                    due: Timestamp(
                        time.0.saturating_add(
                            self.policy.compensation_due_days as i64 * 86_400_000_000,
                        ),
                    ),
                    by,
                }
            }
        }])
    }

    pub fn fold(&mut self, ev: &CctsEvent) -> R<()> {
        let missing = || rej(Code::PROJECT_UNKNOWN, "replay: unknown entity");
        match ev {
            CctsEvent::Appointed { actor, role, .. } => {
                self.roles
                    .entry(actor.clone())
                    .or_default()
                    .insert(role.clone());
            }
            CctsEvent::PolicySet(p) => self.policy = *p,
            CctsEvent::ScheduleImported(rows) => {
                for r in rows {
                    self.entities.insert(
                        r.entity.clone(),
                        EntityRecord {
                            sector: r.sector.clone(),
                            baseline_output: r.baseline_output,
                            baseline_gei: r.baseline_gei,
                            targets: r.targets.iter().copied().collect(),
                            account: None,
                            cycles: BTreeMap::new(),
                        },
                    );
                }
            }
            CctsEvent::AccountRegistered {
                entity,
                registry,
                account,
            } => {
                self.entities.get_mut(entity).ok_or_else(missing)?.account =
                    Some((*registry, *account));
            }
            CctsEvent::PerformanceSubmitted {
                entity,
                year,
                output,
                emissions,
                ..
            } => {
                let c = self.cycle_mut(entity, *year)?;
                c.performance = Some((*output, *emissions));
                c.verified_by = None;
            }
            CctsEvent::PerformanceVerified {
                entity, year, by, ..
            } => {
                let c = self.cycle_mut(entity, *year)?;
                c.verified_by = Some(by.clone());
            }
            CctsEvent::Evaluated {
                entity,
                year,
                achieved,
                outcome,
                deadline,
                ..
            } => {
                let c = self.cycle_mut(entity, *year)?;
                c.evaluation = Some((*achieved, outcome.clone(), *deadline));
            }
            CctsEvent::SurrenderRecorded {
                entity,
                year,
                quantity,
                citation,
            } => {
                let key = (citation.chain.clone(), citation.seq);
                if self.credited.contains(&key) {
                    return Err(rej(
                        Code::BUSINESS_KEY_USED,
                        "replay: surrender credited twice",
                    ));
                }
                let c = self.cycle_mut(entity, *year)?;
                c.surrendered = c.surrendered.saturating_add(*quantity);
                self.credited.insert(key);
            }
            CctsEvent::CompensationImposed {
                entity,
                year,
                amount,
                ..
            } => {
                let c = self.cycle_mut(entity, *year)?;
                c.compensation = Some(*amount);
            }
        }
        Ok(())
    }

    pub fn encode_state(&self, e: &mut Enc) {
        e.len(self.roles.len());
        for (a, rs) in &self.roles {
            e.str(a.as_str());
            e.len(rs.len());
            for r in rs {
                put_role(e, r);
            }
        }
        put_policy(e, &self.policy);
        e.len(self.entities.len());
        for (id, r) in &self.entities {
            e.str(id.as_str());
            e.str(&r.sector);
            put_dec(e, &r.baseline_output);
            put_dec(e, &r.baseline_gei);
            e.len(r.targets.len());
            for (y, t) in &r.targets {
                e.u16(*y);
                put_dec(e, t);
            }
            e.opt(&r.account, |e, (reg, a)| {
                e.registry(reg);
                e.u64(a.0);
            });
            e.len(r.cycles.len());
            for (y, c) in &r.cycles {
                e.u16(*y);
                e.opt(&c.performance, |e, (o, m)| {
                    put_dec(e, o);
                    put_dec(e, m);
                });
                e.opt(&c.verified_by, |e, a| e.str(a.as_str()));
                e.opt(&c.evaluation, |e, (a, o, d)| {
                    put_dec(e, a);
                    put_outcome(e, o);
                    e.i64(d.0);
                });
                e.u64(c.surrendered);
                e.opt(&c.compensation, put_dec);
            }
        }
        e.len(self.credited.len());
        for (c, s) in &self.credited {
            e.chain(c);
            e.u64(*s);
        }
    }
}

// ----- canonical encoding ---------------------------------------------------------------------

fn put_role(e: &mut Enc, r: &CctsRole) {
    match r {
        CctsRole::Administrator => e.u8(0),
        CctsRole::Verifier => e.u8(1),
        CctsRole::Entity(p) => {
            e.u8(2);
            e.str(p.as_str());
        }
        CctsRole::Cpcb => e.u8(3),
    }
}

fn get_role(d: &mut Dec) -> DR<CctsRole> {
    Ok(match d.u8()? {
        0 => CctsRole::Administrator,
        1 => CctsRole::Verifier,
        2 => CctsRole::Entity(tok(d.str()?, ProjectId::parse)?),
        3 => CctsRole::Cpcb,
        _ => return bad("unknown CCTS role"),
    })
}

fn put_policy(e: &mut Enc, p: &CctsPolicy) {
    e.u8(match p.issuance {
        IssuanceRounding::Floor => 0,
        IssuanceRounding::HalfUp => 1,
    });
    e.u8(match p.obligation {
        ObligationRounding::Ceil => 0,
        ObligationRounding::HalfUp => 1,
    });
    e.u8(match p.compensation_base {
        CompensationBase::ExactShortfallLessSurrendered => 0,
        CompensationBase::RoundedObligationLessSurrendered => 1,
    });
    e.u32(p.compensation_multiple);
    e.u32(p.surrender_deadline_days);
    e.u32(p.compensation_due_days);
    e.u16(p.validity_years);
}

fn get_policy(d: &mut Dec) -> DR<CctsPolicy> {
    Ok(CctsPolicy {
        issuance: match d.u8()? {
            0 => IssuanceRounding::Floor,
            1 => IssuanceRounding::HalfUp,
            _ => return bad("unknown rounding"),
        },
        obligation: match d.u8()? {
            0 => ObligationRounding::Ceil,
            1 => ObligationRounding::HalfUp,
            _ => return bad("unknown rounding"),
        },
        compensation_base: match d.u8()? {
            0 => CompensationBase::ExactShortfallLessSurrendered,
            1 => CompensationBase::RoundedObligationLessSurrendered,
            _ => return bad("unknown base"),
        },
        compensation_multiple: d.u32()?,
        surrender_deadline_days: d.u32()?,
        compensation_due_days: d.u32()?,
        validity_years: d.u16()?,
    })
}

fn put_outcome(e: &mut Enc, o: &Outcome) {
    match o {
        Outcome::Surplus {
            exact,
            certificates,
        } => {
            e.u8(0);
            put_dec(e, exact);
            e.u64(*certificates);
        }
        Outcome::Balanced => e.u8(1),
        Outcome::Shortfall { exact, obligation } => {
            e.u8(2);
            put_dec(e, exact);
            e.u64(*obligation);
        }
    }
}

fn get_outcome(d: &mut Dec) -> DR<Outcome> {
    Ok(match d.u8()? {
        0 => Outcome::Surplus {
            exact: get_dec(d)?,
            certificates: d.u64()?,
        },
        1 => Outcome::Balanced,
        2 => Outcome::Shortfall {
            exact: get_dec(d)?,
            obligation: d.u64()?,
        },
        _ => return bad("unknown outcome"),
    })
}

fn get_project(d: &mut Dec) -> DR<ProjectId> {
    tok(d.str()?, ProjectId::parse)
}

fn get_actor(d: &mut Dec) -> DR<Actor> {
    tok(d.str()?, Actor::parse)
}

fn put_rows(e: &mut Enc, rows: &[ScheduleRow]) {
    e.len(rows.len());
    for r in rows {
        e.str(r.entity.as_str());
        e.str(&r.sector);
        put_dec(e, &r.baseline_output);
        put_dec(e, &r.baseline_gei);
        e.len(r.targets.len());
        for (y, t) in &r.targets {
            e.u16(*y);
            put_dec(e, t);
        }
    }
}

fn get_rows(d: &mut Dec) -> DR<Vec<ScheduleRow>> {
    let n = d.count()?;
    let mut rows = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let entity = get_project(d)?;
        let sector = d.str()?.to_owned();
        let baseline_output = get_dec(d)?;
        let baseline_gei = get_dec(d)?;
        let m = d.count()?;
        let mut targets = Vec::with_capacity(m.min(64));
        for _ in 0..m {
            targets.push((d.u16()?, get_dec(d)?));
        }
        rows.push(ScheduleRow {
            entity,
            sector,
            baseline_output,
            baseline_gei,
            targets,
        });
    }
    Ok(rows)
}

/// Sub-tags inside event tag 74: 0 Appointed, 1 PolicySet, 2 ScheduleImported,
/// 3 AccountRegistered, 4 PerformanceSubmitted, 5 PerformanceVerified, 6 Evaluated,
/// 7 SurrenderRecorded, 8 CompensationImposed.
pub fn put_event(e: &mut Enc, ev: &CctsEvent) {
    match ev {
        CctsEvent::Appointed { actor, role, by } => {
            e.u8(0);
            e.str(actor.as_str());
            put_role(e, role);
            e.str(by.as_str());
        }
        CctsEvent::PolicySet(p) => {
            e.u8(1);
            put_policy(e, p);
        }
        CctsEvent::ScheduleImported(rows) => {
            e.u8(2);
            put_rows(e, rows);
        }
        CctsEvent::AccountRegistered {
            entity,
            registry,
            account,
        } => {
            e.u8(3);
            e.str(entity.as_str());
            e.registry(registry);
            e.u64(account.0);
        }
        CctsEvent::PerformanceSubmitted {
            entity,
            year,
            output,
            emissions,
            document,
            by,
        } => {
            e.u8(4);
            e.str(entity.as_str());
            e.u16(*year);
            put_dec(e, output);
            put_dec(e, emissions);
            put_doc(e, document);
            e.str(by.as_str());
        }
        CctsEvent::PerformanceVerified {
            entity,
            year,
            document,
            by,
        } => {
            e.u8(5);
            e.str(entity.as_str());
            e.u16(*year);
            put_doc(e, document);
            e.str(by.as_str());
        }
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
        } => {
            e.u8(6);
            e.str(entity.as_str());
            e.u16(*year);
            put_dec(e, achieved);
            put_dec(e, target);
            put_outcome(e, outcome);
            e.registry(registry);
            e.u64(account.0);
            e.i64(deadline.0);
            e.str(by.as_str());
        }
        CctsEvent::SurrenderRecorded {
            entity,
            year,
            quantity,
            citation,
        } => {
            e.u8(7);
            e.str(entity.as_str());
            e.u16(*year);
            e.u64(*quantity);
            e.citation(citation);
        }
        CctsEvent::CompensationImposed {
            entity,
            year,
            outstanding,
            average_price,
            amount,
            due,
            by,
        } => {
            e.u8(8);
            e.str(entity.as_str());
            e.u16(*year);
            e.u64(*outstanding);
            put_dec(e, average_price);
            put_dec(e, amount);
            e.i64(due.0);
            e.str(by.as_str());
        }
    }
}

pub fn get_event(d: &mut Dec) -> DR<CctsEvent> {
    Ok(match d.u8()? {
        0 => CctsEvent::Appointed {
            actor: get_actor(d)?,
            role: get_role(d)?,
            by: get_actor(d)?,
        },
        1 => CctsEvent::PolicySet(get_policy(d)?),
        2 => CctsEvent::ScheduleImported(get_rows(d)?),
        3 => CctsEvent::AccountRegistered {
            entity: get_project(d)?,
            registry: d.registry()?,
            account: AccountId(d.u64()?),
        },
        4 => CctsEvent::PerformanceSubmitted {
            entity: get_project(d)?,
            year: d.u16()?,
            output: get_dec(d)?,
            emissions: get_dec(d)?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        5 => CctsEvent::PerformanceVerified {
            entity: get_project(d)?,
            year: d.u16()?,
            document: get_doc(d)?,
            by: get_actor(d)?,
        },
        6 => CctsEvent::Evaluated {
            entity: get_project(d)?,
            year: d.u16()?,
            achieved: get_dec(d)?,
            target: get_dec(d)?,
            outcome: get_outcome(d)?,
            registry: d.registry()?,
            account: AccountId(d.u64()?),
            deadline: Timestamp(d.i64()?),
            by: get_actor(d)?,
        },
        7 => CctsEvent::SurrenderRecorded {
            entity: get_project(d)?,
            year: d.u16()?,
            quantity: d.u64()?,
            citation: d.citation()?,
        },
        8 => CctsEvent::CompensationImposed {
            entity: get_project(d)?,
            year: d.u16()?,
            outstanding: d.u64()?,
            average_price: get_dec(d)?,
            amount: get_dec(d)?,
            due: Timestamp(d.i64()?),
            by: get_actor(d)?,
        },
        _ => return bad("unknown CCTS event"),
    })
}
