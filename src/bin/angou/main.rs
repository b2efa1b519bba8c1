//! The `angou` command. Thin: parse, dispatch, report.
#![forbid(unsafe_code)]

mod bench;
mod cli;
mod decrypt;
mod demo;
mod encrypt;
mod failure;
mod inspect;
mod io;
mod keygen;
mod keys;
mod kms;
mod passphrase;

use clap::Parser;

use cli::{Cli, Command};
use failure::Failure;

fn run(cli: Cli) -> Result<(), Failure> {
    let home = cli.home.as_deref();
    match cli.command {
        Command::Demo => demo::run(),
        Command::Keygen(a) => keygen::keygen(a),
        Command::Pubkey(a) => keygen::pubkey(a),
        Command::Encrypt(a) => encrypt::run(a, home),
        Command::Decrypt(a) => decrypt::run(a, home),
        Command::Kms(a) => kms::run(a, home),
        Command::Bench(a) => bench::run(a),
        Command::Inspect(a) => inspect::run(a),
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(f) = run(cli) {
        eprintln!("error: {}", f.message);
        if let Some(h) = &f.hint {
            eprintln!("hint: {h}");
        }
        std::process::exit(f.code);
    }
}
