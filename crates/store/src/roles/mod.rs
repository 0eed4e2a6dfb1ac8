//! What the token service asks of its store, one trait per role of the data. [`Store`] is all
//! of them, for the server's state; a handler names only the roles it uses. Each method that
//! writes is one transaction: it commits everything it was given or nothing. Each method is one
//! crossing to the store's threads and back, whatever it reads or writes there.

mod accounts;
mod keys;
mod outbox;
mod participants;
mod payments;
mod provisioning;
mod scripts;
mod step_up;
mod tokens;

pub use accounts::AccountStore;
pub use keys::KeyStore;
pub use outbox::OutboxStore;
pub use participants::ParticipantStore;
pub use payments::{Decide, Decided, PaymentStore};
pub use provisioning::ProvisioningStore;
pub use scripts::ScriptStore;
pub use step_up::StepUpStore;
pub use tokens::TokenStore;

/// Everything the token service stores: every role above.
pub trait Store:
    KeyStore
    + ParticipantStore
    + ProvisioningStore
    + StepUpStore
    + ScriptStore
    + OutboxStore
    + AccountStore
    + TokenStore
    + PaymentStore
{
}

impl<T> Store for T where
    T: KeyStore
        + ParticipantStore
        + ProvisioningStore
        + StepUpStore
        + ScriptStore
        + OutboxStore
        + AccountStore
        + TokenStore
        + PaymentStore
{
}
