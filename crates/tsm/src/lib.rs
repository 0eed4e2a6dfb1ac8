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
//! twice. Requests move through [`RequestState`].

mod credential;
mod error;
mod handover;
mod intake;
mod job;
pub mod plan;
mod request;
mod session;
pub mod wire;

pub use credential::{CREDENTIAL_CTY, Credential, open_credential, seal_credential};
pub use error::TsmError;
pub use handover::{HANDOVER_CTY, open_initial_keys, seal_initial_keys};
pub use intake::{Intake, RequestKind, ServiceProvider, ServiceRecord, ServiceRequest, intake};
pub use job::{JobEvent, JobState, SessionKind};
pub use plan::{CreateDomain, Personalize, Plan, Step, Survey, TakeOverKeys};
pub use request::{MAX_SESSIONS, RequestEvent, RequestState};
pub use session::{AdminSession, Next, Report};
