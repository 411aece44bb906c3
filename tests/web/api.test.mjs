// Unit tests of the web client's HTTP wrapper: `node --test tests/web/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createApi, ApiError } from '../../web/js/api.js';

/** A fetch that answers from a list and records the requests. */
function scripted(answers) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, init });
    const [status, body, headers = {}] = answers.shift();
    return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
  };
  return { calls, fetchImpl };
}

test('sends the raw token and JSON, and reads JSON', async () => {
  const { calls, fetchImpl } = scripted([[200, { id: '1' }]]);
  const api = createApi({ getToken: () => 'tok', fetchImpl });
  assert.deepEqual(await api.createGuild('Name'), { id: '1' });
  assert.equal(calls[0].url, '/api/v10/guilds');
  assert.equal(calls[0].init.method, 'POST');
  assert.equal(calls[0].init.headers.Authorization, 'tok');
  assert.equal(calls[0].init.headers['Content-Type'], 'application/json');
  assert.equal(calls[0].init.body, '{"name":"Name"}');
});

test('a token that is being changed is waited for, not sent stale', async () => {
  const { calls, fetchImpl } = scripted([[200, []]]);
  let token = 'old';
  let settle;
  const rotation = new Promise((done) => (settle = done));
  const api = createApi({ getToken: () => rotation.then(() => token), fetchImpl });
  const pending = api.messages('5', { limit: 1 });
  await new Promise((done) => setTimeout(done, 10));
  assert.equal(calls.length, 0, 'nothing is sent while the token changes');
  token = 'new';
  settle();
  await pending;
  assert.equal(calls[0].init.headers.Authorization, 'new');
});

test('waits out a 429 for retry_after, then retries', async () => {
  const { calls, fetchImpl } = scripted([
    [429, { message: 'You are being rate limited.', retry_after: 0.05, global: false }, { 'Retry-After': '1' }],
    [200, []],
  ]);
  const api = createApi({ getToken: () => 'tok', fetchImpl });
  const started = Date.now();
  assert.deepEqual(await api.messages('5', { limit: 50 }), []);
  assert.ok(Date.now() - started >= 50, 'waited retry_after (seconds, float)');
  assert.equal(calls.length, 2);
  assert.equal(calls[1].url, '/api/v10/channels/5/messages?limit=50');
});

test('typing notices are not retried', async () => {
  const { calls, fetchImpl } = scripted([[429, { retry_after: 0.05, global: false }]]);
  const api = createApi({ getToken: () => 'tok', fetchImpl });
  await assert.rejects(api.typing('5'), (e) => e.status === 429);
  assert.equal(calls.length, 1);
});

test('form errors become one readable message', async () => {
  const body = {
    code: 50035,
    message: 'Invalid Form Body',
    errors: { login: { _errors: [{ code: 'INVALID_LOGIN', message: 'Login or password is invalid.' }] } },
  };
  const { fetchImpl } = scripted([[400, body]]);
  const api = createApi({ getToken: () => null, fetchImpl });
  const error = await api.login('a', 'b').catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.equal(error.status, 400);
  assert.equal(error.code, 50035);
  assert.equal(error.message, 'login: Login or password is invalid.');
  assert.deepEqual(error.fieldErrors(), { login: 'Login or password is invalid.' });
});

test('a 401 with a token signs out', async () => {
  let signedOut = 0;
  const { fetchImpl } = scripted([[401, { message: '401: Unauthorized', code: 0 }]]);
  const api = createApi({ getToken: () => 'old', fetchImpl, onUnauthorized: () => signedOut++ });
  await assert.rejects(api.me(), (e) => e.status === 401);
  assert.equal(signedOut, 1);
});

test('files go as multipart with payload_json and files[n]', async () => {
  const { calls, fetchImpl } = scripted([[200, { id: '9' }]]);
  const api = createApi({ getToken: () => 'tok', fetchImpl });
  const file = new File([new Uint8Array([1, 2, 3])], 'a.png', { type: 'image/png' });
  await api.sendMessage('5', { content: 'hi' }, [file]);
  const form = calls[0].init.body;
  assert.ok(form instanceof FormData);
  assert.equal(form.get('payload_json'), '{"content":"hi"}');
  assert.equal(form.get('files[0]').name, 'a.png');
  assert.equal(calls[0].init.headers['Content-Type'], undefined, 'the browser sets the multipart boundary');
});

test('a network failure is status 0', async () => {
  const api = createApi({ getToken: () => 'tok', fetchImpl: async () => { throw new TypeError('fetch failed'); } });
  const error = await api.me().catch((e) => e);
  assert.equal(error.status, 0);
  assert.equal(error.message, 'Cannot reach the server.');
});
