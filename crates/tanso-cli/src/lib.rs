#![recursion_limit = "512"]
//! The `tanso` command line. `main` hands over here; this module parses flags, opens the
//! store and the node, and dispatches to one module per command. It is edge code: it prints,
//! reads files and the clock, and converts errors to exit codes (0 ok, 1 failure, 2 usage).

pub mod api;
pub mod apply;
pub mod bench;
pub mod bench_api;
pub mod bench_ccts;
pub mod ccts;
pub mod ccts_csv;
pub mod demo;
pub mod jcm;
pub mod keys;
pub mod link;
pub mod projection;
pub mod query;
pub mod report;
pub mod store;

use crate::store::AnyStore;
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
pub use store::Location;
use tanso_engine::keys::{generate_signing_key, load_signing_key, save_signing_key, TrustedKeys};
use tanso_engine::{Node, NodeConfig};
use tanso_store::{Store, StoreError};

#[derive(Parser, Debug)]
#[command(
    name = "tanso",
    version,
    about = "Tanso: an Article 6.2 carbon registry (India–Japan JCM, India's CCTS)"
)]
pub struct Cli {
    /// Data directory of the embedded store.
    #[arg(long, global = true, default_value = "./tanso-data")]
    pub data: PathBuf,
    /// Directory of this node's signing key and of the keys verifiers trust; kept outside the
    /// data directory.
    #[arg(long, global = true, default_value = "./tanso-keys")]
    pub keys: PathBuf,
    /// PostgreSQL instead of the embedded store: a connection URL as the service role
    /// (`postgres://tanso_service@host/db`); `tanso migrate --db URL` (as the owner) first.
    /// Side files (documents, access.json) stay in --data.
    #[arg(long, global = true)]
    pub db: Option<String>,
    /// PostgreSQL schema holding Tanso's tables.
    #[arg(long, global = true, default_value = tanso_store_postgres::DEFAULT_SCHEMA)]
    pub db_schema: String,
    /// Leadership lease on PostgreSQL, in milliseconds: a writer that stops answering for this
    /// long loses the writer lock to another instance.
    #[arg(long, global = true, default_value_t = 5000)]
    pub db_lease_ms: u64,
    #[command(subcommand)]
    pub command: Cmd,
}

impl Cli {
    /// Where this command's journal lives: `--db` if given, else `--data`.
    pub fn location(&self) -> Location {
        match &self.db {
            Some(url) => Location::Postgres {
                url: url.clone(),
                options: tanso_store_postgres::PgOptions {
                    schema: self.db_schema.clone(),
                    lease: std::time::Duration::from_millis(self.db_lease_ms.max(100)),
                },
            },
            None => Location::dir(&self.data),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Runs the demo: India's and Japan's registries, holders, accounts, an issuance,
    /// transfers with splits, a retirement, a cancellation, holdings.
    Demo {
        /// Wipe a non-empty data directory and start fresh (without it, demo refuses).
        #[arg(long)]
        fresh: bool,
    },
    /// Applies JSON commands, one per line (FILE, or - for standard input); prints one JSON
    /// result per line, each only once it is durable.
    Apply {
        #[arg(default_value = "-")]
        file: String,
        /// Commands per durable batch at most.
        #[arg(long, default_value_t = 8000)]
        batch_max: usize,
    },
    /// Re-hashes, replays and checks every chain against its latest signed checkpoint.
    Verify {
        /// File of trusted public keys (default: KEYS/trusted_keys).
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// Shows an account's holdings as a table (or JSON).
    Holdings {
        #[arg(long)]
        account: u64,
        /// Registry chain (default: the only registry, or IND01).
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Shows every event that touched a serial: its issuance and everything after.
    History {
        #[arg(long)]
        serial: u64,
        /// Issuing registry of the serial (default: IND01).
        #[arg(long, default_value = "IND01")]
        issuing: String,
        #[arg(long)]
        json: bool,
    },
    /// Signs a checkpoint for every chain that grew since its last one.
    Checkpoint,
    /// The erasable side store of personal and free text (names, beneficiary names, notes):
    /// the chains carry only salted hashes of it.
    Personal {
        #[command(subcommand)]
        what: PersonalCmd,
    },
    /// Lists the catalogue of numbered checks.
    Checks {
        #[arg(long)]
        json: bool,
    },
    /// Proposes units to another registry (cross-registry transfer, LINK.md §7.6 mode B); runs
    /// the link if the acquiring registry is hosted in the same data directory.
    TransferOut(link::TransferOutArgs),
    /// Lists cross-registry transfers, outbound and inbound, with their DES status.
    Transfers(link::TransfersArgs),
    /// The JCM project cycle: each step (`tanso jcm submit-pin --as pp:x project=IN001 …`),
    /// `issue`, `status`, `methodologies`, `compute`, `documents`.
    Jcm(jcm::JcmArgs),
    /// India's Carbon Credit Trading Scheme: each step (`tanso ccts evaluate --as bee
    /// entity=E year=2025`), `import-schedule --file`, `issue`, `surrender`, `status`.
    Ccts(ccts::CctsArgs),
    /// Article 6.2 annual information: the AEF workbook, the consistency checks, the charts.
    Report {
        #[command(subcommand)]
        what: report::ReportCmd,
    },
    /// Creates or upgrades the PostgreSQL schema of --db (connect as the owner role, not the
    /// service role), and grants the service role SELECT and INSERT on the journal tables,
    /// nothing more (creating the role if missing).
    Migrate {
        /// The role the service connects as.
        #[arg(long, default_value = tanso_store_postgres::DEFAULT_SERVICE_ROLE)]
        service_role: String,
    },
    /// The link between registries.
    Link {
        #[command(subcommand)]
        what: LinkCmd,
    },
    /// Serves the HTTP API (`/api/v1`, OpenAPI at `/api/v1/openapi.json`) until SIGINT or
    /// SIGTERM; then finishes acknowledged work and signs the last checkpoints.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Largest request body in bytes.
        #[arg(long, default_value_t = 8 << 20)]
        body_limit: usize,
        /// Log level: error, warn, info, debug.
        #[arg(long, default_value = "info")]
        log: String,
        /// Accepted commands to provision for: the index of every accepted command is made
        /// for that many when the node opens (32 to 64 bytes of memory each, taken at once;
        /// refused if the machine does not have it), so that the writer does not grow it under
        /// load. Past it, the index grows. 0: it grows as needed from the start.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=INDEX_CAPACITY_MAX))]
        index_capacity: u64,
    },
    /// Access administration: `bootstrap` creates the first registry administrator once and
    /// prints a one-time token.
    Admin {
        #[command(subcommand)]
        what: AdminCmd,
    },
    /// Checks an inclusion proof (from GET /api/v1/public/proofs/…) offline against the
    /// trusted keys: the entry's hash, the audit path to the checkpoint's Merkle root, and
    /// the checkpoint's signature. Exit 0 if it holds, 1 if not.
    VerifyProof {
        /// The proof, as JSON (- for standard input).
        file: String,
        /// File of trusted public keys (default: KEYS/trusted_keys).
        #[arg(long)]
        trust: Option<PathBuf>,
    },
    /// The node's signing keys: `show`, `rotate` (see docs/OPERATIONS.md).
    Keys {
        #[command(subcommand)]
        what: KeysCmd,
    },
    /// Benchmarks (programs that print figures; never pass/fail on time).
    Bench {
        #[command(subcommand)]
        what: bench::BenchCmd,
    },
}

#[derive(Subcommand, Debug)]
pub enum PersonalCmd {
    /// Shows the text behind a reference (the hex `*_ref` of an event) and checks that its
    /// salted hash matches.
    Show {
        #[arg(long = "ref")]
        reference: String,
    },
    /// Erases the text and salt behind a reference. The chain keeps the hash, still verifies,
    /// and no longer reveals anything.
    Erase {
        #[arg(long = "ref")]
        reference: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Creates the first registry administrator (scope `*`) and prints its token once.
    /// Refuses when any user exists.
    Bootstrap {
        #[arg(long, default_value = "admin")]
        user: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// The signing key's id and the trusted keys.
    Show,
    /// Makes a new signing key: the old one moves to KEYS/retired/, its public half stays
    /// trusted (old checkpoints still verify), the new public half is added.
    Rotate,
}

#[derive(Subcommand, Debug)]
pub enum LinkCmd {
    /// Pumps messages between the registries of --data (and --peer) over the in-process
    /// transport: proposals, decisions, acknowledgements, status queries, retries, timeouts.
    Run(link::LinkRunArgs),
}

/// Entry point used by the `tanso` binary.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

pub fn run(cli: Cli) -> Result<i32> {
    match &cli.command {
        Cmd::Demo { fresh } => demo::run(&cli, *fresh),
        Cmd::Apply { file, batch_max } => apply::run(&cli, file, *batch_max),
        Cmd::Verify { trust } => query::verify(&cli, trust.as_deref()),
        Cmd::Holdings {
            account,
            registry,
            json,
        } => query::holdings(&cli, *account, registry.as_deref(), *json),
        Cmd::History {
            serial,
            issuing,
            json,
        } => query::history(&cli, *serial, issuing, *json),
        Cmd::Checkpoint => {
            let mut node = open_node(&cli.location())?;
            let n = checkpoint(&mut node, &cli.keys)?;
            println!("signed {n} checkpoint(s)");
            Ok(0)
        }
        Cmd::Checks { json } => query::checks(*json),
        Cmd::Personal { what } => query::personal(&cli, what),
        Cmd::TransferOut(a) => link::transfer_out(&cli, a),
        Cmd::Transfers(a) => link::transfers(&cli, a),
        Cmd::Link {
            what: LinkCmd::Run(a),
        } => link::run_link(&cli, a),
        Cmd::Bench { what } => bench::run(&cli, what),
        Cmd::Serve {
            listen,
            body_limit,
            log,
            index_capacity,
        } => {
            init_logs(log);
            let mut config = api::Config::new(&cli.data, &cli.keys);
            config.location = cli.location();
            config.body_limit_bytes = *body_limit;
            config.index_capacity = usize::try_from(*index_capacity)?;
            api::serve(config, listen)
        }
        Cmd::Migrate { service_role } => {
            let Some(url) = &cli.db else {
                eprintln!("migrate: --db postgres://OWNER@HOST/DB is required (the embedded store needs no migration)");
                return Ok(2);
            };
            let done = tanso_store_postgres::migrate(url, &cli.db_schema, service_role)
                .with_context(|| format!("migrate {}", cli.location().describe()))?;
            println!(
                "migrate: schema {} at version {} (was {}); service role {}{}",
                done.schema,
                done.to_version,
                done.from_version,
                done.service_role,
                if done.role_created { " (created)" } else { "" }
            );
            Ok(0)
        }
        Cmd::Admin {
            what: AdminCmd::Bootstrap { user },
        } => {
            let token = api::bootstrap(&cli.data, user)?;
            println!(
                "created registry administrator {user:?}; its token (shown once, keep it secret):"
            );
            println!("{token}");
            Ok(0)
        }
        Cmd::VerifyProof { file, trust } => keys::verify_proof(&cli, file, trust.as_deref()),
        Cmd::Keys { what } => keys::run(&cli, what),
        Cmd::Jcm(a) => jcm::run(&cli, a),
        Cmd::Ccts(a) => ccts::run(&cli, a),
        Cmd::Report { what } => report::run(&cli, what),
    }
}

/// Structured logs on standard error; never bodies, tokens or passwords.
fn init_logs(level: &str) {
    let level = match level {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Refuses an index capacity whose memory the machine does not have available now (it is taken
/// at once when the node opens; asking for more would end the process, not fail the open).
fn check_index_fits(commands: usize) -> Result<()> {
    if commands == 0 {
        return Ok(());
    }
    let mib = |b: usize| b.div_ceil(1 << 20);
    let Some(needed) = tanso_engine::index_bytes(commands) else {
        bail!("--index-capacity {commands}: no machine has the memory for that index");
    };
    if let Some(available) = mem_available_bytes() {
        if needed > available {
            bail!(
                "--index-capacity {commands}: the index needs {} MiB, and {} MiB of memory is available",
                mib(needed),
                mib(available)
            );
        }
    }
    Ok(())
}

/// `MemAvailable` of /proc/meminfo, in bytes (`None` where there is no such file).
fn mem_available_bytes() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The largest `--index-capacity` taken: a billion commands (51 GB of index).
pub const INDEX_CAPACITY_MAX: u64 = 1_000_000_000;

pub fn open_store(at: &Location) -> Result<AnyStore> {
    at.open()
        .with_context(|| format!("open store {}", at.describe()))
}

/// Opens the node as the writer; on a shared store whose writer is another live instance,
/// as a reader (reads work, commands are refused as fenced).
pub fn open_node(at: &Location) -> Result<Node<AnyStore>> {
    open_node_with(at, NodeConfig::default())
}

/// [`open_node`] with the node's configuration (as `serve --index-capacity` sets it).
pub fn open_node_with(at: &Location, config: NodeConfig) -> Result<Node<AnyStore>> {
    check_index_fits(config.index_capacity)?;
    let mut store = open_store(at)?;
    let node = match store.acquire_writer() {
        Ok(epoch) => Node::open_acquired(store, config, epoch),
        Err(StoreError::WriterHeld(why)) => {
            tracing::info!("{why}; opening as a reader");
            Node::open_reader(store, config)
        }
        Err(e) => return Err(e).with_context(|| format!("open {}", at.describe())),
    };
    node.with_context(|| format!("open journal in {}", at.describe()))
}

pub fn signing_key_path(keys: &Path) -> PathBuf {
    keys.join("signing.key")
}

pub fn trusted_keys_path(keys: &Path) -> PathBuf {
    keys.join("trusted_keys")
}

/// The node's signing key; made on first use, and its public half added to the trusted keys.
pub fn signing_key(keys: &Path) -> Result<ed25519_dalek::SigningKey> {
    let path = signing_key_path(keys);
    if path.exists() {
        return load_signing_key(&path)
            .with_context(|| format!("load signing key {}", path.display()));
    }
    let key = generate_signing_key().context("generate signing key")?;
    save_signing_key(&path, &key)
        .with_context(|| format!("save signing key {}", path.display()))?;
    TrustedKeys::add_to_file(&trusted_keys_path(keys), &key.verifying_key(), "tanso-node")
        .context("add the node's key to the trusted keys")?;
    Ok(key)
}

/// Signs checkpoints for grown chains, and on PostgreSQL brings the projection tables up to
/// date; returns how many checkpoints.
pub fn checkpoint(node: &mut Node<AnyStore>, keys: &Path) -> Result<usize> {
    if !node.is_writer() && !node.is_poisoned() {
        // A reader of a shared store: the writer signs.
        return Ok(0);
    }
    let key = signing_key(keys)?;
    let now = (tanso_engine::system_clock())();
    let signed = node
        .checkpoint(&key, now)
        .context("sign checkpoints")?
        .len();
    projection::project(node).context("update the projection tables")?;
    Ok(signed)
}
