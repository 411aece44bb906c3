// Where the client loads avatars and icons from: the server's CDN paths.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { imagePath } from '../../web/js/util.js';

test('hashes become the server paths, a GIF for an animated one', () => {
  const hash = 'ab'.repeat(16);
  assert.equal(imagePath('avatars', '5', hash, 64), `/avatars/5/${hash}.png?size=64`);
  // Sizes the server takes: powers of two from 16 to 4096.
  assert.equal(imagePath('avatars', '5', hash, 80), `/avatars/5/${hash}.png?size=128`);
  assert.equal(imagePath('avatars', '5', hash, 10), `/avatars/5/${hash}.png?size=16`);
  assert.equal(imagePath('avatars', '5', hash, 5000), `/avatars/5/${hash}.png?size=4096`);
  assert.equal(imagePath('icons', '7', `a_${hash}`), `/icons/7/a_${hash}.gif?size=128`);
});

test('no hash, or one no upload could have made, gives no path', () => {
  assert.equal(imagePath('avatars', '5', null), null);
  assert.equal(imagePath('avatars', '5', undefined), null);
  assert.equal(imagePath('avatars', null, 'ab'.repeat(16)), null);
  assert.equal(imagePath('avatars', '5', '../../admin'), null);
  assert.equal(imagePath('avatars', '5', 'data:image/png;base64,AAAA'), null);
});
