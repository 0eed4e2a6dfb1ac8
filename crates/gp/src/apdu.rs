//! Command and response APDUs (ISO/IEC 7816-4 section 5.1), short and extended length,
//! cases 1 to 4.
//!
//! ```text
//!  case 1   CLA INS P1 P2
//!  case 2S  CLA INS P1 P2 Le                 case 2E  CLA INS P1 P2 00 Le1 Le2
//!  case 3S  CLA INS P1 P2 Lc data            case 3E  CLA INS P1 P2 00 Lc1 Lc2 data
//!  case 4S  CLA INS P1 P2 Lc data Le         case 4E  CLA INS P1 P2 00 Lc1 Lc2 data Le1 Le2
//! ```
//!
//! Parsing takes the whole input: a length that promises more bytes than there are, or fewer,
//! is an error, never a guess.

use crate::{GpError, StatusWord};

/// The largest data field a short APDU carries.
pub const SHORT_MAX_DATA: usize = 255;
/// The largest data field an extended APDU carries.
pub const EXTENDED_MAX_DATA: usize = 65_535;

/// A command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// The command data field (Lc is its length); empty for cases 1 and 2.
    pub data: Vec<u8>,
    /// Ne, the maximum number of response bytes expected (1 to 65,536); `None` when the
    /// command has no Le field (cases 1 and 3). Le `00` means 256, or 65,536 when extended.
    pub ne: Option<u32>,
}

/// A response APDU: data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The response data field.
    pub data: Vec<u8>,
    /// SW1 SW2.
    pub sw: StatusWord,
}

impl Command {
    /// A command with no data and no Le (case 1); add them with [`Command::with_data`] and
    /// [`Command::with_ne`].
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            ne: None,
        }
    }

    /// The same command with `data` as its data field.
    pub fn with_data(mut self, data: Vec<u8>) -> Self {
        self.data = data;
        self
    }

    /// The same command with an Le field asking for up to `ne` bytes (256 for a short `00`).
    pub fn with_ne(mut self, ne: u32) -> Self {
        self.ne = Some(ne);
        self
    }

    /// Whether this command needs the extended length encoding.
    pub fn is_extended(&self) -> bool {
        self.data.len() > SHORT_MAX_DATA || self.ne.is_some_and(|ne| ne > 256)
    }

    /// The encoded Lc field as it appears on the wire (empty when there is no data). SCP03's
    /// C-MAC covers it exactly as sent (Amendment D 6.2.4).
    pub fn lc_field(&self) -> Vec<u8> {
        let n = self.data.len();
        match (n, self.is_extended()) {
            (0, _) => Vec::new(),
            (_, false) => vec![n as u8],
            (_, true) => vec![0, (n >> 8) as u8, n as u8],
        }
    }

    /// The wire encoding. Fails only if the data field or Ne exceed the extended limits.
    pub fn encode(&self) -> Result<Vec<u8>, GpError> {
        if self.data.len() > EXTENDED_MAX_DATA {
            return Err(GpError::Malformed("APDU data longer than 65,535 bytes"));
        }
        if self.ne.is_some_and(|ne| ne == 0 || ne > 65_536) {
            return Err(GpError::Malformed("APDU Ne outside 1..=65,536"));
        }
        let mut out = Vec::with_capacity(4 + 3 + self.data.len() + 3);
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        out.extend_from_slice(&self.lc_field());
        out.extend_from_slice(&self.data);
        if let Some(ne) = self.ne {
            match (self.is_extended(), self.data.is_empty()) {
                (false, _) => out.push(ne as u8), // 256 encodes as 00
                (true, true) => out.extend_from_slice(&[0, (ne >> 8) as u8, ne as u8]),
                (true, false) => out.extend_from_slice(&[(ne >> 8) as u8, ne as u8]),
            }
        }
        Ok(out)
    }

    /// Parses one whole command APDU (ISO/IEC 7816-4 5.1 and 5.2).
    pub fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(GpError::Malformed("APDU shorter than its 4-byte header"));
        };
        let mut cmd = Self::new(*cla, *ins, *p1, *p2);
        let short = |b: u8| if b == 0 { 256 } else { u32::from(b) };
        let long = |hi: u8, lo: u8| match u32::from(hi) << 8 | u32::from(lo) {
            0 => 65_536,
            n => n,
        };
        match body {
            [] => {}
            [le] => cmd.ne = Some(short(*le)),
            [0, hi, lo] => cmd.ne = Some(long(*hi, *lo)),
            [0, hi, lo, rest @ ..] => {
                let lc = usize::from(*hi) << 8 | usize::from(*lo);
                if lc == 0 {
                    return Err(GpError::Malformed("extended Lc of zero"));
                }
                match rest.len().checked_sub(lc) {
                    Some(0) => {}
                    Some(2) => {
                        if let Some([hi, lo]) = rest.get(lc..) {
                            cmd.ne = Some(long(*hi, *lo));
                        }
                    }
                    _ => return Err(GpError::Malformed("APDU length disagrees with Lc")),
                }
                cmd.data = rest.get(..lc).unwrap_or_default().to_vec();
            }
            [0, _] => return Err(GpError::Malformed("short Lc of zero")),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                match rest.len().checked_sub(lc) {
                    Some(0) => {}
                    Some(1) => cmd.ne = rest.get(lc).map(|le| short(*le)),
                    _ => return Err(GpError::Malformed("APDU length disagrees with Lc")),
                }
                cmd.data = rest.get(..lc).unwrap_or_default().to_vec();
            }
        }
        Ok(cmd)
    }

    /// The ISO case (1 to 4) of this command.
    pub fn case(&self) -> u8 {
        match (self.data.is_empty(), self.ne.is_some()) {
            (true, false) => 1,
            (true, true) => 2,
            (false, false) => 3,
            (false, true) => 4,
        }
    }
}

impl Response {
    /// A response with `data` and `sw`.
    pub fn new(data: Vec<u8>, sw: StatusWord) -> Self {
        Self { data, sw }
    }

    /// A response with only a status word.
    pub fn status(sw: StatusWord) -> Self {
        Self::new(Vec::new(), sw)
    }

    /// Parses one whole response APDU: data, then SW1 SW2.
    pub fn parse(bytes: &[u8]) -> Result<Self, GpError> {
        let [data @ .., sw1, sw2] = bytes else {
            return Err(GpError::Malformed("response shorter than its status word"));
        };
        Ok(Self::new(
            data.to_vec(),
            StatusWord(u16::from_be_bytes([*sw1, *sw2])),
        ))
    }

    /// The wire encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn all_cases_short_and_extended() {
        let cases = [
            ("80F22002", 1, 0, None),
            ("80CA006600", 2, 0, Some(256)),
            ("80F220020A4F0212345C054F9F70C5", 3, 10, None),
            ("80F28002024F0000", 4, 2, Some(256)),
            ("80CA0066000100", 2, 0, Some(256)),
            ("80CA0066000000", 2, 0, Some(65_536)),
        ];
        for (hex, case, lc, ne) in cases {
            let cmd = Command::parse(&h(hex)).unwrap();
            assert_eq!(
                (cmd.case(), cmd.data.len(), cmd.ne),
                (case, lc, ne),
                "{hex}"
            );
        }
        // Extended case 3 and 4 with 300 data bytes.
        let cmd = Command::new(0x80, 0xE2, 0x80, 0).with_data(vec![0xAB; 300]);
        let wire = cmd.encode().unwrap();
        assert_eq!(&wire[4..7], &[0x00, 0x01, 0x2C]);
        assert_eq!(Command::parse(&wire).unwrap(), cmd);
        let cmd = cmd.with_ne(65_536);
        let wire = cmd.encode().unwrap();
        assert_eq!(&wire[wire.len() - 2..], &[0, 0]);
        assert_eq!(Command::parse(&wire).unwrap(), cmd);
        // A short Le of 256 with extended data is encoded extended, 0100.
        let cmd = Command::new(0, 0xB0, 0, 0).with_ne(257);
        assert_eq!(cmd.encode().unwrap(), h("00B00000000101"));
    }

    #[test]
    fn refuses_length_mismatches() {
        for bad in [
            "80",                 // no header
            "80F220",             // 3 bytes
            "80F220020A4F02",     // Lc 10, 2 bytes
            "80F22002024F000000", // Lc 2, then two more bytes
            "80F220020005",       // Lc 00 in short form
        ] {
            assert!(Command::parse(&h(bad)).is_err(), "{bad}");
        }
        assert!(
            Command::parse(&h("80F22002000000AA")).is_err(),
            "extended Lc 0"
        );
        assert!(
            Command::parse(&h("80F2200200000201")).is_err(),
            "extended Lc 2, 1 byte"
        );
        assert!(Response::parse(&[0x90]).is_err());
        assert_eq!(
            Response::parse(&h("9000")).unwrap(),
            Response::status(StatusWord::OK)
        );
    }

    fn command() -> impl Strategy<Value = Command> {
        (
            any::<[u8; 4]>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..20),
                proptest::collection::vec(any::<u8>(), 250..400),
            ],
            proptest::option::of(1u32..=65_536),
        )
            .prop_map(|([cla, ins, p1, p2], data, ne)| Command {
                cla,
                ins,
                p1,
                p2,
                data,
                ne,
            })
    }

    proptest! {
        #[test]
        fn round_trips(cmd in command()) {
            let wire = cmd.encode().unwrap();
            prop_assert_eq!(Command::parse(&wire).unwrap(), cmd);
        }

        #[test]
        fn never_panics_and_reencodes_exactly(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(cmd) = Command::parse(&bytes) {
                // Whatever parses re-encodes to the same bytes, unless the input used the
                // extended form where the short one would do.
                if !(bytes.len() > 4 && bytes[4] == 0 && !cmd.is_extended()) {
                    prop_assert_eq!(cmd.encode().unwrap(), bytes.clone());
                }
            }
            if let Ok(resp) = Response::parse(&bytes) {
                prop_assert_eq!(resp.encode(), bytes);
            }
        }
    }
}
