// Choosing the square of a picture to keep, for an avatar or an icon: the
// picture with a square frame over it, moved by dragging it or with the
// arrow keys and sized with a zoom slider. Outside the frame is dimmed, so
// what will be kept is what stands out.

import { h } from '../dom.js';
import { openDialog } from './dialog.js';

/** The preview's longest side, in CSS pixels. */
const VIEW = 320;
/** The most the frame can zoom in: a tenth of the picture's short side. */
const MAX_ZOOM = 10;

/**
 * Asks which square of `bitmap` to keep. Resolves with `{x, y, side}` in
 * the bitmap's pixels (the middle square until moved), or null when the
 * person cancels.
 */
export function chooseSquare(bitmap) {
  const { width, height } = bitmap;
  const short = Math.min(width, height);
  const scale = VIEW / Math.max(width, height);
  const frame = { side: short, x: (width - short) / 2, y: (height - short) / 2 };

  /** Keeps the frame inside the picture, on whole pixels. */
  const clamp = () => {
    frame.side = Math.max(1, Math.min(short, Math.round(frame.side)));
    frame.x = Math.round(Math.min(Math.max(frame.x, 0), width - frame.side));
    frame.y = Math.round(Math.min(Math.max(frame.y, 0), height - frame.side));
  };
  clamp();

  return openDialog({
    title: 'Choose the square to keep',
    testid: 'crop-dialog',
    render(close) {
      const canvas = h('canvas', {
        class: 'crop-canvas',
        tabindex: 0,
        role: 'img',
        testid: 'crop-area',
        'aria-label': 'The picture and the frame to keep: the arrow keys move the frame',
      });
      canvas.width = Math.max(1, Math.round(width * scale));
      canvas.height = Math.max(1, Math.round(height * scale));
      const draw = () => {
        const g = canvas.getContext('2d');
        g.imageSmoothingEnabled = scale < 1;
        g.clearRect(0, 0, canvas.width, canvas.height);
        g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        const [x, y, side] = [frame.x * scale, frame.y * scale, frame.side * scale];
        g.fillStyle = 'rgba(0, 0, 0, 0.6)';
        g.beginPath();
        g.rect(0, 0, canvas.width, canvas.height);
        g.rect(x, y, side, side);
        g.fill('evenodd');
        g.strokeStyle = '#fff';
        g.lineWidth = 2;
        g.strokeRect(x + 1, y + 1, Math.max(side - 2, 0), Math.max(side - 2, 0));
      };
      const move = (dx, dy) => {
        frame.x += dx;
        frame.y += dy;
        clamp();
        draw();
      };

      canvas.addEventListener('keydown', (e) => {
        const step = Math.max(1, Math.round(frame.side / 20));
        const by = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
        if (!by) return;
        e.preventDefault();
        move(...by);
      });
      let dragged = null;
      canvas.addEventListener('pointerdown', (e) => {
        dragged = { x: e.clientX, y: e.clientY };
        canvas.setPointerCapture(e.pointerId);
      });
      canvas.addEventListener('pointermove', (e) => {
        if (!dragged) return;
        const [dx, dy] = [(e.clientX - dragged.x) / scale, (e.clientY - dragged.y) / scale];
        // Whole pixels only: the rest of the movement waits for the next event.
        if (Math.abs(dx) < 1 && Math.abs(dy) < 1) return;
        dragged = { x: e.clientX, y: e.clientY };
        move(dx, dy);
      });
      canvas.addEventListener('pointerup', () => (dragged = null));

      const zoom = h('input', { type: 'range', min: 1, max: MAX_ZOOM, step: 0.1, value: 1, testid: 'crop-zoom', 'aria-label': 'Zoom' });
      zoom.disabled = short < 2;
      zoom.addEventListener('input', () => {
        // Zooms about the frame's middle.
        const middle = [frame.x + frame.side / 2, frame.y + frame.side / 2];
        frame.side = short / Number(zoom.value);
        frame.x = middle[0] - frame.side / 2;
        frame.y = middle[1] - frame.side / 2;
        clamp();
        draw();
      });
      draw();

      return h(
        'div',
        { class: 'form' },
        h('div', { class: 'crop-view' }, canvas),
        h('label', { class: 'field' }, h('span', { text: 'Zoom' }), zoom),
        h(
          'div',
          { class: 'form-actions' },
          h('button', { type: 'button', class: 'button button-secondary', onClick: () => close(null) }, 'Cancel'),
          h('button', { type: 'button', class: 'button', testid: 'crop-apply', onClick: () => close({ ...frame }) }, 'Apply'),
        ),
      );
    },
  }).then((chosen) => chosen ?? null);
}
