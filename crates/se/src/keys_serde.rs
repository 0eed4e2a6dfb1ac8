//! The element's memory image stores key sets as hex: the virtual chip's EEPROM. The file is
//! as sensitive as the chip; the CLI writes it with owner-only permissions.

use provisio_gp::scp03::StaticKeys;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
struct HexKeySet {
    kvn: u8,
    enc: String,
    mac: String,
    dek: String,
}

pub(crate) fn serialize<S: Serializer>(sets: &[StaticKeys], s: S) -> Result<S::Ok, S::Error> {
    sets.iter()
        .map(|k| HexKeySet {
            kvn: k.kvn,
            enc: hex::encode(k.enc.export().expose()),
            mac: hex::encode(k.mac.export().expose()),
            dek: hex::encode(k.dek.export().expose()),
        })
        .collect::<Vec<_>>()
        .serialize(s)
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<StaticKeys>, D::Error> {
    use serde::de::Error;
    Vec::<HexKeySet>::deserialize(d)?
        .into_iter()
        .map(|h| {
            let b = |s: &str| hex::decode(s).map_err(D::Error::custom);
            StaticKeys::from_bytes(h.kvn, &b(&h.enc)?, &b(&h.mac)?, &b(&h.dek)?)
                .map_err(D::Error::custom)
        })
        .collect()
}

pub(crate) mod one {
    //! A single AES key as hex.
    use provisio_crypto::AesKey;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(key: &AesKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(key.export().expose()))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AesKey, D::Error> {
        use serde::de::Error;
        let bytes = hex::decode(String::deserialize(d)?).map_err(D::Error::custom)?;
        AesKey::from_bytes(&bytes).map_err(D::Error::custom)
    }
}
