//! `tanso report …`: a party's Article 6.2 annual information. The journal of every registry
//! is replayed and projected into action records (`tanso_core::article6::report`); the party's
//! authority chain gives its authorizations, NDC and time zone. The consistency checks run
//! before every export, and an export with failing checks is refused.

use crate::store::AnyStore;
use crate::{open_node, Cli};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tanso_core::article6::accounting::{self, Ledger, Ndc};
use tanso_core::article6::authority::{Authorization, FirstTransferDefinition, PartyA6};
use tanso_core::article6::itmo::{range_ids, CaId};
use tanso_core::article6::report::{
    self as proj, ActionRecord, ActionType, AuthInfo, HoldingRecord,
};
use tanso_core::registry::RegistryState;
use tanso_core::*;
use tanso_engine::{system_clock, Node};
use tanso_report as aef;

#[derive(Subcommand, Debug)]
pub enum ReportCmd {
    /// Writes a party's AEF workbook for a year (after the consistency checks).
    Aef(AefArgs),
    /// Runs the consistency checks alone.
    Check(PartyYear),
    /// Writes the charts (PNG and SVG): emissions balance against the NDC trajectory, and
    /// ITMO flows by year.
    Charts(ChartArgs),
}

#[derive(Args, Debug, Clone)]
pub struct PartyYear {
    #[arg(long)]
    pub party: String,
    #[arg(long)]
    pub year: u16,
}

#[derive(Args, Debug)]
pub struct AefArgs {
    #[command(flatten)]
    pub py: PartyYear,
    /// The workbook (xlsx), or the directory for `--format csv`.
    #[arg(long)]
    pub out: PathBuf,
    /// xlsx or csv (one file per table).
    #[arg(long, default_value = "xlsx")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct ChartArgs {
    #[arg(long)]
    pub party: String,
    /// Directory for the PNG and SVG files.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(cli: &Cli, what: &ReportCmd) -> Result<i32> {
    let node = open_node(&cli.location())?;
    match what {
        ReportCmd::Aef(a) => {
            let party = parse_party(&a.py.party)?;
            let data = collect(&node)?;
            let failures = checks(&data, party, a.py.year);
            print_checks(&failures, party, a.py.year);
            if !failures.is_empty() {
                eprintln!("report: not exported: the consistency checks fail");
                return Ok(1);
            }
            let files = export(&data, party, a.py.year, &a.out, &a.format)?;
            for f in files {
                println!("wrote {}", f.display());
            }
            Ok(0)
        }
        ReportCmd::Check(py) => {
            let party = parse_party(&py.party)?;
            let data = collect(&node)?;
            let failures = checks(&data, party, py.year);
            print_checks(&failures, party, py.year);
            Ok(if failures.is_empty() { 0 } else { 1 })
        }
        ReportCmd::Charts(c) => {
            let party = parse_party(&c.party)?;
            let data = collect(&node)?;
            for f in charts(&data, party, &c.out)? {
                println!("wrote {}", f.display());
            }
            Ok(0)
        }
    }
}

fn parse_party(s: &str) -> Result<PartyId> {
    PartyId::parse(s).map_err(|c| anyhow::anyhow!("party {s:?}: {c}"))
}

/// Everything the reports are built from.
pub struct Data {
    pub parties: BTreeMap<PartyId, PartyA6>,
    pub actions: Vec<ActionRecord>,
    /// Holdings at 31 December (in each registry party's time zone) of every year the
    /// journals cover, per registry: year → rows.
    pub holdings: BTreeMap<RegistryId, BTreeMap<u16, Vec<HoldingRecord>>>,
    /// Registry states at the end of the journal (for entity names).
    pub registries: BTreeMap<RegistryId, RegistryState>,
}

impl Data {
    fn auth(&self, r: &AuthorizationRef) -> Option<&Authorization> {
        self.parties
            .get(&r.party)?
            .authorization(&r.authorization, r.version)
    }

    fn tz(&self, p: PartyId) -> i32 {
        self.parties
            .get(&p)
            .and_then(|a| a.ndc.as_ref())
            .map_or(0, |(_, tz, _)| *tz)
    }

    fn ndc(&self, p: PartyId) -> Option<&Ndc> {
        self.parties.get(&p)?.ndc.as_ref().map(|(n, _, _)| n)
    }

    /// Holdings of a party's registries at 31 December of `year` (the latest snapshot at or
    /// before it: a year without entries holds what the previous year ended with).
    pub fn held_at(&self, party: PartyId, year: u16) -> Vec<HoldingRecord> {
        let mut out = Vec::new();
        for (r, by_year) in &self.holdings {
            if r.party() != party {
                continue;
            }
            if let Some((_, rows)) = by_year.range(..=year).next_back() {
                out.extend(rows.iter().cloned());
            }
        }
        out
    }
}

fn info(a: &Authorization) -> AuthInfo {
    AuthInfo {
        ca: a.ca,
        purposes: a.purposes,
        first_transfer_oimp: a.first_transfer_oimp,
        oimp_purpose: a.oimp_purpose.clone(),
        sector: a.sectors.join(", "),
    }
}

fn touches_itmos(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(
            e,
            Event::LabelsSet { .. }
                | Event::Retired { .. }
                | Event::Cancelled { .. }
                | Event::TransferDecided(_)
                | Event::InboundCommitted { .. }
        )
    })
}

/// Replays every registry chain, projecting action records and year-end holdings.
pub fn collect(node: &Node<AnyStore>) -> Result<Data> {
    let mut parties = BTreeMap::new();
    for c in node.chains() {
        if let (ChainId::PartyAuthority(p), Some(d)) = (&c.id, c.state.decisions()) {
            parties.insert(*p, d.a6.clone());
        }
    }
    let mut data = Data {
        parties,
        actions: Vec::new(),
        holdings: BTreeMap::new(),
        registries: BTreeMap::new(),
    };
    let registries: Vec<(ChainId, u64)> = node
        .chains()
        .filter(|c| matches!(c.id, ChainId::Registry(_)))
        .map(|c| (c.id.clone(), c.seq))
        .collect();
    for (chain, head) in registries {
        let ChainId::Registry(rid) = chain else {
            continue;
        };
        let tz = data.tz(rid.party());
        let mut state = ChainState::new(&chain);
        let mut year: Option<u16> = None;
        let mut years = BTreeMap::new();
        for seq in 1..=head {
            let (entry, _) = node
                .read_entry(&chain, seq)?
                .with_context(|| format!("{chain} entry {seq} missing"))?;
            let y = proj::local_date(entry.time, tz).year() as u16;
            if let Some(prev) = year {
                if y > prev {
                    let reg = state.registry().context("registry")?;
                    let rows = proj::holdings(reg, &|r| data.auth(r).map(info));
                    years.insert(prev, rows);
                }
            }
            year = Some(y);
            if touches_itmos(&entry.events) {
                let before = state.registry().context("registry")?.clone();
                let auth = |r: &AuthorizationRef| data.auth(r).map(info);
                let tzf = |p: PartyId| data.tz(p);
                data.actions.extend(proj::entry_actions(
                    &before,
                    entry.time,
                    &entry.events,
                    &auth,
                    &tzf,
                ));
            }
            state
                .replay(&entry.events)
                .map_err(|r| anyhow::anyhow!("{chain} entry {seq}: {r}"))?;
        }
        let reg = state.registry().context("registry")?;
        if let Some(y) = year {
            let rows = proj::holdings(reg, &|r| data.auth(r).map(info));
            years.insert(y, rows);
        }
        data.holdings.insert(rid, years);
        data.registries.insert(rid, reg.clone());
    }
    Ok(data)
}

/// A failed consistency check.
pub struct CheckFailure {
    pub code: Code,
    pub message: String,
}

fn rows_of(data: &Data, party: PartyId, year: u16) -> Vec<&ActionRecord> {
    data.actions
        .iter()
        .filter(|a| a.reporting == party && a.date.year() as u16 == year)
        .collect()
}

/// The consistency checks of REFERENCE §1.9, each with its code.
pub fn checks(data: &Data, party: PartyId, year: u16) -> Vec<CheckFailure> {
    let mut out = Vec::new();
    let mut fail = |code: Code, message: String| out.push(CheckFailure { code, message });
    // 1. First transfers within the authorized quantity (all years, all registries).
    for ((p, id), q) in proj::first_transferred_by_authorization(&data.actions) {
        let limit = data
            .parties
            .get(&p)
            .and_then(|a| a.authorizations.get(&id))
            .and_then(|v| v.last())
            .and_then(|a| a.quantity);
        if let Some(limit) = limit {
            if q > limit {
                fail(
                    Code::CHECK_FIRST_TRANSFER_ABOVE_AUTHORIZED,
                    format!("{p} {id}: {q} first transferred, {limit} authorized"),
                );
            }
        }
    }
    // 2. The holdings identity, per registry of the party.
    let prev = proj::held(&data.held_at(party, year.saturating_sub(1)));
    let now = proj::held(&data.held_at(party, year));
    let mine: Vec<ActionRecord> = rows_of(data, party, year).into_iter().cloned().collect();
    if let Err(e) = proj::holdings_identity(prev, now, &mine) {
        fail(
            Code::CHECK_HOLDINGS_IDENTITY,
            format!("{party} {year}: {e}"),
        );
    }
    // 3. No serial in two holdings rows.
    let mut seen = BTreeSet::new();
    let held = data.held_at(party, year);
    for h in &held {
        for other in seen.iter() {
            let (i, s, e): &(RegistryId, u64, u64) = other;
            if *i == h.range.issuing && *s <= h.range.range.end() && h.range.range.start() <= *e {
                fail(
                    Code::CHECK_SERIAL_TWICE,
                    format!("{} {} is held twice", h.range.issuing, h.range.range),
                );
            }
        }
        seen.insert((h.range.issuing, h.range.range.start(), h.range.range.end()));
    }
    // 4. No block used or cancelled twice.
    let mut ended: BTreeMap<RegistryId, Vec<(u64, u64)>> = BTreeMap::new();
    for a in data
        .actions
        .iter()
        .filter(|a| matches!(a.action, ActionType::Use | ActionType::Cancellation))
    {
        let v = ended.entry(a.range.issuing).or_default();
        let (s, e) = (a.range.range.start(), a.range.range.end());
        if v.iter().any(|(x, y)| *x <= e && s <= *y) {
            fail(
                Code::CHECK_USED_TWICE,
                format!(
                    "{} {} used or cancelled twice",
                    a.range.issuing, a.range.range
                ),
            );
        }
        v.push((s, e));
    }
    // 5. Every action and holdings row has its authorization row; 6. first transfers only
    // under an authorization; 7. vintage within it.
    for a in &mine {
        match data.auth(&a.authorization) {
            None => fail(
                if a.action == ActionType::FirstTransfer {
                    Code::CHECK_UNAUTHORIZED_FIRST_TRANSFER
                } else {
                    Code::CHECK_ROW_WITHOUT_AUTHORIZATION
                },
                format!(
                    "{} of {} has no authorization {}",
                    a.action.aef(),
                    a.range.range,
                    a.authorization.authorization
                ),
            ),
            Some(auth) => {
                if a.vintage < auth.first_vintage || a.vintage > auth.last_vintage {
                    fail(
                        Code::CHECK_VINTAGE_MISMATCH,
                        format!(
                            "vintage {} outside {}..{}",
                            a.vintage, auth.first_vintage, auth.last_vintage
                        ),
                    );
                }
            }
        }
    }
    for h in &held {
        if data.auth(&h.authorization).is_none() {
            fail(
                Code::CHECK_ROW_WITHOUT_AUTHORIZATION,
                format!("holding {} has no authorization", h.range.range),
            );
        }
    }
    // The party's emissions balance for the year must be computable (a check with missing
    // data does not pass: F13).
    match data.ndc(party) {
        None => fail(
            Code::NDC_UNKNOWN,
            format!("{party} has not recorded its NDC"),
        ),
        Some(_) => {
            if let Err(r) = accounting::emissions_balance(&ledger(data, party), year) {
                for f in r.failures {
                    fail(f.code, f.message);
                }
            }
        }
    }
    out
}

fn print_checks(f: &[CheckFailure], party: PartyId, year: u16) {
    if f.is_empty() {
        println!("consistency checks: {party} {year}: all pass");
    }
    for c in f {
        println!("check {} {}: {}", c.code.0, c.code.name(), c.message);
    }
}

/// The party's ledger: first transfers it made (by vintage), uses towards its NDC (by the
/// year of use), acquisitions, and its reported emissions.
pub fn ledger(data: &Data, party: PartyId) -> Ledger {
    let mut l = Ledger::default();
    if let Some(a) = data.parties.get(&party) {
        l.reported_emissions = a.emissions.clone();
    }
    for a in &data.actions {
        let q = rust_decimal::Decimal::from(a.quantity());
        let action_year = a.date.year() as u16;
        let act = match a.action {
            ActionType::FirstTransfer if a.authorization.party == party => {
                let Ok(v) = Vintage::new(a.vintage as i64) else {
                    continue;
                };
                accounting::Action::FirstTransfer {
                    action_year,
                    vintage: v,
                    quantity: q,
                }
            }
            ActionType::Use if a.reporting == party && a.use_year.is_some() => {
                accounting::Action::Use {
                    action_year,
                    for_year: a.use_year.unwrap_or(action_year),
                    quantity: q,
                }
            }
            ActionType::Acquisition if a.reporting == party => accounting::Action::Acquisition {
                action_year,
                quantity: q,
            },
            _ => continue,
        };
        let _ = l.record(&act);
    }
    l
}

fn date_of(d: Date) -> aef::Date {
    let (y, m, dd) = d.ymd();
    aef::Date::new(y as u16, m as u8, dd as u8).unwrap_or(aef::Date {
        y: 1970,
        m: 1,
        d: 1,
    })
}

fn block_of(
    ca: CaId,
    auth: &AuthorizationRef,
    registry: RegistryId,
    range: &IssuedRange,
    unit_start: u64,
    vintage: u16,
    project: &Option<ProjectId>,
) -> aef::ItmoBlock {
    let v = Vintage::new(vintage as i64).unwrap_or_else(|_| unreachable!("vintages are checked"));
    let (first, last) = range_ids(
        ca,
        range.issuing,
        auth.party,
        range.range.start(),
        range.range.end(),
        v,
    );
    let unit = |n: u64| match project {
        Some(p) => format!("{p}-{n}"),
        None => n.to_string(),
    };
    aef::ItmoBlock {
        cooperative_approach_id: ca.to_string(),
        authorization_id: auth.authorization.to_string(),
        first_transferring_party_id: auth.party.to_string(),
        party_itmo_registry_id: registry.to_string(),
        first_id: first.to_string(),
        last_id: last.to_string(),
        underlying_unit_registry_id: Some(range.issuing.to_string()),
        first_unit_id: Some(unit(unit_start)),
        last_unit_id: Some(unit(unit_start + range.range.len() - 1)),
        metric: aef::Metric::Ghg,
        gwp_values: Some("100-year values from the IPCC Fifth Assessment Report".into()),
        non_ghg_metric: None,
        quantity_t_co2e: Some(range.range.len()),
        quantity_non_ghg: None,
        mitigation_type: aef::MitigationType::EmissionReductions,
        vintage,
    }
}

fn entity_name(data: &Data, registry: RegistryId, holder: HolderId) -> String {
    let kind = data
        .registries
        .get(&registry)
        .and_then(|r| r.holder(holder))
        .map_or("holder".to_string(), |h| h.kind.to_string());
    format!("{registry} {kind} {}", holder.0)
}

/// The AEF model of a party's annual information.
pub fn aef_report(data: &Data, party: PartyId, year: u16) -> aef::AefReport {
    let ndc = data.ndc(party);
    let today = proj::local_date((system_clock())(), data.tz(party));
    let actions: Vec<&ActionRecord> = rows_of(data, party, year);
    let holdings = data.held_at(party, year);
    // Table 2: the party's own authorizations, and every authorization a row names.
    let mut refs: BTreeSet<(PartyId, DecisionId, u32)> = BTreeSet::new();
    if let Some(a6) = data.parties.get(&party) {
        for v in a6.authorizations.values() {
            for a in v {
                refs.insert((party, a.id.clone(), a.version));
            }
        }
    }
    for r in actions
        .iter()
        .map(|a| &a.authorization)
        .chain(holdings.iter().map(|h| &h.authorization))
    {
        refs.insert((r.party, r.authorization.clone(), r.version));
    }
    let mut authorizations = Vec::new();
    let mut entities = Vec::new();
    for (p, id, v) in &refs {
        let Some(a) = data.parties.get(p).and_then(|x| x.authorization(id, *v)) else {
            continue;
        };
        authorizations.push(aef::AuthorizationRow {
            authorization_id: a.id.to_string(),
            date: date_of(a.date),
            cooperative_approach_id: a.ca.to_string(),
            version: a.version,
            authorized_quantity: a.quantity,
            metric: aef::Metric::Ghg,
            gwp_values: Some("100-year values from the IPCC Fifth Assessment Report".into()),
            non_ghg_metric: None,
            sectors: (!a.sectors.is_empty()).then(|| a.sectors.join(", ")),
            activity_types: (!a.activity_types.is_empty()).then(|| a.activity_types.join(", ")),
            purposes: match (a.purposes.ndc, a.purposes.oimp) {
                (true, true) => aef::Purposes::NdcAndOimp,
                (false, true) => aef::Purposes::Oimp,
                _ => aef::Purposes::Ndc,
            },
            authorized_party_ids: Some(
                a.parties
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            authorized_entity_ids: (!a.entities.is_empty()).then(|| {
                a.entities
                    .iter()
                    .map(|e| format!("{}-{}", e.registry, e.holder.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            oimp_authorized: a.oimp_purpose.clone(),
            authorized_timeframe: Some(format!("vintages {}–{}", a.first_vintage, a.last_vintage)),
            terms_and_conditions: Some(format!("document sha256 {}", hex::encode(a.terms.hash))),
            documentation: Some(format!("sha256:{}", hex::encode(a.terms.hash))),
            first_transfer_definition: a.first_transfer_oimp.map(|f| match f {
                FirstTransferDefinition::Authorization => {
                    aef::FirstTransferDefinition::Authorization
                }
                FirstTransferDefinition::Issuance => aef::FirstTransferDefinition::Issuance,
                FirstTransferDefinition::UseOrCancellation => {
                    aef::FirstTransferDefinition::UseOrCancellation
                }
            }),
        });
        if *p == party {
            for e in &a.entities {
                entities.push(aef::EntityRow {
                    authorization_date: Some(date_of(a.date)),
                    name: entity_name(data, e.registry, e.holder),
                    country_of_incorporation: Some(e.registry.party().to_string()),
                    identification_number: Some(format!("{}-{}", e.registry, e.holder.0)),
                    cooperative_approach_id: Some(a.ca.to_string()),
                    conditions: Some(format!("authorization {} version {}", a.id, a.version)),
                    change_and_revocation_conditions: Some(
                        "as in the authorization's terms".into(),
                    ),
                    additional_information: None,
                });
            }
        }
    }
    let action_rows = actions
        .iter()
        .map(|a| aef::ActionRow {
            action_date: date_of(a.date),
            action_type: match a.action {
                ActionType::Acquisition => aef::ActionType::Acquisition,
                ActionType::Transfer => aef::ActionType::Transfer,
                ActionType::Use => aef::ActionType::Use,
                ActionType::Cancellation => aef::ActionType::Cancellation,
                ActionType::FirstTransfer => aef::ActionType::FirstTransfer,
            },
            action_subtype: Some(a.subtype.to_string()),
            block: block_of(
                a.ca,
                &a.authorization,
                a.registry,
                &a.range,
                a.unit_start,
                a.vintage,
                &a.project,
            ),
            transferring_party_id: a.transferring.map(|p| p.to_string()),
            acquiring_party_id: a.acquiring.map(|p| p.to_string()),
            oimp_purpose: a.oimp_purpose.clone(),
            using_cancelling_party_id: a.using.map(|p| p.to_string()),
            using_cancelling_entity_id: a.entity.map(|h| format!("{}-{}", a.registry, h.0)),
            ndc_use_year: a.use_year,
            additional_information: None,
        })
        .collect();
    let holding_rows = holdings
        .iter()
        .map(|h| aef::HoldingRow {
            block: block_of(
                h.ca,
                &h.authorization,
                h.registry,
                &h.range,
                h.unit_start,
                h.vintage,
                &h.project,
            ),
        })
        .collect();
    aef::AefReport {
        table1: aef::Table1 {
            party: party.to_string(),
            version: "1.0".into(),
            reported_year: year,
            submission_date: Some(date_of(today)),
            ndc_first_year: ndc.map_or(year, |n| n.first_year),
            ndc_last_year: ndc.map_or(year, |n| n.last_year),
        },
        authorizations,
        actions: action_rows,
        holdings: holding_rows,
        entities,
    }
}

/// Writes the workbook (or CSV files) and returns the files written.
pub fn export(
    data: &Data,
    party: PartyId,
    year: u16,
    out: &Path,
    format: &str,
) -> Result<Vec<PathBuf>> {
    let report = aef_report(data, party, year);
    match format {
        "xlsx" => {
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            aef::write_xlsx(&report, out)?;
            Ok(vec![out.to_path_buf()])
        }
        "csv" => {
            std::fs::create_dir_all(out)?;
            Ok(aef::write_csv(&report, out)?)
        }
        other => bail!("unknown format {other:?} (xlsx or csv)"),
    }
}

/// The two charts of a party, as PNG and SVG.
pub fn charts(data: &Data, party: PartyId, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let l = ledger(data, party);
    let mut balance = Vec::new();
    for y in l.reported_emissions.keys() {
        if let Ok(b) = accounting::emissions_balance(&l, *y) {
            balance.push((*y, b.round().try_into().unwrap_or(i64::MAX)));
        }
    }
    let trajectory: Vec<(u16, i64)> = data
        .parties
        .get(&party)
        .and_then(|a| a.ndc.as_ref())
        .map(|(_, _, t)| {
            t.iter()
                .map(|(y, v)| (*y, v.round().try_into().unwrap_or(i64::MAX)))
                .collect()
        })
        .unwrap_or_default();
    let mut flows: BTreeMap<u16, aef::ItmoFlows> = BTreeMap::new();
    for a in data.actions.iter().filter(|a| a.reporting == party) {
        let y = a.date.year() as u16;
        let f = flows.entry(y).or_insert(aef::ItmoFlows {
            year: y,
            first_transferred: 0,
            acquired: 0,
            used: 0,
            cancelled: 0,
        });
        match a.action {
            ActionType::FirstTransfer => f.first_transferred += a.quantity(),
            ActionType::Acquisition => f.acquired += a.quantity(),
            ActionType::Use => f.used += a.quantity(),
            ActionType::Cancellation => f.cancelled += a.quantity(),
            ActionType::Transfer => {}
        }
    }
    let flows: Vec<aef::ItmoFlows> = flows.into_values().collect();
    let mut files = Vec::new();
    for (name, chart) in [
        (
            "emissions_balance",
            aef::emissions_balance_chart(&balance, &trajectory),
        ),
        ("itmo_flows", aef::itmo_flows_chart(&flows)),
    ] {
        let base = dir.join(format!("{}_{name}", party.as_str().to_lowercase()));
        let svg = base.with_extension("svg");
        let png = base.with_extension("png");
        chart.write_svg(&svg)?;
        chart.write_png(&png, 1000, 600)?;
        files.push(svg);
        files.push(png);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    //! Each consistency check fails on the inconsistency it names (and only then).
    use super::*;
    use tanso_core::article6::accounting::{CaMethod, Metric, NdcKind};
    use tanso_core::article6::authority::{AuthorizedEntity, Purposes};
    use tanso_core::jcm::DocRef;

    fn p(s: &str) -> PartyId {
        PartyId::parse(s).expect("party")
    }
    fn r(s: &str) -> RegistryId {
        RegistryId::parse(s).expect("registry")
    }
    fn auth_ref() -> AuthorizationRef {
        AuthorizationRef {
            party: p("IND"),
            authorization: DecisionId::parse("AUTH-1").expect("id"),
            version: 1,
        }
    }

    /// India authorized 100 for Japan; Japan acquired 60 in 2026 and used 20, holding 40.
    fn data() -> Data {
        let mut ind = PartyA6::default();
        let a = Authorization {
            id: DecisionId::parse("AUTH-1").expect("id"),
            version: 1,
            ca: CaId::parse("CA0001").expect("ca"),
            date: Date::parse("2026-01-10").expect("d"),
            purposes: Purposes {
                ndc: true,
                oimp: false,
            },
            parties: vec![p("JPN")],
            entities: vec![AuthorizedEntity {
                registry: r("JPN01"),
                holder: HolderId(1),
            }],
            quantity: Some(100),
            first_vintage: 2021,
            last_vintage: 2030,
            activity_types: vec![],
            sectors: vec![],
            first_transfer_oimp: None,
            oimp_purpose: None,
            metric: Metric::Ghg,
            terms: DocRef {
                hash: [0; 32],
                size: 0,
            },
        };
        ind.authorizations.insert(a.id.clone(), vec![a]);
        let ndc = Ndc {
            kind: NdcKind::SingleYear,
            first_year: 2021,
            last_year: 2030,
            target_year: 2030,
            method: CaMethod::Trajectory,
            metric: Metric::Ghg,
        };
        ind.ndc = Some((ndc, 330, BTreeMap::new()));
        ind.emissions.insert(2026, "1000".parse().expect("d"));
        let mut jpn = PartyA6 {
            ndc: Some((ndc, 540, BTreeMap::new())),
            ..PartyA6::default()
        };
        jpn.emissions.insert(2026, "500".parse().expect("d"));
        let row = |action, s: u64, e: u64, reporting: &str, effect: i8| ActionRecord {
            reporting: p(reporting),
            date: Date::parse("2026-06-01").expect("d"),
            action,
            subtype: "test",
            authorization: auth_ref(),
            ca: CaId::parse("CA0001").expect("ca"),
            registry: r("JPN01"),
            range: IssuedRange {
                issuing: r("JPN01"),
                range: SerialRange::new(s, e).expect("r"),
            },
            unit_start: s,
            vintage: 2026,
            project: None,
            sector: String::new(),
            transferring: Some(p("IND")),
            acquiring: Some(p("JPN")),
            oimp_purpose: None,
            using: None,
            entity: None,
            use_year: Some(2026),
            holding_effect: effect,
        };
        let held = |s: u64, e: u64| HoldingRecord {
            authorization: auth_ref(),
            ca: CaId::parse("CA0001").expect("ca"),
            registry: r("JPN01"),
            range: IssuedRange {
                issuing: r("JPN01"),
                range: SerialRange::new(s, e).expect("r"),
            },
            unit_start: s,
            vintage: 2026,
            project: None,
        };
        let mut holdings = BTreeMap::new();
        holdings.insert(
            r("JPN01"),
            BTreeMap::from([(2025, vec![]), (2026, vec![held(21, 60)])]),
        );
        Data {
            parties: BTreeMap::from([(p("IND"), ind), (p("JPN"), jpn)]),
            actions: vec![
                row(ActionType::FirstTransfer, 1, 60, "IND", 0),
                row(ActionType::Acquisition, 1, 60, "JPN", 1),
                row(ActionType::Use, 1, 20, "JPN", -1),
            ],
            holdings,
            registries: BTreeMap::new(),
        }
    }

    fn codes(d: &Data, party: &str) -> Vec<Code> {
        checks(d, p(party), 2026).iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_consistent_year_passes() {
        assert_eq!(codes(&data(), "JPN"), vec![]);
        assert_eq!(codes(&data(), "IND"), vec![]);
    }

    #[test]
    fn first_transfers_above_the_authorized_quantity_fail_8601() {
        let mut d = data();
        let mut extra = d.actions[0].clone();
        extra.range.range = SerialRange::new(61, 120).expect("r");
        d.actions.push(extra);
        assert!(codes(&d, "IND").contains(&Code::CHECK_FIRST_TRANSFER_ABOVE_AUTHORIZED));
    }

    #[test]
    fn a_missing_action_breaks_the_holdings_identity_8602() {
        let mut d = data();
        d.actions.remove(2);
        assert_eq!(codes(&d, "JPN"), vec![Code::CHECK_HOLDINGS_IDENTITY]);
    }

    #[test]
    fn a_serial_held_twice_fails_8603() {
        let mut d = data();
        let rows = d
            .holdings
            .get_mut(&r("JPN01"))
            .and_then(|y| y.get_mut(&2026))
            .expect("rows");
        let mut twice = rows[0].clone();
        twice.range.range = SerialRange::new(50, 50).expect("r");
        rows.push(twice);
        let c = codes(&d, "JPN");
        assert!(c.contains(&Code::CHECK_SERIAL_TWICE), "{c:?}");
    }

    #[test]
    fn a_block_used_twice_fails_8604() {
        let mut d = data();
        let mut again = d.actions[2].clone();
        again.holding_effect = 0;
        d.actions.push(again);
        assert!(codes(&d, "JPN").contains(&Code::CHECK_USED_TWICE));
    }

    #[test]
    fn rows_without_their_authorization_fail_8605_and_8606() {
        let mut d = data();
        d.parties
            .get_mut(&p("IND"))
            .expect("ind")
            .authorizations
            .clear();
        assert!(codes(&d, "JPN").contains(&Code::CHECK_ROW_WITHOUT_AUTHORIZATION));
        assert!(codes(&d, "IND").contains(&Code::CHECK_UNAUTHORIZED_FIRST_TRANSFER));
    }

    #[test]
    fn a_vintage_outside_the_authorization_fails_8607() {
        let mut d = data();
        for a in d
            .parties
            .get_mut(&p("IND"))
            .expect("ind")
            .authorizations
            .values_mut()
        {
            a[0].last_vintage = 2025;
        }
        assert!(codes(&d, "JPN").contains(&Code::CHECK_VINTAGE_MISMATCH));
    }

    #[test]
    fn missing_emissions_do_not_pass_8514() {
        let mut d = data();
        d.parties.get_mut(&p("JPN")).expect("jpn").emissions.clear();
        assert_eq!(codes(&d, "JPN"), vec![Code::DATA_MISSING]);
    }
}
