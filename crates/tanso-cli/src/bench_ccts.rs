//! `tanso bench ccts`: India's CCTS compliance evaluation at scale, through the engine and the
//! durable SQLite store. A program that prints figures; it never passes or fails on time.
//!
//! Setup (not timed, its duration printed): the administrator's chain `mechanism:CCTS-IND` and
//! the registry `IND01`; an administrator, a verifier, one holder; N entity-holding accounts
//! (entity i → account 100000+i) and a surrender account; one `ImportSchedule` of N rows
//! (cement, baseline output 1,000,000, baseline GEI 1.0000, target 2025 0.9500); each entity's
//! account registered and representative appointed; a verified performance for every entity:
//! even i beat the target (GEI 0.9000 → a surplus of 50,000 certificates), odd i miss it
//! (GEI 0.9800 → an obligation of 30,000), and each odd entity is issued 30,000 CCCs up front
//! (a plain `issue`) so that it can surrender.
//!
//! Timed: `Evaluate` of every entity; as each evaluation's durable answer arrives, the registry
//! issues the certificates of a surplus (`IssueCertificates` citing that entry) or the entity
//! surrenders its 30,000 (`SurrenderCertificates`); as each surrender's durable answer arrives,
//! the CCTS chain credits it (`RecordSurrender` citing the registry entry). Each command is
//! acknowledged only once the commit holding it is durable (the engine's group commit, at most
//! 8,000 commands per commit). Then the registry's and the CCTS chain's states are checked.
//!
//! Submissions are built straight from core commands (no JSON; the content hash is the SHA-256
//! of the command id). Only the public API of `Engine` and `Node` is used.

use crate::store::AnyStore;
use crate::Cli;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use crossbeam_channel::Receiver;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tanso_core::ccts::compliance::Outcome as CctsOutcome;
use tanso_core::ccts::{CctsCommand, CctsEvent, CctsRole, ScheduleRow};
use tanso_core::jcm::DocRef;
use tanso_core::{
    AccountId, AccountKindCode, Actor, ChainId, Citation, Command, CommandId, Date, Event,
    HolderId, HolderKind, MechanismId, MitigationPeriod, PartyId, PersonalRef, ProjectId, Quantity,
    RegistryId, SetFilter, StraddlePolicy, UnitKindCode, UnitSelection, Vintage,
};
use tanso_engine::{system_clock, Accepted, Answer, Engine, Outcome, Submission};
use tanso_store::Store;

#[derive(Args, Debug)]
pub struct CctsArgs {
    /// Obligated entities (even ones beat their target, odd ones miss it).
    #[arg(long, default_value_t = 10_000)]
    entities: u64,
    /// Directory for the temporary store (a fresh subdirectory is made in it, and removed
    /// after). Default: beside --data, or in the system's temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Commands per durable commit at most (the engine's `batch_max`).
const BATCH_MAX: usize = 8_000;
const YEAR: u16 = 2025;
const SURPLUS: u64 = 50_000;
const OBLIGATION: u64 = 30_000;
const SURRENDER_ACCOUNT: u64 = 1;
const FIRST_ENTITY_ACCOUNT: u64 = 100_000;
/// The target, in wall time, for the timed phase at 10,000 entities.
const TARGET: Duration = Duration::from_secs(1);

pub fn run(cli: &Cli, args: &CctsArgs) -> Result<i32> {
    if args.entities < 2 {
        eprintln!("bench ccts: --entities must be at least 2");
        return Ok(2);
    }
    let dir = store_dir(cli, args)?;
    let result = bench(&dir, args.entities);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("bench ccts: could not remove {}: {e}", dir.display());
    }
    result.map(|()| 0)
}

/// A fresh directory for the store, inside --dir, beside --data, or in the temp directory.
fn store_dir(cli: &Cli, args: &CctsArgs) -> Result<PathBuf> {
    let parent = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
            dir.clone()
        }
        None => match cli.data.parent() {
            Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
            Some(p) if p.is_dir() => p.to_path_buf(),
            _ => std::env::temp_dir(),
        },
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = parent.join(format!("tanso-bench-ccts-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

fn parse<T>(s: &str, f: fn(&str) -> Result<T, tanso_core::Code>) -> Result<T> {
    f(s).map_err(|c| anyhow!("bad id {s}: {c}"))
}

/// Ids, actors and chains of the scheme.
struct Scheme {
    mech: ChainId,
    reg: ChainId,
    registry: RegistryId,
    operator: Actor,
    admin: Actor,
    verifier: Actor,
    registrar: Actor,
    ccc: UnitKindCode,
    fy: MitigationPeriod,
    document: DocRef,
}

impl Scheme {
    fn new() -> Result<Self> {
        let registry = parse("IND01", RegistryId::parse)?;
        let fy = MitigationPeriod::new(
            Date::from_ymd(i32::from(YEAR), 4, 1).map_err(|c| anyhow!("date: {c}"))?,
            Date::from_ymd(i32::from(YEAR) + 1, 3, 31).map_err(|c| anyhow!("date: {c}"))?,
        )
        .map_err(|c| anyhow!("period: {c}"))?;
        Ok(Scheme {
            mech: ChainId::Mechanism(parse("CCTS-IND", MechanismId::parse)?),
            reg: ChainId::Registry(registry),
            registry,
            operator: parse("operator", Actor::parse)?,
            admin: parse("bee", Actor::parse)?,
            verifier: parse("acva:one", Actor::parse)?,
            registrar: parse("registry", Actor::parse)?,
            ccc: parse("CCC", UnitKindCode::parse)?,
            fy,
            document: DocRef {
                hash: [3; 32],
                size: 9,
            },
        })
    }

    fn entity(i: u64) -> Result<ProjectId> {
        parse(&format!("E{i:05}"), ProjectId::parse)
    }

    fn rep(i: u64) -> Result<Actor> {
        parse(&format!("rep:E{i:05}"), Actor::parse)
    }

    fn account(i: u64) -> AccountId {
        AccountId(FIRST_ENTITY_ACCOUNT + i)
    }

    fn sub(
        &self,
        id: &str,
        chain: &ChainId,
        actor: &Actor,
        command: Command,
    ) -> Result<Submission> {
        Ok(Submission {
            id: CommandId::parse(id).map_err(|c| anyhow!("command id {id}: {c}"))?,
            chain: chain.clone(),
            actor: actor.clone(),
            content_hash: Sha256::digest(id.as_bytes()).into(),
            command: Ok(command),
            personal: Vec::new(),
            dry_run: false,
        })
    }

    fn ccts(&self, id: &str, actor: &Actor, c: CctsCommand) -> Result<Submission> {
        self.sub(id, &self.mech, actor, Command::Ccts(c))
    }

    fn registry_cmd(&self, id: &str, command: Command) -> Result<Submission> {
        self.sub(id, &self.reg, &self.registrar, command)
    }

    /// Every setup command, in order.
    fn setup(&self, n: u64) -> Result<Vec<Submission>> {
        let mut subs = Vec::with_capacity(usize::try_from(6 * n + 8).unwrap_or(0));
        subs.push(self.sub(
            "ccts-open",
            &self.mech,
            &self.operator,
            Command::OpenMechanism {
                mechanism: parse("CCTS-IND", MechanismId::parse)?,
                parties: vec![parse("IND", PartyId::parse)?],
            },
        )?);
        subs.push(self.ccts(
            "ccts-appoint-admin",
            &self.operator,
            CctsCommand::Appoint {
                actor: self.admin.clone(),
                role: CctsRole::Administrator,
            },
        )?);
        subs.push(self.ccts(
            "ccts-appoint-verifier",
            &self.admin,
            CctsCommand::Appoint {
                actor: self.verifier.clone(),
                role: CctsRole::Verifier,
            },
        )?);
        subs.push(self.registry_cmd(
            "ind-open",
            Command::OpenRegistry {
                registry: self.registry,
                straddle: StraddlePolicy::ProRataDaysRemainderLast,
            },
        )?);
        subs.push(self.registry_cmd(
            "ind-holder",
            Command::RegisterHolder {
                holder: HolderId(1),
                kind: parse("company", HolderKind::parse)?,
                name: PersonalRef([1; 32]),
            },
        )?);
        subs.push(self.registry_cmd(
            "ind-account-surrender",
            Command::OpenAccount {
                account: AccountId(SURRENDER_ACCOUNT),
                holder: HolderId(1),
                kind: parse("surrender", AccountKindCode::parse)?,
            },
        )?);
        let holding = parse("entity-holding", AccountKindCode::parse)?;
        for i in 1..=n {
            subs.push(self.registry_cmd(
                &format!("ind-account-{i}"),
                Command::OpenAccount {
                    account: Self::account(i),
                    holder: HolderId(1),
                    kind: holding.clone(),
                },
            )?);
        }
        let rows = (1..=n)
            .map(|i| {
                Ok(ScheduleRow {
                    entity: Self::entity(i)?,
                    sector: "cement".into(),
                    baseline_output: Decimal::from(1_000_000u64),
                    baseline_gei: Decimal::new(10_000, 4),
                    targets: vec![(YEAR, Decimal::new(9_500, 4))],
                })
            })
            .collect::<Result<Vec<_>>>()?;
        subs.push(self.ccts(
            "ccts-schedule",
            &self.admin,
            CctsCommand::ImportSchedule(rows),
        )?);
        for i in 1..=n {
            subs.push(self.ccts(
                &format!("ccts-account-{i}"),
                &self.admin,
                CctsCommand::RegisterAccount {
                    entity: Self::entity(i)?,
                    registry: self.registry,
                    account: Self::account(i),
                },
            )?);
        }
        for i in 1..=n {
            subs.push(self.ccts(
                &format!("ccts-appoint-{i}"),
                &self.admin,
                CctsCommand::Appoint {
                    actor: Self::rep(i)?,
                    role: CctsRole::Entity(Self::entity(i)?),
                },
            )?);
        }
        let output = Decimal::from(1_000_000u64);
        for i in 1..=n {
            // Even: GEI 0.9000 (surplus 50,000); odd: GEI 0.9800 (obligation 30,000).
            let gei = if i % 2 == 0 {
                Decimal::new(9_000, 4)
            } else {
                Decimal::new(9_800, 4)
            };
            subs.push(self.ccts(
                &format!("ccts-performance-{i}"),
                &Self::rep(i)?,
                CctsCommand::SubmitPerformance {
                    entity: Self::entity(i)?,
                    year: YEAR,
                    output,
                    emissions: gei * output,
                    document: self.document,
                },
            )?);
        }
        for i in 1..=n {
            subs.push(self.ccts(
                &format!("ccts-verify-{i}"),
                &self.verifier,
                CctsCommand::VerifyPerformance {
                    entity: Self::entity(i)?,
                    year: YEAR,
                    document: self.document,
                },
            )?);
        }
        let quantity = Quantity::new(OBLIGATION).map_err(|c| anyhow!("quantity: {c}"))?;
        let vintage = Vintage::new(i64::from(YEAR)).map_err(|c| anyhow!("vintage: {c}"))?;
        for i in (1..=n).filter(|i| i % 2 == 1) {
            subs.push(self.registry_cmd(
                &format!("ind-preissue-{i}"),
                Command::Issue {
                    account: Self::account(i),
                    kind: self.ccc.clone(),
                    project: Some(Self::entity(i)?),
                    period: self.fy,
                    vintage: Some(vintage),
                    quantity,
                    unit_start: None,
                    citation: None,
                    business_key: None,
                },
            )?);
        }
        Ok(subs)
    }

    fn evaluate(&self, i: u64) -> Result<Submission> {
        self.ccts(
            &format!("ccts-evaluate-{i}"),
            &self.admin,
            CctsCommand::Evaluate {
                entity: Self::entity(i)?,
                year: YEAR,
            },
        )
    }

    fn issue_certificates(&self, i: u64, evaluation: &Accepted) -> Result<Submission> {
        self.registry_cmd(
            &format!("ind-issue-certificates-{i}"),
            Command::IssueCertificates {
                citation: Citation {
                    chain: self.mech.clone(),
                    seq: evaluation.seq,
                    hash: evaluation.hash,
                },
                cited: None,
            },
        )
    }

    fn surrender(&self, i: u64) -> Result<Submission> {
        self.registry_cmd(
            &format!("ind-surrender-{i}"),
            Command::SurrenderCertificates {
                from: Self::account(i),
                to: AccountId(SURRENDER_ACCOUNT),
                units: UnitSelection::Quantity {
                    quantity: Quantity::new(OBLIGATION).map_err(|c| anyhow!("quantity: {c}"))?,
                    filter: SetFilter::default(),
                },
                entity: Self::entity(i)?,
                year: YEAR,
            },
        )
    }

    fn record_surrender(&self, i: u64, surrender: &Accepted) -> Result<Submission> {
        self.ccts(
            &format!("ccts-record-surrender-{i}"),
            &self.admin,
            CctsCommand::RecordSurrender {
                citation: Citation {
                    chain: self.reg.clone(),
                    seq: surrender.seq,
                    hash: surrender.hash,
                },
                cited: None,
            },
        )
    }
}

/// The accepted outcome of a durable answer; fails loudly on anything else.
fn accepted(rx: &Receiver<Answer>, what: &str) -> Result<Accepted> {
    let answer = rx
        .recv()
        .map_err(|_| anyhow!("{what}: the writer stopped without answering"))?;
    match answer.outcome {
        Outcome::Accepted(a) => Ok(a),
        Outcome::Rejected(r) => bail!("{what} ({}) was rejected: {r:?}", answer.id),
    }
}

fn syncs(engine: &Engine<AnyStore>) -> u64 {
    engine.with_node(|n| n.store().syncs())
}

fn bench(dir: &std::path::Path, n: u64) -> Result<()> {
    let scheme = Scheme::new()?;
    let node = crate::open_node(&crate::Location::dir(dir))?;
    let sync_mode = node.store().sync_mode();
    let engine = Engine::start(node, BATCH_MAX, system_clock());

    // ----- setup, not timed ------------------------------------------------------------------
    let started = Instant::now();
    let syncs_before = syncs(&engine);
    let setup = scheme.setup(n)?;
    let setup_commands = setup.len();
    let pending: Vec<Receiver<Answer>> =
        setup.into_iter().map(|s| engine.submit_async(s)).collect();
    let tenth = (pending.len() / 10).max(1);
    for (k, rx) in pending.iter().enumerate() {
        accepted(rx, "setup command")?;
        if (k + 1) % tenth == 0 {
            eprintln!(
                "bench ccts: setup {}/{setup_commands} durable after {:.1} s",
                k + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let setup_syncs = syncs(&engine) - syncs_before;
    println!(
        "ccts setup: {n} entities, {setup_commands} durable commands in {:.2} s ({setup_syncs} \
         syncs), not timed; store {} ({sync_mode})",
        started.elapsed().as_secs_f64(),
        dir.display()
    );

    // ----- timed: evaluate → issue or surrender → credit the surrender ------------------------
    let syncs_before = syncs(&engine);
    let started = Instant::now();
    let evaluations: Vec<(u64, Receiver<Answer>)> = (1..=n)
        .map(|i| Ok((i, engine.submit_async(scheme.evaluate(i)?))))
        .collect::<Result<_>>()?;
    let mut registry_steps = Vec::with_capacity(evaluations.len());
    for (i, rx) in &evaluations {
        let a = accepted(rx, "evaluation")?;
        let outcome = a.events.iter().find_map(|e| match e {
            Event::Ccts(CctsEvent::Evaluated { outcome, .. }) => Some(outcome),
            _ => None,
        });
        let next = match outcome {
            Some(CctsOutcome::Surplus { certificates, .. })
                if i % 2 == 0 && *certificates == SURPLUS =>
            {
                scheme.issue_certificates(*i, &a)?
            }
            Some(CctsOutcome::Shortfall { obligation, .. })
                if i % 2 == 1 && *obligation == OBLIGATION =>
            {
                scheme.surrender(*i)?
            }
            other => bail!("entity {i}: unexpected evaluation {other:?}"),
        };
        registry_steps.push((*i, engine.submit_async(next)));
    }
    let evaluated_at = started.elapsed();
    let mut credits = Vec::with_capacity(registry_steps.len() / 2 + 1);
    let (mut issuances, mut issued_units) = (0u64, 0u64);
    for (i, rx) in &registry_steps {
        if i % 2 == 0 {
            let a = accepted(rx, "certificate issuance")?;
            issuances += 1;
            issued_units += a
                .events
                .iter()
                .map(|e| match e {
                    Event::Issued { range, .. } => range.len(),
                    _ => 0,
                })
                .sum::<u64>();
        } else {
            let a = accepted(rx, "surrender")?;
            credits.push(engine.submit_async(scheme.record_surrender(*i, &a)?));
        }
    }
    let registry_at = started.elapsed();
    for rx in &credits {
        accepted(rx, "surrender credit")?;
    }
    let elapsed = started.elapsed();
    let timed_syncs = syncs(&engine) - syncs_before;
    let surrenders = credits.len() as u64;
    let commands = n + issuances + 2 * surrenders;

    // ----- check the end state ---------------------------------------------------------------
    let node = engine
        .shutdown()
        .ok_or_else(|| anyhow!("the writer did not stop cleanly"))?;
    if node.is_poisoned() {
        bail!("the node is poisoned after a failed commit");
    }
    let registry = node
        .chain(&scheme.reg)
        .and_then(|c| c.state.registry())
        .context("the registry chain is missing")?;
    let held = |a: AccountId| -> u64 { registry.holdings(a).iter().map(|b| b.range.len()).sum() };
    let mech = node
        .chain(&scheme.mech)
        .context("the CCTS chain is missing")?;
    let ccts = &mech
        .state
        .decisions()
        .context("the CCTS chain holds no decisions")?
        .ccts;
    let (mut surplus_held, mut credited) = (0u64, 0u64);
    for i in 1..=n {
        let cycle = ccts
            .entities
            .get(&Scheme::entity(i)?)
            .and_then(|e| e.cycles.get(&YEAR))
            .with_context(|| format!("entity {i} has no {YEAR} cycle"))?;
        if i % 2 == 0 {
            let h = held(Scheme::account(i));
            if h != SURPLUS {
                bail!("entity {i}'s account holds {h}, expected {SURPLUS}");
            }
            surplus_held += h;
        } else {
            if cycle.surrendered != OBLIGATION {
                bail!(
                    "entity {i} surrendered {}, expected {OBLIGATION}",
                    cycle.surrendered
                );
            }
            credited += cycle.surrendered;
        }
    }
    let halves = (n / 2, n - n / 2);
    let surrendered = held(AccountId(SURRENDER_ACCOUNT));
    if issued_units != halves.0 * SURPLUS || surplus_held != halves.0 * SURPLUS {
        bail!(
            "issued {issued_units} (held {surplus_held}), expected {}",
            halves.0 * SURPLUS
        );
    }
    if surrendered != halves.1 * OBLIGATION || credited != halves.1 * OBLIGATION {
        bail!(
            "the surrender account holds {surrendered}, credited {credited}; expected {}",
            halves.1 * OBLIGATION
        );
    }
    println!(
        "ccts checked: {} certificates issued to {issuances} surplus accounts, {} in the \
         surrender account, {surrenders} entities credited {} each",
        group(issued_units),
        group(surrendered),
        group(OBLIGATION),
    );

    let s = elapsed.as_secs_f64().max(1e-9);
    println!(
        "ccts timed: evaluations durable at {:.2} s, issuances and surrenders at {:.2} s, \
         credits at {:.2} s; {timed_syncs} syncs ({:.0} commands per sync); peak_rss_mib={}",
        evaluated_at.as_secs_f64(),
        registry_at.as_secs_f64(),
        s,
        commands as f64 / timed_syncs.max(1) as f64,
        peak_rss_mib().map_or("n/a".to_string(), |v| v.to_string()),
    );
    println!(
        "ccts: {n} entities evaluated, {issuances} issuances, {surrenders} surrenders credited: \
         {commands} durable commands in {s:.2} s ({} commands/s); target < {} s: {}",
        group((commands as f64 / s).round() as u64),
        TARGET.as_secs(),
        if elapsed < TARGET { "met" } else { "missed" }
    );
    Ok(())
}

/// `40300` → `"40,300"`.
fn group(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// VmHWM of this process, in MiB.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_puts_commas_between_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(40_300), "40,300");
        assert_eq!(group(1_234_567), "1,234,567");
    }
}
