// Voice in the web client: two people, each in a Chromium with a fake
// microphone and camera, join the same voice channel of a real server that
// this script starts, and hear each other through its SFU (WebRTC to the
// server, which forwards each one's Opus to the other); then one turns on
// her camera and shares her screen, and the other sees both (VP8 through
// the same SFU).
//
//   CONCORD_BIN=target/debug/concord node tests/web/voice.mjs
//
// Env: CONCORD_BIN (default target/debug/concord), CHROMIUM (default
// /usr/bin/chromium), E2E_TIMEOUT_MS (per wait, default 20000).
// Exits non-zero with the failing step's name and reason.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, T, audioStats, openPage, until, videoFrames } from './voicePage.mjs';

const BIN = resolve(process.env.CONCORD_BIN ?? 'target/debug/concord');
const PASSWORD = 'correct horse battery';

/** Starts `concord serve`; resolves with the process and its base URL. */
function startServer(dataDir) {
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log', process.env.CONCORD_LOG ?? 'warn'];
  const proc = spawn(BIN, args, { env: { ...process.env, CONCORD_RATE_LIMITS: 'off' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  proc.stderr.on('data', (chunk) => stderr.push(String(chunk)));
  if (process.env.VOICE_DEBUG) proc.stderr.pipe(process.stderr);
  const lines = createInterface({ input: proc.stdout });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start in time:\n${stderr.join('')}`)), 30_000);
    proc.once('exit', (code) => fail(new Error(`server exited (${code}):\n${stderr.join('')}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = line.match(/(http:\/\/[^\s]+)\s*$/);
      if (!match) return fail(new Error(`unexpected first stdout line: ${line}`));
      lines.on('line', () => {});
      ok({ proc, base: match[1].replace(/\/+$/, '') });
    });
  });
}

async function step(name, run) {
  try {
    await run();
    console.log(`ok - ${name}`);
  } catch (e) {
    throw new Error(`${name}: ${e.message}`);
  }
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'concord-voice-'));
  const { proc, base } = await startServer(dataDir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const api = async (token, method, path, body) => {
      const res = await fetch(`${base}/api/v10${path}`, {
        method,
        headers: { ...(token ? { Authorization: token } : {}), 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.status === 204 ? null : res.json();
    };
    const ids = {};
    await step('two people, a guild and a voice channel', async () => {
      ids.alice = (await api(null, 'POST', '/auth/register', { username: 'alice', password: PASSWORD })).token;
      ids.bob = (await api(null, 'POST', '/auth/register', { username: 'bob', password: PASSWORD })).token;
      const guild = await api(ids.alice, 'POST', '/guilds', { name: 'Voice test' });
      ids.guild = guild.id;
      const channels = await api(ids.alice, 'GET', `/guilds/${guild.id}/channels`);
      const text = channels.find((c) => c.type === 0);
      ids.voice = (await api(ids.alice, 'POST', `/guilds/${guild.id}/channels`, { name: 'Lounge', type: 2 })).id;
      const invite = await api(ids.alice, 'POST', `/channels/${text.id}/invites`, {});
      await api(ids.bob, 'POST', `/invites/${invite.code}`, {});
      ids.aliceId = (await api(ids.alice, 'GET', '/users/@me')).id;
      ids.bobId = (await api(ids.bob, 'GET', '/users/@me')).id;
    });

    const open = (token) => openPage(browser, `${base}/channels/${ids.guild}`, token);
    const alice = await open(ids.alice);
    const bob = await open(ids.bob);
    const voiceChannel = (page) => page.locator(`[data-testid="channel-item"][data-channel-id="${ids.voice}"]`);
    const participant = (page, id) => page.locator(`[data-testid="voice-participant"][data-user-id="${id}"]`);

    await step('both join the voice channel from the channel list', async () => {
      for (const page of [alice, bob]) {
        await voiceChannel(page).click({ timeout: T });
        await page.locator('[data-testid="voice-status"][data-status="connected"]').waitFor({ timeout: T });
      }
      for (const page of [alice, bob]) {
        await participant(page, ids.aliceId).waitFor({ timeout: T });
        await participant(page, ids.bobId).waitFor({ timeout: T });
      }
    });

    await step('each hears the other: inbound-rtp packets with a nonzero audio level', async () => {
      for (const [name, page] of [['alice', alice], ['bob', bob]]) {
        await until(`${name} receiving audio`, async () => {
          const { inbound } = await audioStats(page);
          return inbound.some((s) => s.packetsReceived > 0 && s.audioLevel > 0) && inbound;
        });
        await until(`${name} sending audio`, async () => {
          const { outbound } = await audioStats(page);
          return outbound.some((s) => s.packetsSent > 0) && outbound;
        });
      }
    });

    await step('a speaking ring on the other person', async () => {
      const speaking = (page, id) => page.locator(`[data-testid="voice-participant"][data-user-id="${id}"][data-speaking="true"]`);
      await speaking(alice, ids.bobId).waitFor({ timeout: T });
      await speaking(bob, ids.aliceId).waitFor({ timeout: T });
    });

    await step('a dropped voice socket resumes the session, and the audio goes on', async () => {
      const sockets = await bob.evaluate(() => window.__voiceSockets.length);
      // Closed from the page with a code that is not final: as a network drop.
      await bob.evaluate(() => window.__voiceSockets.at(-1).close(4000));
      await until('bob resuming on a new socket', () =>
        bob.evaluate((n) => window.__voiceSockets.length > n && window.__voiceSent.includes(7), sockets));
      await bob.locator('[data-testid="voice-status"][data-status="connected"]').waitFor({ timeout: T });
      const identifies = await bob.evaluate(() => window.__voiceSent.filter((op) => op === 0).length);
      if (identifies !== 1) throw new Error(`bob identified ${identifies} times; a resume identifies no more`);
      const received = async (page) => (await audioStats(page)).inbound.reduce((n, s) => n + s.packetsReceived, 0);
      for (const [name, page] of [['bob', bob], ['alice', alice]]) {
        const before = await received(page);
        await until(`${name} still receiving after the resume`, async () => (await received(page)) > before + 50);
      }
    });

    const tile = (page, id, type) => page.locator(`[data-testid="video-tile"][data-user-id="${id}"][data-type="${type}"]`);
    /** Waits until `page` plays the tile's video with real frames, decoded from what the server sent. */
    const plays = async (page, name, locator) => {
      await locator.waitFor({ timeout: T });
      await until(`${name} showing frames`, () => locator.locator('video').evaluate((v) => v.videoWidth > 0 && v.currentTime > 0));
    };

    await step('a camera turned on is seen by the other person', async () => {
      await alice.getByTestId('voice-camera').click();
      await alice.locator('[data-testid="voice-camera"][aria-pressed="true"]').waitFor({ timeout: T });
      await tile(alice, ids.aliceId, 'video').waitFor({ timeout: T });
      await participant(bob, ids.aliceId).getByTestId('voice-camera-on').waitFor({ timeout: T });
      await plays(bob, "alice's camera at bob", tile(bob, ids.aliceId, 'video'));
      await until('bob decoding video frames', async () => Object.values(await videoFrames(bob)).some((n) => n > 10));
    });

    await step('a shared screen is seen beside the camera', async () => {
      await alice.getByTestId('voice-screen').click();
      await alice.locator('[data-testid="voice-screen"][aria-pressed="true"]').waitFor({ timeout: T });
      await participant(bob, ids.aliceId).getByTestId('voice-live').waitFor({ timeout: T });
      await plays(bob, "alice's screen at bob", tile(bob, ids.aliceId, 'screen'));
      await tile(bob, ids.aliceId, 'video').waitFor({ timeout: T });
    });

    await step('turning them off hides them', async () => {
      await alice.getByTestId('voice-camera').click();
      await tile(bob, ids.aliceId, 'video').waitFor({ state: 'detached', timeout: T });
      await alice.getByTestId('voice-screen').click();
      await tile(bob, ids.aliceId, 'screen').waitFor({ state: 'detached', timeout: T });
      await bob.getByTestId('video-stage').waitFor({ state: 'hidden', timeout: T });
    });

    await step('mute and deafen show in the panel and to the other person', async () => {
      await alice.getByTestId('voice-mute').click();
      await alice.locator('[data-testid="voice-mute"][aria-pressed="true"]').waitFor({ timeout: T });
      await until('bob seeing alice muted', () => participant(bob, ids.aliceId).evaluate((el) => el.textContent.includes('muted')));
      await alice.getByTestId('voice-deafen').click();
      await alice.locator('[data-testid="voice-deafen"][aria-pressed="true"]').waitFor({ timeout: T });
      await until('bob seeing alice deafened', () => participant(bob, ids.aliceId).evaluate((el) => el.textContent.includes('deafened')));
    });

    await step('leaving takes her out of the channel for both', async () => {
      await alice.getByTestId('voice-leave').click();
      await alice.getByTestId('voice-panel').waitFor({ state: 'hidden', timeout: T });
      await participant(bob, ids.aliceId).waitFor({ state: 'detached', timeout: T });
      await participant(bob, ids.bobId).waitFor({ timeout: T });
    });
  } finally {
    await browser.close().catch(() => {});
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => {
    console.log('voice: all steps passed');
    process.exit(0);
  },
  (e) => {
    console.error(`voice: ${e.message}`);
    process.exit(1);
  },
);
