//! What every account request's core call is given besides its facts.

use provisio_types::UnixSeconds;

use crate::{AccountsConfig, AtRest};

/// The vault and crypto provider, the settings, and the time the request arrived (read once).
#[derive(Clone, Copy)]
pub struct AccountContext<'a> {
    /// How data is sealed and hashed at rest.
    pub at_rest: AtRest<'a>,
    /// The `[accounts]` settings.
    pub config: &'a AccountsConfig,
    /// When the request arrived.
    pub now: UnixSeconds,
}
