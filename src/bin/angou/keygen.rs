//! `angou keygen` and `angou pubkey`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use angou::keyfile::Identities;
use angou::pk::{mlkem768x25519 as pq, rsa, x25519};
use angou::recipient::SymmetricKey;
use zeroize::Zeroizing;

use crate::failure::Failure;
use crate::keys::parse_secret_file;

/// Kinds of key `keygen` makes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KeyType {
    /// X25519 age identity (AGE-SECRET-KEY-1…), recipient age1…
    X25519,
    /// Hybrid post-quantum ML-KEM-768 + X25519 age identity (AGE-SECRET-KEY-PQ-1…), recipient
    /// age1pq1… (age 1.3)
    #[value(name = "pq", alias = "mlkem768x25519")]
    Pq,
    /// RSA-OAEP-SHA-256, 2048-bit (PKCS#8 PEM)
    #[value(name = "rsa-2048")]
    Rsa2048,
    /// RSA-OAEP-SHA-256, 3072-bit (PKCS#8 PEM)
    #[value(name = "rsa-3072")]
    Rsa3072,
    /// RSA-OAEP-SHA-256, 4096-bit (PKCS#8 PEM)
    #[value(name = "rsa-4096")]
    Rsa4096,
    /// 256-bit shared key (ANGOU-SYMMETRIC-KEY-1…), for -k
    Symmetric,
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Kind of key
    #[arg(short = 't', long = "type", value_enum, default_value = "x25519")]
    pub key_type: KeyType,
    /// Write the private key to FILE (mode 0600; never overwrites; a FIFO or device is written
    /// into). Default: standard output
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PubkeyArgs {
    /// Identity file: age identities or a PEM RSA private key ("-" reads standard input)
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identity: PathBuf,
}

fn created() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("# created: {secs} (unix time)\n")
}

/// An age identity file (creation time, public key comment, the secret line) and the line
/// that announces the public key.
fn age_identity_file(public: &str, secret: &str) -> (Zeroizing<String>, String) {
    let text = Zeroizing::new(format!("{}# public key: {public}\n{secret}\n", created()));
    (text, format!("Public key: {public}"))
}

pub fn keygen(args: KeygenArgs) -> Result<(), Failure> {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        eprintln!(
            "warning: writing a private key to the terminal; use -o FILE to save it with mode 0600"
        );
    }
    let (contents, public): (Zeroizing<String>, String) = match args.key_type {
        KeyType::X25519 => {
            let k = x25519::SecretKey::generate()?;
            age_identity_file(&k.public_key().to_string(), &k.encode())
        }
        KeyType::Pq => {
            let k = pq::SecretKey::generate()?;
            age_identity_file(&k.public_key().to_string(), &k.encode())
        }
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
            let bits = match args.key_type {
                KeyType::Rsa2048 => 2048,
                KeyType::Rsa3072 => 3072,
                _ => 4096,
            };
            let k = rsa::PrivateKey::generate(bits)?;
            let pem = k.to_pem()?;
            (pem, k.public_key().to_pem().trim_end().to_owned())
        }
        KeyType::Symmetric => {
            let k = SymmetricKey::generate()?;
            let text = Zeroizing::new(format!(
                "{}# angou symmetric key: keep it secret; share it only over a secure channel\n{}\n",
                created(),
                k.encode().as_str()
            ));
            (
                text,
                "Symmetric key: it has no public part; everyone who decrypts needs this file"
                    .to_owned(),
            )
        }
    };
    match &args.output {
        Some(path) => crate::io::write_new_secret_file(path, contents.as_bytes())?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(contents.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Failure::new(format!("cannot write to standard output: {e}")))?;
        }
    }
    eprintln!("{public}");
    Ok(())
}

pub fn pubkey(args: PubkeyArgs) -> Result<(), Failure> {
    match parse_secret_file(&args.identity, "identity file")? {
        Identities::X25519(keys) => {
            for k in keys {
                println!("{}", k.public_key());
            }
        }
        Identities::PostQuantum(pqs, xs) => {
            for k in pqs {
                println!("{}", k.public_key());
            }
            for k in xs {
                println!("{}", k.public_key());
            }
        }
        Identities::Rsa(k) => print!("{}", k.public_key().to_pem()),
        Identities::Ssh(k) => println!("{}", k.public_key().to_openssh()),
        Identities::SshLocked(k) => println!("{}", k.public_key().to_openssh()),
        Identities::Symmetric(_) => {
            return Err(Failure::new("a symmetric key has no public part").hint(
                "share the key file itself over a secure channel, or use an X25519 or RSA key pair",
            ));
        }
    }
    Ok(())
}
