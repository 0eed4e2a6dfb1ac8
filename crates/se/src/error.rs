//! The crate's error type. Card-level refusals are status words, not errors: a card answers.

/// What went wrong outside the APDU interface.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeError {
    /// The memory image is not one this version wrote (corrupt, or another format version).
    #[error("memory image: {0}")]
    Image(String),
}
