//! Access keys: the credentials `angou kms serve` checks request signatures against
//! (`http::sigv4`). Each is an AWS-shaped pair, an id (`AKIA` + 16 characters) and a 40-character
//! secret, shown once at creation and otherwise kept in the sealed state encrypted under the
//! store's key-encryption key, exactly as key material is (docs/FORMAT.md §5.3). Creating,
//! listing and deleting are audited like every operation; the audit entry names the access
//! key id and its user, never the secret.

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::store::State;
use super::{Kms, clock, validation};
use crate::aead::{Algorithm, Cipher, Key};
use crate::error::{Error, KmsError};
use crate::secret::{SecretAccessKey, SecretArray, random_array};

/// Associated data of a wrapped secret: this label, then the access key id's length (u32,
/// big-endian) and bytes.
const ACCESS_KEY_LABEL: &[u8] = b"angou.dev/v1/kms access key\0";
/// Letters of generated access key ids after `AKIA` (RFC 4648 base32, as AWS's ids use).
const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Most characters in a user name (AWS IAM's limit).
const MAX_USER_LEN: usize = 64;

/// One access key as the sealed state holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredAccessKey {
    pub access_key_id: String,
    pub user: String,
    /// RFC 3339.
    pub created: String,
    /// base64 of the XChaCha20-Poly1305-sealed secret (nonce ‖ ciphertext ‖ tag).
    pub wrapped: String,
}

/// A new access key, as [`Kms::create_access_key`] returns it: the only time its secret is
/// shown.
#[derive(Debug)]
pub struct AccessKey {
    /// `AKIA` and 16 upper-case letters and digits.
    pub access_key_id: String,
    /// 40 characters of base64 (printable ASCII); `Debug` shows `[redacted]`.
    pub secret_access_key: SecretAccessKey,
    /// Who it is for.
    pub user_name: String,
    /// When it was made (RFC 3339).
    pub create_date: String,
}

/// An access key without its secret, as [`Kms::list_access_keys`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyInfo {
    /// The access key id.
    pub access_key_id: String,
    /// Who it is for.
    pub user_name: String,
    /// When it was made (RFC 3339).
    pub create_date: String,
}

/// The secret and user of an access key, for the server's signature check.
pub(crate) struct Credential {
    /// Recorded as the caller of the request.
    pub user: String,
    pub secret: SecretAccessKey,
}

fn aad(id: &str) -> Vec<u8> {
    let mut a = ACCESS_KEY_LABEL.to_vec();
    a.extend_from_slice(&(id.len() as u32).to_be_bytes());
    a.extend_from_slice(id.as_bytes());
    a
}

/// AWS IAM's user-name rule: 1 to 64 of letters, digits and `_+=,.@-`.
fn check_user(user: &str) -> Result<(), Error> {
    let ok = !user.is_empty()
        && user.len() <= MAX_USER_LEN
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "user name must be 1 to {MAX_USER_LEN} letters, digits or _+=,.@- characters"
        )))
    }
}

/// AWS's access key id rule: 16 to 128 upper-case letters and digits.
fn check_id(id: &str) -> Result<(), Error> {
    if (16..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(validation(
            "access key id must be 16 to 128 upper-case letters and digits",
        ))
    }
}

fn new_id() -> Result<String, Error> {
    let r: [u8; 16] = random_array()?;
    let mut id = String::from("AKIA");
    id.extend(
        r.iter()
            .map(|b| char::from(ID_ALPHABET[usize::from(b & 31)])),
    );
    Ok(id)
}

/// 30 random bytes as 40 characters of base64.
fn new_secret() -> Result<SecretAccessKey, Error> {
    let raw = SecretArray::<30>::generate()?;
    let mut secret = SecretAccessKey::zeroed();
    // 30 bytes are exactly 40 base64 characters: the buffer always fits.
    let _ = Base64::encode(raw.expose_secret(), secret.expose_secret_mut());
    Ok(secret)
}

fn wrap(kek: &Key, id: &str, secret: &SecretAccessKey) -> Result<String, Error> {
    let sealed =
        Cipher::new(Algorithm::XChaCha20Poly1305, kek).seal(&aad(id), secret.expose_secret())?;
    Ok(Base64::encode_string(&sealed))
}

/// The credential of `id` in an opened state, or `None` if there is no such key.
///
/// # Errors
/// [`KmsError::Store`] if the wrapped secret does not authenticate (the state is sealed, so
/// only a wrong key-encryption key gets here).
pub(crate) fn lookup(state: &State, kek: &Key, id: &str) -> Result<Option<Credential>, Error> {
    lookup_in(&state.access_keys, kek, id)
}

fn lookup_in(access: &[StoredAccessKey], kek: &Key, id: &str) -> Result<Option<Credential>, Error> {
    let Some(k) = access.iter().find(|k| k.access_key_id == id) else {
        return Ok(None);
    };
    let corrupt = || -> Error {
        KmsError::Store {
            reason: format!("access key {id} does not authenticate under this root key"),
        }
        .into()
    };
    let sealed = Base64::decode_vec(&k.wrapped).map_err(|_| corrupt())?;
    let plain = Cipher::new(Algorithm::XChaCha20Poly1305, kek)
        .open(&aad(id), &sealed)
        .map_err(|_| corrupt())?;
    let secret = SecretAccessKey::from_slice(plain.expose_secret()).map_err(|_| corrupt())?;
    Ok(Some(Credential {
        user: k.user.clone(),
        secret,
    }))
}

impl Kms {
    /// Makes an access key for `user` (AWS IAM's user-name rule: 1 to 64 of letters, digits and
    /// `_+=,.@-`), for clients of `angou kms serve` to sign requests with. The secret is in the
    /// returned value only: the store keeps it encrypted and no call returns it again. Creates
    /// the store when the folder holds none.
    ///
    /// # Errors
    /// [`KmsError::Validation`] for a user name that breaks the rule; store errors.
    pub fn create_access_key(&self, user: &str) -> Result<AccessKey, Error> {
        // Made before the lock so the audit entry can name the id; 80 random bits make a
        // collision with a stored id out of reach, and it is refused if it happens.
        let id = new_id()?;
        let secret = new_secret()?;
        self.run_creating(
            "CreateAccessKey",
            json!({"AccessKeyId": id, "UserName": user}),
            |s| {
                check_user(user)?;
                if s.state.access_keys.iter().any(|k| k.access_key_id == id) {
                    return Err(KmsError::AlreadyExists {
                        what: format!("access key {id}"),
                    }
                    .into());
                }
                let created = clock::format_time(s.now);
                s.state.access_keys.push(StoredAccessKey {
                    access_key_id: id.clone(),
                    user: user.to_owned(),
                    created: created.clone(),
                    wrapped: wrap(s.kek, &id, &secret)?,
                });
                Ok(AccessKey {
                    access_key_id: id.clone(),
                    secret_access_key: secret.clone(),
                    user_name: user.to_owned(),
                    create_date: created,
                })
            },
        )
    }

    /// Every access key, oldest first, without secrets.
    ///
    /// # Errors
    /// [`KmsError::NoStore`]; store errors.
    pub fn list_access_keys(&self) -> Result<Vec<AccessKeyInfo>, Error> {
        self.run("ListAccessKeys", json!({}), |s| {
            Ok(s.state
                .access_keys
                .iter()
                .map(|k| AccessKeyInfo {
                    access_key_id: k.access_key_id.clone(),
                    user_name: k.user.clone(),
                    create_date: k.created.clone(),
                })
                .collect())
        })
    }

    /// Deletes an access key: requests signed with it are refused from then on.
    ///
    /// # Errors
    /// [`KmsError::Validation`] for a malformed id; [`KmsError::NotFound`]; store errors.
    pub fn delete_access_key(&self, access_key_id: &str) -> Result<(), Error> {
        self.run(
            "DeleteAccessKey",
            json!({"AccessKeyId": access_key_id}),
            |s| {
                check_id(access_key_id)?;
                let i = s
                    .state
                    .access_keys
                    .iter()
                    .position(|k| k.access_key_id == access_key_id)
                    .ok_or_else(|| KmsError::NotFound {
                        what: format!("access key {access_key_id}"),
                    })?;
                let k = s.state.access_keys.remove(i);
                s.info
                    .extra
                    .insert("UserName".into(), Value::String(k.user));
                Ok(())
            },
        )
    }

    /// The secret and user of an access key, for the server's signature check; `None` for an
    /// unknown id. Runs every check of an operation (the sealed state, the audit chain) but
    /// adds no audit entry: the request it authenticates is audited. A server's handle answers
    /// a key it knows from the state it last verified while `store.json` is unchanged
    /// (resident.rs, `peek_access`); the request itself then runs with every check.
    ///
    /// # Errors
    /// Store errors (a store that fails its checks); never "not found".
    pub(crate) fn access_key_secret(
        &self,
        access_key_id: &str,
    ) -> Result<Option<Credential>, Error> {
        if let Some(r) = &self.resident {
            // A key the last verified state holds is read from it while `store.json` is
            // unchanged (no lock, no batch; the unchanged file is also there); an unknown
            // one, perhaps just made by another process, is looked up in a batch, which
            // checks the store first.
            if let Some(Ok(Some(c))) = r.peek_access(&self.paths, |access, keys| {
                lookup_in(access, &keys.kek, access_key_id)
            }) {
                return Ok(Some(c));
            }
        }
        if let Some(r) = &self.resident
            && self.paths.present()?
        {
            return r.run(&self.opener(), |state, keys| {
                Ok((lookup(state, &keys.kek, access_key_id), Vec::new()))
            });
        }
        let checked = self.open_checked(false)?;
        lookup(
            &checked.opened.state,
            &checked.opened.keys.kek,
            access_key_id,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::Clock;
    use crate::kms::http::sigv4::{self, AuthError, Credentials, Request};

    fn signed_request(
        id: &str,
        secret: &SecretAccessKey,
        now: time::OffsetDateTime,
    ) -> (Vec<(String, Vec<u8>)>, Vec<u8>) {
        let body = br#"{"KeyId":"alias/x"}"#.to_vec();
        let mut headers: Vec<(String, Vec<u8>)> = vec![
            ("Host".into(), b"127.0.0.1:4599".to_vec()),
            (
                "Content-Type".into(),
                b"application/x-amz-json-1.1".to_vec(),
            ),
            ("X-Amz-Target".into(), b"TrentService.DescribeKey".to_vec()),
        ];
        let s = post(&headers, &body, |req| {
            sigv4::sign(
                req,
                Credentials {
                    access_key_id: id,
                    secret,
                },
                "us-east-1",
                now,
            )
        });
        headers.push(("X-Amz-Date".into(), s.x_amz_date.into_bytes()));
        headers.push(("Authorization".into(), s.authorization.into_bytes()));
        (headers, body)
    }

    fn check(
        kms: &Kms,
        headers: &[(String, Vec<u8>)],
        body: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<sigv4::Verified, AuthError> {
        post(headers, body, |req| {
            sigv4::verify(req, now, |id| {
                kms.access_key_secret(id).unwrap().map(|c| c.secret)
            })
        })
    }

    /// `f` of the request `POST /` with `headers` and `body`.
    fn post<R>(headers: &[(String, Vec<u8>)], body: &[u8], f: impl FnOnce(&Request<'_>) -> R) -> R {
        let refs: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        f(&Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &refs,
            body,
        })
    }

    /// A key verifies while it exists and stops verifying once deleted; its secret is
    /// 40 base64 characters, its id AWS-shaped, and neither list nor Debug shows the secret.
    #[test]
    fn deleted_access_keys_stop_verifying() {
        let dir = tempfile::tempdir().unwrap();
        let kms = Kms::open(dir.path(), Clock::System);
        let k = kms.create_access_key("alice").unwrap();
        let other = kms.create_access_key("bob").unwrap();
        assert_eq!(k.access_key_id.len(), 20);
        assert!(k.access_key_id.starts_with("AKIA"));
        assert!(
            k.access_key_id
                .bytes()
                .all(|b| ID_ALPHABET.contains(&b) || b"AKI".contains(&b))
        );
        let secret = std::str::from_utf8(k.secret_access_key.expose_secret())
            .unwrap()
            .to_owned();
        assert_eq!(secret.len(), 40);
        assert!(Base64::decode_vec(&secret).is_ok_and(|b| b.len() == 30));
        assert!(!format!("{k:?}").contains(&secret));
        assert_ne!(
            k.secret_access_key.expose_secret(),
            other.secret_access_key.expose_secret()
        );

        let now = time::OffsetDateTime::now_utc();
        let (h, body) = signed_request(&k.access_key_id, &k.secret_access_key, now);
        let v = check(&kms, &h, &body, now).unwrap();
        assert_eq!(v.access_key_id, k.access_key_id);
        assert_eq!(v.region, "us-east-1");
        // Signed with the other key's secret under this id: refused.
        let (h2, _) = signed_request(&k.access_key_id, &other.secret_access_key, now);
        assert_eq!(
            check(&kms, &h2, &body, now),
            Err(AuthError::SignatureMismatch)
        );

        let list = kms.list_access_keys().unwrap();
        assert_eq!(list.len(), 2);
        assert!(!format!("{list:?}").contains(&secret));

        kms.delete_access_key(&k.access_key_id).unwrap();
        assert_eq!(
            check(&kms, &h, &body, now),
            Err(AuthError::UnrecognizedClient)
        );
        assert_eq!(kms.list_access_keys().unwrap().len(), 1);
        assert!(matches!(
            kms.delete_access_key(&k.access_key_id),
            Err(Error::Kms(KmsError::NotFound { .. }))
        ));
        // The audit trail names the key and its user on create and delete, never the secret.
        let entries = kms.audit_entries(&Default::default()).unwrap();
        let text: String = entries.iter().map(|e| e.to_string()).collect();
        assert!(!text.contains(&secret));
        let ops: Vec<(&str, &str, &str)> = entries
            .iter()
            .filter(|e| e["result"] == "success")
            .filter_map(|e| {
                Some((
                    e["operation"].as_str()?,
                    e["parameters"]["AccessKeyId"].as_str()?,
                    e["parameters"]["UserName"].as_str()?,
                ))
            })
            .collect();
        assert!(ops.contains(&("CreateAccessKey", &k.access_key_id, "alice")));
        assert!(ops.contains(&("DeleteAccessKey", &k.access_key_id, "alice")));
    }

    /// The secret never reaches a store file in clear (raw, or as its base64-decoded bytes).
    #[test]
    fn access_key_secrets_never_appear_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let kms = Kms::open(dir.path(), Clock::System);
        let keys: Vec<AccessKey> = (0..3)
            .map(|i| kms.create_access_key(&format!("u{i}")).unwrap())
            .collect();
        let mut files = Vec::new();
        for e in std::fs::read_dir(dir.path()).unwrap() {
            files.extend(std::fs::read(e.unwrap().path()).unwrap());
        }
        for k in &keys {
            let s = k.secret_access_key.expose_secret();
            let raw = Base64::decode_vec(std::str::from_utf8(s).unwrap()).unwrap();
            for probe in [&s[..], &s[10..30], &raw[..], &raw[5..20]] {
                assert!(
                    !files.windows(probe.len()).any(|w| w == probe),
                    "secret bytes in the store"
                );
            }
        }
    }

    #[test]
    fn user_names_and_ids_follow_aws_rules() {
        let dir = tempfile::tempdir().unwrap();
        let kms = Kms::open(dir.path(), Clock::System);
        for bad in ["", "a b", "ü", &"x".repeat(65), "a/b", "a\nb"] {
            assert!(
                matches!(
                    kms.create_access_key(bad),
                    Err(Error::Kms(KmsError::Validation { .. }))
                ),
                "{bad:?}"
            );
        }
        kms.create_access_key("ci.bot+1@example=x,y_z-").unwrap();
        for bad in ["akiaabcdefghijklmnop", "AKIA", "AKIA-BCDEFGHIJKLMNOP"] {
            assert!(
                matches!(
                    kms.delete_access_key(bad),
                    Err(Error::Kms(KmsError::Validation { .. }))
                ),
                "{bad:?}"
            );
        }
    }
}
