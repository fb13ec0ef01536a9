//! The JSON edge: one command per JSON object in, one result per JSON object out. Shared by
//! `tanso apply` and the HTTP API, so both take exactly the same shape (`docs/COMMANDS.md`).
//!
//! Conversion to and from core types is by hand, field by field, so that every bad field gets
//! its exact catalogue code (a negative quantity is 3008, not a parse error). This crate
//! salts personal text (names, beneficiary names, notes) into `PersonalRef`s and hands the text
//! to the side store; the core never sees it. It knows nothing of storage.

pub mod a6;
pub mod ccts;
pub mod out;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tanso_core::jcm::allocation::Share;
use tanso_core::jcm::methodology::{Decimal, Params, Rounding};
use tanso_core::jcm::{
    Allocation, Change, DocRef, ForeignIssuance, InputTarget, JcmCommand, JcmPolicy,
    MethodologyRef, OutsideListAtRegistration, OutsideListAuthorization, RemainderPolicy, Role,
    Subject,
};
use tanso_core::*;

pub use out::{policy_json, subject_json};

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

/// [`content_hash`] of the object without the member `skip`, computed without copying it: the
/// same canonical bytes (members in sorted order, no whitespace).
pub fn content_hash_without(obj: &serde_json::Map<String, Value>, skip: &str) -> [u8; 32] {
    struct Without<'a>(&'a serde_json::Map<String, Value>, &'a str);
    impl serde::Serialize for Without<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let n = self.0.len() - usize::from(self.0.contains_key(self.1));
            let mut m = s.serialize_map(Some(n))?;
            for (k, v) in self.0.iter().filter(|(k, _)| k.as_str() != self.1) {
                m.serialize_entry(k, v)?;
            }
            m.end()
        }
    }
    content_digest(&serde_json::to_vec(&Without(obj, skip)).unwrap_or_default())
}

/// The content hash of a command's canonical JSON (keys sorted, no spaces, no dry-run flag).
fn content_digest(canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tanso-command/1\0");
    h.update(canonical);
    h.finalize().into()
}

/// The fields of a plain quantity transfer, borrowed from its JSON text: as serde reads them
/// ([`read_plain`]) and as the scanner does ([`scan_plain`]).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainFields<'a> {
    id: &'a str,
    chain: &'a str,
    command: &'a str,
    // Numbers as `Value` holds them (so `-0` or `1.0` read as there), whole ones taken below.
    from: serde_json::Number,
    to: serde_json::Number,
    quantity: serde_json::Number,
    actor: Option<&'a str>,
    dry_run: Option<bool>,
    /// Absent, `null`, or a filter naming at most the unit kind.
    #[serde(default, deserialize_with = "unit_filter", borrow)]
    unit: Option<Option<KindFilter<'a>>>,
}

/// A unit filter naming at most the unit kind (absent, `null` or a string), written back in
/// canonical form as the map it is.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct KindFilter<'a> {
    #[serde(
        default,
        deserialize_with = "present",
        borrow,
        skip_serializing_if = "Option::is_none"
    )]
    kind: Option<Option<&'a str>>,
}

/// A field that is there (possibly `null`): with `#[serde(default)]`, `None` only when absent.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `unit`, when there: `null`, or a [`KindFilter`] read from its text once it is known to be an
/// object (a struct would also read an array).
fn unit_filter<'de, D>(d: D) -> Result<Option<Option<KindFilter<'de>>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    let raw: Option<&'de serde_json::value::RawValue> = serde::Deserialize::deserialize(d)?;
    match raw {
        None => Ok(Some(None)),
        Some(r) if r.get().starts_with('{') => serde_json::from_str(r.get())
            .map(|k| Some(Some(k)))
            .map_err(D::Error::custom),
        Some(_) => Err(D::Error::custom("a unit filter is an object")),
    }
}

/// A plain transfer read by serde: any JSON of the plain shape.
fn read_plain(raw: &str) -> Option<PlainFields<'_>> {
    // An object only: a struct would also read an array.
    if !raw.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(raw).ok()
}

/// A plain transfer in the form clients write it, read by a scanner of that form alone, at a
/// fraction of serde's cost (a batch's items are most of its work): an object of the keys
/// `id`, `chain`, `command`, `from`, `to`, `quantity`, `actor`, `dry_run` and `unit`, each at
/// most once, whose values are strings of printable ASCII without escapes, whole numbers
/// without sign, fraction or exponent that fit 64 bits, booleans, or for `unit` `{}` or
/// `{"kind": string}`, with JSON's whitespace between tokens. Anything else (a `null`, an
/// escape, another key, a duplicate) is `None`, and [`read_plain`] reads it.
fn scan_plain(raw: &str) -> Option<PlainFields<'_>> {
    let mut s = Scan { raw, at: 0 };
    s.token(b'{')?;
    let (mut id, mut chain, mut command) = (None, None, None);
    let (mut from, mut to, mut quantity) = (None, None, None);
    let (mut actor, mut dry_run, mut unit) = (None, None, None);
    loop {
        let key = s.string()?;
        s.token(b':')?;
        let again = match key {
            "id" => id.replace(s.string()?).is_some(),
            "chain" => chain.replace(s.string()?).is_some(),
            "command" => command.replace(s.string()?).is_some(),
            "from" => from.replace(s.number()?).is_some(),
            "to" => to.replace(s.number()?).is_some(),
            "quantity" => quantity.replace(s.number()?).is_some(),
            "actor" => actor.replace(s.string()?).is_some(),
            "dry_run" => dry_run.replace(s.boolean()?).is_some(),
            "unit" => unit.replace(s.kind_filter()?).is_some(),
            _ => return None,
        };
        if again {
            return None;
        }
        match s.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    s.skip_space();
    if s.at != raw.len() {
        return None;
    }
    Some(PlainFields {
        id: id?,
        chain: chain?,
        command: command?,
        from: from?,
        to: to?,
        quantity: quantity?,
        actor,
        dry_run,
        unit: unit.map(Some),
    })
}

/// The scanner of [`scan_plain`]: a position in the text.
struct Scan<'a> {
    raw: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    fn skip_space(&mut self) {
        let b = self.raw.as_bytes();
        while self.at < b.len() && matches!(b[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, taken.
    fn next(&mut self) -> Option<u8> {
        self.skip_space();
        let c = *self.raw.as_bytes().get(self.at)?;
        self.at += 1;
        Some(c)
    }

    fn token(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// A string of printable ASCII without escapes.
    fn string(&mut self) -> Option<&'a str> {
        self.token(b'"')?;
        let b = self.raw.as_bytes();
        let start = self.at;
        while *b.get(self.at)? != b'"' {
            if !matches!(b[self.at], 0x20..=0x7e) || b[self.at] == b'\\' {
                return None;
            }
            self.at += 1;
        }
        self.at += 1;
        self.raw.get(start..self.at - 1)
    }

    /// A whole number without sign, fraction or exponent that fits 64 bits.
    fn number(&mut self) -> Option<serde_json::Number> {
        self.skip_space();
        let b = self.raw.as_bytes();
        let start = self.at;
        let mut n: u64 = 0;
        while let Some(d) = b.get(self.at).filter(|d| d.is_ascii_digit()) {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.at += 1;
        }
        // (A fraction or exponent after the digits fails the caller's next token.)
        let digits = self.at - start;
        let leading_zero = digits > 1 && b[start] == b'0';
        (digits > 0 && !leading_zero).then(|| serde_json::Number::from(n))
    }

    fn boolean(&mut self) -> Option<bool> {
        self.skip_space();
        let rest = self.raw.get(self.at..)?;
        let (value, len) = if rest.starts_with("true") {
            (true, 4)
        } else if rest.starts_with("false") {
            (false, 5)
        } else {
            return None;
        };
        self.at += len;
        Some(value)
    }

    /// `{}` or `{"kind": string}`.
    fn kind_filter(&mut self) -> Option<KindFilter<'a>> {
        self.token(b'{')?;
        let save = self.at;
        if self.next()? == b'}' {
            return Some(KindFilter { kind: None });
        }
        self.at = save;
        if self.string()? != "kind" {
            return None;
        }
        self.token(b':')?;
        let kind = self.string()?;
        self.token(b'}')?;
        Some(KindFilter {
            kind: Some(Some(kind)),
        })
    }
}

/// A plain quantity transfer read straight from its JSON text, for large batches: without the
/// `Value` tree and the canonical re-serialization that [`parse_value`] needs for any command.
/// `Some` only for an object with exactly the fields `id`, `chain`, `command` (`"transfer"`),
/// `from`, `to`, `quantity` and, if present, `actor` (equal to `actor`), `dry_run` and a `unit`
/// filter naming at most the unit `kind`, each of its plain JSON type (strings without escapes,
/// whole numbers, a boolean, or null where `parse_value` reads null as absent) and each valid.
/// It is then exactly what `parse_value` makes of the same object with its `actor` set to
/// `actor`; for anything else, `None`, and the caller takes the general path.
pub fn parse_plain_transfer(raw: &str, actor: &str) -> Option<Parsed> {
    let t = scan_plain(raw).or_else(|| read_plain(raw))?;
    if t.command != "transfer" || t.actor.is_some_and(|a| a != actor) {
        return None;
    }
    let id = CommandId::parse(t.id).ok()?;
    let chain = ChainId::parse(t.chain).ok()?;
    let parsed_actor = Actor::parse(actor).ok()?;
    let (from, to) = (t.from.as_u64()?, t.to.as_u64()?);
    let quantity = Quantity::new(t.quantity.as_u64()?).ok()?;
    let unit = t.unit;
    let kind = match unit.as_ref().and_then(|u| u.as_ref()?.kind) {
        Some(Some(k)) => Some(UnitKindCode::parse(k).ok()?),
        _ => None,
    };
    // The canonical JSON `content_hash_without` would write: its fields are declared in
    // sorted order, as the map's keys would be.
    #[derive(serde::Serialize)]
    struct Canonical<'a> {
        actor: &'a str,
        chain: &'a str,
        command: &'a str,
        from: &'a serde_json::Number,
        id: &'a str,
        quantity: &'a serde_json::Number,
        to: &'a serde_json::Number,
        #[serde(skip_serializing_if = "Option::is_none")]
        unit: &'a Option<Option<KindFilter<'a>>>,
    }
    let mut c = Vec::with_capacity(160 + t.id.len() + t.chain.len() + actor.len());
    write_json(
        &mut c,
        &Canonical {
            actor,
            chain: t.chain,
            command: t.command,
            from: &t.from,
            id: t.id,
            quantity: &t.quantity,
            to: &t.to,
            unit: &unit,
        },
    );
    Some(Parsed {
        id,
        chain,
        actor: parsed_actor,
        dry_run: t.dry_run.unwrap_or(false),
        content_hash: content_digest(&c),
        command: Ok(Command::Transfer {
            from: AccountId(from),
            to: AccountId(to),
            units: UnitSelection::Quantity {
                quantity,
                filter: SetFilter {
                    kind,
                    ..SetFilter::default()
                },
            },
        }),
        personal: Vec::new(),
    })
}

/// Appends `v` as JSON (writing into a vector cannot fail).
pub fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(out, v);
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
    let content_hash = content_hash_without(obj, "dry_run");
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
    /// `{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}`, both days included.
    fn period(&self, k: &str) -> R<MitigationPeriod> {
        let p = self.obj(k)?;
        let date = |d: &str| -> R<Date> {
            let s = p.str(d)?;
            Date::parse(s).map_err(|c| Rejection::one(c, format!("{k} {d} {s:?}")))
        };
        let (start, end) = (date("start")?, date("end")?);
        MitigationPeriod::new(start, end)
            .map_err(|c| Rejection::one(c, format!("{k} ends before it starts")))
    }
    fn u32(&self, k: &str) -> R<u32> {
        u32::try_from(self.u64(k)?).map_err(|_| malformed(format!("{k} must be at most 2^32-1")))
    }
    fn u16(&self, k: &str) -> R<u16> {
        u16::try_from(self.u64(k)?).map_err(|_| malformed(format!("{k} must be at most 65535")))
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
    ("expired", AccountClass::Expired),
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
            "issue" => Command::Issue {
                account: account("account")?,
                kind: o.id("kind", UnitKindCode::parse)?,
                project: o.opt_id("project", ProjectId::parse)?,
                period: o.period("period")?,
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
            },
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
            "issue_from_decision" => Command::IssueFromDecision {
                citation: self.citation(&o.obj("citation")?)?,
                // Filled in by the engine from the cited entry, never by the caller.
                cited: None,
            },
            jcm if jcm.starts_with("jcm_") => Command::Jcm(jcm_command(jcm, o)?),
            a6 if a6.starts_with("a6_") => Command::A6(Box::new(a6::a6_command(a6, o)?)),
            c if c.starts_with("ccts_") => Command::Ccts(ccts::ccts_command(self, c, o)?),
            "issue_certificates" => Command::IssueCertificates {
                citation: self.citation(&o.obj("citation")?)?,
                // Filled in by the engine from the cited entry, never by the caller.
                cited: None,
            },
            "surrender_certificates" => Command::SurrenderCertificates {
                from: account("from")?,
                to: account("to")?,
                units: self.selection(o)?,
                entity: o.id("entity", ProjectId::parse)?,
                year: o.u16("year")?,
            },
            "expire_certificates" => Command::ExpireCertificates {
                now: o.time("now")?,
                to: account("to")?,
            },
            "set_certificate_validity" => Command::SetCertificateValidity {
                years: o.u16("years")?,
            },
            "apply_authorization" => Command::ApplyAuthorization {
                citation: self.citation(&o.obj("citation")?)?,
                // Filled in by the engine from the cited entry, never by the caller.
                cited: None,
                account: account("account")?,
                units: self.selection(o)?,
            },
            "use_towards_ndc" => Command::UseTowardsNdc {
                from: account("from")?,
                to: account("to")?,
                units: self.selection(o)?,
                year: o.u16("year")?,
                beneficiary: o
                    .opt("beneficiary_holder")
                    .map(|_| o.u64("beneficiary_holder"))
                    .transpose()?
                    .map(HolderId),
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

// The JCM project cycle (`tanso_core::jcm`), on a mechanism chain. Field shapes are shared with
// the events (`out.rs`), so a rendered subject or policy parses back to the same value.

/// The role names of `jcm_appoint`; `member` and `participant` also take a party.
const ROLES: &[&str] = &["member", "secretariat", "tpe", "participant"];
const ROUNDINGS: &[(&str, Rounding)] = &[
    ("floor", Rounding::Floor),
    ("half_up", Rounding::HalfUp),
    ("half_even", Rounding::HalfEven),
];
const OUTSIDE_LIST_REGISTRATION: &[(&str, OutsideListAtRegistration)] = &[
    ("warn", OutsideListAtRegistration::Warn),
    ("block", OutsideListAtRegistration::Block),
];
const OUTSIDE_LIST_AUTHORIZATION: &[(&str, OutsideListAuthorization)] = &[
    ("block", OutsideListAuthorization::Block),
    ("allow", OutsideListAuthorization::Allow),
];
const FOREIGN_ISSUANCE: &[(&str, ForeignIssuance)] = &[
    ("not_yet_authorized", ForeignIssuance::NotYetAuthorized),
    ("unrestricted", ForeignIssuance::Unrestricted),
];
const REMAINDERS: &[(&str, RemainderPolicy)] = &[
    ("designated_share", RemainderPolicy::DesignatedShare),
    ("largest_share", RemainderPolicy::LargestShare),
];

/// The wire name of a role (`member`, `secretariat`, `tpe`, `participant`); a member's or
/// participant's party is a separate `party` field.
pub fn role_name(r: &Role) -> &'static str {
    match r {
        Role::Member(_) => ROLES[0],
        Role::Secretariat => ROLES[1],
        Role::Tpe => ROLES[2],
        Role::Participant(_) => ROLES[3],
    }
}
/// The party a role is held for, if any.
pub fn role_party(r: &Role) -> Option<PartyId> {
    match r {
        Role::Member(p) | Role::Participant(p) => Some(*p),
        Role::Secretariat | Role::Tpe => None,
    }
}
pub fn rounding_name(r: Rounding) -> &'static str {
    name_of(ROUNDINGS, r)
}
pub fn outside_list_registration_name(p: OutsideListAtRegistration) -> &'static str {
    name_of(OUTSIDE_LIST_REGISTRATION, p)
}
pub fn outside_list_authorization_name(p: OutsideListAuthorization) -> &'static str {
    name_of(OUTSIDE_LIST_AUTHORIZATION, p)
}
pub fn foreign_issuance_name(p: ForeignIssuance) -> &'static str {
    name_of(FOREIGN_ISSUANCE, p)
}
pub fn remainder_name(p: RemainderPolicy) -> &'static str {
    name_of(REMAINDERS, p)
}

/// An exact decimal: a JSON string of plain decimal text (`"0.727"`, `"-3"`, `"0.10"` keeps
/// its scale) or a JSON integer. Floats (`0.1`, `1e-1`) are refused: they have already lost
/// exactness by the time they are numbers.
fn decimal(v: &Value, what: &str) -> R<Decimal> {
    let bad = || {
        malformed(format!(
            "{what} must be a decimal as a string (\"0.727\") or an integer"
        ))
    };
    match v {
        Value::String(s) => {
            // Plain `-?digits[.digits]` only: no exponent, sign `+`, separators or bare point,
            // which `from_str_exact` would otherwise let through.
            let body = s.strip_prefix('-').unwrap_or(s);
            let (int, frac) = match body.split_once('.') {
                Some((i, f)) => (i, Some(f)),
                None => (body, None),
            };
            let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
            if !digits(int) || !frac.is_none_or(digits) {
                return Err(bad());
            }
            Decimal::from_str_exact(s).map_err(|_| bad())
        }
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Ok(Decimal::from(u))
            } else if let Some(i) = n.as_i64() {
                Ok(Decimal::from(i))
            } else {
                Err(bad())
            }
        }
        _ => Err(bad()),
    }
}

/// A JCM code (methodology code, parameter name, criterion): `tanso_core::jcm::valid_code`.
fn jcm_code(s: &str, what: &str) -> R<String> {
    if tanso_core::jcm::valid_code(s) {
        Ok(s.to_owned())
    } else {
        Err(Rejection::one(
            Code::MALFORMED_ID,
            format!("{what} {s:?} is malformed"),
        ))
    }
}

fn as_obj<'a>(v: &'a Value, what: &str) -> R<Obj<'a>> {
    v.as_object()
        .map(Obj)
        .ok_or_else(|| malformed(format!("{what} must be an object")))
}

fn actor_of(v: &Value, what: &str) -> R<Actor> {
    let s = v
        .as_str()
        .ok_or_else(|| malformed(format!("{what} must be a string")))?;
    Actor::parse(s).map_err(|c| Rejection::one(c, format!("{what} {s:?} is malformed")))
}

impl Obj<'_> {
    fn methodology(&self, k: &str) -> R<MethodologyRef> {
        let m = self.obj(k)?;
        Ok(MethodologyRef {
            code: jcm_code(m.str("code")?, &format!("{k} code"))?,
            version: m.u32("version")?,
        })
    }
    fn document(&self, k: &str) -> R<DocRef> {
        let d = self.obj(k)?;
        Ok(DocRef {
            hash: hex32(d.str("sha256")?)?,
            size: d.u64("size")?,
        })
    }
    fn project(&self) -> R<ProjectId> {
        self.id("project", ProjectId::parse)
    }
    fn decimal(&self, k: &str) -> R<Decimal> {
        decimal(self.req(k)?, k)
    }
    /// A parameter map, name → decimal; absent is empty.
    fn params(&self, k: &str) -> R<Params> {
        let Some(v) = self.opt(k) else {
            return Ok(Params::new());
        };
        let m = v
            .as_object()
            .ok_or_else(|| malformed(format!("{k} must be an object of name → decimal")))?;
        m.iter()
            .map(|(name, v)| {
                Ok((
                    jcm_code(name, &format!("{k} parameter"))?,
                    decimal(v, &format!("{k}.{name}"))?,
                ))
            })
            .collect()
    }
    fn allocation(&self, k: &str) -> R<Allocation> {
        let a = self.obj(k)?;
        let shares = a
            .array("shares")?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let s = as_obj(v, &format!("{k} share {i}"))?;
                Ok(Share {
                    registry: s.id("registry", RegistryId::parse)?,
                    account: AccountId(s.u64("account")?),
                    percent: s.decimal("percent")?,
                })
            })
            .collect::<R<_>>()?;
        Ok(Allocation {
            shares,
            remainder_to: if a.opt("remainder_to").is_some() {
                a.u32("remainder_to")?
            } else {
                0
            },
        })
    }
    fn actors(&self, k: &str) -> R<Vec<Actor>> {
        match self.opt(k) {
            None => Ok(Vec::new()),
            Some(_) => self
                .array(k)?
                .iter()
                .map(|v| actor_of(v, &format!("{k} entry")))
                .collect(),
        }
    }
    fn opt_enum<T: Copy>(&self, k: &str, options: &[(&str, T)], default: T) -> R<T> {
        if self.opt(k).is_some() {
            enum_of(self, k, options)
        } else {
            Ok(default)
        }
    }
    fn opt_u32(&self, k: &str, default: u32) -> R<u32> {
        if self.opt(k).is_some() {
            self.u32(k)
        } else {
            Ok(default)
        }
    }
}

/// A JCM policy object: every field optional, defaulting to `JcmPolicy::default()`.
fn policy(p: &Obj) -> R<JcmPolicy> {
    let d = JcmPolicy::default();
    Ok(JcmPolicy {
        rounding: p.opt_enum("rounding", ROUNDINGS, d.rounding)?,
        methodology_public_input_days: p.opt_u32(
            "methodology_public_input_days",
            d.methodology_public_input_days,
        )?,
        pdd_public_input_days: p.opt_u32("pdd_public_input_days", d.pdd_public_input_days)?,
        outside_list_registration: p.opt_enum(
            "outside_list_registration",
            OUTSIDE_LIST_REGISTRATION,
            d.outside_list_registration,
        )?,
        outside_list_authorization: p.opt_enum(
            "outside_list_authorization",
            OUTSIDE_LIST_AUTHORIZATION,
            d.outside_list_authorization,
        )?,
        straddle: p.opt_enum("straddle", STRADDLE, d.straddle)?,
        foreign_issuance: p.opt_enum("foreign_issuance", FOREIGN_ISSUANCE, d.foreign_issuance)?,
        remainder: p.opt_enum("remainder", REMAINDERS, d.remainder)?,
    })
}

/// A decision subject: `{"type": "<name>", ...fields}`.
fn subject(s: &Obj) -> R<Subject> {
    let project = || s.project();
    Ok(match s.str("type")? {
        "approve_methodology" => Subject::ApproveMethodology(s.methodology("methodology")?),
        "reject_methodology" => Subject::RejectMethodology(s.methodology("methodology")?),
        "designate_tpe" => Subject::DesignateTpe(s.id("tpe", Actor::parse)?),
        "appoint_member" => Subject::AppointMember {
            actor: s.id("member", Actor::parse)?,
            party: s.id("party", PartyId::parse)?,
        },
        "set_activity_list" => Subject::SetActivityList {
            party: s.id("party", PartyId::parse)?,
            activities: s
                .array("activities")?
                .iter()
                .map(|v| {
                    v.as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| malformed("an activity is a whole number from 0 to 65535"))
                })
                .collect::<R<_>>()?,
        },
        "set_policy" => Subject::SetPolicy(policy(&s.obj("policy")?)?),
        "register_project" => Subject::RegisterProject(project()?),
        "reject_registration" => Subject::RejectRegistration(project()?),
        "approve_change" => Subject::ApproveChange(project()?),
        "renew_crediting_period" => Subject::RenewCreditingPeriod {
            project: project()?,
            until: s.id("until", Date::parse)?,
        },
        "decide_issuance" => Subject::DecideIssuance {
            project: project()?,
            period_no: s.u32("period_no")?,
            quantity: s.u64("quantity")?,
        },
        "reject_issuance" => Subject::RejectIssuance {
            project: project()?,
            period_no: s.u32("period_no")?,
        },
        other => return Err(malformed(format!("unknown decision subject {other:?}"))),
    })
}

/// The `jcm_*` commands.
fn jcm_command(name: &str, o: &Obj) -> R<JcmCommand> {
    let project = || o.project();
    let document = || o.document("document");
    let decision = || o.id("decision", DecisionId::parse);
    Ok(match name {
        "jcm_appoint" => {
            let actor = o.id("appointee", Actor::parse)?;
            let role = match o.str("role")? {
                r @ ("member" | "participant") => {
                    let party = o.id("party", PartyId::parse)?;
                    if r == "member" {
                        Role::Member(party)
                    } else {
                        Role::Participant(party)
                    }
                }
                r @ ("secretariat" | "tpe") => {
                    if o.opt("party").is_some() {
                        return Err(malformed(format!("a {r} has no party")));
                    }
                    if r == "tpe" {
                        Role::Tpe
                    } else {
                        Role::Secretariat
                    }
                }
                _ => {
                    return Err(malformed(format!(
                        "role must be one of {}",
                        ROLES.join(", ")
                    )))
                }
            };
            JcmCommand::Appoint { actor, role }
        }
        "jcm_submit_methodology" => JcmCommand::SubmitMethodology {
            methodology: o.methodology("methodology")?,
            document: document()?,
        },
        "jcm_check_completeness" => JcmCommand::CheckCompleteness {
            methodology: o.methodology("methodology")?,
            complete: o.bool("complete")?,
        },
        "jcm_close_public_input" => JcmCommand::ClosePublicInput {
            target: match (o.opt("methodology"), o.opt("project")) {
                (Some(_), None) => InputTarget::Methodology(o.methodology("methodology")?),
                (None, Some(_)) => InputTarget::Project(project()?),
                _ => return Err(malformed("give either methodology or project")),
            },
        },
        "jcm_submit_pin" => JcmCommand::SubmitPin {
            project: project()?,
            host: o.id("host", PartyId::parse)?,
            activity: o.u16("activity")?,
            participants: o.actors("participants")?,
            document: document()?,
        },
        "jcm_submit_pdd" => JcmCommand::SubmitPdd {
            project: project()?,
            methodology: o.methodology("methodology")?,
            ex_ante: o.params("ex_ante")?,
            criteria: o
                .array("criteria")?
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| malformed("a criterion is a string"))
                        .and_then(|s| jcm_code(s, "criterion"))
                })
                .collect::<R<_>>()?,
            crediting: o.period("crediting")?,
            allocation: o.allocation("allocation")?,
            document: document()?,
        },
        "jcm_open_pdd_public_input" => JcmCommand::OpenPddPublicInput {
            project: project()?,
        },
        "jcm_validate" => JcmCommand::Validate {
            project: project()?,
            positive: o.bool("positive")?,
            document: document()?,
        },
        "jcm_request_registration" => JcmCommand::RequestRegistration {
            project: project()?,
            document: document()?,
        },
        "jcm_withdraw_registration_request" => JcmCommand::WithdrawRegistrationRequest {
            project: project()?,
        },
        "jcm_request_change" => {
            let c = o.obj("change")?;
            JcmCommand::RequestChange {
                project: project()?,
                change: Change {
                    allocation: c
                        .opt("allocation")
                        .map(|_| c.allocation("allocation"))
                        .transpose()?,
                    ex_ante: c.params("ex_ante")?,
                },
                document: document()?,
            }
        }
        "jcm_request_renewal" => JcmCommand::RequestRenewal {
            project: project()?,
            until: o.id("until", Date::parse)?,
            document: document()?,
        },
        "jcm_withdraw_project" => JcmCommand::WithdrawProject {
            project: project()?,
            document: document()?,
        },
        "jcm_report_monitoring" => JcmCommand::ReportMonitoring {
            project: project()?,
            period_no: o.u32("period_no")?,
            period: o.period("period")?,
            values: o.params("values")?,
            document: document()?,
        },
        "jcm_verify" => JcmCommand::Verify {
            project: project()?,
            period_no: o.u32("period_no")?,
            amount: o.u64("amount")?,
            document: document()?,
        },
        "jcm_request_issuance" => JcmCommand::RequestIssuance {
            project: project()?,
            period_no: o.u32("period_no")?,
            // Plain u64, zero included: the core checks the quantity against the verification.
            quantity: o.u64("quantity")?,
            document: document()?,
        },
        "jcm_withdraw_issuance_request" => JcmCommand::WithdrawIssuanceRequest {
            project: project()?,
            period_no: o.u32("period_no")?,
        },
        "jcm_propose" => JcmCommand::Propose {
            decision: decision()?,
            subject: subject(&o.obj("subject")?)?,
        },
        "jcm_concur" => JcmCommand::Concur {
            decision: decision()?,
        },
        "jcm_refuse" => JcmCommand::Refuse {
            decision: decision()?,
        },
        "jcm_notify" => JcmCommand::Notify {
            decision: decision()?,
        },
        other => return Err(malformed(format!("unknown command {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const USER: &str = "svc-1";

    /// What the API's general path makes of a batch item: the actor checked against and set
    /// to the user, then `parse_value`. `None` where it refuses the actor.
    fn general(text: &str) -> Option<Result<Parsed, Unbound>> {
        let mut v: Value = serde_json::from_str(text).expect("the generated item is JSON");
        let m = v.as_object_mut()?;
        if m.get("actor")
            .and_then(Value::as_str)
            .is_some_and(|a| a != USER)
        {
            return None;
        }
        m.insert("actor".into(), Value::from(USER));
        let mut salt = os_salt;
        Some(parse_value(&v, &mut salt))
    }

    fn same(fast: &Parsed, text: &str) -> Result<(), TestCaseError> {
        let Some(Ok(slow)) = general(text) else {
            return Err(TestCaseError::fail(format!("general path refused {text}")));
        };
        prop_assert_eq!(&fast.id, &slow.id);
        prop_assert_eq!(&fast.chain, &slow.chain);
        prop_assert_eq!(&fast.actor, &slow.actor);
        prop_assert_eq!(fast.dry_run, slow.dry_run);
        prop_assert_eq!(fast.content_hash, slow.content_hash, "{}", text);
        prop_assert_eq!(fast.command.as_ref().ok(), slow.command.as_ref().ok());
        prop_assert!(slow.command.is_ok() && fast.personal.is_empty() && slow.personal.is_empty());
        Ok(())
    }

    /// One field of an item as JSON text: mostly a plain value, sometimes an odd one,
    /// missing or given twice.
    fn field(
        key: &'static str,
        plain: &'static [&'static str],
        odd: &'static [&'static str],
    ) -> BoxedStrategy<Vec<String>> {
        let one = move |v: &str| format!("\"{key}\":{v}");
        prop_oneof![
            1 => Just(Vec::new()),
            30 => proptest::sample::select(plain).prop_map(move |v| vec![one(v)]),
            6 => proptest::sample::select(odd).prop_map(move |v| vec![one(v)]),
            1 => proptest::sample::select(plain).prop_map(move |v| vec![one(v), one(v)]),
        ]
        .boxed()
    }

    fn item() -> impl Strategy<Value = String> {
        const NUMS: &[&str] = &["1", "2", "1003", "18446744073709551615"];
        const ODD_NUMS: &[&str] = &[
            "0",
            "-0",
            "1.0",
            "1e3",
            "-5",
            "18446744073709551616",
            "\"5\"",
            "null",
            "01",
        ];
        (
            field("id", &["\"t-1\"", "\"b.7:x_y\""], &["\"a\\u0062c\"", "\"bad id\"", "\"\"", "7"]),
            field("chain", &["\"IND01\"", "\"JPN01\""], &["\"ind01\"", "\"IND01\\n\"", "null"]),
            field("command", &["\"transfer\""], &["\"retire\"", "\"Transfer\""]),
            field("from", NUMS, ODD_NUMS),
            field("to", NUMS, ODD_NUMS),
            field("quantity", NUMS, ODD_NUMS),
            prop_oneof![3 => Just(Vec::new()), 1 => field("actor", &["\"svc-1\"", "null"], &["\"other\"", "5"])],
            prop_oneof![1 => Just(Vec::new()), 1 => field("dry_run", &["true", "false", "null"], &["\"yes\""])],
            prop_oneof![
                1 => Just(Vec::new()),
                2 => field(
                    "unit",
                    &["{}", "{\"kind\":\"BENCH\"}", "null", "{\"kind\":null}"],
                    &["{\"kind\":\"bad kind\"}", "{\"issuing\":\"IND01\"}", "[]", "{\"kind\":5}"],
                ),
            ],
            any::<u64>(),
        )
            .prop_map(|(a, b, c, d, e, f, g, h, i, seed)| {
                let mut fields: Vec<String> = [a, b, c, d, e, f, g, h, i].concat();
                // Keys in any order, as clients send them.
                let n = fields.len().max(1);
                fields.rotate_left((seed as usize) % n);
                if seed & 1 == 1 {
                    fields.reverse();
                }
                format!("{{{}}}", fields.join(", "))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Wherever the plain-transfer path reads an item, the general path reads the same
        /// command from it: the same id, chain, actor, dry-run flag, content hash and command.
        #[test]
        fn the_plain_transfer_path_reads_what_the_general_path_reads(text in spaced()) {
            if let Some(fast) = parse_plain_transfer(&text, USER) {
                same(&fast, &text)?;
            }
        }

        /// Wherever the scanner reads an item, serde reads the same fields from it.
        #[test]
        fn the_scanner_reads_what_serde_reads(text in spaced()) {
            if let Some(fast) = scan_plain(&text) {
                let slow = read_plain(&text);
                prop_assert!(slow.is_some(), "{}", text);
                prop_assert_eq!(fields(&fast), fields(&slow.unwrap()), "{}", text);
            }
        }
    }

    /// An item as [`item`] writes it, with JSON's whitespace (or none) around its structural
    /// characters, chosen by a seed.
    fn spaced() -> impl Strategy<Value = String> {
        (item(), any::<u64>()).prop_map(|(text, seed)| {
            const WS: [&str; 5] = ["", " ", "\n", "\t", "\r\n "];
            let mut out = String::with_capacity(text.len() * 2);
            for (i, c) in text.chars().enumerate() {
                let pick = |k: usize| WS[((seed >> ((i * 2 + k) % 62)) % 5) as usize];
                if matches!(c, '{' | '}' | ':' | ',') {
                    out.push_str(pick(0));
                    out.push(c);
                    out.push_str(pick(1));
                } else {
                    out.push(c);
                }
            }
            out
        })
    }

    /// The fields of a plain transfer, comparable.
    #[allow(clippy::type_complexity)]
    fn fields<'a>(
        f: &PlainFields<'a>,
    ) -> (
        [&'a str; 3],
        [String; 3],
        Option<&'a str>,
        Option<bool>,
        Option<Option<Option<Option<&'a str>>>>,
    ) {
        (
            [f.id, f.chain, f.command],
            [f.from.to_string(), f.to.to_string(), f.quantity.to_string()],
            f.actor,
            f.dry_run,
            f.unit.as_ref().map(|u| u.as_ref().map(|k| k.kind)),
        )
    }

    #[test]
    fn plain_transfers_take_the_plain_path_and_others_do_not() {
        let plain = [
            r#"{"id":"t-1","chain":"IND01","command":"transfer","from":1003,"to":1002,"quantity":5}"#,
            r#"{"quantity":1,"to":2,"from":3,"command":"transfer","chain":"JPN01","id":"x","actor":"svc-1","dry_run":true}"#,
            r#"{"id":"t-2","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":1,"actor":null,"dry_run":null}"#,
            r#"{"id":"b-0","chain":"IND01","command":"transfer","from":7,"to":9,"quantity":3,"unit":{"kind":"BENCH"}}"#,
            r#"{"id":"t","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":1,"unit":{}}"#,
            r#"{"id":"t","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":1,"unit":null}"#,
        ];
        for text in plain {
            let fast = parse_plain_transfer(text, USER).expect("a plain transfer");
            same(&fast, text).expect("the same command as the general path");
        }
        // The scanner reads the forms clients write (no nulls), whitespace and all; serde
        // reads the rest.
        for (i, text) in plain.iter().enumerate() {
            let spaced = text.replace(':', " :\n ").replace(',', "\t, ");
            for t in [text.to_string(), format!(" {spaced} ")] {
                assert_eq!(scan_plain(&t).is_some(), ![2, 5].contains(&i), "{t}");
            }
        }
        let general_only = [
            // Another actor (refused by the API), an escape, a wider filter, a zero quantity, a
            // float, a duplicate key, another command, arrays where objects belong.
            r#"{"id":"t","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":1,"actor":"other"}"#,
            r#"{"id":"t\u002d1","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":1}"#,
            r#"{"id":"t","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":1,"unit":{"vintage":2030}}"#,
            r#"{"id":"t","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":0}"#,
            r#"{"id":"t","chain":"IND01","command":"transfer","from":1.0,"to":2,"quantity":1}"#,
            r#"{"id":"t","chain":"IND01","command":"transfer","from":-0,"to":2,"quantity":1}"#,
            r#"{"id":"t","id":"u","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":1}"#,
            r#"{"id":"t","chain":"IND01","command":"retire","from":1,"to":2,"quantity":1}"#,
            r#"{"id":"t","chain":"IND01","command":"transfer","from":1,"to":2,"quantity":1,"unit":[]}"#,
            r#"["t","IND01","transfer",1,2,1]"#,
        ];
        for text in general_only {
            assert!(parse_plain_transfer(text, USER).is_none(), "{text}");
        }
    }
}
