//! Checkpoints: a signed statement that a chain of the journal had a given head, Merkle root
//! and state hash at a given sequence number, and the one canonical byte encoding that is
//! signed and stored.
//!
//! This module owns the encoding and its decoding, and the key id of a public key. It must not
//! sign, verify, hold keys or touch files: that is the engine's `keys` module. It is pure and
//! never panics on input; a malformed encoding is a [`CheckpointDecodeError`].
//!
//! # Encoding
//!
//! [`Checkpoint::signing_bytes`] is, with every integer big-endian and `L` the chain name's
//! length in bytes:
//!
//! | offset   | bytes | field                                        |
//! |----------|-------|----------------------------------------------|
//! | 0        | 19    | domain separator `tanso-checkpoint/1\0` (ASCII, NUL-terminated) |
//! | 19       | 8     | `key_id`                                     |
//! | 27       | 2     | `L`, u16                                     |
//! | 29       | L     | `chain`, UTF-8                               |
//! | 29 + L   | 8     | `seq`, u64                                   |
//! | 37 + L   | 32    | `head_hash`                                  |
//! | 69 + L   | 32    | `merkle_root`                                |
//! | 101 + L  | 32    | `state_hash`                                 |
//! | 133 + L  | 8     | `time_micros`, i64 (two's complement)        |
//!
//! for a total of `141 + L` bytes. [`SignedCheckpoint::encode`] is the signing bytes followed
//! by the 64-byte ed25519 signature over them, `205 + L` bytes; decoding accepts exactly that
//! and nothing longer or shorter. The domain separator names the format version: a change of
//! layout is a new separator, so no signature over one layout can be read as another.

use sha2::{Digest, Sha256};

/// The domain separator that starts every checkpoint's signing bytes.
pub const DOMAIN_SEPARATOR: &[u8; 19] = b"tanso-checkpoint/1\0";

/// Length of an ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// The longest chain name the encoding can carry, in bytes.
pub const CHAIN_LEN_MAX: usize = 0xffff;

/// Signing-bytes length of a checkpoint whose chain name is empty.
const FIXED_LEN: usize = DOMAIN_SEPARATOR.len() + 8 + 2 + 8 + 32 * 3 + 8;

/// The first 8 bytes of SHA-256 of a 32-byte ed25519 public key.
pub fn key_id_of(public_key: &[u8; 32]) -> [u8; 8] {
    let digest = Sha256::digest(public_key);
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&digest[..8]);
    key_id
}

/// What a checkpoint states about one chain at one sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// [`key_id_of`] the key that signs this checkpoint.
    pub key_id: [u8; 8],
    /// The chain's name; at most [`CHAIN_LEN_MAX`] bytes of UTF-8.
    pub chain: String,
    /// Sequence number of the chain's head entry.
    pub seq: u64,
    /// Hash of the head entry.
    pub head_hash: [u8; 32],
    /// RFC 6962 root over the chain's entry hashes up to and including `seq`.
    pub merkle_root: [u8; 32],
    /// Hash of the state folded from those entries.
    pub state_hash: [u8; 32],
    /// When the checkpoint was made, microseconds since the Unix epoch (UTC).
    pub time_micros: i64,
}

/// A checkpoint and the ed25519 signature over its [`signing_bytes`](Checkpoint::signing_bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub signature: [u8; SIGNATURE_LEN],
}

/// Why a checkpoint cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointEncodeError {
    #[error("chain name is {len} bytes, longer than the {CHAIN_LEN_MAX} a checkpoint can carry")]
    ChainTooLong { len: usize },
}

/// Why bytes are not a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointDecodeError {
    #[error("not a version 1 checkpoint: the domain separator `tanso-checkpoint/1\\0` is missing")]
    DomainSeparator,
    #[error("checkpoint is truncated: {needed} more bytes needed for the {field}")]
    Truncated { field: &'static str, needed: usize },
    #[error("checkpoint chain name is not valid UTF-8")]
    ChainNotUtf8,
    #[error("checkpoint has {count} trailing bytes after the signature")]
    TrailingBytes { count: usize },
}

impl Checkpoint {
    /// The canonical bytes that are signed; the layout is in the module documentation.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, CheckpointEncodeError> {
        let chain = self.chain.as_bytes();
        let chain_len = u16::try_from(chain.len())
            .map_err(|_| CheckpointEncodeError::ChainTooLong { len: chain.len() })?;
        let mut out = Vec::with_capacity(FIXED_LEN + chain.len() + SIGNATURE_LEN);
        out.extend_from_slice(DOMAIN_SEPARATOR);
        out.extend_from_slice(&self.key_id);
        out.extend_from_slice(&chain_len.to_be_bytes());
        out.extend_from_slice(chain);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.head_hash);
        out.extend_from_slice(&self.merkle_root);
        out.extend_from_slice(&self.state_hash);
        out.extend_from_slice(&self.time_micros.to_be_bytes());
        debug_assert_eq!(out.len(), FIXED_LEN + chain.len());
        Ok(out)
    }
}

impl SignedCheckpoint {
    /// The signing bytes followed by the 64-byte signature.
    pub fn encode(&self) -> Result<Vec<u8>, CheckpointEncodeError> {
        let mut out = self.checkpoint.signing_bytes()?;
        out.extend_from_slice(&self.signature);
        Ok(out)
    }

    /// Reads exactly one encoded signed checkpoint. This does not check the signature.
    pub fn decode(bytes: &[u8]) -> Result<Self, CheckpointDecodeError> {
        let mut reader = Reader { rest: bytes };
        let domain: [u8; 19] = reader.array("domain separator")?;
        if &domain != DOMAIN_SEPARATOR {
            return Err(CheckpointDecodeError::DomainSeparator);
        }
        let key_id = reader.array("key id")?;
        let chain_len = u16::from_be_bytes(reader.array("chain name length")?);
        let chain = reader.take(usize::from(chain_len), "chain name")?;
        let chain = std::str::from_utf8(chain)
            .map_err(|_| CheckpointDecodeError::ChainNotUtf8)?
            .to_owned();
        let seq = u64::from_be_bytes(reader.array("sequence number")?);
        let head_hash = reader.array("head hash")?;
        let merkle_root = reader.array("merkle root")?;
        let state_hash = reader.array("state hash")?;
        let time_micros = i64::from_be_bytes(reader.array("time")?);
        let signature = reader.array("signature")?;
        if !reader.rest.is_empty() {
            return Err(CheckpointDecodeError::TrailingBytes {
                count: reader.rest.len(),
            });
        }
        Ok(Self {
            checkpoint: Checkpoint {
                key_id,
                chain,
                seq,
                head_hash,
                merkle_root,
                state_hash,
                time_micros,
            },
            signature,
        })
    }
}

/// A cursor over input that reports which field ran short.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], CheckpointDecodeError> {
        if self.rest.len() < len {
            return Err(CheckpointDecodeError::Truncated {
                field,
                needed: len - self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], CheckpointDecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A fixed checkpoint whose encoding is written out by hand in
    /// [`golden_signing_bytes_hex`].
    fn golden() -> Checkpoint {
        let mut head_hash = [0u8; 32];
        let mut merkle_root = [0u8; 32];
        for i in 0..32u8 {
            head_hash[usize::from(i)] = i;
            merkle_root[usize::from(i)] = 0x20 + i;
        }
        Checkpoint {
            key_id: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            chain: "jcm-in".to_owned(),
            seq: 0x0102_0304_0506_0708,
            head_hash,
            merkle_root,
            state_hash: [0xee; 32],
            time_micros: -2,
        }
    }

    /// Written by hand from the layout in the module documentation, one field a line.
    fn golden_signing_bytes_hex() -> String {
        [
            "74616e736f2d636865636b706f696e742f3100", // "tanso-checkpoint/1\0"
            "0123456789abcdef",                       // key_id
            "0006",                                   // chain length 6
            "6a636d2d696e",                           // "jcm-in"
            "0102030405060708",                       // seq
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", // head_hash
            "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f", // merkle_root
            "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", // state_hash
            "fffffffffffffffe",                       // time_micros -2
        ]
        .concat()
    }

    #[test]
    fn golden_signing_bytes_match_the_documented_layout() {
        let bytes = golden().signing_bytes().expect("short chain name encodes");
        assert_eq!(hex::encode(&bytes), golden_signing_bytes_hex());
        assert_eq!(bytes.len(), 141 + 6);
        // Checked independently: the hex above through `xxd -r -p | sha256sum`.
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            "ec2521920462a08b6c522aa03bd307986d1f32f7cc9c4348c815e711f0322631"
        );
    }

    #[test]
    fn golden_key_id() {
        // SHA-256 of 32 zero bytes is 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925.
        assert_eq!(hex::encode(key_id_of(&[0u8; 32])), "66687aadf862bd77");
    }

    #[test]
    fn golden_signed_checkpoint_round_trips() {
        let signed = SignedCheckpoint {
            checkpoint: golden(),
            signature: [0x5a; SIGNATURE_LEN],
        };
        let bytes = signed.encode().expect("short chain name encodes");
        assert_eq!(
            hex::encode(&bytes),
            golden_signing_bytes_hex() + &"5a".repeat(SIGNATURE_LEN)
        );
        assert_eq!(SignedCheckpoint::decode(&bytes), Ok(signed));
    }

    #[test]
    fn chain_name_longer_than_u16_is_refused() {
        assert_eq!(CHAIN_LEN_MAX, usize::from(u16::MAX));
        let mut checkpoint = golden();
        checkpoint.chain = "x".repeat(CHAIN_LEN_MAX + 1);
        assert_eq!(
            checkpoint.signing_bytes(),
            Err(CheckpointEncodeError::ChainTooLong {
                len: CHAIN_LEN_MAX + 1
            })
        );
        checkpoint.chain.pop();
        let bytes = checkpoint
            .signing_bytes()
            .expect("longest chain name encodes");
        assert_eq!(bytes.len(), FIXED_LEN + CHAIN_LEN_MAX);
    }

    #[test]
    fn decode_refuses_trailing_byte() {
        let signed = SignedCheckpoint {
            checkpoint: golden(),
            signature: [7; SIGNATURE_LEN],
        };
        let mut bytes = signed.encode().expect("encodes");
        bytes.push(0);
        assert_eq!(
            SignedCheckpoint::decode(&bytes),
            Err(CheckpointDecodeError::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn decode_refuses_every_truncation() {
        let signed = SignedCheckpoint {
            checkpoint: golden(),
            signature: [7; SIGNATURE_LEN],
        };
        let bytes = signed.encode().expect("encodes");
        for len in 0..bytes.len() {
            let result = SignedCheckpoint::decode(&bytes[..len]);
            assert!(
                matches!(result, Err(CheckpointDecodeError::Truncated { .. })),
                "prefix of {len} bytes gave {result:?}"
            );
        }
    }

    #[test]
    fn decode_refuses_wrong_domain_separator() {
        let signed = SignedCheckpoint {
            checkpoint: golden(),
            signature: [7; SIGNATURE_LEN],
        };
        let mut bytes = signed.encode().expect("encodes");
        bytes[17] = b'2'; // "tanso-checkpoint/2\0"
        assert_eq!(
            SignedCheckpoint::decode(&bytes),
            Err(CheckpointDecodeError::DomainSeparator)
        );
    }

    #[test]
    fn decode_refuses_chain_name_that_is_not_utf8() {
        let signed = SignedCheckpoint {
            checkpoint: golden(),
            signature: [7; SIGNATURE_LEN],
        };
        let mut bytes = signed.encode().expect("encodes");
        bytes[29] = 0xff; // first byte of the chain name
        assert_eq!(
            SignedCheckpoint::decode(&bytes),
            Err(CheckpointDecodeError::ChainNotUtf8)
        );
    }

    fn any_checkpoint() -> impl Strategy<Value = SignedCheckpoint> {
        (
            any::<[u8; 8]>(),
            ".{0,40}",
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<i64>(),
            proptest::collection::vec(any::<u8>(), SIGNATURE_LEN),
        )
            .prop_map(
                |(key_id, chain, seq, head_hash, merkle_root, state_hash, time_micros, sig)| {
                    let mut signature = [0u8; SIGNATURE_LEN];
                    signature.copy_from_slice(&sig);
                    SignedCheckpoint {
                        checkpoint: Checkpoint {
                            key_id,
                            chain,
                            seq,
                            head_hash,
                            merkle_root,
                            state_hash,
                            time_micros,
                        },
                        signature,
                    }
                },
            )
    }

    proptest! {
        #[test]
        // decode is a left inverse of encode, so the encoding is injective: no two checkpoints
        // share signing bytes.
        fn encode_then_decode_is_identity(signed in any_checkpoint()) {
            let bytes = signed.encode().expect("short chain name encodes");
            prop_assert_eq!(
                bytes.len(),
                FIXED_LEN + signed.checkpoint.chain.len() + SIGNATURE_LEN
            );
            prop_assert_eq!(SignedCheckpoint::decode(&bytes), Ok(signed));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            // Any outcome is fine as long as a success re-encodes to the same bytes.
            if let Ok(signed) = SignedCheckpoint::decode(&bytes) {
                prop_assert_eq!(signed.encode().expect("decoded chain fits"), bytes);
            }
        }

        #[test]
        fn decode_never_panics_near_valid_input(
            signed in any_checkpoint(),
            position in any::<prop::sample::Index>(),
            value in any::<u8>(),
        ) {
            let mut bytes = signed.encode().expect("encodes");
            let at = position.index(bytes.len());
            bytes[at] = value;
            if let Ok(decoded) = SignedCheckpoint::decode(&bytes) {
                prop_assert_eq!(decoded.encode().expect("decoded chain fits"), bytes);
            }
        }
    }
}
