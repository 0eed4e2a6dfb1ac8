//! The Luhn (mod 10) check digit of ISO/IEC 7812-1 annex B.

/// Whether `digits` (ASCII digits only, check digit last) passes the Luhn check.
///
/// Returns `false` for an empty string or any non-digit byte.
pub fn luhn_valid(digits: &str) -> bool {
    let Some((&check, body)) = digits.as_bytes().split_last() else {
        return false;
    };
    if !check.is_ascii_digit() {
        return false;
    }
    luhn_check_digit(body_str(body)) == Some(check - b'0')
}

/// The check digit that makes `partial` (ASCII digits, without check digit) Luhn-valid.
///
/// Returns `None` if `partial` holds a non-digit byte.
pub fn luhn_check_digit(partial: &str) -> Option<u8> {
    let mut sum: u32 = 0;
    // Double every second digit counting from the right, starting with the rightmost digit of
    // the partial number (it sits next to the check digit).
    for (i, b) in partial.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = u32::from(b - b'0');
        sum += if i % 2 == 0 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    // `sum % 10` is below 10, so the result fits a u8.
    Some(((10 - sum % 10) % 10) as u8)
}

fn body_str(body: &[u8]) -> &str {
    // Non-UTF-8 cannot pass the digit check anyway; an empty string yields check digit 0 only
    // for a one-digit input, which `Pan::parse` rejects on length.
    std::str::from_utf8(body).unwrap_or("x")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        // Test card numbers published by card networks for integration testing.
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("5555555555554444"));
        assert!(luhn_valid("378282246310005"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("41111111x1111111"));
        assert_eq!(luhn_check_digit("411111111111111"), Some(1));
        assert_eq!(luhn_check_digit("7992739871"), Some(3));
    }

    proptest::proptest! {
        #[test]
        fn completing_makes_valid(body in "[0-9]{11,18}") {
            let d = luhn_check_digit(&body).unwrap();
            let full = format!("{body}{d}");
            proptest::prop_assert!(luhn_valid(&full));
            // Any other check digit is invalid.
            let other = format!("{body}{}", (d + 1) % 10);
            proptest::prop_assert!(!luhn_valid(&other));
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = luhn_valid(&s);
        }
    }
}
