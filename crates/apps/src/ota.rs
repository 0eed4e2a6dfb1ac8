//! The phone's OTA client core (US 8,060,449): the part of the wallet SDK that relays a TSM's
//! admin session to the secure element. It reads nothing of what it relays: at level 33 the
//! commands are ciphertext with a MAC, and a changed byte is refused by the element.
//!
//! ```text
//!  TSM ─command (hex)─► OtaClient::relay ─► element ─► response (hex) + memory image
//!                                            the SDK stores the image, then sends the response
//! ```

use provisio_se::VirtualSe;

use crate::AppError;

/// The OTA client with the phone's (virtual) secure element.
#[derive(Debug)]
pub struct OtaClient {
    element: VirtualSe,
}

/// What one relayed command produced.
#[derive(Debug)]
pub struct Relayed {
    /// The element's response APDU, hex, to pass back to the TSM.
    pub response: String,
    /// The element's memory image after the command: store it before sending the response,
    /// so an element that answered is never rolled back.
    pub image: String,
}

impl OtaClient {
    /// An OTA client for `element`.
    pub fn new(element: VirtualSe) -> Self {
        Self { element }
    }

    /// The element, for the wallet's own use (payments).
    pub fn element(&mut self) -> &mut VirtualSe {
        &mut self.element
    }

    /// Passes one command APDU (hex) from a TSM to the element.
    pub fn relay(&mut self, command_hex: &str) -> Result<Relayed, AppError> {
        let command = hex::decode(command_hex)
            .map_err(|_| AppError::Ota("the TSM sent a command that is not hex"))?;
        let response = self.element.transmit(&command);
        Ok(Relayed {
            response: hex::encode_upper(response),
            image: self.element.to_image(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use provisio_gp::scp03::{SecurityLevel, StaticKeys};

    use super::*;

    #[test]
    fn relays_and_hands_back_the_image() {
        let keys = StaticKeys::from_bytes(0x30, &[1; 16], &[2; 16], &[3; 16]).unwrap();
        let mut ota = OtaClient::new(VirtualSe::new(keys, [0; 10], SecurityLevel::CMAC));
        let r = ota.relay("80CA00C100").unwrap();
        assert_eq!(r.response, "C1030000009000");
        assert!(VirtualSe::from_image(&r.image).is_ok());
        assert!(matches!(ota.relay("zz"), Err(AppError::Ota(_))));
        // A malformed APDU is the element's to refuse, with a status word.
        assert_eq!(ota.relay("80").unwrap().response, "6700");
    }
}
