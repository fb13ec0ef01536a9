//! The node: the chains one process hosts, applied in batches with one durable commit per
//! batch (group commit), with idempotency bound to command ids.
//!
//! A node owns its store and is used by one thread at a time (`Engine` puts a writer thread
//! in front of it). It never acknowledges anything before `Store::commit` has returned, and
//! after a failed commit it refuses everything (an fsync error is fatal): the in-memory state
//! may be ahead of what is durable, so the process must reopen from the store.
//!
//! It must not know JSON: submissions arrive as core commands plus the edge's content hash.

use crate::chains::{load_chain, ChainFault, ChainRt};
use crate::outcome::{decode_rejection, encode_rejection};
use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use tanso_core::checkpoint::{Checkpoint, SignedCheckpoint};
use tanso_core::entry::{split_run, Entry};
use tanso_core::merkle::Frontier;
use tanso_core::sha::Midstate;
use tanso_core::*;
use tanso_store::{
    CheckpointRecord, CommitBatch, EntryRun, PersonalRecord, RejectionRecord, Store, StoreError,
};

/// One command as the edge hands it over.
#[derive(Clone, Debug)]
pub struct Submission {
    pub id: CommandId,
    pub chain: ChainId,
    pub actor: Actor,
    /// SHA-256 of the command's canonical wire form, computed by the edge.
    pub content_hash: [u8; 32],
    /// The command, or the edge's rejection of it (malformed quantity, bad id …).
    pub command: Result<Command, Rejection>,
    /// Personal text behind the `PersonalRef`s of this command, kept only if accepted.
    pub personal: Vec<PersonalRecord>,
    /// Check only: answer with the events or the failing checks, apply and bind nothing.
    pub dry_run: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub chain: ChainId,
    pub seq: u64,
    pub hash: [u8; 32],
    pub time: Timestamp,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted(Accepted),
    Rejected(Rejection),
}

/// The answer to one submission. `replayed` is true when it is the stored outcome of an
/// earlier submission with the same id and content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub id: CommandId,
    pub outcome: Outcome,
    pub replayed: bool,
}

impl Answer {
    pub fn codes(&self) -> Vec<Code> {
        match &self.outcome {
            Outcome::Accepted(_) => Vec::new(),
            Outcome::Rejected(r) => r.codes(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("journal fault: {0}")]
    Fault(#[from] ChainFault),
    #[error("signing: {0}")]
    Keys(#[from] crate::keys::KeyError),
    #[error("node is poisoned after a failed batch; reopen it")]
    Poisoned,
    #[error("another writer took over; this node can no longer append")]
    Fenced,
    #[error("memory: {0}")]
    Memory(String),
}

impl From<crate::chains::LoadError> for NodeError {
    fn from(e: crate::chains::LoadError) -> Self {
        match e {
            crate::chains::LoadError::Fault(f) => NodeError::Fault(f),
            crate::chains::LoadError::Store(s) => NodeError::Store(s),
        }
    }
}

/// The memory, in bytes, of the accepted-command index of a node provisioned for `commands`
/// (`NodeConfig::index_capacity`), taken when it opens; `None` if no machine has that much.
pub fn index_bytes(commands: usize) -> Option<usize> {
    AcceptedIndex::bytes_for(commands)
}

#[derive(Clone, Debug, Default)]
pub struct NodeConfig {
    /// Chains this node may write; `None` means any chain opened here.
    pub hosted: Option<BTreeSet<ChainId>>,
    /// Accepted commands the node is provisioned for: its index of them is made for that many
    /// when it opens, so that it takes them without growing on the writer (see
    /// [`crate::fptable`]). 0: the index starts empty and grows as commands are accepted.
    /// Either way it holds every command; past the capacity it grows.
    pub index_capacity: usize,
}

/// Identity hasher for keys that are already hashes.
#[derive(Default)]
pub struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
type FpMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;
type FpSet = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// The accepted-command index: fingerprint → where the command's entry is, for every command
/// ever accepted (see [`crate::fptable`]).
type AcceptedIndex = crate::fptable::FpTable<Loc>;

/// Where an accepted command's entry is: (chain index, seq).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Loc(u32, u64);

/// Asks the CPU to bring in every line of `subs` (written by another thread, so usually in
/// another core's cache), without waiting: they arrive while the commands before them are
/// decided, instead of when each is moved out of the batch.
fn prefetch_submissions(subs: &[Submission]) {
    let base = subs.as_ptr().cast::<u8>();
    for off in (0..std::mem::size_of_val(subs)).step_by(64) {
        crate::prefetch_line(base.wrapping_add(off));
    }
}

/// In-memory fingerprint of a command id (FNV-1a, then a 64-bit finalizer). Only used to
/// find candidates; every hit is confirmed against the stored id.
fn fingerprint(id: &CommandId) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_str().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// HMAC-SHA256 (RFC 2104) with the pad blocks hashed once: the keyed command hash stored in
/// entries and rejections.
#[derive(Clone)]
pub struct Hmac {
    inner: Midstate,
    outer: Midstate,
}

impl Hmac {
    pub fn new(key: &[u8; 32]) -> Self {
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for (i, k) in key.iter().enumerate() {
            ipad[i] ^= k;
            opad[i] ^= k;
        }
        Hmac {
            inner: Midstate::default().absorb(&ipad),
            outer: Midstate::default().absorb(&opad),
        }
    }

    /// The MAC of a 32-byte message (a content hash): one compression for the inner hash and
    /// one for the outer, from the pads' midstates.
    pub fn mac(&self, msg: &[u8; 32]) -> [u8; 32] {
        let inner = self.inner.finish(&[msg]);
        self.outer.finish(&[&inner])
    }
}

/// Whether a command may cite a journal entry (possibly one earlier in its own batch), so that
/// deciding it reads entries.
fn cites_entries(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Issue {
            citation: Some(_),
            ..
        } | Command::SetLabels {
            citation: Some(_),
            ..
        } | Command::ReleaseHold {
            decision: Some(_),
            ..
        } | Command::Correct { .. }
            | Command::MultiLeg(_)
            | Command::IssueFromDecision { .. }
            | Command::ApplyAuthorization { .. }
            | Command::IssueCertificates { .. }
            | Command::Ccts(tanso_core::ccts::CctsCommand::RecordSurrender { .. })
    )
}

/// Batches of at least this many commands are sealed on a second thread (see
/// [`Node::submit_batch`]); smaller ones would pay more for the thread than it saves.
pub const SEAL_ON_THREAD_MIN: usize = 256;
/// Commands whose state the writer touches at once before deciding them (`Node::warm`).
const WARM_AHEAD: usize = 16;
/// Entries handed to the sealer thread at a time.
const SEAL_CHUNK: usize = 512;
/// Bounds of the bytes per entry that size a batch's run buffer (`Node::entry_bytes`).
const ENTRY_BYTES_MIN: usize = 160;
const ENTRY_BYTES_MAX: usize = 16 * 1024;

/// A decided entry to seal: its chain and the entry without its previous hash, and with the
/// command's content hash where its keyed hash goes (the seal keys it, off the deciding
/// thread); with the chain's head and frontier when it is the chain's first entry in the batch.
struct ToSeal {
    chain_ix: u32,
    entry: Entry,
    /// Boxed: only a chain's first entry in a batch has one, and every entry is moved twice.
    tip: Option<Box<([u8; 32], Frontier)>>,
}

/// Chains' tips, by chain index: the head hash and the Merkle frontier.
type Tips = BTreeMap<u32, ([u8; 32], Frontier)>;

/// A batch's entries as they are sealed: encoded into their chain's run, hashed in order and
/// pushed onto the chain's Merkle frontier. Holds, for each chain the batch writes, the head and
/// frontier taken from the chain with its first entry (given back after the batch).
struct Seal {
    /// Keys each entry's command hash.
    hmac: Hmac,
    runs: BTreeMap<u32, RunBuilder>,
    tips: Tips,
    /// In a stream, the tips the batch before hands on once it is sealed: its chains' heads
    /// are newer than the node's until that batch lands. Taken before the first entry, and
    /// they win over the tips the entries bring.
    inherit: Option<crossbeam_channel::Receiver<Tips>>,
    /// Commands in the batch and the bytes an entry took in the last batch: size a run's
    /// buffers, so that they are not regrown (and copied) as the batch is sealed.
    n_subs: usize,
    entry_bytes: usize,
}

impl Seal {
    fn new(hmac: Hmac, n_subs: usize, entry_bytes: usize) -> Self {
        Seal {
            hmac,
            runs: BTreeMap::new(),
            tips: BTreeMap::new(),
            inherit: None,
            n_subs,
            entry_bytes,
        }
    }

    /// Takes the tips the batch before hands on, if this seal waits for them.
    fn inherit(&mut self) {
        if let Some(rx) = self.inherit.take() {
            let tips = rx
                .recv()
                .expect("the batch before hands its tips on once it is sealed");
            self.tips.extend(tips);
        }
    }

    /// The tips to hand on to the next batch in a stream: every chain this seal holds,
    /// inherited ones included.
    fn hand_on(&mut self) -> Tips {
        self.inherit();
        self.tips.clone()
    }

    /// Seals one entry and returns its answer.
    fn seal(&mut self, job: ToSeal) -> Answer {
        self.inherit();
        let ToSeal {
            chain_ix,
            mut entry,
            tip,
        } = job;
        if let Some(tip) = tip {
            self.tips.entry(chain_ix).or_insert(*tip);
        }
        let (head, frontier) = self
            .tips
            .get_mut(&chain_ix)
            .expect("a chain's head is handed over with its first entry in the batch");
        entry.prev_hash = *head;
        entry.command_hash = self.hmac.mac(&entry.command_hash);
        let (n_subs, entry_bytes) = (self.n_subs, self.entry_bytes);
        let run = self.runs.entry(chain_ix).or_insert_with(|| RunBuilder {
            first_seq: entry.seq,
            prev_hash: *head,
            body: Vec::with_capacity(4096.max(entry_bytes * n_subs)),
            entries: Vec::with_capacity(n_subs),
        });
        let offset = run.body.len();
        let hash = entry.write_to(&mut run.body);
        run.entries.push((offset, hash));
        *head = hash;
        frontier.push(&hash);
        accepted(entry, hash, false)
    }
}

/// Where a batch's entries are sealed: on the deciding thread, or on a sealer thread fed in
/// chunks, which answers (answer index, answer) when it is finished.
#[allow(clippy::large_enum_variant)]
enum Sealing<'scope> {
    Here(Seal),
    Elsewhere {
        tx: crossbeam_channel::Sender<ToSealer>,
        chunk: Vec<(usize, ToSeal)>,
        sealer: std::thread::ScopedJoinHandle<'scope, (Seal, Vec<(usize, Answer)>)>,
    },
}

/// What the sealer thread is sent: entries to seal, or (in a stream, after the batch's last
/// entry) where to hand the batch's tips on.
enum ToSealer {
    Chunk(Vec<(usize, ToSeal)>),
    HandOn(crossbeam_channel::Sender<Tips>),
}

impl<'scope> Sealing<'scope> {
    /// A sealer thread in `scope`; if no thread can be started, sealing here.
    fn start<'env>(scope: &'scope std::thread::Scope<'scope, 'env>, seal: Seal) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded::<ToSealer>();
        // The same fresh seal, kept in case no thread can be started.
        let fallback = Seal {
            inherit: seal.inherit.clone(),
            ..Seal::new(seal.hmac.clone(), seal.n_subs, seal.entry_bytes)
        };
        let spawned = std::thread::Builder::new()
            .name("tanso-sealer".into())
            .spawn_scoped(scope, move || {
                let mut seal = seal;
                let mut out = Vec::with_capacity(seal.n_subs);
                for msg in rx {
                    match msg {
                        ToSealer::Chunk(chunk) => {
                            for (ix, job) in chunk {
                                out.push((ix, seal.seal(job)));
                            }
                        }
                        ToSealer::HandOn(next) => {
                            // The next batch may have ended already; then nobody waits.
                            let _ = next.send(seal.hand_on());
                        }
                    }
                }
                (seal, out)
            });
        match spawned {
            Ok(sealer) => Sealing::Elsewhere {
                tx,
                chunk: Vec::with_capacity(SEAL_CHUNK),
                sealer,
            },
            Err(_) => Sealing::Here(fallback),
        }
    }

    fn is_elsewhere(&self) -> bool {
        matches!(self, Sealing::Elsewhere { .. })
    }

    /// The runs sealed so far, for citations of entries in this batch: only when sealing
    /// here (a command that may cite finishes the sealer first).
    fn runs(&self) -> &BTreeMap<u32, RunBuilder> {
        static NONE: BTreeMap<u32, RunBuilder> = BTreeMap::new();
        match self {
            Sealing::Here(seal) => &seal.runs,
            Sealing::Elsewhere { .. } => &NONE,
        }
    }

    /// Seals `job` as the next answer: here at once, or on the sealer thread, leaving the
    /// answer's place empty until `finish`.
    fn seal(&mut self, job: ToSeal, answers: &mut Vec<Option<Answer>>) {
        match self {
            Sealing::Here(seal) => answers.push(Some(seal.seal(job))),
            Sealing::Elsewhere { tx, chunk, .. } => {
                chunk.push((answers.len(), job));
                answers.push(None);
                if chunk.len() == SEAL_CHUNK {
                    let full = std::mem::replace(chunk, Vec::with_capacity(SEAL_CHUNK));
                    // The sealer only stops when the sender is dropped.
                    let _ = tx.send(ToSealer::Chunk(full));
                }
            }
        }
    }

    /// In a stream, after the batch's last entry: has the seal hand its tips on to the next
    /// batch, on `next`, as soon as it has sealed everything before (without waiting here).
    fn hand_on(&mut self, next: crossbeam_channel::Sender<Tips>) {
        match self {
            Sealing::Here(seal) => {
                let _ = next.send(seal.hand_on());
            }
            Sealing::Elsewhere { tx, chunk, .. } => {
                if !chunk.is_empty() {
                    let _ = tx.send(ToSealer::Chunk(std::mem::take(chunk)));
                }
                let _ = tx.send(ToSealer::HandOn(next));
            }
        }
    }

    /// Waits for everything handed over to be sealed, fills in its answers, and returns the
    /// seal to go on with here.
    fn finish(self, answers: &mut [Option<Answer>]) -> Seal {
        match self {
            Sealing::Here(seal) => seal,
            Sealing::Elsewhere { tx, chunk, sealer } => {
                if !chunk.is_empty() {
                    let _ = tx.send(ToSealer::Chunk(chunk));
                }
                drop(tx);
                let (seal, out) = match sealer.join() {
                    Ok(done) => done,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
                for (ix, a) in out {
                    answers[ix] = Some(a);
                }
                seal
            }
        }
    }
}

/// A stream's commit: none, running on its own thread (which waits for the batch's seal, then
/// commits with the store), or finished with its outcome and the answers it made durable.
enum Flight<'scope, S: Store> {
    Grounded,
    Flying(std::thread::ScopedJoinHandle<'scope, (S, Result<(), StoreError>, Sealed, Loans)>),
    Landed(Result<(), StoreError>, Vec<Answer>),
}

/// Registry chains' owners lent out, by chain index (`RegistryState::lend_owners`): a
/// streamed batch's commit thread has their pending changes written (on a thread of its own,
/// beside the seal's end and the sync), and they come home when it lands.
type Loans = Vec<(u32, OwnerStores)>;

/// A streamed batch once its deciding is done: what its commit thread finishes (the seal,
/// still running, and the answers it fills in) and commits.
struct Closing<'scope> {
    sealing: Sealing<'scope>,
    answers: Vec<Option<Answer>>,
    rejections: Vec<RejectionRecord>,
    personal: Vec<PersonalRecord>,
    /// The names of the chains the batch wrote, by index.
    names: Vec<(u32, String)>,
    epoch: u64,
}

/// A batch's seal, finished: its answers, and the tips and entry size the node takes back.
struct Sealed {
    answers: Vec<Answer>,
    tips: Tips,
    widest: Option<usize>,
}

impl Closing<'_> {
    /// Waits for the seal and builds the batch's commit.
    fn finish(self) -> (CommitBatch, Sealed) {
        let Closing {
            sealing,
            mut answers,
            rejections,
            personal,
            names,
            epoch,
        } = self;
        let seal = sealing.finish(&mut answers);
        let name_of = |ix: u32| {
            names
                .iter()
                .find(|(i, _)| *i == ix)
                .map(|(_, n)| n.clone())
                .expect("a chain the batch wrote was handed over with its name")
        };
        seal_into_commit(seal, answers, rejections, personal, epoch, name_of)
    }
}

/// A finished seal's commit (its runs, with the batch's rejections and personal records) and
/// the rest of what it gives back.
fn seal_into_commit(
    seal: Seal,
    answers: Vec<Option<Answer>>,
    rejections: Vec<RejectionRecord>,
    personal: Vec<PersonalRecord>,
    epoch: u64,
    name_of: impl Fn(u32) -> String,
) -> (CommitBatch, Sealed) {
    let answers = answers
        .into_iter()
        .map(|a| a.expect("every entry is answered once the seal is finished"))
        .collect();
    let widest = seal
        .runs
        .values()
        .filter(|r| !r.entries.is_empty())
        .map(|r| r.body.len() / r.entries.len())
        .max();
    let batch = CommitBatch {
        epoch,
        runs: seal
            .runs
            .into_iter()
            .map(|(ix, r)| EntryRun {
                chain: name_of(ix),
                first_seq: r.first_seq,
                last_seq: r.first_seq + r.entries.len() as u64 - 1,
                prev_hash: r.prev_hash,
                head_hash: r.entries.last().map_or(r.prev_hash, |e| e.1),
                body: r.body,
            })
            .collect(),
        rejections,
        personal,
        checkpoints: Vec::new(),
    };
    let sealed = Sealed {
        answers,
        tips: seal.tips,
        widest,
    };
    (batch, sealed)
}

/// A batch being decided: its answers so far, where its entries are sealed, and what it binds.
struct Deciding<'scope> {
    now: Timestamp,
    sealing: Sealing<'scope>,
    /// Filled in order, except the entries being sealed on the other thread (`None` until the
    /// sealer is finished).
    answers: Vec<Option<Answer>>,
    /// Ids answered in this batch: fp → latest answer index with that fingerprint; earlier
    /// ones with the same fingerprint are chained through `same_fp`.
    in_batch: FpMap<usize>,
    same_fp: Vec<usize>,
    /// Each answer's command content hash (the same content, the same keyed hash).
    content_of: Vec<[u8; 32]>,
    /// The chains whose head and frontier the seal holds.
    handed: BTreeSet<u32>,
    rejections: Vec<RejectionRecord>,
    personal: Vec<PersonalRecord>,
}

impl<'scope> Deciding<'scope> {
    fn new(sealing: Sealing<'scope>, n_subs: usize, now: Timestamp) -> Self {
        let mut in_batch = FpMap::default();
        in_batch.reserve(n_subs);
        Deciding {
            now,
            sealing,
            answers: Vec::with_capacity(n_subs),
            in_batch,
            same_fp: Vec::with_capacity(n_subs),
            content_of: Vec::with_capacity(n_subs),
            handed: BTreeSet::new(),
            rejections: Vec::new(),
            personal: Vec::new(),
        }
    }
}

/// A batch opened with [`Node::open_batch`], decided one command at a time.
pub struct OpenBatch(Deciding<'static>);

impl OpenBatch {
    /// Commands decided into the batch so far.
    pub fn len(&self) -> usize {
        self.0.answers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.answers.is_empty()
    }
}

const STORE_HOME: &str = "the store is home: a stream lands its commit before any read";

struct RunBuilder {
    first_seq: u64,
    prev_hash: [u8; 32],
    body: Vec<u8>,
    /// (offset of the stored entry in `body`, its hash), by seq − first_seq.
    entries: Vec<(usize, [u8; 32])>,
}

/// The last run read back, split: re-sent commands after a crash arrive in order, so one
/// cached run answers thousands of them.
struct RunCache {
    chain: String,
    first_seq: u64,
    body: Vec<u8>,
    /// (offset of the body, body length, stored hash) per entry.
    entries: Vec<(usize, usize, [u8; 32])>,
}

pub struct Node<S: Store> {
    run_cache: std::cell::RefCell<Option<RunCache>>,
    /// The store; away (`None`) only inside [`Node::submit_stream`], while a batch's commit runs
    /// on its own thread (every path that reads lands that commit first).
    store: Option<S>,
    epoch: u64,
    hmac: Hmac,
    config: NodeConfig,
    chains: Vec<ChainRt>,
    chain_ix: BTreeMap<ChainId, u32>,
    accepted: AcceptedIndex,
    /// Fingerprints seen more than once (different ids, same fingerprint): all locations.
    accepted_collisions: FpMap<Vec<Loc>>,
    rejected: FpSet,
    poisoned: bool,
    fenced: bool,
    /// Some registry's owners are lent to the commit in flight (`Node::lend_owners`).
    owners_lent: bool,
    /// Streamed batches whose commit thread was lent owners, and commands that waited for
    /// them to come home (`Node::owner_loans`).
    loans: (u64, u64),
    /// Bytes per entry in the last batch's widest run, with some room: sizes the next batch's
    /// run buffers (a transfer of many blocks lists each range).
    entry_bytes: usize,
}

impl<S: Store> Node<S> {
    /// Opens the node: becomes the writer (fencing any earlier one), replays every chain
    /// (checking hashes and links as it reads), and rebuilds the idempotency index.
    pub fn open(mut store: S, config: NodeConfig) -> Result<Self, NodeError> {
        let epoch = store.acquire_writer()?;
        Node::load(store, config, epoch, true)
    }

    /// Opens the node on a store whose writer role the caller has just acquired (`epoch`).
    pub fn open_acquired(store: S, config: NodeConfig, epoch: u64) -> Result<Self, NodeError> {
        Node::load(store, config, epoch, true)
    }

    /// Opens the node as a reader of a shared store whose writer is another instance: replays
    /// every chain as `open` does, serves reads, refuses every command (as fenced) until
    /// `promote`. `catch_up` reads what the writer appended since.
    pub fn open_reader(store: S, config: NodeConfig) -> Result<Self, NodeError> {
        let epoch = store.writer_epoch()?;
        let mut node = Node::load(store, config, epoch, false)?;
        node.fenced = true;
        Ok(node)
    }

    /// Stops writing (the shared store's writer lock was lost): the node becomes a reader
    /// until `promote`. Memory matches the store, since no commit is in flight while the
    /// caller holds the node.
    pub fn step_down(&mut self) {
        self.fenced = true;
    }

    /// Whether this node is the writer (not a reader, not fenced, not poisoned).
    pub fn is_writer(&self) -> bool {
        !self.fenced && !self.poisoned
    }

    /// Becomes the writer of a node opened as a reader (or fenced): takes the store's writer
    /// role (fencing the old writer), then replays what was appended since the last catch-up
    /// and rebuilds the rejection index, before it accepts any command.
    pub fn promote(&mut self) -> Result<u64, NodeError> {
        if self.poisoned {
            // A failed commit may have left memory ahead of the store: reopen instead.
            return Err(NodeError::Poisoned);
        }
        let epoch = self.st_mut().acquire_writer()?;
        self.epoch = epoch;
        // A reader opened before any writer made the secret has a placeholder.
        let secret = Node::<S>::secret(self.st_mut(), true)?;
        self.hmac = Hmac::new(&secret);
        self.catch_up()?;
        let mut rejected = FpSet::default();
        self.st().scan_rejections(&mut |r| {
            if let Ok(id) = CommandId::parse(&r.command_id) {
                rejected.insert(fingerprint(&id));
            }
        })?;
        self.rejected = rejected;
        self.fenced = false;
        self.poisoned = false;
        Ok(epoch)
    }

    /// Applies every entry the store holds beyond this node's heads (a reader following the
    /// writer); returns how many. Each entry is checked as on open.
    pub fn catch_up(&mut self) -> Result<usize, NodeError> {
        let mut applied = 0;
        for head in self.st().heads()? {
            let id = ChainId::parse(&head.chain)
                .map_err(|_| ChainFault::new(&head.chain, 0, "chain name is not a chain id"))?;
            let Some(&ix) = self.chain_ix.get(&id) else {
                let mut ids = Vec::new();
                let rt = load_chain(self.st(), &head.chain, |entry, _| {
                    ids.push((fingerprint(&entry.command_id), entry.seq));
                    Ok(())
                })?;
                applied += rt.seq as usize;
                let ix = self.add_chain(rt);
                for (fp, seq) in ids {
                    self.index_accepted(fp, Loc(ix, seq));
                }
                continue;
            };
            let from = self.chains[ix as usize].seq + 1;
            if head.seq < from {
                continue;
            }
            for run in self.st().read_runs(&head.chain, from)? {
                let raws = split_run(&run.body)
                    .map_err(|e| ChainFault::new(&head.chain, run.first_seq, e.to_string()))?;
                for (k, raw) in raws.into_iter().enumerate() {
                    let seq = run.first_seq + k as u64;
                    if seq < from {
                        continue;
                    }
                    let entry = self.chains[ix as usize].apply_stored(raw.body, raw.stored_hash)?;
                    self.index_accepted(fingerprint(&entry.command_id), Loc(ix, seq));
                    applied += 1;
                }
            }
            let checkpointed = self
                .st()
                .checkpoints(&head.chain)?
                .last()
                .map_or(0, |c| c.seq);
            let rt = &mut self.chains[ix as usize];
            rt.checkpointed_seq = checkpointed.min(rt.seq);
        }
        Ok(applied)
    }

    /// The node secret: stored, or (when `create`) made and stored; all zero for a reader of
    /// a store no writer has opened yet (`promote` reads it again).
    fn secret(store: &mut S, create: bool) -> Result<[u8; 32], NodeError> {
        Ok(match store.meta_get("node_secret")? {
            Some(v) if v.len() == 32 => {
                let mut s = [0u8; 32];
                s.copy_from_slice(&v);
                s
            }
            _ if !create => [0u8; 32],
            _ => {
                let mut s = [0u8; 32];
                getrandom::getrandom(&mut s).map_err(|e| {
                    StoreError::Io(format!("no randomness for the node secret: {e}"))
                })?;
                store.meta_set("node_secret", &s)?;
                s
            }
        })
    }

    fn load(mut store: S, config: NodeConfig, epoch: u64, writer: bool) -> Result<Self, NodeError> {
        let secret = Node::<S>::secret(&mut store, writer)?;
        let accepted = AcceptedIndex::with_capacity(config.index_capacity).map_err(|_| {
            NodeError::Memory(format!(
                "no room for an index of {} accepted commands",
                config.index_capacity
            ))
        })?;
        let mut node = Node {
            run_cache: std::cell::RefCell::new(None),
            store: Some(store),
            epoch,
            hmac: Hmac::new(&secret),
            config,
            chains: Vec::new(),
            chain_ix: BTreeMap::new(),
            accepted,
            accepted_collisions: FpMap::default(),
            rejected: FpSet::default(),
            poisoned: false,
            owners_lent: false,
            loans: (0, 0),
            fenced: false,
            entry_bytes: ENTRY_BYTES_MIN,
        };
        for head in node.st().heads()? {
            let mut ids = Vec::new();
            let rt = load_chain(node.st(), &head.chain, |entry, _| {
                ids.push((fingerprint(&entry.command_id), entry.seq));
                Ok(())
            })?;
            if rt.seq != head.seq || rt.head != head.hash {
                return Err(ChainFault::new(
                    &head.chain,
                    rt.seq + 1,
                    format!(
                        "the store's head is seq {} but the chain's entries end at seq {}",
                        head.seq, rt.seq
                    ),
                )
                .into());
            }
            let ix = node.add_chain(rt);
            for (fp, seq) in ids {
                node.index_accepted(fp, Loc(ix, seq));
            }
        }
        let mut rejected = FpSet::default();
        node.st().scan_rejections(&mut |r| {
            if let Ok(id) = CommandId::parse(&r.command_id) {
                rejected.insert(fingerprint(&id));
            }
        })?;
        node.rejected = rejected;
        Ok(node)
    }

    fn add_chain(&mut self, rt: ChainRt) -> u32 {
        let ix = self.chains.len() as u32;
        self.chain_ix.insert(rt.id.clone(), ix);
        self.chains.push(rt);
        ix
    }

    fn index_accepted(&mut self, fp: u64, loc: Loc) {
        if let Some(prev) = self.accepted.insert(fp, loc) {
            let v = self.accepted_collisions.entry(fp).or_default();
            if v.is_empty() {
                v.push(prev);
            }
            v.push(loc);
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    pub fn store(&self) -> &S {
        self.st()
    }
    pub fn store_mut(&mut self) -> &mut S {
        self.st_mut()
    }
    fn st(&self) -> &S {
        self.store.as_ref().expect(STORE_HOME)
    }
    fn st_mut(&mut self) -> &mut S {
        self.store.as_mut().expect(STORE_HOME)
    }
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Records a failed commit: the node stops writing; a fenced one says so.
    fn fail(&mut self, e: StoreError) -> NodeError {
        self.poisoned = true;
        if matches!(e, StoreError::Fenced { .. }) {
            self.fenced = true;
            NodeError::Fenced
        } else {
            e.into()
        }
    }

    fn refuse_if_stopped(&self) -> Result<(), NodeError> {
        if self.fenced {
            Err(NodeError::Fenced)
        } else if self.poisoned {
            Err(NodeError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// 6005 unless this node hosts the chain.
    fn check_hosted(&self, chain: &ChainId) -> Result<(), Rejection> {
        match &self.config.hosted {
            Some(hosted) if !hosted.contains(chain) => Err(Rejection::one(
                Code::CHAIN_NOT_HOSTED,
                format!("this node does not host chain {chain}"),
            )),
            _ => Ok(()),
        }
    }
    pub fn chains(&self) -> impl Iterator<Item = &ChainRt> {
        self.chains.iter()
    }
    pub fn chain(&self, id: &ChainId) -> Option<&ChainRt> {
        self.chain_ix.get(id).map(|&i| &self.chains[i as usize])
    }
    /// Keyed hash of a command's content, as stored in entries.
    pub fn command_hash(&self, content_hash: &[u8; 32]) -> [u8; 32] {
        self.hmac.mac(content_hash)
    }

    /// Reads one committed entry back from the store.
    pub fn read_entry(
        &self,
        chain: &ChainId,
        seq: u64,
    ) -> Result<Option<(Entry, [u8; 32])>, NodeError> {
        let name = chain.to_string();
        let mut cache = self.run_cache.borrow_mut();
        let hit = cache.as_ref().is_some_and(|c| {
            c.chain == name && seq >= c.first_seq && seq < c.first_seq + c.entries.len() as u64
        });
        if !hit {
            let Some(run) = self.st().run_containing(&name, seq)? else {
                return Ok(None);
            };
            let raws = split_run(&run.body)
                .map_err(|e| ChainFault::new(&name, run.first_seq, e.to_string()))?;
            let base = run.body.as_ptr() as usize;
            let entries = raws
                .iter()
                .map(|r| (r.body.as_ptr() as usize - base, r.body.len(), r.stored_hash))
                .collect();
            *cache = Some(RunCache {
                chain: name.clone(),
                first_seq: run.first_seq,
                body: run.body,
                entries,
            });
        }
        let Some(c) = cache.as_ref() else {
            return Ok(None);
        };
        let Some(&(off, len, hash)) = c.entries.get((seq - c.first_seq) as usize) else {
            return Ok(None);
        };
        let entry = Entry::decode_body(&c.body[off..off + len])
            .map_err(|e| ChainFault::new(&name, seq, e.to_string()))?;
        Ok(Some((entry, hash)))
    }

    /// Applies a batch of submissions with one durable commit, and answers each in order.
    /// `now` is the writer's clock; entry times never decrease within a chain.
    ///
    /// A batch of at least [`SEAL_ON_THREAD_MIN`] commands has its entries sealed (encoded,
    /// hashed in order, pushed onto the Merkle frontier, answered) on a second thread while
    /// this one decides the next commands. A command that needs the batch's sealed entries
    /// (one that may cite an entry, dry run or not, or an id seen earlier in the batch) first waits
    /// for the sealer to finish, and the rest of the batch is sealed here. Either way the
    /// entries, hashes and answers are the same as sealing each entry as it is decided.
    pub fn submit_batch(
        &mut self,
        subs: Vec<Submission>,
        now: Timestamp,
    ) -> Result<Vec<Answer>, NodeError> {
        self.refuse_if_stopped()?;
        let (batch, answers) = std::thread::scope(|scope| {
            let batch = self.decide_all(scope, subs, now, &mut Flight::Grounded, None)?;
            self.settle();
            Ok::<_, NodeError>(self.close_batch(batch))
        })?;
        if !batch.is_empty() {
            if let Err(e) = self.st_mut().commit(&batch) {
                return Err(self.fail(e));
            }
        }
        Ok(answers)
    }

    /// Applies a stream of batches, each exactly as [`Node::submit_batch`] would (same entries,
    /// hashes and answers, one durable commit per batch), but commits each batch on a thread
    /// of its own while this one decides the next. `durable` gets each batch's answers, in
    /// order, once that batch is durable; when it returns `false` no further batch is taken
    /// (the one already decided is still committed and answered).
    ///
    /// Nor does this thread wait for a batch's seal: the commit thread does. The next batch's
    /// seal starts at once, and takes the chains' tips (heads and Merkle frontiers) from the
    /// seal before it when that one hands them on, after its last entry; the node takes them
    /// back as each commit lands. So the sealer's last entries of one batch are hashed while
    /// the next batch is decided (the writer waited 7–8% of a `batch8000` run for them
    /// otherwise: docs/BENCHMARKS.md, fifteenth round).
    ///
    /// A batch that needs the store while deciding (a command that may cite an entry, or an
    /// id this node has seen before) first waits for the commit in flight. A failed commit
    /// stops the node as in `submit_batch`; the batch decided meanwhile is never answered.
    pub fn submit_stream<I, F>(&mut self, batches: I, mut durable: F) -> Result<(), NodeError>
    where
        I: IntoIterator<Item = (Vec<Submission>, Timestamp)>,
        F: FnMut(Vec<Answer>) -> bool,
    {
        self.refuse_if_stopped()?;
        std::thread::scope(|scope| {
            let mut flight = Flight::Grounded;
            let mut go_on = true;
            // The tips the batch before hands on once it is sealed (its seal may still run).
            let mut inherit = None;
            for (subs, now) in batches {
                if !go_on {
                    break;
                }
                let decided = self
                    .decide_all(scope, subs, now, &mut flight, inherit.take())
                    .map(|b| self.hand_off(b));
                // The commit in flight (or landed while deciding) finishes before anything
                // else: its answers go out first, and an error in deciding is only reported
                // once the store is home.
                if let Some(answers) = self.land(&mut flight)? {
                    go_on = durable(answers);
                }
                let (closing, next) = decided?;
                inherit = Some(next);
                let mut store = self.store.take().expect(STORE_HOME);
                // The owner changes the batch's transfers kept pending are written while this
                // thread decides the next batch (whose transfers do not read owners; anything
                // else waits for the commit first), on a thread of their own beside the
                // commit's wait for its seal and its sync, so as not to add to them (on the
                // `blocks` workload on a machine whose caches hold far less than the owners'
                // array, the writer waited for them: docs/BENCHMARKS.md, twentieth round).
                let mut loans = self.lend_owners();
                let commit = scope.spawn(move || {
                    std::thread::scope(|inner| {
                        let stores = (!loans.is_empty()).then(|| {
                            inner.spawn(move || {
                                for (_, stores) in &mut loans {
                                    stores.apply();
                                }
                                loans
                            })
                        });
                        let (batch, sealed) = closing.finish();
                        let r = if batch.is_empty() {
                            Ok(())
                        } else {
                            store.commit(&batch)
                        };
                        let loans = match stores.map(|h| h.join()) {
                            None => Vec::new(),
                            Some(Ok(loans)) => loans,
                            Some(Err(panic)) => std::panic::resume_unwind(panic),
                        };
                        (store, r, sealed, loans)
                    })
                });
                flight = Flight::Flying(commit);
            }
            if let Some(answers) = self.land(&mut flight)? {
                durable(answers);
            }
            Ok(())
        })
    }

    /// Waits for the commit in flight, if any, and brings the store home; returns the answers
    /// it made durable, or the commit's error (which stops the node).
    fn land(&mut self, flight: &mut Flight<'_, S>) -> Result<Option<Vec<Answer>>, NodeError> {
        self.bring_home(flight);
        match std::mem::replace(flight, Flight::Grounded) {
            Flight::Grounded => Ok(None),
            Flight::Landed(Ok(()), answers) => Ok(Some(answers)),
            Flight::Landed(Err(e), _) => Err(self.fail(e)),
            Flight::Flying(..) => unreachable!("bring_home lands a flying commit"),
        }
    }

    /// Joins the commit in flight, if any, keeping its outcome in `flight`, so that the store
    /// can be read.
    fn bring_home(&mut self, flight: &mut Flight<'_, S>) {
        if let Flight::Flying(..) = flight {
            let Flight::Flying(commit) = std::mem::replace(flight, Flight::Grounded) else {
                return;
            };
            let (store, result, sealed, loans) = match commit.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            self.store = Some(store);
            for (ix, stores) in loans {
                self.chains[ix as usize].state.return_owners(stores);
            }
            self.owners_lent = false;
            self.take_back(sealed.tips, sealed.widest);
            *flight = Flight::Landed(result, sealed.answers);
        }
    }

    /// Decides every command of a batch, its entries handed to its seal (see `submit_batch`),
    /// which waits for `inherit`'s tips first if given. The batch is left open. A failure
    /// while deciding stops the node: commands decided before it changed the state in memory
    /// but will never be committed.
    fn decide_all<'scope>(
        &mut self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        subs: Vec<Submission>,
        now: Timestamp,
        flight: &mut Flight<'scope, S>,
        inherit: Option<crossbeam_channel::Receiver<Tips>>,
    ) -> Result<Deciding<'scope>, NodeError> {
        let n_subs = subs.len();
        let seal = Seal {
            inherit,
            ..Seal::new(self.hmac.clone(), n_subs, self.entry_bytes)
        };
        let sealing = if n_subs >= SEAL_ON_THREAD_MIN {
            Sealing::start(scope, seal)
        } else {
            Sealing::Here(seal)
        };
        let mut batch = Deciding::new(sealing, n_subs, now);
        let mut subs = subs.into_iter();
        let mut warm = 0;
        loop {
            if warm == 0 {
                let rest = subs.as_slice();
                let (ahead, next) = rest.split_at(rest.len().min(WARM_AHEAD));
                self.warm(ahead);
                prefetch_submissions(&next[..next.len().min(WARM_AHEAD)]);
                warm = ahead.len();
            }
            let Some(sub) = subs.next() else {
                break;
            };
            warm -= 1;
            if let Err(e) = self.decide_next(&mut batch, sub, flight) {
                self.poisoned = true;
                return Err(e);
            }
        }
        Ok(batch)
    }

    /// Lends out every registry chain's owners with the changes its transfers kept pending
    /// (`RegistryState::lend_owners`), for a commit thread to write them.
    fn lend_owners(&mut self) -> Loans {
        let loans: Loans = (0u32..)
            .zip(&mut self.chains)
            .filter_map(|(ix, rt)| rt.state.lend_owners().map(|l| (ix, l)))
            .collect();
        if !loans.is_empty() {
            self.owners_lent = true;
            self.loans.0 += 1;
        }
        loans
    }

    /// How many streamed batches lent the blocks' owners to their commit thread, and how many
    /// commands waited for them to come back because they may read them.
    pub fn owner_loans(&self) -> (u64, u64) {
        self.loans
    }

    /// Has every chain write what its decisions kept pending (`ChainState::settle`), so that
    /// reads between batches do not scan it.
    fn settle(&mut self) {
        for rt in &mut self.chains {
            rt.state.settle();
        }
    }

    /// Ends a streamed batch without waiting for its seal: has the seal hand its tips on to
    /// the next batch (returned), and leaves the rest to the batch's commit thread.
    fn hand_off<'scope>(
        &self,
        batch: Deciding<'scope>,
    ) -> (Closing<'scope>, crossbeam_channel::Receiver<Tips>) {
        let Deciding {
            mut sealing,
            answers,
            handed,
            rejections,
            personal,
            ..
        } = batch;
        let (tx, next) = crossbeam_channel::bounded(1);
        sealing.hand_on(tx);
        let names = handed
            .into_iter()
            .map(|ix| (ix, self.chains[ix as usize].name.clone()))
            .collect();
        let closing = Closing {
            sealing,
            answers,
            rejections,
            personal,
            names,
            epoch: self.epoch,
        };
        (closing, next)
    }

    /// Takes back a finished seal's tips (each chain's head and frontier) and the widest
    /// entry it sealed (which sizes the next batch's buffers).
    fn take_back(&mut self, tips: Tips, widest: Option<usize>) {
        for (ix, (head, frontier)) in tips {
            let rt = &mut self.chains[ix as usize];
            rt.head = head;
            rt.frontier = frontier;
        }
        if let Some(widest) = widest {
            self.entry_bytes = (widest + widest / 8 + 16).clamp(ENTRY_BYTES_MIN, ENTRY_BYTES_MAX);
        }
    }

    /// Ends a batch: waits for its seal, gives the chains their new tips, and builds the
    /// commit with the batch's answers.
    fn close_batch(&mut self, batch: Deciding<'_>) -> (CommitBatch, Vec<Answer>) {
        let Deciding {
            sealing,
            mut answers,
            rejections,
            personal,
            ..
        } = batch;
        let seal = sealing.finish(&mut answers);
        let name_of = |ix: u32| self.chains[ix as usize].name.clone();
        let (batch, sealed) =
            seal_into_commit(seal, answers, rejections, personal, self.epoch, name_of);
        self.take_back(sealed.tips, sealed.widest);
        (batch, sealed.answers)
    }

    /// Starts a batch decided one command at a time, as its commands arrive (the engine's
    /// writer decides each while it gathers the rest): [`Node::decide_into`] for each, then
    /// [`Node::commit_open`]. Entries are sealed in place. The same answers, entries and
    /// hashes as `submit_batch` of the same commands.
    pub fn open_batch(&mut self, now: Timestamp) -> Result<OpenBatch, NodeError> {
        self.refuse_if_stopped()?;
        Ok(OpenBatch(Deciding::new(
            Sealing::Here(Seal::new(self.hmac.clone(), 1, self.entry_bytes)),
            1,
            now,
        )))
    }

    /// Decides the next command of an open batch. A failure stops the node (as in
    /// `submit_batch`); the batch must then be dropped.
    pub fn decide_into(&mut self, batch: &mut OpenBatch, sub: Submission) -> Result<(), NodeError> {
        self.refuse_if_stopped()?;
        let r = self.decide_next(&mut batch.0, sub, &mut Flight::Grounded);
        if r.is_err() {
            self.poisoned = true;
        }
        r
    }

    /// Commits an open batch durably and returns its answers, in order.
    pub fn commit_open(&mut self, batch: OpenBatch) -> Result<Vec<Answer>, NodeError> {
        self.refuse_if_stopped()?;
        self.settle();
        let (batch, answers) = self.close_batch(batch.0);
        if !batch.is_empty() {
            if let Err(e) = self.st_mut().commit(&batch) {
                return Err(self.fail(e));
            }
        }
        Ok(answers)
    }

    /// Decides one command of a batch and has its entry sealed.
    fn decide_next<'scope>(
        &mut self,
        b: &mut Deciding<'scope>,
        sub: Submission,
        flight: &mut Flight<'scope, S>,
    ) -> Result<(), NodeError> {
        let now = b.now;
        let fp = fingerprint(&sub.id);
        // Compared as content hashes here; keyed only where stored (the seal keys entries).
        let content = sub.content_hash;
        let cites = sub.command.as_ref().is_ok_and(cites_entries);
        if b.sealing.is_elsewhere() && (cites || b.in_batch.contains_key(&fp)) {
            let placeholder = Sealing::Here(Seal::new(self.hmac.clone(), 0, 0));
            let sealing = std::mem::replace(&mut b.sealing, placeholder);
            b.sealing = Sealing::Here(sealing.finish(&mut b.answers));
        }
        // A citation reads the store: the commit in flight lands first. So it does for a
        // command that may read the blocks' owners while they are lent to it.
        let needs_owners = self.owners_lent
            && (sub.dry_run
                || !sub
                    .command
                    .as_ref()
                    .is_ok_and(tanso_core::registry::RegistryState::decides_without_owners));
        if needs_owners {
            self.loans.1 += 1;
        }
        if cites || needs_owners {
            self.bring_home(flight);
        }
        // 1. Same id earlier in this batch.
        let mut earlier = b.in_batch.get(&fp).copied();
        while let Some(i) = earlier {
            if b.answers[i].as_ref().is_some_and(|a| a.id == sub.id) {
                break;
            }
            earlier = Some(b.same_fp[i]).filter(|&j| j != usize::MAX);
        }
        if let Some(i) = earlier {
            let a = match &b.answers[i] {
                Some(first) if b.content_of[i] == content => Answer {
                    replayed: true,
                    ..first.clone()
                },
                _ => reused(&sub.id),
            };
            b.answers.push(Some(a));
            b.same_fp.push(usize::MAX);
            b.content_of.push(content);
            return Ok(());
        }
        // 2. Same id in an earlier batch: read from the store, once the commit in flight
        // has landed. (A new id, the common case, costs two lookups here.)
        if self.seen_before(fp) {
            self.bring_home(flight);
            let keyed = self.command_hash(&content);
            if let Some(a) = self.stored_answer(fp, &sub.id, &keyed)? {
                b.answers.push(Some(a));
                b.same_fp.push(usize::MAX);
                b.content_of.push(content);
                return Ok(());
            }
        }
        let ix = b.answers.len();
        if sub.dry_run {
            b.answers
                .push(Some(self.dry_run_one(&sub, now, b.sealing.runs())));
            b.same_fp.push(usize::MAX);
            b.content_of.push(content);
            return Ok(());
        }
        let outcome = self.decide_one(&sub, now, b.sealing.runs());
        match outcome {
            Ok((chain_ix, entry_events)) => {
                let rt = &mut self.chains[chain_ix as usize];
                let time = Timestamp(now.0.max(rt.last_time.0));
                rt.seq += 1;
                rt.last_time = time;
                // The submission is not needed past this point: its id, actor and
                // personal records move into the entry, the batch and the answer.
                let entry = Entry {
                    chain: rt.id.clone(),
                    seq: rt.seq,
                    time,
                    actor: sub.actor,
                    command_id: sub.id,
                    // Keyed by the seal.
                    command_hash: content,
                    // Set by the seal, which holds the chain's head.
                    prev_hash: [0; 32],
                    events: entry_events,
                };
                let tip = b
                    .handed
                    .insert(chain_ix)
                    .then(|| Box::new((rt.head, std::mem::take(&mut rt.frontier))));
                b.personal.extend(sub.personal);
                self.index_accepted(fp, Loc(chain_ix, entry.seq));
                b.sealing.seal(
                    ToSeal {
                        chain_ix,
                        entry,
                        tip,
                    },
                    &mut b.answers,
                );
            }
            Err(rejection) => {
                if rejection.is_permanent() {
                    b.rejections.push(RejectionRecord {
                        command_id: sub.id.as_str().to_owned(),
                        content_hash: self.command_hash(&content),
                        body: encode_rejection(&rejection),
                    });
                    self.rejected.insert(fp);
                }
                b.answers.push(Some(Answer {
                    id: sub.id,
                    outcome: Outcome::Rejected(rejection),
                    replayed: false,
                }));
            }
        }
        b.same_fp
            .push(b.in_batch.insert(fp, ix).unwrap_or(usize::MAX));
        b.content_of.push(content);
        Ok(())
    }

    /// Brings in what deciding `subs` will read, all at once, so that their cache misses
    /// overlap here instead of coming one after another as each command is decided: their ids'
    /// slots in the index (prefetched, not waited for) and, for transfers, the accounts and
    /// their lowest blocks (read). No effect on any answer.
    fn warm(&self, subs: &[Submission]) {
        for sub in subs {
            self.accepted.prefetch(fingerprint(&sub.id));
        }
        let mut touched = 0u64;
        // Each run of commands on one chain is warmed together (a batch is usually one run).
        let mut run: Vec<&Command> = Vec::with_capacity(subs.len());
        let mut run_ix = None;
        for sub in subs {
            let (Ok(cmd), Some(&ix)) = (&sub.command, self.chain_ix.get(&sub.chain)) else {
                continue;
            };
            if run_ix != Some(ix) {
                if let Some(r) = run_ix {
                    touched ^= self.chains[r as usize].state.warm(&run);
                }
                run.clear();
                run_ix = Some(ix);
            }
            run.push(cmd);
        }
        if let Some(r) = run_ix {
            touched ^= self.chains[r as usize].state.warm(&run);
        }
        std::hint::black_box(touched);
    }

    /// Whether an earlier batch bound an id with fingerprint `fp` (accepted or rejected).
    fn seen_before(&self, fp: u64) -> bool {
        self.accepted.contains(fp) || self.rejected.contains(&fp)
    }

    /// The stored answer for an id seen in an earlier batch, if any.
    fn stored_answer(
        &self,
        fp: u64,
        id: &CommandId,
        keyed: &[u8; 32],
    ) -> Result<Option<Answer>, NodeError> {
        let locs: Vec<Loc> = match self.accepted_collisions.get(&fp) {
            Some(v) => v.clone(),
            None => self.accepted.get(fp).into_iter().collect(),
        };
        for Loc(ix, seq) in locs {
            let rt = &self.chains[ix as usize];
            if let Some((entry, hash)) = self.read_entry(&rt.id, seq)? {
                if &entry.command_id == id {
                    return Ok(Some(if &entry.command_hash == keyed {
                        accepted(entry, hash, true)
                    } else {
                        reused(id)
                    }));
                }
            }
        }
        if self.rejected.contains(&fp) {
            if let Some(r) = self.st().rejection(id.as_str())? {
                return Ok(Some(if &r.content_hash == keyed {
                    Answer {
                        id: id.clone(),
                        outcome: Outcome::Rejected(decode_rejection(&r.body)),
                        replayed: true,
                    }
                } else {
                    reused(id)
                }));
            }
        }
        Ok(None)
    }

    /// Checks and applies one command to its chain's in-memory state; returns the chain index
    /// and the events.
    fn decide_one(
        &mut self,
        sub: &Submission,
        now: Timestamp,
        runs: &BTreeMap<u32, RunBuilder>,
    ) -> Result<(u32, Vec<Event>), Rejection> {
        let cmd = sub.command.as_ref().map_err(Clone::clone)?;
        self.check_hosted(&sub.chain)?;
        let ix = match self.chain_ix.get(&sub.chain) {
            Some(&ix) => ix,
            None => {
                let is_genesis = matches!(
                    (&sub.chain, cmd),
                    (ChainId::Registry(_), Command::OpenRegistry { .. })
                        | (ChainId::Mechanism(_), Command::OpenMechanism { .. })
                        | (
                            ChainId::PartyAuthority(_),
                            Command::OpenPartyAuthority { .. }
                        )
                );
                if !is_genesis {
                    return Err(Rejection::one(
                        Code::CHAIN_NOT_OPENED,
                        format!("chain {} has not been opened", sub.chain),
                    ));
                }
                self.add_chain(ChainRt::new(sub.chain.clone()))
            }
        };
        let cmd = self.resolve_citations(&sub.chain, cmd, runs)?;
        let rt = &mut self.chains[ix as usize];
        let time = Timestamp(now.0.max(rt.last_time.0));
        let events = rt.state.execute(&sub.chain, &sub.actor, &cmd, time)?;
        Ok((ix, events))
    }

    fn dry_run_one(
        &mut self,
        sub: &Submission,
        now: Timestamp,
        runs: &BTreeMap<u32, RunBuilder>,
    ) -> Answer {
        let result = sub.command.clone().and_then(|cmd| {
            self.check_hosted(&sub.chain)?;
            let cmd = self.resolve_citations(&sub.chain, &cmd, runs)?;
            let mut fresh;
            let rt = match self.chain_ix.get(&sub.chain) {
                Some(&ix) => &mut self.chains[ix as usize],
                None => {
                    fresh = ChainRt::new(sub.chain.clone());
                    &mut fresh
                }
            };
            let time = Timestamp(now.0.max(rt.last_time.0));
            let seq = rt.seq + 1;
            rt.state
                .dry_run(&sub.chain, &sub.actor, &cmd, time)
                .map(|events| Accepted {
                    chain: sub.chain.clone(),
                    seq,
                    hash: [0; 32],
                    time,
                    events,
                })
        });
        Answer {
            id: sub.id.clone(),
            outcome: match result {
                Ok(a) => Outcome::Accepted(a),
                Err(r) => Outcome::Rejected(r),
            },
            replayed: false,
        }
    }

    /// Checks every citation in a command against the cited chain, and fills in the events of
    /// an entry cited for correction.
    fn resolve_citations<'c>(
        &self,
        chain: &ChainId,
        cmd: &'c Command,
        runs: &BTreeMap<u32, RunBuilder>,
    ) -> Result<std::borrow::Cow<'c, Command>, Rejection> {
        // Most commands cite nothing: no copy for them (the hot path).
        if !cites_entries(cmd) {
            return Ok(std::borrow::Cow::Borrowed(cmd));
        }
        let mut cmd = cmd.clone();
        match &mut cmd {
            Command::Issue {
                citation: Some(c), ..
            }
            | Command::SetLabels {
                citation: Some(c), ..
            }
            | Command::ReleaseHold {
                decision: Some(c), ..
            } => {
                self.cited_entry(c, runs)?;
            }
            Command::Correct { target, .. } => {
                let c = Citation {
                    chain: chain.clone(),
                    seq: target.seq,
                    hash: target.hash,
                };
                target.events = self.cited_entry(&c, runs)?.events;
            }
            Command::IssueFromDecision { citation, cited }
            | Command::IssueCertificates { citation, cited }
            | Command::Ccts(tanso_core::ccts::CctsCommand::RecordSurrender { citation, cited })
            | Command::ApplyAuthorization {
                citation, cited, ..
            } => {
                let e = self.cited_entry(citation, runs)?;
                *cited = Some(CitedEntry {
                    seq: citation.seq,
                    hash: citation.hash,
                    events: e.events,
                });
            }
            Command::MultiLeg(legs) => {
                for leg in legs.iter_mut() {
                    *leg = self.resolve_citations(chain, leg, runs)?.into_owned();
                }
            }
            _ => {}
        }
        Ok(std::borrow::Cow::Owned(cmd))
    }

    fn cited_entry(
        &self,
        c: &Citation,
        runs: &BTreeMap<u32, RunBuilder>,
    ) -> Result<Entry, Rejection> {
        let invalid = || {
            Rejection::one(
                Code::CITATION_INVALID,
                format!("no entry {} of chain {} with that hash", c.seq, c.chain),
            )
        };
        let ix = *self.chain_ix.get(&c.chain).ok_or_else(invalid)?;
        // An entry earlier in this same batch.
        if let Some(run) = runs.get(&ix) {
            if c.seq >= run.first_seq {
                let (off, hash) = *run
                    .entries
                    .get((c.seq - run.first_seq) as usize)
                    .ok_or_else(invalid)?;
                if hash != c.hash {
                    return Err(invalid());
                }
                let raw = split_run(&run.body[off..]).map_err(|_| invalid())?;
                let first = raw.first().ok_or_else(invalid)?;
                return Entry::decode_body(first.body).map_err(|_| invalid());
            }
        }
        match self.read_entry(&c.chain, c.seq) {
            Ok(Some((e, h))) if h == c.hash => Ok(e),
            Ok(_) => Err(invalid()),
            Err(e) => Err(Rejection::one(Code::STORAGE_UNAVAILABLE, e.to_string())),
        }
    }

    /// Signs a checkpoint for every chain that has grown since its last one, and stores them
    /// durably.
    pub fn checkpoint(
        &mut self,
        key: &SigningKey,
        now: Timestamp,
    ) -> Result<Vec<SignedCheckpoint>, NodeError> {
        self.refuse_if_stopped()?;
        let mut out = Vec::new();
        for rt in &self.chains {
            if rt.seq == 0 || rt.seq == rt.checkpointed_seq {
                continue;
            }
            let cp = Checkpoint {
                key_id: [0; 8],
                chain: rt.name.clone(),
                seq: rt.seq,
                head_hash: rt.head,
                merkle_root: rt.frontier.root(),
                state_hash: rt.state.state_hash(),
                time_micros: now.0,
            };
            out.push(crate::keys::sign_checkpoint(key, cp)?);
        }
        if out.is_empty() {
            return Ok(out);
        }
        let mut records = Vec::new();
        for s in &out {
            let body = s
                .encode()
                .map_err(|e| StoreError::InvalidBatch(e.to_string()))?;
            records.push(CheckpointRecord {
                chain: s.checkpoint.chain.clone(),
                seq: s.checkpoint.seq,
                body,
            });
        }
        let batch = CommitBatch {
            epoch: self.epoch,
            checkpoints: records,
            ..CommitBatch::default()
        };
        if let Err(e) = self.st_mut().commit(&batch) {
            return Err(self.fail(e));
        }
        for s in &out {
            if let Some(&ix) = self
                .chain_ix
                .iter()
                .find(|(k, _)| k.to_string() == s.checkpoint.chain)
                .map(|(_, v)| v)
            {
                self.chains[ix as usize].checkpointed_seq = s.checkpoint.seq;
            }
        }
        Ok(out)
    }
}

/// The answer that an entry (with its hash) is: its command was accepted.
fn accepted(entry: Entry, hash: [u8; 32], replayed: bool) -> Answer {
    Answer {
        id: entry.command_id,
        outcome: Outcome::Accepted(Accepted {
            chain: entry.chain,
            seq: entry.seq,
            hash,
            time: entry.time,
            events: entry.events,
        }),
        replayed,
    }
}

fn reused(id: &CommandId) -> Answer {
    Answer {
        id: id.clone(),
        outcome: Outcome::Rejected(Rejection::one(
            Code::ID_REUSED_WITH_OTHER_CONTENT,
            format!("command id {id} was already used with different content"),
        )),
        replayed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::Hmac;
    use sha2::{Digest, Sha256};

    /// HMAC-SHA256 as RFC 2104 writes it, on the streaming hasher.
    fn reference(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
        let pad = |b: u8| {
            let mut p = [b; 64];
            for (x, k) in p.iter_mut().zip(key) {
                *x ^= k;
            }
            p
        };
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(msg)
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .into()
    }

    #[test]
    fn keyed_command_hash_is_rfc2104_hmac_sha256() {
        // Stored entries and rejections carry this MAC: it must never change.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) as u8
        };
        for _ in 0..200 {
            let key: [u8; 32] = std::array::from_fn(|_| next());
            let msg: [u8; 32] = std::array::from_fn(|_| next());
            assert_eq!(Hmac::new(&key).mac(&msg), reference(&key, &msg));
        }
        // One fixed vector, computed independently with Python's hmac module:
        // hmac.new(bytes(range(32)), bytes(range(32, 64)), 'sha256').hexdigest()
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let msg: [u8; 32] = std::array::from_fn(|i| 32 + i as u8);
        assert_eq!(hex::encode(Hmac::new(&key).mac(&msg)), HMAC_VECTOR);
    }

    const HMAC_VECTOR: &str = "62215de7bddcea7e2c4047ff6bb94f8d18262fc8b3f3648134bb7d44158ff84d";

    /// The accepted index finds what was put in it, not what was not, and spreads the
    /// fingerprints of ordinary ids over every shard, evenly enough that no shard holds much
    /// more than its share (a shard's rehash stays a small part of the whole).
    #[test]
    fn the_accepted_index_spreads_ids_over_its_shards() {
        use super::{fingerprint, AcceptedIndex, Loc};
        use crate::fptable::SHARDS;
        let mut index = AcceptedIndex::new();
        let n = 64_000u64;
        for i in 0..n {
            let id = tanso_core::CommandId::parse(&format!("t{i}")).expect("id");
            assert_eq!(index.insert(fingerprint(&id), Loc(0, i + 1)), None);
        }
        for i in 0..n {
            let id = tanso_core::CommandId::parse(&format!("t{i}")).expect("id");
            assert_eq!(index.get(fingerprint(&id)), Some(Loc(0, i + 1)));
            let other = tanso_core::CommandId::parse(&format!("u{i}")).expect("id");
            assert!(!index.contains(fingerprint(&other)));
        }
        let share = n as usize / SHARDS;
        for (k, len) in index.shard_lens().into_iter().enumerate() {
            assert!(
                len > share * 8 / 10 && len < share * 12 / 10,
                "shard {k} holds {len} of {n}"
            );
        }
    }
}
