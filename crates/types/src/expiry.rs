//! Card and token expiry dates (month and year).

use crate::UnixSeconds;

/// An expiry date: the card is valid through the last day of `month` of `year`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expiry {
    year: u16,
    month: u8,
}

/// Why a month and year are not an expiry date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpiryError {
    /// The month is not 1 to 12.
    #[error("exp_month must be 1 to 12")]
    Month,
    /// The year is not a four-digit year from 2000 to 2099.
    #[error("exp_year must be a four-digit year from 2000 to 2099")]
    Year,
}

impl Expiry {
    /// Checks month 1-12 and a four-digit year in 2000-2099.
    pub fn new(month: u32, year: u32) -> Result<Self, ExpiryError> {
        let month = u8::try_from(month)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or(ExpiryError::Month)?;
        let year = u16::try_from(year)
            .ok()
            .filter(|y| (2000..=2099).contains(y))
            .ok_or(ExpiryError::Year)?;
        Ok(Self { year, month })
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The four-digit year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// Whether the card has expired at `now`: true from the first day of the following month
    /// (UTC).
    pub fn is_past(self, now: UnixSeconds) -> bool {
        let (y, m) = year_month(now);
        (i64::from(self.year), u32::from(self.month)) < (y, m)
    }

    /// The expiry `months` after the month containing `now`.
    pub fn months_after(now: UnixSeconds, months: u32) -> Result<Self, ExpiryError> {
        let (y, m) = year_month(now);
        let total = y * 12 + i64::from(m - 1) + i64::from(months);
        let year = u32::try_from(total.div_euclid(12)).map_err(|_| ExpiryError::Year)?;
        // rem_euclid(12) is in 0..12.
        let month = total.rem_euclid(12) as u32 + 1;
        Self::new(month, year)
    }
}

/// Civil year and month (UTC) of a Unix time, by H. Hinnant's `civil_from_days` algorithm.
fn year_month(t: UnixSeconds) -> (i64, u32) {
    let z = t.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // month is in 1..=12.
    (year, month as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(year_month(0), (1970, 1));
        // 2026-11-23T00:00:00Z
        assert_eq!(year_month(1_795_392_000), (2026, 11));
        // 2024-02-29T23:59:59Z
        assert_eq!(year_month(1_709_251_199), (2024, 2));
        assert_eq!(year_month(1_709_251_200), (2024, 3));
    }

    #[test]
    fn past_and_future() {
        let now = 1_795_392_000; // November 2026
        assert!(!Expiry::new(11, 2026).unwrap().is_past(now));
        assert!(Expiry::new(10, 2026).unwrap().is_past(now));
        assert!(!Expiry::new(1, 2027).unwrap().is_past(now));
        assert_eq!(
            Expiry::months_after(now, 36).unwrap(),
            Expiry::new(11, 2029).unwrap()
        );
        assert_eq!(
            Expiry::months_after(now, 2).unwrap(),
            Expiry::new(1, 2027).unwrap()
        );
        assert_eq!(Expiry::new(13, 2026), Err(ExpiryError::Month));
        assert_eq!(Expiry::new(0, 2026), Err(ExpiryError::Month));
        assert_eq!(Expiry::new(1, 26), Err(ExpiryError::Year));
    }
}
