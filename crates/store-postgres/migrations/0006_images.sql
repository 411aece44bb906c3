-- Avatars and icons: a user's, guild's or webhook's record names the blob
-- holding its image, and that blob is referred to while a row names it
-- (`blob_referenced`). Found through these indexes, so nothing counts
-- them apart from the records.
CREATE INDEX users_by_avatar_blob ON users ((record->>'avatar_blob'))
    WHERE record ? 'avatar_blob';
CREATE INDEX guilds_by_icon_blob ON guilds ((record->>'icon_blob'))
    WHERE record ? 'icon_blob';
CREATE INDEX webhooks_by_avatar_blob ON webhooks ((record->>'avatar_blob'))
    WHERE record ? 'avatar_blob';
