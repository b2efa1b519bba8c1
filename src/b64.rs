//! Canonical unpadded base64 (RFC 4648 §4 alphabet), as the header grammar requires.

use base64ct::{Base64Unpadded, Encoding};

/// Decodes canonical unpadded base64; `None` for padding, stray bits or bad characters.
pub(crate) fn decode_b64(text: &str) -> Option<Vec<u8>> {
    if text.contains('=') {
        return None;
    }
    let out = Base64Unpadded::decode_vec(text).ok()?;
    // base64ct is strict about trailing bits; re-encoding double-checks canonicity.
    (Base64Unpadded::encode_string(&out) == text).then_some(out)
}

/// Encodes unpadded base64.
pub(crate) fn encode_b64(bytes: &[u8]) -> String {
    Base64Unpadded::encode_string(bytes)
}
