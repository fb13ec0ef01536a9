//! `MemoryStore` against the conformance suite, plus what only the memory store offers: handles
//! that share one image, and injected i/o failures.

use tanso_store::conformance::{self, batch_of, head, run_of, Harness};
use tanso_store::memory::{InjectedFailure, MemoryStore};
use tanso_store::{Store, StoreError};

struct MemoryHarness;

impl Harness for MemoryHarness {
    type S = MemoryStore;
    fn fresh(&mut self) -> MemoryStore {
        MemoryStore::new()
    }
    fn reopen(&mut self, s: MemoryStore) -> MemoryStore {
        s.reopen()
    }
}

#[test]
fn memory_store_passes_conformance() {
    conformance::run_all(&mut MemoryHarness);
}

#[test]
fn clone_and_reopen_see_the_same_committed_image() {
    let mut writer = MemoryStore::new();
    let observer = writer.clone();
    let epoch = writer.acquire_writer().expect("acquire");
    writer
        .commit(&batch_of(epoch, vec![run_of("alpha", 1, 2)]))
        .expect("commit");
    assert_eq!(observer.heads().expect("heads"), vec![head("alpha", 2)]);
    assert_eq!(
        writer.reopen().heads().expect("heads"),
        vec![head("alpha", 2)]
    );
    assert_eq!(writer.syncs(), 2, "acquire_writer and one commit");
    assert_eq!(
        writer.reopen().syncs(),
        0,
        "a reopened handle counts its own syncs"
    );
}

#[test]
fn injected_lost_failure_writes_nothing_and_poisons_the_handle() {
    let mut s = MemoryStore::new();
    let epoch = s.acquire_writer().expect("acquire");
    s.fail_next_write(InjectedFailure::Lost);
    let err = s
        .commit(&batch_of(epoch, vec![run_of("alpha", 1, 2)]))
        .expect_err("must fail");
    assert!(
        matches!(err, StoreError::Io(_)) && err.is_fatal(),
        "got {err:?}"
    );
    assert_eq!(s.heads().expect("heads"), vec![]);
    // The poisoned handle refuses even a valid write; a reopened one accepts it.
    let next = batch_of(epoch, vec![run_of("alpha", 1, 1)]);
    assert!(matches!(s.commit(&next), Err(StoreError::Io(_))));
    assert!(matches!(s.meta_set("k", b"v"), Err(StoreError::Io(_))));
    let mut reopened = s.reopen();
    reopened.commit(&next).expect("reopened handle commits");
    assert_eq!(reopened.heads().expect("heads"), vec![head("alpha", 1)]);
}

#[test]
fn injected_persisted_failure_reports_io_but_keeps_the_whole_batch() {
    let mut s = MemoryStore::new();
    let epoch = s.acquire_writer().expect("acquire");
    s.fail_next_write(InjectedFailure::Persisted);
    let err = s.commit(&batch_of(
        epoch,
        vec![run_of("alpha", 1, 2), run_of("beta", 1, 1)],
    ));
    assert!(matches!(err, Err(StoreError::Io(_))), "got {err:?}");
    assert_eq!(
        s.reopen().heads().expect("heads"),
        vec![head("alpha", 2), head("beta", 1)]
    );
}

#[test]
fn refusal_does_not_consume_an_injected_failure() {
    let mut s = MemoryStore::new();
    let epoch = s.acquire_writer().expect("acquire");
    s.fail_next_write(InjectedFailure::Lost);
    let refused = s.commit(&batch_of(epoch, vec![run_of("alpha", 2, 2)]));
    assert!(
        matches!(refused, Err(StoreError::ChainConflict { .. })),
        "got {refused:?}"
    );
    let failed = s.commit(&batch_of(epoch, vec![run_of("alpha", 1, 1)]));
    assert!(matches!(failed, Err(StoreError::Io(_))), "got {failed:?}");
}
