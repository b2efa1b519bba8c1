//! Command-line grammar (clap derive). Parsing only: validation and work happen in each command.

use clap::{Parser, Subcommand};

use crate::decrypt::DecryptArgs;
use crate::encrypt::EncryptArgs;
use crate::inspect::InspectArgs;
use crate::keygen::{KeygenArgs, PubkeyArgs};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  2  the command line is wrong or names something unusable, found before any input is read
     or output written: unknown or conflicting flags, a malformed recipient, a path that names
     no file, a key or passphrase file of the wrong kind, no terminal for a needed passphrase
  1  the work failed: input not an encrypted file or damaged, wrong key or passphrase, I/O
     error while processing, a KMS refusal; nothing partial is left at -o
No message ever repeats key material, or a path argument that names no file.";

/// `angou --version`: the version and which implementations this build runs on.
#[cfg(feature = "aws-lc")]
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nbackends: rustcrypto, aws-lc (aws-lc runs AES-256-GCM, ChaCha20-Poly1305 and RSA-OAEP)"
);
#[cfg(not(feature = "aws-lc"))]
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nbackends: rustcrypto (pure Rust; `cargo build --release --features aws-lc` adds aws-lc)"
);

/// angou (暗号): local encryption — age-compatible files, AEAD, key pairs.
#[derive(Debug, Parser)]
#[command(name = "angou", version, long_version = LONG_VERSION, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Key store folder for KMS operations (default: $ANGOU_HOME, else ~/.local/share/angou)
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show shared-key and key-pair encryption side by side, with timings from this machine
    Demo,
    /// Generate a key: X25519 (age), RSA or symmetric
    Keygen(KeygenArgs),
    /// Print the recipient (public key) of an identity file
    Pubkey(PubkeyArgs),
    /// Encrypt a file to recipients, keys or a passphrase (age v1 format by default)
    #[command(after_help = EXIT_CODES)]
    Encrypt(EncryptArgs),
    /// Decrypt a file; writes nothing to -o unless the whole file verifies
    #[command(after_help = EXIT_CODES)]
    Decrypt(DecryptArgs),
    /// Describe encrypted files without any key; --json lists the keys each depends on
    Inspect(InspectArgs),
    /// Change the recipients of encrypted files without re-encrypting their payload
    Rewrap(crate::rewrap::RewrapArgs),
    /// Measure cipher throughput on this machine (tables, or --json)
    Bench(crate::bench::BenchArgs),
    /// The local KMS: keys that never leave the store, data keys, rotation, audit
    #[command(after_help = EXIT_CODES)]
    Kms(crate::kms::KmsArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    Completions(crate::manual::CompletionsArgs),
    /// Print the man page angou(1), or write every command's page with --dir
    Man(crate::manual::ManArgs),
}
