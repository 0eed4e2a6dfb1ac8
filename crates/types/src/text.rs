//! Names and other free text a peer sends: plain text only. Control characters (C0, DEL, C1)
//! and Unicode's bidirectional formatting characters are refused: a NUL cuts a string short in
//! other systems, and bidi controls make a name display differently from what it is (the
//! "Trojan Source" class, CVE-2021-42574).

/// Whether `s` is 1 to `max` characters of plain text.
pub fn is_plain_text(s: &str, max: usize) -> bool {
    let n = s.chars().count();
    (1..=max).contains(&n) && !s.trim().is_empty() && !s.chars().any(is_hidden)
}

fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_text() {
        assert!(is_plain_text("Ada Lovelace", 100));
        assert!(is_plain_text("Zoë Ñúñez-O'Brien", 100));
        assert!(is_plain_text("銀行", 100));
        for bad in [
            "",
            "   ",
            "Ada\0",
            "Ada\u{7f}",
            "Ada\u{85}",
            "abc\u{202E}fed",
            "x\u{2066}y",
            "a\u{200F}b",
            "a\nb",
        ] {
            assert!(!is_plain_text(bad, 100), "{bad:?}");
        }
        assert!(!is_plain_text(&"a".repeat(101), 100));
        assert!(
            is_plain_text(&"é".repeat(100), 100),
            "characters, not bytes"
        );
    }
}
