//! `tanso verify` against a tampered journal: on a store made by `tanso demo`, each test edits
//! `journal.sqlite` directly (as an attacker with write access to the file would) and checks
//! that verify exits 1 naming the chain and the entry at fault, and why. Where the tamper is
//! meant to be caught by one check only (the signing key, replay), the test also shows that
//! everything else about the forgery holds.

mod common;

use common::{Image, Sandbox};
use ed25519_dalek::SigningKey;
use rusqlite::{params, Connection};
use serde_json::Value;
use std::sync::OnceLock;
use tanso_core::checkpoint::SignedCheckpoint;
use tanso_core::entry::{split_run, Entry};
use tanso_core::*;
use tanso_engine::chains::ChainRt;
use tanso_engine::keys::{load_signing_key, sign_checkpoint};

/// Entries of the IND01 chain in the demo's store (the demo is deterministic in its steps).
const DEMO_IND01_ENTRIES: u64 = 2030;
const CHAIN: &str = "IND01";

/// A fresh copy of the demo's store and keys (the demo runs once per test binary).
fn demo() -> Sandbox {
    static DEMO: OnceLock<Image> = OnceLock::new();
    let image = DEMO.get_or_init(|| {
        let s = Sandbox::new();
        s.demo();
        s.image()
    });
    Sandbox::from_image(image)
}

/// One stored entry: body and stored hash.
#[derive(Clone)]
struct Stored {
    body: Vec<u8>,
    hash: [u8; 32],
}

impl Stored {
    fn of(entry: &Entry) -> Stored {
        let body = entry.body();
        Stored {
            hash: Entry::hash_of_body(&body),
            body,
        }
    }
    fn entry(&self) -> Entry {
        Entry::decode_body(&self.body).expect("stored entry decodes")
    }
}

/// `u32 length || body || hash`, the stored form (`tanso_core::entry`).
fn encode_run(entries: &[Stored]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(
            &u32::try_from(e.body.len())
                .expect("body fits u32")
                .to_be_bytes(),
        );
        out.extend_from_slice(&e.body);
        out.extend_from_slice(&e.hash);
    }
    out
}

struct Run {
    first_seq: u64,
    last_seq: u64,
    entries: Vec<Stored>,
}

fn runs(db: &Connection, chain: &str) -> Vec<Run> {
    let mut stmt = db
        .prepare("SELECT first_seq, last_seq, body FROM runs WHERE chain = ?1 ORDER BY first_seq")
        .expect("prepare");
    let rows = stmt
        .query_map(params![chain], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .expect("query runs");
    rows.map(|row| {
        let (first, last, body) = row.expect("run row");
        let entries = split_run(&body)
            .expect("run splits")
            .into_iter()
            .map(|raw| Stored {
                body: raw.body.to_vec(),
                hash: raw.stored_hash,
            })
            .collect();
        Run {
            first_seq: u64::try_from(first).expect("seq"),
            last_seq: u64::try_from(last).expect("seq"),
            entries,
        }
    })
    .collect()
}

fn sql_seq(seq: u64) -> i64 {
    i64::try_from(seq).expect("seq fits i64")
}

fn rewrite_run(db: &Connection, chain: &str, first_seq: u64, last_seq: u64, entries: &[Stored]) {
    let n = db
        .execute(
            "UPDATE runs SET last_seq = ?3, body = ?4 WHERE chain = ?1 AND first_seq = ?2",
            params![
                chain,
                sql_seq(first_seq),
                sql_seq(last_seq),
                encode_run(entries)
            ],
        )
        .expect("rewrite run");
    assert_eq!(n, 1, "run {chain} {first_seq} rewritten");
}

fn set_head(db: &Connection, chain: &str, seq: u64, hash: &[u8; 32]) {
    let n = db
        .execute(
            "UPDATE heads SET seq = ?2, hash = ?3 WHERE chain = ?1",
            params![chain, sql_seq(seq), hash.to_vec()],
        )
        .expect("set head");
    assert_eq!(n, 1);
}

/// A run of the IND01 chain with at least three entries, past the set-up entries: its first
/// seq, so that `first + 1` is an entry in the middle of a run.
fn middle_run(db: &Connection) -> Run {
    runs(db, CHAIN)
        .into_iter()
        .find(|r| r.first_seq > 16 && r.entries.len() >= 3)
        .expect("the demo's burst of transfers leaves a run of three or more entries")
}

/// Every entry of a chain in order, replayed: the chain's runtime (head, Merkle frontier,
/// state) exactly as verify computes it.
fn replay(entries: &[Stored], chain: &str) -> ChainRt {
    let mut rt = ChainRt::new(ChainId::parse(chain).expect("chain id"));
    for e in entries {
        rt.apply_stored(&e.body, e.hash).expect("entry replays");
    }
    rt
}

fn all_entries(db: &Connection, chain: &str) -> Vec<Stored> {
    runs(db, chain)
        .into_iter()
        .flat_map(|r| r.entries)
        .collect()
}

/// Replaces every checkpoint of `chain` by one at `seq` signed with `key`.
fn resign(
    db: &Connection,
    chain: &str,
    key: &SigningKey,
    seq: u64,
    head: [u8; 32],
    merkle_root: [u8; 32],
    state_hash: [u8; 32],
) {
    let signed = sign_checkpoint(
        key,
        tanso_core::checkpoint::Checkpoint {
            key_id: [0; 8],
            chain: chain.to_owned(),
            seq,
            head_hash: head,
            merkle_root,
            state_hash,
            time_micros: 1_767_225_600_000_000,
        },
    )
    .expect("sign checkpoint");
    db.execute("DELETE FROM checkpoints WHERE chain = ?1", params![chain])
        .expect("delete checkpoints");
    db.execute(
        "INSERT INTO checkpoints (chain, seq, body) VALUES (?1, ?2, ?3)",
        params![
            chain,
            sql_seq(seq),
            signed.encode().expect("encode checkpoint")
        ],
    )
    .expect("insert checkpoint");
}

/// Runs verify; asserts exit 1 and a single FAILED line naming `chain IND01 entry {seq}`.
fn verify_fails_at(s: &Sandbox, seq: u64) -> String {
    let (code, out) = s.verify();
    assert_eq!(code, 1, "verify passed a tampered store:\n{out}");
    let prefix = format!("verify: FAILED chain {CHAIN} entry {seq}: ");
    assert!(
        out.starts_with(&prefix),
        "expected {prefix:?}…, got:\n{out}"
    );
    out
}

#[test]
fn the_untouched_demo_store_verifies() {
    let s = demo();
    let (code, out) = s.verify();
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "one line per chain:\n{out}");
    assert!(lines.iter().all(|l| l.starts_with("verify: ok ")), "{out}");
    assert!(
        out.contains(&format!("verify: ok IND01 entries={DEMO_IND01_ENTRIES} ")),
        "{out}"
    );
    assert!(out.contains("unanchored=0"), "{out}");
}

#[test]
fn a_changed_entry_fails_verify_naming_it() {
    let s = demo();
    let db = s.db();
    let run = middle_run(&db);
    let target = run.first_seq + 1;
    let mut entries = run.entries.clone();
    let body = &mut entries[1].body;
    let mid = body.len() / 2;
    body[mid] ^= 0x01;
    rewrite_run(&db, CHAIN, run.first_seq, run.last_seq, &entries);
    drop(db);

    let out = verify_fails_at(&s, target);
    assert!(
        out.contains("stored hash does not match the entry's content"),
        "{out}"
    );
}

/// An entry is cut out of the middle of a run and the run's `last_seq` fixed, as the brief
/// for a deletion says; the runs after it keep their numbers, so the table has a gap.
#[test]
fn a_deleted_entry_leaving_a_gap_in_the_runs_fails_verify_naming_it() {
    let s = demo();
    let db = s.db();
    let run = middle_run(&db);
    let target = run.first_seq + 1;
    let mut entries = run.entries.clone();
    entries.remove(1);
    rewrite_run(&db, CHAIN, run.first_seq, run.last_seq - 1, &entries);
    drop(db);

    let out = verify_fails_at(&s, target);
    assert!(
        out.contains(&format!(
            "entry has sequence {} where {target} was expected",
            target + 1
        )),
        "{out}"
    );
}

/// An entry is cut out of the middle of a run and every later run renumbered, with the head
/// moved back one: the runs table is contiguous again, but the entries' own sequence numbers
/// (inside the hashed bodies) give the deletion away.
#[test]
fn a_deleted_entry_fails_verify_naming_it() {
    let s = demo();
    let db = s.db();
    let run = middle_run(&db);
    let target = run.first_seq + 1;
    let mut entries = run.entries.clone();
    entries.remove(1);
    rewrite_run(&db, CHAIN, run.first_seq, run.last_seq - 1, &entries);
    let later: Vec<(u64, u64)> = runs(&db, CHAIN)
        .iter()
        .filter(|r| r.first_seq > run.first_seq)
        .map(|r| (r.first_seq, r.last_seq))
        .collect();
    // Ascending, so that each new first_seq is free when it is taken.
    for (first, last) in later {
        db.execute(
            "UPDATE runs SET first_seq = ?3, last_seq = ?4 WHERE chain = ?1 AND first_seq = ?2",
            params![CHAIN, sql_seq(first), sql_seq(first - 1), sql_seq(last - 1)],
        )
        .expect("renumber run");
    }
    let head: [u8; 32] = {
        let h: Vec<u8> = db
            .query_row(
                "SELECT hash FROM heads WHERE chain = ?1",
                params![CHAIN],
                |r| r.get(0),
            )
            .expect("head");
        h.try_into().expect("32-byte head")
    };
    set_head(&db, CHAIN, DEMO_IND01_ENTRIES - 1, &head);
    drop(db);

    let out = verify_fails_at(&s, target);
    assert!(
        out.contains(&format!(
            "entry has sequence {} where {target} was expected",
            target + 1
        )),
        "{out}"
    );
}

#[test]
fn reordered_entries_fail_verify_naming_the_first() {
    let s = demo();
    let db = s.db();
    let run = middle_run(&db);
    let target = run.first_seq + 1;
    let mut entries = run.entries.clone();
    entries.swap(1, 2);
    rewrite_run(&db, CHAIN, run.first_seq, run.last_seq, &entries);
    drop(db);

    let out = verify_fails_at(&s, target);
    assert!(
        out.contains(&format!(
            "entry has sequence {} where {target} was expected",
            target + 1
        )),
        "{out}"
    );
}

/// The last run is deleted and the head moved back to the new last entry: the store is
/// consistent (a node opens it), but the signed checkpoint covers entries that are gone.
#[test]
fn truncation_after_a_checkpoint_fails_verify() {
    let s = demo();
    let db = s.db();
    let all = runs(&db, CHAIN);
    let last = all.last().expect("runs");
    let cut = last.first_seq;
    let kept = all[all.len() - 2].entries.last().expect("entries").clone();
    db.execute(
        "DELETE FROM runs WHERE chain = ?1 AND first_seq >= ?2",
        params![CHAIN, sql_seq(cut)],
    )
    .expect("delete runs");
    set_head(&db, CHAIN, cut - 1, &kept.hash);
    drop(db);

    let open = s.run(&["holdings", "--account", "1002", "--registry", CHAIN]);
    assert!(
        open.status.success(),
        "the truncated store should still open: {}",
        String::from_utf8_lossy(&open.stderr)
    );
    let out = verify_fails_at(&s, cut);
    assert!(
        out.contains(&format!(
            "chain ends at seq {} but a signed checkpoint covers seq {DEMO_IND01_ENTRIES}: entries were truncated",
            cut - 1
        )),
        "{out}"
    );
}

/// An entry is rewritten (another actor), every later entry re-hashed and re-linked in the
/// correct format, the head fixed, and the checkpoints replaced by one signed with a fresh
/// key. Only the key gives it away: trusting that key as well, the forgery verifies.
#[test]
fn a_chain_rehashed_and_resigned_with_an_untrusted_key_fails_verify() {
    let s = demo();
    let db = s.db();
    let all = runs(&db, CHAIN);
    let run = all
        .iter()
        .find(|r| r.first_seq > 16)
        .expect("a run after the set-up");
    let target = run.first_seq;
    let mut prev = [0u8; 32];
    let mut rewritten: Vec<Stored> = Vec::new();
    for r in &all {
        let mut out = Vec::new();
        for stored in &r.entries {
            let mut e = stored.entry();
            if e.seq == target {
                assert_ne!(e.actor.as_str(), "mallory");
                e.actor = Actor::parse("mallory").expect("actor");
            }
            if e.seq >= target {
                e.prev_hash = prev;
            }
            let new = if e.seq >= target {
                Stored::of(&e)
            } else {
                stored.clone()
            };
            prev = new.hash;
            out.push(new);
        }
        rewrite_run(&db, CHAIN, r.first_seq, r.last_seq, &out);
        rewritten.extend(out);
    }
    let rt = replay(&rewritten, CHAIN);
    assert_eq!(rt.seq, DEMO_IND01_ENTRIES);
    set_head(&db, CHAIN, rt.seq, &rt.head);
    let attacker = SigningKey::from_bytes(&[7; 32]);
    resign(
        &db,
        CHAIN,
        &attacker,
        rt.seq,
        rt.head,
        rt.frontier.root(),
        rt.state.state_hash(),
    );
    drop(db);

    let (code, out) = s.verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "verify: FAILED chain {CHAIN} entry {DEMO_IND01_ENTRIES}: "
        )),
        "{out}"
    );
    assert!(
        out.contains("checkpoint is signed by untrusted key"),
        "{out}"
    );

    // Control: with the attacker's key trusted too, the rewritten chain verifies, so the
    // forgery is correct in every other respect.
    let trust = s.scratch("trust-attacker");
    let mut text = std::fs::read_to_string(s.keys.join("trusted_keys")).expect("trusted keys");
    text.push_str(&format!(
        "ed25519 {} attacker\n",
        hex::encode(attacker.verifying_key().as_bytes())
    ));
    std::fs::write(&trust, text).expect("write trust file");
    let ok = s.run(&["verify", "--trust", trust.to_str().expect("utf-8 path")]);
    let ok_out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{ok_out}");
    assert!(
        ok_out.contains(&format!("verify: ok IND01 entries={DEMO_IND01_ENTRIES} "))
            && ok_out.contains("key=attacker"),
        "{ok_out}"
    );
}

/// A new entry at the end, correctly hashed and linked, moves serials that account 1002 does
/// not hold; the head is fixed and the checkpoint re-signed with the node's own trusted key.
/// Hashes, links, sequence, time and signature all hold: only replay can catch it.
#[test]
fn a_well_hashed_entry_that_replay_finds_illegal_fails_verify() {
    let s = demo();
    let held = s.run(&[
        "holdings",
        "--account",
        "1003",
        "--registry",
        CHAIN,
        "--json",
    ]);
    assert!(held.status.success());
    let held: Value = serde_json::from_slice(&held.stdout).expect("holdings json");
    let start = held["blocks"][0]["start"]
        .as_u64()
        .expect("1003 holds a block");

    let db = s.db();
    let entries = all_entries(&db, CHAIN);
    let rt = replay(&entries, CHAIN);
    let last = entries.last().expect("entries").entry();
    let forged = Entry {
        chain: last.chain.clone(),
        seq: last.seq + 1,
        time: Timestamp(last.time.0 + 1),
        actor: Actor::parse("mallory").expect("actor"),
        command_id: CommandId::parse("forged-1").expect("command id"),
        command_hash: [0; 32],
        prev_hash: rt.head,
        events: vec![Event::Transferred {
            from: AccountId(1002),
            to: AccountId(1003),
            ranges: vec![IssuedRange {
                issuing: RegistryId::parse(CHAIN).expect("registry"),
                range: SerialRange::new(start, start).expect("range"),
            }],
        }],
    };
    let stored = Stored::of(&forged);
    db.execute(
        "INSERT INTO runs (chain, first_seq, last_seq, body) VALUES (?1, ?2, ?2, ?3)",
        params![
            CHAIN,
            sql_seq(forged.seq),
            encode_run(std::slice::from_ref(&stored))
        ],
    )
    .expect("append forged run");
    set_head(&db, CHAIN, forged.seq, &stored.hash);
    let mut frontier = rt.frontier.clone();
    frontier.push(&stored.hash);
    let node_key = load_signing_key(&s.keys.join("signing.key")).expect("node key");
    // No legal state follows the forged entry; replay fails before any state is compared.
    resign(
        &db,
        CHAIN,
        &node_key,
        forged.seq,
        stored.hash,
        frontier.root(),
        rt.state.state_hash(),
    );
    drop(db);

    let out = verify_fails_at(&s, forged.seq);
    assert!(out.contains("replay finds the entry illegal"), "{out}");
    assert!(
        out.contains("3038"),
        "the replayed check names the serials not held: {out}"
    );
}

/// A checkpoint whose signed bytes were changed (its state hash) no longer carries a valid
/// signature.
#[test]
fn a_changed_checkpoint_fails_verify() {
    let s = demo();
    let db = s.db();
    let body: Vec<u8> = db
        .query_row(
            "SELECT body FROM checkpoints WHERE chain = ?1 AND seq = ?2",
            params![CHAIN, DEMO_IND01_ENTRIES as i64],
            |r| r.get(0),
        )
        .expect("checkpoint");
    let mut cp = SignedCheckpoint::decode(&body).expect("checkpoint decodes");
    cp.checkpoint.state_hash[0] ^= 0x01;
    db.execute(
        "UPDATE checkpoints SET body = ?2 WHERE chain = ?1 AND seq = ?3",
        params![
            CHAIN,
            cp.encode().expect("encode"),
            DEMO_IND01_ENTRIES as i64
        ],
    )
    .expect("rewrite checkpoint");
    drop(db);

    let out = verify_fails_at(&s, DEMO_IND01_ENTRIES);
    assert!(out.contains("bad signature on checkpoint"), "{out}");
}
