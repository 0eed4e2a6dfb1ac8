//! The demo's hosted-account wallet (US 10,699,267): a fresh phone installs the signed wallet
//! module, creates its account, answers the knowledge-based questions, and only then receives
//! a card; a user who fails every attempt is locked and refused.

use anyhow::Context;
use provisio_accounts::Fact;
use provisio_accounts::wire::{AccountUser, Enrolment, KbaAnswer, KbaResult, KbaStep};
use provisio_tsp::wire::{Decision, WalletRiskInfo};

use super::{DEMO_HOSTED_TRID, DEMO_ISSUER, Demo, Phone};

/// What the issuer knows about customer `n`, and so does the user.
fn enrolment(n: u32) -> Enrolment {
    let v = |s: &str| s.to_owned();
    Enrolment {
        customer_ref: format!("demo-customer-{n}"),
        name: v("Ada Lovelace"),
        phone: format!("+1555010{n:04}"),
        email: format!("cardholder{n}@example.com"),
        customer_since: Some(1_262_304_000),
        facts: vec![
            Fact::LastPaymentAmount { value: v("42.17") },
            Fact::LastMerchant {
                value: v("Harbor Books"),
            },
            Fact::BranchCity {
                value: v("Riverton"),
            },
            Fact::BirthYear { value: v("1984") },
            Fact::AccountOpenYear { value: v("2009") },
            Fact::Custom {
                question: v("Which card did you last order from us?"),
                answer: v("Demo Gold"),
                distractors: vec![
                    v("Demo Classic"),
                    v("Demo Platinum"),
                    v("Demo Student"),
                    v("Demo Business"),
                ],
            },
            Fact::Custom {
                question: v("How many cards do you hold with us?"),
                answer: v("2"),
                distractors: vec![v("1"), v("3"), v("4"), v("5")],
            },
            Fact::Custom {
                question: v("Which alert channel did you choose?"),
                answer: v("SMS"),
                distractors: vec![v("E-mail"), v("Push"), v("Letter"), v("None")],
            },
            Fact::Custom {
                question: v("What is your statement day?"),
                answer: v("15th"),
                distractors: vec![v("1st"), v("5th"), v("20th"), v("28th")],
            },
            Fact::Custom {
                question: v("What overdraft limit did you choose?"),
                answer: v("500"),
                distractors: vec![v("0"), v("250"), v("750"), v("1000")],
            },
            Fact::Custom {
                question: v("What did you name your savings pot?"),
                answer: v("Holiday fund"),
                distractors: vec![v("Rainy day"), v("New car"), v("House"), v("Wedding")],
            },
            Fact::Custom {
                question: v("Which paper statements do you receive?"),
                answer: v("Quarterly"),
                distractors: vec![v("None"), v("Monthly"), v("Yearly"), v("Weekly")],
            },
        ],
    }
}

/// What the user remembers: the right option texts.
const KNOWN: &[&str] = &[
    "42.17",
    "Harbor Books",
    "Riverton",
    "1984",
    "2009",
    "Demo Gold",
    "2",
    "SMS",
    "15th",
    "500",
    "Holiday fund",
    "Quarterly",
];

impl Demo {
    /// Pre-install and account creation on a fresh hosted-wallet phone.
    async fn open_account(
        &self,
        phone: &mut Phone,
        n: u32,
        steps: &mut Vec<String>,
    ) -> anyhow::Result<String> {
        let enrolled = enrolment(n);
        super::capture::enrolment(&enrolled, KNOWN);
        let loaded = self.issuer_api.load_enrolment(&enrolled).await?;
        steps.push(format!(
            "issuer {DEMO_ISSUER} loads enrolment facts for {}: {} questions in the bank (answers kept as keyed hashes)",
            loaded.customer_ref, loaded.questions
        ));
        let manifest = phone.api.wallet_module().await?;
        // The SDK's pinned keys: in the demo, the JWKS fetched at setup.
        let module = phone
            .wallet
            .install_module(&self.crypto, &manifest, &self.jwks)?;
        steps.push(format!(
            "fresh phone: wallet SDK verifies the module manifest (ES256, pinned key) and installs module {} (needs SDK {}+)",
            module.module_version, module.min_sdk_version
        ));
        let user = AccountUser {
            name: "Ada Lovelace".into(),
            phone: format!("+1555010{n:04}"),
            email: format!("cardholder{n}@example.com"),
            customer_ref: format!("demo-customer-{n}"),
        };
        let request =
            phone
                .wallet
                .account_request(DEMO_ISSUER, user, "Pixel 9", "Android 16", Some(5))?;
        let account = phone.api.create_wallet_account(&request).await?;
        steps.push(format!(
            "account {} created {}, security level {}: {} questions per attempt, {} attempts, {} s per question",
            account.account_id,
            account.state,
            account.security_level.as_str(),
            account.kba.questions_per_attempt,
            account.kba.max_attempts,
            account.kba.question_time_limit_s
        ));
        Ok(account.account_id)
    }

    /// One attempt; the user answers wrong at the positions in `wrong_at` (1-based).
    async fn kba_attempt(
        &self,
        phone: &Phone,
        account_id: &str,
        wrong_at: &[u32],
        steps: &mut Vec<String>,
    ) -> anyhow::Result<KbaStep> {
        let mut step = phone.api.kba_question(account_id).await?;
        let mut asked = Vec::new();
        while let Some(q) = step.question.clone() {
            let wrong = wrong_at.contains(&q.position);
            let option = q
                .options
                .iter()
                .find(|o| KNOWN.contains(&o.text.as_str()) != wrong)
                .context("no option to choose")?;
            asked.push(format!(
                "\"{}\" → {}",
                q.text,
                if wrong { "wrong" } else { "right" }
            ));
            step = phone
                .api
                .kba_answer(
                    account_id,
                    &KbaAnswer {
                        question_id: q.id,
                        option_id: option.id.clone(),
                    },
                )
                .await?;
        }
        steps.push(format!(
            "attempt: {}; service answers {:?}{} (attempts used {}/{})",
            asked.join(", "),
            step.result,
            step.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            step.attempts_used,
            step.max_attempts
        ));
        Ok(step)
    }
}

pub(super) async fn activate_then_push(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone_of(911, DEMO_HOSTED_TRID, &d.hosted_api)?;
    let id = d.open_account(&mut phone, 911, &mut steps).await?;
    let req = d.request(&d.issuer_app, &phone, &mut steps, |_| {}, None)?;
    d.expect_refusal(
        phone.api.push_provisioning(&req, None).await,
        "account_not_active",
        &mut steps,
    )?;
    let failed = d.kba_attempt(&phone, &id, &[2], &mut steps).await?;
    anyhow::ensure!(
        failed.result == KbaResult::AttemptFailed,
        "expected a failed attempt"
    );
    let passed = d.kba_attempt(&phone, &id, &[], &mut steps).await?;
    anyhow::ensure!(passed.result == KbaResult::Activated, "expected activation");
    let r = d
        .push(
            &phone,
            Some(WalletRiskInfo::level(10, false)),
            Decision::Approved,
            &mut steps,
        )
        .await?;
    d.install_approved(&mut phone, &r, &mut steps).await?;
    Ok(steps)
}

pub(super) async fn locked_refused(d: &Demo) -> anyhow::Result<Vec<String>> {
    let mut steps = Vec::new();
    let mut phone = d.phone_of(912, DEMO_HOSTED_TRID, &d.hosted_api)?;
    let id = d.open_account(&mut phone, 912, &mut steps).await?;
    for _ in 0..3 {
        let step = d.kba_attempt(&phone, &id, &[1, 3], &mut steps).await?;
        if step.result == KbaResult::Locked {
            break;
        }
    }
    let account = phone.api.wallet_account(&id).await?;
    anyhow::ensure!(
        account.state == provisio_accounts::AccountState::Locked,
        "expected LOCKED, got {:?}",
        account.state
    );
    steps.push(format!("account {id} is {}", account.state));
    let req = d.request(&d.issuer_app, &phone, &mut steps, |_| {}, None)?;
    d.expect_refusal(
        phone.api.push_provisioning(&req, None).await,
        "account_not_active",
        &mut steps,
    )?;
    Ok(steps)
}
