//! Section 5: envelope encryption through the local KMS.

use std::path::Path;

use angou::aead::{Algorithm, Cipher, Key};
use angou::secret::SecretArray;

use super::{MIB, dur, heading, self_check, timed};
use crate::failure::Failure;

/// Section 5: envelope encryption through the local KMS, in an embedded store in the
/// working folder.
pub(super) fn envelope(dir: &Path) -> Result<(), Failure> {
    use angou::kms::{Clock, DataKeySize, EncryptionContext, KeySpec, Kms};
    use base64ct::{Base64, Encoding};
    heading(
        "5. Envelope encryption with the local KMS",
        &[
            "The master key never leaves the key store. GenerateDataKey returns a fresh data key",
            "twice: in plaintext, to encrypt locally, and encrypted under the master key, to store",
            "beside the ciphertext. The encryption context is bound to the encrypted data key.",
        ],
    );
    let home = dir.join("kms");
    let kms = Kms::open(&home, Clock::System);
    let meta = kms.create_key("demo master key", KeySpec::SymmetricDefault)?;
    let key_id = meta.key_id.to_string();
    kms.create_alias("alias/demo", &key_id)?;
    println!("key store: {} (created on first use)", home.display());
    println!(
        "master key: {} = alias/demo, material {}",
        key_id, meta.current_key_material_id
    );
    let mut ctx = EncryptionContext::new();
    ctx.insert("purpose", "demo");
    ctx.insert("team", "blue");
    let (dk, t_gen) = timed(|| kms.generate_data_key("alias/demo", DataKeySize::Aes256, &ctx));
    let dk = dk?;
    let shown = Base64::encode_string(&dk.plaintext.expose_secret()[..6]);
    println!(
        "\nGenerateDataKey ({}): data key {shown}… (32 bytes, plaintext; this demo's, discarded)",
        dur(t_gen)
    );
    println!(
        "  encrypted data key: {} bytes, names key and material",
        dk.ciphertext_blob.len()
    );
    // Encrypt 1 MiB locally with the data key, then forget the plaintext key.
    let payload = vec![0x65u8; MIB];
    let data_key = Key::from_secret(SecretArray::from_slice(dk.plaintext.expose_secret())?);
    let sealed =
        Cipher::new(Algorithm::Aes256Gcm, &data_key).seal(&dk.ciphertext_blob, &payload)?;
    drop(data_key);
    let stored_len = dk.ciphertext_blob.len() + sealed.len();
    let blob = dk.ciphertext_blob.clone();
    drop(dk);
    println!(
        "  stored: {} bytes of encrypted data key + {} bytes of ciphertext = {stored_len} bytes",
        blob.len(),
        sealed.len()
    );
    // Later: ask the KMS to decrypt the data key (same context), then open locally.
    let open = |kms: &Kms, ctx: &EncryptionContext| -> Result<(Vec<u8>, String), Failure> {
        let d = kms.decrypt(&blob, ctx, None)?;
        let k = Key::from_secret(SecretArray::from_slice(d.plaintext.expose_secret())?);
        let pt = Cipher::new(Algorithm::Aes256Gcm, &k).open(&blob, &sealed)?;
        Ok((
            pt.expose_secret().to_vec(),
            d.key_material_id.unwrap_or_default(),
        ))
    };
    let (back, material) = open(&kms, &ctx)?;
    if back != payload {
        return Err(self_check("the envelope round trip returned other bytes"));
    }
    println!("Decrypt + open: 1 MiB back intact (data key from material {material})");
    let mut wrong = ctx.clone();
    wrong.insert("team", "red");
    let refused = kms.decrypt(&blob, &wrong, None).is_err();
    println!(
        "Decrypt with context team=red: {}",
        if refused {
            "refused (InvalidCiphertext)"
        } else {
            "ACCEPTED"
        }
    );
    if !refused {
        return Err(self_check("a wrong encryption context was accepted"));
    }
    // Rotation: new material for new data keys; the old encrypted data key still works.
    kms.rotate_key_on_demand("alias/demo")?;
    let new_dk =
        kms.generate_data_key_without_plaintext("alias/demo", DataKeySize::Aes256, &ctx)?;
    let (again, old_material) = open(&kms, &ctx)?;
    if again != payload {
        return Err(self_check(
            "the old data key stopped decrypting after rotation",
        ));
    }
    println!(
        "RotateKeyOnDemand: new data keys use material {}; the old one still decrypts (material {old_material})",
        new_dk.key_material_id.unwrap_or_default()
    );
    let n = kms.audit_verify()?;
    println!("Audit trail: {n} entries, hash chain and sealed head verified");
    println!(
        "(CLI: angou kms generate-data-key --key-id alias/demo --key-spec AES_256 -c team=blue)"
    );
    Ok(())
}
