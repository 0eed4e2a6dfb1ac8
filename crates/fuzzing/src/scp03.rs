//! Target `scp03_unwrap`: secure messaging of an open SCP03 session at level `33` (GPC
//! Amendment D 6.2.4 to 6.2.7), both directions, as the card and the host receive the
//! other's bytes.

use provisio_gp::{Command, GpError, Response};

use crate::fixture::scp03_session;

/// Feeds `data` to the card as the first command of the fixed session, and to the host as
/// the response to it. A refused command is `CommandMac`, `Padding` or a malformed APDU;
/// an accepted one is exactly what the host makes of the plain command (so only the seed
/// the host wrapped passes: forging a C-MAC is the 2^-64 event Amendment D 6.2.4 rests on).
/// A response the host accepts is exactly what the card makes of the plain response.
pub fn scp03_unwrap(data: &[u8]) {
    let (mut host, mut card) = scp03_session();
    if let Ok(cmd) = Command::parse(data) {
        match card.unwrap(cmd.clone()) {
            Ok(plain) => {
                let again = host
                    .wrap(plain)
                    .unwrap_or_else(|e| panic!("an unwrapped command does not wrap: {e}"));
                assert_eq!(again, cmd, "wrap(unwrap(x)) == x");
            }
            Err(GpError::CommandMac | GpError::Padding) => {}
            Err(e) => panic!("a command is refused with {e:?}, not CommandMac or Padding"),
        }
    }
    let (host, card) = scp03_session();
    if let Ok(resp) = Response::parse(data) {
        match host.unwrap(resp.clone()) {
            Ok(plain) if resp.sw.is_success_or_warning() => {
                assert_eq!(card.wrap(plain), resp, "wrap(unwrap(x)) == x");
            }
            // Error responses travel unprotected (Amendment D 6.2.5).
            Ok(plain) => assert_eq!(plain, resp, "an error response passes as it is"),
            Err(GpError::ResponseMac | GpError::Padding) => {}
            Err(e) => panic!("a response is refused with {e:?}, not ResponseMac or Padding"),
        }
    }
}
