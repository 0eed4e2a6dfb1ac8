//! Target `apdu`: command and response APDUs (ISO/IEC 7816-4 5.1, short and extended Lc/Le)
//! and the GlobalPlatform command parsers a security domain runs on them (GPC 2.3 chapter
//! 11).

use provisio_crypto::AesKey;
use provisio_gp::command::{
    self, Install, StoreData, delete, parse_delete, parse_key_information, parse_load,
    parse_put_key, parse_select, parse_set_status, select, set_status,
};
use provisio_gp::scp03::{HostHandshake, SecurityLevel, StaticKeys, parse_initialize_update};
use provisio_gp::{Command, Response};

/// Parses `data` as a command and as a response APDU; hands a parsed command to every GP
/// command parser. Whatever parses re-encodes to a value that parses back to itself.
pub fn apdu(data: &[u8]) {
    if let Ok(resp) = Response::parse(data) {
        // A response is data ‖ SW1 SW2: one encoding only.
        assert_eq!(resp.encode(), data, "a response re-encodes byte for byte");
    }
    let Ok(cmd) = Command::parse(data) else {
        return;
    };
    let wire = cmd
        .encode()
        .unwrap_or_else(|e| panic!("a parsed command does not encode: {e}"));
    assert_eq!(
        Command::parse(&wire).as_ref(),
        Ok(&cmd),
        "parse(encode(x)) == x"
    );
    // One encoding per command, but for an extended length where the short one would do
    // (ISO/IEC 7816-4 5.1 allows both; ours writes the short one).
    let long_form_of_short = data.get(4) == Some(&0) && !cmd.is_extended() && data.len() > 5;
    if !long_form_of_short {
        assert_eq!(wire, data, "a command re-encodes byte for byte");
    }
    assert!(wire.len() <= data.len(), "the encoding never grows");
    gp_commands(&cmd);
}

/// Every card-side GP command parser on one command: each refuses with a `GpError` or gives a
/// value whose builder makes a command that parses back to it.
fn gp_commands(cmd: &Command) {
    if let Ok(aid) = parse_select(cmd) {
        assert_eq!(parse_select(&select(&aid)), Ok(aid), "SELECT");
    }
    if let Ok((aid, related)) = parse_delete(cmd) {
        assert_eq!(
            parse_delete(&delete(&aid, related)),
            Ok((aid, related)),
            "DELETE"
        );
    }
    if let Ok(install) = Install::parse(cmd) {
        assert_eq!(Install::parse(&install.command()), Ok(install), "INSTALL");
    }
    if let Ok(block) = StoreData::parse(cmd) {
        assert_eq!(StoreData::parse(&block.command()), Ok(block), "STORE DATA");
    }
    if let Ok((target, state, aid)) = parse_set_status(cmd) {
        assert_eq!(
            parse_set_status(&set_status(target, state, aid.as_ref())),
            Ok((target, state, aid)),
            "SET STATUS"
        );
    }
    if let Ok((subset, next, _prefix)) = command::parse_get_status(cmd) {
        // The builder always asks for every entry (`4F 00`).
        assert_eq!(
            command::parse_get_status(&command::get_status(subset, next)),
            Ok((subset, next, Vec::new())),
            "GET STATUS"
        );
    }
    if let Ok((kvn, challenge)) = parse_initialize_update(cmd) {
        let keys = StaticKeys::from_bytes(kvn, &[1; 16], &[2; 16], &[3; 16])
            .unwrap_or_else(|e| panic!("three 16-byte keys: {e}"));
        let host = HostHandshake::new(keys, challenge, SecurityLevel::CMAC);
        assert_eq!(
            parse_initialize_update(&host.initialize_update()),
            Ok((kvn, challenge)),
            "INITIALIZE UPDATE"
        );
    }
    if let Ok((last, block, body)) = parse_load(cmd) {
        assert!(!body.is_empty() && (cmd.p1 == 0x80) == last && cmd.p2 == block);
    }
    let dek = AesKey::from_bytes(&[0x42; 16]).unwrap_or_else(|e| panic!("a 16-byte key: {e}"));
    let _ = parse_put_key(cmd, &dek);
    let _ = parse_key_information(&cmd.data);
}
