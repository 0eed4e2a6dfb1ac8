//! The service's own question bank: multiple-choice questions built from enrolment facts
//! the issuer loaded.
//!
//! Each fact becomes one question whose options are the true value and distractors drawn at
//! random (CSPRNG) from plausible values of the same kind, in random order. The fact itself
//! is not kept: the server stores the question sealed and only a keyed hash of which option
//! is right. NIST SP 800-63A 5.3.2 prefers recent transactional history (last payment,
//! merchant) over static facts; both are offered, and the issuer chooses what to load.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use provisio_crypto::{CryptoError, CryptoProvider};

use crate::config::MAX_TEXT;
use crate::{AnswerOption, Question};

/// An enrolment fact the issuer knows and the user should.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum Fact {
    /// The year the user was born (`"1984"`).
    BirthYear {
        /// Four digits.
        value: String,
    },
    /// The year the user became the issuer's customer.
    AccountOpenYear {
        /// Four digits.
        value: String,
    },
    /// The amount of the user's most recent card payment (`"42.17"`).
    LastPaymentAmount {
        /// Up to 7 digits, optionally with two decimals.
        value: String,
    },
    /// Where the user last paid by card.
    LastMerchant {
        /// The merchant's name.
        value: String,
    },
    /// The city of the user's home branch.
    BranchCity {
        /// The city.
        value: String,
    },
    /// A question the issuer writes, with its answer and at least three wrong options.
    Custom {
        /// The question.
        question: String,
        /// The right answer.
        answer: String,
        /// Wrong options, at least `options_per_question - 1`.
        distractors: Vec<String>,
    },
}

/// A question built from a fact and which option is right (to be stored only as a keyed
/// hash).
#[derive(Debug)]
pub struct BankQuestion {
    /// The question as the user will see it.
    pub question: Question,
    /// The id of the right option.
    pub correct_option: String,
}

/// Why a fact cannot become a question.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    /// The issuer sent a value of the wrong shape.
    #[error("fact {index}: {reason}")]
    Invalid {
        /// Position in the list.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Randomness failed.
    #[error("random source failed")]
    Random(#[from] CryptoError),
}

const MERCHANTS: &[&str] = &[
    "Corner Grocery",
    "City Pharmacy",
    "Harbor Books",
    "Metro Fuel",
    "Green Leaf Cafe",
    "Sunrise Bakery",
    "Northside Hardware",
    "Blue Line Transit",
    "Riverside Cinema",
    "Oak Street Deli",
    "Summit Sports",
    "Lakeside Market",
];

const CITIES: &[&str] = &[
    "Springfield",
    "Riverton",
    "Fairview",
    "Kingsport",
    "Greenville",
    "Bridgeton",
    "Ashford",
    "Milltown",
    "Westbrook",
    "Clearwater",
    "Lakewood",
    "Hillcrest",
];

impl Fact {
    /// Builds the question with `options` options (the answer among distractors, shuffled).
    /// `id` is the new question's id.
    pub fn to_question(
        &self,
        crypto: &dyn CryptoProvider,
        id: String,
        options: usize,
        index: usize,
    ) -> Result<BankQuestion, FactError> {
        let invalid = |reason| FactError::Invalid { index, reason };
        let wrong = options.saturating_sub(1);
        let (text, answer, distractors) = match self {
            Self::BirthYear { value } => {
                let year = parse_year(value).ok_or(invalid("a year is four digits, 1900-2100"))?;
                (
                    "In which year were you born?".to_owned(),
                    value.clone(),
                    years_near(crypto, year, wrong)?,
                )
            }
            Self::AccountOpenYear { value } => {
                let year = parse_year(value).ok_or(invalid("a year is four digits, 1900-2100"))?;
                (
                    "In which year did you open your first account with us?".to_owned(),
                    value.clone(),
                    years_near(crypto, year, wrong)?,
                )
            }
            Self::LastPaymentAmount { value } => {
                let cents = parse_amount(value).ok_or(invalid("an amount like 42.17"))?;
                (
                    "What was the amount of your most recent card payment?".to_owned(),
                    format_cents(cents),
                    amounts_near(crypto, cents, wrong)?,
                )
            }
            Self::LastMerchant { value } => (
                "Where did you last pay with your card?".to_owned(),
                text_value(value).ok_or(invalid("a merchant name"))?,
                pick_other(crypto, MERCHANTS, value, wrong)?,
            ),
            Self::BranchCity { value } => (
                "In which city is your home branch?".to_owned(),
                text_value(value).ok_or(invalid("a city name"))?,
                pick_other(crypto, CITIES, value, wrong)?,
            ),
            Self::Custom {
                question,
                answer,
                distractors,
            } => {
                let question = text_value(question).ok_or(invalid("a question text"))?;
                let answer = text_value(answer).ok_or(invalid("an answer text"))?;
                let mut pool = Vec::with_capacity(distractors.len());
                for d in distractors {
                    let d = text_value(d).ok_or(invalid("a distractor text"))?;
                    if d.eq_ignore_ascii_case(&answer)
                        || pool.iter().any(|p: &String| p.eq_ignore_ascii_case(&d))
                    {
                        return Err(invalid(
                            "distractors must differ from the answer and each other",
                        ));
                    }
                    pool.push(d);
                }
                if pool.len() < wrong {
                    return Err(invalid("too few distractors for the options per question"));
                }
                shuffle(crypto, &mut pool)?;
                pool.truncate(wrong);
                (question, answer, pool)
            }
        };
        let mut texts = distractors;
        texts.push(answer.clone());
        shuffle(crypto, &mut texts)?;
        let options: Vec<AnswerOption> = texts
            .into_iter()
            .zip(b'a'..)
            .map(|(text, letter)| AnswerOption {
                id: char::from(letter).to_string(),
                text,
            })
            .collect();
        let correct_option = options
            .iter()
            .find(|o| o.text == answer)
            .map(|o| o.id.clone())
            .ok_or(invalid("the answer is not among the options"))?;
        Ok(BankQuestion {
            question: Question { id, text, options },
            correct_option,
        })
    }
}

fn text_value(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty() && t.len() <= MAX_TEXT).then(|| t.to_owned())
}

fn parse_year(s: &str) -> Option<i32> {
    (s.len() == 4)
        .then(|| s.parse::<i32>().ok())
        .flatten()
        .filter(|y| (1900..=2100).contains(y))
}

fn parse_amount(s: &str) -> Option<u64> {
    let (units, cents) = s.split_once('.').unwrap_or((s, "00"));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(units) || units.len() > 7 || !digits(cents) || cents.len() != 2 {
        return None;
    }
    Some(units.parse::<u64>().ok()? * 100 + cents.parse::<u64>().ok()?)
}

fn format_cents(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A uniform integer below `n` (rejection sampling, no modulo bias).
fn below(crypto: &dyn CryptoProvider, n: u64) -> Result<u64, CryptoError> {
    let n = n.max(1);
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let mut b = [0u8; 8];
        crypto.fill_random(&mut b)?;
        let v = u64::from_le_bytes(b);
        if v < zone {
            return Ok(v % n);
        }
    }
}

/// Shuffles `items` uniformly (Fisher–Yates over unbiased CSPRNG draws).
pub fn shuffle<T>(crypto: &dyn CryptoProvider, items: &mut [T]) -> Result<(), CryptoError> {
    for i in (1..items.len()).rev() {
        let j = below(crypto, i as u64 + 1)? as usize;
        items.swap(i, j);
    }
    Ok(())
}

fn years_near(
    crypto: &dyn CryptoProvider,
    year: i32,
    n: usize,
) -> Result<Vec<String>, CryptoError> {
    let mut pool: Vec<String> = (year - 8..=year + 8)
        .filter(|y| *y != year)
        .map(|y| y.to_string())
        .collect();
    shuffle(crypto, &mut pool)?;
    pool.truncate(n);
    Ok(pool)
}

fn amounts_near(
    crypto: &dyn CryptoProvider,
    cents: u64,
    n: usize,
) -> Result<Vec<String>, CryptoError> {
    let (low, span) = if cents < 200 {
        (100, 2_000)
    } else {
        (cents / 2, cents)
    };
    let mut out: Vec<u64> = Vec::with_capacity(n);
    while out.len() < n {
        let candidate = low + below(crypto, span)?;
        if candidate != cents && !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    Ok(out.into_iter().map(format_cents).collect())
}

fn pick_other(
    crypto: &dyn CryptoProvider,
    list: &[&str],
    value: &str,
    n: usize,
) -> Result<Vec<String>, CryptoError> {
    let mut pool: Vec<String> = list
        .iter()
        .filter(|v| !v.eq_ignore_ascii_case(value.trim()))
        .map(|v| (*v).to_owned())
        .collect();
    shuffle(crypto, &mut pool)?;
    pool.truncate(n);
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use provisio_crypto::AwsLcProvider;

    use super::*;

    fn build(fact: Fact, options: usize) -> Result<BankQuestion, FactError> {
        fact.to_question(&AwsLcProvider::new(), "kq_1".into(), options, 0)
    }

    #[test]
    fn every_kind_gives_distinct_options_with_the_answer_once() {
        let facts = [
            (
                Fact::BirthYear {
                    value: "1984".into(),
                },
                "1984",
            ),
            (
                Fact::AccountOpenYear {
                    value: "2001".into(),
                },
                "2001",
            ),
            (
                Fact::LastPaymentAmount {
                    value: "42.17".into(),
                },
                "42.17",
            ),
            (Fact::LastPaymentAmount { value: "7".into() }, "7.00"),
            (
                Fact::LastMerchant {
                    value: "Harbor Books".into(),
                },
                "Harbor Books",
            ),
            (
                Fact::BranchCity {
                    value: "Gotham".into(),
                },
                "Gotham",
            ),
            (
                Fact::Custom {
                    question: "Your first pet?".into(),
                    answer: "Rex".into(),
                    distractors: vec![
                        "Tom".into(),
                        "Kit".into(),
                        "Bo".into(),
                        "Max".into(),
                        "Ace".into(),
                    ],
                },
                "Rex",
            ),
        ];
        for options in [4, 6] {
            for (fact, answer) in &facts {
                let built = build(fact.clone(), options).unwrap();
                built.question.check(4).unwrap();
                assert_eq!(built.question.options.len(), options);
                let right: Vec<_> = built
                    .question
                    .options
                    .iter()
                    .filter(|o| o.text == *answer)
                    .collect();
                assert_eq!(right.len(), 1, "{fact:?}");
                assert_eq!(right[0].id, built.correct_option);
            }
        }
    }

    #[test]
    fn the_answer_moves_between_positions() {
        let positions: std::collections::HashSet<_> = (0..64)
            .map(|_| {
                build(
                    Fact::BirthYear {
                        value: "1990".into(),
                    },
                    4,
                )
                .unwrap()
                .correct_option
            })
            .collect();
        assert_eq!(positions.len(), 4, "answer always at {positions:?}");
    }

    #[test]
    fn malformed_facts_name_their_position() {
        let bad = [
            Fact::BirthYear { value: "84".into() },
            Fact::BirthYear {
                value: "1800".into(),
            },
            Fact::LastPaymentAmount {
                value: "4.2".into(),
            },
            Fact::LastPaymentAmount { value: "-1".into() },
            Fact::LastMerchant { value: " ".into() },
            Fact::Custom {
                question: "Q?".into(),
                answer: "a".into(),
                distractors: vec!["b".into(), "c".into()],
            },
            Fact::Custom {
                question: "Q?".into(),
                answer: "a".into(),
                distractors: vec!["b".into(), "A".into(), "c".into()],
            },
        ];
        for fact in bad {
            let err = fact.to_question(&AwsLcProvider::new(), "q".into(), 4, 7);
            assert!(
                matches!(err, Err(FactError::Invalid { index: 7, .. })),
                "{fact:?}"
            );
        }
    }
}
