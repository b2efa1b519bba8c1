//! Post-quantum hybrid recipients through the CLI (issue 13): `keygen -t pq`, `pubkey`,
//! `encrypt -r age1pq1…`, `decrypt -i`, age 1.3's files, the mixing rule, and key text that
//! is cut off or altered in transit.

use std::os::unix::fs::PermissionsExt;

use crate::common::{Env, angou, run};

/// The identity and an age 1.3 file from the C2SP CCTV kit (`hybrid`, tests/data/age-cctv).
const CCTV_IDENTITY: &str =
    "AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG";

fn cctv_body(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/age-cctv/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).unwrap();
    let split = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
    bytes[split + 2..].to_vec()
}

/// `keygen -t pq` (and the spec's name) writes a 0600 identity file and prints its
/// `age1pq1…` recipient; `pubkey -i` derives the same; a file encrypted to it with `-r`
/// decrypts with `-i`, and not with another PQ identity.
#[test]
fn keygen_pubkey_encrypt_decrypt_round_trip() {
    let env = Env::new();
    for (t, file) in [("pq", "pq.key"), ("mlkem768x25519", "pq2.key")] {
        let id = env.p(file);
        let r = run(angou().args(["keygen", "-t", t, "-o"]).arg(&id));
        assert_eq!(r.code, 0, "{t}: {}", r.stderr);
        let mode = std::fs::metadata(&id).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{t}");
        let printed = r
            .stderr
            .trim()
            .strip_prefix("Public key: ")
            .unwrap()
            .to_owned();
        assert!(
            printed.starts_with("age1pq1") && printed.len() == 1959,
            "{printed}"
        );
        let text = std::fs::read_to_string(&id).unwrap();
        assert!(text.lines().any(|l| l.starts_with("AGE-SECRET-KEY-PQ-1")));
        let p = run(angou().args(["pubkey", "-i"]).arg(&id));
        assert_eq!(p.code, 0, "{}", p.stderr);
        assert_eq!(p.out().trim(), printed);
    }
    let recipient = run(angou().args(["pubkey", "-i"]).arg(env.p("pq.key")))
        .out()
        .trim()
        .to_owned();
    let plain = env.write("plain.txt", b"store now, decrypt later: not with this file");
    let r = run(angou()
        .args(["encrypt", "-r", &recipient, "-o"])
        .arg(env.p("f.age"))
        .arg(&plain));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = run(angou()
        .args(["decrypt", "-i"])
        .arg(env.p("pq.key"))
        .arg(env.p("f.age")));
    assert_eq!(d.code, 0, "{}", d.stderr);
    assert_eq!(d.stdout, b"store now, decrypt later: not with this file");
    let other = run(angou()
        .args(["decrypt", "-i"])
        .arg(env.p("pq2.key"))
        .arg(env.p("f.age")));
    assert_eq!(other.code, 1);
    assert!(other.stdout.is_empty());
    // -R with a recipients file of age1pq1… lines.
    let list = env.write("recipients.txt", format!("# pq\n{recipient}\n").as_bytes());
    let r = run(angou()
        .args(["encrypt", "-R"])
        .arg(&list)
        .arg("-o")
        .arg(env.p("g.age"))
        .arg(&plain));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A file written by age 1.3 (CCTV `hybrid`, `hybrid_and_x25519`) decrypts through the CLI
/// with the vector's identity file.
#[test]
fn age_1_3_files_decrypt() {
    let env = Env::new();
    let id = env.write("id.key", format!("{CCTV_IDENTITY}\n").as_bytes());
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o600)).unwrap();
    for name in ["hybrid", "hybrid_and_x25519"] {
        let f = env.write(name, &cctv_body(name));
        let d = run(angou().args(["decrypt", "-i"]).arg(&id).arg(&f));
        assert_eq!(d.code, 0, "{name}: {}", d.stderr);
        assert!(!d.stdout.is_empty());
    }
}

/// age 1.3's rule: one file cannot be encrypted to a post-quantum and a classic recipient.
/// The refusal is a usage error with one `error:` and one `hint:` line, and no output file.
#[test]
fn mixing_pq_and_x25519_recipients_is_refused() {
    let env = Env::new();
    let pq = env.p("pq.key");
    assert_eq!(
        run(angou().args(["keygen", "-t", "pq", "-o"]).arg(&pq)).code,
        0
    );
    let pq_r = run(angou().args(["pubkey", "-i"]).arg(&pq))
        .out()
        .trim()
        .to_owned();
    let x = env.p("x.key");
    assert_eq!(run(angou().args(["keygen", "-o"]).arg(&x)).code, 0);
    let x_r = run(angou().args(["pubkey", "-i"]).arg(&x))
        .out()
        .trim()
        .to_owned();
    let plain = env.write("plain.txt", b"secret");
    for (a, b) in [(&pq_r, &x_r), (&x_r, &pq_r)] {
        let out = env.p("mixed.age");
        let r = run(angou()
            .args(["encrypt", "-r", a, "-r", b, "-o"])
            .arg(&out)
            .arg(&plain));
        assert_eq!(r.code, 2, "{}", r.stderr);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{}", r.stderr);
        assert!(
            lines[0].starts_with("error: cannot encrypt to post-quantum"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("X25519"));
        assert!(lines[1].starts_with("hint: "), "{}", lines[1]);
        assert!(!out.exists(), "output file left behind");
    }
}

/// A recipient cut off or altered in a copy is refused without being repeated, and a PQ
/// identity given where a recipient belongs is named as a secret.
#[test]
fn altered_or_cut_off_recipient_text_is_refused() {
    let env = Env::new();
    let pq = env.p("pq.key");
    assert_eq!(
        run(angou().args(["keygen", "-t", "pq", "-o"]).arg(&pq)).code,
        0
    );
    let r = run(angou().args(["pubkey", "-i"]).arg(&pq))
        .out()
        .trim()
        .to_owned();
    let plain = env.write("plain.txt", b"secret");
    let mut flipped = r.clone();
    let c = flipped.pop().unwrap();
    flipped.push(if c == 'q' { 'p' } else { 'q' });
    let cut = r[..1000].to_owned();
    let secret = std::fs::read_to_string(&pq)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
        .unwrap()
        .to_owned();
    for bad in [&flipped, &cut, &secret] {
        let out = env.p("x.age");
        let e = run(angou()
            .args(["encrypt", "-r", bad, "-o"])
            .arg(&out)
            .arg(&plain));
        assert_eq!(e.code, 2, "{}", e.stderr);
        assert!(e.stderr.starts_with("error: "), "{}", e.stderr);
        assert!(!e.stderr.contains(&bad[20..60]), "{}", e.stderr);
        assert!(!out.exists());
    }
}
