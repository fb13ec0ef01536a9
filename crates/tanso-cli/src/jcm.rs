//! `tanso jcm …`: each step of the JCM project cycle as a command line, the document store
//! (files by SHA-256 with their metadata), and views of the mechanism's state.
//!
//! A step is the JSON command `jcm_<step>` (docs/COMMANDS.md) built from `key=value` fields
//! (a value that parses as JSON is taken as JSON, anything else as a string), submitted to
//! the mechanism chain as `--as ACTOR`. `--document FILE` stores the file and adds its
//! reference. The command id defaults to a hash of the command, so running the same step
//! twice returns the first answer instead of doing it twice.

use crate::apply::{answer_json, submission};
use crate::store::AnyStore;
use crate::{checkpoint, open_node, Cli};
use anyhow::{bail, Context, Result};
use clap::Args;
use comfy_table::Table;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use tanso_core::jcm::methodology::{self, ParamStage};
use tanso_core::jcm::{DecisionOutcome, JcmEvent, JcmState};
use tanso_core::{ChainId, Event};
use tanso_engine::{system_clock, Engine, Node, Outcome};
use tanso_wire::{content_hash, os_salt, parse_value};

#[derive(Args, Debug)]
pub struct JcmArgs {
    /// A step (`submit-pin`, `propose`, `concur`, `notify` … — every `jcm_*` command of
    /// docs/COMMANDS.md without its prefix), or: `issue` (a registry issues its lines of a
    /// notified decision: `registry=IND01 decision=JC-…`), `status`, `methodologies`,
    /// `compute` (`methodology=IN_AM001 version=1 NAME=VALUE …`), `documents`.
    pub step: String,
    /// `key=value` fields of the command.
    pub fields: Vec<String>,
    /// The actor taking the step.
    #[arg(long = "as")]
    pub actor: Option<String>,
    /// A document to store and reference (PDD, report, request form).
    #[arg(long)]
    pub document: Option<PathBuf>,
    /// The mechanism chain.
    #[arg(long, default_value = "mechanism:JCM-IND-JPN")]
    pub mechanism: String,
    /// Command id (default: derived from the command's content).
    #[arg(long)]
    pub id: Option<String>,
    /// Print the full JSON answer.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn field_map(fields: &[String]) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    for f in fields {
        let (k, v) = f
            .split_once('=')
            .with_context(|| format!("field {f:?} is not key=value"))?;
        let v = serde_json::from_str::<Value>(v).unwrap_or_else(|_| Value::String(v.into()));
        m.insert(k.to_string(), v);
    }
    Ok(m)
}

pub fn run(cli: &Cli, a: &JcmArgs) -> Result<i32> {
    match a.step.as_str() {
        "methodologies" => methodologies(a.json),
        "compute" => compute(&field_map(&a.fields)?),
        "status" => status(cli, a),
        "documents" => documents(cli),
        "issue" => issue(cli, a),
        step => {
            let mut m = field_map(&a.fields)?;
            if let Some(path) = &a.document {
                m.insert("document".into(), store_document(&cli.data, path)?);
            }
            let name = format!("jcm_{}", step.replace('-', "_"));
            let v = command_json(&a.mechanism, a.actor.as_deref(), &name, m, a.id.as_deref())?;
            submit_one(cli, v, a.json)
        }
    }
}

pub(crate) fn command_json(
    chain: &str,
    actor: Option<&str>,
    name: &str,
    mut m: Map<String, Value>,
    id: Option<&str>,
) -> Result<Value> {
    let actor = actor.context("--as ACTOR is required for a step")?;
    m.insert("chain".into(), json!(chain));
    m.insert("actor".into(), json!(actor));
    m.insert("command".into(), json!(name));
    let mut v = Value::Object(m);
    let id = match id {
        Some(i) => i.to_string(),
        None => format!("cli-{}", &hex::encode(content_hash(&v))[..24]),
    };
    v["id"] = json!(id);
    Ok(v)
}

/// Submits one command, prints its answer, signs checkpoints; exit 0 if accepted.
fn submit_one(cli: &Cli, v: Value, full: bool) -> Result<i32> {
    let node = open_node(&cli.location())?;
    submit_on(cli, node, v, full)
}

pub(crate) fn submit_on(cli: &Cli, node: Node<AnyStore>, v: Value, full: bool) -> Result<i32> {
    let engine = Engine::start(node, 1, system_clock());
    let p = match parse_value(&v, &mut os_salt) {
        Ok(p) => p,
        Err(u) => {
            let out = tanso_wire::out::rejection_json(u.id.as_deref(), &u.rejection, false, false);
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(1);
        }
    };
    let answer = engine
        .submit_async(submission(p))
        .recv()
        .context("writer stopped")?;
    let mut node = engine.shutdown().context("writer did not stop cleanly")?;
    if !node.is_poisoned() {
        checkpoint(&mut node, &cli.keys)?;
    }
    let out = answer_json(&answer, false);
    match &answer.outcome {
        Outcome::Accepted(x) if !full => {
            println!(
                "accepted{}: {} #{} {}",
                if answer.replayed { " (replayed)" } else { "" },
                x.chain,
                x.seq,
                hex::encode(x.hash)
            );
            for e in &out["events"].as_array().cloned().unwrap_or_default() {
                println!("  {e}");
            }
        }
        _ => println!("{}", serde_json::to_string_pretty(&out)?),
    }
    Ok(if matches!(answer.outcome, Outcome::Accepted(_)) {
        0
    } else {
        1
    })
}

/// `tanso jcm issue registry=IND01 decision=JC-…`: finds the decision's notification on the
/// mechanism chain and issues the registry's lines, citing it.
fn issue(cli: &Cli, a: &JcmArgs) -> Result<i32> {
    let m = field_map(&a.fields)?;
    let registry = m
        .get("registry")
        .and_then(Value::as_str)
        .context("registry=IND01 is required")?;
    let decision = m
        .get("decision")
        .and_then(Value::as_str)
        .context("decision=ID is required")?;
    let node = open_node(&cli.location())?;
    let chain = ChainId::parse(&a.mechanism).map_err(|c| anyhow::anyhow!("bad chain: {c}"))?;
    let (seq, hash) = find_notification(&node, &chain, decision)?
        .with_context(|| format!("no notification of decision {decision} on {chain}"))?;
    let mut f = Map::new();
    f.insert(
        "citation".into(),
        json!({"chain": chain.to_string(), "seq": seq, "hash": hex::encode(hash)}),
    );
    let v = command_json(
        registry,
        a.actor.as_deref().or(Some("registry-manager")),
        "issue_from_decision",
        f,
        a.id.as_deref(),
    )?;
    submit_on(cli, node, v, a.json)
}

/// The (sequence, entry hash) of the notification of `decision` on a mechanism chain.
pub fn find_notification(
    node: &Node<AnyStore>,
    chain: &ChainId,
    decision: &str,
) -> Result<Option<(u64, [u8; 32])>> {
    find_entry(
        node,
        chain,
        |ev| matches!(ev, Event::Jcm(JcmEvent::IssuanceNotified { decision: d, .. }) if d.as_str() == decision),
    )
}

/// The (sequence, entry hash) of the latest entry of `chain` with an event matching `pred`.
pub fn find_entry(
    node: &Node<AnyStore>,
    chain: &ChainId,
    pred: impl Fn(&Event) -> bool,
) -> Result<Option<(u64, [u8; 32])>> {
    let head = node.chain(chain).map_or(0, |c| c.seq);
    for seq in (1..=head).rev() {
        let Some((entry, hash)) = node.read_entry(chain, seq)? else {
            continue;
        };
        if entry.events.iter().any(&pred) {
            return Ok(Some((seq, hash)));
        }
    }
    Ok(None)
}

// ----- the document store ------------------------------------------------------------------------

fn documents_dir(data: &Path) -> PathBuf {
    data.join("documents")
}

/// Stores a file under its SHA-256 (durably: written, synced, renamed, directory synced) with
/// its metadata beside it, and returns its reference as the commands take it.
pub fn store_document(data: &Path, path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    store_document_bytes(
        data,
        &bytes,
        &path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

pub fn store_document_bytes(data: &Path, bytes: &[u8], name: &str) -> Result<Value> {
    let hash = hex::encode(Sha256::digest(bytes));
    let dir = documents_dir(data);
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let target = dir.join(&hash);
    if !target.exists() {
        let tmp = dir.join(format!("{hash}.tmp"));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        let meta = json!({"sha256": hash, "size": bytes.len(), "name": name,
            "media_type": media_type(name)});
        std::fs::write(
            dir.join(format!("{hash}.json")),
            serde_json::to_vec_pretty(&meta)?,
        )?;
        std::fs::File::open(&dir)?.sync_all()?;
    }
    Ok(json!({"sha256": hash, "size": bytes.len()}))
}

fn media_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "pdf" => "application/pdf",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "json" => "application/json",
        "txt" | "md" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Lists the stored documents and checks each against its hash.
fn documents(cli: &Cli) -> Result<i32> {
    let dir = documents_dir(&cli.data);
    let mut t = Table::new();
    t.set_header(vec!["sha256", "size", "name", "media type", "intact"]);
    let mut bad = 0;
    if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut names: Vec<_> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 64)
            .collect();
        names.sort();
        for n in names {
            let bytes = std::fs::read(dir.join(&n))?;
            let ok = hex::encode(Sha256::digest(&bytes)) == n;
            bad += usize::from(!ok);
            let meta: Value = std::fs::read(dir.join(format!("{n}.json")))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            t.add_row(vec![
                n[..16].to_string(),
                bytes.len().to_string(),
                meta["name"].as_str().unwrap_or("").to_string(),
                meta["media_type"].as_str().unwrap_or("").to_string(),
                if ok { "yes" } else { "NO" }.to_string(),
            ]);
        }
    }
    println!("{t}");
    Ok(if bad == 0 { 0 } else { 1 })
}

// ----- views --------------------------------------------------------------------------------------

fn methodologies(as_json: bool) -> Result<i32> {
    let mut all = Vec::new();
    for m in methodology::catalogue() {
        all.push(json!({
            "code": m.code(), "version": m.version(), "title": m.title(), "activity": m.activity(),
            "spec_hash": hex::encode(methodology::spec_hash(*m)), "formulas": m.formulas(),
            "parameters": m.parameters().iter().map(|p| json!({
                "name": p.name, "unit": p.unit, "description": p.description,
                "option": format!("{:?}", p.option),
                "stage": if p.stage == ParamStage::ExAnte { "ex_ante" } else { "monitored" },
                "default": p.default.as_ref().map(|d| json!({"value": d.value, "source": d.source})),
            })).collect::<Vec<_>>(),
            "criteria": m.criteria().iter().map(|c| json!({"code": c.code, "text": c.text})).collect::<Vec<_>>(),
        }));
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(0);
    }
    for m in &all {
        println!(
            "{} v{} — {} (India activity {})\n  spec {}\n  {}",
            m["code"].as_str().unwrap_or(""),
            m["version"],
            m["title"].as_str().unwrap_or(""),
            m["activity"],
            m["spec_hash"].as_str().unwrap_or(""),
            m["formulas"].as_str().unwrap_or("").replace('\n', "\n  ")
        );
        let mut t = Table::new();
        t.set_header(vec!["parameter", "unit", "option", "stage", "default"]);
        for p in m["parameters"].as_array().into_iter().flatten() {
            t.add_row(vec![
                p["name"].as_str().unwrap_or("").to_string(),
                p["unit"].as_str().unwrap_or("").to_string(),
                p["option"].as_str().unwrap_or("").to_string(),
                p["stage"].as_str().unwrap_or("").to_string(),
                p["default"]["value"].as_str().unwrap_or("-").to_string(),
            ]);
        }
        println!("{t}\n");
    }
    Ok(0)
}

/// Runs a methodology on values given on the command line: nothing is written.
fn compute(m: &Map<String, Value>) -> Result<i32> {
    let code = m
        .get("methodology")
        .and_then(Value::as_str)
        .context("methodology=CODE is required")?;
    let version = m.get("version").and_then(Value::as_u64).unwrap_or(1) as u32;
    let meth = methodology::find(code, version)
        .with_context(|| format!("no methodology {code} v{version}"))?;
    let (mut ex, mut mon) = (methodology::Params::new(), methodology::Params::new());
    for (k, v) in m {
        if k == "methodology" || k == "version" {
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let d = methodology::Decimal::from_str_exact(&text)
            .with_context(|| format!("{k}={text} is not an exact decimal"))?;
        let stage = meth
            .parameters()
            .iter()
            .find(|p| p.name == k)
            .map(|p| p.stage);
        if stage == Some(ParamStage::ExAnte) {
            ex.insert(k.clone(), d);
        } else {
            mon.insert(k.clone(), d);
        }
    }
    match methodology::evaluate(meth, &ex, &mon, methodology::Rounding::Floor) {
        Ok(c) => {
            for (k, v) in &c.inputs {
                println!("  {k} = {v}");
            }
            println!(
                "RE = {}\nPE = {}\nER = {}\ncredited (floor) = {}",
                c.re, c.pe, c.er, c.credited
            );
            Ok(0)
        }
        Err(r) => {
            println!("{r}");
            Ok(1)
        }
    }
}

fn status(cli: &Cli, a: &JcmArgs) -> Result<i32> {
    let node = open_node(&cli.location())?;
    let chain = ChainId::parse(&a.mechanism).map_err(|c| anyhow::anyhow!("bad chain: {c}"))?;
    let Some(state) = node
        .chain(&chain)
        .and_then(|c| c.state.decisions())
        .map(|d| &d.jcm)
    else {
        bail!("{chain} is not open here");
    };
    print_status(state);
    Ok(0)
}

pub fn print_status(s: &JcmState) {
    let mut t = Table::new();
    t.set_header(vec!["methodology", "status", "spec hash"]);
    for (m, r) in &s.methodologies {
        t.add_row(vec![
            m.to_string(),
            format!("{:?}", r.status),
            hex::encode(r.spec_hash)[..16].to_string(),
        ]);
    }
    println!("Methodologies\n{t}");
    let mut t = Table::new();
    t.set_header(vec![
        "project",
        "host",
        "activity",
        "status",
        "methodology",
        "crediting",
        "Art. 6.2",
        "periods",
    ]);
    for (id, p) in &s.projects {
        t.add_row(vec![
            id.to_string(),
            p.host.to_string(),
            p.activity.to_string(),
            p.status.name().to_string(),
            p.methodology.as_ref().map_or("-".into(), |m| m.to_string()),
            p.crediting
                .map_or("-".into(), |c| format!("{}..{}", c.start(), c.end())),
            if p.article6_eligible {
                "eligible"
            } else {
                "not eligible"
            }
            .to_string(),
            p.periods
                .iter()
                .map(|(n, mp)| {
                    format!(
                        "#{n} {}..{} ER {} → {} ({}{})",
                        mp.period.start(),
                        mp.period.end(),
                        mp.er,
                        mp.credited,
                        mp.status.name(),
                        mp.decided
                            .as_ref()
                            .map_or(String::new(), |(d, q)| format!(", {d}: {q}"))
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ]);
    }
    println!("Projects\n{t}");
    let mut t = Table::new();
    t.set_header(vec!["decision", "subject", "outcome", "approved by"]);
    for (d, o) in &s.motions {
        let (outcome, m) = match o {
            DecisionOutcome::Open(m) => ("open", m),
            DecisionOutcome::Adopted(m) => ("adopted", m),
            DecisionOutcome::Refused(m) => ("refused", m),
        };
        t.add_row(vec![
            d.to_string(),
            m.subject.name().to_string(),
            outcome.to_string(),
            m.approvals
                .iter()
                .map(|(p, a)| format!("{p}: {a}"))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    println!("Committee decisions\n{t}");
}
