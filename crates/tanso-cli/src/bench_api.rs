//! `tanso bench api`: the HTTP API over loopback, measured from plain HTTP/1.1 keep-alive
//! clients in other threads (real sockets, the served router, durable commits): single
//! transfers from 16 connections, and batches of 8,000 transfers; then the PostgreSQL anchor
//! (`../shared/bench/pg-anchor/run single 16 …`) in the same run, and the ratios. A program
//! that prints figures; it never passes or fails on time.

use crate::api::{app, bootstrap, Api, Config};
use crate::bench::{field_f64, loadavg, parse_fields, pg_path, run_line, Rng};
use crate::Cli;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct ApiArgs {
    /// Seconds per workload (and per anchor run).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections of the single workload.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Transfers per batch request.
    #[arg(long, default_value_t = 8000)]
    batch: usize,
    /// Connections posting batches at once (with 4, one batch is being read while another is
    /// decided and a third committed).
    #[arg(long, default_value_t = 4)]
    batch_connections: usize,
    /// Accounts the transfers move between.
    #[arg(long, default_value_t = 1000)]
    accounts: u64,
    /// Ask for every accepted transfer's events in the batch results (`?events=true`, the
    /// API's default) instead of the compact results (`?events=false`: id, status, seq, hash).
    #[arg(long)]
    batch_events: bool,
    /// The shared directory holding bench/pg-anchor.
    #[arg(long, default_value = "../shared")]
    shared: PathBuf,
    /// Skip the PostgreSQL anchor.
    #[arg(long)]
    no_anchors: bool,
}

/// A minimal HTTP/1.1 keep-alive client: one request at a time on one connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    token: String,
}

impl Client {
    fn connect(addr: SocketAddr, token: &str) -> Result<Client> {
        let s = TcpStream::connect(addr).context("connect")?;
        s.set_nodelay(true)?;
        Ok(Client {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
            token: token.to_owned(),
        })
    }

    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        // Head and body in one write: one segment for a small request, not two (with
        // `TCP_NODELAY`, the server would otherwise wake for the head alone).
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.token,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.writer.write_all(&request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().context("content-length")?;
                }
            }
        }
        let mut buf = vec![0u8; length];
        self.reader.read_exact(&mut buf)?;
        Ok((status, buf))
    }

    fn json(&mut self, method: &str, path: &str, body: &Value) -> Result<(u16, Value)> {
        let (s, b) = self.request(method, path, &serde_json::to_vec(body)?)?;
        Ok((s, serde_json::from_slice(&b).unwrap_or(Value::Null)))
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A batch request's body: a JSON array of `size` transfers, the same commands as
/// `transfer_json` writes one at a time, written straight to bytes (the benchmark's clients share
/// the two cores with the server, so they should cost it as little as they can).
fn batch_body(out: &mut Vec<u8>, prefix: &str, size: usize, rng: &mut Rng, accounts: u64) {
    out.clear();
    out.push(b'[');
    for i in 0..size {
        if i > 0 {
            out.push(b',');
        }
        transfer_json(out, prefix, i as u64, rng, accounts);
    }
    out.push(b']');
}

/// Appends one transfer with id `{prefix}-{n}`, between two random accounts of `accounts`,
/// as JSON (a test checks it against `serde_json`'s rendering of the same command).
fn transfer_json(out: &mut Vec<u8>, prefix: &str, n: u64, rng: &mut Rng, accounts: u64) {
    let (from, to) = rng.pair(accounts);
    let quantity = 1 + rng.below(10);
    out.extend_from_slice(b"{\"id\":\"");
    out.extend_from_slice(prefix.as_bytes());
    out.push(b'-');
    decimal(out, n);
    out.extend_from_slice(b"\",\"chain\":\"IND01\",\"command\":\"transfer\",\"from\":");
    decimal(out, from);
    out.extend_from_slice(b",\"to\":");
    decimal(out, to);
    out.extend_from_slice(b",\"quantity\":");
    decimal(out, quantity);
    out.extend_from_slice(b",\"unit\":{\"kind\":\"BENCH\"}}");
}

/// Appends `n` in decimal.
fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A batch response's results: (accepted, other), checking there are `size` of them. Each result
/// is an object with one top-level `"status"` (any `"status"` inside a message is escaped), so
/// when the response holds `size` statuses and all of them are `"accepted"`, it is counted by
/// those bytes alone; otherwise it is read in full. The clients share the two cores with the
/// server, and reading a whole response cost them more than building the next request.
fn count_results(resp: &[u8], size: usize) -> Result<(u64, u64)> {
    let statuses = memchr::memmem::find_iter(resp, b"\"status\":").count();
    let accepted = memchr::memmem::find_iter(resp, b"\"status\":\"accepted\"").count();
    if statuses == size && accepted == size {
        return Ok((size as u64, 0));
    }
    let v: BatchResults = serde_json::from_slice(resp)?;
    anyhow::ensure!(
        v.results.len() == size,
        "batch of {size} answered {} results",
        v.results.len()
    );
    let ok = v.results.iter().filter(|r| r.status == "accepted").count() as u64;
    Ok((ok, size as u64 - ok))
}

/// What the batch workload reads of a batch's results: each one's status.
#[derive(serde::Deserialize)]
struct BatchResults<'a> {
    #[serde(borrow)]
    results: Vec<ResultStatus<'a>>,
}

#[derive(serde::Deserialize)]
struct ResultStatus<'a> {
    /// Borrowed from the response where it can be (a status has no escapes).
    #[serde(borrow)]
    status: std::borrow::Cow<'a, str>,
}

pub fn run(_cli: &Cli, a: &ApiArgs) -> Result<i32> {
    if a.accounts < 2 {
        bail!("--accounts must be at least 2");
    }
    let dir = tempfile::Builder::new()
        .prefix("tanso-bench-api-")
        .tempdir()
        .context("make a temporary directory")?;
    let data = dir.path().join("data");
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&data)?;
    let admin = bootstrap(&data, "bench-admin")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let api = Arc::new(Api::open(Config::new(&data, &keys))?);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let server = app(Arc::clone(&api));
    rt.spawn(async move {
        let _ = axum::serve(listener, server).await;
    });
    // Set up through the API: policies, a representative, the registry, accounts, units.
    let mut c = Client::connect(addr, &admin)?;
    let (s, v) = c.json(
        "PUT",
        "/api/v1/access_policies",
        &json!({"rate_limit_per_second": 0, "outside_trusted_list": "allow", "approve_issuance": false}),
    )?;
    anyhow::ensure!(s == 200, "policies: {s} {v}");
    let (s, v) = c.json(
        "POST",
        "/api/v1/users",
        &json!({"id": "bench-rep", "grants": [{"role": "account_representative", "scope": "*"}]}),
    )?;
    anyhow::ensure!(s == 201, "user: {s} {v}");
    let (_, v) = c.json("POST", "/api/v1/users/bench-rep/tokens", &json!({}))?;
    let rep = v["token"].as_str().context("token")?.to_owned();
    let mut setup = vec![
        json!({"id": "g1", "chain": "IND01", "command": "open_registry", "straddle_policy": "pro_rata_days_remainder_last"}),
        json!({"id": "g2", "chain": "IND01", "command": "register_holder", "holder": 1, "kind": "company", "name": "Bench holder"}),
        json!({"id": "g3", "chain": "IND01", "command": "define_unit_kind", "code": "BENCH", "has_project": false, "vintage_rule": "calendar_year"}),
    ];
    for acc in 1..=a.accounts {
        setup.push(json!({"id": format!("a{acc}"), "chain": "IND01", "command": "open_account", "account": acc, "holder": 1, "kind": "entity-holding"}));
        setup.push(json!({"id": format!("i{acc}"), "chain": "IND01", "command": "issue", "account": acc, "kind": "BENCH",
                          "period": {"start": "2026-01-01", "end": "2026-12-31"}, "quantity": 1_000_000u64}));
    }
    // Posted in batches of at most 8,000 (the server takes 10,000 at most).
    for chunk in setup.chunks(8_000) {
        let (s, v) = c.json("POST", "/api/v1/commands/batch", &json!(chunk))?;
        let rejected = v["results"].as_array().map_or(0, |r| {
            r.iter().filter(|x| x["status"] != "accepted").count()
        });
        anyhow::ensure!(
            s == 200 && rejected == 0,
            "setup: {s}, {rejected} rejected: {}",
            v["results"]
                .as_array()
                .and_then(|r| r.iter().find(|x| x["status"] != "accepted"))
                .cloned()
                .unwrap_or_default()
        );
    }
    println!(
        "tanso-bench-api setup accounts={} units_per_account=1000000 address={addr}",
        a.accounts
    );
    let seconds = Duration::from_secs(a.seconds);

    // Single transfers from N connections.
    let started = Instant::now();
    let handles: Vec<_> = (0..a.connections)
        .map(|k| {
            let rep = rep.clone();
            let accounts = a.accounts;
            std::thread::spawn(move || -> Result<(u64, u64, Vec<u64>)> {
                let mut c = Client::connect(addr, &rep)?;
                let mut rng = Rng::new(1, k as u64);
                let (mut ok, mut other, mut lat) = (0u64, 0u64, Vec::new());
                let mut n = 0u64;
                let (prefix, mut body) = (format!("s{k}"), Vec::new());
                while started.elapsed() < seconds {
                    n += 1;
                    body.clear();
                    transfer_json(&mut body, &prefix, n, &mut rng, accounts);
                    let t = Instant::now();
                    let (s, _) = c.request("POST", "/api/v1/commands", &body)?;
                    lat.push(t.elapsed().as_micros() as u64);
                    if s == 200 {
                        ok += 1;
                    } else {
                        other += 1;
                    }
                }
                Ok((ok, other, lat))
            })
        })
        .collect();
    let (mut ok, mut other, mut lat) = (0u64, 0u64, Vec::new());
    for h in handles {
        let (o, x, l) = h.join().map_err(|_| anyhow::anyhow!("client panicked"))??;
        ok += o;
        other += x;
        lat.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let single_rate = ok as f64 / elapsed;
    println!(
        "tanso-bench-api workload=single{} transfers_per_s={single_rate:.0} accepted={ok} other={other} p50_us={} p99_us={} seconds={elapsed:.1}",
        a.connections,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );

    // Batches of `batch` transfers from `batch_connections` connections (while one waits for
    // its answer, the others build and send theirs).
    let started = Instant::now();
    let handles: Vec<_> = (0..a.batch_connections.max(1))
        .map(|k| {
            let rep = rep.clone();
            let (accounts, size) = (a.accounts, a.batch);
            let path = format!("/api/v1/commands/batch?events={}", a.batch_events);
            std::thread::spawn(move || -> Result<(u64, u64, Vec<u64>)> {
                let mut c = Client::connect(addr, &rep)?;
                let mut rng = Rng::new(2, k as u64);
                let (mut ok, mut other, mut lat) = (0u64, 0u64, Vec::new());
                let mut b = 0u64;
                let mut body = Vec::new();
                while started.elapsed() < seconds {
                    b += 1;
                    batch_body(&mut body, &format!("b{k}-{b}"), size, &mut rng, accounts);
                    let t = Instant::now();
                    let (s, resp) = c.request("POST", &path, &body)?;
                    lat.push(t.elapsed().as_micros() as u64);
                    anyhow::ensure!(s == 200, "batch answered {s}");
                    let (o, x) = count_results(&resp, size)?;
                    ok += o;
                    other += x;
                }
                Ok((ok, other, lat))
            })
        })
        .collect();
    let (mut bok, mut bother, mut blat) = (0u64, 0u64, Vec::new());
    for h in handles {
        let (o, x, l) = h.join().map_err(|_| anyhow::anyhow!("client panicked"))??;
        bok += o;
        bother += x;
        blat.extend(l);
    }
    let belapsed = started.elapsed().as_secs_f64();
    blat.sort_unstable();
    let batch_rate = bok as f64 / belapsed;
    println!(
        "tanso-bench-api workload=batch{} connections={} transfers_per_s={batch_rate:.0} accepted={bok} other={bother} batches={} batch_p50_us={} batch_p99_us={} seconds={belapsed:.1} results={}",
        a.batch,
        a.batch_connections.max(1),
        blat.len(),
        percentile(&blat, 0.5),
        percentile(&blat, 0.99),
        if a.batch_events { "with_events" } else { "compact" }
    );
    drop(c);
    rt.shutdown_timeout(Duration::from_secs(5));
    if let Ok(api) = Arc::try_unwrap(api) {
        let _ = api.shutdown();
    }

    if !a.no_anchors {
        let run = a.shared.join("bench/pg-anchor/run");
        let secs = a.seconds.to_string();
        let mut cmd = std::process::Command::new(&run);
        cmd.args(["single", "16", secs.as_str(), "100000"]);
        if let Some(p) = pg_path() {
            cmd.env("PATH", p);
        }
        match run_line(&mut cmd, "pg-anchor ") {
            Ok(line) => {
                println!("{line} run=\"single 16 {secs} 100000\"");
                if let Some(x) = field_f64(&parse_fields(&line), "transfers_per_s") {
                    println!(
                        "tanso-bench-api ratio single{}_vs_pg_single16={:.2} (target >= 2) batch{}_transfers_per_s={batch_rate:.0} (target >= 500000)",
                        a.connections,
                        single_rate / x,
                        a.batch
                    );
                }
            }
            Err(e) => println!("anchor pg-anchor single 16 failed: {e:#}"),
        }
    }
    println!(
        "tanso-bench-env nproc={} loadavg=\"{}\"",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_results_by_their_bytes_agrees_with_reading_them() {
        let accepted = r#"{"chain":"IND01","id":"a","status":"accepted","time":"t"}"#;
        let rejected = r#"{"codes":[3001],"errors":[{"code":3001,"message":"no \"status\":\"accepted\" here"}],"id":"b","status":"rejected"}"#;
        let body = |items: &[&str]| format!(r#"{{"results":[{}]}}"#, items.join(","));
        assert_eq!(
            count_results(body(&[accepted, accepted]).as_bytes(), 2).unwrap(),
            (2, 0)
        );
        assert_eq!(
            count_results(body(&[accepted, rejected, accepted]).as_bytes(), 3).unwrap(),
            (2, 1)
        );
        assert_eq!(
            count_results(body(&[rejected]).as_bytes(), 1).unwrap(),
            (0, 1)
        );
        // Too few or too many results for the batch are an error, whatever their status.
        assert!(count_results(body(&[accepted]).as_bytes(), 2).is_err());
        assert!(count_results(body(&[accepted, accepted]).as_bytes(), 1).is_err());
        assert!(count_results(b"not json", 1).is_err());
    }

    #[test]
    fn decimal_writes_what_display_writes() {
        for n in [0, 1, 9, 10, 1003, 99_999, u64::MAX] {
            let mut out = b"x".to_vec();
            decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    fn transfer(id: String, rng: &mut Rng, accounts: u64) -> Value {
        let (from, to) = rng.pair(accounts);
        json!({"id": id, "chain": "IND01", "command": "transfer", "from": from, "to": to,
               "quantity": 1 + rng.below(10), "unit": {"kind": "BENCH"}})
    }

    #[test]
    fn batch_body_is_the_json_of_the_same_transfers() {
        let (mut a, mut b) = (Rng::new(2, 1), Rng::new(2, 1));
        let mut body = Vec::new();
        batch_body(&mut body, "b1-7", 64, &mut a, 1000);
        let built: Value = serde_json::from_slice(&body).unwrap();
        let want: Vec<Value> = (0..64)
            .map(|i| transfer(format!("b1-7-{i}"), &mut b, 1000))
            .collect();
        assert_eq!(built, Value::Array(want));
        let mut one = Vec::new();
        transfer_json(&mut one, "s3", 12, &mut a, 1000);
        let one: Value = serde_json::from_slice(&one).unwrap();
        assert_eq!(one, transfer("s3-12".into(), &mut b, 1000));
    }
}
