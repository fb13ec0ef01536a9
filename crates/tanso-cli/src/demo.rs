//! `tanso demo`: India's and Japan's registries, the JCM Joint Committee, holders and accounts,
//! an issuance split between the two registries under one Committee decision, transfers with
//! splits, a retirement, a cancellation, a burst of small transfers, and the holdings.
//!
//! Every step goes through the same JSON commands as `tanso apply` (see docs/COMMANDS.md).

use crate::apply::{answer_json, submission};
use crate::query::holdings_table;
use crate::{checkpoint, open_node, Cli};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tanso_core::{AccountId, ChainId};
use tanso_engine::{system_clock, Answer, Engine, Outcome};
use tanso_store_sqlite::SqliteStore;
use tanso_wire::{os_salt, parse_value};

struct Demo {
    engine: Engine<SqliteStore>,
    next: u64,
}

impl Demo {
    fn id(&mut self) -> String {
        self.next += 1;
        format!("demo-{:05}", self.next)
    }

    /// Submits commands (all at once, so they share durable batches) and returns the answers.
    fn run(&mut self, cmds: Vec<Value>) -> Result<Vec<Answer>> {
        let mut rxs = Vec::with_capacity(cmds.len());
        for mut c in cmds {
            if c.get("id").is_none() {
                c["id"] = json!(self.id());
            }
            let p = parse_value(&c, &mut os_salt)
                .map_err(|u| anyhow::anyhow!("demo command is malformed: {}", u.rejection))?;
            rxs.push(self.engine.submit_async(submission(p)));
        }
        rxs.into_iter()
            .map(|rx| rx.recv().context("writer stopped"))
            .collect()
    }

    /// Like `run`, but every command must be accepted.
    fn must(&mut self, cmds: Vec<Value>) -> Result<Vec<Answer>> {
        let answers = self.run(cmds)?;
        for a in &answers {
            if let Outcome::Rejected(r) = &a.outcome {
                bail!("demo step {} was rejected: {r}", a.id);
            }
        }
        Ok(answers)
    }
}

fn cmd(chain: &str, actor: &str, command: &str, fields: Value) -> Value {
    let mut v = json!({"chain": chain, "actor": actor, "command": command});
    if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
        o.extend(f);
    }
    v
}

fn accepted(a: &Answer) -> Option<&tanso_engine::Accepted> {
    match &a.outcome {
        Outcome::Accepted(x) => Some(x),
        Outcome::Rejected(_) => None,
    }
}

pub fn run(cli: &Cli, fresh: bool) -> Result<i32> {
    let data = &cli.data;
    let non_empty = data
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if non_empty {
        if !fresh {
            eprintln!(
                "demo: refusing to run: {} is not empty (it may hold a registry). \
                 Run `tanso demo --fresh` to wipe it and start fresh, or pass --data DIR.",
                data.display()
            );
            return Ok(1);
        }
        std::fs::remove_dir_all(data).with_context(|| format!("wipe {}", data.display()))?;
        println!("demo: starting fresh: wiped {}", data.display());
    } else {
        println!("demo: starting in empty {}", data.display());
    }
    let node = open_node(data)?;
    let mut d = Demo {
        engine: Engine::start(node, 8000, system_clock()),
        next: 0,
    };

    println!("\n1. Chains: India's registry IND01, Japan's registry JPN01, the JCM Joint Committee, both parties' authorities");
    d.must(vec![
        cmd("IND01", "admin:ind", "open_registry", json!({})),
        cmd("JPN01", "admin:jpn", "open_registry", json!({})),
        cmd(
            "mechanism:JCM-IND-JPN",
            "secretariat",
            "open_mechanism",
            json!({"parties": ["IND", "JPN"]}),
        ),
        cmd("party:IND", "moefcc", "open_party_authority", json!({})),
        cmd("party:JPN", "moej", "open_party_authority", json!({})),
    ])?;

    println!(
        "2. Holders and accounts (names go to the erasable side store; chains carry salted hashes)"
    );
    let mut setup = Vec::new();
    for (chain, holder, kind, name) in [
        ("IND01", 1, "government", "Government of India"),
        (
            "IND01",
            2,
            "company",
            "Surya Solar Pvt Ltd (project participant)",
        ),
        ("IND01", 3, "company", "Bharat Steel Ltd (buyer)"),
        ("JPN01", 1, "government", "Government of Japan"),
        (
            "JPN01",
            2,
            "company",
            "Nihon Energy KK (project participant)",
        ),
    ] {
        setup.push(cmd(
            chain,
            "officer",
            "register_holder",
            json!({"holder": holder, "kind": kind, "name": name}),
        ));
    }
    for (chain, account, holder, kind) in [
        ("IND01", 1001, 1, "party-holding"),
        ("IND01", 1002, 2, "entity-holding"),
        ("IND01", 1003, 3, "entity-holding"),
        ("IND01", 1080, 1, "pending-issuance"),
        ("IND01", 1090, 1, "retirement"),
        ("IND01", 1091, 1, "voluntary-cancellation"),
        ("IND01", 1092, 1, "omge-cancellation"),
        ("JPN01", 2001, 1, "party-holding"),
        ("JPN01", 2002, 2, "entity-holding"),
        ("JPN01", 2080, 1, "pending-issuance"),
    ] {
        setup.push(cmd(
            chain,
            "officer",
            "open_account",
            json!({"account": account, "holder": holder, "kind": kind}),
        ));
    }
    d.must(setup)?;

    println!("3. The Joint Committee decides an issuance of 1,090 JCM credits (TV-8b: 1,500 MWh × 0.727)");
    let decision = d.must(vec![cmd(
        "mechanism:JCM-IND-JPN",
        "jc:chair",
        "record_decision",
        json!({"decision": "JC-2026-001", "kind": "issuance"}),
    )])?;
    let dec = accepted(&decision[0]).context("decision")?;
    let cite =
        json!({"chain": dec.chain.to_string(), "seq": dec.seq, "hash": hex::encode(dec.hash)});
    println!(
        "   decision recorded at mechanism:JCM-IND-JPN #{} {}",
        dec.seq,
        &hex::encode(dec.hash)[..16]
    );

    println!("4. Each registry issues its share, citing the decision (allocation 50% JP gov / 40% JP PP / 10% IN PP: 545 / 436 / 109)");
    let period = json!({"start": "2026-01-01", "end": "2026-12-31"});
    let issued = d.must(vec![
        cmd(
            "IND01",
            "registry-manager:ind",
            "issue",
            json!({
            "account": 1080, "kind": "JCM", "project": "IN001", "period": period, "quantity": 109,
            "unit_start": 1, "citation": cite, "business_key": "issuance:JC-2026-001:IND01"}),
        ),
        cmd(
            "JPN01",
            "registry-manager:jpn",
            "issue",
            json!({
            "account": 2080, "kind": "JCM", "project": "IN001", "period": period, "quantity": 981,
            "unit_start": 110, "citation": cite, "business_key": "issuance:JC-2026-001:JPN01"}),
        ),
    ])?;
    for a in &issued {
        if let Some(x) = accepted(a) {
            println!(
                "   {} #{}: {}",
                x.chain,
                x.seq,
                answer_json(a, false)["events"][0]
            );
        }
    }
    let again = d.run(vec![cmd(
        "IND01",
        "registry-manager:ind",
        "issue",
        json!({
        "account": 1080, "kind": "JCM", "project": "IN001", "period": period, "quantity": 109,
        "citation": cite, "business_key": "issuance:JC-2026-001:IND01"}),
    )])?;
    println!(
        "   a second issuance for the same decision and registry is refused: {:?}",
        again[0].codes().iter().map(|c| c.0).collect::<Vec<_>>()
    );

    println!("5. Distribution from the pending-issuance accounts, then a partial transfer that splits a block");
    d.must(vec![
        cmd(
            "IND01",
            "registry-manager:ind",
            "transfer",
            json!({"from": 1080, "to": 1002, "quantity": 109, "unit": {"kind": "JCM"}}),
        ),
        cmd(
            "JPN01",
            "registry-manager:jpn",
            "transfer",
            json!({"from": 2080, "to": 2001, "quantity": 545, "unit": {"kind": "JCM"}}),
        ),
        cmd(
            "JPN01",
            "registry-manager:jpn",
            "transfer",
            json!({"from": 2080, "to": 2002, "quantity": 436, "unit": {"kind": "JCM"}}),
        ),
    ])?;
    let split = d.must(vec![cmd(
        "IND01",
        "ar:surya",
        "transfer",
        json!({"from": 1002, "to": 1003, "quantity": 40, "unit": {"kind": "JCM"}}),
    )])?;
    println!("   {}", answer_json(&split[0], false)["events"][0]);
    println!(
        "   (the sender keeps the low end of the split block, the recipient gets the high end)"
    );

    println!("6. A retirement (beneficiary name kept off-chain) and a voluntary cancellation");
    let ret = d.must(vec![
        cmd("IND01", "ar:bharat", "retire", json!({"from": 1003, "to": 1090, "quantity": 25, "unit": {"kind": "JCM"},
            "purpose": "voluntary", "beneficiary_holder": 3, "beneficiary_name": "Bharat Steel Ltd, FY2026 claims"})),
        cmd("IND01", "ar:surya", "cancel", json!({"from": 1002, "to": 1091, "quantity": 10, "unit": {"kind": "JCM"}, "kind": "voluntary"})),
    ])?;
    for a in &ret {
        println!("   {}", answer_json(a, false)["events"][0]);
    }
    let bad = d.run(vec![cmd(
        "IND01",
        "ar:bharat",
        "transfer",
        json!({"from": 1090, "to": 1003, "ranges": [{"start": 95, "end": 95}]}),
    )])?;
    println!(
        "   moving a retired unit is refused: {:?}",
        bad[0].codes().iter().map(|c| c.0).collect::<Vec<_>>()
    );

    let n = 2000u64;
    println!("7. {n} small transfers back and forth, group-committed");
    let bar = ProgressBar::new(n);
    bar.set_style(
        ProgressStyle::with_template("   {bar:40} {pos}/{len} transfers {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    for chunk in 0..(n / 200) {
        let mut cmds = Vec::new();
        for i in 0..200u64 {
            let k = chunk * 200 + i;
            let (from, to) = if k % 2 == 0 {
                (1002, 1003)
            } else {
                (1003, 1002)
            };
            cmds.push(cmd(
                "IND01",
                "ar",
                "transfer",
                json!({"from": from, "to": to, "quantity": 1 + k % 3, "unit": {"kind": "JCM"}}),
            ));
        }
        d.must(cmds)?;
        bar.inc(200);
    }
    bar.finish();
    println!(
        "   {n} transfers durable in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    println!("8. A cross-registry transfer: 10 of Bharat Steel's units leave IND01 for Nihon Energy's account in JPN01");
    let out = d.must(vec![cmd("IND01", "ar:bharat", "transfer_out", json!({
        "from": 1003, "to_registry": "JPN01", "to_account": 2002, "quantity": 10, "unit": {"kind": "JCM"},
        "decide_by": "2099-01-01T00:00:00Z"}))])?;
    println!("   {}", answer_json(&out[0], false)["events"][0]);
    let node = d.engine.shutdown().context("writer did not stop cleanly")?;
    let (mut node, stats) = crate::link::settle_local(node)?;
    println!(
        "   the link exchanged {} messages (propose, accept, decision with the debit at IND01, credit at JPN01, ack)",
        stats.sent
    );
    for c in node.chains().filter_map(|c| c.state.registry()) {
        for (id, o) in &c.link().outbound {
            println!(
                "   {id}: {} ({}), acknowledged: {}",
                o.status.name(),
                o.status.code(),
                o.settled
            );
        }
    }
    println!("\n9. Holdings");
    for (chain, accounts) in [
        ("IND01", vec![1002u64, 1003, 1090, 1091]),
        ("JPN01", vec![2001, 2002]),
    ] {
        let id = ChainId::parse(chain).map_err(|c| anyhow::anyhow!("{c}"))?;
        let state = node
            .chain(&id)
            .and_then(|c| c.state.registry())
            .context("registry missing")?;
        for a in accounts {
            let acc = state.account(AccountId(a)).context("account missing")?;
            let blocks = state.holdings(AccountId(a));
            println!(
                "{chain} account {a} ({}): {} units in {} block(s)",
                acc.kind,
                blocks.iter().map(|b| b.range.len()).sum::<u64>(),
                blocks.len()
            );
            println!("{}", holdings_table(&blocks));
        }
    }
    let signed = checkpoint(&mut node, &cli.keys)?;
    println!(
        "\n10. Signed {signed} checkpoint(s) with the key in {}",
        cli.keys.display()
    );
    for c in node.chains().filter(|c| c.seq > 0) {
        println!(
            "   {:<24} head #{:<5} {}",
            c.name,
            c.seq,
            hex::encode(c.head)
        );
    }
    println!(
        "\nNext: `tanso verify` re-hashes and replays every chain against the signed checkpoints;"
    );
    println!("      `tanso history --serial 100` shows everything that touched serial IND01 100;");
    println!("      `tanso transfers` lists cross-registry transfers with their status.");
    Ok(0)
}
