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

pub use delete::{delete, parse_delete, INS_DELETE};
pub use get_data::{
    get_data, key_information, parse_key_information, KeyInfo, INS_GET_DATA, TAG_CARD_DATA,
    TAG_CPLC, TAG_KEY_INFORMATION, TAG_SEQUENCE_COUNTER,
};
pub use install::{load_blocks, parse_load, Install, Privileges, INS_INSTALL, INS_LOAD};
pub use put_key::{parse_put_key, put_key, put_key_response, INS_PUT_KEY, KEY_TYPE_AES};
pub use select::{fci, parse_select, select, INS_SELECT};
pub use status::{
    get_status, parse_get_status, parse_set_status, set_status, StatusEntry, StatusTarget, Subset,
    INS_GET_STATUS, INS_SET_STATUS,
};
pub use store_data::{Dgi, Encryption, StoreData, Structure, INS_STORE_DATA};
