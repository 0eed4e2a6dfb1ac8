//! The payment applet: holds one token credential, personalised by STORE DATA, and answers
//! GENERATE APPLICATION CRYPTOGRAM with the ARQC of docs/protocol.md §16.1, made from the
//! device-bound key.
//!
//! Personalisation profile (Provisio's own, in the shape of EMV CPS; docs/protocol.md §13.10):
//!
//! ```text
//!  DGI 0101  token data, BER-TLV: 5A token PAN (BCD, F-padded) ‖ 5F24 expiry YYMMDD
//!  DGI 8000  the 16-byte AES-128 cryptogram key; its value encrypted under the personalising
//!            domain's K-DEK (AES-CBC, zero IV, padding method 2) when STORE DATA P1 says
//!            "encrypted"; a DGI of the 8000 series is refused in clear
//!  GENERATE AC  80 AE 80 00 11 ‖ amount (6, BCD) ‖ currency (2, BCD) ‖ country (2, BCD)
//!               ‖ date (3, BCD YYMMDD) ‖ unpredictable number (4) ‖ 00
//!  response  77 { 9F27 80 (ARQC), 9F36 ATC, 9F26 AC }
//!  AC = provisio_emv::arqc(key, ATC, transaction): AES-CMAC(SK, D)[..8] with
//!       SK = AES-128-ECB(key, ATC ‖ F0 ‖ 00 × 13), D = the 17 bytes ‖ ATC
//! ```
//!
//! The ATC moves before each cryptogram, starting at 1, and never repeats; at FFFF the applet
//! refuses (`6985`). Data of another length is `6700`, data that is not the BCD of a
//! transaction `6A80`.

use provisio_crypto::AesKey;
use provisio_emv::{Atc, Transaction};
use provisio_gp::command::{Dgi, Encryption, StoreData};
use provisio_gp::scp03::unpad;
use provisio_gp::tlv::Tlv;
use provisio_gp::{Command, Response, StatusWord};
use serde::{Deserialize, Serialize};

/// INS of GENERATE APPLICATION CRYPTOGRAM.
pub const INS_GENERATE_AC: u8 = 0xAE;
/// DGI of the token data.
pub const DGI_TOKEN: u16 = 0x0101;
/// DGI of the cryptogram key.
pub const DGI_KEY: u16 = 0x8000;

/// The applet's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PaymentApplet {
    credential: Option<Credential>,
    #[serde(skip)]
    staged: Vec<Dgi>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Credential {
    /// BCD token PAN as sent (5A value).
    token: String,
    expiry: String,
    #[serde(with = "crate::keys_serde::one")]
    key: AesKey,
    atc: u16,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("token", &"[REDACTED]")
            .field("atc", &self.atc)
            .finish_non_exhaustive()
    }
}

/// What a personalised applet shows (no key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialView {
    /// The token PAN, masked to its last four digits.
    pub token_last4: String,
    /// Expiry, YYMMDD.
    pub expiry: String,
    /// The application transaction counter.
    pub atc: u16,
}

impl PaymentApplet {
    /// Whether the credential is installed.
    pub fn is_personalized(&self) -> bool {
        self.credential.is_some()
    }

    /// The installed credential, masked.
    pub fn view(&self) -> Option<CredentialView> {
        self.credential.as_ref().map(|c| CredentialView {
            token_last4: c
                .token
                .trim_end_matches(['F', 'f'])
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect(),
            expiry: c.expiry.clone(),
            atc: c.atc,
        })
    }

    /// One STORE DATA block forwarded by the applet's security domain, whose K-DEK decrypts
    /// encrypted DGIs. On the last block the credential is installed all at once, or not at
    /// all; a personalised applet refuses more data (a script is never applied twice).
    pub fn store_data(&mut self, block: &StoreData, dek: &AesKey) -> StatusWord {
        if self.credential.is_some() {
            return StatusWord::CONDITIONS_NOT_SATISFIED;
        }
        let Ok(dgis) = Dgi::parse_all(&block.data) else {
            self.staged.clear();
            return StatusWord::INCORRECT_DATA;
        };
        for mut dgi in dgis {
            if dgi.id & 0x8000 != 0 {
                if block.encryption != Encryption::Encrypted || dgi.data.len() % 16 != 0 {
                    self.staged.clear();
                    return StatusWord::INCORRECT_DATA;
                }
                if dek.cbc_decrypt(&[0; 16], &mut dgi.data).is_err()
                    || unpad(&mut dgi.data).is_err()
                {
                    self.staged.clear();
                    return StatusWord::INCORRECT_DATA;
                }
            }
            self.staged.push(dgi);
        }
        if !block.last {
            return StatusWord::OK;
        }
        let staged = std::mem::take(&mut self.staged);
        match Self::credential_from(&staged) {
            Some(c) => {
                self.credential = Some(c);
                StatusWord::OK
            }
            None => StatusWord::INCORRECT_DATA,
        }
    }

    fn credential_from(dgis: &[Dgi]) -> Option<Credential> {
        let token = dgis.iter().find(|d| d.id == DGI_TOKEN)?;
        let key = dgis.iter().find(|d| d.id == DGI_KEY)?;
        let tlvs = Tlv::parse_all(&token.data).ok()?;
        let pan = Tlv::find(&tlvs, 0x5A)?.value.clone();
        let expiry = Tlv::find(&tlvs, 0x5F24)?.value.clone();
        if !(6..=10).contains(&pan.len()) || expiry.len() != 3 || key.data.len() != 16 {
            return None;
        }
        Some(Credential {
            token: hex::encode_upper(pan),
            expiry: hex::encode_upper(expiry),
            key: AesKey::from_bytes(&key.data).ok()?,
            atc: 0,
        })
    }

    /// A command sent to the selected applet.
    pub fn process(&mut self, cmd: &Command) -> Response {
        if cmd.ins != INS_GENERATE_AC {
            return Response::status(StatusWord::INS_NOT_SUPPORTED);
        }
        if cmd.cla != 0x80 || cmd.p2 != 0 {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        let Some(c) = self.credential.as_mut() else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        let Ok(terminal) = <&[u8; 17]>::try_from(cmd.data.as_slice()) else {
            return Response::status(StatusWord::WRONG_LENGTH);
        };
        let Ok(transaction) = Transaction::from_bytes(terminal) else {
            return Response::status(StatusWord::INCORRECT_DATA);
        };
        // The counter moves before the cryptogram: 0 (never used) gives 1, FFFF gives none.
        let Some(atc) = Atc::new(c.atc).map_or(Some(Atc::FIRST), Atc::next) else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        // The key is 16 bytes by `credential_from`, so `arqc` cannot fail; were it to, no
        // cryptogram is made and the counter stays where it was.
        let Ok(ac) = provisio_emv::arqc(&c.key, atc, &transaction) else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        c.atc = atc.get();
        let body = [
            Tlv::new(0x9F27, vec![0x80]).encode(),
            Tlv::new(0x9F36, atc.get().to_be_bytes().to_vec()).encode(),
            Tlv::new(0x9F26, ac.to_vec()).encode(),
        ]
        .concat();
        Response::new(Tlv::new(0x77, body).encode(), StatusWord::OK)
    }
}

/// The GENERATE AC command for a transaction: its 17 terminal bytes (docs/protocol.md §13.10).
pub fn generate_ac(transaction: &Transaction) -> Command {
    Command::new(0x80, INS_GENERATE_AC, 0x80, 0x00)
        .with_data(transaction.terminal_bytes().to_vec())
        .with_ne(256)
}

/// The personalisation DGIs for a token: DGI 0101 in clear and DGI 8000 encrypted under `dek`.
/// Send them in one STORE DATA block with P1 "encrypted, DGI, last".
pub fn personalization_data(
    token_bcd: &[u8],
    expiry_yymmdd: &[u8; 3],
    key: &AesKey,
    dek: &AesKey,
) -> Vec<u8> {
    let token = [
        Tlv::new(0x5A, token_bcd.to_vec()).encode(),
        Tlv::new(0x5F24, expiry_yymmdd.to_vec()).encode(),
    ]
    .concat();
    let mut wrapped = provisio_gp::scp03::pad(key.export().expose());
    // `pad` returns whole blocks, so this cannot fail.
    let _ = dek.cbc_encrypt(&[0; 16], &mut wrapped);
    [
        Dgi::new(DGI_TOKEN, token).encode(),
        Dgi::new(DGI_KEY, wrapped).encode(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = [0xC7; 16];

    fn personalised(atc: u16) -> PaymentApplet {
        PaymentApplet {
            credential: Some(Credential {
                token: "4999990000001234".into(),
                expiry: "291231".into(),
                key: AesKey::from_bytes(&KEY).unwrap(),
                atc,
            }),
            staged: Vec::new(),
        }
    }

    fn transaction() -> Transaction {
        Transaction::parse(1250, "978", "250", "261203", "0a1b2c3d").unwrap()
    }

    /// The ATC and AC of a GENERATE AC answer.
    fn answer(r: &Response) -> (u16, Vec<u8>) {
        let kids = Tlv::parse_one(&r.data).unwrap().children().unwrap();
        assert_eq!(Tlv::find(&kids, 0x9F27).unwrap().value, [0x80]);
        let atc = Tlv::find(&kids, 0x9F36).unwrap().value.clone();
        let atc = u16::from_be_bytes(atc.try_into().unwrap());
        (atc, Tlv::find(&kids, 0x9F26).unwrap().value.clone())
    }

    #[test]
    fn the_cryptogram_is_the_contracts_with_a_moving_counter() {
        let mut applet = personalised(0);
        let key = AesKey::from_bytes(&KEY).unwrap();
        let cmd = generate_ac(&transaction());
        assert_eq!(
            cmd.encode().unwrap()[..5],
            [0x80, 0xAE, 0x80, 0x00, 0x11],
            "Lc is 17"
        );
        for expected in 1..=3u16 {
            let r = applet.process(&cmd);
            assert_eq!(r.sw, StatusWord::OK);
            let (atc, ac) = answer(&r);
            assert_eq!(atc, expected);
            let atc = Atc::new(atc).unwrap();
            assert_eq!(ac, provisio_emv::arqc(&key, atc, &transaction()).unwrap());
        }
        assert_eq!(applet.view().unwrap().atc, 3);
    }

    #[test]
    fn the_last_counter_is_used_once_then_refused() {
        let mut applet = personalised(0xFFFE);
        let r = applet.process(&generate_ac(&transaction()));
        assert_eq!((r.sw, answer(&r).0), (StatusWord::OK, 0xFFFF));
        let r = applet.process(&generate_ac(&transaction()));
        assert_eq!(r.sw, StatusWord::CONDITIONS_NOT_SATISFIED);
        assert!(r.data.is_empty());
        assert_eq!(applet.view().unwrap().atc, 0xFFFF);
    }

    #[test]
    fn malformed_data_is_refused_without_moving_the_counter() {
        let mut applet = personalised(0);
        let terminal = transaction().terminal_bytes();
        let with = |data: Vec<u8>| {
            Command::new(0x80, INS_GENERATE_AC, 0x80, 0x00)
                .with_data(data)
                .with_ne(256)
        };
        for data in [
            Vec::new(),
            terminal[..12].to_vec(),
            terminal[..16].to_vec(),
            [terminal.as_slice(), &[0]].concat(),
        ] {
            let r = applet.process(&with(data));
            assert_eq!(r.sw, StatusWord::WRONG_LENGTH);
        }
        for (at, byte) in [
            (0, 0x0A),
            (5, 0xF0),
            (6, 0x19),
            (8, 0x10),
            (11, 0x13),
            (12, 0x32),
        ] {
            let mut bad = terminal;
            bad[at] = byte;
            let r = applet.process(&with(bad.to_vec()));
            assert_eq!(r.sw, StatusWord::INCORRECT_DATA, "byte {at} = {byte:02X}");
        }
        assert_eq!(applet.view().unwrap().atc, 0);
        let r = applet.process(&generate_ac(&transaction()));
        assert_eq!(answer(&r).0, 1, "the first good command still gets ATC 1");
    }

    #[test]
    fn an_empty_applet_makes_no_cryptogram() {
        let r = PaymentApplet::default().process(&generate_ac(&transaction()));
        assert_eq!(r.sw, StatusWord::CONDITIONS_NOT_SATISFIED);
    }
}
