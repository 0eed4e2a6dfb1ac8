//! GlobalPlatform Card Specification 2.3 commands: a builder for the host and a parser for the
//! card, one module per command. INITIALIZE UPDATE and EXTERNAL AUTHENTICATE belong to the
//! secure channel and live in [`crate::scp03`].

mod delete;
mod get_data;
mod install;
mod lv;
mod put_key;
mod select;
mod status;
mod store_data;

pub use delete::{INS_DELETE, delete, parse_delete};
pub use get_data::{
    INS_GET_DATA, KeyInfo, TAG_CARD_DATA, TAG_CPLC, TAG_KEY_INFORMATION, TAG_SEQUENCE_COUNTER,
    get_data, key_information, parse_key_information,
};
pub use install::{INS_INSTALL, INS_LOAD, Install, Privileges, load_blocks, parse_load};
pub use put_key::{INS_PUT_KEY, KEY_TYPE_AES, parse_put_key, put_key, put_key_response};
pub use select::{INS_SELECT, fci, parse_select, select};
pub use status::{
    INS_GET_STATUS, INS_SET_STATUS, StatusEntry, StatusTarget, Subset, get_status,
    parse_get_status, parse_set_status, set_status,
};
pub use store_data::{Dgi, Encryption, INS_STORE_DATA, StoreData, Structure};
