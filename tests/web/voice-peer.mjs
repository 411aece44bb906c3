// A person in the web client in a voice channel with a bot that another
// process runs (crates/server/tests/compat/voice.rs: discord.py playing a
// tone and listening).
//
//   CONCORD_HTTP=http://127.0.0.1:PORT TOKEN=... GUILD_ID=... \
//     VOICE_CHANNEL_ID=... PEER_ID=... node tests/web/voice-peer.mjs
//
// Joins the voice channel from the channel list with a fake microphone,
// waits until it hears the bot (inbound-rtp packets with an audio level)
// and prints "ready"; then stays, its microphone sending, until a line comes
// on stdin, and leaves. Exits non-zero with the reason otherwise.
// Env: CHROMIUM (default /usr/bin/chromium), E2E_TIMEOUT_MS (per wait,
// default 20000).

import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, T, audioStats, openPage, until } from './voicePage.mjs';

const BASE = process.env.CONCORD_HTTP;
const { TOKEN, GUILD_ID, VOICE_CHANNEL_ID, PEER_ID } = process.env;

async function main() {
  for (const [name, value] of Object.entries({ CONCORD_HTTP: BASE, TOKEN, GUILD_ID, VOICE_CHANNEL_ID, PEER_ID })) {
    if (!value) throw new Error(`${name} is not set`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await openPage(browser, `${BASE}/channels/${GUILD_ID}`, TOKEN);
    await page.locator(`[data-testid="channel-item"][data-channel-id="${VOICE_CHANNEL_ID}"]`).click({ timeout: T });
    await page.locator('[data-testid="voice-status"][data-status="connected"]').waitFor({ timeout: T });
    await page.locator(`[data-testid="voice-participant"][data-user-id="${PEER_ID}"]`).waitFor({ timeout: T });
    const heard = await until('hearing the bot', async () => {
      const { inbound } = await audioStats(page);
      return inbound.find((s) => s.packetsReceived > 50 && s.audioLevel > 0);
    });
    console.log(`# heard the bot: ${heard.packetsReceived} packets, ${heard.packetsLost} lost, level ${heard.audioLevel.toFixed(3)}`);
    await until('sending audio', async () => (await audioStats(page)).outbound.some((s) => s.packetsSent > 0));
    console.log('ready');
    // The bot listens meanwhile; it says when it is done.
    await new Promise((done) => createInterface({ input: process.stdin }).once('line', done).once('close', done));
    await page.getByTestId('voice-leave').click();
    await page.getByTestId('voice-panel').waitFor({ state: 'hidden', timeout: T });
  } finally {
    await browser.close().catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`voice-peer: ${e.message}`);
    process.exit(1);
  },
);
