// @discordjs/voice against Concord's voice server: one discord.js bot plays
// a generated tone (PCM encoded to Opus by opusscript), a second one, in
// the same channel, receives the speaker's packets, decrypted with its own
// key, and decodes them back to sound. Unchanged but for the REST base URL;
// the voice server's self-signed certificate is trusted through
// NODE_EXTRA_CA_CERTS. Environment: see voice_bot.py. Exits 0 when every
// step passed.

import { Readable } from 'node:stream';
import {
  AudioPlayerStatus,
  EndBehaviorType,
  StreamType,
  VoiceConnectionStatus,
  createAudioPlayer,
  createAudioResource,
  entersState,
  joinVoiceChannel,
} from '@discordjs/voice';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import OpusScript from 'opusscript';

const env = process.env;
const TIMEOUT = 20_000;
const RATE = 48_000;
const TONE_SECONDS = 2;
/** 20 ms frames of the tone. */
const FRAMES = TONE_SECONDS * 50;

function check(condition, what) {
  if (!condition) throw new Error(`failed: ${what}`);
  console.log(`ok - ${what}`);
}

async function start(token) {
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates],
    rest: { api: `${env.CONCORD_HTTP}/api` },
  });
  const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
  await client.login(token);
  await ready;
  return client;
}

/** Joins the voice channel as `client`, in a group of its own (two bots, one process). */
async function join(client, group) {
  const guild = await client.guilds.fetch(env.GUILD_ID);
  const connection = joinVoiceChannel({
    channelId: env.VOICE_CHANNEL_ID,
    guildId: guild.id,
    adapterCreator: guild.voiceAdapterCreator,
    selfDeaf: false,
    group,
  });
  await entersState(connection, VoiceConnectionStatus.Ready, TIMEOUT);
  return connection;
}

/** A 440 Hz tone, 16-bit stereo PCM at 48 kHz. */
function tone() {
  const samples = RATE * TONE_SECONDS;
  const pcm = Buffer.alloc(samples * 4);
  for (let i = 0; i < samples; i++) {
    const value = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / RATE));
    pcm.writeInt16LE(value, i * 4);
    pcm.writeInt16LE(value, i * 4 + 2);
  }
  return pcm;
}

/** The root mean square of 16-bit PCM. */
function rms(pcm) {
  let sum = 0;
  for (let i = 0; i + 1 < pcm.length; i += 2) sum += pcm.readInt16LE(i) ** 2;
  return Math.sqrt(sum / (pcm.length / 2));
}

const speaker = await start(env.BOT_TOKEN);
const listener = await start(env.LISTENER_TOKEN);
try {
  const listening = await join(listener, 'listener');
  check(listening.state.status === VoiceConnectionStatus.Ready, 'the listener is in the channel');
  const speaking = await join(speaker, 'speaker');
  const mode = speaking.state.networking.state.connectionData.encryptionMode;
  check(mode === 'aead_aes256_gcm_rtpsize', `the speaker seals with AES-GCM (${mode})`);

  const heard = [];
  const stream = listening.receiver.subscribe(speaker.user.id, { end: { behavior: EndBehaviorType.Manual } });
  stream.on('data', (packet) => heard.push(packet));

  const player = createAudioPlayer();
  speaking.subscribe(player);
  player.play(createAudioResource(Readable.from([tone()]), { inputType: StreamType.Raw }));
  await entersState(player, AudioPlayerStatus.Playing, TIMEOUT);
  await entersState(player, AudioPlayerStatus.Idle, TIMEOUT + TONE_SECONDS * 1000);
  // The last packets in flight.
  await new Promise((resolve) => setTimeout(resolve, 1000));

  console.log(`# ${FRAMES} frames played, ${heard.length} packets heard`);
  check(heard.length >= FRAMES / 2, 'the listener heard most of the tone');
  const decoder = new OpusScript(RATE, 2);
  const loud = heard.filter((packet) => rms(decoder.decode(packet)) > 1000).length;
  console.log(`# ${loud} of them decode to the tone`);
  check(loud >= FRAMES / 2, 'what it heard decodes back to the tone');
  decoder.delete();

  speaking.destroy();
  listening.destroy();
} finally {
  await speaker.destroy();
  await listener.destroy();
}
process.exit(0);
