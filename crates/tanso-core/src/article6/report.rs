//! The AEF projection of a registry's journal: every action on authorized units becomes an
//! action record with all its columns (Table 3), and the authorized units a party's registries
//! hold at 31 December become its holdings (Table 4). Pure: the caller walks the chains and
//! hands over each entry with the registry state just before it.
//!
//! Which records an entry gives (REFERENCE §1.11):
//! - authorization applied to units held in another party's registry (JCM issuance abroad), or
//!   to OIMP-only units whose first transfer is the authorization: **First transfer** by the
//!   authorizing party, and for units held abroad the **Acquisition** by the holding party;
//! - a cross-registry transfer committed at the sender: **First transfer** when the sender's
//!   party authorized the units and they were not first transferred, else **Transfer**; its
//!   credit at the receiver: **Acquisition**;
//! - use towards an NDC (with the year for which it is used) or for OIMP: **Use**;
//!   voluntary or OMGE cancellation: **Cancellation** (opt-in actions that really move units).

use super::authority::{FirstTransferDefinition, Purposes};
use super::itmo::CaId;
use crate::ids::*;
use crate::link::Verdict;
use crate::model::*;
use crate::registry::{BlockView, RegistryState, NDC_PURPOSE, OIMP_PURPOSE};
use crate::units::{Date, Timestamp};
use std::collections::BTreeMap;

/// The AEF's five action types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionType {
    Acquisition,
    Transfer,
    Use,
    Cancellation,
    FirstTransfer,
}

impl ActionType {
    pub fn aef(&self) -> &'static str {
        match self {
            ActionType::Acquisition => "Acquisition",
            ActionType::Transfer => "Transfer",
            ActionType::Use => "Use",
            ActionType::Cancellation => "Cancellation",
            ActionType::FirstTransfer => "First transfer",
        }
    }
}

/// What the report needs to know of an authorization version (from the party's chain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthInfo {
    pub ca: CaId,
    pub purposes: Purposes,
    pub first_transfer_oimp: Option<FirstTransferDefinition>,
    pub oimp_purpose: Option<String>,
    /// The authorization's sectors, joined (the annual information's sector key).
    pub sector: String,
}

/// One AEF Table 3 row: a contiguous block and one action on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionRecord {
    /// The party whose report carries the row.
    pub reporting: PartyId,
    /// Calendar date in the reporting party's time zone.
    pub date: Date,
    pub action: ActionType,
    /// The precise action, e.g. "Use towards NDC", "Cancellation for OMGE".
    pub subtype: &'static str,
    pub authorization: AuthorizationRef,
    pub ca: CaId,
    /// The registry recording the action (Party ITMO registry ID).
    pub registry: RegistryId,
    /// Serials (in their issuing registry) and underlying unit ids.
    pub range: IssuedRange,
    pub unit_start: u64,
    pub vintage: u16,
    pub project: Option<ProjectId>,
    pub sector: String,
    pub transferring: Option<PartyId>,
    pub acquiring: Option<PartyId>,
    pub oimp_purpose: Option<String>,
    pub using: Option<PartyId>,
    pub entity: Option<HolderId>,
    pub use_year: Option<u16>,
    /// Effect on the reporting party's holdings (Table 4): +1 in, −1 out, 0 none.
    pub holding_effect: i8,
}

impl ActionRecord {
    pub fn quantity(&self) -> u64 {
        self.range.range.len()
    }
}

/// Local calendar date of an entry time in a time zone (minutes east of UTC).
pub fn local_date(t: Timestamp, tz_minutes: i32) -> Date {
    Timestamp(t.0 + tz_minutes as i64 * 60_000_000).date()
}

fn blocks_of(state: &RegistryState, ranges: &[IssuedRange]) -> Vec<BlockView> {
    let mut out = Vec::new();
    for r in ranges {
        let mut serial = r.range.start();
        while serial <= r.range.end() {
            let Some(b) = state.block_at(r.issuing, serial) else {
                break;
            };
            // Clip to the range.
            let lo = b.range.start().max(r.range.start());
            let hi = b.range.end().min(r.range.end());
            let mut v = b.clone();
            v.unit_start = b.unit_start + (lo - b.range.start());
            if let Ok(range) = crate::units::SerialRange::new(lo, hi) {
                v.range = range;
            }
            out.push(v);
            match hi.checked_add(1) {
                Some(n) => serial = n,
                None => break,
            }
        }
    }
    out
}

/// The records one entry of a registry chain gives. `before` is the registry's state just
/// before the entry; `auth` looks up authorization versions; `tz` gives each party's time
/// zone (minutes east of UTC).
pub fn entry_actions(
    before: &RegistryState,
    time: Timestamp,
    events: &[Event],
    auth: &dyn Fn(&AuthorizationRef) -> Option<AuthInfo>,
    tz: &dyn Fn(PartyId) -> i32,
) -> Vec<ActionRecord> {
    let Some(registry) = before.registry() else {
        return Vec::new();
    };
    let me = registry.party();
    let mut out = Vec::new();
    let use_year = events.iter().find_map(|e| match e {
        Event::UseYearRecorded { year, .. } => Some(*year),
        _ => None,
    });
    let row = |b: &BlockView,
               a: &AuthorizationRef,
               info: &AuthInfo,
               reporting: PartyId,
               action: ActionType,
               subtype: &'static str| ActionRecord {
        reporting,
        date: local_date(time, tz(reporting)),
        action,
        subtype,
        authorization: a.clone(),
        ca: info.ca,
        registry,
        range: IssuedRange {
            issuing: b.issuing,
            range: b.range,
        },
        unit_start: b.unit_start,
        vintage: b.attributes.vintage.year(),
        project: b.attributes.project.clone(),
        sector: info.sector.clone(),
        transferring: None,
        acquiring: None,
        oimp_purpose: None,
        using: None,
        entity: None,
        use_year: None,
        holding_effect: 0,
    };
    for ev in events {
        match ev {
            Event::LabelsSet {
                ranges,
                labels:
                    Labels {
                        authorization: Some(a),
                        first_transferred: true,
                        ..
                    },
                ..
            } => {
                let Some(info) = auth(a) else { continue };
                for b in blocks_of(before, ranges) {
                    if b.labels.first_transferred {
                        continue;
                    }
                    let abroad = me != a.party;
                    let mut ft = row(
                        &b,
                        a,
                        &info,
                        a.party,
                        ActionType::FirstTransfer,
                        "First transfer",
                    );
                    ft.transferring = Some(a.party);
                    if abroad {
                        ft.subtype = "First transfer: authorization of units issued abroad";
                        ft.acquiring = Some(me);
                        let mut acq = row(
                            &b,
                            a,
                            &info,
                            me,
                            ActionType::Acquisition,
                            "Acquisition at issuance under the mechanism",
                        );
                        acq.transferring = Some(a.party);
                        acq.acquiring = Some(me);
                        acq.holding_effect = 1;
                        out.push(ft);
                        out.push(acq);
                    } else {
                        ft.subtype = "First transfer: authorization (OIMP)";
                        ft.holding_effect = 1;
                        out.push(ft);
                    }
                }
            }
            Event::TransferDecided(d) if d.verdict == Verdict::Commit => {
                let Some(o) = before.link().outbound.get(&d.transfer_id) else {
                    continue;
                };
                let to = o.proposal.to_registry.party();
                for lb in &o.proposal.blocks {
                    let Some(a) = &lb.labels.authorization else {
                        continue;
                    };
                    let Some(info) = auth(a) else { continue };
                    let b = BlockView {
                        issuing: lb.range.issuing,
                        range: lb.range.range,
                        unit_start: lb.unit_start,
                        attributes: lb.attributes.clone(),
                        labels: lb.labels.clone(),
                        owner: o.proposal.from_account,
                        hold: None,
                        frozen_by: Vec::new(),
                    };
                    let first = a.party == me && !lb.labels.first_transferred;
                    let mut r = if first {
                        row(
                            &b,
                            a,
                            &info,
                            me,
                            ActionType::FirstTransfer,
                            "First international transfer",
                        )
                    } else {
                        let mut r = row(
                            &b,
                            a,
                            &info,
                            me,
                            ActionType::Transfer,
                            "International transfer",
                        );
                        r.holding_effect = -1;
                        r
                    };
                    r.transferring = Some(me);
                    r.acquiring = Some(to);
                    out.push(r);
                }
            }
            Event::InboundCommitted { transfer_id, .. } => {
                let Some(p) = before
                    .link()
                    .inbound
                    .get(transfer_id)
                    .and_then(|i| i.proposal.as_ref())
                else {
                    continue;
                };
                let from = p.from_registry.party();
                for lb in &p.blocks {
                    let Some(a) = &lb.labels.authorization else {
                        continue;
                    };
                    let Some(info) = auth(a) else { continue };
                    let b = BlockView {
                        issuing: lb.range.issuing,
                        range: lb.range.range,
                        unit_start: lb.unit_start,
                        attributes: lb.attributes.clone(),
                        labels: lb.labels.clone(),
                        owner: p.to_account,
                        hold: None,
                        frozen_by: Vec::new(),
                    };
                    let mut r = row(
                        &b,
                        a,
                        &info,
                        me,
                        ActionType::Acquisition,
                        "International acquisition",
                    );
                    r.transferring = Some(from);
                    r.acquiring = Some(me);
                    r.holding_effect = 1;
                    out.push(r);
                }
            }
            Event::Retired {
                ranges,
                purpose,
                beneficiary,
                ..
            } => {
                let ndc = purpose.as_str() == NDC_PURPOSE;
                let oimp = purpose.as_str() == OIMP_PURPOSE;
                if !ndc && !oimp {
                    continue;
                }
                for b in blocks_of(before, ranges) {
                    let Some(a) = b.labels.authorization.clone() else {
                        continue;
                    };
                    let Some(info) = auth(&a) else { continue };
                    let held_as_itmo = effectively_first_transferred(&b, me);
                    if oimp
                        && !held_as_itmo
                        && info.first_transfer_oimp
                            == Some(FirstTransferDefinition::UseOrCancellation)
                    {
                        let mut ft = row(
                            &b,
                            &a,
                            &info,
                            a.party,
                            ActionType::FirstTransfer,
                            "First transfer: use for OIMP",
                        );
                        ft.transferring = Some(a.party);
                        out.push(ft);
                    }
                    let mut u = row(
                        &b,
                        &a,
                        &info,
                        me,
                        ActionType::Use,
                        if ndc {
                            "Use towards NDC"
                        } else {
                            "Use for OIMP"
                        },
                    );
                    u.using = Some(me);
                    u.entity = *beneficiary;
                    if ndc {
                        u.use_year = use_year;
                    } else {
                        u.oimp_purpose = info.oimp_purpose.clone();
                    }
                    u.holding_effect = if held_as_itmo { -1 } else { 0 };
                    out.push(u);
                }
            }
            Event::Cancelled { ranges, kind, .. } => {
                for b in blocks_of(before, ranges) {
                    let Some(a) = b.labels.authorization.clone() else {
                        continue;
                    };
                    let Some(info) = auth(&a) else { continue };
                    let mut c = row(
                        &b,
                        &a,
                        &info,
                        me,
                        ActionType::Cancellation,
                        match kind {
                            CancellationKind::Voluntary => "Voluntary cancellation",
                            CancellationKind::Omge => "Cancellation for OMGE",
                        },
                    );
                    c.using = Some(me);
                    c.holding_effect = if effectively_first_transferred(&b, me) {
                        -1
                    } else {
                        0
                    };
                    out.push(c);
                }
            }
            _ => {}
        }
    }
    out
}

/// An authorized block is an ITMO held here once it has been first transferred: by its label,
/// or because it is held in a registry of a party other than the one that authorized it.
pub fn effectively_first_transferred(b: &BlockView, holder: PartyId) -> bool {
    b.labels
        .authorization
        .as_ref()
        .is_some_and(|a| b.labels.first_transferred || a.party != holder)
}

/// One AEF Table 4 row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldingRecord {
    pub authorization: AuthorizationRef,
    pub ca: CaId,
    pub registry: RegistryId,
    pub range: IssuedRange,
    pub unit_start: u64,
    pub vintage: u16,
    pub project: Option<ProjectId>,
}

/// The ITMOs a registry holds (outside terminal accounts): authorized and first transferred.
pub fn holdings(
    state: &RegistryState,
    auth: &dyn Fn(&AuthorizationRef) -> Option<AuthInfo>,
) -> Vec<HoldingRecord> {
    let Some(registry) = state.registry() else {
        return Vec::new();
    };
    let me = registry.party();
    let mut out = Vec::new();
    for b in state.blocks() {
        let terminal = state.account(b.owner).is_none_or(|a| a.class.is_terminal());
        if terminal || !effectively_first_transferred(&b, me) {
            continue;
        }
        let Some(a) = b.labels.authorization.clone() else {
            continue;
        };
        let Some(info) = auth(&a) else { continue };
        out.push(HoldingRecord {
            ca: info.ca,
            authorization: a,
            registry,
            range: IssuedRange {
                issuing: b.issuing,
                range: b.range,
            },
            unit_start: b.unit_start,
            vintage: b.attributes.vintage.year(),
            project: b.attributes.project.clone(),
        });
    }
    out
}

/// Total quantity of holdings.
pub fn held(rows: &[HoldingRecord]) -> u64 {
    rows.iter().map(|h| h.range.range.len()).sum()
}

/// The consistency check of holdings (REFERENCE §1.9 invariant 2): holdings at the end of the
/// year = holdings at the end of the previous year + the year's in-effects − out-effects.
pub fn holdings_identity(prev: u64, now: u64, actions: &[ActionRecord]) -> Result<(), String> {
    let mut inflow = 0i128;
    for a in actions {
        inflow += a.holding_effect as i128 * a.quantity() as i128;
    }
    if prev as i128 + inflow == now as i128 {
        Ok(())
    } else {
        Err(format!(
            "holdings {now} ≠ previous {prev} + net actions {inflow}"
        ))
    }
}

/// Σ first transferred per (authorization id of a party, vintage), for the check against the
/// authorized quantity.
pub fn first_transferred_by_authorization(
    actions: &[ActionRecord],
) -> BTreeMap<(PartyId, DecisionId), u64> {
    let mut m = BTreeMap::new();
    for a in actions {
        if a.action == ActionType::FirstTransfer {
            *m.entry((a.authorization.party, a.authorization.authorization.clone()))
                .or_default() += a.quantity();
        }
    }
    m
}

/// Annual information (para 20, F8): quantities per (cooperative approach, sector, reporting
/// party, year of the action, vintage, action type).
pub type AnnualKey = (CaId, String, PartyId, u16, u16, ActionType);

pub fn annual_information(actions: &[ActionRecord]) -> BTreeMap<AnnualKey, u64> {
    let mut m = BTreeMap::new();
    for a in actions {
        *m.entry((
            a.ca,
            a.sector.clone(),
            a.reporting,
            a.date.year() as u16,
            a.vintage,
            a.action,
        ))
        .or_default() += a.quantity();
    }
    m
}
