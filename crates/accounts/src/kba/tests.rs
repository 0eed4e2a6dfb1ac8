use super::*;

const T0: i64 = 1_000_000;

fn config() -> AccountsConfig {
    AccountsConfig::default()
}

fn pending(level: SecurityLevel) -> AccountProgress {
    AccountProgress {
        account_id: "wa_1".into(),
        state: AccountState::PendingActivation,
        level,
        kba: KbaStatus::NotStarted,
        attempts_used: 0,
        expires_at: T0 + 30 * 86_400,
        version: 0,
        attempt: None,
    }
}

fn prepared(ids: &[&str]) -> Vec<QuestionRecord> {
    ids.iter()
        .map(|id| QuestionRecord {
            question_id: (*id).into(),
            sealed: vec![1],
            answer_mac: None,
        })
        .collect()
}

/// Applies a change the way the store does, so the next step sees its result.
fn apply(p: &mut AccountProgress, c: &KbaChange) {
    assert_eq!(c.version, p.version);
    p.version += 1;
    p.kba = c.kba;
    p.attempts_used = c.attempts_used;
    if let Some((number, qs)) = &c.start_attempt {
        p.attempt = Some(OpenAttempt {
            number: *number,
            questions: qs
                .iter()
                .enumerate()
                .map(|(i, q)| ServedQuestion {
                    question_id: q.question_id.clone(),
                    position: i as u32 + 1,
                    served_at: None,
                    deadline: None,
                    correct: None,
                    sealed: q.sealed.clone(),
                    answer_mac: q.answer_mac,
                })
                .collect(),
        });
    }
    if let Some((id, at, right)) = &c.answer {
        let q = p
            .attempt
            .as_mut()
            .unwrap()
            .questions
            .iter_mut()
            .find(|q| &q.question_id == id)
            .unwrap();
        assert!(q.served_at.is_some_and(|s| s <= *at));
        q.correct = Some(*right);
    }
    if let Some((id, at, deadline)) = &c.serve {
        let q = p
            .attempt
            .as_mut()
            .unwrap()
            .questions
            .iter_mut()
            .find(|q| &q.question_id == id)
            .unwrap();
        q.served_at = Some(*at);
        q.deadline = Some(*deadline);
    }
    if c.finish_attempt.is_some() {
        p.attempt = None;
    }
    if let Some(t) = &c.transition {
        assert_eq!(t.from, Some(p.state));
        p.state = t.to;
    }
}

/// Starts an attempt with `ids` and returns the first outcome.
fn start(p: &mut AccountProgress, ids: &[&str], now: i64) -> Outcome {
    let Next::Start { number, count } = p.question(&config(), now).unwrap() else {
        panic!("expected a new attempt");
    };
    assert_eq!(count as usize, ids.len());
    let (change, outcome) = p.start_attempt(&config(), number, prepared(ids), now);
    apply(p, &change);
    outcome
}

/// Answers the open question.
fn answer(p: &mut AccountProgress, right: bool, now: i64) -> Outcome {
    let id = p
        .attempt
        .as_ref()
        .unwrap()
        .questions
        .iter()
        .find(|q| q.served_at.is_some() && q.correct.is_none())
        .unwrap()
        .question_id
        .clone();
    assert_eq!(p.answer(&config(), &id, now).unwrap(), AnswerCheck::Verify);
    let (change, outcome) = p.record_answer(&config(), right, now).unwrap();
    apply(p, &change);
    outcome
}

#[test]
fn the_count_follows_the_level() {
    for (level, count) in [
        (SecurityLevel::Low, 4),
        (SecurityLevel::Medium, 5),
        (SecurityLevel::High, 6),
    ] {
        assert_eq!(
            pending(level).question(&config(), T0).unwrap(),
            Next::Start { number: 1, count }
        );
    }
}

#[test]
fn all_right_activates_and_records_the_transition() {
    let mut p = pending(SecurityLevel::Low);
    let first = start(&mut p, &["q1", "q2", "q3", "q4"], T0);
    assert!(
        matches!(first, Outcome::Question { position: 1, count: 4, deadline, .. } if deadline == T0 + 120)
    );
    assert!(matches!(
        answer(&mut p, true, T0 + 10),
        Outcome::Question { position: 2, .. }
    ));
    assert!(matches!(
        answer(&mut p, true, T0 + 20),
        Outcome::Question { position: 3, .. }
    ));
    assert!(matches!(
        answer(&mut p, true, T0 + 25),
        Outcome::Question { position: 4, .. }
    ));
    assert_eq!(answer(&mut p, true, T0 + 30), Outcome::Activated);
    assert_eq!(p.state, AccountState::Active);
    assert_eq!(p.kba, KbaStatus::Passed);
    assert_eq!(
        p.question(&config(), T0 + 40),
        Err(KbaError::NotPending(AccountState::Active))
    );
}

#[test]
fn asking_again_shows_the_same_question_with_the_same_deadline() {
    let mut p = pending(SecurityLevel::Low);
    start(&mut p, &["q1", "q2", "q3", "q4"], T0);
    let Next::Answer(
        None,
        Outcome::Question {
            question_id,
            deadline,
            ..
        },
    ) = p.question(&config(), T0 + 100).unwrap()
    else {
        panic!("expected the open question again, with nothing to commit");
    };
    assert_eq!((question_id.as_str(), deadline), ("q1", T0 + 120));
}

#[test]
fn one_wrong_answer_fails_the_attempt_only_at_its_end() {
    let mut p = pending(SecurityLevel::Low);
    start(&mut p, &["q1", "q2", "q3", "q4"], T0);
    assert!(matches!(
        answer(&mut p, false, T0 + 1),
        Outcome::Question { position: 2, .. }
    ));
    assert!(matches!(
        answer(&mut p, true, T0 + 2),
        Outcome::Question { position: 3, .. }
    ));
    assert!(matches!(
        answer(&mut p, true, T0 + 3),
        Outcome::Question { position: 4, .. }
    ));
    assert_eq!(
        answer(&mut p, true, T0 + 3),
        Outcome::AttemptFailed {
            reason: "wrong_answers"
        }
    );
    assert_eq!(p.attempts_used, 1);
    assert_eq!(p.state, AccountState::PendingActivation);
    assert!(matches!(
        p.question(&config(), T0 + 4).unwrap(),
        Next::Start { number: 2, .. }
    ));
}

#[test]
fn a_late_answer_or_a_late_return_fails_the_attempt_as_a_time_out() {
    let mut p = pending(SecurityLevel::Low);
    start(&mut p, &["q1", "q2", "q3", "q4"], T0);
    let AnswerCheck::Late(change, outcome) = p.answer(&config(), "q1", T0 + 121).unwrap() else {
        panic!("expected late");
    };
    assert_eq!(outcome, Outcome::AttemptFailed { reason: "timeout" });
    assert_eq!(
        change.finish_attempt,
        Some((1, AttemptOutcome::TimedOut, T0 + 121))
    );
    apply(&mut p, &change);

    start(&mut p, &["q5", "q6", "q7", "q8"], T0 + 200);
    let Next::Answer(Some(change), outcome) = p.question(&config(), T0 + 321).unwrap() else {
        panic!("expected the time-out to be committed");
    };
    assert_eq!(outcome, Outcome::AttemptFailed { reason: "timeout" });
    apply(&mut p, &change);
    assert_eq!(p.attempts_used, 2);
}

#[test]
fn the_third_failed_attempt_locks_with_its_reason() {
    let mut p = pending(SecurityLevel::Low);
    for (n, ids) in [["a1", "a2", "a3", "a4"], ["b1", "b2", "b3", "b4"]]
        .iter()
        .enumerate()
    {
        start(&mut p, ids, T0 + n as i64 * 10);
        for _ in 0..4 {
            answer(&mut p, false, T0 + n as i64 * 10 + 1);
        }
    }
    start(&mut p, &["c1", "c2", "c3", "c4"], T0 + 100);
    answer(&mut p, true, T0 + 101);
    answer(&mut p, true, T0 + 102);
    answer(&mut p, true, T0 + 103);
    assert_eq!(
        answer(&mut p, false, T0 + 104),
        Outcome::Locked {
            reason: "kba_wrong_answers"
        }
    );
    assert_eq!((p.state, p.kba), (AccountState::Locked, KbaStatus::Failed));
}

#[test]
fn answers_must_be_for_the_open_question() {
    let mut p = pending(SecurityLevel::Low);
    assert_eq!(p.answer(&config(), "q1", T0), Err(KbaError::NoOpenQuestion));
    start(&mut p, &["q1", "q2", "q3", "q4"], T0);
    assert_eq!(p.answer(&config(), "q2", T0), Err(KbaError::WrongQuestion));
}

#[test]
fn opting_out_ends_verification_and_leaves_the_issuer() {
    let mut p = pending(SecurityLevel::Low);
    start(&mut p, &["q1", "q2", "q3", "q4"], T0);
    let change = p.opt_out(T0 + 5).unwrap();
    assert_eq!(
        change.finish_attempt,
        Some((1, AttemptOutcome::Abandoned, T0 + 5))
    );
    assert_eq!(
        change.attempts_used, 0,
        "an opt-out is not a failed attempt"
    );
    apply(&mut p, &change);
    assert_eq!(p.question(&config(), T0 + 6), Err(KbaError::OptedOut));
    let change = p.issuer_verified("CALL_CENTER", T0 + 7).unwrap();
    let t = change.transition.clone().unwrap();
    assert_eq!(
        (t.to, t.channel, t.reason.as_str()),
        (
            AccountState::Active,
            crate::Channel::Issuer,
            "issuer_verified:CALL_CENTER"
        )
    );
    apply(&mut p, &change);
    assert!(matches!(
        p.issuer_verified("BRANCH", T0 + 8),
        Err(KbaError::Illegal(_))
    ));
}

#[test]
fn an_expired_account_refuses_every_step_and_expires_once() {
    let mut p = pending(SecurityLevel::Low);
    let late = p.expires_at;
    assert_eq!(p.question(&config(), late), Err(KbaError::Expired));
    assert_eq!(p.opt_out(late), Err(KbaError::Expired));
    assert_eq!(p.issuer_verified("BRANCH", late), Err(KbaError::Expired));
    let change = p.expire(late).unwrap();
    apply(&mut p, &change);
    assert_eq!(p.state, AccountState::Expired);
    assert!(matches!(p.expire(late), Err(KbaError::Illegal(_))));
}
