//! `tanso apply`: JSON commands in, one per line; one JSON result per line out, in input
//! order, each printed only once its batch is durable. Reading, submitting and printing run
//! concurrently so that the writer can group many commands into one commit.

use crate::{checkpoint, open_node, Cli};
use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Receiver};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use tanso_engine::{system_clock, Answer, Engine, Outcome, Submission};
use tanso_store::PersonalRecord;
use tanso_wire::out::{accepted_json, rejection_json};
use tanso_wire::{os_salt, parse_line, Parsed};

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

/// [`answer_json`] without the events of an accepted command: id, status, chain, seq, time
/// and hash (the events are in the journal, `GET /api/v1/chains/{chain}/entries/{seq}`).
/// Rejections are whole.
pub fn answer_json_compact(a: &Answer, dry_run: bool) -> Value {
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
