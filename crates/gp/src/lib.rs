//! GlobalPlatform for Provisio: ISO/IEC 7816-4 APDUs and BER-TLV, the GlobalPlatform Card
//! Specification 2.3 commands a TSM sends, and the SCP03 secure channel (Amendment D), host
//! half and card half.
//!
//! Sans-IO throughout: every function takes bytes and returns bytes or typed values. The
//! transport (a PC/SC reader, an OTA relay, the virtual element in `provisio-se`) is the
//! caller's.
//!
//! ```text
//!  TSM ── command::install_for_install(..) ─► Command ─► HostChannel::wrap ─► bytes ─► card
//!  card ─► bytes ─► Response::parse ─► HostChannel::unwrap ─► command::parse_get_status(..)
//! ```

mod aid;
mod apdu;
pub mod command;
mod error;
pub mod scp03;
mod sw;
pub mod tlv;

pub use aid::Aid;
pub use apdu::{Command, EXTENDED_MAX_DATA, Response, SHORT_MAX_DATA};
pub use error::GpError;
pub use sw::StatusWord;
