//! `tanso ccts …`: India's CCTS. Each step is the JSON command `ccts_<step>` (docs/COMMANDS.md)
//! on the administrator's chain, built from `key=value` fields, taken `--as ACTOR`; plus
//! `import-schedule --file F` (the GEI Schedule as CSV: every row or none), `issue` (the
//! registry issues an evaluated surplus), `surrender` (the registry surrenders certificates
//! and the scheme credits them, citing the registry's entry) and `status`.

use crate::jcm::{command_json, field_map, submit_on};
use crate::store::AnyStore;
use crate::{open_node, Cli};
use anyhow::{bail, Context, Result};
use clap::Args;
use comfy_table::Table;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use tanso_core::ccts::compliance::Outcome;
use tanso_core::ccts::{CctsEvent, CctsState};
use tanso_core::{ChainId, Event};
use tanso_engine::Node;

#[derive(Args, Debug)]
pub struct CctsArgs {
    /// A step (`appoint`, `register-account`, `submit-performance`, `verify-performance`,
    /// `evaluate`, `impose-compensation`, `set-policy` …), or `import-schedule --file F`,
    /// `issue entity=E year=Y`, `surrender registry=IND01 from=A to=S quantity=Q entity=E
    /// year=Y`, `status`.
    pub step: String,
    /// `key=value` fields of the command.
    pub fields: Vec<String>,
    #[arg(long = "as")]
    pub actor: Option<String>,
    /// The GEI Schedule CSV, for `import-schedule`.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The scheme's chain.
    #[arg(long, default_value = "mechanism:CCTS-IND")]
    pub mechanism: String,
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, a: &CctsArgs) -> Result<i32> {
    match a.step.as_str() {
        "status" => {
            let node = open_node(&cli.location())?;
            let Some(s) = state(&node, &a.mechanism)? else {
                bail!("{} is not open here", a.mechanism);
            };
            println!("{}", status_table(&s));
            Ok(0)
        }
        "import-schedule" => {
            let path = a.file.as_ref().context("--file SCHEDULE.csv is required")?;
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read {}", path.display()))?;
            let rows = match crate::ccts_csv::parse_gei_schedule(&text) {
                Ok(rows) => rows,
                Err(errors) => {
                    for e in &errors {
                        eprintln!("{}:{}: {}", path.display(), e.line, e.reason);
                    }
                    eprintln!(
                        "import-schedule: nothing imported ({} bad rows)",
                        errors.len()
                    );
                    return Ok(1);
                }
            };
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| {
                    json!({"entity": r.entity.as_str(), "sector": r.sector,
                        "baseline_output": r.baseline_output.to_string(),
                        "baseline_gei": r.baseline_gei.to_string(),
                        "targets": r.targets.iter().map(|(y, t)| (y.to_string(), json!(t.to_string()))).collect::<Map<_, _>>()})
                })
                .collect();
            let mut m = Map::new();
            m.insert("rows".into(), Value::Array(rows));
            let v = command_json(
                &a.mechanism,
                a.actor.as_deref(),
                "ccts_import_schedule",
                m,
                a.id.as_deref(),
            )?;
            submit_on(cli, open_node(&cli.location())?, v, a.json)
        }
        "issue" => {
            let m = field_map(&a.fields)?;
            let entity = m
                .get("entity")
                .and_then(Value::as_str)
                .context("entity=E is required")?;
            let year = m
                .get("year")
                .and_then(Value::as_u64)
                .context("year=YYYY is required")?;
            let registry = m.get("registry").and_then(Value::as_str).unwrap_or("IND01");
            let node = open_node(&cli.location())?;
            let chain = ChainId::parse(&a.mechanism).map_err(|c| anyhow::anyhow!("{c}"))?;
            let (seq, hash) = find_evaluation(&node, &chain, entity, year as u16)?
                .with_context(|| format!("no evaluation of {entity} {year} on {chain}"))?;
            let mut f = Map::new();
            f.insert(
                "citation".into(),
                json!({"chain": chain.to_string(), "seq": seq, "hash": hex::encode(hash)}),
            );
            let v = command_json(
                registry,
                a.actor.as_deref().or(Some("registry-manager")),
                "issue_certificates",
                f,
                a.id.as_deref(),
            )?;
            submit_on(cli, node, v, a.json)
        }
        "surrender" => {
            let mut m = field_map(&a.fields)?;
            let registry = m
                .remove("registry")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "IND01".into());
            let v = command_json(
                &registry,
                a.actor.as_deref(),
                "surrender_certificates",
                m,
                a.id.as_deref(),
            )?;
            let node = open_node(&cli.location())?;
            let code = submit_on(cli, node, v.clone(), a.json)?;
            if code != 0 {
                return Ok(code);
            }
            // Credit it on the scheme's chain, citing the registry's entry.
            let node = open_node(&cli.location())?;
            let rchain = ChainId::parse(&registry).map_err(|c| anyhow::anyhow!("{c}"))?;
            let head = node.chain(&rchain).map_or(0, |c| c.seq);
            let (_, hash) = node.read_entry(&rchain, head)?.context("surrender entry")?;
            let mut f = Map::new();
            f.insert(
                "citation".into(),
                json!({"chain": registry, "seq": head, "hash": hex::encode(hash)}),
            );
            let v = command_json(
                &a.mechanism,
                a.actor.as_deref(),
                "ccts_record_surrender",
                f,
                None,
            )?;
            submit_on(cli, node, v, a.json)
        }
        step => {
            let m = field_map(&a.fields)?;
            let name = format!("ccts_{}", step.replace('-', "_"));
            let v = command_json(&a.mechanism, a.actor.as_deref(), &name, m, a.id.as_deref())?;
            submit_on(cli, open_node(&cli.location())?, v, a.json)
        }
    }
}

pub fn state(node: &Node<AnyStore>, mechanism: &str) -> Result<Option<CctsState>> {
    let chain = ChainId::parse(mechanism).map_err(|c| anyhow::anyhow!("bad chain: {c}"))?;
    Ok(node
        .chain(&chain)
        .and_then(|c| c.state.decisions())
        .map(|d| d.ccts.clone()))
}

/// The (sequence, hash) of the evaluation of an entity-year.
pub fn find_evaluation(
    node: &Node<AnyStore>,
    chain: &ChainId,
    entity: &str,
    year: u16,
) -> Result<Option<(u64, [u8; 32])>> {
    crate::jcm::find_entry(node, chain, |e| {
        matches!(e, Event::Ccts(CctsEvent::Evaluated { entity: en, year: y, .. })
            if en.as_str() == entity && *y == year)
    })
}

/// Who earned, who owes, who surrendered, who pays compensation.
pub fn status_table(s: &CctsState) -> Table {
    let mut t = Table::new();
    t.set_header(vec![
        "entity",
        "sector",
        "year",
        "target GEI",
        "achieved GEI",
        "result",
        "certificates earned",
        "to surrender",
        "surrendered",
        "outstanding",
        "compensation (INR)",
    ]);
    for (id, e) in &s.entities {
        for (y, c) in &e.cycles {
            let (achieved, result, earned, owed) = match &c.evaluation {
                None => ("-".to_string(), "not evaluated".to_string(), 0, 0),
                Some((a, o, _)) => (
                    a.round_dp(4).to_string(),
                    match o {
                        Outcome::Surplus { .. } => "surplus".into(),
                        Outcome::Balanced => "balanced".into(),
                        Outcome::Shortfall { exact, .. } => format!("shortfall {exact}"),
                    },
                    o.certificates(),
                    o.obligation(),
                ),
            };
            t.add_row(vec![
                id.to_string(),
                e.sector.clone(),
                format!("{y}-{:02}", (y + 1) % 100),
                e.targets.get(y).map_or("-".into(), |t| t.to_string()),
                achieved,
                result,
                earned.to_string(),
                owed.to_string(),
                c.surrendered.to_string(),
                owed.saturating_sub(c.surrendered).to_string(),
                c.compensation
                    .map_or("-".into(), |a| a.normalize().to_string()),
            ]);
        }
    }
    t
}
