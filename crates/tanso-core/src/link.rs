//! The registry-to-registry link (`LINK.md` §7, mode B: the sending registry coordinates):
//! messages, their canonical bytes, and both state machines as part of a registry's state.
//!
//! The sender (S) reserves the ranges under a cross-registry hold, records exactly one decision
//! (COMMIT or ABORT) per transfer, debits in the same entry as a COMMIT, and never aborts after
//! acceptance on its own clock. The receiver (R) records incoming ranges as pending (refusing
//! serials it already holds or has pending: 3033), credits only on a COMMIT decision, never
//! aborts on its own clock, and keeps a tombstone for a transfer it learns was aborted before
//! it ever saw it, so a late proposal can never commit (4504).
//!
//! Outgoing messages are not stored separately: every message a registry must (re)send is a
//! pure function of its committed state (`outbox`, `replies`), and its bytes are deterministic,
//! so retries are byte-identical and the "outbox" is exactly as durable as the entry that
//! produced it. Received messages enter through commands whose id is derived from the message
//! (`inbox_id`), so the engine's idempotency gives every duplicate the stored answer.
//!
//! Pure: no I/O, no clocks, no transport. The transport, retries and timers live in the engine.

use crate::checks::{Checks, Code, Rejection};
use crate::encode::{Dec, DecodeError, Enc};
use crate::ids::*;
use crate::model::*;
use crate::registry::{RegistryState, Undo};
use crate::units::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

type R<T> = Result<T, Rejection>;

fn rej(code: Code, msg: impl Into<String>) -> Rejection {
    Rejection::one(code, msg)
}

/// `<sender registry>-<sequence>`, e.g. `IND01-000000123`; allocated by the sender in the
/// entry that reserves the units (`LINK.md` §7.2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(String);

impl TransferId {
    pub fn new(sender: RegistryId, seq: u64) -> Self {
        TransferId(format!("{sender}-{seq:09}"))
    }
    pub fn parse(s: &str) -> Result<Self, Code> {
        let (r, n) = s.split_once('-').ok_or(Code::TRANSFER_ID_MALFORMED)?;
        RegistryId::parse(r).map_err(|_| Code::TRANSFER_ID_MALFORMED)?;
        if n.len() < 9 || n.len() > 20 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Code::TRANSFER_ID_MALFORMED);
        }
        Ok(TransferId(s.to_owned()))
    }
    pub fn sender(&self) -> Option<RegistryId> {
        self.0
            .split_once('-')
            .and_then(|(r, _)| RegistryId::parse(r).ok())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Transfer statuses, with the DES numbers (`LINK.md` §7.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TransferStatus {
    Proposed = 1,
    Completed = 4,
    Terminated = 5,
    Rejected = 6,
    Cancelled = 7,
    Accepted = 8,
}

impl TransferStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => TransferStatus::Proposed,
            4 => TransferStatus::Completed,
            5 => TransferStatus::Terminated,
            6 => TransferStatus::Rejected,
            7 => TransferStatus::Cancelled,
            8 => TransferStatus::Accepted,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            TransferStatus::Proposed => "proposed",
            TransferStatus::Completed => "completed",
            TransferStatus::Terminated => "terminated",
            TransferStatus::Rejected => "rejected",
            TransferStatus::Cancelled => "cancelled",
            TransferStatus::Accepted => "accepted",
        }
    }
    pub fn is_final(self) -> bool {
        !matches!(self, TransferStatus::Proposed | TransferStatus::Accepted)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Commit,
    Abort,
}

/// One block of a proposal: its serials and everything the receiver needs to hold them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkBlock {
    pub range: IssuedRange,
    pub unit_start: u64,
    pub attributes: UnitAttributes,
    pub labels: Labels,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub transfer_id: TransferId,
    pub from_registry: RegistryId,
    pub from_account: AccountId,
    pub to_registry: RegistryId,
    pub to_account: AccountId,
    pub blocks: Vec<LinkBlock>,
    /// Redundant sum of the blocks (checked: 2511).
    pub quantity: u64,
    pub created_at: Timestamp,
}

impl Proposal {
    pub fn hash(&self) -> [u8; 32] {
        let mut e = Enc::new();
        e.buf.extend_from_slice(b"tanso-propose/1\0");
        put_proposal(&mut e, self);
        Sha256::digest(&e.buf).into()
    }
    pub fn ranges(&self) -> Vec<IssuedRange> {
        self.blocks.iter().map(|b| b.range).collect()
    }
}

/// The coordinator's one decision for a transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkDecision {
    pub transfer_id: TransferId,
    pub verdict: Verdict,
    pub status: TransferStatus,
    pub propose_hash: [u8; 32],
    pub decided_at: Timestamp,
}

impl LinkDecision {
    pub fn hash(&self) -> [u8; 32] {
        let mut e = Enc::new();
        e.buf.extend_from_slice(b"tanso-decision/1\0");
        put_decision(&mut e, self);
        Sha256::digest(&e.buf).into()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkMessage {
    Propose(Proposal),
    Accept {
        transfer_id: TransferId,
        propose_hash: [u8; 32],
    },
    Reject {
        transfer_id: TransferId,
        propose_hash: [u8; 32],
        codes: Vec<Code>,
    },
    Decision(LinkDecision),
    DecisionAck {
        transfer_id: TransferId,
        verdict: Verdict,
        decision_hash: [u8; 32],
    },
    StatusQuery {
        transfer_id: TransferId,
    },
    StatusReply {
        transfer_id: TransferId,
        /// 0 when the coordinator does not know the transfer.
        status: u8,
        decision: Option<LinkDecision>,
    },
}

impl LinkMessage {
    pub fn transfer_id(&self) -> &TransferId {
        match self {
            LinkMessage::Propose(p) => &p.transfer_id,
            LinkMessage::Decision(d) => &d.transfer_id,
            LinkMessage::Accept { transfer_id, .. }
            | LinkMessage::Reject { transfer_id, .. }
            | LinkMessage::DecisionAck { transfer_id, .. }
            | LinkMessage::StatusQuery { transfer_id }
            | LinkMessage::StatusReply { transfer_id, .. } => transfer_id,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            LinkMessage::Propose(_) => "propose",
            LinkMessage::Accept { .. } => "accept",
            LinkMessage::Reject { .. } => "reject",
            LinkMessage::Decision(_) => "decision",
            LinkMessage::DecisionAck { .. } => "decision_ack",
            LinkMessage::StatusQuery { .. } => "status_query",
            LinkMessage::StatusReply { .. } => "status_reply",
        }
    }
    /// Queries change no state and are answered without a journal entry.
    pub fn is_query(&self) -> bool {
        matches!(
            self,
            LinkMessage::StatusQuery { .. } | LinkMessage::StatusReply { decision: None, .. }
        )
    }
}

/// A message between two registries. Its bytes (`encode`) are what a later signature covers;
/// its id is derived from them, so a resent message is byte-identical and has the same id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub from: RegistryId,
    pub to: RegistryId,
    pub message: LinkMessage,
}

pub const LINK_DOMAIN: &[u8] = b"tanso-link/1\0";

impl Envelope {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.buf.extend_from_slice(LINK_DOMAIN);
        e.registry(&self.from);
        e.registry(&self.to);
        put_message(&mut e, &self.message);
        e.buf
    }

    pub fn decode(b: &[u8]) -> Result<Envelope, DecodeError> {
        let rest = b
            .strip_prefix(LINK_DOMAIN)
            .ok_or_else(|| DecodeError("not a tanso-link/1 message".into()))?;
        let mut d = Dec::new(rest);
        let from = d.registry()?;
        let to = d.registry()?;
        let message = get_message(&mut d)?;
        if !d.is_done() {
            return Err(DecodeError("trailing bytes after message".into()));
        }
        Ok(Envelope { from, to, message })
    }

    /// 32 hex digits of SHA-256 over the bytes.
    pub fn msg_id(&self) -> String {
        let d = Sha256::digest(self.encode());
        d[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The id of the command that takes this message in: the inbox key `(from, msg_id)`.
    pub fn inbox_id(&self) -> String {
        format!("link:{}:{}", self.from, self.msg_id())
    }
}

/// The sender's record of an outbound transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    pub proposal: Proposal,
    pub propose_hash: [u8; 32],
    pub decide_by: Timestamp,
    pub status: TransferStatus,
    pub decision: Option<LinkDecision>,
    /// The receiver acknowledged the decision.
    pub settled: bool,
}

/// The receiver's record of an inbound transfer (or a tombstone: no proposal).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    pub from: RegistryId,
    pub proposal: Option<Proposal>,
    pub propose_hash: [u8; 32],
    pub status: TransferStatus,
    pub codes: Vec<Code>,
    pub decision: Option<LinkDecision>,
    pub credited_to: Option<AccountId>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkState {
    pub next_transfer: u64,
    pub outbound: BTreeMap<TransferId, Outbound>,
    pub inbound: BTreeMap<TransferId, Inbound>,
    /// Serials accepted from another registry and not yet credited or released.
    pub pending: crate::rangeset::RangeSet,
    /// Conflicts that need an operator (4503 …), in order.
    pub alarms: Vec<(TransferId, Code)>,
    /// Where units go whose acquiring account closed after acceptance.
    pub suspense: Option<AccountId>,
}

impl LinkState {
    /// The link's part of the registry's state hash.
    pub(crate) fn encode_state(&self, e: &mut Enc) {
        e.u64(self.next_transfer);
        e.len(self.outbound.len());
        for (id, o) in &self.outbound {
            e.str(id.as_str());
            e.bytes32(&o.propose_hash);
            e.i64(o.decide_by.0);
            e.u8(o.status.code());
            e.opt(&o.decision, |e, d| e.bytes32(&d.hash()));
            e.bool(o.settled);
        }
        e.len(self.inbound.len());
        for (id, r) in &self.inbound {
            e.str(id.as_str());
            e.registry(&r.from);
            e.bool(r.proposal.is_some());
            e.bytes32(&r.propose_hash);
            e.u8(r.status.code());
            e.len(r.codes.len());
            for c in &r.codes {
                e.u16(c.0);
            }
            e.opt(&r.decision, |e, d| e.bytes32(&d.hash()));
            e.opt(&r.credited_to, |e, a| e.u64(a.0));
        }
        e.issued_ranges(&self.pending.ranges());
        e.len(self.alarms.len());
        for (id, c) in &self.alarms {
            e.str(id.as_str());
            e.u16(c.0);
        }
        e.opt(&self.suspense, |e, a| e.u64(a.0));
    }
}

impl RegistryState {
    pub fn link(&self) -> &LinkState {
        &self.link
    }

    // ----- decide ---------------------------------------------------------------------------

    #[expect(
        clippy::too_many_arguments,
        reason = "the fields of the TransferOut command, passed as they are"
    )]
    pub(crate) fn decide_transfer_out(
        &mut self,
        out: &mut Vec<Event>,
        from: AccountId,
        to_registry: RegistryId,
        to_account: AccountId,
        units: &UnitSelection,
        decide_by: Timestamp,
        time: Timestamp,
    ) -> R<()> {
        let me = self.require_open()?;
        let mut c = Checks::new();
        self.check_from(from, &mut c);
        c.require(to_registry != me, Code::COUNTERPARTY_NOT_ENABLED, || {
            "a cross-registry transfer needs another registry".into()
        });
        c.finish()?;
        let ranges = self.select(from, units)?;
        let mut blocks = Vec::new();
        for r in &ranges {
            let Some(bs) = self.blocks_of(r) else {
                return Err(rej(
                    Code::UNITS_NOT_HELD,
                    format!(
                        "serials {} {} are not all in this registry",
                        r.issuing, r.range
                    ),
                ));
            };
            for (s, b) in bs {
                let lo = s.max(r.range.start());
                let hi = b.end.min(r.range.end());
                blocks.push(LinkBlock {
                    range: IssuedRange {
                        issuing: r.issuing,
                        range: SerialRange::new(lo, hi)?,
                    },
                    unit_start: b.unit_start + (lo - s),
                    attributes: self.attrs.get(b.attrs).clone(),
                    labels: self.labels.get(b.labels).clone(),
                });
            }
        }
        let quantity = blocks.iter().map(|b| b.range.range.len()).sum();
        let proposal = Proposal {
            transfer_id: TransferId::new(me, self.link.next_transfer + 1),
            from_registry: me,
            from_account: from,
            to_registry,
            to_account,
            blocks,
            quantity,
            created_at: time,
        };
        self.emit(
            out,
            Event::TransferProposed {
                proposal,
                decide_by,
            },
        )
    }

    pub(crate) fn decide_expire_transfers(
        &mut self,
        out: &mut Vec<Event>,
        now: Timestamp,
        time: Timestamp,
    ) -> R<()> {
        let due: Vec<(TransferId, [u8; 32])> = self
            .link
            .outbound
            .iter()
            .filter(|(_, o)| o.status == TransferStatus::Proposed && o.decide_by <= now)
            .map(|(id, o)| (id.clone(), o.propose_hash))
            .collect();
        for (transfer_id, propose_hash) in due {
            self.emit(
                out,
                Event::TransferDecided(LinkDecision {
                    transfer_id,
                    verdict: Verdict::Abort,
                    status: TransferStatus::Cancelled,
                    propose_hash,
                    decided_at: time,
                }),
            )?;
        }
        Ok(())
    }

    pub(crate) fn decide_cancel_transfer(
        &mut self,
        out: &mut Vec<Event>,
        transfer_id: &TransferId,
        time: Timestamp,
    ) -> R<()> {
        let o = self.link.outbound.get(transfer_id).ok_or_else(|| {
            rej(
                Code::TRANSFER_UNKNOWN,
                format!("transfer {transfer_id} is not known here"),
            )
        })?;
        if o.status != TransferStatus::Proposed {
            return Err(rej(
                Code::MESSAGE_NOT_VALID_IN_STATE,
                format!(
                    "transfer {transfer_id} is {}: only a proposed transfer can be cancelled",
                    o.status.name()
                ),
            ));
        }
        let propose_hash = o.propose_hash;
        self.emit(
            out,
            Event::TransferDecided(LinkDecision {
                transfer_id: transfer_id.clone(),
                verdict: Verdict::Abort,
                status: TransferStatus::Cancelled,
                propose_hash,
                decided_at: time,
            }),
        )
    }

    /// Takes in one message. Duplicates and late messages change nothing (their answer is
    /// recomputed from state by `replies`); conflicts raise an alarm and never credit.
    pub(crate) fn decide_receive(
        &mut self,
        out: &mut Vec<Event>,
        env: &Envelope,
        time: Timestamp,
    ) -> R<()> {
        let me = self.require_open()?;
        if env.to != me {
            return Err(rej(
                Code::CHAIN_NOT_HOSTED,
                format!("message for {} delivered to {me}", env.to),
            ));
        }
        match &env.message {
            LinkMessage::Propose(p) => {
                if let Some(rec) = self.link.inbound.get(&p.transfer_id) {
                    // Duplicate (same hash) or conflicting (tombstone, other payload): no change.
                    let _ = rec;
                    return Ok(());
                }
                let codes = self.check_proposal(env.from, p);
                if codes.is_empty() {
                    self.emit(
                        out,
                        Event::InboundAccepted {
                            proposal: p.clone(),
                        },
                    )
                } else {
                    self.emit(
                        out,
                        Event::InboundRejected {
                            transfer_id: p.transfer_id.clone(),
                            from: env.from,
                            propose_hash: p.hash(),
                            codes,
                        },
                    )
                }
            }
            LinkMessage::Accept {
                transfer_id,
                propose_hash,
            }
            | LinkMessage::Reject {
                transfer_id,
                propose_hash,
                ..
            } => {
                let Some(o) = self.link.outbound.get(transfer_id) else {
                    return Ok(());
                };
                if o.status != TransferStatus::Proposed || &o.propose_hash != propose_hash {
                    return Ok(()); // late or stale: the stored decision is re-sent
                }
                let (verdict, status) = match env.message {
                    LinkMessage::Accept { .. } => (Verdict::Commit, TransferStatus::Completed),
                    _ => (Verdict::Abort, TransferStatus::Rejected),
                };
                self.emit(
                    out,
                    Event::TransferDecided(LinkDecision {
                        transfer_id: transfer_id.clone(),
                        verdict,
                        status,
                        propose_hash: *propose_hash,
                        decided_at: time,
                    }),
                )
            }
            LinkMessage::Decision(d)
            | LinkMessage::StatusReply {
                decision: Some(d), ..
            } => self.decide_decision(out, env.from, d),
            LinkMessage::DecisionAck { transfer_id, .. } => {
                match self.link.outbound.get(transfer_id) {
                    Some(o) if o.decision.is_some() && !o.settled => self.emit(
                        out,
                        Event::TransferSettled {
                            transfer_id: transfer_id.clone(),
                        },
                    ),
                    _ => Ok(()),
                }
            }
            LinkMessage::StatusQuery { .. } | LinkMessage::StatusReply { .. } => Ok(()),
        }
    }

    fn decide_decision(
        &mut self,
        out: &mut Vec<Event>,
        from: RegistryId,
        d: &LinkDecision,
    ) -> R<()> {
        if d.transfer_id.sender() != Some(from) {
            return Err(rej(
                Code::TRANSFER_ID_MALFORMED,
                format!("{from} cannot decide transfer {}", d.transfer_id),
            ));
        }
        let rec = self.link.inbound.get(&d.transfer_id);
        match (rec.map(|r| (r.status, r.propose_hash)), d.verdict) {
            (Some((TransferStatus::Accepted, h)), verdict) if h == d.propose_hash => {
                match verdict {
                    Verdict::Commit => {
                        let account = self.credit_account(&d.transfer_id);
                        self.emit(
                            out,
                            Event::InboundCommitted {
                                transfer_id: d.transfer_id.clone(),
                                account,
                                decision: d.clone(),
                            },
                        )
                    }
                    Verdict::Abort => self.emit(
                        out,
                        Event::InboundAborted {
                            transfer_id: d.transfer_id.clone(),
                            from,
                            decision: d.clone(),
                        },
                    ),
                }
            }
            // Never saw it: remember the abort so a late proposal can never commit.
            (None, Verdict::Abort) => self.emit(
                out,
                Event::InboundAborted {
                    transfer_id: d.transfer_id.clone(),
                    from,
                    decision: d.clone(),
                },
            ),
            // COMMIT for something never accepted, or after a rejection or abort: never credit.
            (None, Verdict::Commit)
            | (Some((TransferStatus::Rejected | TransferStatus::Terminated, _)), Verdict::Commit) => {
                self.emit(
                    out,
                    Event::LinkAlarm {
                        transfer_id: d.transfer_id.clone(),
                        code: Code::DECISION_CONFLICT,
                    },
                )
            }
            (Some((TransferStatus::Accepted, _)), _) => self.emit(
                out,
                Event::LinkAlarm {
                    transfer_id: d.transfer_id.clone(),
                    code: Code::DECISION_CONFLICT,
                },
            ),
            // Already final with the same outcome: a duplicate.
            _ => Ok(()),
        }
    }

    /// Where a committed inbound transfer is credited: its acquiring account, even if frozen
    /// since acceptance (the account's freeze then holds the units); the suspense account if
    /// the acquiring account has closed and a suspense account is set.
    fn credit_account(&self, id: &TransferId) -> AccountId {
        let to = self
            .link
            .inbound
            .get(id)
            .and_then(|r| r.proposal.as_ref())
            .map_or(AccountId(0), |p| p.to_account);
        match (self.accounts.get(&to).map(|a| a.status), self.link.suspense) {
            (Some(AccountStatus::Closed), Some(s)) => s,
            _ => to,
        }
    }

    /// The receiver's checks of a proposal (6xxx/25xx/2xxx/3xxx of `LINK.md` §7.7): every
    /// failing code.
    fn check_proposal(&self, from: RegistryId, p: &Proposal) -> Vec<Code> {
        let mut c = Checks::new();
        c.require(
            p.transfer_id.sender() == Some(from) && p.from_registry == from,
            Code::TRANSFER_ID_MALFORMED,
            || format!("transfer id {} does not belong to {from}", p.transfer_id),
        );
        let sum = p
            .blocks
            .iter()
            .try_fold(0u64, |a, b| a.checked_add(b.range.range.len()));
        c.require(
            sum == Some(p.quantity) && p.quantity > 0,
            Code::QUANTITY_MISMATCH,
            || "quantity differs from the sum of the blocks".into(),
        );
        let mut sorted = p.ranges();
        sorted.sort();
        c.require(
            !sorted
                .windows(2)
                .any(|w| w[0].issuing == w[1].issuing && w[0].range.overlaps(&w[1].range)),
            Code::RANGES_OVERLAP,
            || "ranges in the proposal overlap".into(),
        );
        self.check_to(
            p.to_account,
            AccountClass::can_receive_transfer,
            "transfers",
            &mut c,
        );
        for b in &p.blocks {
            c.require(
                b.attributes.issuing == b.range.issuing,
                Code::ATTRIBUTES_DISAGREE,
                || "a block's attributes name another issuing registry".into(),
            );
            c.require(
                self.unit_kinds.contains_key(&b.attributes.kind),
                Code::UNIT_KIND_UNKNOWN,
                || format!("unit kind {} is not defined here", b.attributes.kind),
            );
            let present = self.blocks_overlapping(&b.range) || self.link.pending.overlaps(&b.range);
            c.require(!present, Code::SERIALS_ALREADY_PRESENT, || {
                format!(
                    "serials {} {} are already held or pending here",
                    b.range.issuing, b.range.range
                )
            });
        }
        match c.finish() {
            Ok(()) => Vec::new(),
            Err(r) => r.codes(),
        }
    }

    fn blocks_overlapping(&self, r: &IssuedRange) -> bool {
        let before = self
            .blocks
            .containing((r.issuing, r.range.start()))
            .is_some();
        before
            || self
                .blocks
                .range(r.issuing, r.range.start(), r.range.end())
                .next()
                .is_some()
    }

    // ----- fold -----------------------------------------------------------------------------

    pub(crate) fn fold_link(&mut self, ev: &Event) -> R<()> {
        match ev {
            Event::TransferProposed {
                proposal,
                decide_by,
            } => {
                let me = self.require_open()?;
                let expect = TransferId::new(me, self.link.next_transfer + 1);
                if proposal.transfer_id != expect || proposal.from_registry != me {
                    return Err(rej(
                        Code::TRANSFER_ID_MALFORMED,
                        format!("next transfer id is {expect}"),
                    ));
                }
                let hold = HoldId::parse(proposal.transfer_id.as_str())?;
                self.fold_hold_placed(
                    &hold,
                    HoldKind::CrossRegistryTransfer,
                    proposal.from_account,
                    &HeldAsset::Units(proposal.ranges()),
                    None,
                )?;
                // The proposal must describe exactly the units it holds.
                for b in &proposal.blocks {
                    let Some(v) = self.block_at(b.range.issuing, b.range.range.start()) else {
                        return Err(rej(
                            Code::ATTRIBUTES_DISAGREE,
                            "proposal names absent units",
                        ));
                    };
                    let offset = b.range.range.start() - v.range.start();
                    if v.attributes != b.attributes
                        || v.labels != b.labels
                        || v.unit_start + offset != b.unit_start
                        || v.range.end() < b.range.range.end()
                    {
                        return Err(rej(
                            Code::ATTRIBUTES_DISAGREE,
                            "proposal disagrees with the units it holds",
                        ));
                    }
                }
                self.log(Undo::LinkNext(self.link.next_transfer));
                self.link.next_transfer += 1;
                self.set_outbound(
                    proposal.transfer_id.clone(),
                    Some(Outbound {
                        proposal: proposal.clone(),
                        propose_hash: proposal.hash(),
                        decide_by: *decide_by,
                        status: TransferStatus::Proposed,
                        decision: None,
                        settled: false,
                    }),
                );
                Ok(())
            }
            Event::TransferDecided(d) => {
                let mut o = self
                    .link
                    .outbound
                    .get(&d.transfer_id)
                    .cloned()
                    .ok_or_else(|| rej(Code::TRANSFER_UNKNOWN, "unknown transfer"))?;
                if o.status != TransferStatus::Proposed || o.decision.is_some() {
                    return Err(rej(
                        Code::DECISION_CONFLICT,
                        format!("transfer {} is already decided", d.transfer_id),
                    ));
                }
                let hold = HoldId::parse(d.transfer_id.as_str())?;
                match d.verdict {
                    Verdict::Commit => {
                        // Debit: the held units leave this registry in the decision's entry.
                        let h = self.hold(&hold)?.clone();
                        for r in h.units.ranges() {
                            let bs = self.blocks_of(&r).ok_or_else(|| {
                                rej(Code::HOLD_PART_EXCEEDS, "held serials are missing")
                            })?;
                            for (s, b) in bs {
                                if b.hold != h.ix {
                                    return Err(rej(
                                        Code::HOLD_PART_EXCEEDS,
                                        "serials are not under the transfer's hold",
                                    ));
                                }
                                self.put_block((r.issuing, s), None);
                            }
                        }
                        self.set_hold(hold, None);
                    }
                    Verdict::Abort => {
                        let asset = HeldAsset::Units(self.hold(&hold)?.units.ranges());
                        self.fold_hold_out(&hold, &asset, None)?;
                    }
                }
                o.status = d.status;
                o.decision = Some(d.clone());
                self.set_outbound(d.transfer_id.clone(), Some(o));
                Ok(())
            }
            Event::TransferSettled { transfer_id } => {
                let mut o = self
                    .link
                    .outbound
                    .get(transfer_id)
                    .cloned()
                    .ok_or_else(|| rej(Code::TRANSFER_UNKNOWN, "unknown transfer"))?;
                if o.decision.is_none() || o.settled {
                    return Err(rej(
                        Code::MESSAGE_NOT_VALID_IN_STATE,
                        "only a decided, unsettled transfer settles",
                    ));
                }
                o.settled = true;
                self.set_outbound(transfer_id.clone(), Some(o));
                Ok(())
            }
            Event::InboundAccepted { proposal } => {
                if self.link.inbound.contains_key(&proposal.transfer_id) {
                    return Err(rej(
                        Code::MESSAGE_NOT_VALID_IN_STATE,
                        "transfer already known",
                    ));
                }
                for b in &proposal.blocks {
                    if self.blocks_overlapping(&b.range) || !self.link.pending.insert(&b.range) {
                        return Err(rej(
                            Code::SERIALS_ALREADY_PRESENT,
                            "serials are already held or pending here",
                        ));
                    }
                    self.log(Undo::PendingInserted(b.range));
                }
                self.set_inbound(
                    proposal.transfer_id.clone(),
                    Some(Inbound {
                        from: proposal.from_registry,
                        proposal: Some(proposal.clone()),
                        propose_hash: proposal.hash(),
                        status: TransferStatus::Accepted,
                        codes: Vec::new(),
                        decision: None,
                        credited_to: None,
                    }),
                );
                Ok(())
            }
            Event::InboundRejected {
                transfer_id,
                from,
                propose_hash,
                codes,
            } => {
                if self.link.inbound.contains_key(transfer_id) {
                    return Err(rej(
                        Code::MESSAGE_NOT_VALID_IN_STATE,
                        "transfer already known",
                    ));
                }
                self.set_inbound(
                    transfer_id.clone(),
                    Some(Inbound {
                        from: *from,
                        proposal: None,
                        propose_hash: *propose_hash,
                        status: TransferStatus::Rejected,
                        codes: codes.clone(),
                        decision: None,
                        credited_to: None,
                    }),
                );
                Ok(())
            }
            Event::InboundCommitted {
                transfer_id,
                account,
                decision,
            } => {
                let mut rec = self
                    .link
                    .inbound
                    .get(transfer_id)
                    .cloned()
                    .ok_or_else(|| rej(Code::TRANSFER_UNKNOWN, "unknown transfer"))?;
                let Some(p) = rec.proposal.clone() else {
                    return Err(rej(Code::DECISION_CONFLICT, "no proposal to credit"));
                };
                if rec.status != TransferStatus::Accepted || decision.verdict != Verdict::Commit {
                    return Err(rej(
                        Code::DECISION_CONFLICT,
                        "only an accepted transfer is credited",
                    ));
                }
                if !self.accounts.contains_key(account) {
                    return Err(rej(
                        Code::TO_ACCOUNT_UNKNOWN,
                        "credited account does not exist",
                    ));
                }
                for b in &p.blocks {
                    if !self.link.pending.remove(&b.range) {
                        return Err(rej(Code::HOLD_PART_EXCEEDS, "serials are not pending"));
                    }
                    self.log(Undo::PendingRemoved(b.range));
                    if self.blocks_overlapping(&b.range) {
                        return Err(rej(Code::SERIALS_ALREADY_PRESENT, "serials already held"));
                    }
                    let attrs = self.attrs.intern(&b.attributes);
                    let labels = self.labels.intern(&b.labels);
                    self.put_block(
                        (b.range.issuing, b.range.range.start()),
                        Some(crate::registry::Block {
                            end: b.range.range.end(),
                            unit_start: b.unit_start,
                            attrs,
                            labels,
                            owner: *account,
                            hold: 0,
                            freezes: 0,
                        }),
                    );
                }
                for b in &p.blocks {
                    self.merge_around(&b.range);
                }
                rec.status = TransferStatus::Completed;
                rec.decision = Some(decision.clone());
                rec.credited_to = Some(*account);
                self.set_inbound(transfer_id.clone(), Some(rec));
                Ok(())
            }
            Event::InboundAborted {
                transfer_id,
                from,
                decision,
            } => {
                match self.link.inbound.get(transfer_id).cloned() {
                    Some(mut rec) if rec.status == TransferStatus::Accepted => {
                        if let Some(p) = &rec.proposal {
                            for b in &p.blocks {
                                if !self.link.pending.remove(&b.range) {
                                    return Err(rej(
                                        Code::HOLD_PART_EXCEEDS,
                                        "serials are not pending",
                                    ));
                                }
                                self.log(Undo::PendingRemoved(b.range));
                            }
                        }
                        rec.status = TransferStatus::Terminated;
                        rec.decision = Some(decision.clone());
                        self.set_inbound(transfer_id.clone(), Some(rec));
                    }
                    None => self.set_inbound(
                        transfer_id.clone(),
                        Some(Inbound {
                            from: *from,
                            proposal: None,
                            propose_hash: decision.propose_hash,
                            status: TransferStatus::Terminated,
                            codes: Vec::new(),
                            decision: Some(decision.clone()),
                            credited_to: None,
                        }),
                    ),
                    Some(_) => {
                        return Err(rej(
                            Code::MESSAGE_NOT_VALID_IN_STATE,
                            "only an accepted or unknown transfer is aborted here",
                        ))
                    }
                }
                Ok(())
            }
            Event::LinkAlarm { transfer_id, code } => {
                self.log(Undo::AlarmsLen(self.link.alarms.len()));
                self.link.alarms.push((transfer_id.clone(), *code));
                Ok(())
            }
            Event::SuspenseAccountSet { account } => {
                let a = self.accounts.get(account).ok_or_else(|| {
                    rej(
                        Code::TO_ACCOUNT_UNKNOWN,
                        format!("account {} does not exist", account.0),
                    )
                })?;
                if a.class != AccountClass::Suspense {
                    return Err(rej(
                        Code::TO_ACCOUNT_KIND_NOT_ALLOWED,
                        "the suspense account must be of a suspense kind",
                    ));
                }
                self.log(Undo::Suspense(self.link.suspense));
                self.link.suspense = Some(*account);
                Ok(())
            }
            _ => Err(rej(Code::COMMAND_NOT_FOR_CHAIN, "not a link event")),
        }
    }

    fn set_outbound(&mut self, id: TransferId, v: Option<Outbound>) {
        let old = match v {
            Some(o) => self.link.outbound.insert(id.clone(), o),
            None => self.link.outbound.remove(&id),
        };
        self.log(Undo::Outbound(id, old.map(Box::new)));
    }

    fn set_inbound(&mut self, id: TransferId, v: Option<Inbound>) {
        let old = match v {
            Some(o) => self.link.inbound.insert(id.clone(), o),
            None => self.link.inbound.remove(&id),
        };
        self.log(Undo::Inbound(id, old.map(Box::new)));
    }

    pub(crate) fn undo_link(&mut self, u: Undo) {
        match u {
            Undo::LinkNext(n) => self.link.next_transfer = n,
            Undo::Outbound(id, old) => match old {
                Some(o) => {
                    self.link.outbound.insert(id, *o);
                }
                None => {
                    self.link.outbound.remove(&id);
                }
            },
            Undo::Inbound(id, old) => match old {
                Some(o) => {
                    self.link.inbound.insert(id, *o);
                }
                None => {
                    self.link.inbound.remove(&id);
                }
            },
            Undo::PendingInserted(r) => {
                self.link.pending.remove(&r);
            }
            Undo::PendingRemoved(r) => {
                self.link.pending.insert(&r);
            }
            Undo::AlarmsLen(n) => self.link.alarms.truncate(n),
            Undo::Suspense(s) => self.link.suspense = s,
            _ => {}
        }
    }

    // ----- messages out ---------------------------------------------------------------------

    /// Messages this registry must keep (re)sending until their effect is seen: proposals not
    /// yet decided, decisions not yet acknowledged, and status queries for accepted transfers
    /// still waiting for a decision. A pure function of committed state: the durable outbox.
    pub fn link_outbox(&self) -> Vec<Envelope> {
        let Some(me) = self.registry else {
            return Vec::new();
        };
        let mut v = Vec::new();
        for o in self.link.outbound.values() {
            match (&o.decision, o.settled) {
                (None, _) => v.push(Envelope {
                    from: me,
                    to: o.proposal.to_registry,
                    message: LinkMessage::Propose(o.proposal.clone()),
                }),
                (Some(d), false) => v.push(Envelope {
                    from: me,
                    to: o.proposal.to_registry,
                    message: LinkMessage::Decision(d.clone()),
                }),
                _ => {}
            }
        }
        for (id, r) in &self.link.inbound {
            if r.status == TransferStatus::Accepted {
                v.push(Envelope {
                    from: me,
                    to: r.from,
                    message: LinkMessage::StatusQuery {
                        transfer_id: id.clone(),
                    },
                });
            }
        }
        v
    }

    /// The answers to a message, computed from the state after taking it in (so a duplicate
    /// gets exactly the answer the original got).
    pub fn link_replies(&self, env: &Envelope) -> Vec<Envelope> {
        let Some(me) = self.registry else {
            return Vec::new();
        };
        let reply = |message| Envelope {
            from: me,
            to: env.from,
            message,
        };
        match &env.message {
            LinkMessage::Propose(p) => {
                let h = p.hash();
                let Some(rec) = self.link.inbound.get(&p.transfer_id) else {
                    return Vec::new();
                };
                let message = if rec.proposal.is_none() && rec.status == TransferStatus::Terminated
                {
                    LinkMessage::Reject {
                        transfer_id: p.transfer_id.clone(),
                        propose_hash: h,
                        codes: vec![Code::PROPOSE_AFTER_ABORT],
                    }
                } else if rec.propose_hash != h {
                    LinkMessage::Reject {
                        transfer_id: p.transfer_id.clone(),
                        propose_hash: h,
                        codes: vec![Code::ID_REUSED_WITH_OTHER_CONTENT],
                    }
                } else if rec.status == TransferStatus::Rejected {
                    LinkMessage::Reject {
                        transfer_id: p.transfer_id.clone(),
                        propose_hash: h,
                        codes: rec.codes.clone(),
                    }
                } else {
                    LinkMessage::Accept {
                        transfer_id: p.transfer_id.clone(),
                        propose_hash: h,
                    }
                };
                vec![reply(message)]
            }
            LinkMessage::Accept { transfer_id, .. } | LinkMessage::Reject { transfer_id, .. } => {
                match self
                    .link
                    .outbound
                    .get(transfer_id)
                    .and_then(|o| o.decision.clone())
                {
                    Some(d) => vec![reply(LinkMessage::Decision(d))],
                    None => Vec::new(),
                }
            }
            LinkMessage::Decision(d)
            | LinkMessage::StatusReply {
                decision: Some(d), ..
            } => {
                let consistent = self.link.inbound.get(&d.transfer_id).is_some_and(|rec| {
                    matches!(
                        (rec.status, d.verdict),
                        (TransferStatus::Completed, Verdict::Commit)
                            | (TransferStatus::Terminated, Verdict::Abort)
                            | (TransferStatus::Rejected, Verdict::Abort)
                    )
                });
                if consistent {
                    vec![reply(LinkMessage::DecisionAck {
                        transfer_id: d.transfer_id.clone(),
                        verdict: d.verdict,
                        decision_hash: d.hash(),
                    })]
                } else if matches!(env.message, LinkMessage::Decision(_)) {
                    // A conflict (4503, alarm raised): ask the coordinator once per decision
                    // message; its reply raises no further question.
                    vec![reply(LinkMessage::StatusQuery {
                        transfer_id: d.transfer_id.clone(),
                    })]
                } else {
                    Vec::new()
                }
            }
            LinkMessage::StatusQuery { transfer_id } => {
                let (status, decision) = match self.link.outbound.get(transfer_id) {
                    Some(o) => (o.status.code(), o.decision.clone()),
                    None => (0, None),
                };
                vec![reply(LinkMessage::StatusReply {
                    transfer_id: transfer_id.clone(),
                    status,
                    decision,
                })]
            }
            LinkMessage::DecisionAck { .. } | LinkMessage::StatusReply { .. } => Vec::new(),
        }
    }
}

// ----- canonical encoding of link messages --------------------------------------------------

pub(crate) fn put_block(e: &mut Enc, b: &LinkBlock) {
    e.registry(&b.range.issuing);
    e.range(&b.range.range);
    e.u64(b.unit_start);
    e.attributes(&b.attributes);
    e.labels(&b.labels);
}

pub(crate) fn get_block(d: &mut Dec) -> Result<LinkBlock, DecodeError> {
    Ok(LinkBlock {
        range: IssuedRange {
            issuing: d.registry()?,
            range: d.range()?,
        },
        unit_start: d.u64()?,
        attributes: d.attributes()?,
        labels: d.labels()?,
    })
}

pub(crate) fn put_proposal(e: &mut Enc, p: &Proposal) {
    e.str(p.transfer_id.as_str());
    e.registry(&p.from_registry);
    e.u64(p.from_account.0);
    e.registry(&p.to_registry);
    e.u64(p.to_account.0);
    e.len(p.blocks.len());
    for b in &p.blocks {
        put_block(e, b);
    }
    e.u64(p.quantity);
    e.i64(p.created_at.0);
}

pub(crate) fn get_proposal(d: &mut Dec) -> Result<Proposal, DecodeError> {
    let transfer_id = get_transfer_id(d)?;
    let from_registry = d.registry()?;
    let from_account = AccountId(d.u64()?);
    let to_registry = d.registry()?;
    let to_account = AccountId(d.u64()?);
    let n = d.count()?;
    let mut blocks = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        blocks.push(get_block(d)?);
    }
    Ok(Proposal {
        transfer_id,
        from_registry,
        from_account,
        to_registry,
        to_account,
        blocks,
        quantity: d.u64()?,
        created_at: Timestamp(d.i64()?),
    })
}

pub(crate) fn get_transfer_id(d: &mut Dec) -> Result<TransferId, DecodeError> {
    TransferId::parse(d.str()?).map_err(|_| DecodeError("invalid transfer id".into()))
}

fn put_verdict(e: &mut Enc, v: Verdict) {
    e.u8(match v {
        Verdict::Commit => 0,
        Verdict::Abort => 1,
    });
}

fn get_verdict(d: &mut Dec) -> Result<Verdict, DecodeError> {
    match d.u8()? {
        0 => Ok(Verdict::Commit),
        1 => Ok(Verdict::Abort),
        _ => Err(DecodeError("unknown verdict".into())),
    }
}

pub(crate) fn put_decision(e: &mut Enc, d: &LinkDecision) {
    e.str(d.transfer_id.as_str());
    put_verdict(e, d.verdict);
    e.u8(d.status.code());
    e.bytes32(&d.propose_hash);
    e.i64(d.decided_at.0);
}

pub(crate) fn get_decision(d: &mut Dec) -> Result<LinkDecision, DecodeError> {
    Ok(LinkDecision {
        transfer_id: get_transfer_id(d)?,
        verdict: get_verdict(d)?,
        status: TransferStatus::from_code(d.u8()?)
            .ok_or_else(|| DecodeError("unknown transfer status".into()))?,
        propose_hash: d.bytes32()?,
        decided_at: Timestamp(d.i64()?),
    })
}

/// Message tags: 1 Propose, 2 Accept, 3 Reject, 4 Decision, 5 DecisionAck, 6 StatusQuery,
/// 7 StatusReply.
fn put_message(e: &mut Enc, m: &LinkMessage) {
    match m {
        LinkMessage::Propose(p) => {
            e.u8(1);
            put_proposal(e, p);
        }
        LinkMessage::Accept {
            transfer_id,
            propose_hash,
        } => {
            e.u8(2);
            e.str(transfer_id.as_str());
            e.bytes32(propose_hash);
        }
        LinkMessage::Reject {
            transfer_id,
            propose_hash,
            codes,
        } => {
            e.u8(3);
            e.str(transfer_id.as_str());
            e.bytes32(propose_hash);
            e.len(codes.len());
            for c in codes {
                e.u16(c.0);
            }
        }
        LinkMessage::Decision(d) => {
            e.u8(4);
            put_decision(e, d);
        }
        LinkMessage::DecisionAck {
            transfer_id,
            verdict,
            decision_hash,
        } => {
            e.u8(5);
            e.str(transfer_id.as_str());
            put_verdict(e, *verdict);
            e.bytes32(decision_hash);
        }
        LinkMessage::StatusQuery { transfer_id } => {
            e.u8(6);
            e.str(transfer_id.as_str());
        }
        LinkMessage::StatusReply {
            transfer_id,
            status,
            decision,
        } => {
            e.u8(7);
            e.str(transfer_id.as_str());
            e.u8(*status);
            e.opt(decision, put_decision);
        }
    }
}

fn get_message(d: &mut Dec) -> Result<LinkMessage, DecodeError> {
    Ok(match d.u8()? {
        1 => LinkMessage::Propose(get_proposal(d)?),
        2 => LinkMessage::Accept {
            transfer_id: get_transfer_id(d)?,
            propose_hash: d.bytes32()?,
        },
        3 => {
            let transfer_id = get_transfer_id(d)?;
            let propose_hash = d.bytes32()?;
            let n = d.count()?;
            let mut codes = Vec::with_capacity(n.min(64));
            for _ in 0..n {
                codes.push(Code(d.u16()?));
            }
            LinkMessage::Reject {
                transfer_id,
                propose_hash,
                codes,
            }
        }
        4 => LinkMessage::Decision(get_decision(d)?),
        5 => LinkMessage::DecisionAck {
            transfer_id: get_transfer_id(d)?,
            verdict: get_verdict(d)?,
            decision_hash: d.bytes32()?,
        },
        6 => LinkMessage::StatusQuery {
            transfer_id: get_transfer_id(d)?,
        },
        7 => LinkMessage::StatusReply {
            transfer_id: get_transfer_id(d)?,
            status: d.u8()?,
            decision: d.opt(get_decision)?,
        },
        t => return Err(DecodeError(format!("unknown link message tag {t}"))),
    })
}
