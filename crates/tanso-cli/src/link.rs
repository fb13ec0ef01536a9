//! Cross-registry transfers from the command line: `transfer-out`, `transfers`, and
//! `link run`, which pumps the link between the registries of one or two data directories in
//! one process over the in-process transport (the network link comes later; the state
//! machines will not change).

use crate::store::AnyStore;
use crate::{open_node, Cli};
use anyhow::{bail, Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_BORDERS_ONLY, Table};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tanso_core::link::{TransferStatus, Verdict};
use tanso_core::*;
use tanso_engine::link::{Faults, LinkDriver, LinkPolicy, LossyNet, Received, Transport};
use tanso_engine::{system_clock, Node, Outcome, Submission};

#[derive(Args, Debug)]
pub struct LinkRunArgs {
    /// A second data directory hosting the counterparty registry (if not in --data).
    #[arg(long)]
    pub peer: Option<PathBuf>,
    /// Stop once every transfer is decided, acknowledged and nothing is in flight.
    #[arg(long)]
    pub until_settled: bool,
    /// Stop after this many seconds at most.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Seed of the in-process network's faults and of retry jitter.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Messages dropped per thousand (fault injection).
    #[arg(long, default_value_t = 0)]
    pub drop_per_mille: u64,
    /// Messages duplicated per thousand (fault injection).
    #[arg(long, default_value_t = 0)]
    pub duplicate_per_mille: u64,
    /// First retry delay in milliseconds (then doubling, capped at 5 min).
    #[arg(long, default_value_t = 1000)]
    pub retry_ms: i64,
}

struct Party {
    node: Node<AnyStore>,
    driver: LinkDriver,
}

/// Counts of what a pump did.
#[derive(Debug, Default)]
pub struct PumpStats {
    pub delivered: u64,
    pub sent: u64,
    pub settled: bool,
}

fn hosts(node: &Node<AnyStore>, r: RegistryId) -> bool {
    node.chain(&ChainId::Registry(r))
        .and_then(|c| c.state.registry())
        .is_some()
}

/// Nothing left to do on the link: every outbound transfer decided and acknowledged, no
/// inbound transfer in doubt.
fn quiet(node: &Node<AnyStore>) -> bool {
    node.chains().filter_map(|c| c.state.registry()).all(|r| {
        r.link()
            .outbound
            .values()
            .all(|o| o.decision.is_some() && o.settled)
            && r.link()
                .inbound
                .values()
                .all(|i| i.status != TransferStatus::Accepted)
    })
}

fn pump(
    parties: &mut [Party],
    net: &mut dyn Transport,
    until_settled: bool,
    deadline: Instant,
) -> Result<PumpStats> {
    let clock = system_clock();
    let mut stats = PumpStats::default();
    loop {
        let now = clock();
        let mut busy = false;
        for p in parties.iter_mut() {
            p.driver
                .expire(&mut p.node, now)
                .context("run the coordinator's timer")?;
            for env in p.driver.due(&p.node, now) {
                net.send(&env, now);
                stats.sent += 1;
                busy = true;
            }
        }
        while let Some((to, bytes)) = net.recv(now) {
            busy = true;
            stats.delivered += 1;
            let Some(p) = parties.iter_mut().find(|p| hosts(&p.node, to)) else {
                continue; // nobody hosts it here: lost, like on a network
            };
            if let Received::Replies(replies) = p.driver.receive(&mut p.node, &bytes, now)? {
                for r in replies {
                    net.send(&r, now);
                    stats.sent += 1;
                }
            }
        }
        if until_settled && net.in_flight() == 0 && parties.iter().all(|p| quiet(&p.node)) {
            stats.settled = true;
            return Ok(stats);
        }
        if Instant::now() >= deadline {
            stats.settled = parties.iter().all(|p| quiet(&p.node));
            return Ok(stats);
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Runs the link inside one node (both registries hosted here) until every transfer settles.
pub fn settle_local(node: Node<AnyStore>) -> Result<(Node<AnyStore>, PumpStats)> {
    let mut parties = vec![Party {
        node,
        driver: LinkDriver::new(LinkPolicy::default(), 1),
    }];
    let mut net = LossyNet::new(1, Faults::default());
    let stats = pump(
        &mut parties,
        &mut net,
        true,
        Instant::now() + Duration::from_secs(30),
    )?;
    Ok((parties.remove(0).node, stats))
}

pub fn run_link(cli: &Cli, a: &LinkRunArgs) -> Result<i32> {
    let policy = LinkPolicy {
        retry_initial: a.retry_ms.max(1) * 1000,
        ..LinkPolicy::default()
    };
    let mut parties = vec![Party {
        node: open_node(&cli.location())?,
        driver: LinkDriver::new(policy, a.seed),
    }];
    if let Some(peer) = &a.peer {
        parties.push(Party {
            node: open_node(&crate::Location::dir(peer))?,
            driver: LinkDriver::new(policy, a.seed ^ 0x5eed),
        });
    }
    let mut net = LossyNet::new(
        a.seed,
        Faults {
            drop_per_mille: a.drop_per_mille,
            duplicate_per_mille: a.duplicate_per_mille,
            max_delay: 0,
        },
    );
    let stats = pump(
        &mut parties,
        &mut net,
        a.until_settled,
        Instant::now() + Duration::from_secs(a.seconds),
    )?;
    for p in &mut parties {
        crate::checkpoint(&mut p.node, &cli.keys)?;
    }
    println!(
        "link: {} messages sent, {} delivered, {}",
        stats.sent,
        stats.delivered,
        if stats.settled {
            "all transfers settled"
        } else {
            "transfers still open"
        }
    );
    Ok(if a.until_settled && !stats.settled {
        1
    } else {
        0
    })
}

#[derive(Args, Debug)]
pub struct TransferOutArgs {
    /// Sending registry (default IND01).
    #[arg(long, default_value = "IND01")]
    pub registry: String,
    /// Transferring account.
    #[arg(long)]
    pub from: u64,
    /// Acquiring registry and account, e.g. JPN01:2002.
    #[arg(long)]
    pub to: String,
    #[arg(long)]
    pub quantity: u64,
    /// Unit kind of the units to send.
    #[arg(long, default_value = "JCM")]
    pub kind: String,
    /// Vintage of the units to send (needed when the account holds several).
    #[arg(long)]
    pub vintage: Option<u16>,
    /// Project of the units to send.
    #[arg(long)]
    pub project: Option<String>,
    /// Command id (default: generated from the time).
    #[arg(long)]
    pub id: Option<String>,
    /// Seconds the coordinator waits for an answer before aborting (T_accept).
    #[arg(long, default_value_t = 24 * 3600)]
    pub decide_within: i64,
    /// Do not run the link afterwards, even if the acquiring registry is hosted here.
    #[arg(long)]
    pub no_link: bool,
}

pub fn transfer_out(cli: &Cli, a: &TransferOutArgs) -> Result<i32> {
    let registry = RegistryId::parse(&a.registry).map_err(|c| anyhow::anyhow!("registry: {c}"))?;
    let (to_r, to_a) =
        a.to.split_once(':')
            .context("--to is REGISTRY:ACCOUNT, e.g. JPN01:2002")?;
    let to_registry = RegistryId::parse(to_r).map_err(|c| anyhow::anyhow!("--to registry: {c}"))?;
    let to_account: u64 = to_a.parse().context("--to account is a number")?;
    let now = (system_clock())();
    let cmd = Command::TransferOut {
        from: AccountId(a.from),
        to_registry,
        to_account: AccountId(to_account),
        units: UnitSelection::Quantity {
            quantity: Quantity::new(a.quantity).map_err(|c| anyhow::anyhow!("quantity: {c}"))?,
            filter: SetFilter {
                kind: Some(UnitKindCode::parse(&a.kind).map_err(|c| anyhow::anyhow!("kind: {c}"))?),
                vintage: a
                    .vintage
                    .map(|v| Vintage::new(v as i64))
                    .transpose()
                    .map_err(|c| anyhow::anyhow!("vintage: {c}"))?,
                project: a
                    .project
                    .as_deref()
                    .map(ProjectId::parse)
                    .transpose()
                    .map_err(|c| anyhow::anyhow!("project: {c}"))?,
                ..SetFilter::default()
            },
        },
        decide_by: Timestamp(now.0 + a.decide_within * 1_000_000),
    };
    let id =
        a.id.clone()
            .unwrap_or_else(|| format!("transfer-out-{}", now.0));
    let mut node = open_node(&cli.location())?;
    let sub = Submission {
        id: CommandId::parse(&id).map_err(|c| anyhow::anyhow!("id: {c}"))?,
        chain: ChainId::Registry(registry),
        actor: Actor::parse("cli").unwrap_or_else(|_| unreachable!()),
        content_hash: sha2_digest(&format!("{cmd:?}")),
        command: Ok(cmd),
        personal: Vec::new(),
        dry_run: false,
    };
    let answer = node.submit_batch(vec![sub], now)?.remove(0);
    let transfer_id = match &answer.outcome {
        Outcome::Accepted(x) => match x.events.first() {
            Some(Event::TransferProposed { proposal, .. }) => proposal.transfer_id.clone(),
            _ => bail!("transfer-out produced no proposal"),
        },
        Outcome::Rejected(r) => {
            println!("{}", crate::apply::answer_json(&answer, false));
            eprintln!("transfer-out rejected: {r}");
            return Ok(1);
        }
    };
    println!("proposed {transfer_id}: {} units from {registry} account {} to {to_registry} account {to_account}", a.quantity, a.from);
    if !a.no_link && hosts(&node, to_registry) {
        node = settle_local(node)?.0;
        let s = node
            .chain(&ChainId::Registry(registry))
            .and_then(|c| c.state.registry());
        if let Some(o) = s.and_then(|s| s.link().outbound.get(&transfer_id)) {
            println!("{transfer_id}: {} ({})", o.status.name(), o.status.code());
        }
    } else {
        println!("run `tanso link run --until-settled` (with --peer DIR if {to_registry} lives elsewhere) to deliver it");
    }
    crate::checkpoint(&mut node, &cli.keys)?;
    Ok(0)
}

fn sha2_digest(s: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes()).into()
}

#[derive(Args, Debug)]
pub struct TransfersArgs {
    /// Only transfers in this status: a DES number (1, 4, 5, 6, 7, 8) or a name
    /// (proposed, completed, terminated, rejected, cancelled, accepted).
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// Every cross-registry transfer of the node (or of one registry), outbound and inbound.
pub fn transfer_rows(
    node: &Node<AnyStore>,
    registry: Option<RegistryId>,
) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for c in node.chains() {
        if registry.is_some_and(|w| c.id != ChainId::Registry(w)) {
            continue;
        }
        let Some(r) = c.state.registry() else {
            continue;
        };
        for (id, o) in &r.link().outbound {
            rows.push(json!({
                "registry": c.name, "direction": "out", "transfer_id": id.as_str(),
                "status": o.status.code(), "status_name": o.status.name(),
                "counterparty": format!("{}:{}", o.proposal.to_registry, o.proposal.to_account.0),
                "account": o.proposal.from_account.0, "quantity": o.proposal.quantity,
                "verdict": o.decision.as_ref().map(|d| if d.verdict == Verdict::Commit { "commit" } else { "abort" }),
                "settled": o.settled,
            }));
        }
        for (id, i) in &r.link().inbound {
            rows.push(json!({
                "registry": c.name, "direction": "in", "transfer_id": id.as_str(),
                "status": i.status.code(), "status_name": i.status.name(),
                "counterparty": i.from.as_str(),
                "account": i.credited_to.or(i.proposal.as_ref().map(|p| p.to_account)).map(|a| a.0),
                "quantity": i.proposal.as_ref().map(|p| p.quantity),
                "codes": i.codes.iter().map(|c| c.0).collect::<Vec<_>>(),
            }));
        }
    }
    rows
}

pub fn transfers(cli: &Cli, a: &TransfersArgs) -> Result<i32> {
    let want = match &a.status {
        None => None,
        Some(s) => Some(
            s.parse::<u8>()
                .ok()
                .and_then(TransferStatus::from_code)
                .or_else(|| {
                    [1u8, 4, 5, 6, 7, 8]
                        .into_iter()
                        .filter_map(TransferStatus::from_code)
                        .find(|t| t.name() == s)
                })
                .with_context(|| format!("unknown status {s:?}"))?,
        ),
    };
    let node = open_node(&cli.location())?;
    let mut rows = transfer_rows(&node, None);
    rows.retain(|r| want.is_none_or(|w| r["status"] == w.code()));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header(vec![
        "registry",
        "dir",
        "transfer",
        "status",
        "counterparty",
        "account",
        "quantity",
        "settled/codes",
    ]);
    for r in &rows {
        t.add_row(vec![
            r["registry"].as_str().unwrap_or("").to_string(),
            r["direction"].as_str().unwrap_or("").to_string(),
            r["transfer_id"].as_str().unwrap_or("").to_string(),
            format!(
                "{} {}",
                r["status"],
                r["status_name"].as_str().unwrap_or("")
            ),
            r["counterparty"].as_str().unwrap_or("").to_string(),
            r["account"].to_string(),
            r["quantity"].to_string(),
            if r["direction"] == "out" {
                r["settled"].to_string()
            } else {
                r["codes"].to_string()
            },
        ]);
    }
    println!("{t}");
    Ok(0)
}
