//! The payment applet: holds one token credential, personalised by STORE DATA, and answers
//! GENERATE APPLICATION CRYPTOGRAM with an ARQC made from the device-bound key.
//!
//! Personalisation profile (Provisio's own, in the shape of EMV CPS):
//!
//! ```text
//!  DGI 0101  token data, BER-TLV: 5A token PAN (BCD, F-padded) ‖ 5F24 expiry YYMMDD
//!  DGI 8000  the 16-byte AES-128 cryptogram key; its value encrypted under the personalising
//!            domain's K-DEK (AES-CBC, zero IV, padding method 2) when STORE DATA P1 says
//!            "encrypted"; a DGI of the 8000 series is refused in clear
//!  GENERATE AC  80 AE 80 00 0C amount (6, BCD) ‖ currency (2) ‖ unpredictable number (4) 00
//!  response  77 { 9F27 80 (ARQC), 9F36 ATC, 9F26 AC }
//!  AC = AES-CMAC(key, ATC ‖ amount ‖ currency ‖ UN)[..8]
//! ```
//!
//! The ATC moves before each cryptogram and never repeats; at FFFF the applet refuses.

use provisio_crypto::AesKey;
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

/// The transaction cryptogram (the verifier's side uses the same function).
pub fn transaction_cryptogram(
    key: &AesKey,
    atc: u16,
    amount: &[u8; 6],
    currency: &[u8; 2],
    un: &[u8; 4],
) -> [u8; 8] {
    let tag = key.cmac(&[&atc.to_be_bytes(), amount, currency, un]);
    *tag.first_chunk::<8>().unwrap_or(&[0; 8])
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
        let [a0, a1, a2, a3, a4, a5, c0, c1, u0, u1, u2, u3] = cmd.data.as_slice() else {
            return Response::status(StatusWord::WRONG_LENGTH);
        };
        let Some(atc) = c.atc.checked_add(1) else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        };
        c.atc = atc;
        let ac = transaction_cryptogram(
            &c.key,
            atc,
            &[*a0, *a1, *a2, *a3, *a4, *a5],
            &[*c0, *c1],
            &[*u0, *u1, *u2, *u3],
        );
        let body = [
            Tlv::new(0x9F27, vec![0x80]).encode(),
            Tlv::new(0x9F36, atc.to_be_bytes().to_vec()).encode(),
            Tlv::new(0x9F26, ac.to_vec()).encode(),
        ]
        .concat();
        Response::new(Tlv::new(0x77, body).encode(), StatusWord::OK)
    }
}

/// The GENERATE AC command for an amount (12 BCD digits), currency and unpredictable number.
pub fn generate_ac(amount: &[u8; 6], currency: &[u8; 2], un: &[u8; 4]) -> Command {
    Command::new(0x80, INS_GENERATE_AC, 0x80, 0x00)
        .with_data([amount.as_slice(), currency, un].concat())
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
