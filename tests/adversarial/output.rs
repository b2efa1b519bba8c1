//! Output safety (issue 10 §3): FIFOs and devices are written into and never replaced,
//! nothing that is not text reaches a terminal, no plaintext file is left behind by a killed
//! decryption, and a failure says how much plaintext had already gone out.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::{Env, angou, angou_std, run, tool_available};

/// An X25519 identity `id` in `e`; returns its recipient.
fn identity(e: &Env) -> String {
    let r = run(angou().args(["keygen", "-o"]).arg(e.p("id")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stderr
        .split_whitespace()
        .find(|w| w.starts_with("age1"))
        .unwrap()
        .to_owned()
}

/// Encrypts `plain` to `recipient` into `name`; returns its path.
fn encrypt(e: &Env, recipient: &str, plain: &[u8], name: &str) -> PathBuf {
    let p = e.write(&format!("{name}.plain"), plain);
    let out = e.p(name);
    let r = run(angou()
        .args(["encrypt", "-r", recipient, "-o"])
        .arg(&out)
        .arg(&p));
    assert_eq!(r.code, 0, "{}", r.stderr);
    out
}

/// Bytes that are not all alike (so a wrong offset shows).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 23) as u8).collect()
}

/// Reads a FIFO without ever blocking the test: the read end is opened non-blocking before
/// any writer, so a FIFO that angou replaced (old behaviour) yields nothing instead of a hang.
fn fifo_reader(path: &Path) -> (Arc<AtomicBool>, std::thread::JoinHandle<Vec<u8>>) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let h = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match f.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                Ok(_) if flag.load(Ordering::SeqCst) => return got,
                Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => panic!("{e}"),
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (done, h)
}

fn mkfifo(path: &Path) {
    use rustix::fs::{CWD, FileType, Mode};
    rustix::fs::mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
}

fn is_fifo(path: &Path) -> bool {
    fs::symlink_metadata(path)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false)
}

/// Runs `args` with a fresh FIFO as `-o`, reading it meanwhile; returns (run, bytes read).
fn through_fifo(fifo: &Path, args: &[&std::ffi::OsStr]) -> (crate::common::Run, Vec<u8>) {
    let (done, reader) = fifo_reader(fifo);
    let r = run(angou().args(args).arg("-o").arg(fifo));
    done.store(true, Ordering::SeqCst);
    let got = reader.join().unwrap();
    (r, got)
}

/// `decrypt -o FIFO` (with and without --force), `encrypt -o FIFO` and `keygen -o FIFO` write
/// every byte into the FIFO's reader, which stays a FIFO. Before the fix, --force replaced the
/// FIFO with a regular 0600 file (its reader got 0 bytes) and without --force it was refused.
#[test]
fn fifo_target_gets_every_byte_and_stays_a_fifo() {
    let e = Env::new();
    let recipient = identity(&e);
    // Several pipe buffers' worth, so the writer must wait for the reader.
    let plain = pattern(300_000);
    let ct = encrypt(&e, &recipient, &plain, "ct");
    let fifo = e.p("fifo");
    mkfifo(&fifo);
    let id = e.p("id");
    for force in [true, false] {
        let mut args = vec!["decrypt".as_ref(), "-i".as_ref(), id.as_os_str()];
        if force {
            args.push("--force".as_ref());
        }
        args.push(ct.as_os_str());
        let (r, got) = through_fifo(&fifo, &args);
        assert_eq!(r.code, 0, "force={force}: {}", r.stderr);
        assert!(
            got == plain,
            "force={force}: reader got {} bytes",
            got.len()
        );
        assert!(is_fifo(&fifo), "force={force}: the FIFO was replaced");
    }
    // encrypt into the FIFO: what the reader gets decrypts to the plaintext.
    let plain_file = e.p("ct.plain");
    let args = [
        "encrypt".as_ref(),
        "-r".as_ref(),
        recipient.as_ref(),
        plain_file.as_os_str(),
    ];
    let (r, got) = through_fifo(&fifo, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(is_fifo(&fifo), "encrypt replaced the FIFO");
    let back = run(angou().args(["decrypt", "-i"]).arg(&id).write_stdin(got));
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(back.stdout == plain);
    // keygen into the FIFO: the reader gets the key text.
    let (r, got) = through_fifo(&fifo, &["keygen".as_ref()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(is_fifo(&fifo), "keygen replaced the FIFO");
    assert!(String::from_utf8_lossy(&got).contains("AGE-SECRET-KEY-1"));
}

/// The character device to attack: as root a private node with /dev/null's numbers (1,3) in
/// the scratch folder, so that code which replaced it would damage nothing; otherwise
/// /dev/null itself, which a user who is not root cannot replace in any case.
fn char_device(e: &Env) -> Option<PathBuf> {
    let root = fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if !root {
        return Some(PathBuf::from("/dev/null"));
    }
    use rustix::fs::{CWD, FileType, Mode, makedev};
    let node = e.p("null");
    match rustix::fs::mknodat(
        CWD,
        &node,
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o666),
        makedev(1, 3),
    ) {
        Ok(()) => Some(node),
        Err(err) => {
            eprintln!("skipped: root without the right to make a device node ({err})");
            None
        }
    }
}

fn char_device_id(path: &Path) -> Option<u64> {
    let m = fs::symlink_metadata(path).ok()?;
    m.file_type().is_char_device().then(|| m.rdev())
}

/// `-o NULL` where NULL is a character device: encrypt, decrypt and keygen write into it with
/// or without --force and leave it the same device. Before the fix it was refused without
/// --force, and with --force replaced by a regular file (as root this replaced /dev/null).
#[test]
fn char_device_target_is_written_into_never_replaced() {
    let e = Env::new();
    let recipient = identity(&e);
    let ct = encrypt(&e, &recipient, b"to the void\n", "ct");
    let Some(node) = char_device(&e) else { return };
    let before = char_device_id(&node).unwrap();
    let id = e.p("id");
    let plain = e.p("ct.plain");
    let attempts: Vec<Vec<&std::ffi::OsStr>> = vec![
        vec![
            "decrypt".as_ref(),
            "-i".as_ref(),
            id.as_os_str(),
            ct.as_os_str(),
        ],
        vec![
            "decrypt".as_ref(),
            "--force".as_ref(),
            "-i".as_ref(),
            id.as_os_str(),
            ct.as_os_str(),
        ],
        vec![
            "encrypt".as_ref(),
            "-r".as_ref(),
            recipient.as_ref(),
            plain.as_os_str(),
        ],
        vec![
            "encrypt".as_ref(),
            "--force".as_ref(),
            "-r".as_ref(),
            recipient.as_ref(),
            plain.as_os_str(),
        ],
        vec!["keygen".as_ref()],
    ];
    for args in &attempts {
        let r = run(angou().args(args).arg("-o").arg(&node));
        assert_eq!(
            char_device_id(&node),
            Some(before),
            "{args:?} replaced the device: {}",
            r.stderr
        );
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    // The scratch node proved the code safe; now the machine's /dev/null, without --force
    // (which even the old code never replaced), as users benchmark with it.
    if node != Path::new("/dev/null") {
        let before = char_device_id(Path::new("/dev/null")).unwrap();
        for args in &attempts[..1] {
            let r = run(angou().args(args).args(["-o", "/dev/null"]));
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        assert_eq!(char_device_id(Path::new("/dev/null")), Some(before));
    }
}

/// A socket or a folder at `-o` is refused with a message that names it, even with --force,
/// and left as it was. Before the fix --force renamed the plaintext over the socket.
#[test]
fn socket_and_folder_targets_are_refused_and_left_alone() {
    let e = Env::new();
    let recipient = identity(&e);
    let ct = encrypt(&e, &recipient, b"secret\n", "ct");
    let sock = e.p("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let folder = e.p("folder");
    fs::create_dir(&folder).unwrap();
    for (target, what) in [(&sock, "is a socket"), (&folder, "is a folder")] {
        for force in [true, false] {
            let mut cmd = angou();
            cmd.args(["decrypt", "-i"])
                .arg(e.p("id"))
                .arg("-o")
                .arg(target);
            if force {
                cmd.arg("--force");
            }
            let r = run(cmd.arg(&ct));
            assert!(
                fs::symlink_metadata(&sock).unwrap().file_type().is_socket(),
                "the socket was replaced"
            );
            assert!(fs::read_dir(&folder).unwrap().next().is_none());
            assert_eq!(
                r.code, 2,
                "an unusable -o target is a usage error: {}",
                r.stderr
            );
            assert!(r.stderr.contains(what), "{}", r.stderr);
        }
    }
}

/// Runs `cmd` under `script` (a pseudo-terminal on stdout) and returns what the terminal got,
/// or None (after saying why) when `script` is missing.
fn on_terminal(cmd: &str) -> Option<Vec<u8>> {
    if !tool_available("script", &["--version"]) {
        return None;
    }
    let out = StdCommand::new("script")
        .args(["-qec", &format!("{cmd}; echo exit=$?"), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Some(out.stdout)
}

/// Decrypted plaintext holding escape sequences, other controls, NUL, C1 controls, invalid
/// UTF-8 or raw binary is refused before any of it reaches the terminal (stdout or
/// `-o /dev/tty`); printable UTF-8 text, including a character split across the 64 KiB chunk
/// boundary, still prints. Before the fix every one of them was written (exit 0).
#[test]
fn escape_sequences_never_reach_a_terminal() {
    let e = Env::new();
    let recipient = identity(&e);
    let bin = assert_cmd::cargo::cargo_bin("angou");
    let id = e.p("id");
    let mut binary = vec![0u8; 4096];
    getrandom::fill(&mut binary).unwrap();
    binary[100] = 0x1b;
    let mut late = b"plain text first\n".repeat(5000);
    late.extend_from_slice(b"\x1b]0;pwned\x07");
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("title", b"hello \x1b]0;pwned\x07world\n".to_vec()),
        ("csi", b"\x1b[2J\x1b[31mred\n".to_vec()),
        ("nul", b"a\x00b\n".to_vec()),
        ("bell", b"ding\x07\n".to_vec()),
        ("del", b"x\x7fy\n".to_vec()),
        ("c1-csi", "\u{9b}2J cleared\n".as_bytes().to_vec()),
        ("invalid-utf8", b"caf\xe9\n".to_vec()),
        ("cut-utf8", b"caf\xc3".to_vec()),
        ("binary", binary),
        ("escape-after-80k-of-text", late),
    ];
    for (name, plain) in &hostile {
        let ct = encrypt(&e, &recipient, plain, name);
        for to in ["", " -o /dev/tty"] {
            let cmd = format!(
                "{} decrypt -i {}{to} {}",
                bin.display(),
                id.display(),
                ct.display()
            );
            let Some(seen) = on_terminal(&cmd) else {
                return;
            };
            let text = String::from_utf8_lossy(&seen);
            assert!(
                !seen.contains(&0x1b),
                "{name}{to}: ESC reached the terminal: {text:?}"
            );
            assert!(!seen.contains(&0), "{name}{to}: NUL reached the terminal");
            assert!(!text.contains("pwned"), "{name}{to}: {text:?}");
            assert!(text.contains("exit=2"), "{name}{to}: {text:?}");
            assert!(
                text.contains("refusing to write decrypted output that is not text to a terminal"),
                "{name}{to}: {text:?}"
            );
        }
    }
    // Text still prints: a two-byte character straddles the first chunk boundary.
    let mut note = vec![b'a'; 65_535];
    note.extend_from_slice("é and 日本語, tab\there\r\nend-of-note\n".as_bytes());
    let ct = encrypt(&e, &recipient, &note, "note");
    let cmd = format!(
        "{} decrypt -i {} {}",
        bin.display(),
        id.display(),
        ct.display()
    );
    let Some(seen) = on_terminal(&cmd) else {
        return;
    };
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.contains("exit=0"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert!(
        text.contains("aé and 日本語"),
        "the split character was lost"
    );
    assert!(text.contains("end-of-note"));
}

/// Where the child `pid` holds a file open inside `dir`: the size of that file, if any.
fn open_file_size_in(pid: u32, dir: &Path) -> Option<u64> {
    for fd in fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        if let Ok(target) = fs::read_link(fd.path())
            && target.starts_with(dir)
        {
            return fs::metadata(fd.path()).ok().map(|m| m.len());
        }
    }
    None
}

/// Starts `decrypt -o DIR/plain` of a large file fed through a pipe this test holds, waits
/// until plaintext is being written (half the input is in, the pipe is still open, so the
/// run cannot have finished), sends `signal`, and checks that DIR holds nothing at all.
fn kill_mid_way(signal: &str, named_temp: bool) {
    let e = Env::new();
    let recipient = identity(&e);
    let plain = pattern(16 << 20);
    let ct = fs::read(encrypt(&e, &recipient, &plain, "big")).unwrap();
    let dir = e.p("out");
    fs::create_dir(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    let target = dir.join("plain");
    let mut cmd = angou_std();
    cmd.args(["decrypt", "-q", "-i"])
        .arg(e.p("id"))
        .arg("-o")
        .arg(&target)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if named_temp {
        cmd.env("ANGOU_TEST_NAMED_TEMP", "1");
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&ct[..ct.len() / 2]).unwrap();
    let mut waited = 0;
    while open_file_size_in(child.id(), &dir).unwrap_or(0) == 0 {
        assert!(waited < 6000, "decrypt never started writing its output");
        std::thread::sleep(Duration::from_millis(10));
        waited += 1;
    }
    let killed = StdCommand::new("sh")
        .args(["-c", &format!("kill -{signal} {}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    drop(stdin);
    assert!(!status.success(), "{signal}: decrypt finished anyway");
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|d| d.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "{signal}: left behind in the output folder: {left:?}"
    );
    assert!(!target.exists());
}

/// Whether this process ignores `signal` (Linux: the SigIgn mask in /proc/self/status).
fn ignored_here(signal: u32) -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

/// SIGKILL in the middle of `decrypt -o` leaves no file, named or hidden: the temp file is
/// unnamed (O_TMPFILE). Before the fix a hidden `.angou-*.tmp` with the plaintext so far stayed.
#[test]
#[cfg(target_os = "linux")]
fn sigkill_mid_decrypt_leaves_no_plaintext_file() {
    kill_mid_way("KILL", false);
}

/// SIGTERM and SIGINT in the middle of `decrypt -o` leave no file, both with the unnamed temp
/// file and (debug builds) with the named fallback, whose signal handler removes it. Before
/// the fix a hidden `.angou-*.tmp` stayed.
#[test]
fn sigterm_and_sigint_mid_decrypt_leave_no_plaintext_file() {
    for (signal, number) in [("TERM", 15), ("INT", 2)] {
        if ignored_here(number) {
            // The child would inherit the ignored signal and rightly keep running.
            eprintln!("skipped SIG{signal}: this test process ignores it");
            continue;
        }
        kill_mid_way(signal, false);
        if cfg!(debug_assertions) {
            kill_mid_way(signal, true);
        }
    }
}

/// A tampered file decrypted to a pipe releases its verified chunks first; the hint then says
/// how many bytes went out and that they are not trustworthy, instead of "no plaintext was
/// kept" (what it said before the fix). To -o FILE nothing is kept and the hint says so.
#[test]
fn tampered_stream_hint_says_how_much_was_released() {
    let e = Env::new();
    let recipient = identity(&e);
    let plain = pattern(2 << 20);
    let ct_path = encrypt(&e, &recipient, &plain, "ct");
    let mut ct = fs::read(&ct_path).unwrap();
    let at = ct.len() - 100;
    ct[at] ^= 0x01;
    let bad = e.write("bad.age", &ct);
    let r = run(angou().args(["decrypt", "-i"]).arg(e.p("id")).arg(&bad));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let released = r.stdout.len();
    assert!(
        released > 0,
        "the test needs verified chunks released first"
    );
    assert!(
        plain.starts_with(&r.stdout),
        "released bytes are not the plaintext prefix"
    );
    assert!(!r.stderr.contains("no plaintext was kept"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("{released} bytes of plaintext"))
            && r.stderr.contains("standard output")
            && r.stderr.contains("not trustworthy"),
        "{}",
        r.stderr
    );
    let out = e.p("out");
    let r = run(angou()
        .args(["decrypt", "-i"])
        .arg(e.p("id"))
        .arg("-o")
        .arg(&out)
        .arg(&bad));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no plaintext was kept"), "{}", r.stderr);
    assert!(!out.exists());
}

/// Decrypted files and key files are private (0600) whatever the umask allows; encrypted files
/// follow the umask like any new file, with or without `--force`, on both temp-file paths.
#[test]
fn decrypted_files_are_private_and_encrypted_files_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for named in [false, true] {
        let e = Env::new();
        let r = identity(&e);
        assert_eq!(mode(&e.p("id")), 0o600, "key file");
        for umask in ["022", "002", "000"] {
            let plain = e.write("plain", b"secret notes");
            let ct = e.p(&format!("ct-{umask}"));
            let pt = e.p(&format!("pt-{umask}"));
            let sh = format!(
                "umask {umask} && \"$0\" encrypt -r {r} -o '{}' '{}' && \"$0\" decrypt -i '{}' -o '{}' '{}'",
                ct.display(),
                plain.display(),
                e.p("id").display(),
                pt.display(),
                ct.display()
            );
            let mut c = StdCommand::new("sh");
            c.arg("-c")
                .arg(&sh)
                .arg(assert_cmd::cargo::cargo_bin("angou"));
            if named {
                c.env("ANGOU_TEST_NAMED_TEMP", "1");
            }
            let out = c.output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let want = 0o666 & !u32::from_str_radix(umask, 8).unwrap();
            assert_eq!(mode(&ct), want, "ciphertext under umask {umask}");
            assert_eq!(mode(&pt), 0o600, "plaintext under umask {umask}");
        }
    }
}
