//! Projections on PostgreSQL: plain tables that reporting tools read with SQL (`proj_actions`,
//! `proj_accounts`, `proj_blocks`, and `proj_progress`, how far each chain is projected).
//! They are derived from the journal and never read back by Tanso: the journal stays the only
//! truth, and a projection can be dropped and rebuilt from it.
//!
//! A pass has three steps, so that the writer is held only while rows are gathered in memory:
//! `progress` reads how far each chain is projected (no node needed); `collect`, with the
//! node, gathers the rows of at most `max_entries` new entries per chain: one `proj_actions`
//! row per event, and the current rows of the accounts (and their blocks) that the new events
//! name (their `account`, `from` and `to` fields), or of every account of the chain when an
//! event names none (a holder, a freeze, a registry setting); `write`, without the node, writes
//! each chain in one transaction, only if its progress is still where `collect` started.
//! Accounts and blocks therefore show the state at the last pass; actions may lag by a few
//! passes under heavy load.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use postgres::Client;
use serde_json::Value;
use tanso_core::{registry, AccountId, ChainId};
use tanso_engine::Node;
use tanso_wire::out::event_json;

use crate::query::block_json;
use crate::store::AnyStore;

/// Entries per chain that one pass projects at most.
pub const MAX_ENTRIES_PER_PASS: u64 = 4_000;

/// What one pass wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Projected {
    pub entries: u64,
    pub actions: u64,
    pub accounts: u64,
    pub blocks: u64,
}

struct Action {
    seq: i64,
    index: i32,
    command_id: String,
    actor: String,
    time: SystemTime,
    kind: String,
    quantity: Option<i64>,
    from: Option<i64>,
    to: Option<i64>,
    event: String,
}

struct AccountRow {
    account: i64,
    holder: String,
    kind: String,
    status: String,
    units: i64,
    blocks: Vec<BlockRow>,
}

struct BlockRow {
    issuing: String,
    first: i64,
    last: i64,
    units: i64,
    attributes: String,
}

/// The rows of one chain for one pass.
pub struct ChainRows {
    chain: String,
    from: u64,
    to: u64,
    actions: Vec<Action>,
    /// `None`: rewrite every account of the chain; else only these.
    rewrite: Option<Vec<i64>>,
    accounts: Vec<AccountRow>,
}

/// How far each chain is projected.
pub fn progress(client: &mut Client) -> Result<HashMap<String, u64>> {
    Ok(client
        .query("SELECT chain, seq FROM proj_progress", &[])?
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(0) as u64))
        .collect())
}

/// A connection for projections, when the journal is on PostgreSQL.
pub fn client(at: &crate::Location) -> Result<Option<Client>> {
    match at {
        crate::Location::Postgres { url, options } => Ok(Some(
            tanso_store_postgres::session(url, options).context("connect for projections")?,
        )),
        crate::Location::Dir(_) => Ok(None),
    }
}

/// Brings the projection tables up to the node's heads (every entry, pass after pass); a
/// no-op on the embedded store. For callers that hold the node anyway (CLI commands).
pub fn project(node: &Node<AnyStore>) -> Result<Projected> {
    let Some(pg) = node.store().as_postgres() else {
        return Ok(Projected::default());
    };
    let mut client = pg.projection_client().context("connect for projections")?;
    let mut total = Projected::default();
    loop {
        let done = progress(&mut client)?;
        let rows = collect(node, &done, MAX_ENTRIES_PER_PASS)?;
        if rows.is_empty() {
            return Ok(total);
        }
        let p = write(&mut client, rows)?;
        total.entries += p.entries;
        total.actions += p.actions;
        total.accounts += p.accounts;
        total.blocks += p.blocks;
        if p.entries == 0 {
            return Ok(total);
        }
    }
}

/// The account numbers an event names, or `None` when it names none.
fn named_accounts(event: &Value) -> Option<Vec<u64>> {
    let found: Vec<u64> = ["account", "from", "to"]
        .iter()
        .filter_map(|k| event.get(*k).and_then(Value::as_u64))
        .collect();
    (!found.is_empty()).then_some(found)
}

/// Gathers, with the node, the rows of the entries past `done` (at most `max_entries` per
/// chain). Reads only memory and the store's runs; writes nothing.
pub fn collect(
    node: &Node<AnyStore>,
    done: &HashMap<String, u64>,
    max_entries: u64,
) -> Result<Vec<ChainRows>> {
    let mut out = Vec::new();
    let chains: Vec<(ChainId, u64)> = node.chains().map(|c| (c.id.clone(), c.seq)).collect();
    for (id, head) in chains {
        let name = id.to_string();
        let from = done.get(&name).copied().unwrap_or(0);
        if from >= head {
            continue;
        }
        let to = head.min(from + max_entries.max(1));
        let mut actions = Vec::new();
        let mut touched: BTreeSet<u64> = BTreeSet::new();
        let mut all_accounts = from == 0;
        for seq in from + 1..=to {
            let Some((entry, _)) = node.read_entry(&id, seq)? else {
                anyhow::bail!("entry {seq} of {name} is missing");
            };
            let time = UNIX_EPOCH + Duration::from_micros(u64::try_from(entry.time.0).unwrap_or(0));
            for (k, event) in entry.events.iter().enumerate() {
                let v = event_json(event);
                match named_accounts(&v) {
                    Some(accounts) => touched.extend(accounts),
                    None => all_accounts = true,
                }
                actions.push(Action {
                    seq: seq as i64,
                    index: k as i32,
                    command_id: entry.command_id.as_str().to_owned(),
                    actor: entry.actor.as_str().to_owned(),
                    time,
                    kind: v["event"].as_str().unwrap_or("unknown").to_owned(),
                    quantity: v
                        .get("quantity")
                        .and_then(Value::as_u64)
                        .and_then(|q| i64::try_from(q).ok()),
                    from: v.get("from").and_then(Value::as_u64).map(|a| a as i64),
                    to: v.get("to").and_then(Value::as_u64).map(|a| a as i64),
                    event: v.to_string(),
                });
            }
        }
        let mut rows = ChainRows {
            chain: name,
            from,
            to,
            actions,
            rewrite: None,
            accounts: Vec::new(),
        };
        if let Some(state) = node.chain(&id).and_then(|c| c.state.registry()) {
            let accounts = state.accounts();
            let which: Vec<u64> = if all_accounts {
                accounts.keys().map(|a| a.0).collect()
            } else {
                rows.rewrite = Some(touched.iter().map(|a| *a as i64).collect());
                touched.into_iter().collect()
            };
            for number in which {
                let Some(account) = accounts.get(&AccountId(number)) else {
                    continue;
                };
                let blocks: Vec<registry::BlockView> = state.holdings(AccountId(number));
                rows.accounts.push(AccountRow {
                    account: number as i64,
                    holder: account.holder.0.to_string(),
                    kind: account.kind.as_str().to_owned(),
                    status: format!("{:?}", account.status).to_lowercase(),
                    units: blocks.iter().map(|b| b.range.len()).sum::<u64>() as i64,
                    blocks: blocks
                        .iter()
                        .map(|b| BlockRow {
                            issuing: b.issuing.as_str().to_owned(),
                            first: b.range.start() as i64,
                            last: b.range.end() as i64,
                            units: b.range.len() as i64,
                            attributes: block_json(b).to_string(),
                        })
                        .collect(),
                });
            }
        } else {
            rows.rewrite = Some(Vec::new());
        }
        out.push(rows);
    }
    Ok(out)
}

/// Writes gathered rows, one transaction per chain; a chain whose progress moved since
/// `collect` (another pass got there first) is skipped.
pub fn write(client: &mut Client, rows: Vec<ChainRows>) -> Result<Projected> {
    let mut out = Projected::default();
    for rows in rows {
        let name = rows.chain.clone();
        write_chain(client, rows, &mut out).with_context(|| format!("project chain {name}"))?;
    }
    Ok(out)
}

fn write_chain(client: &mut Client, rows: ChainRows, out: &mut Projected) -> Result<()> {
    let name = rows.chain.as_str();
    let mut tx = client.transaction()?;
    tx.execute(
        "INSERT INTO proj_progress (chain, seq) VALUES ($1, 0) ON CONFLICT (chain) DO NOTHING",
        &[&name],
    )?;
    let done: i64 = tx
        .query_one(
            "SELECT seq FROM proj_progress WHERE chain = $1 FOR UPDATE",
            &[&name],
        )?
        .get(0);
    if done != rows.from as i64 {
        return Ok(());
    }
    let insert_action = tx.prepare(
        "INSERT INTO proj_actions (chain, seq, event_index, command_id, actor, time, kind,
             quantity, from_account, to_account, event)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb)
         ON CONFLICT DO NOTHING",
    )?;
    for a in &rows.actions {
        tx.execute(
            &insert_action,
            &[
                &name,
                &a.seq,
                &a.index,
                &a.command_id,
                &a.actor,
                &a.time,
                &a.kind,
                &a.quantity,
                &a.from,
                &a.to,
                &a.event,
            ],
        )?;
        out.actions += 1;
    }
    match &rows.rewrite {
        None => {
            tx.execute("DELETE FROM proj_accounts WHERE chain = $1", &[&name])?;
            tx.execute("DELETE FROM proj_blocks WHERE chain = $1", &[&name])?;
        }
        Some(list) => {
            tx.execute(
                "DELETE FROM proj_accounts WHERE chain = $1 AND account = ANY($2)",
                &[&name, list],
            )?;
            tx.execute(
                "DELETE FROM proj_blocks WHERE chain = $1 AND account = ANY($2)",
                &[&name, list],
            )?;
        }
    }
    let insert_account = tx.prepare(
        "INSERT INTO proj_accounts (chain, account, holder, kind, status, units, blocks)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )?;
    let insert_block = tx.prepare(
        "INSERT INTO proj_blocks (chain, issuing, first_serial, last_serial, units, account,
             attributes)
         VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)",
    )?;
    for a in &rows.accounts {
        tx.execute(
            &insert_account,
            &[
                &name,
                &a.account,
                &a.holder,
                &a.kind,
                &a.status,
                &a.units,
                &(a.blocks.len() as i64),
            ],
        )?;
        for b in &a.blocks {
            tx.execute(
                &insert_block,
                &[
                    &name,
                    &b.issuing,
                    &b.first,
                    &b.last,
                    &b.units,
                    &a.account,
                    &b.attributes,
                ],
            )?;
            out.blocks += 1;
        }
        out.accounts += 1;
    }
    tx.execute(
        "UPDATE proj_progress SET seq = $2 WHERE chain = $1",
        &[&name, &(rows.to as i64)],
    )?;
    tx.commit()?;
    out.entries += rows.to - rows.from;
    Ok(())
}
