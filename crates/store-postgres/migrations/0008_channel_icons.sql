-- A group DM's icon: its channel's record names the blob holding it, which
-- is referred to while the row does (`blob_referenced`), as in 0006.
CREATE INDEX channels_by_icon_blob ON channels ((record->>'icon_blob'))
    WHERE record ? 'icon_blob';
