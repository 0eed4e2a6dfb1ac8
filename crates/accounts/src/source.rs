//! Where an issuer's knowledge-based questions come from (docs/protocol.md §9.4): the
//! service's own bank, or an HTTP source (the issuer's system, by customer reference, or a
//! third-party identity provider, by name, phone and e-mail). This core decides what a source
//! is asked ([`SourceCall`]) and checks what it answered; carrying the call is the server's.
//! The protocol is the service's own: `POST {url}/questions` and `POST {url}/answers`, JSON
//! bodies from [`crate::wire`], `Authorization: Bearer <credential>` (§9.5, §9.6).

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::records::KbaSourceRecord;
use crate::wire::{KbaSourceConfig, SourceKind, Subject};
use crate::{AccountRecord, AtRest, Credential, KbaError};

/// An issuer's source, ready to ask.
#[derive(Debug)]
pub(crate) enum Source {
    /// The service's bank.
    Bank,
    /// An HTTP source.
    Http(HttpSource),
}

/// An issuer's or a third party's question service.
#[derive(Debug)]
pub(crate) struct HttpSource {
    kind: SourceKind,
    url: String,
    credential: Option<Credential>,
}

/// One `POST` to an HTTP source, for the server to make: a 2xx answer's body goes back to the
/// core; anything else is 502 `kba_source_error` (docs/protocol.md §9.7). `Debug` shows
/// neither the body (it names the user) nor the credential.
pub struct SourceCall {
    /// `{url}/questions` or `{url}/answers`.
    pub url: String,
    /// `questions` or `answers`, for logs.
    pub path: &'static str,
    /// The bearer credential, when one is configured.
    pub credential: Option<Credential>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// An admin's choice of source, checked, with its credential sealed (docs/protocol.md §2.6).
#[derive(Debug)]
pub struct SourceSetting {
    /// What the store keeps.
    pub record: KbaSourceRecord,
    /// The answer: the setting without its credential.
    pub answer: KbaSourceConfig,
}

impl Source {
    /// The issuer's configured source (the bank when none is set).
    pub(crate) fn of_issuer(
        at_rest: &AtRest<'_>,
        issuer_id: &str,
        record: Option<&KbaSourceRecord>,
    ) -> Result<Self, KbaError> {
        let Some(record) = record else {
            return Ok(Self::Bank);
        };
        let (SourceKind::Issuer | SourceKind::ThirdParty, Some(url)) = (record.kind, &record.url)
        else {
            return Ok(Self::Bank);
        };
        let credential = record
            .credential
            .as_deref()
            .map(|sealed| at_rest.open_credential(issuer_id, sealed))
            .transpose()?;
        Ok(Self::Http(HttpSource {
            kind: record.kind,
            url: url.clone(),
            credential,
        }))
    }
}

impl HttpSource {
    /// Who is being verified, as this kind of source is told: the issuer its customer
    /// reference, a third party the user's name, phone and e-mail (opened from the account).
    pub(crate) fn subject(
        &self,
        at_rest: &AtRest<'_>,
        account: &AccountRecord,
    ) -> Result<Subject, KbaError> {
        if self.kind == SourceKind::Issuer {
            return Ok(Subject {
                customer_ref: Some(account.customer_ref.clone()),
                ..Subject::default()
            });
        }
        let user = at_rest.open_user(&account.progress.account_id, &account.user_sealed)?;
        Ok(Subject {
            customer_ref: None,
            name: Some(user.name),
            phone: Some(user.phone),
            email: Some(user.email),
        })
    }

    /// The call of `path` with `body`.
    pub(crate) fn call(
        self,
        path: &'static str,
        body: &impl Serialize,
    ) -> Result<SourceCall, KbaError> {
        Ok(SourceCall {
            url: format!("{}/{path}", self.url.trim_end_matches('/')),
            path,
            credential: self.credential,
            body: serde_json::to_vec(body).map_err(|e| KbaError::internal("source request", &e))?,
        })
    }
}

/// A source's 2xx body as the documented JSON.
pub(crate) fn parse_reply<T: DeserializeOwned>(reply: &[u8]) -> Result<T, KbaError> {
    serde_json::from_slice(reply).map_err(|_| {
        KbaError::Source("the question source sent a body that is not the documented JSON".into())
    })
}

impl SourceSetting {
    /// Checks an admin's setting for `issuer_id` and seals its credential: an HTTP source
    /// needs a `url` that `transport_ok` accepts (TLS, except to this host: subjects carry
    /// personal data), and the bank takes neither a `url` nor a credential.
    pub fn parse(
        at_rest: &AtRest<'_>,
        issuer_id: &str,
        req: KbaSourceConfig,
        transport_ok: impl Fn(&str) -> bool,
    ) -> Result<Self, KbaError> {
        let http = req.kind != SourceKind::Bank;
        let url_ok = req.url.as_deref().is_some_and(transport_ok);
        let bank_ok = req.url.is_none() && req.credential.is_none();
        if (http && !url_ok) || (!http && !bank_ok) {
            return Err(KbaError::Malformed(
                "ISSUER and THIRD_PARTY need an https url (http only to this host); BANK takes neither url nor credential".into(),
            ));
        }
        let credential = req
            .credential
            .as_deref()
            .map(|c| at_rest.seal_credential(issuer_id, c))
            .transpose()?;
        Ok(Self {
            record: KbaSourceRecord {
                kind: req.kind,
                url: req.url.clone(),
                credential,
            },
            answer: KbaSourceConfig {
                kind: req.kind,
                url: req.url,
                credential: None,
            },
        })
    }
}

impl fmt::Debug for SourceCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceCall")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;
    use crate::at_rest::test_vault::TestVault;
    use crate::wire::SourceVerdict;

    fn setting(kind: SourceKind, url: Option<&str>, credential: Option<&str>) -> KbaSourceConfig {
        KbaSourceConfig {
            kind,
            url: url.map(str::to_owned),
            credential: credential.map(str::to_owned),
        }
    }

    fn https(url: &str) -> bool {
        url.starts_with("https://")
    }

    #[test]
    fn a_setting_is_checked_and_its_credential_sealed_and_not_echoed() {
        let crypto = AwsLcProvider::new();
        let at_rest = AtRest {
            crypto: &crypto,
            vault: &TestVault,
        };
        let set = SourceSetting::parse(
            &at_rest,
            "bank-a",
            setting(
                SourceKind::Issuer,
                Some("https://idp.example/kba/"),
                Some("tok"),
            ),
            https,
        )
        .unwrap();
        assert_eq!(set.answer.credential, None);
        assert_eq!(set.answer.url.as_deref(), Some("https://idp.example/kba/"));
        let sealed = set.record.credential.clone().unwrap();
        assert_ne!(sealed, b"tok");

        let Source::Http(http) = Source::of_issuer(&at_rest, "bank-a", Some(&set.record)).unwrap()
        else {
            panic!("an HTTP source");
        };
        let call = http
            .call("answers", &SourceVerdict { correct: true })
            .unwrap();
        assert_eq!(call.url, "https://idp.example/kba/answers");
        assert_eq!(
            call.credential.as_ref().map(Credential::expose),
            Some("tok")
        );
        assert!(!format!("{call:?}").contains("tok"));
        assert!(Source::of_issuer(&at_rest, "bank-b", Some(&set.record)).is_err());

        for bad in [
            setting(SourceKind::Issuer, None, None),
            setting(SourceKind::ThirdParty, Some("http://idp.example"), None),
            setting(SourceKind::Bank, Some("https://idp.example"), None),
            setting(SourceKind::Bank, None, Some("tok")),
            // A bank source with a URL of any kind, even one that is not acceptable.
            setting(SourceKind::Bank, Some("ftp://x"), None),
        ] {
            assert!(matches!(
                SourceSetting::parse(&at_rest, "bank-a", bad, https),
                Err(KbaError::Malformed(_))
            ));
        }
        let bank = SourceSetting::parse(
            &at_rest,
            "bank-a",
            setting(SourceKind::Bank, None, None),
            https,
        )
        .unwrap();
        assert!(matches!(
            Source::of_issuer(&at_rest, "bank-a", Some(&bank.record)).unwrap(),
            Source::Bank
        ));
    }

    #[test]
    fn a_reply_that_is_not_the_documented_json_is_the_sources_fault() {
        assert!(matches!(
            parse_reply::<SourceVerdict>(br#"{"correct": "yes"}"#),
            Err(KbaError::Source(_))
        ));
        assert!(
            parse_reply::<SourceVerdict>(br#"{"correct": true}"#)
                .unwrap()
                .correct
        );
    }
}
