//! Who may use the HTTP API: users, their grants (role and scope), service tokens, passwords,
//! the pending approvals of maker-checker, trusted-account lists, per-account transfer limits
//! and the access policies. Kept in `DATA/access.json`, written whole, synced and renamed into
//! place on every change, so a crash leaves the old file or the new one.
//!
//! Secrets never stay: a token is 32 random bytes shown once; only its SHA-256 is kept, and
//! only an argon2id hash of a password. Nothing in this module logs.

use anyhow::{bail, Context, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A role of the API (ANCHORS §B4/§B7). Scopes narrow each one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Registry administrator: reference data, accounts, users, tokens, limits, policies.
    RegistryAdmin,
    /// Registry officer: issuance, account status, holds, labels, corrections, approvals.
    RegistryOfficer,
    /// Account representative, per account: initiates and/or approves its transactions.
    AccountRepresentative,
    /// Joint Committee member (JCM): decisions on the mechanism chain.
    JcMember,
    /// Verifier (TPE, ACVA): validation and verification steps.
    Verifier,
    /// National authority: authorizations and corresponding adjustments on its party chain.
    NationalAuthority,
    /// A mechanism participant whose precise role the mechanism chain records (project
    /// participant, secretariat, CCTS administrator staff, obligated entity).
    Participant,
    /// Auditor: reads everything, changes nothing.
    Auditor,
}

pub const ROLES: [Role; 8] = [
    Role::RegistryAdmin,
    Role::RegistryOfficer,
    Role::AccountRepresentative,
    Role::JcMember,
    Role::Verifier,
    Role::NationalAuthority,
    Role::Participant,
    Role::Auditor,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::RegistryAdmin => "registry_admin",
            Role::RegistryOfficer => "registry_officer",
            Role::AccountRepresentative => "account_representative",
            Role::JcMember => "jc_member",
            Role::Verifier => "verifier",
            Role::NationalAuthority => "national_authority",
            Role::Participant => "participant",
            Role::Auditor => "auditor",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        ROLES.into_iter().find(|r| r.as_str() == s)
    }
}

/// One role over one scope: `*` (everything), a chain (`IND01`, `party:IND`,
/// `mechanism:JCM-IND-JPN`) or, for representatives, an account (`IND01/1003`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub scope: String,
    /// Representatives: may initiate transactions of the account.
    pub initiate: bool,
    /// Representatives: may approve them (maker-checker).
    pub approve: bool,
}

impl Grant {
    /// Whether this grant's scope covers the chain `chain`.
    pub fn covers_chain(&self, chain: &str) -> bool {
        self.scope == "*" || self.scope == chain
    }
    /// Whether this representative grant covers an account of a registry.
    pub fn covers_account(&self, registry: &str, account: u64) -> bool {
        self.scope == "*" || self.scope == format!("{registry}/{account}")
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub grants: Vec<Grant>,
    /// PHC string of an argon2id hash; none for service users that only use tokens.
    pub password_hash: Option<String>,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct Token {
    /// SHA-256 of the token, hex.
    pub hash: String,
    pub user: String,
    pub label: String,
    pub created_at: String,
}

/// A request waiting for a second person (maker-checker).
#[derive(Clone, Debug)]
pub struct Approval {
    pub id: String,
    /// `command` (payload: the command JSON) or `trusted_account` (payload: registry,
    /// account, trusted).
    pub kind: String,
    pub payload: Value,
    pub maker: String,
    pub reason: String,
    /// Chain the request is for, and the account whose representatives may approve it.
    pub chain: String,
    pub account: Option<u64>,
    pub created_at: String,
    /// `pending`, `approved`, `rejected`.
    pub status: String,
    pub checker: Option<String>,
    pub result: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct TrustedEntry {
    pub trusted: u64,
    pub added_by: String,
    /// Microseconds since the epoch when the entry may first be used.
    pub usable_from_micros: i64,
}

/// Named policies of the controls; a ministry sets them (`PUT /api/v1/access_policies`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policies {
    /// Delay before a new trusted-account entry may be used (EU registry: 4 working days;
    /// here counted in calendar hours, default 96).
    pub trusted_account_delay_hours: u32,
    /// What a transfer to an account outside the trusted list needs: `approval` (default: a
    /// second representative approves), `reject` (6108) or `allow`.
    pub outside_trusted_list: String,
    /// Issuance (issue, issue_from_decision, issue_certificates) needs a second officer.
    pub approve_issuance: bool,
    /// Authorization (party authorizations and apply_authorization) needs a second person.
    pub approve_authorization: bool,
    /// Requests per second per client (token bucket; burst = 2 s worth). 0: unlimited.
    pub rate_limit_per_second: u32,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            trusted_account_delay_hours: 96,
            outside_trusted_list: "approval".into(),
            approve_issuance: true,
            approve_authorization: true,
            rate_limit_per_second: 2000,
        }
    }
}

impl Policies {
    pub fn to_json(&self) -> Value {
        json!({
            "trusted_account_delay_hours": self.trusted_account_delay_hours,
            "outside_trusted_list": self.outside_trusted_list,
            "approve_issuance": self.approve_issuance,
            "approve_authorization": self.approve_authorization,
            "rate_limit_per_second": self.rate_limit_per_second,
        })
    }
    /// Applies the fields present in `v`; refuses unknown fields and bad values.
    pub fn patch(&self, v: &Value) -> std::result::Result<Policies, String> {
        let obj = v.as_object().ok_or("policies are a JSON object")?;
        let mut p = self.clone();
        for (k, x) in obj {
            match k.as_str() {
                "trusted_account_delay_hours" => {
                    p.trusted_account_delay_hours = x
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| *n <= 24 * 365)
                        .ok_or("trusted_account_delay_hours is 0..=8760")?
                }
                "outside_trusted_list" => {
                    let s = x.as_str().unwrap_or_default();
                    if !matches!(s, "approval" | "reject" | "allow") {
                        return Err("outside_trusted_list is approval, reject or allow".into());
                    }
                    p.outside_trusted_list = s.into();
                }
                "approve_issuance" => {
                    p.approve_issuance = x.as_bool().ok_or("approve_issuance is a boolean")?
                }
                "approve_authorization" => {
                    p.approve_authorization =
                        x.as_bool().ok_or("approve_authorization is a boolean")?
                }
                "rate_limit_per_second" => {
                    p.rate_limit_per_second = x
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or("rate_limit_per_second is a whole number")?
                }
                other => return Err(format!("unknown policy {other:?}")),
            }
        }
        Ok(p)
    }
}

/// The whole access state, as kept in `access.json`.
#[derive(Clone, Debug, Default)]
pub struct Access {
    pub users: BTreeMap<String, User>,
    /// Keyed by token hash.
    pub tokens: BTreeMap<String, Token>,
    pub approvals: BTreeMap<String, Approval>,
    /// (registry, account) → trusted accounts.
    pub trusted: BTreeMap<(String, u64), Vec<TrustedEntry>>,
    /// (registry, account) → the most one transfer may move without a second approval.
    pub limits: BTreeMap<(String, u64), u64>,
    pub policies: Policies,
    pub next_approval: u64,
}

/// SHA-256 of a token, hex: what is stored and compared.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh opaque token: `tanso_` and 32 random bytes in hex.
pub fn new_token() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| anyhow::anyhow!("draw a token: {e}"))?;
    Ok(format!("tanso_{}", hex::encode(b)))
}

pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| anyhow::anyhow!("draw a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("encode salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hash password: {e}"))?
        .to_string())
}

pub fn password_matches(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A user id is an actor id: `[A-Za-z0-9._:-]{1,25}`, so that an approved command's actor,
/// `maker:approved-by:checker`, stays within an actor's 64 bytes.
pub fn valid_user_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 25
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

pub fn grant_json(g: &Grant) -> Value {
    let mut v = json!({"role": g.role.as_str(), "scope": g.scope});
    if g.role == Role::AccountRepresentative {
        v["initiate"] = json!(g.initiate);
        v["approve"] = json!(g.approve);
    }
    v
}

pub fn parse_grant(v: &Value) -> std::result::Result<Grant, String> {
    let role = v
        .get("role")
        .and_then(Value::as_str)
        .and_then(Role::parse)
        .ok_or("grant.role is one of the roles")?;
    let scope = v
        .get("scope")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 80)
        .ok_or("grant.scope is a non-empty string")?;
    if role == Role::AccountRepresentative
        && scope != "*"
        && scope
            .split_once('/')
            .and_then(|(_, a)| a.parse::<u64>().ok())
            .is_none()
    {
        return Err("a representative's scope is REGISTRY/ACCOUNT".into());
    }
    Ok(Grant {
        role,
        scope: scope.to_owned(),
        initiate: v.get("initiate").and_then(Value::as_bool).unwrap_or(true),
        approve: v.get("approve").and_then(Value::as_bool).unwrap_or(false),
    })
}

pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "grants": u.grants.iter().map(grant_json).collect::<Vec<_>>(),
        "has_password": u.password_hash.is_some(),
        "created_at": u.created_at,
    })
}

pub fn approval_json(a: &Approval) -> Value {
    json!({
        "id": a.id,
        "kind": a.kind,
        "status": a.status,
        "chain": a.chain,
        "account": a.account,
        "maker": a.maker,
        "checker": a.checker,
        "reason": a.reason,
        "created_at": a.created_at,
        "payload": a.payload,
        "result": a.result,
    })
}

impl Access {
    pub fn path(data: &Path) -> PathBuf {
        data.join("access.json")
    }

    pub fn load(data: &Path) -> Result<Access> {
        let path = Self::path(data);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Access::default()),
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
        Self::from_json(&v).with_context(|| format!("read {}", path.display()))
    }

    /// Writes the whole file: temporary file, fsync, rename, fsync of the directory.
    pub fn save(&self, data: &Path) -> Result<()> {
        std::fs::create_dir_all(data).with_context(|| format!("create {}", data.display()))?;
        let path = Self::path(data);
        let tmp = data.join("access.json.tmp");
        let bytes = serde_json::to_vec_pretty(&self.to_json())?;
        {
            let mut f =
                std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path).with_context(|| format!("replace {}", path.display()))?;
        std::fs::File::open(data)?.sync_all()?;
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        let users: Vec<Value> = self
            .users
            .values()
            .map(|u| {
                let mut v = user_json(u);
                v["password_hash"] = json!(u.password_hash);
                v
            })
            .collect();
        let tokens: Vec<Value> = self
            .tokens
            .values()
            .map(|t| json!({"hash": t.hash, "user": t.user, "label": t.label, "created_at": t.created_at}))
            .collect();
        let trusted: Vec<Value> = self
            .trusted
            .iter()
            .flat_map(|((r, a), es)| {
                es.iter().map(move |e| {
                    json!({"registry": r, "account": a, "trusted": e.trusted,
                           "added_by": e.added_by, "usable_from_micros": e.usable_from_micros})
                })
            })
            .collect();
        let limits: Vec<Value> = self
            .limits
            .iter()
            .map(|((r, a), l)| json!({"registry": r, "account": a, "transfer_limit": l}))
            .collect();
        json!({
            "format": "tanso-access/1",
            "users": users,
            "tokens": tokens,
            "approvals": self.approvals.values().map(approval_json).collect::<Vec<_>>(),
            "trusted_accounts": trusted,
            "limits": limits,
            "policies": self.policies.to_json(),
            "next_approval": self.next_approval,
        })
    }

    fn from_json(v: &Value) -> Result<Access> {
        if v.get("format").and_then(Value::as_str) != Some("tanso-access/1") {
            bail!("not a tanso-access/1 file");
        }
        let arr = |k: &str| -> Vec<Value> {
            v.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let s = |x: &Value, k: &str| -> String {
            x.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let mut a = Access::default();
        for u in arr("users") {
            let grants = u
                .get("grants")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(parse_grant)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("user {}: {e}", s(&u, "id")))?;
            let user = User {
                id: s(&u, "id"),
                grants,
                password_hash: u
                    .get("password_hash")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                created_at: s(&u, "created_at"),
            };
            a.users.insert(user.id.clone(), user);
        }
        for t in arr("tokens") {
            let tok = Token {
                hash: s(&t, "hash"),
                user: s(&t, "user"),
                label: s(&t, "label"),
                created_at: s(&t, "created_at"),
            };
            a.tokens.insert(tok.hash.clone(), tok);
        }
        for p in arr("approvals") {
            let ap = Approval {
                id: s(&p, "id"),
                kind: s(&p, "kind"),
                payload: p.get("payload").cloned().unwrap_or(Value::Null),
                maker: s(&p, "maker"),
                reason: s(&p, "reason"),
                chain: s(&p, "chain"),
                account: p.get("account").and_then(Value::as_u64),
                created_at: s(&p, "created_at"),
                status: s(&p, "status"),
                checker: p.get("checker").and_then(Value::as_str).map(str::to_owned),
                result: p.get("result").cloned().filter(|r| !r.is_null()),
            };
            a.approvals.insert(ap.id.clone(), ap);
        }
        for t in arr("trusted_accounts") {
            a.trusted
                .entry((
                    s(&t, "registry"),
                    t.get("account").and_then(Value::as_u64).unwrap_or(0),
                ))
                .or_default()
                .push(TrustedEntry {
                    trusted: t.get("trusted").and_then(Value::as_u64).unwrap_or(0),
                    added_by: s(&t, "added_by"),
                    usable_from_micros: t
                        .get("usable_from_micros")
                        .and_then(Value::as_i64)
                        .unwrap_or(i64::MAX),
                });
        }
        for l in arr("limits") {
            if let Some(n) = l.get("transfer_limit").and_then(Value::as_u64) {
                a.limits.insert(
                    (
                        s(&l, "registry"),
                        l.get("account").and_then(Value::as_u64).unwrap_or(0),
                    ),
                    n,
                );
            }
        }
        if let Some(p) = v.get("policies") {
            a.policies = Policies::default()
                .patch(p)
                .map_err(|e| anyhow::anyhow!("policies: {e}"))?;
        }
        a.next_approval = v.get("next_approval").and_then(Value::as_u64).unwrap_or(0);
        Ok(a)
    }

    /// The user a bearer token stands for.
    pub fn user_by_token(&self, token: &str) -> Option<&User> {
        let t = self.tokens.get(&token_hash(token))?;
        self.users.get(&t.user)
    }

    /// Adds a token for `user`; returns the token itself (shown once, never stored).
    pub fn issue_token(&mut self, user: &str, label: &str, now: &str) -> Result<String> {
        if !self.users.contains_key(user) {
            bail!("no user {user:?}");
        }
        let token = new_token()?;
        let hash = token_hash(&token);
        self.tokens.insert(
            hash.clone(),
            Token {
                hash,
                user: user.to_owned(),
                label: label.to_owned(),
                created_at: now.to_owned(),
            },
        );
        Ok(token)
    }

    /// Whether any user exists (bootstrap happens once).
    pub fn bootstrapped(&self) -> bool {
        !self.users.is_empty()
    }

    pub fn add_user(&mut self, user: User) -> std::result::Result<(), String> {
        if !valid_user_id(&user.id) {
            return Err(format!("user id {:?} is malformed", user.id));
        }
        if self.users.contains_key(&user.id) {
            return Err(format!("user {:?} exists", user.id));
        }
        self.users.insert(user.id.clone(), user);
        Ok(())
    }

    /// Whether `account`'s trusted list lets `to` be used at `now_micros`.
    pub fn is_trusted(&self, registry: &str, account: u64, to: u64, now_micros: i64) -> bool {
        // A lookup copies the registry's name into a key: none while the list is empty.
        !self.trusted.is_empty()
            && self
                .trusted
                .get(&(registry.to_owned(), account))
                .is_some_and(|es| {
                    es.iter()
                        .any(|e| e.trusted == to && e.usable_from_micros <= now_micros)
                })
    }

    pub fn new_approval_id(&mut self) -> String {
        self.next_approval += 1;
        format!("ap-{:06}", self.next_approval)
    }
}

/// The fields of a command that carry personal or free text (docs/COMMANDS.md).
pub const PERSONAL_FIELDS: [&str; 3] = ["name", "beneficiary_name", "note"];

/// Removes personal text from a decided request's payload: it lived in `access.json` only
/// while the request waited; the journal's side store keeps what was applied.
pub fn forget_personal(payload: &mut Value) {
    if let Some(m) = payload.as_object_mut() {
        for k in PERSONAL_FIELDS {
            if m.get(k).is_some_and(|v| !v.is_null()) {
                m.insert(k.into(), Value::String("(removed once decided)".into()));
            }
        }
        if let Some(Value::Array(legs)) = m.get_mut("legs") {
            legs.iter_mut().for_each(forget_personal);
        }
    }
}

/// Reads a JSON object's string field (for request bodies).
pub fn field<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}
