//! Armor decoding never panics, and what decodes re-encodes to something that decodes the same.
#![no_main]

use std::io::{Read, Write};

use angou::format::armor::{ArmoredReader, ArmoredWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if ArmoredReader::new(data).read_to_end(&mut out).is_ok() {
        let mut w = ArmoredWriter::new(Vec::new()).expect("vec write");
        w.write_all(&out).expect("vec write");
        let text = w.finish().expect("vec write");
        let mut back = Vec::new();
        ArmoredReader::new(&text[..])
            .read_to_end(&mut back)
            .expect("own armor decodes");
        assert_eq!(back, out);
    }
});
