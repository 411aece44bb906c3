// A person in the web client, talking with a bot that another process runs
// (crates/server/tests/compat/cluster.rs: the bot on one node of a cluster,
// this browser on another).
//
//   CONCORD_HTTP=http://127.0.0.1:PORT TOKEN=... GUILD_ID=... CHANNEL_ID=... \
//     PEER_ID=... node tests/web/peer.mjs
//
// Opens the channel as the person whose token it is and prints "ready";
// then waits for a message from PEER_ID, answers it through the composer,
// and waits to see its own answer. Exits non-zero with the reason otherwise.
// Env: CHROMIUM (default /usr/bin/chromium), E2E_TIMEOUT_MS (per wait,
// default 30000).

import { chromium } from 'playwright-core';

const BASE = process.env.CONCORD_HTTP;
const { TOKEN, GUILD_ID, CHANNEL_ID, PEER_ID } = process.env;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const T = Number(process.env.E2E_TIMEOUT_MS ?? 30_000);
const ANSWER = 'hello from the browser';

const messages = (page, author = '') =>
  page.locator(`[data-testid="message-list"] [data-testid="message"]${author && `[data-author-id="${author}"]`}`);

async function main() {
  for (const [name, value] of Object.entries({ CONCORD_HTTP: BASE, TOKEN, GUILD_ID, CHANNEL_ID, PEER_ID })) {
    if (!value) throw new Error(`${name} is not set`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const context = await browser.newContext();
    // Signed in as the person, as a reload after logging in would be.
    await context.addInitScript((token) => localStorage.setItem('concord.token', token), TOKEN);
    const page = await context.newPage();
    await page.goto(`${BASE}/channels/${GUILD_ID}/${CHANNEL_ID}`);
    await page.getByTestId('composer-input').waitFor({ state: 'visible', timeout: T });
    // The gateway is connected once the channel list has come from READY.
    await page.locator('[data-testid="channel-item"]').first().waitFor({ state: 'visible', timeout: T });
    console.log('ready');

    const heard = await waitFor(messages(page, PEER_ID), `a message from ${PEER_ID}`);
    console.log(`heard: ${(await heard.getByTestId('message-content').innerText()).trim()}`);

    const input = page.getByTestId('composer-input');
    await input.click();
    await input.fill(ANSWER);
    await input.press('Enter');
    // Not the pending copy the composer shows at once: the one the server took.
    const sent = page.locator('[data-testid="message-list"] [data-testid="message"]:not(.pending):not(.failed)');
    await waitFor(sent.filter({ hasText: ANSWER }), 'the answer, sent');
  } finally {
    await browser.close();
  }
}

async function waitFor(locator, what) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: T });
  } catch {
    throw new Error(`${what}: not seen within ${T} ms`);
  }
  return locator.first();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e.stack ?? String(e));
    process.exit(1);
  },
);
