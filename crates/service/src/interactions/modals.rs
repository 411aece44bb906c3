//! Modals an application opened for a person, until they submit one.
//!
//! Each is kept under its own interaction's id, after the person, the
//! application and its `custom_id` (the `custom_id`'s length first, so no
//! `custom_id` is the beginning of another's prefix): a newer modal with
//! the same `custom_id` replaces the older ones, and an interaction that
//! closes removes only its own, never a newer one.

use concord_model::Snowflake;

use super::Interaction;
use crate::{Service, ServiceResult};

/// Longest `custom_id` a modal has.
pub(crate) const CUSTOM_ID_MAX: usize = 100;
/// Open modals of one `custom_id` read at a time when one is submitted:
/// opening one removes the older, so there are hardly ever two.
const BATCH: usize = 16;

/// Every modal `application_id` opened for `user_id` under `custom_id`.
fn prefix(application_id: Snowflake, user_id: Snowflake, custom_id: &str) -> String {
    let len = custom_id.len();
    format!("modal:{application_id}:{user_id}:{len}:{custom_id}:")
}

/// The modal interaction `interaction_id` opened (the id zero-padded, so
/// the newest comes last).
fn key(
    application_id: Snowflake,
    user_id: Snowflake,
    custom_id: &str,
    interaction_id: Snowflake,
) -> String {
    let prefix = prefix(application_id, user_id, custom_id);
    format!("{prefix}{:020}", interaction_id.get())
}

/// The modal `interaction` opened, if any.
fn own_key(interaction: &Interaction) -> Option<String> {
    let custom_id = interaction.modal.as_deref()?;
    Some(key(
        interaction.application_id,
        interaction.user_id,
        custom_id,
        interaction.id,
    ))
}

impl Service {
    /// Keeps the modal `interaction` opens (named in its `modal`), with
    /// `origin`, what its submission reads back; older ones of the same
    /// `custom_id` go.
    pub(crate) async fn open_modal(
        &self,
        interaction: &Interaction,
        origin: &[u8],
    ) -> ServiceResult<()> {
        let (Some(custom_id), Some(own)) = (interaction.modal.as_deref(), own_key(interaction))
        else {
            return Ok(());
        };
        self.store.put_meta(&own, origin).await?;
        let prefix = prefix(interaction.application_id, interaction.user_id, custom_id);
        for older in self.store.meta_keys(&prefix, BATCH).await? {
            if older < own {
                self.store.take_meta(&older).await?;
            }
        }
        Ok(())
    }

    /// Takes the newest modal open under `custom_id`, once: of two
    /// submissions racing, one gets it.
    pub(crate) async fn take_modal(
        &self,
        application_id: Snowflake,
        user_id: Snowflake,
        custom_id: &str,
    ) -> ServiceResult<Option<Vec<u8>>> {
        if custom_id.is_empty() || custom_id.len() > CUSTOM_ID_MAX {
            return Ok(None);
        }
        let prefix = prefix(application_id, user_id, custom_id);
        let keys = self.store.meta_keys(&prefix, BATCH).await?;
        for key in keys.iter().rev() {
            if let Some(origin) = self.store.take_meta(key).await? {
                return Ok(Some(origin));
            }
        }
        Ok(None)
    }

    /// Removes the modal `interaction` opened, if it is still open, and
    /// no other.
    pub(crate) async fn close_modal(&self, interaction: &Interaction) -> ServiceResult<()> {
        if let Some(own) = own_key(interaction) {
            self.store.take_meta(&own).await?;
        }
        Ok(())
    }
}
