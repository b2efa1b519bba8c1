//! Runs every program in examples/ so none can rot: each must exit 0, print the sentence
//! that shows its point, write nothing to standard error, and leave nothing behind in the
//! temporary folder or the home folder it was given.
//!
//! `cargo test` builds the examples (as programs, beside this test's binary) before it runs
//! any test. When only this file is built (`cargo test --test examples`), build them too:
//! `cargo build --examples`. A missing or stale example binary fails with that advice.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/examples/<name>`: this binary lives in `target/<profile>/deps/`.
fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(&bin), modified(&source)) {
        (Some(built), Some(written)) if built >= written => bin,
        (None, _) => panic!(
            "{} is not built; run `cargo test` (it builds the examples) or `cargo build --examples` first",
            bin.display()
        ),
        _ => panic!(
            "{} is older than {}; run `cargo test` or `cargo build --examples` first",
            bin.display(),
            source.display()
        ),
    }
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("scratch folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// Runs example `name` with a fresh, empty TMPDIR and HOME; checks the exit status, that
/// `phrase` is printed, that standard error is empty and that both folders stay empty.
fn run_example(name: &str, phrase: &str) {
    let bin = example_binary(name);
    let scratch = tempfile::tempdir().expect("scratch folder");
    let tmp = scratch.path().join("tmp");
    let home = scratch.path().join("home");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::create_dir(&home).unwrap();
    let out = Command::new(&bin)
        .env("TMPDIR", &tmp)
        .env("HOME", &home)
        .env_remove("ANGOU_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(phrase),
        "{name} did not print {phrase:?}:\n{stdout}"
    );
    assert!(
        stderr.is_empty(),
        "{name} wrote to standard error:\n{stderr}"
    );
    assert_eq!(
        entries(&tmp),
        Vec::<String>::new(),
        "{name} left files in TMPDIR"
    );
    assert_eq!(
        entries(&home),
        Vec::<String>::new(),
        "{name} wrote into HOME"
    );
}

#[test]
fn shared_key_shows_tampering_refused() {
    run_example("shared_key", "a flipped bit was refused");
}

#[test]
fn key_pair_explains_hybrid_encryption() {
    run_example("key_pair", "So files use hybrid encryption");
}

#[test]
fn hybrid_file_round_trips_binary_and_armored() {
    run_example("hybrid_file", "Both files decrypted for both recipients");
}

#[test]
fn envelope_kms_old_data_key_opens_after_rotation() {
    run_example("envelope_kms", "The old data key still opens");
}

#[test]
fn throughput_measures_aeads_and_key_pairs() {
    run_example("throughput", "RSA-2048 decrypt");
}
