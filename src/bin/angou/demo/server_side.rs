//! Section 6: encrypting on the client side or on the server side, with the same KMS.

use std::path::Path;

use angou::aead::{Algorithm, Cipher, Key};
use angou::secret::SecretArray;

use super::{heading, self_check};
use crate::failure::Failure;

/// A storage service that encrypts on the server side: it receives plaintext and encrypts
/// each object with a data key from the KMS key it was configured with (as a cloud object
/// store does), then decrypts for whoever reads.
struct StorageService<'a> {
    kms: &'a angou::kms::Kms,
    key: &'a str,
    objects: Vec<(String, Vec<u8>, Vec<u8>)>,
    plaintext_seen: usize,
}

impl StorageService<'_> {
    fn context(name: &str) -> angou::kms::EncryptionContext {
        let mut ctx = angou::kms::EncryptionContext::new();
        ctx.insert("service", "demo-storage");
        ctx.insert("object", name);
        ctx
    }

    fn put(&mut self, name: &str, plaintext: &[u8]) -> Result<(), Failure> {
        self.plaintext_seen += plaintext.len();
        let dk = self.kms.generate_data_key(
            self.key,
            angou::kms::DataKeySize::Aes256,
            &Self::context(name),
        )?;
        let k = Key::from_secret(SecretArray::from_slice(dk.plaintext.expose_secret())?);
        let sealed = Cipher::new(Algorithm::Aes256Gcm, &k).seal(name.as_bytes(), plaintext)?;
        self.objects
            .push((name.to_owned(), dk.ciphertext_blob.clone(), sealed));
        Ok(())
    }

    fn get(&self, name: &str) -> Result<Vec<u8>, Failure> {
        let (_, blob, sealed) = self
            .objects
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| self_check(format!("no object {name}")))?;
        let d = self.kms.decrypt(blob, &Self::context(name), None)?;
        let k = Key::from_secret(SecretArray::from_slice(d.plaintext.expose_secret())?);
        let pt = Cipher::new(Algorithm::Aes256Gcm, &k).open(name.as_bytes(), sealed)?;
        Ok(pt.expose_secret().to_vec())
    }
}

pub(super) fn client_or_server_side(dir: &Path) -> Result<(), Failure> {
    use angou::kms::{Clock, DataKeySize, EncryptionContext, KeyManager, Kms};
    heading(
        "6. Client-side or server-side encryption, and whose key",
        &[
            "Client-side (what angou does): you encrypt before the data leaves you, so the",
            "storage service only ever holds ciphertext. Server-side: the service receives your",
            "plaintext and encrypts it with a KMS key, then decrypts it for whoever may read.",
            "The key is either customer-managed (yours: you can disable it) or managed by the",
            "service (alias/angou/default here, the local twin of a cloud's aws/<service> key).",
        ],
    );
    let kms = Kms::open(dir.join("kms"), Clock::System);
    let report: &[u8] = b"Q3 revenue: 1.2M; do not share outside finance";

    // Client-side, with the customer-managed key of section 5.
    let mut ctx = EncryptionContext::new();
    ctx.insert("object", "q3.txt");
    let dk = kms.generate_data_key("alias/demo", DataKeySize::Aes256, &ctx)?;
    let k = Key::from_secret(SecretArray::from_slice(dk.plaintext.expose_secret())?);
    let uploaded = Cipher::new(Algorithm::Aes256Gcm, &k).seal(&dk.ciphertext_blob, report)?;
    drop(k);
    // The client uploads bytes the service cannot read, with the encrypted data key beside
    // them; only a caller the KMS lets decrypt that data key can open them.
    let readable = uploaded
        .windows(report.len().min(8))
        .any(|w| w == &report[..report.len().min(8)]);
    println!(
        "client-side:  the service received {} bytes: the encrypted data key and the ciphertext;",
        uploaded.len() + dk.ciphertext_blob.len()
    );
    println!(
        "  the plaintext never left you (its first bytes appear in the upload: {})",
        if readable { "YES" } else { "no" }
    );
    if readable {
        return Err(self_check("client-side upload contains plaintext"));
    }
    drop(dk);

    // Server-side with the service-managed default key.
    let mut managed = StorageService {
        kms: &kms,
        key: "alias/angou/default",
        objects: Vec::new(),
        plaintext_seen: 0,
    };
    managed.put("q3.txt", report)?;
    let back = managed.get("q3.txt")?;
    if back != report {
        return Err(self_check("server-side round trip returned other bytes"));
    }
    let default = kms.describe_key("alias/angou/default")?;
    let can_disable = kms.disable_key("alias/angou/default").is_ok();
    println!(
        "server-side, service-managed key (KeyManager {}): the service saw {} bytes of plaintext",
        if default.key_manager == KeyManager::Angou {
            "ANGOU"
        } else {
            "CUSTOMER"
        },
        managed.plaintext_seen
    );
    println!(
        "  and returns it to any reader it trusts; you cannot disable its key: {}",
        if can_disable { "DISABLED" } else { "refused" }
    );
    if can_disable {
        return Err(self_check("a service-managed key was disabled"));
    }

    // Server-side with the customer-managed key: the customer holds the off switch.
    let mut customer = StorageService {
        kms: &kms,
        key: "alias/demo",
        objects: Vec::new(),
        plaintext_seen: 0,
    };
    customer.put("q3.txt", report)?;
    kms.disable_key("alias/demo")?;
    let blocked = customer.get("q3.txt").is_err();
    kms.enable_key("alias/demo")?;
    let after = customer.get("q3.txt")?;
    println!(
        "server-side, customer-managed key: the service saw {} bytes of plaintext; with the key",
        customer.plaintext_seen
    );
    println!(
        "  disabled it cannot read the object ({}); enabled again, it can ({})",
        if blocked { "refused" } else { "READ" },
        if after == report { "ok" } else { "FAILED" }
    );
    if !blocked || after != report {
        return Err(self_check(
            "disabling the customer key did not stop the service",
        ));
    }
    println!(
        "\n{:<32} {:<18} {:<20} who can cut off reads",
        "", "sees plaintext", "holds the key"
    );
    for (what, sees, holds, revoke) in [
        (
            "client-side, your key",
            "only you",
            "you (via the KMS)",
            "you",
        ),
        (
            "server-side, customer-managed",
            "the service",
            "you (via the KMS)",
            "you: disable the key",
        ),
        (
            "server-side, service-managed",
            "the service",
            "the service",
            "only the service",
        ),
    ] {
        println!("{what:<32} {sees:<18} {holds:<20} {revoke}");
    }
    println!(
        "Every one of these KMS calls is in the audit trail, with the service's context: {} entries now.",
        kms.audit_verify()?
    );
    Ok(())
}
