//! Where an issuer's knowledge-based questions come from (chosen per issuer): the service's
//! own bank, the issuer's system over HTTP, or a third-party provider over HTTP. The HTTP
//! protocol is the service's: `POST {url}/questions` and `POST {url}/answers`, JSON bodies
//! from `provisio_accounts::wire`, `Authorization: Bearer <credential>`.

use provisio_accounts::wire::{
    SourceAnswerRequest, SourceKind, SourceQuestions, SourceQuestionsRequest, SourceVerdict,
    Subject,
};
use provisio_accounts::{PreparedQuestion, Question, check_source_questions};
use provisio_crypto::ct_eq;
use provisio_store::{AccountRecord, QuestionRecord};
use provisio_types::Code;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::account_crypto::{answer_mac, open_user, seal_question};
use crate::{ApiError, AppState};

/// An issuer's source, ready to call.
pub(crate) enum Source {
    /// The service's bank.
    Bank,
    /// An HTTP source.
    Http {
        kind: SourceKind,
        url: String,
        credential: Option<String>,
    },
}

impl Source {
    /// The issuer's configured source (the bank when none is set).
    pub(crate) async fn of_issuer(state: &AppState, issuer_id: &str) -> Result<Self, ApiError> {
        let Some(record) = state.store.kba_source(issuer_id).await? else {
            return Ok(Self::Bank);
        };
        let (SourceKind::Issuer | SourceKind::ThirdParty, Some(url)) = (record.kind, record.url)
        else {
            return Ok(Self::Bank);
        };
        let credential = record
            .credential
            .map(|sealed| {
                let bytes = state
                    .keys
                    .vault()
                    .open(state.crypto.as_ref(), &sealed, &credential_aad(issuer_id))
                    .map_err(|e| ApiError::internal(&e))?;
                String::from_utf8(bytes.expose().to_vec()).map_err(|e| ApiError::internal(&e))
            })
            .transpose()?;
        Ok(Self::Http {
            kind: record.kind,
            url,
            credential,
        })
    }

    /// Draws `count` questions never asked of the account, in random order for the bank.
    pub(crate) async fn draw(
        &self,
        state: &AppState,
        account: &AccountRecord,
        count: u32,
    ) -> Result<Vec<(PreparedQuestion, Question)>, ApiError> {
        let account_id = &account.progress.account_id;
        match self {
            Self::Bank => {
                let mut pool = state
                    .store
                    .bank_questions(&account.issuer_id, &account.customer_ref, account_id)
                    .await?;
                if pool.len() < count as usize {
                    return Err(unavailable(pool.len(), count));
                }
                provisio_accounts::shuffle(state.crypto.as_ref(), &mut pool)
                    .map_err(|e| ApiError::internal(&e))?;
                pool.truncate(count as usize);
                pool.into_iter()
                    .map(|r| {
                        let question =
                            crate::account_crypto::open_question(state, &r.question_id, &r.sealed)?;
                        Ok((prepared(r), question))
                    })
                    .collect()
            }
            Self::Http { kind, .. } => {
                let exclude = state.store.asked_questions(account_id).await?;
                let request = SourceQuestionsRequest {
                    account_id: account_id.clone(),
                    issuer_id: account.issuer_id.clone(),
                    count,
                    exclude,
                    subject: subject(state, account, *kind)?,
                };
                let answer: SourceQuestions = self.call(state, "questions", &request).await?;
                let min_options = state.accounts.options_per_question as usize;
                check_source_questions(&answer.questions, count, &request.exclude, min_options)
                    .map_err(|e| source_error(&e.to_string()))?;
                answer
                    .questions
                    .into_iter()
                    .map(|q| {
                        let sealed = seal_question(state, &q)?;
                        let prepared = PreparedQuestion {
                            question_id: q.id.clone(),
                            sealed,
                            answer_mac: None,
                        };
                        Ok((prepared, q))
                    })
                    .collect()
            }
        }
    }

    /// Whether `option_id` is the right answer to a drawn question: by its keyed hash for
    /// bank questions, by asking the source otherwise. The answer itself is not kept.
    pub(crate) async fn check(
        &self,
        state: &AppState,
        account: &AccountRecord,
        drawn: &QuestionRecord,
        option_id: &str,
    ) -> Result<bool, ApiError> {
        if let Some(expected) = &drawn.answer_mac {
            let got = answer_mac(state, &drawn.question_id, option_id);
            return Ok(ct_eq(&got, expected));
        }
        let Self::Http { kind, .. } = self else {
            return Err(ApiError::internal(
                &"a question without an answer hash, and the issuer's source is the bank",
            ));
        };
        let request = SourceAnswerRequest {
            account_id: account.progress.account_id.clone(),
            question_id: drawn.question_id.clone(),
            option_id: option_id.to_owned(),
            subject: subject(state, account, *kind)?,
        };
        let verdict: SourceVerdict = self.call(state, "answers", &request).await?;
        Ok(verdict.correct)
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        state: &AppState,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let Self::Http {
            url, credential, ..
        } = self
        else {
            return Err(ApiError::internal(&"HTTP call on the bank source"));
        };
        let mut request = state
            .http
            .post(format!("{}/{path}", url.trim_end_matches('/')))
            .json(body);
        if let Some(c) = credential {
            request = request.bearer_auth(c);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(error = %e.without_url(), "question source unreachable");
            source_error("the question source is unreachable")
        })?;
        let status = response.status();
        if !status.is_success() {
            tracing::warn!(%status, path, "question source refused");
            return Err(source_error(&format!(
                "the question source answered {status}"
            )));
        }
        response.json().await.map_err(|_| {
            source_error("the question source sent a body that is not the documented JSON")
        })
    }
}

/// The bearer credential of an HTTP source is sealed with this associated data.
pub(crate) fn credential_aad(issuer_id: &str) -> Vec<u8> {
    format!("kba_source_credential|{issuer_id}").into_bytes()
}

fn subject(
    state: &AppState,
    account: &AccountRecord,
    kind: SourceKind,
) -> Result<Subject, ApiError> {
    if kind == SourceKind::Issuer {
        return Ok(Subject {
            customer_ref: Some(account.customer_ref.clone()),
            ..Subject::default()
        });
    }
    let user = open_user(state, &account.progress.account_id, &account.user_sealed)?;
    Ok(Subject {
        customer_ref: None,
        name: Some(user.name),
        phone: Some(user.phone),
        email: Some(user.email),
    })
}

fn prepared(r: QuestionRecord) -> PreparedQuestion {
    PreparedQuestion {
        question_id: r.question_id,
        sealed: r.sealed,
        answer_mac: r.answer_mac,
    }
}

fn unavailable(have: usize, need: u32) -> ApiError {
    ApiError::new(
        Code::KbaUnavailable,
        format!(
            "the question bank has {have} unused questions for this customer and an attempt needs {need}; opt out to have the card issuer verify the user"
        ),
    )
}

fn source_error(detail: &str) -> ApiError {
    ApiError::new(Code::KbaSourceError, detail.to_owned())
}
