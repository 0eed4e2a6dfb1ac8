//! Target `ber_tlv`: BER-TLV (ISO/IEC 7816-4 5.2.2, ISO/IEC 8825-1) and the structures built
//! on it or beside it: GET STATUS entries (GPC table 11-36), key information templates (GPC
//! 11.3.3.1), EMV CPS DGIs (EMV CPS 4.3.1) and the INITIALIZE UPDATE response (Amendment D
//! 7.1.2).

use provisio_gp::command::{Dgi, StatusEntry, key_information, parse_key_information};
use provisio_gp::scp03::InitUpdateResponse;
use provisio_gp::tlv::Tlv;

/// Parses `data` with every TLV-shaped parser. BER-TLV parsing is strict (shortest tags and
/// lengths), so whatever parses re-encodes byte for byte, at every depth.
pub fn ber_tlv(data: &[u8]) {
    // Depth first with an explicit stack: a constructed object nested 2,000 deep must not
    // exhaust the test's stack.
    let mut pending: Vec<Vec<u8>> = vec![data.to_vec()];
    while let Some(bytes) = pending.pop() {
        let Ok(list) = Tlv::parse_all(&bytes) else {
            continue;
        };
        let mut again = Vec::with_capacity(bytes.len());
        for tlv in &list {
            tlv.encode_into(&mut again);
            if tlv.tag.is_constructed() {
                pending.push(tlv.value.clone());
            } else {
                assert!(
                    tlv.children().is_err(),
                    "a primitive object has no children"
                );
            }
        }
        assert_eq!(again, bytes, "BER-TLV re-encodes byte for byte");
        if let [only] = list.as_slice() {
            assert_eq!(Tlv::parse_one(&bytes).as_ref(), Ok(only), "parse_one");
        }
    }
    if let Ok(entries) = StatusEntry::parse_all(data) {
        let wire: Vec<u8> = entries.iter().flat_map(StatusEntry::encode).collect();
        assert_eq!(
            StatusEntry::parse_all(&wire),
            Ok(entries),
            "GET STATUS entries"
        );
    }
    if let Ok(keys) = parse_key_information(data) {
        assert_eq!(
            parse_key_information(&key_information(&keys)),
            Ok(keys),
            "key information"
        );
    }
    if let Ok(dgis) = Dgi::parse_all(data) {
        let wire: Vec<u8> = dgis.iter().flat_map(Dgi::encode).collect();
        assert_eq!(Dgi::parse_all(&wire), Ok(dgis), "DGIs");
    }
    if let Ok(response) = InitUpdateResponse::parse(data) {
        assert_eq!(
            InitUpdateResponse::parse(&response.encode()),
            Ok(response),
            "INITIALIZE UPDATE response"
        );
    }
}
