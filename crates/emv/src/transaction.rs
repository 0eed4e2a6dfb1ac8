//! The transaction data a cryptogram covers, parsed from its wire form once.

use std::fmt;

/// The application transaction counter: 2 bytes, incremented by the device before every
/// cryptogram, starting at 1 (docs/protocol.md §16.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Atc(u16);

impl Atc {
    /// The first counter a device uses.
    pub const FIRST: Atc = Atc(1);

    /// A counter; 0 is never used by a device.
    pub fn new(value: u16) -> Option<Self> {
        (value != 0).then_some(Self(value))
    }

    /// Its value.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The next counter, or `None` when the 2 bytes are spent (the card must be replaced).
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

/// What is wrong with a transaction's wire fields (the caller's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// More than 12 decimal digits of minor units.
    #[error("amount_minor must be between 0 and 999999999999")]
    Amount,
    /// Not 3 decimal digits.
    #[error("currency must be an ISO 4217 numeric code of 3 digits")]
    Currency,
    /// Not 3 decimal digits.
    #[error("country must be an ISO 3166 numeric code of 3 digits")]
    Country,
    /// Not a valid YYMMDD date.
    #[error("transaction_date must be a date as YYMMDD")]
    Date,
    /// Not 8 hexadecimal characters.
    #[error("unpredictable_number must be 8 hexadecimal characters")]
    UnpredictableNumber,
    /// Zero (a device starts at 1).
    #[error("atc must be between 1 and 65535")]
    Atc,
}

/// One transaction's data, `D` of docs/protocol.md §16.1 once encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Transaction {
    amount: [u8; 6],
    currency: [u8; 2],
    country: [u8; 2],
    date: [u8; 3],
    unpredictable_number: [u8; 4],
}

impl Transaction {
    /// Parses the wire fields: amount in minor units, ISO 4217 and ISO 3166 numeric codes of 3
    /// digits, the date as YYMMDD, the terminal's unpredictable number as 8 hex characters.
    pub fn parse(
        amount_minor: u64,
        currency: &str,
        country: &str,
        date: &str,
        unpredictable_number: &str,
    ) -> Result<Self, TransactionError> {
        if amount_minor > 999_999_999_999 {
            return Err(TransactionError::Amount);
        }
        let mut amount = [0u8; 6];
        bcd(&format!("{amount_minor:012}"), &mut amount).ok_or(TransactionError::Amount)?;
        let mut cur = [0u8; 2];
        three_digits(currency, &mut cur).ok_or(TransactionError::Currency)?;
        let mut ctry = [0u8; 2];
        three_digits(country, &mut ctry).ok_or(TransactionError::Country)?;
        let mut d = [0u8; 3];
        if !valid_yymmdd(date) {
            return Err(TransactionError::Date);
        }
        bcd(date, &mut d).ok_or(TransactionError::Date)?;
        let hex = unpredictable_number.as_bytes();
        if hex.len() != 8 || !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(TransactionError::UnpredictableNumber);
        }
        let mut un = [0u8; 4];
        for (byte, pair) in un.iter_mut().zip(hex.chunks_exact(2)) {
            let [hi, lo] = pair else {
                return Err(TransactionError::UnpredictableNumber);
            };
            *byte = (nibble(*hi) << 4) | nibble(*lo);
        }
        Ok(Self {
            amount,
            currency: cur,
            country: ctry,
            date: d,
            unpredictable_number: un,
        })
    }

    /// From the bytes a terminal sends in GENERATE AC (amount 6 BCD, currency 2 BCD, country
    /// 2 BCD, date 3 BCD, unpredictable number 4), checking the BCD.
    pub fn from_bytes(data: &[u8; 17]) -> Result<Self, TransactionError> {
        let take = |r: std::ops::Range<usize>| data.get(r).unwrap_or_default();
        let digits = |b: &[u8]| b.iter().all(|x| x >> 4 < 10 && x & 0x0F < 10);
        let (amount, currency, country, date, un) = (
            take(0..6),
            take(6..8),
            take(8..10),
            take(10..13),
            take(13..17),
        );
        if !digits(amount) {
            return Err(TransactionError::Amount);
        }
        if !digits(currency) || currency.first().is_some_and(|b| b >> 4 != 0) {
            return Err(TransactionError::Currency);
        }
        if !digits(country) || country.first().is_some_and(|b| b >> 4 != 0) {
            return Err(TransactionError::Country);
        }
        if !digits(date) || !valid_yymmdd(&unbcd(date)) {
            return Err(TransactionError::Date);
        }
        Ok(Self {
            amount: amount.try_into().map_err(|_| TransactionError::Amount)?,
            currency: currency
                .try_into()
                .map_err(|_| TransactionError::Currency)?,
            country: country.try_into().map_err(|_| TransactionError::Country)?,
            date: date.try_into().map_err(|_| TransactionError::Date)?,
            unpredictable_number: un
                .try_into()
                .map_err(|_| TransactionError::UnpredictableNumber)?,
        })
    }

    /// The 17 bytes a terminal sends in GENERATE AC: `D` without the ATC.
    pub fn terminal_bytes(&self) -> [u8; 17] {
        let mut out = [0u8; 17];
        out[..6].copy_from_slice(&self.amount);
        out[6..8].copy_from_slice(&self.currency);
        out[8..10].copy_from_slice(&self.country);
        out[10..13].copy_from_slice(&self.date);
        out[13..].copy_from_slice(&self.unpredictable_number);
        out
    }

    /// `D` (docs/protocol.md §16.1): amount ‖ currency ‖ country ‖ date ‖ unpredictable
    /// number ‖ ATC, 19 bytes.
    pub fn data(&self, atc: Atc) -> [u8; 19] {
        let mut out = [0u8; 19];
        out[..17].copy_from_slice(&self.terminal_bytes());
        out[17..].copy_from_slice(&atc.get().to_be_bytes());
        out
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Nothing here is secret, but the unpredictable number is noise in a log.
        f.debug_struct("Transaction")
            .field("amount", &unbcd(&self.amount))
            .field("currency", &unbcd(&self.currency))
            .field("country", &unbcd(&self.country))
            .field("date", &unbcd(&self.date))
            .finish_non_exhaustive()
    }
}

/// Packs an even number of decimal digits into BCD.
fn bcd(digits: &str, out: &mut [u8]) -> Option<()> {
    let bytes = digits.as_bytes();
    if bytes.len() != 2 * out.len() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *o = ((hi - b'0') << 4) | (lo - b'0');
    }
    Some(())
}

/// A 3-digit numeric code as 2 BCD bytes, left-padded with a zero nibble (EMV `n 3`).
fn three_digits(code: &str, out: &mut [u8; 2]) -> Option<()> {
    if code.len() != 3 {
        return None;
    }
    bcd(&format!("0{code}"), out)
}

/// One hexadecimal digit's value (the caller checked it is one).
fn nibble(h: u8) -> u8 {
    match h {
        b'0'..=b'9' => h - b'0',
        b'a'..=b'f' => h - b'a' + 10,
        _ => h.wrapping_sub(b'A').wrapping_add(10) & 0x0F,
    }
}

fn unbcd(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .map(|n| char::from(b'0' + n.min(9)))
        .collect()
}

fn valid_yymmdd(date: &str) -> bool {
    let [y0, y1, m0, m1, d0, d1] = date.as_bytes() else {
        return false;
    };
    if ![y0, y1, m0, m1, d0, d1].iter().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let n = |hi: u8, lo: u8| u32::from(hi - b'0') * 10 + u32::from(lo - b'0');
    let (yy, mm, dd) = (n(*y0, *y1), n(*m0, *m1), n(*d0, *d1));
    let leap = yy % 4 == 0; // 2000 to 2099
    let days = match mm {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&dd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_documented_layout() {
        let t = Transaction::parse(1250, "978", "250", "261203", "0a1B2c3D").unwrap();
        let d = t.data(Atc::new(0x0102).unwrap());
        assert_eq!(
            d.to_vec(),
            [
                0x00, 0x00, 0x00, 0x00, 0x12, 0x50, // amount
                0x09, 0x78, // currency
                0x02, 0x50, // country
                0x26, 0x12, 0x03, // date
                0x0A, 0x1B, 0x2C, 0x3D, // unpredictable number
                0x01, 0x02, // ATC
            ]
        );
        assert_eq!(
            Transaction::from_bytes(&t.terminal_bytes()).unwrap(),
            t,
            "the terminal's bytes read back"
        );
    }

    #[test]
    fn refuses_malformed_fields() {
        let ok = |a, c, k, d, u| Transaction::parse(a, c, k, d, u);
        assert_eq!(
            ok(1_000_000_000_000, "978", "250", "261203", "00000000"),
            Err(TransactionError::Amount)
        );
        assert!(ok(999_999_999_999, "978", "250", "261203", "00000000").is_ok());
        for c in ["97", "9780", "97a", "", "+97"] {
            assert_eq!(
                ok(1, c, "250", "261203", "00000000"),
                Err(TransactionError::Currency)
            );
        }
        assert_eq!(
            ok(1, "978", "25", "261203", "00000000"),
            Err(TransactionError::Country)
        );
        for d in ["261303", "261200", "260230", "250229", "2612031", "26120a"] {
            assert_eq!(
                ok(1, "978", "250", d, "00000000"),
                Err(TransactionError::Date),
                "{d}"
            );
        }
        assert!(
            ok(1, "978", "250", "240229", "00000000").is_ok(),
            "leap day"
        );
        for u in [
            "0000000",
            "000000000",
            "0000000g",
            "+0000000",
            "-1000000",
            "é000000",
        ] {
            assert_eq!(
                ok(1, "978", "250", "261203", u),
                Err(TransactionError::UnpredictableNumber),
                "{u}"
            );
        }
        let mut bad = Transaction::parse(1, "978", "250", "261203", "00000000")
            .unwrap()
            .terminal_bytes();
        bad[0] = 0x0A;
        assert_eq!(Transaction::from_bytes(&bad), Err(TransactionError::Amount));
        assert_eq!(Atc::new(0), None);
        assert_eq!(Atc::new(u16::MAX).and_then(Atc::next), None);
    }
}
