//! `angou kms serve`.
use angou::kms::Kms;
use clap::Args;

use crate::failure::Failure;

#[derive(Debug, Args)]
pub struct ServeArgs {}

pub fn run(_kms: Kms, _args: ServeArgs) -> Result<(), Failure> {
    Err(Failure::new("not yet"))
}
