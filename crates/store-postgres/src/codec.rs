//! Between Rust values and columns: ids as bigint, records as JSONB, and
//! sqlx's errors as the store's.

use concord_model::Snowflake;
use concord_store::StoreError;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// A record as a JSONB column: sqlx's JSON, with the text of its strings
/// kept as [`crate::nul`] says.
pub(crate) struct Json<T>(pub T);

impl<T> Type<Postgres> for Json<T> {
    fn type_info() -> PgTypeInfo {
        <sqlx::types::Json<T> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <sqlx::types::Json<T> as Type<Postgres>>::compatible(ty)
    }
}

impl<T> PgHasArrayType for Json<T> {
    fn array_type_info() -> PgTypeInfo {
        <sqlx::types::Json<T> as PgHasArrayType>::array_type_info()
    }
}

impl<T: Serialize> Encode<'_, Postgres> for Json<T> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let text = crate::nul::json(serde_json::to_string(&self.0)?);
        let raw = RawValue::from_string(text)?;
        <sqlx::types::Json<Box<RawValue>> as Encode<'_, Postgres>>::encode_by_ref(
            &sqlx::types::Json(raw),
            buf,
        )
    }
}

impl<'r, T: DeserializeOwned> Decode<'r, Postgres> for Json<T> {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let raw = <sqlx::types::Json<&'r RawValue> as Decode<'r, Postgres>>::decode(value)?;
        Ok(Json(serde_json::from_str(&crate::nul::unjson(
            raw.0.get(),
        ))?))
    }
}

/// A snowflake as a key column. Snowflakes stay below 2^63 (their
/// timestamp has 41 bits until 2084); a larger bound (such as `u64::MAX`
/// for "no bound") saturates, which keeps every comparison true to order.
pub(crate) fn key(id: Snowflake) -> i64 {
    int(id.get())
}

/// A u64 (a bucket, a time in ms, a limit) as bigint, saturating.
pub(crate) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A key column read back as a snowflake.
pub(crate) fn id(value: i64) -> Snowflake {
    Snowflake(u64::try_from(value).unwrap_or_default())
}

pub(crate) fn backend(e: impl Into<Failure>) -> StoreError {
    match e.into() {
        Failure::Sql(sqlx::Error::ColumnDecode { source, .. } | sqlx::Error::Decode(source)) => {
            StoreError::Corrupt(source.to_string())
        }
        Failure::Sql(e) if unreachable(&e) => StoreError::Unavailable(e.to_string()),
        Failure::Sql(e) => StoreError::Backend(e.to_string()),
        Failure::Other(message) => StoreError::Backend(message),
    }
}

/// Whether `e` says the server cannot be reached rather than that the
/// statement failed: no connection within the pool's wait, a connection
/// that broke, or the server ending it (SQLSTATE class 08, connection
/// exception, and 57, operator intervention: a shutdown or restart).
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        _ => false,
    }
}

/// What [`backend`] turns into a store error.
pub(crate) enum Failure {
    Sql(sqlx::Error),
    Other(String),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<sqlx::migrate::MigrateError> for Failure {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Failure::Other(format!("applying the schema failed: {e}"))
    }
}

/// Whether the statement failed on a foreign key: a partition removed or
/// kept while a message was written into it at the same time.
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23503"))
}

/// `found` (keyed by id) in the order of `asked`, each once, those missing left out.
pub(crate) fn in_order<T>(asked: &[Snowflake], found: Vec<(i64, T)>) -> Vec<T> {
    let mut by_id: std::collections::HashMap<i64, T> = found.into_iter().collect();
    asked
        .iter()
        .filter_map(|asked| by_id.remove(&key(*asked)))
        .collect()
}

/// The ids as a bigint array parameter.
pub(crate) fn keys(ids: &[Snowflake]) -> Vec<i64> {
    ids.iter().map(|id| key(*id)).collect()
}
