//! The audit trail: one JSON line per operation, success or failure, hash-chained; the chain
//! head (line count, byte length, last chain hash) is part of the sealed store state, so
//! editing, deleting, inserting or reordering a line, or cutting or extending the log, is
//! detected before any operation acts (docs/FORMAT.md §5.4).
//!
//! `h_0` = 32 zero bytes; `h_i = SHA-256("angou.dev/v2/kms audit\0" ‖ h_{i-1} ‖ line_i)` over
//! the line's exact bytes without its `\n`. Lines are compact JSON with sorted keys and a
//! `seq` member counting from 1. Entries never contain plaintext or key bytes.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::store::AuditHead;
use crate::error::{Error, KmsError};
use crate::kms::key::hex;

/// The chain hash of the empty log, hex.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const CHAIN_LABEL: &[u8] = b"angou.dev/v2/kms audit\0";

pub(crate) fn tampered(reason: impl Into<String>) -> Error {
    KmsError::AuditTampered {
        reason: reason.into(),
    }
    .into()
}

fn step(prev: &[u8; 32], line: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CHAIN_LABEL);
    h.update(prev);
    h.update(line);
    h.finalize().into()
}

pub(crate) fn parse_hash(hex_text: &str) -> Option<[u8; 32]> {
    let b = hex_text.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        if s.bytes().any(|c| c.is_ascii_uppercase()) {
            return None;
        }
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Encodes `entries` as the lines that follow `head`; returns the bytes and the new head.
pub(crate) fn encode(head: &AuditHead, entries: Vec<Map<String, Value>>) -> (Vec<u8>, AuditHead) {
    let mut prev = parse_hash(&head.hash).unwrap_or([0; 32]);
    let mut count = head.count;
    let mut out = Vec::new();
    for mut entry in entries {
        count += 1;
        entry.insert("seq".into(), Value::from(count));
        // serde_json's Map is sorted and compact output never contains a raw newline.
        let line = Value::Object(entry).to_string();
        prev = step(&prev, line.as_bytes());
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    let len = head.len + out.len() as u64;
    (
        out,
        AuditHead {
            count,
            len,
            hash: hex(&prev),
        },
    )
}

/// The chain over a log prefix, with the hash after each of the `probe` line counts.
pub(crate) struct Walk {
    pub count: u64,
    pub hash: [u8; 32],
    /// `(count, hash after that many lines)` for each requested count reached.
    pub probes: Vec<(u64, [u8; 32])>,
}

/// Walks whole lines of `bytes` (which must end with `\n` unless empty) from the genesis.
pub(crate) fn walk(bytes: &[u8], probe: &[u64]) -> Result<Walk, Error> {
    walk_from(0, [0; 32], bytes, probe)
}

/// Walks whole lines of `bytes` that follow `count` lines ending in chain hash `hash`.
pub(crate) fn walk_from(
    count: u64,
    hash: [u8; 32],
    bytes: &[u8],
    probe: &[u64],
) -> Result<Walk, Error> {
    if !bytes.is_empty() && bytes.last() != Some(&b'\n') {
        return Err(tampered("the sealed log does not end with a whole line"));
    }
    let mut w = Walk {
        count,
        hash,
        probes: Vec::new(),
    };
    if probe.contains(&count) {
        w.probes.push((count, w.hash));
    }
    if bytes.is_empty() {
        return Ok(w);
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for line in body.split(|b| *b == b'\n') {
        w.hash = step(&w.hash, line);
        w.count += 1;
        if probe.contains(&w.count) {
            w.probes.push((w.count, w.hash));
        }
    }
    Ok(w)
}

/// Checks that `log` is exactly the sealed log `head` describes.
///
/// # Errors
/// [`KmsError::AuditTampered`] saying how it differs.
pub(crate) fn check(log: &[u8], head: &AuditHead, probe: &[u64]) -> Result<Walk, Error> {
    let sealed = head.len;
    let have = log.len() as u64;
    if have < sealed {
        return Err(tampered(format!(
            "the log is {have} bytes but {sealed} were sealed: lines were deleted or the tail was cut"
        )));
    }
    if have > sealed {
        return Err(tampered(format!(
            "{} bytes follow the sealed end of the log and no interrupted commit accounts for them: lines were appended",
            have - sealed
        )));
    }
    let w = walk(log, probe)?;
    let want = parse_hash(&head.hash);
    if w.count != head.count || want != Some(w.hash) {
        return Err(tampered(format!(
            "the log's {} lines do not hash to the sealed head ({} lines): {}",
            w.count,
            head.count,
            describe_damage(log)
        )));
    }
    Ok(w)
}

/// Names the first line whose sequence number is out of place, or says a line was edited.
fn describe_damage(log: &[u8]) -> String {
    for (i, line) in log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let n = i as u64 + 1;
        let seq = serde_json::from_slice::<Value>(line)
            .ok()
            .and_then(|v| v.get("seq").and_then(Value::as_u64));
        match seq {
            None => return format!("line {n} is not an audit entry"),
            Some(s) if s != n => {
                return format!(
                    "line {n} carries sequence number {s}: lines were deleted, inserted or reordered"
                );
            }
            Some(_) => {}
        }
    }
    "a line was edited".into()
}

/// Checks every sealed line's JSON and sequence number (for `audit verify`; the chain itself
/// is checked by [`check`]). Returns the number of entries.
pub(crate) fn check_entries(log: &[u8]) -> Result<u64, Error> {
    let mut n = 0u64;
    for line in log.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        n += 1;
        let v: Map<String, Value> = serde_json::from_slice(line)
            .map_err(|_| tampered(format!("line {n} is not a JSON object")))?;
        if v.get("seq").and_then(Value::as_u64) != Some(n) {
            return Err(tampered(format!("line {n} has the wrong sequence number")));
        }
    }
    Ok(n)
}

/// Parses the sealed entries (for `angou kms audit`).
pub(crate) fn entries(log: &[u8]) -> Vec<Value> {
    log.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}
