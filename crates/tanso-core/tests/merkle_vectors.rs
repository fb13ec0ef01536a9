//! Golden vectors and properties for the RFC 6962 Merkle tree in `tanso_core::merkle`.
//!
//! The golden roots and proofs were computed outside Rust: by an independent Python
//! `hashlib` implementation of RFC 6962 MTH and PATH, and for the trees of 0 to 3 leaves also
//! by hand with `printf … | xxd -r -p | sha256sum`. Entry hash `i` is 32 bytes all equal to `i`.

use proptest::prelude::*;
use tanso_core::merkle::{
    empty_root, inclusion_proof, leaf_hash, node_hash, root, verify_inclusion, Frontier, Hash,
    MerkleError,
};

/// Entry hash `i` of the golden vectors: 32 bytes, each `i`.
fn entry(i: u8) -> Hash {
    [i; 32]
}

fn entries(n: u8) -> Vec<Hash> {
    (0..n).map(entry).collect()
}

fn h(hex_digest: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut out).expect("golden hex is 32 bytes");
    out
}

/// (leaf count, MTH of entries 0..n).
const GOLDEN_ROOTS: &[(u8, &str)] = &[
    (
        0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        1,
        "7f9c9e31ac8256ca2f258583df262dbc7d6f68f2a03043d5c99a4ae5a7396ce9",
    ),
    (
        2,
        "28fb81e496897e0ce886f08602392e9239b65c659041e5202163e58ad898f444",
    ),
    (
        3,
        "ba8d94b7fbcecae7b81c4c80574fe24734a6917bf9c1ecd66ff3e0c34ead4620",
    ),
    (
        4,
        "fdea52008cdae79fa8bf806261959e23f5e11681646a2fa2bc9b5e56b32030a2",
    ),
    (
        5,
        "85e20cac1f02fda7bcdb2fc3f908568c57018c77815f1fa361acad13994f08bf",
    ),
    (
        7,
        "7318881c41fce3c1de3640df8e8c110c93f43f686b74204a9d1ad5b8c71c2047",
    ),
    (
        8,
        "f907f23f76aa01b755a614d31ef9832909f44638b4590073301e61e6d01f9a1d",
    ),
    (
        13,
        "cebcf8c0a77418c03d4694b0e14ccebed8416ff87d3ad4da873423948f8622fd",
    ),
];

#[test]
fn golden_empty_root_is_sha256_of_empty_string() {
    assert_eq!(empty_root(), h(GOLDEN_ROOTS[0].1));
    assert_eq!(root(&[]), empty_root());
    assert_eq!(Frontier::new().root(), empty_root());
}

#[test]
fn golden_leaf_and_node_hashes() {
    // sha256(00 || 00*32) and sha256(00 || 01*32), by sha256sum.
    let leaf_0 = h("7f9c9e31ac8256ca2f258583df262dbc7d6f68f2a03043d5c99a4ae5a7396ce9");
    let leaf_1 = h("dcffe786ded16d283c663846ad0c4ff26558fccde36ca9d30b2ea19eade9fc0e");
    assert_eq!(leaf_hash(&entry(0)), leaf_0);
    assert_eq!(leaf_hash(&entry(1)), leaf_1);
    // sha256(01 || leaf_0 || leaf_1), by sha256sum.
    assert_eq!(
        node_hash(&leaf_0, &leaf_1),
        h("28fb81e496897e0ce886f08602392e9239b65c659041e5202163e58ad898f444")
    );
}

#[test]
fn golden_roots() {
    for &(n, expected) in GOLDEN_ROOTS {
        let leaves = entries(n);
        assert_eq!(root(&leaves), h(expected), "root of {n} leaves");
        let mut frontier = Frontier::new();
        for leaf in &leaves {
            frontier.push(leaf);
        }
        assert_eq!(frontier.len(), u64::from(n));
        assert_eq!(frontier.root(), h(expected), "frontier root of {n} leaves");
    }
}

#[test]
fn golden_inclusion_proof_7_leaves_index_5() {
    let leaves = entries(7);
    let expected = vec![
        // leaf_hash(entry 4)
        h("1da033bf8927ed69376d91533748494f7f5e88c20603dede2afc9bfd43d46f17"),
        // leaf_hash(entry 6)
        h("511c6562982c9bfa05ba4145ca5f2bba85a11a178a4131b5cebde26dd9ffe704"),
        // MTH(entries 0..4)
        h("fdea52008cdae79fa8bf806261959e23f5e11681646a2fa2bc9b5e56b32030a2"),
    ];
    assert_eq!(inclusion_proof(&leaves, 5), Ok(expected.clone()));
    assert!(verify_inclusion(&entry(5), 5, 7, &expected, &root(&leaves)));
}

#[test]
fn golden_inclusion_proof_13_leaves_last_index() {
    let leaves = entries(13);
    let expected = vec![
        // MTH(entries 8..12)
        h("c92d0e53f86b6a5658b13bfc00786f4b10ec8ad83c1d288e58f6276e03cdc24e"),
        // MTH(entries 0..8)
        h("f907f23f76aa01b755a614d31ef9832909f44638b4590073301e61e6d01f9a1d"),
    ];
    assert_eq!(inclusion_proof(&leaves, 12), Ok(expected.clone()));
    assert!(verify_inclusion(
        &entry(12),
        12,
        13,
        &expected,
        &h(GOLDEN_ROOTS[8].1)
    ));
}

#[test]
fn single_leaf_tree_has_empty_proof() {
    let leaves = entries(1);
    assert_eq!(inclusion_proof(&leaves, 0), Ok(Vec::new()));
    assert!(verify_inclusion(&entry(0), 0, 1, &[], &root(&leaves)));
    // An empty proof must not verify a leaf against a bigger tree.
    assert!(!verify_inclusion(&entry(0), 0, 2, &[], &root(&leaves)));
}

#[test]
fn inclusion_proof_index_out_of_range_is_an_error() {
    assert_eq!(
        inclusion_proof(&entries(3), 3),
        Err(MerkleError::IndexOutOfRange {
            index: 3,
            tree_size: 3
        })
    );
    assert_eq!(
        inclusion_proof(&[], 0),
        Err(MerkleError::IndexOutOfRange {
            index: 0,
            tree_size: 0
        })
    );
    assert!(inclusion_proof(&entries(3), u64::MAX).is_err());
}

#[test]
fn verify_refuses_index_at_or_past_size() {
    let leaves = entries(4);
    let tree_root = root(&leaves);
    assert!(!verify_inclusion(&entry(0), 4, 4, &[], &tree_root));
    assert!(!verify_inclusion(&entry(0), 0, 0, &[], &empty_root()));
    assert!(!verify_inclusion(
        &entry(0),
        u64::MAX,
        u64::MAX,
        &[],
        &tree_root
    ));
}

#[test]
fn frontier_from_parts_resumes_and_checks_shape() {
    let leaves = entries(13);
    let mut frontier = Frontier::new();
    for leaf in &leaves[..11] {
        frontier.push(leaf);
    }
    let mut resumed = Frontier::from_parts(frontier.len(), frontier.subtree_roots().to_vec())
        .expect("parts taken from a frontier");
    for leaf in &leaves[11..] {
        resumed.push(leaf);
    }
    assert_eq!(resumed.root(), h(GOLDEN_ROOTS[8].1));
    assert_eq!(
        Frontier::from_parts(11, vec![[0; 32]; 2]),
        Err(MerkleError::FrontierShape {
            len: 11,
            expected: 3,
            actual: 2
        })
    );
}

/// The sides of the audit path of leaf `index` in a tree of `size` leaves, bottom-up, `true`
/// where the sibling is on the left; straight from the RFC 6962 §2.1.1 PATH recursion, as an
/// oracle independent of the RFC 9162 bit arithmetic in `verify_inclusion`.
fn path_shape(index: u64, size: u64) -> Vec<bool> {
    if size <= 1 {
        return Vec::new();
    }
    let mut k = 1;
    while k * 2 < size {
        k *= 2;
    }
    let (mut shape, sibling_left) = if index < k {
        (path_shape(index, k), false)
    } else {
        (path_shape(index - k, size - k), true)
    };
    shape.push(sibling_left);
    shape
}

/// The root alone does not fix the tree size: leaf 0 of 3 leaves has the same audit path shape
/// as leaf 0 of 4 leaves, so its proof also checks against the 3-leaf root with size 4. A
/// verifier must take the size and the root from the same signed checkpoint.
#[test]
fn tree_size_is_bound_by_the_checkpoint_not_by_the_root() {
    let leaves = entries(3);
    let proof = inclusion_proof(&leaves, 0).expect("index in range");
    assert!(verify_inclusion(&entry(0), 0, 3, &proof, &root(&leaves)));
    assert!(verify_inclusion(&entry(0), 0, 4, &proof, &root(&leaves)));
    assert!(!verify_inclusion(&entry(0), 0, 5, &proof, &root(&leaves)));
    assert_eq!(path_shape(0, 3), path_shape(0, 4));
}

/// Distinct-ish random leaves for up to ~300 of them.
fn leaves_strategy(max: usize) -> impl Strategy<Value = Vec<Hash>> {
    proptest::collection::vec(any::<[u8; 32]>(), 0..=max)
}

/// Non-empty leaves with an index inside them.
fn leaves_and_index(max: usize) -> impl Strategy<Value = (Vec<Hash>, u64)> {
    proptest::collection::vec(any::<[u8; 32]>(), 1..=max).prop_flat_map(|leaves| {
        let n = leaves.len() as u64;
        (Just(leaves), 0..n)
    })
}

#[test]
fn frontier_root_equals_root_for_every_size_up_to_300() {
    let leaves: Vec<Hash> = (0u32..300)
        .map(|i| {
            let mut e = [0u8; 32];
            e[..4].copy_from_slice(&i.to_be_bytes());
            e
        })
        .collect();
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), root(&[]));
    for (n, leaf) in leaves.iter().enumerate() {
        frontier.push(leaf);
        assert_eq!(frontier.root(), root(&leaves[..=n]), "size {}", n + 1);
        assert_eq!(
            frontier.subtree_roots().len(),
            (n + 1).count_ones() as usize,
            "frontier memory at size {}",
            n + 1
        );
    }
}

#[test]
fn every_inclusion_proof_verifies_for_every_size_up_to_100() {
    let leaves: Vec<Hash> = (0u8..100).map(entry).collect();
    for n in 1..=leaves.len() {
        let tree = &leaves[..n];
        let tree_root = root(tree);
        for (index, leaf) in (0u64..).zip(tree) {
            let proof = inclusion_proof(tree, index).expect("index in range");
            assert!(
                verify_inclusion(leaf, index, n as u64, &proof, &tree_root),
                "leaf {index} of {n}"
            );
        }
    }
}

proptest! {
    #[test]
    fn frontier_root_equals_root(leaves in leaves_strategy(300)) {
        let mut frontier = Frontier::new();
        for leaf in &leaves {
            frontier.push(leaf);
        }
        prop_assert_eq!(frontier.len(), leaves.len() as u64);
        prop_assert_eq!(frontier.root(), root(&leaves));
    }

    #[test]
    fn inclusion_proof_verifies((leaves, index) in leaves_and_index(300)) {
        let proof = inclusion_proof(&leaves, index).expect("index in range");
        let leaf = &leaves[index as usize];
        let size = leaves.len() as u64;
        prop_assert!(verify_inclusion(leaf, index, size, &proof, &root(&leaves)));
    }

    #[test]
    fn proof_fails_for_wrong_index((leaves, index) in leaves_and_index(300), other in any::<u64>()) {
        let size = leaves.len() as u64;
        let other = other % size.max(2).saturating_add(2);
        prop_assume!(other != index);
        let proof = inclusion_proof(&leaves, index).expect("index in range");
        let leaf = &leaves[index as usize];
        // Two leaves may be equal by chance; then the proof legitimately holds for both only
        // if the subtrees agree, which random 32-byte leaves make vanishingly unlikely.
        prop_assert!(!verify_inclusion(leaf, other, size, &proof, &root(&leaves)));
    }

    #[test]
    fn proof_fails_for_wrong_leaf((leaves, index) in leaves_and_index(300), wrong in any::<[u8; 32]>()) {
        prop_assume!(wrong != leaves[index as usize]);
        let proof = inclusion_proof(&leaves, index).expect("index in range");
        let size = leaves.len() as u64;
        prop_assert!(!verify_inclusion(&wrong, index, size, &proof, &root(&leaves)));
    }

    #[test]
    fn proof_fails_for_wrong_size_unless_the_path_has_the_same_shape(
        (leaves, index) in leaves_and_index(300),
        other in 0u64..600,
    ) {
        let size = leaves.len() as u64;
        prop_assume!(other != size);
        let proof = inclusion_proof(&leaves, index).expect("index in range");
        let leaf = &leaves[index as usize];
        let verified = verify_inclusion(leaf, index, other, &proof, &root(&leaves));
        let same_shape = index < other && path_shape(index, other) == path_shape(index, size);
        prop_assert_eq!(verified, same_shape);
    }

    #[test]
    fn proof_fails_for_any_flipped_byte(
        (leaves, index) in leaves_and_index(100),
        target in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let proof = inclusion_proof(&leaves, index).expect("index in range");
        let tree_root = root(&leaves);
        let leaf = leaves[index as usize];
        let size = leaves.len() as u64;
        // Flip one bit in the leaf, the root or any proof element, chosen uniformly by byte.
        let proof_bytes = proof.len() * 32;
        let at = target.index(32 + 32 + proof_bytes);
        let mask = 1u8 << bit;
        let (mut leaf_x, mut root_x, mut proof_x) = (leaf, tree_root, proof.clone());
        if at < 32 {
            leaf_x[at] ^= mask;
        } else if at < 64 {
            root_x[at - 32] ^= mask;
        } else {
            let k = at - 64;
            proof_x[k / 32][k % 32] ^= mask;
        }
        prop_assert!(!verify_inclusion(&leaf_x, index, size, &proof_x, &root_x));
    }

    #[test]
    fn proof_fails_when_truncated_or_extended(
        (leaves, index) in leaves_and_index(300),
        extra in any::<[u8; 32]>(),
    ) {
        let proof = inclusion_proof(&leaves, index).expect("index in range");
        let tree_root = root(&leaves);
        let leaf = &leaves[index as usize];
        let size = leaves.len() as u64;
        if let Some((_, shorter)) = proof.split_last() {
            prop_assert!(!verify_inclusion(leaf, index, size, shorter, &tree_root));
        }
        let mut longer = proof.clone();
        longer.push(extra);
        prop_assert!(!verify_inclusion(leaf, index, size, &longer, &tree_root));
    }
}
