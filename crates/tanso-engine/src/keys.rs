//! Checkpoint signing keys and the set of keys a node trusts: generating, saving and loading a
//! node's ed25519 signing key, reading and appending the trusted-keys file, and signing and
//! verifying [`SignedCheckpoint`]s.
//!
//! This module owns the key files and the signature check. The checkpoint's byte layout and
//! key ids belong to `tanso_core::checkpoint`; this module must not define another encoding,
//! must never log, print or put a secret seed in an error message, and must not trust a key
//! that did not come from the trusted-keys file or an explicit [`TrustedKeys::insert`].
//!
//! # Files
//!
//! A signing key file holds the 32-byte ed25519 seed as 64 lowercase hex digits and a newline,
//! with mode 0600; [`save_signing_key`] refuses to overwrite an existing file, so a key is
//! never lost by accident.
//!
//! A trusted-keys file has one key a line, `ed25519 <64 hex digits of the public key> <label>`.
//! Everything from a `#` to the end of the line is a comment, blank lines are skipped, and the
//! label is the rest of the line (it may hold spaces, but no `#`). A key is found by its key id,
//! [`key_id_of`] its public key.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use tanso_core::checkpoint::{key_id_of, Checkpoint, CheckpointEncodeError, SignedCheckpoint};

/// Unix permissions of a signing key file: read and write for the owner only.
pub const SIGNING_KEY_FILE_MODE: u32 = 0o600;

/// The only algorithm name a trusted-keys line may start with.
pub const ALGORITHM: &str = "ed25519";

/// Length of a hex-encoded 32-byte seed or public key.
const KEY_HEX_LEN: usize = 64;

/// Why a key could not be made, read, written or trusted, or a checkpoint not signed or
/// verified.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot gather randomness for a new signing key: {0}")]
    Randomness(getrandom::Error),
    #[error("signing key file {} already exists; refusing to overwrite it", path.display())]
    SigningKeyFileExists { path: PathBuf },
    #[error("cannot write signing key file {}", path.display())]
    WriteSigningKey {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read signing key file {}", path.display())]
    ReadSigningKey {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("malformed signing key file {}: {reason}", path.display())]
    MalformedSigningKey { path: PathBuf, reason: &'static str },
    #[error("cannot read trusted keys file {}", path.display())]
    ReadTrustedKeys {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write trusted keys file {}", path.display())]
    WriteTrustedKeys {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("malformed trusted keys file {}, line {line}: {reason}", path.display())]
    MalformedTrustedKeys {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("invalid label {label:?} for trusted keys file {}: {reason}", path.display())]
    InvalidLabel {
        path: PathBuf,
        label: String,
        reason: &'static str,
    },
    #[error(
        "trusted keys file {} already holds a different key with key id {}",
        path.display(),
        hex::encode(.key_id)
    )]
    KeyIdTaken { path: PathBuf, key_id: [u8; 8] },
    #[error("key id {} is shared by two different trusted keys", hex::encode(.key_id))]
    KeyIdCollision { key_id: [u8; 8] },
    #[error("checkpoint is signed by untrusted key {}", hex::encode(.key_id))]
    UntrustedKey { key_id: [u8; 8] },
    #[error(
        "bad signature on checkpoint of chain {chain:?} at seq {seq} by key {}",
        hex::encode(.key_id)
    )]
    BadSignature {
        key_id: [u8; 8],
        chain: String,
        seq: u64,
    },
    #[error(transparent)]
    Encode(#[from] CheckpointEncodeError),
}

/// A fresh signing key from the operating system's random source.
pub fn generate_signing_key() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(KeyError::Randomness)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes `key`'s seed to a new file at `path` with mode 0600, creating missing parent
/// directories with mode 0700. Refuses to replace an existing file.
pub fn save_signing_key(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let write_error = |source| KeyError::WriteSigningKey {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dirs(parent).map_err(write_error)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(SIGNING_KEY_FILE_MODE);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            KeyError::SigningKeyFileExists {
                path: path.to_owned(),
            }
        } else {
            write_error(source)
        }
    })?;
    let written = write_seed(&mut file, key);
    if let Err(source) = written {
        // Leave no half-written key behind to block the next attempt.
        drop(file);
        let _ = fs::remove_file(path);
        return Err(write_error(source));
    }
    sync_parent(path).map_err(write_error)
}

fn write_seed(file: &mut fs::File, key: &SigningKey) -> io::Result<()> {
    #[cfg(unix)]
    {
        // The umask can only clear bits of the mode given at creation; set it exactly anyway.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(SIGNING_KEY_FILE_MODE))?;
    }
    let mut text = hex::encode(key.as_bytes());
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn create_private_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes a new directory entry durable by syncing its directory.
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Reads a signing key written by [`save_signing_key`]: 64 hex digits, surrounding whitespace
/// allowed.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let bytes = fs::read(path).map_err(|source| KeyError::ReadSigningKey {
        path: path.to_owned(),
        source,
    })?;
    let malformed = |reason| KeyError::MalformedSigningKey {
        path: path.to_owned(),
        reason,
    };
    let text = bytes.trim_ascii();
    if text.len() != KEY_HEX_LEN {
        return Err(malformed("expected 64 hex digits of an ed25519 seed"));
    }
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text, &mut seed)
        .map_err(|_| malformed("expected 64 hex digits of an ed25519 seed"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// One key of the trusted set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub verifying_key: VerifyingKey,
    pub label: String,
}

/// The public keys whose checkpoints a node accepts, by key id.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: BTreeMap<[u8; 8], TrustedKey>,
}

impl TrustedKeys {
    /// An empty set, which trusts nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a trusted-keys file. A missing file is an error: a node told to trust a file
    /// that is not there should stop, not trust nobody silently.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = fs::read_to_string(path).map_err(|source| KeyError::ReadTrustedKeys {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a trusted-keys file; `path` only names the file in errors.
    fn parse(text: &str, path: &Path) -> Result<Self, KeyError> {
        let mut keys = BTreeMap::new();
        let mut line_of: BTreeMap<[u8; 8], usize> = BTreeMap::new();
        for (line, raw) in (1usize..).zip(text.lines()) {
            let malformed = |reason: String| KeyError::MalformedTrustedKeys {
                path: path.to_owned(),
                line,
                reason,
            };
            let Some((verifying_key, label)) = parse_line(raw).map_err(malformed)? else {
                continue;
            };
            let key_id = key_id_of(verifying_key.as_bytes());
            if let Some(first) = line_of.get(&key_id) {
                let reason = match keys.get(&key_id) {
                    Some(TrustedKey {
                        verifying_key: known,
                        ..
                    }) if *known == verifying_key => {
                        format!("key is already listed on line {first}")
                    }
                    _ => format!("key id collides with the key on line {first}"),
                };
                return Err(malformed(reason));
            }
            line_of.insert(key_id, line);
            keys.insert(
                key_id,
                TrustedKey {
                    verifying_key,
                    label,
                },
            );
        }
        Ok(Self { keys })
    }

    /// Trusts `verifying_key` in memory only. Returns `false` if it was already trusted.
    pub fn insert(
        &mut self,
        verifying_key: VerifyingKey,
        label: impl Into<String>,
    ) -> Result<bool, KeyError> {
        let key_id = key_id_of(verifying_key.as_bytes());
        match self.keys.get(&key_id) {
            Some(known) if known.verifying_key == verifying_key => Ok(false),
            Some(_) => Err(KeyError::KeyIdCollision { key_id }),
            None => {
                self.keys.insert(
                    key_id,
                    TrustedKey {
                        verifying_key,
                        label: label.into(),
                    },
                );
                Ok(true)
            }
        }
    }

    /// The trusted public key with this key id.
    pub fn get(&self, key_id: &[u8; 8]) -> Option<VerifyingKey> {
        self.keys.get(key_id).map(|known| known.verifying_key)
    }

    /// The label the trusted key with this key id was given.
    pub fn label(&self, key_id: &[u8; 8]) -> Option<&str> {
        self.keys.get(key_id).map(|known| known.label.as_str())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every trusted key with its key id, in key id order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8; 8], &TrustedKey)> {
        self.keys.iter()
    }

    /// Appends `verifying_key` to the trusted-keys file at `path`, creating the file and its
    /// parent directories if missing. Idempotent: returns `Ok(false)` without writing when the
    /// file already lists the key, whatever its label there. Not safe against two writers at
    /// once; the file is the operator's, edited from one place.
    pub fn add_to_file(
        path: &Path,
        verifying_key: &VerifyingKey,
        label: &str,
    ) -> Result<bool, KeyError> {
        if let Err(reason) = check_label(label) {
            return Err(KeyError::InvalidLabel {
                path: path.to_owned(),
                label: label.to_owned(),
                reason,
            });
        }
        let write_error = |source| KeyError::WriteTrustedKeys {
            path: path.to_owned(),
            source,
        };
        let existing = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(source) if source.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(KeyError::ReadTrustedKeys {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let trusted = Self::parse(&existing, path)?;
        let key_id = key_id_of(verifying_key.as_bytes());
        match trusted.get(&key_id) {
            Some(known) if known == *verifying_key => return Ok(false),
            Some(_) => {
                return Err(KeyError::KeyIdTaken {
                    path: path.to_owned(),
                    key_id,
                })
            }
            None => {}
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(write_error)?;
        }
        let mut line = String::new();
        if !existing.is_empty() && !existing.ends_with('\n') {
            line.push('\n');
        }
        line.push_str(&format!(
            "{ALGORITHM} {} {label}\n",
            hex::encode(verifying_key.as_bytes())
        ));
        let mut file = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(write_error)?;
        file.write_all(line.as_bytes()).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        sync_parent(path).map_err(write_error)?;
        Ok(true)
    }
}

/// One line of a trusted-keys file: `None` for a blank or comment line.
fn parse_line(raw: &str) -> Result<Option<(VerifyingKey, String)>, String> {
    let content = match raw.split_once('#') {
        Some((before, _comment)) => before,
        None => raw,
    }
    .trim();
    if content.is_empty() {
        return Ok(None);
    }
    let usage = "expected `ed25519 <64 hex digits of the public key> <label>`";
    let (algorithm, rest) = content
        .split_once(char::is_whitespace)
        .ok_or_else(|| usage.to_owned())?;
    if algorithm != ALGORITHM {
        return Err(format!(
            "unknown algorithm {algorithm:?}, expected {ALGORITHM:?}"
        ));
    }
    let (key_hex, label) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("missing label; {usage}"))?;
    if key_hex.len() != KEY_HEX_LEN {
        return Err(format!(
            "public key is {} characters, expected 64 hex digits",
            key_hex.len()
        ));
    }
    let mut public_key = [0u8; 32];
    hex::decode_to_slice(key_hex, &mut public_key)
        .map_err(|_| "public key is not 64 hex digits".to_owned())?;
    let verifying_key = VerifyingKey::from_bytes(&public_key)
        .map_err(|_| "public key is not a valid ed25519 point".to_owned())?;
    if verifying_key.is_weak() {
        return Err("public key is a weak (small-order) ed25519 key".to_owned());
    }
    Ok(Some((verifying_key, label.trim().to_owned())))
}

/// A label must read back as written: one line, no comment mark, no edge whitespace.
fn check_label(label: &str) -> Result<(), &'static str> {
    if label.trim().is_empty() {
        return Err("label is empty");
    }
    if label.trim() != label {
        return Err("label starts or ends with whitespace");
    }
    if label.contains('#') {
        return Err("label contains `#`, which starts a comment");
    }
    if label.chars().any(char::is_control) {
        return Err("label contains a control character");
    }
    Ok(())
}

/// Signs `checkpoint` with `key`, first setting its key id to the key's.
pub fn sign_checkpoint(
    key: &SigningKey,
    checkpoint: Checkpoint,
) -> Result<SignedCheckpoint, KeyError> {
    let checkpoint = Checkpoint {
        key_id: key_id_of(key.verifying_key().as_bytes()),
        ..checkpoint
    };
    let signature = key.sign(&checkpoint.signing_bytes()?).to_bytes();
    Ok(SignedCheckpoint {
        checkpoint,
        signature,
    })
}

/// Checks that `signed` carries a valid strict ed25519 signature by the trusted key its key id
/// names. [`KeyError::UntrustedKey`] when no trusted key has that id,
/// [`KeyError::BadSignature`] when the signature does not hold.
pub fn verify_checkpoint(trusted: &TrustedKeys, signed: &SignedCheckpoint) -> Result<(), KeyError> {
    let checkpoint = &signed.checkpoint;
    let key_id = checkpoint.key_id;
    let verifying_key = trusted
        .get(&key_id)
        .ok_or(KeyError::UntrustedKey { key_id })?;
    let message = checkpoint.signing_bytes()?;
    let signature = Signature::from_bytes(&signed.signature);
    verifying_key
        .verify_strict(&message, &signature)
        .map_err(|_| KeyError::BadSignature {
            key_id,
            chain: checkpoint.chain.clone(),
            seq: checkpoint.seq,
        })
}
