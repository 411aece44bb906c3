// The README's picture of the web client: taken in the end-to-end run, from
// the conversation in readme-scene.json, and kept current by a check.
//
// The picture carries a fingerprint of what it shows (the scene and every
// file of the web client) in a PNG text chunk. When the committed picture's
// fingerprint differs from the run's, the web client or the scene changed
// since it was taken: the run fails, or with UPDATE_README_PICTURE=1 it
// writes the new picture into docs/images for committing.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const README_PICTURE = join(ROOT, 'docs/images/web-client.png');
const KEYWORD = 'concord-picture';

export const SCENE = JSON.parse(readFileSync(join(ROOT, 'tests/web/readme-scene.json'), 'utf8'));

/** A hash of the scene and of every file under web/, in a stable order. */
export function fingerprint() {
  const hash = createHash('sha256').update(JSON.stringify(SCENE));
  const walk = (dir) => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else hash.update(relative(ROOT, path)).update('\0').update(readFileSync(path));
    }
  };
  walk(join(ROOT, 'web'));
  return hash.digest('hex');
}

/** `png` with a tEXt chunk `keyword`=`text` before its IEND chunk. */
export function withText(png, keyword, text) {
  const data = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]);
  const type = Buffer.from('tEXt', 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(Buffer.concat([type, data])));
  // IEND, the last chunk, has no data: 12 bytes.
  const end = png.length - 12;
  return Buffer.concat([png.subarray(0, end), length, type, data, sum, png.subarray(end)]);
}

/** The text of `png`'s tEXt chunk `keyword`, or null. */
export function textOf(png, keyword) {
  for (let at = 8; at + 12 <= png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'tEXt') {
      const data = png.subarray(at + 8, at + 8 + length);
      const nul = data.indexOf(0);
      if (nul > 0 && data.toString('latin1', 0, nul) === keyword) return data.toString('latin1', nul + 1);
    }
    at += 12 + length;
  }
  return null;
}

/**
 * Takes the picture of `page` into `dir`/readme.png, marked with the
 * fingerprint, and checks the README's against it (or replaces it).
 */
export async function takeReadmePicture(page, dir) {
  const mark = fingerprint();
  const picture = withText(await page.screenshot(), KEYWORD, mark);
  writeFileSync(join(dir, 'readme.png'), picture);
  if (process.env.UPDATE_README_PICTURE === '1') {
    writeFileSync(README_PICTURE, picture);
    return;
  }
  const committed = existsSync(README_PICTURE) ? textOf(readFileSync(README_PICTURE), KEYWORD) : null;
  if (committed !== mark) {
    throw new Error(
      `${relative(ROOT, README_PICTURE)} was not taken from the current web client and scene ` +
        `(its mark ${committed ?? 'is missing'}, now ${mark}): run the web test with UPDATE_README_PICTURE=1 and commit the picture`,
    );
  }
}
