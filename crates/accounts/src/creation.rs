//! `POST /v1/wallet-accounts` (docs/protocol.md §8.4): a mobile payment account for a wallet
//! user on a device, in the one-time `PENDING_ACTIVATION` state, with the security level
//! (§8.3) that sets how many questions each verification attempt asks.
//!
//! ```text
//!  body ──parse──► CreateRequest ── CreationFacts (one load) ──create──► Creation (one commit)
//! ```

use provisio_types::{DeviceId, WalletUserId};

use crate::records::{EnrolmentRecord, NewAccount, random_id};
use crate::state::{Channel, Transition};
use crate::wire::{AccountUser, CreateWalletAccount, KbaView, SourceKind, WalletAccountView};
use crate::{AccountContext, AccountState, KbaError, LevelDecision, LevelFacts};

/// A creation request whose members parsed.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The body as it arrived.
    pub body: CreateWalletAccount,
    /// `wallet_user_id`.
    pub wallet_user_id: WalletUserId,
    /// `device.device_id`.
    pub device_id: DeviceId,
}

/// What the store knew about the new account's issuer, device, user and customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreationFacts {
    /// `issuer_id` names a registered issuer.
    pub issuer_registered: bool,
    /// The issuer's question source, if one is set (the bank otherwise).
    pub source: Option<SourceKind>,
    /// The device is on the block list.
    pub device_blocklisted: bool,
    /// Other wallet users with live accounts on the device.
    pub other_users_on_device: u32,
    /// Locked accounts of this wallet user or issuer customer.
    pub prior_locked_accounts: u32,
    /// The issuer's enrolment of the customer.
    pub enrolment: Option<EnrolmentRecord>,
}

/// A created account: what to commit (the account and its first audit record) and answer.
#[derive(Debug, Clone)]
pub struct Creation {
    /// The account.
    pub account: NewAccount,
    /// Its `created` transition.
    pub created: Transition,
    /// The 201 answer.
    pub view: WalletAccountView,
    /// The level and the rules that led to it (logged, never told to the wallet).
    pub level: LevelDecision,
}

impl CreateRequest {
    /// Checks the members (400 `malformed_request` naming the first at fault).
    pub fn parse(body: CreateWalletAccount) -> Result<Self, KbaError> {
        let malformed = |e: provisio_types::IdError| KbaError::Malformed(e.to_string());
        let wallet_user_id = WalletUserId::parse(&body.wallet_user_id).map_err(malformed)?;
        let device_id = DeviceId::parse(&body.device.device_id).map_err(malformed)?;
        body.device
            .binding_jwk
            .public_key()
            .map_err(|e| KbaError::Malformed(format!("device.binding_jwk: {e}")))?;
        if body.device.risk_score.is_some_and(|s| s > 99) {
            return Err(KbaError::Malformed("device.risk_score is 0 to 99".into()));
        }
        let AccountUser {
            name,
            phone,
            email,
            customer_ref,
        } = &body.user;
        let fields = [
            ("device.model", body.device.model.as_str(), 100),
            ("device.os", body.device.os.as_str(), 100),
            ("user.name", name.as_str(), 200),
            ("user.phone", phone.as_str(), 32),
            ("user.email", email.as_str(), 254),
            ("user.customer_ref", customer_ref.as_str(), 64),
            ("issuer_id", body.issuer_id.as_str(), 64),
        ];
        for (field, value, max) in fields {
            if value.trim().is_empty() || value.len() > max {
                return Err(KbaError::Malformed(format!(
                    "{field} must be 1 to {max} bytes"
                )));
            }
        }
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        if !(7..=15).contains(&digits) || !email.contains('@') {
            return Err(KbaError::Malformed(
                "user.phone needs 7 to 15 digits and user.email an @".into(),
            ));
        }
        Ok(Self {
            body,
            wallet_user_id,
            device_id,
        })
    }

    /// The account for `token_requestor_id`'s user: its level from the facts (the user's
    /// data compared with the issuer's enrolment as keyed hashes), a fresh id, the user data
    /// sealed, expiring after the pending time.
    pub fn create(
        &self,
        ctx: &AccountContext<'_>,
        token_requestor_id: &str,
        facts: &CreationFacts,
    ) -> Result<Creation, KbaError> {
        if !facts.issuer_registered {
            return Err(KbaError::UnknownIssuer);
        }
        let (body, now, config) = (&self.body, ctx.now, ctx.config);
        let source = facts.source.unwrap_or(SourceKind::Bank);
        let user = &body.user;
        let hashes = ctx
            .at_rest
            .identity_hashes(&user.name, &user.phone, &user.email);
        let enrolment = facts.enrolment.as_ref();
        let level = config.level.decide(&LevelFacts {
            device_blocklisted: facts.device_blocklisted,
            device_risk_score: body.device.risk_score,
            other_users_on_device: facts.other_users_on_device,
            customer_unknown: enrolment.is_none() && source == SourceKind::Bank,
            name_mismatch: enrolment.is_some_and(|e| e.name_hash != hashes.name),
            phone_mismatch: enrolment.is_some_and(|e| e.phone_hash != hashes.phone),
            email_mismatch: enrolment.is_some_and(|e| e.email_hash != hashes.email),
            customer_days: enrolment
                .and_then(|e| e.customer_since)
                .map(|since| (now - since) / 86_400),
            prior_locked_accounts: facts.prior_locked_accounts,
        });
        let account_id = random_id(ctx.at_rest.crypto, "wa_")
            .map_err(|e| KbaError::internal("account id", &e))?;
        let account = NewAccount {
            account_id: account_id.clone(),
            token_requestor_id: token_requestor_id.to_owned(),
            wallet_user_id: self.wallet_user_id.as_str().to_owned(),
            issuer_id: body.issuer_id.clone(),
            customer_ref: user.customer_ref.clone(),
            device_id: self.device_id.as_str().to_owned(),
            device_model: body.device.model.clone(),
            device_os: body.device.os.clone(),
            secure_element_id: body.device.secure_element_id.clone(),
            binding_jwk: serde_json::to_string(&body.device.binding_jwk)
                .map_err(|e| KbaError::internal("binding key", &e))?,
            user_sealed: ctx.at_rest.seal_user(&account_id, user)?,
            security_level: level.level,
            level_score: level.score,
            level_reasons: serde_json::to_string(&level.reasons)
                .map_err(|e| KbaError::internal("level reasons", &e))?,
            kba_source: source,
            created_at: now,
            expires_at: now + config.pending_ttl_s,
        };
        let created = Transition {
            account_id: account_id.clone(),
            from: None,
            to: AccountState::PendingActivation,
            channel: Channel::Wallet,
            reason: "created".into(),
            at: now,
        };
        let view = WalletAccountView {
            account_id,
            wallet_user_id: account.wallet_user_id.clone(),
            issuer_id: account.issuer_id.clone(),
            device_id: account.device_id.clone(),
            state: AccountState::PendingActivation,
            state_reason: created.reason.clone(),
            security_level: level.level,
            kba: KbaView {
                status: "NOT_STARTED".into(),
                source,
                questions_per_attempt: config.questions_for(level.level),
                attempts_used: 0,
                max_attempts: config.max_attempts,
                question_time_limit_s: config.question_time_limit_s,
            },
            created_at: now,
            expires_at: account.expires_at,
            activated_at: None,
        };
        Ok(Creation {
            account,
            created,
            view,
            level,
        })
    }
}

#[cfg(test)]
mod tests {
    use provisio_crypto::{AwsLcProvider, CryptoProvider};
    use provisio_jose::Jwk;

    use super::*;
    use crate::at_rest::test_vault::TestVault;
    use crate::wire::AccountDevice;
    use crate::{AccountsConfig, AtRest, SecurityLevel};

    const NOW: i64 = 1_000_000_000;

    fn body(crypto: &AwsLcProvider) -> CreateWalletAccount {
        let key = crypto.generate_ec_key().unwrap();
        CreateWalletAccount {
            wallet_user_id: "user-1".into(),
            issuer_id: "bank-a".into(),
            device: AccountDevice {
                device_id: "device-1".into(),
                model: "Pixel 9".into(),
                os: "Android 16".into(),
                secure_element_id: None,
                binding_jwk: Jwk::from_public_key(key.public_key()),
                risk_score: None,
            },
            user: AccountUser {
                name: "Ada Lovelace".into(),
                phone: "+44 7700 900123".into(),
                email: "ada@example.org".into(),
                customer_ref: "cust-1".into(),
            },
            module: crate::wire::InstalledModule {
                module_version: "1.0.0".into(),
                manifest: String::new(),
            },
        }
    }

    fn enrolled(at_rest: &AtRest<'_>, phone: &str, since: i64) -> EnrolmentRecord {
        let h = at_rest.identity_hashes("ADA lovelace", phone, "ada@example.org");
        EnrolmentRecord {
            issuer_id: "bank-a".into(),
            customer_ref: "cust-1".into(),
            name_hash: h.name,
            phone_hash: h.phone,
            email_hash: h.email,
            customer_since: Some(since),
            loaded_at: since,
        }
    }

    #[test]
    fn members_out_of_their_rules_are_named() {
        let crypto = AwsLcProvider::new();
        type Change = fn(&mut CreateWalletAccount);
        let cases: [(Change, &str); 5] = [
            (|b| b.wallet_user_id = "a b".into(), "wallet_user_id"),
            (|b| b.device.risk_score = Some(100), "device.risk_score"),
            (|b| b.device.model = " ".into(), "device.model"),
            (|b| b.user.phone = "12345".into(), "user.phone"),
            (|b| b.issuer_id = "x".repeat(65), "issuer_id"),
        ];
        for (change, named) in cases {
            let mut b = body(&crypto);
            change(&mut b);
            let Err(KbaError::Malformed(detail)) = CreateRequest::parse(b) else {
                panic!("{named} should be refused");
            };
            assert!(detail.contains(named), "{detail}");
        }
        let req = CreateRequest::parse(body(&crypto)).unwrap();
        assert_eq!(req.device_id.as_str(), "device-1");
    }

    #[test]
    fn the_level_follows_the_facts_and_the_account_is_born_pending_and_sealed() {
        let crypto = AwsLcProvider::new();
        let at_rest = AtRest {
            crypto: &crypto,
            vault: &TestVault,
        };
        let config = AccountsConfig::default();
        let ctx = AccountContext {
            at_rest,
            config: &config,
            now: NOW,
        };
        let req = CreateRequest::parse(body(&crypto)).unwrap();
        assert_eq!(
            req.create(&ctx, "40010099999", &CreationFacts::default())
                .unwrap_err(),
            KbaError::UnknownIssuer
        );

        let known = CreationFacts {
            issuer_registered: true,
            enrolment: Some(enrolled(&at_rest, "447700900123", 0)),
            ..CreationFacts::default()
        };
        let created = req.create(&ctx, "40010099999", &known).unwrap();
        assert_eq!(created.level.level, SecurityLevel::Low);
        assert!(
            created.level.reasons.is_empty(),
            "{:?}",
            created.level.reasons
        );
        let a = &created.account;
        assert_eq!(
            (
                a.wallet_user_id.as_str(),
                a.device_id.as_str(),
                a.kba_source
            ),
            ("user-1", "device-1", SourceKind::Bank)
        );
        assert_eq!(a.expires_at, NOW + config.pending_ttl_s);
        assert_eq!(
            at_rest
                .open_user(&a.account_id, &a.user_sealed)
                .unwrap()
                .name,
            "Ada Lovelace"
        );
        assert_eq!(created.created.to, AccountState::PendingActivation);
        assert_eq!(created.view.account_id, a.account_id);
        assert_eq!(
            (
                created.view.kba.status.as_str(),
                created.view.kba.questions_per_attempt
            ),
            ("NOT_STARTED", 4)
        );

        let doubtful = CreationFacts {
            issuer_registered: true,
            device_blocklisted: true,
            enrolment: Some(enrolled(&at_rest, "447700900999", NOW - 86_400)),
            ..CreationFacts::default()
        };
        let created = req.create(&ctx, "40010099999", &doubtful).unwrap();
        assert_eq!(created.level.level, SecurityLevel::High);
        assert_eq!(
            created.level.reasons,
            ["device_blocklisted", "phone_mismatch", "new_customer"]
        );
        assert_eq!(created.view.kba.questions_per_attempt, 6);

        // An HTTP source knows its customers: no enrolment is not a doubt there.
        let issuer_source = CreationFacts {
            issuer_registered: true,
            source: Some(SourceKind::Issuer),
            ..CreationFacts::default()
        };
        let created = req.create(&ctx, "40010099999", &issuer_source).unwrap();
        assert_eq!(
            (created.level.level, created.account.kba_source),
            (SecurityLevel::Low, SourceKind::Issuer)
        );
        let bank_unknown = CreationFacts {
            issuer_registered: true,
            ..CreationFacts::default()
        };
        assert_eq!(
            req.create(&ctx, "40010099999", &bank_unknown)
                .unwrap()
                .level
                .reasons,
            ["customer_unknown"]
        );
    }
}
