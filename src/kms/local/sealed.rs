//! The sealed files of a store (docs/FORMAT.md §5.3): `store.json` (the state), `store.next`
//! (a commit intent: the next state and the audit lines it adds) and the records of
//! `store.wal` (the same, one per line). Each is a JSON envelope whose MAC, under the state
//! MAC key, covers the exact bytes of its `state` member and of its audit tail, with a label
//! that says which of the three it is, so none can stand in for another.

use std::fs;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::store::{
    PENDING_FILE, Paths, RootKeys, STATE_FILE, STATE_FORMAT, State, atomic_write, ct_eq,
    hmac_parts, read_state_bytes, store_err, tampered,
};
use crate::error::{Error, KmsError};
use crate::kms::key::hex;

const STATE_FORMAT_V1: &str = "angou-kms-store-v1";

/// Which sealed file an envelope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `store.json`: a state, no tail.
    State,
    /// `store.next`: a state and its tail.
    Pending,
    /// A record of `store.wal`: a state and its tail, on one line.
    Wal,
}

impl Kind {
    fn label(self) -> &'static [u8] {
        match self {
            Kind::State => b"angou.dev/v2/kms state\0",
            Kind::Pending => b"angou.dev/v2/kms pending\0",
            Kind::Wal => b"angou.dev/v2/kms wal\0",
        }
    }

    fn has_tail(self) -> bool {
        self != Kind::State
    }
}

/// The sealed envelope of `store.json`, `store.next` and a `store.wal` record.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    format: String,
    mac: String,
    /// base64 of the audit lines this commit appends (`store.next` and WAL records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tail: Option<String>,
    #[serde(borrow)]
    state: &'a RawValue,
}

fn seal(keys: &RootKeys, kind: Kind, state: &[u8], tail: &[u8]) -> [u8; 32] {
    hmac_parts(
        &keys.state,
        &[
            kind.label(),
            &(state.len() as u64).to_be_bytes(),
            state,
            &(tail.len() as u64).to_be_bytes(),
            tail,
        ],
    )
}

/// The sealed bytes of `state` (and `tail`, for the kinds that carry one). `store.json` and
/// `store.next` are pretty-printed and end in LF; a WAL record is one compact line without
/// its LF.
pub(crate) fn encode(
    keys: &RootKeys,
    kind: Kind,
    state: &State,
    tail: &[u8],
) -> Result<Vec<u8>, Error> {
    use base64ct::Encoding;
    let fail = |e: serde_json::Error| store_err("cannot encode the key store", e);
    let text = if kind == Kind::Wal {
        serde_json::to_string(state)
    } else {
        serde_json::to_string_pretty(state)
    }
    .map_err(fail)?;
    let tail = if kind.has_tail() { tail } else { &[] };
    let mac = seal(keys, kind, text.as_bytes(), tail);
    let raw = RawValue::from_string(text).map_err(fail)?;
    let env = Envelope {
        format: STATE_FORMAT.into(),
        mac: hex(&mac),
        tail: kind
            .has_tail()
            .then(|| base64ct::Base64::encode_string(tail)),
        state: &raw,
    };
    if kind == Kind::Wal {
        return serde_json::to_vec(&env).map_err(fail);
    }
    let mut out = serde_json::to_vec_pretty(&env).map_err(fail)?;
    out.push(b'\n');
    Ok(out)
}

/// Parses and authenticates a sealed file or record: its state and tail. `name` is used in
/// messages.
pub(crate) fn decode(
    keys: &RootKeys,
    kind: Kind,
    bytes: &[u8],
    name: &str,
) -> Result<(State, Vec<u8>), Error> {
    use base64ct::Encoding;
    let env: Envelope<'_> = serde_json::from_slice(bytes).map_err(|e| {
        if bytes
            .windows(STATE_FORMAT_V1.len())
            .any(|w| w == STATE_FORMAT_V1.as_bytes())
        {
            KmsError::Store {
                reason: format!(
                    "{name} was written by an older angou (format {STATE_FORMAT_V1}), whose state was not authenticated; this version reads only {STATE_FORMAT}"
                ),
            }
            .into()
        } else {
            tampered(format!("{name} is not a sealed key store file ({e})"))
        }
    })?;
    if env.format != STATE_FORMAT {
        return Err(tampered(format!(
            "{name} has format {:?}, expected {STATE_FORMAT:?}",
            env.format
        )));
    }
    if env.tail.is_some() != kind.has_tail() {
        return Err(tampered(format!(
            "{name} {} a commit intent",
            if kind.has_tail() { "is not" } else { "is" }
        )));
    }
    let state: State = serde_json::from_str(env.state.get())
        .map_err(|e| tampered(format!("{name} does not hold a key store state ({e})")))?;
    // Checked before the MAC: a wrong root key and a modified file need different advice.
    if !ct_eq(state.root_check.as_bytes(), keys.check.as_bytes()) {
        return Err(KmsError::WrongRootKey {
            detail: format!("{name} was sealed under a different root key"),
        }
        .into());
    }
    let tail = match &env.tail {
        Some(t) => base64ct::Base64::decode_vec(t)
            .map_err(|_| tampered(format!("{name}: the audit tail is not base64")))?,
        None => Vec::new(),
    };
    let want = seal(keys, kind, env.state.get().as_bytes(), &tail);
    if !ct_eq(hex(&want).as_bytes(), env.mac.as_bytes()) {
        return Err(tampered(format!(
            "{name} was modified: its seal does not verify under this store's root key"
        )));
    }
    Ok((state, tail))
}

/// [`decode`] for a file read beside a `store.json` already verified under `keys` (an intent,
/// a WAL record): a seal under another root key means the file was put there, so it is
/// tampering, which `audit repair` can discard, not a wrong root key (whose advice is to
/// restore `root.key`).
pub(crate) fn decode_beside_state(
    keys: &RootKeys,
    kind: Kind,
    bytes: &[u8],
    name: &str,
) -> Result<(State, Vec<u8>), Error> {
    decode(keys, kind, bytes, name).map_err(|e| match e {
        Error::Kms(KmsError::WrongRootKey { .. }) => tampered(format!(
            "{name} was sealed under another root key: it belongs to another store"
        )),
        e => e,
    })
}

/// Reads and authenticates `store.json`.
pub(crate) fn load_state(paths: &Paths, keys: &RootKeys) -> Result<State, Error> {
    load_state_bytes(paths, keys).map(|(s, _)| s)
}

/// [`load_state`], also returning the exact bytes that were authenticated.
pub(crate) fn load_state_bytes(paths: &Paths, keys: &RootKeys) -> Result<(State, Vec<u8>), Error> {
    let bytes = read_state_bytes(paths)?;
    let state = decode(keys, Kind::State, &bytes, STATE_FILE)?.0;
    Ok((state, bytes))
}

/// Reads `store.json` without authenticating it (repair only).
pub(crate) fn load_state_unchecked(paths: &Paths) -> Result<State, Error> {
    let bytes = fs::read(paths.file(STATE_FILE))
        .map_err(|e| store_err(&format!("cannot read {STATE_FILE}"), e))?;
    let env: Envelope<'_> = serde_json::from_slice(&bytes)
        .map_err(|e| store_err(&format!("{STATE_FILE} cannot be parsed"), e))?;
    serde_json::from_str(env.state.get())
        .map_err(|e| store_err(&format!("{STATE_FILE} cannot be parsed"), e))
}

/// Reads and authenticates `store.next` if present. Call with the keys `store.json` verified
/// under: an intent sealed under another root key was put there (the caller's key is right),
/// so it is refused as tampering, which `audit repair` can discard, not as a wrong root key.
pub(crate) fn load_pending(
    paths: &Paths,
    keys: &RootKeys,
) -> Result<Option<(State, Vec<u8>)>, Error> {
    match fs::read(paths.file(PENDING_FILE)) {
        Ok(bytes) => decode_beside_state(keys, Kind::Pending, &bytes, PENDING_FILE).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(store_err(&format!("cannot read {PENDING_FILE}"), e)),
    }
}

/// Replaces `store.json` with `state`, sealed; returns the bytes written.
pub(crate) fn save_state(paths: &Paths, keys: &RootKeys, state: &State) -> Result<Vec<u8>, Error> {
    let bytes = encode(keys, Kind::State, state, &[])?;
    atomic_write(&paths.home, &paths.file(STATE_FILE), &bytes)?;
    Ok(bytes)
}

pub(crate) fn save_pending(
    paths: &Paths,
    keys: &RootKeys,
    state: &State,
    tail: &[u8],
) -> Result<(), Error> {
    let bytes = encode(keys, Kind::Pending, state, tail)?;
    atomic_write(&paths.home, &paths.file(PENDING_FILE), &bytes)
}

/// Removes `store.next`. The folder is not synced: should a crash undo the removal, the
/// intent left names a generation `store.json` already has, and the next open removes it
/// (integrity.rs, `recover`).
pub(crate) fn remove_pending(paths: &Paths) -> Result<(), Error> {
    match fs::remove_file(paths.file(PENDING_FILE)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(store_err(&format!("cannot remove {PENDING_FILE}"), e)),
    }
}
