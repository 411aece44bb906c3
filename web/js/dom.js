// Building DOM without HTML strings: `h(tag, props, ...children)`.
// Strings become text nodes; props set properties, attributes
// (`aria-*`, `data-*`, `role`, ...), classes and event listeners (`onClick`).

import { icon, hasIcon } from './icons.js';
import { avatarHue, imagePath, initials } from './util.js';

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'testid') el.setAttribute('data-testid', value);
    else if (key in el && !key.includes('-') && key !== 'list' && key !== 'form') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An icon-only button with an accessible name. */
export function iconButton(label, glyph, onClick, props = {}) {
  const face = hasIcon(glyph) ? icon(glyph, props.size ?? 20) : h('span', { 'aria-hidden': 'true', text: glyph });
  const { size: _size, ...rest } = props;
  return h('button', { type: 'button', 'aria-label': label, title: label, onClick, ...rest, class: ['icon-button', props.class] }, face);
}

/**
 * A user's round avatar: their image if they uploaded one, else (and if
 * the image cannot be loaded) initials on a colour derived from their id.
 */
export function avatar(user, { size = 40, status = null } = {}) {
  const name = user?.global_name || user?.username || '?';
  const wrap = h('span', { class: 'avatar', 'aria-hidden': 'true' });
  wrap.style.setProperty('--size', `${size}px`);
  const face = h('span', { class: 'avatar-face', text: initials(name) });
  face.style.setProperty('--hue', String(avatarHue(user?.id)));
  wrap.appendChild(imageOr(imagePath('avatars', user?.id, user?.avatar, size * 2), face, 'avatar-image'));
  if (status) wrap.appendChild(h('span', { class: `status-dot status-${status}` }));
  return wrap;
}

/** An image at `src` that gives way to `fallback` if it fails to load (or `fallback` alone without one). */
export function imageOr(src, fallback, className) {
  if (!src) return fallback;
  const img = h('img', { class: className, src, alt: '', loading: 'lazy', decoding: 'async' });
  img.addEventListener('error', () => img.replaceWith(fallback), { once: true });
  return img;
}

/** Shows a short message at the bottom of the screen. */
export function toast(message, kind = 'info') {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(region);
  }
  const item = h('div', { class: `toast toast-${kind}`, testid: 'toast', text: message });
  region.appendChild(item);
  setTimeout(() => item.remove(), 5000);
}
