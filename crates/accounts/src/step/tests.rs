use provisio_crypto::AwsLcProvider;
use serde_json::{Value, json};

use super::*;
use crate::Credential;
use crate::at_rest::test_vault::TestVault;
use crate::wire::{AccountUser, SourceKind};
use crate::{
    AccountProgress, AccountState, AccountsConfig, AnswerOption, AtRest, KbaChange, KbaStatus,
    OpenAttempt, SecurityLevel, ServedQuestion,
};

const T0: i64 = 1_000_000;

struct World {
    crypto: AwsLcProvider,
    config: AccountsConfig,
}

impl World {
    fn new() -> Self {
        Self {
            crypto: AwsLcProvider::new(),
            config: AccountsConfig::default(),
        }
    }

    fn at_rest(&self) -> AtRest<'_> {
        AtRest {
            crypto: &self.crypto,
            vault: &TestVault,
        }
    }

    fn ctx(&self, now: i64) -> AccountContext<'_> {
        AccountContext {
            at_rest: self.at_rest(),
            config: &self.config,
            now,
        }
    }

    /// A question whose option `a` is right.
    fn question(&self, id: &str, hashed: bool) -> QuestionRecord {
        let question = Question {
            id: id.into(),
            text: format!("Question {id}?"),
            options: ["a", "b", "c", "d"]
                .iter()
                .map(|o| AnswerOption {
                    id: (*o).into(),
                    text: format!("option {o}"),
                })
                .collect(),
        };
        QuestionRecord {
            question_id: id.into(),
            sealed: self.at_rest().seal_question(&question).unwrap(),
            answer_mac: hashed.then(|| self.at_rest().answer_mac(id, "a")),
        }
    }

    /// A pending account of a bank-source issuer with `bank` unused questions.
    fn facts(&self, bank: usize, source: Option<KbaSourceRecord>) -> KbaFacts {
        let user = AccountUser {
            name: "Ada Lovelace".into(),
            phone: "+44 7700 900123".into(),
            email: "ada@example.org".into(),
            customer_ref: "cust-1".into(),
        };
        KbaFacts {
            account: AccountRecord {
                token_requestor_id: "40010099999".into(),
                wallet_user_id: "user-1".into(),
                issuer_id: "bank-a".into(),
                customer_ref: "cust-1".into(),
                device_id: "device-1".into(),
                user_sealed: self.at_rest().seal_user("wa_1", &user).unwrap(),
                kba_source: SourceKind::Bank,
                created_at: T0,
                activated_at: None,
                state_reason: "created".into(),
                progress: AccountProgress {
                    account_id: "wa_1".into(),
                    state: AccountState::PendingActivation,
                    level: SecurityLevel::Low,
                    kba: KbaStatus::NotStarted,
                    attempts_used: 0,
                    expires_at: T0 + 86_400,
                    version: 0,
                    attempt: None,
                },
            },
            source,
            draw: Some(DrawFacts {
                asked: vec!["old-1".into()],
                unused_bank: (0..bank)
                    .map(|i| self.question(&format!("kq_{i}"), true))
                    .collect(),
            }),
        }
    }

    fn http_source(&self, kind: SourceKind) -> Option<KbaSourceRecord> {
        Some(KbaSourceRecord {
            kind,
            url: Some("https://idp.example/kba".into()),
            credential: Some(self.at_rest().seal_credential("bank-a", "s3cret").unwrap()),
        })
    }
}

/// Applies a change the way the store does, so the next step sees its result.
fn apply(facts: &mut KbaFacts, change: &KbaChange) {
    let p = &mut facts.account.progress;
    assert_eq!(change.version, p.version);
    p.version += 1;
    p.kba = change.kba;
    p.attempts_used = change.attempts_used;
    if let Some((number, questions)) = &change.start_attempt {
        p.attempt = Some(OpenAttempt {
            number: *number,
            questions: questions
                .iter()
                .zip(1..)
                .map(|(q, position)| ServedQuestion {
                    question_id: q.question_id.clone(),
                    position,
                    served_at: None,
                    deadline: None,
                    correct: None,
                    sealed: q.sealed.clone(),
                    answer_mac: q.answer_mac,
                })
                .collect(),
        });
    }
    if let Some((id, _, right)) = &change.answer {
        served(p, id).correct = Some(*right);
    }
    if let Some((id, at, deadline)) = &change.serve {
        let q = served(p, id);
        q.served_at = Some(*at);
        q.deadline = Some(*deadline);
    }
    if change.finish_attempt.is_some() {
        p.attempt = None;
    }
    if let Some(t) = &change.transition {
        p.state = t.to;
    }
}

fn served<'p>(p: &'p mut AccountProgress, id: &str) -> &'p mut ServedQuestion {
    p.attempt
        .as_mut()
        .unwrap()
        .questions
        .iter_mut()
        .find(|q| q.question_id == id)
        .unwrap()
}

fn decided(step: Step<'_>) -> Decided<KbaStep> {
    match step {
        Step::Decided(d) => *d,
        Step::AskSource(a) => panic!("expected a decision, not a call {:?}", a.call()),
    }
}

fn asked(step: Step<'_>) -> AskSource<'_> {
    match step {
        Step::AskSource(a) => a,
        Step::Decided(d) => panic!("expected a call to the source, not {d:?}"),
    }
}

fn reply(id: &str, option: &str) -> KbaAnswer {
    KbaAnswer {
        question_id: id.into(),
        option_id: option.into(),
    }
}

#[test]
fn the_bank_draws_unused_questions_and_shows_the_first_opened() {
    let w = World::new();
    let short = w.facts(3, None);
    let d = decided(short.question(&w.ctx(T0)));
    assert_eq!(d.change, None);
    assert_eq!(
        d.answer.unwrap_err(),
        KbaError::Unavailable { have: 3, need: 4 }
    );

    let mut facts = w.facts(6, None);
    let d = decided(facts.question(&w.ctx(T0)));
    let change = d.change.unwrap();
    let (number, questions) = change.start_attempt.clone().unwrap();
    assert_eq!((number, questions.len()), (1, 4));
    let step = d.answer.unwrap();
    assert_eq!(step.result, KbaResult::Question);
    let shown = step.question.unwrap();
    assert_eq!(shown.id, questions[0].question_id);
    assert_eq!(
        (shown.position, shown.count, shown.expires_at),
        (1, 4, T0 + 120)
    );
    assert_eq!(shown.options.len(), 4);
    apply(&mut facts, &change);

    // Asked again: the open question, opened from what the attempt stored, same deadline.
    let d = decided(facts.question(&w.ctx(T0 + 50)));
    assert_eq!(d.change, None);
    let again = d.answer.unwrap().question.unwrap();
    assert_eq!((again.id, again.expires_at), (shown.id, T0 + 120));
}

#[test]
fn bank_answers_are_checked_by_their_hash_and_an_unknown_option_changes_nothing() {
    let w = World::new();
    let mut facts = w.facts(4, None);
    let d = decided(facts.question(&w.ctx(T0)));
    apply(&mut facts, d.change.as_ref().unwrap());
    let first = d.answer.unwrap().question.unwrap().id;

    let d = decided(facts.answer(&w.ctx(T0 + 1), &reply(&first, "zz")));
    assert_eq!(
        (d.change, d.answer.unwrap_err()),
        (None, KbaError::UnknownOption)
    );
    let d = decided(facts.answer(&w.ctx(T0 + 1), &reply("kq_x", "a")));
    assert_eq!(d.answer.unwrap_err(), KbaError::WrongQuestion);

    let d = decided(facts.answer(&w.ctx(T0 + 2), &reply(&first, "a")));
    let change = d.change.unwrap();
    assert_eq!(change.answer, Some((first.clone(), T0 + 2, true)));
    let next = d.answer.unwrap().question.unwrap();
    assert_eq!(next.position, 2);
    apply(&mut facts, &change);
    for (i, option) in ["b", "a", "a"].iter().enumerate() {
        let open = facts.account.progress.attempt.as_ref().unwrap().questions[i + 1]
            .question_id
            .clone();
        let d = decided(facts.answer(&w.ctx(T0 + 3), &reply(&open, option)));
        apply(&mut facts, d.change.as_ref().unwrap());
        if i == 2 {
            let step = d.answer.unwrap();
            assert_eq!(
                (step.result, step.reason.as_deref(), step.attempts_used),
                (KbaResult::AttemptFailed, Some("wrong_answers"), 1)
            );
            assert!(
                step.question.is_none(),
                "nothing says which answer was wrong"
            );
        }
    }
}

#[test]
fn an_issuers_source_is_asked_for_questions_and_its_reply_checked_before_anything_is_kept() {
    let w = World::new();
    let mut facts = w.facts(0, w.http_source(SourceKind::Issuer));
    let ask = asked(facts.question(&w.ctx(T0)));
    let call = ask.call();
    assert_eq!(
        (call.url.as_str(), call.path),
        ("https://idp.example/kba/questions", "questions")
    );
    assert_eq!(
        call.credential.as_ref().map(Credential::expose),
        Some("s3cret")
    );
    let body: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(
        body,
        json!({"account_id": "wa_1", "issuer_id": "bank-a", "count": 4, "exclude": ["old-1"],
               "subject": {"customer_ref": "cust-1"}})
    );

    let question = |id: &str| {
        json!({"id": id, "text": "Which is right?",
               "options": [{"id": "1", "text": "one"}, {"id": "2", "text": "two"},
                           {"id": "3", "text": "three"}, {"id": "4", "text": "four"}]})
    };
    let refused = [
        b"not json".to_vec(),
        json!({"questions": [question("n1"), question("n2"), question("n3")]})
            .to_string()
            .into_bytes(),
        json!({"questions": [question("n1"), question("n2"), question("n3"), question("old-1")]})
            .to_string()
            .into_bytes(),
    ];
    for bad in refused {
        let ask = asked(facts.question(&w.ctx(T0)));
        let d = ask.resume(&w.ctx(T0), &bad);
        assert_eq!(d.change, None, "nothing of a refused draw is written");
        assert!(
            matches!(d.answer, Err(KbaError::Source(_))),
            "{:?}",
            d.answer
        );
    }

    let good =
        json!({"questions": [question("n1"), question("n2"), question("n3"), question("n4")]});
    let ask = asked(facts.question(&w.ctx(T0)));
    let d = ask.resume(&w.ctx(T0), good.to_string().as_bytes());
    let change = d.change.unwrap();
    let (_, drawn) = change.start_attempt.clone().unwrap();
    assert!(
        drawn.iter().all(|q| q.answer_mac.is_none()),
        "the source checks its answers"
    );
    assert_eq!(d.answer.unwrap().question.unwrap().id, "n1");
    apply(&mut facts, &change);

    // An answer to a source's question is the source's to judge.
    let ask = asked(facts.answer(&w.ctx(T0 + 5), &reply("n1", "3")));
    let body: Value = serde_json::from_slice(&ask.call().body).unwrap();
    assert_eq!(
        (ask.call().path, &body["question_id"], &body["option_id"]),
        ("answers", &json!("n1"), &json!("3"))
    );
    let d = ask.resume(&w.ctx(T0 + 5), br#"{"correct": true}"#);
    assert_eq!(d.change.unwrap().answer, Some(("n1".into(), T0 + 5, true)));
    assert_eq!(d.answer.unwrap().question.unwrap().id, "n2");

    let ask = asked(facts.answer(&w.ctx(T0 + 5), &reply("n1", "3")));
    let d = ask.resume(&w.ctx(T0 + 5), br#"{"right": true}"#);
    assert_eq!(d.change, None);
    assert!(matches!(d.answer, Err(KbaError::Source(_))));
}

#[test]
fn a_third_party_is_told_who_the_user_is() {
    let w = World::new();
    let facts = w.facts(0, w.http_source(SourceKind::ThirdParty));
    let ask = asked(facts.question(&w.ctx(T0)));
    let body: Value = serde_json::from_slice(&ask.call().body).unwrap();
    assert_eq!(
        body["subject"],
        json!({"name": "Ada Lovelace", "phone": "+44 7700 900123", "email": "ada@example.org"})
    );
}

#[test]
fn a_late_step_fails_the_attempt_and_an_expired_account_is_recorded_so() {
    let w = World::new();
    let mut facts = w.facts(8, None);
    let d = decided(facts.question(&w.ctx(T0)));
    apply(&mut facts, d.change.as_ref().unwrap());
    let first = d.answer.unwrap().question.unwrap().id;
    let d = decided(facts.answer(&w.ctx(T0 + 121), &reply(&first, "a")));
    let step = d.answer.unwrap();
    assert_eq!(
        (step.result, step.reason.as_deref()),
        (KbaResult::AttemptFailed, Some("timeout"))
    );
    apply(&mut facts, d.change.as_ref().unwrap());

    let late = facts.account.progress.expires_at;
    let d = decided(facts.question(&w.ctx(late)));
    assert_eq!(d.answer.unwrap_err(), KbaError::Expired);
    let change = d.change.unwrap();
    assert_eq!(
        change.transition.as_ref().map(|t| t.to),
        Some(AccountState::Expired)
    );
    apply(&mut facts, &change);
    let d = decided(facts.question(&w.ctx(late)));
    assert_eq!(
        (d.change, d.answer.unwrap_err()),
        (None, KbaError::NotPending(AccountState::Expired))
    );
}
