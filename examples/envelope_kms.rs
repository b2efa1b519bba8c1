//! Envelope encryption with angou's local KMS: a master key that never leaves the store,
//! a data key per piece of data, encryption context, and rotation.
//!
//! Run: `cargo run --release --example envelope_kms`

#[path = "support/scratch.rs"]
mod scratch;
use scratch::TempDir;

use std::fs;

use angou::aead::{self, Algorithm, Key};
use angou::kms::{Clock, DataKeySize, EncryptionContext, KeySpec, Kms};
use angou::secret::SecretArray;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = TempDir::new("envelope_kms")?;
    let home = dir.0.join("kms-store");
    let data = dir.0.join("data");
    fs::create_dir(&data)?;
    println!("Working in a temporary folder: {}", dir.0.display());
    println!("The KMS store lives in kms-store/; the encrypted data in data/.\n");

    let kms = Kms::open(&home, Clock::System);
    let key = kms.create_key("payroll master key", KeySpec::SymmetricDefault)?;
    kms.create_alias("alias/payroll", key.key_id.as_str())?;
    println!(
        "1. Created a master key {} (alias/payroll).",
        key.key_id.as_str()
    );
    println!("   It never leaves the store: we only ask the KMS to use it.\n");

    let mut context = EncryptionContext::new();
    context.insert("department", "payroll");
    context.insert("year", "2030");
    let data_key = kms.generate_data_key("alias/payroll", DataKeySize::Aes256, &context)?;
    println!("2. Asked for a data key under the encryption context department=payroll, year=2030.");
    println!(
        "   The KMS returned it twice: 32 bytes in the clear, and a {}-byte blob sealed by",
        data_key.ciphertext_blob.len()
    );
    println!("   the master key with the context bound in.\n");

    let salaries = b"alice 5100\nbob 4900\ncarol 5300\n";
    let key_bytes = SecretArray::from_slice(data_key.plaintext.expose_secret())?;
    let sealed = aead::seal(
        Algorithm::Aes256Gcm,
        &Key::from_secret(key_bytes),
        b"",
        salaries,
    )?;
    fs::write(data.join("salaries.enc"), &sealed)?;
    fs::write(data.join("salaries.key"), &data_key.ciphertext_blob)?;
    drop(data_key); // the plaintext data key is zeroized here; only the blob is kept
    println!(
        "3. Encrypted {} bytes locally with AES-256-GCM under the data key, wrote",
        salaries.len()
    );
    println!("   salaries.enc and, beside it, salaries.key (the sealed data key), and dropped");
    println!("   the plaintext data key. The data itself never went to the KMS.\n");

    let open = |kms: &Kms, context: &EncryptionContext| -> Result<Vec<u8>, angou::Error> {
        let blob = fs::read(data.join("salaries.key"))?;
        let key = kms.decrypt(&blob, context, None)?;
        let key = Key::from_secret(SecretArray::from_slice(key.plaintext.expose_secret())?);
        let sealed = fs::read(data.join("salaries.enc"))?;
        Ok(aead::open(Algorithm::Aes256Gcm, &key, b"", &sealed)?
            .expose_secret()
            .to_vec())
    };

    let opened = open(&kms, &context)?;
    assert_eq!(opened, salaries);
    println!("4. Later: the KMS unwrapped salaries.key, and the data key opened salaries.enc:");
    for line in String::from_utf8_lossy(&opened).lines() {
        println!("   | {line}");
    }

    let mut wrong = EncryptionContext::new();
    wrong.insert("department", "marketing");
    wrong.insert("year", "2030");
    match open(&kms, &wrong) {
        Err(e) => println!("   With department=marketing instead, the KMS refused: {e}\n"),
        Ok(_) => return Err("a wrong encryption context was accepted".into()),
    }

    let before = kms.describe_key("alias/payroll")?.current_key_material_id;
    kms.rotate_key_on_demand("alias/payroll")?;
    let after = kms.describe_key("alias/payroll")?.current_key_material_id;
    assert_ne!(before, after);
    println!("5. Rotated the master key: new key material ({after}) now seals new data keys.");
    assert_eq!(open(&kms, &context)?, salaries);
    println!("   The old data key still opens: salaries.key names the material that sealed it,");
    println!(
        "   and rotation keeps old material for decrypting. Nothing had to be re-encrypted.\n"
    );

    let entries = kms.audit_verify()?;
    println!(
        "6. The audit log holds {entries} entries, one per operation above, and its hash chain verifies."
    );
    println!("\nRemoving {}", dir.0.display());
    Ok(())
}
