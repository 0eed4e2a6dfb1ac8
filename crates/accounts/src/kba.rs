//! Knowledge-based verification of a pending account, following NIST SP 800-63A section
//! 5.3.2: multiple choice with at least four options, every question of an attempt must be
//! answered right, at most three attempts, two minutes per question (a time-out fails the
//! whole attempt), no question asked twice of one account, answers never revealed, and the
//! user may opt out to another method (the issuer verifies and activates).
//!
//! ```text
//!  question() ─► Start{count} ─► `count` unused questions drawn (step.rs) ─► start_attempt()
//!      │                                          (first question served, clock starts)
//!      └─► Present (the open question again, same deadline) / Serve (the next one)
//!  answer(q) ─► Verify ─► the option checked (step.rs) ─► record_answer(correct)
//!      │            ─► Next question │ AttemptFailed │ Locked (last attempt) │ Activated
//!      └─► Late (past the deadline) ─► the attempt fails as a time-out
//! ```
//!
//! Every function returns a [`KbaChange`] for the store to commit under the account's
//! version, so two concurrent answers cannot both count.

use crate::state::{AccountEvent, AccountState, Transition};
use crate::{AccountsConfig, KbaError, QuestionRecord, SecurityLevel};

/// Where verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KbaStatus {
    /// No attempt yet.
    NotStarted,
    /// An attempt is open, or one failed and another is allowed.
    InProgress,
    /// An attempt passed.
    Passed,
    /// The last attempt failed.
    Failed,
    /// The user chose another method.
    OptedOut,
}

/// A question served (or to be served) in the open attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedQuestion {
    /// Its id.
    pub question_id: String,
    /// 1-based position in the attempt.
    pub position: u32,
    /// When it was shown; `None` until its turn.
    pub served_at: Option<i64>,
    /// When its time runs out.
    pub deadline: Option<i64>,
    /// Whether the answer was right, once answered.
    pub correct: Option<bool>,
    /// The question, sealed as it was drawn.
    pub sealed: Vec<u8>,
    /// Keyed hash of its right option; `None` when the source checks answers.
    pub answer_mac: Option<[u8; 32]>,
}

/// The open attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAttempt {
    /// 1-based.
    pub number: u32,
    /// Its questions in order.
    pub questions: Vec<ServedQuestion>,
}

/// A pending account as the verification core sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProgress {
    /// The account.
    pub account_id: String,
    /// Its state.
    pub state: AccountState,
    /// Its security level.
    pub level: SecurityLevel,
    /// Verification status.
    pub kba: KbaStatus,
    /// Attempts that failed.
    pub attempts_used: u32,
    /// When a pending account expires.
    pub expires_at: i64,
    /// Optimistic concurrency version.
    pub version: i64,
    /// The open attempt, if any.
    pub attempt: Option<OpenAttempt>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Every answer right.
    Passed,
    /// At least one answer wrong.
    WrongAnswers,
    /// A question's time ran out.
    TimedOut,
    /// Ended by an opt-out or the issuer's verification.
    Abandoned,
}

/// Everything to commit, atomically, if the account is still at `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbaChange {
    /// The account.
    pub account_id: String,
    /// The version the change was computed from.
    pub version: i64,
    /// The new verification status.
    pub kba: KbaStatus,
    /// The new count of failed attempts.
    pub attempts_used: u32,
    /// A new attempt and its questions.
    pub start_attempt: Option<(u32, Vec<QuestionRecord>)>,
    /// An answer: question id, when, right or not.
    pub answer: Option<(String, i64, bool)>,
    /// A question shown: id, when, deadline.
    pub serve: Option<(String, i64, i64)>,
    /// The open attempt ended: number, how, when.
    pub finish_attempt: Option<(u32, AttemptOutcome, i64)>,
    /// A state change for the account and its audit trail.
    pub transition: Option<Transition>,
}

/// What the wallet is told after a step. Never which answers were wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Show this question.
    Question {
        /// Its id.
        question_id: String,
        /// Attempt number.
        attempt: u32,
        /// Position in the attempt.
        position: u32,
        /// Questions in the attempt.
        count: u32,
        /// When its time runs out.
        deadline: i64,
    },
    /// The attempt failed; another may start.
    AttemptFailed {
        /// `wrong_answers` or `timeout`.
        reason: &'static str,
    },
    /// The last attempt failed; the account is locked.
    Locked {
        /// `kba_wrong_answers` or `kba_timeout`.
        reason: &'static str,
    },
    /// Passed: the account is active.
    Activated,
}

/// What the question endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Fetch `count` unused questions and call [`AccountProgress::start_attempt`].
    Start {
        /// Attempt number.
        number: u32,
        /// Questions needed.
        count: u32,
    },
    /// Commit the change (if any) and answer with the outcome.
    Answer(Option<Box<KbaChange>>, Outcome),
}

/// What the answer endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerCheck {
    /// Check the chosen option, then call [`AccountProgress::record_answer`].
    Verify,
    /// Too late: commit the change; the outcome says the attempt failed.
    Late(Box<KbaChange>, Outcome),
}

impl KbaStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::InProgress => "IN_PROGRESS",
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::OptedOut => "OPTED_OUT",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::NotStarted,
            Self::InProgress,
            Self::Passed,
            Self::Failed,
            Self::OptedOut,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

impl AttemptOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::WrongAnswers => "WRONG_ANSWERS",
            Self::TimedOut => "TIMED_OUT",
            Self::Abandoned => "ABANDONED",
        }
    }
}

impl AccountProgress {
    /// What the question endpoint does: start an attempt, show the open question again
    /// (its deadline does not move), show the next one, or fail the attempt whose open
    /// question timed out.
    pub fn question(&self, config: &AccountsConfig, now: i64) -> Result<Next, KbaError> {
        self.check_pending(now)?;
        let Some(attempt) = &self.attempt else {
            return Ok(Next::Start {
                number: self.attempts_used + 1,
                count: config.questions_for(self.level),
            });
        };
        let count = attempt.questions.len() as u32;
        let Some(current) = attempt.questions.iter().find(|q| q.correct.is_none()) else {
            // Every question answered but the attempt not closed cannot be committed
            // (`record_answer` closes it with the last answer); start over to be safe.
            return Ok(Next::Start {
                number: self.attempts_used + 1,
                count: config.questions_for(self.level),
            });
        };
        let (change, deadline) = match (current.served_at, current.deadline) {
            (Some(_), Some(deadline)) if now > deadline => {
                let (change, outcome) =
                    self.fail_attempt(config, attempt.number, AttemptOutcome::TimedOut, now, None);
                return Ok(Next::Answer(Some(Box::new(change)), outcome));
            }
            (Some(_), Some(deadline)) => (None, deadline),
            _ => {
                let deadline = now + config.question_time_limit_s;
                let mut change = self.change();
                change.serve = Some((current.question_id.clone(), now, deadline));
                (Some(Box::new(change)), deadline)
            }
        };
        Ok(Next::Answer(
            change,
            Outcome::Question {
                question_id: current.question_id.clone(),
                attempt: attempt.number,
                position: current.position,
                count,
                deadline,
            },
        ))
    }

    /// Opens attempt `number` with fresh questions and shows the first.
    pub fn start_attempt(
        &self,
        config: &AccountsConfig,
        number: u32,
        questions: Vec<QuestionRecord>,
        now: i64,
    ) -> (KbaChange, Outcome) {
        let deadline = now + config.question_time_limit_s;
        let count = questions.len() as u32;
        let first = questions
            .first()
            .map(|q| q.question_id.clone())
            .unwrap_or_default();
        let mut change = self.change();
        change.kba = KbaStatus::InProgress;
        change.start_attempt = Some((number, questions));
        change.serve = Some((first.clone(), now, deadline));
        (
            change,
            Outcome::Question {
                question_id: first,
                attempt: number,
                position: 1,
                count,
                deadline,
            },
        )
    }

    /// Checks that an answer is for the open question and in time.
    pub fn answer(
        &self,
        config: &AccountsConfig,
        question_id: &str,
        now: i64,
    ) -> Result<AnswerCheck, KbaError> {
        self.check_pending(now)?;
        let (attempt, current) = self.open_question()?;
        if current.question_id != question_id {
            return Err(KbaError::WrongQuestion);
        }
        match current.deadline {
            Some(deadline) if now <= deadline => Ok(AnswerCheck::Verify),
            _ => {
                let (change, outcome) =
                    self.fail_attempt(config, attempt.number, AttemptOutcome::TimedOut, now, None);
                Ok(AnswerCheck::Late(Box::new(change), outcome))
            }
        }
    }

    /// Records a checked answer: shows the next question, or closes the attempt (pass
    /// only if every answer was right).
    pub fn record_answer(
        &self,
        config: &AccountsConfig,
        correct: bool,
        now: i64,
    ) -> Result<(KbaChange, Outcome), KbaError> {
        let (attempt, current) = self.open_question()?;
        let answer = Some((current.question_id.clone(), now, correct));
        let next = attempt
            .questions
            .iter()
            .find(|q| q.correct.is_none() && q.question_id != current.question_id);
        if let Some(next) = next {
            let deadline = now + config.question_time_limit_s;
            let mut change = self.change();
            change.answer = answer;
            change.serve = Some((next.question_id.clone(), now, deadline));
            return Ok((
                change,
                Outcome::Question {
                    question_id: next.question_id.clone(),
                    attempt: attempt.number,
                    position: next.position,
                    count: attempt.questions.len() as u32,
                    deadline,
                },
            ));
        }
        let all_right = correct
            && attempt
                .questions
                .iter()
                .filter(|q| q.question_id != current.question_id)
                .all(|q| q.correct == Some(true));
        if !all_right {
            return Ok(self.fail_attempt(
                config,
                attempt.number,
                AttemptOutcome::WrongAnswers,
                now,
                answer,
            ));
        }
        let mut change = self.change();
        change.answer = answer;
        change.kba = KbaStatus::Passed;
        change.finish_attempt = Some((attempt.number, AttemptOutcome::Passed, now));
        change.transition = Some(self.transition(&AccountEvent::KbaPassed, now)?);
        Ok((change, Outcome::Activated))
    }

    /// The user chooses another method: verification ends for good, the open attempt is
    /// abandoned without counting, and the account waits for the issuer.
    pub fn opt_out(&self, now: i64) -> Result<KbaChange, KbaError> {
        self.check_pending(now)?;
        let mut change = self.change();
        change.kba = KbaStatus::OptedOut;
        change.finish_attempt = self
            .attempt
            .as_ref()
            .map(|a| (a.number, AttemptOutcome::Abandoned, now));
        Ok(change)
    }

    /// The issuer verified the user another way (after an opt-out, or instead of KBA).
    pub fn issuer_verified(&self, method: &'static str, now: i64) -> Result<KbaChange, KbaError> {
        if now >= self.expires_at && self.state == AccountState::PendingActivation {
            return Err(KbaError::Expired);
        }
        let mut change = self.change();
        change.transition = Some(self.transition(&AccountEvent::IssuerVerified { method }, now)?);
        change.finish_attempt = self
            .attempt
            .as_ref()
            .map(|a| (a.number, AttemptOutcome::Abandoned, now));
        Ok(change)
    }

    /// The pending time elapsed: the account expires.
    pub fn expire(&self, now: i64) -> Result<KbaChange, KbaError> {
        let mut change = self.change();
        change.transition = Some(self.transition(&AccountEvent::PendingExpired, now)?);
        change.finish_attempt = self
            .attempt
            .as_ref()
            .map(|a| (a.number, AttemptOutcome::Abandoned, now));
        Ok(change)
    }

    fn check_pending(&self, now: i64) -> Result<(), KbaError> {
        match self.state {
            AccountState::PendingActivation if now >= self.expires_at => Err(KbaError::Expired),
            AccountState::PendingActivation if self.kba == KbaStatus::OptedOut => {
                Err(KbaError::OptedOut)
            }
            AccountState::PendingActivation => Ok(()),
            other => Err(KbaError::NotPending(other)),
        }
    }

    fn open_question(&self) -> Result<(&OpenAttempt, &ServedQuestion), KbaError> {
        let attempt = self.attempt.as_ref().ok_or(KbaError::NoOpenQuestion)?;
        let current = attempt
            .questions
            .iter()
            .find(|q| q.correct.is_none() && q.served_at.is_some())
            .ok_or(KbaError::NoOpenQuestion)?;
        Ok((attempt, current))
    }

    fn fail_attempt(
        &self,
        config: &AccountsConfig,
        number: u32,
        how: AttemptOutcome,
        now: i64,
        answer: Option<(String, i64, bool)>,
    ) -> (KbaChange, Outcome) {
        let mut change = self.change();
        change.answer = answer;
        change.attempts_used = self.attempts_used + 1;
        change.finish_attempt = Some((number, how, now));
        let (short, long) = match how {
            AttemptOutcome::TimedOut => ("timeout", "kba_timeout"),
            _ => ("wrong_answers", "kba_wrong_answers"),
        };
        if change.attempts_used < config.max_attempts {
            return (change, Outcome::AttemptFailed { reason: short });
        }
        change.kba = KbaStatus::Failed;
        // Pending was checked by every caller, so the transition is legal.
        change.transition = self
            .transition(&AccountEvent::KbaFailed { reason: long }, now)
            .ok();
        (change, Outcome::Locked { reason: long })
    }

    fn transition(&self, event: &AccountEvent, now: i64) -> Result<Transition, KbaError> {
        let to = self.state.on(event)?;
        Ok(Transition {
            account_id: self.account_id.clone(),
            from: Some(self.state),
            to,
            channel: event.channel(),
            reason: event.reason(),
            at: now,
        })
    }

    fn change(&self) -> KbaChange {
        KbaChange {
            account_id: self.account_id.clone(),
            version: self.version,
            kba: self.kba,
            attempts_used: self.attempts_used,
            start_attempt: None,
            answer: None,
            serve: None,
            finish_attempt: None,
            transition: None,
        }
    }
}

#[cfg(test)]
mod tests;
