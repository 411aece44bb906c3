-- Votes on polls: a row per voter and answer, counted when a poll is read.
-- A message's go with it (`delete_messages`), a deleted channel's with its
-- purge.
CREATE TABLE poll_votes (
    channel_id bigint NOT NULL,
    message_id bigint NOT NULL,
    answer_id smallint NOT NULL,
    user_id bigint NOT NULL,
    PRIMARY KEY (channel_id, message_id, answer_id, user_id)
);
CREATE INDEX poll_votes_by_voter ON poll_votes (channel_id, message_id, user_id);

-- Polls not yet ended, found by expiry by the node that ends them.
CREATE TABLE open_polls (
    channel_id bigint NOT NULL,
    message_id bigint NOT NULL,
    expiry_ms bigint NOT NULL,
    PRIMARY KEY (channel_id, message_id)
);
CREATE INDEX open_polls_by_expiry ON open_polls (expiry_ms, channel_id, message_id);
