//! `angou demo` (being written).
use crate::failure::Failure;

pub fn run() -> Result<(), Failure> {
    Err(Failure::new("the demo is being written"))
}
