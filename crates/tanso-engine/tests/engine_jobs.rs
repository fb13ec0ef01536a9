//! The engine's jobs: single commands and many-command jobs (one answer channel per batch
//! request) from several threads at once are applied in order and answered in order, each
//! with its own outcome; a failed commit or a stopped writer answers every command of a job
//! with a transient code.

use std::collections::BTreeSet;
use tanso_core::checks::Code;
use tanso_engine::{Answer, Outcome};
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
