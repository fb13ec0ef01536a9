//! `tanso keys show|rotate` and `tanso verify-proof`: the node's signing keys, and checking an
//! inclusion proof offline.

use crate::{signing_key, signing_key_path, trusted_keys_path, Cli, KeysCmd};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::Path;
use tanso_core::checkpoint::key_id_of;
use tanso_engine::keys::{generate_signing_key, save_signing_key, TrustedKeys};
use tanso_engine::proof::InclusionProof;
use tanso_wire::out::event_json;

pub fn run(cli: &Cli, what: &KeysCmd) -> Result<i32> {
    match what {
        KeysCmd::Show => {
            let key = signing_key(&cli.keys)?;
            println!(
                "signing key {} ({})",
                hex::encode(key_id_of(key.verifying_key().as_bytes())),
                signing_key_path(&cli.keys).display()
            );
            let trusted = TrustedKeys::load(&trusted_keys_path(&cli.keys))?;
            for (id, k) in trusted.iter() {
                println!(
                    "trusted {} {} {}",
                    hex::encode(id),
                    k.label,
                    hex::encode(k.verifying_key.as_bytes())
                );
            }
            Ok(0)
        }
        KeysCmd::Rotate => {
            let path = signing_key_path(&cli.keys);
            let old = signing_key(&cli.keys)?;
            let old_id = hex::encode(key_id_of(old.verifying_key().as_bytes()));
            let new = generate_signing_key().context("generate signing key")?;
            let new_id = hex::encode(key_id_of(new.verifying_key().as_bytes()));
            // The new public half is trusted before the new key signs anything.
            TrustedKeys::add_to_file(
                &trusted_keys_path(&cli.keys),
                &new.verifying_key(),
                &format!("tanso-node-{new_id}"),
            )
            .context("add the new key to the trusted keys")?;
            let retired = cli.keys.join("retired");
            std::fs::create_dir_all(&retired)
                .with_context(|| format!("create {}", retired.display()))?;
            let kept = retired.join(format!("{old_id}.key"));
            std::fs::rename(&path, &kept)
                .with_context(|| format!("move {} to {}", path.display(), kept.display()))?;
            save_signing_key(&path, &new)
                .with_context(|| format!("save signing key {}", path.display()))?;
            println!("rotated: signing key {old_id} → {new_id}; the old key is in {} (back it up, then destroy it once no one needs to sign with it); its public half stays trusted", kept.display());
            Ok(0)
        }
    }
}

fn hex_field<const N: usize>(v: &Value, k: &str) -> Result<[u8; N]> {
    let s = v[k].as_str().with_context(|| format!("{k} is missing"))?;
    let b = hex::decode(s).with_context(|| format!("{k} is not hex"))?;
    b.try_into()
        .map_err(|_| anyhow::anyhow!("{k} is not {N} bytes"))
}

/// Reads a proof's JSON (`GET /api/v1/public/proofs/{chain}/{seq}`).
pub fn proof_from_json(v: &Value) -> Result<InclusionProof> {
    if v["format"] != "tanso-proof/1" {
        bail!("not a tanso-proof/1 document");
    }
    let num = |k: &str| v[k].as_u64().with_context(|| format!("{k} is missing"));
    let bytes = |k: &str| -> Result<Vec<u8>> {
        hex::decode(v[k].as_str().with_context(|| format!("{k} is missing"))?)
            .with_context(|| format!("{k} is not hex"))
    };
    let path = v["audit_path"]
        .as_array()
        .context("audit_path is missing")?
        .iter()
        .map(|h| {
            let b = hex::decode(h.as_str().unwrap_or_default()).context("audit_path is not hex")?;
            <[u8; 32]>::try_from(b)
                .map_err(|_| anyhow::anyhow!("audit_path holds a non-32-byte hash"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(InclusionProof {
        chain: v["chain"].as_str().context("chain is missing")?.to_owned(),
        seq: num("seq")?,
        entry: bytes("entry")?,
        entry_hash: hex_field::<32>(v, "entry_hash")?,
        leaf_index: num("leaf_index")?,
        tree_size: num("tree_size")?,
        audit_path: path,
        checkpoint: bytes("checkpoint")?,
    })
}

pub fn verify_proof(cli: &Cli, file: &str, trust: Option<&Path>) -> Result<i32> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).context("read standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("read {file}"))?
    };
    let trust_path = trust
        .map(Path::to_path_buf)
        .unwrap_or_else(|| trusted_keys_path(&cli.keys));
    let trusted = TrustedKeys::load(&trust_path)
        .with_context(|| format!("load trusted keys {}", trust_path.display()))?;
    let v: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            println!("verify-proof: FAILED the proof is not JSON: {e}");
            return Ok(1);
        }
    };
    let proof = match proof_from_json(&v) {
        Ok(p) => p,
        Err(e) => {
            println!("verify-proof: FAILED {e:#}");
            return Ok(1);
        }
    };
    match proof.verify(&trusted) {
        Ok(entry) => {
            println!(
                "verify-proof: ok {} #{} entry {} is leaf {} of {} under a checkpoint signed by a trusted key",
                proof.chain,
                proof.seq,
                hex::encode(proof.entry_hash),
                proof.leaf_index,
                proof.tree_size
            );
            println!("time {} command {}", entry.time, entry.command_id);
            for ev in &entry.events {
                println!("{}", event_json(ev));
            }
            Ok(0)
        }
        Err(e) => {
            println!("verify-proof: FAILED {e}");
            Ok(1)
        }
    }
}
