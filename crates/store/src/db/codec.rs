//! The values that cross between the store's SQL and either database: parameters borrowed
//! from the caller ([`Param`]), and result rows of owned values ([`Row`]) read by column name
//! into Rust types ([`FromValue`]), checked on the way out.

use std::sync::Arc;

use provisio_tsp::Sealed;

use crate::StoreError;

/// A statement parameter, borrowed for the statement's run. Integers are `i64` everywhere
/// (SQLite `INTEGER`, PostgreSQL `BIGINT`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    /// `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

/// Sequences and counts: beyond `i64::MAX` (never reached) they would saturate.
impl From<u64> for Param<'_> {
    fn from(v: u64) -> Self {
        Param::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<u32> for Param<'_> {
    fn from(v: u32) -> Self {
        Param::Int(i64::from(v))
    }
}

impl From<u16> for Param<'_> {
    fn from(v: u16) -> Self {
        Param::Int(i64::from(v))
    }
}

impl From<u8> for Param<'_> {
    fn from(v: u8) -> Self {
        Param::Int(i64::from(v))
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Int(i64::from(v))
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Blob(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Param<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Param::Blob(v)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Param<'a> {
    fn from(v: &'a [u8; N]) -> Self {
        Param::Blob(v)
    }
}

impl<'a, T> From<Option<T>> for Param<'a>
where
    T: Into<Param<'a>>,
{
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// The parameters of one statement, in `$1, $2, …` order.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        &[$($crate::db::codec::Param::from($p)),*][..]
    };
}
pub(crate) use params;

/// A value read from a result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// `NULL`.
    Null,
    /// An integer (or a boolean, as 0 and 1).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// One result row: its values, and the result's column names shared by all its rows.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// A row of a result whose columns are `columns`.
    pub(crate) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Self { columns, values }
    }

    /// The column `name`, read as `T`.
    pub(crate) fn get<T: FromValue>(&self, name: &str) -> Result<T, StoreError> {
        let value = self
            .columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| StoreError::Corrupt(format!("no column {name}")))?;
        T::from_value(value).ok_or_else(|| StoreError::Corrupt(format!("column {name}")))
    }

    /// A sealed value.
    pub(crate) fn sealed(&self, name: &str) -> Result<Sealed, StoreError> {
        let bytes: Vec<u8> = self.get(name)?;
        Sealed::from_bytes(&bytes).ok_or_else(|| StoreError::Corrupt(format!("sealed {name}")))
    }

    /// A sealed value, or none for `NULL`.
    pub(crate) fn sealed_opt(&self, name: &str) -> Result<Option<Sealed>, StoreError> {
        let bytes: Option<Vec<u8>> = self.get(name)?;
        bytes
            .map(|b| {
                Sealed::from_bytes(&b).ok_or_else(|| StoreError::Corrupt(format!("sealed {name}")))
            })
            .transpose()
    }

    /// A count as `u32` (negative is impossible; huge saturates).
    pub(crate) fn count(&self, name: &str) -> Result<u32, StoreError> {
        let v: i64 = self.get(name)?;
        Ok(u32::try_from(v.max(0)).unwrap_or(u32::MAX))
    }
}

/// A Rust type a stored value reads as; `None` when the value is not of that type or range.
pub(crate) trait FromValue: Sized {
    /// The value as `Self`.
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

macro_rules! small_int {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Option<Self> {
                i64::from_value(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
    )*};
}
small_int!(u8, u16, u32, u64, i32, usize);

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<Self> {
        i64::from_value(v).map(|i| i != 0)
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl<const N: usize> FromValue for [u8; N] {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => b.as_slice().try_into().ok(),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: Vec<Value>) -> Row {
        Row::new(vec!["a".to_owned()].into(), values)
    }

    #[test]
    fn values_read_back_only_as_their_own_type_and_range() {
        let r = row(vec![Value::Int(300)]);
        assert_eq!(r.get::<i64>("a").unwrap(), 300);
        assert_eq!(r.get::<u16>("a").unwrap(), 300);
        assert!(r.get::<u8>("a").is_err(), "out of range");
        assert!(r.get::<String>("a").is_err(), "wrong type");
        assert!(r.get::<i64>("b").is_err(), "no such column");
        assert_eq!(
            row(vec![Value::Null]).get::<Option<i64>>("a").unwrap(),
            None
        );
        assert!(row(vec![Value::Null]).get::<i64>("a").is_err());
        assert_eq!(row(vec![Value::Int(-5)]).count("a").unwrap(), 0);
        let blob = row(vec![Value::Blob(vec![7; 32])]);
        assert_eq!(blob.get::<[u8; 32]>("a").unwrap(), [7; 32]);
        assert!(blob.get::<[u8; 16]>("a").is_err());
    }
}
