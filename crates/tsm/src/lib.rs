//! Trusted service managers for secure elements (US 8,060,449, "partially delegated"
//! over-the-air provisioning), as sans-IO cores.
//!
//! ```text
//!  token service ─► SP-TSM (issuer) ─service request─► SEI-TSM (carrier, owns the ISD)
//!                                                        │ wakes the phone's OTA client
//!  SEI-TSM ◄══ AdminSession with the ISD, relayed by the OTA client ══► secure element
//!     CreateDomain: issuer domain, payment applet, extradition, initial keys
//!  SP-TSM  ◄══ AdminSession with its own domain, relayed by the OTA client ══► element
//!     TakeOverKeys: the initial keys replaced, the carrier locked out
//!     Personalize: STORE DATA of the token credential
//! ```
//!
//! Each session starts with a survey of the element and plans only what is missing
//! ([`plan`]), so an interrupted session resumes by starting again and nothing is applied
//! twice. Requests move through [`RequestState`], jobs through [`JobState`].
//!
//! Each HTTP handler of the two roles is one call of a core here (docs/architecture.md §3):
//! [`sei`] for the carrier's (registration in [`NewElement`] and [`NewProvider`]), [`sp`]
//! for the issuer's, and [`job::next_step`] for what the SP-TSM's driver does next. They take
//! the store's facts and a [`TsmContext`] (the crypto provider and the master key under which
//! every stored secret is sealed), and return what to commit and the answer ([`relay`] for
//! the admin sessions' calls).

mod context;
mod credential;
#[cfg(test)]
mod driven_tests;
mod error;
mod handover;
mod intake;
pub mod job;
pub mod plan;
mod registration;
pub mod relay;
mod request;
pub mod sei;
mod session;
pub mod sp;
pub mod wire;

pub use context::{Sealed, SpContext, TsmContext};
pub use credential::{CREDENTIAL_CTY, Credential, open_credential, seal_credential};
pub use error::TsmError;
pub use handover::{HANDOVER_CTY, open_initial_keys, seal_initial_keys};
pub use intake::{Intake, RequestKind, ServiceProvider, ServiceRecord, ServiceRequest, intake};
pub use job::{JobEvent, JobState, SessionKind};
pub use plan::{CreateDomain, Personalize, Plan, Step, Survey, TakeOverKeys};
pub use registration::{NewElement, NewProvider};
pub use request::{MAX_SESSIONS, RequestEvent, RequestState};
pub use session::{AdminSession, Next, Report};
