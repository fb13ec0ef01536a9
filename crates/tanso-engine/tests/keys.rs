//! Signing key files, the trusted-keys file, and checkpoint signing and verification.

use std::fs;
use std::path::Path;

use ed25519_dalek::SigningKey;
use tanso_core::checkpoint::{key_id_of, Checkpoint, SignedCheckpoint};
use tanso_engine::keys::{
    generate_signing_key, load_signing_key, save_signing_key, sign_checkpoint, verify_checkpoint,
    KeyError, TrustedKeys,
};

/// A deterministic key, so failures reproduce.
fn fixed_key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32])
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        key_id: [0; 8],
        chain: "jcm-in".to_owned(),
        seq: 42,
        head_hash: [0x11; 32],
        merkle_root: [0x22; 32],
        state_hash: [0x33; 32],
        time_micros: 1_767_225_600_000_000,
    }
}

fn trusting(path: &Path, keys: &[(&SigningKey, &str)]) -> TrustedKeys {
    for (key, label) in keys {
        TrustedKeys::add_to_file(path, &key.verifying_key(), label).expect("add trusted key");
    }
    TrustedKeys::load(path).expect("load trusted keys")
}

#[test]
fn generated_keys_differ() {
    let a = generate_signing_key().expect("randomness");
    let b = generate_signing_key().expect("randomness");
    assert_ne!(a.to_bytes(), b.to_bytes());
}

#[test]
fn signing_key_round_trips_through_its_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/keys/node.key");
    let key = generate_signing_key().expect("randomness");
    save_signing_key(&path, &key).expect("save key");
    let loaded = load_signing_key(&path).expect("load key");
    assert_eq!(loaded.to_bytes(), key.to_bytes());
    let text = fs::read_to_string(&path).expect("read key file");
    assert_eq!(text, format!("{}\n", hex::encode(key.to_bytes())));
}

#[cfg(unix)]
#[test]
fn signing_key_file_is_mode_0600_and_new_dirs_0700() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let key_dir = dir.path().join("tanso-keys");
    let path = key_dir.join("node.key");
    save_signing_key(&path, &fixed_key(1)).expect("save key");
    let mode = fs::metadata(&path).expect("stat key").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = fs::metadata(&key_dir)
        .expect("stat dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[test]
fn save_signing_key_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.key");
    save_signing_key(&path, &fixed_key(1)).expect("save key");
    let err = save_signing_key(&path, &fixed_key(2)).expect_err("second save must fail");
    assert!(
        matches!(err, KeyError::SigningKeyFileExists { .. }),
        "{err:?}"
    );
    assert_eq!(
        load_signing_key(&path).expect("load key").to_bytes(),
        fixed_key(1).to_bytes()
    );
}

#[test]
fn malformed_signing_key_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.key");
    for bad in ["", "abcd", &"zz".repeat(32), &"00".repeat(33)] {
        fs::write(&path, bad).expect("write");
        let err = load_signing_key(&path).expect_err("malformed key");
        assert!(
            matches!(err, KeyError::MalformedSigningKey { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        // The message never echoes the file's content, which may be a secret.
        assert!(bad.is_empty() || !err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn missing_signing_key_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent.key");
    let err = load_signing_key(&path).expect_err("missing key");
    assert!(matches!(err, KeyError::ReadSigningKey { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.key"), "{err}");
}

#[test]
fn trusted_keys_round_trip_and_add_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("etc/trusted_keys");
    let a = fixed_key(1).verifying_key();
    let b = fixed_key(2).verifying_key();
    assert!(TrustedKeys::add_to_file(&path, &a, "node a").expect("add a"));
    assert!(TrustedKeys::add_to_file(&path, &b, "node-b").expect("add b"));
    let before = fs::read_to_string(&path).expect("read");
    assert!(!TrustedKeys::add_to_file(&path, &a, "node a again").expect("re-add a"));
    assert_eq!(fs::read_to_string(&path).expect("read"), before);
    assert_eq!(
        before,
        format!(
            "ed25519 {} node a\ned25519 {} node-b\n",
            hex::encode(a.as_bytes()),
            hex::encode(b.as_bytes())
        )
    );

    let trusted = TrustedKeys::load(&path).expect("load");
    assert_eq!(trusted.len(), 2);
    let id_a = key_id_of(a.as_bytes());
    assert_eq!(trusted.get(&id_a), Some(a));
    assert_eq!(trusted.label(&id_a), Some("node a"));
    assert_eq!(trusted.get(&key_id_of(b.as_bytes())), Some(b));
    assert_eq!(trusted.get(&[0; 8]), None);
}

#[test]
fn trusted_keys_file_allows_comments_and_blank_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trusted_keys");
    let a = fixed_key(1).verifying_key();
    fs::write(
        &path,
        format!(
            "# Tanso trusted checkpoint keys\n\n   \ned25519   {}\tregistry node 1  # since 2026\n",
            hex::encode(a.as_bytes())
        ),
    )
    .expect("write");
    let trusted = TrustedKeys::load(&path).expect("load");
    assert_eq!(trusted.len(), 1);
    assert_eq!(
        trusted.label(&key_id_of(a.as_bytes())),
        Some("registry node 1")
    );
    // Appending keeps the hand-written lines and adds a newline the file lacked.
    fs::write(&path, format!("ed25519 {} a", hex::encode(a.as_bytes()))).expect("write");
    let b = fixed_key(2).verifying_key();
    assert!(TrustedKeys::add_to_file(&path, &b, "b").expect("add b"));
    assert_eq!(TrustedKeys::load(&path).expect("load").len(), 2);
}

#[test]
fn malformed_trusted_keys_line_is_an_error_naming_the_line_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trusted_keys");
    let good = hex::encode(fixed_key(1).verifying_key().as_bytes());
    let cases = [
        format!("rsa {good} label"),
        format!("ed25519 {good}"),
        "ed25519 abcd label".to_owned(),
        format!("ed25519 {} label", "zz".repeat(32)),
        format!("ed25519 {good}00 label"),
        // The identity point: a valid encoding, but a weak (small-order) key.
        format!("ed25519 01{} label", "00".repeat(31)),
        format!("ed25519 {good} duplicate"),
    ];
    for bad in cases {
        fs::write(&path, format!("# header\ned25519 {good} first\n{bad}\n")).expect("write");
        let err = TrustedKeys::load(&path).expect_err("malformed line");
        match &err {
            KeyError::MalformedTrustedKeys { line, .. } => assert_eq!(*line, 3, "{bad}: {err}"),
            other => panic!("{bad}: expected MalformedTrustedKeys, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}

#[test]
fn add_to_file_refuses_bad_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trusted_keys");
    let a = fixed_key(1).verifying_key();
    for label in ["", " ", " padded", "has # hash", "two\nlines"] {
        let err = TrustedKeys::add_to_file(&path, &a, label).expect_err("bad label");
        assert!(
            matches!(err, KeyError::InvalidLabel { .. }),
            "{label:?}: {err:?}"
        );
    }
    assert!(!path.exists());
}

#[test]
fn signed_checkpoint_verifies_and_survives_encoding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = fixed_key(7);
    let trusted = trusting(&dir.path().join("trusted_keys"), &[(&key, "node")]);
    let signed = sign_checkpoint(&key, checkpoint()).expect("sign");
    assert_eq!(
        signed.checkpoint.key_id,
        key_id_of(key.verifying_key().as_bytes())
    );
    verify_checkpoint(&trusted, &signed).expect("verify");
    let decoded = SignedCheckpoint::decode(&signed.encode().expect("encode")).expect("decode");
    assert_eq!(decoded, signed);
    verify_checkpoint(&trusted, &decoded).expect("verify decoded");
}

#[test]
fn checkpoint_signed_by_untrusted_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trusted = trusting(&dir.path().join("trusted_keys"), &[(&fixed_key(1), "a")]);
    let stranger = fixed_key(9);
    let signed = sign_checkpoint(&stranger, checkpoint()).expect("sign");
    let err = verify_checkpoint(&trusted, &signed).expect_err("untrusted");
    assert!(
        matches!(err, KeyError::UntrustedKey { key_id } if key_id == signed.checkpoint.key_id),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains(&hex::encode(signed.checkpoint.key_id)));
    // Nothing is trusted by an empty set either.
    let err = verify_checkpoint(&TrustedKeys::new(), &signed).expect_err("untrusted");
    assert!(matches!(err, KeyError::UntrustedKey { .. }), "{err:?}");
}

/// Flips each bit of every byte of the encoded checkpoint after the domain separator, one at
/// a time. Each flip must be refused: by the decoder (the chain name's length or UTF-8), as an
/// untrusted key (a key id byte: no other key is trusted), or otherwise as a bad signature.
#[test]
fn flipped_bit_in_any_field_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = fixed_key(3);
    let trusted = trusting(&dir.path().join("trusted_keys"), &[(&key, "node")]);
    let signed = sign_checkpoint(&key, checkpoint()).expect("sign");
    let bytes = signed.encode().expect("encode");
    let key_id_bytes = 19..27;
    let chain_len_bytes = 27..29;
    let mut bad_signatures = 0;
    for at in 19..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << bit;
            let decoded = SignedCheckpoint::decode(&flipped);
            if chain_len_bytes.contains(&at) {
                assert!(decoded.is_err(), "byte {at} bit {bit} decoded");
                continue;
            }
            let Ok(decoded) = decoded else {
                // Only a flip that breaks the chain name's UTF-8 may fail to decode.
                assert!((29..35).contains(&at), "byte {at} bit {bit} did not decode");
                continue;
            };
            let err = verify_checkpoint(&trusted, &decoded).expect_err("tampered checkpoint");
            if key_id_bytes.contains(&at) {
                assert!(
                    matches!(err, KeyError::UntrustedKey { .. }),
                    "byte {at}: {err:?}"
                );
            } else {
                assert!(
                    matches!(err, KeyError::BadSignature { .. }),
                    "byte {at}: {err:?}"
                );
                bad_signatures += 1;
            }
        }
    }
    // Every field after the key id and chain length (chain 6, seq 8, three hashes 96, time 8,
    // signature 64 bytes) was exercised, less the chain flips that broke UTF-8.
    assert!(bad_signatures > (8 + 96 + 8 + 64) * 8, "{bad_signatures}");
}

#[test]
fn checkpoint_claiming_another_trusted_key_id_is_a_bad_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = fixed_key(1);
    let other = fixed_key(2);
    let trusted = trusting(
        &dir.path().join("trusted_keys"),
        &[(&signer, "signer"), (&other, "other")],
    );
    let mut signed = sign_checkpoint(&signer, checkpoint()).expect("sign");
    signed.checkpoint.key_id = key_id_of(other.verifying_key().as_bytes());
    let err = verify_checkpoint(&trusted, &signed).expect_err("wrong key id");
    assert!(matches!(err, KeyError::BadSignature { .. }), "{err:?}");
}

#[test]
fn sign_checkpoint_overwrites_a_stale_key_id() {
    let key = fixed_key(4);
    let mut stale = checkpoint();
    stale.key_id = [0xff; 8];
    let signed = sign_checkpoint(&key, stale).expect("sign");
    assert_eq!(
        signed.checkpoint.key_id,
        key_id_of(key.verifying_key().as_bytes())
    );
    let mut trusted = TrustedKeys::new();
    assert!(trusted
        .insert(key.verifying_key(), "in memory")
        .expect("insert"));
    assert!(!trusted
        .insert(key.verifying_key(), "again")
        .expect("insert"));
    verify_checkpoint(&trusted, &signed).expect("verify");
}
