//! A multiple-choice knowledge-based question as shown to the user: never with its answer.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::{MAX_OPTIONS, MAX_TEXT};

/// A question and its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Unique per question source; never asked twice of one account.
    pub id: String,
    /// The question.
    pub text: String,
    /// At least four options (NIST SP 800-63A 5.3.2).
    pub options: Vec<AnswerOption>,
}

/// One option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    /// What the wallet sends back.
    pub id: String,
    /// What the user reads.
    pub text: String,
}

/// Why a question from a source was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("question source sent an unusable question: {0}")]
pub struct BadQuestion(pub String);

impl Question {
    /// Checks a question from an outside source: an id of 1 to 64 visible ASCII characters,
    /// text within bounds, `min_options` to 8 options with distinct ids and texts.
    pub fn check(&self, min_options: usize) -> Result<(), BadQuestion> {
        let id_ok =
            |s: &str| (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
        let text_ok = |s: &str| !s.trim().is_empty() && s.len() <= MAX_TEXT;
        if !id_ok(&self.id) {
            return Err(BadQuestion("question id".into()));
        }
        if !text_ok(&self.text) {
            return Err(BadQuestion(format!("text of {}", self.id)));
        }
        if !(min_options..=MAX_OPTIONS).contains(&self.options.len()) {
            return Err(BadQuestion(format!(
                "{} has {} options; {min_options} to {MAX_OPTIONS} are required",
                self.id,
                self.options.len()
            )));
        }
        let mut ids = HashSet::new();
        let mut texts = HashSet::new();
        for o in &self.options {
            if !id_ok(&o.id) || !text_ok(&o.text) {
                return Err(BadQuestion(format!("an option of {}", self.id)));
            }
            if !ids.insert(o.id.as_str()) || !texts.insert(o.text.trim().to_lowercase()) {
                return Err(BadQuestion(format!("{} repeats an option", self.id)));
            }
        }
        Ok(())
    }

    /// Whether `option_id` is one of the options.
    pub fn has_option(&self, option_id: &str) -> bool {
        self.options.iter().any(|o| o.id == option_id)
    }
}

/// Checks a source's answer to a request for `count` questions: exactly `count` valid
/// questions, distinct, none of them already asked (`exclude`).
pub fn check_source_questions(
    questions: &[Question],
    count: u32,
    exclude: &[String],
    min_options: usize,
) -> Result<(), BadQuestion> {
    if questions.len() != count as usize {
        return Err(BadQuestion(format!(
            "{} questions for a request of {count}",
            questions.len()
        )));
    }
    let mut seen = HashSet::new();
    for q in questions {
        q.check(min_options)?;
        if exclude.contains(&q.id) || !seen.insert(q.id.as_str()) {
            return Err(BadQuestion(format!("{} was already asked", q.id)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_may_not_repeat_or_short_change() {
        let q = |id: &str| Question {
            id: id.into(),
            ..question(&["a", "b", "c", "d"])
        };
        let asked = vec!["old".to_owned()];
        assert!(check_source_questions(&[q("n1"), q("n2")], 2, &asked, 4).is_ok());
        assert!(check_source_questions(&[q("n1")], 2, &asked, 4).is_err());
        assert!(check_source_questions(&[q("n1"), q("old")], 2, &asked, 4).is_err());
        assert!(check_source_questions(&[q("n1"), q("n1")], 2, &asked, 4).is_err());
    }

    fn question(options: &[&str]) -> Question {
        Question {
            id: "q1".into(),
            text: "Which?".into(),
            options: options
                .iter()
                .enumerate()
                .map(|(i, t)| AnswerOption {
                    id: format!("o{i}"),
                    text: (*t).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn four_distinct_options_pass_and_fewer_or_repeated_do_not() {
        assert!(question(&["a", "b", "c", "d"]).check(4).is_ok());
        assert!(question(&["a", "b", "c"]).check(4).is_err());
        assert!(question(&["a", "b", "c", "A "]).check(4).is_err());
        let mut q = question(&["a", "b", "c", "d"]);
        q.id = "has space".into();
        assert!(q.check(4).is_err());
        let long = "x".repeat(MAX_TEXT + 1);
        assert!(question(&["a", "b", "c", &long]).check(4).is_err());
        assert!(question(&["a"; 9]).check(4).is_err());
    }
}
