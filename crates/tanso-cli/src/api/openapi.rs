//! The OpenAPI 3.1 document, generated from the route table (`routes.rs`): every operation's
//! method, path, parameters, request body, responses and security come from the same entries
//! that dispatch requests, so the document cannot drift from what is served. The component
//! schemas below describe the bodies the handlers build; a snapshot test locks the whole
//! document, and schemathesis checks served responses against it.

use super::access::ROLES;
use super::{routes, Gate};
use serde_json::{json, Map, Value};

/// A parameter of an operation.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: &'static str,
    pub location: &'static str,
    pub example: Option<&'static str>,
    pub description: &'static str,
    /// Whether the parameter names something that may not exist (404 when it does not); an
    /// option such as `events` never does.
    pub names_resource: bool,
}

pub fn path(name: &'static str, example: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: "path",
        example: Some(example),
        description,
        names_resource: true,
    }
}

pub fn query(
    name: &'static str,
    example: Option<&'static str>,
    description: &'static str,
) -> Param {
    Param {
        name,
        location: "query",
        example,
        description,
        names_resource: true,
    }
}

/// A query parameter that is an option of the operation, naming nothing that could be missing
/// (so it adds no 404 to the operation).
pub fn option(
    name: &'static str,
    example: Option<&'static str>,
    description: &'static str,
) -> Param {
    Param {
        names_resource: false,
        ..query(name, example, description)
    }
}

/// A request body: its schema and an example.
#[derive(Clone, Debug)]
pub struct BodyDoc {
    pub schema: &'static str,
    pub example: Value,
}

pub fn body(schema: &'static str, example: Value) -> BodyDoc {
    BodyDoc { schema, example }
}

/// What the table says of one operation beyond method, path and gate.
#[derive(Clone, Debug)]
pub struct OpDoc {
    pub ok_status: u16,
    pub ok_schema: &'static str,
    pub params: Vec<Param>,
    pub body: Option<BodyDoc>,
    /// Commands: 202 (awaiting approval), 422 (rejected by a check), 503 (transient).
    pub command: bool,
    pub not_found: bool,
}

impl OpDoc {
    pub fn new(ok_schema: &'static str) -> Self {
        OpDoc {
            ok_status: 200,
            ok_schema,
            params: Vec::new(),
            body: None,
            command: false,
            not_found: false,
        }
    }
    pub fn status(mut self, s: u16) -> Self {
        self.ok_status = s;
        self
    }
    pub fn param(mut self, p: Param) -> Self {
        if p.location == "path" {
            self.not_found = true;
        }
        self.params.push(p);
        self
    }
    pub fn body(mut self, b: BodyDoc) -> Self {
        self.body = Some(b);
        self
    }
    pub fn command(mut self) -> Self {
        self.command = true;
        self
    }
    pub fn not_found(mut self) -> Self {
        self.not_found = true;
        self
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": reference("Error")}}})
}

fn operation(r: &super::Route) -> Value {
    let d = &r.doc;
    let mut responses = Map::new();
    responses.insert(
        d.ok_status.to_string(),
        json!({"description": "success", "content": {"application/json": {"schema": reference(d.ok_schema)}}}),
    );
    if d.command {
        responses.insert(
            "202".into(),
            json!({"description": "kept until a second person approves it", "content": {"application/json": {"schema": reference("AwaitingApproval")}}}),
        );
        responses.insert("409".into(), error_response("already decided or in use"));
        responses.insert("422".into(), error_response("refused by a numbered check"));
    }
    if d.command || d.ok_status == 201 {
        responses.insert(
            "409".into(),
            error_response("already exists or already decided"),
        );
        responses.insert("422".into(), error_response("refused by a numbered check"));
    }
    responses.insert(
        "400".into(),
        error_response("malformed request (6006, 6103, 6111)"),
    );
    if r.gate != Gate::Public {
        responses.insert("401".into(), error_response("no or invalid token (6101)"));
        responses.insert(
            "403".into(),
            error_response("the user's roles or scopes do not allow it (6102, 6107, 6110)"),
        );
    } else {
        responses.insert(
            "401".into(),
            error_response("an invalid token was presented (6101)"),
        );
        responses.insert("403".into(), error_response("not allowed (6102)"));
    }
    if d.not_found || d.params.iter().any(|p| p.names_resource) {
        responses.insert("404".into(), error_response("no such resource (6106)"));
    }
    if d.body.is_some() {
        responses.insert("413".into(), error_response("body too large (6104)"));
        responses.insert("422".into(), error_response("refused by a numbered check"));
    }
    responses.insert("429".into(), error_response("rate limited (6105)"));
    responses.insert(
        "503".into(),
        error_response("storage unavailable; retry (7001)"),
    );
    let params: Vec<Value> = d
        .params
        .iter()
        .map(|p| {
            let mut v = json!({
                "name": p.name, "in": p.location, "required": p.location == "path",
                "description": p.description, "schema": {"type": "string"},
            });
            if let Some(e) = p.example {
                v["example"] = json!(e);
            }
            v
        })
        .collect();
    let mut op = json!({
        "operationId": r.operation_id,
        "summary": r.summary,
        "tags": [r.tag],
        "parameters": params,
        "responses": responses,
        "x-tanso-gate": gate_doc(r.gate),
    });
    if r.operation_id == "create_command" {
        if let Some(a) = op["parameters"].as_array_mut() {
            a.push(
                json!({"name": "Idempotency-Key", "in": "header", "required": false,
                "description": "the command id; must equal the body's id when both are given",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"}}),
            );
        }
    }
    if let Some(b) = &d.body {
        op["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": reference(b.schema), "example": b.example}},
        });
    }
    op["security"] = match r.gate {
        Gate::Public => json!([{}, {"bearer": []}]),
        _ => json!([{"bearer": []}]),
    };
    op
}

fn gate_doc(g: Gate) -> Value {
    match g {
        Gate::Public => json!("public"),
        Gate::User => json!("any user"),
        Gate::Roles(rs) => json!(rs.iter().map(|r| r.as_str()).collect::<Vec<_>>()),
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in routes::table() {
        let item = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        item[r.method.as_str().to_lowercase()] = operation(r);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tanso registry API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "An Article 6.2 carbon registry (India–Japan JCM, India's CCTS). Commands are the objects of `tanso apply` (docs/COMMANDS.md); every error is one envelope with the catalogue's numbered checks (`tanso checks`).",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an opaque token: `tanso admin bootstrap`, POST /api/v1/sessions or POST /api/v1/users/{user}/tokens"}},
            "schemas": schemas(),
        },
    })
}

fn s() -> Value {
    json!({"type": "string"})
}
fn ns() -> Value {
    json!({"type": ["string", "null"]})
}
fn int() -> Value {
    json!({"type": "integer", "minimum": 0})
}
fn nint() -> Value {
    json!({"type": ["integer", "null"], "minimum": 0})
}
fn b() -> Value {
    json!({"type": "boolean"})
}
fn hex64() -> Value {
    json!({"type": "string", "pattern": "^[0-9a-f]{64}$"})
}
fn arr(items: Value) -> Value {
    json!({"type": "array", "items": items})
}
/// A closed object: every property listed, the named ones required.
fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}
fn items_of(name: &str) -> Value {
    object(json!({"items": arr(reference(name))}), &["items"])
}
fn page_of(name: &str) -> Value {
    object(
        json!({"items": arr(reference(name)), "next_cursor": ns()}),
        &["items", "next_cursor"],
    )
}

fn schemas() -> Value {
    let roles: Vec<&str> = ROLES.iter().map(|r| r.as_str()).collect();
    let failure = object(
        json!({"code": int(), "name": s(), "message": s()}),
        &["code", "name", "message"],
    );
    let grant = object(
        json!({"role": {"type": "string", "enum": roles}, "scope": {"type": "string", "minLength": 1, "maxLength": 80}, "initiate": b(), "approve": b()}),
        &["role", "scope"],
    );
    let range = object(
        json!({"issuing": s(), "start": int(), "end": int(), "quantity": int()}),
        &["issuing", "start", "end", "quantity"],
    );
    let event = json!({"type": "object", "properties": {"event": s()}, "required": ["event"], "additionalProperties": true});
    let accepted = object(
        json!({
            "id": s(), "status": {"type": "string", "enum": ["accepted", "would_accept"]},
            "replayed": b(), "dry_run": b(), "chain": s(), "seq": int(), "time": s(),
            "hash": hex64(), "events": arr(reference("Event")),
        }),
        &[
            "id", "status", "replayed", "dry_run", "chain", "seq", "time", "events",
        ],
    );
    // A batch's accepted result with `?events=false`: the same without its events.
    let accepted_compact = object(
        json!({
            "id": s(), "status": {"type": "string", "enum": ["accepted", "would_accept"]},
            "replayed": b(), "dry_run": b(), "chain": s(), "seq": int(), "time": s(),
            "hash": hex64(),
        }),
        &[
            "id", "status", "replayed", "dry_run", "chain", "seq", "time",
        ],
    );
    let approval = object(
        json!({
            "id": s(), "kind": {"type": "string", "enum": ["command", "trusted_account"]},
            "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
            "chain": s(), "account": nint(), "maker": s(), "checker": ns(), "reason": s(),
            "created_at": s(), "payload": {}, "result": {},
        }),
        &[
            "id",
            "kind",
            "status",
            "chain",
            "account",
            "maker",
            "checker",
            "reason",
            "created_at",
            "payload",
            "result",
        ],
    );
    let block = object(
        json!({
            "issuing": s(), "start": int(), "end": int(), "quantity": int(), "unit_start": int(),
            "kind": s(), "project": ns(), "vintage": int(), "labels": {"type": "object"},
            "hold": ns(), "frozen_by": arr(s()), "owner": int(),
        }),
        &[
            "issuing",
            "start",
            "end",
            "quantity",
            "unit_start",
            "kind",
            "project",
            "vintage",
            "labels",
            "hold",
            "frozen_by",
        ],
    );
    let entry = object(
        json!({"chain": s(), "seq": int(), "hash": hex64(), "prev_hash": hex64(), "time": s(),
               "actor": s(), "command_id": s(), "events": arr(reference("Event"))}),
        &[
            "chain",
            "seq",
            "hash",
            "prev_hash",
            "time",
            "actor",
            "command_id",
            "events",
        ],
    );
    let account = object(
        json!({"account": int(), "holder": int(), "kind": s(), "class": s(), "status": s(), "total": int()}),
        &["account", "holder", "kind", "class", "status", "total"],
    );
    let retirement = object(
        json!({"chain": s(), "seq": int(), "time": s(), "from": int(), "to": int(), "quantity": int(),
               "ranges": arr(reference("Range")), "purpose": s(), "beneficiary": nint(), "beneficiary_ref": ns()}),
        &[
            "chain",
            "seq",
            "time",
            "from",
            "to",
            "quantity",
            "ranges",
            "purpose",
            "beneficiary",
            "beneficiary_ref",
        ],
    );
    let public_retirement = object(
        json!({
            "chain": s(), "seq": int(), "time": s(), "proof": s(), "corrected_by": arr(int()),
            "retirements": arr(object(json!({"quantity": int(), "ranges": arr(reference("Range")), "purpose": s(), "beneficiary": ns()}),
                                      &["quantity", "ranges", "purpose", "beneficiary"])),
        }),
        &[
            "chain",
            "seq",
            "time",
            "proof",
            "corrected_by",
            "retirements",
        ],
    );
    let public_issuance = object(
        json!({
            "chain": s(), "seq": int(), "time": s(), "proof": s(),
            "issued": arr(object(json!({"issuing": s(), "start": int(), "end": int(), "quantity": int(), "unit_start": int(),
                                        "kind": s(), "project": ns(), "vintage": int()}),
                                 &["issuing", "start", "end", "quantity", "unit_start", "kind", "project", "vintage"])),
        }),
        &["chain", "seq", "time", "proof", "issued"],
    );
    let checkpoint = object(
        json!({"chain": s(), "seq": int(), "head_hash": hex64(), "merkle_root": hex64(), "state_hash": hex64(),
               "time": s(), "key_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
               "signature": {"type": "string", "pattern": "^[0-9a-f]{128}$"}, "encoded": s()}),
        &[
            "chain",
            "seq",
            "head_hash",
            "merkle_root",
            "state_hash",
            "time",
            "key_id",
            "signature",
            "encoded",
        ],
    );
    let proof = object(
        json!({"format": {"const": "tanso-proof/1"}, "chain": s(), "seq": int(), "entry": s(), "entry_hash": hex64(),
               "leaf_index": int(), "tree_size": int(), "audit_path": arr(hex64()), "checkpoint": s(),
               "events": arr(reference("Event"))}),
        &[
            "format",
            "chain",
            "seq",
            "entry",
            "entry_hash",
            "leaf_index",
            "tree_size",
            "audit_path",
            "checkpoint",
            "events",
        ],
    );
    let summary = object(
        json!({"party": s(), "year": int(), "authorizations": int(),
               "actions": arr(object(json!({"action_type": s(), "records": int(), "quantity_t_co2e": int()}), &["action_type", "records", "quantity_t_co2e"])),
               "holdings_t_co2e": int(), "holdings_blocks": int()}),
        &[
            "party",
            "year",
            "authorizations",
            "actions",
            "holdings_t_co2e",
            "holdings_blocks",
        ],
    );
    let policies = object(
        json!({"trusted_account_delay_hours": int(), "outside_trusted_list": {"type": "string", "enum": ["approval", "reject", "allow"]},
               "approve_issuance": b(), "approve_authorization": b(), "rate_limit_per_second": int()}),
        &[
            "trusted_account_delay_hours",
            "outside_trusted_list",
            "approve_issuance",
            "approve_authorization",
            "rate_limit_per_second",
        ],
    );
    let mut policies_patch = policies.clone();
    policies_patch["required"] = json!([]);
    let open = json!({"type": "object"});
    json!({
        "Error": object(
            json!({"id": ns(), "status": {"const": "rejected"}, "replayed": b(), "dry_run": b(), "permanent": b(),
                   "codes": arr(int()), "errors": arr(failure)}),
            &["id", "status", "replayed", "dry_run", "permanent", "codes", "errors"],
        ),
        "Event": event,
        "Range": range,
        "Grant": grant,
        "OpenApi": {"type": "object", "required": ["openapi", "info", "paths"]},
        "Health": object(json!({"status": {"type": "string", "enum": ["ok", "degraded"]}, "chains": int(), "writer": b()}), &["status", "chains", "writer"]),
        "SessionRequest": object(json!({"user": s(), "password": s()}), &["user", "password"]),
        "Session": object(json!({"token": s(), "user": s()}), &["token", "user"]),
        "User": object(json!({"id": s(), "grants": arr(reference("Grant")), "has_password": b(), "created_at": s()}), &["id", "grants", "has_password", "created_at"]),
        "UserList": items_of("User"),
        "UserRequest": object(json!({"id": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,25}$"}, "password": {"type": ["string", "null"], "minLength": 12, "maxLength": 256}, "grants": arr(reference("Grant"))}), &["id", "grants"]),
        "TokenRequest": object(json!({"label": s()}), &[]),
        "TokenCreated": object(json!({"token": s(), "user": s(), "label": s()}), &["token", "user", "label"]),
        "Command": {"type": "object", "required": ["chain", "command"], "additionalProperties": true,
                    "properties": {"id": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"}, "chain": s(), "command": s(), "actor": s(), "dry_run": b()},
                    "description": "a command object as in docs/COMMANDS.md (the same JSON as `tanso apply`)"},
        "CommandBatch": arr(reference("Command")),
        "CommandAccepted": accepted,
        "AwaitingApproval": object(json!({"status": {"const": "awaiting_approval"}, "approval": reference("Approval")}), &["status", "approval"]),
        "CommandAcceptedCompact": accepted_compact,
        "BatchResults": object(json!({"results": arr(json!({"oneOf": [reference("CommandAccepted"), reference("CommandAcceptedCompact"), reference("Error"), reference("AwaitingApproval")]}))}), &["results"]),
        "Approval": approval,
        "ApprovalList": items_of("Approval"),
        "TrustedAccountRequest": object(json!({"trusted": int()}), &["trusted"]),
        "TrustedAccountList": object(json!({"registry": s(), "account": int(),
            "items": arr(object(json!({"trusted": int(), "added_by": s(), "usable_from": s(), "usable": b()}), &["trusted", "added_by", "usable_from", "usable"]))}),
            &["registry", "account", "items"]),
        "Limits": object(json!({"transfer_limit": nint()}), &["transfer_limit"]),
        "Policies": policies,
        "PoliciesPatch": policies_patch,
        "ChainList": object(json!({"items": arr(object(json!({"chain": s(), "seq": int(), "head_hash": hex64(), "checkpoint_seq": int()}), &["chain", "seq", "head_hash", "checkpoint_seq"]))}), &["items"]),
        "Entry": entry,
        "EntryPage": page_of("Entry"),
        "Account": account,
        "AccountPage": page_of("Account"),
        "Block": block,
        "Holdings": object(json!({"registry": s(), "account": int(), "total": int(), "blocks": arr(reference("Block"))}), &["registry", "account", "total", "blocks"]),
        "History": object(json!({"issuing": s(), "serial": int(),
            "items": arr(object(json!({"chain": s(), "seq": int(), "hash": hex64(), "time": s(), "command_id": s(), "events": arr(reference("Event"))}),
                                &["chain", "seq", "hash", "time", "command_id", "events"]))}),
            &["issuing", "serial", "items"]),
        "TransferList": items_of("Transfer"),
        "Transfer": {"type": "object", "required": ["registry", "direction", "transfer_id", "status", "status_name"],
                     "properties": {"registry": s(), "direction": {"type": "string", "enum": ["in", "out"]}, "transfer_id": s(), "status": int(), "status_name": s()}},
        "Retirement": retirement,
        "RetirementPage": object(json!({"items": arr(object(json!({"seq": int(), "retirements": arr(reference("Retirement"))}), &["seq", "retirements"])), "next_cursor": ns()}), &["items", "next_cursor"]),
        "Project": {"type": "object", "required": ["project", "host", "activity", "status", "methodology", "article6_eligible", "monitoring_periods"],
                    "properties": {"project": s(), "host": s(), "activity": int(), "status": s(), "methodology": ns(), "article6_eligible": b(), "monitoring_periods": arr(open.clone())}},
        "ProjectList": items_of("Project"),
        "MethodologyList": object(json!({"items": arr(object(json!({"methodology": s(), "status": s(), "spec_hash": hex64(), "document": open.clone()}), &["methodology", "status", "spec_hash", "document"]))}), &["items"]),
        "AuthorizationList": object(json!({"party": s(), "items": arr(open.clone())}), &["party", "items"]),
        "ComplianceList": object(json!({"items": arr(object(json!({
            "entity": s(), "sector": s(), "year": int(), "target_gei": ns(), "achieved_gei": ns(), "outcome": {},
            "certificates_earned": int(), "to_surrender": int(), "surrendered": int(), "outstanding": int(), "compensation_inr": ns()}),
            &["entity", "sector", "year", "target_gei", "achieved_gei", "outcome", "certificates_earned", "to_surrender", "surrendered", "outstanding", "compensation_inr"]))}), &["items"]),
        "AefSummary": summary,
        "AefReport": object(json!({"summary": reference("AefSummary"), "actions": arr(open.clone()),
            "checks": arr(object(json!({"code": int(), "name": s(), "message": s()}), &["code", "name", "message"])), "consistent": b()}),
            &["summary", "actions", "checks", "consistent"]),
        "PublicIssuancePage": page_of("PublicIssuance"),
        "PublicIssuance": public_issuance,
        "PublicRetirementPage": page_of("PublicRetirement"),
        "PublicRetirement": public_retirement,
        "CheckpointList": items_of("Checkpoint"),
        "Checkpoint": checkpoint,
        "Proof": proof,
        "KeyList": object(json!({"items": arr(object(json!({"key_id": s(), "label": s(), "public_key": hex64()}), &["key_id", "label", "public_key"]))}), &["items"]),
    })
}
