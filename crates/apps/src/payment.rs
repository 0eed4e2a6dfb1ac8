//! Paying without a secure element (host card emulation): the cards the wallet holds, the state
//! of theirs that must survive a restart, and the cryptogram of one payment (docs/protocol.md
//! §16.1, the same [`provisio_emv::arqc`] the payment applet and the verifier use).
//!
//! An ATC must never be used twice with a key (the token service declines a replayed one), so
//! the counter is stored before a cryptogram leaves the core:
//!
//! ```text
//!  pay(token_ref_id, transaction, persist)
//!   ├─ ATC = last ATC + 1 (1 for a fresh card; none after FFFF: AtcExhausted)
//!   ├─ AC  = arqc(key, ATC, transaction)
//!   ├─ the card's last ATC := ATC               the counter is spent from here on
//!   ├─ persist(&PaymentState) ──► Err: PaymentStateNotStored, no cryptogram
//!   └─ Ok: Payment { token PAN, expiry, ATC, AC }
//! ```
//!
//! A failed store loses one counter value, which is harmless; releasing a cryptogram whose
//! counter a restart could hand out again is not.

use std::fmt;

use provisio_crypto::AesKey;
use provisio_emv::{Atc, Transaction};
use provisio_types::{Expiry, TokenPan};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::AppError;

/// The version of [`PaymentState`]'s stored form; another is refused when it is read back.
pub const PAYMENT_STATE_VERSION: u8 = 1;

/// A card an installation script put into the wallet.
#[derive(Debug)]
pub struct InstalledCard {
    /// Token reference id.
    pub token_ref_id: String,
    /// The token PAN (masked in `Debug`).
    pub token_pan: TokenPan,
    /// The token's expiry, from the access data.
    pub expiry: Expiry,
    /// The device-bound cryptogram key, AES-128 (redacted in `Debug`); none until the
    /// script's `STORE_KEYS` step ran.
    pub cryptogram_key: Option<AesKey>,
    /// The last ATC a cryptogram was made with; none while the card has not paid.
    pub last_atc: Option<Atc>,
    /// Whether it is the wallet's default card.
    pub default: bool,
}

/// What the wallet must store durably for its cards to pay after a restart: each card's token,
/// expiry, key and last ATC. Serialize it (e.g. `serde_json`) into storage as protected as the
/// key deserves (the platform keystore's encryption); read it back with `Deserialize` and hand
/// it to [`crate::WalletApp::restore_payment_state`].
///
/// `Debug` masks the token PANs and redacts the keys.
#[derive(Debug, Default)]
pub struct PaymentState {
    cards: Vec<InstalledCard>,
}

/// One payment's answer: what the wallet sends to the terminal or the merchant (the fields of
/// `POST /v1/network/authorizations` the device makes, docs/protocol.md §16.3).
///
/// `Debug` masks the token PAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The token PAN.
    pub token_pan: TokenPan,
    /// The token's expiry month.
    pub exp_month: u8,
    /// The token's expiry year (four digits).
    pub exp_year: u16,
    /// The application transaction counter of this cryptogram (1 to 65535).
    pub atc: u16,
    /// The ARQC, 16 hexadecimal characters.
    pub cryptogram: String,
}

impl PaymentState {
    /// The cards, in the order they were installed.
    pub fn cards(&self) -> &[InstalledCard] {
        &self.cards
    }

    pub(crate) fn into_cards(self) -> Vec<InstalledCard> {
        self.cards
    }

    pub(crate) fn card_mut(&mut self, token_ref_id: &str) -> Option<&mut InstalledCard> {
        self.cards
            .iter_mut()
            .find(|c| c.token_ref_id == token_ref_id)
    }

    /// Adds a card, replacing the one with the same token reference id. The counter never
    /// goes back: the card keeps the higher of the two last ATCs, so installing or restoring a
    /// token again never makes an ATC usable twice under its key.
    pub(crate) fn put(&mut self, mut card: InstalledCard) {
        if let Some(old) = self.card_mut(&card.token_ref_id) {
            card.last_atc = card.last_atc.max(old.last_atc);
        }
        self.cards.retain(|c| c.token_ref_id != card.token_ref_id);
        if card.default {
            for c in &mut self.cards {
                c.default = false;
            }
        }
        self.cards.push(card);
    }

    /// Makes the card the only default; false when there is no such card.
    pub(crate) fn set_default(&mut self, token_ref_id: &str) -> bool {
        if self.card_mut(token_ref_id).is_none() {
            return false;
        }
        for c in &mut self.cards {
            c.default = c.token_ref_id == token_ref_id;
        }
        true
    }

    /// The cryptogram of one payment, released only once `persist` stored the spent counter.
    pub(crate) fn pay<E: fmt::Display>(
        &mut self,
        token_ref_id: &str,
        transaction: &Transaction,
        persist: impl FnOnce(&PaymentState) -> Result<(), E>,
    ) -> Result<Payment, AppError> {
        let card = self.card_mut(token_ref_id).ok_or(AppError::UnknownCard)?;
        let key = card
            .cryptogram_key
            .as_ref()
            .ok_or(AppError::NoCryptogramKey)?;
        let atc = match card.last_atc {
            None => Atc::FIRST,
            Some(last) => last.next().ok_or(AppError::AtcExhausted)?,
        };
        let cryptogram =
            provisio_emv::arqc(key, atc, transaction).map_err(|e| AppError::Crypto(e.into()))?;
        card.last_atc = Some(atc);
        let payment = Payment {
            token_pan: card.token_pan.clone(),
            exp_month: card.expiry.month(),
            exp_year: card.expiry.year(),
            atc: atc.get(),
            cryptogram: hex::encode_upper(cryptogram),
        };
        persist(self).map_err(|e| AppError::PaymentStateNotStored(e.to_string()))?;
        Ok(payment)
    }
}

/// The stored form of a card. The key is base64url as in the access data; `last_atc` 0 means
/// the card has not paid. Zeroized on drop: it holds the PAN and the key in clear.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct StoredCard {
    token_ref_id: String,
    token_pan: String,
    exp_month: u8,
    exp_year: u16,
    cryptogram_key: Option<String>,
    last_atc: u16,
    default: bool,
}

/// The stored form of the state.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredState {
    version: u8,
    cards: Vec<StoredCard>,
}

impl From<&InstalledCard> for StoredCard {
    fn from(c: &InstalledCard) -> Self {
        Self {
            token_ref_id: c.token_ref_id.clone(),
            token_pan: c.token_pan.expose().to_owned(),
            exp_month: c.expiry.month(),
            exp_year: c.expiry.year(),
            cryptogram_key: c
                .cryptogram_key
                .as_ref()
                .map(|k| provisio_jose::b64_encode(k.export().expose())),
            last_atc: c.last_atc.map_or(0, Atc::get),
            default: c.default,
        }
    }
}

impl TryFrom<&StoredCard> for InstalledCard {
    type Error = &'static str;

    fn try_from(s: &StoredCard) -> Result<Self, Self::Error> {
        let token_pan = TokenPan::parse(&s.token_pan).map_err(|_| "token_pan is not a PAN")?;
        let expiry = Expiry::new(u32::from(s.exp_month), u32::from(s.exp_year))
            .map_err(|_| "exp_month or exp_year out of range")?;
        let cryptogram_key = match &s.cryptogram_key {
            None => None,
            Some(b64) => {
                let bytes = Zeroizing::new(
                    provisio_jose::b64_decode(b64)
                        .map_err(|_| "cryptogram_key is not base64url")?,
                );
                if bytes.len() != 16 {
                    return Err("cryptogram_key is not 16 bytes");
                }
                Some(AesKey::from_bytes(&bytes).map_err(|_| "cryptogram_key is not a key")?)
            }
        };
        Ok(Self {
            token_ref_id: s.token_ref_id.clone(),
            token_pan,
            expiry,
            cryptogram_key,
            last_atc: Atc::new(s.last_atc),
            default: s.default,
        })
    }
}

impl Serialize for PaymentState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredState {
            version: PAYMENT_STATE_VERSION,
            cards: self.cards.iter().map(StoredCard::from).collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PaymentState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let stored = StoredState::deserialize(d)?;
        if stored.version != PAYMENT_STATE_VERSION {
            return Err(D::Error::custom(format!(
                "payment state version {} (this core reads {PAYMENT_STATE_VERSION})",
                stored.version
            )));
        }
        let mut state = Self::default();
        for card in &stored.cards {
            if state
                .cards
                .iter()
                .any(|c| c.token_ref_id == card.token_ref_id)
            {
                return Err(D::Error::custom("a token_ref_id appears twice"));
            }
            state
                .cards
                .push(InstalledCard::try_from(card).map_err(D::Error::custom)?);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAN: &str = "4111111111111111";
    const KEY: [u8; 16] = [0xC7; 16];

    fn card(token_ref_id: &str, last_atc: u16) -> InstalledCard {
        InstalledCard {
            token_ref_id: token_ref_id.into(),
            token_pan: TokenPan::parse(PAN).unwrap(),
            expiry: Expiry::new(12, 2030).unwrap(),
            cryptogram_key: Some(AesKey::from_bytes(&KEY).unwrap()),
            last_atc: Atc::new(last_atc),
            default: false,
        }
    }

    fn transaction() -> Transaction {
        Transaction::parse(1250, "978", "250", "261203", "0a1b2c3d").unwrap()
    }

    /// A `persist` port that always stores.
    fn stored(_: &PaymentState) -> Result<(), &'static str> {
        Ok(())
    }

    #[test]
    fn the_stored_form_round_trips_and_is_refused_when_wrong() {
        let mut state = PaymentState::default();
        state.put(card("t1", 7));
        state.put(InstalledCard {
            cryptogram_key: None,
            default: true,
            ..card("t2", 0)
        });
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["cards"][0]["last_atc"], 7);
        assert_eq!(json["cards"][0]["token_pan"], PAN);
        assert_eq!(
            json["cards"][0]["cryptogram_key"],
            provisio_jose::b64_encode(&KEY)
        );
        assert!(json["cards"][1]["cryptogram_key"].is_null());
        let back: PaymentState = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        assert_eq!(back.cards()[0].last_atc, Atc::new(7));
        assert_eq!(back.cards()[1].last_atc, None);

        let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut bad = json.clone();
            edit(&mut bad);
            serde_json::from_value::<PaymentState>(bad).is_err()
        };
        assert!(refused(&|v| v["version"] = 2.into()));
        assert!(refused(
            &|v| v["cards"][0]["token_pan"] = "4111111111111112".into()
        ));
        assert!(refused(&|v| v["cards"][0]["exp_month"] = 13.into()));
        assert!(refused(&|v| v["cards"][0]["cryptogram_key"] = "AAAA".into()));
        assert!(refused(&|v| v["cards"][0]["last_atc"] = 65536.into()));
        assert!(refused(&|v| v["cards"][1]["token_ref_id"] = "t1".into()));
        assert!(refused(&|v| v["cards"][0]["extra"] = 1.into()));
    }

    #[test]
    fn putting_a_card_again_never_moves_its_counter_back() {
        let mut state = PaymentState::default();
        state.put(card("t1", 41));
        state.put(InstalledCard {
            default: true,
            ..card("t1", 0)
        });
        state.put(card("t2", 0));
        assert!(state.set_default("t2"));
        assert!(!state.set_default("t3"));
        let cards = state.cards();
        assert_eq!(cards.len(), 2);
        assert_eq!((cards[0].last_atc, cards[0].default), (Atc::new(41), false));
        assert!(cards[1].default);
        let payment = state.pay("t1", &transaction(), stored).unwrap();
        assert_eq!(payment.atc, 42);
    }

    #[test]
    fn the_last_counter_pays_once() {
        let mut state = PaymentState::default();
        state.put(card("t1", 0xFFFE));
        assert_eq!(state.pay("t1", &transaction(), stored).unwrap().atc, 0xFFFF);
        assert_eq!(
            state.pay("t1", &transaction(), stored),
            Err(AppError::AtcExhausted)
        );
        assert_eq!(state.cards()[0].last_atc, Atc::new(0xFFFF));
    }
}
