//! Target `virtual_se`: the virtual secure element (`provisio-se`) fed a sequence of command
//! APDUs, as a phone's element receives them over the air.

use provisio_gp::scp03::SecurityLevel;
use provisio_gp::{Aid, Response};
use provisio_se::VirtualSe;

use crate::fixture::{SCP03_DIVERSIFICATION, scp03_keys};

/// The most commands one input sends, so that an input's run time stays bounded.
const MAX_COMMANDS: usize = 32;

/// Splits `data` into APDUs, each preceded by its length byte, and transmits them in order
/// to a fresh element whose issuer security domain holds the fixture's SCP03 keys. Every
/// answer is a response APDU; the sequence counter never goes back (Amendment D 6.2.2.1);
/// the memory image the caller stores restores to the same element.
pub fn virtual_se(data: &[u8]) {
    let level = SecurityLevel::from_byte(0x03)
        .unwrap_or_else(|e| panic!("03 is a level of Amendment D 7.1.2: {e}"));
    let mut se = VirtualSe::new(scp03_keys(), SCP03_DIVERSIFICATION, level);
    let isd = Aid::isd();
    let mut counter = se.counter(&isd);
    let mut rest = data;
    for _ in 0..MAX_COMMANDS {
        let Some((&len, tail)) = rest.split_first() else {
            break;
        };
        let (apdu, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let answer = se.transmit(apdu);
        assert!(
            Response::parse(&answer).is_ok(),
            "an answer is a response APDU"
        );
        let now = se.counter(&isd);
        assert!(now >= counter, "the sequence counter went back");
        counter = now;
    }
    let image = se.to_image();
    let restored = VirtualSe::from_image(&image)
        .unwrap_or_else(|e| panic!("the element's own image does not restore: {e}"));
    assert_eq!(
        restored.counter(&isd),
        counter,
        "the counter survives a restart"
    );
    assert_eq!(
        restored.life_cycle(),
        se.life_cycle(),
        "the life cycle survives a restart"
    );
}
