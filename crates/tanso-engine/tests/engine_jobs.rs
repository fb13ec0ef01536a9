//! The engine's jobs: single commands and many-command jobs (one answer channel per batch
//! request) from several threads at once are applied in order and answered in order, each
//! with its own outcome; a failed commit or a stopped writer answers every command of a job
//! with a transient code. A lone caller of `submit` commits on its own thread, with the same
//! answers, the same journal and the same failure handling as the writer's, and never makes a
//! queued job wait behind more than the one commit it already has under way.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use tanso_core::checks::Code;
use tanso_engine::{Answer, Outcome, SEAL_ON_THREAD_MIN};
use tanso_store::memory::{InjectedFailure, MemoryStore};
use tanso_store::Store;

mod support;
use support::{engine, open_registry};

fn reg(t: usize, i: usize) -> String {
    let l = |n: usize| (b'A' + (n % 26) as u8) as char;
    format!("{}{}{}{:02}", l(t), l(i / 100), l(i / 2600), i % 100)
}

fn codes(a: &Answer) -> Vec<Code> {
    match &a.outcome {
        Outcome::Rejected(r) => r.codes(),
        Outcome::Accepted(_) => Vec::new(),
    }
}

#[test]
fn many_command_jobs_and_single_commands_are_answered_in_order() {
    let store = MemoryStore::new();
    let engine = engine(&store, 64);
    let threads = 4;
    let per_thread = 300;
    let answers: Vec<(usize, Vec<(String, Answer)>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let engine = &engine;
                s.spawn(move || {
                    let mut got = Vec::new();
                    let mut i = 0;
                    while i < per_thread {
                        // Jobs of 1..=40 commands; every fifth is a single command. Each
                        // job repeats its first command (replayed) and reopens a registry
                        // under a new id (rejected, 4505-style chain already opened).
                        let size = 1 + (i * 7 + t) % 40;
                        if i % 5 == 0 {
                            let id = format!("t{t}-{i}");
                            let a = engine.submit(open_registry(&id, &reg(t, i)));
                            got.push((id, a));
                            i += 1;
                            continue;
                        }
                        let mut subs = Vec::new();
                        let mut ids = Vec::new();
                        for k in i..(i + size).min(per_thread) {
                            let id = format!("t{t}-{k}");
                            subs.push(open_registry(&id, &reg(t, k)));
                            ids.push(id);
                        }
                        let first = ids[0].clone();
                        subs.push(open_registry(&first, &reg(t, i)));
                        ids.push(first);
                        let again = format!("t{t}-{i}-again");
                        subs.push(open_registry(&again, &reg(t, i)));
                        ids.push(again);
                        i += size;
                        let out = engine.submit_many_async(subs).recv().expect("answers");
                        assert_eq!(out.len(), ids.len(), "one answer per command");
                        got.extend(ids.into_iter().zip(out));
                    }
                    (t, got)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut accepted = 0;
    let mut replayed = 0;
    let mut reopened = 0;
    for (_, got) in &answers {
        for (id, a) in got {
            assert_eq!(a.id.as_str(), id, "answers come back in the job's order");
            if id.ends_with("-again") {
                assert_eq!(codes(a), [Code::CHAIN_ALREADY_OPENED], "{id}");
                reopened += 1;
            } else if a.replayed {
                assert!(codes(a).is_empty(), "{id} replays its acceptance");
                replayed += 1;
            } else {
                assert!(codes(a).is_empty(), "{id}: {:?}", codes(a));
                accepted += 1;
            }
        }
    }
    assert_eq!(
        accepted,
        threads * per_thread,
        "every first command accepted"
    );
    assert!(
        replayed > 0 && reopened > 0,
        "{replayed} replayed, {reopened} refused"
    );
    drop(engine.shutdown());
    let heads: BTreeSet<String> = store
        .heads()
        .expect("heads")
        .iter()
        .map(|h| h.to_string())
        .collect();
    assert_eq!(
        heads.len(),
        threads * per_thread,
        "one chain per accepted command"
    );
}

#[test]
fn a_failed_commit_answers_every_command_of_a_job_with_7001() {
    let store = MemoryStore::new();
    let engine = engine(&store, 64);
    store.fail_next_write(InjectedFailure::Lost);
    let subs = (0..5)
        .map(|i| open_registry(&format!("c{i}"), &reg(0, i)))
        .collect();
    let out = engine.submit_many_async(subs).recv().expect("answers");
    assert_eq!(out.len(), 5);
    for (i, a) in out.iter().enumerate() {
        assert_eq!(a.id.as_str(), format!("c{i}"));
        assert_eq!(codes(a), [Code::STORAGE_UNAVAILABLE]);
    }
    assert!(engine
        .submit_many_async(Vec::new())
        .recv()
        .expect("empty")
        .is_empty());
    drop(engine.shutdown());
    assert!(store.heads().expect("heads").is_empty(), "nothing landed");
}

#[test]
fn a_lone_client_commits_on_its_own_thread_with_the_writers_answers() {
    let store = MemoryStore::new();
    let engine = engine(&store, 64);
    let mut seqs = Vec::new();
    for i in 0..50 {
        let a = engine.submit(open_registry(&format!("lone-{i}"), &reg(1, i)));
        assert_eq!(a.id.as_str(), format!("lone-{i}"));
        match &a.outcome {
            Outcome::Accepted(x) => seqs.push((x.chain.to_string(), x.seq, x.hash)),
            Outcome::Rejected(r) => panic!("lone-{i}: {:?}", r.codes()),
        }
        // The same id again: the stored acceptance, replayed.
        let again = engine.submit(open_registry(&format!("lone-{i}"), &reg(1, i)));
        assert!(again.replayed && codes(&again).is_empty());
    }
    assert_eq!(
        engine.direct_commits(),
        100,
        "with nobody else waiting, every submit commits on its caller's thread"
    );
    // A queued job still goes through the writer thread, between direct commits.
    let out = engine
        .submit_many_async(vec![open_registry("queued", &reg(2, 0))])
        .recv()
        .expect("answer");
    assert!(codes(&out[0]).is_empty());
    assert_eq!(engine.direct_commits(), 100);
    drop(engine.shutdown());
    // Each answer is what the store holds: the head of its chain, at the answered seq.
    let heads = store.heads().expect("heads");
    assert_eq!(heads.len(), 51);
    for (chain, seq, hash) in seqs {
        let h = heads
            .iter()
            .find(|h| h.chain == chain)
            .unwrap_or_else(|| panic!("{chain} stored"));
        assert_eq!((h.seq, h.hash), (seq, hash), "{chain}");
    }
}

#[test]
fn a_failed_direct_commit_answers_7001_and_binds_nothing() {
    let store = MemoryStore::new();
    let engine = engine(&store, 64);
    let first = engine.submit(open_registry("d0", &reg(3, 0)));
    assert!(codes(&first).is_empty());
    store.fail_next_write(InjectedFailure::Lost);
    let failed = engine.submit(open_registry("d1", &reg(3, 1)));
    assert_eq!(codes(&failed), [Code::STORAGE_UNAVAILABLE]);
    // The node is poisoned: later commands, direct or queued, get 7001 too.
    let later = engine.submit(open_registry("d2", &reg(3, 2)));
    assert_eq!(codes(&later), [Code::STORAGE_UNAVAILABLE]);
    let queued = engine
        .submit_many_async(vec![open_registry("d3", &reg(3, 3))])
        .recv()
        .expect("answer");
    assert_eq!(codes(&queued[0]), [Code::STORAGE_UNAVAILABLE]);
    assert_eq!(engine.direct_commits(), 3);
    drop(engine.shutdown());
    assert_eq!(store.heads().expect("heads").len(), 1, "only d0 landed");
}

#[test]
fn a_queued_job_is_not_starved_by_a_lone_client_committing_directly() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let store = MemoryStore::new();
    let engine = engine(&store, 64);
    let done = AtomicBool::new(false);
    let time_of = |a: &Answer| match &a.outcome {
        Outcome::Accepted(x) => x.time,
        Outcome::Rejected(r) => panic!("{}: {:?}", a.id.as_str(), r.codes()),
    };
    let (limit, rounds) = (60_000, 20);
    let (jobs, loop_times) = std::thread::scope(|s| {
        let looping = s.spawn(|| {
            let mut times = Vec::new();
            while times.len() < limit && !done.load(SeqCst) {
                let i = times.len();
                times.push(time_of(
                    &engine.submit(open_registry(&format!("loop-{i}"), &reg(4, i))),
                ));
            }
            times
        });
        // Each round: let the lone client commit directly for a while, then queue a job and
        // note when it was sent and when it was committed.
        let mut jobs = Vec::new();
        for r in 0..rounds {
            let start = engine.direct_commits();
            while engine.direct_commits() < start + 100 {
                std::thread::yield_now();
            }
            let answer = engine
                .submit_many_async(vec![open_registry(&format!("queued-job-{r}"), &reg(5, r))]);
            let sent_at = tanso_engine::system_clock()();
            let out = answer.recv().expect("answer");
            jobs.push((sent_at, time_of(&out[0])));
        }
        done.store(true, SeqCst);
        (jobs, looping.join().expect("loop thread"))
    });
    assert!(loop_times.len() < limit, "the loop ran to its end first");
    // Commits are timed by the engine's clock when they are made. Once a job is queued, the
    // lone client's commits join it instead of going ahead of it: at most the one already
    // under way is made in between.
    for (r, (sent_at, job_time)) in jobs.into_iter().enumerate() {
        let ahead = loop_times
            .iter()
            .filter(|t| **t >= sent_at && **t < job_time)
            .count();
        assert!(
            ahead <= 1,
            "round {r}: the queued job waited behind {ahead} commits of the lone client"
        );
    }
}

/// A store read that fails while the writer decides the commands it is gathering (here: the
/// stored answer of a resubmitted id) answers every command of that batch with 7001, binds
/// none of them and stops the node: later commands get 7001 too, nothing reaches the store,
/// and a reopened node answers the same commands afresh.
#[test]
fn a_read_failing_while_the_writer_decides_answers_7001_and_stops_the_node() {
    let store = MemoryStore::new();
    let first = engine(&store, 64).submit(open_registry("r1", "AAA01"));
    assert!(codes(&first).is_empty(), "{first:?}");
    // A new engine on the same store: the resubmission's answer is read from the store.
    let eng = engine(&store, 64);
    store.fail_next_read();
    let again = eng.submit_async(open_registry("r1", "AAA01"));
    let other = eng.submit_async(open_registry("r2", "BBB01"));
    let again = again.recv().expect("answer");
    let other = other.recv().expect("answer");
    assert_eq!(codes(&again), [Code::STORAGE_UNAVAILABLE], "{again:?}");
    assert_eq!(codes(&other), [Code::STORAGE_UNAVAILABLE], "{other:?}");
    let later = eng.submit(open_registry("r3", "CCC01"));
    assert_eq!(codes(&later), [Code::STORAGE_UNAVAILABLE], "{later:?}");
    drop(eng.shutdown());
    let heads: Vec<String> = store
        .heads()
        .expect("heads")
        .iter()
        .map(|h| h.to_string())
        .collect();
    assert_eq!(heads, ["AAA01@1"]);

    let eng = engine(&store, 64);
    let again = eng.submit(open_registry("r1", "AAA01"));
    assert!(again.replayed && codes(&again).is_empty(), "{again:?}");
    let other = eng.submit(open_registry("r2", "BBB01"));
    assert!(!other.replayed && codes(&other).is_empty(), "{other:?}");
}

/// A job of `size` commands from thread `t`, its `j`th: each opens a registry of its own.
fn large_job(t: usize, j: usize, size: usize) -> Vec<tanso_engine::Submission> {
    (0..size)
        .map(|k| open_registry(&format!("t{t}-{j}-{k}"), &reg(t, j * size + k)))
        .collect()
}

/// Large jobs (HTTP batches) queued behind each other are decided while the one before them
/// commits (a stream); every command is answered in its job's order, everything lands, and a
/// read taken meanwhile sees exactly what is durable: every chain the node holds is in the
/// store, none only in memory.
#[test]
fn streamed_large_jobs_are_answered_in_order_and_reads_see_only_durable_state() {
    let store = MemoryStore::new();
    let engine = engine(&store, 64);
    let (threads, jobs, size) = (3, 4, SEAL_ON_THREAD_MIN + 10);
    let done = AtomicBool::new(false);
    let reads = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0;
            while !done.load(Ordering::SeqCst) {
                let (held, durable) = engine.with_node(|node| {
                    (
                        node.chains().count(),
                        node.store().heads().expect("heads").len(),
                    )
                });
                assert_eq!(held, durable, "a read saw chains that are not durable");
                reads += 1;
            }
            reads
        });
        let submitters: Vec<_> = (0..threads)
            .map(|t| {
                let engine = &engine;
                s.spawn(move || {
                    for j in 0..jobs {
                        let out = engine
                            .submit_many_async(large_job(t, j, size))
                            .recv()
                            .expect("answers");
                        assert_eq!(out.len(), size, "one answer per command");
                        for (k, a) in out.iter().enumerate() {
                            assert_eq!(a.id.as_str(), format!("t{t}-{j}-{k}"), "in order");
                            assert!(codes(a).is_empty(), "{:?}", codes(a));
                        }
                    }
                })
            })
            .collect();
        for h in submitters {
            h.join().expect("submitter");
        }
        done.store(true, Ordering::SeqCst);
        reader.join().expect("reader")
    });
    assert!(reads > 0, "the reader read");
    drop(engine.shutdown());
    assert_eq!(
        store.heads().expect("heads").len(),
        threads * jobs * size,
        "every command landed, once"
    );
}

/// A reader waiting for the node stops the writer from taking more queued jobs into its
/// stream: it gets the node once the batches already taken are durable, long before the
/// queue runs dry.
#[test]
fn a_waiting_reader_gets_the_node_before_the_queued_large_jobs() {
    let store = MemoryStore::new();
    let engine = engine(&store, 64);
    let (jobs, size) = (40, SEAL_ON_THREAD_MIN);
    let pending: Vec<_> = (0..jobs)
        .map(|j| engine.submit_many_async(large_job(0, j, size)))
        .collect();
    // The writer is streaming the queue once the first job is answered.
    let first = pending[0].recv().expect("answers");
    assert!(first.iter().all(|a| codes(a).is_empty()));
    let durable_at_read = engine.with_node(|node| node.store().heads().expect("heads").len());
    assert!(
        durable_at_read < jobs * size / 2,
        "the reader waited for {durable_at_read} of {} commands",
        jobs * size
    );
    for rx in &pending[1..] {
        let out = rx.recv().expect("answers");
        assert!(out.iter().all(|a| codes(a).is_empty()));
    }
    drop(engine.shutdown());
    assert_eq!(store.heads().expect("heads").len(), jobs * size);
}

/// A commit that fails while the next large job is decided answers both jobs (and every later
/// one) with 7001, and nothing lands.
#[test]
fn a_failed_commit_in_a_stream_answers_every_job_taken_with_7001() {
    let store = MemoryStore::new();
    let engine = engine(&store, 64);
    store.fail_next_write(InjectedFailure::Lost);
    let pending: Vec<_> = (0..3)
        .map(|j| engine.submit_many_async(large_job(1, j, SEAL_ON_THREAD_MIN)))
        .collect();
    for (j, rx) in pending.iter().enumerate() {
        let out = rx.recv().expect("answers");
        assert_eq!(out.len(), SEAL_ON_THREAD_MIN);
        for (k, a) in out.iter().enumerate() {
            assert_eq!(a.id.as_str(), format!("t1-{j}-{k}"));
            assert_eq!(codes(a), [Code::STORAGE_UNAVAILABLE], "job {j}");
        }
    }
    drop(engine.shutdown());
    assert!(store.heads().expect("heads").is_empty(), "nothing landed");
}

/// A job submitted without events is answered as one with them, less the accepted answers'
/// events; the journal has them either way.
#[test]
fn a_job_without_events_gets_the_same_answers_less_their_events() {
    let store = MemoryStore::new();
    let engine = engine(&store, 64);
    let with = engine
        .submit_many_async(large_job(2, 0, SEAL_ON_THREAD_MIN))
        .recv()
        .expect("answers");
    let without = engine
        .submit_many_async_without_events(large_job(2, 1, SEAL_ON_THREAD_MIN))
        .recv()
        .expect("answers");
    assert_eq!(with.len(), without.len());
    for (w, o) in with.iter().zip(&without) {
        let (Outcome::Accepted(w), Outcome::Accepted(o)) = (&w.outcome, &o.outcome) else {
            panic!("every command is accepted: {w:?} {o:?}");
        };
        assert!(!w.events.is_empty(), "answers keep their events by default");
        assert!(o.events.is_empty(), "and leave them out when asked");
        assert_eq!((w.seq, o.seq), (1, 1), "each opens a chain of its own");
    }
    drop(engine.shutdown());
    assert_eq!(store.heads().expect("heads").len(), 2 * SEAL_ON_THREAD_MIN);
}
