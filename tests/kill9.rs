//! `kill -9` of the writer during a durable load, again and again, driven by a separate client
//! process (this test) that logs every acknowledgement.
//!
//! The client spawns `tanso apply -`, sets up registry IND01 (a holder, twenty accounts, an
//! issuance to each), then streams transfers with unique ids from a writer thread while a
//! reader thread logs each result line as it arrives: a line read from stdout is an
//! acknowledgement, and `tanso apply` prints one only once its batch is durable. At a random
//! moment (seeded) it sends SIGKILL. It then restarts a fresh `tanso apply` and
//! - re-submits every command acknowledged since the previous restart (same id, same bytes):
//!   each must come back `replayed: true` with the same outcome (same chain, seq and hash, or
//!   the same rejection codes);
//! - re-submits every command that was sent but not acknowledged: it may or may not have
//!   become durable, but it is applied at most once (it answers replayed, or is applied now);
//! - continues the load, and is killed again.
//!
//! After the last kill it restarts once more, re-submits every command ever sent (all must be
//! replays by now), shuts down cleanly, runs `tanso checkpoint` and `tanso verify`, and checks
//! that the journal holds exactly one entry per accepted command and that each account holds
//! what the accepted transfers say, so the units issued are conserved.
//!
//! `TANSO_KILL9_ROUNDS` sets the number of kills (default 20); `TANSO_KILL9_SEED` the seed.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const TANSO: &str = env!("CARGO_BIN_EXE_tanso");
const REGISTRY: &str = "IND01";
const ROUNDS_DEFAULT: usize = 20;
const SEED_DEFAULT: u64 = 0x7a9e_5eed_0000_0009;
const FIRST_ACCOUNT: u64 = 3000;
const ACCOUNTS: u64 = 20;
const ISSUED_PER_ACCOUNT: u64 = 1000;
/// The kill lands this long after the load starts.
const KILL_AFTER_MS_MIN: u64 = 5;
const KILL_AFTER_MS_MAX: u64 = 200;
/// Commands the client keeps in flight (sent, not yet acknowledged) at most.
const IN_FLIGHT_MAX: usize = 300;
/// New commands per round at most (the kill usually comes first).
const LOAD_PER_ROUND_MAX: usize = 4000;

/// SplitMix64: a seeded generator, so a failing run repeats with its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// What a transfer moves, for the holdings the test expects.
#[derive(Clone, Copy, Debug)]
struct Move {
    from: u64,
    to: u64,
    quantity: u64,
}

/// One command as sent: its id, its exact line, and what it moves if it is a transfer.
struct Sent {
    id: String,
    line: String,
    transfer: Option<Move>,
}

/// A final answer, as the client compares them.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Accepted {
        chain: String,
        seq: u64,
        hash: String,
    },
    Rejected {
        codes: Vec<u64>,
    },
}

struct Answer {
    id: String,
    outcome: Outcome,
    replayed: bool,
}

fn parse_answer(line: &str) -> Answer {
    let v: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("result line is not JSON ({e}): {line}"));
    let id = v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("result line without id: {line}"))
        .to_string();
    let replayed = v["replayed"]
        .as_bool()
        .unwrap_or_else(|| panic!("result line without replayed: {line}"));
    let outcome = match v["status"].as_str() {
        Some("accepted") => Outcome::Accepted {
            chain: v["chain"].as_str().unwrap_or_default().to_string(),
            seq: v["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("accepted without seq: {line}")),
            hash: v["hash"]
                .as_str()
                .unwrap_or_else(|| panic!("accepted without hash: {line}"))
                .to_string(),
        },
        Some("rejected") => Outcome::Rejected {
            codes: v["codes"]
                .as_array()
                .unwrap_or_else(|| panic!("rejected without codes: {line}"))
                .iter()
                .filter_map(Value::as_u64)
                .collect(),
        },
        _ => panic!("result line with an unknown status: {line}"),
    };
    if let Outcome::Rejected { codes } = &outcome {
        // Transient storage refusals (7xxx) are never bound to an id: nothing here causes one.
        assert!(
            codes.iter().all(|c| *c < 7000),
            "a transient refusal during the load: {line}"
        );
    }
    Answer {
        id,
        outcome,
        replayed,
    }
}

/// The client's log: every command it ever sent, and the outcome of those acknowledged.
struct Client {
    dir: PathBuf,
    data: PathBuf,
    keys: PathBuf,
    sent: Vec<Sent>,
    /// Outcome by index into `sent`, for every acknowledged command.
    outcomes: HashMap<usize, Outcome>,
    /// Acknowledged since the last restart: re-submitted after the next one.
    acked_since_restart: Vec<usize>,
    /// Sent but not acknowledged when the writer was killed.
    in_doubt: Vec<usize>,
    next_transfer: u64,
    rng: Rng,
    processes: u32,
    stats: Stats,
}

#[derive(Default, Debug)]
struct Stats {
    kills: usize,
    acked_in_load: usize,
    replays_checked: usize,
    in_doubt_durable: usize,
    in_doubt_applied_after: usize,
}

/// A running `tanso apply -`, its stderr in a file.
struct Writer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
    stderr_path: PathBuf,
}

impl Writer {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Client {
    fn new(dir: &Path, seed: u64) -> Client {
        Client {
            dir: dir.to_path_buf(),
            data: dir.join("data"),
            keys: dir.join("keys"),
            sent: Vec::new(),
            outcomes: HashMap::new(),
            acked_since_restart: Vec::new(),
            in_doubt: Vec::new(),
            next_transfer: 0,
            rng: Rng(seed),
            processes: 0,
            stats: Stats::default(),
        }
    }

    fn push(&mut self, id: String, mut v: Value, transfer: Option<Move>) -> usize {
        v["id"] = json!(id);
        let line = serde_json::to_string(&v).expect("serialize command");
        self.sent.push(Sent { id, line, transfer });
        self.sent.len() - 1
    }

    fn setup_commands(&mut self) -> Vec<usize> {
        let cmd = |command: &str, fields: Value| {
            let mut v = json!({"chain": REGISTRY, "actor": "kill9", "command": command});
            if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
                o.extend(f);
            }
            v
        };
        let mut ix = vec![
            self.push(
                "k9-setup-open".into(),
                cmd("open_registry", json!({})),
                None,
            ),
            self.push(
                "k9-setup-holder".into(),
                cmd(
                    "register_holder",
                    json!({"holder": 1, "kind": "company", "name": "Load Test Holder"}),
                ),
                None,
            ),
        ];
        for a in 0..ACCOUNTS {
            let account = FIRST_ACCOUNT + a;
            ix.push(self.push(
                format!("k9-setup-account-{account}"),
                cmd(
                    "open_account",
                    json!({"account": account, "holder": 1, "kind": "entity-holding"}),
                ),
                None,
            ));
        }
        for a in 0..ACCOUNTS {
            let account = FIRST_ACCOUNT + a;
            ix.push(self.push(
                format!("k9-setup-issue-{account}"),
                cmd(
                    "issue",
                    json!({"account": account, "kind": "JCM", "project": "IN001",
                        "period": {"start": "2026-01-01", "end": "2026-12-31"},
                        "quantity": ISSUED_PER_ACCOUNT,
                        "business_key": format!("issuance:kill9:{account}")}),
                ),
                None,
            ));
        }
        ix
    }

    /// The next transfer of the load. Most move 1–5 units between two random accounts (some
    /// fail for want of units); every 29th is to the same account (2508) and every 41st asks
    /// for more than exists (3005), so durable rejections are part of the load.
    fn next_transfer(&mut self) -> usize {
        let n = self.next_transfer;
        self.next_transfer += 1;
        let from = FIRST_ACCOUNT + self.rng.between(0, ACCOUNTS - 1);
        let mut to = FIRST_ACCOUNT + self.rng.between(0, ACCOUNTS - 2);
        if to >= from {
            to += 1;
        }
        let mut quantity = self.rng.between(1, 5);
        if n % 29 == 28 {
            to = from;
        }
        if n % 41 == 40 {
            quantity = ISSUED_PER_ACCOUNT * ACCOUNTS + 1;
        }
        let v = json!({"chain": REGISTRY, "actor": "kill9", "command": "transfer",
            "from": from, "to": to, "quantity": quantity, "unit": {"kind": "JCM"}});
        self.push(
            format!("k9-transfer-{n}"),
            v,
            Some(Move { from, to, quantity }),
        )
    }

    fn spawn(&mut self) -> Writer {
        self.processes += 1;
        let stderr_path = self.dir.join(format!("apply-{}.stderr", self.processes));
        let stderr = File::create(&stderr_path).expect("create stderr file");
        let mut child = Command::new(TANSO)
            .args(["apply", "-", "--data"])
            .arg(&self.data)
            .arg("--keys")
            .arg(&self.keys)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn tanso apply");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        Writer {
            child,
            stdin,
            stdout,
            stderr_path,
        }
    }

    /// Sends `commands` to a running writer and reads their answers (no kill meanwhile).
    fn send_and_wait(&mut self, w: &mut Writer, commands: &[usize]) -> Vec<Answer> {
        let lines: Vec<String> = commands
            .iter()
            .map(|&i| self.sent[i].line.clone())
            .collect();
        let mut stdin = w.stdin.take().expect("writer stdin");
        let feeder = thread::spawn(move || -> std::io::Result<ChildStdin> {
            for line in &lines {
                stdin.write_all(line.as_bytes())?;
                stdin.write_all(b"\n")?;
            }
            stdin.flush()?;
            Ok(stdin)
        });
        let stdout = w.stdout.as_mut().expect("writer stdout");
        let mut answers = Vec::with_capacity(commands.len());
        let mut line = String::new();
        for &i in commands {
            line.clear();
            let n = stdout.read_line(&mut line).expect("read a result line");
            if n == 0 {
                panic!(
                    "tanso apply stopped before answering {}; stderr:\n{}",
                    self.sent[i].id,
                    w.stderr()
                );
            }
            let a = parse_answer(line.trim_end());
            assert_eq!(a.id, self.sent[i].id, "answers come in input order");
            answers.push(a);
        }
        let stdin = feeder
            .join()
            .expect("feeder thread")
            .expect("write commands to tanso apply");
        w.stdin = Some(stdin);
        answers
    }

    /// After a restart: every command acknowledged before the kill must replay identically,
    /// and every command in doubt is resolved (durable already, or applied now, once).
    fn recover(&mut self, w: &mut Writer) {
        let acked = std::mem::take(&mut self.acked_since_restart);
        let in_doubt = std::mem::take(&mut self.in_doubt);
        let answers = self.send_and_wait(w, &acked);
        for (&i, a) in acked.iter().zip(&answers) {
            self.check_replay(i, a, "acknowledged before the kill");
        }
        let answers = self.send_and_wait(w, &in_doubt);
        for (&i, a) in in_doubt.iter().zip(&answers) {
            if a.replayed {
                self.stats.in_doubt_durable += 1;
            } else {
                self.stats.in_doubt_applied_after += 1;
            }
            self.acknowledge(i, a.outcome.clone());
        }
    }

    fn check_replay(&mut self, i: usize, a: &Answer, what: &str) {
        let id = &self.sent[i].id;
        assert!(
            a.replayed,
            "{id} ({what}) was not found after the restart: answered {:?} as new",
            a.outcome
        );
        assert_eq!(
            Some(&a.outcome),
            self.outcomes.get(&i),
            "{id} ({what}) replayed with another outcome"
        );
        self.stats.replays_checked += 1;
    }

    fn acknowledge(&mut self, i: usize, outcome: Outcome) {
        if let Some(known) = self.outcomes.get(&i) {
            assert_eq!(
                known, &outcome,
                "{} acknowledged twice, differently",
                self.sent[i].id
            );
        }
        self.outcomes.insert(i, outcome);
        self.acked_since_restart.push(i);
    }

    /// Streams new transfers, at most `IN_FLIGHT_MAX` unacknowledged, logs every result line,
    /// and kills the writer `kill_after` into the load.
    fn load_and_kill(&mut self, mut w: Writer, kill_after: Duration) {
        let planned: Vec<usize> = (0..LOAD_PER_ROUND_MAX)
            .map(|_| self.next_transfer())
            .collect();
        let lines: Vec<String> = planned.iter().map(|&i| self.sent[i].line.clone()).collect();
        let acked = Arc::new(AtomicUsize::new(0));
        let attempted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let log: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));

        let mut stdin = w.stdin.take().expect("writer stdin");
        let writer = {
            let (acked, attempted, stop) = (acked.clone(), attempted.clone(), stop.clone());
            thread::spawn(move || {
                for line in &lines {
                    while attempted.load(Ordering::SeqCst) - acked.load(Ordering::SeqCst)
                        >= IN_FLIGHT_MAX
                    {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        thread::sleep(Duration::from_micros(200));
                    }
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    // Counted before the write: a command half-written at the kill is in
                    // doubt too (it cannot have been applied, but the client cannot know).
                    attempted.fetch_add(1, Ordering::SeqCst);
                    let mut buf = line.clone().into_bytes();
                    buf.push(b'\n');
                    if stdin.write_all(&buf).and_then(|()| stdin.flush()).is_err() {
                        return;
                    }
                }
                // Keep stdin open until the kill: end of input would let the writer finish
                // cleanly instead.
                while !stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(1));
                }
                drop(stdin);
            })
        };
        let mut stdout = w.stdout.take().expect("writer stdout");
        let reader = {
            let (acked, log) = (acked.clone(), log.clone());
            thread::spawn(move || {
                let mut line = String::new();
                loop {
                    line.clear();
                    match stdout.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        // The writer's output buffer can flush part of a line just before
                        // the kill: without its newline it is no acknowledgement, and the
                        // command stays in doubt.
                        Ok(_) if !line.ends_with('\n') => return,
                        Ok(_) => {
                            log.lock()
                                .expect("ack log")
                                .push(line.trim_end().to_string());
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        };

        thread::sleep(kill_after);
        if let Some(status) = w.child.try_wait().expect("poll tanso apply") {
            panic!(
                "tanso apply exited by itself ({status}) before the kill; stderr:\n{}",
                w.stderr()
            );
        }
        w.child.kill().expect("SIGKILL tanso apply");
        let status = w.child.wait().expect("reap tanso apply");
        assert!(!status.success(), "a killed writer does not exit cleanly");
        stop.store(true, Ordering::SeqCst);
        writer.join().expect("writer thread");
        // The reader drains whatever the writer printed before it died, up to end of file.
        reader.join().expect("reader thread");
        self.stats.kills += 1;

        let log = std::mem::take(&mut *log.lock().expect("ack log"));
        let attempted = attempted.load(Ordering::SeqCst);
        assert!(
            log.len() <= attempted,
            "more acknowledgements ({}) than commands sent ({attempted})",
            log.len()
        );
        for (k, line) in log.iter().enumerate() {
            let a = parse_answer(line);
            let i = planned[k];
            assert_eq!(
                a.id, self.sent[i].id,
                "acknowledgements come in input order"
            );
            assert!(!a.replayed, "{}: a fresh id answered as a replay", a.id);
            self.acknowledge(i, a.outcome);
        }
        self.stats.acked_in_load += log.len();
        self.in_doubt = planned[log.len()..attempted].to_vec();
        // Planned but never sent: forgotten, so the ids stay unused.
        let unsent = planned.len() - attempted;
        self.sent.truncate(self.sent.len() - unsent);
        self.next_transfer -= unsent as u64;
    }

    fn tanso(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(TANSO)
            .args(args)
            .arg("--data")
            .arg(&self.data)
            .arg("--keys")
            .arg(&self.keys)
            .output()
            .expect("run tanso");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

#[test]
fn kill9_during_load_loses_no_acknowledged_command_and_applies_none_twice() {
    let rounds = usize::try_from(env_u64("TANSO_KILL9_ROUNDS", ROUNDS_DEFAULT as u64))
        .expect("rounds fit usize");
    let seed = env_u64("TANSO_KILL9_SEED", SEED_DEFAULT);
    eprintln!("kill9: {rounds} rounds, TANSO_KILL9_SEED={seed}");
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut client = Client::new(tmp.path(), seed);

    // Setup, acknowledged before the first kill.
    let mut first = client.spawn();
    let setup = client.setup_commands();
    let answers = client.send_and_wait(&mut first, &setup);
    for (&i, a) in setup.iter().zip(&answers) {
        assert!(
            matches!(a.outcome, Outcome::Accepted { .. }) && !a.replayed,
            "setup {} accepted: {:?}",
            a.id,
            a.outcome
        );
        client.acknowledge(i, a.outcome.clone());
    }

    let mut kill_points = Vec::new();
    let mut first = Some(first);
    for _ in 0..rounds {
        let w = match first.take() {
            Some(w) => w,
            None => {
                let mut w = client.spawn();
                client.recover(&mut w);
                w
            }
        };
        let kill_after =
            Duration::from_millis(client.rng.between(KILL_AFTER_MS_MIN, KILL_AFTER_MS_MAX));
        let acked_before = client.stats.acked_in_load;
        client.load_and_kill(w, kill_after);
        kill_points.push((
            kill_after.as_millis(),
            client.stats.acked_in_load - acked_before,
            client.in_doubt.len(),
        ));
    }

    // The last restart: resolve what is in doubt, then every command ever sent must replay.
    let mut w = client.spawn();
    client.recover(&mut w);
    let everything: Vec<usize> = (0..client.sent.len()).collect();
    assert_eq!(
        client.outcomes.len(),
        everything.len(),
        "every command sent has a known outcome"
    );
    let answers = client.send_and_wait(&mut w, &everything);
    for (&i, a) in everything.iter().zip(&answers) {
        client.check_replay(i, a, "re-submitted at the end");
    }
    drop(w.stdin.take());
    let status = w.child.wait().expect("wait for tanso apply");
    assert!(
        status.success(),
        "tanso apply exits cleanly at end of input; stderr:\n{}",
        w.stderr()
    );

    let (ok, out, err) = client.tanso(&["checkpoint"]);
    assert!(ok, "tanso checkpoint succeeds: {out}{err}");
    let (ok, out, err) = client.tanso(&["verify"]);
    assert!(ok, "tanso verify succeeds: {out}{err}");
    assert!(
        out.contains("verify: ok IND01"),
        "verify reports IND01: {out}"
    );

    // One entry per accepted command: nothing applied twice, nothing acknowledged and lost.
    let accepted_seqs: Vec<u64> = client
        .outcomes
        .values()
        .filter_map(|o| match o {
            Outcome::Accepted { seq, .. } => Some(*seq),
            Outcome::Rejected { .. } => None,
        })
        .collect();
    let mut unique = accepted_seqs.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        accepted_seqs.len(),
        "no two commands share a seq"
    );
    let entries: u64 = out
        .split_whitespace()
        .find_map(|w| w.strip_prefix("entries="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("verify prints entries=N: {out}"));
    assert_eq!(
        entries,
        u64::try_from(accepted_seqs.len()).expect("count fits u64"),
        "the journal holds exactly one entry per accepted command"
    );
    assert_eq!(
        unique.last().copied(),
        Some(entries),
        "accepted seqs run from 1 to the head"
    );

    // Holdings: each account holds what the accepted transfers say; the total is conserved.
    let mut expected: HashMap<u64, u64> = (0..ACCOUNTS)
        .map(|a| (FIRST_ACCOUNT + a, ISSUED_PER_ACCOUNT))
        .collect();
    let mut order: Vec<(u64, Move)> = client
        .outcomes
        .iter()
        .filter_map(|(&i, o)| match (o, client.sent[i].transfer) {
            (Outcome::Accepted { seq, .. }, Some(m)) => Some((*seq, m)),
            _ => None,
        })
        .collect();
    order.sort_unstable_by_key(|(seq, _)| *seq);
    for (seq, m) in &order {
        let from = expected.get_mut(&m.from).expect("known account");
        *from = from.checked_sub(m.quantity).unwrap_or_else(|| {
            panic!(
                "accepted transfer at seq {seq} overdraws account {}",
                m.from
            )
        });
        *expected.get_mut(&m.to).expect("known account") += m.quantity;
    }
    let mut total = 0u64;
    for a in 0..ACCOUNTS {
        let account = FIRST_ACCOUNT + a;
        let (ok, out, err) = client.tanso(&[
            "holdings",
            "--json",
            "--registry",
            REGISTRY,
            "--account",
            &account.to_string(),
        ]);
        assert!(ok, "tanso holdings {account}: {err}");
        let v: Value = serde_json::from_str(&out).expect("holdings JSON");
        let held = v["total"].as_u64().expect("holdings total");
        assert_eq!(
            Some(&held),
            expected.get(&account),
            "account {account} holds what its accepted transfers say"
        );
        total += held;
    }
    assert_eq!(
        total,
        ISSUED_PER_ACCOUNT * ACCOUNTS,
        "units are conserved across every kill"
    );

    let rejected = client.outcomes.len() - accepted_seqs.len();
    assert!(rejected > 0, "the load includes durable rejections");
    let in_flight_kills = kill_points.iter().filter(|(_, _, d)| *d > 0).count();
    assert!(
        in_flight_kills > 0,
        "at least one kill landed with commands in flight: {kill_points:?}"
    );
    eprintln!(
        "kill9: {:?}; {} commands ({} accepted, {rejected} rejected), {entries} entries; \
         kills (ms, acked, in doubt): {kill_points:?}; {:.1} s",
        client.stats,
        client.sent.len(),
        accepted_seqs.len(),
        started.elapsed().as_secs_f64()
    );
}
