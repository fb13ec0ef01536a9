//! The JSON edge: one command per JSON object in, one result per JSON object out. Shared by
//! `tanso apply` and the HTTP API, so both take exactly the same shape (`docs/COMMANDS.md`).
//!
//! Conversion to and from core types is by hand, field by field, so that every bad field gets
//! its exact catalogue code (a negative quantity is 3008, not a parse error). This crate
//! salts personal text (names, beneficiary names, notes) into `PersonalRef`s and hands the text
//! to the side store; the core never sees it. It knows nothing of storage.

pub mod out;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tanso_core::*;

/// A command as read from JSON: envelope fields, the content hash, and the core command or
/// the edge's rejection.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub id: CommandId,
    pub chain: ChainId,
    pub actor: Actor,
    pub dry_run: bool,
    pub content_hash: [u8; 32],
    pub command: Result<Command, Rejection>,
    /// (salted reference, salt, text) for every personal field.
    pub personal: Vec<([u8; 32], [u8; 32], String)>,
}

/// Why a line could not even be bound to a command id: answered, never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unbound {
    pub id: Option<String>,
    pub rejection: Rejection,
}

/// Source of salts for personal text. Production uses the OS; tests may pass a fixed one.
pub type SaltSource<'a> = &'a mut dyn FnMut() -> [u8; 32];

pub fn os_salt() -> [u8; 32] {
    let mut s = [0u8; 32];
    // A failure of the OS random source leaves a zero salt: the reference is then an unsalted
    // hash, still outside the chain's public text. getrandom does not fail on Linux.
    let _ = getrandom_fill(&mut s);
    s
}

fn getrandom_fill(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// SHA-256 over the canonical JSON (sorted keys, no whitespace) of the command object.
pub fn content_hash(v: &Value) -> [u8; 32] {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(b"tanso-command/1\0");
    h.update(&bytes);
    h.finalize().into()
}

/// Parses one line of `tanso apply` input (or one API request body).
pub fn parse_line(line: &str, salt: SaltSource) -> Result<Parsed, Unbound> {
    let v: Value = serde_json::from_str(line).map_err(|e| Unbound {
        id: None,
        rejection: Rejection::one(Code::MALFORMED_COMMAND, format!("not valid JSON: {e}")),
    })?;
    parse_value(&v, salt)
}

pub fn parse_value(v: &Value, salt: SaltSource) -> Result<Parsed, Unbound> {
    let obj = v.as_object().ok_or_else(|| Unbound {
        id: None,
        rejection: Rejection::one(Code::MALFORMED_COMMAND, "a command is a JSON object"),
    })?;
    let raw_id = obj.get("id").and_then(Value::as_str).map(str::to_owned);
    let unbound = |code: Code, msg: String| Unbound {
        id: raw_id.clone(),
        rejection: Rejection::one(code, msg),
    };
    let id = match obj.get("id") {
        None => return Err(unbound(Code::MALFORMED_COMMAND, "missing field id".into())),
        Some(Value::String(s)) => {
            CommandId::parse(s).map_err(|c| unbound(c, format!("command id {s:?} is malformed")))?
        }
        Some(_) => {
            return Err(unbound(
                Code::MALFORMED_COMMAND,
                "id must be a string".into(),
            ))
        }
    };
    let chain_s = obj
        .get("chain")
        .and_then(Value::as_str)
        .ok_or_else(|| unbound(Code::MALFORMED_COMMAND, "missing field chain".into()))?;
    let chain = ChainId::parse(chain_s)
        .map_err(|c| unbound(c, format!("chain {chain_s:?} is malformed")))?;
    let actor_s = obj
        .get("actor")
        .and_then(Value::as_str)
        .unwrap_or("anonymous");
    let actor =
        Actor::parse(actor_s).map_err(|c| unbound(c, format!("actor {actor_s:?} is malformed")))?;
    let dry_run = obj.get("dry_run").and_then(Value::as_bool).unwrap_or(false);
    // The content hash covers everything but the dry-run flag.
    let mut hashed = obj.clone();
    hashed.remove("dry_run");
    let content_hash = content_hash(&Value::Object(hashed));
    let mut personal = Vec::new();
    let mut ctx = Ctx {
        chain: &chain,
        salt,
        personal: &mut personal,
    };
    let command = ctx.command(&Obj(obj));
    Ok(Parsed {
        id,
        chain,
        actor,
        dry_run,
        content_hash,
        command,
        personal,
    })
}

type R<T> = Result<T, Rejection>;

fn malformed(msg: impl Into<String>) -> Rejection {
    Rejection::one(Code::MALFORMED_COMMAND, msg)
}

/// A JSON object with typed accessors that answer with catalogue codes.
struct Obj<'a>(&'a Map<String, Value>);

impl<'a> Obj<'a> {
    fn opt(&self, k: &str) -> Option<&'a Value> {
        self.0.get(k).filter(|v| !v.is_null())
    }
    fn req(&self, k: &str) -> R<&'a Value> {
        self.opt(k)
            .ok_or_else(|| malformed(format!("missing field {k}")))
    }
    fn str(&self, k: &str) -> R<&'a str> {
        self.req(k)?
            .as_str()
            .ok_or_else(|| malformed(format!("{k} must be a string")))
    }
    fn opt_str(&self, k: &str) -> R<Option<&'a str>> {
        self.opt(k)
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| malformed(format!("{k} must be a string")))
            })
            .transpose()
    }
    fn bool(&self, k: &str) -> R<bool> {
        self.req(k)?
            .as_bool()
            .ok_or_else(|| malformed(format!("{k} must be true or false")))
    }
    fn obj(&self, k: &str) -> R<Obj<'a>> {
        self.req(k)?
            .as_object()
            .map(Obj)
            .ok_or_else(|| malformed(format!("{k} must be an object")))
    }
    fn array(&self, k: &str) -> R<&'a Vec<Value>> {
        self.req(k)?
            .as_array()
            .ok_or_else(|| malformed(format!("{k} must be an array")))
    }
    /// A whole number ≥ 0 that fits u64; anything else is 3008 (negative, fractional,
    /// overflowing, or not a number).
    fn u64_as(&self, k: &str, code: Code) -> R<u64> {
        whole(self.req(k)?).ok_or_else(|| {
            Rejection::one(code, format!("{k} must be a whole number from 0 to 2^64-1"))
        })
    }
    fn u64(&self, k: &str) -> R<u64> {
        self.u64_as(k, Code::MALFORMED_COMMAND)
    }
    fn quantity(&self, k: &str) -> R<Quantity> {
        let n = self.u64_as(k, Code::QUANTITY_INVALID)?;
        Quantity::new(n).map_err(|c| Rejection::one(c, format!("{k} must not be zero")))
    }
    fn money(&self, k: &str) -> R<Money> {
        let n = self.u64_as(k, Code::AMOUNT_INVALID)?;
        if n == 0 {
            return Err(Rejection::one(
                Code::AMOUNT_INVALID,
                format!("{k} must be positive"),
            ));
        }
        Ok(Money(n))
    }
    /// An RFC 3339 UTC time (`PERIOD_INVALID` if it is not one).
    fn time(&self, k: &str) -> R<Timestamp> {
        let s = self.str(k)?;
        parse_time(s).ok_or_else(|| {
            Rejection::one(
                Code::PERIOD_INVALID,
                format!("{k} {s:?} is not RFC 3339 UTC"),
            )
        })
    }
    fn opt_time(&self, k: &str) -> R<Option<Timestamp>> {
        self.opt(k).map(|_| self.time(k)).transpose()
    }
    fn id<T>(&self, k: &str, parse: fn(&str) -> Result<T, Code>) -> R<T> {
        let s = self.str(k)?;
        parse(s).map_err(|c| Rejection::one(c, format!("{k} {s:?} is malformed")))
    }
    fn opt_id<T>(&self, k: &str, parse: fn(&str) -> Result<T, Code>) -> R<Option<T>> {
        self.opt_str(k)?
            .map(|s| parse(s).map_err(|c| Rejection::one(c, format!("{k} {s:?} is malformed"))))
            .transpose()
    }
}

fn whole(v: &Value) -> Option<u64> {
    v.as_u64()
}

struct Ctx<'c, 's> {
    chain: &'c ChainId,
    salt: SaltSource<'s>,
    personal: &'c mut Vec<([u8; 32], [u8; 32], String)>,
}

fn enum_of<T: Copy>(o: &Obj, k: &str, options: &[(&str, T)]) -> R<T> {
    let s = o.str(k)?;
    options
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            malformed(format!(
                "{k} must be one of {}",
                options
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

const STRADDLE: &[(&str, StraddlePolicy)] = &[
    (
        "pro_rata_days_remainder_last",
        StraddlePolicy::ProRataDaysRemainderLast,
    ),
    ("refuse", StraddlePolicy::Refuse),
];
const CLASSES: &[(&str, AccountClass)] = &[
    ("holding", AccountClass::Holding),
    ("pending_issuance", AccountClass::PendingIssuance),
    ("suspense", AccountClass::Suspense),
    ("retirement", AccountClass::Retirement),
    (
        "voluntary_cancellation",
        AccountClass::VoluntaryCancellation,
    ),
    ("omge_cancellation", AccountClass::OmgeCancellation),
    ("surrender", AccountClass::Surrender),
];
const STATUSES: &[(&str, AccountStatus)] = &[
    ("open", AccountStatus::Open),
    ("frozen", AccountStatus::Frozen),
    ("closed", AccountStatus::Closed),
];
const HOLD_KINDS: &[(&str, HoldKind)] = &[
    ("local_pending_transfer", HoldKind::LocalPendingTransfer),
    ("market_order", HoldKind::MarketOrder),
    ("cross_registry_transfer", HoldKind::CrossRegistryTransfer),
    ("reconciliation_freeze", HoldKind::ReconciliationFreeze),
    ("legal_freeze", HoldKind::LegalFreeze),
];
const CANCEL_KINDS: &[(&str, CancellationKind)] = &[
    ("voluntary", CancellationKind::Voluntary),
    ("omge", CancellationKind::Omge),
];
const VINTAGE_RULES: &[(&str, VintageRule)] = &[
    ("calendar_year", VintageRule::CalendarYear),
    ("compliance_year", VintageRule::ComplianceYear),
];
const ADJUSTMENTS: &[(&str, AdjustmentStatus)] = &[
    ("not_applicable", AdjustmentStatus::NotApplicable),
    ("pending", AdjustmentStatus::Pending),
    ("applied", AdjustmentStatus::Applied),
];

pub fn straddle_name(p: StraddlePolicy) -> &'static str {
    name_of(STRADDLE, p)
}
pub fn class_name(c: AccountClass) -> &'static str {
    name_of(CLASSES, c)
}
pub fn status_name(s: AccountStatus) -> &'static str {
    name_of(STATUSES, s)
}
pub fn hold_kind_name(k: HoldKind) -> &'static str {
    name_of(HOLD_KINDS, k)
}
pub fn cancel_kind_name(k: CancellationKind) -> &'static str {
    name_of(CANCEL_KINDS, k)
}
pub fn vintage_rule_name(k: VintageRule) -> &'static str {
    name_of(VINTAGE_RULES, k)
}
pub fn adjustment_name(k: AdjustmentStatus) -> &'static str {
    name_of(ADJUSTMENTS, k)
}

fn name_of<T: PartialEq + Copy>(table: &[(&'static str, T)], v: T) -> &'static str {
    table
        .iter()
        .find(|(_, x)| *x == v)
        .map_or("unknown", |(n, _)| n)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (RFC 3339, UTC).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let (date, rest) = s.split_once('T')?;
    let d = Date::parse(date).ok()?;
    let rest = rest.strip_suffix('Z')?;
    let (hms, frac) = match rest.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    let mut it = hms.split(':');
    let mut num = |max: i64| -> Option<i64> {
        let t = it.next()?;
        (t.len() == 2 && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
            .filter(|&n| n <= max)
    };
    let (h, m, sec) = (num(23)?, num(59)?, num(59)?);
    let micros = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 6 && f.bytes().all(|c| c.is_ascii_digit()) => {
            f.parse::<i64>().ok()? * 10i64.pow(6 - f.len() as u32)
        }
        _ => return None,
    };
    let day = i64::from(d.days());
    Some(Timestamp(
        day * 86_400_000_000 + ((h * 60 + m) * 60 + sec) * 1_000_000 + micros,
    ))
}

impl Ctx<'_, '_> {
    fn personal_text(&mut self, text: &str) -> PersonalRef {
        let salt = (self.salt)();
        let mut h = Sha256::new();
        h.update(salt);
        h.update(text.as_bytes());
        let r: [u8; 32] = h.finalize().into();
        self.personal.push((r, salt, text.to_owned()));
        PersonalRef(r)
    }

    fn opt_personal(&mut self, o: &Obj, k: &str) -> R<Option<PersonalRef>> {
        Ok(o.opt_str(k)?.map(|t| self.personal_text(t)))
    }

    fn registry_default(&self) -> Option<RegistryId> {
        match self.chain {
            ChainId::Registry(r) => Some(*r),
            _ => None,
        }
    }

    fn citation(&self, o: &Obj) -> R<Citation> {
        let chain = o.id("chain", ChainId::parse)?;
        Ok(Citation {
            chain,
            seq: o.u64("seq")?,
            hash: hex32(o.str("hash")?)?,
        })
    }

    fn opt_citation(&self, o: &Obj, k: &str) -> R<Option<Citation>> {
        match o.opt(k) {
            None => Ok(None),
            Some(v) => {
                let m = v
                    .as_object()
                    .ok_or_else(|| malformed(format!("{k} must be an object")))?;
                self.citation(&Obj(m)).map(Some)
            }
        }
    }

    fn ranges(&self, arr: &[Value]) -> R<Vec<IssuedRange>> {
        arr.iter()
            .map(|v| {
                let o = Obj(v
                    .as_object()
                    .ok_or_else(|| malformed("a range is an object"))?);
                let issuing = match o.opt_id("issuing", RegistryId::parse)? {
                    Some(r) => r,
                    None => self
                        .registry_default()
                        .ok_or_else(|| malformed("a range needs issuing"))?,
                };
                let start = o.u64_as("start", Code::QUANTITY_INVALID)?;
                let end = o.u64_as("end", Code::QUANTITY_INVALID)?;
                let range = SerialRange::new(start, end)
                    .map_err(|c| Rejection::one(c, format!("range {start}-{end}")))?;
                Ok(IssuedRange { issuing, range })
            })
            .collect()
    }

    fn labels(&self, o: &Obj) -> R<Labels> {
        let authorization = match o.opt("authorization") {
            None => None,
            Some(v) => {
                let a = Obj(v
                    .as_object()
                    .ok_or_else(|| malformed("authorization must be an object"))?);
                Some(AuthorizationRef {
                    party: a.id("party", PartyId::parse)?,
                    authorization: a.id("id", DecisionId::parse)?,
                    version: u32::try_from(a.u64("version")?)
                        .map_err(|_| malformed("version is too large"))?,
                })
            }
        };
        Ok(Labels {
            authorization,
            first_transferred: o
                .opt("first_transferred")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            adjustment: if o.opt("adjustment").is_some() {
                enum_of(o, "adjustment", ADJUSTMENTS)?
            } else {
                AdjustmentStatus::NotApplicable
            },
        })
    }

    /// `quantity` with an optional `unit` filter, or `ranges`.
    fn selection(&self, o: &Obj) -> R<UnitSelection> {
        match (o.opt("quantity"), o.opt("ranges")) {
            (Some(_), None) => {
                let quantity = o.quantity("quantity")?;
                let filter = match o.opt("unit") {
                    None => SetFilter::default(),
                    Some(v) => {
                        let u = Obj(v
                            .as_object()
                            .ok_or_else(|| malformed("unit must be an object"))?);
                        SetFilter {
                            kind: u.opt_id("kind", UnitKindCode::parse)?,
                            issuing: u.opt_id("issuing", RegistryId::parse)?,
                            project: u.opt_id("project", ProjectId::parse)?,
                            vintage: match u.opt("vintage") {
                                None => None,
                                Some(v) => {
                                    Some(v.as_i64().and_then(|y| Vintage::new(y).ok()).ok_or_else(
                                        || {
                                            Rejection::one(
                                                Code::VINTAGE_INVALID,
                                                "vintage must be a four-digit year",
                                            )
                                        },
                                    )?)
                                }
                            },
                            labels: match u.opt("labels") {
                                None => None,
                                Some(l) => Some(
                                    self.labels(&Obj(l
                                        .as_object()
                                        .ok_or_else(|| malformed("labels must be an object"))?))?,
                                ),
                            },
                        }
                    }
                };
                Ok(UnitSelection::Quantity { quantity, filter })
            }
            (None, Some(_)) => Ok(UnitSelection::Ranges(self.ranges(o.array("ranges")?)?)),
            _ => Err(malformed("give either quantity (with unit) or ranges")),
        }
    }

    fn hold_part(&self, o: &Obj) -> R<HoldPart> {
        match (o.opt("ranges"), o.opt("amount")) {
            (None, None) => Ok(HoldPart::All),
            (Some(_), None) => Ok(HoldPart::Ranges(self.ranges(o.array("ranges")?)?)),
            (None, Some(_)) => Ok(HoldPart::Cash(o.money("amount")?)),
            _ => Err(malformed("give ranges or amount, not both")),
        }
    }

    fn command(&mut self, o: &Obj) -> R<Command> {
        let name = o.str("command")?;
        let account = |k: &str| -> R<AccountId> { Ok(AccountId(o.u64(k)?)) };
        Ok(match name {
            "open_registry" => Command::OpenRegistry {
                registry: match o.opt_id("registry", RegistryId::parse)? {
                    Some(r) => r,
                    None => self
                        .registry_default()
                        .ok_or_else(|| malformed("missing field registry"))?,
                },
                straddle: if o.opt("straddle_policy").is_some() {
                    enum_of(o, "straddle_policy", STRADDLE)?
                } else {
                    StraddlePolicy::ProRataDaysRemainderLast
                },
            },
            "set_straddle_policy" => Command::SetStraddlePolicy(enum_of(o, "policy", STRADDLE)?),
            "open_mechanism" => Command::OpenMechanism {
                mechanism: match (o.opt_id("mechanism", MechanismId::parse)?, self.chain) {
                    (Some(m), _) => m,
                    (None, ChainId::Mechanism(m)) => m.clone(),
                    _ => return Err(malformed("missing field mechanism")),
                },
                parties: o
                    .array("parties")?
                    .iter()
                    .map(|p| {
                        p.as_str()
                            .ok_or_else(|| malformed("a party is a string"))
                            .and_then(|s| PartyId::parse(s).map_err(|c| Rejection::one(c, "party")))
                    })
                    .collect::<R<_>>()?,
            },
            "open_party_authority" => Command::OpenPartyAuthority {
                party: match (o.opt_id("party", PartyId::parse)?, self.chain) {
                    (Some(p), _) => p,
                    (None, ChainId::PartyAuthority(p)) => *p,
                    _ => return Err(malformed("missing field party")),
                },
            },
            "record_decision" => Command::RecordDecision {
                decision: o.id("decision", DecisionId::parse)?,
                kind: o.id("kind", DecisionId::parse)?,
                document: o.opt_str("document_sha256")?.map(hex32).transpose()?,
            },
            "define_unit_kind" => Command::DefineUnitKind {
                code: o.id("code", UnitKindCode::parse)?,
                has_project: o.bool("has_project")?,
                vintage_rule: enum_of(o, "vintage_rule", VINTAGE_RULES)?,
            },
            "define_account_kind" => Command::DefineAccountKind {
                code: o.id("code", AccountKindCode::parse)?,
                class: enum_of(o, "class", CLASSES)?,
            },
            "define_currency" => Command::DefineCurrency {
                code: o.id("code", CurrencyCode::parse)?,
                minor_units: u8::try_from(o.u64("minor_units")?)
                    .ok()
                    .filter(|&m| m <= 18)
                    .ok_or_else(|| malformed("minor_units must be 0 to 18"))?,
            },
            "register_holder" => {
                let holder = HolderId(o.u64("holder")?);
                let kind = o.id("kind", HolderKind::parse)?;
                let text = o.str("name")?;
                Command::RegisterHolder {
                    holder,
                    kind,
                    name: self.personal_text(text),
                }
            }
            "open_account" => Command::OpenAccount {
                account: account("account")?,
                holder: HolderId(o.u64("holder")?),
                kind: o.id("kind", AccountKindCode::parse)?,
            },
            "set_account_status" => Command::SetAccountStatus {
                account: account("account")?,
                status: enum_of(o, "status", STATUSES)?,
            },
            "issue" => {
                let p = o.obj("period")?;
                let date = |k: &str| -> R<Date> {
                    let s = p.str(k)?;
                    Date::parse(s).map_err(|c| Rejection::one(c, format!("period {k} {s:?}")))
                };
                let (start, end) = (date("start")?, date("end")?);
                Command::Issue {
                    account: account("account")?,
                    kind: o.id("kind", UnitKindCode::parse)?,
                    project: o.opt_id("project", ProjectId::parse)?,
                    period: MitigationPeriod::new(start, end)
                        .map_err(|c| Rejection::one(c, "period ends before it starts"))?,
                    vintage: match o.opt("vintage") {
                        None => None,
                        Some(v) => Some(v.as_i64().and_then(|y| Vintage::new(y).ok()).ok_or_else(
                            || {
                                Rejection::one(
                                    Code::VINTAGE_INVALID,
                                    "vintage must be a four-digit year",
                                )
                            },
                        )?),
                    },
                    quantity: o.quantity("quantity")?,
                    unit_start: o
                        .opt("unit_start")
                        .map(|_| o.u64_as("unit_start", Code::QUANTITY_INVALID))
                        .transpose()?,
                    citation: self.opt_citation(o, "citation")?,
                    business_key: o.opt_id("business_key", BusinessKey::parse)?,
                }
            }
            "transfer" => Command::Transfer {
                from: account("from")?,
                to: account("to")?,
                units: self.selection(o)?,
            },
            "retire" => Command::Retire {
                from: account("from")?,
                to: account("to")?,
                units: self.selection(o)?,
                purpose: o.id("purpose", PurposeCode::parse)?,
                beneficiary: o
                    .opt("beneficiary_holder")
                    .map(|_| o.u64("beneficiary_holder"))
                    .transpose()?
                    .map(HolderId),
                beneficiary_name: self.opt_personal(o, "beneficiary_name")?,
                note: self.opt_personal(o, "note")?,
            },
            "cancel" => Command::Cancel {
                from: account("from")?,
                to: account("to")?,
                units: self.selection(o)?,
                kind: enum_of(o, "kind", CANCEL_KINDS)?,
                note: self.opt_personal(o, "note")?,
            },
            "set_labels" => Command::SetLabels {
                ranges: self.ranges(o.array("ranges")?)?,
                labels: self.labels(&o.obj("labels")?)?,
                citation: self.opt_citation(o, "citation")?,
            },
            "place_hold" => Command::PlaceHold {
                hold: o.id("hold", HoldId::parse)?,
                kind: enum_of(o, "kind", HOLD_KINDS)?,
                account: account("account")?,
                target: match o.opt("cash") {
                    Some(v) => {
                        let c = Obj(v
                            .as_object()
                            .ok_or_else(|| malformed("cash must be an object"))?);
                        HoldTarget::Cash {
                            currency: c.id("currency", CurrencyCode::parse)?,
                            amount: c.money("amount")?,
                        }
                    }
                    None => HoldTarget::Units(self.selection(o)?),
                },
                expires_at: o.opt_time("expires_at")?,
            },
            "release_hold" => Command::ReleaseHold {
                hold: o.id("hold", HoldId::parse)?,
                part: self.hold_part(o)?,
                decision: self.opt_citation(o, "decision")?,
            },
            "post_hold" => Command::PostHold {
                hold: o.id("hold", HoldId::parse)?,
                to: account("to")?,
                part: self.hold_part(o)?,
            },
            "expire_holds" => Command::ExpireHolds {
                now: o.time("now")?,
            },
            "deposit_cash" | "withdraw_cash" => {
                let (account, currency, amount) = (
                    account("account")?,
                    o.id("currency", CurrencyCode::parse)?,
                    o.money("amount")?,
                );
                if name == "deposit_cash" {
                    Command::DepositCash {
                        account,
                        currency,
                        amount,
                    }
                } else {
                    Command::WithdrawCash {
                        account,
                        currency,
                        amount,
                    }
                }
            }
            "transfer_cash" => Command::TransferCash {
                from: account("from")?,
                to: account("to")?,
                currency: o.id("currency", CurrencyCode::parse)?,
                amount: o.money("amount")?,
            },
            "correct" => Command::Correct {
                target: CitedEntry {
                    seq: o.u64("seq")?,
                    hash: hex32(o.str("hash")?)?,
                    events: Vec::new(),
                },
                note: self.opt_personal(o, "note")?,
            },
            "multi_leg" => {
                let legs = o.array("legs")?;
                let mut out = Vec::with_capacity(legs.len());
                for (i, leg) in legs.iter().enumerate() {
                    let m = leg
                        .as_object()
                        .ok_or_else(|| malformed(format!("leg {} must be an object", i + 1)))?;
                    out.push(self.command(&Obj(m)).map_err(|mut r| {
                        for f in &mut r.failures {
                            f.message = format!("leg {}: {}", i + 1, f.message);
                        }
                        r
                    })?);
                }
                Command::MultiLeg(out)
            }
            "transfer_out" => Command::TransferOut {
                from: account("from")?,
                to_registry: o.id("to_registry", RegistryId::parse)?,
                to_account: account("to_account")?,
                units: self.selection(o)?,
                decide_by: o.time("decide_by")?,
            },
            "cancel_transfer" => Command::CancelTransfer {
                transfer_id: o.id("transfer_id", tanso_core::link::TransferId::parse)?,
            },
            "expire_transfers" => Command::ExpireTransfers {
                now: o.time("now")?,
            },
            "set_suspense_account" => Command::SetSuspenseAccount {
                account: account("account")?,
            },
            other => return Err(malformed(format!("unknown command {other:?}"))),
        })
    }
}

fn hex32(s: &str) -> R<[u8; 32]> {
    let v = hex::decode(s)
        .map_err(|_| Rejection::one(Code::MALFORMED_ID, "hash must be 64 hex digits"))?;
    v.try_into()
        .map_err(|_| Rejection::one(Code::MALFORMED_ID, "hash must be 64 hex digits"))
}
