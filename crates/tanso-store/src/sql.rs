//! Conversions every SQL backend makes the same way: sequence numbers as signed 64-bit
//! integers, digests as 32-byte blobs, stored runs checked as they are read back.

use crate::{Digest, StoreError, StoreResult, StoredRun, SEQ_MAX};

/// A seq as SQL stores it. Batches are validated against `SEQ_MAX` first, so this only fails
/// on a bug.
pub fn to_sql_seq(seq: u64) -> StoreResult<i64> {
    i64::try_from(seq).map_err(|_| StoreError::InvalidBatch(format!("seq {seq} past {SEQ_MAX}")))
}

pub fn from_sql_seq(value: i64) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative seq {value}")))
}

pub fn to_digest(bytes: &[u8], what: &str) -> StoreResult<Digest> {
    Digest::try_from(bytes)
        .map_err(|_| StoreError::Corrupt(format!("{what} has {} bytes, not 32", bytes.len())))
}

/// A run as read from a row, refused as `Corrupt` if its range or body cannot be right.
pub fn to_stored_run(chain: &str, first: i64, last: i64, body: Vec<u8>) -> StoreResult<StoredRun> {
    let (first_seq, last_seq) = (from_sql_seq(first)?, from_sql_seq(last)?);
    if last_seq < first_seq || first_seq == 0 || body.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "stored run {chain} {first_seq}..={last_seq} with {} body bytes",
            body.len()
        )));
    }
    Ok(StoredRun {
        chain: chain.to_string(),
        first_seq,
        last_seq,
        body,
    })
}
