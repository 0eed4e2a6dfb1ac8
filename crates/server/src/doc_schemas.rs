//! Schema-only types: what the OpenAPI documents say of values the routes check by hand
//! (`#[schema(value_type = ...)]` points at them). Documentation only, never deserialised.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A participant's display name as [`crate::routes::admin::checked_name`] takes it: 1 to 100
/// characters, none a control character (C0, DEL, C1) or a bidirectional formatting one
/// (`provisio_types::is_plain_text`), not only white space. Documentation only.
pub(crate) struct PlainName;

impl utoipa::PartialSchema for PlainName {
    fn schema() -> RefOr<Schema> {
        // Hidden: C0, DEL, C1 and U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069. The
        // one character required besides is neither hidden nor Unicode White_Space.
        const PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*[^\x00-\x20\x7f-\xa0\u061c\u1680\u2000-\u200a\u200e\u200f\u2028-\u202f\u205f\u2066-\u2069\u3000][^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$";
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Plain text: 1 to 100 characters, no control or bidirectional formatting characters, not only white space.",
            ))
            .min_length(Some(1))
            .max_length(Some(100))
            .pattern(Some(PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for PlainName {}

/// An issuer's card range as [`crate::routes::issuer_settings::checked_ranges`] takes it: a
/// prefix of 6 to 11 digits. Documentation only.
pub(crate) struct BinRange;

impl utoipa::PartialSchema for BinRange {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A card number prefix of 6 to 11 digits."))
            .pattern(Some("^[0-9]{6,11}$"))
            .into()
    }
}

impl utoipa::ToSchema for BinRange {}
