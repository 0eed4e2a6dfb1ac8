//! A stored account and the steps that need nothing but it (docs/protocol.md §8.5, §8.8,
//! §9.3): what the wallet is shown, the opt-out, the issuer's verification and the expiry.
//! Each step returns a [`Decided`]: the change to commit under the account's version and the
//! answer, so the handler commits once and answers.

use provisio_types::UnixSeconds;

use crate::wire::{KbaView, OptedOut, SourceKind, VerificationMethod, WalletAccountView};
use crate::{AccountProgress, AccountState, AccountsConfig, KbaChange, KbaError};

/// A stored account with its verification progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// The wallet provider.
    pub token_requestor_id: String,
    /// Its user.
    pub wallet_user_id: String,
    /// The card issuer.
    pub issuer_id: String,
    /// The issuer's customer reference.
    pub customer_ref: String,
    /// The device.
    pub device_id: String,
    /// Name, phone and e-mail, sealed.
    pub user_sealed: Vec<u8>,
    /// The question source at creation.
    pub kba_source: SourceKind,
    /// Unix seconds.
    pub created_at: UnixSeconds,
    /// When it became active.
    pub activated_at: Option<UnixSeconds>,
    /// The reason of its last recorded transition (`created`, `kba_wrong_answers`, ...).
    pub state_reason: String,
    /// State, level, attempts and the open attempt.
    pub progress: AccountProgress,
}

/// What a step decided: commit `change` (if any) under the account's version, then answer
/// `answer`. A change that loses the race to a concurrent one is 409 `account_conflict`, except
/// under a refusal: only an expiry is committed and refused (410 `account_expired`), and a
/// concurrent request that recorded the expiry first leaves the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided<T> {
    /// What to commit.
    pub change: Option<KbaChange>,
    /// What to answer.
    pub answer: Result<T, KbaError>,
}

impl AccountRecord {
    /// The account as the wallet sees it.
    pub fn view(&self, config: &AccountsConfig) -> WalletAccountView {
        self.view_after(config, None)
    }

    /// The user opts out of knowledge-based verification: it ends for good without counting
    /// as a failure, and the account waits for the issuer (NIST SP 800-63A 5.3.2 requires the
    /// choice).
    pub fn opt_out(&self, now: UnixSeconds) -> Decided<OptedOut> {
        match self.progress.opt_out(now) {
            Ok(change) => Decided {
                answer: Ok(OptedOut {
                    state: AccountState::PendingActivation,
                    kba_status: change.kba.as_str().into(),
                    alternatives: vec!["ISSUER_VERIFICATION".into()],
                }),
                change: Some(change),
            },
            Err(KbaError::Expired) => self.expired(now),
            Err(e) => Decided::refused(e),
        }
    }

    /// The issuer verified the user another way and activates the pending account; the
    /// answer is the account as the change leaves it.
    pub fn issuer_verified(
        &self,
        config: &AccountsConfig,
        method: VerificationMethod,
        now: UnixSeconds,
    ) -> Decided<WalletAccountView> {
        match self.progress.issuer_verified(method.as_str(), now) {
            Ok(change) => Decided {
                answer: Ok(self.view_after(config, Some(&change))),
                change: Some(change),
            },
            Err(KbaError::Expired) => self.expired(now),
            Err(e) => Decided::refused(e),
        }
    }

    /// A pending account past its time: recorded `EXPIRED` (docs/protocol.md §8.2), and the
    /// step refused with 410 `account_expired`.
    pub(crate) fn expired<T>(&self, now: UnixSeconds) -> Decided<T> {
        Decided {
            change: self.progress.expire(now).ok(),
            answer: Err(KbaError::Expired),
        }
    }

    /// The account as `change` (if any) leaves it, the way the store records it.
    fn view_after(&self, config: &AccountsConfig, change: Option<&KbaChange>) -> WalletAccountView {
        let p = &self.progress;
        let transition = change.and_then(|c| c.transition.as_ref());
        WalletAccountView {
            account_id: p.account_id.clone(),
            wallet_user_id: self.wallet_user_id.clone(),
            issuer_id: self.issuer_id.clone(),
            device_id: self.device_id.clone(),
            state: transition.map_or(p.state, |t| t.to),
            state_reason: transition
                .map_or_else(|| self.state_reason.clone(), |t| t.reason.clone()),
            security_level: p.level,
            kba: KbaView {
                status: change.map_or(p.kba, |c| c.kba).as_str().into(),
                source: self.kba_source,
                questions_per_attempt: config.questions_for(p.level),
                attempts_used: change.map_or(p.attempts_used, |c| c.attempts_used),
                max_attempts: config.max_attempts,
                question_time_limit_s: config.question_time_limit_s,
            },
            created_at: self.created_at,
            expires_at: p.expires_at,
            activated_at: transition
                .filter(|t| t.to == AccountState::Active)
                .map(|t| t.at)
                .or(self.activated_at),
        }
    }
}

impl<T> Decided<T> {
    /// Nothing to commit; refuse with `error`.
    pub(crate) fn refused(error: KbaError) -> Self {
        Self {
            change: None,
            answer: Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Channel, KbaStatus, SecurityLevel};

    const T0: i64 = 1_000_000;

    fn pending() -> AccountRecord {
        AccountRecord {
            token_requestor_id: "40010099999".into(),
            wallet_user_id: "user-1".into(),
            issuer_id: "bank-a".into(),
            customer_ref: "cust-1".into(),
            device_id: "device-1".into(),
            user_sealed: vec![],
            kba_source: SourceKind::Bank,
            created_at: T0,
            activated_at: None,
            state_reason: "created".into(),
            progress: AccountProgress {
                account_id: "wa_1".into(),
                state: AccountState::PendingActivation,
                level: SecurityLevel::Medium,
                kba: KbaStatus::OptedOut,
                attempts_used: 1,
                expires_at: T0 + 100,
                version: 3,
                attempt: None,
            },
        }
    }

    #[test]
    fn the_issuers_verification_answers_the_account_as_committed() {
        let account = pending();
        let config = AccountsConfig::default();
        let before = account.view(&config);
        assert_eq!(
            (
                before.state,
                before.state_reason.as_str(),
                before.kba.status.as_str()
            ),
            (AccountState::PendingActivation, "created", "OPTED_OUT")
        );
        assert_eq!(before.kba.questions_per_attempt, 5);

        let decided = account.issuer_verified(&config, VerificationMethod::Branch, T0 + 5);
        let change = decided.change.unwrap();
        assert_eq!(change.version, 3);
        let t = change.transition.unwrap();
        assert_eq!((t.to, t.channel), (AccountState::Active, Channel::Issuer));
        let after = decided.answer.unwrap();
        assert_eq!(
            (after.state, after.state_reason.as_str(), after.activated_at),
            (AccountState::Active, "issuer_verified:BRANCH", Some(T0 + 5))
        );
        assert_eq!(
            (after.kba.status.as_str(), after.kba.attempts_used),
            ("OPTED_OUT", 1)
        );
    }

    #[test]
    fn a_step_on_an_expired_account_records_the_expiry_and_refuses() {
        let mut account = pending();
        account.progress.kba = KbaStatus::InProgress;
        let late = account.progress.expires_at;
        let decided = account.opt_out(late);
        assert_eq!(decided.answer.unwrap_err(), KbaError::Expired);
        let t = decided.change.unwrap().transition.unwrap();
        assert_eq!(
            (t.to, t.reason.as_str()),
            (AccountState::Expired, "pending_expired")
        );

        let decided = account.opt_out(late - 1);
        assert_eq!(decided.answer.unwrap().kba_status, "OPTED_OUT");

        account.progress.state = AccountState::Locked;
        let decided =
            account.issuer_verified(&AccountsConfig::default(), VerificationMethod::Branch, T0);
        assert_eq!(decided.change, None);
        assert!(matches!(decided.answer, Err(KbaError::Illegal(_))));
    }
}
