//! Shared helpers for the tests that drive the real `tanso` binary: a throw-away registry (data
//! and keys directories in one temp dir), running `tanso` against it, JSON command lines, and
//! byte-level snapshots of the store read straight from `journal.sqlite`.
//!
//! These helpers only run the binary and read the store; tamper tests edit the store themselves.

// Each test crate (rejections, tamper, idempotency) uses a different subset of these helpers,
// so an `expect` would be unfulfilled in some of them.
#![allow(dead_code)]

use rusqlite::types::ValueRef;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::{Command, Output};
use tempfile::TempDir;

/// The binary under test.
pub const TANSO: &str = env!("CARGO_BIN_EXE_tanso");

/// A registry in a temp dir: `data/` (the store) and `keys/` (signing key, trusted keys).
pub struct Sandbox {
    dir: TempDir,
    pub data: PathBuf,
    pub keys: PathBuf,
    files: std::cell::Cell<u32>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("create temp dir");
        let data = dir.path().join("data");
        let keys = dir.path().join("keys");
        Sandbox {
            dir,
            data,
            keys,
            files: std::cell::Cell::new(0),
        }
    }

    /// A new sandbox holding exactly the files of `image`.
    pub fn from_image(image: &Image) -> Sandbox {
        let s = Sandbox::new();
        for (rel, bytes) in &image.files {
            let path = s.dir.path().join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create dir");
            }
            std::fs::write(&path, bytes).expect("write image file");
        }
        s
    }

    /// Every file of the data and keys directories, in memory (no `tanso` may be running).
    pub fn image(&self) -> Image {
        let mut files = Vec::new();
        let mut dirs = vec![self.data.clone(), self.keys.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read dir") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(self.dir.path())
                    .expect("inside the sandbox")
                    .to_path_buf();
                files.push((rel, std::fs::read(&path).expect("read file")));
            }
        }
        Image { files }
    }

    /// A scratch path inside the sandbox (outside data and keys).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db_path(&self) -> PathBuf {
        self.data.join("journal.sqlite")
    }

    /// Runs `tanso --data DATA --keys KEYS ARGS…` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(TANSO)
            .arg("--data")
            .arg(&self.data)
            .arg("--keys")
            .arg(&self.keys)
            .args(args)
            .output()
            .expect("run tanso")
    }

    /// `tanso serve --listen 127.0.0.1:0` on this sandbox (plus `extra` global flags); returns
    /// the child and its base URL (`http://127.0.0.1:PORT/api/v1`).
    pub fn serve(&self, extra: &[&str]) -> (std::process::Child, String) {
        self.serve_flagged(extra, &[])
    }

    /// `tanso serve --listen 127.0.0.1:0` with `flags` of its own (as `--index-capacity N`).
    pub fn serve_with(&self, flags: &[&str]) -> (std::process::Child, String) {
        self.serve_flagged(&[], flags)
    }

    fn serve_flagged(&self, global: &[&str], flags: &[&str]) -> (std::process::Child, String) {
        let mut cmd = Command::new(TANSO);
        cmd.arg("--data")
            .arg(&self.data)
            .arg("--keys")
            .arg(&self.keys)
            .args(global)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(flags)
            .stderr(std::process::Stdio::piped());
        spawn_serve(cmd)
    }

    /// `tanso demo` into this sandbox; panics unless it succeeds.
    pub fn demo(&self) {
        let out = self.run(&["demo"]);
        assert!(
            out.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `tanso apply FILE` with the given lines; returns one JSON result per non-blank line, in
    /// order. Panics unless apply exits 0 and answers every line.
    pub fn apply(&self, lines: &[String]) -> Vec<Value> {
        let n = self.files.get();
        self.files.set(n + 1);
        let file = self.scratch(&format!("commands-{n}.jsonl"));
        std::fs::write(&file, lines.join("\n") + "\n").expect("write command file");
        let out = self.run(&["apply", file.to_str().expect("utf-8 temp path")]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "apply failed\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let results: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("result {l:?}: {e}")))
            .collect();
        let expected = lines.iter().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(results.len(), expected, "one result per line:\n{stdout}");
        results
    }

    pub fn apply_one(&self, line: &str) -> Value {
        self.apply(&[line.to_owned()]).remove(0)
    }

    /// Applies lines that must all be accepted; returns the results.
    pub fn apply_ok(&self, lines: &[String]) -> Vec<Value> {
        let results = self.apply(lines);
        for (line, r) in lines.iter().zip(&results) {
            assert_eq!(r["status"], "accepted", "{line}\n→ {r}");
        }
        results
    }

    /// `tanso verify`: (exit code, stdout).
    pub fn verify(&self) -> (i32, String) {
        let out = self.run(&["verify"]);
        (
            out.status.code().expect("verify exited"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Opens `journal.sqlite` directly (no `tanso` process may be running).
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db_path()).expect("open journal.sqlite")
    }

    /// SHA-256 over the store's segment files (name, length, bytes), in name order.
    fn segments_hash(&self) -> String {
        let dir = self.db_path().parent().expect("data dir").to_path_buf();
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("read data dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("journal.sqlite-seg"))
            })
            .collect();
        names.sort();
        let mut h = Sha256::new();
        for name in names {
            let bytes = std::fs::read(&name).expect("read segment");
            h.update(name.file_name().expect("name").as_encoded_bytes());
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(&bytes);
        }
        hex::encode(h.finalize())
    }

    /// What the store holds, byte for byte, plus what `tanso verify` says of it (which must
    /// be ok).
    pub fn snapshot(&self) -> Snapshot {
        let (code, verify) = self.verify();
        assert_eq!(code, 0, "store does not verify:\n{verify}");
        let db = self.db();
        let journal = Journal {
            verify,
            runs: table_hash(
                &db,
                "SELECT chain, first_seq, last_seq, body, seg, seg_offset, seg_len FROM runs
                 ORDER BY chain, first_seq",
            ),
            segments: self.segments_hash(),
            heads: table_hash(&db, "SELECT chain, seq, hash FROM heads ORDER BY chain"),
            checkpoints: table_hash(
                &db,
                "SELECT chain, seq, body FROM checkpoints ORDER BY chain, seq",
            ),
            personal: table_hash(
                &db,
                "SELECT reference, salt, text FROM personal ORDER BY reference",
            ),
        };
        let rejections = db
            .query_row("SELECT count(*) FROM rejections", [], |r| r.get(0))
            .expect("count rejections");
        Snapshot {
            journal,
            rejections,
        }
    }
}

/// A sandbox's files, copied into memory: built once per test binary, written out per test,
/// so that tests share an expensive setup without sharing a store (or leaking a temp dir).
pub struct Image {
    files: Vec<(PathBuf, Vec<u8>)>,
}

/// The parts of the store a rejected command must leave exactly as they were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Journal {
    /// `tanso verify` output: every chain's entries, head hash, state hash, checkpoint.
    pub verify: String,
    /// SHA-256 over the rows of each table.
    pub runs: String,
    /// SHA-256 over the segment files (bodies of large runs).
    pub segments: String,
    pub heads: String,
    pub checkpoints: String,
    pub personal: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub journal: Journal,
    /// Stored (bound) rejections.
    pub rejections: u64,
}

/// SHA-256 over every column of every row the query returns, each length-prefixed and typed.
pub fn table_hash(db: &rusqlite::Connection, sql: &str) -> String {
    let mut stmt = db.prepare(sql).expect("prepare snapshot query");
    let columns = stmt.column_count();
    let mut rows = stmt.query([]).expect("run snapshot query");
    let mut h = Sha256::new();
    while let Some(row) = rows.next().expect("read row") {
        for i in 0..columns {
            let (tag, bytes): (u8, Vec<u8>) = match row.get_ref(i).expect("column") {
                ValueRef::Null => (0, Vec::new()),
                ValueRef::Integer(n) => (1, n.to_be_bytes().to_vec()),
                ValueRef::Real(f) => (2, f.to_be_bytes().to_vec()),
                ValueRef::Text(t) => (3, t.to_vec()),
                ValueRef::Blob(b) => (4, b.to_vec()),
            };
            h.update([tag]);
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(&bytes);
        }
    }
    hex::encode(h.finalize())
}

/// One JSON command line: the envelope plus the command's fields.
pub fn line(id: &str, chain: &str, command: &str, fields: Value) -> String {
    let mut v = json!({"id": id, "chain": chain, "actor": "tester", "command": command});
    if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
        o.extend(f);
    }
    v.to_string()
}

/// The codes of a result line (empty when accepted).
pub fn codes(result: &Value) -> Vec<u16> {
    result["codes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    c.as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .unwrap_or_else(|| panic!("code {c} is not a u16"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every code of `tanso checks --json`.
pub fn catalogue_codes() -> Vec<u16> {
    let out = Command::new(TANSO)
        .args(["checks", "--json"])
        .output()
        .expect("run tanso checks");
    assert!(out.status.success(), "tanso checks --json failed");
    let v: Value = serde_json::from_slice(&out.stdout).expect("checks --json is JSON");
    v.as_array()
        .expect("checks --json is an array")
        .iter()
        .map(|d| {
            d["code"]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .expect("catalogue code is a u16")
        })
        .collect()
}

/// Starts a `tanso serve` command with stdout piped, and reads its listening line; returns the
/// child and the base URL (`http://127.0.0.1:PORT/api/v1`). Its logs (stderr) go where `cmd`
/// says: a piped stderr must be read, or a busy server blocks once the pipe is full.
pub fn spawn_serve(mut cmd: Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start tanso serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the listening line");
    let base = line.trim().rsplit(' ').next().expect("address").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    (child, base)
}

/// Runs a command with `stdin` written to its standard input; waits for its output.
pub fn run_with_input(mut cmd: Command, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tanso");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("tanso output")
}
