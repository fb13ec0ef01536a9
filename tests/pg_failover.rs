//! Two `tanso serve --db` instances on one PostgreSQL schema, as processes: the writer is
//! killed with SIGKILL under load and the other takes over; no acknowledged command is lost
//! (each answers as a replay at the new writer); a stalled writer (SIGSTOP) loses leadership
//! after its lease, and resumed (SIGCONT) it cannot append; `tanso verify --db` passes.

mod common;

use common::{run_with_input, spawn_serve, TANSO};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tanso_store_postgres::testing::{service_url, TempSchema};

const ACCOUNTS: u64 = 8;

/// One HTTP/1.1 request over loopback; (status, JSON body). Connection errors are status 0.
fn http(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let addr = base.trim_start_matches("http://");
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return (0, Value::Null);
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let body = body.to_string();
    let key = key
        .map(|k| format!("Idempotency-Key: {k}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} /api/v1{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         {key}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(req.as_bytes()).is_err() {
        return (0, Value::Null);
    }
    let mut out = String::new();
    if stream.read_to_string(&mut out).is_err() {
        return (0, Value::Null);
    }
    let Some((head, body)) = out.split_once("\r\n\r\n") else {
        return (0, Value::Null);
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // The body may be chunked; the JSON is the part between the first '{' and the last '}'.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if b >= a => serde_json::from_str(&body[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, json)
}

struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    /// A failing test leaves no server behind (SIGKILL also ends a stopped process).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, keys: &Path, schema: &str) -> Instance {
    let mut cmd = Command::new(TANSO);
    cmd.arg("--data")
        .arg(data)
        .arg("--keys")
        .arg(keys)
        .args([
            "--db",
            &service_url(),
            "--db-schema",
            schema,
            "--db-lease-ms",
            "1000",
        ])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::null());
    let (child, base) = spawn_serve(cmd);
    Instance {
        child,
        base: base.trim_end_matches("/api/v1").to_owned(),
    }
}

fn transfer(n: u64) -> Value {
    let from = 1 + n % ACCOUNTS;
    let to = 1 + (n + 1) % ACCOUNTS;
    json!({"chain": "IND01", "command": "transfer", "from": from, "to": to, "quantity": 1, "unit": {"kind": "BENCH"}})
}

fn post_transfer(base: &str, token: &str, id: &str, n: u64) -> (u16, Value) {
    http(base, "POST", "/commands", token, Some(id), &transfer(n))
}

/// Posts transfers with fresh ids until one is accepted (the instance is the writer), or the
/// deadline passes; returns the accepted id.
fn until_writer(base: &str, token: &str, tag: &str, deadline: Duration) -> Option<String> {
    let start = Instant::now();
    let mut k = 0;
    while start.elapsed() < deadline {
        k += 1;
        let id = format!("{tag}-{k}");
        let (status, v) = post_transfer(base, token, &id, k);
        if status == 200 && v["status"] == "accepted" {
            return Some(id);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig}");
}

#[test]
fn writer_killed_under_load_is_replaced_and_a_stalled_writer_is_fenced() {
    let schema = TempSchema::new("tfail");
    let dir = tempfile::tempdir().expect("temp dir");
    let (data, keys) = (dir.path().join("data"), dir.path().join("keys"));
    std::fs::create_dir_all(&data).expect("data dir");
    let db = ["--db", &service_url(), "--db-schema", &schema.name];
    let tanso = |args: &[&str], stdin: &str| {
        let mut cmd = Command::new(TANSO);
        cmd.arg("--data")
            .arg(&data)
            .arg("--keys")
            .arg(&keys)
            .args(db)
            .args(args);
        run_with_input(cmd, stdin)
    };
    // A registry with accounts holding units, applied through the CLI on PostgreSQL.
    let mut setup = vec![
        json!({"id": "g1", "chain": "IND01", "command": "open_registry", "straddle_policy": "pro_rata_days_remainder_last"}),
        json!({"id": "g2", "chain": "IND01", "command": "register_holder", "holder": 1, "kind": "company", "name": "Holder"}),
        json!({"id": "g3", "chain": "IND01", "command": "define_unit_kind", "code": "BENCH", "has_project": false, "vintage_rule": "calendar_year"}),
    ];
    for acc in 1..=ACCOUNTS {
        setup.push(json!({"id": format!("a{acc}"), "chain": "IND01", "command": "open_account", "account": acc, "holder": 1, "kind": "entity-holding"}));
        setup.push(json!({"id": format!("i{acc}"), "chain": "IND01", "command": "issue", "account": acc, "kind": "BENCH",
                          "period": {"start": "2026-01-01", "end": "2026-12-31"}, "quantity": 1_000_000u64}));
    }
    let lines: String = setup.iter().map(|v| format!("{v}\n")).collect();
    let out = tanso(&["apply"], &lines);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("\"accepted\"")
            .count(),
        setup.len(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = tanso(&["admin", "bootstrap", "--user", "root-admin"], "");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("token")
        .trim()
        .to_owned();

    // A is the writer; transfers need no approval here.
    let mut a = serve(&data, &keys, &schema.name);
    let (status, v) = http(
        &a.base,
        "PUT",
        "/access_policies",
        &token,
        None,
        &json!({"rate_limit_per_second": 0, "outside_trusted_list": "allow"}),
    );
    assert_eq!(status, 200, "{v}");
    let (status, v) = http(
        &a.base,
        "POST",
        "/users",
        &token,
        None,
        &json!({"id": "rep", "grants": [{"role": "account_representative", "scope": "*"}]}),
    );
    assert_eq!(status, 201, "{v}");
    let (status, v) = http(
        &a.base,
        "POST",
        "/users/rep/tokens",
        &token,
        None,
        &json!({}),
    );
    assert_eq!(status, 201, "{v}");
    let admin = token;
    let token = v["token"].as_str().expect("token").to_owned();
    assert!(until_writer(&a.base, &token, "warm-a", Duration::from_secs(20)).is_some());
    // B starts while A holds the lock: it serves reads and follows A.
    let mut b = serve(&data, &keys, &schema.name);
    let (status, v) = post_transfer(&b.base, &token, "to-reader", 1);
    assert_ne!(
        v["status"], "accepted",
        "a reader accepted a command: {status} {v}"
    );
    let (status, v) = http(&b.base, "GET", "/chains", &admin, None, &Value::Null);
    assert_eq!(status, 200, "the reader serves reads: {v}");
    let writer =
        |base: &str| http(base, "GET", "/health", &admin, None, &Value::Null).1["writer"].clone();
    assert_eq!(writer(&a.base), true, "A's health says writer");
    assert_eq!(writer(&b.base), false, "B's health says reader");

    // Load on A from two clients; SIGKILL A mid-load.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, u64)>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..2u64)
        .map(|c| {
            let (base, token) = (a.base.clone(), token.clone());
            let (acks, stop) = (acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    n += 1;
                    let id = format!("load-{c}-{n}");
                    let (status, v) = post_transfer(&base, &token, &id, n + c);
                    if status == 200 && v["status"] == "accepted" {
                        acks.lock()
                            .expect("acks")
                            .push((id, v["seq"].as_u64().expect("seq")));
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1_500));
    signal(&a.child, "-KILL");
    let _ = a.child.wait();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in clients {
        c.join().expect("client");
    }
    let acked = acknowledged.lock().expect("acks").clone();
    assert!(
        acked.len() >= 10,
        "load was acknowledged before the kill: {}",
        acked.len()
    );
    eprintln!(
        "pg_failover: {} commands acknowledged by A before SIGKILL",
        acked.len()
    );

    // B takes over, having replayed A's journal: every acknowledged command is there, once.
    assert!(
        until_writer(&b.base, &token, "after-kill", Duration::from_secs(20)).is_some(),
        "B became the writer after A was killed"
    );
    assert_eq!(writer(&b.base), true, "B's health says writer");
    for (id, seq) in &acked {
        let (k, _) = id.rsplit_once('-').expect("id");
        let n: u64 = id.rsplit('-').next().expect("n").parse().expect("n");
        let c: u64 = k.rsplit('-').next().expect("c").parse().expect("c");
        let (status, v) = post_transfer(&b.base, &token, id, n + c);
        assert_eq!(status, 200, "{id}: {v}");
        assert_eq!(
            v["replayed"], true,
            "{id} was acknowledged by A but is not in B's journal: {v}"
        );
        assert_eq!(v["seq"].as_u64(), Some(*seq), "{id} moved");
    }

    // C follows B. B stalls (SIGSTOP): after its lease, C takes over.
    let mut c = serve(&data, &keys, &schema.name);
    signal(&b.child, "-STOP");
    let took_over = until_writer(&c.base, &token, "after-stop", Duration::from_secs(20));
    assert!(
        took_over.is_some(),
        "C became the writer while B was stopped"
    );
    // B resumes: it cannot append; whatever it answers, the command is not accepted.
    signal(&b.child, "-CONT");
    for k in 0..5 {
        let (status, v) = post_transfer(&b.base, &token, &format!("resumed-{k}"), k);
        assert_ne!(
            v["status"], "accepted",
            "the resumed old writer appended: {status} {v}"
        );
        eprintln!("pg_failover: resumed B answers {status} {}", v["codes"]);
    }
    // And C still writes.
    assert!(until_writer(&c.base, &token, "after-cont", Duration::from_secs(10)).is_some());
    // The serving writer keeps the projection tables up to the journal (a pass every 5 s).
    let mut pg =
        postgres::Client::connect(&tanso_store_postgres::testing::owner_url(), postgres::NoTls)
            .expect("connect");
    let s = &schema.name;
    let start = Instant::now();
    loop {
        let row = pg
            .query_one(
                &format!(
                    "SELECT (SELECT max(last_seq) FROM {s}.runs WHERE chain = 'IND01'),
                            (SELECT seq FROM {s}.proj_progress WHERE chain = 'IND01'),
                            (SELECT count(DISTINCT seq) FROM {s}.proj_actions WHERE chain = 'IND01')"
                ),
                &[],
            )
            .expect("progress");
        let (head, done, entries): (i64, Option<i64>, i64) = (row.get(0), row.get(1), row.get(2));
        if done == Some(head) {
            assert_eq!(
                entries, head,
                "one or more action rows per entry, every entry once"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "projection reached {done:?} of {head}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    for inst in [&mut b, &mut c] {
        signal(&inst.child, "-TERM");
        let _ = inst.child.wait();
    }
    let out = tanso(&["verify"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify --db: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("verify: ok IND01"), "{text}");
    // No entry was written under B's epoch after C's took over: the epochs of the runs only go up.
    let rows = pg
        .query(
            &format!(
                "SELECT epoch FROM {}.runs WHERE chain = 'IND01' ORDER BY first_seq",
                schema.name
            ),
            &[],
        )
        .expect("runs");
    let epochs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert!(
        epochs.windows(2).all(|w| w[0] <= w[1]),
        "epochs go back: {epochs:?}"
    );
}
