//! The adversarial suite (issue 10): every promise in README.md and docs/DESIGN.md attacked the
//! way an attacker or a careless user would, one module per area. docs/DESIGN.md's promise
//! table names the test that proves each promise.
#![allow(clippy::unwrap_used)]

mod access;
mod common;
mod messages;
mod output;
mod pq;
mod promises;
mod secrets;
mod spec;
mod store;
#[path = "../support/tools.rs"]
mod tools;
