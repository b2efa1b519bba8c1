//! The cryptographic operations: encrypt, decrypt, re-encrypt, data keys, random bytes and
//! RSA public keys.

use serde_json::json;

use super::blob::{self, BlobHeader};
use super::context::EncryptionContext;
use super::key::{EncryptionAlgorithm, KeyMetadata};
use super::material::material_name;
use super::session::{Kms, Session};
use super::{validation, wire_spec};
use crate::error::{Error, KmsError};
use crate::kms::{DataKeySize, Decrypted, Encrypted, MAX_ENCRYPT_LEN};
use crate::secret::SecretVec;

impl Session<'_> {
    /// Refuses `alg` (when named) for key `i`: see [`EncryptionAlgorithm::check`].
    pub(super) fn check_algorithm(
        &self,
        i: usize,
        alg: Option<EncryptionAlgorithm>,
    ) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        match alg {
            Some(a) => Ok(a.check(m.key_spec, &m.key_id)?),
            None => Ok(()),
        }
    }

    /// AWS's RSAES_OAEP algorithms take no encryption context; a context given with an RSA key
    /// is refused (ValidationException) rather than silently left unbound.
    pub(super) fn no_context_for_rsa(
        &self,
        i: usize,
        ctx: &EncryptionContext,
    ) -> Result<(), Error> {
        let m = &self.key(i).metadata;
        if m.key_spec.rsa_bits().is_some() && !ctx.is_empty() {
            return Err(validation(format!(
                "an encryption context is not supported with asymmetric key {} ({}): only symmetric encryption keys bind one",
                m.key_id,
                wire_spec(m.key_spec)
            )));
        }
        Ok(())
    }

    pub(super) fn encrypt_with(
        &mut self,
        i: usize,
        plaintext: &[u8],
        ctx: &EncryptionContext,
        alg: Option<EncryptionAlgorithm>,
    ) -> Result<Encrypted, Error> {
        self.check_algorithm(i, alg)?;
        self.no_context_for_rsa(i, ctx)?;
        self.usable(i)?;
        let k = self.key(i);
        let arn = k.metadata.arn.clone();
        if k.metadata.key_spec.rsa_bits().is_some() {
            let ct = self.rsa_key(i)?.public_key().encrypt(b"", plaintext)?;
            return Ok(Encrypted {
                ciphertext_blob: ct,
                key_id: arn,
                key_material_id: None,
                encryption_algorithm: "RSAES_OAEP_SHA_256".into(),
                source_key_id: None,
                source_key_material_id: None,
            });
        }
        let material = k.materials.last().map(|m| m.id).ok_or(KmsError::Store {
            reason: "key has no material".into(),
        })?;
        let header = BlobHeader {
            key_id: k.metadata.key_id.clone(),
            material,
        };
        let key = self.symmetric_key(i, material)?;
        let blob = blob::seal(&key, &header, ctx, plaintext)?;
        let name = material_name(k, material);
        self.info.material = Some(name.clone());
        Ok(Encrypted {
            ciphertext_blob: blob,
            key_id: arn,
            key_material_id: Some(name),
            encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
            source_key_id: None,
            source_key_material_id: None,
        })
    }

    pub(super) fn decrypt_with(
        &mut self,
        blob_bytes: &[u8],
        ctx: &EncryptionContext,
        key_ref: Option<&str>,
        alg: Option<EncryptionAlgorithm>,
    ) -> Result<Decrypted, Error> {
        let named = match key_ref {
            Some(r) => Some(self.resolve(r)?),
            None => None,
        };
        if let Some(i) = named {
            self.check_algorithm(i, alg)?;
        }
        if let Some(i) = named
            && self.key(i).metadata.key_spec.rsa_bits().is_some()
        {
            self.no_context_for_rsa(i, ctx)?;
            self.usable(i)?;
            let pt = self
                .rsa_key(i)?
                .decrypt(b"", blob_bytes)
                .map_err(|_| KmsError::InvalidCiphertext)?;
            return Ok(Decrypted {
                plaintext: pt,
                ciphertext_blob: Vec::new(),
                key_id: self.key(i).metadata.arn.clone(),
                key_material_id: None,
                encryption_algorithm: "RSAES_OAEP_SHA_256".into(),
            });
        }
        let header = BlobHeader::parse(blob_bytes)?;
        let i = match self.index(&header.key_id).filter(|i| self.here(*i)) {
            Some(i) => i,
            None => {
                return Err(KmsError::NotFound {
                    what: format!("key {} (named by the ciphertext)", header.key_id),
                }
                .into());
            }
        };
        if let Some(n) = named
            && n != i
        {
            return Err(KmsError::IncorrectKey {
                given: self.key(n).metadata.key_id.to_string(),
                actual: header.key_id.to_string(),
            }
            .into());
        }
        self.info.key_id = Some(header.key_id.to_string());
        let name = material_name(self.key(i), header.material);
        self.info.material = Some(name.clone());
        self.check_algorithm(i, alg)?;
        self.usable(i)?;
        let key = self.symmetric_key(i, header.material)?;
        let plaintext = blob::open(&key, blob_bytes, ctx)?;
        Ok(Decrypted {
            plaintext,
            ciphertext_blob: Vec::new(),
            key_id: self.key(i).metadata.arn.clone(),
            key_material_id: Some(name),
            encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
        })
    }
}

impl Kms {
    /// Encrypts 1 to 4096 bytes under a key (a blob for symmetric keys, RSA-OAEP-SHA-256 for RSA).
    ///
    /// # Errors
    /// [`KmsError::Validation`] for the size; [`KmsError::Disabled`]; [`KmsError::InvalidState`].
    pub fn encrypt(
        &self,
        key: &str,
        plaintext: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Encrypted, Error> {
        self.encrypt_as(key, plaintext, ctx, None)
    }

    /// [`Kms::encrypt`] with the algorithm the caller names: refused with
    /// [`KmsError::InvalidKeyUsage`] when the key does not do it (`None`: the key's own).
    ///
    /// # Errors
    /// As [`Kms::encrypt`]; [`KmsError::InvalidKeyUsage`]; [`KmsError::Unsupported`].
    pub fn encrypt_as(
        &self,
        key: &str,
        plaintext: &[u8],
        ctx: &EncryptionContext,
        alg: Option<EncryptionAlgorithm>,
    ) -> Result<Encrypted, Error> {
        self.run_creating(
            "Encrypt",
            json!({"KeyId": key, "PlaintextLength": plaintext.len(),
                   "EncryptionAlgorithm": alg.map(EncryptionAlgorithm::name)}),
            |s| {
                s.info.context = Some(ctx.clone());
                if plaintext.is_empty() || plaintext.len() > MAX_ENCRYPT_LEN {
                    return Err(validation(format!(
                        "plaintext must be 1 to 4096 bytes, got {}",
                        plaintext.len()
                    )));
                }
                let i = s.resolve(key)?;
                s.encrypt_with(i, plaintext, ctx, alg)
            },
        )
    }

    /// Decrypts a ciphertext. The blob names its key; naming another key is [`KmsError::IncorrectKey`].
    /// RSA ciphertexts need `key`.
    ///
    /// # Errors
    /// [`KmsError::InvalidCiphertext`] (also for a wrong context), [`KmsError::Disabled`], …
    pub fn decrypt(
        &self,
        blob: &[u8],
        ctx: &EncryptionContext,
        key: Option<&str>,
    ) -> Result<Decrypted, Error> {
        self.decrypt_as(blob, ctx, key, None)
    }

    /// [`Kms::decrypt`] with the algorithm the caller names (`None`: the key's own).
    ///
    /// # Errors
    /// As [`Kms::decrypt`]; [`KmsError::InvalidKeyUsage`]; [`KmsError::Unsupported`].
    pub fn decrypt_as(
        &self,
        blob: &[u8],
        ctx: &EncryptionContext,
        key: Option<&str>,
        alg: Option<EncryptionAlgorithm>,
    ) -> Result<Decrypted, Error> {
        let params =
            json!({"KeyId": key, "EncryptionAlgorithm": alg.map(EncryptionAlgorithm::name)});
        self.run("Decrypt", params, |s| {
            s.info.context = Some(ctx.clone());
            s.decrypt_with(blob, ctx, key, alg)
        })
    }

    /// Decrypts under the source context and re-encrypts to `dest_key` under `dest_ctx`; the
    /// plaintext never leaves the library.
    ///
    /// # Errors
    /// As [`Kms::decrypt`] and [`Kms::encrypt`].
    pub fn re_encrypt(
        &self,
        blob: &[u8],
        source_ctx: &EncryptionContext,
        source_key: Option<&str>,
        dest_key: &str,
        dest_ctx: &EncryptionContext,
    ) -> Result<Encrypted, Error> {
        self.re_encrypt_as(
            blob,
            source_ctx,
            source_key,
            dest_key,
            dest_ctx,
            [None, None],
        )
    }

    /// [`Kms::re_encrypt`] with the source and destination algorithms the caller names.
    ///
    /// # Errors
    /// As [`Kms::re_encrypt`]; [`KmsError::InvalidKeyUsage`]; [`KmsError::Unsupported`].
    pub fn re_encrypt_as(
        &self,
        blob: &[u8],
        source_ctx: &EncryptionContext,
        source_key: Option<&str>,
        dest_key: &str,
        dest_ctx: &EncryptionContext,
        [source_alg, dest_alg]: [Option<EncryptionAlgorithm>; 2],
    ) -> Result<Encrypted, Error> {
        self.run(
            "ReEncrypt",
            json!({"SourceKeyId": source_key, "DestinationKeyId": dest_key, "DestinationEncryptionContext": dest_ctx}),
            |s| {
                s.info.context = Some(source_ctx.clone());
                let d = s.decrypt_with(blob, source_ctx, source_key, source_alg)?;
                let i = s.resolve(dest_key)?;
                let mut e = s.encrypt_with(i, d.plaintext.expose_secret(), dest_ctx, dest_alg)?;
                e.source_key_id = Some(d.key_id);
                e.source_key_material_id = d.key_material_id;
                Ok(e)
            },
        )
    }

    /// A fresh random data key of the requested size.
    /// Within `GenerateDataKey(WithoutPlaintext)`: a fresh data key of `size` and that key
    /// encrypted under `key` for `ctx`.
    fn new_data_key(
        s: &mut Session<'_>,
        key: &str,
        size: DataKeySize,
        ctx: &EncryptionContext,
    ) -> Result<(SecretVec, Encrypted), Error> {
        s.info.context = Some(ctx.clone());
        let dk = Self::fresh_data_key(size)?;
        let i = s.resolve(key)?;
        s.data_key_capable(i)?;
        let e = s.encrypt_with(i, dk.expose_secret(), ctx, None)?;
        Ok((dk, e))
    }

    fn fresh_data_key(size: DataKeySize) -> Result<SecretVec, Error> {
        let mut dk = vec![0u8; Self::data_key_len(size)?];
        crate::secret::fill_random(&mut dk)?;
        Ok(SecretVec::from_vec(dk))
    }

    fn data_key_len(size: DataKeySize) -> Result<usize, Error> {
        match size {
            DataKeySize::Aes256 => Ok(32),
            DataKeySize::Aes128 => Ok(16),
            DataKeySize::Bytes(n) if (1..=1024).contains(&n) => Ok(n),
            DataKeySize::Bytes(n) => Err(validation(format!(
                "number of bytes must be 1 to 1024, got {n}"
            ))),
        }
    }

    /// `GenerateDataKey`: a fresh data key in plaintext and encrypted under `key`.
    ///
    /// # Errors
    /// As [`Kms::encrypt`]; [`KmsError::Validation`] for the size.
    pub fn generate_data_key(
        &self,
        key: &str,
        size: DataKeySize,
        ctx: &EncryptionContext,
    ) -> Result<Decrypted, Error> {
        self.run_creating(
            "GenerateDataKey",
            json!({"KeyId": key, "Size": format!("{size:?}")}),
            |s| {
                let (dk, e) = Self::new_data_key(s, key, size, ctx)?;
                Ok(Decrypted {
                    plaintext: dk,
                    ciphertext_blob: e.ciphertext_blob,
                    key_id: e.key_id,
                    key_material_id: e.key_material_id,
                    encryption_algorithm: e.encryption_algorithm,
                })
            },
        )
    }

    /// `GenerateDataKeyWithoutPlaintext`: only the encrypted data key.
    ///
    /// # Errors
    /// As [`Kms::generate_data_key`].
    pub fn generate_data_key_without_plaintext(
        &self,
        key: &str,
        size: DataKeySize,
        ctx: &EncryptionContext,
    ) -> Result<Encrypted, Error> {
        self.run_creating(
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": key, "Size": format!("{size:?}")}),
            |s| Self::new_data_key(s, key, size, ctx).map(|(_, e)| e),
        )
    }

    /// `GenerateRandom`: 1 to 1024 random bytes from the OS.
    ///
    /// # Errors
    /// [`KmsError::Validation`] for the size.
    pub fn generate_random(&self, n: usize) -> Result<SecretVec, Error> {
        self.run("GenerateRandom", json!({"NumberOfBytes": n}), |_| {
            if !(1..=1024).contains(&n) {
                return Err(validation(format!(
                    "number of bytes must be 1 to 1024, got {n}"
                )));
            }
            let mut out = vec![0u8; n];
            crate::secret::fill_random(&mut out)?;
            Ok(SecretVec::from_vec(out))
        })
    }

    /// The public key of an RSA key, as SPKI PEM.
    ///
    /// # Errors
    /// [`KmsError::Unsupported`] for symmetric keys; state errors.
    pub fn get_public_key(&self, key: &str) -> Result<(KeyMetadata, String), Error> {
        self.run("GetPublicKey", json!({"KeyId": key}), |s| {
            let i = s.resolve(key)?;
            if s.key(i).metadata.key_spec.rsa_bits().is_none() {
                return Err(KmsError::Unsupported {
                    reason: "a symmetric key has no public key".into(),
                }
                .into());
            }
            s.usable(i)?;
            Ok((
                s.key(i).metadata.clone(),
                s.rsa_key(i)?.public_key().to_pem(),
            ))
        })
    }
}
