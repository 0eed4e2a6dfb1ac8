//! Risk policy as data: weighted rules, thresholds, merge settings and per-issuer overrides,
//! read from TOML and checked whole before it is used.
//!
//! ```toml
//! version = "2026-11-23.1"
//! base_level = 0
//! [thresholds]
//! step_up_from = 40          # approve below, step up from here
//! decline_from = 80          # decline from here
//! [merge]
//! trusted_push_credit = 20   # lowered on the issuer-app path unless non_override
//! missing_wallet_level = 20  # stand-in floor when the wallet sent no risk
//! unassessable_wallet_level = 45
//! [[rule]]
//! code = "card_velocity_1h"
//! text = "Three or more attempts for this card within an hour."
//! signal = "card_attempts_1h"
//! at_least = 3
//! weight = 30                # or: floor = 99 (the service level is at least this)
//! [issuers.demo-bank]
//! thresholds = { step_up_from = 50, decline_from = 85 }
//! weights = { card_velocity_1h = 40 }
//! disabled = ["new_wallet_account"]
//! ```
//!
//! The checks keep every policy monotone: a rule on a risk signal may only raise the level
//! (non-negative weight, or a floor), a rule on an allow list may only lower it, so raising a
//! risk signal can never lower the final level.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use toml::Spanned;

use crate::Thresholds;
use crate::signals::{COUNT_CAP, Signal, SignalKind};

/// The policy compiled in, used when no policy file is configured.
pub const DEFAULT_POLICY: &str = include_str!("default_policy.toml");

/// A policy that passed every check.
#[derive(Debug, Clone)]
pub struct Policy {
    version: String,
    default: Profile,
    issuers: HashMap<String, Profile>,
}

/// The policy as it applies to one issuer.
#[derive(Debug, Clone)]
pub struct Profile {
    pub(crate) version: String,
    pub(crate) base_level: u8,
    pub(crate) thresholds: Thresholds,
    pub(crate) merge: MergeSettings,
    pub(crate) rules: Vec<Rule>,
}

/// How the merge treats the trusted path and a missing or unassessable wallet risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeSettings {
    /// Subtracted from the weighted service level on the trusted issuer-app push path when the
    /// wallet did not set non-override (the issuer already authenticated the cardholder).
    /// Never goes below a rule's floor.
    pub trusted_push_credit: u8,
    /// The lowest final level when the wallet sent no risk.
    pub missing_wallet_level: u8,
    /// The lowest final level when the wallet could not assess.
    pub unassessable_wallet_level: u8,
}

/// One weighted rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable machine code.
    pub code: String,
    /// Sentence for people.
    pub text: String,
    /// What it tests.
    pub signal: Signal,
    /// `at_least` for counts, `below` for ages; unused for flags.
    pub threshold: u32,
    /// What it does when it fires.
    pub effect: Effect,
}

/// What a fired rule does to the service level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Adds to the weighted level (negative only for allow lists).
    Weight(i32),
    /// The service level is at least this, whatever the credits.
    Floor(u8),
}

/// Why a policy was refused: the line and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct PolicyError {
    /// 1-based line of the offending item.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Spanned<String>,
    #[serde(default)]
    base_level: Option<Spanned<i64>>,
    #[serde(default)]
    thresholds: Option<Spanned<RawThresholds>>,
    #[serde(default)]
    merge: Option<Spanned<RawMerge>>,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RawRule>>,
    #[serde(default)]
    issuers: HashMap<String, Spanned<RawIssuer>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    step_up_from: i64,
    decline_from: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMerge {
    trusted_push_credit: Option<i64>,
    missing_wallet_level: Option<i64>,
    unassessable_wallet_level: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    code: String,
    text: String,
    signal: String,
    at_least: Option<i64>,
    below: Option<i64>,
    weight: Option<i64>,
    floor: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    thresholds: Option<RawThresholds>,
    #[serde(default)]
    weights: HashMap<String, i64>,
    #[serde(default)]
    disabled: Vec<String>,
    trusted_push_credit: Option<i64>,
}

/// Turns byte offsets into line numbers.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn at(&self, offset: usize) -> usize {
        self.0
            .as_bytes()
            .iter()
            .take(offset)
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        message: impl fmt::Display,
    ) -> Result<T, PolicyError> {
        Err(PolicyError {
            line: self.at(span.start),
            message: message.to_string(),
        })
    }
}

fn level(
    lines: &Lines<'_>,
    span: std::ops::Range<usize>,
    name: &str,
    v: i64,
) -> Result<u8, PolicyError> {
    match u8::try_from(v) {
        Ok(l) if l <= 99 => Ok(l),
        _ => lines.err(span, format_args!("{name} must be 0 to 99, not {v}")),
    }
}

fn thresholds(t: RawThresholds) -> Result<Thresholds, String> {
    let ok = 1 <= t.step_up_from && t.step_up_from <= t.decline_from && t.decline_from <= 100;
    if !ok {
        return Err(format!(
            "thresholds need 1 <= step_up_from <= decline_from <= 100 (100: never decline), not {} and {}",
            t.step_up_from, t.decline_from
        ));
    }
    // In range by the check above.
    Ok(Thresholds {
        step_up_from: u8::try_from(t.step_up_from).unwrap_or(100),
        decline_from: u8::try_from(t.decline_from).unwrap_or(100),
    })
}

/// Checks that a weight's sign suits the signal, so the policy stays monotone.
fn weight_for(signal: Signal, w: i64) -> Result<i32, String> {
    if !(-99..=99).contains(&w) {
        return Err(format!("weight must be -99 to 99, not {w}"));
    }
    match signal.kind() {
        SignalKind::MitigatingFlag if w > 0 => Err(format!(
            "{} lowers risk: its weight must be 0 or negative, not {w}",
            signal.name()
        )),
        SignalKind::MitigatingFlag => Ok(w as i32),
        _ if w < 0 => Err(format!(
            "{} is a risk signal: a negative weight would let more risk lower the level",
            signal.name()
        )),
        _ => Ok(w as i32),
    }
}

impl Policy {
    /// Parses and checks a TOML policy. Every problem is reported with its line.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let lines = Lines(text);
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError {
            line: e.span().map_or(1, |s| lines.at(s.start)),
            message: e.message().to_owned(),
        })?;
        let version = raw.version.get_ref().trim().to_owned();
        if version.is_empty() {
            return lines.err(raw.version.span(), "version must not be empty");
        }
        let base_level = match &raw.base_level {
            Some(b) => level(&lines, b.span(), "base_level", *b.get_ref())?,
            None => 0,
        };
        let thresholds = match &raw.thresholds {
            Some(t) => thresholds(*t.get_ref()).or_else(|m| lines.err(t.span(), m))?,
            None => Thresholds::default(),
        };
        let mut merge = MergeSettings {
            trusted_push_credit: 20,
            missing_wallet_level: 20,
            unassessable_wallet_level: 45,
        };
        if let Some(m) = &raw.merge {
            let (span, m) = (m.span(), m.get_ref());
            if let Some(v) = m.trusted_push_credit {
                merge.trusted_push_credit = level(&lines, span.clone(), "trusted_push_credit", v)?;
            }
            if let Some(v) = m.missing_wallet_level {
                merge.missing_wallet_level =
                    level(&lines, span.clone(), "missing_wallet_level", v)?;
            }
            if let Some(v) = m.unassessable_wallet_level {
                merge.unassessable_wallet_level =
                    level(&lines, span, "unassessable_wallet_level", v)?;
            }
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
        for r in &raw.rules {
            let rule = compile_rule(r.get_ref()).or_else(|m| lines.err(r.span(), m))?;
            if rules.iter().any(|x| x.code == rule.code) {
                return lines.err(
                    r.span(),
                    format_args!("rule code {:?} is used twice", rule.code),
                );
            }
            rules.push(rule);
        }
        let default = Profile {
            version: version.clone(),
            base_level,
            thresholds,
            merge,
            rules,
        };
        let mut issuers = HashMap::new();
        for (id, o) in &raw.issuers {
            let profile = override_profile(&default, o.get_ref())
                .or_else(|m| lines.err(o.span(), format_args!("issuers.{id}: {m}")))?;
            issuers.insert(id.clone(), profile);
        }
        Ok(Self {
            version,
            default,
            issuers,
        })
    }

    /// The compiled-in default policy.
    pub fn builtin() -> Self {
        // The default policy is a constant checked by the `builtin_policy_is_valid` test.
        #[allow(clippy::expect_used)]
        Self::from_toml(DEFAULT_POLICY).expect("the built-in policy is valid")
    }

    /// The policy's version string.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The policy as it applies to `issuer_id` (its overrides, or the defaults).
    pub fn profile(&self, issuer_id: &str) -> &Profile {
        self.issuers.get(issuer_id).unwrap_or(&self.default)
    }

    /// The rules of the default profile.
    pub fn rules(&self) -> &[Rule] {
        &self.default.rules
    }
}

impl Profile {
    /// The thresholds that apply.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }
}

fn compile_rule(r: &RawRule) -> Result<Rule, String> {
    let valid_code = !r.code.is_empty()
        && r.code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_code {
        return Err(format!("rule code {:?} must be lower_snake_case", r.code));
    }
    if r.text.trim().is_empty() {
        return Err(format!("rule {}: text must say why in a sentence", r.code));
    }
    let signal = Signal::parse(&r.signal).ok_or_else(|| {
        let known: Vec<&str> = Signal::ALL.iter().map(|s| s.name()).collect();
        format!(
            "rule {}: unknown signal {:?} (known: {})",
            r.code,
            r.signal,
            known.join(", ")
        )
    })?;
    let positive = |name: &str, v: Option<i64>| match v {
        Some(v) if v >= 1 && v <= i64::from(u32::MAX) => Ok(v as u32),
        Some(v) => Err(format!(
            "rule {}: {name} must be at least 1, not {v}",
            r.code
        )),
        None => Err(format!(
            "rule {}: {} needs {name} = N",
            r.code,
            signal.name()
        )),
    };
    let threshold = match signal.kind() {
        SignalKind::RiskCount if r.below.is_none() => {
            let at_least = positive("at_least", r.at_least)?;
            if at_least > COUNT_CAP {
                return Err(format!(
                    "rule {}: at_least must be at most {COUNT_CAP}, not {at_least} (counts read \
                     at most {COUNT_CAP})",
                    r.code
                ));
            }
            at_least
        }
        SignalKind::RiskAge if r.at_least.is_none() => positive("below", r.below)?,
        SignalKind::RiskFlag | SignalKind::MitigatingFlag
            if r.at_least.is_none() && r.below.is_none() =>
        {
            1
        }
        SignalKind::RiskCount => {
            return Err(format!(
                "rule {}: {} takes at_least, not below (more is riskier)",
                r.code,
                signal.name()
            ));
        }
        SignalKind::RiskAge => {
            return Err(format!(
                "rule {}: {} takes below, not at_least (younger is riskier)",
                r.code,
                signal.name()
            ));
        }
        _ => {
            return Err(format!(
                "rule {}: {} is a flag and takes no at_least or below",
                r.code,
                signal.name()
            ));
        }
    };
    let effect = match (r.weight, r.floor) {
        (Some(w), None) => {
            Effect::Weight(weight_for(signal, w).map_err(|m| format!("rule {}: {m}", r.code))?)
        }
        (None, Some(_)) if signal.kind() == SignalKind::MitigatingFlag => {
            return Err(format!(
                "rule {}: an allow-list signal cannot set a floor",
                r.code
            ));
        }
        (None, Some(f)) => match u8::try_from(f) {
            Ok(f) if f <= 99 => Effect::Floor(f),
            _ => return Err(format!("rule {}: floor must be 0 to 99, not {f}", r.code)),
        },
        _ => {
            return Err(format!(
                "rule {}: give exactly one of weight or floor",
                r.code
            ));
        }
    };
    Ok(Rule {
        code: r.code.clone(),
        text: r.text.trim().to_owned(),
        signal,
        threshold,
        effect,
    })
}

fn override_profile(default: &Profile, o: &RawIssuer) -> Result<Profile, String> {
    let mut p = default.clone();
    if let Some(t) = o.thresholds {
        p.thresholds = thresholds(t)?;
    }
    if let Some(c) = o.trusted_push_credit {
        p.merge.trusted_push_credit = u8::try_from(c)
            .ok()
            .filter(|c| *c <= 99)
            .ok_or_else(|| format!("trusted_push_credit must be 0 to 99, not {c}"))?;
    }
    for code in &o.disabled {
        if !default.rules.iter().any(|r| &r.code == code) {
            return Err(format!("disabled names no rule: {code:?}"));
        }
    }
    p.rules.retain(|r| !o.disabled.contains(&r.code));
    for (code, w) in &o.weights {
        let rule = p
            .rules
            .iter_mut()
            .find(|r| &r.code == code)
            .ok_or_else(|| format!("weights names no enabled rule: {code:?}"))?;
        if matches!(rule.effect, Effect::Floor(_)) {
            return Err(format!(
                "weights.{code}: the rule sets a floor, not a weight"
            ));
        }
        rule.effect = Effect::Weight(
            weight_for(rule.signal, *w).map_err(|m| format!("weights.{code}: {m}"))?,
        );
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> PolicyError {
        Policy::from_toml(text)
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{text}"))
    }

    #[test]
    fn builtin_policy_is_valid() {
        let p = Policy::builtin();
        assert!(!p.rules().is_empty());
        assert!(!p.version().is_empty());
    }

    #[test]
    fn a_count_cannot_be_tested_beyond_what_the_store_counts() {
        let rule = |n: u32| {
            format!(
                "version = \"1\"\n[[rule]]\ncode = \"x\"\ntext = \"t\"\nsignal = \"device_attempts_24h\"\nat_least = {n}\nweight = 5\n"
            )
        };
        assert!(Policy::from_toml(&rule(COUNT_CAP)).is_ok());
        let e = refused(&rule(COUNT_CAP + 1));
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("at most 100"), "{e}");
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let e = refused(
            "version = \"1\"\n\n[[rule]]\ncode = \"x\"\ntext = \"t\"\nsignal = \"card_attempts_1h\"\nat_least = 2\nweight = -5\n",
        );
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("negative weight"), "{e}");

        let e = refused(
            "version = \"1\"\n[[rule]]\ncode = \"x\"\ntext = \"t\"\nsignal = \"moon_phase\"\nweight = 5\n",
        );
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown signal"), "{e}");

        let e = refused("version = \"1\"\n[thresholds]\nstep_up_from = 80\ndecline_from = 40\n");
        assert_eq!(e.line, 2);

        let e = refused("version = \"1\"\nbase_level = 5\nbogus = 1\n");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("bogus"), "{e}");

        let e = refused(
            "version = \"1\"\n[[rule]]\ncode = \"a\"\n  text = \"t\"\nsignal = \"device_allowed\"\nweight = 10\n",
        );
        assert!(e.message.contains("must be 0 or negative"), "{e}");

        let e = refused(
            "version = \"1\"\n[[rule]]\ncode = \"a\"\ntext = \"t\"\nsignal = \"account_age_days\"\nat_least = 3\nweight = 10\n",
        );
        assert!(e.message.contains("takes below"), "{e}");

        let e = refused(
            "version = \"1\"\n[[rule]]\ncode = \"a\"\ntext = \"t\"\nsignal = \"pan_blocked\"\nweight = 10\nfloor = 90\n",
        );
        assert!(e.message.contains("exactly one"), "{e}");

        let e = refused("version = \"1\"\n[issuers.bank]\ndisabled = [\"nope\"]\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("issuers.bank"), "{e}");

        let e = refused("version = \"\"\n");
        assert!(e.message.contains("version"), "{e}");

        let e = refused(
            "version = \"1\"\n[[rule]]\ncode = \"a\"\ntext = \"t\"\nsignal = \"pan_blocked\"\nfloor = 9\n[[rule]]\ncode = \"a\"\ntext = \"t\"\nsignal = \"bin_blocked\"\nfloor = 9\n",
        );
        assert_eq!(e.line, 7);
        assert!(e.message.contains("twice"), "{e}");

        let e = refused("version = 1\n");
        assert_eq!(e.line, 1);
    }

    #[test]
    fn issuer_overrides_apply_only_to_that_issuer() {
        let p = Policy::from_toml(
            "version = \"v\"\n[[rule]]\ncode = \"a\"\ntext = \"t\"\nsignal = \"device_tokens\"\nat_least = 2\nweight = 10\n[issuers.bank]\nthresholds = { step_up_from = 50, decline_from = 90 }\nweights = { a = 30 }\ntrusted_push_credit = 0\n",
        )
        .unwrap();
        let bank = p.profile("bank");
        assert_eq!(bank.thresholds.step_up_from, 50);
        assert_eq!(bank.rules[0].effect, Effect::Weight(30));
        assert_eq!(bank.merge.trusted_push_credit, 0);
        let other = p.profile("other");
        assert_eq!(other.thresholds, Thresholds::default());
        assert_eq!(other.rules[0].effect, Effect::Weight(10));
    }
}
