"""A hikari bot run against Concord, unchanged but for its REST URL (the
gateway's comes from GET /gateway/bot, as it does from Discord).

Environment: CONCORD_HTTP, CONCORD_WS, BOT_TOKEN, OWNER_TOKEN, OWNER_ID, GUILD_ID,
CHANNEL_ID, HISTORY_CHANNEL_ID, HISTORY_COUNT, FORUM_ID. Exits 0 when every step passed.
"""

import asyncio
import base64
import os
import sys
import traceback

import aiohttp
import hikari
from scenario import HTTP, TIMEOUT, check, owner_says

GUILD_ID = int(os.environ["GUILD_ID"])
CHANNEL_ID = int(os.environ["CHANNEL_ID"])
HISTORY_ID = int(os.environ["HISTORY_CHANNEL_ID"])
HISTORY_COUNT = int(os.environ["HISTORY_COUNT"])
FORUM_ID = int(os.environ["FORUM_ID"])
OWNER_ID = int(os.environ["OWNER_ID"])
# A whole 3x2 PNG, sent as a file and made an emoji.
DOT = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAEElEQVR4nGP4z8AAQQxwFgBB0gX7h/C5SAAAAABJRU5ErkJggg=="
)

bot = hikari.GatewayBot(
    os.environ["BOT_TOKEN"],
    intents=hikari.Intents.ALL,
    rest_url=f"{HTTP}/api/v10",
    banner=None,
)
outcome = {"ok": False}


def expect(event_type, predicate=None):
    """Starts waiting for an event now, before the action that causes it."""
    return asyncio.ensure_future(bot.wait_for(event_type, timeout=TIMEOUT, predicate=predicate))


async def threads(me):
    rest = bot.rest
    starter = await rest.create_message(CHANNEL_ID, "a thread starts here")
    created = expect(hikari.GuildThreadCreateEvent)
    thread = await rest.create_message_thread(CHANNEL_ID, starter, "compat thread", auto_archive_duration=60)
    check(thread.id == starter.id and thread.parent_id == CHANNEL_ID, "a thread from a message has its id")
    announced = (await created).thread
    check(announced.id == thread.id and announced.owner_id == me.id, "THREAD_CREATE fires GuildThreadCreateEvent")
    in_thread = expect(hikari.GuildMessageCreateEvent, lambda e: e.message.content == "owner in thread")
    await rest.create_message(thread, "bot in thread")
    await owner_says(thread.id, "owner in thread")
    answer = await in_thread
    check(answer.channel_id == thread.id, "a message in a thread arrives in it")
    followers = {m.user_id async for m in rest.fetch_thread_members(thread)}
    check(followers == {me.id, OWNER_ID}, "writers follow the thread")
    active = await rest.fetch_active_threads(GUILD_ID)
    check(thread.id in [t.id for t in active], "the active thread list")
    archived = expect(hikari.GuildThreadUpdateEvent, lambda e: e.thread.id == thread.id and e.thread.is_archived)
    await rest.edit_channel(thread, archived=True)
    await archived
    listed = [t.id async for t in rest.fetch_public_archived_threads(CHANNEL_ID)]
    check(listed == [thread.id], "the archived thread list")
    deleted = expect(hikari.GuildThreadDeleteEvent, lambda e: e.thread_id == thread.id)
    await rest.delete_channel(thread)
    await deleted
    check(True, "THREAD_DELETE arrives")

    post = await rest.create_forum_post(FORUM_ID, "compat post", "first words")
    first = await rest.fetch_message(post, post.id)
    check(
        post.parent_id == FORUM_ID and first.content == "first words",
        "a forum post is a thread with its first message",
    )


async def scenario():
    rest = bot.rest
    me = bot.get_me()
    guild = bot.cache.get_guild(GUILD_ID)
    check(guild is not None, "the guild is in the cache")
    channel = bot.cache.get_guild_channel(CHANNEL_ID)
    check(channel is not None and channel.name == "general", "its channels are in the cache")
    check(bot.cache.get_member(GUILD_ID, me.id) is not None, "the bot's own member is there")
    check(guild.get_role(GUILD_ID) is not None, "@everyone has the guild's id")

    # The owner comes online idle on a connection of their own.
    online = expect(
        hikari.PresenceUpdateEvent,
        lambda e: e.user_id == OWNER_ID and e.presence.visible_status == hikari.Status.IDLE,
    )
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(os.environ["CONCORD_WS"] + "/?v=10&encoding=json") as ws:
            await ws.receive_json()
            presence = {"status": "idle", "activities": [{"name": "chess", "type": 0}], "since": None, "afk": False}
            identify = {"token": os.environ["OWNER_TOKEN"], "intents": 1, "presence": presence,
                        "properties": {"os": "linux", "browser": "compat", "device": "compat"}}
            await ws.send_json({"op": 2, "d": identify})
            event = await online
            activities = event.presence.activities
            check(activities and activities[0].name == "chess", "PRESENCE_UPDATE: status and activity")
            offline = expect(
                hikari.PresenceUpdateEvent,
                lambda e: e.user_id == OWNER_ID and e.presence.visible_status == hikari.Status.OFFLINE,
            )
        await offline
    check(True, "offline when the connection ends")

    arrival = expect(hikari.GuildMessageCreateEvent, lambda e: e.message.content == "hello from hikari")
    sent = await rest.create_message(CHANNEL_ID, "hello from hikari")
    received = await arrival
    check(received.message.id == sent.id, "MESSAGE_CREATE carries the content")
    check(received.member is not None and received.member.id == me.id, "the author arrives as a member")

    edit = expect(hikari.GuildMessageUpdateEvent, lambda e: e.message.id == sent.id)
    await rest.edit_message(CHANNEL_ID, sent, "edited by hikari")
    edited = await edit
    check(edited.message.content == "edited by hikari", "MESSAGE_UPDATE carries the edit")

    reacted = expect(hikari.GuildReactionAddEvent, lambda e: e.message_id == sent.id)
    await rest.add_reaction(CHANNEL_ID, sent, "\N{THUMBS UP SIGN}")
    reaction = await reacted
    check(reaction.emoji_name == "\N{THUMBS UP SIGN}", "MESSAGE_REACTION_ADD arrives")
    fetched = await rest.fetch_message(CHANNEL_ID, sent)
    check(fetched.reactions[0].count == 1 and fetched.reactions[0].is_me, "reactions are counted with me")
    await rest.delete_my_reaction(CHANNEL_ID, sent, "\N{THUMBS UP SIGN}")

    emojis_update = expect(hikari.EmojisUpdateEvent)
    emoji = await rest.create_emoji(GUILD_ID, "compat_blob", hikari.Bytes(DOT, "blob.png"))
    await emojis_update
    check(emoji.name == "compat_blob" and bot.cache.get_emoji(emoji.id) is not None, "custom emoji: create, event, cache")
    await rest.add_reaction(CHANNEL_ID, sent, emoji)
    refetched = await rest.fetch_message(CHANNEL_ID, sent)
    check(any(getattr(r.emoji, "id", None) == emoji.id for r in refetched.reactions), "react with a custom emoji")
    await rest.delete_all_reactions(CHANNEL_ID, sent)
    check([e.id for e in await rest.fetch_guild_emojis(GUILD_ID)] == [emoji.id], "fetch emoji")
    await rest.delete_emoji(GUILD_ID, emoji)
    check(list(await rest.fetch_guild_emojis(GUILD_ID)) == [], "delete emoji")

    pins_update = expect(hikari.GuildPinsUpdateEvent)
    await rest.pin_message(CHANNEL_ID, sent)
    await pins_update
    pinned = [p.message.id async for p in rest.fetch_pins(CHANNEL_ID)]
    check(pinned == [sent.id], "pins: pin, CHANNEL_PINS_UPDATE, list")
    await rest.unpin_message(CHANNEL_ID, sent)
    check([p async for p in rest.fetch_pins(CHANNEL_ID)] == [], "unpin")

    with_file = await rest.create_message(CHANNEL_ID, "a file", attachment=hikari.Bytes(DOT, "dot.png"))
    shown = with_file.attachments[0] if with_file.attachments else None
    check(
        shown is not None and shown.filename == "dot.png" and (shown.width, shown.height) == (3, 2),
        "send a file: the attachment with its image size",
    )
    check(await shown.read() == DOT, "read the file back from its URL")
    await rest.delete_message(CHANNEL_ID, with_file)

    await threads(me)

    deletion = expect(hikari.GuildMessageDeleteEvent, lambda e: e.message_id == sent.id)
    await rest.delete_message(CHANNEL_ID, sent)
    gone = await deletion
    check(gone.channel_id == CHANNEL_ID, "MESSAGE_DELETE arrives")

    await rest.trigger_typing(CHANNEL_ID)
    check(True, "typing is accepted")
    member = await rest.edit_my_member(GUILD_ID, nickname="compat nick", reason="testing the audit log")
    check(member.nickname == "compat nick", "the bot renames itself in the guild")
    async for page in rest.fetch_audit_log(GUILD_ID):
        entry = next(iter(page.entries.values()))
        check(
            entry.action_type == hikari.AuditLogEventType.MEMBER_UPDATE
            and entry.reason == "testing the audit log"
            and entry.user_id == me.id,
            "the audit log records the rename with its reason",
        )
        break

    dm = await rest.create_dm_channel(OWNER_ID)
    check(dm.recipient.id == OWNER_ID, "a DM opens")
    check((await rest.create_dm_channel(OWNER_ID)).id == dm.id, "the same DM is reused")
    mine = await rest.create_message(dm, "hello in private")
    check(mine.channel_id == dm.id and mine.guild_id is None, "the bot writes in the DM")
    answer = expect(hikari.DMMessageCreateEvent, lambda e: e.message.content == "answer in private")
    await owner_says(dm.id, "answer in private")
    answered = await answer
    check(answered.author_id == OWNER_ID, "a DM message arrives as such")

    newest_first = [m async for m in rest.fetch_messages(HISTORY_ID)]
    check(len(newest_first) == HISTORY_COUNT, f"history pages through all {HISTORY_COUNT} messages")
    ids = [m.id for m in newest_first]
    check(ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids), "newest first, no duplicates")
    oldest_first = [m.id async for m in rest.fetch_messages(HISTORY_ID, after=hikari.Snowflake(0))]
    check(sorted(oldest_first) == ids[::-1], "after= pages through them all")
    middle = newest_first[HISTORY_COUNT // 2]
    # hikari asks for pages of 100 around the message, and would go on
    # asking around the last of each: one page is what around= means.
    around = [m.id async for m in rest.fetch_messages(HISTORY_ID, around=middle).limit(100)]
    check(middle.id in around and len(around) == 100, "around= returns the page around a message")

    resumed = expect(hikari.ShardResumedEvent)
    missed = expect(hikari.GuildMessageCreateEvent, lambda e: e.message.content == "sent while away")
    shard = next(iter(bot.shards.values()))
    await shard._ws.send_close(code=4000, message=b"dropped on purpose")
    await owner_says(CHANNEL_ID, "sent while away")
    await resumed
    check(True, "the session resumed after a dropped socket")
    message = await missed
    check(message.channel_id == CHANNEL_ID, "the event sent while away was replayed")


async def main():
    await bot.start()
    try:
        # The guild arrives after READY: wait for it, as a bot would.
        for _ in range(100):
            if bot.cache.get_guild(GUILD_ID) is not None:
                break
            await asyncio.sleep(0.1)
        await scenario()
        outcome["ok"] = True
    except Exception:
        traceback.print_exc()
    finally:
        await bot.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0 if outcome["ok"] else 1)
