//! `angou inspect`: what an encrypted file is, without any key.

use std::io::{self, BufReader};
use std::path::PathBuf;

use angou::format::header::PayloadCipher;
use angou::format::stream::{CHUNK_LEN, ENCRYPTED_CHUNK_LEN, PAYLOAD_NONCE_LEN};
use angou::format::{Decryptor, Input};

use crate::failure::Failure;
use crate::io::InputSpec;

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// Encrypted file (default or "-": standard input)
    pub input: Option<PathBuf>,
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn run(args: InspectArgs) -> Result<(), Failure> {
    let input = InputSpec::from_arg(args.input.as_deref());
    let reader = input.open(true)?;
    let mut detected = Input::detect(BufReader::with_capacity(256 * 1024, reader))?;
    let armored = detected.is_armored();
    let decryptor =
        Decryptor::new(&mut detected).map_err(|e| Failure::from(e).context(input.describe()))?;
    let header = decryptor.header();
    let header_len = header.encoded_len() as u64;
    let cipher = header.cipher();
    let stanzas: Vec<(String, usize)> = header.stanzas().iter().fold(Vec::new(), |mut acc, s| {
        match acc.iter_mut().find(|(k, _)| *k == s.kind) {
            Some((_, n)) => *n += 1,
            None => acc.push((s.kind.clone(), 1)),
        }
        acc
    });
    let stanza_count = header.stanzas().len();
    drop(decryptor);
    let payload_len = io::copy(&mut detected, &mut io::sink())
        .map_err(|e| Failure::from(e).context(input.describe()))?;
    let enc = payload_len.saturating_sub(PAYLOAD_NONCE_LEN as u64);
    let chunks = enc.div_ceil(ENCRYPTED_CHUNK_LEN as u64);
    let plaintext = enc.saturating_sub(chunks * 16);
    let shape_ok = payload_len > PAYLOAD_NONCE_LEN as u64
        && enc - (chunks - 1) * ENCRYPTED_CHUNK_LEN as u64 >= 16
        && (chunks == 1 || enc - (chunks - 1) * (ENCRYPTED_CHUNK_LEN as u64) > 16);
    let (format, version) = match cipher {
        PayloadCipher::ChaCha20Poly1305 => ("age v1", cipher_line(cipher)),
        PayloadCipher::Aes256Gcm => (
            "angou v1 (AES-256-GCM extension; age cannot read it)",
            cipher_line(cipher),
        ),
        _ => ("unknown", cipher_line(cipher)),
    };
    if args.json {
        let list: Vec<String> = stanzas
            .iter()
            .map(|(k, n)| format!("{{\"type\":{},\"count\":{n}}}", json_str(k)))
            .collect();
        println!(
            "{{\"format\":{},\"version_line\":{},\"payload_cipher\":{},\"armored\":{armored},\"stanzas\":[{}],\"header_bytes\":{header_len},\"payload_bytes\":{payload_len},\"chunks\":{chunks},\"chunk_size\":{CHUNK_LEN},\"plaintext_bytes\":{},\"well_formed_length\":{shape_ok}}}",
            json_str(format),
            json_str(version),
            json_str(cipher.name()),
            list.join(","),
            if shape_ok {
                plaintext.to_string()
            } else {
                "null".into()
            },
        );
        return Ok(());
    }
    println!("format          {format}");
    println!("version line    {version}");
    println!(
        "payload cipher  {} (STREAM, {} KiB chunks)",
        cipher.name(),
        CHUNK_LEN / 1024
    );
    println!("armored         {}", if armored { "yes" } else { "no" });
    println!("recipients      {stanza_count} stanza(s)");
    for (kind, n) in &stanzas {
        println!("                  {n} × {kind}");
    }
    println!("header          {header_len} bytes");
    println!("payload         {payload_len} bytes (16-byte nonce + {chunks} chunk(s))");
    if shape_ok {
        println!(
            "plaintext       {plaintext} bytes (if the file is intact; not verified without a key)"
        );
    } else {
        println!(
            "plaintext       unknown: the payload length is not that of a whole STREAM (truncated?)"
        );
    }
    Ok(())
}

fn cipher_line(cipher: PayloadCipher) -> &'static str {
    cipher.version_line()
}
