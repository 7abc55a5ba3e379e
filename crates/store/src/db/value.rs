//! Values crossing between the store and its database: [`Param`]s going in, columns of a
//! [`Row`] coming out. Both databases see the same few types: integers, text, `NULL`.

use std::borrow::Cow;
use std::error::Error as StdError;

use bytes::BytesMut;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// A parameter of a query, bound to a `?N` placeholder.
///
/// Booleans are integers (0 or 1), as SQLite has them; PostgreSQL gets whatever type it
/// inferred for the placeholder, so one query text serves both databases.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Text(Cow<'a, str>),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<i32> for Param<'_> {
    fn from(v: i32) -> Self {
        Param::Int(i64::from(v))
    }
}

impl From<u32> for Param<'_> {
    fn from(v: u32) -> Self {
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
        Param::Text(Cow::Borrowed(v))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(Cow::Borrowed(v))
    }
}

impl From<String> for Param<'_> {
    fn from(v: String) -> Self {
        Param::Text(Cow::Owned(v))
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Param::Null => ToSqlOutput::Owned(Value::Null),
            Param::Int(v) => ToSqlOutput::Owned(Value::Integer(*v)),
            Param::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
        })
    }
}

/// PostgreSQL text cannot hold NUL; SQLite's can. A NUL in a log line (a binary file
/// catted by a step) becomes U+2400 SYMBOL FOR NULL instead of failing the write.
const NUL_STAND_IN: &str = "\u{2400}";

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            &Param::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                Type::FLOAT8 => (v as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::UNKNOWN => {
                    v.to_string().as_str().to_sql(ty, out)
                }
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Param::Text(v) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    if v.contains('\0') {
                        v.replace('\0', NUL_STAND_IN).as_str().to_sql(ty, out)
                    } else {
                        v.as_ref().to_sql(ty, out)
                    }
                }
                _ => Err(format!("text cannot be sent as {ty}").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column value as read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Value, Box<dyn StdError + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            _ => Value::Text(<&str>::from_sql(ty, raw)?.to_owned()),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Value, Box<dyn StdError + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl From<rusqlite::types::ValueRef<'_>> for Value {
    fn from(v: rusqlite::types::ValueRef<'_>) -> Value {
        use rusqlite::types::ValueRef;
        match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Int(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                Value::Text(String::from_utf8_lossy(t).into_owned())
            }
        }
    }
}

/// A column that holds something its reader cannot take: damage, or a bug.
#[derive(Debug)]
pub(crate) struct ColumnError {
    pub(crate) index: usize,
    pub(crate) detail: String,
}

/// A type a column can be read as.
pub(crate) trait FromColumn: Sized {
    fn from_value(value: Value) -> Result<Self, String>;
}

impl FromColumn for i64 {
    fn from_value(value: Value) -> Result<i64, String> {
        match value {
            Value::Int(i) => Ok(i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

impl FromColumn for i32 {
    fn from_value(value: Value) -> Result<i32, String> {
        let i = i64::from_value(value)?;
        i32::try_from(i).map_err(|_| format!("{i} is out of range"))
    }
}

impl FromColumn for u32 {
    fn from_value(value: Value) -> Result<u32, String> {
        let i = i64::from_value(value)?;
        u32::try_from(i).map_err(|_| format!("{i} is out of range"))
    }
}

impl FromColumn for bool {
    fn from_value(value: Value) -> Result<bool, String> {
        Ok(i64::from_value(value)? != 0)
    }
}

impl FromColumn for String {
    fn from_value(value: Value) -> Result<String, String> {
        match value {
            Value::Text(t) => Ok(t),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_value(value: Value) -> Result<Option<T>, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// One row of a query's result, from either database.
pub(crate) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as a `T`.
    pub(crate) fn get<T: FromColumn>(&self, index: usize) -> Result<T, ColumnError> {
        let fail = |detail: String| ColumnError { index, detail };
        let value = match self {
            Row::Sqlite(row) => Value::from(row.get_ref(index).map_err(|e| fail(e.to_string()))?),
            Row::Postgres(row) => row
                .try_get::<_, Value>(index)
                .map_err(|e| fail(e.to_string()))?,
        };
        T::from_value(value).map_err(fail)
    }

    /// Column `index`, text parsed as a `T`; text that does not parse is damage.
    pub(crate) fn parse<T>(&self, index: usize) -> Result<T, ColumnError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        let text: String = self.get(index)?;
        text.parse().map_err(|e: T::Err| ColumnError {
            index,
            detail: format!("`{text}`: {e}"),
        })
    }

    /// [`Row::parse`] for a column that may be `NULL`.
    pub(crate) fn parse_opt<T>(&self, index: usize) -> Result<Option<T>, ColumnError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get::<Option<String>>(index)? {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|e: T::Err| ColumnError {
                index,
                detail: format!("`{text}`: {e}"),
            }),
        }
    }
}
