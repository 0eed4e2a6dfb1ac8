//! The token's life (docs/protocol.md §15; EMVCo Payment Tokenisation's token statuses):
//!
//! ```text
//!   INACTIVE ──activate──► ACTIVE ◄──suspend / resume──► SUSPENDED
//!      │                     │                              │
//!      └──────── delete ─────┴────────── delete ────────────┴──► DELETED (final)
//! ```
//!
//! Who may do what: the card's issuer, the token's requestor (the wallet) and the operator
//! (admin) may suspend, resume and delete; a suspension by the issuer or the admin is lifted
//! only by the issuer or the admin, and one by the wallet by any of the three. The service
//! itself activates a token (a passed step-up or installation) and deletes a pending one that
//! expired. A card reissue updates a live token in place. Every change is one [`Change`]: the
//! new standing and the history entry and event to record with it, in one transaction.

use std::fmt;

/// The life cycle state of a token (EMVCo Payment Tokenisation: token status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// Usable for payments.
    Active,
    /// Created, waiting for step-up or installation.
    Inactive,
    /// Stopped for now (a lost phone): pays nothing until resumed.
    Suspended,
    /// Gone for good; its token PAN is never issued again.
    Deleted,
}

impl TokenStatus {
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::Suspended => "SUSPENDED",
            Self::Deleted => "DELETED",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(Self::Active),
            "INACTIVE" => Some(Self::Inactive),
            "SUSPENDED" => Some(Self::Suspended),
            "DELETED" => Some(Self::Deleted),
            _ => None,
        }
    }
}

impl std::fmt::Display for TokenStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who changes a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The card's issuer.
    Issuer,
    /// The token's requestor: the wallet.
    TokenRequestor,
    /// The operator.
    Admin,
    /// The token service itself (a passed step-up, an expired pending token).
    System,
}

/// Why a token changed (EMVCo-style reason codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The device was lost.
    Lost,
    /// The device or the card was stolen.
    Stolen,
    /// Fraud was suspected or confirmed.
    Fraud,
    /// The cardholder asked.
    CustomerRequest,
    /// The funding account was closed.
    AccountClosed,
    /// The device was found again.
    Found,
    /// Anything else (and a pending token that expired).
    Other,
}

/// What is asked of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `INACTIVE` to `ACTIVE`.
    Activate,
    /// `ACTIVE` to `SUSPENDED`.
    Suspend,
    /// `SUSPENDED` to `ACTIVE`.
    Resume,
    /// Anything but `DELETED` to `DELETED`.
    Delete,
    /// The card behind a live token was reissued (new expiry or PAN); the status stays.
    Update,
}

/// The kind of a token event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A token was minted.
    TokenCreated,
    /// It became `ACTIVE` after a step-up.
    TokenActivated,
    /// It was suspended.
    TokenSuspended,
    /// It was resumed.
    TokenResumed,
    /// It was deleted.
    TokenDeleted,
    /// Its card was reissued and it was relinked.
    TokenUpdated,
}

/// A token's standing: its status and, when suspended, who suspended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The status.
    pub status: TokenStatus,
    /// Who suspended it (`Some` exactly when it is `SUSPENDED`).
    pub suspended_by: Option<Actor>,
}

/// One change of a token: what to store and what to tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The standing before (the store writes the change only if it is still this one).
    pub from: Standing,
    /// The standing after.
    pub to: Standing,
    /// The event to send.
    pub event: EventType,
    /// Who.
    pub actor: Actor,
    /// Why.
    pub reason: Reason,
}

/// Why a change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The state machine does not allow the action in the token's status.
    #[error("a {status} token cannot be {action}")]
    InvalidTransition {
        /// The token's status.
        status: TokenStatus,
        /// The action refused.
        action: Action,
    },
    /// The actor may not do this (lift another party's suspension, or act as the service).
    #[error("{actor} may not {} this token: {why}", action.verb())]
    NotPermitted {
        /// Who asked.
        actor: Actor,
        /// What.
        action: Action,
        /// Why not.
        why: &'static str,
    },
}

impl Standing {
    /// A standing with no suspension.
    pub fn of(status: TokenStatus) -> Self {
        Self {
            status,
            suspended_by: None,
        }
    }

    /// What `action` by `actor` for `reason` makes of this standing.
    pub fn apply(
        self,
        action: Action,
        actor: Actor,
        reason: Reason,
    ) -> Result<Change, LifecycleError> {
        use TokenStatus as S;
        let invalid = || LifecycleError::InvalidTransition {
            status: self.status,
            action,
        };
        let change = |to: Standing, event| Change {
            from: self,
            to,
            event,
            actor,
            reason,
        };
        match (action, self.status) {
            (_, S::Deleted) => Err(invalid()),
            (Action::Activate, S::Inactive) => {
                if matches!(actor, Actor::TokenRequestor) {
                    return Err(LifecycleError::NotPermitted {
                        actor,
                        action,
                        why: "a token is activated by its step-up or by the issuer",
                    });
                }
                Ok(change(Standing::of(S::Active), EventType::TokenActivated))
            }
            (Action::Suspend, S::Active) => {
                self.not_system(action, actor)?;
                Ok(change(
                    Standing {
                        status: S::Suspended,
                        suspended_by: Some(actor),
                    },
                    EventType::TokenSuspended,
                ))
            }
            (Action::Resume, S::Suspended) => {
                self.not_system(action, actor)?;
                let lifted_by_wallet = matches!(actor, Actor::TokenRequestor);
                let by_wallet = matches!(self.suspended_by, Some(Actor::TokenRequestor) | None);
                if lifted_by_wallet && !by_wallet {
                    return Err(LifecycleError::NotPermitted {
                        actor,
                        action,
                        why: "a suspension by the issuer or the operator is lifted only by them",
                    });
                }
                Ok(change(Standing::of(S::Active), EventType::TokenResumed))
            }
            (Action::Delete, status) => {
                if actor == Actor::System && status != S::Inactive {
                    return Err(LifecycleError::NotPermitted {
                        actor,
                        action,
                        why: "the service deletes on its own only pending tokens that expired",
                    });
                }
                Ok(change(Standing::of(S::Deleted), EventType::TokenDeleted))
            }
            (Action::Update, _) => {
                if !matches!(actor, Actor::Issuer | Actor::Admin) {
                    return Err(LifecycleError::NotPermitted {
                        actor,
                        action,
                        why: "only the card's issuer relinks its tokens",
                    });
                }
                Ok(change(self, EventType::TokenUpdated))
            }
            _ => Err(invalid()),
        }
    }

    /// The creation of a token in this standing: history entry and event number 1.
    pub fn created(self, actor: Actor, reason: Reason) -> Change {
        Change {
            from: self,
            to: self,
            event: EventType::TokenCreated,
            actor,
            reason,
        }
    }

    fn not_system(self, action: Action, actor: Actor) -> Result<(), LifecycleError> {
        if actor == Actor::System {
            return Err(LifecycleError::NotPermitted {
                actor,
                action,
                why: "the service does not suspend or resume on its own",
            });
        }
        Ok(())
    }
}

impl Action {
    /// The action as a verb ("suspend").
    pub const fn verb(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Delete => "delete",
            Self::Update => "relink",
        }
    }
}

macro_rules! wire_names {
    ($ty:ty { $($variant:ident = $wire:literal),* $(,)? }) => {
        impl $ty {
            /// Every value.
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),*];

            /// The wire and stored name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $wire),*
                }
            }

            /// Parses the wire or stored name.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_names!(Actor {
    Issuer = "ISSUER",
    TokenRequestor = "TOKEN_REQUESTOR",
    Admin = "ADMIN",
    System = "SYSTEM",
});

wire_names!(Reason {
    Lost = "LOST",
    Stolen = "STOLEN",
    Fraud = "FRAUD",
    CustomerRequest = "CUSTOMER_REQUEST",
    AccountClosed = "ACCOUNT_CLOSED",
    Found = "FOUND",
    Other = "OTHER",
});

wire_names!(Action {
    Activate = "activated",
    Suspend = "suspended",
    Resume = "resumed",
    Delete = "deleted",
    Update = "updated",
});

wire_names!(EventType {
    TokenCreated = "TOKEN_CREATED",
    TokenActivated = "TOKEN_ACTIVATED",
    TokenSuspended = "TOKEN_SUSPENDED",
    TokenResumed = "TOKEN_RESUMED",
    TokenDeleted = "TOKEN_DELETED",
    TokenUpdated = "TOKEN_UPDATED",
});

#[cfg(test)]
mod tests {
    use super::*;
    use TokenStatus as S;

    const ACTORS: [Actor; 4] = [
        Actor::Issuer,
        Actor::TokenRequestor,
        Actor::Admin,
        Actor::System,
    ];

    fn suspended(by: Actor) -> Standing {
        Standing {
            status: S::Suspended,
            suspended_by: Some(by),
        }
    }

    #[test]
    fn the_machine_moves_only_along_its_arrows() {
        let active = Standing::of(S::Active);
        let c = active
            .apply(Action::Suspend, Actor::TokenRequestor, Reason::Lost)
            .unwrap();
        assert_eq!(c.to, suspended(Actor::TokenRequestor));
        assert_eq!(c.event, EventType::TokenSuspended);
        let c =
            c.to.apply(Action::Resume, Actor::TokenRequestor, Reason::Found)
                .unwrap();
        assert_eq!((c.to, c.event), (active, EventType::TokenResumed));
        let c = Standing::of(S::Inactive)
            .apply(Action::Activate, Actor::System, Reason::Other)
            .unwrap();
        assert_eq!(c.to, active);
        for status in [S::Inactive, S::Active, S::Suspended] {
            let from = Standing {
                status,
                suspended_by: (status == S::Suspended).then_some(Actor::Issuer),
            };
            let c = from
                .apply(Action::Delete, Actor::Issuer, Reason::AccountClosed)
                .unwrap();
            assert_eq!(c.to, Standing::of(S::Deleted));
        }
    }

    #[test]
    fn a_deleted_token_stays_deleted_and_other_moves_are_invalid() {
        let deleted = Standing::of(S::Deleted);
        for action in Action::ALL {
            for actor in ACTORS {
                assert!(
                    matches!(
                        deleted.apply(*action, actor, Reason::Other),
                        Err(LifecycleError::InvalidTransition { .. })
                    ),
                    "{action} by {actor}"
                );
            }
        }
        let invalid = [
            (Standing::of(S::Inactive), Action::Suspend),
            (Standing::of(S::Inactive), Action::Resume),
            (Standing::of(S::Active), Action::Resume),
            (Standing::of(S::Active), Action::Activate),
            (suspended(Actor::Issuer), Action::Suspend),
            (suspended(Actor::Issuer), Action::Activate),
        ];
        for (from, action) in invalid {
            assert!(
                matches!(
                    from.apply(action, Actor::Admin, Reason::Other),
                    Err(LifecycleError::InvalidTransition { .. })
                ),
                "{from:?} {action}"
            );
        }
    }

    #[test]
    fn only_the_issuer_or_the_admin_lifts_their_suspension() {
        for by in [Actor::Issuer, Actor::Admin] {
            let s = suspended(by);
            assert!(matches!(
                s.apply(Action::Resume, Actor::TokenRequestor, Reason::Found),
                Err(LifecycleError::NotPermitted { .. })
            ));
            for lifter in [Actor::Issuer, Actor::Admin] {
                assert!(s.apply(Action::Resume, lifter, Reason::Found).is_ok());
            }
        }
        let by_wallet = suspended(Actor::TokenRequestor);
        for lifter in [Actor::Issuer, Actor::Admin, Actor::TokenRequestor] {
            assert!(
                by_wallet
                    .apply(Action::Resume, lifter, Reason::Found)
                    .is_ok()
            );
        }
        assert!(matches!(
            Standing::of(S::Active).apply(Action::Suspend, Actor::System, Reason::Other),
            Err(LifecycleError::NotPermitted { .. })
        ));
        // The sweep of expired pending tokens deletes only pending ones.
        assert!(
            Standing::of(S::Inactive)
                .apply(Action::Delete, Actor::System, Reason::Other)
                .is_ok()
        );
        assert!(matches!(
            Standing::of(S::Active).apply(Action::Delete, Actor::System, Reason::Other),
            Err(LifecycleError::NotPermitted { .. })
        ));
    }

    #[test]
    fn only_the_issuer_or_admin_relinks_and_the_status_stays() {
        let s = suspended(Actor::TokenRequestor);
        let c = s
            .apply(Action::Update, Actor::Issuer, Reason::Other)
            .unwrap();
        assert_eq!((c.to, c.event), (s, EventType::TokenUpdated));
        assert!(
            s.apply(Action::Update, Actor::TokenRequestor, Reason::Other)
                .is_err()
        );
        assert!(
            Standing::of(S::Inactive)
                .apply(Action::Activate, Actor::TokenRequestor, Reason::Other)
                .is_err()
        );
    }

    #[test]
    fn names_round_trip() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(*r));
        }
        for a in Actor::ALL {
            assert_eq!(Actor::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Reason::parse("lost"), None, "names are exact");
    }
}
