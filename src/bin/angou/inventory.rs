//! `angou inspect` over several files or folders: every stanza's key as far as it can be known
//! without secrets, and which files depend on each key ("what becomes unreadable if I delete
//! this key?").

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use angou::format::Decryptor;
use angou::format::rewrap::KeyRef;
use angou::recipient::Stanza;
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::inspect::InspectArgs;

/// One object per stanza: `index` (from 1, as `rewrap --remove-stanza` takes it), `type`,
/// `key_kind`, `key` (a stable name, or null) and, when there is no key name, a `note`.
pub fn stanza_keys(stanzas: &[Stanza]) -> Vec<Value> {
    stanzas
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let key = KeyRef::of(s);
            let (kind, note) = match &key {
                KeyRef::LocalKms { .. } => ("kms", None),
                KeyRef::AwsKms { .. } => ("aws-kms", None),
                KeyRef::Rsa { .. } => ("rsa", None),
                KeyRef::Symmetric { .. } => ("symmetric", None),
                KeyRef::Ssh { .. } => (
                    "ssh",
                    Some("a 4-byte tag: names the probable key, not a proven one"),
                ),
                KeyRef::Passphrase => ("passphrase", Some("passphrase (no key)")),
                KeyRef::Unlinkable { .. } => (
                    "unlinkable",
                    Some("unlinkable: the stanza does not say which key it is for"),
                ),
                _ => ("unknown", Some("stanza type unknown to angou")),
            };
            let mut v = json!({
                "index": i + 1,
                "type": s.kind,
                "key_kind": kind,
                "key": key.id(),
            });
            if let Some(note) = note {
                v["note"] = json!(note);
            }
            v
        })
        .collect()
}

/// The files to look at: the inputs, and with -r every file below the folders among them
/// (sorted; symlinks to folders are not followed, so a loop cannot trap the walk).
fn collect(args: &InspectArgs) -> Result<(Vec<PathBuf>, Vec<Value>), Failure> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            if !args.recursive {
                return Err(Failure::usage(format!("{} is a folder", input.display()))
                    .hint("pass -r to inspect every file below it"));
            }
            walk(input, &mut files, &mut errors);
        } else {
            files.push(input.clone());
        }
    }
    Ok((files, errors))
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<Value>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(json!({"path": dir.display().to_string(), "error": e.to_string()}));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, files, errors),
            Ok(m) if m.is_file() || (m.is_symlink() && p.is_file()) => files.push(p),
            _ => {}
        }
    }
}

/// The header of one file, or the reason it has none. The reason is the library's message,
/// which never quotes a secret key file's contents, passed through the same redaction as errors.
fn read_header(path: &Path) -> Result<(angou::format::header::Header, bool), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let d = Decryptor::new(BufReader::new(file)).map_err(|e| crate::redact(&e.to_string()))?;
    Ok((d.header().clone(), d.is_armored()))
}

pub fn run(args: &InspectArgs) -> Result<(), Failure> {
    let (paths, mut errors) = collect(args)?;
    let mut files = Vec::new();
    // key -> (kind, files that have a stanza for it, files that have stanzas for it only)
    let mut keys: BTreeMap<String, (String, Vec<String>, Vec<String>)> = BTreeMap::new();
    for path in &paths {
        let name = path.display().to_string();
        let (header, armored) = match read_header(path) {
            Ok(h) => h,
            Err(e) => {
                errors.push(json!({"path": name, "error": e}));
                continue;
            }
        };
        let stanzas = stanza_keys(header.stanzas());
        let mut ids: Vec<(String, String)> = stanzas
            .iter()
            .filter_map(|s| {
                Some((
                    s["key"].as_str()?.to_owned(),
                    s["key_kind"].as_str()?.to_owned(),
                ))
            })
            .collect();
        ids.sort();
        ids.dedup();
        let all_named = stanzas.iter().all(|s| s["key"].is_string());
        let only = (all_named && ids.len() == 1).then(|| ids[0].0.clone());
        for (id, kind) in &ids {
            let e = keys
                .entry(id.clone())
                .or_insert_with(|| (kind.clone(), Vec::new(), Vec::new()));
            e.1.push(name.clone());
            if only.as_deref() == Some(id) {
                e.2.push(name.clone());
            }
        }
        files.push(json!({
            "path": name,
            "version_line": header.cipher().version_line(),
            "armored": armored,
            "stanzas": stanzas,
            "keys": ids.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            "depends_only_on": only,
        }));
    }
    let summary: Vec<Value> = keys
        .iter()
        .map(|(id, (kind, all, only))| {
            json!({"key": id, "key_kind": kind, "files": all, "only_on_this_key": only})
        })
        .collect();
    if args.json {
        let report = json!({"files": files, "errors": errors, "keys": summary});
        println!("{report}");
        return Ok(());
    }
    for f in &files {
        let stanzas = f["stanzas"].as_array().map_or(0, Vec::len);
        println!(
            "{}: {stanzas} stanza(s){}",
            f["path"].as_str().unwrap_or_default(),
            f["depends_only_on"]
                .as_str()
                .map(|k| format!(", only {k}"))
                .unwrap_or_default()
        );
        for s in f["stanzas"].as_array().into_iter().flatten() {
            println!(
                "  #{} {}: {}",
                s["index"],
                s["type"].as_str().unwrap_or_default(),
                s["key"].as_str().or(s["note"].as_str()).unwrap_or_default()
            );
        }
    }
    for e in &errors {
        println!(
            "{}: not readable as an encrypted file: {}",
            e["path"].as_str().unwrap_or_default(),
            e["error"].as_str().unwrap_or_default()
        );
    }
    if !summary.is_empty() {
        println!("keys:");
    }
    for (id, (_, all, only)) in &keys {
        println!(
            "  {id}: {} file(s), {} unreadable without it",
            all.len(),
            only.len()
        );
    }
    Ok(())
}
