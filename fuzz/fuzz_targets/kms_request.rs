//! The `angou kms serve` request decoder never panics: an HTTP head (httparse, the framing
//! rules), then the body as each operation's request (JSON, base64 blobs, the service
//! model's checks). A body that decodes is never over the size limit.
#![no_main]

use angou::kms::http::{body_len, parse_head};
use angou::kms::ops::{OPERATIONS, decode};
use libfuzzer_sys::fuzz_target;

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((req, head_len))) = parse_head(data, MAX_HEAD) {
        assert!(head_len <= MAX_HEAD && head_len <= data.len());
        if let Ok(n) = body_len(&req, MAX_BODY) {
            assert!(n <= MAX_BODY);
        }
        let _ = req.keep_alive();
    }
    // The whole input as a body of every operation.
    for op in OPERATIONS {
        let _ = decode(op, data);
    }
});
