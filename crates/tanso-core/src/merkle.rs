//! The journal's Merkle tree: RFC 6962 (Certificate Transparency) hashing over 32-byte leaf
//! values, which are the journal's entry hashes.
//!
//! This module owns the tree hash (MTH, RFC 6962 §2.1), the incremental [`Frontier`] a writer
//! keeps so that every checkpoint can carry a root without rereading the journal, and inclusion
//! proofs (RFC 6962 §2.1.1 PATH, verified with the RFC 9162 §2.1.3.2 algorithm). It is pure: it
//! does no I/O, knows no wire format and never panics on input; indexes out of range are errors
//! and proofs that do not fit are simply `false`.
//!
//! Hashing, with `||` for concatenation and the 0x00 / 0x01 prefixes keeping leaves and interior
//! nodes apart (so no interior node can be passed off as a leaf):
//!
//! - `leaf_hash(e) = SHA-256(0x00 || e)` for an entry hash `e`;
//! - `node_hash(l, r) = SHA-256(0x01 || l || r)`;
//! - `MTH([]) = SHA-256("")`, `MTH([e]) = leaf_hash(e)`, and for `n > 1` leaves
//!   `MTH(D[n]) = node_hash(MTH(D[0..k]), MTH(D[k..n]))` where `k` is the largest power of two
//!   strictly less than `n`.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: an entry hash, a leaf hash, an interior node or a root.
pub type Hash = [u8; 32];

/// Prefix of a leaf hash input (RFC 6962 §2.1).
const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an interior node hash input (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// Why a Merkle operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is out of range for a tree of {tree_size} leaves")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    #[error("frontier of {len} leaves needs {expected} subtree roots, got {actual}")]
    FrontierShape {
        len: u64,
        expected: usize,
        actual: usize,
    },
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// `SHA-256(0x00 || entry_hash)`.
pub fn leaf_hash(entry_hash: &Hash) -> Hash {
    crate::sha::short(&[&[LEAF_PREFIX], entry_hash])
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    crate::sha::short(&[&[NODE_PREFIX], left, right])
}

/// The largest power of two strictly less than `n`; `n` must be at least 2.
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    // For n >= 2, n - 1 >= 1, so its highest set bit is the largest power of two below n.
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The Merkle tree hash (MTH) of the given entry hashes, in order.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        _ => subtree_root(leaves),
    }
}

/// MTH of a non-empty run of leaves. Recursion depth is at most log2(len) + 1.
fn subtree_root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [only] => leaf_hash(only),
        _ => {
            let (left, right) = leaves.split_at(split_point(leaves.len()));
            node_hash(&subtree_root(left), &subtree_root(right))
        }
    }
}

/// The audit path (RFC 6962 §2.1.1 PATH) for the leaf at `index`, ordered from the leaf's
/// sibling up to the child of the root. A tree of one leaf has an empty path.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, MerkleError> {
    let out_of_range = || MerkleError::IndexOutOfRange {
        index,
        tree_size: u64::try_from(leaves.len()).unwrap_or(u64::MAX),
    };
    let position = usize::try_from(index).map_err(|_| out_of_range())?;
    if position >= leaves.len() {
        return Err(out_of_range());
    }
    let mut proof = Vec::new();
    path(position, leaves, &mut proof);
    Ok(proof)
}

/// PATH(m, D[n]) with `m < n`, appending the path bottom-up.
fn path(m: usize, leaves: &[Hash], proof: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    let (left, right) = leaves.split_at(k);
    if m < k {
        path(m, left, proof);
        proof.push(subtree_root(right));
    } else {
        path(m - k, right, proof);
        proof.push(subtree_root(left));
    }
}

/// Whether `proof` shows that `entry_hash` is the leaf at `index` of the tree of `tree_size`
/// leaves whose root is `root`. This is the RFC 9162 §2.1.3.2 algorithm, which also rejects a
/// proof of the wrong length.
///
/// The root does not by itself fix the tree size (leaf 0 has the same audit path in trees of 3
/// and 4 leaves), so `tree_size` and `root` must come from the same signed checkpoint.
pub fn verify_inclusion(
    entry_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> bool {
    if index >= tree_size {
        return false;
    }
    let mut f_n = index;
    let mut s_n = tree_size - 1;
    let mut r = leaf_hash(entry_hash);
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                // A right edge: climb past the levels where this node has no right sibling.
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// An append-only accumulator of the tree: the roots of the perfect subtrees of the binary
/// decomposition of `len`, largest (leftmost) first. It holds one hash per set bit of `len`, so
/// at most 64, and its [`root`](Frontier::root) equals [`root`] over every leaf pushed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    len: u64,
    subtree_roots: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from what [`len`](Frontier::len) and
    /// [`subtree_roots`](Frontier::subtree_roots) returned, e.g. after a restart. Refuses a list
    /// whose length is not the number of set bits of `len`.
    pub fn from_parts(len: u64, subtree_roots: Vec<Hash>) -> Result<Self, MerkleError> {
        let expected = usize::try_from(len.count_ones()).unwrap_or(usize::MAX);
        if subtree_roots.len() != expected {
            return Err(MerkleError::FrontierShape {
                len,
                expected,
                actual: subtree_roots.len(),
            });
        }
        Ok(Self { len, subtree_roots })
    }

    /// Appends one entry hash as the next leaf.
    pub fn push(&mut self, entry_hash: &Hash) {
        let mut carry = leaf_hash(entry_hash);
        // Each trailing one bit of len is a perfect subtree the same size as `carry`: merge
        // them, like a binary increment.
        let mut bits = self.len;
        while bits & 1 == 1 {
            match self.subtree_roots.pop() {
                Some(left) => carry = node_hash(&left, &carry),
                None => break,
            }
            bits >>= 1;
        }
        self.subtree_roots.push(carry);
        // 2^64 pushes of a SHA-256 each cannot happen; saturate rather than wrap regardless.
        self.len = self.len.saturating_add(1);
        debug_assert_eq!(
            Ok(self.subtree_roots.len()),
            usize::try_from(self.len.count_ones())
        );
    }

    /// How many leaves have been pushed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no leaf has been pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The perfect subtree roots, largest first: what a writer persists to resume later.
    pub fn subtree_roots(&self) -> &[Hash] {
        &self.subtree_roots
    }

    /// The tree hash of every leaf pushed so far.
    pub fn root(&self) -> Hash {
        // MTH splits at the largest power of two below n, which is the leftmost perfect
        // subtree; so fold from the right: root = s0 · (s1 · (… · s_last)).
        let mut rest = self.subtree_roots.iter().rev();
        match rest.next() {
            None => empty_root(),
            Some(last) => rest.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}
