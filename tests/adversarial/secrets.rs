//! Secrets in messages (issue 10 §2; DESIGN: key bytes are "never in errors").
//!
//! Every kind of secret angou knows is fed into every argument position that takes a path or
//! a key, as a file and (for text secrets) as the argument text itself; no 8-character piece
//! of the secret (and of a binary secret's hex and base64 forms) may appear in stdout or
//! stderr. Encrypting a key file as the *input* of `encrypt` is legitimate: the ciphertext goes
//! to `-o`, and nothing of the key may show in clear.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use base64ct::{Base64, Encoding};

use crate::common::{Env, Run, angou, create_kms_key, run};

/// A secret as a file and the pieces of it that must never be printed.
struct Secret {
    name: &'static str,
    /// The file holding it.
    path: PathBuf,
    /// The secret as one would type it (text secrets only).
    text: Option<String>,
    /// Strings none of whose 8-character windows may be printed.
    needles: Vec<String>,
    /// Raw bytes none of whose 8-byte windows may be printed (binary secrets).
    raw: Option<Vec<u8>>,
}

fn windows(s: &str) -> impl Iterator<Item = &str> {
    let idx: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
    (0..idx.len().saturating_sub(8)).map(move |i| &s[idx[i]..idx[i + 8]])
}

/// The base64 body of a PEM block: its lines without the BEGIN/END labels (which are public).
fn pem_needles(pem: &str) -> Vec<String> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
        .collect();
    let der = Base64::decode_vec(&body).unwrap();
    let mut v: Vec<String> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 8)
        .map(str::to_owned)
        .collect();
    v.push(hex::encode(&der));
    v.push(hex::encode_upper(&der));
    v
}

fn check(leaks: &mut Vec<String>, secret: &Secret, label: &str, r: &Run) {
    let stdout = r.out();
    for needle in &secret.needles {
        for w in windows(needle) {
            for (stream, text) in [("stdout", &stdout), ("stderr", &r.stderr)] {
                if text.contains(w) {
                    leaks.push(format!(
                        "{} via {label}: {stream} contains {w:?}\n  stderr: {}",
                        secret.name, r.stderr
                    ));
                    return;
                }
            }
        }
    }
    if let Some(raw) = &secret.raw {
        for w in raw.windows(8) {
            if r.stdout.windows(8).any(|x| x == w) || r.stderr.as_bytes().windows(8).any(|x| x == w)
            {
                leaks.push(format!("{} via {label}: raw bytes printed", secret.name));
                return;
            }
        }
    }
}

fn ok(r: Run, what: &str) -> Run {
    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
    r
}

/// The key material of a key line: what follows its public format label (`AGE-SECRET-KEY-1`,
/// `ANGOU-SYMMETRIC-KEY-1`), which may be printed as the name of a format.
fn material(line: &str) -> String {
    line.split_once("KEY-1")
        .or_else(|| line.split_once("KEY-PQ-1"))
        .map_or(line, |(_, data)| data)
        .to_owned()
}

/// The secret line of an angou key file (the one that is not a comment).
fn key_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap()
        .trim()
        .to_owned()
}

fn text_secret(env: &Env, name: &'static str, file: &str, contents: &str) -> Secret {
    let path = env.write(file, contents.as_bytes());
    let t = contents.trim();
    Secret {
        name,
        path,
        text: Some(t.to_owned()),
        needles: vec![if t.contains("-KEY-1") {
            material(t)
        } else {
            t.to_owned()
        }],
        raw: None,
    }
}

/// Every secret kind: X25519 identity file and its bare line, symmetric key file and its bare
/// line, RSA private keys (PKCS#8 from angou; PKCS#8 and PKCS#1 from openssl when present), a
/// passphrase file, and a KMS store's binary root.key.
fn secrets(env: &Env, store: &Path) -> Vec<Secret> {
    let mut out = Vec::new();
    let id = env.p("id.key");
    ok(run(angou().args(["keygen", "-o"]).arg(&id)), "keygen");
    let line = key_line(&id);
    out.push(Secret {
        name: "x25519 identity file",
        path: id,
        text: None,
        needles: vec![material(&line)],
        raw: None,
    });
    out.push(text_secret(
        env,
        "bare AGE-SECRET-KEY line",
        "bare.key",
        &line,
    ));

    let pq = env.p("pq.key");
    ok(
        run(angou().args(["keygen", "-t", "pq", "-o"]).arg(&pq)),
        "keygen",
    );
    let line = key_line(&pq);
    out.push(Secret {
        name: "post-quantum identity file",
        path: pq,
        text: None,
        needles: vec![material(&line)],
        raw: None,
    });
    out.push(text_secret(
        env,
        "bare AGE-SECRET-KEY-PQ line",
        "bare-pq.key",
        &line,
    ));

    let sym = env.p("sym.key");
    ok(
        run(angou().args(["keygen", "-t", "symmetric", "-o"]).arg(&sym)),
        "keygen",
    );
    let line = key_line(&sym);
    out.push(Secret {
        name: "symmetric key file",
        path: sym,
        text: None,
        needles: vec![material(&line)],
        raw: None,
    });
    out.push(text_secret(
        env,
        "bare symmetric key line",
        "bare-sym.key",
        &line,
    ));

    let rsa = env.p("rsa.pem");
    ok(
        run(angou().args(["keygen", "-t", "rsa-2048", "-o"]).arg(&rsa)),
        "keygen rsa",
    );
    let pem = std::fs::read_to_string(&rsa).unwrap();
    out.push(Secret {
        name: "rsa private key (angou, PKCS#8)",
        path: rsa,
        text: Some(pem.clone()),
        needles: pem_needles(&pem),
        raw: None,
    });
    if crate::tools::available("openssl", "OpenSSL (Debian package openssl)") {
        for (name, file, traditional) in [
            ("rsa private key (openssl, PKCS#1)", "rsa1.pem", true),
            ("rsa private key (openssl, PKCS#8)", "rsa8.pem", false),
        ] {
            let p = env.p(file);
            let mut cmd = StdCommand::new("openssl");
            cmd.arg("genrsa");
            if traditional {
                cmd.arg("-traditional");
            }
            let st = cmd.arg("-out").arg(&p).arg("2048").output().unwrap();
            assert!(st.status.success(), "openssl genrsa failed");
            let pem = std::fs::read_to_string(&p).unwrap();
            assert!(pem.contains(if traditional {
                "RSA PRIVATE"
            } else {
                "BEGIN PRIVATE"
            }));
            out.push(Secret {
                name,
                path: p,
                text: Some(pem.clone()),
                needles: pem_needles(&pem),
                raw: None,
            });
        }
    }
    out.push(text_secret(
        env,
        "passphrase file",
        "pass.txt",
        "Zq7wLm2Rt-my-pass-phrase-X9\n",
    ));

    let root = std::fs::read(store.join("root.key")).unwrap();
    assert_eq!(root.len(), 32, "root.key is 32 raw bytes");
    out.push(Secret {
        name: "kms root.key",
        path: store.join("root.key"),
        text: None,
        needles: vec![
            hex::encode(&root),
            hex::encode_upper(&root),
            Base64::encode_string(&root),
        ],
        raw: Some(root),
    });
    out
}

/// The attack: every secret, as a file and as text, in every position of every command that
/// takes a path or a key.
#[test]
fn no_secret_in_any_message() {
    let env = Env::new();
    let store = env.p("store");
    let key_id = create_kms_key(&store);

    // A second identity, to which the sample files are encrypted.
    let other = env.p("other.key");
    ok(run(angou().args(["keygen", "-o"]).arg(&other)), "keygen");
    let recipient = ok(run(angou().arg("pubkey").arg("-i").arg(&other)), "pubkey")
        .out()
        .trim()
        .to_owned();
    let plain = env.write("plain.txt", b"hello\n");
    let to_x = env.p("x.age");
    ok(
        run(angou()
            .args(["encrypt", "-r", &recipient, "-o"])
            .arg(&to_x)
            .arg(&plain)),
        "encrypt",
    );
    let to_pass = env.p("p.age");
    let pass_src = env.write("right-pass.txt", b"the right one\n");
    ok(
        run(angou()
            .args(["encrypt", "--work-factor", "10", "--passphrase-file"])
            .arg(&pass_src)
            .arg("-o")
            .arg(&to_pass)
            .arg(&plain)),
        "encrypt -p",
    );

    let secrets = secrets(&env, &store);
    let mut leaks = Vec::new();
    let mut runs = 0;
    for s in &secrets {
        // Each secret as a path, and (for text secrets) typed where the path goes.
        let mut forms: Vec<(&str, String)> = vec![("file", s.path.display().to_string())];
        if let Some(t) = &s.text {
            forms.push(("text", t.clone()));
        }
        for (form, arg) in &forms {
            let out = env.p("out.age");
            let _ = std::fs::remove_file(&out);
            let home = || {
                let mut c = angou();
                c.arg("--home").arg(&store);
                c
            };
            let cases: Vec<(String, assert_cmd::Command)> = vec![
                ("encrypt -r".into(), {
                    let mut c = angou();
                    c.args(["encrypt", "-r", arg]).arg(&plain);
                    c
                }),
                ("encrypt -R".into(), {
                    let mut c = angou();
                    c.args(["encrypt", "-R", arg]).arg(&plain);
                    c
                }),
                ("encrypt -k".into(), {
                    let mut c = angou();
                    c.args(["encrypt", "-k", arg]).arg(&plain);
                    c
                }),
                ("encrypt --passphrase-file".into(), {
                    let mut c = angou();
                    c.args([
                        "encrypt",
                        "--work-factor",
                        "10",
                        "--passphrase-file",
                        arg,
                        "-o",
                    ])
                    .arg(&out)
                    .arg(&plain);
                    c
                }),
                ("encrypt INPUT".into(), {
                    let mut c = angou();
                    c.args(["encrypt", "-r", &recipient, "-o"])
                        .arg(&out)
                        .arg(arg);
                    c
                }),
                ("encrypt --armor INPUT".into(), {
                    let mut c = angou();
                    c.args(["encrypt", "-a", "-r", &recipient, "-o"])
                        .arg(env.p("out2.age"))
                        .arg("--force")
                        .arg(arg);
                    c
                }),
                ("decrypt -i".into(), {
                    let mut c = angou();
                    c.args(["decrypt", "-i", arg]).arg(&to_x);
                    c
                }),
                ("decrypt -k".into(), {
                    let mut c = angou();
                    c.args(["decrypt", "-k", arg]).arg(&to_x);
                    c
                }),
                ("decrypt --passphrase-file".into(), {
                    let mut c = angou();
                    c.args(["decrypt", "--passphrase-file", arg]).arg(&to_pass);
                    c
                }),
                ("decrypt INPUT".into(), {
                    let mut c = angou();
                    c.arg("decrypt").arg("-i").arg(&other).arg(arg);
                    c
                }),
                ("inspect INPUT".into(), {
                    let mut c = angou();
                    c.args(["inspect", arg]);
                    c
                }),
                ("inspect --json INPUT".into(), {
                    let mut c = angou();
                    c.args(["inspect", "--json", arg]);
                    c
                }),
                ("pubkey -i".into(), {
                    let mut c = angou();
                    c.args(["pubkey", "-i", arg]);
                    c
                }),
                ("kms encrypt --plaintext @".into(), {
                    let mut c = home();
                    c.args(["kms", "encrypt", "--key-id", &key_id, "--plaintext"])
                        .arg(format!("@{arg}"));
                    c
                }),
                ("kms decrypt --ciphertext-blob @".into(), {
                    let mut c = home();
                    c.args(["kms", "decrypt", "--ciphertext-blob"])
                        .arg(format!("@{arg}"));
                    c
                }),
                ("kms decrypt --ciphertext-blob".into(), {
                    let mut c = home();
                    c.args(["kms", "decrypt", "--ciphertext-blob", arg]);
                    c
                }),
                ("kms re-encrypt --ciphertext-blob @".into(), {
                    let mut c = home();
                    c.args(["kms", "re-encrypt", "--destination-key-id", &key_id])
                        .arg("--ciphertext-blob")
                        .arg(format!("@{arg}"));
                    c
                }),
            ];
            for (label, mut cmd) in cases {
                let r = run(cmd.write_stdin(""));
                runs += 1;
                let label = format!("{label} ({form})");
                // `pubkey -i` on a real identity prints its public half, which is no secret but
                // shares bytes with an RSA private key's encoding (the modulus): check stderr only.
                let r = if label == "pubkey -i (file)" && r.code == 0 {
                    Run {
                        stdout: Vec::new(),
                        ..r
                    }
                } else {
                    r
                };
                check(&mut leaks, s, &label, &r);
            }
        }
        // Key-shaped text where a KMS key id belongs: the KMS echoes key ids, so the last
        // guard must catch it.
        if let Some(t) = s
            .text
            .as_deref()
            .filter(|t| t.starts_with("AGE-") || t.starts_with("ANGOU-"))
        {
            let r =
                run(angou()
                    .arg("--home")
                    .arg(&store)
                    .args(["kms", "describe-key", "--key-id", t]));
            runs += 1;
            check(&mut leaks, s, "kms describe-key --key-id (text)", &r);
        }
    }
    assert!(runs > 150, "only {runs} runs: the matrix shrank");
    assert!(
        leaks.is_empty(),
        "{} leak(s) of key material:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// `angou encrypt -r AGE-SECRET-KEY-1…`: refused, the secret not repeated, the message says it
/// is an identity and points at `angou pubkey`; likewise a secret key file given to -r or -R.
#[test]
fn identity_given_as_recipient_is_named_and_points_at_pubkey() {
    let env = Env::new();
    let id = env.p("id.key");
    ok(run(angou().args(["keygen", "-o"]).arg(&id)), "keygen");
    let line = key_line(&id);
    let plain = env.write("plain.txt", b"x");
    for (flag, arg) in [
        ("-r", line.clone()),
        ("-r", id.display().to_string()),
        ("-R", id.display().to_string()),
    ] {
        let r = run(angou()
            .args(["encrypt", flag, &arg, "-o"])
            .arg(env.p("o.age"))
            .arg(&plain));
        assert_eq!(r.code, 2, "{flag} {arg}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("is an age identity (a secret key), not a recipient"),
            "{flag}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("angou pubkey -i"), "{flag}: {}", r.stderr);
        assert!(!r.stderr.contains(&line[20..40]), "{flag}: {}", r.stderr);
        assert!(!env.p("o.age").exists());
    }
    let sym = env.p("sym.key");
    ok(
        run(angou().args(["keygen", "-t", "symmetric", "-o"]).arg(&sym)),
        "keygen",
    );
    let r = run(angou().args(["encrypt", "-r", &key_line(&sym)]).arg(&plain));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("is a symmetric key, not a recipient") && r.stderr.contains("-k"),
        "{}",
        r.stderr
    );
}

/// `angou inspect KEYFILE` once printed the key's first 64 characters as the "version line".
#[test]
fn inspect_of_a_key_file_does_not_print_it() {
    let env = Env::new();
    let id = env.p("id.key");
    ok(run(angou().args(["keygen", "-o"]).arg(&id)), "keygen");
    let line = key_line(&id);
    let bare = env.write("bare.key", format!("{line}\n").as_bytes());
    let r = run(angou().arg("inspect").arg(&bare));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not an encrypted file"), "{}", r.stderr);
    assert!(!r.stderr.contains(&line[16..30]), "{}", r.stderr);
    // A real future version line is still quoted: it names a format, not a secret.
    let v2 = env.write("v2.age", b"age-encryption.org/v2\n");
    let r = run(angou().arg("inspect").arg(&v2));
    assert!(
        r.stderr.contains("\"age-encryption.org/v2\""),
        "{}",
        r.stderr
    );
}

/// `angou kms create-access-key` prints the secret access key once, on stdout, where the user
/// asked for it. It is never on stderr, in `list-access-keys`, the audit log or its listing, a
/// store file, or any later message, including when the secret is typed where an id belongs.
#[test]
fn an_access_key_secret_is_printed_once_and_never_again() {
    let env = Env::new();
    let store = env.p("store");
    let home = || {
        let mut c = angou();
        c.arg("--home").arg(&store).arg("kms");
        c
    };
    let created = ok(
        run(home().args(["create-access-key", "--user", "ci"])),
        "create-access-key",
    );
    let v: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let id = v["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = v["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!((id.len(), secret.len()), (20, 40));
    assert_eq!(v["AccessKey"]["UserName"], "ci");
    assert!(
        created
            .stderr
            .contains(&format!("export AWS_ACCESS_KEY_ID={id}"))
    );
    let raw = Base64::decode_vec(&secret).unwrap();
    let leak = Secret {
        name: "access key secret",
        path: env.p("unused"),
        text: Some(secret.clone()),
        needles: vec![secret.clone(), hex::encode(&raw)],
        raw: Some(raw.clone()),
    };
    let mut leaks = Vec::new();
    check(
        &mut leaks,
        &leak,
        "create-access-key stderr",
        &Run {
            code: 0,
            stdout: Vec::new(),
            stderr: created.stderr.clone(),
        },
    );
    let runs = [
        ("list-access-keys", run(home().arg("list-access-keys"))),
        ("audit", run(home().arg("audit"))),
        ("audit verify", run(home().args(["audit", "verify"]))),
        (
            "delete-access-key --access-key-id SECRET",
            run(home().args(["delete-access-key", "--access-key-id", &secret])),
        ),
        (
            "describe-key --key-id SECRET",
            run(home().args(["describe-key", "--key-id", &secret])),
        ),
        (
            "delete-access-key",
            run(home().args(["delete-access-key", "--access-key-id", &id])),
        ),
    ];
    for (label, r) in &runs {
        check(&mut leaks, &leak, label, r);
    }
    // No store file holds it, except the audit log's record of the two commands above where
    // the user typed it as an id (parameters are recorded as typed).
    for e in std::fs::read_dir(&store).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let typed = text.matches(secret.as_str()).count();
        let expected_typed = if p.ends_with("audit.log") { 2 } else { 0 };
        assert_eq!(
            typed,
            expected_typed,
            "{}: the secret appears {typed} times",
            p.display()
        );
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw),
            "{}",
            p.display()
        );
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}
