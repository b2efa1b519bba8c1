//! Header parsing never panics, and whatever parses re-encodes to the same stanzas.
#![no_main]

use angou::format::header::Header;
use angou::secret::FileKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    if let Ok(h) = Header::read(&mut input) {
        assert!(h.encoded_len() <= data.len());
        let key = FileKey::from_array([0u8; 16]);
        let _ = h.verify_mac(&key);
        if let Ok(bytes) = Header::encode(h.cipher(), h.stanzas(), &key) {
            let again = Header::read(&mut &bytes[..]).expect("re-encoded header parses");
            assert_eq!(again.stanzas(), h.stanzas());
        }
    }
});
