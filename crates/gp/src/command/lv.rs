//! Length-value fields: the one-byte-length lists INSTALL, DELETE and PUT KEY data use.

use crate::GpError;

/// Reads one-byte-length fields from a command body, refusing missing or trailing bytes.
pub(crate) struct LvReader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> LvReader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { rest: data, what }
    }

    /// The next length-prefixed field.
    pub(crate) fn field(&mut self) -> Result<&'a [u8], GpError> {
        let (&len, rest) = self
            .rest
            .split_first()
            .ok_or(GpError::Malformed(self.what))?;
        let len = usize::from(len);
        if rest.len() < len {
            return Err(GpError::Malformed(self.what));
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(value)
    }

    /// The next single byte.
    pub(crate) fn byte(&mut self) -> Result<u8, GpError> {
        let (&b, rest) = self
            .rest
            .split_first()
            .ok_or(GpError::Malformed(self.what))?;
        self.rest = rest;
        Ok(b)
    }

    /// Succeeds only if every byte was read.
    pub(crate) fn finish(self) -> Result<(), GpError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(GpError::Malformed(self.what))
        }
    }
}

/// Appends `value` with its one-byte length. Callers keep values under 256 bytes (AIDs,
/// privileges, parameters the card limits anyway).
pub(crate) fn push_lv(out: &mut Vec<u8>, value: &[u8]) {
    out.push(value.len().min(255) as u8);
    out.extend_from_slice(value.get(..value.len().min(255)).unwrap_or_default());
}
