//! Who may hand out which right: the role hierarchy (nobody acts on a
//! role or member at or above their own highest role; the owner is
//! exempt), which roles one may give, and the one rule for writing a
//! channel's permission overwrites.

use concord_model::records::{Member, Overwrite, Role};
use concord_model::{Permissions, codes};

use super::permissions::{Rank, highest_rank, overwrite_changes};
use super::views::require;
use crate::{GuildView, ServiceError, ServiceResult};

impl GuildView {
    /// Whether the viewer stands above `target` in the hierarchy.
    fn outranks(&self, target: &Member) -> bool {
        if self.is_owner() {
            return true;
        }
        target.user_id != self.guild.owner_id
            && self.rank() > highest_rank(&self.roles, &target.roles)
    }

    /// Whether the viewer may give or take `role`: one below their own
    /// highest (anything, for the owner), and never a bot's managed role,
    /// which would hand out whatever the bot was added with.
    pub(crate) fn may_assign(&self, role: &Role) -> bool {
        role.bot_id.is_none() && (self.is_owner() || Rank::of(role) < self.rank())
    }

    /// 50013 unless the viewer outranks `target`.
    pub(crate) fn require_above(&self, target: &Member) -> ServiceResult<()> {
        if self.outranks(target) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS))
        }
    }

    /// The one rule for changing a channel's overwrites, whichever route
    /// changes them (create, edit, PUT or DELETE of one, a reorder that
    /// syncs with the category): `held` is what the caller holds in the
    /// channel before the change. Every bit whose allow or deny changes
    /// needs MANAGE_ROLES there and, but for an administrator, must itself
    /// be held, so no one grants (or lifts a denial of) what they lack.
    /// A write that changes no bit is allowed, so clients may send a
    /// channel's overwrites back unchanged.
    pub(crate) fn authorize_overwrites(
        &self,
        held: Permissions,
        before: &[Overwrite],
        after: &[Overwrite],
    ) -> ServiceResult<()> {
        let changed = overwrite_changes(before, after);
        if changed == Permissions::NONE {
            return Ok(());
        }
        require(held, Permissions::MANAGE_ROLES)?;
        if self.base().contains(Permissions::ADMINISTRATOR) {
            return Ok(());
        }
        require(held, changed)
    }
}
