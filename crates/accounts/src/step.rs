//! A knowledge-based verification step as a handler runs it (docs/protocol.md §8.6, §8.7;
//! docs/architecture.md §4): the store loads the account's [`KbaFacts`] in one call, and the
//! core decides once what to commit and what to answer ([`Step::Decided`]).
//!
//! When the issuer's question source is an HTTP service, the decision needs the source's
//! answer first: new questions when an attempt starts, the verdict on an answer to one of its
//! questions. The core then says what to ask ([`Step::AskSource`]); the server makes the call,
//! because it is I/O, and hands the reply back to [`AskSource::resume`], which checks it and
//! decides. Nothing is committed before the reply is checked, so a source that fails writes
//! nothing (§9.7).
//!
//! ```text
//!  facts ─question/answer─► Step::Decided(d) ───────────────────────────────► commit d, answer
//!                           Step::AskSource(a) ─► server: POST a.call() ─► a.resume(reply) ─┘
//! ```

use provisio_crypto::ct_eq;

use crate::records::QuestionRecord;
use crate::source::{Source, parse_reply};
use crate::wire::{
    KbaAnswer, KbaResult, KbaStep, PresentedQuestion, SourceAnswerRequest, SourceQuestions,
    SourceQuestionsRequest, SourceVerdict,
};
use crate::{
    AccountContext, AccountRecord, AnswerCheck, Decided, KbaError, KbaSourceRecord, Next, Outcome,
    Question, SourceCall, check_source_questions, shuffle,
};

/// What a verification step of one account is decided from, loaded in one store call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbaFacts {
    /// The account, with its open attempt and that attempt's sealed questions.
    pub account: AccountRecord,
    /// The issuer's question source, as configured now (none: the bank).
    pub source: Option<KbaSourceRecord>,
    /// What a new attempt draws from; loaded for the question endpoint only.
    pub draw: Option<DrawFacts>,
}

/// What a new attempt draws its questions from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawFacts {
    /// Every question id asked of the account (an HTTP source must not send them again).
    pub asked: Vec<String>,
    /// The bank's questions for the customer never drawn for the account, by id.
    pub unused_bank: Vec<QuestionRecord>,
}

/// What a step does next.
#[derive(Debug)]
pub enum Step<'f> {
    /// Commit and answer.
    Decided(Box<Decided<KbaStep>>),
    /// Make this call to the issuer's source, then [`AskSource::resume`] with its reply.
    AskSource(AskSource<'f>),
}

/// A step waiting for the source's reply.
#[derive(Debug)]
pub struct AskSource<'f> {
    facts: &'f KbaFacts,
    call: SourceCall,
    then: Then,
}

/// What the reply is for.
#[derive(Debug)]
enum Then {
    /// The questions of attempt `number`: exactly `count`, none of `exclude`.
    Draw {
        number: u32,
        count: u32,
        exclude: Vec<String>,
    },
    /// The verdict on the answer to the open question.
    Check,
}

impl Step<'_> {
    fn decided(decided: Decided<KbaStep>) -> Self {
        Self::Decided(Box::new(decided))
    }
}

impl KbaFacts {
    /// `POST …/kba/question`: starts an attempt when none is open (drawing questions never
    /// asked of the account from the issuer's source, in random order from the bank), shows
    /// the open question again with its unchanged deadline, or fails the attempt whose
    /// question timed out.
    pub fn question(&self, ctx: &AccountContext<'_>) -> Step<'_> {
        let next = match self.account.progress.question(ctx.config, ctx.now) {
            Ok(next) => next,
            Err(KbaError::Expired) => return Step::decided(self.account.expired(ctx.now)),
            Err(e) => return Step::decided(Decided::refused(e)),
        };
        let step = match next {
            Next::Start { number, count } => self.start(ctx, number, count),
            Next::Answer(change, outcome) => self
                .decided(ctx, change.map(|c| *c), &outcome)
                .map(Step::decided),
        };
        step.unwrap_or_else(|e| Step::decided(Decided::refused(e)))
    }

    /// `POST …/kba/answer`: checks that the answer is for the open question, in time and one
    /// of its options, then whether it is right (by its keyed hash for bank questions, by
    /// asking the source otherwise), and shows the next question or ends the attempt. The
    /// answer never says which answer was wrong.
    pub fn answer(&self, ctx: &AccountContext<'_>, req: &KbaAnswer) -> Step<'_> {
        let check = match self
            .account
            .progress
            .answer(ctx.config, &req.question_id, ctx.now)
        {
            Ok(check) => check,
            Err(KbaError::Expired) => return Step::decided(self.account.expired(ctx.now)),
            Err(e) => return Step::decided(Decided::refused(e)),
        };
        let step = match check {
            AnswerCheck::Late(change, outcome) => self
                .decided(ctx, Some(*change), &outcome)
                .map(Step::decided),
            AnswerCheck::Verify => self.verify(ctx, req),
        };
        step.unwrap_or_else(|e| Step::decided(Decided::refused(e)))
    }

    fn start(
        &self,
        ctx: &AccountContext<'_>,
        number: u32,
        count: u32,
    ) -> Result<Step<'_>, KbaError> {
        let account = &self.account;
        let draw = self
            .draw
            .as_ref()
            .ok_or_else(|| KbaError::Internal("the draw facts were not loaded".into()))?;
        match Source::of_issuer(&ctx.at_rest, &account.issuer_id, self.source.as_ref())? {
            Source::Bank => {
                let mut pool = draw.unused_bank.clone();
                if pool.len() < count as usize {
                    return Err(KbaError::Unavailable {
                        have: pool.len(),
                        need: count,
                    });
                }
                shuffle(ctx.at_rest.crypto, &mut pool)
                    .map_err(|e| KbaError::internal("drawing questions", &e))?;
                pool.truncate(count as usize);
                let first = pool
                    .first()
                    .map(|q| ctx.at_rest.open_question(&q.question_id, &q.sealed))
                    .transpose()?;
                Ok(Step::decided(self.started(ctx, number, pool, first)))
            }
            Source::Http(http) => {
                let request = SourceQuestionsRequest {
                    account_id: account.progress.account_id.clone(),
                    issuer_id: account.issuer_id.clone(),
                    count,
                    exclude: draw.asked.clone(),
                    subject: http.subject(&ctx.at_rest, account)?,
                };
                Ok(Step::AskSource(AskSource {
                    facts: self,
                    call: http.call("questions", &request)?,
                    then: Then::Draw {
                        number,
                        count,
                        exclude: request.exclude,
                    },
                }))
            }
        }
    }

    fn verify(&self, ctx: &AccountContext<'_>, req: &KbaAnswer) -> Result<Step<'_>, KbaError> {
        let account = &self.account;
        let served = account
            .progress
            .attempt
            .iter()
            .flat_map(|a| &a.questions)
            .find(|q| q.question_id == req.question_id)
            .ok_or_else(|| KbaError::Internal("the open question is not stored".into()))?;
        let question = ctx
            .at_rest
            .open_question(&served.question_id, &served.sealed)?;
        if !question.has_option(&req.option_id) {
            return Err(KbaError::UnknownOption);
        }
        let source = Source::of_issuer(&ctx.at_rest, &account.issuer_id, self.source.as_ref())?;
        if let Some(expected) = &served.answer_mac {
            let got = ctx.at_rest.answer_mac(&served.question_id, &req.option_id);
            return self.recorded(ctx, ct_eq(&got, expected)).map(Step::decided);
        }
        let Source::Http(http) = source else {
            return Err(KbaError::Internal(
                "a question without an answer hash, and the issuer's source is the bank".into(),
            ));
        };
        let request = SourceAnswerRequest {
            account_id: account.progress.account_id.clone(),
            question_id: served.question_id.clone(),
            option_id: req.option_id.clone(),
            subject: http.subject(&ctx.at_rest, account)?,
        };
        Ok(Step::AskSource(AskSource {
            facts: self,
            call: http.call("answers", &request)?,
            then: Then::Check,
        }))
    }

    /// Opens attempt `number` with `questions`, showing `first`.
    fn started(
        &self,
        ctx: &AccountContext<'_>,
        number: u32,
        questions: Vec<QuestionRecord>,
        first: Option<Question>,
    ) -> Decided<KbaStep> {
        let (change, outcome) = self
            .account
            .progress
            .start_attempt(ctx.config, number, questions, ctx.now);
        Decided {
            answer: Ok(self.step(ctx, Some(&change), &outcome, first)),
            change: Some(change),
        }
    }

    /// Records a checked answer.
    fn recorded(
        &self,
        ctx: &AccountContext<'_>,
        correct: bool,
    ) -> Result<Decided<KbaStep>, KbaError> {
        let (change, outcome) = self
            .account
            .progress
            .record_answer(ctx.config, correct, ctx.now)?;
        self.decided(ctx, Some(change), &outcome)
    }

    /// Commits `change` and answers `outcome`, with the question it shows (one of the open
    /// attempt's) opened.
    fn decided(
        &self,
        ctx: &AccountContext<'_>,
        change: Option<crate::KbaChange>,
        outcome: &Outcome,
    ) -> Result<Decided<KbaStep>, KbaError> {
        let shown = match outcome {
            Outcome::Question { question_id, .. } => {
                let served = self
                    .account
                    .progress
                    .attempt
                    .iter()
                    .flat_map(|a| &a.questions)
                    .find(|q| &q.question_id == question_id)
                    .ok_or_else(|| KbaError::Internal("a shown question is not stored".into()))?;
                Some(ctx.at_rest.open_question(question_id, &served.sealed)?)
            }
            _ => None,
        };
        Ok(Decided {
            answer: Ok(self.step(ctx, change.as_ref(), outcome, shown)),
            change,
        })
    }

    /// The answer to a step: the account as `change` (if any) leaves it.
    fn step(
        &self,
        ctx: &AccountContext<'_>,
        change: Option<&crate::KbaChange>,
        outcome: &Outcome,
        shown: Option<Question>,
    ) -> KbaStep {
        let progress = &self.account.progress;
        let state = change
            .and_then(|c| c.transition.as_ref())
            .map_or(progress.state, |t| t.to);
        let attempts_used = change.map_or(progress.attempts_used, |c| c.attempts_used);
        let (result, reason, question) = match outcome {
            Outcome::Question {
                attempt,
                position,
                count,
                deadline,
                ..
            } => (
                KbaResult::Question,
                None,
                shown.map(|q| PresentedQuestion {
                    attempt: *attempt,
                    position: *position,
                    count: *count,
                    expires_at: *deadline,
                    id: q.id,
                    text: q.text,
                    options: q.options,
                }),
            ),
            Outcome::AttemptFailed { reason } => (KbaResult::AttemptFailed, Some(*reason), None),
            Outcome::Locked { reason } => (KbaResult::Locked, Some(*reason), None),
            Outcome::Activated => (KbaResult::Activated, None, None),
        };
        KbaStep {
            result,
            reason: reason.map(str::to_owned),
            state,
            attempts_used,
            max_attempts: ctx.config.max_attempts,
            question,
        }
    }
}

impl AskSource<'_> {
    /// The call to make.
    pub fn call(&self) -> &SourceCall {
        &self.call
    }

    /// Decides with the source's 2xx body: new questions (exactly the count asked, valid,
    /// none asked before; sealed for storage) start the attempt; a verdict is recorded as the
    /// answer's. Anything else is 502 `kba_source_error`, with nothing to commit.
    pub fn resume(self, ctx: &AccountContext<'_>, reply: &[u8]) -> Decided<KbaStep> {
        self.decide(ctx, reply).unwrap_or_else(Decided::refused)
    }

    fn decide(self, ctx: &AccountContext<'_>, reply: &[u8]) -> Result<Decided<KbaStep>, KbaError> {
        match self.then {
            Then::Draw {
                number,
                count,
                exclude,
            } => {
                let answer: SourceQuestions = parse_reply(reply)?;
                let min_options = ctx.config.options_per_question as usize;
                check_source_questions(&answer.questions, count, &exclude, min_options)
                    .map_err(|e| KbaError::Source(e.to_string()))?;
                let prepared = answer
                    .questions
                    .iter()
                    .map(|q| {
                        Ok(QuestionRecord {
                            question_id: q.id.clone(),
                            sealed: ctx.at_rest.seal_question(q)?,
                            answer_mac: None,
                        })
                    })
                    .collect::<Result<Vec<_>, KbaError>>()?;
                let first = answer.questions.into_iter().next();
                Ok(self.facts.started(ctx, number, prepared, first))
            }
            Then::Check => {
                let verdict: SourceVerdict = parse_reply(reply)?;
                self.facts.recorded(ctx, verdict.correct)
            }
        }
    }
}

#[cfg(test)]
mod tests;
