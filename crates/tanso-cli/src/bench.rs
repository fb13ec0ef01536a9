//! `tanso bench`: benchmark programs that print figures; they never pass or fail on time.
//!
//! `tanso bench transfers` measures durable transfers. Each workload runs in a child process of
//! its own (so that its peak RSS is its own), on a fresh SQLite store in its own directory: one
//! registry, one holder, N accounts each issued one block (set up in batches of 8,000, not
//! timed), then the timed transfers. A transfer counts only once its commit is durable. Then,
//! unless `--no-anchors`, the parent measures the physical limit of the same disk
//! (`fsync-probe` in the bench directory) and the PostgreSQL ledger anchor in the same run, and
//! prints one ratio line against the targets of docs/BENCHMARKS.md.
//!
//! Submissions are built straight from core commands (no JSON parsing; the content hash is the
//! SHA-256 of the command id). This module drives only the public API of `Engine` and `Node`;
//! it must not change how they behave, and it asserts nothing about time.

use crate::store::AnyStore;
use crate::Cli;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use crossbeam_channel::bounded;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tanso_core::{
    AccountId, Actor, ChainId, CommandId, Date, Event, HolderId, HolderKind, IssuedRange,
    MitigationPeriod, PersonalRef, ProjectId, Quantity, RegistryId, SetFilter, StraddlePolicy,
    UnitKindCode, UnitSelection,
};
use tanso_engine::{system_clock, Answer, Engine, Node, Outcome, Submission};
use tanso_store::Store;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Transfers: single client, concurrent clients, hot accounts, batches, serial blocks.
    Transfers(TransfersArgs),
    /// India's CCTS at scale: N entities evaluated, surpluses issued as certificates,
    /// shortfalls surrendered and credited, every command durable through the engine.
    Ccts(crate::bench_ccts::CctsArgs),
    /// The HTTP API over loopback: single transfers from 16 connections, and batches of
    /// 8,000; next to the PostgreSQL anchor in the same run.
    Api(crate::bench_api::ApiArgs),
}

#[derive(Args, Debug)]
pub struct TransfersArgs {
    /// Workload to run (repeatable): single, clients16, hot16, batch8000, blocks. Default: all.
    #[arg(long = "workload")]
    workloads: Vec<String>,
    /// Seconds per timed workload (single, clients16, hot16, batch8000) and per pg-anchor run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Directory for the temporary stores (default: a fresh directory beside --data, or in
    /// /tmp). fsync-probe runs here too, so that the anchor is the same disk.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// blocks workload: accounts, each issued one block.
    #[arg(long, default_value_t = 10_000)]
    blocks: u64,
    /// blocks workload: units per issued block.
    #[arg(long, default_value_t = 1_000_000)]
    block_units: u64,
    /// blocks workload: transfers to make.
    #[arg(long, default_value_t = 10_000_000)]
    transfers: u64,
    /// blocks workload: stop early after this many seconds of transfers, and report the scale
    /// reached (`stopped_by=time_cap`), so that the default run stays within about 10 minutes.
    #[arg(long, default_value_t = 300)]
    blocks_seconds_max: u64,
    /// The shared directory holding bench/fsync-probe and bench/pg-anchor.
    #[arg(long, default_value = "../shared")]
    shared: PathBuf,
    /// Skip fsync-probe, the PostgreSQL anchor and the ratio line.
    #[arg(long)]
    no_anchors: bool,
    /// Seed of the transfer generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// blocks workload: also keep a shadow of the block partition on the audit thread, for
    /// exact split and merge counts and a cross-check of the core's block counts. It competes
    /// with the writer for memory and CPU (measured: about 30% fewer transfers per second).
    #[arg(long)]
    shadow: bool,
    /// Run the workloads in this process, one after the other, without anchors (for profiling
    /// under valgrind or perf). Peak RSS is then the process's, across workloads.
    #[arg(long)]
    in_process: bool,
    /// Accepted commands each workload's node is provisioned for, as `tanso serve
    /// --index-capacity`: its index of accepted commands is made when it opens (untimed), so
    /// that the writer does not grow it during the run. 0: it grows as commands are accepted.
    /// The default covers the ten million transfers of `blocks`, or ten seconds at a million
    /// a second.
    #[arg(long, default_value_t = 10_500_000, value_parser = clap::value_parser!(u64).range(0..=crate::INDEX_CAPACITY_MAX))]
    index_capacity: u64,
    /// With --db: the owner role's URL, to migrate (and drop) one throw-away schema per
    /// workload (default: the --db URL itself, which must then be allowed to create schemas).
    #[arg(long)]
    db_owner: Option<String>,
}

const WORKLOADS: [&str; 5] = ["single", "clients16", "hot16", "batch8000", "blocks"];
/// Accounts of the single, clients16 and batch8000 workloads (as the anchor's 100000).
const SPREAD_ACCOUNTS: u64 = 100_000;
/// Accounts of the hot16 workload (as the anchor's `single 16 10 10`).
const HOT_ACCOUNTS: u64 = 10;
/// Units issued to each account of the timed workloads.
const UNITS_PER_ACCOUNT: u64 = 1_000_000;
const BATCH: usize = 8_000;
const SETUP_BATCH: usize = 8_000;

pub fn run(cli: &Cli, what: &BenchCmd) -> Result<i32> {
    match what {
        BenchCmd::Transfers(args) => transfers(cli, args),
        BenchCmd::Ccts(args) => crate::bench_ccts::run(cli, args),
        BenchCmd::Api(args) => crate::bench_api::run(cli, args),
    }
}

fn transfers(cli: &Cli, args: &TransfersArgs) -> Result<i32> {
    let workloads: Vec<&str> = if args.workloads.is_empty() && cli.db.is_some() {
        // The serial-block workload measures the core, not the store.
        WORKLOADS[..4].to_vec()
    } else if args.workloads.is_empty() {
        WORKLOADS.to_vec()
    } else {
        let mut out = Vec::new();
        for w in &args.workloads {
            let Some(&known) = WORKLOADS.iter().find(|k| **k == w.as_str()) else {
                eprintln!(
                    "bench: unknown workload {w}; known: {}",
                    WORKLOADS.join(", ")
                );
                return Ok(2);
            };
            out.push(known);
        }
        out
    };
    if args.transfers == 0
        || args.blocks < 2
        || args.block_units == 0
        || args.seconds == 0
        || args.blocks_seconds_max == 0
    {
        eprintln!(
            "bench: --transfers, --seconds, --block-units and --blocks-seconds-max must be \
             positive, --blocks at least 2"
        );
        return Ok(2);
    }
    let (root, made_root) = bench_root(cli, args)?;
    let result = if args.in_process {
        in_process(cli, &root, args, &workloads)
    } else {
        orchestrate(cli, &root, args, &workloads)
    };
    if made_root {
        if let Err(e) = std::fs::remove_dir_all(&root) {
            eprintln!("bench: could not remove {}: {e}", root.display());
        }
    }
    result
}

/// The directory the stores live in, and whether this run made it (and so removes it).
fn bench_root(cli: &Cli, args: &TransfersArgs) -> Result<(PathBuf, bool)> {
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        return Ok((dir.clone(), false));
    }
    let parent = match cli.data.parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) if p.is_dir() => p.to_path_buf(),
        _ => std::env::temp_dir(),
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = parent.join(format!("tanso-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok((dir, true))
}

// ----- the parent: one child per workload, then the anchors and the ratios -----------------

fn orchestrate(cli: &Cli, root: &Path, args: &TransfersArgs, workloads: &[&str]) -> Result<i32> {
    let exe = std::env::current_exe().context("find the tanso executable")?;
    let load_before = loadavg();
    // The disk's limit before and after the workloads: other work on a shared machine moves it.
    let fsync_before = if args.no_anchors {
        None
    } else {
        fsync_probe(root, args)
    };
    let mut figures: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut failed = false;
    for w in workloads {
        let mut child = std::process::Command::new(&exe)
            .arg("--data")
            .arg(&cli.data)
            .arg("--keys")
            .arg(&cli.keys)
            .args([
                "bench",
                "transfers",
                "--in-process",
                "--no-anchors",
                "--workload",
                w,
            ])
            .arg("--seconds")
            .arg(args.seconds.to_string())
            .arg("--dir")
            .arg(root)
            .arg("--blocks")
            .arg(args.blocks.to_string())
            .arg("--block-units")
            .arg(args.block_units.to_string())
            .arg("--transfers")
            .arg(args.transfers.to_string())
            .arg("--blocks-seconds-max")
            .arg(args.blocks_seconds_max.to_string())
            .arg("--seed")
            .arg(args.seed.to_string())
            .arg("--index-capacity")
            .arg(args.index_capacity.to_string())
            .args(args.shadow.then_some("--shadow"))
            .args(cli.db.iter().flat_map(|db| ["--db", db.as_str()]))
            .args(
                args.db_owner
                    .iter()
                    .flat_map(|db| ["--db-owner", db.as_str()]),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("start the {w} workload"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        for line in BufReader::new(stdout).lines() {
            let line = line.context("read the workload's output")?;
            println!("{line}");
            if line.starts_with("tanso-bench ") {
                let f = parse_fields(&line);
                if let Some(name) = f.get("workload") {
                    figures.insert(name.clone(), f);
                }
            }
        }
        let status = child.wait().context("wait for the workload")?;
        if !status.success() {
            eprintln!("bench: workload {w} failed ({status})");
            failed = true;
        }
    }
    if !args.no_anchors {
        let mut anchors = run_anchors(root, args);
        // The stricter comparison: the better of the two probes.
        anchors.fsync_per_s = match (fsync_before, anchors.fsync_per_s) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        print_ratios(&figures, &anchors, cli.db.is_some());
    }
    // Other work on the machine skews every figure; say how busy it was.
    println!(
        "tanso-bench-env nproc={} loadavg_before=\"{load_before}\" loadavg_after=\"{}\" dir={}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg(),
        root.display()
    );
    Ok(i32::from(failed))
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".to_string())
}

/// Splits `key=value` fields; a value may be double-quoted (and then hold spaces).
pub(crate) fn parse_fields(line: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = line;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].rsplit(' ').next().unwrap_or("").to_string();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(' ') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.insert(key, value.to_string());
        rest = next;
    }
    out
}

#[derive(Default)]
struct Anchors {
    fsync_per_s: Option<f64>,
    /// pg-anchor transfers per second by run name (single1, single16, hot16, batch100).
    pg: HashMap<&'static str, f64>,
}

fn run_anchors(root: &Path, args: &TransfersArgs) -> Anchors {
    let mut anchors = Anchors {
        fsync_per_s: fsync_probe(root, args),
        ..Anchors::default()
    };
    let run = args.shared.join("bench/pg-anchor/run");
    let seconds = args.seconds.to_string();
    let path = pg_path();
    for (name, mode, clients, accounts) in [
        ("single1", "single", "1", "100000"),
        ("single16", "single", "16", "100000"),
        ("hot16", "single", "16", "10"),
        ("batch100", "batch100", "2", "100000"),
    ] {
        let mut cmd = std::process::Command::new(&run);
        cmd.args([mode, clients, seconds.as_str(), accounts]);
        if let Some(p) = &path {
            cmd.env("PATH", p);
        }
        match run_line(&mut cmd, "pg-anchor ") {
            Ok(line) => {
                println!("{line} run=\"{mode} {clients} {seconds} {accounts}\"");
                if let Some(x) = field_f64(&parse_fields(&line), "transfers_per_s") {
                    anchors.pg.insert(name, x);
                }
            }
            Err(e) => {
                println!("anchor pg-anchor {mode} {clients} {seconds} {accounts} failed: {e:#}")
            }
        }
    }
    anchors
}

/// Runs fsync-probe in the bench directory (the stores' disk), prints its line, returns its
/// syncs per second.
fn fsync_probe(root: &Path, args: &TransfersArgs) -> Option<f64> {
    let probe = args.shared.join("bench/fsync-probe");
    match run_line(
        std::process::Command::new("python3").arg(&probe).arg(root),
        "fsync-probe ",
    ) {
        Ok(line) => {
            println!("{line}");
            field_f64(&parse_fields(&line), "syncs_per_s")
        }
        Err(e) => {
            println!("anchor fsync-probe failed: {e:#}");
            None
        }
    }
}

/// PATH with PostgreSQL 15's client binaries appended when pgbench is not on PATH already.
pub(crate) fn pg_path() -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| d.join("pgbench").is_file());
    let fallback = Path::new("/usr/lib/postgresql/15/bin");
    (!found && fallback.join("pgbench").is_file()).then(|| format!("{path}:{}", fallback.display()))
}

/// Runs a program and returns the last line of its output that starts with `prefix`.
pub(crate) fn run_line(cmd: &mut std::process::Command, prefix: &str) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {cmd:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "{} exited with {}: {}",
            cmd.get_program().to_string_lossy(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    stdout
        .lines()
        .rev()
        .find(|l| l.starts_with(prefix))
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no line starting with {prefix:?} in: {}", stdout.trim()))
}

pub(crate) fn field_f64(f: &HashMap<String, String>, key: &str) -> Option<f64> {
    f.get(key).and_then(|v| v.parse().ok())
}

fn print_ratios(
    figures: &HashMap<String, HashMap<String, String>>,
    anchors: &Anchors,
    postgres: bool,
) {
    let rate = |w: &str| figures.get(w).and_then(|f| field_f64(f, "transfers_per_s"));
    let pg = |n: &str| anchors.pg.get(n).copied();
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    if postgres {
        // On PostgreSQL the anchor is the same server: Tanso must at least match it one client
        // at a time and with 16, and its batches must be five times the anchor's.
        let mut line = String::from("ratio");
        for (name, value, target) in [
            ("single/anchor1", ratio(rate("single"), pg("single1")), 1.0),
            (
                "clients16/anchor16",
                ratio(rate("clients16"), pg("single16")),
                1.0,
            ),
            ("hot16/anchorhot", ratio(rate("hot16"), pg("hot16")), 1.0),
            (
                "batch8000/anchorbatch100",
                ratio(rate("batch8000"), pg("batch100")),
                5.0,
            ),
        ] {
            match value {
                Some(v) => {
                    let verdict = if v >= target { "PASS" } else { "MISS" };
                    line.push_str(&format!(" {name}={v:.2}(target>={target}:{verdict})"));
                }
                None => line.push_str(&format!(" {name}=n/a")),
            }
        }
        println!("{line}");
        println!("ratio note: store=postgresql; both sides commit with synchronous_commit=on on the same server");
        return;
    }
    // single/fsync is against the better of the two fsync-probe runs.
    let rows: [(&str, Option<f64>, f64); 6] = [
        (
            "single/fsync",
            ratio(rate("single"), anchors.fsync_per_s),
            0.8,
        ),
        ("single/anchor1", ratio(rate("single"), pg("single1")), 1.5),
        (
            "clients16/anchor16",
            ratio(rate("clients16"), pg("single16")),
            5.0,
        ),
        ("hot16/anchorhot", ratio(rate("hot16"), pg("hot16")), 10.0),
        (
            "batch8000",
            ratio(rate("batch8000"), Some(1_000_000.0)),
            1.0,
        ),
        ("blocks", ratio(rate("blocks"), Some(300_000.0)), 1.0),
    ];
    let mut line = String::from("ratio");
    for (name, value, target) in rows {
        match value {
            Some(v) => {
                let verdict = if v >= target { "PASS" } else { "MISS" };
                line.push_str(&format!(" {name}={v:.2}(target>={target}:{verdict})"));
            }
            None => line.push_str(&format!(" {name}=n/a")),
        }
    }
    // Context only, no target: the batch workload against the anchor's batched transactions.
    if let Some(v) = ratio(rate("batch8000"), pg("batch100")) {
        line.push_str(&format!(" batch8000/anchorbatch100={v:.1}(no target)"));
    }
    println!("{line}");
    println!("ratio note: batch8000 and blocks are against absolute targets (1000000/s, 300000/s)");
}

// ----- the child: one workload on a fresh store ---------------------------------------------

fn in_process(cli: &Cli, root: &Path, args: &TransfersArgs, workloads: &[&str]) -> Result<i32> {
    for w in workloads {
        if let Some(url) = &cli.db {
            // One throw-away schema per workload, migrated as the owner, used as --db.
            let owner = args.db_owner.as_deref().unwrap_or(url);
            let schema = format!("tanso_bench_{w}_{}", std::process::id());
            tanso_store_postgres::migrate(owner, &schema, &service_role_of(url))
                .with_context(|| format!("migrate the bench schema {schema}"))?;
            let at = crate::Location::Postgres {
                url: url.clone(),
                options: tanso_store_postgres::PgOptions {
                    schema: schema.clone(),
                    ..tanso_store_postgres::PgOptions::default()
                },
            };
            let result = run_workload(w, &at, args);
            if let Err(e) = tanso_store_postgres::drop_schema(owner, &schema) {
                eprintln!("bench: could not drop schema {schema}: {e}");
            }
            println!("{}", result?);
            continue;
        }
        let dir = root.join(format!("{w}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("wipe {}", dir.display()))?;
        }
        let result = run_workload(w, &crate::Location::dir(&dir), args);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            eprintln!("bench: could not remove {}: {e}", dir.display());
        }
        println!("{}", result?);
    }
    Ok(0)
}

/// What a workload measured.
#[derive(Default)]
struct Measured {
    accepted: u64,
    rejected: u64,
    rejected_codes: BTreeMap<u16, u64>,
    elapsed: Duration,
    /// Per acknowledgement (per transfer, or per batch), in microseconds.
    ack_us: Vec<u64>,
    syncs: u64,
    /// The process's peak RSS when the workload ended, if taken before later work (the
    /// `blocks` floor) could raise it; else it is read when the line is printed.
    peak_rss_mib: Option<u64>,
    extra: Vec<(String, String)>,
}

impl Measured {
    fn count(&mut self, a: &Answer) {
        match &a.outcome {
            Outcome::Accepted(_) => self.accepted += 1,
            Outcome::Rejected(r) => {
                self.rejected += 1;
                for c in r.codes() {
                    *self.rejected_codes.entry(c.0).or_default() += 1;
                }
            }
        }
    }
    fn absorb(&mut self, other: Measured) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        for (c, n) in other.rejected_codes {
            *self.rejected_codes.entry(c).or_default() += n;
        }
        self.ack_us.extend(other.ack_us);
    }
    fn extra(&mut self, key: &str, value: impl ToString) {
        self.extra.push((key.to_string(), value.to_string()));
    }
}

/// The user of a PostgreSQL URL (the role the service connects as).
fn service_role_of(url: &str) -> String {
    url.parse::<postgres::Config>()
        .ok()
        .and_then(|c| c.get_user().map(str::to_owned))
        .unwrap_or_else(|| tanso_store_postgres::DEFAULT_SERVICE_ROLE.to_string())
}

fn run_workload(w: &str, at: &crate::Location, args: &TransfersArgs) -> Result<String> {
    let seconds = Duration::from_secs(args.seconds);
    let index_capacity = usize::try_from(args.index_capacity)?;
    let opening = Instant::now();
    let mut node = crate::open_node_with(
        at,
        tanso_engine::NodeConfig {
            index_capacity,
            ..Default::default()
        },
    )?;
    let open_s = opening.elapsed().as_secs_f64();
    let fixture = Fixture::new()?;
    let (accounts, units) = match w {
        "hot16" => (HOT_ACCOUNTS, UNITS_PER_ACCOUNT),
        "blocks" => (args.blocks, args.block_units),
        _ => (SPREAD_ACCOUNTS, UNITS_PER_ACCOUNT),
    };
    let setup_started = Instant::now();
    let issued = fixture.set_up(&mut node, accounts, units)?;
    let setup_s = setup_started.elapsed().as_secs_f64();
    eprintln!("bench: {w}: set up {accounts} accounts in {setup_s:.1} s");
    let sync_mode = node.store().sync_mode();
    let mut m = match w {
        "single" => engine_clients(node, &fixture, accounts, 1, seconds, args.seed)?,
        "clients16" | "hot16" => engine_clients(node, &fixture, accounts, 16, seconds, args.seed)?,
        "batch8000" => {
            let plan = Plan {
                accounts,
                quantity_max: 1,
                transfers_max: u64::MAX,
                time_max: seconds,
                seed: args.seed,
            };
            let (mut m, _, _) = batches(&mut node, &fixture, &plan, None)?;
            m.extra("ack", "per_batch");
            m
        }
        "blocks" => blocks(&mut node, &fixture, args, &issued)?,
        other => bail!("unknown workload {other}"),
    };
    if let crate::Location::Dir(d) = at {
        // What the journal costs on disk: every file of the store, its WAL included, the
        // set-up's few entries with the workload's.
        let bytes = bytes_under(d);
        m.extra("store_bytes", bytes);
        m.extra(
            "store_bytes_per_transfer",
            format!("{:.0}", bytes as f64 / m.accepted.max(1) as f64),
        );
    }
    m.extra("setup_s", format!("{setup_s:.1}"));
    m.extra("index_capacity", index_capacity);
    m.extra("open_s", format!("{open_s:.1}"));
    m.extra("accounts", accounts);
    m.extra("input", "core_commands_no_json");
    Ok(format_line(w, &m, &sync_mode))
}

/// The bytes of every file under `dir` (0 for what cannot be read).
fn bytes_under(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => bytes_under(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn format_line(w: &str, m: &Measured, sync_mode: &str) -> String {
    let mut ack = m.ack_us.clone();
    ack.sort_unstable();
    let pct = |q: f64| -> f64 {
        if ack.is_empty() {
            return 0.0;
        }
        let i = ((ack.len() as f64) * q) as usize;
        ack[i.min(ack.len() - 1)] as f64 / 1000.0
    };
    let s = m.elapsed.as_secs_f64();
    let codes = if m.rejected_codes.is_empty() {
        "none".to_string()
    } else {
        m.rejected_codes
            .iter()
            .map(|(c, n)| format!("{c}:{n}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut line = format!(
        "tanso-bench workload={w} transfers={} seconds={s:.3} transfers_per_s={:.0} \
         ack_ms_p50={:.3} ack_ms_p99={:.3} peak_rss_mib={} syncs={} syncs_per_s={:.0} \
         sync_mode=\"{sync_mode}\" rejected={} rejected_codes={codes}",
        m.accepted,
        per_second(m.accepted, m.elapsed),
        pct(0.50),
        pct(0.99),
        m.peak_rss_mib
            .or_else(peak_rss_mib)
            .map_or("n/a".to_string(), |v| v.to_string()),
        m.syncs,
        per_second(m.syncs, m.elapsed),
        m.rejected,
    );
    for (k, v) in &m.extra {
        line.push_str(&format!(" {k}={v}"));
    }
    line
}

/// VmHWM of this process, in MiB.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

// ----- fixture: the registry, its holder and accounts ---------------------------------------

/// The constant parts of every submission.
struct Fixture {
    registry: RegistryId,
    chain: ChainId,
    actor: Actor,
    kind: UnitKindCode,
}

impl Fixture {
    fn new() -> Result<Self> {
        let registry = RegistryId::parse("IND01").map_err(|c| anyhow!("registry id: {c}"))?;
        Ok(Fixture {
            registry,
            chain: ChainId::Registry(registry),
            actor: Actor::parse("bench").map_err(|c| anyhow!("actor: {c}"))?,
            kind: UnitKindCode::parse("JCM").map_err(|c| anyhow!("unit kind: {c}"))?,
        })
    }

    fn submission(&self, id: &str, command: tanso_core::Command) -> Result<Submission> {
        Ok(Submission {
            id: CommandId::parse(id).map_err(|c| anyhow!("command id {id}: {c}"))?,
            chain: self.chain.clone(),
            actor: self.actor.clone(),
            // A parsed id is at most 64 bytes: one compression, without the streaming hasher.
            content_hash: tanso_core::sha::short(&[id.as_bytes()]),
            command: Ok(command),
            personal: Vec::new(),
            dry_run: false,
        })
    }

    /// A transfer of `quantity` JCM units, picked by the registry in ascending serial order.
    fn transfer(&self, id: &str, from: u64, to: u64, quantity: u64) -> Result<Submission> {
        let quantity = Quantity::new(quantity).map_err(|c| anyhow!("quantity: {c}"))?;
        self.submission(
            id,
            tanso_core::Command::Transfer {
                from: AccountId(from),
                to: AccountId(to),
                units: UnitSelection::Quantity {
                    quantity,
                    filter: SetFilter {
                        kind: Some(self.kind.clone()),
                        ..SetFilter::default()
                    },
                },
            },
        )
    }

    /// Opens the registry, one holder, accounts 1..=n, and issues `units` to each (one block
    /// each), in durable batches; returns the issued (account, first serial, last serial).
    fn set_up(
        &self,
        node: &mut Node<AnyStore>,
        n: u64,
        units: u64,
    ) -> Result<Vec<(u64, u64, u64)>> {
        use tanso_core::Command as C;
        let quantity = Quantity::new(units).map_err(|c| anyhow!("quantity: {c}"))?;
        let period = MitigationPeriod::new(
            Date::from_ymd(2026, 1, 1).map_err(|c| anyhow!("date: {c}"))?,
            Date::from_ymd(2026, 12, 31).map_err(|c| anyhow!("date: {c}"))?,
        )
        .map_err(|c| anyhow!("period: {c}"))?;
        let project = ProjectId::parse("BENCH-1").map_err(|c| anyhow!("project: {c}"))?;
        let mut subs = vec![
            self.submission(
                "setup-registry",
                C::OpenRegistry {
                    registry: self.registry,
                    straddle: StraddlePolicy::ProRataDaysRemainderLast,
                },
            )?,
            self.submission(
                "setup-holder",
                C::RegisterHolder {
                    holder: HolderId(1),
                    kind: HolderKind::parse("company").map_err(|c| anyhow!("holder kind: {c}"))?,
                    name: PersonalRef([7; 32]),
                },
            )?,
        ];
        let entity = tanso_core::AccountKindCode::parse("entity-holding")
            .map_err(|c| anyhow!("account kind: {c}"))?;
        for a in 1..=n {
            subs.push(self.submission(
                &format!("setup-account-{a}"),
                C::OpenAccount {
                    account: AccountId(a),
                    holder: HolderId(1),
                    kind: entity.clone(),
                },
            )?);
        }
        for a in 1..=n {
            subs.push(self.submission(
                &format!("setup-issue-{a}"),
                C::Issue {
                    account: AccountId(a),
                    kind: self.kind.clone(),
                    project: Some(project.clone()),
                    period,
                    vintage: None,
                    quantity,
                    unit_start: None,
                    citation: None,
                    business_key: None,
                },
            )?);
        }
        let mut issued = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        let mut subs = subs.into_iter().peekable();
        while subs.peek().is_some() {
            let batch: Vec<Submission> = subs.by_ref().take(SETUP_BATCH).collect();
            let answers = node
                .submit_batch(batch, system_clock()())
                .context("commit a setup batch")?;
            for a in answers {
                let Outcome::Accepted(x) = &a.outcome else {
                    bail!("setup command {} was rejected: {:?}", a.id, a.outcome);
                };
                for ev in &x.events {
                    if let Event::Issued { account, range, .. } = ev {
                        issued.push((account.0, range.start(), range.end()));
                    }
                }
            }
        }
        Ok(issued)
    }
}

/// splitmix64: seeded, dependency-free, good enough to pick accounts and quantities.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xa076_1d64_78bd_642f));
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0), by multiply-high.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let wide = u128::from(self.next()) * u128::from(n);
        u64::try_from(wide >> 64).unwrap_or(0)
    }
    /// Two distinct accounts of 1..=n (n ≥ 2), uniformly.
    pub(crate) fn pair(&mut self, n: u64) -> (u64, u64) {
        let a = self.below(n);
        let b = (a + 1 + self.below(n - 1)) % n;
        (a + 1, b + 1)
    }
}

// ----- engine workloads: clients that submit one transfer and wait ---------------------------

fn engine_clients(
    node: Node<AnyStore>,
    fixture: &Fixture,
    accounts: u64,
    clients: u64,
    seconds: Duration,
    seed: u64,
) -> Result<Measured> {
    let engine = Engine::start(node, BATCH, system_clock());
    let syncs_before = engine.with_node(|n| n.store().syncs());
    let started = Instant::now();
    let deadline = started + seconds;
    let per_client: Vec<Result<Measured>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let engine = &engine;
                s.spawn(move || -> Result<Measured> {
                    let mut rng = Rng::new(seed, c);
                    let mut m = Measured::default();
                    let mut k = 0u64;
                    while Instant::now() < deadline {
                        let (from, to) = rng.pair(accounts);
                        let sub = fixture.transfer(&format!("c{c}-{k}"), from, to, 1)?;
                        k += 1;
                        let t = Instant::now();
                        let answer = engine.submit(sub);
                        m.ack_us.push(micros(t.elapsed()));
                        m.count(&answer);
                    }
                    Ok(m)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a client thread panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let syncs = engine.with_node(|n| n.store().syncs()) - syncs_before;
    let mut m = Measured {
        elapsed,
        syncs,
        ..Measured::default()
    };
    for r in per_client {
        m.absorb(r?);
    }
    let node = engine
        .shutdown()
        .ok_or_else(|| anyhow!("the writer did not stop cleanly"))?;
    if node.is_poisoned() {
        bail!("the node is poisoned after a failed commit");
    }
    m.extra("clients", clients);
    m.extra("ack", "per_transfer");
    m.extra(
        "transfers_per_sync",
        format!("{:.1}", m.accepted as f64 / m.syncs.max(1) as f64),
    );
    Ok(m)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

// ----- batch workloads: Node::submit_stream, one durable commit per batch --------------------

struct Plan {
    accounts: u64,
    /// Quantities are uniform in 1..=quantity_max.
    quantity_max: u64,
    /// Stop after this many transfers, or once this much time has passed, whichever is first.
    transfers_max: u64,
    time_max: Duration,
    seed: u64,
}

/// What the audit thread learns from the answers.
#[derive(Default)]
struct Audit {
    m: Measured,
    transferred_events: u64,
    ranges: u64,
}

/// Runs batches of `BATCH` transfers through `node`. A generator thread builds the
/// submissions ahead (as clients would), an audit thread counts the answers and, if given,
/// keeps a shadow of the block partition; the calling thread only submits and times.
fn batches(
    node: &mut Node<AnyStore>,
    fixture: &Fixture,
    plan: &Plan,
    shadow: Option<Shadow>,
) -> Result<(Measured, Audit, Option<Shadow>)> {
    let (batch_tx, batch_rx) = bounded::<Vec<Submission>>(2);
    let (answer_tx, answer_rx) = bounded::<Vec<Answer>>(4);
    let total = plan.transfers_max;
    let bar = match total {
        u64::MAX => indicatif::ProgressBar::hidden(),
        n => indicatif::ProgressBar::new(n).with_style(
            indicatif::ProgressStyle::with_template(
                "bench: {bar:40} {pos}/{len} transfers {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
    };
    let syncs_before = node.store().syncs();
    std::thread::scope(|s| -> Result<(Measured, Audit, Option<Shadow>)> {
        let generator = s.spawn(move || -> Result<()> {
            let mut rng = Rng::new(plan.seed, 0);
            let mut k = 0u64;
            // Ids "t0", "t1", …, written into one buffer (as format! would, without its
            // machinery: a client's cost, on the core the registry's sealer shares).
            let (mut id, mut digits) = (String::from("t"), itoa::Buffer::new());
            while k < total {
                let n = (total - k).min(BATCH as u64);
                let mut batch = Vec::with_capacity(BATCH);
                for _ in 0..n {
                    let (from, to) = rng.pair(plan.accounts);
                    let q = 1 + rng.below(plan.quantity_max);
                    id.truncate(1);
                    id.push_str(digits.format(k));
                    batch.push(fixture.transfer(&id, from, to, q)?);
                    k += 1;
                }
                if batch_tx.send(batch).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let auditor = s.spawn(move || -> (Audit, Option<Shadow>) {
            let mut audit = Audit::default();
            let mut shadow = shadow;
            while let Ok(answers) = answer_rx.recv() {
                for a in &answers {
                    audit.m.count(a);
                    let Outcome::Accepted(x) = &a.outcome else {
                        continue;
                    };
                    for ev in &x.events {
                        if let Event::Transferred { to, ranges, .. } = ev {
                            audit.transferred_events += 1;
                            audit.ranges += ranges.len() as u64;
                            if let Some(sh) = shadow.as_mut() {
                                sh.transfer(to.0, ranges);
                            }
                        }
                    }
                }
            }
            (audit, shadow)
        });
        let mut m = Measured::default();
        let cpu_before = cpu_now();
        let started = Instant::now();
        let mut submitted = 0u64;
        // Each batch's commit overlaps deciding the next (`Node::submit_stream`); a batch's
        // acknowledgement time runs from taking it to its answers being durable.
        let taken = std::cell::RefCell::new(std::collections::VecDeque::new());
        let stream = batch_rx.iter().map(|batch| {
            taken
                .borrow_mut()
                .push_back((Instant::now(), batch.len() as u64));
            (batch, system_clock()())
        });
        let streamed = node.submit_stream(stream, |answers| {
            if let Some((t, n)) = taken.borrow_mut().pop_front() {
                m.ack_us.push(micros(t.elapsed()));
                submitted += n;
                bar.set_position(submitted);
            }
            answer_tx.send(answers).is_ok() && started.elapsed() < plan.time_max
        });
        let failure = streamed
            .err()
            .map(|e| anyhow!(e).context("commit a batch of transfers"));
        m.elapsed = started.elapsed();
        let cpu_after = cpu_now();
        bar.finish_and_clear();
        drop(batch_rx);
        drop(answer_tx);
        generator
            .join()
            .map_err(|_| anyhow!("the generator thread panicked"))??;
        let (audit, shadow) = auditor
            .join()
            .map_err(|_| anyhow!("the audit thread panicked"))?;
        if let Some(e) = failure {
            return Err(e);
        }
        m.syncs = node.store().syncs() - syncs_before;
        m.accepted = audit.m.accepted;
        m.rejected = audit.m.rejected;
        m.rejected_codes = audit.m.rejected_codes.clone();
        m.extra("batch", BATCH);
        if let (Some(a), Some(b), n @ 1..) = (cpu_before, cpu_after, m.accepted) {
            m.extra("writer_cpu_ns_per_transfer", (b.0 - a.0) / n);
            m.extra("cpu_ns_per_transfer", (b.1 - a.1) / n);
        }
        Ok((m, audit, shadow))
    })
}

/// Time on CPU so far, in nanoseconds: this thread's (`/proc/thread-self/schedstat`) and the
/// whole process's, exited threads included (`/proc/self/stat` utime + stime, in ticks of
/// USER_HZ, which is 100 on Linux). `None` where these files are not there.
fn cpu_now() -> Option<(u64, u64)> {
    let thread = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let thread: u64 = thread.split_whitespace().next()?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((thread, ticks * 10_000_000))
}

// ----- the blocks workload: serial blocks under many random partial transfers ---------------

fn blocks(
    node: &mut Node<AnyStore>,
    fixture: &Fixture,
    args: &TransfersArgs,
    issued: &[(u64, u64, u64)],
) -> Result<Measured> {
    let shadow = args.shadow.then(|| {
        let mut shadow = Shadow::default();
        for &(owner, start, end) in issued {
            shadow.issue(owner, start, end);
        }
        shadow
    });
    let plan = Plan {
        accounts: args.blocks,
        quantity_max: 1_000,
        transfers_max: args.transfers,
        time_max: Duration::from_secs(args.blocks_seconds_max),
        seed: args.seed,
    };
    let blocks_before = registry_state(node, fixture)?.block_count();
    let (mut m, audit, shadow) = batches(node, fixture, &plan, shadow)?;
    let state = registry_state(node, fixture)?;
    let (mut sum, mut max) = (0u64, 0u64);
    let mut per_account = Vec::with_capacity(usize::try_from(args.blocks).unwrap_or(0));
    for a in 1..=args.blocks {
        let n = state.holding_blocks(AccountId(a)) as u64;
        per_account.push(n);
        sum += n;
        max = max.max(n);
    }
    let events = audit.transferred_events.max(1) as f64;
    // Net new blocks = splits − merges; exact, from the core's own count.
    let net_new_blocks = state.block_count().saturating_sub(blocks_before) as f64;
    m.extra("ack", "per_batch");
    m.extra("quantity", "1..1000");
    m.extra("transfers_planned", args.transfers);
    m.extra(
        "stopped_by",
        if audit.m.accepted + audit.m.rejected < args.transfers {
            "time_cap"
        } else {
            "transfers"
        },
    );
    m.extra("transfers_per_s_last_tenth", last_tenth_rate(&m.ack_us));
    m.extra(
        "blocks_read_per_transfer",
        format!("{:.3}", audit.ranges as f64 / events),
    );
    if let Some(shadow) = &shadow {
        let mut shadow_per_account = BTreeMap::new();
        for b in shadow.blocks.values() {
            *shadow_per_account.entry(b.1).or_insert(0u64) += 1;
        }
        let agree = shadow.blocks.len() == state.block_count()
            && (1..=args.blocks)
                .zip(&per_account)
                .all(|(a, n)| shadow_per_account.get(&a).copied().unwrap_or(0) == *n);
        let splits = shadow.splits as f64;
        m.extra(
            "blocks_written_per_transfer",
            format!("{:.3}", (audit.ranges as f64 + splits) / events),
        );
        m.extra("splits_per_transfer", format!("{:.3}", splits / events));
        m.extra(
            "net_new_blocks_per_transfer",
            format!("{:.3}", net_new_blocks / events),
        );
        m.extra(
            "merges_per_transfer",
            format!("{:.3}", shadow.merges as f64 / events),
        );
        m.extra("shadow_agrees", if agree { "yes" } else { "NO" });
    } else {
        // Without the shadow, splits are taken as the net new blocks (merges, measured with
        // --shadow at about 0.001 per transfer, are not subtracted back in).
        m.extra(
            "blocks_written_per_transfer",
            format!("{:.3}", (audit.ranges as f64 + net_new_blocks) / events),
        );
        m.extra(
            "net_new_blocks_per_transfer",
            format!("{:.3}", net_new_blocks / events),
        );
    }
    m.extra(
        "blocks_per_account_mean",
        format!("{:.2}", sum as f64 / args.blocks as f64),
    );
    m.extra("blocks_per_account_max", max);
    m.extra("block_count", state.block_count());
    // The floor: the same transfers through the bare partition, in this process, after the
    // workload's peak RSS is taken.
    m.peak_rss_mib = peak_rss_mib();
    let done = audit.m.accepted + audit.m.rejected;
    let floor = Floor::run(issued, &plan, done);
    m.extra("floor_transfers_per_s", format!("{:.0}", floor.rate()));
    m.extra(
        "floor_transfers_per_s_last_tenth",
        format!("{:.0}", floor.last_tenth_rate()),
    );
    let per_s = per_second(m.accepted, m.elapsed);
    m.extra("of_floor", format!("{:.2}", per_s / floor.rate()));
    let agree = floor.taken == audit.ranges
        && floor.block_count() == state.block_count()
        && done == audit.m.accepted;
    m.extra("floor_agrees", if agree { "yes" } else { "NO" });
    Ok(m)
}

/// The floor of the `blocks` workload on this machine: the same transfers (same seed, same
/// issued blocks) applied to the bare block partition and nothing else — per account, a
/// vector of (first, last) serials, highest first; a quantity takes the lowest blocks, the
/// sender keeping the low end of the one it splits (TV-2); received blocks are merged into
/// the recipient's vector, joining neighbours that touch. No ids, no checks, no events, no
/// journal, no second index: what any registry with this selection rule must at least do, one
/// thread, in memory. Its counts must equal the core's (`floor_agrees`).
struct Floor {
    elapsed: Duration,
    /// Time of the last tenth of the transfers.
    tail: Duration,
    transfers: u64,
    tail_transfers: u64,
    /// Blocks taken, summed over the transfers.
    taken: u64,
    accounts: Vec<Vec<(u64, u64)>>,
}

impl Floor {
    fn run(issued: &[(u64, u64, u64)], plan: &Plan, transfers: u64) -> Floor {
        let n = usize::try_from(plan.accounts).unwrap_or(0);
        let mut accounts: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n + 1];
        for &(owner, start, end) in issued {
            if let Some(v) = usize::try_from(owner)
                .ok()
                .and_then(|o| accounts.get_mut(o))
            {
                v.push((start, end));
            }
        }
        for v in &mut accounts {
            v.sort_unstable_by(|a, b| b.cmp(a));
        }
        // The workload's blocks share their attributes and their unit ids follow their
        // serials, so touching blocks of one owner always join.
        let joins = |left: (u64, u64), right: (u64, u64)| left.1.checked_add(1) == Some(right.0);
        let mut rng = Rng::new(plan.seed, 0);
        let (mut taken, mut moved, mut merged) = (0u64, Vec::new(), Vec::new());
        let tail_from = transfers - transfers / 10;
        let started = Instant::now();
        let mut tail_started = started;
        for k in 0..transfers {
            if k == tail_from {
                tail_started = Instant::now();
            }
            let (from, to) = rng.pair(plan.accounts);
            let mut left = 1 + rng.below(plan.quantity_max);
            moved.clear();
            let sender = &mut accounts[from as usize];
            while left > 0 {
                let Some(&(s, e)) = sender.last() else {
                    break;
                };
                let len = e - s + 1;
                if len <= left {
                    sender.pop();
                    moved.push((s, e));
                    left -= len;
                } else {
                    let cut = e - left + 1;
                    if let Some(last) = sender.last_mut() {
                        last.1 = cut - 1;
                    }
                    moved.push((cut, e));
                    left = 0;
                }
            }
            taken += moved.len() as u64;
            let Some(&(highest, _)) = moved.last() else {
                continue;
            };
            // Merge the taken blocks (ascending) into the recipient's entries below the
            // highest of them (descending), joining neighbours.
            let recipient = &mut accounts[to as usize];
            let p = recipient.partition_point(|x| x.0 > highest);
            merged.clear();
            let (mut i, mut j) = (p, moved.len());
            while i < recipient.len() || j > 0 {
                let x = if j == 0 || (i < recipient.len() && recipient[i].0 > moved[j - 1].0) {
                    i += 1;
                    recipient[i - 1]
                } else {
                    j -= 1;
                    moved[j]
                };
                match merged.last_mut() {
                    Some(last) if joins(x, *last) => last.0 = x.0,
                    _ => merged.push(x),
                }
            }
            recipient.truncate(p);
            if let (Some(above), Some(&first)) = (p.checked_sub(1), merged.first()) {
                if joins(first, recipient[above]) {
                    recipient[above].0 = first.0;
                    merged.remove(0);
                }
            }
            recipient.extend_from_slice(&merged);
        }
        let elapsed = started.elapsed();
        Floor {
            elapsed,
            tail: elapsed.saturating_sub(tail_started - started),
            transfers,
            tail_transfers: transfers - tail_from,
            taken,
            accounts,
        }
    }

    fn rate(&self) -> f64 {
        per_second(self.transfers, self.elapsed)
    }

    fn last_tenth_rate(&self) -> f64 {
        per_second(self.tail_transfers, self.tail)
    }

    fn block_count(&self) -> usize {
        self.accounts.iter().map(Vec::len).sum()
    }
}

/// `n` per second over `d` (a measurement, never an amount), without dividing by zero.
fn per_second(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Transfers per second over the last tenth of the batches (all full batches of `BATCH`,
/// but the last), from the per-batch times: shows whether the rate is still falling.
fn last_tenth_rate(batch_us: &[u64]) -> String {
    let n = (batch_us.len() / 10).max(1);
    let tail = &batch_us[batch_us.len().saturating_sub(n)..];
    let us: u64 = tail.iter().sum();
    if us == 0 {
        return "n/a".to_string();
    }
    format!("{:.0}", (tail.len() * BATCH) as f64 * 1e6 / us as f64)
}

fn registry_state<'a>(
    node: &'a Node<AnyStore>,
    fixture: &Fixture,
) -> Result<&'a tanso_core::registry::RegistryState> {
    node.chain(&fixture.chain)
        .and_then(|c| c.state.registry())
        .context("the registry chain is missing")
}

/// A shadow of the registry's block partition (start → (end, owner)), folded from the
/// Transferred events exactly as the core folds them: carve at both ends of every range, give
/// the carved blocks to the recipient, merge same-owner neighbours. It counts the splits and
/// merges that the events imply; at the end it is checked against the core's own counts.
#[derive(Default)]
struct Shadow {
    blocks: BTreeMap<u64, (u64, u64)>,
    splits: u64,
    merges: u64,
}

impl Shadow {
    fn issue(&mut self, owner: u64, start: u64, end: u64) {
        self.blocks.insert(start, (end, owner));
        self.merge_around(start, end);
    }

    /// Makes a block start at `serial`; true if that split a block.
    fn split_at(&mut self, serial: u64) -> bool {
        let found = self
            .blocks
            .range(..serial)
            .next_back()
            .filter(|(_, b)| b.0 >= serial)
            .map(|(&s, &b)| (s, b));
        let Some((start, (end, owner))) = found else {
            return false;
        };
        self.blocks.insert(start, (serial - 1, owner));
        self.blocks.insert(serial, (end, owner));
        true
    }

    fn transfer(&mut self, to: u64, ranges: &[IssuedRange]) {
        let mut sorted: Vec<(u64, u64)> = ranges
            .iter()
            .map(|r| (r.range.start(), r.range.end()))
            .collect();
        sorted.sort_unstable();
        for &(start, end) in &sorted {
            self.splits += u64::from(self.split_at(start));
            if let Some(after) = end.checked_add(1) {
                self.splits += u64::from(self.split_at(after));
            }
        }
        for &(start, end) in &sorted {
            for (_, b) in self.blocks.range_mut(start..=end) {
                b.1 = to;
            }
        }
        for &(start, end) in &sorted {
            self.merge_around(start, end);
        }
    }

    /// Merges same-owner neighbours from the block before `start` to the block after `end`.
    fn merge_around(&mut self, start: u64, end: u64) {
        let mut cur = self
            .blocks
            .range(..start)
            .next_back()
            .map_or(start, |(&s, _)| s);
        while let Some(&(b_end, owner)) = self.blocks.get(&cur) {
            let Some(next) = b_end.checked_add(1) else {
                break;
            };
            match self.blocks.get(&next).copied() {
                Some((n_end, n_owner)) if n_owner == owner => {
                    self.blocks.remove(&next);
                    self.blocks.insert(cur, (n_end, owner));
                    self.merges += 1;
                }
                Some(_) if next <= end.saturating_add(1) => cur = next,
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_fields_reads_quoted_values() {
        let f = parse_fields(
            "tanso-bench workload=single transfers=5 sync_mode=\"sqlite wal x=1\" rejected=0",
        );
        assert_eq!(f.get("workload").map(String::as_str), Some("single"));
        assert_eq!(
            f.get("sync_mode").map(String::as_str),
            Some("sqlite wal x=1")
        );
        assert_eq!(f.get("rejected").map(String::as_str), Some("0"));
    }

    #[test]
    fn rng_pairs_are_distinct_and_in_range() {
        let mut r = Rng::new(1, 0);
        for _ in 0..10_000 {
            let (a, b) = r.pair(10);
            assert!(a != b && (1..=10).contains(&a) && (1..=10).contains(&b));
        }
    }

    #[test]
    fn shadow_splits_the_high_end_off_and_merges_back() {
        let reg = RegistryId::parse("IND01").expect("registry id");
        let range = |s, e| IssuedRange {
            issuing: reg,
            range: tanso_core::SerialRange::new(s, e).expect("range"),
        };
        let mut sh = Shadow::default();
        sh.issue(1, 1, 100);
        sh.issue(2, 101, 200);
        sh.transfer(2, &[range(91, 100)]);
        // 91..100 splits off account 1's block and merges into account 2's.
        assert_eq!(sh.splits, 1);
        assert_eq!(sh.merges, 1);
        assert_eq!(sh.blocks.get(&1), Some(&(90, 1)));
        assert_eq!(sh.blocks.get(&91), Some(&(200, 2)));
        assert_eq!(sh.blocks.len(), 2);
    }

    /// The floor's partition, vector by vector, equals a plain model of the same rule (per
    /// account an ordered map; a quantity takes the lowest blocks, the sender keeping the low
    /// end of the one split; touching blocks of one owner join), after every run length, for
    /// several seeds, and so does its count of blocks taken.
    #[test]
    fn floor_follows_the_selection_rule() {
        for seed in 1..=4 {
            for transfers in [0, 1, 7, 300, 2_000] {
                let issued: Vec<(u64, u64, u64)> =
                    (1..=5).map(|a| (a, a * 1_000 - 999, a * 1_000)).collect();
                let plan = Plan {
                    accounts: 5,
                    quantity_max: 300,
                    transfers_max: transfers,
                    time_max: Duration::from_secs(60),
                    seed,
                };
                let floor = Floor::run(&issued, &plan, transfers);
                let mut model: Vec<BTreeMap<u64, u64>> = vec![BTreeMap::new(); 6];
                for &(a, s, e) in &issued {
                    model[a as usize].insert(s, e);
                }
                let (mut rng, mut taken) = (Rng::new(seed, 0), 0u64);
                for _ in 0..transfers {
                    let (from, to) = rng.pair(plan.accounts);
                    let mut left = 1 + rng.below(plan.quantity_max);
                    let mut moved = Vec::new();
                    while left > 0 {
                        let Some((&s, &e)) = model[from as usize].iter().next() else {
                            break;
                        };
                        model[from as usize].remove(&s);
                        if e - s < left {
                            moved.push((s, e));
                            left -= e - s + 1;
                        } else {
                            model[from as usize].insert(s, e - left);
                            moved.push((e - left + 1, e));
                            left = 0;
                        }
                    }
                    taken += moved.len() as u64;
                    let m = &mut model[to as usize];
                    for (mut s, mut e) in moved {
                        if let Some((&ps, &pe)) = m.range(..s).next_back() {
                            if pe + 1 == s {
                                m.remove(&ps);
                                s = ps;
                            }
                        }
                        if let Some(ne) = m.remove(&(e + 1)) {
                            e = ne;
                        }
                        m.insert(s, e);
                    }
                }
                assert_eq!(floor.taken, taken, "seed {seed}, {transfers} transfers");
                for (a, blocks) in model.iter().enumerate() {
                    let want: Vec<(u64, u64)> =
                        blocks.iter().rev().map(|(&s, &e)| (s, e)).collect();
                    assert_eq!(
                        floor.accounts[a], want,
                        "account {a}, seed {seed}, {transfers} transfers"
                    );
                }
                let units: u64 = floor
                    .accounts
                    .iter()
                    .flatten()
                    .map(|(s, e)| e - s + 1)
                    .sum();
                assert_eq!(units, 5_000);
            }
        }
    }
}
