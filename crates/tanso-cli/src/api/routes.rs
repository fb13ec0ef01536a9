//! The route table and its handlers. Each handler is a plain function of the request; the
//! table's documentation becomes the OpenAPI document (`openapi.rs`).

use super::access::{
    approval_json, parse_grant, user_json, Approval, Grant, Role, TrustedEntry, User,
};
use super::openapi::{body, option, path, query, OpDoc};
use super::perms::{has_role, judge, may_approve, may_read_account, Verdict};
use super::{json_ok, lock, page, Api, ApiError, Gate, Reply, Req, Route};
use crate::apply::{answer_json, submission, CompactAnswers};
use crate::store::AnyStore;
use axum::http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use tanso_core::checkpoint::SignedCheckpoint;
use tanso_core::entry::{split_run, Entry};
use tanso_core::*;
use tanso_engine::proof::{build, entry_bytes, entry_hashes, InclusionProof};
use tanso_engine::{Answer, Node, Outcome, Submission};
use tanso_store::Store;
use tanso_wire::out::{event_json, rejection_json};
use tanso_wire::{os_salt, parse_plain_transfer, parse_value, write_json};

const ADMIN: &[Role] = &[Role::RegistryAdmin];
const COMMANDERS: &[Role] = &[
    Role::RegistryAdmin,
    Role::RegistryOfficer,
    Role::AccountRepresentative,
    Role::JcMember,
    Role::Verifier,
    Role::NationalAuthority,
    Role::Participant,
];
const APPROVERS: &[Role] = &[
    Role::RegistryAdmin,
    Role::RegistryOfficer,
    Role::AccountRepresentative,
    Role::NationalAuthority,
    Role::Auditor,
];
const ACCOUNT_READERS: &[Role] = &[
    Role::RegistryAdmin,
    Role::RegistryOfficer,
    Role::AccountRepresentative,
    Role::Auditor,
];
const REGISTRY_READERS: &[Role] = &[Role::RegistryAdmin, Role::RegistryOfficer, Role::Auditor];
const CONTROLS: &[Role] = &[
    Role::RegistryAdmin,
    Role::RegistryOfficer,
    Role::AccountRepresentative,
];
const OFFICERS: &[Role] = &[Role::RegistryAdmin, Role::RegistryOfficer];
const JOURNAL_READERS: &[Role] = &[Role::RegistryAdmin, Role::Auditor];
const AUTHORITY_READERS: &[Role] = &[Role::NationalAuthority, Role::Auditor];
const COMPLIANCE_READERS: &[Role] = &[
    Role::RegistryAdmin,
    Role::RegistryOfficer,
    Role::Participant,
    Role::Auditor,
];
const POLICY_READERS: &[Role] = &[Role::RegistryAdmin, Role::Auditor];

#[expect(
    clippy::too_many_arguments,
    reason = "one row of the route table, written as a call so the table reads as a table"
)]
fn r(
    method: Method,
    path: &'static str,
    operation_id: &'static str,
    tag: &'static str,
    summary: &'static str,
    gate: Gate,
    handler: super::Handler,
    doc: OpDoc,
) -> Route {
    Route {
        method,
        path,
        operation_id,
        tag,
        summary,
        gate,
        handler,
        doc,
    }
}

/// Every operation of the API.
pub fn table() -> &'static [Route] {
    static TABLE: OnceLock<Vec<Route>> = OnceLock::new();
    TABLE.get_or_init(build_table)
}

fn build_table() -> Vec<Route> {
    use Gate::*;
    let (get, post, put) = (Method::GET, Method::POST, Method::PUT);
    let registry = || path("registry", "IND01", "registry chain, e.g. IND01");
    let account = || path("account", "1001", "account number");
    let chain = || {
        path(
            "chain",
            "IND01",
            "chain: IND01, party:IND or mechanism:JCM-IND-JPN",
        )
    };
    let cursor = || query("cursor", None, "opaque cursor from next_cursor");
    let limit = || query("limit", Some("50"), "items per page, 1..=500 (default 50)");
    vec![
        r(get.clone(), "/api/v1/openapi.json", "get_openapi", "meta", "This OpenAPI document", Public, get_openapi,
          OpDoc::new("OpenApi")),
        r(get.clone(), "/api/v1/health", "get_health", "meta", "Liveness and the node's writer state", Public, get_health,
          OpDoc::new("Health")),
        r(post.clone(), "/api/v1/sessions", "create_session", "auth", "Exchanges a user's password for a bearer token", Public, create_session,
          OpDoc::new("Session").status(201).body(body("SessionRequest", json!({"user": "demo-auditor", "password": "correct horse battery staple"})))),
        r(get.clone(), "/api/v1/me", "get_me", "auth", "The authenticated user and their grants", User, get_me,
          OpDoc::new("User")),
        r(get.clone(), "/api/v1/users", "list_users", "auth", "Users and their grants", Roles(ADMIN), list_users,
          OpDoc::new("UserList")),
        r(post.clone(), "/api/v1/users", "create_user", "auth", "Creates a user with grants (an administrator grants only within its own scope)", Roles(ADMIN), create_user,
          OpDoc::new("User").status(201).body(body("UserRequest", json!({"id": "example-officer", "password": "an example passphrase", "grants": [{"role": "registry_officer", "scope": "IND01"}]})))),
        r(post.clone(), "/api/v1/users/{user}/tokens", "create_token", "auth", "Issues a service token for a user; shown once, only its hash is kept", Roles(ADMIN), create_token,
          OpDoc::new("TokenCreated").status(201).param(path("user", "demo-auditor", "user id")).body(body("TokenRequest", json!({"label": "reporting service"})))),
        r(post.clone(), "/api/v1/commands", CREATE_COMMAND, "commands", "Submits one command (the `tanso apply` JSON); the Idempotency-Key header carries its id", Roles(COMMANDERS), create_command,
          OpDoc::new("CommandAccepted").command().body(body("Command", json!({"id": "example-dry-run-1", "chain": "IND01", "command": "transfer", "from": 1003, "to": 1002, "quantity": 1, "dry_run": true})))),
        r(post.clone(), "/api/v1/commands/batch", "create_command_batch", "commands", "Submits many commands, applied in order with group commit; one result each", Roles(COMMANDERS), create_command_batch,
          OpDoc::new("BatchResults").param(option("events", Some("true"), "false: each accepted result without its events (id, status, chain, seq, time, hash), for large batches")).body(body("CommandBatch", json!([{"id": "example-dry-run-2", "chain": "IND01", "command": "transfer", "from": 1003, "to": 1002, "quantity": 1, "dry_run": true}])))),
        r(get.clone(), "/api/v1/approvals", "list_approvals", "controls", "Requests waiting for a second person (and decided ones), as far as the user may see them", Roles(APPROVERS), list_approvals,
          OpDoc::new("ApprovalList").param(option("status", Some("pending"), "pending, approved, rejected or all"))),
        r(post.clone(), "/api/v1/approvals/{approval}/approve", "approve_approval", "controls", "A second person approves a request: it is carried out", Roles(APPROVERS), approve_approval,
          OpDoc::new("Approval").param(path("approval", "example-approval-1", "approval id")).command()),
        r(post.clone(), "/api/v1/approvals/{approval}/reject", "reject_approval", "controls", "A second person refuses a request", Roles(APPROVERS), reject_approval,
          OpDoc::new("Approval").param(path("approval", "example-approval-2", "approval id")).not_found()),
        r(get.clone(), "/api/v1/registries/{registry}/accounts/{account}/trusted_accounts", "list_trusted_accounts", "controls", "An account's trusted-account list", Roles(ACCOUNT_READERS), list_trusted_accounts,
          OpDoc::new("TrustedAccountList").param(registry()).param(account())),
        r(post.clone(), "/api/v1/registries/{registry}/accounts/{account}/trusted_accounts", "add_trusted_account", "controls", "Asks to add an account to the trusted list: a second person approves, then the delay runs", Roles(CONTROLS), add_trusted_account,
          OpDoc::new("Approval").status(202).param(registry()).param(account()).body(body("TrustedAccountRequest", json!({"trusted": 1002})))),
        r(put.clone(), "/api/v1/registries/{registry}/accounts/{account}/limits", "set_account_limits", "controls", "Sets the most one transfer may move without a second approval", Roles(OFFICERS), set_account_limits,
          OpDoc::new("Limits").param(registry()).param(account()).body(body("Limits", json!({"transfer_limit": 1000})))),
        r(get.clone(), "/api/v1/access_policies", "get_access_policies", "controls", "The named policies of the controls", Roles(POLICY_READERS), get_access_policies,
          OpDoc::new("Policies")),
        r(put.clone(), "/api/v1/access_policies", "set_access_policies", "controls", "Changes named policies of the controls", Roles(ADMIN), set_access_policies,
          OpDoc::new("Policies").body(body("PoliciesPatch", json!({"trusted_account_delay_hours": 96})))),
        r(get.clone(), "/api/v1/chains", "list_chains", "journal", "Every chain: head, sequence and latest checkpoint", User, list_chains,
          OpDoc::new("ChainList")),
        r(get.clone(), "/api/v1/chains/{chain}/entries", "list_entries", "journal", "A chain's entries with their events", Roles(JOURNAL_READERS), list_entries,
          OpDoc::new("EntryPage").param(chain()).param(cursor()).param(limit())),
        r(get.clone(), "/api/v1/chains/{chain}/entries/{seq}", "get_entry", "journal", "One entry with its events", Roles(JOURNAL_READERS), get_entry,
          OpDoc::new("Entry").param(chain()).param(path("seq", "1", "sequence number"))),
        r(get.clone(), "/api/v1/registries/{registry}/accounts", "list_accounts", "registry", "A registry's accounts", Roles(REGISTRY_READERS), list_accounts,
          OpDoc::new("AccountPage").param(registry()).param(cursor()).param(limit())),
        r(get.clone(), "/api/v1/registries/{registry}/accounts/{account}", "get_account", "registry", "One account: holder, kind, status, total held", Roles(ACCOUNT_READERS), get_account,
          OpDoc::new("Account").param(registry()).param(account())),
        r(get.clone(), "/api/v1/registries/{registry}/accounts/{account}/holdings", "list_holdings", "registry", "The blocks an account holds", Roles(ACCOUNT_READERS), list_holdings,
          OpDoc::new("Holdings").param(registry()).param(account())),
        r(get.clone(), "/api/v1/registries/{registry}/blocks/{serial}", "get_block", "registry", "The block that holds a serial", Roles(REGISTRY_READERS), get_block,
          OpDoc::new("Block").param(registry()).param(path("serial", "1", "serial number")).param(query("issuing", Some("IND01"), "issuing registry (default: this registry)"))),
        r(get.clone(), "/api/v1/serials/{issuing}/{serial}/history", "list_serial_history", "registry", "Every entry that touched a serial, from its issuance on", Roles(REGISTRY_READERS), list_serial_history,
          OpDoc::new("History").param(path("issuing", "IND01", "issuing registry")).param(path("serial", "1", "serial number"))),
        r(get.clone(), "/api/v1/registries/{registry}/transfers", "list_transfers", "registry", "Cross-registry transfers, outbound and inbound, with their DES status", Roles(REGISTRY_READERS), list_transfers,
          OpDoc::new("TransferList").param(registry())),
        r(get.clone(), "/api/v1/registries/{registry}/retirements", "list_retirements", "registry", "Retirements with their accounts", Roles(REGISTRY_READERS), list_retirements,
          OpDoc::new("RetirementPage").param(registry()).param(cursor()).param(limit())),
        r(get.clone(), "/api/v1/projects", "list_projects", "mechanisms", "JCM projects and their monitoring periods", Public, list_projects,
          OpDoc::new("ProjectList").param(query("mechanism", Some("mechanism:JCM-IND-JPN"), "mechanism chain"))),
        r(get.clone(), "/api/v1/projects/{project}", "get_project", "mechanisms", "One JCM project", Public, get_project,
          OpDoc::new("Project").param(path("project", "IN001", "project id")).param(query("mechanism", Some("mechanism:JCM-IND-JPN"), "mechanism chain"))),
        r(get.clone(), "/api/v1/methodologies", "list_methodologies", "mechanisms", "Methodology versions on a mechanism chain, with their status", Public, list_methodologies,
          OpDoc::new("MethodologyList").param(query("mechanism", Some("mechanism:JCM-IND-JPN"), "mechanism chain"))),
        r(get.clone(), "/api/v1/parties/{party}/authorizations", "list_authorizations", "article6", "A party's authorizations, every version", Roles(AUTHORITY_READERS), list_authorizations,
          OpDoc::new("AuthorizationList").param(path("party", "IND", "party, ISO 3166 alpha-3"))),
        r(get.clone(), "/api/v1/compliance", "list_compliance", "ccts", "CCTS compliance per obligated entity and year", Roles(COMPLIANCE_READERS), list_compliance,
          OpDoc::new("ComplianceList").param(query("mechanism", Some("mechanism:CCTS-IND"), "scheme chain")).param(query("year", None, "compliance year (default: all)"))),
        r(get.clone(), "/api/v1/reports/aef/{party}/{year}", "get_aef_report", "article6", "The AEF projection for a party and year, with the consistency checks", Roles(AUTHORITY_READERS), get_aef_report,
          OpDoc::new("AefReport").param(path("party", "IND", "party")).param(path("year", "2026", "reported year"))),
        r(get.clone(), "/api/v1/public/issuances", "list_public_issuances", "public", "Issuances, as published", Public, list_public_issuances,
          OpDoc::new("PublicIssuancePage").param(query("registry", Some("IND01"), "registry chain")).param(cursor()).param(limit())),
        r(get.clone(), "/api/v1/public/retirements", "list_public_retirements", "public", "Retirements, with the beneficiary as published and any later correction", Public, list_public_retirements,
          OpDoc::new("PublicRetirementPage").param(query("registry", Some("IND01"), "registry chain")).param(cursor()).param(limit())),
        r(get.clone(), "/api/v1/public/retirements/{registry}/{seq}", "get_public_retirement", "public", "One retirement entry, its corrections and its proof's address", Public, get_public_retirement,
          OpDoc::new("PublicRetirement").param(registry()).param(path("seq", "26", "sequence number of the entry"))),
        r(get.clone(), "/api/v1/public/checkpoints", "list_public_checkpoints", "public", "The latest signed checkpoint of every chain", Public, list_public_checkpoints,
          OpDoc::new("CheckpointList")),
        r(get.clone(), "/api/v1/public/proofs/{chain}/{seq}", "get_public_proof", "public", "Inclusion proof of an issuance or retirement entry against a signed checkpoint (any entry for auditors); check it offline with `tanso verify-proof`", Public, get_public_proof,
          OpDoc::new("Proof").param(chain()).param(path("seq", "26", "sequence number"))),
        r(get.clone(), "/api/v1/public/aef_summaries/{party}/{year}", "get_public_aef_summary", "public", "Totals of a party's AEF for a year", Public, get_public_aef_summary,
          OpDoc::new("AefSummary").param(path("party", "IND", "party")).param(path("year", "2026", "reported year"))),
        r(get.clone(), "/api/v1/public/keys", "list_public_keys", "public", "The public keys that sign checkpoints (check them against the registry's published fingerprints)", Public, list_public_keys,
          OpDoc::new("KeyList")),
    ]
}

// ---------------------------------------------------------------------------------------
// Meta and authentication.

fn get_openapi(_: &Api, _: &Req) -> Result<Reply, ApiError> {
    json_ok(super::openapi::document())
}

fn get_health(api: &Api, _: &Req) -> Result<Reply, ApiError> {
    // `writer` is false on a reader of a shared store (it serves reads, refuses commands with
    // 7002): a load balancer sends commands only where it is true.
    let (chains, poisoned, writer) = api
        .engine
        .with_node(|n| (n.chains().count(), n.is_poisoned(), n.is_writer()));
    json_ok(
        json!({"status": if poisoned { "degraded" } else { "ok" }, "chains": chains, "writer": writer}),
    )
}

fn obj(v: &Value) -> Result<&Map<String, Value>, ApiError> {
    v.as_object()
        .ok_or_else(|| ApiError::invalid("the body must be a JSON object"))
}

fn str_field<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, ApiError> {
    m.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid(format!("{k} is a required string")))
}

fn created(v: Value) -> Result<Reply, ApiError> {
    Ok(Reply::new(StatusCode::CREATED, v))
}

fn create_session(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let v = req.json()?;
    let m = obj(&v)?;
    let user = str_field(m, "user")?;
    let password = str_field(m, "password")?;
    let denied = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            Code::AUTHENTICATION_REQUIRED,
            "unknown user or wrong password",
        )
    };
    let phc = lock(&api.access)
        .users
        .get(user)
        .and_then(|u| u.password_hash.clone())
        .ok_or_else(denied)?;
    if !super::access::password_matches(&phc, password) {
        return Err(denied());
    }
    let now = api.now().to_string();
    let token = api.change_access(|a| {
        a.issue_token(user, "session", &now)
            .map_err(|e| ApiError::unavailable(format!("{e:#}")))
    })?;
    created(json!({"token": token, "user": user}))
}

fn get_me(_: &Api, req: &Req) -> Result<Reply, ApiError> {
    json_ok(user_json(req.user()?))
}

fn list_users(api: &Api, _: &Req) -> Result<Reply, ApiError> {
    let users: Vec<Value> = lock(&api.access).users.values().map(user_json).collect();
    json_ok(json!({"items": users}))
}

/// Whether an administrator's grants let it hand out `g`.
fn may_grant(admin: &User, g: &Grant) -> bool {
    admin.grants.iter().any(|a| {
        a.role == Role::RegistryAdmin
            && (a.scope == "*"
                || g.scope == a.scope
                || g.scope.starts_with(&format!("{}/", a.scope)))
    })
}

fn create_user(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let admin = req.user()?;
    let v = req.json()?;
    let m = obj(&v)?;
    let id = str_field(m, "id")?.to_owned();
    let grants = m
        .get("grants")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid("grants is a required array"))?
        .iter()
        .map(parse_grant)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::invalid)?;
    if let Some(g) = grants.iter().find(|g| !may_grant(admin, g)) {
        return Err(ApiError::forbidden(format!(
            "{} may not grant {} over {}",
            admin.id,
            g.role.as_str(),
            g.scope
        )));
    }
    let password_hash = match m.get("password") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.len() >= 12 && p.len() <= 256 => Some(
            super::access::hash_password(p).map_err(|e| ApiError::unavailable(format!("{e:#}")))?,
        ),
        Some(_) => return Err(ApiError::invalid("password is a string of 12 to 256 bytes")),
    };
    let user = User {
        id: id.clone(),
        grants,
        password_hash,
        created_at: api.now().to_string(),
    };
    let out = user_json(&user);
    api.change_access(|a| {
        a.add_user(user).map_err(|e| {
            if e.contains("exists") {
                ApiError::new(StatusCode::CONFLICT, Code::ALREADY_EXISTS, e)
            } else {
                ApiError::invalid(e)
            }
        })
    })?;
    tracing::info!(by = %admin.id, user = %id, "user created");
    created(out)
}

fn create_token(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let admin = req.user()?;
    let user = req.param("user").to_owned();
    let label = if req.body.is_empty() {
        "service".to_owned()
    } else {
        let v = req.json()?;
        obj(&v)?
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or("service")
            .chars()
            .take(80)
            .collect()
    };
    let target = lock(&api.access)
        .users
        .get(&user)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no user {user}")))?;
    if !target.grants.iter().all(|g| may_grant(admin, g)) {
        return Err(ApiError::forbidden(format!(
            "{} may not act for {user}, whose grants reach beyond its scope",
            admin.id
        )));
    }
    let now = api.now().to_string();
    let token = api.change_access(|a| {
        a.issue_token(&user, &label, &now)
            .map_err(|e| ApiError::unavailable(format!("{e:#}")))
    })?;
    tracing::info!(by = %admin.id, user = %user, "token issued");
    created(json!({"token": token, "user": user, "label": label}))
}

// ---------------------------------------------------------------------------------------
// Commands.

/// One command of a request, ready to submit: the JSON with its id and actor settled.
struct Prepared {
    value: Value,
    id: String,
    chain: String,
}

fn reject(status: StatusCode, id: Option<&str>, code: Code, msg: impl Into<String>) -> ApiError {
    ApiError {
        status,
        rejection: Rejection::one(code, msg),
        id: id.map(str::to_owned),
    }
}

/// Settles the id (Idempotency-Key) and the actor (the authenticated user).
fn prepare(user: &User, mut v: Value, key: Option<&str>) -> Result<Prepared, ApiError> {
    let id_in_body = v.get("id").and_then(Value::as_str).map(str::to_owned);
    let Some(m) = v.as_object_mut() else {
        return Err(reject(
            StatusCode::BAD_REQUEST,
            None,
            Code::MALFORMED_COMMAND,
            "a command is a JSON object",
        ));
    };
    let id = match (key, id_in_body) {
        (Some(k), Some(b)) if k != b => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                Some(&b),
                Code::IDEMPOTENCY_KEY_MISMATCH,
                format!("Idempotency-Key {k:?} differs from the command id {b:?}"),
            ))
        }
        (Some(k), _) => k.to_owned(),
        (None, Some(b)) => b,
        (None, None) => {
            return Err(reject(
                StatusCode::BAD_REQUEST,
                None,
                Code::MALFORMED_COMMAND,
                "the command needs an id (or an Idempotency-Key header)",
            ))
        }
    };
    m.insert("id".into(), json!(id));
    match m.get("actor").and_then(Value::as_str) {
        Some(a) if a != user.id => {
            return Err(reject(
                StatusCode::FORBIDDEN,
                Some(&id),
                Code::ACTOR_MISMATCH,
                format!("actor {a:?} is not the authenticated user {:?}", user.id),
            ))
        }
        _ => {}
    }
    m.insert("actor".into(), json!(user.id));
    let chain = m
        .get("chain")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Prepared {
        value: v,
        id,
        chain,
    })
}

/// A plain transfer read straight from its JSON text (`parse_plain_transfer`) that the user
/// may make outright: submitted exactly as `check` would submit it. `None` for anything else
/// (another shape, a request awaiting approval under its id, a refusal, a second person
/// needed), which `check` answers.
fn check_plain(api: &Api, user: &User, text: &str, now: i64) -> Option<Checked> {
    let parsed = parse_plain_transfer(text, &user.id)?;
    let cmd = parsed.command.as_ref().ok()?;
    {
        let access = lock(&api.access);
        if access.approvals.contains_key(parsed.id.as_str()) {
            return None;
        }
        let verdict = judge(&access, user, &parsed.chain, cmd, now);
        if !matches!(verdict, Verdict::Allowed) {
            return None;
        }
    }
    let dry_run = parsed.dry_run;
    Some(Checked::Submit(submission(parsed), dry_run))
}

/// The status for an engine answer.
fn answer_reply(a: &Answer, dry_run: bool) -> Reply {
    let status = match &a.outcome {
        Outcome::Accepted(_) => StatusCode::OK,
        Outcome::Rejected(r) if r.is_permanent() => StatusCode::UNPROCESSABLE_ENTITY,
        Outcome::Rejected(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    Reply::new(status, answer_json(a, dry_run))
}

fn unbound_reply(id: Option<&str>, rej: &Rejection) -> Reply {
    let status = if rej.codes().contains(&Code::MALFORMED_COMMAND)
        || rej.codes().contains(&Code::MALFORMED_ID)
    {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Reply::new(status, rejection_json(id, rej, false, false))
}

fn err_reply(e: ApiError) -> Reply {
    Reply::new(e.status, e.body())
}

/// What the edge makes of one command before the engine. (Most commands are for the engine:
/// that variant stays unboxed.)
#[allow(clippy::large_enum_variant)]
enum Checked {
    /// Answered here: refused, or already waiting for (or decided by) a second person.
    Done(Reply),
    /// For the engine, with its dry-run flag.
    Submit(Submission, bool),
    /// For a second person: the request to keep (`request_approval`, which writes the access
    /// file) before answering.
    Approve(Approval),
}

/// Checks one command and routes it to approval, or readies it for the engine.
fn check(api: &Api, user: &User, v: Value, key: Option<&str>) -> Checked {
    let dry_run = v.get("dry_run").and_then(Value::as_bool) == Some(true);
    match check_inner(api, user, v, key) {
        // Refusals before the engine still say whether the request was a dry run.
        Checked::Done(mut r) if dry_run && r.body["status"] == "rejected" => {
            r.body["dry_run"] = json!(true);
            Checked::Done(r)
        }
        c => c,
    }
}

fn check_inner(api: &Api, user: &User, v: Value, key: Option<&str>) -> Checked {
    let p = match prepare(user, v, key) {
        Ok(p) => p,
        Err(e) => return Checked::Done(err_reply(e)),
    };
    // A request already waiting for (or decided by) a second person answers from there.
    if let Some(ap) = lock(&api.access).approvals.get(&p.id) {
        let mut probe = p.value.clone();
        if ap.status != "pending" {
            super::access::forget_personal(&mut probe);
        }
        if ap.kind == "command" && ap.payload == probe {
            return Checked::Done(approval_reply(ap));
        }
    }
    let mut salt = os_salt;
    let parsed = match parse_value(&p.value, &mut salt) {
        Ok(x) => x,
        Err(u) => return Checked::Done(unbound_reply(u.id.as_deref(), &u.rejection)),
    };
    let dry_run = parsed.dry_run;
    if let Ok(cmd) = &parsed.command {
        let now = api.now().0;
        let verdict = judge(&lock(&api.access), user, &parsed.chain, cmd, now);
        match verdict {
            Verdict::Allowed => {}
            Verdict::Denied(msg) => {
                let code = if msg.contains("trusted list") {
                    Code::OUTSIDE_TRUSTED_LIST
                } else {
                    Code::PERMISSION_DENIED
                };
                let status = if code == Code::OUTSIDE_TRUSTED_LIST {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::FORBIDDEN
                };
                return Checked::Done(err_reply(reject(status, Some(&p.id), code, msg)));
            }
            Verdict::NeedsApproval { .. } if dry_run => {}
            Verdict::NeedsApproval { reason, account } => {
                // Nothing is applied until a second person approves; the request is kept.
                let ap = Approval {
                    id: p.id.clone(),
                    kind: "command".into(),
                    payload: p.value.clone(),
                    maker: user.id.clone(),
                    reason,
                    chain: p.chain.clone(),
                    account,
                    created_at: api.now().to_string(),
                    status: "pending".into(),
                    checker: None,
                    result: None,
                };
                return Checked::Approve(ap);
            }
        }
    } else {
        // A command the edge could not read still binds its id to the rejection (as in
        // `tanso apply`), but only for users who may submit on that chain at all.
        let chain_s = parsed.chain.to_string();
        if !user
            .grants
            .iter()
            .any(|g| g.covers_chain(&chain_s) || g.scope.starts_with(&format!("{chain_s}/")))
        {
            return Checked::Done(err_reply(reject(
                StatusCode::FORBIDDEN,
                Some(&p.id),
                Code::PERMISSION_DENIED,
                format!("{} has no grant on {chain_s}", user.id),
            )));
        }
    }
    Checked::Submit(submission(parsed), dry_run)
}

/// Keeps a request for a second person's approval (in the access file) and answers 202, or
/// refuses an id already used by another request awaiting approval.
fn request_approval(api: &Api, ap: Approval) -> Reply {
    let id = ap.id.clone();
    let out = api.change_access(|a| {
        if a.approvals.contains_key(&id) {
            return Err(reject(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&id),
                Code::ID_REUSED_WITH_OTHER_CONTENT,
                format!("command id {id} is already used by another request awaiting approval"),
            ));
        }
        a.approvals.insert(id.clone(), ap.clone());
        Ok(approval_reply(&ap))
    });
    out.unwrap_or_else(err_reply)
}

fn approval_reply(ap: &Approval) -> Reply {
    match (&ap.status[..], &ap.result) {
        ("approved", Some(r)) => Reply::new(
            if r["status"] == "accepted" {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            r.clone(),
        ),
        _ => Reply::new(
            StatusCode::ACCEPTED,
            json!({"status": "awaiting_approval", "approval": approval_json(ap)}),
        ),
    }
}

/// A request body (or batch item) that is not JSON: 400, 6006.
fn not_json(e: serde_json::Error) -> ApiError {
    reject(
        StatusCode::BAD_REQUEST,
        None,
        Code::MALFORMED_COMMAND,
        format!("not valid JSON: {e}"),
    )
}

/// The body and the Idempotency-Key of a command request.
fn command_request(req: &Req) -> Result<(Value, Option<&str>), ApiError> {
    let v: Value = serde_json::from_slice(&req.body).map_err(not_json)?;
    Ok((v, idempotency_key(req)?))
}

fn idempotency_key(req: &Req) -> Result<Option<&str>, ApiError> {
    match req.headers.get("idempotency-key") {
        None => Ok(None),
        Some(h) => h.to_str().map(Some).map_err(|_| {
            reject(
                StatusCode::BAD_REQUEST,
                None,
                Code::MALFORMED_ID,
                "the Idempotency-Key header is not text",
            )
        }),
    }
}

/// A single command checked: a plain transfer the user may make outright (whose id is the
/// Idempotency-Key, if one is given) read straight from its text (`check_plain`), anything
/// else through `check`; the same answers either way.
fn check_single(api: &Api, user: &User, req: &Req) -> Result<Checked, ApiError> {
    if let (Ok(key), Ok(text)) = (idempotency_key(req), std::str::from_utf8(&req.body)) {
        match check_plain(api, user, text, api.now().0) {
            Some(Checked::Submit(sub, dry_run)) if key.is_none_or(|k| k == sub.id.as_str()) => {
                return Ok(Checked::Submit(sub, dry_run));
            }
            _ => {}
        }
    }
    let (v, key) = command_request(req)?;
    Ok(check(api, user, v, key))
}

/// Checks, routes to approval, or submits one command and waits for its durable answer
/// (`Engine::submit`: on this thread when the engine is idle).
fn create_command(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    // Failures keep the engine's envelope (id, replayed, dry_run) with their status.
    Ok(match check_single(api, user, req)? {
        Checked::Done(r) => r,
        Checked::Submit(sub, dry_run) => answer_reply(&api.engine.submit(sub), dry_run),
        Checked::Approve(ap) => request_approval(api, ap),
    })
}

/// The operation served by [`create_command_async`].
pub const CREATE_COMMAND: &str = "create_command";

/// `create_command` on the async runtime, without a blocking thread: the checks are in
/// memory, and the request's task sleeps until the writer wakes it with the durable answer
/// (`Engine::submit_future`). Only keeping a request for approval, which writes the access
/// file, goes to a blocking thread. The same answers as `create_command`.
pub async fn create_command_async(api: std::sync::Arc<Api>, req: Req) -> Result<Reply, ApiError> {
    let checked = {
        let user = req.user()?;
        check_single(&api, user, &req)?
    };
    match checked {
        Checked::Done(r) => Ok(r),
        Checked::Submit(sub, dry_run) => {
            Ok(answer_reply(&api.engine.submit_future(sub).await, dry_run))
        }
        Checked::Approve(ap) => tokio::task::spawn_blocking(move || request_approval(&api, ap))
            .await
            .map_err(|e| ApiError::unavailable(format!("handler failed: {e}"))),
    }
}

/// A batch item: its JSON text, or (if the body could not be read as an array of texts) its
/// value.
enum Item<'a> {
    Text(&'a serde_json::value::RawValue),
    Value(Value),
}

fn create_command_batch(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    // Items as their JSON text: plain transfers are read straight from it (`check_plain`).
    let items: Vec<Item> =
        match serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(&req.body) {
            Ok(texts) => texts.into_iter().map(Item::Text).collect(),
            Err(_) => {
                // Whatever the reason, answered as reading the body as one value answers it.
                let v: Value = serde_json::from_slice(&req.body).map_err(not_json)?;
                let Value::Array(items) = v else {
                    return Err(reject(
                        StatusCode::BAD_REQUEST,
                        None,
                        Code::MALFORMED_COMMAND,
                        "a batch is a JSON array of commands",
                    ));
                };
                items.into_iter().map(Item::Value).collect()
            }
        };
    let max = api.config.batch_commands_max;
    if items.len() > max {
        return Err(reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            Code::REQUEST_TOO_LARGE,
            format!("a batch holds at most {max} commands"),
        ));
    }
    let events = match req.query.get("events").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(ApiError::invalid("events is true or false")),
    };
    // Check every command, then hand the engine the ones for it as one job (one answer
    // channel, applied in order), and answer in the request's order.
    let mut slots: Vec<Result<Value, bool>> = Vec::with_capacity(items.len());
    let mut subs = Vec::with_capacity(items.len());
    // The request's time, for the controls of every plain transfer in it.
    let now = api.now().0;
    for item in items {
        let checked = match item {
            Item::Text(text) => match check_plain(api, user, text.get(), now) {
                Some(c) => c,
                None => match serde_json::from_str::<Value>(text.get()) {
                    Ok(v) => check(api, user, v, None),
                    // Not reached: the item was read as JSON.
                    Err(e) => Checked::Done(err_reply(not_json(e))),
                },
            },
            Item::Value(v) => check(api, user, v, None),
        };
        match checked {
            Checked::Done(r) => slots.push(Ok(r.body)),
            Checked::Approve(ap) => slots.push(Ok(request_approval(api, ap).body)),
            Checked::Submit(sub, dry_run) => {
                slots.push(Err(dry_run));
                subs.push(sub);
            }
        }
    }
    let answers = if events {
        api.engine.submit_many_async(subs)
    } else {
        api.engine.submit_many_async_without_events(subs)
    };
    let mut answers = answers.recv().ok().map(Vec::into_iter);
    // `{"results": [...]}`, written straight to bytes: a batch's results are the bulk of the
    // work the server does for it.
    let mut out = Vec::with_capacity(32 + slots.len() * if events { 512 } else { 192 });
    out.extend_from_slice(b"{\"results\":[");
    let mut compact = CompactAnswers::default();
    for (i, slot) in slots.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match slot {
            Ok(body) => write_json(&mut out, &body),
            Err(dry_run) => match answers.as_mut().and_then(Iterator::next) {
                Some(a) if events => write_json(&mut out, &answer_json(&a, dry_run)),
                Some(a) => compact.write(&mut out, &a, dry_run),
                None => write_json(
                    &mut out,
                    &err_reply(ApiError::unavailable(
                        "the writer stopped; retry the same command",
                    ))
                    .body,
                ),
            },
        }
    }
    out.extend_from_slice(b"]}");
    Ok(Reply::raw_json(out))
}

// ---------------------------------------------------------------------------------------
// Approvals and controls.

fn list_approvals(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let want = req
        .query
        .get("status")
        .map(String::as_str)
        .unwrap_or("pending");
    if !matches!(want, "pending" | "approved" | "rejected" | "all") {
        return Err(ApiError::invalid(
            "status is pending, approved, rejected or all",
        ));
    }
    let auditor = user.grants.iter().any(|g| g.role == Role::Auditor);
    let items: Vec<Value> = lock(&api.access)
        .approvals
        .values()
        .filter(|a| want == "all" || a.status == want)
        .filter(|a| {
            auditor || a.maker == user.id || may_approve(user, &a.maker, &a.chain, a.account)
        })
        .map(approval_json)
        .collect();
    json_ok(json!({"items": items}))
}

fn pending(api: &Api, user: &User, id: &str) -> Result<Approval, ApiError> {
    let ap = lock(&api.access)
        .approvals
        .get(id)
        .cloned()
        .filter(|a| a.status == "pending")
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                Code::APPROVAL_NOT_PENDING,
                format!("no pending request {id}"),
            )
        })?;
    if ap.maker == user.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            Code::OWN_REQUEST,
            "a request needs a second person: its maker cannot approve or reject it",
        ));
    }
    if !may_approve(user, &ap.maker, &ap.chain, ap.account) {
        return Err(ApiError::forbidden(format!(
            "{} may not decide requests of {}",
            user.id, ap.chain
        )));
    }
    Ok(ap)
}

fn approve_approval(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let ap = pending(api, user, req.param("approval"))?;
    let result = match ap.kind.as_str() {
        "command" => {
            // The journal names both people: the maker, approved by the checker.
            let mut v = ap.payload.clone();
            v["actor"] = json!(format!("{}:approved-by:{}", ap.maker, user.id));
            let mut salt = os_salt;
            let parsed = parse_value(&v, &mut salt).map_err(|u| ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                rejection: u.rejection,
                id: u.id,
            })?;
            let answer = api
                .engine
                .submit_async(submission(parsed))
                .recv()
                .map_err(|_| ApiError::unavailable("the writer stopped; approve again"))?;
            if let Outcome::Rejected(r) = &answer.outcome {
                if !r.is_permanent() {
                    return Err(ApiError {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        rejection: r.clone(),
                        id: Some(ap.id.clone()),
                    });
                }
            }
            answer_json(&answer, false)
        }
        "trusted_account" => {
            let registry = ap.payload["registry"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let account = ap.payload["account"].as_u64().unwrap_or_default();
            let trusted = ap.payload["trusted"].as_u64().unwrap_or_default();
            let delay = lock(&api.access).policies.trusted_account_delay_hours;
            let usable = api.now().0.saturating_add(i64::from(delay) * 3_600_000_000);
            api.change_access(|a| {
                let list = a.trusted.entry((registry.clone(), account)).or_default();
                list.retain(|e| e.trusted != trusted);
                list.push(TrustedEntry {
                    trusted,
                    added_by: ap.maker.clone(),
                    usable_from_micros: usable,
                });
                Ok(())
            })?;
            json!({"status": "accepted", "registry": registry, "account": account, "trusted": trusted,
                   "usable_from": Timestamp(usable).to_string()})
        }
        other => return Err(ApiError::invalid(format!("unknown request kind {other}"))),
    };
    let checker = user.id.clone();
    let id = ap.id.clone();
    let done = api.change_access(|a| {
        let x = a
            .approvals
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("request vanished"))?;
        x.status = "approved".into();
        x.checker = Some(checker.clone());
        super::access::forget_personal(&mut x.payload);
        x.result = Some(result.clone());
        Ok(x.clone())
    })?;
    tracing::info!(approval = %id, maker = %done.maker, checker = %checker, "request approved");
    json_ok(approval_json(&done))
}

fn reject_approval(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let ap = pending(api, user, req.param("approval"))?;
    let checker = user.id.clone();
    let done = api.change_access(|a| {
        let x = a
            .approvals
            .get_mut(&ap.id)
            .ok_or_else(|| ApiError::not_found("request vanished"))?;
        x.status = "rejected".into();
        x.checker = Some(checker.clone());
        super::access::forget_personal(&mut x.payload);
        Ok(x.clone())
    })?;
    tracing::info!(approval = %ap.id, checker = %checker, "request rejected");
    json_ok(approval_json(&done))
}

/// Parses the registry and account of a path and checks that the account exists.
fn account_of(api: &Api, req: &Req) -> Result<(RegistryId, u64), ApiError> {
    let reg = RegistryId::parse(req.param("registry"))
        .map_err(|_| ApiError::not_found(format!("no registry {}", req.param("registry"))))?;
    let account: u64 = req
        .param("account")
        .parse()
        .map_err(|_| ApiError::not_found(format!("no account {}", req.param("account"))))?;
    let exists = api.engine.with_node(|n| {
        n.chain(&ChainId::Registry(reg))
            .and_then(|c| c.state.registry())
            .is_some_and(|s| s.account(AccountId(account)).is_some())
    });
    if !exists {
        return Err(ApiError::not_found(format!(
            "no account {account} in {reg}"
        )));
    }
    Ok((reg, account))
}

fn list_trusted_accounts(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let (reg, account) = account_of(api, req)?;
    if !may_read_account(user, reg.as_str(), account) {
        return Err(ApiError::forbidden(format!(
            "{} may not read account {account} of {reg}",
            user.id
        )));
    }
    let now = api.now().0;
    let items: Vec<Value> = lock(&api.access)
        .trusted
        .get(&(reg.as_str().to_owned(), account))
        .map(|es| {
            es.iter()
                .map(|e| {
                    json!({"trusted": e.trusted, "added_by": e.added_by,
                    "usable_from": Timestamp(e.usable_from_micros).to_string(),
                    "usable": e.usable_from_micros <= now})
                })
                .collect()
        })
        .unwrap_or_default();
    json_ok(json!({"registry": reg.as_str(), "account": account, "items": items}))
}

fn add_trusted_account(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let (reg, account) = account_of(api, req)?;
    let allowed = has_role(
        user,
        &[Role::RegistryAdmin, Role::RegistryOfficer],
        reg.as_str(),
    ) || user.grants.iter().any(|g| {
        g.role == Role::AccountRepresentative
            && g.initiate
            && g.covers_account(reg.as_str(), account)
    });
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "{} may not change account {account}'s trusted list",
            user.id
        )));
    }
    let v = req.json()?;
    let trusted = obj(&v)?
        .get("trusted")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::invalid("trusted is a required account number"))?;
    let ap = Approval {
        id: String::new(),
        kind: "trusted_account".into(),
        payload: json!({"registry": reg.as_str(), "account": account, "trusted": trusted}),
        maker: user.id.clone(),
        reason: format!("add account {trusted} to account {account}'s trusted list"),
        chain: reg.as_str().to_owned(),
        account: Some(account),
        created_at: api.now().to_string(),
        status: "pending".into(),
        checker: None,
        result: None,
    };
    let ap = api.change_access(|a| {
        let mut ap = ap;
        ap.id = a.new_approval_id();
        a.approvals.insert(ap.id.clone(), ap.clone());
        Ok(ap)
    })?;
    Ok(Reply::new(StatusCode::ACCEPTED, approval_json(&ap)))
}

fn set_account_limits(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let (reg, account) = account_of(api, req)?;
    if !has_role(
        user,
        &[Role::RegistryAdmin, Role::RegistryOfficer],
        reg.as_str(),
    ) {
        return Err(ApiError::forbidden(format!(
            "{} may not set limits in {reg}",
            user.id
        )));
    }
    let v = req.json()?;
    let limit = match obj(&v)?.get("transfer_limit") {
        Some(Value::Null) => None,
        Some(x) => Some(
            x.as_u64()
                .ok_or_else(|| ApiError::invalid("transfer_limit is a whole number or null"))?,
        ),
        None => {
            return Err(ApiError::invalid(
                "transfer_limit is required (null removes the limit)",
            ))
        }
    };
    api.change_access(|a| {
        let k = (reg.as_str().to_owned(), account);
        match limit {
            Some(l) => a.limits.insert(k, l),
            None => a.limits.remove(&k),
        };
        Ok(())
    })?;
    tracing::info!(by = %user.id, registry = %reg, account, ?limit, "limit set");
    json_ok(json!({"transfer_limit": limit}))
}

fn get_access_policies(api: &Api, _: &Req) -> Result<Reply, ApiError> {
    json_ok(lock(&api.access).policies.to_json())
}

fn set_access_policies(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    if !has_role(user, ADMIN, "*") {
        return Err(ApiError::forbidden(
            "only an administrator over every chain sets the policies",
        ));
    }
    let v = req.json()?;
    let p = api.change_access(|a| {
        a.policies = a.policies.patch(&v).map_err(ApiError::invalid)?;
        Ok(a.policies.clone())
    })?;
    tracing::info!(by = %user.id, "access policies changed");
    json_ok(p.to_json())
}

// ---------------------------------------------------------------------------------------
// Journal.

fn parse_chain(s: &str) -> Result<ChainId, ApiError> {
    ChainId::parse(s).map_err(|_| ApiError::not_found(format!("no chain {s}")))
}

fn list_chains(api: &Api, _: &Req) -> Result<Reply, ApiError> {
    let items = api.engine.with_node(|n| {
        n.chains()
            .map(|c| {
                json!({"chain": c.name, "seq": c.seq, "head_hash": hex::encode(c.head),
                            "checkpoint_seq": c.checkpointed_seq})
            })
            .collect::<Vec<_>>()
    });
    json_ok(json!({"items": items}))
}

fn entry_json(e: &Entry, hash: &[u8; 32]) -> Value {
    json!({
        "chain": e.chain.to_string(), "seq": e.seq, "hash": hex::encode(hash),
        "prev_hash": hex::encode(e.prev_hash), "time": e.time.to_string(),
        "actor": e.actor.as_str(), "command_id": e.command_id.as_str(),
        "events": e.events.iter().map(event_json).collect::<Vec<_>>(),
    })
}

fn cursor_seq(req: &Req) -> Result<u64, ApiError> {
    match req.query.get("cursor") {
        None => Ok(1),
        Some(c) => u64::from_str_radix(c, 16)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::invalid("cursor is not one this server gave")),
    }
}

fn limit_of(req: &Req) -> Result<u64, ApiError> {
    let l = req.query_u64("limit", 50, 500)?;
    if l == 0 {
        return Err(ApiError::invalid("limit must be 1..=500"));
    }
    Ok(l)
}

/// Entries of `chain` from `from` on, `visit` deciding what to keep, until `limit` are kept.
/// Returns the kept items and the cursor after the last entry read.
fn scan(
    api: &Api,
    chain: &ChainId,
    from: u64,
    limit: u64,
    mut visit: impl FnMut(&Node<AnyStore>, &Entry, &[u8; 32]) -> Option<Value>,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let name = chain.to_string();
    api.engine.with_node(|n| {
        if n.is_poisoned() {
            return Err(ApiError::unavailable(
                "the node must restart; retry shortly",
            ));
        }
        let head = n.chain(chain).map_or(0, |c| c.seq);
        let mut out = Vec::new();
        let runs = n
            .store()
            .read_runs(&name, from)
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
        for run in runs {
            let raws = split_run(&run.body).map_err(|e| ApiError::unavailable(e.to_string()))?;
            for (i, raw) in raws.iter().enumerate() {
                let seq = run.first_seq + i as u64;
                if seq < from || seq > head {
                    continue;
                }
                let entry = Entry::decode_body(raw.body)
                    .map_err(|e| ApiError::unavailable(e.to_string()))?;
                if let Some(v) = visit(n, &entry, &raw.stored_hash) {
                    out.push(v);
                    if out.len() as u64 >= limit {
                        let next = (seq < head).then(|| format!("{:x}", seq + 1));
                        return Ok((out, next));
                    }
                }
            }
        }
        Ok((out, None))
    })
}

fn known_chain(api: &Api, chain: &ChainId) -> Result<(), ApiError> {
    if api.engine.with_node(|n| n.chain(chain).is_some()) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no chain {chain} on this node"
        )))
    }
}

/// Journal reads: administrators and auditors whose scope covers the chain.
fn require_journal_reader(req: &Req, chain: &ChainId) -> Result<(), ApiError> {
    let user = req.user()?;
    if has_role(user, JOURNAL_READERS, &chain.to_string()) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "{} may not read the journal of {chain}",
            user.id
        )))
    }
}

fn list_entries(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let chain = parse_chain(req.param("chain"))?;
    require_journal_reader(req, &chain)?;
    known_chain(api, &chain)?;
    let (items, next) = scan(api, &chain, cursor_seq(req)?, limit_of(req)?, |_, e, h| {
        Some(entry_json(e, h))
    })?;
    json_ok(page(items, next))
}

fn read_one(api: &Api, chain: &ChainId, seq_s: &str) -> Result<(Entry, [u8; 32]), ApiError> {
    let seq: u64 = seq_s
        .parse()
        .map_err(|_| ApiError::not_found(format!("no entry {seq_s}")))?;
    api.engine
        .with_node(|n| n.read_entry(chain, seq))
        .map_err(|e| ApiError::unavailable(e.to_string()))?
        .filter(|_| seq >= 1)
        .ok_or_else(|| ApiError::not_found(format!("no entry {seq} in {chain}")))
}

fn get_entry(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let chain = parse_chain(req.param("chain"))?;
    require_journal_reader(req, &chain)?;
    let (e, h) = read_one(api, &chain, req.param("seq"))?;
    json_ok(entry_json(&e, &h))
}

// ---------------------------------------------------------------------------------------
// Registry reads.

fn registry_of(api: &Api, s: &str) -> Result<RegistryId, ApiError> {
    let reg = RegistryId::parse(s).map_err(|_| ApiError::not_found(format!("no registry {s}")))?;
    known_chain(api, &ChainId::Registry(reg))?;
    Ok(reg)
}

fn with_registry<T>(
    api: &Api,
    reg: RegistryId,
    f: impl FnOnce(&tanso_core::registry::RegistryState) -> T,
) -> Result<T, ApiError> {
    api.engine.with_node(|n| {
        if n.is_poisoned() {
            return Err(ApiError::unavailable(
                "the node must restart; retry shortly",
            ));
        }
        n.chain(&ChainId::Registry(reg))
            .and_then(|c| c.state.registry())
            .map(f)
            .ok_or_else(|| ApiError::not_found(format!("no registry {reg}")))
    })
}

fn require_registry_reader(user: &User, reg: RegistryId) -> Result<(), ApiError> {
    if has_role(user, REGISTRY_READERS, reg.as_str()) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "{} may not read {reg}",
            user.id
        )))
    }
}

fn account_json(a: &tanso_core::registry::Account, id: u64, total: u64) -> Value {
    json!({"account": id, "holder": a.holder.0, "kind": a.kind.as_str(),
           "class": tanso_wire::class_name(a.class), "status": tanso_wire::status_name(a.status),
           "total": total})
}

fn list_accounts(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let reg = registry_of(api, req.param("registry"))?;
    require_registry_reader(user, reg)?;
    let from = match req.query.get("cursor") {
        None => 0,
        Some(c) => u64::from_str_radix(c, 16)
            .map_err(|_| ApiError::invalid("cursor is not one this server gave"))?,
    };
    let limit = limit_of(req)? as usize;
    let (items, next) = with_registry(api, reg, |s| {
        let accounts = s.accounts();
        let mut items = Vec::new();
        let mut next = None;
        for (id, a) in accounts.range(AccountId(from)..) {
            if items.len() == limit {
                next = Some(format!("{:x}", id.0));
                break;
            }
            let total = s.holdings(*id).iter().map(|b| b.range.len()).sum();
            items.push(account_json(a, id.0, total));
        }
        (items, next)
    })?;
    json_ok(page(items, next))
}

fn get_account(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let (reg, account) = account_of(api, req)?;
    if !may_read_account(user, reg.as_str(), account) {
        return Err(ApiError::forbidden(format!(
            "{} may not read account {account} of {reg}",
            user.id
        )));
    }
    let v = with_registry(api, reg, |s| {
        s.account(AccountId(account)).map(|a| {
            let total = s
                .holdings(AccountId(account))
                .iter()
                .map(|b| b.range.len())
                .sum();
            account_json(a, account, total)
        })
    })?
    .ok_or_else(|| ApiError::not_found(format!("no account {account}")))?;
    json_ok(v)
}

fn list_holdings(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let (reg, account) = account_of(api, req)?;
    if !may_read_account(user, reg.as_str(), account) {
        return Err(ApiError::forbidden(format!(
            "{} may not read account {account} of {reg}",
            user.id
        )));
    }
    let blocks = with_registry(api, reg, |s| s.holdings(AccountId(account)))?;
    json_ok(json!({
        "registry": reg.as_str(), "account": account,
        "total": blocks.iter().map(|b| b.range.len()).sum::<u64>(),
        "blocks": blocks.iter().map(crate::query::block_json).collect::<Vec<_>>(),
    }))
}

fn get_block(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let reg = registry_of(api, req.param("registry"))?;
    require_registry_reader(user, reg)?;
    let serial: u64 = req
        .param("serial")
        .parse()
        .map_err(|_| ApiError::not_found("no such serial"))?;
    let issuing = match req.query.get("issuing") {
        None => reg,
        Some(s) => RegistryId::parse(s)
            .map_err(|_| ApiError::invalid(format!("issuing {s:?} is not a registry id")))?,
    };
    let b = with_registry(api, reg, |s| s.block_at(issuing, serial))?.ok_or_else(|| {
        ApiError::not_found(format!("no block of {reg} holds {issuing} serial {serial}"))
    })?;
    json_ok(crate::query::block_json(&b))
}

fn list_serial_history(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let issuing = RegistryId::parse(req.param("issuing"))
        .map_err(|_| ApiError::not_found("no such registry"))?;
    if !has_role(user, REGISTRY_READERS, issuing.as_str()) && !has_role(user, &[Role::Auditor], "*")
    {
        return Err(ApiError::forbidden(format!(
            "{} may not read the history of {issuing} serials",
            user.id
        )));
    }
    let serial: u64 = req
        .param("serial")
        .parse()
        .map_err(|_| ApiError::not_found("no such serial"))?;
    let found = api.engine.with_node(|n| {
        let mut index = lock(&api.history);
        crate::query::catch_up_history(n.store(), &mut index)?;
        crate::query::history_of(n.store(), &index, issuing, serial)
    });
    let found = found.map_err(|e| ApiError::unavailable(format!("{e:#}")))?;
    let items: Vec<Value> = found
        .iter()
        .map(|(e, h, evs)| crate::query::history_item_json(e, h, evs))
        .collect();
    json_ok(json!({"issuing": issuing.as_str(), "serial": serial, "items": items}))
}

fn list_transfers(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let reg = registry_of(api, req.param("registry"))?;
    require_registry_reader(user, reg)?;
    let items = api
        .engine
        .with_node(|n| crate::link::transfer_rows(n, Some(reg)));
    json_ok(json!({"items": items}))
}

fn retirement_json(e: &Entry, ev: &Event) -> Option<Value> {
    let Event::Retired {
        from,
        to,
        ranges,
        purpose,
        beneficiary,
        beneficiary_name,
        ..
    } = ev
    else {
        return None;
    };
    Some(json!({
        "chain": e.chain.to_string(), "seq": e.seq, "time": e.time.to_string(),
        "from": from.0, "to": to.0,
        "quantity": ranges.iter().map(|r| r.range.len()).sum::<u64>(),
        "ranges": tanso_wire::out::ranges_json(ranges),
        "purpose": purpose.to_string(),
        "beneficiary": beneficiary.as_ref().map(|h| h.0),
        "beneficiary_ref": beneficiary_name.map(|r| hex::encode(r.0)),
    }))
}

fn list_retirements(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let reg = registry_of(api, req.param("registry"))?;
    require_registry_reader(user, reg)?;
    let (items, next) = scan(
        api,
        &ChainId::Registry(reg),
        cursor_seq(req)?,
        limit_of(req)?,
        |_, e, _| {
            let rs: Vec<Value> = e
                .events
                .iter()
                .filter_map(|ev| retirement_json(e, ev))
                .collect();
            (!rs.is_empty()).then(|| json!({"seq": e.seq, "retirements": rs}))
        },
    )?;
    json_ok(page(items, next))
}

// ---------------------------------------------------------------------------------------
// Mechanisms, Article 6, CCTS, reports.

fn mechanism(req: &Req, default: &str) -> Result<ChainId, ApiError> {
    let s = req
        .query
        .get("mechanism")
        .map(String::as_str)
        .unwrap_or(default);
    match ChainId::parse(s) {
        Ok(c @ ChainId::Mechanism(_)) => Ok(c),
        _ => Err(ApiError::invalid(format!(
            "mechanism {s:?} is not a mechanism chain"
        ))),
    }
}

fn with_decisions<T>(
    api: &Api,
    chain: &ChainId,
    f: impl FnOnce(&tanso_core::chain::DecisionState) -> T,
) -> Result<T, ApiError> {
    api.engine.with_node(|n| {
        n.chain(chain)
            .and_then(|c| c.state.decisions())
            .map(f)
            .ok_or_else(|| ApiError::not_found(format!("no chain {chain} on this node")))
    })
}

fn project_json(id: &ProjectId, p: &tanso_core::jcm::ProjectRecord) -> Value {
    json!({
        "project": id.to_string(), "host": p.host.to_string(), "activity": p.activity,
        "status": p.status.name(),
        "methodology": p.methodology.as_ref().map(|m| m.to_string()),
        "crediting_period": p.crediting.map(|c| json!({"start": c.start().to_string(), "end": c.end().to_string()})),
        "article6_eligible": p.article6_eligible, "flagged": p.flagged,
        "participants": p.participants.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "validator": p.validator.as_ref().map(|a| a.as_str()),
        "monitoring_periods": p.periods.iter().map(|(n, mp)| json!({
            "number": n, "start": mp.period.start().to_string(), "end": mp.period.end().to_string(),
            "emission_reductions": mp.er.to_string(), "credited": mp.credited,
            "status": mp.status.name(),
            "decided": mp.decided.as_ref().map(|(d, q)| json!({"decision": d.to_string(), "quantity": q})),
        })).collect::<Vec<_>>(),
        "documents": p.documents.iter().map(|(k, d)| json!({"kind": k, "document": tanso_wire::out::document_json(d)})).collect::<Vec<_>>(),
    })
}

fn list_projects(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let chain = mechanism(req, "mechanism:JCM-IND-JPN")?;
    let items = with_decisions(api, &chain, |d| {
        d.jcm
            .projects
            .iter()
            .map(|(id, p)| project_json(id, p))
            .collect::<Vec<_>>()
    })?;
    json_ok(json!({"items": items}))
}

fn get_project(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let chain = mechanism(req, "mechanism:JCM-IND-JPN")?;
    let id = ProjectId::parse(req.param("project"))
        .map_err(|_| ApiError::not_found("no such project"))?;
    with_decisions(api, &chain, |d| {
        d.jcm.projects.get(&id).map(|p| project_json(&id, p))
    })?
    .ok_or_else(|| ApiError::not_found(format!("no project {id} on {chain}")))
    .map(Reply::ok)
}

fn list_methodologies(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let chain = mechanism(req, "mechanism:JCM-IND-JPN")?;
    let items = with_decisions(api, &chain, |d| {
        d.jcm.methodologies.iter().map(|(m, r)| json!({
            "methodology": m.to_string(), "status": format!("{:?}", r.status).to_lowercase(),
            "spec_hash": hex::encode(r.spec_hash),
            "document": tanso_wire::out::document_json(&r.document),
        })).collect::<Vec<_>>()
    })?;
    json_ok(json!({"items": items}))
}

fn party_of(req: &Req) -> Result<PartyId, ApiError> {
    PartyId::parse(req.param("party"))
        .map_err(|_| ApiError::not_found(format!("no party {}", req.param("party"))))
}

fn list_authorizations(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let party = party_of(req)?;
    let chain = ChainId::PartyAuthority(party);
    if !has_role(user, AUTHORITY_READERS, &chain.to_string()) {
        return Err(ApiError::forbidden(format!(
            "{} may not read {chain}",
            user.id
        )));
    }
    let items = with_decisions(api, &chain, |d| {
        d.a6.authorizations
            .values()
            .flatten()
            .map(tanso_wire::a6::authorization_json)
            .collect::<Vec<_>>()
    })?;
    json_ok(json!({"party": party.to_string(), "items": items}))
}

fn list_compliance(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let chain = mechanism(req, "mechanism:CCTS-IND")?;
    let year = match req.query.get("year") {
        None => None,
        Some(y) => Some(
            y.parse::<u16>()
                .map_err(|_| ApiError::invalid("year is a compliance year, e.g. 2025"))?,
        ),
    };
    let chain_s = chain.to_string();
    // Registry officers (who issue and receive certificates) and auditors read every entity;
    // participants read the scheme they take part in.
    let allowed = user.grants.iter().any(|g| {
        matches!(
            g.role,
            Role::RegistryAdmin | Role::RegistryOfficer | Role::Auditor
        ) || (g.role == Role::Participant && g.covers_chain(&chain_s))
    });
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "{} may not read {chain_s}",
            user.id
        )));
    }
    let items = with_decisions(api, &chain, |d| {
        let mut out = Vec::new();
        for (id, e) in &d.ccts.entities {
            for (y, c) in &e.cycles {
                if year.is_some_and(|w| w != *y) {
                    continue;
                }
                let (earned, owed, outcome) = match &c.evaluation {
                    None => (0, 0, Value::Null),
                    Some((_, o, _)) => (
                        o.certificates(),
                        o.obligation(),
                        tanso_wire::ccts::outcome_json(o),
                    ),
                };
                out.push(json!({
                    "entity": id.to_string(), "sector": e.sector, "year": y,
                    "target_gei": e.targets.get(y).map(|t| t.to_string()),
                    "achieved_gei": c.evaluation.as_ref().map(|(a, _, _)| a.to_string()),
                    "outcome": outcome, "certificates_earned": earned, "to_surrender": owed,
                    "surrendered": c.surrendered, "outstanding": owed.saturating_sub(c.surrendered),
                    "compensation_inr": c.compensation.map(|a| a.normalize().to_string()),
                }));
            }
        }
        out
    })?;
    json_ok(json!({"items": items}))
}

fn year_of(req: &Req) -> Result<u16, ApiError> {
    req.param("year")
        .parse::<u16>()
        .ok()
        .filter(|y| (2021..=2100).contains(y))
        .ok_or_else(|| ApiError::not_found(format!("no report for year {}", req.param("year"))))
}

fn aef_data(api: &Api) -> Result<crate::report::Data, ApiError> {
    api.engine
        .with_node(|n| crate::report::collect(n))
        .map_err(|e| ApiError::unavailable(format!("{e:#}")))
}

fn summary_json(rep: &tanso_report::aef::AefReport, party: PartyId, year: u16) -> Value {
    use tanso_report::aef::ActionType;
    let totals: Vec<Value> = ActionType::ALL
        .iter()
        .map(|t| {
            let rows: Vec<_> = rep.actions.iter().filter(|a| a.action_type == *t).collect();
            json!({"action_type": t.label(), "records": rows.len(),
                   "quantity_t_co2e": rows.iter().filter_map(|a| a.block.quantity_t_co2e).sum::<u64>()})
        })
        .collect();
    json!({
        "party": party.to_string(), "year": year,
        "authorizations": rep.authorizations.len(),
        "actions": totals,
        "holdings_t_co2e": rep.holdings.iter().filter_map(|h| h.block.quantity_t_co2e).sum::<u64>(),
        "holdings_blocks": rep.holdings.len(),
    })
}

fn get_aef_report(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let user = req.user()?;
    let party = party_of(req)?;
    let year = year_of(req)?;
    let chain = ChainId::PartyAuthority(party).to_string();
    if !has_role(user, AUTHORITY_READERS, &chain) {
        return Err(ApiError::forbidden(format!(
            "{} may not read {chain}'s reports",
            user.id
        )));
    }
    let data = aef_data(api)?;
    let rep = crate::report::aef_report(&data, party, year);
    let checks = crate::report::checks(&data, party, year);
    let actions: Vec<Value> = rep.actions.iter().map(|a| json!({
        "action_date": format!("{:04}-{:02}-{:02}", a.action_date.y, a.action_date.m, a.action_date.d),
        "action_type": a.action_type.label(),
        "action_subtype": a.action_subtype,
        "first_id": a.block.first_id, "last_id": a.block.last_id,
        "quantity_t_co2e": a.block.quantity_t_co2e, "vintage": a.block.vintage,
        "transferring_party": a.transferring_party_id, "acquiring_party": a.acquiring_party_id,
        "ndc_use_year": a.ndc_use_year,
    })).collect();
    json_ok(json!({
        "summary": summary_json(&rep, party, year),
        "actions": actions,
        "checks": checks.iter().map(|c| json!({"code": c.code.0, "name": c.code.name(), "message": c.message})).collect::<Vec<_>>(),
        "consistent": checks.is_empty(),
    }))
}

// ---------------------------------------------------------------------------------------
// Public data and proofs.

fn public_registry(api: &Api, req: &Req) -> Result<RegistryId, ApiError> {
    let s = req
        .query
        .get("registry")
        .map(String::as_str)
        .unwrap_or("IND01");
    let reg = RegistryId::parse(s)
        .map_err(|_| ApiError::invalid(format!("registry {s:?} is not a registry id")))?;
    known_chain(api, &ChainId::Registry(reg))?;
    Ok(reg)
}

fn list_public_issuances(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let reg = public_registry(api, req)?;
    let (items, next) = scan(
        api,
        &ChainId::Registry(reg),
        cursor_seq(req)?,
        limit_of(req)?,
        |_, e, _| {
            let issued: Vec<Value> = e.events.iter().filter_map(|ev| match ev {
            Event::Issued { attributes, range, unit_start, .. } => Some(json!({
                "issuing": attributes.issuing.as_str(), "start": range.start(), "end": range.end(),
                "quantity": range.len(), "unit_start": unit_start, "kind": attributes.kind.as_str(),
                "project": attributes.project.as_ref().map(|p| p.to_string()),
                "vintage": attributes.vintage.year(),
            })),
            _ => None,
        }).collect();
            (!issued.is_empty()).then(|| {
                json!({
                    "chain": e.chain.to_string(), "seq": e.seq, "time": e.time.to_string(),
                    "issued": issued,
                    "proof": format!("/api/v1/public/proofs/{}/{}", e.chain, e.seq),
                })
            })
        },
    )?;
    json_ok(page(items, next))
}

/// Sequences of the entries that correct entry `seq` of `chain`.
fn corrections_of(api: &Api, chain: &ChainId, seq: u64) -> Result<Vec<u64>, ApiError> {
    let (items, _) = scan(api, chain, seq + 1, u64::MAX, |_, e, _| {
        e.events
            .iter()
            .any(|ev| matches!(ev, Event::Corrected { seq: s, .. } if *s == seq))
            .then(|| json!(e.seq))
    })?;
    Ok(items.iter().filter_map(Value::as_u64).collect())
}

fn public_retirement(n: &Node<AnyStore>, e: &Entry) -> Option<Value> {
    let rs: Vec<Value> = e
        .events
        .iter()
        .filter_map(|ev| {
            let Event::Retired {
                ranges,
                purpose,
                beneficiary_name,
                ..
            } = ev
            else {
                return None;
            };
            // The beneficiary as published: the text behind its reference, unless erased.
            let name = beneficiary_name
                .and_then(|r| n.store().personal(&r.0).ok().flatten())
                .map(|p| p.text);
            Some(json!({
                "quantity": ranges.iter().map(|r| r.range.len()).sum::<u64>(),
                "ranges": tanso_wire::out::ranges_json(ranges),
                "purpose": purpose.to_string(),
                "beneficiary": name,
            }))
        })
        .collect();
    (!rs.is_empty()).then(|| {
        json!({
            "chain": e.chain.to_string(), "seq": e.seq, "time": e.time.to_string(),
            "retirements": rs,
            "proof": format!("/api/v1/public/proofs/{}/{}", e.chain, e.seq),
        })
    })
}

fn list_public_retirements(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let reg = public_registry(api, req)?;
    let chain = ChainId::Registry(reg);
    let (mut items, next) = scan(api, &chain, cursor_seq(req)?, limit_of(req)?, |n, e, _| {
        public_retirement(n, e)
    })?;
    for it in &mut items {
        let seq = it["seq"].as_u64().unwrap_or_default();
        it["corrected_by"] = json!(corrections_of(api, &chain, seq)?);
    }
    json_ok(page(items, next))
}

fn get_public_retirement(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let reg = RegistryId::parse(req.param("registry"))
        .map_err(|_| ApiError::not_found("no such registry"))?;
    let chain = ChainId::Registry(reg);
    let (e, _) = read_one(api, &chain, req.param("seq"))?;
    let mut v = api
        .engine
        .with_node(|n| public_retirement(n, &e))
        .ok_or_else(|| {
            ApiError::not_found(format!("entry {} of {chain} is not a retirement", e.seq))
        })?;
    v["corrected_by"] = json!(corrections_of(api, &chain, e.seq)?);
    json_ok(v)
}

fn checkpoint_json(bytes: &[u8]) -> Option<Value> {
    let s = SignedCheckpoint::decode(bytes).ok()?;
    let c = &s.checkpoint;
    Some(json!({
        "chain": c.chain, "seq": c.seq, "head_hash": hex::encode(c.head_hash),
        "merkle_root": hex::encode(c.merkle_root), "state_hash": hex::encode(c.state_hash),
        "time": Timestamp(c.time_micros).to_string(), "key_id": hex::encode(c.key_id),
        "signature": hex::encode(s.signature), "encoded": hex::encode(bytes),
    }))
}

fn list_public_checkpoints(api: &Api, _: &Req) -> Result<Reply, ApiError> {
    let items = api.engine.with_node(|n| {
        let names: Vec<String> = n.chains().map(|c| c.name.clone()).collect();
        let mut out = Vec::new();
        for name in names {
            let cps = n
                .store()
                .checkpoints(&name)
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            if let Some(v) = cps
                .iter()
                .max_by_key(|c| c.seq)
                .and_then(|c| checkpoint_json(&c.body))
            {
                out.push(v);
            }
        }
        Ok::<_, ApiError>(out)
    })?;
    json_ok(json!({"items": items}))
}

/// Whether the public may see a proof of this entry: it issues, retires or cancels units.
fn public_entry(e: &Entry) -> bool {
    e.events.iter().any(|ev| {
        matches!(
            ev,
            Event::Issued { .. }
                | Event::Retired { .. }
                | Event::Cancelled { .. }
                | Event::Corrected { .. }
        )
    })
}

pub fn proof_json(p: &InclusionProof, entry: &Entry) -> Value {
    json!({
        "format": "tanso-proof/1",
        "chain": p.chain, "seq": p.seq,
        "entry": hex::encode(&p.entry), "entry_hash": hex::encode(p.entry_hash),
        "leaf_index": p.leaf_index, "tree_size": p.tree_size,
        "audit_path": p.audit_path.iter().map(hex::encode).collect::<Vec<_>>(),
        "checkpoint": hex::encode(&p.checkpoint),
        "events": entry.events.iter().map(event_json).collect::<Vec<_>>(),
    })
}

fn get_public_proof(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let chain = parse_chain(req.param("chain"))?;
    let (entry, _) = read_one(api, &chain, req.param("seq"))?;
    let auditor = req
        .user
        .as_ref()
        .is_some_and(|u| has_role(u, JOURNAL_READERS, &chain.to_string()));
    if !auditor && !public_entry(&entry) {
        return Err(ApiError::not_found(format!(
            "entry {} of {chain} is not public (issuances, retirements, cancellations and corrections are)",
            entry.seq
        )));
    }
    let name = chain.to_string();
    let seq = entry.seq;
    let proof = api.engine.with_node(|n| {
        // The latest checkpoint, signed now if none covers the entry yet.
        let latest = |n: &Node<AnyStore>| {
            n.store().checkpoints(&name).map(|cps| {
                cps.into_iter()
                    .max_by_key(|c| c.seq)
                    .filter(|c| c.seq >= seq)
            })
        };
        let mut cp = latest(n).map_err(|e| ApiError::unavailable(e.to_string()))?;
        if cp.is_none() {
            n.checkpoint(&api.key, api.now())
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            cp = latest(n).map_err(|e| ApiError::unavailable(e.to_string()))?;
        }
        let cp = cp.ok_or_else(|| ApiError::unavailable("no checkpoint covers the entry"))?;
        let signed =
            SignedCheckpoint::decode(&cp.body).map_err(|e| ApiError::unavailable(e.to_string()))?;
        let mut leaves = lock(&api.leaves);
        let cached = leaves.entry(name.clone()).or_default();
        if (cached.len() as u64) < cp.seq {
            *cached = entry_hashes(n.store(), &name, cp.seq)
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
        }
        let (bytes, _) = entry_bytes(n.store(), &name, seq)
            .map_err(|e| ApiError::unavailable(e.to_string()))?
            .ok_or_else(|| ApiError::not_found("entry vanished"))?;
        build(&signed, cp.body.clone(), cached, bytes, seq)
            .ok_or_else(|| ApiError::unavailable("could not build the proof"))
    })?;
    json_ok(proof_json(&proof, &entry))
}

fn get_public_aef_summary(api: &Api, req: &Req) -> Result<Reply, ApiError> {
    let party = party_of(req)?;
    let year = year_of(req)?;
    let data = aef_data(api)?;
    if !data.parties.contains_key(&party) {
        return Err(ApiError::not_found(format!(
            "no authority chain for {party} on this node"
        )));
    }
    let rep = crate::report::aef_report(&data, party, year);
    json_ok(summary_json(&rep, party, year))
}

fn list_public_keys(api: &Api, _: &Req) -> Result<Reply, ApiError> {
    let items: Vec<Value> = api
        .trusted
        .iter()
        .map(|(id, k)| json!({"key_id": hex::encode(id), "label": k.label, "public_key": hex::encode(k.verifying_key.as_bytes())}))
        .collect();
    json_ok(json!({"items": items}))
}
