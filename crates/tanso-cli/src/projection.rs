//! Projections on PostgreSQL: plain tables that reporting tools read with SQL (`proj_actions`,
//! `proj_accounts`, `proj_blocks`, and `proj_progress`, how far each chain is projected).
//! They are derived from the journal and never read back by Tanso: the journal stays the only
//! truth, and a projection can be dropped and rebuilt from it.
//!
//! Each pass writes, in one transaction per chain: one `proj_actions` row per event of every
//! entry past the chain's progress, then the accounts and blocks the new events name (the
//! `account`, `from` and `to` fields of their JSON), or every account of the chain when an
//! event names none (a holder, a freeze, a registry setting), then the new progress.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use postgres::Client;
use serde_json::Value;
use tanso_core::{registry, AccountId, ChainId};
use tanso_engine::Node;
use tanso_wire::out::event_json;

use crate::query::block_json;
use crate::store::AnyStore;

/// What one pass wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Projected {
    pub entries: u64,
    pub actions: u64,
    pub accounts: u64,
    pub blocks: u64,
}

/// Brings the projection tables up to the node's heads; a no-op on the embedded store.
pub fn project(node: &Node<AnyStore>) -> Result<Projected> {
    let Some(pg) = node.store().as_postgres() else {
        return Ok(Projected::default());
    };
    let mut client = pg.projection_client().context("connect for projections")?;
    let mut total = Projected::default();
    let chains: Vec<(ChainId, u64)> = node.chains().map(|c| (c.id.clone(), c.seq)).collect();
    for (id, head) in chains {
        let p = project_chain(node, &mut client, &id, head)
            .with_context(|| format!("project chain {id}"))?;
        total.entries += p.entries;
        total.actions += p.actions;
        total.accounts += p.accounts;
        total.blocks += p.blocks;
    }
    Ok(total)
}

/// The account numbers an event names, or `None` when it names none.
fn named_accounts(event: &Value) -> Option<Vec<u64>> {
    let found: Vec<u64> = ["account", "from", "to"]
        .iter()
        .filter_map(|k| event.get(*k).and_then(Value::as_u64))
        .collect();
    (!found.is_empty()).then_some(found)
}

fn project_chain(
    node: &Node<AnyStore>,
    client: &mut Client,
    id: &ChainId,
    head: u64,
) -> Result<Projected> {
    let name = id.to_string();
    let mut tx = client.transaction()?;
    let done: i64 = tx
        .query_opt(
            "SELECT seq FROM proj_progress WHERE chain = $1 FOR UPDATE",
            &[&name],
        )?
        .map_or(0, |r| r.get(0));
    let done = u64::try_from(done).unwrap_or(0);
    if done >= head {
        return Ok(Projected::default());
    }
    let insert_action = tx.prepare(
        "INSERT INTO proj_actions (chain, seq, event_index, command_id, actor, time, kind,
             quantity, from_account, to_account, event)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb)
         ON CONFLICT DO NOTHING",
    )?;
    let mut out = Projected::default();
    let mut touched: BTreeSet<u64> = BTreeSet::new();
    let mut all_accounts = done == 0;
    for seq in done + 1..=head {
        let Some((entry, _)) = node.read_entry(id, seq)? else {
            anyhow::bail!("entry {seq} of {name} is missing");
        };
        let time = UNIX_EPOCH + Duration::from_micros(u64::try_from(entry.time.0).unwrap_or(0));
        let time: SystemTime = time;
        for (k, event) in entry.events.iter().enumerate() {
            let v = event_json(event);
            match named_accounts(&v) {
                Some(accounts) => touched.extend(accounts),
                None => all_accounts = true,
            }
            let kind = v["event"].as_str().unwrap_or("unknown").to_string();
            let quantity = v
                .get("quantity")
                .and_then(Value::as_u64)
                .and_then(|q| i64::try_from(q).ok());
            let from = v.get("from").and_then(Value::as_u64).map(|a| a as i64);
            let to = v.get("to").and_then(Value::as_u64).map(|a| a as i64);
            tx.execute(
                &insert_action,
                &[
                    &name,
                    &(seq as i64),
                    &(k as i32),
                    &entry.command_id.as_str(),
                    &entry.actor.as_str(),
                    &time,
                    &kind,
                    &quantity,
                    &from,
                    &to,
                    &v.to_string(),
                ],
            )?;
            out.actions += 1;
        }
        out.entries += 1;
    }
    if let Some(state) = node.chain(id).and_then(|c| c.state.registry()) {
        let accounts = state.accounts();
        let which: Vec<u64> = if all_accounts {
            tx.execute("DELETE FROM proj_accounts WHERE chain = $1", &[&name])?;
            tx.execute("DELETE FROM proj_blocks WHERE chain = $1", &[&name])?;
            accounts.keys().map(|a| a.0).collect()
        } else {
            let list: Vec<i64> = touched.iter().map(|a| *a as i64).collect();
            tx.execute(
                "DELETE FROM proj_accounts WHERE chain = $1 AND account = ANY($2)",
                &[&name, &list],
            )?;
            tx.execute(
                "DELETE FROM proj_blocks WHERE chain = $1 AND account = ANY($2)",
                &[&name, &list],
            )?;
            touched.into_iter().collect()
        };
        let insert_account = tx.prepare(
            "INSERT INTO proj_accounts (chain, account, holder, kind, status, units, blocks)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )?;
        let insert_block = tx.prepare(
            "INSERT INTO proj_blocks (chain, issuing, first_serial, last_serial, units, account,
                 attributes)
             VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)",
        )?;
        for number in which {
            let Some(account) = accounts.get(&AccountId(number)) else {
                continue;
            };
            let blocks: Vec<registry::BlockView> = state.holdings(AccountId(number));
            let units: u64 = blocks.iter().map(|b| b.range.len()).sum();
            tx.execute(
                &insert_account,
                &[
                    &name,
                    &(number as i64),
                    &account.holder.0.to_string(),
                    &account.kind.as_str(),
                    &format!("{:?}", account.status).to_lowercase(),
                    &(units as i64),
                    &(blocks.len() as i64),
                ],
            )?;
            for b in &blocks {
                tx.execute(
                    &insert_block,
                    &[
                        &name,
                        &b.issuing.as_str(),
                        &(b.range.start() as i64),
                        &(b.range.end() as i64),
                        &(b.range.len() as i64),
                        &(number as i64),
                        &block_json(b).to_string(),
                    ],
                )?;
                out.blocks += 1;
            }
            out.accounts += 1;
        }
    }
    tx.execute(
        "INSERT INTO proj_progress (chain, seq) VALUES ($1, $2)
         ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq",
        &[&name, &(head as i64)],
    )?;
    tx.commit()?;
    Ok(out)
}
