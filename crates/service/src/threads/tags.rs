//! Forum tags: the tags a forum offers (`available_tags`, edited with the
//! forum) and those each of its posts carries (`applied_tags`), with
//! Discord's rules: at most 20 tags a forum, unique names of at most 20
//! characters, at most 5 tags a post, each one of its forum's; a
//! `moderated` tag goes on or off a post only by a member with
//! MANAGE_THREADS; a forum flagged REQUIRE_TAG takes no post without one.

use concord_model::records::{Channel, ForumTag, channel_flags};
use concord_model::{Permissions, Snowflake, codes};
use serde::Deserialize;

use crate::error::check_length;
use crate::{FormErrors, Service, ServiceError, ServiceResult};

/// Tags a forum offers, at most.
pub const MAX_AVAILABLE: usize = 20;
/// Tags a post carries, at most.
pub const MAX_APPLIED: usize = 5;
/// A tag name's length, at most.
const NAME_MAX: usize = 20;

/// A tag in a forum edit: one with the `id` of a tag the forum has keeps
/// it (its posts keep carrying it); one without is new.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TagInput {
    pub id: Option<Snowflake>,
    pub name: String,
    #[serde(default)]
    pub moderated: bool,
    pub emoji_id: Option<Snowflake>,
    pub emoji_name: Option<String>,
}

impl Service {
    /// The tags a forum offers after an edit; 40061 for two of one name.
    pub(crate) fn edit_available_tags(
        &self,
        forum: &Channel,
        input: Vec<TagInput>,
        errors: &mut FormErrors,
    ) -> ServiceResult<Vec<ForumTag>> {
        if input.len() > MAX_AVAILABLE {
            let message = format!("Must be {MAX_AVAILABLE} or fewer in length.");
            errors.add("available_tags", "BASE_TYPE_MAX_LENGTH", message);
        }
        let mut tags: Vec<ForumTag> = Vec::with_capacity(input.len());
        for (i, tag) in input.into_iter().enumerate() {
            let name = tag.name.trim().to_owned();
            let path = format!("available_tags.{i}.name");
            check_length(errors, &path, &name, 1, NAME_MAX);
            if tags.iter().any(|t| t.name == name) {
                return Err(ServiceError::BadRequest(codes::TAG_NAMES_NOT_UNIQUE));
            }
            let kept = tag
                .id
                .filter(|id| forum.available_tags.iter().any(|t| t.id == *id));
            tags.push(ForumTag {
                id: kept.unwrap_or_else(|| self.next_id()),
                name,
                moderated: tag.moderated,
                emoji_id: tag.emoji_id,
                emoji_name: tag.emoji_name,
            });
        }
        Ok(tags)
    }
}

/// The tags a post of `forum` carries after a change from `before` to
/// `asked` (in the order asked, once each), by someone who `held` these
/// permissions in the forum.
pub(crate) fn applied_tags(
    forum: &Channel,
    before: &[Snowflake],
    asked: &[Snowflake],
    held: Permissions,
    errors: &mut FormErrors,
) -> ServiceResult<Vec<Snowflake>> {
    let mut tags: Vec<Snowflake> = Vec::with_capacity(asked.len());
    for id in asked {
        if !tags.contains(id) {
            tags.push(*id);
        }
    }
    if tags.len() > MAX_APPLIED {
        let message = format!("Must be {MAX_APPLIED} or fewer in length.");
        errors.add("applied_tags", "BASE_TYPE_MAX_LENGTH", message);
    }
    let tag = |id: &Snowflake| forum.available_tags.iter().find(|t| t.id == *id);
    for (i, id) in tags.iter().enumerate() {
        if tag(id).is_none() {
            let path = format!("applied_tags.{i}");
            errors.add(
                &path,
                "BASE_TYPE_CHOICES",
                "Value must be one of the forum's tags.",
            );
        }
    }
    let moderator = held.contains(Permissions::MANAGE_THREADS);
    let changed = tags
        .iter()
        .filter(|id| !before.contains(id))
        .chain(before.iter().filter(|id| !tags.contains(id)));
    if !moderator && changed.filter_map(tag).any(|t| t.moderated) {
        return Err(ServiceError::Forbidden(codes::MISSING_PERMISSIONS));
    }
    Ok(tags)
}

/// A new post of `forum` with `tags`: refused without one where the forum
/// requires it (40066 when the poster could set none of its tags).
pub(crate) fn check_required(
    forum: &Channel,
    tags: &[Snowflake],
    held: Permissions,
) -> ServiceResult<()> {
    let required = forum.flags & channel_flags::REQUIRE_TAG != 0;
    if !required || !tags.is_empty() {
        return Ok(());
    }
    let moderator = held.contains(Permissions::MANAGE_THREADS);
    if !moderator && forum.available_tags.iter().all(|t| t.moderated) {
        return Err(ServiceError::BadRequest(codes::NO_TAGS_SETTABLE));
    }
    Err(ServiceError::BadRequest(codes::TAG_REQUIRED))
}

/// The flags a forum edit may set; others are dropped.
pub(crate) fn forum_flags(flags: u64) -> u64 {
    flags & channel_flags::REQUIRE_TAG
}
