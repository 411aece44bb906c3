//! Users (with the login index) and applications.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::{Application, User};
use concord_store::{
    ApplicationStore, StoreError, StoreResult, UserStore, keys as text_keys, login_key, login_keys,
    user_name_keys,
};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::codec::{Json, backend, in_order, key, keys, limit};
use crate::{PgStore, nul};

impl PgStore {
    /// Writes a user and moves its logins, in the caller's transaction;
    /// `Conflict` (and the caller rolls back) if another user has one.
    async fn write_user(conn: &mut PgConnection, user: &User) -> StoreResult<()> {
        let wanted = login_keys(user);
        let mut logins = Vec::with_capacity(wanted.len());
        for (login, _) in &wanted {
            logins.push(nul::text(text_keys::text(login)?).into_owned());
        }
        sqlx::query("DELETE FROM logins WHERE user_id = $1")
            .bind(key(user.id))
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        // The unique key decides: a login another user holds (or is
        // taking in a transaction not yet committed) is not inserted.
        let taken: Vec<String> = sqlx::query_scalar(
            "INSERT INTO logins (login, user_id) SELECT login, $2 FROM unnest($1::text[]) AS login
             ON CONFLICT (login) DO NOTHING RETURNING login",
        )
        .bind(&logins)
        .bind(key(user.id))
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        let refused = |login: &String| !taken.iter().any(|t| *t == nul::text(login));
        if let Some((_, what)) = wanted.iter().find(|(login, _)| refused(login)) {
            return Err(StoreError::Conflict(what));
        }
        sqlx::query(
            "INSERT INTO users (id, record) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
        )
        .bind(key(user.id))
        .bind(Json(user))
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        Self::write_user_names(conn, user).await
    }

    /// Moves the user's entries in the member-name index: those it no
    /// longer has go, new ones come (a statement's parts see the same
    /// rows, so one that stays is neither removed nor inserted).
    async fn write_user_names(conn: &mut PgConnection, user: &User) -> StoreResult<()> {
        let mut names = Vec::new();
        for name in user_name_keys(user) {
            names.push(nul::text(text_keys::text(&name)?).into_owned());
        }
        sqlx::query(
            "WITH gone AS (DELETE FROM user_names WHERE user_id = $2 AND name <> ALL($1::text[]))
             INSERT INTO user_names (name, user_id) SELECT name, $2 FROM unnest($1::text[]) AS name
             ON CONFLICT DO NOTHING",
        )
        .bind(&names)
        .bind(key(user.id))
        .execute(conn)
        .await
        .map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(backend)
    }
}

pub(crate) async fn commit(tx: Transaction<'static, Postgres>) -> StoreResult<()> {
    tx.commit().await.map_err(backend)
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        Self::write_user(&mut tx, user).await?;
        commit(tx).await
    }

    async fn user(&self, id: Snowflake) -> StoreResult<Option<User>> {
        self.record::<User>("SELECT record FROM users WHERE id = $1", &[key(id)])
            .await
    }

    async fn users(&self, ids: &[Snowflake]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found: Vec<(i64, Json<User>)> =
            sqlx::query_as("SELECT id, record FROM users WHERE id = ANY($1)")
                .bind(keys(ids))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(in_order(ids, found).into_iter().map(|u| u.0).collect())
    }

    async fn user_by_login(&self, login: &str) -> StoreResult<Option<User>> {
        let login = login_key(text_keys::text(login)?);
        let found: Option<Json<User>> = sqlx::query_scalar(
            "SELECT u.record FROM logins l JOIN users u ON u.id = l.user_id WHERE l.login = $1",
        )
        .bind(nul::text(&login))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found.map(|u| u.0))
    }

    async fn update_user(&self, user: &User, seen: u64) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        // The row stays locked until the commit, so no revocation lands
        // between this look and the write.
        let stored: Option<i64> = sqlx::query_scalar(
            "SELECT COALESCE((record->>'token_generation')::bigint, 0) FROM users
             WHERE id = $1 FOR UPDATE",
        )
        .bind(key(user.id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if stored.and_then(|g| u64::try_from(g).ok()) != Some(seen) {
            return Ok(false);
        }
        Self::write_user(&mut tx, user).await?;
        commit(tx).await?;
        Ok(true)
    }

    async fn users_after(&self, after: Snowflake, count: usize) -> StoreResult<Vec<User>> {
        let found: Vec<Json<User>> =
            sqlx::query_scalar("SELECT record FROM users WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(key(after))
                .bind(limit(count))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(found.into_iter().map(|u| u.0).collect())
    }
}

/// Creates or replaces an application.
fn upsert_application(
    app: &Application,
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(
        "INSERT INTO applications (id, record) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
    )
    .bind(key(app.id))
    .bind(Json(app))
}

#[async_trait]
impl ApplicationStore for PgStore {
    async fn create_application(&self, app: &Application, bot: &User) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        Self::write_user(&mut tx, bot).await?;
        upsert_application(app)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        commit(tx).await
    }

    async fn application(&self, id: Snowflake) -> StoreResult<Option<Application>> {
        self.record::<Application>("SELECT record FROM applications WHERE id = $1", &[key(id)])
            .await
    }

    async fn update_application(&self, app: &Application) -> StoreResult<()> {
        upsert_application(app)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
