// Choosing an avatar or icon: a file from the device, cut to the square
// the person chooses and scaled to at most 512 pixels (a GIF is sent as it
// is, to keep its animation), sent as the data URI Discord's routes take.

import { h, toast } from '../dom.js';
import { chooseSquare } from './cropSquare.js';

const TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const SIDE = 512;

/**
 * A field with the current image (`preview()` draws it), a button to
 * upload another and one to remove it; `save(dataUri | null)` sends it.
 */
export function imageField({ label, testid, preview, save }) {
  const input = h('input', { type: 'file', accept: TYPES.join(','), class: 'visually-hidden', testid: `${testid}-file`, 'aria-label': `Upload ${label.toLowerCase()}` });
  const shown = h('span', { class: 'image-preview' }, preview());
  const send = async (value) => {
    try {
      await save(value);
      shown.replaceChildren(preview());
      toast(value ? `${label} updated.` : `${label} removed.`);
    } catch (err) {
      toast(err.message, 'error');
    }
  };
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    if (!TYPES.includes(file.type)) {
      toast('Choose a PNG, JPEG, GIF or WebP image.', 'error');
      return;
    }
    const chosen = await squareDataUri(file);
    if (chosen) await send(chosen);
  });
  return h('div', { class: 'field' },
    h('span', { text: label }),
    h('div', { class: 'image-field' },
      shown,
      h('button', { type: 'button', class: 'button button-small', testid: `${testid}-upload`, onClick: () => input.click() }, `Upload ${label.toLowerCase()}`),
      h('button', { type: 'button', class: 'button button-small button-secondary', testid: `${testid}-remove`, onClick: () => send(null) }, 'Remove'),
      input));
}

/**
 * The file as a data URI: the square the person chooses, at most SIDE
 * pixels (a GIF unchanged); null when they cancel.
 */
async function squareDataUri(file) {
  if (file.type === 'image/gif') return readDataUri(file);
  const bitmap = await createImageBitmap(file);
  try {
    const crop = await chooseSquare(bitmap);
    if (!crop) return null;
    const out = Math.min(crop.side, SIDE);
    const canvas = document.createElement('canvas');
    canvas.width = out;
    canvas.height = out;
    canvas.getContext('2d').drawImage(bitmap, crop.x, crop.y, crop.side, crop.side, 0, 0, out, out);
    return canvas.toDataURL('image/png');
  } finally {
    bitmap.close();
  }
}

function readDataUri(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}
