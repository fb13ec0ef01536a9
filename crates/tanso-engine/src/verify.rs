//! `verify`: re-hashes every entry, checks every link, replays every chain through the core,
//! and checks the chains against their signed checkpoints and the keys the verifier trusts.
//! It reads the store only; it never repairs anything.

use crate::chains::{load_chain, ChainFault, LoadError};
use crate::keys::{verify_checkpoint, TrustedKeys};
use std::collections::BTreeMap;
use tanso_core::checkpoint::SignedCheckpoint;
use tanso_store::Store;

/// What verification found for one chain that passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    pub chain: String,
    pub entries: u64,
    pub events: u64,
    pub head_hash: [u8; 32],
    pub state_hash: [u8; 32],
    /// Seq of the latest checkpoint (signed by a trusted key) and its key's label.
    pub checkpoint_seq: u64,
    pub checkpoint_key: String,
    /// Entries after the latest checkpoint: valid, but not yet anchored by a signature.
    pub unanchored: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Fault(#[from] ChainFault),
    #[error("storage: {0}")]
    Store(#[from] tanso_store::StoreError),
}

impl From<LoadError> for VerifyError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Fault(f) => VerifyError::Fault(f),
            LoadError::Store(s) => VerifyError::Store(s),
        }
    }
}

/// Verifies every chain in the store. Stops at the first fault, which names the chain and the
/// entry (or the checkpoint) at fault.
pub fn verify<S: Store + ?Sized>(
    store: &S,
    trusted: &TrustedKeys,
) -> Result<Vec<ChainReport>, VerifyError> {
    let mut reports = Vec::new();
    for head in store.heads()? {
        let name = head.chain.clone();
        // Checkpoints: decode and check signatures first.
        let mut cps: BTreeMap<u64, SignedCheckpoint> = BTreeMap::new();
        for rec in store.checkpoints(&name)? {
            let cp = SignedCheckpoint::decode(&rec.body).map_err(|e| {
                ChainFault::new(
                    &name,
                    rec.seq,
                    format!("checkpoint at seq {} is undecodable: {e}", rec.seq),
                )
            })?;
            if cp.checkpoint.chain != name || cp.checkpoint.seq != rec.seq {
                return Err(ChainFault::new(
                    &name,
                    rec.seq,
                    format!(
                        "checkpoint record at seq {} names another chain or seq",
                        rec.seq
                    ),
                )
                .into());
            }
            verify_checkpoint(trusted, &cp).map_err(|e| {
                ChainFault::new(
                    &name,
                    rec.seq,
                    format!("checkpoint at seq {}: {e}", rec.seq),
                )
            })?;
            cps.insert(rec.seq, cp);
        }
        let latest = cps.keys().next_back().copied();
        let mut events = 0u64;
        let rt = load_chain(store, &name, |entry, rt| {
            events += entry.events.len() as u64;
            if let Some(cp) = cps.get(&rt.seq) {
                let c = &cp.checkpoint;
                if c.head_hash != rt.head {
                    return Err(ChainFault::new(
                        &name,
                        rt.seq,
                        format!(
                            "head hash differs from the signed checkpoint at seq {}",
                            rt.seq
                        ),
                    ));
                }
                if c.merkle_root != rt.frontier.root() {
                    return Err(ChainFault::new(
                        &name,
                        rt.seq,
                        format!(
                            "Merkle root differs from the signed checkpoint at seq {}",
                            rt.seq
                        ),
                    ));
                }
                if Some(rt.seq) == latest && c.state_hash != rt.state.state_hash() {
                    return Err(ChainFault::new(
                        &name,
                        rt.seq,
                        format!(
                            "replayed state differs from the signed checkpoint at seq {}",
                            rt.seq
                        ),
                    ));
                }
            }
            Ok(())
        })?;
        if let Some(l) = latest {
            if l > rt.seq {
                return Err(ChainFault::new(
                    &name,
                    rt.seq + 1,
                    format!(
                        "chain ends at seq {} but a signed checkpoint covers seq {l}: entries were truncated",
                        rt.seq
                    ),
                )
                .into());
            }
        }
        if rt.seq != head.seq || rt.head != head.hash {
            return Err(ChainFault::new(
                &name,
                rt.seq + 1,
                format!(
                    "the store's head says seq {} but the entries end at seq {}",
                    head.seq, rt.seq
                ),
            )
            .into());
        }
        let Some(l) = latest else {
            return Err(ChainFault::new(
                &name,
                1,
                "no checkpoint signed by a trusted key anchors this chain",
            )
            .into());
        };
        let key = cps
            .get(&l)
            .and_then(|c| trusted.label(&c.checkpoint.key_id).map(str::to_owned))
            .unwrap_or_default();
        reports.push(ChainReport {
            chain: name,
            entries: rt.seq,
            events,
            head_hash: rt.head,
            state_hash: rt.state.state_hash(),
            checkpoint_seq: l,
            checkpoint_key: key,
            unanchored: rt.seq - l,
        });
    }
    Ok(reports)
}
