//! The merge rules of US 10,140,615, shown branch by branch, and the two properties every
//! policy must keep: the non-override floor and monotonicity.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use provisio_risk::{
    IssuerDecision, IssuerVerdict, MergeRule, MergeSettings, Outcome, Policy, ServiceAssessment,
    Signal, SignalKind, Signals, Thresholds, WalletInput, WalletRisk, Way, decide, evaluate,
};

const MERGE: MergeSettings = MergeSettings {
    trusted_push_credit: 20,
    missing_wallet_level: 20,
    unassessable_wallet_level: 45,
};

fn wallet(level: u8, non_override: bool) -> WalletInput {
    WalletInput::Assessed(WalletRisk {
        level,
        non_override,
        reason_codes: vec![],
        device_score: None,
        account_score: None,
    })
}

/// The issuer-app path with the credit but without the step-up band's approval (an issuer
/// registered with `push_step_up`), so that the merge's own outcome shows; or the wallet path
/// without decisioning.
fn path(trusted: bool) -> Way {
    if trusted {
        Way::IssuerApp { step_up: true }
    } else {
        Way::Wallet { issuer: None }
    }
}

fn merged(w: &WalletInput, service: u8, trusted: bool) -> (u8, MergeRule, Outcome) {
    merged_on(w, service, &path(trusted))
}

fn merged_on(w: &WalletInput, service: u8, way: &Way) -> (u8, MergeRule, Outcome) {
    let d = decide(
        w,
        &ServiceAssessment::fixed(service),
        way,
        MERGE,
        Thresholds::default(),
    );
    (d.final_level, d.merge_rule, d.outcome)
}

fn issuer_said(decision: IssuerDecision, fallback: Option<&str>) -> Way {
    Way::Wallet {
        issuer: Some(IssuerVerdict {
            decision,
            fallback: fallback.map(str::to_owned),
            latency_ms: 12,
        }),
    }
}

/// Each branch, with values where `max()` everywhere or an ignored non-override would give a
/// different answer.
#[test]
fn every_branch_of_the_merge() {
    // Non-override, wallet lower than the service, service in the approve band: the service's
    // level is final and the credential still needs further authentication. Ignoring
    // non-override would approve (35 - 20 credit = 15).
    assert_eq!(
        merged(&wallet(10, true), 35, true),
        (35, MergeRule::NonOverrideServiceHigher, Outcome::StepUp)
    );
    // ... and in the decline band it is declined.
    assert_eq!(
        merged(&wallet(10, true), 85, true),
        (85, MergeRule::NonOverrideServiceHigher, Outcome::Decline)
    );
    // Non-override, wallet higher: the wallet's level is final, in the approve band provisioned.
    // Ignoring non-override would give the credited service level 0.
    assert_eq!(
        merged(&wallet(30, true), 10, true),
        (30, MergeRule::NonOverrideWalletFloor, Outcome::Approve)
    );
    assert_eq!(merged(&wallet(90, true), 10, true).2, Outcome::Decline);
    // At the crossing the final level rises while the outcome falls: below the service's level
    // the wallet's claim of lower risk triggers step-up; above it, the wallet's level stands.
    assert_eq!(merged(&wallet(34, true), 35, true).2, Outcome::StepUp);
    assert_eq!(
        merged(&wallet(36, true), 35, true),
        (36, MergeRule::NonOverrideWalletFloor, Outcome::Approve)
    );
    // No non-override: the service decides and may lower its level on the trusted path.
    // max() everywhere would decline (90).
    assert_eq!(
        merged(&wallet(90, false), 50, true),
        (30, MergeRule::ServiceLevel, Outcome::Approve)
    );
    // Off the trusted path there is no credit.
    assert_eq!(
        merged(&wallet(90, false), 50, false),
        (50, MergeRule::ServiceLevel, Outcome::StepUp)
    );
    // The credit never goes below a rule's floor.
    let floored = ServiceAssessment {
        weighted: 30,
        floor: 85,
        fired: vec![],
    };
    let d = decide(
        &wallet(0, false),
        &floored,
        &path(true),
        MERGE,
        Thresholds::default(),
    );
    assert_eq!((d.final_level, d.outcome), (85, Outcome::Decline));
    // Missing and unassessable are their own cases, never "low".
    assert_eq!(
        merged(&WalletInput::Missing, 0, true),
        (20, MergeRule::NoWalletRisk, Outcome::Approve)
    );
    let unassessable = WalletInput::Unassessable {
        reason_codes: vec!["attestation_failed".into()],
    };
    assert_eq!(
        merged(&unassessable, 0, true),
        (45, MergeRule::WalletRiskUnassessable, Outcome::StepUp)
    );
    let d = decide(
        &WalletInput::Missing,
        &ServiceAssessment::fixed(0),
        &path(true),
        MERGE,
        Thresholds::default(),
    );
    assert!(d.reasons.iter().any(|r| r.code == "wallet_risk_missing"));
    assert_eq!(d.wallet_level, None);
}

#[test]
fn the_default_policy_records_what_fired() {
    let policy = Policy::builtin();
    let signals = Signals {
        card_attempts_1h: 3,
        account_age_days: 0,
        ..Signals::default()
    };
    let d = evaluate(
        &policy,
        "any-bank",
        &wallet(10, true),
        &signals,
        &path(true),
    );
    let codes: Vec<&str> = d.fired.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["card_velocity_1h", "new_wallet_account"]);
    assert_eq!(d.service_level, 35);
    assert_eq!(d.merge_rule, MergeRule::NonOverrideServiceHigher);
    assert_eq!(d.outcome, Outcome::StepUp);
    assert_eq!(d.policy_version, policy.version());
    assert!(d.reasons.iter().all(|r| !r.text.is_empty()));

    let blocked = Signals {
        device_blocked: true,
        device_allowed: true,
        ..Signals::default()
    };
    let d = evaluate(
        &policy,
        "any-bank",
        &wallet(0, false),
        &blocked,
        &Way::default(),
    );
    assert_eq!((d.final_level, d.outcome), (99, Outcome::Decline));
}

/// US 10,243,958 claim 1, "without requiring the second application to perform a step-up
/// authentication process": a pushed request in the step-up band is approved, and the
/// decision says why; the decline band still declines; an issuer that opted out steps up.
#[test]
fn claim_958_provisioned_without_step_up() {
    let trusted = Way::IssuerApp { step_up: false };
    assert_eq!(
        merged_on(&wallet(10, true), 45, &trusted),
        (45, MergeRule::IssuerAppAuthenticated, Outcome::Approve)
    );
    // A non-override wallet level below the service's asks for "further authentication"
    // ('615); on this path the issuer's app gave it.
    assert_eq!(
        merged_on(&wallet(10, true), 35, &trusted),
        (35, MergeRule::IssuerAppAuthenticated, Outcome::Approve)
    );
    assert_eq!(
        merged_on(&wallet(10, true), 85, &trusted),
        (85, MergeRule::NonOverrideServiceHigher, Outcome::Decline)
    );
    assert_eq!(
        merged_on(&wallet(10, true), 45, &Way::IssuerApp { step_up: true }),
        (45, MergeRule::NonOverrideServiceHigher, Outcome::StepUp)
    );
    let d = decide(
        &wallet(50, true),
        &ServiceAssessment::fixed(10),
        &trusted,
        MERGE,
        Thresholds::default(),
    );
    assert!(
        d.reasons
            .iter()
            .any(|r| r.code == "issuer_app_authenticated")
    );
    assert_eq!(d.issuer, None);
}

/// US 10,140,615 claim 1 asks for the second level from "additional information ...
/// different than the first set of information": with non-override set, the wallet's own
/// level and scores are not service signals. The built-in policy scores them otherwise.
#[test]
fn claim_615_second_level_from_different_information() {
    let policy = Policy::builtin();
    let risky_wallet = |non_override| {
        WalletInput::Assessed(WalletRisk {
            level: 70,
            non_override,
            reason_codes: vec![],
            device_score: Some(90),
            account_score: Some(90),
        })
    };
    let way = Way::Wallet { issuer: None };
    let with = evaluate(
        &policy,
        "bank",
        &risky_wallet(true),
        &Signals::default(),
        &way,
    );
    let without = evaluate(
        &policy,
        "bank",
        &risky_wallet(false),
        &Signals::default(),
        &way,
    );
    let wallet_rules = |d: &provisio_risk::RiskDecision| {
        d.fired
            .iter()
            .filter(|f| f.code.starts_with("wallet_"))
            .count()
    };
    assert!(
        wallet_rules(&without) > 0,
        "the built-in policy scores the wallet's signals"
    );
    assert_eq!(wallet_rules(&with), 0);
    assert!(with.service_level < without.service_level);
}

/// The issuer's decisioning on the wallet path: decline declines even a low level, require
/// authentication steps up, approve leaves the levels to decide; the verdict is recorded.
#[test]
fn issuer_decisioning_is_part_of_the_second_level() {
    assert_eq!(
        merged_on(
            &wallet(5, false),
            5,
            &issuer_said(IssuerDecision::Decline, None)
        )
        .2,
        Outcome::Decline
    );
    assert_eq!(
        merged_on(
            &wallet(5, false),
            5,
            &issuer_said(IssuerDecision::RequireAuthentication, None)
        )
        .2,
        Outcome::StepUp
    );
    assert_eq!(
        merged_on(
            &wallet(5, false),
            5,
            &issuer_said(IssuerDecision::Approve, None)
        )
        .2,
        Outcome::Approve
    );
    assert_eq!(
        merged_on(
            &wallet(5, false),
            50,
            &issuer_said(IssuerDecision::Approve, None)
        )
        .2,
        Outcome::StepUp
    );
    let d = decide(
        &wallet(5, false),
        &ServiceAssessment::fixed(5),
        &issuer_said(IssuerDecision::RequireAuthentication, Some("timeout")),
        MERGE,
        Thresholds::default(),
    );
    assert_eq!(d.outcome, Outcome::StepUp);
    assert!(
        d.reasons
            .iter()
            .any(|r| r.code == "issuer_decision_unavailable")
    );
    assert_eq!(d.issuer.as_ref().map(|v| v.latency_ms), Some(12));
    // No credit off the issuer-app path.
    assert_eq!(
        merged_on(&wallet(5, false), 50, &Way::Wallet { issuer: None }).0,
        50
    );
}

/// A random valid policy: every signal gets a rule with a random threshold and a weight of the
/// sign its kind allows, or a floor.
fn policy_strategy() -> impl Strategy<Value = Policy> {
    let rules = proptest::collection::vec(
        (1u32..20, -99i32..=99, 0u8..100, any::<bool>()),
        Signal::ALL.len(),
    );
    (rules, 0u8..60, 1u8..=100, 0u8..100, 0u8..100, 0u8..100).prop_map(
        |(rules, base, step, credit, missing, unassessable)| {
            let decline = step.max(60);
            let step = step.min(decline);
            let mut text = format!(
                "version = \"prop\"\nbase_level = {base}\n[thresholds]\nstep_up_from = {step}\ndecline_from = {decline}\n[merge]\ntrusted_push_credit = {credit}\nmissing_wallet_level = {missing}\nunassessable_wallet_level = {unassessable}\n"
            );
            for (signal, (threshold, weight, floor, use_floor)) in Signal::ALL.iter().zip(rules) {
                text.push_str(&format!("[[rule]]\ncode = \"r_{}\"\ntext = \"rule\"\nsignal = \"{}\"\n", signal.name(), signal.name()));
                match signal.kind() {
                    SignalKind::RiskCount => text.push_str(&format!("at_least = {threshold}\n")),
                    SignalKind::RiskAge => text.push_str(&format!("below = {threshold}\n")),
                    _ => {}
                }
                match signal.kind() {
                    SignalKind::MitigatingFlag => text.push_str(&format!("weight = {}\n", -weight.abs())),
                    _ if use_floor => text.push_str(&format!("floor = {floor}\n")),
                    _ => text.push_str(&format!("weight = {}\n", weight.abs())),
                }
            }
            Policy::from_toml(&text).unwrap()
        },
    )
}

fn signals_strategy() -> impl Strategy<Value = Signals> {
    (
        proptest::collection::vec(0u32..25, 10),
        proptest::collection::vec(any::<bool>(), 6),
    )
        .prop_map(|(n, f)| Signals {
            card_attempts_1h: n[0],
            card_attempts_24h: n[1],
            device_attempts_1h: n[2],
            device_attempts_24h: n[3],
            user_attempts_24h: n[4],
            device_tokens: n[5],
            device_distinct_cards_24h: n[6],
            account_age_days: n[7],
            recent_declines: n[8],
            failed_step_ups: n[9],
            device_blocked: f[0],
            pan_blocked: f[1],
            bin_blocked: f[2],
            device_allowed: f[3],
            pan_allowed: f[4],
        })
}

fn way_strategy() -> impl Strategy<Value = Way> {
    let verdict = (
        prop_oneof![
            Just(IssuerDecision::Approve),
            Just(IssuerDecision::RequireAuthentication),
            Just(IssuerDecision::Decline)
        ],
        any::<bool>(),
    )
        .prop_map(|(decision, fallback)| IssuerVerdict {
            decision,
            fallback: fallback.then(|| "timeout".to_owned()),
            latency_ms: 1,
        });
    prop_oneof![
        any::<bool>().prop_map(|step_up| Way::IssuerApp { step_up }),
        proptest::option::of(verdict).prop_map(|issuer| Way::Wallet { issuer }),
    ]
}

fn wallet_strategy() -> impl Strategy<Value = WalletInput> {
    prop_oneof![
        Just(WalletInput::Missing),
        Just(WalletInput::Unassessable {
            reason_codes: vec![]
        }),
        (
            0u8..100,
            any::<bool>(),
            proptest::option::of(0u8..100),
            proptest::option::of(0u8..100)
        )
            .prop_map(|(level, non_override, device_score, account_score)| {
                WalletInput::Assessed(WalletRisk {
                    level,
                    non_override,
                    reason_codes: vec![],
                    device_score,
                    account_score,
                })
            }),
    ]
}

/// Raises one risk signal by `by` (for the age: makes the account younger; for allow lists
/// and the trusted path: removes them).
fn raise(
    s: &Signals,
    w: &WalletInput,
    way: &Way,
    which: usize,
    by: u32,
) -> (Signals, WalletInput, Way) {
    let mut s = s.clone();
    let mut w = w.clone();
    let mut way = way.clone();
    match which {
        0 => s.card_attempts_1h += by,
        1 => s.card_attempts_24h += by,
        2 => s.device_attempts_1h += by,
        3 => s.device_attempts_24h += by,
        4 => s.user_attempts_24h += by,
        5 => s.device_tokens += by,
        6 => s.device_distinct_cards_24h += by,
        7 => s.account_age_days = s.account_age_days.saturating_sub(by),
        8 => s.recent_declines += by,
        9 => s.failed_step_ups += by,
        10 => s.device_blocked = true,
        11 => s.pan_blocked = true,
        12 => s.bin_blocked = true,
        13 => s.device_allowed = false,
        14 => s.pan_allowed = false,
        15 => {
            if way.is_issuer_app() {
                way = Way::Wallet { issuer: None };
            }
        }
        _ => {
            if let WalletInput::Assessed(a) = &mut w {
                let add = |v: u8| u8::try_from((u32::from(v) + by).min(99)).unwrap();
                match which {
                    16 => a.level = add(a.level),
                    17 => a.device_score = a.device_score.map(add),
                    _ => a.account_score = a.account_score.map(add),
                }
            }
        }
    }
    (s, w, way)
}

proptest! {
    #[test]
    fn non_override_is_a_floor(policy in policy_strategy(), signals in signals_strategy(), level in 0u8..100, way in way_strategy()) {
        let d = evaluate(&policy, "bank", &wallet(level, true), &signals, &way);
        prop_assert!(d.final_level >= level);
        prop_assert!(d.final_level >= d.service_level);
        if level < d.service_level {
            // Not provisioned without further authentication: a step-up, or on the trusted
            // push the issuer app's own authentication (US 10,243,958).
            if way == (Way::IssuerApp { step_up: false }) {
                prop_assert!(d.outcome == Outcome::Decline || d.merge_rule == MergeRule::IssuerAppAuthenticated);
            } else {
                prop_assert!(d.outcome >= Outcome::StepUp, "not provisioned without further authentication");
            }
        }
    }

    #[test]
    fn raising_any_risk_signal_never_lowers_the_final_level(
        policy in prop_oneof![Just(Policy::builtin()), policy_strategy()],
        signals in signals_strategy(),
        w in wallet_strategy(),
        way in way_strategy(),
        which in 0usize..19,
        by in 1u32..30,
    ) {
        let before = evaluate(&policy, "bank", &w, &signals, &way);
        let (s2, w2, way2) = raise(&signals, &w, &way, which, by);
        let after = evaluate(&policy, "bank", &w2, &s2, &way2);
        prop_assert!(after.final_level >= before.final_level, "{} -> {}", before.final_level, after.final_level);
        // The outcome follows every service signal up. It does not follow the wallet's own
        // level (16): under non-override a wallet level just below the service's asks for
        // step-up, and one just above it is final and may approve, as the patent claims
        // (see `every_branch_of_the_merge`).
        if which != 16 {
            prop_assert!(after.outcome >= before.outcome);
        }
    }

    #[test]
    fn evaluation_is_a_pure_function(policy in policy_strategy(), signals in signals_strategy(), w in wallet_strategy(), way in way_strategy()) {
        prop_assert_eq!(evaluate(&policy, "bank", &w, &signals, &way), evaluate(&policy, "bank", &w, &signals, &way));
    }

    /// The issuer's decline declines and its "require authentication" is at least step-up,
    /// whatever the levels; its approval changes nothing the levels decided.
    #[test]
    fn the_issuers_decision_bounds_the_outcome(policy in policy_strategy(), signals in signals_strategy(), w in wallet_strategy()) {
        let plain = evaluate(&policy, "bank", &w, &signals, &Way::Wallet { issuer: None });
        for (decision, expect) in [
            (IssuerDecision::Decline, Outcome::Decline),
            (IssuerDecision::RequireAuthentication, plain.outcome.max(Outcome::StepUp)),
            (IssuerDecision::Approve, plain.outcome),
        ] {
            let d = evaluate(&policy, "bank", &w, &signals, &issuer_said(decision, None));
            prop_assert_eq!(d.outcome, expect);
            prop_assert_eq!(d.final_level, plain.final_level);
        }
    }
}
