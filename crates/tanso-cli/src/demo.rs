//! `tanso demo`: India's and Japan's registries, the JCM Joint Committee, holders and accounts,
//! an issuance split between the two registries under one Committee decision, transfers with
//! splits, a retirement, a cancellation, a burst of small transfers, and the holdings.
//!
//! Every step goes through the same JSON commands as `tanso apply` (see docs/COMMANDS.md).

use crate::apply::{answer_json, submission};
use crate::query::holdings_table;
use crate::store::AnyStore;
use crate::{checkpoint, open_node, Cli};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tanso_core::jcm::JcmEvent;
use tanso_core::{AccountId, ChainId, Date, Event, Timestamp};
use tanso_engine::{system_clock, Answer, Engine, Outcome};
use tanso_wire::{os_salt, parse_value};

struct Demo {
    engine: Engine<AnyStore>,
    next: u64,
    /// The writer's clock while the demo replays the JCM cycle's months (microseconds; 0 =
    /// the system clock). Every simulated time lies in the past, so entry times stay
    /// monotonic when the demo returns to the system clock.
    clock: Arc<AtomicI64>,
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
    let loc = cli.location();
    if loc.is_postgres() {
        // The service role cannot wipe a journal (that is the point); start on an empty schema.
        let store = crate::open_store(&loc)?;
        if !tanso_store::Store::heads(&store)?.is_empty() {
            eprintln!(
                "demo: refusing to run: {} already holds a journal. Migrate a new schema                  (tanso migrate --db URL --db-schema NAME) and pass --db-schema NAME.",
                loc.describe()
            );
            return Ok(1);
        }
        std::fs::create_dir_all(data).with_context(|| format!("create {}", data.display()))?;
        println!("demo: starting in empty {}", loc.describe());
    } else if data
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
    {
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
    let node = open_node(&loc)?;
    let clock = Arc::new(AtomicI64::new(at("2025-09-01")?));
    let sim = clock.clone();
    let system = system_clock();
    let mut d = Demo {
        engine: Engine::start(
            node,
            8000,
            Box::new(move || match sim.load(Ordering::SeqCst) {
                0 => system(),
                t => Timestamp(t),
            }),
        ),
        next: 0,
        clock,
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
        (
            "IND01",
            4,
            "company",
            "Vedanta Ltd, Jharsuguda smelter (obligated entity)",
        ),
        (
            "IND01",
            5,
            "company",
            "Hind Aluminium Ltd (obligated entity)",
        ),
        (
            "IND01",
            6,
            "company",
            "ACC Cement, Wadi plant (obligated entity)",
        ),
        (
            "IND01",
            7,
            "company",
            "Deccan Paper Mills (obligated entity)",
        ),
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
        ("IND01", 1301, 4, "entity-holding"),
        ("IND01", 1302, 5, "entity-holding"),
        ("IND01", 1303, 6, "entity-holding"),
        ("IND01", 1304, 7, "entity-holding"),
        ("IND01", 1390, 1, "surrender"),
        ("JPN01", 2001, 1, "party-holding"),
        ("JPN01", 2002, 2, "entity-holding"),
        ("JPN01", 2080, 1, "pending-issuance"),
        ("JPN01", 2090, 1, "retirement"),
    ] {
        setup.push(cmd(
            chain,
            "officer",
            "open_account",
            json!({"account": account, "holder": holder, "kind": kind}),
        ));
    }
    d.must(setup)?;

    jcm_cycle(&mut d, &cli.data)?;
    article6(&mut d, &cli.data)?;
    ccts(&mut d, &cli.data)?;
    d.clock.store(0, Ordering::SeqCst);

    println!("\n9. A partial transfer that splits a block (vintage 2026)");
    let split = d.must(vec![cmd(
        "IND01",
        "ar:surya",
        "transfer",
        json!({"from": 1002, "to": 1003, "quantity": 40, "unit": vintage(2026)}),
    )])?;
    println!("   {}", answer_json(&split[0], false)["events"][0]);
    println!(
        "   (the sender keeps the low end of the split block, the recipient gets the high end)"
    );

    println!("10. A retirement (beneficiary name kept off-chain) and a voluntary cancellation");
    let ret = d.must(vec![
        cmd("IND01", "ar:bharat", "retire", json!({"from": 1003, "to": 1090, "quantity": 25, "unit": vintage(2026),
            "purpose": "voluntary", "beneficiary_holder": 3, "beneficiary_name": "Bharat Steel Ltd, FY2026 claims"})),
        cmd("IND01", "ar:surya", "cancel", json!({"from": 1002, "to": 1091, "quantity": 10, "unit": vintage(2025), "kind": "voluntary"})),
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
    println!("11. {n} small transfers back and forth, group-committed");
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
                json!({"from": from, "to": to, "quantity": 1 + k % 3, "unit": vintage(2026)}),
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

    println!("12. A cross-registry transfer: 10 of Bharat Steel's units leave IND01 for Nihon Energy's account in JPN01");
    let out = d.must(vec![cmd("IND01", "ar:bharat", "transfer_out", json!({
        "from": 1003, "to_registry": "JPN01", "to_account": 2002, "quantity": 10, "unit": vintage(2026),
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
    println!("\n13. Holdings");
    for (chain, accounts) in [
        ("IND01", vec![1002u64, 1003, 1090, 1091]),
        ("JPN01", vec![2001, 2002, 2090]),
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
    reports(&node, &cli.data)?;
    let signed = checkpoint(&mut node, &cli.keys)?;
    println!(
        "\n15. Signed {signed} checkpoint(s) with the key in {}",
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
    println!("      `tanso history --serial 1` shows everything that touched serial IND01 1;");
    println!("      `tanso jcm status` shows the JCM cycle: methodologies, projects, decisions;");
    println!("      `tanso transfers` lists cross-registry transfers with their status.");
    Ok(0)
}

fn vintage(year: u16) -> Value {
    json!({"kind": "JCM", "project": "IN001", "vintage": year})
}

/// Microseconds of a date's midnight UTC.
fn at(date: &str) -> Result<i64> {
    let d = Date::parse(date).map_err(|c| anyhow::anyhow!("bad date {date}: {c}"))?;
    Ok(d.days() as i64 * 86_400_000_000)
}

const MECH: &str = "mechanism:JCM-IND-JPN";

/// The JCM cycle, from the Committee's constitution to issuance in both registries, on a
/// simulated calendar (public input must run its 15 and 30 days).
fn jcm_cycle(d: &mut Demo, data: &std::path::Path) -> Result<()> {
    let doc =
        |name: &str, text: &str| crate::jcm::store_document_bytes(data, text.as_bytes(), name);
    let day = |d: &mut Demo, date: &str| -> Result<()> {
        d.clock.store(at(date)?, Ordering::SeqCst);
        Ok(())
    };
    let jc = |actor: &str, command: &str, fields: Value| cmd(MECH, actor, command, fields);
    let decide = |id: &str, subject: Value| {
        vec![
            jc(
                "jc:ind-1",
                "jcm_propose",
                json!({"decision": id, "subject": subject}),
            ),
            jc("jc:jpn-1", "jcm_concur", json!({"decision": id})),
        ]
    };

    println!("3. The Joint Committee is constituted (a member from each government, a secretariat); it designates a TPE and adopts India's Article 6.2 activity list (both sides' consent)");
    day(d, "2025-09-01")?;
    let mut steps = vec![
        jc(
            "operator",
            "jcm_appoint",
            json!({"appointee": "jc:ind-1", "role": "member", "party": "IND"}),
        ),
        jc(
            "operator",
            "jcm_appoint",
            json!({"appointee": "jc:jpn-1", "role": "member", "party": "JPN"}),
        ),
        jc(
            "operator",
            "jcm_appoint",
            json!({"appointee": "jcm-secretariat", "role": "secretariat"}),
        ),
    ];
    d.must(std::mem::take(&mut steps))?;
    steps.push(jc(
        "jcm-secretariat",
        "jcm_appoint",
        json!({"appointee": "pp:surya", "role": "participant", "party": "IND"}),
    ));
    steps.push(jc(
        "jcm-secretariat",
        "jcm_appoint",
        json!({"appointee": "pp:nihon", "role": "participant", "party": "JPN"}),
    ));
    steps.extend(decide(
        "JC-2025-001",
        json!({"type": "designate_tpe", "tpe": "tpe:epic"}),
    ));
    steps.extend(decide(
        "JC-2025-002",
        json!({"type": "set_activity_list", "party": "IND", "activities": (1..=13).collect::<Vec<_>>()}),
    ));
    d.must(steps)?;

    println!("4. Methodology IN_AM001 v1 (solar PV with battery storage): submitted, complete, 15 days of public input, approved by both sides");
    let m = json!({"code": "IN_AM001", "version": 1});
    let pm = doc(
        "IN_AM001_v1_proposed_methodology.txt",
        "Proposed methodology IN_AM001 v1",
    )?;
    d.must(vec![jc(
        "pp:nihon",
        "jcm_submit_methodology",
        json!({"methodology": m, "document": pm}),
    )])?;
    day(d, "2025-09-05")?;
    d.must(vec![jc(
        "jcm-secretariat",
        "jcm_check_completeness",
        json!({"methodology": m, "complete": true}),
    )])?;
    day(d, "2025-09-12")?;
    let early = d.run(vec![jc(
        "jcm-secretariat",
        "jcm_close_public_input",
        json!({"methodology": m}),
    )])?;
    println!(
        "   closing public input after 7 days is refused: {:?}",
        early[0].codes().iter().map(|c| c.0).collect::<Vec<_>>()
    );
    day(d, "2025-09-20")?;
    d.must(vec![jc(
        "jcm-secretariat",
        "jcm_close_public_input",
        json!({"methodology": m}),
    )])?;
    day(d, "2025-10-01")?;
    d.must(decide(
        "JC-2025-003",
        json!({"type": "approve_methodology", "methodology": m}),
    ))?;

    println!("5. Project IN001 (Surya Solar with Nihon Energy; India activity 1, renewable energy with storage): idea note, PDD with a 50 / 40 / 10 credit allocation, 30 days of public input, validation by the TPE, registration by both sides");
    day(d, "2025-10-05")?;
    let pin = doc("IN001_PIN.txt", "Project idea note IN001")?;
    d.must(vec![jc(
        "pp:surya",
        "jcm_submit_pin",
        json!({"project": "IN001", "host": "IND", "activity": 1,
        "participants": ["pp:nihon"], "document": pin}),
    )])?;
    day(d, "2025-10-10")?;
    let pdd = doc(
        "IN001_PDD.txt",
        "PDD IN001: 20 MW solar PV with 40 MWh battery storage, Rajasthan",
    )?;
    d.must(vec![jc(
        "pp:surya",
        "jcm_submit_pdd",
        json!({
        "project": "IN001", "methodology": m, "ex_ante": {"EF_RE": "0.727"},
        "criteria": ["C1", "C2", "C3"],
        "crediting": {"start": "2025-10-01", "end": "2035-09-30"},
        "allocation": {"shares": [
            {"registry": "JPN01", "account": 2001, "percent": "50"},
            {"registry": "JPN01", "account": 2002, "percent": "40"},
            {"registry": "IND01", "account": 1002, "percent": "10"}], "remainder_to": 0},
        "document": pdd}),
    )])?;
    day(d, "2025-10-12")?;
    d.must(vec![jc(
        "jcm-secretariat",
        "jcm_open_pdd_public_input",
        json!({"project": "IN001"}),
    )])?;
    day(d, "2025-11-12")?;
    d.must(vec![jc(
        "jcm-secretariat",
        "jcm_close_public_input",
        json!({"project": "IN001"}),
    )])?;
    day(d, "2025-11-20")?;
    let vr = doc(
        "IN001_validation_report.txt",
        "Validation report IN001: positive",
    )?;
    d.must(vec![jc(
        "tpe:epic",
        "jcm_validate",
        json!({"project": "IN001", "positive": true, "document": vr}),
    )])?;
    let rr = doc(
        "IN001_registration_request.txt",
        "Registration request IN001 with MoC statement",
    )?;
    d.must(vec![jc(
        "pp:surya",
        "jcm_request_registration",
        json!({"project": "IN001", "document": rr}),
    )])?;
    day(d, "2025-12-01")?;
    d.must(decide(
        "JC-2025-004",
        json!({"type": "register_project", "project": "IN001"}),
    ))?;

    println!("6. Monitoring period 1 (2025-10-01 .. 2026-03-31, straddling two years): 1,500 MWh discharged from storage × 0.727 tCO2/MWh = 1,090.5 → 1,090 credits (TV-8b, floor); verified; issuance requested and decided by both sides; notified");
    day(d, "2026-04-10")?;
    let mr = doc("IN001_MR1.txt", "Monitoring report IN001 period 1")?;
    let rep = d.must(vec![jc("pp:surya", "jcm_report_monitoring", json!({"project": "IN001", "period_no": 1,
        "period": {"start": "2025-10-01", "end": "2026-03-31"}, "values": {"EG_BESS": "1500"}, "document": mr}))])?;
    if let Some(Event::Jcm(JcmEvent::MonitoringReported {
        re,
        pe,
        er,
        credited,
        ..
    })) = accepted(&rep[0]).and_then(|a| a.events.first())
    {
        println!(
            "   methodology IN_AM001 v1: RE = {re}, PE = {pe}, ER = {er} → {credited} credits"
        );
    }
    day(d, "2026-04-25")?;
    let ver = doc(
        "IN001_VR1.txt",
        "Verification report IN001 period 1: 1,090 tCO2",
    )?;
    d.must(vec![jc(
        "tpe:epic",
        "jcm_verify",
        json!({"project": "IN001", "period_no": 1, "amount": 1090, "document": ver}),
    )])?;
    let ir = doc("IN001_CIR1.txt", "Credits issuance request IN001 period 1")?;
    d.must(vec![jc(
        "pp:surya",
        "jcm_request_issuance",
        json!({"project": "IN001", "period_no": 1, "quantity": 1090, "document": ir}),
    )])?;
    day(d, "2026-05-10")?;
    let over = d.run(vec![jc("jc:ind-1", "jcm_propose", json!({"decision": "JC-2026-000",
        "subject": {"type": "decide_issuance", "project": "IN001", "period_no": 1, "quantity": 1091}}))])?;
    println!(
        "   a decision above the verified amount is refused: {:?}",
        over[0].codes().iter().map(|c| c.0).collect::<Vec<_>>()
    );
    let half = d.must(vec![jc("jc:ind-1", "jcm_propose", json!({"decision": "JC-2026-001",
        "subject": {"type": "decide_issuance", "project": "IN001", "period_no": 1, "quantity": 1090}}))])?;
    let early = d.run(vec![jc(
        "jcm-secretariat",
        "jcm_notify",
        json!({"decision": "JC-2026-001"}),
    )])?;
    println!(
        "   proposed by India's member at {} #{}; notifying before Japan's member concurs is refused: {:?}",
        MECH,
        accepted(&half[0]).map_or(0, |a| a.seq),
        early[0].codes().iter().map(|c| c.0).collect::<Vec<_>>()
    );
    d.must(vec![jc(
        "jc:jpn-1",
        "jcm_concur",
        json!({"decision": "JC-2026-001"}),
    )])?;
    day(d, "2026-05-11")?;
    let note = d.must(vec![jc(
        "jcm-secretariat",
        "jcm_notify",
        json!({"decision": "JC-2026-001"}),
    )])?;
    let n = accepted(&note[0]).context("notification")?;
    let cite = json!({"chain": n.chain.to_string(), "seq": n.seq, "hash": hex::encode(n.hash)});
    println!(
        "   notified at {} #{} {}",
        n.chain,
        n.seq,
        &hex::encode(n.hash)[..16]
    );
    let mut t = comfy_table::Table::new();
    t.set_header(vec![
        "registry",
        "account",
        "vintage",
        "period",
        "credits",
        "JCM credit serials",
    ]);
    if let Some(Event::Jcm(JcmEvent::IssuanceNotified { lines, .. })) = n.events.first() {
        for l in lines {
            t.add_row(vec![
                l.registry.to_string(),
                l.account.0.to_string(),
                l.period.start().year().to_string(),
                format!("{} .. {}", l.period.start(), l.period.end()),
                l.quantity.to_string(),
                format!("IN001-{}-{}", l.unit_start, l.unit_start + l.quantity - 1),
            ]);
        }
        let total: u64 = lines.iter().map(|l| l.quantity).sum();
        t.add_row(vec![
            "total".into(),
            String::new(),
            String::new(),
            String::new(),
            total.to_string(),
            String::new(),
        ]);
    }
    println!("{t}");

    println!(
        "7. Each registry issues its lines by a command in its own chain citing the notification"
    );
    day(d, "2026-05-12")?;
    let issued = d.must(vec![
        cmd(
            "IND01",
            "registry-manager:ind",
            "issue_from_decision",
            json!({"citation": cite}),
        ),
        cmd(
            "JPN01",
            "registry-manager:jpn",
            "issue_from_decision",
            json!({"citation": cite}),
        ),
    ])?;
    for a in &issued {
        if let Some(x) = accepted(a) {
            println!("   {} #{}: {} events", x.chain, x.seq, x.events.len());
        }
    }
    let again = d.run(vec![cmd(
        "IND01",
        "registry-manager:ind",
        "issue_from_decision",
        json!({"citation": cite}),
    )])?;
    println!(
        "   a second issuance for the same decision and registry is refused: {:?}",
        again[0].codes().iter().map(|c| c.0).collect::<Vec<_>>()
    );

    println!("8. Credits of an Indian project arrived in Japan's registry \"not yet authorized\": Japan cannot yet use them towards its NDC");
    let ndc = d.run(vec![cmd(
        "JPN01",
        "ar:gov-jpn",
        "retire",
        json!({"from": 2001, "to": 2090,
        "quantity": 10, "unit": vintage(2026), "purpose": "ndc"}),
    )])?;
    println!(
        "   retiring 10 towards Japan's NDC is refused: {:?} (India's authorization, a later step, lifts it)",
        ndc[0].codes().iter().map(|c| c.0).collect::<Vec<_>>()
    );
    Ok(())
}

/// Article 6.2: both parties' authority chains, India's authorization of part of the credits
/// for Japan's NDC, its first transfer (recorded in Japan's registry, including 2025-vintage
/// credits in 2026, which changes India's 2025 balance), and Japan's use towards its 2026 NDC.
fn article6(d: &mut Demo, data: &std::path::Path) -> Result<()> {
    let doc =
        |name: &str, text: &str| crate::jcm::store_document_bytes(data, text.as_bytes(), name);
    println!("8b. Article 6.2: India and Japan record cooperative approach CA0001, their NDCs (trajectory method), initial reports and emissions; India authorizes 800 t of the JCM credits for Japan's NDC");
    d.clock.store(at("2026-05-20")?, Ordering::SeqCst);
    let mut steps = Vec::new();
    for (p, other, tz, emissions, trajectory) in [
        (
            "IND",
            "JPN",
            330,
            [("2025", "2950000000"), ("2026", "3000000000")],
            json!({"2025": "3100000000", "2026": "3150000000", "2030": "3300000000"}),
        ),
        (
            "JPN",
            "IND",
            540,
            [("2025", "1050000000"), ("2026", "1010000000")],
            json!({"2025": "1000000000", "2026": "960000000", "2030": "760000000"}),
        ),
    ] {
        let chain = format!("party:{p}");
        let actor = if p == "IND" { "moefcc" } else { "moej" };
        let d1 = doc(
            &format!("{p}_CA0001.txt"),
            &format!("Cooperative approach CA0001 ({p}–{other}): the JCM"),
        )?;
        steps.push(cmd(
            &chain,
            actor,
            "a6_register_approach",
            json!({"ca": "CA0001", "parties": [p, other], "document": d1}),
        ));
        steps.push(cmd(
            &chain,
            actor,
            "a6_set_ndc",
            json!({"ndc": {"kind": "single_year", "first_year": 2021,
            "last_year": 2030, "target_year": 2030, "method": "trajectory", "metric": "GHG"},
            "time_zone_minutes": tz, "trajectory": trajectory}),
        ));
        let ir = doc(
            &format!("{p}_initial_report.txt"),
            &format!("Initial report of {p} under Article 6.2"),
        )?;
        steps.push(cmd(
            &chain,
            actor,
            "a6_record_initial_report",
            json!({
            "ndc_quantified": if p == "IND" { "3300000000" } else { "760000000" },
            "participation_demonstrated": true, "sustainable_development": ir, "human_rights": ir,
            "gender": ir, "safeguards": ir, "environmental_integrity": ir, "entities_listed": true,
            "document": ir}),
        ));
        for (y, e) in emissions {
            steps.push(cmd(
                &chain,
                actor,
                "a6_report_emissions",
                json!({"year": y.parse::<u16>()?, "emissions": e}),
            ));
        }
    }
    d.must(steps)?;
    d.clock.store(at("2026-06-01")?, Ordering::SeqCst);
    let terms = doc("IND-A6-2026-001.txt", "Authorization IND-A6-2026-001: JCM credits of IN001 for Japan's NDC; change and revocation only for units not yet first transferred")?;
    let auth = d.must(vec![cmd(
        "party:IND",
        "moefcc",
        "a6_authorize",
        json!({
        "authorization": "IND-A6-2026-001", "version": 1, "ca": "CA0001", "date": "2026-06-01",
        "purposes": ["NDC"], "parties": ["JPN"],
        "entities": [{"registry": "JPN01", "holder": 1}, {"registry": "JPN01", "holder": 2}],
        "quantity": 800, "first_vintage": 2021, "last_vintage": 2030,
        "activity_types": ["Renewable energy with storage"], "sectors": ["Energy"], "metric": "GHG", "terms": terms}),
    )])?;
    let a = accepted(&auth[0]).context("authorization")?;
    let cite = json!({"chain": a.chain.to_string(), "seq": a.seq, "hash": hex::encode(a.hash)});
    println!("   authorized at {} #{}", a.chain, a.seq);

    println!("8c. Japan's registry records India's coverage of 370 credits it holds (100 of vintage 2025, 270 of 2026): their first transfer, by India, to Japan");
    d.clock.store(at("2026-06-05")?, Ordering::SeqCst);
    let applied = d.must(vec![cmd(
        "JPN01",
        "registry-manager:jpn",
        "apply_authorization",
        json!({
        "citation": cite, "account": 2001,
        "ranges": [{"start": 176, "end": 275}, {"start": 276, "end": 545}]}),
    )])?;
    for e in answer_json(&applied[0], false)["events"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!("   {e}");
    }
    println!("8d. Japan uses 250 of them towards its 2026 NDC");
    d.clock.store(at("2026-09-30")?, Ordering::SeqCst);
    let used = d.must(vec![cmd(
        "JPN01",
        "ar:gov-jpn",
        "use_towards_ndc",
        json!({
        "from": 2001, "to": 2090, "ranges": [{"start": 296, "end": 545}], "year": 2026}),
    )])?;
    println!("   {}", answer_json(&used[0], false)["events"][0]);
    Ok(())
}

/// Both parties' AEF workbooks for 2026, after the consistency checks, and their charts.
fn reports(node: &tanso_engine::Node<AnyStore>, data: &std::path::Path) -> Result<()> {
    use crate::report;
    println!("\n14. Article 6.2 reports: consistency checks, AEF workbooks and charts");
    let all = report::collect(node)?;
    let dir = data.join("reports");
    for p in ["IND", "JPN"] {
        let party = tanso_core::PartyId::parse(p).map_err(|c| anyhow::anyhow!("{c}"))?;
        let failures = report::checks(&all, party, 2026);
        for f in &failures {
            println!("   check {} {}: {}", f.code.0, f.code.name(), f.message);
        }
        if !failures.is_empty() {
            bail!("the consistency checks fail for {p}");
        }
        let l = report::ledger(&all, party);
        for y in [2025u16, 2026] {
            if let Ok(b) = tanso_core::article6::accounting::emissions_balance(&l, y) {
                println!("   {p} emissions balance {y}: {b} t CO2e");
            }
        }
        let out = dir.join(format!("aef_{p}_2026.xlsx"));
        report::export(&all, party, 2026, &out, "xlsx")?;
        println!("   {p}: checks pass; wrote {}", out.display());
        for f in report::charts(&all, party, &dir.join("charts"))? {
            println!("   wrote {}", f.display());
        }
    }
    Ok(())
}

/// India's CCTS: the GEI Schedule imported from CSV, a compliance year (2025-26) for four
/// obligated entities — TV-6's surplus, TV-7's shortfall, a partial surrender, a balanced
/// one — issuance, surrender and environmental compensation.
fn ccts(d: &mut Demo, data: &std::path::Path) -> Result<()> {
    const M: &str = "mechanism:CCTS-IND";
    println!("8e. India's CCTS, compliance year 2025-26: the administrator (BEE) imports the GEI Schedule (CSV), four obligated entities report, an accredited agency verifies, BEE evaluates");
    d.clock.store(at("2026-05-25")?, Ordering::SeqCst);
    let csv = "entity,sector,baseline_output,baseline_gei,target_2025_26,target_2026_27\n\
               VEDANTA-JHARSUGUDA,aluminium,1238336,13.4927,13.2260,12.8259\n\
               HINDALU-RENUKOOT,aluminium,1238336,13.4927,13.2260,12.8259\n\
               ACC-WADI,cement,1025000,0.7150,0.7000,0.6900\n\
               DECCAN-PAPER,pulp and paper,500000,1.2500,1.2000,1.1800\n";
    let path = data.join("gei_schedule_2025.csv");
    std::fs::write(&path, csv)?;
    let rows = crate::ccts_csv::parse_gei_schedule(csv).map_err(|e| {
        anyhow::anyhow!(
            "schedule: {}",
            e.iter()
                .map(|r| format!("line {}: {}", r.line, r.reason))
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| json!({"entity": r.entity.as_str(), "sector": r.sector,
            "baseline_output": r.baseline_output.to_string(), "baseline_gei": r.baseline_gei.to_string(),
            "targets": r.targets.iter().map(|(y, t)| (y.to_string(), json!(t.to_string()))).collect::<serde_json::Map<_, _>>()}))
        .collect();
    let entities = [
        (
            "VEDANTA-JHARSUGUDA",
            "rep:vedanta",
            1301,
            "1238336",
            "16222201.6",
        ),
        (
            "HINDALU-RENUKOOT",
            "rep:hindalu",
            1302,
            "1238336",
            "16469868.8",
        ),
        ("ACC-WADI", "rep:acc", 1303, "1025000", "727750"),
        ("DECCAN-PAPER", "rep:deccan", 1304, "500000", "600000"),
    ];
    let mut steps = vec![
        cmd(M, "operator", "open_mechanism", json!({"parties": ["IND"]})),
        cmd(
            M,
            "operator",
            "ccts_appoint",
            json!({"appointee": "bee", "role": "administrator"}),
        ),
    ];
    d.must(std::mem::take(&mut steps))?;
    steps.push(cmd(
        M,
        "bee",
        "ccts_appoint",
        json!({"appointee": "acva:tuv", "role": "verifier"}),
    ));
    steps.push(cmd(
        M,
        "bee",
        "ccts_appoint",
        json!({"appointee": "cpcb", "role": "cpcb"}),
    ));
    steps.push(cmd(M, "bee", "ccts_import_schedule", json!({"rows": rows})));
    for (e, rep, account, _, _) in entities {
        steps.push(cmd(
            M,
            "bee",
            "ccts_appoint",
            json!({"appointee": rep, "role": "entity", "entity": e}),
        ));
        steps.push(cmd(
            M,
            "bee",
            "ccts_register_account",
            json!({"entity": e, "registry": "IND01", "account": account}),
        ));
    }
    d.must(std::mem::take(&mut steps))?;
    d.clock.store(at("2026-06-10")?, Ordering::SeqCst);
    for (e, rep, _, output, emissions) in entities {
        let pd = crate::jcm::store_document_bytes(
            data,
            format!("Performance assessment {e} 2025-26").as_bytes(),
            &format!("{e}_PAD_2025-26.txt"),
        )?;
        steps.push(cmd(
            M,
            rep,
            "ccts_submit_performance",
            json!({"entity": e, "year": 2025,
            "output": output, "emissions": emissions, "document": pd}),
        ));
        steps.push(cmd(
            M,
            "acva:tuv",
            "ccts_verify_performance",
            json!({"entity": e, "year": 2025, "document": pd}),
        ));
    }
    d.must(std::mem::take(&mut steps))?;
    d.clock.store(at("2026-06-30")?, Ordering::SeqCst);
    let evals = d.must(
        entities
            .iter()
            .map(|(e, ..)| {
                cmd(
                    M,
                    "bee",
                    "ccts_evaluate",
                    json!({"entity": e, "year": 2025}),
                )
            })
            .collect(),
    )?;
    let vedanta = accepted(&evals[0]).context("evaluation")?;
    let cite = json!({"chain": M, "seq": vedanta.seq, "hash": hex::encode(vedanta.hash)});

    println!("8f. Grid-India's registry issues Vedanta's 156,030 certificates (TV-6); ACC buys 6,000 of them and surrenders them against its 10,250");
    d.clock.store(at("2026-07-05")?, Ordering::SeqCst);
    d.must(vec![cmd(
        "IND01",
        "registry-manager:ind",
        "issue_certificates",
        json!({"citation": cite}),
    )])?;
    d.clock.store(at("2026-07-15")?, Ordering::SeqCst);
    d.must(vec![cmd(
        "IND01",
        "ar:vedanta",
        "transfer",
        json!({"from": 1301, "to": 1303, "quantity": 6000,
        "unit": {"kind": "CCC"}}),
    )])?;
    let s = d.must(vec![cmd(
        "IND01",
        "ar:acc",
        "surrender_certificates",
        json!({"from": 1303, "to": 1390,
        "quantity": 6000, "unit": {"kind": "CCC"}, "entity": "ACC-WADI", "year": 2025}),
    )])?;
    let se = accepted(&s[0]).context("surrender")?;
    let scite = json!({"chain": "IND01", "seq": se.seq, "hash": hex::encode(se.hash)});
    d.must(vec![cmd(
        M,
        "rep:acc",
        "ccts_record_surrender",
        json!({"citation": scite}),
    )])?;
    let twice = d.run(vec![cmd(
        M,
        "rep:acc",
        "ccts_record_surrender",
        json!({"citation": scite, "id": "x"}),
    )])?;
    println!(
        "   crediting the same surrender twice is refused: {:?}",
        twice[0].codes().iter().map(|c| c.0).collect::<Vec<_>>()
    );
    println!("8g. After the surrender deadline, CPCB imposes environmental compensation at BEE's average price of ₹1,000");
    d.clock.store(at("2026-11-01")?, Ordering::SeqCst);
    d.must(
        ["HINDALU-RENUKOOT", "ACC-WADI"]
            .iter()
            .map(|e| {
                cmd(
                    M,
                    "cpcb",
                    "ccts_impose_compensation",
                    json!({"entity": e, "year": 2025, "average_price": "1000"}),
                )
            })
            .collect(),
    )?;
    let node_state = d.engine.with_node(|n| crate::ccts::state(n, M))?;
    if let Some(s) = node_state {
        println!("{}", crate::ccts::status_table(&s));
    }
    Ok(())
}
