//! `POST /v1/issuer/enrolments` (docs/protocol.md §9.1): what the issuer knows about a
//! customer, kept as the bank's questions (each sealed, its right option only as a keyed
//! hash, the fact itself nowhere) and as keyed hashes of the name, phone and e-mail on file
//! for the mismatch rules (§8.3).

use crate::records::{EnrolmentRecord, QuestionRecord, random_id};
use crate::wire::{Enrolment, EnrolmentLoaded};
use crate::{AccountContext, FactError, KbaError};

/// Most facts one enrolment may carry.
pub const MAX_FACTS: usize = 50;

/// An enrolment ready to store: it replaces the customer's earlier one and their questions.
#[derive(Debug, Clone)]
pub struct EnrolmentLoad {
    /// The keyed hashes on file.
    pub enrolment: EnrolmentRecord,
    /// The bank's questions for the customer.
    pub questions: Vec<QuestionRecord>,
    /// The answer.
    pub answer: EnrolmentLoaded,
}

impl EnrolmentLoad {
    /// Builds `issuer_id`'s enrolment of a customer: one multiple-choice question per fact
    /// (`options_per_question` options), 400 `malformed_request` naming a fact at fault.
    pub fn prepare(
        ctx: &AccountContext<'_>,
        issuer_id: &str,
        req: &Enrolment,
    ) -> Result<Self, KbaError> {
        let ref_ok = (1..=64).contains(&req.customer_ref.len())
            && req.customer_ref.bytes().all(|b| b.is_ascii_graphic());
        if !ref_ok || req.facts.is_empty() || req.facts.len() > MAX_FACTS {
            return Err(KbaError::Malformed(format!(
                "customer_ref is 1 to 64 visible characters, facts 1 to {MAX_FACTS}"
            )));
        }
        let crypto = ctx.at_rest.crypto;
        let options = ctx.config.options_per_question as usize;
        let mut questions = Vec::with_capacity(req.facts.len());
        for (index, fact) in req.facts.iter().enumerate() {
            let id = random_id(crypto, "kq_").map_err(|e| KbaError::internal("question id", &e))?;
            let built = fact
                .to_question(crypto, id, options, index)
                .map_err(|e| match e {
                    FactError::Invalid { .. } => KbaError::Malformed(format!("facts: {e}")),
                    FactError::Random(e) => KbaError::internal("building a question", &e),
                })?;
            questions.push(QuestionRecord {
                sealed: ctx.at_rest.seal_question(&built.question)?,
                answer_mac: Some(
                    ctx.at_rest
                        .answer_mac(&built.question.id, &built.correct_option),
                ),
                question_id: built.question.id,
            });
        }
        let hashes = ctx
            .at_rest
            .identity_hashes(&req.name, &req.phone, &req.email);
        Ok(Self {
            enrolment: EnrolmentRecord {
                issuer_id: issuer_id.to_owned(),
                customer_ref: req.customer_ref.clone(),
                name_hash: hashes.name,
                phone_hash: hashes.phone,
                email_hash: hashes.email,
                customer_since: req.customer_since,
                loaded_at: ctx.now,
            },
            answer: EnrolmentLoaded {
                customer_ref: req.customer_ref.clone(),
                questions: questions.len() as u32,
            },
            questions,
        })
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;
    use crate::at_rest::test_vault::TestVault;
    use crate::{AccountsConfig, AtRest, Fact};

    fn enrolment(facts: Vec<Fact>) -> Enrolment {
        Enrolment {
            customer_ref: "cust-1".into(),
            name: "Ada Lovelace".into(),
            phone: "+44 7700 900123".into(),
            email: "ada@example.org".into(),
            customer_since: Some(5),
            facts,
        }
    }

    #[test]
    fn each_fact_becomes_a_sealed_question_whose_right_option_is_only_hashed() {
        let crypto = AwsLcProvider::new();
        let at_rest = AtRest {
            crypto: &crypto,
            vault: &TestVault,
        };
        let config = AccountsConfig::default();
        let ctx = AccountContext {
            at_rest,
            config: &config,
            now: 77,
        };
        let req = enrolment(vec![
            Fact::BirthYear {
                value: "1952".into(),
            },
            Fact::BranchCity {
                value: "Quuxtown".into(),
            },
        ]);
        let load = EnrolmentLoad::prepare(&ctx, "bank-a", &req).unwrap();
        assert_eq!(load.answer.questions, 2);
        assert_eq!(
            (load.enrolment.loaded_at, load.enrolment.customer_since),
            (77, Some(5))
        );
        for q in &load.questions {
            assert!(!q.sealed.windows(8).any(|w| w == b"Quuxtown"));
            let question = at_rest.open_question(&q.question_id, &q.sealed).unwrap();
            let right: Vec<_> = question
                .options
                .iter()
                .filter(|o| Some(at_rest.answer_mac(&q.question_id, &o.id)) == q.answer_mac)
                .collect();
            assert_eq!(right.len(), 1);
            assert!(["1952", "Quuxtown"].contains(&right[0].text.as_str()));
        }

        let bad = enrolment(vec![Fact::BirthYear { value: "52".into() }]);
        let Err(KbaError::Malformed(detail)) = EnrolmentLoad::prepare(&ctx, "bank-a", &bad) else {
            panic!("a malformed fact is refused");
        };
        assert!(detail.starts_with("facts: fact 0"), "{detail}");
        assert!(matches!(
            EnrolmentLoad::prepare(&ctx, "bank-a", &enrolment(vec![])),
            Err(KbaError::Malformed(_))
        ));
    }
}
