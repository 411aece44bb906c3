"""A discord.py bot run against Concord, unchanged but for the two URLs.

Environment: CONCORD_HTTP, CONCORD_WS, BOT_TOKEN, OWNER_TOKEN, OWNER_ID, GUILD_ID,
CHANNEL_ID, HISTORY_CHANNEL_ID, HISTORY_COUNT, FORUM_ID. Exits 0 when every step passed.
With PEER_ID set it talks with that bot instead (see peer()).
"""

import asyncio
import base64
import datetime
import io
import os
import sys
import traceback

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.http import Route
from scenario import HTTP, TIMEOUT, check, owner_request, owner_says, owner_votes

Route.BASE = f"{HTTP}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["CONCORD_WS"] + "/")

GUILD_ID = int(os.environ["GUILD_ID"])
CHANNEL_ID = int(os.environ["CHANNEL_ID"])
HISTORY_ID = int(os.environ["HISTORY_CHANNEL_ID"])
HISTORY_COUNT = int(os.environ["HISTORY_COUNT"])
FORUM_ID = int(os.environ["FORUM_ID"])
PEER_ID = os.environ.get("PEER_ID")
# The start of a PNG: what discord.py needs to name the image's type.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
# A whole 3x2 PNG, sent as a file.
DOT = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAEElEQVR4nGP4z8AAQQxwFgBB0gX7h/C5SAAAAABJRU5ErkJggg=="
)

intents = discord.Intents.default()
intents.message_content = True
intents.presences = True
intents.members = True
client = discord.Client(intents=intents)
outcome = {"ok": False}
tree = app_commands.CommandTree(client)
HOME = discord.Object(GUILD_ID)


@tree.command(name="echo", description="Says it back", guild=HOME)
@app_commands.describe(text="What to say", times="How often")
async def echo(interaction: discord.Interaction, text: str, times: app_commands.Range[int, 1, 5] = 1):
    await interaction.response.send_message(text * times)


@echo.autocomplete("text")
async def echo_text(interaction: discord.Interaction, current: str):
    return [app_commands.Choice(name=current, value=current)]


@tree.context_menu(name="Quote", guild=HOME)
async def quote(interaction: discord.Interaction, message: discord.Message):
    await interaction.response.send_message(message.content)


# What the handlers below answered, for the scenario to look at.
answers = {}


def answered(name):
    answers[name] = asyncio.get_running_loop().create_future()
    return asyncio.wait_for(answers[name], TIMEOUT)


@tree.command(name="whisper", description="Answers the invoker alone", guild=HOME)
async def whisper(interaction: discord.Interaction):
    await interaction.response.send_message("psst", ephemeral=True)
    answers["whisper"].set_result(await interaction.original_response())


@tree.command(name="slow", description="Thinks, then answers", guild=HOME)
async def slow(interaction: discord.Interaction):
    await interaction.response.defer(thinking=True)
    await asyncio.sleep(0.5)
    answers["slow"].set_result(await interaction.followup.send("done thinking", wait=True))


class Menu(discord.ui.View):
    def __init__(self):
        super().__init__(timeout=TIMEOUT)

    @discord.ui.select(custom_id="menu-pick", options=[discord.SelectOption(label=v, value=v) for v in "ab"])
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select):
        await interaction.response.send_message(f"picked {','.join(select.values)}")

    @discord.ui.button(label="Go", custom_id="menu-go", style=discord.ButtonStyle.primary)
    async def go(self, interaction: discord.Interaction, button: discord.ui.Button):
        await interaction.response.edit_message(content="went", view=None)


@tree.command(name="menu", description="Shows a button and a select", guild=HOME)
async def menu(interaction: discord.Interaction):
    await interaction.response.send_message("choose", view=Menu())
    answers["menu"].set_result(await interaction.original_response())


class Ask(discord.ui.Modal, title="Tell me"):
    name = discord.ui.TextInput(label="Name", custom_id="ask-name")

    def __init__(self):
        super().__init__(custom_id="ask-modal", timeout=TIMEOUT)

    async def on_submit(self, interaction: discord.Interaction):
        await interaction.response.send_message(f"hello {self.name.value}")


@tree.command(name="ask", description="Asks in a modal", guild=HOME)
async def ask(interaction: discord.Interaction):
    await interaction.response.send_modal(Ask())


def expect(event, check=None):
    """Starts waiting for an event now, before the action that causes it."""
    return asyncio.ensure_future(client.wait_for(event, check=check, timeout=TIMEOUT))


async def threads(guild, channel):
    starter = await channel.send("a thread starts here")
    created = expect("thread_create")
    thread = await starter.create_thread(name="compat thread", auto_archive_duration=60)
    check(thread.id == starter.id and thread.parent_id == CHANNEL_ID, "a thread from a message has its id")
    announced = await created
    check(announced.id == thread.id and announced.owner_id == client.user.id, "THREAD_CREATE fires thread_create")
    in_thread = expect("message", lambda m: m.content == "owner in thread")
    await thread.send("bot in thread")
    await owner_says(thread.id, "owner in thread")
    answer = await in_thread
    check(isinstance(answer.channel, discord.Thread) and answer.channel.id == thread.id, "a message in a thread arrives in it")
    followers = {m.id for m in await thread.fetch_members()}
    check(followers == {client.user.id, int(os.environ["OWNER_ID"])}, "writers follow the thread")
    check(thread.id in [t.id for t in await guild.active_threads()], "the active thread list")
    archived = expect("thread_update", lambda before, after: after.id == thread.id and after.archived)
    await thread.edit(archived=True)
    await archived
    listed = [t.id async for t in channel.archived_threads()]
    check(listed == [thread.id], "the archived thread list")
    deleted = expect("raw_thread_delete", lambda p: p.thread_id == thread.id)
    await thread.delete()
    await deleted
    check(True, "THREAD_DELETE arrives")

    forum = client.get_channel(FORUM_ID)
    check(isinstance(forum, discord.ForumChannel), "a forum channel is a ForumChannel")
    post = await forum.create_thread(name="compat post", content="first words")
    check(
        post.thread.parent_id == FORUM_ID
        and post.message.id == post.thread.id
        and post.message.content == "first words",
        "a forum post is a thread with its first message",
    )


async def polls(channel):
    poll = discord.Poll(question="Lunch?", duration=datetime.timedelta(hours=1))
    poll.add_answer(text="pizza", emoji="\N{SLICE OF PIZZA}")
    poll.add_answer(text="soup")
    sent = await channel.send(poll=poll)
    check(
        sent.poll is not None and sent.poll.question == "Lunch?"
        and [a.text for a in sent.poll.answers] == ["pizza", "soup"],
        "send a poll",
    )
    voted = expect("raw_poll_vote_add", lambda p: p.message_id == sent.id)
    await owner_votes(CHANNEL_ID, sent.id, ["2"])
    vote = await voted
    check(vote.answer_id == 2 and vote.user_id == int(os.environ["OWNER_ID"]), "MESSAGE_POLL_VOTE_ADD arrives")
    fetched = await channel.fetch_message(sent.id)
    soup = fetched.poll.get_answer(2)
    check(soup.vote_count == 1 and not soup.self_voted and not fetched.poll.is_finalised(), "read the votes back")
    result = expect("message", lambda m: m.type == discord.MessageType.poll_result)
    ended = await fetched.end_poll()
    check(ended.poll.is_finalised(), "end the poll early")
    posted = await result
    check(posted.reference is not None and posted.reference.message_id == sent.id, "its result is posted")


async def scenario():
    guild = client.get_guild(GUILD_ID)
    check(guild is not None, "the guild is in the cache")
    channel = guild.get_channel(CHANNEL_ID)
    check(channel is not None and channel.name == "general", "its channels are in the cache")
    check(guild.me is not None and guild.me.id == client.user.id, "the bot's own member is there")
    check(guild.default_role.id == guild.id, "@everyone has the guild's id")

    # The owner comes online idle on a connection of their own.
    owner_id = int(os.environ["OWNER_ID"])
    online = expect("presence_update", lambda b, a: a.id == owner_id and a.status == discord.Status.idle)
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(os.environ["CONCORD_WS"] + "/?v=10&encoding=json") as ws:
            await ws.receive_json()
            presence = {"status": "idle", "activities": [{"name": "chess", "type": 0}], "since": None, "afk": False}
            identify = {"token": os.environ["OWNER_TOKEN"], "intents": 1, "presence": presence,
                        "properties": {"os": "linux", "browser": "compat", "device": "compat"}}
            await ws.send_json({"op": 2, "d": identify})
            _, member = await online
            check(member.activity is not None and member.activity.name == "chess", "PRESENCE_UPDATE: status and activity")
            offline = expect("presence_update", lambda b, a: a.id == owner_id and a.status == discord.Status.offline)
        await offline
    check(guild.get_member(owner_id).status == discord.Status.offline, "offline when the connection ends")

    arrival = expect("message", lambda m: m.content == "hello from discord.py")
    sent = await channel.send("hello from discord.py")
    received = await arrival
    check(received.id == sent.id, "MESSAGE_CREATE carries the content")
    check(isinstance(received.author, discord.Member), "the author arrives as a member")

    edit = expect("message_edit", lambda b, a: a.id == sent.id)
    await sent.edit(content="edited by discord.py")
    _, after = await edit
    check(after.content == "edited by discord.py", "MESSAGE_UPDATE carries the edit")

    reacted = expect("raw_reaction_add", lambda p: p.message_id == sent.id)
    await sent.add_reaction("\N{THUMBS UP SIGN}")
    payload = await reacted
    check(str(payload.emoji) == "\N{THUMBS UP SIGN}", "MESSAGE_REACTION_ADD arrives")
    fetched = await channel.fetch_message(sent.id)
    check(fetched.reactions[0].count == 1 and fetched.reactions[0].me, "reactions are counted with me")
    await sent.remove_reaction("\N{THUMBS UP SIGN}", client.user)

    emojis_update = expect("guild_emojis_update")
    emoji = await guild.create_custom_emoji(name="compat_blob", image=PNG)
    await emojis_update
    check(emoji.name == "compat_blob" and guild.get_emoji(emoji.id) is not None, "custom emoji: create, event, cache")
    await sent.add_reaction(emoji)
    refetched = await channel.fetch_message(sent.id)
    check(any(getattr(r.emoji, "id", None) == emoji.id for r in refetched.reactions), "react with a custom emoji")
    await sent.clear_reactions()
    check([e.id for e in await guild.fetch_emojis()] == [emoji.id], "fetch emoji")
    await emoji.delete()
    check(await guild.fetch_emojis() == [], "delete emoji")

    pins_update = expect("guild_channel_pins_update")
    await sent.pin()
    await pins_update
    pinned = await channel.pins()
    check([m.id for m in pinned] == [sent.id], "pins: pin, CHANNEL_PINS_UPDATE, list")
    await sent.unpin()
    check(await channel.pins() == [], "unpin")

    with_file = await channel.send("a file", file=discord.File(io.BytesIO(DOT), filename="dot.png"))
    shown = with_file.attachments[0] if with_file.attachments else None
    check(
        shown is not None and shown.filename == "dot.png" and (shown.width, shown.height) == (3, 2),
        "send a file: the attachment with its image size",
    )
    check(await shown.read() == DOT, "read the file back from its URL")
    await with_file.delete()

    await threads(guild, channel)
    await polls(channel)

    deletion = expect("raw_message_delete", lambda p: p.message_id == sent.id)
    await sent.delete()
    gone = await deletion
    check(gone.channel_id == CHANNEL_ID, "MESSAGE_DELETE arrives")

    await channel.typing()
    check(True, "typing is accepted")
    me = await guild.me.edit(nick="compat nick", reason="testing the audit log")
    check(me is not None and me.nick == "compat nick", "the bot renames itself in the guild")
    entries = [e async for e in guild.audit_logs(limit=5)]
    check(
        entries[0].action == discord.AuditLogAction.member_update
        and entries[0].reason == "testing the audit log"
        and entries[0].user.id == client.user.id,
        "the audit log records the rename with its reason",
    )

    owner = await client.fetch_user(guild.owner_id)
    dm = await owner.create_dm()
    check(isinstance(dm, discord.DMChannel) and dm.recipient.id == owner.id, "a DM opens")
    check((await owner.create_dm()).id == dm.id, "the same DM is reused")
    mine = await dm.send("hello in private")
    check(mine.channel.id == dm.id and mine.guild is None, "the bot writes in the DM")
    answer = expect("message", lambda m: m.content == "answer in private")
    await owner_says(dm.id, "answer in private")
    answered = await answer
    check(answered.guild is None and answered.author.id == owner.id, "a DM message arrives as such")

    hook = await channel.create_webhook(name="compat hook", reason="testing webhooks")
    check(hook.token is not None and len(hook.token) >= 60 and hook.channel_id == CHANNEL_ID, "the bot creates a webhook")
    check(hook.id in [h.id for h in await channel.webhooks()], "the channel lists its webhooks")
    heard = expect("message", lambda m: m.webhook_id == hook.id)
    async with aiohttp.ClientSession() as http:
        poster = discord.Webhook.partial(hook.id, hook.token, session=http)
        posted = await poster.send("from a webhook", username="Compat hook", wait=True)
        check(posted.webhook_id == hook.id and posted.author.name == "Compat hook", "the webhook posts, waited for")
        seen = await heard
        check(seen.id == posted.id and seen.author.id == hook.id and seen.author.bot, "MESSAGE_CREATE names the webhook")
        edited = await posted.edit(content="edited by the webhook")
        check(edited.content == "edited by the webhook", "the webhook edits its message")
        check((await poster.fetch_message(posted.id)).content == edited.content, "the webhook reads its message")
        await posted.delete()
        check(await poster.send("not waited for") is None, "without wait, nothing comes back")
    await hook.delete()
    check(hook.id not in [h.id for h in await channel.webhooks()], "the webhook is deleted")

    await slash_commands()

    history = client.get_channel(HISTORY_ID)
    newest_first = [m async for m in history.history(limit=None)]
    check(len(newest_first) == HISTORY_COUNT, f"history pages through all {HISTORY_COUNT} messages")
    ids = [m.id for m in newest_first]
    check(ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids), "newest first, no duplicates")
    oldest_first = [m.id async for m in history.history(limit=None, oldest_first=True)]
    check(oldest_first == ids[::-1], "oldest_first pages with after= in order")
    middle = newest_first[HISTORY_COUNT // 2]
    around = [m.id async for m in history.history(limit=10, around=middle)]
    check(middle.id in around and len(around) == 10, "around= returns the page around a message")

    resumed = expect("resumed")
    missed = expect("message", lambda m: m.content == "sent while away")
    await client.ws.close(code=4000)
    await owner_says(CHANNEL_ID, "sent while away")
    await resumed
    check(True, "the session resumed after a dropped socket")
    message = await missed
    check(message.channel.id == CHANNEL_ID, "the event sent while away was replayed")


async def slash_commands():
    synced = await tree.sync(guild=HOME)
    names = ["Quote", "ask", "echo", "menu", "slow", "whisper"]
    check(sorted(c.name for c in synced) == names, "CommandTree.sync registers the guild's commands")
    fetched = await tree.fetch_commands(guild=HOME)
    check({c.id for c in fetched} == {c.id for c in synced}, "fetch_commands reads them back")
    command = next(c for c in fetched if c.name == "echo")
    text, times = command.options
    check(command.guild_id == GUILD_ID and text.required and text.autocomplete, "a required option with autocomplete")
    check(times.min_value == 1 and times.max_value == 5 and not times.required, "an optional ranged option")
    again = await tree.sync(guild=HOME)
    check({c.id for c in again} == {c.id for c in synced}, "a second sync keeps the commands' ids")
    check(await tree.sync() == [] and await tree.fetch_commands() == [], "no global commands")
    await interactions({c.name: c for c in fetched})


async def interactions(commands):
    """The owner invokes the commands as Discord's client does; the bot answers
    through discord.py's Interaction, views and modals."""
    owner_id = int(os.environ["OWNER_ID"])
    where = {"application_id": str(client.application_id), "guild_id": str(GUILD_ID),
             "channel_id": str(CHANNEL_ID), "session_id": "compat"}

    async def person(kind, data, **rest):
        for _ in range(TIMEOUT * 10):
            status, body = await owner_request("POST", "/interactions", {"type": kind, "data": data, **where, **rest})
            # A modal is submitted once the bot has opened it.
            if status != 400 or kind != 5:
                break
            await asyncio.sleep(0.1)
        check(status == 204, f"POST /interactions type {kind}: {status} {body}")

    def command(name, options=()):
        c = commands[name]
        return {"id": str(c.id), "name": name, "type": 1, "version": "1", "options": list(options)}

    heard = expect("message", lambda m: m.content == "hihi")
    options = [{"name": "text", "type": 3, "value": "hi"}, {"name": "times", "type": 4, "value": 2}]
    await person(2, command("echo", options))
    message = await heard
    check(message.type == discord.MessageType.chat_input_command and message.author.id == client.user.id,
          "a slash command's answer is the bot's message of type 20")
    check(message.interaction_metadata.user.id == owner_id and message.application_id == client.application_id,
          "it carries interaction_metadata naming the invoker")

    waiting = answered("whisper")
    await person(2, command("whisper"))
    whispered = await waiting
    check(whispered.flags.ephemeral and whispered.content == "psst", "an ephemeral reply, read back as @original")
    _, history = await owner_request("GET", f"/channels/{CHANNEL_ID}/messages?limit=20")
    check(all(m["id"] != str(whispered.id) for m in history), "an ephemeral reply stays out of the channel's history")

    waiting = answered("slow")
    await person(2, command("slow"))
    followed = await waiting
    check(followed.content == "done thinking" and not followed.flags.loading, "a deferred reply, then its follow-up")

    waiting = answered("menu")
    await person(2, command("menu"))
    shown = await waiting
    check(len(shown.components) == 2, "a View's button and select are on the message")
    picked = expect("message", lambda m: m.content == "picked b")
    await person(3, {"component_type": 3, "custom_id": "menu-pick", "values": ["b"]}, message_id=str(shown.id))
    await picked
    check(True, "a select's choice reaches the View")
    edited = expect("raw_message_edit", lambda p: p.message_id == shown.id)
    await person(3, {"component_type": 2, "custom_id": "menu-go"}, message_id=str(shown.id))
    update = await edited
    check(update.data["content"] == "went" and update.data["components"] == [], "a button edits its message in place")

    greeted = expect("message", lambda m: m.content == "hello Ada")
    await person(2, command("ask"))
    fields = [{"type": 1, "components": [{"type": 4, "custom_id": "ask-name", "value": "Ada"}]}]
    await person(5, {"custom_id": "ask-modal", "components": fields})
    await greeted
    check(True, "a Modal is opened and submitted")


async def peer():
    """Another library's bot (PEER_ID), connected to another node of a cluster,
    and this one each see the other's message. Prints "ready" once connected,
    then speaks when a line comes on stdin, so that both listen before either speaks."""
    channel = client.get_channel(CHANNEL_ID)
    check(channel is not None, "the channel is in the cache")
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    heard = expect("message", lambda m: m.author.id == int(PEER_ID))
    await channel.send("hello from discord.py")
    message = await heard
    check(message.channel.id == CHANNEL_ID, f"the peer's message arrived: {message.content!r}")


@client.event
async def on_ready():
    try:
        await (peer() if PEER_ID else scenario())
        outcome["ok"] = True
    except Exception:
        traceback.print_exc()
    finally:
        await client.close()


async def main():
    async with client:
        await asyncio.wait_for(client.start(os.environ["BOT_TOKEN"]), timeout=120)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0 if outcome["ok"] else 1)
