//! `angou kms serve` keeps the verified store in memory and commits concurrent requests
//! together (src/kms/local/resident.rs). These tests attack that resident state through the real
//! server: the store is changed behind its back between requests (an edited `store.json`, a
//! line appended to or edited in the log, the folder rolled back, another process's commit),
//! and the server's next request must see it; and a server killed under load must have
//! audited every request it answered.
//!
//! A server commits each batch as one record appended to `store.wal` and applies the records to
//! `store.json` and `audit.log` later (when due, when idle, when it stops). The tests above
//! attack a settled store; those below the write-ahead log (`ANGOU_TEST_SETTLE=hold` keeps the
//! records there) attack it while the newest commits are only records: edited, dropped,
//! repeated or reordered records, the file deleted (a rollback), a record cut short by a
//! crash, a crash while applying them, and a stop that must leave everything applied.

#[path = "support/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use server::{Server, Stderr, store};

/// Starts the server with unsigned requests allowed, keeping what it tells its operator.
fn serve(home: &Path) -> Server {
    Server::start_with(home, &marks(home), &["--allow-unsigned"], Stderr::Keep)
}

/// Requests to the server, each on a connection of its own.
trait Call {
    /// One request on a fresh connection; (status, JSON body).
    fn call(&self, op: &str, body: &Value) -> (u16, Value);
}

impl Call for Server {
    fn call(&self, op: &str, body: &Value) -> (u16, Value) {
        call(&mut connect(&self.addr), &self.addr, op, body)
    }
}

fn marks(home: &Path) -> PathBuf {
    home.with_extension("marks")
}

fn connect(addr: &str) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    BufReader::new(s)
}

/// One request on a kept-alive connection; (status, JSON body).
fn call(conn: &mut BufReader<TcpStream>, addr: &str, op: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: TrentService.{op}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.get_mut().write_all(raw.as_bytes()).unwrap();
    let mut status = String::new();
    conn.read_line(&mut status).unwrap();
    let code: u16 = status.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut len = 0;
    loop {
        let mut h = String::new();
        conn.read_line(&mut h).unwrap();
        if h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':')
            && n.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap();
        }
    }
    let mut out = vec![0; len];
    conn.read_exact(&mut out).unwrap();
    (code, serde_json::from_slice(&out).unwrap_or(Value::Null))
}

fn cli(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(assert_cmd::cargo::cargo_bin("angou"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("ANGOU_FAKE_NOW")
        .env("ANGOU_STATE_DIR", marks(home))
        .output()
        .unwrap()
}

/// A served store with one key; (server, key id).
fn served() -> (tempfile::TempDir, PathBuf, Server, String) {
    let (dir, home) = store();
    let server = serve(&home);
    let (code, v) = server.call("CreateKey", &json!({"Description": "resident"}));
    assert_eq!(code, 200, "{v}");
    let id = v["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    // A few requests, so the server's resident state is warm and the log has lines.
    for _ in 0..3 {
        assert_eq!(gdk(&server, &id).0, 200);
    }
    settled(&home);
    (dir, home, server, id)
}

/// Waits (at most 10 s) until an idle server has applied its write-ahead log.
fn settled(home: &Path) {
    for _ in 0..200 {
        if std::fs::metadata(home.join("store.wal")).map_or(true, |m| m.len() == 0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not apply store.wal within 10 s of its last request");
}

fn gdk(server: &Server, id: &str) -> (u16, Value) {
    server.call(
        "GenerateDataKey",
        &json!({"KeyId": id, "KeySpec": "AES_256"}),
    )
}

/// The server refused with an internal error and told its operator `finding`.
fn assert_refused(server: &Server, (code, body): (u16, Value), finding: &str) {
    assert_eq!(code, 500, "{body}");
    assert_eq!(body["__type"], "KMSInternalException", "{body}");
    assert!(body.get("Plaintext").is_none());
    let log = server.log();
    assert!(log.contains(finding), "expected {finding:?} in {log:?}");
}

#[test]
fn edited_state_file_is_noticed_by_the_next_request() {
    let (_dir, home, server, id) = served();
    let path = home.join("store.json");
    let text = std::fs::read_to_string(&path).unwrap();
    // Re-enable nothing, just change a description: a valid JSON edit the seal must catch.
    let edited = text.replacen("\"resident\"", "\"attacker\"", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    assert_refused(&server, gdk(&server, &id), "was modified");
    // And it stays refused: nothing was cached past the failure.
    assert_refused(&server, gdk(&server, &id), "was modified");
}

/// Appends a made-up entry to `audit.log`, as someone covering their tracks with a fake one
/// would.
fn append_forged_line(home: &Path) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(home.join("audit.log"))
        .unwrap();
    f.write_all(b"{\"operation\":\"Decrypt\",\"seq\":99}\n")
        .unwrap();
}

#[test]
fn appended_log_line_is_noticed_by_the_next_request() {
    let (_dir, home, server, id) = served();
    append_forged_line(&home);
    assert_refused(&server, gdk(&server, &id), "lines were appended");
}

#[test]
fn old_log_line_edited_in_place_is_noticed_by_the_next_request() {
    let (_dir, home, server, id) = served();
    let path = home.join("audit.log");
    let log = std::fs::read(&path).unwrap();
    let len = log.len();
    // Same length, same mtime: only the content (and the kernel's change time) differ.
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let text = String::from_utf8(log).unwrap();
    let edited = text.replacen("\"success\"", "\"failure\"", 1);
    assert_eq!(edited.len(), len);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_refused(&server, gdk(&server, &id), "do not hash to the sealed head");
}

#[test]
fn rolled_back_folder_is_noticed_by_the_next_request() {
    let (dir, home, server, id) = served();
    let copy = dir.path().join("copy");
    copy_files(&home, &copy);
    for _ in 0..3 {
        assert_eq!(gdk(&server, &id).0, 200);
    }
    // Put the older copy back, file by file, as a restore from backup would.
    copy_files(&copy, &home);
    assert_refused(&server, gdk(&server, &id), "replaced by an older copy");
}

fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn another_process_commit_is_seen_by_the_next_request() {
    let (_dir, home, server, id) = served();
    let out = cli(&home, &["kms", "disable-key", "--key-id", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, body) = gdk(&server, &id);
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["__type"], "DisabledException", "{body}");
    let out = cli(
        &home,
        &["kms", "create-key", "--description", "from the cli"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    let other = made["KeyMetadata"]["KeyId"].as_str().unwrap();
    let (code, body) = server.call("DescribeKey", &json!({"KeyId": other}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["KeyMetadata"]["Description"], "from the cli");
    // The server's commits and the CLI's interleave into one valid chain.
    assert_eq!(gdk(&server, other).0, 200);
    let out = cli(&home, &["kms", "audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every request a server answered with 200 is in the audit log, even when the server is
/// killed (SIGKILL) while requests from many clients are being committed together.
#[test]
fn killed_under_load_every_answered_request_is_audited() {
    let (_dir, home, server, id) = served();
    killed_under_load(home, server, id);
}

/// The same with every record still in `store.wal` when the server dies.
#[test]
fn killed_under_load_with_records_waiting_every_answered_request_is_audited() {
    let (_dir, home, server, id) = held(&[HOLD]);
    killed_under_load(home, server, id);
}

fn killed_under_load(home: PathBuf, mut server: Server, id: String) {
    let load = Load::start(&server.addr, &id);
    // Let batches form, then kill the server in the middle of them.
    load.wait_for(40);
    server.kill();
    let answered = load.stop();
    assert_audited(&home, &answered);
}

/// Eight clients on kept-alive connections sending GenerateDataKey with a context `{"tag":
/// "<client>-<n>"}` each, as fast as they are answered; the tags of the answered (200) ones.
struct Load {
    answered: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    clients: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(addr: &str, id: &str) -> Load {
        let server_addr = addr.to_owned();
        let key = id.to_owned();
        let answered = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clients: Vec<_> = (0..8)
        .map(|c| {
            let (addr, id, answered, stop) =
                (server_addr.clone(), key.clone(), answered.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut conn = connect(&addr);
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    }
                    let tag = format!("{c}-{n}");
                    let body = json!({"KeyId": id, "KeySpec": "AES_256", "EncryptionContext": {"tag": tag}});
                    let body = body.to_string();
                    let raw = format!(
                        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: TrentService.GenerateDataKey\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.get_mut().write_all(raw.as_bytes()).is_err() {
                        return;
                    }
                    let mut status = String::new();
                    if conn.read_line(&mut status).unwrap_or(0) == 0 {
                        return;
                    }
                    if status.split_whitespace().nth(1) == Some("200") {
                        answered.lock().unwrap().push(tag);
                    }
                    // Skip the rest of the answer.
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        if conn.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some((n, v)) = h.split_once(':')
                            && n.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut out = vec![0; len];
                    if conn.read_exact(&mut out).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
        Load {
            answered,
            stop,
            clients,
        }
    }

    /// Waits until `n` requests were answered with 200.
    fn wait_for(&self, n: usize) {
        while self.answered.lock().unwrap().len() < n {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.clients {
            c.join().unwrap();
        }
        self.answered.lock().unwrap().clone()
    }
}

/// Every tag in `answered` is in the audit log, after the CLI's full check (which applies
/// `store.wal` and completes an interrupted commit) passes.
fn assert_audited(home: &Path, answered: &[String]) {
    let out = cli(home, &["kms", "audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(home.join("audit.log")).unwrap();
    let audited: std::collections::HashSet<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["encryption_context"]["tag"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<&String> = answered.iter().filter(|t| !audited.contains(*t)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered requests are not in the audit log: {missing:?}",
        missing.len(),
        answered.len()
    );
}

/// `ANGOU_TEST_SETTLE=hold`: the server keeps its records in `store.wal` until it stops.
const HOLD: (&str, &str) = ("ANGOU_TEST_SETTLE", "hold");

/// A store with one key made by the CLI, served with `env`; (dir, home, server, key id).
fn held(env: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf, Server, String) {
    let (dir, home) = store();
    let out = cli(&home, &["kms", "create-key", "--description", "resident"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = made["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let server = Server::start_env(
        &home,
        &marks(&home),
        &["--allow-unsigned"],
        Stderr::Keep,
        env,
    );
    (dir, home, server, id)
}

/// GenerateDataKey with `{"tag": tag}` as its context, which must be answered.
fn tagged(server: &Server, id: &str, tag: &str) {
    let (code, body) = server.call(
        "GenerateDataKey",
        &json!({"KeyId": id, "KeySpec": "AES_256", "EncryptionContext": {"tag": tag}}),
    );
    assert_eq!(code, 200, "{body}");
}

/// The `tag` of every audit line that has one, as written in `audit.log` (no store opened).
fn logged_tags(home: &Path) -> Vec<String> {
    std::fs::read_to_string(home.join("audit.log"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["encryption_context"]["tag"].as_str().map(str::to_owned))
        .collect()
}

fn wal_lines(home: &Path) -> Vec<String> {
    std::fs::read_to_string(home.join("store.wal"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_wal(home: &Path, lines: &[&String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(home.join("store.wal"), text).unwrap();
}

fn cli_ok(home: &Path, args: &[&str]) {
    let out = cli(home, args);
    assert!(
        out.status.success(),
        "angou {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn answered_requests_wait_in_the_write_ahead_log_and_a_stop_applies_them() {
    let (_dir, home, mut server, id) = held(&[HOLD]);
    for n in 0..5 {
        tagged(&server, &id, &format!("t{n}"));
    }
    // Answered, durable, and not yet in the log or the state: only in store.wal.
    assert!(logged_tags(&home).is_empty());
    assert_eq!(
        wal_lines(&home).len(),
        5,
        "one record per batch of one request"
    );
    assert!(server.sigterm().success());
    assert_eq!(std::fs::metadata(home.join("store.wal")).unwrap().len(), 0);
    assert_eq!(logged_tags(&home), ["t0", "t1", "t2", "t3", "t4"]);
    cli_ok(&home, &["kms", "audit", "verify"]);
}

#[test]
fn the_cli_applies_a_running_servers_records_and_the_server_notices() {
    let (_dir, home, server, id) = held(&[HOLD]);
    tagged(&server, &id, "before");
    cli_ok(&home, &["kms", "audit", "verify"]);
    assert_eq!(logged_tags(&home), ["before"]);
    assert_eq!(std::fs::metadata(home.join("store.wal")).unwrap().len(), 0);
    // The server's next batch sees files it did not write, checks them in full, and goes on.
    tagged(&server, &id, "after");
    cli_ok(&home, &["kms", "disable-key", "--key-id", &id]);
    let (code, body) = gdk(&server, &id);
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["__type"], "DisabledException", "{body}");
    cli_ok(&home, &["kms", "audit", "verify"]);
    assert_eq!(logged_tags(&home), ["before", "after"]);
}

#[test]
fn an_edited_record_is_noticed_by_the_next_request() {
    let (_dir, home, server, id) = held(&[HOLD]);
    for n in 0..3 {
        tagged(&server, &id, &format!("t{n}"));
    }
    let lines = wal_lines(&home);
    // Same length, still JSON: the generation's last digit of the second record.
    let edited = {
        let at = lines[1].find("\"generation\":").unwrap() + "\"generation\":".len();
        let mut b = lines[1].clone().into_bytes();
        b[at] = if b[at] == b'9' { b'8' } else { b[at] + 1 };
        String::from_utf8(b).unwrap()
    };
    write_wal(&home, &[&lines[0], &edited, &lines[2]]);
    assert_refused(
        &server,
        gdk(&server, &id),
        "store.wal record 2 was modified",
    );
}

#[test]
fn dropped_repeated_or_reordered_records_are_noticed_by_the_next_request() {
    type Edit = fn(&[String]) -> Vec<&String>;
    let cases: [(Edit, &str); 3] = [
        (|l| vec![&l[0], &l[2]], "out of order, repeated or missing"),
        (
            |l| vec![&l[0], &l[1], &l[1], &l[2]],
            "out of order, repeated or missing",
        ),
        (
            |l| vec![&l[1], &l[2]],
            "a record was planted or the state was replaced",
        ),
    ];
    for (edit, finding) in cases {
        let (_dir, home, server, id) = held(&[HOLD]);
        for n in 0..3 {
            tagged(&server, &id, &format!("t{n}"));
        }
        let lines = wal_lines(&home);
        write_wal(&home, &edit(&lines));
        assert_refused(&server, gdk(&server, &id), finding);
        // The CLI refuses the store as well: nothing was applied past the damage.
        let out = cli(&home, &["kms", "audit", "verify"]);
        assert!(!out.status.success());
        assert!(logged_tags(&home).is_empty());
    }
}

#[test]
fn a_deleted_write_ahead_log_is_a_rollback_the_next_request_notices() {
    let (_dir, home, server, id) = held(&[HOLD]);
    for n in 0..3 {
        tagged(&server, &id, &format!("t{n}"));
    }
    std::fs::remove_file(home.join("store.wal")).unwrap();
    assert_refused(&server, gdk(&server, &id), "replaced by an older copy");
    // Emptying it in place is the same rollback.
    let (_dir, home, server, id) = held(&[HOLD]);
    tagged(&server, &id, "t");
    std::fs::File::options()
        .write(true)
        .open(home.join("store.wal"))
        .unwrap()
        .set_len(0)
        .unwrap();
    assert_refused(&server, gdk(&server, &id), "replaced by an older copy");
}

#[test]
fn a_line_appended_to_the_log_while_records_wait_is_noticed() {
    let (_dir, home, server, id) = held(&[HOLD]);
    tagged(&server, &id, "t0");
    append_forged_line(&home);
    assert_refused(&server, gdk(&server, &id), "lines were appended");
}

/// A server killed (exit 86, debug builds' crash points) in the middle of appending a record:
/// the request was never answered, and the next opener drops the cut record. Killed right
/// after the record is durable: the request was not answered either, but it happened, and the
/// next opener applies it.
#[test]
fn a_record_cut_short_is_dropped_and_a_whole_unanswered_one_is_kept() {
    for (point, kept) in [("mid-wal", false), ("after-wal", true)] {
        let (_dir, home, mut server, id) = held(&[HOLD, ("ANGOU_TEST_CRASH_POINT", point)]);
        let mut conn = connect(&server.addr);
        let body = json!({"KeyId": id, "KeySpec": "AES_256", "EncryptionContext": {"tag": "lost"}})
            .to_string();
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.GenerateDataKey\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        conn.get_mut().write_all(raw.as_bytes()).unwrap();
        let mut status = String::new();
        assert_eq!(
            conn.read_line(&mut status).unwrap_or(0),
            0,
            "{point}: {status}"
        );
        assert_eq!(server.wait_code(), Some(86), "{point}");
        let wal = std::fs::read(home.join("store.wal")).unwrap();
        assert_eq!(wal.ends_with(b"\n"), kept, "{point}");
        cli_ok(&home, &["kms", "audit", "verify"]);
        let want: &[&str] = if kept { &["lost"] } else { &[] };
        assert_eq!(logged_tags(&home), want, "{point}");
        assert_eq!(std::fs::metadata(home.join("store.wal")).unwrap().len(), 0);
        // And the store goes on: a new server serves it.
        let server = serve(&home);
        tagged(&server, &id, "next");
    }
}

/// A server killed while applying its records (at each step of it: before the log grows,
/// after the log, after the state): the next opener completes the work, every answered
/// request audited exactly once.
#[test]
fn a_crash_while_applying_records_is_completed_by_the_next_opener() {
    for point in ["before-settle", "after-settle-log", "after-settle-state"] {
        let (_dir, home, mut server, id) = held(&[HOLD, ("ANGOU_TEST_CRASH_POINT", point)]);
        for n in 0..4 {
            tagged(&server, &id, &format!("t{n}"));
        }
        // The stop applies the records, and dies at the crash point.
        assert_eq!(server.sigterm().code(), Some(86), "{point}");
        cli_ok(&home, &["kms", "audit", "verify"]);
        assert_eq!(logged_tags(&home), ["t0", "t1", "t2", "t3"], "{point}");
        assert_eq!(std::fs::metadata(home.join("store.wal")).unwrap().len(), 0);
    }
}

/// A commit that fails under load (`store.wal` replaced by a folder, so no record can be
/// appended): no request of that batch, or of the batches opened on its state while it was
/// being written, is answered with 200; every request that was is audited once the file is
/// back.
#[test]
fn a_commit_failing_under_load_answers_nothing_it_did_not_record() {
    let (_dir, home, mut server, id) = held(&[HOLD]);
    let load = Load::start(&server.addr, &id);
    load.wait_for(40);
    let wal = home.join("store.wal");
    let kept = home.with_extension("wal-kept");
    std::fs::rename(&wal, &kept).unwrap();
    std::fs::create_dir(&wal).unwrap();
    let before = load.answered.lock().unwrap().len();
    // Let the failures run for a while: batches keep trying and failing.
    std::thread::sleep(Duration::from_millis(300));
    let during = load.answered.lock().unwrap().len();
    server.kill();
    let answered = load.stop();
    assert!(
        during - before <= 8,
        "{} requests were answered after store.wal became unwritable",
        during - before
    );
    std::fs::remove_dir(&wal).unwrap();
    std::fs::rename(&kept, &wal).unwrap();
    assert_audited(&home, &answered);
    assert!(server.log().contains("internal error"), "{}", server.log());
}
