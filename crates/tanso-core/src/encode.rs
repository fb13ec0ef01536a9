//! The canonical byte encoding of events and journal entries: what every hash is taken over.
//!
//! Rules (format version 2), chosen so that any language can re-implement them from this page:
//! - integers are fixed-width big-endian (`u8`, `u16`, `u32`, `u64`, `i64`, `i32`), except in
//!   an event's serial ranges (below);
//! - a string is a `u16` byte length then its UTF-8 bytes;
//! - a digest is its 32 raw bytes; a registry id its 5 ASCII bytes; party and currency 3 bytes;
//! - `Option<T>` is `0x00`, or `0x01` then `T`; a list is a `u32` count then its items;
//! - an enum is a `u8` tag (listed beside each `put`/`get` below) then its fields in
//!   declaration order; booleans are `0x00`/`0x01`;
//! - an event's list of issued ranges (`event_ranges`) is a `u32` count of runs, each a
//!   registry id, a `u32` count of ranges (at least one) and the ranges; adjacent runs name
//!   different registries. A range is two varints: `zigzag(start - after)` and `end - start`,
//!   where `after` is 1 for a run's first range and else the previous range's end plus one,
//!   and the subtraction wraps in 64 bits. A varint is unsigned LEB128 in its shortest form
//!   (seven bits a byte, low first, the top bit on all bytes but the last); `zigzag(d)` maps
//!   the wrapped difference read as signed, 0, -1, 1, -2 …, to 0, 1, 2, 3 …. Ascending ranges
//!   close together, a transfer's usual list, take two or three bytes each. Format version 1
//!   wrote these lists like every other list of ranges (`issued_ranges`, fixed-width), and
//!   entries of version 1 still decode (`Dec::with_fixed_ranges`).
//!
//! Decoding is strict: unknown tags, trailing bytes, non-canonical booleans and invalid ids are
//! errors, never panics. This module must stay free of I/O and of any wire format.

use crate::ids::*;
use crate::model::*;
use crate::units::*;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decode: {0}")]
pub struct DecodeError(pub String);

pub(crate) type R<T> = Result<T, DecodeError>;

/// A decimal as its own canonical text (`1.50` keeps its scale).
pub(crate) fn put_dec(e: &mut Enc, v: &rust_decimal::Decimal) {
    e.str(&v.to_string());
}

/// A decimal whose text must be its own rendering (canonical bytes only).
pub(crate) fn get_dec(d: &mut Dec) -> R<rust_decimal::Decimal> {
    let s = d.str()?;
    match s.parse::<rust_decimal::Decimal>() {
        Ok(v) if v.to_string() == s => Ok(v),
        _ => bad("invalid decimal"),
    }
}

/// A document reference: SHA-256 and size.
pub(crate) fn put_doc(e: &mut Enc, doc: &crate::jcm::DocRef) {
    e.bytes32(&doc.hash);
    e.u64(doc.size);
}

pub(crate) fn get_doc(d: &mut Dec) -> R<crate::jcm::DocRef> {
    Ok(crate::jcm::DocRef {
        hash: d.bytes32()?,
        size: d.u64()?,
    })
}

pub(crate) fn bad<T>(what: &str) -> R<T> {
    Err(DecodeError(what.to_owned()))
}

/// A signed difference, as the wrapping `u64` it is, folded so that small magnitudes of
/// either sign are small: 0, -1, 1, -2 … become 0, 1, 2, 3 …
fn zigzag(d: u64) -> u64 {
    (d << 1) ^ ((d as i64 >> 63) as u64)
}

fn unzigzag(z: u64) -> u64 {
    (z >> 1) ^ (z & 1).wrapping_neg()
}

#[derive(Default)]
pub struct Enc {
    pub buf: Vec<u8>,
    /// Events' ranges as format version 1 wrote them (only tests write that format now).
    pub(crate) fixed_ranges: bool,
}

impl Enc {
    pub fn new() -> Self {
        Enc {
            buf: Vec::with_capacity(128),
            fixed_ranges: false,
        }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }
    pub fn bytes32(&mut self, v: &[u8; 32]) {
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, s: &str) {
        // Every string the core encodes is an id or code bounded far below u16::MAX.
        let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
        self.u16(len);
        self.buf.extend_from_slice(&s.as_bytes()[..len as usize]);
    }
    pub fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    pub fn opt<T>(&mut self, v: &Option<T>, f: impl FnOnce(&mut Self, &T)) {
        match v {
            None => self.u8(0),
            Some(x) => {
                self.u8(1);
                f(self, x)
            }
        }
    }
    pub fn registry(&mut self, r: &RegistryId) {
        self.buf.extend_from_slice(&r.bytes());
    }
    pub fn party(&mut self, p: &PartyId) {
        self.buf.extend_from_slice(p.as_str().as_bytes());
    }
    pub fn chain(&mut self, c: &ChainId) {
        match c {
            ChainId::Registry(r) => {
                self.u8(0);
                self.registry(r)
            }
            ChainId::Mechanism(m) => {
                self.u8(1);
                self.str(m.as_str())
            }
            ChainId::PartyAuthority(p) => {
                self.u8(2);
                self.party(p)
            }
        }
    }
    pub fn citation(&mut self, c: &Citation) {
        self.chain(&c.chain);
        self.u64(c.seq);
        self.bytes32(&c.hash);
    }
    pub fn range(&mut self, r: &SerialRange) {
        self.u64(r.start());
        self.u64(r.end());
    }
    /// A list of issued ranges, fixed-width: each a registry and two `u64`s. What state
    /// digests take, and what events' ranges were in format version 1.
    pub fn issued_ranges(&mut self, rs: &[IssuedRange]) {
        self.len(rs.len());
        for r in rs {
            self.registry(&r.issuing);
            self.range(&r.range);
        }
    }
    /// An unsigned LEB128 varint: seven bits a byte, low first, the top bit set on every
    /// byte but the last; the shortest form only. (A plain loop: measured against writing
    /// eight bytes at once without branches, and against sizing the room first, it was the
    /// fastest on a transfer's ranges.)
    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }
    /// An event's issued ranges in runs of one issuing registry (see the module's rules): a
    /// transfer's ranges are many, from one registry and close together, so each costs a few
    /// bytes instead of a registry and two `u64`s.
    pub fn event_ranges(&mut self, rs: &[IssuedRange]) {
        if self.fixed_ranges {
            return self.issued_ranges(rs);
        }
        let runs = rs.chunk_by(|a, b| a.issuing == b.issuing);
        self.len(runs.clone().count());
        for run in runs {
            self.registry(&run[0].issuing);
            self.len(run.len());
            let mut after = 1u64;
            for r in run {
                let (s, e) = (r.range.start(), r.range.end());
                self.varint(zigzag(s.wrapping_sub(after)));
                self.varint(e - s);
                after = e.wrapping_add(1);
            }
        }
    }
    pub fn period(&mut self, p: &MitigationPeriod) {
        self.i32(p.start().days());
        self.i32(p.end().days());
    }
    pub fn attributes(&mut self, a: &UnitAttributes) {
        self.registry(&a.issuing);
        self.str(a.kind.as_str());
        self.opt(&a.project, |e, p| e.str(p.as_str()));
        self.period(&a.period);
        self.u16(a.vintage.year());
    }
    pub fn labels(&mut self, l: &Labels) {
        self.opt(&l.authorization, |e, a| {
            e.party(&a.party);
            e.str(a.authorization.as_str());
            e.u32(a.version);
        });
        self.bool(l.first_transferred);
        self.u8(match l.adjustment {
            AdjustmentStatus::NotApplicable => 0,
            AdjustmentStatus::Pending => 1,
            AdjustmentStatus::Applied => 2,
        });
    }
    pub fn asset(&mut self, a: &HeldAsset) {
        match a {
            HeldAsset::Units(rs) => {
                self.u8(0);
                self.event_ranges(rs)
            }
            HeldAsset::Cash { currency, amount } => {
                self.u8(1);
                self.buf.extend_from_slice(currency.as_str().as_bytes());
                self.u64(amount.0);
            }
        }
    }
    pub fn personal(&mut self, p: &Option<PersonalRef>) {
        self.opt(p, |e, r| e.bytes32(&r.0));
    }

    /// Event tags: 1 RegistryOpened, 2 StraddlePolicySet, 3 MechanismOpened,
    /// 4 PartyAuthorityOpened, 5 DecisionRecorded, 10 UnitKindDefined, 11 AccountKindDefined,
    /// 12 CurrencyDefined, 13 HolderRegistered, 14 AccountOpened, 15 AccountStatusSet,
    /// 20 Issued, 21 Transferred, 22 Retired, 23 Cancelled, 24 LabelsSet, 30 HoldPlaced,
    /// 31 HoldReleased, 32 HoldPosted, 40 CashDeposited, 41 CashWithdrawn, 42 CashTransferred,
    /// 50 Corrected, 51 IssuanceVoided, 60 TransferProposed, 61 TransferDecided,
    /// 62 TransferSettled, 63 InboundAccepted, 64 InboundRejected, 65 InboundCommitted,
    /// 66 InboundAborted, 67 LinkAlarm, 68 SuspenseAccountSet, 69 ProjectHostRecorded, 70 Jcm
    /// (sub-tags in `jcm::put_event`).
    pub fn event(&mut self, ev: &Event) {
        match ev {
            Event::RegistryOpened { registry, straddle } => {
                self.u8(1);
                self.registry(registry);
                self.u8(straddle_tag(*straddle));
            }
            Event::StraddlePolicySet(p) => {
                self.u8(2);
                self.u8(straddle_tag(*p));
            }
            Event::MechanismOpened { mechanism, parties } => {
                self.u8(3);
                self.str(mechanism.as_str());
                self.len(parties.len());
                for p in parties {
                    self.party(p);
                }
            }
            Event::PartyAuthorityOpened { party } => {
                self.u8(4);
                self.party(party);
            }
            Event::DecisionRecorded {
                decision,
                kind,
                document,
            } => {
                self.u8(5);
                self.str(decision.as_str());
                self.str(kind.as_str());
                self.opt(document, |e, d| e.bytes32(d));
            }
            Event::UnitKindDefined {
                code,
                has_project,
                vintage_rule,
            } => {
                self.u8(10);
                self.str(code.as_str());
                self.bool(*has_project);
                self.u8(match vintage_rule {
                    VintageRule::CalendarYear => 0,
                    VintageRule::ComplianceYear => 1,
                });
            }
            Event::AccountKindDefined { code, class } => {
                self.u8(11);
                self.str(code.as_str());
                self.u8(class_tag(*class));
            }
            Event::CurrencyDefined { code, minor_units } => {
                self.u8(12);
                self.buf.extend_from_slice(code.as_str().as_bytes());
                self.u8(*minor_units);
            }
            Event::HolderRegistered { holder, kind, name } => {
                self.u8(13);
                self.u64(holder.0);
                self.str(kind.as_str());
                self.bytes32(&name.0);
            }
            Event::AccountOpened {
                account,
                holder,
                kind,
            } => {
                self.u8(14);
                self.u64(account.0);
                self.u64(holder.0);
                self.str(kind.as_str());
            }
            Event::AccountStatusSet { account, status } => {
                self.u8(15);
                self.u64(account.0);
                self.u8(match status {
                    AccountStatus::Open => 0,
                    AccountStatus::Frozen => 1,
                    AccountStatus::Closed => 2,
                });
            }
            Event::Issued {
                account,
                attributes,
                range,
                unit_start,
                citation,
                business_key,
            } => {
                self.u8(20);
                self.u64(account.0);
                self.attributes(attributes);
                self.range(range);
                self.u64(*unit_start);
                self.opt(citation, |e, c| e.citation(c));
                self.opt(business_key, |e, k| e.str(k.as_str()));
            }
            Event::Transferred { from, to, ranges } => {
                self.u8(21);
                self.u64(from.0);
                self.u64(to.0);
                self.event_ranges(ranges);
            }
            Event::Retired {
                from,
                to,
                ranges,
                purpose,
                beneficiary,
                beneficiary_name,
                note,
            } => {
                self.u8(22);
                self.u64(from.0);
                self.u64(to.0);
                self.event_ranges(ranges);
                self.str(purpose.as_str());
                self.opt(beneficiary, |e, h| e.u64(h.0));
                self.personal(beneficiary_name);
                self.personal(note);
            }
            Event::Cancelled {
                from,
                to,
                ranges,
                kind,
                note,
            } => {
                self.u8(23);
                self.u64(from.0);
                self.u64(to.0);
                self.event_ranges(ranges);
                self.u8(match kind {
                    CancellationKind::Voluntary => 0,
                    CancellationKind::Omge => 1,
                });
                self.personal(note);
            }
            Event::LabelsSet {
                ranges,
                labels,
                citation,
            } => {
                self.u8(24);
                self.event_ranges(ranges);
                self.labels(labels);
                self.opt(citation, |e, c| e.citation(c));
            }
            Event::HoldPlaced {
                hold,
                kind,
                account,
                asset,
                expires_at,
            } => {
                self.u8(30);
                self.str(hold.as_str());
                self.u8(hold_kind_tag(*kind));
                self.u64(account.0);
                self.asset(asset);
                self.opt(expires_at, |e, t| e.i64(t.0));
            }
            Event::HoldReleased { hold, asset, cause } => {
                self.u8(31);
                self.str(hold.as_str());
                self.asset(asset);
                match cause {
                    ReleaseCause::Request => self.u8(0),
                    ReleaseCause::Expiry => self.u8(1),
                    ReleaseCause::Decision(c) => {
                        self.u8(2);
                        self.citation(c)
                    }
                }
            }
            Event::HoldPosted { hold, to, asset } => {
                self.u8(32);
                self.str(hold.as_str());
                self.u64(to.0);
                self.asset(asset);
            }
            Event::CashDeposited {
                account,
                currency,
                amount,
            } => {
                self.u8(40);
                self.u64(account.0);
                self.buf.extend_from_slice(currency.as_str().as_bytes());
                self.u64(amount.0);
            }
            Event::CashWithdrawn {
                account,
                currency,
                amount,
            } => {
                self.u8(41);
                self.u64(account.0);
                self.buf.extend_from_slice(currency.as_str().as_bytes());
                self.u64(amount.0);
            }
            Event::CashTransferred {
                from,
                to,
                currency,
                amount,
            } => {
                self.u8(42);
                self.u64(from.0);
                self.u64(to.0);
                self.buf.extend_from_slice(currency.as_str().as_bytes());
                self.u64(amount.0);
            }
            Event::Corrected { seq, hash, note } => {
                self.u8(50);
                self.u64(*seq);
                self.bytes32(hash);
                self.personal(note);
            }
            Event::IssuanceVoided { account, ranges } => {
                self.u8(51);
                self.u64(account.0);
                self.event_ranges(ranges);
            }
            Event::TransferProposed {
                proposal,
                decide_by,
            } => {
                self.u8(60);
                crate::link::put_proposal(self, proposal);
                self.i64(decide_by.0);
            }
            Event::TransferDecided(d) => {
                self.u8(61);
                crate::link::put_decision(self, d);
            }
            Event::TransferSettled { transfer_id } => {
                self.u8(62);
                self.str(transfer_id.as_str());
            }
            Event::InboundAccepted { proposal } => {
                self.u8(63);
                crate::link::put_proposal(self, proposal);
            }
            Event::InboundRejected {
                transfer_id,
                from,
                propose_hash,
                codes,
            } => {
                self.u8(64);
                self.str(transfer_id.as_str());
                self.registry(from);
                self.bytes32(propose_hash);
                self.len(codes.len());
                for c in codes {
                    self.u16(c.0);
                }
            }
            Event::InboundCommitted {
                transfer_id,
                account,
                decision,
            } => {
                self.u8(65);
                self.str(transfer_id.as_str());
                self.u64(account.0);
                crate::link::put_decision(self, decision);
            }
            Event::InboundAborted {
                transfer_id,
                from,
                decision,
            } => {
                self.u8(66);
                self.str(transfer_id.as_str());
                self.registry(from);
                crate::link::put_decision(self, decision);
            }
            Event::LinkAlarm { transfer_id, code } => {
                self.u8(67);
                self.str(transfer_id.as_str());
                self.u16(code.0);
            }
            Event::SuspenseAccountSet { account } => {
                self.u8(68);
                self.u64(account.0);
            }
            Event::ProjectHostRecorded {
                project,
                host,
                foreign,
                eligible,
            } => {
                self.u8(69);
                self.str(project.as_str());
                self.party(host);
                self.u8(*foreign as u8);
                self.bool(*eligible);
            }
            Event::A6(ev) => {
                self.u8(71);
                crate::article6::authority::put_event(self, ev);
            }
            Event::AuthorizationApplied {
                authorization,
                ca,
                purposes,
                parties,
            } => {
                self.u8(72);
                self.party(&authorization.party);
                self.str(authorization.authorization.as_str());
                self.u32(authorization.version);
                self.u16(ca.number());
                self.bool(purposes.ndc);
                self.bool(purposes.oimp);
                self.len(parties.len());
                for p in parties {
                    self.party(p);
                }
            }
            Event::UseYearRecorded { ranges, year } => {
                self.u8(73);
                self.event_ranges(ranges);
                self.u16(*year);
            }
            Event::Ccts(ev) => {
                self.u8(74);
                crate::ccts::put_event(self, ev);
            }
            Event::Surrendered {
                from,
                to,
                ranges,
                entity,
                year,
            } => {
                self.u8(75);
                self.u64(from.0);
                self.u64(to.0);
                self.event_ranges(ranges);
                self.str(entity.as_str());
                self.u16(*year);
            }
            Event::CertificatesExpired { from, to, ranges } => {
                self.u8(76);
                self.u64(from.0);
                self.u64(to.0);
                self.event_ranges(ranges);
            }
            Event::CertificateValiditySet { years } => {
                self.u8(77);
                self.u16(*years);
            }
            Event::Jcm(ev) => {
                self.u8(70);
                crate::jcm::put_event(self, ev);
            }
        }
    }
}

pub fn straddle_tag(p: StraddlePolicy) -> u8 {
    match p {
        StraddlePolicy::ProRataDaysRemainderLast => 0,
        StraddlePolicy::Refuse => 1,
    }
}

pub fn class_tag(c: AccountClass) -> u8 {
    match c {
        AccountClass::Holding => 0,
        AccountClass::PendingIssuance => 1,
        AccountClass::Suspense => 2,
        AccountClass::Retirement => 3,
        AccountClass::VoluntaryCancellation => 4,
        AccountClass::OmgeCancellation => 5,
        AccountClass::Surrender => 6,
        AccountClass::Expired => 7,
    }
}

pub fn hold_kind_tag(k: HoldKind) -> u8 {
    match k {
        HoldKind::LocalPendingTransfer => 0,
        HoldKind::MarketOrder => 1,
        HoldKind::CrossRegistryTransfer => 2,
        HoldKind::ReconciliationFreeze => 3,
        HoldKind::LegalFreeze => 4,
    }
}

pub struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Events' ranges as format version 1 wrote them (`issued_ranges`), not in runs.
    fixed_ranges: bool,
}

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Dec {
            buf,
            pos: 0,
            fixed_ranges: false,
        }
    }
    /// Reads events' ranges as entries of format version 1 wrote them.
    pub fn with_fixed_ranges(mut self) -> Self {
        self.fixed_ranges = true;
        self
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn is_done(&self) -> bool {
        self.pos == self.buf.len()
    }
    pub fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(e) => {
                let s = &self.buf[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            None => bad("unexpected end of input"),
        }
    }
    fn arr<const N: usize>(&mut self) -> R<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self) -> R<u8> {
        Ok(self.arr::<1>()?[0])
    }
    pub fn u16(&mut self) -> R<u16> {
        Ok(u16::from_be_bytes(self.arr()?))
    }
    pub fn u32(&mut self) -> R<u32> {
        Ok(u32::from_be_bytes(self.arr()?))
    }
    pub fn u64(&mut self) -> R<u64> {
        Ok(u64::from_be_bytes(self.arr()?))
    }
    pub fn i64(&mut self) -> R<i64> {
        Ok(i64::from_be_bytes(self.arr()?))
    }
    pub fn i32(&mut self) -> R<i32> {
        Ok(i32::from_be_bytes(self.arr()?))
    }
    pub fn bool(&mut self) -> R<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => bad("non-canonical boolean"),
        }
    }
    pub fn bytes32(&mut self) -> R<[u8; 32]> {
        self.arr()
    }
    pub fn str(&mut self) -> R<&'a str> {
        let n = self.u16()? as usize;
        std::str::from_utf8(self.take(n)?).or_else(|_| bad("invalid utf-8"))
    }
    /// Reads a list length (named `count` because it consumes input).
    pub fn count(&mut self) -> R<usize> {
        let n = self.u32()? as usize;
        // Each item takes at least one byte: refuse counts the input cannot hold.
        if n > self.buf.len() - self.pos {
            return bad("list longer than input");
        }
        Ok(n)
    }
    pub fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<Option<T>> {
        match self.u8()? {
            0 => Ok(None),
            1 => f(self).map(Some),
            _ => bad("non-canonical option tag"),
        }
    }
    pub fn registry(&mut self) -> R<RegistryId> {
        RegistryId::from_bytes(self.arr()?).or_else(|_| bad("invalid registry id"))
    }
    pub fn party(&mut self) -> R<PartyId> {
        let a: [u8; 3] = self.arr()?;
        PartyId::parse(std::str::from_utf8(&a).unwrap_or("")).or_else(|_| bad("invalid party"))
    }
    pub fn currency(&mut self) -> R<CurrencyCode> {
        let a: [u8; 3] = self.arr()?;
        CurrencyCode::parse(std::str::from_utf8(&a).unwrap_or(""))
            .or_else(|_| bad("invalid currency"))
    }
    pub fn chain(&mut self) -> R<ChainId> {
        match self.u8()? {
            0 => Ok(ChainId::Registry(self.registry()?)),
            1 => Ok(ChainId::Mechanism(tok(self.str()?, MechanismId::parse)?)),
            2 => Ok(ChainId::PartyAuthority(self.party()?)),
            _ => bad("unknown chain tag"),
        }
    }
    pub fn citation(&mut self) -> R<Citation> {
        Ok(Citation {
            chain: self.chain()?,
            seq: self.u64()?,
            hash: self.bytes32()?,
        })
    }
    pub fn range(&mut self) -> R<SerialRange> {
        let (s, e) = (self.u64()?, self.u64()?);
        SerialRange::new(s, e).or_else(|_| bad("invalid serial range"))
    }
    /// An unsigned LEB128 varint in its shortest form: a last byte of zero after others, or
    /// more than 64 bits, is an error.
    pub fn varint(&mut self) -> R<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return bad("varint over 64 bits");
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return bad("non-canonical varint");
                }
                return Ok(v);
            }
        }
        bad("varint over 64 bits")
    }
    pub fn issued_ranges(&mut self) -> R<Vec<IssuedRange>> {
        let n = self.count()?;
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            v.push(IssuedRange {
                issuing: self.registry()?,
                range: self.range()?,
            });
        }
        Ok(v)
    }
    pub fn event_ranges(&mut self) -> R<Vec<IssuedRange>> {
        if self.fixed_ranges {
            return self.issued_ranges();
        }
        let runs = self.count()?;
        let mut v = Vec::new();
        let mut last: Option<RegistryId> = None;
        for _ in 0..runs {
            let issuing = self.registry()?;
            let n = self.count()?;
            if n == 0 || last == Some(issuing) {
                return bad("non-canonical run of ranges");
            }
            last = Some(issuing);
            v.reserve(n.min(1024));
            let mut after = 1u64;
            for _ in 0..n {
                let start = after.wrapping_add(unzigzag(self.varint()?));
                let end = start.checked_add(self.varint()?);
                let Some(range) = end.and_then(|e| SerialRange::new(start, e).ok()) else {
                    return bad("invalid serial range");
                };
                v.push(IssuedRange { issuing, range });
                after = range.end().wrapping_add(1);
            }
        }
        Ok(v)
    }
    pub fn period(&mut self) -> R<MitigationPeriod> {
        let (s, e) = (self.i32()?, self.i32()?);
        MitigationPeriod::new(Date::from_days(s), Date::from_days(e))
            .or_else(|_| bad("invalid period"))
    }
    pub fn attributes(&mut self) -> R<UnitAttributes> {
        Ok(UnitAttributes {
            issuing: self.registry()?,
            kind: tok(self.str()?, UnitKindCode::parse)?,
            project: self.opt(|d| tok(d.str()?, ProjectId::parse))?,
            period: self.period()?,
            vintage: Vintage::new(self.u16()? as i64).or_else(|_| bad("invalid vintage"))?,
        })
    }
    pub fn labels(&mut self) -> R<Labels> {
        let authorization = self.opt(|d| {
            Ok(AuthorizationRef {
                party: d.party()?,
                authorization: tok(d.str()?, DecisionId::parse)?,
                version: d.u32()?,
            })
        })?;
        let first_transferred = self.bool()?;
        let adjustment = match self.u8()? {
            0 => AdjustmentStatus::NotApplicable,
            1 => AdjustmentStatus::Pending,
            2 => AdjustmentStatus::Applied,
            _ => return bad("unknown adjustment status"),
        };
        Ok(Labels {
            authorization,
            first_transferred,
            adjustment,
        })
    }
    pub fn asset(&mut self) -> R<HeldAsset> {
        match self.u8()? {
            0 => Ok(HeldAsset::Units(self.event_ranges()?)),
            1 => Ok(HeldAsset::Cash {
                currency: self.currency()?,
                amount: Money(self.u64()?),
            }),
            _ => bad("unknown asset tag"),
        }
    }
    pub fn personal(&mut self) -> R<Option<PersonalRef>> {
        self.opt(|d| Ok(PersonalRef(d.bytes32()?)))
    }

    pub fn event(&mut self) -> R<Event> {
        let tag = self.u8()?;
        Ok(match tag {
            1 => Event::RegistryOpened {
                registry: self.registry()?,
                straddle: straddle_of(self.u8()?)?,
            },
            2 => Event::StraddlePolicySet(straddle_of(self.u8()?)?),
            3 => {
                let mechanism = tok(self.str()?, MechanismId::parse)?;
                let n = self.count()?;
                let mut parties = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    parties.push(self.party()?);
                }
                Event::MechanismOpened { mechanism, parties }
            }
            4 => Event::PartyAuthorityOpened {
                party: self.party()?,
            },
            5 => Event::DecisionRecorded {
                decision: tok(self.str()?, DecisionId::parse)?,
                kind: tok(self.str()?, DecisionId::parse)?,
                document: self.opt(|d| d.bytes32())?,
            },
            10 => Event::UnitKindDefined {
                code: tok(self.str()?, UnitKindCode::parse)?,
                has_project: self.bool()?,
                vintage_rule: match self.u8()? {
                    0 => VintageRule::CalendarYear,
                    1 => VintageRule::ComplianceYear,
                    _ => return bad("unknown vintage rule"),
                },
            },
            11 => Event::AccountKindDefined {
                code: tok(self.str()?, AccountKindCode::parse)?,
                class: class_of(self.u8()?)?,
            },
            12 => Event::CurrencyDefined {
                code: self.currency()?,
                minor_units: self.u8()?,
            },
            13 => Event::HolderRegistered {
                holder: HolderId(self.u64()?),
                kind: tok(self.str()?, HolderKind::parse)?,
                name: PersonalRef(self.bytes32()?),
            },
            14 => Event::AccountOpened {
                account: AccountId(self.u64()?),
                holder: HolderId(self.u64()?),
                kind: tok(self.str()?, AccountKindCode::parse)?,
            },
            15 => Event::AccountStatusSet {
                account: AccountId(self.u64()?),
                status: match self.u8()? {
                    0 => AccountStatus::Open,
                    1 => AccountStatus::Frozen,
                    2 => AccountStatus::Closed,
                    _ => return bad("unknown account status"),
                },
            },
            20 => Event::Issued {
                account: AccountId(self.u64()?),
                attributes: self.attributes()?,
                range: self.range()?,
                unit_start: self.u64()?,
                citation: self.opt(|d| d.citation())?,
                business_key: self.opt(|d| tok(d.str()?, BusinessKey::parse))?,
            },
            21 => Event::Transferred {
                from: AccountId(self.u64()?),
                to: AccountId(self.u64()?),
                ranges: self.event_ranges()?,
            },
            22 => Event::Retired {
                from: AccountId(self.u64()?),
                to: AccountId(self.u64()?),
                ranges: self.event_ranges()?,
                purpose: tok(self.str()?, PurposeCode::parse)?,
                beneficiary: self.opt(|d| Ok(HolderId(d.u64()?)))?,
                beneficiary_name: self.personal()?,
                note: self.personal()?,
            },
            23 => Event::Cancelled {
                from: AccountId(self.u64()?),
                to: AccountId(self.u64()?),
                ranges: self.event_ranges()?,
                kind: match self.u8()? {
                    0 => CancellationKind::Voluntary,
                    1 => CancellationKind::Omge,
                    _ => return bad("unknown cancellation kind"),
                },
                note: self.personal()?,
            },
            24 => Event::LabelsSet {
                ranges: self.event_ranges()?,
                labels: self.labels()?,
                citation: self.opt(|d| d.citation())?,
            },
            30 => Event::HoldPlaced {
                hold: tok(self.str()?, HoldId::parse)?,
                kind: hold_kind_of(self.u8()?)?,
                account: AccountId(self.u64()?),
                asset: self.asset()?,
                expires_at: self.opt(|d| Ok(Timestamp(d.i64()?)))?,
            },
            31 => Event::HoldReleased {
                hold: tok(self.str()?, HoldId::parse)?,
                asset: self.asset()?,
                cause: match self.u8()? {
                    0 => ReleaseCause::Request,
                    1 => ReleaseCause::Expiry,
                    2 => ReleaseCause::Decision(self.citation()?),
                    _ => return bad("unknown release cause"),
                },
            },
            32 => Event::HoldPosted {
                hold: tok(self.str()?, HoldId::parse)?,
                to: AccountId(self.u64()?),
                asset: self.asset()?,
            },
            40 => Event::CashDeposited {
                account: AccountId(self.u64()?),
                currency: self.currency()?,
                amount: Money(self.u64()?),
            },
            41 => Event::CashWithdrawn {
                account: AccountId(self.u64()?),
                currency: self.currency()?,
                amount: Money(self.u64()?),
            },
            42 => Event::CashTransferred {
                from: AccountId(self.u64()?),
                to: AccountId(self.u64()?),
                currency: self.currency()?,
                amount: Money(self.u64()?),
            },
            50 => Event::Corrected {
                seq: self.u64()?,
                hash: self.bytes32()?,
                note: self.personal()?,
            },
            51 => Event::IssuanceVoided {
                account: AccountId(self.u64()?),
                ranges: self.event_ranges()?,
            },
            60 => Event::TransferProposed {
                proposal: crate::link::get_proposal(self)?,
                decide_by: Timestamp(self.i64()?),
            },
            61 => Event::TransferDecided(crate::link::get_decision(self)?),
            62 => Event::TransferSettled {
                transfer_id: crate::link::get_transfer_id(self)?,
            },
            63 => Event::InboundAccepted {
                proposal: crate::link::get_proposal(self)?,
            },
            64 => {
                let transfer_id = crate::link::get_transfer_id(self)?;
                let from = self.registry()?;
                let propose_hash = self.bytes32()?;
                let n = self.count()?;
                let mut codes = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    codes.push(crate::checks::Code(self.u16()?));
                }
                Event::InboundRejected {
                    transfer_id,
                    from,
                    propose_hash,
                    codes,
                }
            }
            65 => Event::InboundCommitted {
                transfer_id: crate::link::get_transfer_id(self)?,
                account: AccountId(self.u64()?),
                decision: crate::link::get_decision(self)?,
            },
            66 => Event::InboundAborted {
                transfer_id: crate::link::get_transfer_id(self)?,
                from: self.registry()?,
                decision: crate::link::get_decision(self)?,
            },
            67 => Event::LinkAlarm {
                transfer_id: crate::link::get_transfer_id(self)?,
                code: crate::checks::Code(self.u16()?),
            },
            68 => Event::SuspenseAccountSet {
                account: AccountId(self.u64()?),
            },
            69 => Event::ProjectHostRecorded {
                project: tok(self.str()?, ProjectId::parse)?,
                host: self.party()?,
                foreign: match self.u8()? {
                    0 => crate::jcm::ForeignIssuance::NotYetAuthorized,
                    1 => crate::jcm::ForeignIssuance::Unrestricted,
                    _ => return bad("unknown foreign-issuance policy"),
                },
                eligible: self.bool()?,
            },
            71 => Event::A6(Box::new(crate::article6::authority::get_event(self)?)),
            72 => {
                let authorization = AuthorizationRef {
                    party: self.party()?,
                    authorization: tok(self.str()?, DecisionId::parse)?,
                    version: self.u32()?,
                };
                let ca = crate::article6::itmo::CaId::new(self.u16()?)
                    .or_else(|_| bad("invalid CA id"))?;
                let purposes = crate::article6::authority::Purposes {
                    ndc: self.bool()?,
                    oimp: self.bool()?,
                };
                let n = self.count()?;
                let mut parties = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    parties.push(self.party()?);
                }
                Event::AuthorizationApplied {
                    authorization,
                    ca,
                    purposes,
                    parties,
                }
            }
            73 => Event::UseYearRecorded {
                ranges: self.event_ranges()?,
                year: self.u16()?,
            },
            74 => Event::Ccts(crate::ccts::get_event(self)?),
            75 => Event::Surrendered {
                from: AccountId(self.u64()?),
                to: AccountId(self.u64()?),
                ranges: self.event_ranges()?,
                entity: tok(self.str()?, ProjectId::parse)?,
                year: self.u16()?,
            },
            76 => Event::CertificatesExpired {
                from: AccountId(self.u64()?),
                to: AccountId(self.u64()?),
                ranges: self.event_ranges()?,
            },
            77 => Event::CertificateValiditySet { years: self.u16()? },
            70 => Event::Jcm(crate::jcm::get_event(self)?),
            t => return bad(&format!("unknown event tag {t}")),
        })
    }
}

pub(crate) fn tok<T>(s: &str, parse: fn(&str) -> Result<T, crate::checks::Code>) -> R<T> {
    parse(s).or_else(|_| bad("invalid identifier"))
}

pub(crate) fn straddle_of(t: u8) -> R<StraddlePolicy> {
    match t {
        0 => Ok(StraddlePolicy::ProRataDaysRemainderLast),
        1 => Ok(StraddlePolicy::Refuse),
        _ => bad("unknown straddle policy"),
    }
}

fn class_of(t: u8) -> R<AccountClass> {
    Ok(match t {
        0 => AccountClass::Holding,
        1 => AccountClass::PendingIssuance,
        2 => AccountClass::Suspense,
        3 => AccountClass::Retirement,
        4 => AccountClass::VoluntaryCancellation,
        5 => AccountClass::OmgeCancellation,
        6 => AccountClass::Surrender,
        7 => AccountClass::Expired,
        _ => return bad("unknown account class"),
    })
}

fn hold_kind_of(t: u8) -> R<HoldKind> {
    Ok(match t {
        0 => HoldKind::LocalPendingTransfer,
        1 => HoldKind::MarketOrder,
        2 => HoldKind::CrossRegistryTransfer,
        3 => HoldKind::ReconciliationFreeze,
        4 => HoldKind::LegalFreeze,
        _ => return bad("unknown hold kind"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ranges(rs: &[(&str, u64, u64)]) -> Vec<IssuedRange> {
        rs.iter()
            .map(|&(r, s, e)| IssuedRange {
                issuing: RegistryId::parse(r).unwrap(),
                range: SerialRange::new(s, e).unwrap(),
            })
            .collect()
    }

    fn event_ranges_of(bytes: &[u8]) -> R<Vec<IssuedRange>> {
        let mut d = Dec::new(bytes);
        let v = d.event_ranges()?;
        if !d.is_done() {
            return bad("trailing bytes");
        }
        Ok(v)
    }

    /// Written by hand from the module's rules: two runs; in the first, a range from serial 1
    /// (999 = `e7 07`), one two serials later (+2 → 4), one back below both (500 - 1011 =
    /// -511 → 1021 = `fd 07`); in the second, the highest serial (u64::MAX - 1 read as -2 →
    /// 3).
    #[test]
    fn event_ranges_golden() {
        let rs = ranges(&[
            ("IND01", 1, 1000),
            ("IND01", 1003, 1010),
            ("IND01", 500, 500),
            ("JPN01", u64::MAX, u64::MAX),
        ]);
        let mut e = Enc::new();
        e.event_ranges(&rs);
        let want = concat!(
            "00000002",
            "494e443031",
            "00000003",
            "00e707",
            "0407",
            "fd0700",
            "4a504e3031",
            "00000001",
            "0300"
        );
        assert_eq!(hex::encode(&e.buf), want);
        assert_eq!(event_ranges_of(&e.buf).unwrap(), rs);
        // The same list as format version 1 wrote it: 4 × 21 bytes against 28.
        let mut v1 = Enc {
            fixed_ranges: true,
            ..Enc::default()
        };
        v1.event_ranges(&rs);
        assert_eq!(v1.buf.len(), 4 + 4 * 21);
        let mut d = Dec::new(&v1.buf).with_fixed_ranges();
        assert_eq!(d.event_ranges().unwrap(), rs);
        assert!(d.is_done());
    }

    /// Varints at every length's edges: the bytes LEB128 gives (written out by hand for a
    /// few), read back whole.
    #[test]
    fn varints_at_every_length_round_trip() {
        for (v, hex_want) in [
            (0u64, "00"),
            (127, "7f"),
            (128, "8001"),
            (16_383, "ff7f"),
            (16_384, "808001"),
            (u64::MAX, "ffffffffffffffffff01"),
        ] {
            let mut e = Enc::new();
            e.varint(v);
            assert_eq!(hex::encode(&e.buf), hex_want, "{v}");
        }
        for k in 0..64 {
            for v in [1u64 << k, (1u64 << k) - 1, (1u64 << k) + 1, u64::MAX >> k] {
                let mut e = Enc::new();
                e.varint(v);
                assert_eq!(
                    e.buf.len(),
                    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
                );
                let mut d = Dec::new(&e.buf);
                assert_eq!((d.varint(), d.is_done()), (Ok(v), true), "{v}");
            }
        }
    }

    /// Every non-canonical or impossible form is refused, each with its reason.
    #[test]
    fn event_ranges_refuse_what_is_not_canonical() {
        let cases = [
            // A varint with a zero last byte after others (1 written in two bytes).
            ("00000001494e443031000000018100", "non-canonical varint"),
            // A varint of eleven bytes, and one whose tenth byte carries more than 64 bits.
            (
                "00000001494e44303100000001ffffffffffffffffffff0100",
                "varint over 64 bits",
            ),
            (
                "00000001494e44303100000001ffffffffffffffffff0200",
                "varint over 64 bits",
            ),
            // A run of no ranges.
            ("00000001494e44303100000000", "non-canonical run of ranges"),
            // Two runs of one registry, which one run writes.
            (
                "00000002494e443031000000010000494e443031000000010000",
                "non-canonical run of ranges",
            ),
            // A start one below serial 1 (zigzag 1 = -1), i.e. serial 0.
            ("00000001494e443031000000010100", "invalid serial range"),
            // An end past u64::MAX: start u64::MAX (zigzag 3), length 1.
            ("00000001494e443031000000010301", "invalid serial range"),
            // Cut short.
            ("00000001494e4430310000000100", "unexpected end of input"),
            // A run count the input cannot hold.
            ("ffffffff", "list longer than input"),
        ];
        for (hex_in, why) in cases {
            let bytes = hex::decode(hex_in).unwrap();
            assert_eq!(
                event_ranges_of(&bytes),
                Err(DecodeError(why.to_owned())),
                "{hex_in}"
            );
        }
    }

    fn any_ranges() -> impl Strategy<Value = Vec<IssuedRange>> {
        let serial = prop_oneof![1..=2_000u64, 1..=u64::MAX, (u64::MAX - 50)..=u64::MAX];
        let one = (0..2usize, serial.clone(), serial).prop_map(|(r, a, b)| IssuedRange {
            issuing: RegistryId::parse(["IND01", "JPN01"][r]).unwrap(),
            range: SerialRange::new(a.min(b), a.max(b)).unwrap(),
        });
        prop::collection::vec(one, 0..12)
    }

    proptest! {
        /// Any list round-trips, in either format.
        #[test]
        fn event_ranges_round_trip(rs in any_ranges()) {
            let mut e = Enc::new();
            e.event_ranges(&rs);
            prop_assert_eq!(event_ranges_of(&e.buf).unwrap(), rs.clone());
            let mut v1 = Enc { fixed_ranges: true, ..Enc::default() };
            v1.event_ranges(&rs);
            let mut d = Dec::new(&v1.buf).with_fixed_ranges();
            prop_assert_eq!(d.event_ranges().unwrap(), rs);
            prop_assert!(d.is_done());
        }

        /// Canonical: whatever bytes decode, a valid encoding with one byte changed included,
        /// encode back to themselves, so no list has two encodings (and no two hashes).
        #[test]
        fn event_ranges_decode_only_their_own_encoding(
            rs in any_ranges(),
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let mut e = Enc::new();
            e.event_ranges(&rs);
            let mut bytes = e.buf;
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            if let Ok(back) = event_ranges_of(&bytes) {
                let mut again = Enc::new();
                again.event_ranges(&back);
                prop_assert_eq!(again.buf, bytes);
            }
        }
    }

    /// One range written by hand: count 1, `IND01`, serials 1 to 1,000.
    #[test]
    fn issued_ranges_golden() {
        let mut e = Enc::new();
        e.issued_ranges(&[IssuedRange {
            issuing: RegistryId::parse("IND01").unwrap(),
            range: SerialRange::new(1, 1000).unwrap(),
        }]);
        assert_eq!(
            hex::encode(&e.buf),
            "00000001494e443031000000000000000100000000000003e8"
        );
    }
}
