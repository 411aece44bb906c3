// Unit tests of the web client's gateway connection, with a scripted
// WebSocket in place of a server: `node --test tests/web/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createDeflate } from 'node:zlib';

import { Gateway, JsonSplitter, ZlibInflater, CLIENT_INTENTS } from '../../web/js/gateway.js';

test('JsonSplitter cuts values wherever chunks end', () => {
  const seen = [];
  const splitter = new JsonSplitter((v) => seen.push(v));
  const text = '{"op":10,"d":{"s":"a}\\"{"}}{"op":11,"d":null}{"op":0,"t":"X","d":[1,{"b":"]"}]}';
  for (const piece of [text.slice(0, 7), text.slice(7, 30), text.slice(30, 31), text.slice(31)]) splitter.push(piece);
  assert.deepEqual(seen, [
    { op: 10, d: { s: 'a}"{' } },
    { op: 11, d: null },
    { op: 0, t: 'X', d: [1, { b: ']' }] },
  ]);
});

/** Frames as the server makes them: one zlib stream, a sync flush per message. */
async function zlibFrames(payloads) {
  const deflate = createDeflate();
  const frames = [];
  for (const p of payloads) {
    const chunks = [];
    const onData = (c) => chunks.push(c);
    deflate.on('data', onData);
    deflate.write(JSON.stringify(p));
    await new Promise((done) => deflate.flush(constants.Z_SYNC_FLUSH, done));
    deflate.off('data', onData);
    frames.push(Buffer.concat(chunks));
  }
  return frames;
}

test('zlib-stream frames inflate to one payload each, in order', async () => {
  const payloads = [
    { op: 10, d: { heartbeat_interval: 41250 }, s: null, t: null },
    { op: 0, s: 1, t: 'READY', d: { session_id: 'abc', text: 'x'.repeat(5000) } },
    { op: 0, s: 2, t: 'MESSAGE_CREATE', d: { content: 'héllo ✓ {not json' } },
  ];
  const frames = await zlibFrames(payloads);
  for (const f of frames) assert.deepEqual([...f.subarray(-4)], [0, 0, 0xff, 0xff]);
  const seen = [];
  const inflater = new ZlibInflater((p) => seen.push(p), (e) => assert.fail(e));
  for (const f of frames) inflater.write(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength));
  for (let i = 0; i < 50 && seen.length < payloads.length; i++) await new Promise((r) => setTimeout(r, 10));
  inflater.close();
  assert.deepEqual(seen, payloads);
});

// A WebSocket the test drives: `sent` holds what the client sent.
class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
    setTimeout(() => {
      this.readyState = 1;
    }, 0);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code) {
    this.closedWith = code;
    this.readyState = 3;
  }
  serve(payload) {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify(payload) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

async function nextSocket(count) {
  for (let i = 0; i < 400 && FakeSocket.all.length < count; i++) await tick(10);
  assert.equal(FakeSocket.all.length, count, 'the client should have opened another socket');
  return FakeSocket.all[count - 1];
}

test('identify, then resume after a drop, then identify again when the session is gone', async () => {
  FakeSocket.all = [];
  const states = [];
  const dispatches = [];
  const gateway = new Gateway({
    token: 'tok',
    url: 'ws://example.test',
    compress: false,
    WebSocketImpl: FakeSocket,
    onState: (s) => states.push(s),
    onDispatch: (t, d) => dispatches.push(t),
  });
  gateway.start();
  const first = await nextSocket(1);
  assert.equal(first.url, 'ws://example.test/?v=10&encoding=json');
  first.serve({ op: 10, d: { heartbeat_interval: 40000 }, s: null, t: null });
  assert.equal(first.sent[0].op, 2);
  assert.equal(first.sent[0].d.token, 'tok');
  assert.equal(first.sent[0].d.intents, CLIENT_INTENTS);
  assert.ok(CLIENT_INTENTS & (1 << 8) && CLIENT_INTENTS & (1 << 1), 'presences and members intents');
  first.serve({ op: 0, s: 1, t: 'READY', d: { session_id: 'sess', resume_gateway_url: 'ws://EXAMPLE.test' } });
  first.serve({ op: 0, s: 2, t: 'GUILD_CREATE', d: { id: '1' } });
  assert.deepEqual(states, ['connecting', 'ready']);
  assert.deepEqual(dispatches, ['READY', 'GUILD_CREATE']);

  // The network drops: reconnecting, then RESUME at resume_gateway_url (same host).
  first.drop(1006);
  assert.equal(states.at(-1), 'reconnecting');
  const second = await nextSocket(2);
  assert.equal(second.url, 'ws://EXAMPLE.test/?v=10&encoding=json');
  second.serve({ op: 10, d: { heartbeat_interval: 40000 }, s: null, t: null });
  assert.deepEqual(second.sent[0], { op: 6, d: { token: 'tok', session_id: 'sess', seq: 2 } });
  second.serve({ op: 0, s: 3, t: 'RESUMED', d: {} });
  assert.equal(states.at(-1), 'ready');

  // The server restarted and forgot the session: op 9 false, identify anew.
  second.serve({ op: 7, d: null, s: null, t: null });
  assert.equal(second.closedWith, 4000);
  const third = await nextSocket(3);
  third.serve({ op: 10, d: { heartbeat_interval: 40000 }, s: null, t: null });
  assert.equal(third.sent[0].op, 6, 'tries to resume first');
  third.serve({ op: 9, d: false, s: null, t: null });
  // The first heartbeat may come before it (at a random part of the interval).
  const identified = () => third.sent.slice(1).some((p) => p.op === 2);
  for (let i = 0; i < 200 && !identified(); i++) await tick(10);
  assert.ok(identified(), 'identifies after an invalid session');
  third.serve({ op: 0, s: 1, t: 'READY', d: { session_id: 'new', resume_gateway_url: 'ws://resume.test' } });
  assert.equal(gateway.sessionId, 'new');
  // A resume URL on another host is not used: the page may only talk to its own.
  assert.equal(gateway.resumeUrl, 'ws://example.test');
  assert.equal(states.at(-1), 'ready');

  // A fatal close (bad token) stops reconnecting.
  let fatal = null;
  gateway.onFatal = (code) => {
    fatal = code;
  };
  third.drop(4004);
  assert.equal(fatal, 4004);
  assert.equal(states.at(-1), 'closed');
  await tick(1200);
  assert.equal(FakeSocket.all.length, 3, 'no reconnect after 4004');
  gateway.stop();
});

test('heartbeats carry the last sequence; a missing ACK drops the socket', async () => {
  FakeSocket.all = [];
  const gateway = new Gateway({ token: 't', url: 'ws://h', compress: false, WebSocketImpl: FakeSocket });
  gateway.start();
  const socket = await nextSocket(1);
  socket.serve({ op: 10, d: { heartbeat_interval: 60 }, s: null, t: null });
  socket.serve({ op: 0, s: 5, t: 'READY', d: { session_id: 's', resume_gateway_url: 'ws://h' } });
  for (let i = 0; i < 100 && !socket.sent.some((p) => p.op === 1); i++) await tick(5);
  assert.deepEqual(socket.sent.find((p) => p.op === 1), { op: 1, d: 5 });
  // No ACK comes: the next beat finds the last one unanswered.
  for (let i = 0; i < 100 && socket.closedWith === undefined; i++) await tick(5);
  assert.equal(socket.closedWith, 4000);
  assert.equal(gateway.state, 'reconnecting');
  gateway.stop();
});
