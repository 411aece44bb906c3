//! Users and members behind ids, read from the store in batches: the wire
//! shapes every component builds its own on.

use std::collections::HashMap;

use concord_model::records::{self, Member};
use concord_model::{Snowflake, wire};

use crate::{Service, ServiceResult};

impl Service {
    /// The public user behind an id; a placeholder if the user is gone.
    pub(crate) async fn user_wire(&self, id: Snowflake) -> ServiceResult<wire::User> {
        Ok(match self.store.user(id).await? {
            Some(u) => wire::User::from(&u),
            None => wire::User::from(&records::User::new(id, "Deleted User")),
        })
    }

    /// The public users behind many ids, read from the store at once; a
    /// placeholder for each one gone.
    pub(crate) async fn users_wire(
        &self,
        ids: &[Snowflake],
    ) -> ServiceResult<HashMap<Snowflake, wire::User>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let found = self.store.users(ids).await?;
        let mut users: HashMap<Snowflake, wire::User> =
            found.iter().map(|u| (u.id, wire::User::from(u))).collect();
        for id in ids {
            users
                .entry(*id)
                .or_insert_with(|| wire::User::from(&records::User::new(*id, "Deleted User")));
        }
        Ok(users)
    }

    /// Users by many ids, in the order asked.
    pub(crate) async fn users_wire_list(
        &self,
        ids: &[Snowflake],
    ) -> ServiceResult<Vec<wire::User>> {
        let users = self.users_wire(ids).await?;
        Ok(ids.iter().filter_map(|id| users.get(id).cloned()).collect())
    }

    pub(crate) async fn member_wire(&self, member: &Member) -> ServiceResult<wire::Member> {
        let user = self.user_wire(member.user_id).await?;
        Ok(wire::Member::new(member, Some(user)))
    }

    /// Many members with their users, read from the store at once.
    pub(crate) async fn members_wire(
        &self,
        members: &[Member],
    ) -> ServiceResult<Vec<wire::Member>> {
        let ids: Vec<Snowflake> = members.iter().map(|m| m.user_id).collect();
        let users = self.users_wire(&ids).await?;
        Ok(members
            .iter()
            .map(|m| wire::Member::new(m, users.get(&m.user_id).cloned()))
            .collect())
    }
}
