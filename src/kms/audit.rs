//! The audit trail: one JSON line per operation, success or failure, hash-chained, with the
//! chain head sealed by an HMAC under a key derived from the root key (docs/FORMAT.md §5.4).
//!
//! `line_i = JSON(entry_i ∪ {"prev": h_{i-1}, "hash": h_i})`, `h_i = SHA-256(h_{i-1} ‖ JSON(entry_i ∪
//! {"prev": h_{i-1}}))`, `h_0` = 32 zero bytes, JSON with sorted keys. The head (count, byte
//! length, last hash) is MACed and stored in the state file, so editing, deleting, inserting or
//! reordering a line, or cutting the tail, is detected by `verify`. Entries never contain
//! plaintext or key bytes.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, KmsError};
use crate::kms::key::hex;
use crate::kms::store::{AUDIT_FILE, AuditHead, Paths, store_err};
use crate::secret::SecretArray;

const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const MAC_LABEL: &[u8] = b"angou.dev/v1/kms audit head\0";

/// Chain hash of an entry (whose `prev` is already set).
fn chain_hash(prev_hex: &str, entry: &Value) -> String {
    let mut h = Sha256::new();
    h.update(prev_hex.as_bytes());
    h.update(entry.to_string().as_bytes());
    hex(&h.finalize())
}

pub(crate) fn head_mac(key: &SecretArray<32>, count: u64, len: u64, hash: &str) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(MAC_LABEL);
    m.update(&count.to_be_bytes());
    m.update(&len.to_be_bytes());
    m.update(hash.as_bytes());
    hex(&m.finalize().into_bytes())
}

/// Compares two hex MACs in constant time (no early exit on the first differing byte).
fn macs_equal(a: &str, b: &str) -> bool {
    let diff = a
        .bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    a.len() == b.len() && std::hint::black_box(diff) == 0
}

/// Appends entries to the log (fsynced) and returns the new head. The caller commits the
/// head by saving the state file; until then the lines are an uncommitted tail.
pub(crate) fn append(
    paths: &Paths,
    head: &AuditHead,
    key: &SecretArray<32>,
    entries: Vec<Map<String, Value>>,
) -> Result<AuditHead, Error> {
    let path = paths.file(AUDIT_FILE);
    // Drop a torn or uncommitted tail left by an interrupted operation.
    let on_disk = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| store_err("cannot open the audit log", e))?;
    if on_disk > head.len {
        f.set_len(head.len)
            .map_err(|e| store_err("cannot repair the audit log", e))?;
    }
    let mut prev = if head.count == 0 {
        ZERO_HASH.to_owned()
    } else {
        head.hash.clone()
    };
    let mut count = head.count;
    let mut out = Vec::new();
    for mut entry in entries {
        count += 1;
        entry.insert("seq".into(), Value::from(count));
        entry.insert("prev".into(), Value::String(prev.clone()));
        let v = Value::Object(entry);
        let hash = chain_hash(&prev, &v);
        let mut obj = match v {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        obj.insert("hash".into(), Value::String(hash.clone()));
        out.extend_from_slice(Value::Object(obj).to_string().as_bytes());
        out.push(b'\n');
        prev = hash;
    }
    f.write_all(&out)
        .and_then(|()| f.sync_all())
        .map_err(|e| store_err("cannot append to the audit log", e))?;
    let len = on_disk.min(head.len) + out.len() as u64;
    Ok(AuditHead {
        count,
        len,
        mac: head_mac(key, count, len, &prev),
        hash: prev,
    })
}

/// Verifies the whole log against the sealed head. Returns the number of entries.
///
/// # Errors
/// [`KmsError::AuditTampered`] naming the first line that fails and why.
pub(crate) fn verify(paths: &Paths, head: &AuditHead, key: &SecretArray<32>) -> Result<u64, Error> {
    let tampered = |reason: String| -> Error { KmsError::AuditTampered { reason }.into() };
    let fresh = head.count == 0 && head.mac.is_empty();
    if !fresh && !macs_equal(&head_mac(key, head.count, head.len, &head.hash), &head.mac) {
        return Err(tampered(
            "the sealed head does not verify under this store's root key".into(),
        ));
    }
    let bytes = match fs::read(paths.file(AUDIT_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(store_err("cannot read the audit log", e)),
    };
    if (bytes.len() as u64) < head.len {
        return Err(tampered(format!(
            "the log is {} bytes but {} were sealed: lines were deleted or the tail was cut",
            bytes.len(),
            head.len
        )));
    }
    let sealed = &bytes[..head.len as usize];
    let mut prev = ZERO_HASH.to_owned();
    let mut n = 0u64;
    for (i, line) in sealed
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let lineno = i + 1;
        let mut obj: Map<String, Value> = serde_json::from_slice(line)
            .map_err(|_| tampered(format!("line {lineno} is not a JSON object")))?;
        let stored = obj
            .remove("hash")
            .and_then(|h| h.as_str().map(str::to_owned))
            .ok_or_else(|| tampered(format!("line {lineno} has no hash")))?;
        if obj.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            return Err(tampered(format!(
                "line {lineno} does not follow line {}: a line was deleted, inserted or reordered",
                lineno - 1
            )));
        }
        if obj.get("seq").and_then(Value::as_u64) != Some(lineno as u64) {
            return Err(tampered(format!(
                "line {lineno} has the wrong sequence number"
            )));
        }
        let computed = chain_hash(&prev, &Value::Object(obj));
        if computed != stored {
            return Err(tampered(format!("line {lineno} was edited")));
        }
        prev = stored;
        n += 1;
    }
    if n != head.count || (n > 0 && prev != head.hash) {
        return Err(tampered(format!(
            "the log holds {n} sealed entries but the head seals {}",
            head.count
        )));
    }
    let extra = bytes.len() as u64 - head.len;
    if extra > 0 {
        return Err(tampered(format!(
            "{extra} bytes follow the sealed head: an interrupted operation (repaired on the next operation) or an insertion"
        )));
    }
    Ok(n)
}

/// Reads all sealed entries (for `angou kms audit`).
pub(crate) fn read_entries(paths: &Paths, head: &AuditHead) -> Result<Vec<Value>, Error> {
    let bytes = match fs::read(paths.file(AUDIT_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(store_err("cannot read the audit log", e)),
    };
    let end = (head.len as usize).min(bytes.len());
    Ok(bytes[..end]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}
