//! The link's moving parts around the pure state machines of `tanso_core::link`: the transport
//! trait, an in-process lossy network, and the driver that takes received messages into a
//! node (the durable inbox), sends what the node's committed state says to send (the durable
//! outbox), retries with backoff, and runs the coordinator's timer.
//!
//! Safety never depends on this module: it may drop, duplicate, delay or reorder anything and
//! the state machines still keep I1–I7. It only decides *when* to send; *what* to send is
//! always computed from committed state, so a resent message is byte-identical.

use crate::node::{Node, NodeError, Outcome, Submission};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tanso_core::link::{Envelope, LinkMessage, TransferStatus};
use tanso_core::*;
use tanso_store::Store;

/// Named timing policies (`LINK.md` §7.8). All durations in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkPolicy {
    /// `T_accept`: how long the coordinator waits for an answer before aborting (status 7).
    pub t_accept: i64,
    /// `T_query`: how long a participant in doubt waits before asking for the status.
    pub t_query: i64,
    /// First retry delay of a message that has not had its effect.
    pub retry_initial: i64,
    /// Cap of the exponential backoff.
    pub retry_cap: i64,
}

impl Default for LinkPolicy {
    /// The defaults of `LINK.md` §7.8: 24 h, 5 min, 1 s doubling to 5 min.
    fn default() -> Self {
        LinkPolicy {
            t_accept: 24 * 3600 * 1_000_000,
            t_query: 5 * 60 * 1_000_000,
            retry_initial: 1_000_000,
            retry_cap: 5 * 60 * 1_000_000,
        }
    }
}

/// Moves message bytes between registries: the seam where the network link will plug in.
/// Implementations may lose, duplicate, delay and reorder; they must not invent bytes
/// (signatures will make sure of that later).
pub trait Transport {
    fn send(&mut self, env: &Envelope, now: Timestamp);
    /// A message deliverable at `now`, with the registry it is for, if any.
    fn recv(&mut self, now: Timestamp) -> Option<(RegistryId, Vec<u8>)>;
    /// Messages sent and not yet delivered (or dropped).
    fn in_flight(&self) -> usize;
}

/// A small deterministic generator (SplitMix64) for seeded faults and jitter.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// Faults of the in-process network, per message sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    pub drop_per_mille: u64,
    pub duplicate_per_mille: u64,
    /// Each copy is delayed by a uniform 0..=max_delay microseconds; with a delay, later
    /// messages can overtake earlier ones.
    pub max_delay: i64,
}

/// An in-process queue between registries, lossy under a seed.
pub struct LossyNet {
    rng: Rng,
    pub faults: Faults,
    /// (deliver_at, order, to, bytes)
    queue: Vec<(Timestamp, u64, RegistryId, Vec<u8>)>,
    order: u64,
    pub sent: u64,
    pub dropped: u64,
    pub duplicated: u64,
}

impl LossyNet {
    pub fn new(seed: u64, faults: Faults) -> Self {
        LossyNet {
            rng: Rng::new(seed),
            faults,
            queue: Vec::new(),
            order: 0,
            sent: 0,
            dropped: 0,
            duplicated: 0,
        }
    }

    fn send_at(&mut self, env: &Envelope, now: Timestamp) {
        self.sent += 1;
        if self.rng.chance(self.faults.drop_per_mille) {
            self.dropped += 1;
            return;
        }
        let copies = if self.rng.chance(self.faults.duplicate_per_mille) {
            self.duplicated += 1;
            2
        } else {
            1
        };
        let bytes = env.encode();
        for _ in 0..copies {
            let delay = if self.faults.max_delay > 0 {
                self.rng.below(self.faults.max_delay as u64 + 1) as i64
            } else {
                0
            };
            self.order += 1;
            self.queue
                .push((Timestamp(now.0 + delay), self.order, env.to, bytes.clone()));
        }
    }

    /// Removes and returns a deliverable message for anyone (deterministic choice among the
    /// deliverable ones, by the seed: later messages may overtake earlier ones).
    fn recv_any(&mut self, now: Timestamp) -> Option<(RegistryId, Vec<u8>)> {
        let ready: Vec<usize> = (0..self.queue.len())
            .filter(|&i| self.queue[i].0 <= now)
            .collect();
        if ready.is_empty() {
            return None;
        }
        let i = ready[self.rng.below(ready.len() as u64) as usize];
        let (_, _, to, bytes) = self.queue.swap_remove(i);
        Some((to, bytes))
    }
}

impl Transport for LossyNet {
    fn send(&mut self, env: &Envelope, now: Timestamp) {
        self.send_at(env, now)
    }
    fn recv(&mut self, now: Timestamp) -> Option<(RegistryId, Vec<u8>)> {
        self.recv_any(now)
    }
    fn in_flight(&self) -> usize {
        self.queue.len()
    }
}

/// What became of a received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// Taken in (or answered from state, for queries); these are the replies.
    Replies(Vec<Envelope>),
    /// Not decodable, or not for a registry this node hosts: dropped, nothing changed.
    Dropped(String),
}

/// Drives one node's side of the link.
pub struct LinkDriver {
    pub policy: LinkPolicy,
    /// msg_id → (next send time, current backoff).
    retry: HashMap<String, (i64, i64)>,
    rng: Rng,
}

impl LinkDriver {
    pub fn new(policy: LinkPolicy, seed: u64) -> Self {
        LinkDriver {
            policy,
            retry: HashMap::new(),
            rng: Rng::new(seed),
        }
    }

    /// Takes one received message in: a journal entry in the destination registry's chain
    /// (its id is the inbox key, so a duplicate gets the stored answer and no second effect),
    /// then the replies computed from committed state. Queries are answered from state without
    /// an entry.
    pub fn receive<S: Store>(
        &mut self,
        node: &mut Node<S>,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<Received, NodeError> {
        let env = match Envelope::decode(bytes) {
            Ok(e) => e,
            Err(e) => return Ok(Received::Dropped(format!("6006 undecodable: {e}"))),
        };
        let chain = ChainId::Registry(env.to);
        if node
            .chain(&chain)
            .and_then(|c| c.state.registry())
            .is_none()
        {
            return Ok(Received::Dropped(format!(
                "6005 {} is not hosted here",
                env.to
            )));
        }
        if !env.message.is_query() {
            let id = CommandId::parse(&env.inbox_id()).map_err(|_| {
                NodeError::Store(tanso_store::StoreError::InvalidBatch("inbox id".into()))
            })?;
            let sub = Submission {
                id,
                chain: chain.clone(),
                actor: Actor::parse(&format!("link:{}", env.from))
                    .unwrap_or_else(|_| Actor::parse("link").unwrap_or_else(|_| unreachable!())),
                content_hash: Sha256::digest(bytes).into(),
                command: Ok(Command::ReceiveLink(env.clone())),
                personal: Vec::new(),
                dry_run: false,
            };
            let answers = node.submit_batch(vec![sub], now)?;
            if let Some(Outcome::Rejected(r)) = answers.first().map(|a| &a.outcome) {
                return Ok(Received::Dropped(format!("refused: {r}")));
            }
        }
        let replies = node
            .chain(&chain)
            .and_then(|c| c.state.registry())
            .map(|r| r.link_replies(&env))
            .unwrap_or_default();
        Ok(Received::Replies(replies))
    }

    /// The outbox messages due now: proposals without a decision, decisions without an ack
    /// (immediately, then with exponential backoff and jitter), and status queries for
    /// transfers in doubt (after `T_query`, then with backoff). Forgets messages whose effect
    /// has been seen.
    pub fn due<S: Store>(&mut self, node: &Node<S>, now: Timestamp) -> Vec<Envelope> {
        let mut outbox = Vec::new();
        for c in node.chains() {
            if let Some(r) = c.state.registry() {
                outbox.extend(r.link_outbox());
            }
        }
        let live: std::collections::HashSet<String> = outbox.iter().map(|e| e.msg_id()).collect();
        self.retry.retain(|k, _| live.contains(k));
        let mut out = Vec::new();
        for env in outbox {
            let id = env.msg_id();
            let first_delay = match env.message {
                LinkMessage::StatusQuery { .. } => self.policy.t_query,
                _ => 0,
            };
            let (next, backoff) = *self
                .retry
                .entry(id.clone())
                .or_insert((now.0 + first_delay, self.policy.retry_initial));
            if next <= now.0 {
                let jitter = self.rng.below((backoff / 4).max(1) as u64) as i64;
                let nb = (backoff * 2).min(self.policy.retry_cap);
                self.retry.insert(id, (now.0 + backoff + jitter, nb));
                out.push(env);
            }
        }
        out
    }

    /// The coordinator's timer: aborts (status 7) every proposal whose `decide_by` passed.
    pub fn expire<S: Store>(
        &mut self,
        node: &mut Node<S>,
        now: Timestamp,
    ) -> Result<usize, NodeError> {
        let mut subs = Vec::new();
        for c in node.chains() {
            let Some(r) = c.state.registry() else {
                continue;
            };
            let due = r
                .link()
                .outbound
                .values()
                .any(|o| o.status == TransferStatus::Proposed && o.decide_by <= now);
            if due {
                let id = format!("expire:{}:{}", c.name, now.0);
                if let Ok(id) = CommandId::parse(&id) {
                    let cmd = Command::ExpireTransfers { now };
                    subs.push(Submission {
                        id,
                        chain: c.id.clone(),
                        actor: Actor::parse("link-timer").unwrap_or_else(|_| unreachable!()),
                        content_hash: Sha256::digest(format!("{cmd:?}")).into(),
                        command: Ok(cmd),
                        personal: Vec::new(),
                        dry_run: false,
                    });
                }
            }
        }
        let n = subs.len();
        if n > 0 {
            node.submit_batch(subs, now)?;
        }
        Ok(n)
    }
}
