//! A virtual GlobalPlatform secure element, so the whole system runs and is tested without
//! hardware (US 8,060,449: the element the TSMs provision over the air).
//!
//! ```text
//!  VirtualSe
//!   ├─ card life cycle: OP_READY ─► INITIALIZED ─► SECURED ◄─► CARD_LOCKED ─► TERMINATED
//!   ├─ issuer security domain (A000000151000000): key sets, sequence counter, SCP03 card half
//!   ├─ load files: ROM security domain package, ROM payment applet package, loaded files
//!   └─ applications: supplementary security domains (own keys, privileges, associated apps),
//!                    payment applet instances (token credential, ATC, cryptograms)
//! ```
//!
//! It is sans-IO: [`VirtualSe::transmit`] takes a command APDU and returns the response APDU;
//! [`VirtualSe::to_image`] and [`VirtualSe::from_image`] give the memory image the caller
//! stores, so a phone's element survives restarts. Store the image after every `transmit`,
//! before passing the response on: the sequence counter must never go back.

mod card;
mod error;
mod keys_serde;
mod lifecycle;
mod manage;
pub mod payment;
mod registry;
mod view;

pub use card::{IMAGE_VERSION, ISD_PRIVILEGES, VirtualSe};
pub use error::SeError;
pub use lifecycle::{CardLifeCycle, app_state};
pub use manage::{STATUS_PAGE, delegation_token};
pub use registry::{
    AppKind, Application, Domain, LoadFile, payment_load_file, payment_module, sd_load_file,
    sd_module,
};
pub use view::{AppView, SeView};
