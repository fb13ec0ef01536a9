//! Journal entries: one accepted command on one chain, hash-linked to the previous entry.
//!
//! Layout (format version 2), all in the canonical encoding of `encode.rs`:
//!
//! ```text
//! body  = version:u8 (=2) chain seq:u64 time_micros:i64 actor:str command_id:str
//!         command_hash:[32] prev_hash:[32] events:list<event>
//! hash  = SHA-256("tanso-entry/1\0" || body)
//! stored entry = u32 body length || body || hash
//! ```
//!
//! Version 1 differed only in how events' serial ranges were written (fixed-width, see
//! `encode.rs`); an entry's version byte says which, and both decode. An entry's hash is over
//! its bytes as stored, so an entry of version 1 keeps its hash and its place in the chain.
//!
//! `command_hash` is a keyed hash of the command's content (for idempotency); it reveals
//! nothing about the content. A run of entries is the concatenation of stored entries.
//! This module computes and checks hashes; it never reads storage.

use crate::encode::{Dec, DecodeError, Enc};
use crate::ids::*;
use crate::model::Event;
use crate::units::Timestamp;
use sha2::{Digest, Sha256};

/// The format this build writes. Version 1 wrote events' serial ranges fixed-width
/// (`Enc::issued_ranges`); its entries still decode and verify, byte for byte.
pub const ENTRY_FORMAT_VERSION: u8 = 2;
pub const ENTRY_DOMAIN: &[u8] = b"tanso-entry/1\0";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub chain: ChainId,
    pub seq: u64,
    pub time: Timestamp,
    pub actor: Actor,
    pub command_id: CommandId,
    pub command_hash: [u8; 32],
    pub prev_hash: [u8; 32],
    pub events: Vec<Event>,
}

impl Entry {
    /// The canonical body bytes.
    pub fn body(&self) -> Vec<u8> {
        let mut e = Enc::new();
        self.encode_into(&mut e);
        e.buf
    }

    fn encode_into(&self, e: &mut Enc) {
        e.u8(ENTRY_FORMAT_VERSION);
        e.chain(&self.chain);
        e.u64(self.seq);
        e.i64(self.time.0);
        e.str(self.actor.as_str());
        e.str(self.command_id.as_str());
        e.bytes32(&self.command_hash);
        e.bytes32(&self.prev_hash);
        e.len(self.events.len());
        for ev in &self.events {
            e.event(ev);
        }
    }

    pub fn hash_of_body(body: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(ENTRY_DOMAIN);
        h.update(body);
        h.finalize().into()
    }

    /// Appends the stored form to `out` and returns the entry hash.
    pub fn write_to(&self, out: &mut Vec<u8>) -> [u8; 32] {
        // Encoded in place, after room for its length, so the body is never copied.
        let start = out.len();
        let mut e = Enc {
            buf: std::mem::take(out),
            fixed_ranges: false,
        };
        e.buf.extend_from_slice(&[0; 4]);
        self.encode_into(&mut e);
        *out = e.buf;
        let len = out.len() - start - 4;
        out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
        let hash = Self::hash_of_body(&out[start + 4..]);
        out.extend_from_slice(&hash);
        hash
    }

    pub fn decode_body(body: &[u8]) -> Result<Entry, DecodeError> {
        let mut d = match body.first() {
            Some(1) => Dec::new(body).with_fixed_ranges(),
            Some(&ENTRY_FORMAT_VERSION) | None => Dec::new(body),
            Some(v) => return Err(DecodeError(format!("unknown entry format version {v}"))),
        };
        d.u8()?;
        let chain = d.chain()?;
        let seq = d.u64()?;
        let time = Timestamp(d.i64()?);
        let actor = Actor::parse(d.str()?).map_err(|_| DecodeError("invalid actor".into()))?;
        let command_id =
            CommandId::parse(d.str()?).map_err(|_| DecodeError("invalid command id".into()))?;
        let command_hash = d.bytes32()?;
        let prev_hash = d.bytes32()?;
        let n = d.count()?;
        let mut events = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            events.push(d.event()?);
        }
        if !d.is_done() {
            return Err(DecodeError("trailing bytes after entry".into()));
        }
        Ok(Entry {
            chain,
            seq,
            time,
            actor,
            command_id,
            command_hash,
            prev_hash,
            events,
        })
    }
}

/// One stored entry as read back: the body bytes, the stored hash, and whether they agree.
#[derive(Clone, Debug)]
pub struct RawEntry<'a> {
    pub body: &'a [u8],
    pub stored_hash: [u8; 32],
}

impl RawEntry<'_> {
    pub fn computed_hash(&self) -> [u8; 32] {
        Entry::hash_of_body(self.body)
    }
}

/// Splits a run's bytes into raw entries without decoding them.
pub fn split_run(mut bytes: &[u8]) -> Result<Vec<RawEntry<'_>>, DecodeError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err(DecodeError("truncated entry length".into()));
        }
        let n = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let total = 4usize
            .checked_add(n)
            .and_then(|x| x.checked_add(32))
            .filter(|&t| t <= bytes.len())
            .ok_or_else(|| DecodeError("truncated entry".into()))?;
        let body = &bytes[4..4 + n];
        let mut stored_hash = [0u8; 32];
        stored_hash.copy_from_slice(&bytes[4 + n..total]);
        out.push(RawEntry { body, stored_hash });
        bytes = &bytes[total..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> Entry {
        Entry {
            chain: ChainId::parse("IND01").unwrap(),
            seq,
            time: Timestamp(1_700_000_000_000_000 + seq as i64),
            actor: Actor::parse("officer").unwrap(),
            command_id: CommandId::parse(&format!("cmd-{seq}")).unwrap(),
            command_hash: [seq as u8; 32],
            prev_hash: [0xab; 32],
            events: Vec::new(),
        }
    }

    /// An entry as format version 1 wrote it: events' ranges fixed-width.
    fn body_v1(e: &Entry) -> Vec<u8> {
        let mut enc = Enc {
            buf: Vec::new(),
            fixed_ranges: true,
        };
        e.encode_into(&mut enc);
        enc.buf[0] = 1;
        enc.buf
    }

    #[test]
    fn entries_of_format_1_still_decode_and_keep_their_hash() {
        let mut e = entry(7);
        let range = |r: &str, s, end| crate::model::IssuedRange {
            issuing: RegistryId::parse(r).unwrap(),
            range: crate::units::SerialRange::new(s, end).unwrap(),
        };
        e.events = vec![Event::Transferred {
            from: AccountId(1),
            to: AccountId(2),
            ranges: vec![
                range("IND01", 1, 1000),
                range("IND01", 2001, 2500),
                range("JPN01", 9, 9),
            ],
        }];
        let (v1, v2) = (body_v1(&e), e.body());
        assert_eq!((v1[0], v2[0]), (1, ENTRY_FORMAT_VERSION));
        assert!(v2.len() < v1.len(), "{} against {}", v2.len(), v1.len());
        assert_eq!(Entry::decode_body(&v1).unwrap(), e);
        assert_eq!(Entry::decode_body(&v2).unwrap(), e);
        // A run of a version-1 entry and a version-2 one splits, and each keeps its hash.
        let mut run = Vec::new();
        for body in [&v1, &v2] {
            run.extend_from_slice(&(body.len() as u32).to_be_bytes());
            run.extend_from_slice(body);
            run.extend_from_slice(&Entry::hash_of_body(body));
        }
        let raws = split_run(&run).unwrap();
        assert_eq!(raws.len(), 2);
        for (raw, body) in raws.iter().zip([&v1, &v2]) {
            assert_eq!(raw.body, &body[..]);
            assert_eq!(raw.stored_hash, Entry::hash_of_body(body));
        }
        // The version byte decides: version 1's bytes read as version 2 are not this entry,
        // and an unknown version is refused by name.
        let mut relabelled = v1.clone();
        relabelled[0] = ENTRY_FORMAT_VERSION;
        assert_ne!(Entry::decode_body(&relabelled).ok(), Some(e));
        let mut unknown = v2;
        unknown[0] = 3;
        assert_eq!(
            Entry::decode_body(&unknown),
            Err(DecodeError("unknown entry format version 3".into()))
        );
    }

    #[test]
    fn write_to_appends_length_body_and_hash_after_what_is_there() {
        let mut out = b"earlier".to_vec();
        let mut want = out.clone();
        for seq in 1..=3 {
            let e = entry(seq);
            let body = e.body();
            let hash = Entry::hash_of_body(&body);
            assert_eq!(e.write_to(&mut out), hash);
            want.extend_from_slice(&(body.len() as u32).to_be_bytes());
            want.extend_from_slice(&body);
            want.extend_from_slice(&hash);
            assert_eq!(out, want);
        }
        let raws = split_run(&out[b"earlier".len()..]).unwrap();
        assert_eq!(raws.len(), 3);
        assert_eq!(Entry::decode_body(raws[2].body).unwrap(), entry(3));
    }
}
