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
import { spawnSync } from 'node:child_process';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const README_PICTURE = join(ROOT, 'docs/images/web-client.png');
const KEYWORD = 'concord-picture';

export const SCENE = JSON.parse(readFileSync(join(ROOT, 'tests/web/readme-scene.json'), 'utf8'));

/**
 * The files of the web client: those git tracks under web/ (so that an
 * editor's stray files change nothing), or every file there outside git.
 */
function webFiles() {
  const tracked = spawnSync('git', ['ls-files', '-z', 'web'], { cwd: ROOT, encoding: 'utf8' });
  if (tracked.status === 0 && tracked.stdout) return tracked.stdout.split('\0').filter(Boolean);
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else found.push(relative(ROOT, path).split(sep).join('/'));
    }
  };
  walk(join(ROOT, 'web'));
  return found;
}

/** A hash of the scene and of every file of the web client, in path order. */
export function fingerprint() {
  const hash = createHash('sha256').update(JSON.stringify(SCENE));
  for (const path of webFiles().sort()) hash.update(path).update('\0').update(readFileSync(join(ROOT, path)));
  return hash.digest('hex');
}

/** `png` with a tEXt chunk `keyword`=`text` (in place of one it had) before its IEND chunk. */
export function withText(png, keyword, text) {
  const chunks = [];
  for (let at = 8; at + 12 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const chunk = png.subarray(at, at + 12 + length);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    const named = type === 'tEXt' && data.toString('latin1', 0, data.indexOf(0)) === keyword;
    if (!named && type !== 'IEND') chunks.push(chunk);
    at += 12 + length;
  }
  const data = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]);
  const type = Buffer.from('tEXt', 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(Buffer.concat([type, data])));
  const iend = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
  return Buffer.concat([png.subarray(0, 8), ...chunks, length, type, data, sum, iend]);
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
  // Notices of the steps before (they fade on their own) are not the scene.
  await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
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
