//! `tanso serve`: the HTTP front door. REST JSON under `/api/v1`, the same command objects as
//! `tanso apply`, one error envelope carrying the catalogue's codes, bearer tokens, roles and
//! scopes, maker-checker, trusted-account lists and limits, public data with inclusion proofs,
//! and an OpenAPI 3.1 document generated from the same route table that dispatches requests.
//!
//! The shape: one axum fallback handler matches the route table itself (so every 404 and 405
//! also answers in the envelope), authenticates, rate-limits, gates by role, reads the body
//! under its size limit, then runs the route's plain synchronous handler on the blocking pool
//! — except single commands, the hot path, which are checked on the runtime and awaited from
//! the writer without a blocking thread (`routes::create_command_async`).
//! Handlers talk to the engine's writer thread (commands, group commit) or read through it;
//! they never see a request before its token is checked, and nothing here logs a secret.

pub mod access;
pub mod openapi;
pub mod perms;
pub mod routes;

use crate::store::AnyStore;
use crate::{open_node_with, signing_key, trusted_keys_path};
use access::{Access, Role, User};
use anyhow::{Context, Result};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tanso_core::{Code, Rejection, Timestamp};
use tanso_engine::keys::TrustedKeys;
use tanso_engine::{system_clock, Engine, Node, NodeConfig, NodeError};
use tanso_store::StoreError;
use tanso_store_sqlite::history::HistoryIndex;
use tanso_wire::out::rejection_json;

/// How the server is set up.
#[derive(Clone, Debug)]
pub struct Config {
    pub data: PathBuf,
    /// Where the journal lives (`--data` or `--db`).
    pub location: crate::Location,
    pub keys: PathBuf,
    /// Largest request body, bytes (413 above).
    pub body_limit_bytes: usize,
    /// Most commands in one batch request.
    pub batch_commands_max: usize,
    /// Most commands per durable commit of the writer.
    pub commit_batch_max: usize,
    /// Accepted commands the node's index is made for when it opens (`NodeConfig`).
    pub index_capacity: usize,
}

impl Config {
    pub fn new(data: &Path, keys: &Path) -> Self {
        Config {
            data: data.to_path_buf(),
            location: crate::Location::dir(data),
            keys: keys.to_path_buf(),
            body_limit_bytes: 8 << 20,
            batch_commands_max: 10_000,
            commit_batch_max: 8000,
            index_capacity: 0,
        }
    }
}

/// A token bucket per client.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The server's state, shared by every request.
pub struct Api {
    pub engine: Engine<AnyStore>,
    pub access: Mutex<Access>,
    pub config: Config,
    pub key: SigningKey,
    pub trusted: TrustedKeys,
    history: Mutex<HistoryIndex>,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Entry hashes per chain (the Merkle leaves), extended as proofs ask.
    leaves: Mutex<HashMap<String, Vec<[u8; 32]>>>,
}

/// Locks a mutex, taking the data even if a panicking thread poisoned it (the data are
/// plain values, each change written whole).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Api {
    /// Opens the data directory: replays the journal, loads the access file, the signing key
    /// and the trusted keys, and starts the writer thread.
    pub fn open(config: Config) -> Result<Api> {
        let node = open_node_with(
            &config.location,
            NodeConfig {
                index_capacity: config.index_capacity,
                ..NodeConfig::default()
            },
        )?;
        Self::with_node(node, config)
    }

    pub fn with_node(node: Node<AnyStore>, config: Config) -> Result<Api> {
        let key = signing_key(&config.keys)?;
        let trusted_path = trusted_keys_path(&config.keys);
        let trusted = TrustedKeys::load(&trusted_path)
            .with_context(|| format!("load trusted keys {}", trusted_path.display()))?;
        let access = Access::load(&config.data)?;
        let history = HistoryIndex::open(&config.data).context("open the history index")?;
        let engine = Engine::start(node, config.commit_batch_max, system_clock());
        Ok(Api {
            engine,
            access: Mutex::new(access),
            config,
            key,
            trusted,
            history: Mutex::new(history),
            buckets: Mutex::new(HashMap::new()),
            leaves: Mutex::new(HashMap::new()),
        })
    }

    pub fn now(&self) -> Timestamp {
        (system_clock())()
    }

    /// Changes the access state and writes it durably before answering.
    pub fn change_access<T>(
        &self,
        f: impl FnOnce(&mut Access) -> std::result::Result<T, ApiError>,
    ) -> std::result::Result<T, ApiError> {
        let mut a = lock(&self.access);
        let mut next = a.clone();
        let out = f(&mut next)?;
        next.save(&self.config.data).map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::STORAGE_UNAVAILABLE,
                format!("{e:#}"),
            )
        })?;
        *a = next;
        Ok(out)
    }

    fn rate_ok(&self, client: &str) -> bool {
        let per_second = lock(&self.access).policies.rate_limit_per_second;
        if per_second == 0 {
            return true;
        }
        let rate = f64::from(per_second);
        let burst = rate * 2.0;
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        let b = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Stops the writer after the work it has acknowledged, signs the last checkpoints, and
    /// gives the node back.
    pub fn shutdown(self) -> Option<Node<AnyStore>> {
        let mut node = self.engine.shutdown()?;
        if node.is_writer() {
            let now = (system_clock())();
            if let Err(e) = node.checkpoint(&self.key, now) {
                tracing::error!(error = %e, "sign the last checkpoints");
            }
        }
        Some(node)
    }
}

/// An answer that is not a success: HTTP status and a rejection in the one envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub rejection: Rejection,
    pub id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status,
            rejection: Rejection::one(code, message),
            id: None,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::INVALID_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Code::NOT_FOUND, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, Code::PERMISSION_DENIED, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::STORAGE_UNAVAILABLE,
            message,
        )
    }
    pub fn body(&self) -> Value {
        rejection_json(self.id.as_deref(), &self.rejection, false, false)
    }
}

/// A success: status and JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    /// The body already written as JSON bytes (large batch results), sent instead of `body`.
    pub raw: Option<Vec<u8>>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply::new(StatusCode::OK, body)
    }

    pub fn new(status: StatusCode, body: Value) -> Self {
        Reply {
            status,
            body,
            raw: None,
        }
    }

    /// A 200 whose body is `bytes`, JSON written by the handler.
    pub fn raw_json(bytes: Vec<u8>) -> Self {
        Reply {
            status: StatusCode::OK,
            body: Value::Null,
            raw: Some(bytes),
        }
    }
}

/// Who may reach a route at all; handlers narrow by scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Anyone, with or without a token.
    Public,
    /// Any authenticated user.
    User,
    /// A user holding one of these roles (over some scope).
    Roles(&'static [Role]),
}

/// What a handler sees of a request.
pub struct Req {
    pub user: Option<User>,
    pub params: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn param(&self, k: &str) -> &str {
        self.params.get(k).map(String::as_str).unwrap_or_default()
    }
    pub fn user(&self) -> std::result::Result<&User, ApiError> {
        self.user.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                Code::AUTHENTICATION_REQUIRED,
                "authentication required",
            )
        })
    }
    /// The body as a JSON value.
    pub fn json(&self) -> std::result::Result<Value, ApiError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::invalid(format!("the body is not JSON: {e}")))
    }
    /// A query parameter as a whole number, with a default and a maximum.
    pub fn query_u64(&self, k: &str, default: u64, max: u64) -> std::result::Result<u64, ApiError> {
        match self.query.get(k) {
            None => Ok(default),
            Some(s) => s.parse::<u64>().ok().filter(|n| *n <= max).ok_or_else(|| {
                ApiError::invalid(format!("{k} must be a whole number up to {max}"))
            }),
        }
    }
}

pub type Handler = fn(&Api, &Req) -> std::result::Result<Reply, ApiError>;

/// One operation: method, path template (`{name}` segments), gate, handler and its
/// documentation, from which the OpenAPI document is generated.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub gate: Gate,
    pub handler: Handler,
    pub doc: openapi::OpDoc,
}

/// Matches a concrete path against a template; returns the parameters.
fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) => {
                if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if ps.is_empty() {
                        return None;
                    }
                    params.insert(name.to_owned(), percent_decode(ps));
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding (and `+` as space in queries), lossy on invalid UTF-8.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in q.unwrap_or_default().split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(
            percent_decode(&k.replace('+', " ")),
            percent_decode(&v.replace('+', " ")),
        );
    }
    out
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    bytes_response(status, serde_json::to_vec(body).unwrap_or_default())
}

fn bytes_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut r = (status, bytes).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(e: &ApiError) -> Response {
    let mut r = json_response(e.status, &e.body());
    if e.status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"tanso\""),
        );
    }
    if e.status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// The router: everything goes through [`dispatch`] against the route table.
pub fn app(api: Arc<Api>) -> Router {
    Router::new().fallback(dispatch).with_state(api)
}

/// The bearer token of a request, if any; `Err` for a malformed Authorization header.
fn bearer(headers: &HeaderMap) -> std::result::Result<Option<String>, ()> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let s = v.to_str().map_err(|_| ())?;
    let (scheme, token) = s.split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(());
    }
    Ok(Some(token.trim().to_owned()))
}

async fn dispatch(State(api): State<Arc<Api>>, req: Request) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".into());
    let (route, user, mut result) = handle(&api, req, &client).await;
    let response = match &mut result {
        Ok(r) => match r.raw.take() {
            Some(bytes) => bytes_response(r.status, bytes),
            None => json_response(r.status, &r.body),
        },
        Err(e) => error_response(e),
    };
    let status = response.status().as_u16();
    let codes: Vec<u16> = match &result {
        Err(e) => e.rejection.codes().iter().map(|c| c.0).collect(),
        Ok(r) => r.body["codes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_u64())
                    .map(|c| c as u16)
                    .collect()
            })
            .unwrap_or_default(),
    };
    tracing::info!(
        method = %method,
        route = route.unwrap_or("-"),
        status,
        user = user.as_deref().unwrap_or("-"),
        client = %client,
        codes = ?codes,
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

async fn handle(
    api: &Arc<Api>,
    req: Request,
    client: &str,
) -> (
    Option<&'static str>,
    Option<String>,
    std::result::Result<Reply, ApiError>,
) {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let table = routes::table();
    let mut path_known = false;
    let mut found = None;
    for (i, r) in table.iter().enumerate() {
        if let Some(params) = match_path(r.path, &path) {
            path_known = true;
            if r.method == method || (method == Method::HEAD && r.method == Method::GET) {
                found = Some((i, params));
                break;
            }
        }
    }
    let Some((ix, params)) = found else {
        let e = if path_known {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::METHOD_NOT_ALLOWED,
                format!("{path} does not support {method}"),
            )
        } else {
            ApiError::not_found(format!("no resource at {path}"))
        };
        return (None, None, Err(e));
    };
    let route = &table[ix];
    // Authentication.
    let user = match bearer(req.headers()) {
        Err(()) => {
            return (
                Some(route.path),
                None,
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    Code::AUTHENTICATION_REQUIRED,
                    "the Authorization header must be `Bearer <token>`",
                )),
            )
        }
        Ok(None) => None,
        Ok(Some(t)) => match lock(&api.access).user_by_token(&t).cloned() {
            Some(u) => Some(u),
            None => {
                return (
                    Some(route.path),
                    None,
                    Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        Code::AUTHENTICATION_REQUIRED,
                        "the token is not valid",
                    )),
                )
            }
        },
    };
    let user_id = user.as_ref().map(|u| u.id.clone());
    let client_key = user_id
        .clone()
        .unwrap_or_else(|| format!("anonymous@{client}"));
    if !api.rate_ok(&client_key) {
        return (
            Some(route.path),
            user_id,
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                Code::RATE_LIMITED,
                "rate limit exceeded; retry later",
            )),
        );
    }
    // The route's gate.
    let gate = match (route.gate, &user) {
        (Gate::Public, _) => Ok(()),
        (_, None) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            Code::AUTHENTICATION_REQUIRED,
            "authentication required",
        )),
        (Gate::User, Some(_)) => Ok(()),
        (Gate::Roles(roles), Some(u)) => {
            if u.grants.iter().any(|g| roles.contains(&g.role)) {
                Ok(())
            } else {
                Err(ApiError::forbidden(format!(
                    "{} holds none of the roles this operation needs",
                    u.id
                )))
            }
        }
    };
    if let Err(e) = gate {
        return (Some(route.path), user_id, Err(e));
    }
    // The body, under the limit.
    let limit = api.config.body_limit_bytes;
    let too_large = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<usize>().ok())
        .is_some_and(|n| n > limit);
    if too_large {
        return (
            Some(route.path),
            user_id,
            Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::REQUEST_TOO_LARGE,
                format!("the body exceeds {limit} bytes"),
            )),
        );
    }
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(Body::new(body), limit).await {
        Ok(b) => b,
        Err(_) => {
            return (
                Some(route.path),
                user_id,
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Code::REQUEST_TOO_LARGE,
                    format!("the body exceeds {limit} bytes (or could not be read)"),
                )),
            )
        }
    };
    let r = Req {
        user,
        params,
        query: parse_query(parts.uri.query()),
        headers: parts.headers,
        body,
    };
    let api2 = Arc::clone(api);
    let result = if route.operation_id == routes::CREATE_COMMAND {
        // Single commands, the hot path: no blocking thread (see `create_command_async`).
        routes::create_command_async(api2, r).await
    } else {
        let handler = route.handler;
        tokio::task::spawn_blocking(move || handler(&api2, &r))
            .await
            .unwrap_or_else(|e| Err(ApiError::unavailable(format!("handler failed: {e}"))))
    };
    (Some(route.path), user_id, result)
}

/// Serves until SIGINT or SIGTERM, then finishes what was acknowledged and stops the writer.
pub fn serve(config: Config, listen: &str) -> Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let api = Arc::new(Api::open(config)?);
    let result = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listen on {listen}"))?;
        let local = listener.local_addr()?;
        tracing::info!(address = %local, "serving /api/v1");
        println!("tanso serve: listening on http://{local}/api/v1");
        // Checkpoints (and, on PostgreSQL, projections) every few seconds, so proofs rarely
        // wait for a signature.
        every(&api, std::time::Duration::from_secs(5), |a| {
            let now = a.now();
            a.engine.with_node(|n| {
                if n.is_writer() {
                    if let Err(e) = n.checkpoint(&a.key, now) {
                        tracing::error!(error = %e, "sign checkpoints");
                    }
                }
            });
            if let Err(e) = project(a) {
                tracing::error!(error = %e, "update the projection tables");
            }
        });
        // On a shared store: follow the writer while another instance holds the lock, take
        // over when it goes, and step down when the lock is lost.
        if api.config.location.is_postgres() {
            every(&api, std::time::Duration::from_millis(200), |a| {
                a.engine.with_node(|n| follow(n, &a.config.location))
            });
        }
        axum::serve(
            listener,
            app(Arc::clone(&api)).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serve")
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(10));
    let api = Arc::try_unwrap(api).map_err(|_| anyhow::anyhow!("requests still running"))?;
    let node = api.shutdown();
    tracing::info!(clean = node.is_some(), "stopped");
    result.map(|()| 0)
}

/// Runs `work` on the blocking pool every `period`, one run at a time, until the runtime stops.
fn every(api: &Arc<Api>, period: std::time::Duration, work: fn(&Api)) {
    let api = Arc::clone(api);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let a = Arc::clone(&api);
            let _ = tokio::task::spawn_blocking(move || work(&a)).await;
        }
    });
}

/// One projection pass on PostgreSQL: progress and writes outside the node, only the gathering
/// of rows (bounded per chain) while holding it, so the writer stalls for memory work only.
fn project(a: &Api) -> Result<()> {
    if !a.config.location.is_postgres() || !a.engine.with_node(|n| n.is_writer()) {
        return Ok(());
    }
    let Some(mut client) = crate::projection::client(&a.config.location)? else {
        return Ok(());
    };
    let done = crate::projection::progress(&mut client)?;
    let rows = a.engine.with_node(|n| {
        if n.is_writer() {
            crate::projection::collect(n, &done, crate::projection::MAX_ENTRIES_PER_PASS)
        } else {
            Ok(Vec::new())
        }
    })?;
    crate::projection::write(&mut client, rows)?;
    Ok(())
}

/// One step of an instance on a shared store: a writer that lost the lock steps down; a
/// reader tries to become the writer (which replays first) and otherwise catches up, so that
/// its reads follow the writer; a node whose commit failed is reopened from the store.
fn follow(n: &mut Node<AnyStore>, location: &crate::Location) {
    let holds_lock = n.store().as_postgres().is_none_or(|p| p.is_leader());
    if n.is_writer() {
        if holds_lock {
            return;
        }
        tracing::warn!("lost the writer lock; stepping down to reader");
        n.step_down();
    }
    if n.is_poisoned() {
        match location
            .open()
            .map_err(anyhow::Error::from)
            .and_then(|s| Ok(Node::open_reader(s, NodeConfig::default())?))
        {
            Ok(fresh) => *n = fresh,
            Err(e) => {
                tracing::error!(error = %e, "reopen the store after a failed commit");
                return;
            }
        }
    }
    match n.promote() {
        Ok(epoch) => tracing::info!(epoch, "became the writer"),
        Err(NodeError::Store(StoreError::WriterHeld(_))) => {
            if let Err(e) = n.catch_up() {
                tracing::error!(error = %e, "follow the writer");
            }
        }
        Err(e) => tracing::error!(error = %e, "take over as the writer"),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing acknowledged work");
}

/// `tanso admin bootstrap`: the first registry administrator, once; prints a one-time token.
pub fn bootstrap(data: &Path, user: &str) -> Result<String> {
    let mut a = Access::load(data)?;
    if a.bootstrapped() {
        anyhow::bail!(
            "access is already bootstrapped in {}: ask an administrator for a token",
            data.display()
        );
    }
    let now = (system_clock())().to_string();
    a.add_user(User {
        id: user.to_owned(),
        grants: vec![access::Grant {
            role: Role::RegistryAdmin,
            scope: "*".into(),
            initiate: true,
            approve: true,
        }],
        password_hash: None,
        created_at: now.clone(),
    })
    .map_err(|e| anyhow::anyhow!(e))?;
    let token = a.issue_token(user, "bootstrap", &now)?;
    a.save(data)?;
    Ok(token)
}

pub fn json_ok(v: Value) -> std::result::Result<Reply, ApiError> {
    Ok(Reply::ok(v))
}

pub fn page(items: Vec<Value>, next: Option<String>) -> Value {
    json!({"items": items, "next_cursor": next})
}
