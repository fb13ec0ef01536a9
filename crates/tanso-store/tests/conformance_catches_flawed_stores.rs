//! Proves the conformance suite can fail: each check is run against a store with one planted
//! flaw (a `MemoryStore` behind a wrapper that breaks one rule) and must panic, and every check
//! must catch at least one flaw. The same wrapper without a flaw passes the whole suite, so the
//! panics come from the flaws, not from the wrapper.
//!
//! This file holds one test on purpose: it silences the panic hook while it runs.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};

use tanso_store::conformance::{self, Harness};
use tanso_store::memory::MemoryStore;
use tanso_store::{
    ChainHead, CheckpointRecord, CommitBatch, Digest, PersonalRecord, RejectionRecord, Store,
    StoreError, StoreResult, StoredRun,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flaw {
    None,
    /// `read_runs` loses the last byte of every body.
    TruncatesBodies,
    /// `read_runs` returns only the chain's first run.
    ReadRunsFirstOnly,
    /// Accepts a run whose seq continues the head, whatever its prev_hash.
    ChecksSeqOnly,
    /// Accepts a run whose prev_hash is the head's, whatever its seq.
    ChecksHashOnly,
    /// Starts a new chain at whatever seq the run names.
    NewChainAnywhere,
    /// Commits a batch run by run.
    NotAtomic,
    /// Refuses a batch holding two runs of one chain.
    OneRunPerChain,
    IgnoresEpoch,
    /// Keeps the epoch only until reopen.
    EpochNotDurable,
    HeadsUnsorted,
    /// `read_runs` filters on first_seq instead of last_seq.
    ReadRunsByFirstSeq,
    /// `run_containing` answers a seq past the head with the last run.
    RunContainingPastEnd,
    /// Drops a duplicate rejection instead of refusing the batch.
    SwallowsDuplicateRejection,
    ScanMissesOne,
    EraseAlwaysTrue,
    EraseKeepsRecord,
    /// Erased records come back after reopen.
    ErasedComesBack,
    CheckpointsUnsorted,
    /// Keeps meta only until reopen.
    MetaNotDurable,
    /// Reads an empty meta value as absent.
    EmptyMetaIsAbsent,
    /// Reopen gives an empty store.
    ForgetsOnReopen,
    /// Drops a malformed batch silently instead of refusing it.
    SwallowsInvalidBatch,
}

/// Which flaw each check is expected to catch.
const CAUGHT_BY: &[(&str, Flaw)] = &[
    ("append_to_new_chain", Flaw::TruncatesBodies),
    ("continue_chain", Flaw::ReadRunsFirstOnly),
    ("refuse_wrong_prev_hash", Flaw::ChecksSeqOnly),
    ("refuse_wrong_first_seq", Flaw::ChecksHashOnly),
    ("refuse_gap", Flaw::ChecksHashOnly),
    ("refuse_new_chain_not_at_one", Flaw::NewChainAnywhere),
    ("refused_batch_leaves_nothing", Flaw::NotAtomic),
    ("runs_of_one_chain_in_one_batch", Flaw::OneRunPerChain),
    ("fenced_after_new_writer", Flaw::IgnoresEpoch),
    ("epoch_survives_reopen", Flaw::EpochNotDurable),
    ("heads_sorted_by_chain", Flaw::HeadsUnsorted),
    ("read_runs_from_any_seq", Flaw::ReadRunsByFirstSeq),
    (
        "run_containing_first_middle_last_beyond",
        Flaw::RunContainingPastEnd,
    ),
    ("rejections_stored_and_scanned", Flaw::ScanMissesOne),
    (
        "duplicate_rejection_refused_atomically",
        Flaw::SwallowsDuplicateRejection,
    ),
    (
        "personal_erased_once_and_gone_after_reopen",
        Flaw::EraseAlwaysTrue,
    ),
    (
        "personal_erased_once_and_gone_after_reopen",
        Flaw::EraseKeepsRecord,
    ),
    (
        "personal_erased_once_and_gone_after_reopen",
        Flaw::ErasedComesBack,
    ),
    ("checkpoints_ascending", Flaw::CheckpointsUnsorted),
    ("meta_survives_reopen", Flaw::MetaNotDurable),
    ("meta_survives_reopen", Flaw::EmptyMetaIsAbsent),
    ("committed_survives_reopen", Flaw::ForgetsOnReopen),
    ("invalid_batch_refused", Flaw::SwallowsInvalidBatch),
];

struct Flawed {
    inner: MemoryStore,
    flaw: Flaw,
    /// `EpochNotDurable`: the epoch the image held at reopen, hidden from callers.
    epoch_base: u64,
    /// `MetaNotDurable`: meta kept in the handle.
    meta: BTreeMap<String, Vec<u8>>,
    /// `ErasedComesBack`: copies of erased records, put back at reopen.
    erased: Vec<PersonalRecord>,
}

impl Flawed {
    fn new(inner: MemoryStore, flaw: Flaw) -> Flawed {
        Flawed {
            inner,
            flaw,
            epoch_base: 0,
            meta: BTreeMap::new(),
            erased: Vec::new(),
        }
    }

    fn stored_head(&self, chain: &str) -> StoreResult<Option<(u64, Digest)>> {
        Ok(self
            .inner
            .heads()?
            .into_iter()
            .find(|h| h.chain == chain)
            .map(|h| (h.seq, h.hash)))
    }

    /// Rewrites runs the way a store with a continuity flaw would have read them.
    fn patch_runs(&self, batch: &mut CommitBatch) -> StoreResult<()> {
        for run in &mut batch.runs {
            let stored = self.stored_head(&run.chain)?;
            match (self.flaw, stored) {
                (Flaw::ChecksSeqOnly, Some((seq, hash))) if run.first_seq == seq + 1 => {
                    run.prev_hash = hash;
                }
                (Flaw::ChecksHashOnly, Some((seq, hash))) if run.prev_hash == hash => {
                    let len = run.last_seq - run.first_seq;
                    run.first_seq = seq + 1;
                    run.last_seq = seq + 1 + len;
                }
                (Flaw::NewChainAnywhere, None) => {
                    let len = run.last_seq - run.first_seq;
                    run.first_seq = 1;
                    run.last_seq = 1 + len;
                    run.prev_hash = [0; 32];
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Store for Flawed {
    fn acquire_writer(&mut self) -> StoreResult<u64> {
        Ok(self.inner.acquire_writer()? - self.epoch_base)
    }

    fn writer_epoch(&self) -> StoreResult<u64> {
        Ok(self.inner.writer_epoch()? - self.epoch_base)
    }

    fn commit(&mut self, batch: &CommitBatch) -> StoreResult<()> {
        let mut batch = batch.clone();
        batch.epoch += self.epoch_base;
        self.patch_runs(&mut batch)?;
        match self.flaw {
            Flaw::IgnoresEpoch => batch.epoch = self.inner.writer_epoch()?,
            Flaw::SwallowsInvalidBatch if batch.validate().is_err() => return Ok(()),
            Flaw::SwallowsDuplicateRejection => {
                let mut seen = Vec::new();
                let mut kept = Vec::new();
                for r in batch.rejections.drain(..) {
                    if self.inner.rejection(&r.command_id)?.is_none()
                        && !seen.contains(&r.command_id)
                    {
                        seen.push(r.command_id.clone());
                        kept.push(r);
                    }
                }
                batch.rejections = kept;
            }
            Flaw::OneRunPerChain => {
                let mut chains: Vec<&str> = batch.runs.iter().map(|r| r.chain.as_str()).collect();
                chains.sort_unstable();
                if chains.windows(2).any(|w| w[0] == w[1]) {
                    let chain = chains
                        .iter()
                        .find(|c| chains.iter().filter(|d| d == c).count() > 1);
                    return Err(StoreError::ChainConflict {
                        chain: chain.map(|c| c.to_string()).unwrap_or_default(),
                        expected_seq: 0,
                        stored_seq: 0,
                    });
                }
            }
            Flaw::NotAtomic if batch.runs.len() > 1 => {
                let runs = std::mem::take(&mut batch.runs);
                for (i, run) in runs.into_iter().enumerate() {
                    let mut part = CommitBatch {
                        epoch: batch.epoch,
                        runs: vec![run],
                        ..CommitBatch::default()
                    };
                    if i == 0 {
                        part.rejections = std::mem::take(&mut batch.rejections);
                        part.personal = std::mem::take(&mut batch.personal);
                        part.checkpoints = std::mem::take(&mut batch.checkpoints);
                    }
                    self.inner.commit(&part)?;
                }
                return Ok(());
            }
            _ => {}
        }
        self.inner.commit(&batch)
    }

    fn heads(&self) -> StoreResult<Vec<ChainHead>> {
        let mut heads = self.inner.heads()?;
        if self.flaw == Flaw::HeadsUnsorted {
            heads.reverse();
        }
        Ok(heads)
    }

    fn read_runs(&self, chain: &str, from_seq: u64) -> StoreResult<Vec<StoredRun>> {
        let mut runs = match self.flaw {
            Flaw::ReadRunsByFirstSeq => {
                let mut all = self.inner.read_runs(chain, 0)?;
                all.retain(|r| r.first_seq >= from_seq);
                all
            }
            _ => self.inner.read_runs(chain, from_seq)?,
        };
        match self.flaw {
            Flaw::TruncatesBodies => runs.iter_mut().for_each(|r| {
                r.body.pop();
            }),
            Flaw::ReadRunsFirstOnly => runs.truncate(1),
            _ => {}
        }
        Ok(runs)
    }

    fn run_containing(&self, chain: &str, seq: u64) -> StoreResult<Option<StoredRun>> {
        let found = self.inner.run_containing(chain, seq)?;
        if self.flaw == Flaw::RunContainingPastEnd && found.is_none() && seq > 0 {
            return Ok(self.inner.read_runs(chain, 0)?.pop());
        }
        Ok(found)
    }

    fn rejection(&self, command_id: &str) -> StoreResult<Option<RejectionRecord>> {
        self.inner.rejection(command_id)
    }

    fn scan_rejections(&self, visit: &mut dyn FnMut(RejectionRecord)) -> StoreResult<()> {
        let mut skip = self.flaw == Flaw::ScanMissesOne;
        self.inner.scan_rejections(&mut |r| {
            if skip {
                skip = false;
            } else {
                visit(r);
            }
        })
    }

    fn personal(&self, reference: &Digest) -> StoreResult<Option<PersonalRecord>> {
        self.inner.personal(reference)
    }

    fn erase_personal(&mut self, reference: &Digest) -> StoreResult<bool> {
        match self.flaw {
            Flaw::EraseKeepsRecord => return Ok(self.inner.personal(reference)?.is_some()),
            Flaw::ErasedComesBack => self.erased.extend(self.inner.personal(reference)?),
            _ => {}
        }
        let erased = self.inner.erase_personal(reference)?;
        Ok(erased || self.flaw == Flaw::EraseAlwaysTrue)
    }

    fn checkpoints(&self, chain: &str) -> StoreResult<Vec<CheckpointRecord>> {
        let mut checkpoints = self.inner.checkpoints(chain)?;
        if self.flaw == Flaw::CheckpointsUnsorted {
            checkpoints.reverse();
        }
        Ok(checkpoints)
    }

    fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let value = match self.flaw {
            Flaw::MetaNotDurable => self.meta.get(key).cloned(),
            _ => self.inner.meta_get(key)?,
        };
        if self.flaw == Flaw::EmptyMetaIsAbsent && value.as_ref().is_some_and(Vec::is_empty) {
            return Ok(None);
        }
        Ok(value)
    }

    fn meta_set(&mut self, key: &str, value: &[u8]) -> StoreResult<()> {
        if self.flaw == Flaw::MetaNotDurable {
            self.meta.insert(key.to_string(), value.to_vec());
            return Ok(());
        }
        self.inner.meta_set(key, value)
    }

    fn sync_mode(&self) -> String {
        format!("flawed ({:?}) over {}", self.flaw, self.inner.sync_mode())
    }

    fn syncs(&self) -> u64 {
        self.inner.syncs()
    }
}

struct FlawedHarness(Flaw);

impl Harness for FlawedHarness {
    type S = Flawed;

    fn fresh(&mut self) -> Flawed {
        Flawed::new(MemoryStore::new(), self.0)
    }

    fn reopen(&mut self, s: Flawed) -> Flawed {
        let image = match self.0 {
            Flaw::ForgetsOnReopen => MemoryStore::new(),
            _ => s.inner.reopen(),
        };
        let mut reopened = Flawed::new(image, self.0);
        match self.0 {
            Flaw::EpochNotDurable => {
                reopened.epoch_base = reopened.inner.writer_epoch().expect("memory epoch");
            }
            Flaw::ErasedComesBack if !s.erased.is_empty() => {
                let epoch = reopened.inner.writer_epoch().expect("memory epoch");
                let batch = CommitBatch {
                    epoch,
                    personal: s.erased,
                    ..CommitBatch::default()
                };
                reopened
                    .inner
                    .commit(&batch)
                    .expect("put erased records back");
            }
            _ => {}
        }
        reopened
    }
}

fn check_panics(name: &str, flaw: Flaw) -> bool {
    let checks = conformance::checks::<FlawedHarness>();
    let (_, check) = checks
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no conformance check named {name}"));
    panic::catch_unwind(AssertUnwindSafe(|| check(&mut FlawedHarness(flaw)))).is_err()
}

#[test]
fn every_conformance_check_catches_a_planted_flaw() {
    // The wrapper itself is faithful: with no flaw the whole suite passes.
    conformance::run_all(&mut FlawedHarness(Flaw::None));

    let names: Vec<&str> = conformance::checks::<FlawedHarness>()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    for name in &names {
        assert!(
            CAUGHT_BY.iter().any(|(n, _)| n == name),
            "conformance check {name} has no planted flaw that it catches"
        );
    }

    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let missed: Vec<String> = CAUGHT_BY
        .iter()
        .filter(|(name, flaw)| !check_panics(name, *flaw))
        .map(|(name, flaw)| format!("{name} passed a store with flaw {flaw:?}"))
        .collect();
    // The model-based property (`agrees_with_memory`) catches the flaws on the commit and
    // read paths within a few seeds.
    let model_missed: Vec<String> = [
        Flaw::TruncatesBodies,
        Flaw::ChecksSeqOnly,
        Flaw::ChecksHashOnly,
        Flaw::NewChainAnywhere,
        Flaw::IgnoresEpoch,
        Flaw::OneRunPerChain,
        Flaw::SwallowsDuplicateRejection,
        Flaw::EraseAlwaysTrue,
        Flaw::EraseKeepsRecord,
        Flaw::EmptyMetaIsAbsent,
    ]
    .into_iter()
    .filter(|flaw| {
        !(0..8u64).any(|seed| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                let mut store = FlawedHarness(*flaw).fresh();
                conformance::agrees_with_memory(&mut store, seed, 200);
            }))
            .is_err()
        })
    })
    .map(|flaw| format!("agrees_with_memory passed a store with flaw {flaw:?}"))
    .collect();
    panic::set_hook(hook);
    assert!(
        missed.is_empty(),
        "checks that cannot fail:\n{}",
        missed.join("\n")
    );
    assert!(
        model_missed.is_empty(),
        "the model-based check cannot fail:\n{}",
        model_missed.join("\n")
    );
    // And the faithful wrapper agrees with the model.
    for seed in 0..8 {
        conformance::agrees_with_memory(&mut FlawedHarness(Flaw::None).fresh(), seed, 200);
    }
}
