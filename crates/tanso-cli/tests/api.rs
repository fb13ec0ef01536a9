//! The HTTP API in process (`Router::oneshot`): every endpoint, the role × endpoint matrix
//! (written by hand, not derived from the permission table it tests), maker-checker, trusted
//! lists and limits, the error envelope with its codes, proofs that fail when one byte
//! changes, and the OpenAPI snapshot.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tanso_cli::api::{app, routes, Api, Config};
use tanso_core::Code;
use tanso_engine::keys::TrustedKeys;
use tower::ServiceExt;

struct Fixture {
    app: Router,
    tokens: BTreeMap<&'static str, String>,
    dir: tempfile::TempDir,
}

/// The roles of the matrix, in its column order; `anon` has no token.
const ROLES: [&str; 9] = [
    "anon",
    "admin",
    "officer",
    "rep",
    "jc",
    "verifier",
    "authority",
    "participant",
    "auditor",
];

fn data(dir: &Path) -> std::path::PathBuf {
    dir.join("data")
}
fn keys(dir: &Path) -> std::path::PathBuf {
    dir.join("keys")
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(match body {
            Some(v) => Body::from(serde_json::to_vec(&v).expect("encode")),
            None => Body::empty(),
        })
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .expect("body");
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, v)
}

fn codes(v: &Value) -> Vec<u16> {
    v["codes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_u64)
                .map(|c| c as u16)
                .collect()
        })
        .unwrap_or_default()
}

impl Fixture {
    async fn new() -> Fixture {
        Self::with_config(|_| {}).await
    }

    async fn with_config(tweak: impl FnOnce(&mut Config)) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let (d, k) = (data(dir.path()), keys(dir.path()));
        let args = |extra: &[&str]| {
            let mut a: Vec<std::ffi::OsString> = vec![
                "tanso".into(),
                "--data".into(),
                d.clone().into(),
                "--keys".into(),
                k.clone().into(),
            ];
            a.extend(extra.iter().map(|s| s.into()));
            a
        };
        assert_eq!(tanso_cli::main_with_args(args(&["demo"])), 0, "demo");
        let admin = tanso_cli::api::bootstrap(&d, "root-admin").expect("bootstrap");
        let mut config = Config::new(&d, &k);
        tweak(&mut config);
        let api = Api::open(config).expect("open api");
        let app = app(Arc::new(api));
        let mut tokens = BTreeMap::new();
        tokens.insert("admin", admin.clone());
        let users: [(&str, &str, Value); 10] = [
            (
                "officer",
                "officer-1",
                json!([{"role": "registry_officer", "scope": "IND01"}]),
            ),
            (
                "officer2",
                "officer-2",
                json!([{"role": "registry_officer", "scope": "IND01"}]),
            ),
            (
                "rep",
                "rep-1003",
                json!([{"role": "account_representative", "scope": "IND01/1003", "initiate": true, "approve": false}]),
            ),
            (
                "rep2",
                "rep2-1003",
                json!([{"role": "account_representative", "scope": "IND01/1003", "initiate": false, "approve": true}]),
            ),
            (
                "jc",
                "jc-ind",
                json!([{"role": "jc_member", "scope": "mechanism:JCM-IND-JPN"}]),
            ),
            (
                "verifier",
                "tpe-1",
                json!([{"role": "verifier", "scope": "mechanism:JCM-IND-JPN"}]),
            ),
            (
                "authority",
                "na-ind",
                json!([{"role": "national_authority", "scope": "party:IND"}]),
            ),
            (
                "authority2",
                "na-ind-2",
                json!([{"role": "national_authority", "scope": "party:IND"}]),
            ),
            (
                "participant",
                "bee-1",
                json!([{"role": "participant", "scope": "mechanism:CCTS-IND"}]),
            ),
            (
                "auditor",
                "auditor-1",
                json!([{"role": "auditor", "scope": "*"}]),
            ),
        ];
        for (key, id, grants) in users {
            let (s, v) = call(
                &app,
                "POST",
                "/api/v1/users",
                Some(&admin),
                Some(json!({"id": id, "grants": grants, "password": "a long enough passphrase"})),
                &[],
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "create {id}: {v}");
            let (s, v) = call(
                &app,
                "POST",
                &format!("/api/v1/users/{id}/tokens"),
                Some(&admin),
                Some(json!({"label": "test"})),
                &[],
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "token {id}: {v}");
            tokens.insert(key, v["token"].as_str().expect("token").to_owned());
        }
        Fixture { app, tokens, dir }
    }

    fn token(&self, role: &str) -> Option<&str> {
        self.tokens.get(role).map(String::as_str)
    }

    async fn call(
        &self,
        role: &str,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call(&self.app, method, uri, self.token(role), body, &[]).await
    }
}

/// Account 1003's representatives put 1002 on its trusted list with no delay (one initiates,
/// the other approves), so that the representative's transfers to 1002 need no second person.
async fn trust_1002_from_1003_at_once(f: &Fixture) {
    let (s, v) = f
        .call(
            "admin",
            "PUT",
            "/api/v1/access_policies",
            Some(json!({"trusted_account_delay_hours": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = f
        .call(
            "rep",
            "POST",
            "/api/v1/registries/IND01/accounts/1003/trusted_accounts",
            Some(json!({"trusted": 1002})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let ap = v["id"].as_str().expect("approval id").to_owned();
    let (s, v) = f
        .call(
            "rep2",
            "POST",
            &format!("/api/v1/approvals/{ap}/approve"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

/// A retirement entry of IND01 in the demo (the first public retirement).
async fn a_retirement(f: &Fixture) -> u64 {
    let (s, v) = f
        .call(
            "anon",
            "GET",
            "/api/v1/public/retirements?registry=IND01",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"][0]["seq"]
        .as_u64()
        .expect("a retirement in the demo")
}

// ---------------------------------------------------------------------------------------
// The role × endpoint matrix. `+`: the role is served (any status but 401/403); `-`: refused
// with 401 (anonymous) or 403. Columns: anon admin officer rep jc verifier authority
// participant auditor. Written from the access rules in docs/OPERATIONS.md, by hand.

fn matrix() -> Vec<(&'static str, &'static str, Option<Value>, &'static str)> {
    let dry = |id: &str, chain: &str, cmd: Value| {
        let mut c = cmd;
        c["id"] = json!(id);
        c["chain"] = json!(chain);
        c["dry_run"] = json!(true);
        c
    };
    vec![
        ("GET", "/api/v1/openapi.json", None, "+++++++++"),
        ("GET", "/api/v1/health", None, "+++++++++"),
        ("GET", "/api/v1/me", None, "-++++++++"),
        ("GET", "/api/v1/users", None, "-+-------"),
        (
            "POST",
            "/api/v1/users",
            Some(json!({"id": "x", "grants": []})),
            "-+-------",
        ),
        (
            "POST",
            "/api/v1/users/auditor-1/tokens",
            Some(json!({})),
            "-+-------",
        ),
        // A transfer from account 1003: only its representative initiates it.
        (
            "POST",
            "/api/v1/commands",
            Some(dry(
                "m1",
                "IND01",
                json!({"command": "transfer", "from": 1003, "to": 1002, "quantity": 1}),
            )),
            "---+-----",
        ),
        // One account's representative acting on another account is refused.
        (
            "POST",
            "/api/v1/commands",
            Some(dry(
                "m2",
                "IND01",
                json!({"command": "transfer", "from": 1002, "to": 1003, "quantity": 1}),
            )),
            "---------",
        ),
        // Account status: officers and administrators.
        (
            "POST",
            "/api/v1/commands",
            Some(dry(
                "m3",
                "IND01",
                json!({"command": "set_account_status", "account": 1002, "status": "frozen"}),
            )),
            "-++------",
        ),
        // Reference data: administrators only.
        (
            "POST",
            "/api/v1/commands",
            Some(dry(
                "m4",
                "IND01",
                json!({"command": "define_currency", "code": "USD", "minor_units": 2}),
            )),
            "-+-------",
        ),
        // A step on the JCM chain: those with a grant on it (the chain checks the precise role).
        (
            "POST",
            "/api/v1/commands",
            Some(dry(
                "m5",
                "mechanism:JCM-IND-JPN",
                json!({"command": "jcm_submit_pin", "project": "IN999", "host": "IND", "activity": 1, "document_sha256": "00"}),
            )),
            "-+--++---",
        ),
        // A party's authority chain: its national authority.
        (
            "POST",
            "/api/v1/commands",
            Some(dry(
                "m6",
                "party:IND",
                json!({"command": "a6_report_emissions", "year": 2026, "emissions": "1"}),
            )),
            "------+--",
        ),
        // A CCTS step: the scheme's participants (and administrators).
        (
            "POST",
            "/api/v1/commands",
            Some(dry(
                "m7",
                "mechanism:CCTS-IND",
                json!({"command": "ccts_evaluate", "entity": "VEDANTA", "year": 2025}),
            )),
            "-+-----+-",
        ),
        (
            "POST",
            "/api/v1/commands/batch",
            Some(json!([])),
            "-+++++++-",
        ),
        ("GET", "/api/v1/approvals", None, "-+++--+-+"),
        ("POST", "/api/v1/approvals/none/approve", None, "-+++--+-+"),
        ("POST", "/api/v1/approvals/none/reject", None, "-+++--+-+"),
        (
            "GET",
            "/api/v1/registries/IND01/accounts/1003/trusted_accounts",
            None,
            "-+++----+",
        ),
        // Another account's trusted list: not for 1003's representative.
        (
            "GET",
            "/api/v1/registries/IND01/accounts/1002/trusted_accounts",
            None,
            "-++-----+",
        ),
        (
            "POST",
            "/api/v1/registries/IND01/accounts/1003/trusted_accounts",
            Some(json!({"trusted": 1002})),
            "-+++-----",
        ),
        (
            "POST",
            "/api/v1/registries/IND01/accounts/1002/trusted_accounts",
            Some(json!({"trusted": 1003})),
            "-++------",
        ),
        (
            "PUT",
            "/api/v1/registries/IND01/accounts/1003/limits",
            Some(json!({"transfer_limit": null})),
            "-++------",
        ),
        ("GET", "/api/v1/access_policies", None, "-+------+"),
        (
            "PUT",
            "/api/v1/access_policies",
            Some(json!({})),
            "-+-------",
        ),
        ("GET", "/api/v1/chains", None, "-++++++++"),
        (
            "GET",
            "/api/v1/chains/IND01/entries?limit=2",
            None,
            "-+------+",
        ),
        ("GET", "/api/v1/chains/IND01/entries/1", None, "-+------+"),
        (
            "GET",
            "/api/v1/registries/IND01/accounts",
            None,
            "-++-----+",
        ),
        (
            "GET",
            "/api/v1/registries/IND01/accounts/1003",
            None,
            "-+++----+",
        ),
        (
            "GET",
            "/api/v1/registries/IND01/accounts/1002",
            None,
            "-++-----+",
        ),
        (
            "GET",
            "/api/v1/registries/IND01/accounts/1003/holdings",
            None,
            "-+++----+",
        ),
        (
            "GET",
            "/api/v1/registries/IND01/accounts/1002/holdings",
            None,
            "-++-----+",
        ),
        (
            "GET",
            "/api/v1/registries/IND01/blocks/1",
            None,
            "-++-----+",
        ),
        ("GET", "/api/v1/serials/IND01/1/history", None, "-++-----+"),
        (
            "GET",
            "/api/v1/registries/IND01/transfers",
            None,
            "-++-----+",
        ),
        (
            "GET",
            "/api/v1/registries/IND01/retirements",
            None,
            "-++-----+",
        ),
        ("GET", "/api/v1/projects", None, "+++++++++"),
        ("GET", "/api/v1/projects/IN001", None, "+++++++++"),
        ("GET", "/api/v1/methodologies", None, "+++++++++"),
        (
            "GET",
            "/api/v1/parties/IND/authorizations",
            None,
            "------+-+",
        ),
        (
            "GET",
            "/api/v1/parties/JPN/authorizations",
            None,
            "--------+",
        ),
        ("GET", "/api/v1/compliance", None, "-++----++"),
        ("GET", "/api/v1/reports/aef/IND/2026", None, "------+-+"),
        ("GET", "/api/v1/public/issuances", None, "+++++++++"),
        ("GET", "/api/v1/public/retirements", None, "+++++++++"),
        ("GET", "/api/v1/public/checkpoints", None, "+++++++++"),
        (
            "GET",
            "/api/v1/public/aef_summaries/IND/2026",
            None,
            "+++++++++",
        ),
        ("GET", "/api/v1/public/keys", None, "+++++++++"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_every_role_that_must_not_use_it_and_serves_those_that_may() {
    let f = Fixture::new().await;
    let mut failures = Vec::new();
    let mut seen_ops = std::collections::BTreeSet::new();
    for (method, uri, body, expect) in matrix() {
        assert_eq!(expect.len(), ROLES.len(), "{method} {uri}");
        for (role, want) in ROLES.iter().zip(expect.chars()) {
            let (s, v) = f.call(role, method, uri, body.clone()).await;
            let refused = s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN;
            if refused {
                // Refusals carry the envelope with 6101, 6102 or 6107.
                assert!(
                    codes(&v).iter().any(|c| [6101, 6102, 6107].contains(c)),
                    "{method} {uri} as {role}: {s} without an auth code: {v}"
                );
                if *role == "anon" {
                    assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {uri} anon: {v}");
                }
            }
            assert!(s.as_u16() < 500, "{method} {uri} as {role}: {s} {v}");
            match (want, refused) {
                ('+', true) => failures.push(format!("{method} {uri}: {role} refused ({s}) {v}")),
                ('-', false) => failures.push(format!("{method} {uri}: {role} served ({s}) {v}")),
                _ => {}
            }
        }
        let path = uri.split('?').next().unwrap_or(uri);
        for r in routes::table() {
            if r.method.as_str() == method && template_matches(r.path, path) {
                seen_ops.insert(r.operation_id);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "matrix failures:\n{}",
        failures.join("\n")
    );
    // Every operation but the public single-item ones is in the matrix.
    let missing: Vec<_> = routes::table()
        .iter()
        .map(|r| r.operation_id)
        .filter(|o| !seen_ops.contains(o))
        .filter(|o| {
            ![
                "create_session",
                "get_public_retirement",
                "get_public_proof",
            ]
            .contains(o)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "operations missing from the matrix: {missing:?}"
    );
}

fn template_matches(t: &str, p: &str) -> bool {
    let (a, b): (Vec<_>, Vec<_>) = (t.split('/').collect(), p.split('/').collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.starts_with('{') || x == y)
}

// ---------------------------------------------------------------------------------------
// Every endpoint answers 2xx for someone.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_2xx_with_the_documented_body() {
    let f = Fixture::new().await;
    let ret = a_retirement(&f).await;
    // A pending request to approve and one to reject.
    for id in ["ok-approve", "ok-reject"] {
        let (s, v) = f
            .call("officer", "POST", "/api/v1/commands", Some(json!({"id": id, "chain": "IND01", "command": "issue", "account": 1002, "kind": "JCM", "project": "IN001", "period": {"start": "2026-01-01", "end": "2026-12-31"}, "quantity": 10})))
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    let calls: Vec<(&str, &str, String, Option<Value>, &str)> = vec![
        (
            "anon",
            "GET",
            "/api/v1/openapi.json".into(),
            None,
            "get_openapi",
        ),
        ("anon", "GET", "/api/v1/health".into(), None, "get_health"),
        (
            "anon",
            "POST",
            "/api/v1/sessions".into(),
            Some(json!({"user": "auditor-1", "password": "a long enough passphrase"})),
            "create_session",
        ),
        ("auditor", "GET", "/api/v1/me".into(), None, "get_me"),
        ("admin", "GET", "/api/v1/users".into(), None, "list_users"),
        (
            "admin",
            "POST",
            "/api/v1/users".into(),
            Some(json!({"id": "new-user", "grants": [{"role": "auditor", "scope": "IND01"}]})),
            "create_user",
        ),
        (
            "admin",
            "POST",
            "/api/v1/users/new-user/tokens".into(),
            None,
            "create_token",
        ),
        (
            "rep",
            "POST",
            "/api/v1/commands".into(),
            Some(
                json!({"id": "e1", "chain": "IND01", "command": "transfer", "from": 1003, "to": 1002, "quantity": 1, "dry_run": true}),
            ),
            "create_command",
        ),
        (
            "rep",
            "POST",
            "/api/v1/commands/batch".into(),
            Some(
                json!([{"id": "e2", "chain": "IND01", "command": "transfer", "from": 1003, "to": 1002, "quantity": 1, "dry_run": true}]),
            ),
            "create_command_batch",
        ),
        (
            "officer2",
            "GET",
            "/api/v1/approvals".into(),
            None,
            "list_approvals",
        ),
        (
            "officer2",
            "POST",
            "/api/v1/approvals/ok-approve/approve".into(),
            None,
            "approve_approval",
        ),
        (
            "officer2",
            "POST",
            "/api/v1/approvals/ok-reject/reject".into(),
            None,
            "reject_approval",
        ),
        (
            "rep",
            "GET",
            "/api/v1/registries/IND01/accounts/1003/trusted_accounts".into(),
            None,
            "list_trusted_accounts",
        ),
        (
            "rep",
            "POST",
            "/api/v1/registries/IND01/accounts/1003/trusted_accounts".into(),
            Some(json!({"trusted": 1002})),
            "add_trusted_account",
        ),
        (
            "officer",
            "PUT",
            "/api/v1/registries/IND01/accounts/1003/limits".into(),
            Some(json!({"transfer_limit": 100})),
            "set_account_limits",
        ),
        (
            "auditor",
            "GET",
            "/api/v1/access_policies".into(),
            None,
            "get_access_policies",
        ),
        (
            "admin",
            "PUT",
            "/api/v1/access_policies".into(),
            Some(json!({"trusted_account_delay_hours": 48})),
            "set_access_policies",
        ),
        (
            "auditor",
            "GET",
            "/api/v1/chains".into(),
            None,
            "list_chains",
        ),
        (
            "auditor",
            "GET",
            "/api/v1/chains/IND01/entries?limit=3".into(),
            None,
            "list_entries",
        ),
        (
            "auditor",
            "GET",
            "/api/v1/chains/party:IND/entries/1".into(),
            None,
            "get_entry",
        ),
        (
            "officer",
            "GET",
            "/api/v1/registries/IND01/accounts".into(),
            None,
            "list_accounts",
        ),
        (
            "rep",
            "GET",
            "/api/v1/registries/IND01/accounts/1003".into(),
            None,
            "get_account",
        ),
        (
            "rep",
            "GET",
            "/api/v1/registries/IND01/accounts/1003/holdings".into(),
            None,
            "list_holdings",
        ),
        (
            "officer",
            "GET",
            "/api/v1/registries/IND01/blocks/72".into(),
            None,
            "get_block",
        ),
        (
            "officer",
            "GET",
            "/api/v1/serials/IND01/72/history".into(),
            None,
            "list_serial_history",
        ),
        (
            "officer",
            "GET",
            "/api/v1/registries/IND01/transfers".into(),
            None,
            "list_transfers",
        ),
        (
            "officer",
            "GET",
            "/api/v1/registries/IND01/retirements".into(),
            None,
            "list_retirements",
        ),
        (
            "anon",
            "GET",
            "/api/v1/projects".into(),
            None,
            "list_projects",
        ),
        (
            "anon",
            "GET",
            "/api/v1/projects/IN001".into(),
            None,
            "get_project",
        ),
        (
            "anon",
            "GET",
            "/api/v1/methodologies".into(),
            None,
            "list_methodologies",
        ),
        (
            "authority",
            "GET",
            "/api/v1/parties/IND/authorizations".into(),
            None,
            "list_authorizations",
        ),
        (
            "participant",
            "GET",
            "/api/v1/compliance?year=2025".into(),
            None,
            "list_compliance",
        ),
        (
            "authority",
            "GET",
            "/api/v1/reports/aef/IND/2026".into(),
            None,
            "get_aef_report",
        ),
        (
            "anon",
            "GET",
            "/api/v1/public/issuances?limit=5".into(),
            None,
            "list_public_issuances",
        ),
        (
            "anon",
            "GET",
            "/api/v1/public/retirements".into(),
            None,
            "list_public_retirements",
        ),
        (
            "anon",
            "GET",
            format!("/api/v1/public/retirements/IND01/{ret}"),
            None,
            "get_public_retirement",
        ),
        (
            "anon",
            "GET",
            "/api/v1/public/checkpoints".into(),
            None,
            "list_public_checkpoints",
        ),
        (
            "anon",
            "GET",
            format!("/api/v1/public/proofs/IND01/{ret}"),
            None,
            "get_public_proof",
        ),
        (
            "anon",
            "GET",
            "/api/v1/public/aef_summaries/IND/2026".into(),
            None,
            "get_public_aef_summary",
        ),
        (
            "anon",
            "GET",
            "/api/v1/public/keys".into(),
            None,
            "list_public_keys",
        ),
    ];
    let mut done = std::collections::BTreeSet::new();
    for (role, method, uri, body, op) in calls {
        let (s, v) = f.call(role, method, &uri, body).await;
        assert!(s.is_success(), "{op} ({method} {uri} as {role}): {s} {v}");
        assert!(v.is_object(), "{op}: a JSON object");
        done.insert(op);
    }
    let all: std::collections::BTreeSet<_> =
        routes::table().iter().map(|r| r.operation_id).collect();
    assert_eq!(done, all, "every operation is exercised");
}

// ---------------------------------------------------------------------------------------
// Commands, idempotency and the envelope.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_take_the_id_from_the_idempotency_key_and_bind_it() {
    let f = Fixture::new().await;
    // No approval needed: trust 1002 with no delay, then transfer.
    trust_1002_from_1003_at_once(&f).await;
    let body =
        json!({"chain": "IND01", "command": "transfer", "from": 1003, "to": 1002, "quantity": 1});
    let send = |b: Value, key: &'static str| {
        let app = f.app.clone();
        let t = f.token("rep").map(str::to_owned);
        async move {
            call(
                &app,
                "POST",
                "/api/v1/commands",
                t.as_deref(),
                Some(b),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    let (s, v) = send(body.clone(), "k-1").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "accepted");
    assert_eq!(v["id"], "k-1");
    assert_eq!(v["replayed"], false);
    let seq = v["seq"].as_u64().expect("seq");
    // The same key and content: the stored outcome, replayed.
    let (s, v) = send(body.clone(), "k-1").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["replayed"].clone(), v["seq"].as_u64()),
        (json!(true), Some(seq))
    );
    // The same command with its id in the body as well (read as a plain transfer, the key
    // matching): the same content, replayed.
    let mut with_id = body.clone();
    with_id["id"] = json!("k-1");
    let (s, v) = send(with_id, "k-1").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["replayed"].clone(), v["seq"].as_u64()),
        (json!(true), Some(seq))
    );
    // The same key with other content: 2512.
    let mut other = body.clone();
    other["quantity"] = json!(2);
    let (s, v) = send(other, "k-1").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(codes(&v), vec![Code::ID_REUSED_WITH_OTHER_CONTENT.0]);
    // A body id that differs from the key: 6103.
    let mut mismatched = body.clone();
    mismatched["id"] = json!("k-other");
    let (s, v) = send(mismatched, "k-2").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(codes(&v), vec![Code::IDEMPOTENCY_KEY_MISMATCH.0]);
    // Someone else's actor: 6107.
    let mut actor = body.clone();
    actor["actor"] = json!("rep2-1003");
    let (s, v) = send(actor, "k-3").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(codes(&v), vec![Code::ACTOR_MISMATCH.0]);
    // A check that fails: the catalogue code, 422, and nothing applied.
    let mut too_many = body.clone();
    too_many["quantity"] = json!(1_000_000);
    let (s, v) = send(too_many, "k-4").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        codes(&v).contains(&Code::QUANTITY_EXCEEDS_AVAILABLE.0),
        "{v}"
    );
    // Not JSON: 6006, no id bound.
    let (s, v) = call(
        &f.app,
        "POST",
        "/api/v1/commands",
        f.token("rep"),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(codes(&v), vec![Code::MALFORMED_COMMAND.0]);
    // The journal names the user as the actor.
    let (_, e) = f
        .call(
            "auditor",
            "GET",
            &format!("/api/v1/chains/IND01/entries/{seq}"),
            None,
        )
        .await;
    assert_eq!(e["actor"], "rep-1003");
    assert_eq!(e["command_id"], "k-1");
}

/// A plain transfer read straight from a batch's text and the same command through the single
/// endpoint (read as a value) bind the same content: the second is replayed, and other content
/// under the same id is refused (2512), whichever came first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_item_and_the_single_endpoint_bind_the_same_content() {
    let f = Fixture::new().await;
    trust_1002_from_1003_at_once(&f).await;
    // `unit: null` and `dry_run: false` are read as absent but `unit` is part of the content.
    let cmd = |id: &str, q: u64| {
        json!({"id": id, "chain": "IND01", "command": "transfer", "from": 1003, "to": 1002,
               "quantity": q, "unit": null, "dry_run": false})
    };
    let batch = |items: Value| async {
        let (s, v) = f
            .call(
                "rep",
                "POST",
                "/api/v1/commands/batch?events=false",
                Some(items),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["results"].as_array().expect("results").clone()
    };
    let single = |body: Value| f.call("rep", "POST", "/api/v1/commands", Some(body));
    // The batch first.
    let r = batch(json!([cmd("p-1", 1)])).await;
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    let (s, v) = single(cmd("p-1", 1)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((&v["replayed"], &v["seq"]), (&json!(true), &r[0]["seq"]));
    let (s, v) = single(cmd("p-1", 2)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(codes(&v), vec![Code::ID_REUSED_WITH_OTHER_CONTENT.0]);
    // The single endpoint first.
    let (s, v) = single(cmd("p-2", 1)).await;
    assert_eq!((s, &v["replayed"]), (StatusCode::OK, &json!(false)), "{v}");
    let r = batch(json!([cmd("p-2", 1), cmd("p-2", 2)])).await;
    assert_eq!((&r[0]["replayed"], &r[0]["seq"]), (&json!(true), &v["seq"]));
    assert_eq!(codes(&r[1]), vec![Code::ID_REUSED_WITH_OTHER_CONTENT.0]);
}

/// A batch answers every command in the request's order, each as the single endpoint would:
/// accepted, replayed, refused at the edge (malformed, not permitted), a dry run, rejected by
/// the registry. With `?events=false` accepted results carry no events but the same seq and
/// hash as the journal's entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_each_command_in_order_with_or_without_events() {
    let f = Fixture::new().await;
    trust_1002_from_1003_at_once(&f).await;
    let t = |id: &str, q: u64| json!({"id": id, "chain": "IND01", "command": "transfer", "from": 1003, "to": 1002, "quantity": q});
    let batch = |prefix: &str| {
        json!([
            t(&format!("{prefix}-1"), 1),
            t(&format!("{prefix}-1"), 1),
            "not an object",
            {"id": format!("{prefix}-other"), "chain": "IND01", "command": "transfer", "from": 1002, "to": 1003, "quantity": 1},
            {"id": format!("{prefix}-dry"), "chain": "IND01", "command": "transfer", "from": 1003, "to": 1002, "quantity": 1, "dry_run": true},
            t(&format!("{prefix}-huge"), u64::MAX / 2),
            t(&format!("{prefix}-2"), 1),
        ])
    };
    let mut seen_seqs = Vec::new();
    // Account 1003 holds 4 units in the demo: two batches of two transfers of one unit.
    for (query, events) in [("", true), ("?events=false", false)] {
        let prefix = format!("b{}", query.len());
        let (s, v) = f
            .call(
                "rep",
                "POST",
                &format!("/api/v1/commands/batch{query}"),
                Some(batch(&prefix)),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let r = v["results"].as_array().expect("results");
        assert_eq!(r.len(), 7, "{v}");
        let statuses: Vec<&str> = r
            .iter()
            .map(|x| x["status"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            statuses,
            [
                "accepted",
                "accepted",
                "rejected",
                "rejected",
                "would_accept",
                "rejected",
                "accepted"
            ],
            "{v}"
        );
        assert_eq!(r[0]["id"], json!(format!("{prefix}-1")));
        assert_eq!(r[0]["replayed"], json!(false));
        assert_eq!(r[1]["replayed"], json!(true));
        assert_eq!(r[1]["seq"], r[0]["seq"]);
        assert_eq!(codes(&r[2]), [6006]);
        assert_eq!(codes(&r[3]), [6102]);
        assert_eq!(r[4]["dry_run"], json!(true));
        assert_eq!(codes(&r[5]), [3005]);
        assert_eq!(r[5]["id"], json!(format!("{prefix}-huge")));
        let s0 = r[0]["seq"].as_u64().expect("seq");
        let s6 = r[6]["seq"].as_u64().expect("seq");
        assert_eq!(s6, s0 + 1, "applied in order, next to each other");
        for x in [&r[0], &r[6]] {
            assert_eq!(x.get("events").is_some(), events, "{x}");
            let seq = x["seq"].as_u64().expect("seq");
            let (s, e) = f
                .call(
                    "auditor",
                    "GET",
                    &format!("/api/v1/chains/IND01/entries/{seq}"),
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{e}");
            assert_eq!(e["hash"], x["hash"], "the result names the journal's entry");
            if events {
                assert_eq!(e["events"], x["events"]);
            }
            seen_seqs.push(seq);
        }
    }
    seen_seqs.dedup();
    assert_eq!(seen_seqs.len(), 4, "two batches, two new entries each");
    let (s, v) = f
        .call(
            "rep",
            "POST",
            "/api/v1/commands/batch?events=maybe",
            Some(json!([])),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuance_waits_for_a_second_officer_who_is_not_its_maker() {
    let f = Fixture::new().await;
    let issue = json!({"id": "iss-1", "chain": "IND01", "command": "issue", "account": 1002, "kind": "JCM", "project": "IN001", "period": {"start": "2026-01-01", "end": "2026-12-31"}, "quantity": 10});
    let (_, before) = f
        .call(
            "officer",
            "GET",
            "/api/v1/registries/IND01/accounts/1002",
            None,
        )
        .await;
    let (s, v) = f
        .call("officer", "POST", "/api/v1/commands", Some(issue.clone()))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["status"], "awaiting_approval");
    // Nothing applied yet; asking again gives the same pending request.
    let (_, after) = f
        .call(
            "officer",
            "GET",
            "/api/v1/registries/IND01/accounts/1002",
            None,
        )
        .await;
    assert_eq!(before["total"], after["total"]);
    let (s, _) = f
        .call("officer", "POST", "/api/v1/commands", Some(issue.clone()))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // The maker cannot approve it (6110); a representative cannot either (6102).
    let (s, v) = f
        .call("officer", "POST", "/api/v1/approvals/iss-1/approve", None)
        .await;
    assert_eq!(
        (s, codes(&v)),
        (StatusCode::FORBIDDEN, vec![Code::OWN_REQUEST.0])
    );
    let (s, v) = f
        .call("rep2", "POST", "/api/v1/approvals/iss-1/approve", None)
        .await;
    assert_eq!(
        (s, codes(&v)),
        (StatusCode::FORBIDDEN, vec![Code::PERMISSION_DENIED.0])
    );
    // A second officer approves: the issuance happens, the journal names both.
    let (s, v) = f
        .call("officer2", "POST", "/api/v1/approvals/iss-1/approve", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "approved");
    assert_eq!(v["result"]["status"], "accepted", "{v}");
    let seq = v["result"]["seq"].as_u64().expect("seq");
    let (_, e) = f
        .call(
            "auditor",
            "GET",
            &format!("/api/v1/chains/IND01/entries/{seq}"),
            None,
        )
        .await;
    assert_eq!(e["actor"], "officer-1:approved-by:officer-2");
    let (_, now) = f
        .call(
            "officer",
            "GET",
            "/api/v1/registries/IND01/accounts/1002",
            None,
        )
        .await;
    assert_eq!(
        now["total"].as_u64(),
        before["total"].as_u64().map(|t| t + 10)
    );
    // Decided: a second approval finds nothing pending (6109); the maker's retry answers
    // with the outcome.
    let (s, v) = f
        .call("admin", "POST", "/api/v1/approvals/iss-1/approve", None)
        .await;
    assert_eq!(
        (s, codes(&v)),
        (StatusCode::NOT_FOUND, vec![Code::APPROVAL_NOT_PENDING.0])
    );
    let (s, v) = f
        .call("officer", "POST", "/api/v1/commands", Some(issue))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["seq"].as_u64(), Some(seq));
    // A rejected request never happens.
    let (s, _) = f.call("officer", "POST", "/api/v1/commands", Some(json!({"id": "iss-2", "chain": "IND01", "command": "issue", "account": 1002, "kind": "JCM", "project": "IN001", "period": {"start": "2026-01-01", "end": "2026-12-31"}, "quantity": 7}))).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v) = f
        .call("officer2", "POST", "/api/v1/approvals/iss-2/reject", None)
        .await;
    assert_eq!(
        (s, v["status"].clone()),
        (StatusCode::OK, json!("rejected"))
    );
    let (_, last) = f
        .call(
            "officer",
            "GET",
            "/api/v1/registries/IND01/accounts/1002",
            None,
        )
        .await;
    assert_eq!(last["total"], now["total"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_list_delay_and_limits_decide_when_a_transfer_needs_a_second_person() {
    let f = Fixture::new().await;
    let transfer = |id: &str, q: u64| json!({"id": id, "chain": "IND01", "command": "transfer", "from": 1003, "to": 1002, "quantity": q});
    // Outside the trusted list: kept for approval (default policy).
    let (s, v) = f
        .call("rep", "POST", "/api/v1/commands", Some(transfer("t1", 1)))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert!(
        v["approval"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("trusted list"),
        "{v}"
    );
    // With the reject policy: 6108.
    f.call(
        "admin",
        "PUT",
        "/api/v1/access_policies",
        Some(json!({"outside_trusted_list": "reject"})),
    )
    .await;
    let (s, v) = f
        .call("rep", "POST", "/api/v1/commands", Some(transfer("t2", 1)))
        .await;
    assert_eq!(
        (s, codes(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![Code::OUTSIDE_TRUSTED_LIST.0]
        )
    );
    // Added and approved by a second representative, the entry waits its delay (96 h).
    let (s, v) = f
        .call(
            "rep",
            "POST",
            "/api/v1/registries/IND01/accounts/1003/trusted_accounts",
            Some(json!({"trusted": 1002})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let ap = v["id"].as_str().expect("id").to_owned();
    let (s, v) = f
        .call(
            "rep",
            "POST",
            &format!("/api/v1/approvals/{ap}/approve"),
            None,
        )
        .await;
    assert_eq!(
        (s, codes(&v)),
        (StatusCode::FORBIDDEN, vec![Code::OWN_REQUEST.0])
    );
    let (s, v) = f
        .call(
            "rep2",
            "POST",
            &format!("/api/v1/approvals/{ap}/approve"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, l) = f
        .call(
            "rep",
            "GET",
            "/api/v1/registries/IND01/accounts/1003/trusted_accounts",
            None,
        )
        .await;
    assert_eq!(l["items"][0]["usable"], false, "{l}");
    let (s, _) = f
        .call("rep", "POST", "/api/v1/commands", Some(transfer("t3", 1)))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "still in its delay");
    // With no delay, a new entry is usable at once, and the transfer goes through.
    f.call(
        "admin",
        "PUT",
        "/api/v1/access_policies",
        Some(json!({"trusted_account_delay_hours": 0})),
    )
    .await;
    let (_, v) = f
        .call(
            "rep",
            "POST",
            "/api/v1/registries/IND01/accounts/1003/trusted_accounts",
            Some(json!({"trusted": 1002})),
        )
        .await;
    let ap = v["id"].as_str().expect("id").to_owned();
    f.call(
        "rep2",
        "POST",
        &format!("/api/v1/approvals/{ap}/approve"),
        None,
    )
    .await;
    let (s, v) = f
        .call("rep", "POST", "/api/v1/commands", Some(transfer("t4", 1)))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Above the account's limit: a second person again.
    f.call(
        "officer",
        "PUT",
        "/api/v1/registries/IND01/accounts/1003/limits",
        Some(json!({"transfer_limit": 1})),
    )
    .await;
    let (s, v) = f
        .call("rep", "POST", "/api/v1/commands", Some(transfer("t5", 2)))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert!(
        v["approval"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("limit"),
        "{v}"
    );
    let (s, v) = f
        .call("rep2", "POST", "/api/v1/approvals/t5/approve", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["result"]["status"], "accepted", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_envelope_with_their_code() {
    let f = Fixture::with_config(|c| c.body_limit_bytes = 2048).await;
    let (s, v) = f.call("anon", "GET", "/api/v1/nowhere", None).await;
    assert_eq!(
        (s, codes(&v)),
        (StatusCode::NOT_FOUND, vec![Code::NOT_FOUND.0])
    );
    let (s, v) = f.call("anon", "DELETE", "/api/v1/health", None).await;
    assert_eq!(
        (s, codes(&v)),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            vec![Code::METHOD_NOT_ALLOWED.0]
        )
    );
    let (s, v) = call(
        &f.app,
        "GET",
        "/api/v1/me",
        Some("tanso_not-a-token"),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (s, codes(&v)),
        (
            StatusCode::UNAUTHORIZED,
            vec![Code::AUTHENTICATION_REQUIRED.0]
        )
    );
    let (s, v) = call(
        &f.app,
        "GET",
        "/api/v1/me",
        None,
        None,
        &[("authorization", "Basic eDp5")],
    )
    .await;
    assert_eq!(
        (s, codes(&v)),
        (
            StatusCode::UNAUTHORIZED,
            vec![Code::AUTHENTICATION_REQUIRED.0]
        )
    );
    let (s, v) = f
        .call(
            "auditor",
            "GET",
            "/api/v1/chains/IND01/entries?limit=0",
            None,
        )
        .await;
    assert_eq!(
        (s, codes(&v)),
        (StatusCode::BAD_REQUEST, vec![Code::INVALID_REQUEST.0])
    );
    let (s, v) = f
        .call(
            "auditor",
            "GET",
            "/api/v1/chains/IND01/entries?cursor=zz",
            None,
        )
        .await;
    assert_eq!(
        (s, codes(&v)),
        (StatusCode::BAD_REQUEST, vec![Code::INVALID_REQUEST.0])
    );
    let big =
        json!({"id": "big", "chain": "IND01", "command": "transfer", "note": "x".repeat(4096)});
    let (s, v) = f.call("rep", "POST", "/api/v1/commands", Some(big)).await;
    assert_eq!(
        (s, codes(&v)),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            vec![Code::REQUEST_TOO_LARGE.0]
        )
    );
    let (s, v) = f
        .call(
            "anon",
            "POST",
            "/api/v1/sessions",
            Some(json!({"user": "auditor-1", "password": "wrong password!"})),
        )
        .await;
    assert_eq!(
        (s, codes(&v)),
        (
            StatusCode::UNAUTHORIZED,
            vec![Code::AUTHENTICATION_REQUIRED.0]
        )
    );
    let (s, v) = f
        .call(
            "admin",
            "POST",
            "/api/v1/users",
            Some(json!({"id": "auditor-1", "grants": []})),
        )
        .await;
    assert_eq!(
        (s, codes(&v)),
        (StatusCode::CONFLICT, vec![Code::ALREADY_EXISTS.0])
    );
    let (s, v) = f
        .call(
            "admin",
            "PUT",
            "/api/v1/access_policies",
            Some(json!({"no_such_policy": 1})),
        )
        .await;
    assert_eq!(
        (s, codes(&v)),
        (StatusCode::BAD_REQUEST, vec![Code::INVALID_REQUEST.0])
    );
    // A password becomes a token that works; the password itself is never stored.
    let (s, v) = f
        .call(
            "anon",
            "POST",
            "/api/v1/sessions",
            Some(json!({"user": "auditor-1", "password": "a long enough passphrase"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let t = v["token"].as_str().expect("token");
    let (s, me) = call(&f.app, "GET", "/api/v1/me", Some(t), None, &[]).await;
    assert_eq!((s, me["id"].clone()), (StatusCode::OK, json!("auditor-1")));
    let stored =
        std::fs::read_to_string(data(f.dir.path()).join("access.json")).expect("access.json");
    assert!(!stored.contains(t) && !stored.contains("a long enough passphrase"));
    assert!(stored.contains("$argon2id$"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_gets_429_and_others_are_unaffected() {
    let f = Fixture::new().await;
    let (s, _) = f
        .call(
            "admin",
            "PUT",
            "/api/v1/access_policies",
            Some(json!({"rate_limit_per_second": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut limited = None;
    for _ in 0..10 {
        let (s, v) = f.call("auditor", "GET", "/api/v1/me", None).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(v);
            break;
        }
    }
    let v = limited.expect("the auditor is rate limited within 10 requests");
    assert_eq!(codes(&v), vec![Code::RATE_LIMITED.0]);
    assert_eq!(v["permanent"], false);
    let (s, _) = f.call("officer", "GET", "/api/v1/me", None).await;
    assert_eq!(s, StatusCode::OK, "another user keeps its own bucket");
}

// ---------------------------------------------------------------------------------------
// Proofs.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retirement_proof_verifies_offline_and_fails_when_one_byte_changes() {
    let f = Fixture::new().await;
    let seq = a_retirement(&f).await;
    let (s, proof) = f
        .call(
            "anon",
            "GET",
            &format!("/api/v1/public/proofs/IND01/{seq}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{proof}");
    assert!(proof["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["event"] == "retired"));
    let trusted =
        TrustedKeys::load(&keys(f.dir.path()).join("trusted_keys")).expect("trusted keys");
    let p = tanso_cli::keys::proof_from_json(&proof).expect("proof");
    let entry = p.verify(&trusted).expect("the proof holds");
    assert_eq!(entry.seq, seq);
    // One byte changed anywhere — the entry, the path, the checkpoint — and it fails.
    let flip = |field: &str, at: usize| {
        let mut q = p.clone();
        match field {
            "entry" => {
                let n = q.entry.len();
                q.entry[at % n] ^= 1
            }
            "path" => q.audit_path[0][at % 32] ^= 1,
            "checkpoint" => {
                let n = q.checkpoint.len();
                q.checkpoint[at % n] ^= 1
            }
            _ => unreachable!(),
        }
        q
    };
    for at in [0usize, 7, 31, 40, 63, 90, 120] {
        for field in ["entry", "path", "checkpoint"] {
            assert!(
                flip(field, at).verify(&trusted).is_err(),
                "{field} byte {at} changed, proof still holds"
            );
        }
    }
    // A checkpoint signed by a key nobody trusts fails too.
    assert!(p.verify(&TrustedKeys::new()).is_err());
    // The same through `tanso verify-proof` with a file.
    let file = f.dir.path().join("proof.json");
    std::fs::write(&file, serde_json::to_vec(&proof).expect("json")).expect("write");
    let cli_args = |file: &Path| {
        vec![
            "tanso".into(),
            "--keys".into(),
            keys(f.dir.path()).into_os_string(),
            "verify-proof".into(),
            file.as_os_str().to_owned(),
        ]
    };
    assert_eq!(tanso_cli::main_with_args(cli_args(&file)), 0);
    let mut bad = proof.clone();
    let e = bad["entry"].as_str().expect("entry").to_owned();
    let tail = if e.ends_with('0') { "1" } else { "0" };
    bad["entry"] = json!(format!("{}{tail}", &e[..e.len() - 1]));
    let bad_file = f.dir.path().join("bad.json");
    std::fs::write(&bad_file, serde_json::to_vec(&bad).expect("json")).expect("write");
    assert_eq!(tanso_cli::main_with_args(cli_args(&bad_file)), 1);
    // Non-public entries have no public proof; auditors get any.
    let (s, _) = f
        .call("anon", "GET", "/api/v1/public/proofs/IND01/2", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = f
        .call("auditor", "GET", "/api/v1/public/proofs/IND01/2", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(tanso_cli::keys::proof_from_json(&v)
        .expect("proof")
        .verify(&trusted)
        .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_retirement_shows_its_beneficiary_and_later_corrections_without_other_personal_data(
) {
    let f = Fixture::new().await;
    let seq = a_retirement(&f).await;
    let (s, v) = f
        .call(
            "anon",
            "GET",
            &format!("/api/v1/public/retirements/IND01/{seq}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["retirements"][0]["beneficiary"].is_string(), "{v}");
    assert_eq!(v["corrected_by"], json!([]));
    let text = v.to_string();
    assert!(
        !text.contains("\"from\"") && !text.contains("note"),
        "no account or note in public data: {v}"
    );
    let (s, _) = f
        .call("anon", "GET", "/api/v1/public/retirements/IND01/1", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "entry 1 is not a retirement");
}

// ---------------------------------------------------------------------------------------
// The OpenAPI document.

#[test]
fn openapi_document_matches_its_snapshot() {
    let doc = tanso_cli::api::openapi::document();
    let text = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openapi.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, &text).expect("write snapshot");
    }
    let want = std::fs::read_to_string(&path).expect("snapshot (UPDATE_SNAPSHOTS=1 writes it)");
    assert!(want == text, "the OpenAPI document changed; review, then UPDATE_SNAPSHOTS=1 cargo test -p tanso-cli --test api");
    // Every operation has an id, a 2xx and the error envelope for its failures.
    let ops: Vec<&Value> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|p| p.as_object().expect("item").values())
        .collect();
    assert_eq!(ops.len(), routes::table().len());
    for op in ops {
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{}",
            op["operationId"]
        );
        assert_eq!(
            responses["503"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
    }
}
