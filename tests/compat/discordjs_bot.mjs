// A discord.js bot run against Concord, unchanged but for the REST base URL
// (the gateway URL comes from GET /gateway/bot, as on Discord).
// Environment: see discordpy_bot.py. Exits 0 when every step passed.
// With PEER_ID set it talks with that bot instead (see peer()).

import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  Client,
  Events,
  GatewayIntentBits,
  MessageType,
  Routes,
  SlashCommandBuilder,
} from 'discord.js';
import { WebSocketShardDestroyRecovery } from '@discordjs/ws';
import WebSocket from 'ws';

const env = process.env;
const TIMEOUT = 20_000;
const HISTORY_COUNT = Number(env.HISTORY_COUNT);

const client = new Client({
  intents: [
    GatewayIntentBits.Guilds,
    GatewayIntentBits.GuildMessages,
    GatewayIntentBits.MessageContent,
    GatewayIntentBits.GuildMembers,
    GatewayIntentBits.GuildPresences,
  ],
  rest: { api: `${env.CONCORD_HTTP}/api` },
});

function check(condition, what) {
  if (!condition) throw new Error(`failed: ${what}`);
  console.log(`ok - ${what}`);
}

/** Starts waiting for an event now, before the action that causes it. */
function expect(event, filter = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(event, listener);
      reject(new Error(`timed out waiting for ${event}`));
    }, TIMEOUT);
    function listener(...args) {
      if (!filter(...args)) return;
      clearTimeout(timer);
      client.off(event, listener);
      resolve(args);
    }
    client.on(event, listener);
  });
}

async function ownerSays(channelId, content) {
  const reply = await fetch(`${env.CONCORD_HTTP}/api/v10/channels/${channelId}/messages`, {
    method: 'POST',
    headers: { authorization: env.OWNER_TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify({ content }),
  });
  if (reply.status !== 200) throw new Error(`owner message: ${reply.status} ${await reply.text()}`);
}

/** The owner invokes an interaction in #general as Discord's client does. */
async function ownerInteracts(interaction) {
  const body = {
    application_id: client.user.id, guild_id: env.GUILD_ID, channel_id: env.CHANNEL_ID,
    session_id: 'compat', nonce: String(Date.now()), ...interaction,
  };
  const reply = await fetch(`${env.CONCORD_HTTP}/api/v10/interactions`, {
    method: 'POST',
    headers: { authorization: env.OWNER_TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (reply.status !== 204) throw new Error(`interaction: ${reply.status} ${await reply.text()}`);
}

async function slashCommands(guild) {
  const command = new SlashCommandBuilder()
    .setName('jsping')
    .setDescription('Answers pong')
    .addStringOption((o) => o.setName('word').setDescription('What to add'));
  const registered = await client.rest.put(Routes.applicationGuildCommands(client.user.id, guild.id), {
    body: [command.toJSON()],
  });
  check(registered.length === 1 && registered[0].name === 'jsping', 'a SlashCommandBuilder command registered over REST');
  client.on(Events.InteractionCreate, async (interaction) => {
    if (interaction.isChatInputCommand() && interaction.commandName === 'jsping') {
      const button = new ButtonBuilder().setCustomId('js-press').setLabel('Press').setStyle(ButtonStyle.Primary);
      const word = interaction.options.getString('word');
      await interaction.reply({ content: `pong ${word}`, components: [new ActionRowBuilder().addComponents(button)] });
    } else if (interaction.isButton() && interaction.customId === 'js-press') {
      await interaction.update({ content: 'pressed', components: [] });
    }
  });
  const answered = expect(Events.MessageCreate, (m) => m.content === 'pong hi');
  const options = [{ name: 'word', type: 3, value: 'hi' }];
  await ownerInteracts({ type: 2, data: { id: registered[0].id, name: 'jsping', type: 1, options } });
  const [message] = await answered;
  check(
    message.type === MessageType.ChatInputCommand && message.interactionMetadata?.user.id === env.OWNER_ID,
    'interaction.reply answers as the bot, naming the invoker',
  );
  check(message.components.length === 1, 'the answer carries its button');
  const pressed = expect(Events.MessageUpdate, (_, after) => after.id === message.id && after.content === 'pressed');
  await ownerInteracts({ type: 3, message_id: message.id, data: { component_type: 2, custom_id: 'js-press' } });
  const [, after] = await pressed;
  check(after.components.length === 0, 'interaction.update edits the button\'s message in place');
}

/** The owner connects with a status of their own; resolves once READY came. */
function ownerOnline(presence) {
  const socket = new WebSocket(`${env.CONCORD_WS}/?v=10&encoding=json`);
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('message', (data) => {
      const payload = JSON.parse(data.toString());
      if (payload.op === 10) {
        socket.send(JSON.stringify({
          op: 2,
          d: { token: env.OWNER_TOKEN, intents: 0, properties: { os: 'linux', browser: 'test', device: 'test' }, presence },
        }));
      } else if (payload.t === 'READY') {
        resolve(socket);
      }
    });
  });
}

async function presence(guild) {
  const online = expect(Events.PresenceUpdate, (_, p) => p.userId === env.OWNER_ID && p.status === 'dnd');
  const socket = await ownerOnline({ status: 'dnd', since: null, afk: false, activities: [{ name: 'reviewing', type: 0 }] });
  const [, shown] = await online;
  check(shown.activities[0]?.name === 'reviewing' && shown.guild.id === guild.id, 'PRESENCE_UPDATE: the owner is dnd, reviewing');
  check(guild.presences.cache.get(env.OWNER_ID)?.status === 'dnd', 'the presence is cached for the guild');
  const offline = expect(Events.PresenceUpdate, (_, p) => p.userId === env.OWNER_ID && p.status === 'offline');
  socket.close(1000);
  await offline;
  check(true, 'the owner goes offline when their connection ends');
}

async function thread(channel) {
  const started = await channel.threads.create({ name: 'js thread', type: ChannelType.PublicThread, autoArchiveDuration: 60 });
  check(started.isThread() && started.parentId === channel.id && started.ownerId === client.user.id, 'a thread starts');
  const inThread = expect(Events.MessageCreate, (m) => m.channelId === started.id && m.content === 'owner in js thread');
  await ownerSays(started.id, 'owner in js thread');
  const [message] = await inThread;
  check(message.channel.isThread(), 'a message in the thread arrives in it');
  const archived = expect(Events.ThreadUpdate, (_, after) => after.id === started.id && after.archived);
  await started.setArchived(true);
  await archived;
  check(true, 'THREAD_UPDATE carries the archiving');
}

async function scenario() {
  const guild = client.guilds.cache.get(env.GUILD_ID);
  check(guild !== undefined && guild.available, 'the guild is cached and available');
  const channel = guild.channels.cache.get(env.CHANNEL_ID);
  check(channel?.name === 'general', 'its channels are in the cache');
  check(guild.members.me?.id === client.user.id, "the bot's own member is there");
  check(client.application?.id === client.user.id, 'READY.application was read');

  const created = expect(Events.MessageCreate, (m) => m.content === 'hello from discord.js');
  const sent = await channel.send('hello from discord.js');
  const [received] = await created;
  check(received.id === sent.id && received.member !== null, 'MESSAGE_CREATE carries the content and member');

  const updated = expect(Events.MessageUpdate, (_, after) => after.id === sent.id);
  await sent.edit('edited by discord.js');
  const [, after] = await updated;
  check(after.content === 'edited by discord.js', 'MESSAGE_UPDATE carries the edit');

  const deleted = expect(Events.MessageDelete, (m) => m.id === sent.id);
  await sent.delete();
  await deleted;
  check(true, 'MESSAGE_DELETE arrives');

  await presence(guild);
  await thread(channel);
  await slashCommands(guild);

  const history = guild.channels.cache.get(env.HISTORY_CHANNEL_ID);
  const ids = [];
  let before;
  for (;;) {
    const page = await history.messages.fetch({ limit: 100, before, cache: false });
    if (page.size === 0) break;
    ids.push(...page.keys());
    before = page.lastKey();
  }
  check(ids.length === HISTORY_COUNT, `history pages through all ${HISTORY_COUNT} messages`);
  const sorted = [...ids].sort((a, b) => (BigInt(b) > BigInt(a) ? 1 : -1));
  check(JSON.stringify(sorted) === JSON.stringify(ids) && new Set(ids).size === ids.length, 'newest first, no duplicates');
  const afterPage = await history.messages.fetch({ limit: 10, after: ids[ids.length - 1], cache: false });
  check(afterPage.size === 10 && afterPage.lastKey() === ids[ids.length - 2], 'after= returns the next ten, newest first');

  const resumed = expect(Events.ShardResume);
  const missed = expect(Events.MessageCreate, (m) => m.content === 'sent while away');
  const shard = client.ws._ws.strategy.shards.get(0);
  await shard.destroy({ reason: 'testing resume', recover: WebSocketShardDestroyRecovery.Resume });
  await ownerSays(env.CHANNEL_ID, 'sent while away');
  await resumed;
  check(true, 'the session resumed after a dropped socket');
  await missed;
  check(true, 'the event sent while away was replayed');
}

/**
 * Another library's bot (PEER_ID), connected to another node of a cluster,
 * and this one each see the other's message. Prints "ready" once connected,
 * then speaks when a line comes on stdin, so that both listen before either speaks.
 */
async function peer() {
  const channel = client.channels.cache.get(env.CHANNEL_ID);
  check(channel !== undefined, 'the channel is in the cache');
  console.log('ready');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const heard = expect(Events.MessageCreate, (m) => m.author.id === env.PEER_ID);
  await channel.send('hello from discord.js');
  const [message] = await heard;
  check(message.channelId === env.CHANNEL_ID, `the peer's message arrived: ${message.content}`);
}

let ok = false;
client.once(Events.ClientReady, async () => {
  try {
    await (env.PEER_ID ? peer() : scenario());
    ok = true;
  } catch (error) {
    console.error(error);
  } finally {
    await client.destroy();
    process.exit(ok ? 0 : 1);
  }
});

setTimeout(() => {
  console.error('timed out');
  process.exit(1);
}, 120_000).unref();

await client.login(env.BOT_TOKEN);
