//! The check that no secret reaches an error or a `Debug` output (CONTRIBUTING.md §1, docs/protocol.md §1.3).

use crate::fixture::PAN;

/// The card-shaped runs of the input: maximal runs of 12 to 19 ASCII digits, what a PAN or
/// token PAN looks like on the wire (docs/protocol.md §3.3).
pub(crate) fn card_numbers(input: &[u8]) -> Vec<String> {
    input
        .split(|b| !b.is_ascii_digit())
        .filter(|run| (12..=19).contains(&run.len()))
        .map(|run| String::from_utf8_lossy(run).into_owned())
        .collect()
}

/// Panics if `shown` (an error message, a `Debug` output) holds the fixture's PAN or any of
/// `secrets`. `what` names the output for the panic message, which never quotes the secret.
pub(crate) fn assert_hidden(what: &str, shown: &str, secrets: &[String]) {
    assert!(!shown.contains(PAN), "{what} shows the fixture PAN");
    for (i, s) in secrets.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
        assert!(!shown.contains(s.as_str()), "{what} shows secret #{i}");
    }
}

/// Panics unless `e` is a refusal the peer caused, with one of the `expected` codes, and
/// its message and `Debug` output hold none of `secrets`.
pub(crate) fn assert_peer_refusal<E: provisio_types::Refusal + std::fmt::Debug>(
    what: &str,
    e: &E,
    expected: &[provisio_types::Code],
    secrets: &[String],
) {
    assert!(
        expected.contains(&e.code()),
        "{what}: refused with {}, expected one of {expected:?}",
        e.code().as_str()
    );
    assert_eq!(
        e.fault(),
        provisio_types::Fault::Peer,
        "{what}: a refusal of peer bytes is the peer's fault"
    );
    assert_hidden(what, &e.to_string(), secrets);
    assert_hidden(what, &format!("{e:?}"), secrets);
}
