//! Application commands: one row each with its scope's columns (guild 0
//! for global); every write to a scope holds the scope's advisory lock for
//! its transaction, and applies the rules of `concord_store::ops` to the
//! scope as it reads it there.

use async_trait::async_trait;
use concord_model::Snowflake;
use concord_model::records::{Command, CommandPermissions};
use concord_store::{CommandCreate, CommandOverwrite, CommandStore, CommandUpdate, StoreResult};
use sqlx::{Postgres, Transaction};

use crate::PgStore;
use crate::accounts::commit;
use crate::codec::{Json, backend, key};

/// The advisory lock class of command scopes (the two-key form, apart
/// from the migrator's one-key locks).
const SCOPE_LOCK: i32 = 3;

fn guild_column(guild_id: Option<Snowflake>) -> i64 {
    guild_id.map_or(0, key)
}

/// Locks the scope for the transaction and reads its commands.
async fn lock_scope(
    tx: &mut Transaction<'static, Postgres>,
    application_id: Snowflake,
    guild_id: Option<Snowflake>,
) -> StoreResult<Vec<Command>> {
    let (app, guild) = (key(application_id), guild_column(guild_id));
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashint8($2 # $3))")
        .bind(SCOPE_LOCK)
        .bind(app)
        .bind(guild)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
    let found: Vec<Json<Command>> = sqlx::query_scalar(
        "SELECT record FROM application_commands
         WHERE application_id = $1 AND guild_id = $2 ORDER BY id",
    )
    .bind(app)
    .bind(guild)
    .fetch_all(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(found.into_iter().map(|c| c.0).collect())
}

/// Writes the command, whether it is new or replaces its row.
async fn put(tx: &mut Transaction<'static, Postgres>, command: &Command) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO application_commands (id, application_id, guild_id, record)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
    )
    .bind(key(command.id))
    .bind(key(command.application_id))
    .bind(guild_column(command.guild_id))
    .bind(Json(command))
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl CommandStore for PgStore {
    async fn create_command(&self, command: &Command, max: usize) -> StoreResult<CommandCreate> {
        let mut tx = self.begin().await?;
        let current = lock_scope(&mut tx, command.application_id, command.guild_id).await?;
        let outcome = CommandCreate::apply(&current, command, max);
        if let CommandCreate::Created(c) | CommandCreate::Replaced(c) = &outcome {
            put(&mut tx, c).await?;
        }
        commit(tx).await?;
        Ok(outcome)
    }

    async fn command(&self, id: Snowflake) -> StoreResult<Option<Command>> {
        let sql = "SELECT record FROM application_commands WHERE id = $1";
        self.record(sql, &[key(id)]).await
    }

    async fn commands(
        &self,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
    ) -> StoreResult<Vec<Command>> {
        let sql = "SELECT record FROM application_commands
                   WHERE application_id = $1 AND guild_id = $2 ORDER BY id";
        let binds = [key(application_id), guild_column(guild_id)];
        self.records(sql, &binds).await
    }

    async fn update_command(&self, command: &Command) -> StoreResult<CommandUpdate> {
        let mut tx = self.begin().await?;
        let current = lock_scope(&mut tx, command.application_id, command.guild_id).await?;
        let outcome = CommandUpdate::apply(&current, command);
        if outcome == CommandUpdate::Updated {
            sqlx::query("UPDATE application_commands SET record = $2 WHERE id = $1")
                .bind(key(command.id))
                .bind(Json(command))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        commit(tx).await?;
        Ok(outcome)
    }

    async fn delete_command(&self, id: Snowflake) -> StoreResult<Option<Command>> {
        let removed: Option<Json<Command>> =
            sqlx::query_scalar("DELETE FROM application_commands WHERE id = $1 RETURNING record")
                .bind(key(id))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(removed.map(|c| c.0))
    }

    async fn overwrite_commands(
        &self,
        application_id: Snowflake,
        guild_id: Option<Snowflake>,
        commands: &[Command],
    ) -> StoreResult<Vec<Command>> {
        let mut tx = self.begin().await?;
        let current = lock_scope(&mut tx, application_id, guild_id).await?;
        let overwrite = CommandOverwrite::apply(&current, commands);
        let removed: Vec<i64> = overwrite.removed.iter().map(|id| key(*id)).collect();
        sqlx::query("DELETE FROM application_commands WHERE id = ANY($1)")
            .bind(&removed)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for command in &overwrite.commands {
            put(&mut tx, command).await?;
        }
        commit(tx).await?;
        Ok(overwrite.commands)
    }

    async fn command_permissions(
        &self,
        guild_id: Snowflake,
        application_id: Snowflake,
    ) -> StoreResult<Vec<CommandPermissions>> {
        let sql = "SELECT record FROM application_command_permissions
                   WHERE guild_id = $1 AND application_id = $2 ORDER BY id";
        self.records(sql, &[key(guild_id), key(application_id)])
            .await
    }

    async fn put_command_permissions(&self, permissions: &CommandPermissions) -> StoreResult<()> {
        let (guild, id) = (key(permissions.guild_id), key(permissions.id));
        let query = if permissions.permissions.is_empty() {
            sqlx::query(
                "DELETE FROM application_command_permissions WHERE guild_id = $1 AND id = $2",
            )
            .bind(guild)
            .bind(id)
        } else {
            sqlx::query(
                "INSERT INTO application_command_permissions (guild_id, id, application_id, record)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (guild_id, id) DO UPDATE SET record = EXCLUDED.record",
            )
            .bind(guild)
            .bind(id)
            .bind(key(permissions.application_id))
            .bind(Json(permissions))
        };
        query.execute(&self.pool).await.map_err(backend)?;
        Ok(())
    }
}
