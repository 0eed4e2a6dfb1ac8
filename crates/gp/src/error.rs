//! The crate's one error type.

/// What went wrong, grouped by whose fault it is.
///
/// Variants carry no key material and no APDU data, so they are safe to log and to show to a
/// peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GpError {
    // --- The peer misbehaved (bad encoding, failed authentication) ---
    /// The bytes are not a well-formed APDU, TLV or command body.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The card's cryptogram in the INITIALIZE UPDATE response did not verify: wrong keys, or
    /// not the card we think (GPC Amendment D 6.2.2.2).
    #[error("card cryptogram did not verify")]
    CardCryptogram,
    /// The host cryptogram in EXTERNAL AUTHENTICATE did not verify (Amendment D 6.2.2.3).
    #[error("host cryptogram did not verify")]
    HostCryptogram,
    /// A C-MAC did not verify (Amendment D 6.2.4); the card closes the session.
    #[error("command MAC did not verify")]
    CommandMac,
    /// An R-MAC did not verify (Amendment D 6.2.5).
    #[error("response MAC did not verify")]
    ResponseMac,
    /// Decrypted data did not end in the ISO/IEC 9797-1 method 2 padding.
    #[error("bad padding in decrypted data")]
    Padding,
    /// The card's sequence counter did not move forward since the last session: a replayed
    /// INITIALIZE UPDATE response, or a card whose counter was rewound.
    #[error("sequence counter {got:06X} is not above the last seen {last:06X}")]
    CounterNotIncreasing {
        /// The counter the card sent.
        got: u32,
        /// The highest counter seen before.
        last: u32,
    },

    // --- The peer is incompatible ---
    /// The card answered with another secure channel protocol than SCP03.
    #[error("card speaks SCP{0:02X}, not SCP03")]
    UnsupportedProtocol(u8),
    /// The card runs SCP03 in a mode this implementation does not (S16, random challenge).
    #[error("unsupported SCP03 option: {0}")]
    UnsupportedOption(&'static str),
    /// The card used another key version than the one asked for.
    #[error("card answered with key version {got:#04x}, expected {expected:#04x}")]
    KeyVersion {
        /// The key version the host asked for.
        expected: u8,
        /// The key version the card used.
        got: u8,
    },

    // --- The caller misused the API ---
    /// The security level byte is not one of 00, 01, 03, 11, 13, 33.
    #[error("security level {0:#04x} is not defined by SCP03")]
    SecurityLevel(u8),
    /// A key had the wrong length, or the three keys of a set differ in length.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The command cannot be wrapped: its data, with padding and MAC, exceeds what its length
    /// encoding can carry, or it already has the secure messaging bit set.
    #[error("cannot wrap command: {0}")]
    Unwrappable(&'static str),
}
