//! How account data is kept at rest (docs/architecture.md §3, "KBA answers stored hashed";
//! docs/protocol.md §8.4, §9.1): a new account's user data, every question and an HTTP
//! source's credential sealed in the token service's vault, with associated data naming their
//! row so that a ciphertext cannot be moved to another; the right option of a bank question
//! and the issuer's enrolment data only as keyed hashes.
//!
//! The vault's keys are not this crate's: the server hands in the token service's vault as a
//! [`Vault`], as it hands in the [`CryptoProvider`].

use std::fmt;

use provisio_crypto::{CryptoError, CryptoProvider, SecretBytes};

use crate::wire::AccountUser;
use crate::{KbaError, Question};

/// Envelope encryption under the vault's key-encryption key and keyed lookup hashes under its
/// hash key (the token service's `VaultKeys`).
pub trait Vault: Send + Sync {
    /// Seals `plaintext`, `aad` naming what it is and where it belongs; returns the stored
    /// form.
    fn seal(
        &self,
        crypto: &dyn CryptoProvider,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;

    /// Opens a stored form sealed with the same `aad`.
    fn open(
        &self,
        crypto: &dyn CryptoProvider,
        sealed: &[u8],
        aad: &[u8],
    ) -> Result<SecretBytes, CryptoError>;

    /// The keyed lookup hash of `value` in `domain`.
    fn lookup_hash(&self, crypto: &dyn CryptoProvider, domain: &str, value: &str) -> [u8; 32];
}

/// The vault and the crypto provider, with the rules of what is sealed how.
#[derive(Clone, Copy)]
pub struct AtRest<'a> {
    /// Cryptography (and the random data keys).
    pub crypto: &'a dyn CryptoProvider,
    /// The token service's vault.
    pub vault: &'a dyn Vault,
}

/// Keyed hashes of a name, a phone number and an e-mail address, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityHashes {
    /// Of the name, spacing collapsed and lower case.
    pub name: [u8; 32],
    /// Of the phone number's digits.
    pub phone: [u8; 32],
    /// Of the e-mail address, trimmed and lower case.
    pub email: [u8; 32],
}

/// An HTTP source's bearer credential, opened for one call. `Debug` does not show it.
pub struct Credential(SecretBytes);

impl<'a> AtRest<'a> {
    /// Seals a new account's user data.
    pub fn seal_user(&self, account_id: &str, user: &AccountUser) -> Result<Vec<u8>, KbaError> {
        let json = serde_json::to_vec(user).map_err(|e| KbaError::internal("user data", &e))?;
        self.vault
            .seal(self.crypto, &json, &user_aad(account_id))
            .map_err(|e| KbaError::internal("sealing user data", &e))
    }

    /// Opens an account's user data.
    pub fn open_user(&self, account_id: &str, sealed: &[u8]) -> Result<AccountUser, KbaError> {
        let json = self
            .vault
            .open(self.crypto, sealed, &user_aad(account_id))
            .map_err(|e| KbaError::internal("opening user data", &e))?;
        serde_json::from_slice(json.expose())
            .map_err(|e| KbaError::internal("stored user data", &e))
    }

    /// Seals a question for the bank or an account's drawn questions.
    pub fn seal_question(&self, question: &Question) -> Result<Vec<u8>, KbaError> {
        let json = serde_json::to_vec(question).map_err(|e| KbaError::internal("question", &e))?;
        self.vault
            .seal(self.crypto, &json, &question_aad(&question.id))
            .map_err(|e| KbaError::internal("sealing a question", &e))
    }

    /// Opens a sealed question.
    pub fn open_question(&self, question_id: &str, sealed: &[u8]) -> Result<Question, KbaError> {
        let json = self
            .vault
            .open(self.crypto, sealed, &question_aad(question_id))
            .map_err(|e| KbaError::internal("opening a question", &e))?;
        serde_json::from_slice(json.expose()).map_err(|e| KbaError::internal("stored question", &e))
    }

    /// The keyed hash that marks `option_id` as the right option of `question_id`.
    pub fn answer_mac(&self, question_id: &str, option_id: &str) -> [u8; 32] {
        self.vault.lookup_hash(
            self.crypto,
            "kba_answer",
            &format!("{question_id}\0{option_id}"),
        )
    }

    /// Keyed hashes of a name, phone and e-mail, normalised (case, spacing, phone
    /// punctuation) so that formatting differences are not mismatches (docs/protocol.md
    /// §8.3).
    pub fn identity_hashes(&self, name: &str, phone: &str, email: &str) -> IdentityHashes {
        let name = name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        let phone: String = phone.chars().filter(char::is_ascii_digit).collect();
        let email = email.trim().to_lowercase();
        IdentityHashes {
            name: self.vault.lookup_hash(self.crypto, "enrol_name", &name),
            phone: self.vault.lookup_hash(self.crypto, "enrol_phone", &phone),
            email: self.vault.lookup_hash(self.crypto, "enrol_email", &email),
        }
    }

    /// Seals the bearer credential of an issuer's HTTP source.
    pub fn seal_credential(&self, issuer_id: &str, credential: &str) -> Result<Vec<u8>, KbaError> {
        self.vault
            .seal(
                self.crypto,
                credential.as_bytes(),
                &credential_aad(issuer_id),
            )
            .map_err(|e| KbaError::internal("sealing a source credential", &e))
    }

    /// Opens the bearer credential of an issuer's HTTP source.
    pub fn open_credential(&self, issuer_id: &str, sealed: &[u8]) -> Result<Credential, KbaError> {
        let bytes = self
            .vault
            .open(self.crypto, sealed, &credential_aad(issuer_id))
            .map_err(|e| KbaError::internal("opening a source credential", &e))?;
        std::str::from_utf8(bytes.expose())
            .map_err(|e| KbaError::internal("stored source credential", &e))?;
        Ok(Credential(bytes))
    }
}

impl Credential {
    /// The credential, for the `Authorization` header.
    pub fn expose(&self) -> &str {
        // Checked to be UTF-8 when it was opened.
        std::str::from_utf8(self.0.expose()).unwrap_or_default()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

fn user_aad(account_id: &str) -> Vec<u8> {
    format!("wallet_account_user|{account_id}").into_bytes()
}

fn question_aad(question_id: &str) -> Vec<u8> {
    format!("kba_question|{question_id}").into_bytes()
}

fn credential_aad(issuer_id: &str) -> Vec<u8> {
    format!("kba_source_credential|{issuer_id}").into_bytes()
}

/// A vault for the tests of this crate: AES-256-GCM and HMAC-SHA-256 under fixed keys.
#[cfg(test)]
pub(crate) mod test_vault {
    use provisio_crypto::{CryptoError, CryptoProvider, SecretBytes};

    use super::Vault;

    /// Seals as `nonce || tag || ciphertext`.
    pub(crate) struct TestVault;

    impl Vault for TestVault {
        fn seal(
            &self,
            crypto: &dyn CryptoProvider,
            plaintext: &[u8],
            aad: &[u8],
        ) -> Result<Vec<u8>, CryptoError> {
            let mut nonce = [0u8; 12];
            crypto.fill_random(&mut nonce)?;
            let (ciphertext, tag) = crypto.aes256_gcm_seal(&[7; 32], &nonce, aad, plaintext)?;
            Ok([&nonce[..], &tag, &ciphertext].concat())
        }

        fn open(
            &self,
            crypto: &dyn CryptoProvider,
            sealed: &[u8],
            aad: &[u8],
        ) -> Result<SecretBytes, CryptoError> {
            let (nonce, rest) = sealed
                .split_at_checked(12)
                .ok_or(CryptoError::InvalidLength)?;
            let (tag, ciphertext) = rest
                .split_at_checked(16)
                .ok_or(CryptoError::InvalidLength)?;
            let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::InvalidLength)?;
            crypto.aes256_gcm_open(&[7; 32], &nonce, aad, ciphertext, tag)
        }

        fn lookup_hash(&self, crypto: &dyn CryptoProvider, domain: &str, value: &str) -> [u8; 32] {
            crypto.hmac_sha256(&[9; 32], format!("{domain}\0{value}").as_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::test_vault::TestVault;
    use super::*;
    use crate::AnswerOption;

    fn user() -> AccountUser {
        AccountUser {
            name: "Ada Lovelace".into(),
            phone: "+44 7700 900123".into(),
            email: "ada@example.org".into(),
            customer_ref: "cust-1".into(),
        }
    }

    #[test]
    fn sealed_values_open_only_in_their_own_row() {
        let crypto = AwsLcProvider::new();
        let at_rest = AtRest {
            crypto: &crypto,
            vault: &TestVault,
        };
        let sealed = at_rest.seal_user("wa_1", &user()).unwrap();
        assert!(!sealed.windows(8).any(|w| w == b"Lovelace"));
        assert_eq!(
            at_rest.open_user("wa_1", &sealed).unwrap().name,
            "Ada Lovelace"
        );
        assert!(matches!(
            at_rest.open_user("wa_2", &sealed),
            Err(KbaError::Internal(_))
        ));

        let question = Question {
            id: "kq_1".into(),
            text: "Which?".into(),
            options: vec![AnswerOption {
                id: "a".into(),
                text: "This".into(),
            }],
        };
        let sealed = at_rest.seal_question(&question).unwrap();
        assert_eq!(at_rest.open_question("kq_1", &sealed).unwrap(), question);
        assert!(at_rest.open_question("kq_2", &sealed).is_err());

        let sealed = at_rest.seal_credential("bank-a", "s3cret").unwrap();
        let opened = at_rest.open_credential("bank-a", &sealed).unwrap();
        assert_eq!(opened.expose(), "s3cret");
        assert!(!format!("{opened:?}").contains("s3cret"));
        assert!(at_rest.open_credential("bank-b", &sealed).is_err());
    }

    #[test]
    fn identity_hashes_ignore_formatting_and_answer_hashes_bind_the_question() {
        let crypto = AwsLcProvider::new();
        let at_rest = AtRest {
            crypto: &crypto,
            vault: &TestVault,
        };
        assert_eq!(
            at_rest.identity_hashes("Ada  LOVELACE", "+44 (7700) 900-123", " Ada@Example.org "),
            at_rest.identity_hashes("ada lovelace", "447700900123", "ada@example.org")
        );
        let other = at_rest.identity_hashes("Ada Byron", "447700900123", "ada@example.org");
        let same = at_rest.identity_hashes("ada lovelace", "447700900123", "ada@example.org");
        assert_ne!(other.name, same.name);
        assert_eq!((other.phone, other.email), (same.phone, same.email));
        assert_ne!(
            at_rest.answer_mac("kq_1", "a"),
            at_rest.answer_mac("kq_2", "a")
        );
    }
}
