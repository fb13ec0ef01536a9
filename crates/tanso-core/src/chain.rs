//! One chain's state, whatever its kind: a registry's ledger, or the decisions of a mechanism
//! body or a party's authority. A command writes to exactly one chain; this module refuses
//! commands that do not belong on the chain they are sent to (2515).
//!
//! Effects of one chain on another are commands in the second chain citing the first by
//! (chain, sequence, entry hash); the engine checks that the citation exists, and business
//! keys (kept in the state) make such effects happen at most once.

use crate::checks::{Code, Rejection};
use crate::ids::*;
use crate::model::*;
use crate::registry::RegistryState;
use crate::units::Timestamp;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

type R<T> = Result<T, Rejection>;

/// Decisions recorded on a mechanism or party-authority chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecisionState {
    pub opened: bool,
    pub parties: Vec<PartyId>,
    /// decision id → (kind, document hash)
    pub decisions: BTreeMap<DecisionId, (DecisionId, Option<[u8; 32]>)>,
    /// The JCM cycle, on a mechanism chain.
    pub jcm: crate::jcm::JcmState,
    /// The party, on a party authority chain.
    pub party: Option<PartyId>,
    /// Article 6.2, on a party authority chain.
    pub a6: crate::article6::authority::PartyA6,
    /// The CCTS, on its administrator's mechanism chain.
    pub ccts: crate::ccts::CctsState,
}

#[derive(Clone)]
pub enum ChainState {
    Registry(Box<RegistryState>),
    Decisions(Box<DecisionState>),
}

impl ChainState {
    /// Reads what deciding `cmds` will read first (see `RegistryState::warm`); returns a
    /// value of no meaning, for the caller to keep the reads alive.
    pub fn warm(&self, cmds: &[&Command]) -> u64 {
        match self {
            ChainState::Registry(r) => r.warm(cmds),
            ChainState::Decisions(_) => 0,
        }
    }

    /// Writes what a registry keeps pending after quantity transfers
    /// (`RegistryState::settle`).
    pub fn settle(&mut self) {
        if let ChainState::Registry(r) = self {
            r.settle();
        }
    }

    /// A registry's owners lent out with their pending changes
    /// (`RegistryState::lend_owners`); `None` for other chains.
    pub fn lend_owners(&mut self) -> Option<crate::OwnerStores> {
        match self {
            ChainState::Registry(r) => r.lend_owners(),
            ChainState::Decisions(_) => None,
        }
    }

    /// Gives back owners lent by `lend_owners`.
    pub fn return_owners(&mut self, stores: crate::OwnerStores) {
        if let ChainState::Registry(r) = self {
            r.return_owners(stores);
        }
    }

    pub fn new(chain: &ChainId) -> Self {
        match chain {
            ChainId::Registry(_) => ChainState::Registry(Box::default()),
            _ => ChainState::Decisions(Box::default()),
        }
    }

    pub fn registry(&self) -> Option<&RegistryState> {
        match self {
            ChainState::Registry(r) => Some(r),
            ChainState::Decisions(_) => None,
        }
    }

    pub fn decisions(&self) -> Option<&DecisionState> {
        match self {
            ChainState::Decisions(d) => Some(d),
            ChainState::Registry(_) => None,
        }
    }

    /// Checks and applies a command; on rejection nothing changed.
    pub fn execute(
        &mut self,
        chain: &ChainId,
        actor: &Actor,
        cmd: &Command,
        time: Timestamp,
    ) -> R<Vec<Event>> {
        match self {
            ChainState::Registry(r) => {
                if let (ChainId::Registry(id), Command::OpenRegistry { registry, .. }) =
                    (chain, cmd)
                {
                    if id != registry {
                        return Err(Rejection::one(
                            Code::COMMAND_NOT_FOR_CHAIN,
                            format!("registry {registry} cannot open chain {chain}"),
                        ));
                    }
                }
                r.execute(cmd, time)
            }
            ChainState::Decisions(d) => {
                let events = d.decide(chain, actor, cmd, time)?;
                d.replay(&events)?;
                Ok(events)
            }
        }
    }

    /// Checks a command without applying it.
    pub fn dry_run(
        &mut self,
        chain: &ChainId,
        actor: &Actor,
        cmd: &Command,
        time: Timestamp,
    ) -> R<Vec<Event>> {
        match self {
            ChainState::Registry(r) => r.dry_run(cmd, time),
            ChainState::Decisions(d) => {
                let events = d.decide(chain, actor, cmd, time)?;
                d.clone().replay(&events)?;
                Ok(events)
            }
        }
    }

    /// Applies a stored entry's events, all or nothing.
    pub fn replay(&mut self, events: &[Event]) -> R<()> {
        match self {
            ChainState::Registry(r) => r.replay(events),
            ChainState::Decisions(d) => d.replay(events),
        }
    }

    pub fn state_hash(&self) -> [u8; 32] {
        match self {
            ChainState::Registry(r) => r.state_hash(),
            ChainState::Decisions(d) => d.state_hash(),
        }
    }
}

impl DecisionState {
    fn decide(
        &self,
        chain: &ChainId,
        actor: &Actor,
        cmd: &Command,
        time: Timestamp,
    ) -> R<Vec<Event>> {
        let wrong = || {
            Rejection::one(
                Code::COMMAND_NOT_FOR_CHAIN,
                format!("{} cannot be written to chain {chain}", cmd.name()),
            )
        };
        match (chain, cmd) {
            (ChainId::Mechanism(id), Command::OpenMechanism { mechanism, parties }) => {
                if id != mechanism {
                    return Err(wrong());
                }
                if self.opened {
                    return Err(Rejection::one(
                        Code::CHAIN_ALREADY_OPENED,
                        "chain already open",
                    ));
                }
                Ok(vec![Event::MechanismOpened {
                    mechanism: mechanism.clone(),
                    parties: parties.clone(),
                }])
            }
            (ChainId::PartyAuthority(id), Command::OpenPartyAuthority { party }) => {
                if id != party {
                    return Err(wrong());
                }
                if self.opened {
                    return Err(Rejection::one(
                        Code::CHAIN_ALREADY_OPENED,
                        "chain already open",
                    ));
                }
                Ok(vec![Event::PartyAuthorityOpened { party: *party }])
            }
            (
                _,
                Command::RecordDecision {
                    decision,
                    kind,
                    document,
                },
            ) => {
                if !self.opened {
                    return Err(Rejection::one(Code::CHAIN_NOT_OPENED, "chain not opened"));
                }
                Ok(vec![Event::DecisionRecorded {
                    decision: decision.clone(),
                    kind: kind.clone(),
                    document: *document,
                }])
            }
            (ChainId::PartyAuthority(p), Command::A6(c)) => {
                if !self.opened {
                    return Err(Rejection::one(Code::CHAIN_NOT_OPENED, "chain not opened"));
                }
                Ok(self
                    .a6
                    .decide(*p, c)?
                    .into_iter()
                    .map(|e| Event::A6(Box::new(e)))
                    .collect())
            }
            (ChainId::Mechanism(_), Command::Ccts(c)) => {
                if !self.opened {
                    return Err(Rejection::one(Code::CHAIN_NOT_OPENED, "chain not opened"));
                }
                Ok(self
                    .ccts
                    .decide(actor, c, time)?
                    .into_iter()
                    .map(Event::Ccts)
                    .collect())
            }
            (ChainId::Mechanism(_), Command::Jcm(c)) => {
                if !self.opened {
                    return Err(Rejection::one(Code::CHAIN_NOT_OPENED, "chain not opened"));
                }
                Ok(self
                    .jcm
                    .decide(&self.parties, actor, c, time)?
                    .into_iter()
                    .map(Event::Jcm)
                    .collect())
            }
            _ => Err(wrong()),
        }
    }

    /// Applies an entry's events, all or nothing. Every fold checks before it changes
    /// anything, so a one-event entry (nearly all of them) is applied in place; an entry of
    /// several events is applied to a copy, swapped in only if every event folds.
    fn replay(&mut self, events: &[Event]) -> R<()> {
        if let [ev] = events {
            return self.fold(ev);
        }
        let mut next = self.clone();
        for ev in events {
            next.fold(ev)?;
        }
        *self = next;
        Ok(())
    }

    /// One event; on error nothing changed.
    fn fold(&mut self, ev: &Event) -> R<()> {
        match ev {
            Event::MechanismOpened { parties, .. } if !self.opened => {
                self.opened = true;
                self.parties = parties.clone();
            }
            Event::PartyAuthorityOpened { party } if !self.opened => {
                self.opened = true;
                self.party = Some(*party);
            }
            Event::A6(ev) if self.opened && self.party.is_some() => self.a6.fold(ev)?,
            Event::Ccts(ev) if self.opened && !self.parties.is_empty() => self.ccts.fold(ev)?,
            Event::DecisionRecorded {
                decision,
                kind,
                document,
            } if self.opened => {
                if self.decisions.contains_key(decision) {
                    return Err(Rejection::one(
                        Code::BUSINESS_KEY_USED,
                        format!("decision {decision} was already recorded"),
                    ));
                }
                self.decisions
                    .insert(decision.clone(), (kind.clone(), *document));
            }
            Event::Jcm(ev) if self.opened && !self.parties.is_empty() => self.jcm.fold(ev)?,
            _ => {
                return Err(Rejection::one(
                    Code::COMMAND_NOT_FOR_CHAIN,
                    "event not legal on this decision chain",
                ))
            }
        }
        Ok(())
    }

    fn state_hash(&self) -> [u8; 32] {
        let mut e = crate::encode::Enc::new();
        e.bool(self.opened);
        e.len(self.parties.len());
        for p in &self.parties {
            e.party(p);
        }
        e.len(self.decisions.len());
        for (k, (kind, doc)) in &self.decisions {
            e.str(k.as_str());
            e.str(kind.as_str());
            e.opt(doc, |e, d| e.bytes32(d));
        }
        self.jcm.encode_state(&mut e);
        e.opt(&self.party, |e, p| e.party(p));
        self.a6.encode_state(&mut e);
        self.ccts.encode_state(&mut e);
        let mut h = Sha256::new();
        h.update(b"tanso-decision-state/1\0");
        h.update(&e.buf);
        h.finalize().into()
    }
}
