//! What one call of an OTA client's session leaves for the edge to do: what to commit in one
//! transaction (the change to the request or job, the APDUs to append to the audit log), and
//! the answer to give once it is committed (docs/protocol.md §11.9, §11.10, §12.7, §12.8).
//!
//! ```text
//!  facts ──core──► Outcome { update, log, answer } ──edge──► one commit (update + log) ─► answer
//! ```
//!
//! A refusal that ends a session (the element refused a step, a broken MAC) still comes with
//! what must be committed: the response that crossed the relay is logged either way.

use crate::TsmError;
use crate::wire::SessionStep;

/// One APDU as it crossed the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logged {
    /// A command sent to the element.
    Command(Vec<u8>),
    /// The element's response, as relayed.
    Response(Vec<u8>),
}

/// What the OTA client is told next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Pass this command APDU to the element.
    Command(Vec<u8>),
    /// The plan is complete on the element; `more` when the TSM has another session for the
    /// same request (the SP-TSM, after the key takeover).
    Done {
        /// Open the next session now.
        more: bool,
    },
}

/// A session that opened: its id, the session to keep in memory, and its first command.
#[derive(Debug)]
pub struct Opened<S> {
    /// The session id the OTA client relays to (`ses_` and 128 random bits).
    pub session_id: String,
    /// The live session.
    pub session: S,
    /// The first command (SELECT).
    pub first: Vec<u8>,
}

/// What a session call leaves to commit, and its answer.
#[derive(Debug)]
pub struct Outcome<U, A> {
    /// The request's or job's new state, at the version it was read.
    pub update: Option<U>,
    /// APDUs to append to the audit log, in order.
    pub log: Vec<Logged>,
    /// The answer, or the refusal to send once the rest is committed.
    pub answer: Result<A, TsmError>,
}

impl Logged {
    /// `C` for a command, `R` for a response (the audit log's direction).
    pub fn direction(&self) -> char {
        match self {
            Self::Command(_) => 'C',
            Self::Response(_) => 'R',
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Command(b) | Self::Response(b) => b,
        }
    }
}

impl Answer {
    /// The wire form for session `session_id`.
    pub fn into_step(self, session_id: String) -> SessionStep {
        match self {
            Self::Command(apdu) => SessionStep::command(session_id, &apdu),
            Self::Done { more } => SessionStep::done(session_id, more),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_becomes_the_documented_session_step() {
        let step = Answer::Command(vec![0x00, 0xA4]).into_step("ses_1".into());
        assert_eq!(
            (step.apdu.as_deref(), step.done, step.more),
            (Some("00A4"), false, false)
        );
        let step = Answer::Done { more: true }.into_step("ses_1".into());
        assert_eq!((step.apdu, step.done, step.more), (None, true, true));
        assert_eq!(Logged::Response(vec![0x90, 0]).direction(), 'R');
        assert_eq!(Logged::Command(vec![1]).bytes(), [1]);
    }
}
