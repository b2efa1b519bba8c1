//! Data key pairs (GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext): a fresh RSA key
//! pair whose private key (PKCS#8 DER) is encrypted under a symmetric KMS key with an
//! encryption context, exactly as a `GenerateDataKey` blob is, so `Decrypt` under the same
//! context gives the private key back.

use serde_json::json;

use super::Kms;
use super::context::EncryptionContext;
use crate::error::{Error, KmsError};
use crate::pk::rsa;
use crate::secret::SecretVec;

/// The key pair specs angou makes (AWS's `DataKeyPairSpec` RSA values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKeyPairSpec {
    /// RSA-2048.
    Rsa2048,
    /// RSA-3072.
    Rsa3072,
    /// RSA-4096.
    Rsa4096,
}

impl DataKeyPairSpec {
    /// Parses AWS's name; the ECC and SM2 specs of AWS's model are refused with
    /// [`KmsError::Unsupported`], anything else with [`KmsError::Validation`].
    ///
    /// # Errors
    /// As above.
    pub fn parse(name: &str) -> Result<DataKeyPairSpec, KmsError> {
        match name {
            "RSA_2048" => Ok(DataKeyPairSpec::Rsa2048),
            "RSA_3072" => Ok(DataKeyPairSpec::Rsa3072),
            "RSA_4096" => Ok(DataKeyPairSpec::Rsa4096),
            "ECC_NIST_P256"
            | "ECC_NIST_P384"
            | "ECC_NIST_P521"
            | "ECC_SECG_P256K1"
            | "SM2"
            | "ECC_NIST_EDWARDS25519" => Err(KmsError::Unsupported {
                reason: format!(
                    "key pair spec {name} is not supported by angou (RSA_2048, RSA_3072 and RSA_4096 are)"
                ),
            }),
            _ => Err(KmsError::Validation {
                reason: format!(
                    "key pair spec {:?} is not one of RSA_2048, RSA_3072, RSA_4096",
                    name.chars().take(40).collect::<String>()
                ),
            }),
        }
    }

    /// AWS's name.
    pub fn name(self) -> &'static str {
        match self {
            DataKeyPairSpec::Rsa2048 => "RSA_2048",
            DataKeyPairSpec::Rsa3072 => "RSA_3072",
            DataKeyPairSpec::Rsa4096 => "RSA_4096",
        }
    }

    fn bits(self) -> usize {
        match self {
            DataKeyPairSpec::Rsa2048 => 2048,
            DataKeyPairSpec::Rsa3072 => 3072,
            DataKeyPairSpec::Rsa4096 => 4096,
        }
    }
}

/// A data key pair.
#[derive(Debug)]
pub struct DataKeyPair {
    /// The private key, PKCS#8 DER, encrypted under the KMS key (a ciphertext blob).
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The private key, PKCS#8 DER, in the clear: only from
    /// [`Kms::generate_data_key_pair`].
    pub private_key_plaintext: Option<SecretVec>,
    /// The public key, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// ARN of the KMS key.
    pub key_id: String,
    /// The spec made.
    pub key_pair_spec: DataKeyPairSpec,
    /// The KMS key material that encrypted the private key.
    pub key_material_id: Option<String>,
}

impl Kms {
    /// GenerateDataKeyPair: a fresh RSA key pair, the private key returned in the clear and
    /// encrypted under symmetric key `key` bound to `ctx`.
    ///
    /// # Errors
    /// [`KmsError::InvalidKeyUsage`] under an RSA KMS key; the key-state errors of
    /// [`Kms::encrypt`].
    pub fn generate_data_key_pair(
        &self,
        key: &str,
        spec: DataKeyPairSpec,
        ctx: &EncryptionContext,
    ) -> Result<DataKeyPair, Error> {
        self.data_key_pair("GenerateDataKeyPair", key, spec, ctx, true)
    }

    /// GenerateDataKeyPairWithoutPlaintext: as [`Kms::generate_data_key_pair`], with only the
    /// encrypted private key (the plaintext one is wiped before this returns).
    ///
    /// # Errors
    /// As [`Kms::generate_data_key_pair`].
    pub fn generate_data_key_pair_without_plaintext(
        &self,
        key: &str,
        spec: DataKeyPairSpec,
        ctx: &EncryptionContext,
    ) -> Result<DataKeyPair, Error> {
        self.data_key_pair("GenerateDataKeyPairWithoutPlaintext", key, spec, ctx, false)
    }

    fn data_key_pair(
        &self,
        op: &'static str,
        key: &str,
        spec: DataKeyPairSpec,
        ctx: &EncryptionContext,
        plaintext: bool,
    ) -> Result<DataKeyPair, Error> {
        // Generated before the store lock is taken: RSA-4096 takes seconds, and other
        // callers of the store must not wait for it.
        let pair = rsa::PrivateKey::generate(spec.bits());
        self.run(op, json!({"KeyId": key, "KeyPairSpec": spec.name()}), |s| {
            s.info.context = Some(ctx.clone());
            let i = s.resolve(key)?;
            s.data_key_capable(i)?;
            s.usable(i)?;
            let pair = pair?;
            let der = pair.to_pkcs8_der()?;
            let e = s.encrypt_with(i, der.expose_secret(), ctx, None)?;
            Ok(DataKeyPair {
                private_key_ciphertext_blob: e.ciphertext_blob,
                private_key_plaintext: plaintext.then_some(der),
                public_key: pair.public_key().to_der(),
                key_id: e.key_id,
                key_pair_spec: spec,
                key_material_id: s.info.material.clone(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::KeySpec;

    /// The encrypted private key decrypts (under the same context only) to the plaintext one,
    /// which is PKCS#8 of the returned public key; the WithoutPlaintext twin returns none.
    #[test]
    fn pair_private_key_round_trips_under_its_context() {
        let dir = tempfile::tempdir().unwrap();
        let (k, id) = crate::kms::local::store_with_symmetric_key(dir.path());
        let mut ctx = EncryptionContext::new();
        ctx.insert("app", "x");
        let p = k
            .generate_data_key_pair(&id, DataKeyPairSpec::Rsa2048, &ctx)
            .unwrap();
        let der = p.private_key_plaintext.as_ref().unwrap();
        let sk = rsa::PrivateKey::from_der(der.expose_secret()).unwrap();
        assert_eq!(sk.bits(), 2048);
        assert_eq!(sk.public_key().to_der(), p.public_key);
        let d = k
            .decrypt(&p.private_key_ciphertext_blob, &ctx, None)
            .unwrap();
        assert_eq!(d.plaintext.expose_secret(), der.expose_secret());
        assert!(matches!(
            k.decrypt(
                &p.private_key_ciphertext_blob,
                &EncryptionContext::new(),
                None
            ),
            Err(Error::Kms(KmsError::InvalidCiphertext))
        ));
        let w = k
            .generate_data_key_pair_without_plaintext(&id, DataKeyPairSpec::Rsa2048, &ctx)
            .unwrap();
        assert!(w.private_key_plaintext.is_none());
        let rsa_key = k
            .create_key("", KeySpec::Rsa2048)
            .unwrap()
            .key_id
            .to_string();
        assert!(matches!(
            k.generate_data_key_pair(&rsa_key, DataKeyPairSpec::Rsa2048, &ctx),
            Err(Error::Kms(KmsError::InvalidKeyUsage { .. }))
        ));
        assert!(matches!(
            DataKeyPairSpec::parse("ECC_NIST_P256"),
            Err(KmsError::Unsupported { .. })
        ));
    }
}
