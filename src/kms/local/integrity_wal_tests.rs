//! Attacks on the rules `replay`, `settle` and `repair` enforce on `store.wal` (module docs of
//! integrity.rs): each test builds a store in a temporary folder, commits records as a server
//! does ([`commit_wal`]), damages the files as a crash or an attacker would, and checks the
//! exact outcome of the next open.

use super::*;
use crate::kms::local::sealed::{self, Kind};

const NOW: &str = "2026-01-01T00:00:00Z";

/// A store whose first commit (CLI-style, through `store.next`) is done; `state` is what a
/// server holding it in memory would have after the records it committed.
struct Fx {
    _dir: tempfile::TempDir,
    paths: Paths,
    keys: RootKeys,
    state: State,
    /// `store.json`'s state after the first commit, before any record.
    state0: State,
    /// The log after the first commit: the sealed end before any record.
    log0: Vec<u8>,
}

fn entry(op: &str, n: usize) -> Map<String, Value> {
    match json!({ "time": NOW, "operation": op, "key_id": null, "n": n }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

impl Fx {
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            home: dir.path().to_path_buf(),
        };
        let Opened {
            keys, mut state, ..
        } = create(&paths, None, false, NOW).unwrap();
        Fx::first_commit(dir, paths, keys, &mut state)
    }

    /// Another store under the same root key (a copied `root.key`): another store id.
    fn sibling(&self) -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            home: dir.path().to_path_buf(),
        };
        fs::copy(
            self.paths.file(store::ROOT_KEY_FILE),
            paths.file(store::ROOT_KEY_FILE),
        )
        .unwrap();
        let keys = store::read_root(&paths, None).unwrap();
        let mut state = State::genesis(&keys, NOW, false).unwrap();
        store::save_state(&paths, &keys, &state).unwrap();
        Fx::first_commit(dir, paths, keys, &mut state)
    }

    /// A copy of this folder as it is now (same store id and root key), with the same
    /// in-memory state.
    fn copy(&self) -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            home: dir.path().to_path_buf(),
        };
        for f in [store::ROOT_KEY_FILE, store::STATE_FILE, store::AUDIT_FILE] {
            fs::copy(self.paths.file(f), paths.file(f)).unwrap();
        }
        Fx {
            keys: store::read_root(&paths, None).unwrap(),
            paths,
            _dir: dir,
            state: self.state.clone(),
            state0: self.state0.clone(),
            log0: self.log0.clone(),
        }
    }

    fn first_commit(dir: tempfile::TempDir, paths: Paths, keys: RootKeys, state: &mut State) -> Fx {
        commit(&paths, &keys, state, vec![entry("CreateStore", 0)], None).unwrap();
        let log0 = fs::read(paths.file(store::AUDIT_FILE)).unwrap();
        Fx {
            _dir: dir,
            paths,
            keys,
            state: state.clone(),
            state0: state.clone(),
            log0,
        }
    }

    /// Commits one record of `n` entries to `store.wal`; returns its audit lines.
    fn record_with(&mut self, n: usize, marks: MarkDir<'_>) -> Vec<u8> {
        let entries = (0..n).map(|i| entry("Encrypt", i)).collect();
        commit_wal(&self.paths, &self.keys, &mut self.state, entries, marks).unwrap()
    }

    /// Commits `count` records (of 1, 2, 1, 2… entries); returns their audit lines.
    fn records(&mut self, count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| self.record_with(1 + i % 2, None))
            .collect()
    }

    fn open(&self) -> Result<Opened, Error> {
        open(&self.paths, None, None)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.paths.file(name)).unwrap()
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        fs::write(self.paths.file(name), bytes).unwrap();
    }

    /// The whole lines of `store.wal`, each with its LF.
    fn wal_lines(&self) -> Vec<Vec<u8>> {
        let b = self.read(store::WAL_FILE);
        b.split_inclusive(|c| *c == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// `log0` followed by `tails`: the log once they are applied.
    fn log_with(&self, tails: &[Vec<u8>]) -> Vec<u8> {
        let mut l = self.log0.clone();
        tails.iter().for_each(|t| l.extend_from_slice(t));
        l
    }

    /// `o`, the files and `store.json` all hold exactly `self.state` with the log
    /// `log0 ‖ tails` (every line once, in order), and `store.wal` is empty.
    fn assert_applied(&self, o: &Opened, tails: &[Vec<u8>]) {
        let want = self.log_with(tails);
        assert_eq!(o.state.generation, self.state.generation);
        assert_eq!(o.state.audit, self.state.audit);
        assert_eq!(o.log, want, "opened log");
        assert_eq!(self.read(store::AUDIT_FILE), want, "audit.log");
        let on_disk = store::load_state(&self.paths, &self.keys).unwrap();
        assert_eq!(on_disk.generation, self.state.generation);
        assert_eq!(on_disk.audit, self.state.audit);
        assert_eq!(self.read(store::WAL_FILE), b"", "store.wal not emptied");
    }

    /// Puts `store.json` and `audit.log` back to before any record was applied
    /// (`store.wal` is left as it is).
    fn rewind(&self) {
        store::save_state(&self.paths, &self.keys, &self.state0).unwrap();
        self.write(store::AUDIT_FILE, &self.log0);
    }

    /// The state of `store.json` on disk.
    fn disk_generation(&self) -> u64 {
        store::load_state(&self.paths, &self.keys)
            .unwrap()
            .generation
    }
}

fn kms_err<T>(r: Result<T, Error>) -> KmsError {
    match r {
        Ok(_) => panic!("accepted"),
        Err(Error::Kms(e)) => e,
        Err(e) => panic!("not a KMS error: {e}"),
    }
}

#[track_caller]
fn assert_state_tampered<T>(r: Result<T, Error>, fragment: &str) {
    match kms_err(r) {
        KmsError::StateTampered { reason } => {
            assert!(reason.contains(fragment), "{reason:?} lacks {fragment:?}")
        }
        e => panic!("expected StateTampered ({fragment}), got {e:?}"),
    }
}

/// Replaces the first `from` in record `n` (from 1) of `store.wal` with `to`.
fn edit_record(fx: &Fx, n: usize, from: &[u8], to: &[u8]) {
    let mut lines = fx.wal_lines();
    let line = &mut lines[n - 1];
    let at = line
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{} not in record {n}", String::from_utf8_lossy(from)));
    line.splice(at..at + from.len(), to.iter().copied());
    fx.write(store::WAL_FILE, &lines.concat());
}

#[test]
fn wal_records_are_applied_once_in_order() {
    let mut fx = Fx::new();
    let tails = fx.records(3);
    assert_eq!(fx.wal_lines().len(), 3);
    // Nothing but store.wal holds them yet.
    assert_eq!(fx.read(store::AUDIT_FILE), fx.log0);
    assert_eq!(fx.disk_generation(), 1);
    let o = fx.open().unwrap();
    assert_eq!(o.state.generation, 4);
    fx.assert_applied(&o, &tails);
    // A second open finds nothing to do and writes nothing.
    let files = || {
        [store::STATE_FILE, store::AUDIT_FILE, store::WAL_FILE]
            .map(|f| store::stamp(&fx.paths.file(f)).unwrap().unwrap())
    };
    let before = files();
    let again = fx.open().unwrap();
    fx.assert_applied(&again, &tails);
    assert_eq!(files(), before);
}

#[test]
fn wal_torn_last_record_is_dropped() {
    let mut fx = Fx::new();
    let tails = fx.records(2);
    let applied = fx.state.clone();
    fx.records(1);
    fx.state = applied;
    let whole = fx.read(store::WAL_FILE);
    let last = fx.wal_lines()[2].len();
    // Cut anywhere in the last record, down to a record missing only its LF.
    for keep in [1, last / 2, last - 1] {
        fx.write(store::WAL_FILE, &whole[..whole.len() - last + keep]);
        let o = fx.open().unwrap();
        fx.assert_applied(&o, &tails);
        fx.rewind();
    }
}

#[test]
fn wal_torn_only_record_empties_the_file() {
    let mut fx = Fx::new();
    fx.records(1);
    let line = fx.read(store::WAL_FILE);
    fx.write(store::WAL_FILE, &line[..line.len() / 2]);
    fx.state = fx.state0.clone();
    let o = fx.open().unwrap();
    fx.assert_applied(&o, &[]);
    assert_eq!(o.state.generation, 1);
}

#[test]
fn wal_stale_records_are_skipped() {
    let mut fx = Fx::new();
    let tails = fx.records(2);
    let old_wal = fx.read(store::WAL_FILE);
    fx.open().unwrap();
    // A crash undid the emptying of store.wal: its records are already in store.json.
    fx.write(store::WAL_FILE, &old_wal);
    let o = fx.open().unwrap();
    fx.assert_applied(&o, &tails);
}

#[test]
fn wal_stale_records_then_a_live_one() {
    let mut fx = Fx::new();
    let mut tails = fx.records(2);
    let old_wal = fx.read(store::WAL_FILE);
    // A server settles from memory, then a crash brings the records back, then it commits
    // another batch after them.
    settle(
        &fx.paths,
        &fx.keys,
        fx.log0.len() as u64,
        &tails.concat(),
        &fx.state,
    )
    .unwrap();
    assert_eq!(fx.read(store::WAL_FILE), b"");
    fx.write(store::WAL_FILE, &old_wal);
    tails.push(fx.record_with(2, None));
    assert_eq!(fx.wal_lines().len(), 3);
    let o = fx.open().unwrap();
    assert_eq!(o.state.generation, 4);
    fx.assert_applied(&o, &tails);
}

#[test]
fn wal_edited_record_is_refused_by_number() {
    let mut fx = Fx::new();
    fx.records(3);
    let good = fx.read(store::WAL_FILE);
    // One character of the tail's base64 (still base64).
    let mut lines = fx.wal_lines();
    let at = lines[1]
        .windows(8)
        .position(|w| w == b"\"tail\":\"")
        .unwrap()
        + 12;
    lines[1][at] = if lines[1][at] == b'A' { b'B' } else { b'A' };
    fx.write(store::WAL_FILE, &lines.concat());
    assert_state_tampered(fx.open(), "store.wal record 2 was modified");
    // One byte of the state.
    fx.write(store::WAL_FILE, &good);
    edit_record(&fx, 2, b"\"generation\":3", b"\"generation\":4");
    assert_state_tampered(fx.open(), "store.wal record 2 was modified");
    // Nothing was applied or removed.
    assert_eq!(fx.disk_generation(), 1);
    assert_eq!(fx.read(store::AUDIT_FILE), fx.log0);
    // The untouched records still apply.
    fx.write(store::WAL_FILE, &good);
    fx.open().unwrap();
    assert_eq!(fx.disk_generation(), 4);
}

#[test]
fn wal_reordered_repeated_or_missing_records_are_refused() {
    let mut fx = Fx::new();
    fx.records(3);
    let l = fx.wal_lines();
    let pick = |order: &[usize]| order.iter().map(|&i| l[i].as_slice()).collect::<Vec<_>>();
    let out_of_order = "its records are out of order, repeated or missing";
    for (order, why) in [
        (&[0, 2, 1][..], out_of_order),
        (&[0, 1, 1, 2], out_of_order),
        (&[0, 2], out_of_order),
        (&[0, 1, 2, 0], out_of_order),
        // The first record missing or moved: what comes first does not continue store.json.
        (&[1, 2], "a record was planted"),
        (&[1, 0, 2], "a record was planted"),
    ] {
        fx.write(store::WAL_FILE, &pick(order).concat());
        assert_state_tampered(fx.open(), why);
        assert_eq!(fx.disk_generation(), 1);
        assert_eq!(fx.read(store::AUDIT_FILE), fx.log0);
    }
}

#[test]
fn wal_record_of_another_store_is_refused() {
    let mut fx = Fx::new();
    fx.records(1);
    let mine = fx.read(store::WAL_FILE);
    // Same root key (a copied root.key), another store.
    let mut twin = fx.sibling();
    twin.records(1);
    let theirs = twin.read(store::WAL_FILE);
    fx.write(store::WAL_FILE, &theirs);
    assert_state_tampered(fx.open(), "a record belongs to another store");
    fx.write(store::WAL_FILE, &[mine.as_slice(), &theirs].concat());
    assert_state_tampered(fx.open(), "a record belongs to another store");
    assert_eq!(fx.disk_generation(), 1);
}

/// `store.json` verified under this root key: a record sealed under another one was put
/// there (it is not the caller's key that is wrong), and `audit repair` must be able to
/// discard it.
#[test]
fn wal_record_under_another_root_key_is_refused() {
    let fx = Fx::new();
    let mut other = Fx::new();
    other.records(1);
    fx.write(store::WAL_FILE, &other.read(store::WAL_FILE));
    assert_state_tampered(
        fx.open(),
        "store.wal record 1 was sealed under another root key",
    );
    assert_eq!(fx.disk_generation(), 1);
}

#[test]
fn wal_record_of_a_forked_copy_is_refused() {
    let mut fx = Fx::new();
    // A copy of the folder, taken now, and advanced on its own.
    let mut fork = fx.copy();
    fork.record_with(2, None);
    fork.record_with(1, None);
    fx.records(1);
    assert_ne!(fork.wal_lines()[0], fx.wal_lines()[0]);
    // The fork's second record after this store's first: same generations, other history.
    let mine = fx.read(store::WAL_FILE);
    fx.write(
        store::WAL_FILE,
        &[mine.as_slice(), &fork.wal_lines()[1]].concat(),
    );
    assert_state_tampered(fx.open(), "a record was planted");
    assert_eq!(fx.disk_generation(), 1);
}

#[test]
fn wal_log_holding_a_prefix_of_the_lines_is_completed() {
    let mut fx = Fx::new();
    let tails = fx.records(3);
    let all = tails.concat();
    let t1 = tails[0].len();
    let wal = fx.read(store::WAL_FILE);
    // A crash while the lines were being appended: any byte prefix of them.
    for cut in [
        0,
        1,
        t1 - 1,
        t1,
        t1 + 1,
        all.len() / 2,
        all.len() - 1,
        all.len(),
    ] {
        fx.rewind();
        fx.write(store::AUDIT_FILE, &fx.log_with(&[all[..cut].to_vec()]));
        fx.write(store::WAL_FILE, &wal);
        let o = fx.open().unwrap();
        fx.assert_applied(&o, &tails);
    }
}

#[test]
fn wal_log_changed_past_the_sealed_end_is_refused() {
    let mut fx = Fx::new();
    let tails = fx.records(3);
    let all = tails.concat();
    let extra = b"{\"operation\":\"Planted\",\"seq\":99}\n";
    let changed = {
        let mut c = all[..tails[0].len()].to_vec();
        c[5] ^= 0x01;
        c
    };
    for log in [
        // An attacker's line after every record's lines.
        fx.log_with(&[all.clone(), extra.to_vec()]),
        // Or after some of them.
        fx.log_with(&[tails[0].clone(), extra.to_vec()]),
        // A record's line changed.
        fx.log_with(&[changed]),
        // Cut below the sealed end, by one byte and by a line.
        fx.log0[..fx.log0.len() - 1].to_vec(),
        Vec::new(),
    ] {
        fx.write(store::AUDIT_FILE, &log);
        assert_state_tampered(fx.open(), "lines were appended, changed or cut");
        assert_eq!(fx.disk_generation(), 1);
        assert_eq!(fx.wal_lines().len(), 3, "records lost");
    }
}

#[test]
fn wal_deleted_or_cut_behind_a_high_water_mark_is_a_rollback() {
    let mut fx = Fx::new();
    let marks = tempfile::tempdir().unwrap();
    let m = Some(marks.path());
    for n in 1..=3 {
        fx.record_with(n, m);
    }
    let wal = fx.read(store::WAL_FILE);
    let lines = fx.wal_lines();
    let rolled = |fx: &Fx| match kms_err(open(&fx.paths, None, m)) {
        KmsError::RolledBack { reason } => assert!(
            reason.contains("but commit 4 was seen on this machine"),
            "{reason}"
        ),
        e => panic!("{e:?}"),
    };
    fs::remove_file(fx.paths.file(store::WAL_FILE)).unwrap();
    rolled(&fx);
    // The last record cut off as a whole line: the same.
    fx.write(store::WAL_FILE, &lines[..2].concat());
    rolled(&fx);
    // All of them: the mark is met.
    fx.write(store::WAL_FILE, &wal);
    let o = open(&fx.paths, None, m).unwrap();
    assert_eq!(o.state.generation, 4);
}

#[test]
fn wal_repair_discards_bad_records_and_applies_good_ones() {
    let mut fx = Fx::new();
    fx.records(2);
    edit_record(&fx, 2, b"\"generation\":3", b"\"generation\":5");
    let (o, found) = repair(&fx.paths, None, None).unwrap();
    // The valid first record is kept (it was answered); the edited one and any after it go.
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("discarded the records of store.wal from record 2 on (")
            && found[0].contains("store.wal record 2 was modified"),
        "{found:?}"
    );
    assert_eq!(o.state.generation, 2);
    assert_eq!(fx.read(store::WAL_FILE), b"");
    assert_eq!(fx.open().unwrap().state.generation, 2);

    // A whole WAL: applied, nothing to report.
    let mut fx = Fx::new();
    let tails = fx.records(2);
    let (o, found) = repair(&fx.paths, None, None).unwrap();
    assert!(found.is_empty(), "{found:?}");
    fx.assert_applied(&o, &tails);
}

#[test]
fn wal_repair_discards_records_of_another_store() {
    let fx = Fx::new();
    let mut other = Fx::new();
    other.records(1);
    fx.write(store::WAL_FILE, &other.read(store::WAL_FILE));
    let (o, found) = repair(&fx.paths, None, None).unwrap();
    assert_eq!(o.state.generation, 1);
    assert!(
        found.len() == 1
            && found[0].starts_with("discarded the records of store.wal from record 1 on ("),
        "{found:?}"
    );
    assert_eq!(fx.open().unwrap().state.generation, 1);
}

#[test]
fn wal_settle_refuses_a_log_of_another_length() {
    let mut fx = Fx::new();
    let tails = fx.records(2);
    let base = fx.log0.len() as u64;
    for wrong in [base - 1, base + 1] {
        assert_state_tampered(
            settle(&fx.paths, &fx.keys, wrong, &tails.concat(), &fx.state),
            "the audit log changed while the records of store.wal were waiting",
        );
    }
    // Someone appended to the log meanwhile.
    fx.write(store::AUDIT_FILE, &fx.log_with(&[b"{}\n".to_vec()]));
    assert_state_tampered(
        settle(&fx.paths, &fx.keys, base, &tails.concat(), &fx.state),
        "the audit log changed",
    );
    assert_eq!(fx.disk_generation(), 1);
    assert_eq!(fx.wal_lines().len(), 2);
    // With the right length it applies them, and the next open agrees.
    fx.write(store::AUDIT_FILE, &fx.log0);
    let sealed = settle(&fx.paths, &fx.keys, base, &tails.concat(), &fx.state).unwrap();
    assert_eq!(sealed, fx.read(store::STATE_FILE));
    let o = fx.open().unwrap();
    fx.assert_applied(&o, &tails);
}

/// An envelope as sealed.rs writes it, under `label`, with the state's text as given.
fn envelope(keys: &RootKeys, label: &[u8], state: &str, tail: &[u8], pretty: bool) -> Vec<u8> {
    use base64ct::Encoding;
    let mac = store::hmac_parts(
        &keys.state,
        &[
            label,
            &(state.len() as u64).to_be_bytes(),
            state.as_bytes(),
            &(tail.len() as u64).to_be_bytes(),
            tail,
        ],
    );
    let (sep, end) = if pretty { ("\n  ", "\n") } else { ("", "") };
    format!(
        "{{{sep}\"format\":\"{}\",{sep}\"mac\":\"{}\",{sep}\"tail\":\"{}\",{sep}\"state\":{state}{end}}}",
        store::STATE_FORMAT,
        hex(&mac),
        base64ct::Base64::encode_string(tail)
    )
    .into_bytes()
}

const WAL_LABEL: &[u8] = b"angou.dev/v2/kms wal\0";
const PENDING_LABEL: &[u8] = b"angou.dev/v2/kms pending\0";

#[test]
fn wal_record_and_commit_intent_cannot_stand_in_for_each_other() {
    let mut fx = Fx::new();
    let tail = fx.record_with(1, None);
    let next = fx.state.clone();
    let line = fx.read(store::WAL_FILE);
    // The test's envelope is sealed.rs's: a record it builds under the WAL label is one
    // angou accepts (so a refusal below is the label's doing).
    assert_eq!(
        sealed::decode(&fx.keys, Kind::Wal, &line[..line.len() - 1], "x")
            .unwrap()
            .1,
        tail
    );
    let compact = serde_json::to_string(&next).unwrap();
    let pretty = serde_json::to_string_pretty(&next).unwrap();
    assert_eq!(
        envelope(&fx.keys, WAL_LABEL, &compact, &tail, false),
        line[..line.len() - 1]
    );
    fs::remove_file(fx.paths.file(store::WAL_FILE)).unwrap();

    // A WAL record as store.next, compact or pretty-printed: refused.
    for as_next in [
        line.clone(),
        envelope(&fx.keys, WAL_LABEL, &pretty, &tail, true),
    ] {
        fx.write(store::PENDING_FILE, &as_next);
        assert_state_tampered(fx.open(), "store.next was modified");
        assert_eq!(fx.disk_generation(), 1);
    }
    // The same under the pending label is a commit intent, and completes.
    fx.write(
        store::PENDING_FILE,
        &envelope(&fx.keys, PENDING_LABEL, &pretty, &tail, true),
    );
    fx.open().unwrap();
    assert_eq!(fx.disk_generation(), 2);
    assert!(!fx.paths.file(store::PENDING_FILE).exists());

    // A commit intent as a WAL record (made one line): refused; under the WAL label it applies.
    fx.rewind();
    let mut as_record = envelope(&fx.keys, PENDING_LABEL, &compact, &tail, false);
    as_record.push(b'\n');
    fx.write(store::WAL_FILE, &as_record);
    assert_state_tampered(fx.open(), "store.wal record 1 was modified");
    assert_eq!(fx.disk_generation(), 1);
    let mut own = envelope(&fx.keys, WAL_LABEL, &compact, &tail, false);
    own.push(b'\n');
    fx.write(store::WAL_FILE, &own);
    let o = fx.open().unwrap();
    fx.assert_applied(&o, &[tail]);
}

#[test]
fn wal_without_store_json_is_not_a_store() {
    let mut fx = Fx::new();
    fx.records(1);
    let bare = tempfile::tempdir().unwrap();
    fs::copy(
        fx.paths.file(store::WAL_FILE),
        bare.path().join(store::WAL_FILE),
    )
    .unwrap();
    let paths = Paths {
        home: bare.path().to_path_buf(),
    };
    match paths.present() {
        Err(Error::Kms(KmsError::StateTampered { reason })) => {
            assert!(
                reason.contains("store.json is missing but store.wal is there"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// The same for `store.next`: an intent of another store (another root key) is tampering that
/// `audit repair` discards, never a wrong root key (which would advise restoring `root.key`).
#[test]
fn commit_intent_under_another_root_key_is_tampering_that_repair_discards() {
    let fx = Fx::new();
    let other = Fx::new();
    let mut next = other.state.clone();
    let tail = prepare_commit(&mut next, vec![entry("Encrypt", 0)]);
    store::save_pending(&other.paths, &other.keys, &next, &tail).unwrap();
    fx.write(store::PENDING_FILE, &other.read(store::PENDING_FILE));
    assert_state_tampered(fx.open(), "store.next was sealed under another root key");
    let (_, found) = repair(&fx.paths, None, None).unwrap();
    assert!(
        found.iter().any(|f| f.starts_with("discarded store.next")),
        "{found:?}"
    );
    assert!(!fx.paths.file(store::PENDING_FILE).exists());
    fx.open().unwrap();
}

/// Repair keeps the records that continue the state even when the records after them or the
/// log past its sealed end were tampered with: an edited third record and a line appended to
/// the log cost only the third record and the appended line.
#[test]
fn wal_repair_keeps_what_continues_past_a_tampered_log() {
    let mut fx = Fx::new();
    let tails = fx.records(3);
    edit_record(&fx, 3, b"\"generation\":4", b"\"generation\":7");
    let mut log = fx.read(store::AUDIT_FILE);
    log.extend_from_slice(b"{\"operation\":\"Decrypt\",\"seq\":99}\n");
    fx.write(store::AUDIT_FILE, &log);
    let (o, found) = repair(&fx.paths, None, None).unwrap();
    assert_eq!(o.state.generation, 3, "{found:?}");
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("discarded the records of store.wal from record 3 on")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains("bytes past the sealed end of the log that were not the lines")),
        "{found:?}"
    );
    let want = [fx.log0.as_slice(), &tails[0], &tails[1]].concat();
    assert_eq!(fx.read(store::AUDIT_FILE), want);
    assert_eq!(fx.open().unwrap().state.generation, 3);
}
