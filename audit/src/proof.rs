//! Inclusion proofs: one record, its audit path, and a signed checkpoint —
//! what an auditor can be handed instead of the whole log.

use super::checkpoint::Checkpoint;
use super::merkle::{self, Hash};
use super::note::VerifierKey;
use super::verify::{Failure, Reader};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

/// An RFC 6962 inclusion proof for one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Format version, 1.
    pub v: u32,
    /// The record's sequence number (its leaf index).
    pub seq: u64,
    /// The size of the tree the proof is for: a checkpoint's size.
    pub tree_size: u64,
    /// The audit path, hex, lowest level first.
    pub audit_path: Vec<String>,
}

/// Why a proof could not be made or does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The log failed verification while reading it.
    #[error("{0}")]
    Log(#[from] Failure),
    /// Anything else, in words.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> ProofError {
    ProofError::Invalid(msg.into())
}

/// The record `seq` (its line) and its proof in the tree of `size` records,
/// read from the log's segments (checked as they are read).
pub fn prove(
    logs: &[PathBuf],
    seq: u64,
    size: u64,
) -> Result<(Vec<u8>, InclusionProof), ProofError> {
    if seq >= size {
        return Err(invalid(format!(
            "record {seq} is not in a tree of {size} records"
        )));
    }
    let mut reader = Reader::new(logs);
    let mut leaves: Vec<Hash> = Vec::new();
    let mut line = None;
    while (leaves.len() as u64) < size {
        let Some(record) = reader.next_record()? else {
            return Err(invalid(format!(
                "the log has {} records, not {size}",
                leaves.len()
            )));
        };
        if record.seq == seq {
            line = Some(record.line);
        }
        leaves.push(record.leaf);
    }
    let path = merkle::inclusion_proof(&leaves, seq as usize);
    let line = line.ok_or_else(|| invalid(format!("record {seq} was not found")))?;
    Ok((
        line,
        InclusionProof {
            v: 1,
            seq,
            tree_size: size,
            audit_path: path.iter().map(hex::encode).collect(),
        },
    ))
}

/// Check that `record` (one line of the log) is in the log as of the
/// signed `checkpoint`, by `proof`. Returns the checkpoint.
pub fn verify_inclusion(
    record: &[u8],
    proof: &InclusionProof,
    checkpoint: &str,
    key: &VerifierKey,
) -> Result<Checkpoint, ProofError> {
    let record = record.strip_suffix(b"\n").unwrap_or(record);
    let cp =
        Checkpoint::open(checkpoint, key).map_err(|e| invalid(format!("BAD_SIGNATURE: {e}")))?;
    if cp.size != proof.tree_size {
        return Err(invalid(format!(
            "the proof is for a tree of {} records, the checkpoint is of {}",
            proof.tree_size, cp.size
        )));
    }
    let seq = serde_json::from_slice::<serde_json::Map<String, Value>>(record)
        .ok()
        .and_then(|r| r.get("seq").and_then(Value::as_u64));
    if seq != Some(proof.seq) {
        return Err(invalid(format!(
            "the record is not record {} of the proof",
            proof.seq
        )));
    }
    let path = proof
        .audit_path
        .iter()
        .map(|h| hex::decode(h).ok().and_then(|b| Hash::try_from(b).ok()))
        .collect::<Option<Vec<Hash>>>()
        .ok_or_else(|| invalid("the audit path is not hex SHA-256 hashes"))?;
    if !merkle::verify_inclusion(
        proof.seq,
        proof.tree_size,
        &merkle::leaf_hash(record),
        &path,
        &cp.root,
    ) {
        return Err(invalid(format!(
            "LEAF_MISMATCH: the record and path do not hash to the checkpoint's root at size {}",
            cp.size
        )));
    }
    Ok(cp)
}
