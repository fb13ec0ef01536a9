//! `tanso apply`: JSON commands in, one per line; one JSON result per line out, in input
//! order, each printed only once its batch is durable. Reading, submitting and printing run
//! concurrently so that the writer can group many commands into one commit.

use crate::{checkpoint, open_node, Cli};
use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Receiver};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use tanso_core::ids::ChainId;
use tanso_core::units::Timestamp;
use tanso_engine::{system_clock, Answer, Engine, Outcome, Submission};
use tanso_store::PersonalRecord;
use tanso_wire::out::{accepted_json, rejection_json};
use tanso_wire::{os_salt, parse_line, write_json, Parsed};

enum Pending {
    Ready(Value),
    Waiting { rx: Receiver<Answer>, dry_run: bool },
}

/// Turns a parsed command into an engine submission.
pub fn submission(p: Parsed) -> Submission {
    Submission {
        id: p.id,
        chain: p.chain,
        actor: p.actor,
        content_hash: p.content_hash,
        command: p.command,
        personal: p
            .personal
            .into_iter()
            .map(|(reference, salt, text)| PersonalRecord {
                reference,
                salt,
                text,
            })
            .collect(),
        dry_run: p.dry_run,
    }
}

/// The JSON result line for an answer.
pub fn answer_json(a: &Answer, dry_run: bool) -> Value {
    match &a.outcome {
        Outcome::Accepted(x) => accepted_json(
            a.id.as_str(),
            &x.chain,
            x.seq,
            &x.hash,
            x.time,
            &x.events,
            a.replayed,
            dry_run,
        ),
        Outcome::Rejected(r) => rejection_json(Some(a.id.as_str()), r, a.replayed, dry_run),
    }
}

/// Writes [`answer_json`] without the events of an accepted command (id, status, chain, seq,
/// time and hash; the events are in the journal, `GET /api/v1/chains/{chain}/entries/{seq}`)
/// onto `out`, as `serde_json::to_vec` would write that value (keys in their sorted order),
/// without building it, one answer after another. Rejections are whole. For the results of
/// large batches, where building and dropping a value per command costs more than the rest; it
/// keeps the JSON of the last chain and time written, which the answers of one batch share
/// (formatting a time is most of the cost of an answer).
#[derive(Default)]
pub struct CompactAnswers {
    chain: Option<(ChainId, Vec<u8>)>,
    time: Option<(Timestamp, Vec<u8>)>,
}

impl CompactAnswers {
    pub fn write(&mut self, out: &mut Vec<u8>, a: &Answer, dry_run: bool) {
        let Outcome::Accepted(x) = &a.outcome else {
            write_json(out, &answer_json(a, dry_run));
            return;
        };
        out.extend_from_slice(b"{\"chain\":");
        out.extend_from_slice(remembered(&mut self.chain, &x.chain, |c| c.to_string()));
        out.extend_from_slice(b",\"dry_run\":");
        out.extend_from_slice(if dry_run { b"true" } else { b"false" });
        if !dry_run {
            let mut hex = [0u8; 64];
            // 32 bytes always fit 64 hex digits.
            if hex::encode_to_slice(x.hash, &mut hex).is_ok() {
                out.extend_from_slice(b",\"hash\":\"");
                out.extend_from_slice(&hex);
                out.push(b'"');
            }
        }
        out.extend_from_slice(b",\"id\":");
        write_json(out, a.id.as_str());
        out.extend_from_slice(b",\"replayed\":");
        out.extend_from_slice(if a.replayed { b"true" } else { b"false" });
        out.extend_from_slice(b",\"seq\":");
        write_json(out, &x.seq);
        out.extend_from_slice(b",\"status\":");
        out.extend_from_slice(if dry_run {
            b"\"would_accept\""
        } else {
            b"\"accepted\""
        });
        out.extend_from_slice(b",\"time\":");
        out.extend_from_slice(remembered(&mut self.time, &x.time, |t| t.to_string()));
        out.push(b'}');
    }
}

/// The JSON string of `key` shown by `show`, from `memo` when it holds the same key.
fn remembered<'m, K: Clone + PartialEq>(
    memo: &'m mut Option<(K, Vec<u8>)>,
    key: &K,
    show: impl FnOnce(&K) -> String,
) -> &'m [u8] {
    if memo.as_ref().is_none_or(|(k, _)| k != key) {
        let mut json = Vec::new();
        write_json(&mut json, &show(key));
        *memo = Some((key.clone(), json));
    }
    memo.as_ref().map_or(&[], |(_, json)| json.as_slice())
}

pub fn run(cli: &Cli, file: &str, batch_max: usize) -> Result<i32> {
    let input: Box<dyn BufRead + Send> = if file == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(file).with_context(|| format!("open {file}"))?,
        ))
    };
    let node = open_node(&cli.location())?;
    let engine = Engine::start(node, batch_max, system_clock());
    let (tx, rx) = bounded::<Pending>(100_000);
    let printer = std::thread::spawn(move || -> std::io::Result<(u64, u64)> {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let (mut ok, mut rejected) = (0u64, 0u64);
        while let Ok(p) = rx.recv() {
            let v = match p {
                Pending::Ready(v) => v,
                Pending::Waiting { rx, dry_run } => match rx.recv() {
                    Ok(a) => answer_json(&a, dry_run),
                    Err(_) => serde_json::json!({"status": "rejected", "codes": [7001]}),
                },
            };
            if v["status"] == "accepted" {
                ok += 1;
            } else {
                rejected += 1;
            }
            serde_json::to_writer(&mut out, &v)?;
            out.write_all(b"\n")?;
            // Flush as soon as nothing else is ready: callers log acknowledgements as they come.
            if rx.is_empty() {
                out.flush()?;
            }
        }
        out.flush()?;
        Ok((ok, rejected))
    });
    let mut salt = os_salt;
    for line in input.lines() {
        let line = line.context("read input")?;
        if line.trim().is_empty() {
            continue;
        }
        let pending = match parse_line(&line, &mut salt) {
            Err(u) => Pending::Ready(rejection_json(u.id.as_deref(), &u.rejection, false, false)),
            Ok(p) => {
                let dry_run = p.dry_run;
                Pending::Waiting {
                    rx: engine.submit_async(submission(p)),
                    dry_run,
                }
            }
        };
        if tx.send(pending).is_err() {
            break;
        }
    }
    drop(tx);
    let counts = printer
        .join()
        .map_err(|_| anyhow::anyhow!("printer thread panicked"))?;
    let (ok, rejected) = counts.context("write results")?;
    let mut node = engine
        .shutdown()
        .ok_or_else(|| anyhow::anyhow!("writer did not stop cleanly"))?;
    if !node.is_poisoned() {
        checkpoint(&mut node, &cli.keys)?;
    }
    eprintln!("applied: {ok} accepted, {rejected} rejected");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tanso_core::checks::Rejection;
    use tanso_core::ids::{ChainId, CommandId, RegistryId};
    use tanso_core::units::Timestamp;
    use tanso_core::Code;
    use tanso_engine::Accepted;

    /// The compact result as a value: what `CompactAnswers::write` must write.
    fn answer_json_compact(a: &Answer, dry_run: bool) -> Value {
        match &a.outcome {
            Outcome::Accepted(x) => {
                let mut v = accepted_json(
                    a.id.as_str(),
                    &x.chain,
                    x.seq,
                    &x.hash,
                    x.time,
                    &[],
                    a.replayed,
                    dry_run,
                );
                if let Some(m) = v.as_object_mut() {
                    m.remove("events");
                }
                v
            }
            Outcome::Rejected(_) => answer_json(a, dry_run),
        }
    }

    fn accepted(id: &str, seq: u64, replayed: bool) -> Answer {
        Answer {
            id: CommandId::parse(id).expect("a valid command id"),
            outcome: Outcome::Accepted(Accepted {
                chain: ChainId::Registry(RegistryId::parse("IND01").expect("a registry id")),
                seq,
                hash: std::array::from_fn(|i| (i as u64).wrapping_mul(37).wrapping_add(seq) as u8),
                time: Timestamp(1_764_000_000_123 + (seq % 1_000) as i64),
                events: Vec::new(),
            }),
            replayed,
        }
    }

    /// The compact results written straight to bytes are exactly the bytes of the compact
    /// value, for accepted answers (dry run or not, replayed or not) and rejections.
    #[test]
    fn compact_answers_written_directly_are_the_bytes_of_the_compact_value() {
        let rejected = Answer {
            id: CommandId::parse("t-9").expect("a valid command id"),
            outcome: Outcome::Rejected(Rejection::one(Code::MALFORMED_COMMAND, "no \"from\"")),
            replayed: false,
        };
        let answers = [
            accepted("t-1", 1, false),
            accepted("batch.7:x_y", u64::MAX, true),
            rejected,
        ];
        for a in &answers {
            for dry_run in [false, true] {
                let mut direct = Vec::new();
                CompactAnswers::default().write(&mut direct, a, dry_run);
                let via_value =
                    serde_json::to_vec(&answer_json_compact(a, dry_run)).expect("serializes");
                assert_eq!(
                    String::from_utf8_lossy(&direct),
                    String::from_utf8_lossy(&via_value),
                    "answer {} dry_run {dry_run}",
                    a.id.as_str()
                );
            }
        }
    }

    /// One writer across a batch remembers the last chain and time: its answers are the bytes
    /// each written alone, whether the next answer shares them or not.
    #[test]
    fn a_writer_that_remembers_writes_what_each_answer_alone_writes() {
        let japan = |seq| {
            let mut a = accepted("j-1", seq, false);
            if let Outcome::Accepted(x) = &mut a.outcome {
                x.chain = ChainId::Registry(RegistryId::parse("JPN01").expect("a registry id"));
            }
            a
        };
        // seq 1 and 1,001 share a time; 2 does not; the chain changes and comes back.
        let answers = [
            accepted("t-1", 1, false),
            accepted("t-2", 1_001, false),
            accepted("t-3", 2, true),
            japan(2),
            japan(3),
            accepted("t-4", 3, false),
        ];
        let mut remembering = CompactAnswers::default();
        let (mut together, mut alone) = (Vec::new(), Vec::new());
        for a in &answers {
            remembering.write(&mut together, a, false);
            CompactAnswers::default().write(&mut alone, a, false);
        }
        assert_eq!(
            String::from_utf8_lossy(&together),
            String::from_utf8_lossy(&alone)
        );
        assert!(String::from_utf8_lossy(&together).contains("\"JPN01\""));
    }
}
