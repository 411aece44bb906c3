// What the voice tests in Chromium share: the browser's flags (a fake
// microphone and camera, loopback ICE, the self-signed voice certificate
// accepted), a signed-in page whose peer connections and voice sockets
// stay within reach, and the statistics read from it.

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** How long each wait may take. */
export const T = Number(process.env.E2E_TIMEOUT_MS ?? 20_000);

/** Chromium as VOICE.md describes: a fake microphone and camera, loopback ICE, the self-signed voice certificate accepted. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
  '--ignore-certificate-errors',
];

/** Polls `check` until it returns something truthy, or fails with `what`. */
export async function until(what, check) {
  const deadline = Date.now() + T;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen in time (last: ${JSON.stringify(last)})`);
}

/** A page signed in as `token`, allowed the microphone and camera. */
export async function openPage(browser, url, token) {
  const context = await browser.newContext({ permissions: ['microphone', 'camera'] });
  await context.addInitScript((token) => {
    localStorage.setItem('concord.token', token);
    // Keep the page's peer connections within reach of getStats.
    const Native = window.RTCPeerConnection;
    window.__peerConnections = [];
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        window.__peerConnections.push(this);
      }
    };
    // The voice sockets (protocol v8) and the opcodes sent on them.
    const NativeSocket = window.WebSocket;
    window.__voiceSockets = [];
    window.__voiceSent = [];
    window.WebSocket = class extends NativeSocket {
      constructor(url, ...rest) {
        super(url, ...rest);
        if (String(url).includes('?v=8')) window.__voiceSockets.push(this);
      }
      send(data) {
        if (window.__voiceSockets.includes(this)) window.__voiceSent.push(JSON.parse(data).op);
        return super.send(data);
      }
    };
  }, token);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  if (process.env.VOICE_DEBUG) page.on('console', (m) => console.log(`page: ${m.text()}`));
  await page.goto(url);
  return page;
}

/** The frames the page decoded from each video it receives, by mid. */
export function videoFrames(page) {
  return page.evaluate(async () => {
    const frames = {};
    for (const pc of window.__peerConnections ?? []) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames[s.mid] = s.framesDecoded ?? 0;
      });
    }
    return frames;
  });
}

/** The page's audio inbound-rtp and outbound-rtp statistics, over every peer connection it made. */
export function audioStats(page) {
  return page.evaluate(async () => {
    const out = { inbound: [], outbound: [] };
    for (const pc of window.__peerConnections ?? []) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.kind !== 'audio') return;
        if (s.type === 'inbound-rtp') out.inbound.push({ packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, audioLevel: s.audioLevel ?? 0 });
        if (s.type === 'outbound-rtp') out.outbound.push({ packetsSent: s.packetsSent });
      });
    }
    return out;
  });
}

