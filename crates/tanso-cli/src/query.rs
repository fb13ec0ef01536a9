//! Read-only commands: `verify`, `holdings`, `history`, `checks`.

use crate::{open_node, open_store, trusted_keys_path, Cli};
use anyhow::{bail, Context, Result};
use comfy_table::{presets::UTF8_BORDERS_ONLY, Table};
use serde_json::json;
use tanso_core::checks::{Class, CATALOGUE};
use tanso_core::entry::{split_run, Entry};
use tanso_core::*;
use tanso_engine::keys::TrustedKeys;
use tanso_engine::verify::verify as verify_store;
use tanso_store::Store;
use tanso_store_sqlite::history::{HistoryIndex, Touch};
use tanso_wire::out::{event_json, labels_json};

pub fn verify(cli: &Cli, trust: Option<&std::path::Path>) -> Result<i32> {
    let trust_path = trust
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| trusted_keys_path(&cli.keys));
    let trusted = TrustedKeys::load(&trust_path)
        .with_context(|| format!("load trusted keys {}", trust_path.display()))?;
    let store = open_store(&cli.location())?;
    match verify_store(&store, &trusted) {
        Ok(reports) => {
            if reports.is_empty() {
                println!("verify: ok — the journal is empty");
            }
            for r in &reports {
                println!(
                    "verify: ok {} entries={} events={} head={} state={} checkpoint_seq={} key={} unanchored={}",
                    r.chain,
                    r.entries,
                    r.events,
                    hex::encode(r.head_hash),
                    hex::encode(r.state_hash),
                    r.checkpoint_seq,
                    r.checkpoint_key,
                    r.unanchored
                );
            }
            Ok(0)
        }
        Err(e) => {
            println!("verify: FAILED {e}");
            Ok(1)
        }
    }
}

fn pick_registry(node_chains: &[ChainId], given: Option<&str>) -> Result<ChainId> {
    if let Some(g) = given {
        return ChainId::parse(g).map_err(|c| anyhow::anyhow!("registry {g:?} is malformed ({c})"));
    }
    let regs: Vec<&ChainId> = node_chains
        .iter()
        .filter(|c| matches!(c, ChainId::Registry(_)))
        .collect();
    match regs.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Ok(ChainId::parse("IND01").map_err(|c| anyhow::anyhow!("{c}"))?),
    }
}

pub fn holdings(cli: &Cli, account: u64, registry: Option<&str>, json_out: bool) -> Result<i32> {
    let node = open_node(&cli.location())?;
    let chains: Vec<ChainId> = node.chains().map(|c| c.id.clone()).collect();
    let chain = pick_registry(&chains, registry)?;
    let Some(state) = node.chain(&chain).and_then(|c| c.state.registry()) else {
        bail!("registry {chain} is not in {}", cli.data.display());
    };
    let Some(acc) = state.account(AccountId(account)) else {
        bail!("account {account} does not exist in {chain}");
    };
    let blocks = state.holdings(AccountId(account));
    if json_out {
        let v = json!({
            "registry": chain.to_string(),
            "account": account,
            "kind": acc.kind.as_str(),
            "status": tanso_wire::status_name(acc.status),
            "total": blocks.iter().map(|b| b.range.len()).sum::<u64>(),
            "blocks": blocks.iter().map(block_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{chain} account {account} ({}, {})",
            acc.kind.as_str(),
            tanso_wire::status_name(acc.status)
        );
        println!("{}", holdings_table(&blocks));
    }
    Ok(0)
}

/// One block as JSON (holdings, the API).
pub fn block_json(b: &registry::BlockView) -> serde_json::Value {
    json!({
        "issuing": b.issuing.as_str(), "start": b.range.start(), "end": b.range.end(),
        "quantity": b.range.len(), "unit_start": b.unit_start,
        "kind": b.attributes.kind.as_str(), "project": b.attributes.project.as_ref().map(|p| p.as_str()),
        "vintage": b.attributes.vintage.year(), "labels": labels_json(&b.labels),
        "hold": b.hold.as_ref().map(|h| h.as_str()),
        "frozen_by": b.frozen_by.iter().map(|h| h.as_str()).collect::<Vec<_>>(),
        "owner": b.owner.0,
    })
}

/// A table of blocks: serials, quantity, kind, project, vintage, hold.
pub fn holdings_table(blocks: &[registry::BlockView]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header(vec![
        "serials", "quantity", "kind", "project", "vintage", "unit ids", "held by",
    ]);
    for b in blocks {
        t.add_row(vec![
            format!("{} {}–{}", b.issuing, b.range.start(), b.range.end()),
            b.range.len().to_string(),
            b.attributes.kind.to_string(),
            b.attributes
                .project
                .as_ref()
                .map_or("-".into(), |p| p.to_string()),
            b.attributes.vintage.year().to_string(),
            format!("{}–{}", b.unit_start, b.unit_start + (b.range.len() - 1)),
            match (&b.hold, b.frozen_by.is_empty()) {
                (Some(h), _) => h.to_string(),
                (None, false) => format!(
                    "frozen: {}",
                    b.frozen_by
                        .iter()
                        .map(|h| h.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                (None, true) => "-".into(),
            },
        ]);
    }
    t
}

/// Brings the serial history index up to the journal: indexes every registry entry after
/// the index's watermark. The index is a projection; it may lag, and this is how it catches up.
pub fn catch_up_history(store: &dyn Store, index: &mut HistoryIndex) -> Result<u64> {
    let mut added = 0u64;
    for head in store.heads()? {
        if !matches!(ChainId::parse(&head.chain), Ok(ChainId::Registry(_))) {
            continue;
        }
        let from = index.watermark(&head.chain)?;
        if from >= head.seq {
            continue;
        }
        let mut touches = Vec::new();
        for run in store.read_runs(&head.chain, from + 1)? {
            for (i, raw) in split_run(&run.body)?.into_iter().enumerate() {
                let seq = run.first_seq + i as u64;
                if seq <= from {
                    continue;
                }
                let entry = Entry::decode_body(raw.body)?;
                for ev in &entry.events {
                    for r in ev.ranges() {
                        touches.push(Touch {
                            issuing: r.issuing.as_str().to_owned(),
                            start: r.range.start(),
                            end: r.range.end(),
                            seq,
                        });
                    }
                }
            }
        }
        added += touches.len() as u64;
        index.add(&head.chain, head.seq, &touches)?;
    }
    Ok(added)
}

/// An entry that touched a serial: the entry, its hash, and the events that touched it.
pub type Touching = (Entry, [u8; 32], Vec<Event>);

/// Every entry that touched the serial — its issuance and everything after — in chain then
/// sequence order: one indexed query, then the entries read by (chain, seq).
/// One entry that touched a serial, as the CLI (`--json`) and the API show it.
pub fn history_item_json(e: &Entry, hash: &[u8; 32], events: &[Event]) -> serde_json::Value {
    json!({
        "chain": e.chain.to_string(), "seq": e.seq, "hash": hex::encode(hash),
        "time": e.time.to_string(), "command_id": e.command_id.as_str(),
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
    })
}

pub fn history_of(
    store: &dyn Store,
    index: &HistoryIndex,
    issuing: RegistryId,
    serial: u64,
) -> Result<Vec<Touching>> {
    let mut out = Vec::new();
    for (chain, seq) in index.lookup(issuing.as_str(), serial)? {
        let Some(run) = store.run_containing(&chain, seq)? else {
            bail!("history index names {chain} #{seq}, which the journal does not hold");
        };
        let raws = split_run(&run.body)?;
        let raw = raws
            .get((seq - run.first_seq) as usize)
            .context("history index points past a run")?;
        let entry = Entry::decode_body(raw.body)?;
        let touching: Vec<Event> = entry
            .events
            .iter()
            .filter(|e| {
                e.ranges()
                    .iter()
                    .any(|r| r.issuing == issuing && r.range.contains(serial))
            })
            .cloned()
            .collect();
        if !touching.is_empty() {
            out.push((entry, raw.stored_hash, touching));
        }
    }
    Ok(out)
}

pub fn history(cli: &Cli, serial: u64, issuing: &str, json_out: bool) -> Result<i32> {
    let issuing = RegistryId::parse(issuing)
        .map_err(|c| anyhow::anyhow!("issuing registry {issuing:?} is malformed ({c})"))?;
    let store = open_store(&cli.location())?;
    let mut index = HistoryIndex::open(&cli.data)?;
    catch_up_history(&store, &mut index)?;
    let found = history_of(&store, &index, issuing, serial)?;
    if json_out {
        let v: Vec<_> = found
            .iter()
            .map(|(e, h, evs)| history_item_json(e, h, evs))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        if found.is_empty() {
            println!("serial {issuing} {serial}: no entry touched it");
            return Ok(1);
        }
        println!("serial {issuing} {serial}:");
        for (e, h, evs) in &found {
            for ev in evs {
                println!(
                    "  {} {}#{} {} {} {}",
                    e.time,
                    e.chain,
                    e.seq,
                    &hex::encode(h)[..12],
                    e.command_id,
                    event_json(ev)
                );
            }
        }
    }
    Ok(0)
}

pub fn checks(json_out: bool) -> Result<i32> {
    if json_out {
        let v: Vec<_> = CATALOGUE
            .iter()
            .map(|d| {
                json!({"code": d.code.0, "name": d.name, "family": d.family,
                "permanent": d.class == Class::Permanent, "text": d.text})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for d in CATALOGUE {
            let class = if d.class == Class::Permanent {
                "permanent"
            } else {
                "transient"
            };
            println!(
                "{} {:<30} {:<10} {:<14} {}",
                d.code, d.name, class, d.family, d.text
            );
        }
    }
    Ok(0)
}

pub fn personal(cli: &Cli, what: &crate::PersonalCmd) -> Result<i32> {
    let parse = |r: &str| -> Result<[u8; 32]> {
        let v = hex::decode(r).context("--ref is 64 hex digits")?;
        v.try_into()
            .map_err(|_| anyhow::anyhow!("--ref is 64 hex digits"))
    };
    let mut store = open_store(&cli.location())?;
    match what {
        crate::PersonalCmd::Show { reference } => {
            let r = parse(reference)?;
            match store.personal(&r)? {
                None => {
                    println!("no text behind {reference} (never stored, or erased)");
                    Ok(1)
                }
                Some(p) => {
                    use sha2::{Digest, Sha256};
                    let mut h = Sha256::new();
                    h.update(p.salt);
                    h.update(p.text.as_bytes());
                    let ok = <[u8; 32]>::from(h.finalize()) == r;
                    println!("{}", p.text);
                    eprintln!(
                        "salted hash {}",
                        if ok { "matches" } else { "DOES NOT MATCH" }
                    );
                    Ok(if ok { 0 } else { 1 })
                }
            }
        }
        crate::PersonalCmd::Erase { reference } => {
            let r = parse(reference)?;
            if store.erase_personal(&r)? {
                println!("erased the text behind {reference}; the chain keeps only its hash");
                Ok(0)
            } else {
                println!("nothing to erase behind {reference}");
                Ok(1)
            }
        }
    }
}
