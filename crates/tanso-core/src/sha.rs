//! SHA-256 of short messages (at most 119 bytes after a whole-block prefix) straight on the
//! compression function: the padded blocks are built on the stack and compressed, without the
//! buffering of the streaming hasher. The journal hashes several such messages per entry (the
//! Merkle leaf and interior nodes, the keyed command hash), so this is on the writer's hot
//! path. The results are plain SHA-256 (FIPS 180-4); the tests compare them with the streaming
//! hasher for every length.

use sha2::digest::generic_array::GenericArray;

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The longest message tail [`Midstate::finish`] takes: two blocks less the padding's 0x80
/// byte and 8-byte length.
pub const MAX_TAIL: usize = 2 * 64 - 9;

/// The hash state after whole 64-byte blocks: where a message with a fixed prefix (an HMAC
/// pad block) continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Midstate {
    state: [u32; 8],
    /// Bytes absorbed so far (a multiple of 64).
    len: u64,
}

impl Default for Midstate {
    fn default() -> Self {
        Midstate { state: IV, len: 0 }
    }
}

impl Midstate {
    /// The state after absorbing one more whole block.
    pub fn absorb(mut self, block: &[u8; 64]) -> Self {
        sha2::compress256(&mut self.state, &[*GenericArray::from_slice(block)]);
        self.len += 64;
        self
    }

    /// SHA-256 of what was absorbed followed by the concatenation of `parts`, whose total
    /// length must be at most [`MAX_TAIL`] (longer input panics: callers pass fixed sizes).
    pub fn finish(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut buf = [0u8; 128];
        let mut n = 0;
        for p in parts {
            buf[n..n + p.len()].copy_from_slice(p);
            n += p.len();
        }
        assert!(n <= MAX_TAIL, "sha::finish takes at most {MAX_TAIL} bytes");
        buf[n] = 0x80;
        let blocks = if n + 9 <= 64 { 1 } else { 2 };
        let end = blocks * 64;
        let bits = (self.len + n as u64) * 8;
        buf[end - 8..end].copy_from_slice(&bits.to_be_bytes());
        let mut state = self.state;
        let (b0, b1) = buf.split_at(64);
        if blocks == 1 {
            sha2::compress256(&mut state, &[*GenericArray::from_slice(b0)]);
        } else {
            sha2::compress256(
                &mut state,
                &[*GenericArray::from_slice(b0), *GenericArray::from_slice(b1)],
            );
        }
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// SHA-256 of the concatenation of `parts` (at most [`MAX_TAIL`] bytes in all).
pub fn short(parts: &[&[u8]]) -> [u8; 32] {
    Midstate::default().finish(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn short_is_sha256_for_every_length_and_split() {
        for n in 0..=MAX_TAIL {
            let m = bytes(n, 7);
            let want: [u8; 32] = Sha256::digest(&m).into();
            assert_eq!(short(&[&m]), want, "length {n}");
            let (a, b) = m.split_at(n / 3);
            assert_eq!(short(&[a, b]), want, "length {n}, split");
        }
    }

    #[test]
    fn known_answer() {
        // FIPS 180-2 example: SHA-256("abc"), and SHA-256 of the empty string.
        assert_eq!(
            hex::encode(short(&[b"abc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(short(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn after_prefix_blocks_it_is_sha256_of_the_whole() {
        let pre = bytes(128, 3);
        let mut mid = Midstate::default();
        for b in pre.chunks_exact(64) {
            mid = mid.absorb(b.try_into().unwrap());
        }
        for n in [0, 1, 32, 55, 56, 63, 64, 100, MAX_TAIL] {
            let tail = bytes(n, 9);
            let whole: Vec<u8> = pre.iter().chain(&tail).copied().collect();
            let want: [u8; 32] = Sha256::digest(&whole).into();
            assert_eq!(mid.finish(&[&tail]), want, "tail {n}");
        }
    }

    #[test]
    #[should_panic(expected = "at most")]
    fn too_long_is_refused() {
        short(&[&[0u8; MAX_TAIL + 1]]);
    }
}
