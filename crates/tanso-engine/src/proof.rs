//! Inclusion proofs: that one journal entry is in its chain, checkable offline by anyone who
//! holds the registry's public key. A proof carries the entry's canonical bytes, the RFC 6962
//! audit path from its leaf to the root of a signed checkpoint, and that checkpoint; checking
//! it re-hashes the entry, climbs the path and verifies the signature — it trusts nothing the
//! server says. It knows no JSON (the edges carry the fields as hex).

use crate::keys::{verify_checkpoint, KeyError, TrustedKeys};
use tanso_core::checkpoint::SignedCheckpoint;
use tanso_core::entry::{split_run, Entry};
use tanso_core::merkle::{inclusion_proof, verify_inclusion};
use tanso_store::{Store, StoreError};

/// Everything needed to check that entry `seq` of `chain` is in the chain a signed
/// checkpoint vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    pub chain: String,
    pub seq: u64,
    /// The entry's canonical bytes (what its hash covers).
    pub entry: Vec<u8>,
    pub entry_hash: [u8; 32],
    /// Leaf index (seq − 1) and tree size (the checkpoint's seq).
    pub leaf_index: u64,
    pub tree_size: u64,
    pub audit_path: Vec<[u8; 32]>,
    /// The encoded signed checkpoint.
    pub checkpoint: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("the entry's bytes do not hash to the stated entry hash")]
    EntryHash,
    #[error("the entry does not decode: {0}")]
    EntryUndecodable(String),
    #[error("the entry is {found}, not {stated}")]
    EntryMismatch { stated: String, found: String },
    #[error("the checkpoint does not decode: {0}")]
    CheckpointUndecodable(String),
    #[error("the checkpoint is for {found}, not {stated}")]
    CheckpointMismatch { stated: String, found: String },
    #[error("the audit path does not lead from the entry to the checkpoint's Merkle root")]
    Path,
    #[error("the checkpoint's signature: {0}")]
    Signature(String),
}

impl InclusionProof {
    /// Checks the proof; on success returns the entry it proves.
    pub fn verify(&self, trusted: &TrustedKeys) -> Result<Entry, ProofError> {
        if Entry::hash_of_body(&self.entry) != self.entry_hash {
            return Err(ProofError::EntryHash);
        }
        let entry = Entry::decode_body(&self.entry)
            .map_err(|e| ProofError::EntryUndecodable(e.to_string()))?;
        let found = format!("{} #{}", entry.chain, entry.seq);
        let stated = format!("{} #{}", self.chain, self.seq);
        if entry.chain.to_string() != self.chain || entry.seq != self.seq {
            return Err(ProofError::EntryMismatch { stated, found });
        }
        let signed = SignedCheckpoint::decode(&self.checkpoint)
            .map_err(|e| ProofError::CheckpointUndecodable(e.to_string()))?;
        let cp = &signed.checkpoint;
        if cp.chain != self.chain || cp.seq != self.tree_size || self.leaf_index + 1 != self.seq {
            return Err(ProofError::CheckpointMismatch {
                stated: format!(
                    "{} size {} leaf {}",
                    self.chain, self.tree_size, self.leaf_index
                ),
                found: format!("{} size {}", cp.chain, cp.seq),
            });
        }
        if cp.seq == self.seq && cp.head_hash != self.entry_hash {
            return Err(ProofError::Path);
        }
        if !verify_inclusion(
            &self.entry_hash,
            self.leaf_index,
            self.tree_size,
            &self.audit_path,
            &cp.merkle_root,
        ) {
            return Err(ProofError::Path);
        }
        verify_checkpoint(trusted, &signed)
            .map_err(|e: KeyError| ProofError::Signature(e.to_string()))?;
        Ok(entry)
    }
}

/// The entry hashes of `chain` from seq 1 up to `upto` (fewer if the chain is shorter).
pub fn entry_hashes<S: Store + ?Sized>(
    store: &S,
    chain: &str,
    upto: u64,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let mut out = Vec::new();
    for run in store.read_runs(chain, 1)? {
        if run.first_seq > upto {
            break;
        }
        let raws = split_run(&run.body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        for raw in raws {
            if out.len() as u64 >= upto {
                break;
            }
            out.push(raw.stored_hash);
        }
    }
    Ok(out)
}

/// An entry's canonical bytes and its stored hash.
pub type EntryBytes = (Vec<u8>, [u8; 32]);

/// The canonical bytes and stored hash of entry `seq` of `chain`.
pub fn entry_bytes<S: Store + ?Sized>(
    store: &S,
    chain: &str,
    seq: u64,
) -> Result<Option<EntryBytes>, StoreError> {
    let Some(run) = store.run_containing(chain, seq)? else {
        return Ok(None);
    };
    let raws = split_run(&run.body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let Some(raw) = seq
        .checked_sub(run.first_seq)
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| raws.get(i))
    else {
        return Ok(None);
    };
    Ok(Some((raw.body.to_vec(), raw.stored_hash)))
}

/// Builds the proof of entry `seq` against `signed` (a checkpoint of the same chain at or
/// after `seq`), given the chain's entry hashes up to at least the checkpoint (`leaves`).
pub fn build(
    signed: &SignedCheckpoint,
    encoded_checkpoint: Vec<u8>,
    leaves: &[[u8; 32]],
    entry: Vec<u8>,
    seq: u64,
) -> Option<InclusionProof> {
    let size = usize::try_from(signed.checkpoint.seq).ok()?;
    let leaves = leaves.get(..size)?;
    let index = seq.checked_sub(1)?;
    let audit_path = inclusion_proof(leaves, index).ok()?;
    Some(InclusionProof {
        chain: signed.checkpoint.chain.clone(),
        seq,
        entry_hash: *leaves.get(usize::try_from(index).ok()?)?,
        entry,
        leaf_index: index,
        tree_size: signed.checkpoint.seq,
        audit_path,
        checkpoint: encoded_checkpoint,
    })
}
