//! Checkpoints (docs/FORMAT.md §5.3): a sealed record of a store's audit head, kept outside
//! the store folder, that `angou kms audit verify --checkpoint` checks the store against — a
//! rolled-back or forked folder is caught even where the machine's high-water mark is gone.

use serde::{Deserialize, Serialize};

use super::integrity::Opened;
use super::store::{self, RootKeys};
use crate::error::{Error, KmsError};
use crate::kms::audit;
use crate::kms::key::hex;

const CHECKPOINT_FORMAT: &str = "angou-kms-checkpoint-v1";
const CHECKPOINT_LABEL: &[u8] = b"angou.dev/v2/kms checkpoint\0";

/// A sealed record of a store's audit head, kept outside the store folder, that
/// `audit verify --checkpoint` checks the store against (docs/FORMAT.md §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// `angou-kms-checkpoint-v1`.
    pub format: String,
    /// The store's id.
    pub store_id: String,
    /// The store's commit count when the checkpoint was made.
    pub generation: u64,
    /// Audit entries at that point.
    pub count: u64,
    /// Audit log bytes at that point.
    pub len: u64,
    /// Chain hash after `count` entries (hex).
    pub hash: String,
    /// When the checkpoint was made (RFC 3339).
    pub time: String,
    /// HMAC-SHA-256 over the fields above under a key derived from the root key (hex).
    pub mac: String,
}

fn checkpoint_mac(keys: &RootKeys, c: &Checkpoint) -> String {
    let fields = [
        c.format.as_bytes(),
        c.store_id.as_bytes(),
        &c.generation.to_be_bytes(),
        &c.count.to_be_bytes(),
        &c.len.to_be_bytes(),
        c.hash.as_bytes(),
        c.time.as_bytes(),
    ];
    let mut parts: Vec<&[u8]> = vec![CHECKPOINT_LABEL];
    let lens: Vec<[u8; 8]> = fields
        .iter()
        .map(|f| (f.len() as u64).to_be_bytes())
        .collect();
    for (f, l) in fields.iter().zip(&lens) {
        parts.push(l);
        parts.push(f);
    }
    hex(&store::hmac_parts(&keys.checkpoint, &parts))
}

pub(crate) fn make_checkpoint(o: &Opened, now: &str) -> Checkpoint {
    let mut c = Checkpoint {
        format: CHECKPOINT_FORMAT.into(),
        store_id: o.state.store_id.clone(),
        generation: o.state.generation,
        count: o.state.audit.count,
        len: o.state.audit.len,
        hash: o.state.audit.hash.clone(),
        time: now.into(),
        mac: String::new(),
    };
    c.mac = checkpoint_mac(&o.keys, &c);
    c
}

/// Checks that the opened store is the checkpointed one, at or after the checkpoint, with
/// the checkpointed history as a prefix of its own.
pub(crate) fn check_checkpoint(o: &Opened, c: &Checkpoint) -> Result<(), Error> {
    let rolled = |reason: String| -> Error { KmsError::RolledBack { reason }.into() };
    if c.format != CHECKPOINT_FORMAT {
        return Err(rolled(format!("unknown checkpoint format {:?}", c.format)));
    }
    if c.store_id != o.state.store_id {
        return Err(rolled(format!(
            "the checkpoint is for store {}, this is store {}",
            c.store_id, o.state.store_id
        )));
    }
    if !store::ct_eq(checkpoint_mac(&o.keys, c).as_bytes(), c.mac.as_bytes()) {
        return Err(rolled(
            "the checkpoint was modified or made under another root key".into(),
        ));
    }
    if o.state.generation < c.generation || o.state.audit.count < c.count {
        return Err(rolled(format!(
            "the store is at commit {} ({} entries) but the checkpoint of {} saw commit {} ({} entries): it was rolled back",
            o.state.generation, o.state.audit.count, c.time, c.generation, c.count
        )));
    }
    let prefix_ok = (c.len as usize) <= o.log.len()
        && audit::walk(&o.log[..c.len as usize], &[])
            .is_ok_and(|w| w.count == c.count && hex(&w.hash) == c.hash);
    if !prefix_ok {
        return Err(rolled(format!(
            "the store's first {} entries differ from the checkpoint of {}: its history forked or was rewritten",
            c.count, c.time
        )));
    }
    Ok(())
}
