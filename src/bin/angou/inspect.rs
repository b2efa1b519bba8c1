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
    /// Name which SSH key in FILE (a .pub, authorized_keys or NAME.keys file) each SSH stanza
    /// is for (repeatable)
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_files: Vec<PathBuf>,
    /// Walk the folders among the inputs (all files below them, symlinks not followed)
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Encrypted files (default or "-": standard input). Several files, or -r, give one
    /// report with the keys the set depends on
    #[arg(value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
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
    if args.recursive || args.inputs.len() > 1 || args.inputs.iter().any(|p| p.is_dir()) {
        return crate::inventory::run(&args);
    }
    let listed = crate::keys::load_ssh_keys(&args.recipients_files)?;
    let input = InputSpec::from_arg(args.inputs.first().map(PathBuf::as_path));
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
    let ssh = crate::keys::ssh_stanza_keys(header.stanzas(), &listed);
    let numbered = crate::inventory::stanza_keys(header.stanzas());
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
        let ssh_list: Vec<String> = ssh
            .iter()
            .map(|(kind, tag, key)| {
                format!(
                    "{{\"type\":{},\"tag\":{},\"key\":{}}}",
                    json_str(kind),
                    json_str(tag),
                    key.as_deref().map_or("null".into(), json_str)
                )
            })
            .collect();
        println!(
            "{{\"format\":{},\"version_line\":{},\"payload_cipher\":{},\"armored\":{armored},\"stanzas\":[{}],\"recipients\":{},\"ssh_stanzas\":[{}],\"header_bytes\":{header_len},\"payload_bytes\":{payload_len},\"chunks\":{chunks},\"chunk_size\":{CHUNK_LEN},\"plaintext_bytes\":{},\"well_formed_length\":{shape_ok}}}",
            json_str(format),
            json_str(version),
            json_str(cipher.name()),
            list.join(","),
            serde_json::Value::Array(numbered),
            ssh_list.join(","),
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
    for r in &numbered {
        println!(
            "                  #{} {}: {}",
            r["index"],
            r["type"].as_str().unwrap_or_default(),
            r["key"].as_str().or(r["note"].as_str()).unwrap_or_default()
        );
    }
    for (kind, tag, key) in &ssh {
        let key = key.as_deref().unwrap_or(if listed.is_empty() {
            "pass -R FILE to name the key"
        } else {
            "no listed key"
        });
        println!("                  {kind} key tag {tag}: {key}");
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
