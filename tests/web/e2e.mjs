// End-to-end test of the web client: two people in two browser contexts,
// against a real server that this script starts (and restarts).
//
//   CONCORD_BIN=target/debug/concord node tests/web/e2e.mjs
//
// Env: CONCORD_BIN (the concord binary; default target/debug/concord),
// SCREENSHOT_DIR (default target/web-screenshots), CHROMIUM (default
// /usr/bin/chromium), E2E_TIMEOUT_MS (per wait, default 10000).
// Exits non-zero with the failing step's name and reason.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { deflateSync } from 'node:zlib';
import { createECDH, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';
import { SCENE, takeReadmePicture } from './picture.mjs';

const BIN = resolve(process.env.CONCORD_BIN ?? 'target/debug/concord');
const SCREENSHOTS = resolve(process.env.SCREENSHOT_DIR ?? 'target/web-screenshots');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const T = Number(process.env.E2E_TIMEOUT_MS ?? 10_000);
const PASSWORD = 'correct horse battery';

// ---------------------------------------------------------------- server

class Server {
  constructor(dataDir) {
    this.dataDir = dataDir;
    this.proc = null;
    this.stderr = [];
  }

  /** Starts `concord serve`; resolves with its base URL (the first stdout line ends with it). */
  start(listen = '127.0.0.1:0') {
    const args = ['serve', '--listen', listen, '--data-dir', this.dataDir, '--log', 'warn'];
    const proc = spawn(BIN, args, { env: { ...process.env, CONCORD_RATE_LIMITS: 'off', CONCORD_OUTBOUND_ALLOW: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((done) => proc.once('exit', (code, signal) => done({ code, signal })));
    proc.stderr.on('data', (chunk) => {
      this.stderr.push(String(chunk));
      if (this.stderr.length > 200) this.stderr.shift();
    });
    const lines = createInterface({ input: proc.stdout });
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`server did not start within 20 s:\n${this.stderr.join('')}`)), 20_000);
      proc.once('error', (e) => {
        clearTimeout(timer);
        fail(new Error(`cannot run ${BIN}: ${e.message}`));
      });
      this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        fail(new Error(`server exited (${code ?? signal}) before listening:\n${this.stderr.join('')}`));
      });
      lines.once('line', (line) => {
        clearTimeout(timer);
        const match = line.match(/(http:\/\/[^\s]+)\s*$/);
        if (!match) return fail(new Error(`unexpected first stdout line: ${line}`));
        // Keep reading stdout so the server never blocks on a full pipe.
        lines.on('line', () => {});
        ok(match[1].replace(/\/+$/, ''));
      });
    });
  }

  /** SIGTERM, then wait for the exit (SIGKILL after 15 s). */
  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(killer);
  }

  kill() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- helpers

/** A 2×2 red PNG. */
const tinyPng = () => pngOf(2, 2, () => RED);
const [RED, GREEN, BLUE, YELLOW] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]];

/** A PNG built here, so the test needs no fixture file: `colorAt(x, y)` gives each pixel's [r, g, b]. */
function pngOf(width, height, colorAt) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  // Each row: filter type 0, then the pixels.
  const rows = Array.from({ length: height }, (_, y) => [0, ...Array.from({ length: width }, (_, x) => colorAt(x, y)).flat()]);
  const raw = Buffer.from(rows.flat());
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The colours of an image's first and last pixels, as the page decodes it. */
function colors(page, selector) {
  return page.evaluate((selector) => {
    const img = document.querySelector(selector);
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const g = canvas.getContext('2d');
    g.drawImage(img, 0, 0);
    const at = (x, y) => [...g.getImageData(x, y, 1, 1).data.slice(0, 3)];
    return [at(0, 0), at(canvas.width - 1, canvas.height - 1)];
  }, selector);
}

/** Whether every colour is `expected`. */
const sameColors = (found, expected) => found.every((c) => c.every((v, i) => v === expected[i]));

let currentStep = '(setup)';
async function step(name, fn) {
  currentStep = name;
  const started = Date.now();
  process.stdout.write(`- ${name} ... `);
  await fn();
  console.log(`ok (${Date.now() - started} ms)`);
}

async function visible(locator, what, timeout = T) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
  } catch {
    throw new Error(`${what}: not visible within ${timeout} ms`);
  }
}

async function hidden(locator, what, timeout = T) {
  try {
    await locator.first().waitFor({ state: 'hidden', timeout });
  } catch {
    throw new Error(`${what}: still visible after ${timeout} ms`);
  }
}

async function until(page, fn, arg, what, timeout = T) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch {
    throw new Error(`${what}: not true within ${timeout} ms`);
  }
}

function check(condition, what) {
  if (!condition) throw new Error(what);
}

const message = (page, text) => page.locator('[data-testid="message-list"] [data-testid="message"]', { hasText: text });
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A message whose content is exactly `text` (a reply quoting it does not count). */
const exactly = (page, text) =>
  page.locator('[data-testid="message-list"] [data-testid="message"]').filter({
    has: page.locator('[data-testid="message-content"]', { hasText: new RegExp(`^${escapeRe(text)}$`) }),
  });

async function send(page, text) {
  const input = page.getByTestId('composer-input');
  await input.click();
  await input.fill(text);
  await input.press('Enter');
}

// axe-core, run in the page through the DevTools protocol (the page's
// content security policy allows no injected script).
const AXE = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'node_modules/axe-core/axe.min.js'), 'utf8');
const audited = [];
const inaccessible = [];

/** Runs the accessibility audit on what `page` shows; serious or critical violations fail. */
async function audit(page, screen) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  audited.push(screen);
  // Gathered, so one run names every screen's problems.
  for (const v of violations) inaccessible.push(`${screen}: ${v}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

async function openChannel(page, name) {
  await page.locator('[data-testid="channel-item"]', { hasText: name }).first().click();
  await until(page, (n) => document.querySelector('[data-testid="channel-title"]')?.textContent === `#${n}`, name, `channel #${name} open`);
}

// ---------------------------------------------------------------- scenario

async function main() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const label of ['alice', 'bob']) rmSync(join(SCREENSHOTS, `failure-${label}.png`), { force: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'concord-web-e2e-'));
  const server = new Server(dataDir);
  let browser = null;
  const pages = [];
  try {
    const base = await server.start();
    const { host, port } = new URL(base);
    console.log(`server at ${base}`);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });

    // Every request a page makes must go to the server and nowhere else.
    const foreign = [];
    const pageErrors = [];
    const sockets = [];
    // While the server is down on purpose, failed connections are expected.
    let serverDown = false;
    async function newPage(label, { route } = {}) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      if (route) await context.routeWebSocket(/.*/, route);
      const page = await context.newPage();
      page.label = label;
      page.on('request', (r) => {
        const url = new URL(r.url());
        if (url.protocol === 'data:' || url.protocol === 'blob:') return;
        if (url.host !== host) foreign.push(`${label}: ${r.url()}`);
      });
      page.on('websocket', (ws) => {
        sockets.push(ws.url());
        if (new URL(ws.url()).host !== host) foreign.push(`${label}: ${ws.url()}`);
      });
      page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
      page.on('response', (r) => {
        if (r.status() >= 400) pageErrors.push(`${label}: HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
      });
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        if (serverDown && /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(m.text())) return;
        pageErrors.push(`${label} console: ${m.text()}`);
      });
      pages.push(page);
      return page;
    }
    const alice = await newPage('alice');
    // Bob's gateway goes through a relay the test can cut, like a network
    // drop: the server keeps his session, so he must resume.
    const relay = { up: true, ops: [], current: null };
    const bob = await newPage('bob', {
      route(ws) {
        if (!relay.up) {
          ws.close({ code: 4000, reason: 'network down' });
          return;
        }
        const upstream = ws.connectToServer();
        relay.current = { ws, upstream };
        ws.onMessage((frame) => {
          if (typeof frame === 'string') relay.ops.push(JSON.parse(frame).op);
          upstream.send(frame);
        });
      },
    });
    const ids = {};
    const token = (page) => page.evaluate(() => localStorage.getItem('concord.token'));
    const http = async (page, method, path, body) => {
      const res = await fetch(`${base}/api/v10${path}`, {
        method,
        headers: { Authorization: await token(page), 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return res.status === 204 ? null : res.json();
    };

    await step('login screen', async () => {
      await alice.goto(`${base}/`);
      await visible(alice.getByTestId('login-screen'), 'login screen');
      await shot(alice, 'login');
      await audit(alice, 'the login screen');
    });

    await step('alice registers', async () => {
      await alice.getByTestId('to-register').click();
      await visible(alice.getByTestId('register-screen'), 'register screen');
      await alice.getByTestId('auth-username').fill('alice');
      await alice.getByTestId('auth-password').fill(PASSWORD);
      await alice.getByTestId('auth-submit').click();
      await alice.waitForURL('**/channels/@me', { timeout: T });
      await visible(alice.getByTestId('guild-home'), 'home button');
      ids.alice = (await http(alice, 'GET', '/users/@me')).id;
    });

    await step('bob registers', async () => {
      await bob.goto(`${base}/register`);
      await bob.getByTestId('auth-username').fill('bob');
      await bob.getByTestId('auth-password').fill(PASSWORD);
      await bob.getByTestId('auth-submit').click();
      await bob.waitForURL('**/channels/@me', { timeout: T });
      ids.bob = (await http(bob, 'GET', '/users/@me')).id;
    });

    await step('alice creates a guild', async () => {
      await alice.getByTestId('create-guild').click();
      await alice.getByTestId('prompt-input').fill('E2E Guild');
      await alice.getByTestId('prompt-submit').click();
      await alice.waitForURL(/\/channels\/\d+\/\d+$/, { timeout: T });
      [, ids.guild, ids.general] = new URL(alice.url()).pathname.match(/\/channels\/(\d+)\/(\d+)/);
      await visible(alice.locator(`[data-testid="guild-icon"][data-guild-id="${ids.guild}"]`), 'guild icon');
      await until(alice, () => document.querySelector('[data-testid="channel-title"]')?.textContent === '#general', null, '#general open');
    });

    await step('alice creates an invite', async () => {
      await alice.getByTestId('guild-menu').click();
      await alice.getByTestId('menu-invite').click();
      const link = alice.getByTestId('invite-link');
      await until(alice, () => /\/invite\/[A-Za-z0-9]+$/.test(document.querySelector('[data-testid="invite-link"]')?.value ?? ''), null, 'invite link');
      ids.invite = (await link.inputValue()).split('/invite/')[1];
      await alice.keyboard.press('Escape');
      await hidden(alice.getByTestId('invite-dialog'), 'invite dialog');
    });

    await step('bob joins with /invite/CODE', async () => {
      await bob.goto(`${base}/invite/${ids.invite}`);
      await visible(bob.getByTestId('invite-guild-name').filter({ hasText: 'E2E Guild' }), 'invite shows the guild');
      await shot(bob, 'invite');
      await bob.getByTestId('accept-invite').click();
      await bob.waitForURL(`**/channels/${ids.guild}/**`, { timeout: T });
      await visible(bob.locator(`[data-testid="guild-icon"][data-guild-id="${ids.guild}"]`), 'joined guild icon');
      await until(bob, () => document.querySelector('[data-testid="channel-title"]')?.textContent === '#general', null, 'bob in #general');
    });

    await step('messages in real time, both ways', async () => {
      await send(alice, 'Hello from Alice');
      await visible(message(bob, 'Hello from Alice'), 'alice → bob');
      await send(bob, 'Hi Alice, Bob here');
      await visible(message(alice, 'Hi Alice, Bob here'), 'bob → alice');
      // Shift+Enter is a line break, Enter sends.
      const input = bob.getByTestId('composer-input');
      await input.click();
      await input.type('line one');
      await input.press('Shift+Enter');
      await input.type('line two');
      await input.press('Enter');
      await visible(message(alice, 'line two'), 'two-line message');
      const text = await message(alice, 'line two').getByTestId('message-content').innerText();
      check(/line one\nline two/.test(text), `two lines expected, got ${JSON.stringify(text)}`);
    });

    await step('presence of each other', async () => {
      await visible(alice.locator(`[data-testid="member"][data-user-id="${ids.bob}"][data-status="online"]`), 'bob online for alice');
      await visible(bob.locator(`[data-testid="member"][data-user-id="${ids.alice}"][data-status="online"]`), 'alice online for bob');
      await bob.getByTestId('status-picker').click();
      await bob.getByTestId('status-dnd').click();
      await visible(alice.locator(`[data-testid="member"][data-user-id="${ids.bob}"][data-status="dnd"]`), 'bob dnd for alice');
      await bob.getByTestId('status-picker').click();
      await bob.getByTestId('status-online').click();
      await visible(alice.locator(`[data-testid="member"][data-user-id="${ids.bob}"][data-status="online"]`), 'bob back online for alice');
    });

    await step('typing indicator', async () => {
      await alice.getByTestId('composer-input').click();
      await alice.getByTestId('composer-input').type('I am typ');
      await visible(bob.getByTestId('typing-indicator').filter({ hasText: 'alice is typing' }), 'alice typing, seen by bob');
      await alice.getByTestId('composer-input').fill('');
    });

    await step('edit the last own message with Up', async () => {
      const input = alice.getByTestId('composer-input');
      await input.click();
      await input.press('ArrowUp');
      const edit = alice.getByTestId('edit-input');
      await visible(edit, 'edit box');
      await edit.fill('Hello from Alice (edited)');
      await edit.press('Enter');
      const edited = message(bob, 'Hello from Alice (edited)');
      await visible(edited, 'edit seen by bob');
      await visible(edited.getByTestId('edited-mark'), 'edited mark');
    });

    await step('reactions', async () => {
      const target = message(bob, 'Hello from Alice (edited)');
      await target.hover();
      await target.getByTestId('add-reaction').click();
      await visible(bob.getByTestId('reaction-picker'), 'reaction picker');
      await bob.locator('[data-testid="emoji-option"][data-emoji="👍"]').click();
      const onAlice = message(alice, 'Hello from Alice (edited)').locator('[data-testid="reaction"][data-emoji="👍"]');
      await visible(onAlice.and(alice.locator('[data-count="1"]')), 'bob reaction seen by alice');
      await onAlice.click();
      await visible(message(bob, 'Hello from Alice (edited)').locator('[data-testid="reaction"][data-emoji="👍"][data-count="2"][aria-pressed="true"]'), 'two reactions seen by bob');
      await visible(onAlice.and(alice.locator('[aria-pressed="true"]')), 'alice reaction pressed');
    });

    await step('reply', async () => {
      const target = message(bob, 'Hello from Alice (edited)');
      await target.hover();
      await target.getByTestId('reply').click();
      await visible(bob.getByTestId('reply-bar'), 'reply bar');
      await send(bob, 'Replying to you');
      const reply = message(alice, 'Replying to you');
      await visible(reply.getByTestId('reply-preview').filter({ hasText: 'Hello from Alice' }), 'reply preview');
    });

    await step('image upload with preview', async () => {
      await alice.getByTestId('upload-input').setInputFiles({ name: 'pixel.png', mimeType: 'image/png', buffer: tinyPng() });
      await visible(alice.getByTestId('upload-preview-image'), 'upload preview');
      await alice.getByTestId('composer-input').fill('a tiny picture');
      await alice.getByTestId('composer-input').press('Enter');
      const img = message(bob, 'a tiny picture').getByTestId('attachment-image');
      await visible(img, 'image seen by bob');
      await until(bob, () => [...document.querySelectorAll('[data-testid="attachment-image"]')].some((i) => i.complete && i.naturalWidth === 2), null, 'image loaded');
    });

    await step('avatar and guild icon: uploaded in the settings, shown to others', async () => {
      await alice.getByTestId('user-settings').click();
      await visible(alice.getByTestId('user-settings-dialog'), 'settings dialog');
      const saved = alice.waitForResponse((r) => r.url().endsWith('/users/@me') && r.request().method() === 'PATCH');
      // Red, green and blue thirds: the frame starts on the middle square
      // (green) and is moved right, onto the blue one, with the keyboard.
      const thirds = pngOf(6, 2, (x) => [RED, GREEN, BLUE][Math.floor(x / 2)]);
      await alice.getByTestId('avatar-file').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: thirds });
      await visible(alice.getByTestId('crop-dialog'), 'the crop dialog');
      await audit(alice, 'the crop dialog');
      await shot(alice, 'crop');
      await alice.getByTestId('crop-area').focus();
      await alice.keyboard.press('ArrowRight');
      await alice.keyboard.press('ArrowRight');
      await alice.getByTestId('crop-apply').click();
      check((await saved).status() === 200, 'the avatar reached the server');
      await alice.keyboard.press('Escape');
      await hidden(alice.getByTestId('user-settings-dialog'), 'settings closed');
      const loaded = (selector) => {
        const img = document.querySelector(selector);
        return Boolean(img?.complete && img.naturalWidth > 0);
      };
      await until(alice, loaded, '[data-testid="user-panel"] img.avatar-image', 'the avatar in her own panel, from the server');
      check(/\/avatars\/\d+\/[0-9a-f]{32}\.png/.test(await alice.locator('[data-testid="user-panel"] img.avatar-image').getAttribute('src')), 'at its CDN path');
      check(sameColors(await colors(alice, '[data-testid="user-panel"] img.avatar-image'), BLUE), 'the square chosen in the crop is the avatar');
      // Her next message (after one of bob's, so it starts a group) shows it to bob.
      await send(bob, 'show us your face');
      await visible(message(alice, 'show us your face'), 'bob said it');
      await send(alice, 'here it is');
      await until(bob, (text) => [...document.querySelectorAll('[data-testid="message"]')]
        .some((m) => m.textContent.includes(text) && m.querySelector('img.avatar-image')?.naturalWidth > 0), 'here it is', 'her avatar beside her message');
      await alice.getByTestId('guild-menu').click();
      await alice.getByTestId('menu-settings').click();
      await visible(alice.getByTestId('guild-settings'), 'settings dialog');
      // A yellow top-left quarter: zoomed in to half the side, the frame is
      // moved up and left onto it.
      const quarter = pngOf(4, 4, (x, y) => (x < 2 && y < 2 ? YELLOW : BLUE));
      await alice.getByTestId('guild-icon-file').setInputFiles({ name: 'icon.png', mimeType: 'image/png', buffer: quarter });
      await visible(alice.getByTestId('crop-dialog'), 'the crop dialog');
      await alice.getByTestId('crop-zoom').fill('2');
      await alice.getByTestId('crop-area').focus();
      await alice.keyboard.press('ArrowUp');
      await alice.keyboard.press('ArrowLeft');
      await alice.getByTestId('crop-apply').click();
      await until(bob, loaded, '[data-testid="guild-icon"] img.guild-icon-image', 'the guild icon in bob\'s guild bar');
      check(sameColors(await colors(bob, '[data-testid="guild-icon"] img.guild-icon-image'), YELLOW), 'the zoomed-in square is the icon');
      await alice.keyboard.press('Escape');
      await hidden(alice.getByTestId('guild-settings'), 'settings dialog');
      await shot(bob, 'avatars');
    });

    await step('no HTML injection from messages', async () => {
      await send(alice, 'html: <img src=x onerror="window.__xss=1">');
      await send(alice, 'link: [click](javascript:window.__xss=2)');
      await visible(message(bob, 'html: <img src=x onerror="window.__xss=1">'), 'raw HTML shown as text');
      await visible(message(bob, 'link: [click](javascript:window.__xss=2)'), 'javascript: link shown as text');
      for (const page of [alice, bob]) {
        const found = await page.evaluate(() => ({
          xss: window.__xss,
          img: document.querySelectorAll('img[src="x"], img[onerror]').length,
          js: [...document.querySelectorAll('a[href]')].filter((a) => /^\s*javascript:/i.test(a.getAttribute('href'))).length,
        }));
        check(found.xss === undefined, `${page.label}: window.__xss is ${found.xss}`);
        check(found.img === 0, `${page.label}: an <img> from message text is in the DOM`);
        check(found.js === 0, `${page.label}: a javascript: link is in the DOM`);
      }
    });

    await step('screenshot of the guild', async () => {
      await shot(alice, 'guild');
      await audit(alice, 'a guild channel');
    });

    await step('keyboard: the log is one stop, arrows move between messages', async () => {
      await alice.getByTestId('composer-input').focus();
      await alice.keyboard.press('Shift+Tab');
      await alice.keyboard.press('Shift+Tab');
      await until(alice, () => document.activeElement?.dataset.testid === 'message-list', null, 'message list focused');
      await alice.keyboard.press('ArrowUp');
      await until(alice, () => document.activeElement?.dataset.testid === 'message' && document.activeElement.textContent.includes('link: [click]'), null, 'last message focused');
      await alice.keyboard.press('ArrowUp');
      await until(alice, () => document.activeElement?.textContent.includes('html: <img'), null, 'previous message focused');
      await alice.keyboard.press('Tab');
      await until(alice, () => document.activeElement?.tagName === 'BUTTON' && document.activeElement.closest('[data-testid="message"]')?.textContent.includes('html: <img'), null, 'a control of that message focused');
      const outline = await alice.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      check(outline !== 'none', 'focused control has no visible outline');
    });

    await step('guild settings: rename, create a role', async () => {
      await alice.getByTestId('guild-menu').click();
      await alice.getByTestId('menu-settings').click();
      await visible(alice.getByTestId('guild-settings'), 'settings dialog');
      await alice.getByTestId('guild-name-input').fill('E2E Guild Renamed');
      await alice.getByTestId('save-guild').click();
      await visible(bob.getByTestId('guild-name').filter({ hasText: 'E2E Guild Renamed' }), 'new guild name seen by bob');
      await alice.getByTestId('tab-roles').click();
      await alice.getByTestId('create-role').click();
      await visible(alice.getByTestId('role-form'), 'role editor');
      await alice.getByTestId('role-name-input').fill('Moderators');
      await alice.getByTestId('perm-KICK_MEMBERS').check();
      await alice.getByTestId('save-role').click();
      await visible(alice.locator('[data-testid="role-item"]', { hasText: 'Moderators' }), 'role listed');
      await shot(alice, 'settings');
      await alice.getByTestId('tab-invites').click();
      await visible(alice.locator('[data-testid="invite-row"]', { hasText: ids.invite }), 'the invite listed by the server');
      await alice.getByTestId('tab-members').click();
      await visible(alice.locator(`[data-testid="settings-member"][data-user-id="${ids.bob}"]`), 'bob in settings members');
      await alice.keyboard.press('Escape');
      await hidden(alice.getByTestId('guild-settings'), 'settings dialog');
    });

    await step('channels: create, rename, overwrite, delete', async () => {
      await alice.getByTestId('guild-menu').click();
      await alice.getByTestId('menu-create-channel').click();
      await alice.getByTestId('prompt-input').fill('Random Stuff');
      await alice.getByTestId('prompt-submit').click();
      await until(alice, () => document.querySelector('[data-testid="channel-title"]')?.textContent === '#random-stuff', null, 'new channel open');
      const id = new URL(alice.url()).pathname.split('/').pop();
      const onBob = bob.locator(`[data-testid="channel-item"][data-channel-id="${id}"]`);
      await visible(onBob.filter({ hasText: 'random-stuff' }), 'new channel seen by bob');
      // Rename.
      await alice.locator(`[data-testid="channel-item"][data-channel-id="${id}"]`).hover();
      await alice.locator(`.channel-row[data-key="${id}"] [data-testid="channel-settings"]`).click();
      await alice.getByTestId('channel-name-input').fill('random-talk');
      await alice.getByTestId('save-channel').click();
      await visible(onBob.filter({ hasText: 'random-talk' }), 'rename seen by bob');
      // @everyone may not send here: bob's composer turns off.
      await alice.getByTestId('tab-channel-permissions').click();
      await alice.locator(`[data-testid="overwrite-item"][data-target-id="${ids.guild}"]`).click();
      await alice.getByTestId('ow-SEND_MESSAGES-deny').check();
      await alice.getByTestId('save-overwrite').click();
      await onBob.click();
      await until(bob, () => document.querySelector('[data-testid="composer-input"]')?.disabled === true, null, 'bob cannot send in random-talk');
      await alice.keyboard.press('Escape');
      await hidden(alice.getByTestId('channel-settings-dialog'), 'channel settings closed');
      // Delete: gone for bob, who is moved out of it.
      await alice.locator(`.channel-row[data-key="${id}"] [data-testid="channel-settings"]`).click();
      await alice.getByTestId('delete-channel').click();
      await alice.getByTestId('confirm-button').click();
      await hidden(onBob, 'deleted channel gone for bob');
      await until(bob, (gone) => !location.pathname.endsWith(gone), id, 'bob moved out of the deleted channel');
      await openChannel(alice, 'general');
      await openChannel(bob, 'general');
    });

    await step('history: 200 messages, paged back to the oldest', async () => {
      const channel = await http(alice, 'POST', `/guilds/${ids.guild}/channels`, { name: 'history', type: 0 });
      ids.history = channel.id;
      for (let i = 0; i < 200; i++) {
        await http(alice, 'POST', `/channels/${channel.id}/messages`, { content: `seed ${String(i).padStart(3, '0')}` });
      }
      await visible(bob.locator(`[data-testid="channel-item"][data-channel-id="${channel.id}"]`), 'new channel listed for bob');
      await openChannel(bob, 'history');
      await visible(message(bob, 'seed 199'), 'newest seeded message');
      check((await exactly(bob, 'seed 000').count()) === 0, 'the oldest message should not be loaded yet');
      const list = bob.getByTestId('message-list');
      for (let round = 0; round < 20 && (await exactly(bob, 'seed 000').count()) === 0; round++) {
        const before = await bob.locator('[data-testid="message-list"] [data-testid="message"]').count();
        await list.evaluate((el) => {
          el.scrollTop = 0;
        });
        await until(bob, (n) => document.querySelectorAll('[data-testid="message-list"] [data-testid="message"]').length > n, before, `older page after ${before} messages`);
      }
      await list.evaluate((el) => {
        el.scrollTop = 0;
      });
      await visible(bob.getByTestId('channel-start'), 'beginning of the channel');
      await until(bob, () => {
        const list = document.querySelector('[data-testid="message-list"]').getBoundingClientRect();
        const oldest = [...document.querySelectorAll('[data-testid="message"]')].find((m) => m.textContent.includes('seed 000'));
        if (!oldest) return false;
        const box = oldest.getBoundingClientRect();
        return box.top >= list.top && box.bottom <= list.bottom;
      }, null, 'oldest message in view');
      const count = await bob.locator('[data-testid="message-list"] [data-testid="message"]').count();
      check(count >= 200, `expected all 200 messages loaded, got ${count}`);
    });

    await step('jump to a reply\'s original (around)', async () => {
      const oldest = exactly(bob, 'seed 000');
      await oldest.hover();
      await oldest.getByTestId('reply').click();
      await send(bob, 'Answering the very first one');
      await openChannel(alice, 'history');
      const reply = message(alice, 'Answering the very first one');
      await visible(reply, 'reply in history for alice');
      check((await exactly(alice, 'seed 000').count()) === 0, 'alice should only have the newest pages');
      await reply.getByTestId('reply-preview').click();
      await visible(exactly(alice, 'seed 000'), 'original loaded around it');
      await until(alice, () => document.querySelector('.message.highlight')?.textContent.includes('seed 000'), null, 'original highlighted');
      await visible(alice.getByTestId('jump-to-present'), 'jump to present');
      await alice.getByTestId('jump-to-present').click();
      await visible(message(alice, 'Answering the very first one'), 'back at the present');
    });

    await step('mention badge and read state', async () => {
      // Bob is in #history; a mention in #general marks it.
      await openChannel(alice, 'general');
      await send(alice, `Hey <@${ids.bob}>, look here`);
      const general = bob.locator(`[data-testid="channel-item"][data-channel-id="${ids.general}"]`);
      await visible(general.getByTestId('mention-badge'), 'mention badge on #general');
      check((await general.getAttribute('data-unread')) === 'true', '#general should be unread');
      await openChannel(bob, 'general');
      await visible(bob.getByTestId('new-messages-divider'), 'the new messages line');
      await visible(bob.getByTestId('day-divider'), 'a day divider');
      const mention = message(bob, 'look here');
      await visible(mention.locator('.md-mention-me'), 'mention highlighted');
      await hidden(general.getByTestId('mention-badge'), 'badge cleared once read');
      await until(bob, (id) => document.querySelector(`[data-testid="channel-item"][data-channel-id="${id}"]`)?.dataset.unread === 'false', ids.general, 'read state');
    });

    // ---- a bot of alice's, its slash commands, components and modals ----

    /** A bot connected over the gateway from a page of its own; `handle(d)` answers each interaction. */
    async function startBot(botToken, handle) {
      const page = await browser.newPage();
      await page.goto(`${base}/static/favicon.svg`);
      await page.exposeFunction('onInteraction', (d) => handle(d).catch((e) => pageErrors.push(`bot: ${e.message}`)));
      await page.evaluate((token) => new Promise((ready) => {
        const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/?v=10&encoding=json`);
        let seq = null;
        ws.onmessage = (e) => {
          const p = JSON.parse(e.data);
          if (p.s) seq = p.s;
          if (p.op === 10) {
            setInterval(() => ws.send(JSON.stringify({ op: 1, d: seq })), p.d.heartbeat_interval);
            ws.send(JSON.stringify({ op: 2, d: { token, intents: 1, properties: { os: 'linux', browser: 'e2e', device: 'e2e' } } }));
          }
          if (p.t === 'READY') ready();
          if (p.t === 'INTERACTION_CREATE') window.onInteraction(p.d);
        };
      }), botToken);
      return page;
    }
    const answer = async (d, body) => {
      const res = await fetch(`${base}/api/v10/interactions/${d.id}/${d.token}/callback`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`callback ${body.type}: ${res.status} ${await res.text()}`);
    };
    const followUp = async (d, method, path, body) => {
      const res = await fetch(`${base}/api/v10/webhooks/${d.application_id}/${d.token}${path}`, {
        method,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    };
    const COLOURS = ['red', 'green', 'blue', 'black', 'white'];
    /** What the bot does with each interaction. */
    async function botHandle(d) {
      const option = (name) => d.data.options?.find((o) => o.name === name)?.value;
      if (d.type === 4) {
        const typed = String(option('colour') ?? '').toLowerCase();
        const choices = COLOURS.filter((c) => c.startsWith(typed)).map((c) => ({ name: `Colour ${c}`, value: c }));
        return answer(d, { type: 8, data: { choices } });
      }
      if (d.type === 2 && d.data.name === 'paint') {
        return answer(d, { type: 4, data: { content: `Painted ${option('colour')} ${option('times') ?? 1} time(s)` } });
      }
      if (d.type === 2 && d.data.name === 'secret') {
        return answer(d, { type: 4, data: { content: 'A secret for you', flags: 64 } });
      }
      if (d.type === 2 && d.data.name === 'slow') {
        await answer(d, { type: 5 });
        await new Promise((r) => setTimeout(r, 1500));
        return followUp(d, 'PATCH', '/messages/@original', { content: 'Done thinking' });
      }
      if (d.type === 2 && d.data.name === 'menu') {
        return answer(d, { type: 4, data: {
          content: 'Pick something',
          components: [
            { type: 1, components: [
              { type: 2, style: 1, label: 'Feedback', custom_id: 'feedback' },
              { type: 2, style: 4, label: 'Off', custom_id: 'off', disabled: true },
              { type: 2, style: 5, label: 'Docs', url: 'https://example.org/docs' },
            ] },
            { type: 1, components: [
              { type: 3, custom_id: 'fruit', placeholder: 'A fruit', options: [{ label: 'Apple', value: 'apple' }, { label: 'Pear', value: 'pear' }] },
            ] },
          ],
        } });
      }
      if (d.type === 3 && d.data.custom_id === 'feedback') {
        return answer(d, { type: 9, data: { custom_id: 'feedback-form', title: 'Your feedback', components: [
          { type: 1, components: [{ type: 4, custom_id: 'text', label: 'What do you think?', style: 2, required: true, max_length: 200 }] },
        ] } });
      }
      if (d.type === 3 && d.data.custom_id === 'fruit') {
        return answer(d, { type: 7, data: { content: `You picked ${d.data.values[0]}`, components: [] } });
      }
      if (d.type === 5) {
        const text = d.data.components[0].components[0].value;
        return answer(d, { type: 4, data: { content: `Thanks for: ${text}` } });
      }
      // `/silent` gets no answer: it fails at the deadline.
      return undefined;
    }

    await step('a bot with slash commands joins', async () => {
      const app = await http(alice, 'POST', '/applications', { name: 'Painter' });
      const { token: botToken } = await http(alice, 'POST', `/applications/${app.id}/bot/reset`, {});
      await http(alice, 'POST', `/oauth2/authorize?client_id=${app.id}&scope=bot&permissions=0`, { guild_id: ids.guild, permissions: '0', authorize: true });
      ids.app = app.id;
      const res = await fetch(`${base}/api/v10/applications/${app.id}/guilds/${ids.guild}/commands`, {
        method: 'PUT',
        headers: { Authorization: `Bot ${botToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify([
          { name: 'paint', description: 'Paints in a colour', options: [
            { type: 3, name: 'colour', description: 'Which colour', required: true, autocomplete: true },
            { type: 4, name: 'times', description: 'How often', choices: [{ name: 'Once', value: 1 }, { name: 'Twice', value: 2 }] },
          ] },
          { name: 'secret', description: 'Tells you a secret' },
          { name: 'slow', description: 'Takes its time' },
          { name: 'menu', description: 'Shows buttons' },
          { name: 'silent', description: 'Never answers' },
        ]),
      });
      check(res.ok, `commands registered: ${res.status} ${await res.text()}`);
      await startBot(botToken, botHandle);
    });

    await step('slash commands: typing / lists them, options and autocomplete', async () => {
      await openChannel(bob, 'general');
      const input = bob.getByTestId('composer-input');
      await input.click();
      await input.fill('/');
      await visible(bob.locator('[data-testid="command-option"][data-key="paint"]'), '/paint listed');
      await input.fill('/pa');
      await until(bob, () => document.querySelectorAll('[data-testid="command-option"]').length === 1, null, 'only /paint matches');
      await shot(bob, 'slash-commands');
      await audit(bob, 'the command list');
      await input.press('Enter');
      await visible(bob.getByTestId('command-form'), 'command form');
      await audit(bob, 'a command form');
      const colour = bob.locator('[data-testid="command-field"][data-option="colour"]');
      await colour.fill('bl');
      await visible(bob.locator('[data-testid="autocomplete-option"][data-value="blue"]'), 'autocomplete suggestions');
      check(await bob.locator('[data-testid="autocomplete-option"][data-value="black"]').count() === 1, 'both colours starting with bl');
      await bob.locator('[data-testid="autocomplete-option"][data-value="blue"]').click();
      await bob.locator('[data-testid="command-field"][data-option="times"]').selectOption('2');
      await bob.getByTestId('command-send').click();
      await hidden(bob.getByTestId('command-form'), 'form closed after sending');
      await visible(exactly(alice, 'Painted blue 2 time(s)'), 'the answer reaches everyone');
      await visible(message(alice, 'Painted blue').getByTestId('interaction-header').filter({ hasText: 'used /paint' }), 'who used which command');
      await hidden(bob.getByTestId('interaction-notice'), 'no pending notice once answered');
    });

    /** Bob picks and sends a command without options. */
    async function runCommand(page, name) {
      const input = page.getByTestId('composer-input');
      await input.click();
      await input.fill(`/${name}`);
      await visible(page.locator(`[data-testid="command-option"][data-key="${name}"]`), `/${name} listed`);
      await page.locator(`[data-testid="command-option"][data-key="${name}"]`).click();
      await page.getByTestId('command-send').click();
    }

    await step('slash commands: ephemeral, thinking, failure', async () => {
      await runCommand(bob, 'secret');
      const secret = exactly(bob, 'A secret for you');
      await visible(secret.getByTestId('ephemeral-note'), 'only you can see this');
      await runCommand(bob, 'slow');
      await visible(bob.getByTestId('thinking'), 'is thinking…');
      await visible(exactly(bob, 'Done thinking'), 'the deferred answer fills in');
      await hidden(bob.getByTestId('thinking'), 'thinking ends');
      // The ephemeral answer was bob's alone.
      await visible(exactly(alice, 'Done thinking'), 'alice sees the deferred answer');
      check(await exactly(alice, 'A secret for you').count() === 0, 'alice must not see the ephemeral answer');
      await secret.getByTestId('dismiss-ephemeral').click();
      await hidden(secret, 'ephemeral dismissed');
      await runCommand(bob, 'silent');
      await visible(bob.getByTestId('interaction-notice').getByTestId('interaction-failed'), 'interaction failure shown', T + 5000);
      await shot(bob, 'interaction-failed');
      await bob.getByTestId('dismiss-interaction').click();
      await hidden(bob.getByTestId('interaction-notice'), 'failure dismissed');
    });

    await step('components: buttons, a link, a select, a modal', async () => {
      await runCommand(bob, 'menu');
      const menu = exactly(bob, 'Pick something');
      await visible(menu.getByTestId('components'), 'components rendered');
      check(await menu.locator('[data-testid="component-button"][data-custom-id="off"]').isDisabled(), 'disabled button');
      const link = menu.getByTestId('component-link');
      check((await link.getAttribute('target')) === '_blank' && (await link.getAttribute('href')) === 'https://example.org/docs', 'link button opens in a new tab');
      await shot(bob, 'components');
      await audit(bob, 'a message with components');
      await menu.locator('[data-testid="component-button"][data-custom-id="feedback"]').click();
      await visible(bob.getByTestId('app-modal'), 'the modal opens');
      await bob.locator('[data-testid="modal-input"][data-custom-id="text"]').fill('Lovely colours');
      await shot(bob, 'modal');
      await audit(bob, 'an application\'s modal');
      await bob.getByTestId('modal-submit').click();
      await visible(exactly(alice, 'Thanks for: Lovely colours'), 'the modal submission answered');
      // The select updates its message in place.
      await menu.getByTestId('component-select').selectOption('pear');
      await visible(message(alice, 'You picked pear'), 'message updated by the select');
      check(await message(alice, 'Pick something').count() === 0, 'the old text replaced');
    });

    await step('polls: create, vote, change, take back, end', async () => {
      await alice.getByTestId('poll-button').click();
      await visible(alice.getByTestId('poll-dialog'), 'poll dialog');
      await alice.getByTestId('poll-question-input').fill('Lunch where?');
      const answers = alice.getByTestId('poll-answer-input');
      await answers.nth(0).fill('Pizza place');
      await answers.nth(1).fill('Noodle bar');
      await alice.getByTestId('poll-add-answer').click();
      await answers.nth(2).fill('Bring my own');
      await alice.getByTestId('poll-submit').click();
      const poll = (page) => page.getByTestId('poll').filter({ hasText: 'Lunch where?' });
      await visible(poll(bob), 'bob sees the poll');
      const answer = (page, id) => poll(page).locator(`[data-testid="poll-answer"][data-answer-id="${id}"]`);
      await answer(bob, 1).click();
      await until(alice, () => document.querySelector('[data-testid="poll-answer"][data-answer-id="1"]')?.dataset.count === '1', null, 'alice sees bob\'s vote');
      await answer(alice, 2).click();
      await until(bob, () => document.querySelector('[data-testid="poll-answer"][data-answer-id="2"]')?.dataset.count === '1', null, 'bob sees alice\'s vote');
      await visible(poll(bob).getByTestId('poll-count').filter({ hasText: '50%' }), 'percentages');
      check((await answer(bob, 1).getAttribute('aria-pressed')) === 'true', 'bob\'s own vote marked');
      // Another answer moves the vote; the same one takes it back.
      await answer(bob, 3).click();
      await until(alice, () => document.querySelector('[data-testid="poll-answer"][data-answer-id="3"]')?.dataset.count === '1' && document.querySelector('[data-testid="poll-answer"][data-answer-id="1"]')?.dataset.count === '0', null, 'vote moved');
      await answer(bob, 3).click();
      await until(alice, () => document.querySelector('[data-testid="poll-answer"][data-answer-id="3"]')?.dataset.count === '0', null, 'vote taken back');
      await shot(alice, 'poll');
      await audit(alice, 'a poll');
      await poll(alice).getByTestId('poll-end').click();
      await visible(poll(bob).getByTestId('poll-status').filter({ hasText: 'Poll ended' }), 'ended for bob');
      check(await answer(bob, 1).isDisabled(), 'no votes after the end');
    });

    await step('message context menu and pins', async () => {
      const painted = message(alice, 'Painted blue');
      await painted.getByTestId('message-content').click({ button: 'right' });
      await visible(alice.getByTestId('message-menu'), 'message menu');
      await audit(alice, 'the message menu');
      await alice.getByTestId('menu-pin').click();
      await visible(message(bob, 'Painted blue').getByTestId('pinned-mark'), 'pinned, for bob too');
      await bob.getByTestId('toggle-pins').click();
      const pin = bob.getByTestId('pin').filter({ hasText: 'Painted blue 2 time(s)' });
      await visible(pin, 'the pin listed');
      await shot(bob, 'pins');
      await pin.getByTestId('pin-jump').click();
      await until(bob, () => document.activeElement?.textContent?.includes('Painted blue'), null, 'jumped to the pinned message');
      // Unpinned from the panel by alice; the mark goes.
      await alice.getByTestId('toggle-pins').click();
      await alice.getByTestId('pin').filter({ hasText: 'Painted blue' }).getByTestId('pin-remove').click();
      await hidden(message(bob, 'Painted blue').getByTestId('pinned-mark'), 'unpinned');
      await alice.getByTestId('toggle-pins').click();
      await visible(alice.getByTestId('pins-empty'), 'no pins left');
      await alice.keyboard.press('Escape');
    });

    await step('search with filters, jump to a result', async () => {
      const box = bob.getByTestId('search-input');
      const hit = bob.getByTestId('search-result').filter({ hasText: 'Painted blue 2 time(s)' });
      // The index follows the messages shortly: ask again until it has them.
      const deadline = Date.now() + T;
      for (;;) {
        await box.fill('blue from:Painter in:general');
        await box.press('Enter');
        await visible(bob.getByTestId('search-count'), 'search answered');
        if (await hit.count()) break;
        check(Date.now() < deadline, 'the painted message never found');
        await bob.waitForTimeout(300);
      }
      check((await bob.getByTestId('search-result').count()) === 1, 'only the bot\'s message in #general with "blue"');
      await shot(bob, 'search');
      await audit(bob, 'search results');
      await hit.getByTestId('search-jump').click();
      await until(bob, () => document.activeElement?.textContent?.includes('Painted blue'), null, 'jumped to the result');
      await box.fill('from:nobody');
      await box.press('Enter');
      await visible(bob.getByTestId('toast').filter({ hasText: 'No member named nobody.' }), 'an unknown name is said so');
    });

    await step('autocomplete: @member, #channel, :emoji:', async () => {
      const input = alice.getByTestId('composer-input');
      await input.click();
      await input.fill('');
      await input.pressSequentially('ping @bo');
      await visible(alice.locator(`[data-testid="mention-option"][data-key="user-${ids.bob}"]`), 'bob suggested');
      await audit(alice, 'composer suggestions');
      await input.press('Enter');
      await input.pressSequentially('in #gene');
      await visible(alice.locator(`[data-testid="mention-option"][data-key="channel-${ids.general}"]`), '#general suggested');
      await input.press('Tab');
      await input.pressSequentially('now :fir');
      await visible(alice.locator('[data-testid="mention-option"][data-key="emoji-fire"]'), 'fire suggested');
      await input.press('Enter');
      check((await input.inputValue()) === `ping <@${ids.bob}> in <#${ids.general}> now 🔥 `, `completed text: ${await input.inputValue()}`);
      await input.press('Enter');
      const sent = message(bob, 'now 🔥');
      await visible(sent.locator('.md-mention-me'), 'bob mentioned');
      check((await sent.getByTestId('message-content').innerText()).includes('#general'), 'channel mention rendered');
    });

    await step('emoji picker: in the composer and for reactions', async () => {
      await bob.getByTestId('emoji-button').click();
      await visible(bob.getByTestId('emoji-picker'), 'emoji picker');
      await visible(bob.locator('[data-testid="picker-emoji"][data-key="grinning_face"]'), 'the full set loaded');
      await audit(bob, 'the emoji picker');
      await bob.getByTestId('emoji-search').fill('pizza');
      await bob.locator('[data-testid="picker-emoji"][data-key="pizza"]').click();
      const input = bob.getByTestId('composer-input');
      await input.press('End');
      await input.pressSequentially(' for lunch');
      await input.press('Enter');
      const lunch = message(alice, '🍕 for lunch');
      await visible(lunch, 'a picked emoji sent');
      await lunch.getByTestId('message-content').hover();
      await lunch.getByTestId('add-reaction').click();
      await alice.getByTestId('more-emoji').click();
      await alice.getByTestId('emoji-search').fill('rocket');
      await alice.locator('[data-testid="picker-emoji"][data-key="rocket"]').click();
      await visible(message(bob, '🍕 for lunch').locator('[data-testid="reaction"][data-emoji="🚀"]'), 'a reaction from the full picker');
    });

    await step('member context menu: nickname, timeout', async () => {
      const bobInList = alice.locator(`[data-testid="member"][data-user-id="${ids.bob}"]`);
      await bobInList.click({ button: 'right' });
      await visible(alice.getByTestId('member-menu'), 'member menu');
      await audit(alice, 'the member menu');
      await alice.getByTestId('menu-nickname-member').click();
      await alice.getByTestId('prompt-input').fill('Bobby');
      await alice.getByTestId('prompt-submit').click();
      await visible(bobInList.filter({ hasText: 'Bobby' }), 'nickname shown');
      // The bot is timed out (a person would have their own requests refused meanwhile).
      const botInList = alice.locator(`[data-testid="member"][data-user-id="${ids.app}"]`);
      await botInList.click({ button: 'right' });
      await alice.getByTestId('menu-timeout-member').click();
      await alice.getByTestId('timeout-60').click();
      await visible(alice.getByTestId('toast').filter({ hasText: 'is timed out' }), 'timed out');
      // Once the server says so, the menu offers to end it; ended at once.
      const deadline = Date.now() + T;
      for (;;) {
        await botInList.click({ button: 'right' });
        if (await alice.getByTestId('menu-timeout-member').filter({ hasText: 'Remove timeout' }).count()) break;
        await alice.keyboard.press('Escape');
        check(Date.now() < deadline, 'the timeout never reached the member list');
        await alice.waitForTimeout(200);
      }
      const ended = alice.waitForResponse((r) => r.url().endsWith(`/guilds/${ids.guild}/members/${ids.app}`) && r.request().method() === 'PATCH');
      await alice.getByTestId('menu-timeout-member').click();
      check((await ended).ok(), 'timeout removed');
    });

    await step('notification settings: a guild\'s and a channel\'s', async () => {
      await bob.getByTestId('guild-menu').click();
      await bob.getByTestId('menu-notifications').click();
      const dialog = bob.getByTestId('notification-settings');
      await visible(dialog, 'guild notification settings');
      await dialog.locator('input[data-level="1"]').check();
      await dialog.getByTestId('notify-suppress-everyone').check();
      await dialog.getByTestId('notify-mute').selectOption('60');
      await shot(bob, 'notification-settings');
      await audit(bob, 'the notification settings');
      const saved = bob.waitForResponse((r) => r.url().endsWith(`/users/@me/guilds/${ids.guild}/settings`) && r.request().method() === 'PATCH');
      await dialog.getByTestId('notify-save').click();
      check((await saved).status() === 200, 'guild settings saved');
      await hidden(dialog, 'dialog closed');
      // What the server answered (and USER_GUILD_SETTINGS_UPDATE) is what the dialog shows again.
      await bob.getByTestId('guild-menu').click();
      await bob.getByTestId('menu-notifications').click();
      check(await dialog.locator('input[data-level="1"]').isChecked(), 'level kept');
      check(await dialog.getByTestId('notify-suppress-everyone').isChecked(), 'suppression kept');
      check((await dialog.getByTestId('notify-mute').inputValue()) === 'keep', 'the mute shows its end');
      await dialog.getByTestId('notify-mute').selectOption('');
      await dialog.locator('input[data-level="0"]').check();
      await dialog.getByTestId('notify-suppress-everyone').uncheck();
      await dialog.getByTestId('notify-save').click();
      await hidden(dialog, 'dialog closed again');
      // A channel muted for good shows muted in the list, until unmuted.
      await bob.getByTestId('channel-notifications').click();
      await dialog.getByTestId('notify-mute').selectOption('forever');
      await dialog.getByTestId('notify-save').click();
      const general = bob.locator(`[data-testid="channel-item"][data-channel-id="${ids.general}"]`);
      await until(bob, (id) => document.querySelector(`[data-testid="channel-item"][data-channel-id="${id}"]`)?.dataset.muted === 'true', ids.general, '#general muted');
      await bob.getByTestId('channel-notifications').click();
      await dialog.getByTestId('notify-mute').selectOption('');
      await dialog.getByTestId('notify-save').click();
      await until(bob, (id) => document.querySelector(`[data-testid="channel-item"][data-channel-id="${id}"]`)?.dataset.muted === 'false', ids.general, '#general unmuted');
      check((await general.getAttribute('data-muted')) === 'false', 'unmuted');
    });

    await step('web push: subscribing from the settings, the service worker shows a push', async () => {
      await bob.context().grantPermissions(['notifications'], { origin: base });
      // Headless Chromium has no push service of its own: the browser's
      // subscription is stood in for, with real keys, and an endpoint the
      // server is told to allow.
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
      const endpoint = `http://127.0.0.1:9/push/${randomBytes(8).toString('hex')}`;
      await bob.evaluate(({ endpoint, keys }) => {
        const subscription = { endpoint, expirationTime: null, toJSON: () => ({ endpoint, expirationTime: null, keys }), unsubscribe: async () => { window.__subscription = null; return true; } };
        PushManager.prototype.subscribe = async () => (window.__subscription = subscription);
        PushManager.prototype.getSubscription = async () => window.__subscription ?? null;
      }, { endpoint, keys });
      await bob.getByTestId('user-settings').click();
      await visible(bob.getByTestId('user-settings-dialog'), 'settings dialog');
      const stored = bob.waitForResponse((r) => r.url().endsWith('/users/@me/push-subscriptions') && r.request().method() === 'PUT');
      await bob.getByTestId('push-toggle').check();
      check((await stored).status() === 204, 'the subscription reached the server');
      await visible(bob.getByTestId('push-status').filter({ hasText: 'gets notifications' }), 'push on');
      await audit(bob, 'the user settings');
      await bob.keyboard.press('Escape');
      await hidden(bob.getByTestId('user-settings-dialog'), 'settings closed');
      await bob.getByTestId('guild-home').click();
      await bob.waitForURL('**/channels/@me**', { timeout: T });
      // A push delivered to the service worker (through the DevTools protocol)
      // shows a notification, and a click on it brings the open tab to the
      // message's channel. Headless Chromium shows nothing to click: the
      // click is dispatched in the worker, as soon as the notification is
      // there (headless Chromium may take a shown notification away again).
      const cdp = await bob.context().newCDPSession(bob);
      const registrationId = new Promise((done) => cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const r = registrations.find((x) => x.scopeURL.endsWith('/static/js/') && !x.isDeleted);
        if (r) done(r.registrationId);
      }));
      await cdp.send('ServiceWorker.enable');
      const payload = { type: 'mention', guild_id: ids.guild, channel_id: ids.general, message_id: '1', title: 'alice in #general', body: 'Lunch is ready' };
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: base, registrationId: await registrationId, data: JSON.stringify(payload) });
      const worker = bob.context().serviceWorkers().find((w) => w.url().endsWith('/static/js/sw.js'));
      check(worker, 'the service worker runs');
      await worker.evaluate(async (timeout) => {
        const until = Date.now() + timeout;
        for (;;) {
          const [shown] = await self.registration.getNotifications();
          if (shown) {
            if (shown.title !== 'alice in #general' || shown.body !== 'Lunch is ready' || !shown.data?.path?.startsWith('/channels/')) {
              throw new Error(`the notification shown is ${JSON.stringify({ title: shown.title, body: shown.body, data: shown.data })}`);
            }
            self.dispatchEvent(new NotificationEvent('notificationclick', { notification: shown }));
            return;
          }
          if (Date.now() > until) throw new Error('no notification is shown');
          await new Promise((done) => setTimeout(done, 50));
        }
      }, T);
      await bob.waitForURL(`**/channels/${ids.guild}/${ids.general}`, { timeout: T });
      await until(bob, () => document.querySelector('[data-testid="channel-title"]')?.textContent === '#general', null, 'the click opened #general');
      await bob.getByTestId('user-settings').click();
      await visible(bob.getByTestId('user-settings-dialog'), 'settings open again');
      // Turned off: the server forgets the subscription (a second delete would be refused).
      const dropped = bob.waitForResponse((r) => r.url().endsWith('/users/@me/push-subscriptions') && r.request().method() === 'DELETE');
      await bob.getByTestId('push-toggle').uncheck();
      check((await dropped).status() === 204, 'the subscription dropped on the server');
      await bob.getByTestId('theme-light').check();
      await bob.keyboard.press('Escape');
      await hidden(bob.getByTestId('user-settings-dialog'), 'settings closed');
    });

    await step('profile: display name, a password change that keeps this session', async () => {
      await bob.getByTestId('user-settings').click();
      await bob.getByTestId('display-name').fill('Bob B.');
      await bob.getByTestId('save-display-name').click();
      await visible(bob.getByTestId('me-name').filter({ hasText: 'Bob B.' }), 'display name shown');
      const change = async (from, to) => {
        await bob.getByTestId('current-password').fill(from);
        await bob.getByTestId('new-password').fill(to);
        await bob.getByTestId('change-password').click();
        await visible(bob.getByTestId('toast').filter({ hasText: 'Password changed' }), 'password changed');
      };
      const before = await token(bob);
      await change(PASSWORD, `${PASSWORD} too`);
      check((await token(bob)) !== before, 'a new token kept');
      await bob.keyboard.press('Escape');
      // Still connected, with the new token: real time both ways.
      await send(bob, 'still here after the password change');
      await visible(message(alice, 'still here after the password change'), 'bob still sends');
      await send(alice, 'and you still hear me');
      await visible(message(bob, 'and you still hear me'), 'bob still receives');
      // Back to the first password (the later steps log in with it), once
      // the new session is up: a check of the old token still on its way
      // during a revocation can briefly refuse the new one on the server.
      await bob.getByTestId('user-settings').click();
      await change(`${PASSWORD} too`, PASSWORD);
      await bob.keyboard.press('Escape');
      await send(alice, 'hear me again');
      await visible(message(bob, 'hear me again'), 'bob receives after the second change');
    });

    await step('a hidden tab counts mentions in its title', async () => {
      const setVisibility = (state) => bob.evaluate((s) => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
        document.dispatchEvent(new Event('visibilitychange'));
      }, state);
      await setVisibility('hidden');
      await send(alice, `<@${ids.bob}> are you there?`);
      await until(bob, () => document.title.startsWith('(1) '), null, 'the title counts the mention');
      await send(alice, 'no mention in this one');
      await visible(message(bob, 'no mention in this one'), 'a plain message arrives');
      check((await bob.title()).startsWith('(1) '), 'only what would notify counts');
      await setVisibility('visible');
      await until(bob, () => !document.title.startsWith('('), null, 'the count goes when the tab is seen');
    });

    await step('the mentions inbox: listed, jumped to, removed', async () => {
      await bob.getByTestId('toggle-inbox').click();
      const item = bob.getByTestId('inbox-item').filter({ hasText: 'are you there?' });
      await visible(item, 'the mention listed');
      check((await item.textContent()).includes('in #general'), 'with its channel');
      await shot(bob, 'inbox');
      await audit(bob, 'the mentions inbox');
      await item.getByTestId('inbox-item-jump').click();
      await until(bob, () => document.activeElement?.textContent?.includes('are you there?'), null, 'jumped to the mention');
      await bob.getByTestId('toggle-inbox').click();
      const removed = bob.waitForResponse((r) => r.url().includes('/users/@me/mentions/') && r.request().method() === 'DELETE');
      await item.getByTestId('inbox-item-remove').click();
      check((await removed).status() === 204, 'removed on the server');
      await hidden(item, 'gone from the panel');
      await bob.keyboard.press('Escape');
      await bob.getByTestId('toggle-inbox').click();
      await visible(bob.getByTestId('inbox-panel').getByRole('heading', { name: 'Recent mentions' }), 'inbox again');
      check(!(await bob.getByTestId('inbox-item').filter({ hasText: 'are you there?' }).count()), 'still gone when opened again');
      await bob.keyboard.press('Escape');
    });

    await step('the light theme, kept across a reload', async () => {
      await until(bob, () => document.documentElement.dataset.theme === 'light', null, 'light theme applied');
      await bob.reload();
      await visible(bob.getByTestId('composer-input'), 'reloaded');
      check((await bob.evaluate(() => document.documentElement.dataset.theme)) === 'light', 'theme kept');
      await shot(bob, 'light-theme');
      await audit(bob, 'a channel in the light theme');
      await bob.getByTestId('user-settings').click();
      await bob.getByTestId('theme-dark').check();
      await bob.keyboard.press('Escape');
      await until(bob, () => document.documentElement.dataset.theme === 'dark', null, 'back to dark');
    });

    await step('threads', async () => {
      await alice.getByTestId('toggle-threads').click();
      await visible(alice.getByTestId('threads-panel'), 'threads panel');
      await alice.getByTestId('new-thread').click();
      await alice.getByTestId('prompt-input').fill('E2E thread');
      await alice.getByTestId('prompt-submit').click();
      await until(alice, () => document.querySelector('[data-testid="channel-title"]')?.textContent.includes('E2E thread'), null, 'thread open');
      await send(alice, 'Inside the thread');
      await visible(message(alice, 'Inside the thread'), 'thread message');
      await bob.getByTestId('toggle-threads').click();
      await bob.locator('[data-testid="thread-item"]', { hasText: 'E2E thread' }).click();
      await visible(message(bob, 'Inside the thread'), 'thread message seen by bob');
      await shot(bob, 'thread');
      await alice.getByTestId('close-threads').click();
      await bob.getByTestId('close-threads').click();
      await openChannel(alice, 'general');
      await openChannel(bob, 'general');
    });

    await step('direct messages', async () => {
      await bob.locator(`[data-testid="member"][data-user-id="${ids.alice}"]`).click();
      await bob.getByTestId('message-member').click();
      await bob.waitForURL('**/channels/@me/*', { timeout: T });
      await send(bob, 'A private hello');
      await visible(message(bob, 'A private hello'), 'dm sent');
      await visible(alice.getByTestId('guild-home').locator('xpath=..').getByTestId('guild-mention-badge'), 'unread DM badge for alice');
      await alice.getByTestId('guild-home').click();
      await alice.getByTestId('dm-item').first().click();
      await visible(message(alice, 'A private hello'), 'dm received');
      await send(alice, 'Private reply');
      await visible(message(bob, 'Private reply'), 'dm reply received');
      await alice.locator(`[data-testid="guild-icon"][data-guild-id="${ids.guild}"]`).click();
      await openChannel(alice, 'general');
      await bob.locator(`[data-testid="guild-icon"][data-guild-id="${ids.guild}"]`).click();
      await openChannel(bob, 'general');
    });

    await step('a group DM: renamed and given an icon, which the others see', async () => {
      const group = await http(alice, 'POST', '/users/@me/channels', { recipients: [ids.bob] });
      for (const page of [alice, bob]) await page.getByTestId('guild-home').click();
      const entry = (page) => page.locator(`[data-testid="dm-item"][data-channel-id="${group.id}"]`);
      await entry(alice).click();
      await alice.getByTestId('group-settings-button').click();
      await visible(alice.getByTestId('group-settings'), 'the group settings');
      await alice.getByTestId('group-name').fill('Lunch crew');
      await alice.getByTestId('save-group-name').click();
      await visible(entry(bob).filter({ hasText: 'Lunch crew' }), 'the new name in bob\'s list');
      await alice.getByTestId('group-icon-file').setInputFiles({ name: 'group.png', mimeType: 'image/png', buffer: pngOf(2, 2, () => GREEN) });
      await visible(alice.getByTestId('crop-dialog'), 'the crop dialog');
      await alice.getByTestId('crop-apply').click();
      const icon = '[data-testid="dm-item"][data-channel-id="' + group.id + '"] img.group-icon-image';
      await until(bob, (selector) => document.querySelector(selector)?.naturalWidth > 0, icon, 'the icon in bob\'s list');
      check(/\/channel-icons\/\d+\/[0-9a-f]{32}\.png/.test(await bob.locator(icon).getAttribute('src')), 'at its CDN path');
      check(sameColors(await colors(bob, icon), GREEN), 'the icon alice chose');
      await audit(alice, 'the group settings');
      await alice.keyboard.press('Escape');
      await hidden(alice.getByTestId('group-settings'), 'settings closed');
      for (const page of [alice, bob]) {
        await page.locator(`[data-testid="guild-icon"][data-guild-id="${ids.guild}"]`).click();
        await openChannel(page, 'general');
      }
    });

    await step('the README\'s picture: a conversation in a guild of its own', async () => {
      // The test images of the steps before are no one's real face.
      await http(alice, 'PATCH', '/users/@me', { avatar: null });
      await http(alice, 'PATCH', `/guilds/${ids.guild}`, { icon: null });
      const guild = await http(alice, 'POST', '/guilds', { name: SCENE.guild });
      const general = (await http(alice, 'GET', `/guilds/${guild.id}/channels`)).find((c) => c.name === 'general');
      const made = {};
      for (const name of SCENE.channels.filter((n) => n !== 'general')) {
        const topic = name === SCENE.channel ? SCENE.topic : undefined;
        made[name] = await http(alice, 'POST', `/guilds/${guild.id}/channels`, { name, topic, parent_id: general.parent_id });
      }
      const invite = await http(alice, 'POST', `/channels/${general.id}/invites`, {});
      await http(bob, 'POST', `/invites/${invite.code}`, {});
      const channel = made[SCENE.channel];
      const pages = { alice, bob };
      for (const page of [alice, bob]) {
        await page.locator(`[data-testid="guild-icon"][data-guild-id="${guild.id}"]`).click();
        await openChannel(page, SCENE.channel);
      }
      const said = [];
      for (const line of SCENE.lines) {
        const body = { content: line.text };
        if (line.reply !== undefined) body.message_reference = { message_id: said[line.reply].id };
        said.push(await http(pages[line.from], 'POST', `/channels/${channel.id}/messages`, body));
      }
      for (const r of SCENE.reactions) {
        await http(pages[r.from], 'PUT', `/channels/${channel.id}/messages/${said[r.to].id}/reactions/${encodeURIComponent(r.emoji)}/@me`);
      }
      const last = said[said.length - 1].id;
      await until(alice, (id) => document.querySelector(`[data-message-id="${id}"]`) !== null, last, 'the last line shown');
      const reactions = SCENE.reactions.length;
      await until(alice, (n) => [...document.querySelectorAll('[data-testid="reaction"]')].reduce((sum, r) => sum + Number(r.dataset.count), 0) === n, reactions, 'every reaction shown');
      await takeReadmePicture(alice, SCREENSHOTS);
      for (const page of [alice, bob]) {
        await page.locator(`[data-testid="guild-icon"][data-guild-id="${ids.guild}"]`).click();
        await openChannel(page, 'general');
      }
    });

    await step('session survives a reload', async () => {
      await bob.reload();
      await visible(bob.getByTestId('composer-input'), 'composer after reload');
      await visible(message(bob, 'look here'), 'history after reload');
      await visible(bob.locator(`[data-testid="member"][data-user-id="${ids.alice}"][data-status="online"]`), 'presence after reload');
    });

    await step('network drop: resume replays what was missed', async () => {
      relay.up = false;
      relay.ops = [];
      relay.current.upstream.close({ code: 4000, reason: 'network drop' });
      relay.current.ws.close({ code: 4000, reason: 'network drop' });
      await visible(bob.getByTestId('reconnecting-banner'), 'bob reconnecting banner');
      await send(alice, 'Sent while Bob was away');
      await visible(message(alice, 'Sent while Bob was away'), 'sent');
      relay.up = true;
      await hidden(bob.getByTestId('reconnecting-banner'), 'bob reconnected', 15_000);
      await visible(message(bob, 'Sent while Bob was away'), 'missed message replayed to bob');
      check(relay.ops.includes(6), `bob should have sent RESUME (op 6); sent ops ${relay.ops}`);
      check(!relay.ops.includes(2), `bob should not have identified again; sent ops ${relay.ops}`);
      await send(bob, 'Resumed fine');
      await visible(message(alice, 'Resumed fine'), 'bob → alice after resume');
    });

    await step('server restart: reconnecting state, then real time again', async () => {
      serverDown = true;
      await server.stop();
      await visible(alice.getByTestId('reconnecting-banner'), 'alice reconnecting banner');
      await visible(bob.getByTestId('reconnecting-banner'), 'bob reconnecting banner');
      await shot(alice, 'reconnecting');
      await server.start(`127.0.0.1:${port}`);
      await hidden(alice.getByTestId('reconnecting-banner'), 'alice reconnected', 30_000);
      await hidden(bob.getByTestId('reconnecting-banner'), 'bob reconnected', 30_000);
      serverDown = false;
      await send(alice, 'After the restart');
      await visible(message(bob, 'After the restart'), 'message after restart seen by bob');
      await send(bob, 'Back here too');
      await visible(message(alice, 'Back here too'), 'message after restart seen by alice');
      // Alice is reading #general: it is not unread for her.
      await until(alice, (id) => document.querySelector(`[data-testid="channel-item"][data-channel-id="${id}"]`)?.dataset.unread === 'false', ids.general, '#general read by alice');
      // What she read before the restart stays read (acks are stored by the server).
      await until(alice, (id) => document.querySelector(`[data-testid="channel-item"][data-channel-id="${id}"]`)?.dataset.unread === 'false', ids.history, '#history still read by alice');
      check((await alice.getByTestId('guild-mention-badge').count()) === 0, 'alice has unread marks after the restart');
    });

    await step('log out and log in again', async () => {
      await bob.getByTestId('logout').click();
      await visible(bob.getByTestId('login-screen'), 'login screen after logout');
      check((await token(bob)) === null, 'token kept after logout');
      await bob.getByTestId('auth-login').fill('bob');
      await bob.getByTestId('auth-password').fill(PASSWORD);
      await bob.getByTestId('auth-submit').click();
      await bob.waitForURL('**/channels/@me', { timeout: T });
      await visible(bob.locator(`[data-testid="guild-icon"][data-guild-id="${ids.guild}"]`), 'guild after login');
    });

    await step('phone-sized screen', async () => {
      // Runs in the page: the drawer has slid fully in ('open') or out ('closed').
      const drawerAt = (edge) => {
        const box = document.querySelector('[data-testid="nav-drawer"]').getBoundingClientRect();
        return edge === 'closed' ? box.right <= 1 : box.left >= 0;
      };
      await alice.setViewportSize({ width: 390, height: 844 });
      await until(alice, drawerAt, 'closed', 'drawer closed on a phone');
      await visible(alice.getByTestId('toggle-sidebar'), 'navigation button');
      await visible(alice.getByTestId('composer-input'), 'composer on a phone');
      await shot(alice, 'phone');
      await alice.getByTestId('toggle-sidebar').click();
      await until(alice, drawerAt, 'open', 'drawer open');
      await visible(alice.locator(`[data-testid="channel-item"][data-channel-id="${ids.general}"]`), 'channel list in the drawer');
      await shot(alice, 'phone-drawer');
      await alice.locator(`[data-testid="channel-item"][data-channel-id="${ids.history}"]`).click();
      await until(alice, drawerAt, 'closed', 'drawer closed after choosing a channel');
      await visible(message(alice, 'Answering the very first one'), 'history on a phone');
    });

    await step('kick from the settings', async () => {
      await alice.setViewportSize({ width: 1280, height: 800 });
      await visible(alice.getByTestId('guild-menu'), 'sidebar back on a wide screen');
      await alice.getByTestId('guild-menu').click();
      await alice.getByTestId('menu-settings').click();
      await alice.getByTestId('tab-members').click();
      await alice.locator(`[data-testid="settings-member"][data-user-id="${ids.bob}"] [data-testid="settings-kick"]`).click();
      await alice.getByTestId('confirm-button').click();
      await hidden(alice.locator(`[data-testid="settings-member"][data-user-id="${ids.bob}"]`), 'bob gone from the settings');
      await hidden(bob.locator(`[data-testid="guild-icon"][data-guild-id="${ids.guild}"]`), 'guild gone for bob');
      await bob.waitForURL('**/channels/@me', { timeout: T });
      await alice.keyboard.press('Escape');
    });

    await step('join again with a pasted link, then leave', async () => {
      await bob.getByTestId('join-guild').click();
      await bob.getByTestId('prompt-input').fill(`${base}/invite/${ids.invite}`);
      await bob.getByTestId('prompt-submit').click();
      await bob.getByTestId('accept-invite').click();
      await bob.waitForURL(`**/channels/${ids.guild}/**`, { timeout: T });
      await bob.getByTestId('guild-menu').click();
      await bob.getByTestId('menu-leave').click();
      await bob.getByTestId('confirm-button').click();
      await hidden(bob.locator(`[data-testid="guild-icon"][data-guild-id="${ids.guild}"]`), 'guild gone after leaving');
      await hidden(alice.locator(`[data-testid="member"][data-user-id="${ids.bob}"]`), 'bob gone from alice\'s member list');
    });

    await step('log out everywhere: every browser of the account, and its tokens', async () => {
      const other = await newPage('bob-elsewhere');
      await other.goto(`${base}/login`);
      await other.getByTestId('auth-login').fill('bob');
      await other.getByTestId('auth-password').fill(PASSWORD);
      await other.getByTestId('auth-submit').click();
      await other.waitForURL('**/channels/@me', { timeout: T });
      await visible(other.getByTestId('composer-input').or(other.getByTestId('guild-home')), 'bob signed in elsewhere');
      const tokens = [await token(bob), await token(other)];
      await bob.getByTestId('user-settings').click();
      await bob.getByTestId('logout-everywhere').click();
      await bob.getByTestId('confirm-button').click();
      await visible(bob.getByTestId('login-screen'), 'this browser logged out');
      await visible(other.getByTestId('login-screen'), 'the other browser logged out by the server');
      for (const old of tokens) {
        const res = await fetch(`${base}/api/v10/users/@me`, { headers: { Authorization: old } });
        check(res.status === 401, `an old token is refused (${res.status})`);
      }
      await other.close();
    });

    await step('the gateway spoke zlib-stream', async () => {
      check(sockets.length > 0, 'no gateway socket was opened');
      check(sockets.every((u) => /[?&]v=10\b/.test(u) && /compress=zlib-stream/.test(u)), `gateway URLs: ${sockets.join(', ')}`);
    });

    await step('accessibility audits ran', async () => {
      console.log(`(${audited.join(', ')}) `);
      check(audited.length >= 15, `only ${audited.length} screens audited`);
      check(!inaccessible.length, `serious accessibility violations:\n  ${inaccessible.join('\n  ')}`);
    });

    await step('no requests to other hosts, no page errors', async () => {
      check(foreign.length === 0, `requests to other hosts:\n  ${foreign.join('\n  ')}`);
      check(pageErrors.length === 0, `page errors:\n  ${pageErrors.join('\n  ')}`);
    });

    console.log(`\nweb e2e passed; screenshots in ${SCREENSHOTS}`);
  } catch (error) {
    console.log('FAILED');
    for (const page of pages) {
      await page.screenshot({ path: join(SCREENSHOTS, `failure-${page.label}.png`) }).catch(() => {});
    }
    const tail = server.stderr.join('').split('\n').slice(-20).join('\n');
    console.error(`\nweb e2e failed at "${currentStep}": ${error.message}`);
    if (tail.trim()) console.error(`server log (last lines):\n${tail}`);
    process.exitCode = 1;
  } finally {
    await browser?.close().catch(() => {});
    await server.stop().catch(() => server.kill());
    rmSync(dataDir, { recursive: true, force: true });
  }
}

process.on('SIGINT', () => process.exit(130));
await main();
