//! Reading a chain back from the store: every entry's stored hash is recomputed, its link to
//! the previous entry, its sequence and its time are checked, and its events are replayed
//! through the core (which re-checks that they are legal). Opening a node and `verify` both
//! go through here, so a journal that would not verify cannot be opened either.

use tanso_core::entry::{split_run, Entry};
use tanso_core::merkle::Frontier;
use tanso_core::*;
use tanso_store::{Store, StoreError};

/// The first thing wrong with a chain: which chain, which entry, what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chain {chain} entry {seq}: {what}")]
pub struct ChainFault {
    pub chain: String,
    pub seq: u64,
    pub what: String,
}

impl ChainFault {
    pub fn new(chain: &str, seq: u64, what: impl Into<String>) -> Self {
        ChainFault {
            chain: chain.to_owned(),
            seq,
            what: what.into(),
        }
    }
}

/// One chain in memory: its state, head, clock and Merkle frontier.
#[derive(Clone)]
pub struct ChainRt {
    pub id: ChainId,
    pub name: String,
    pub state: ChainState,
    pub seq: u64,
    pub head: [u8; 32],
    pub last_time: Timestamp,
    pub frontier: Frontier,
    pub checkpointed_seq: u64,
}

impl ChainRt {
    pub fn new(id: ChainId) -> Self {
        ChainRt {
            name: id.to_string(),
            state: ChainState::new(&id),
            id,
            seq: 0,
            head: [0; 32],
            last_time: Timestamp(i64::MIN),
            frontier: Frontier::new(),
            checkpointed_seq: 0,
        }
    }

    /// Checks one stored entry against the chain so far and applies it.
    pub fn apply_stored(
        &mut self,
        body: &[u8],
        stored_hash: [u8; 32],
    ) -> Result<Entry, ChainFault> {
        let seq = self.seq + 1;
        let fault = |what: String| ChainFault::new(&self.name, seq, what);
        if Entry::hash_of_body(body) != stored_hash {
            return Err(fault(
                "stored hash does not match the entry's content".into(),
            ));
        }
        let entry = Entry::decode_body(body).map_err(|e| fault(e.to_string()))?;
        if entry.chain != self.id {
            return Err(fault(format!("entry names chain {}", entry.chain)));
        }
        if entry.seq != seq {
            return Err(fault(format!(
                "entry has sequence {} where {seq} was expected (deleted or reordered)",
                entry.seq
            )));
        }
        if entry.prev_hash != self.head {
            return Err(fault("previous-hash link is broken".into()));
        }
        if entry.time < self.last_time {
            return Err(fault("entry time goes backwards".into()));
        }
        self.state
            .replay(&entry.events)
            .map_err(|r| fault(format!("replay finds the entry illegal: {r}")))?;
        self.seq = seq;
        self.head = stored_hash;
        self.last_time = entry.time;
        self.frontier.push(&stored_hash);
        Ok(entry)
    }
}

/// Loads a chain from the store, calling `visit` after each entry is applied.
pub fn load_chain<S: Store + ?Sized>(
    store: &S,
    name: &str,
    mut visit: impl FnMut(&Entry, &ChainRt) -> Result<(), ChainFault>,
) -> Result<ChainRt, LoadError> {
    let id = ChainId::parse(name)
        .map_err(|_| ChainFault::new(name, 0, "chain name is not a chain id"))?;
    let mut rt = ChainRt::new(id);
    for run in store.read_runs(name, 1)? {
        if run.first_seq != rt.seq + 1 {
            return Err(ChainFault::new(
                name,
                rt.seq + 1,
                format!(
                    "entries missing: next stored run starts at {}",
                    run.first_seq
                ),
            )
            .into());
        }
        let raws = split_run(&run.body)
            .map_err(|e| ChainFault::new(name, run.first_seq, e.to_string()))?;
        if raws.len() as u64 != run.last_seq - run.first_seq + 1 {
            return Err(ChainFault::new(
                name,
                run.first_seq,
                "run holds a different number of entries than its range says",
            )
            .into());
        }
        for raw in raws {
            let entry = rt.apply_stored(raw.body, raw.stored_hash)?;
            visit(&entry, &rt)?;
        }
    }
    rt.checkpointed_seq = store
        .checkpoints(name)?
        .last()
        .map_or(0, |c| c.seq.min(rt.seq));
    Ok(rt)
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Fault(#[from] ChainFault),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}
