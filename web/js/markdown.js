// Discord's markdown subset, parsed into a plain tree and then into DOM
// nodes. User text only ever becomes text nodes: no HTML is parsed, and a
// link is made only for an http(s) URL. The module touches no globals, so
// it runs unchanged under `node --test`.
//
// Tree nodes:
//   { type: 'text', text }
//   { type: 'bold' | 'italic' | 'underline' | 'strike' | 'spoiler' | 'quote', children }
//   { type: 'code', text }                 inline code
//   { type: 'codeblock', lang, text }
//   { type: 'link', href, children }       href is always http: or https:
//   { type: 'mention', kind: 'user' | 'role' | 'channel' | 'everyone', id?, text }
//   { type: 'emoji', id, name, animated }  a custom emoji

/** The URL if it is an absolute http(s) URL, else null. */
export function safeUrl(raw) {
  if (typeof raw !== 'string') return null;
  const trimmed = raw.trim();
  // URL() accepts leading control characters and tabs inside the scheme,
  // which some browsers strip; insist on a literal http(s) prefix first.
  if (!/^https?:\/\//i.test(trimmed)) return null;
  let url;
  try {
    url = new URL(trimmed);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url.href;
}

// Inline rules, tried in order at each position. Each has a sticky regex
// and a builder; `parse` recurses into the captured content.
const INLINE_RULES = [
  {
    // A backslash escapes one punctuation character.
    re: /\\([^A-Za-z0-9\s])/y,
    build: (m) => text(m[1]),
  },
  {
    re: /(`+)([\s\S]*?[^`])\1(?!`)/y,
    build: (m) => ({ type: 'code', text: m[2].replace(/^ (.*) $/s, '$1') }),
  },
  {
    re: /\|\|([\s\S]+?)\|\|/y,
    build: (m, inner) => ({ type: 'spoiler', children: inner(m[1]) }),
  },
  {
    re: /\*\*([\s\S]+?)\*\*(?!\*)/y,
    build: (m, inner) => ({ type: 'bold', children: inner(m[1]) }),
  },
  {
    re: /__([\s\S]+?)__(?!_)/y,
    build: (m, inner) => ({ type: 'underline', children: inner(m[1]) }),
  },
  {
    re: /\*(?=\S)([\s\S]*?\S)\*(?!\*)/y,
    build: (m, inner) => ({ type: 'italic', children: inner(m[1]) }),
  },
  {
    // `_x_` only between word boundaries, so snake_case_names stay text.
    re: /_(?=\S)([\s\S]*?\S)_(?![A-Za-z0-9_])/y,
    build: (m, inner) => ({ type: 'italic', children: inner(m[1]) }),
    atWordStart: true,
  },
  {
    re: /~~([\s\S]+?)~~/y,
    build: (m, inner) => ({ type: 'strike', children: inner(m[1]) }),
  },
  {
    // [label](url): a link only for http(s); anything else stays literal text.
    re: /\[([^\[\]\n]+)\]\(\s*<?([^()\s<>]+)>?\s*\)/y,
    build: (m, inner, opts) => {
      const href = safeUrl(m[2]);
      if (!href || opts.inLink) return text(m[0]);
      return { type: 'link', href, children: inner(m[1], { inLink: true }) };
    },
  },
  {
    re: /<(https?:\/\/[^\s>]+)>/y,
    build: (m, inner, opts) => autolink(m[1], opts),
  },
  {
    re: /https?:\/\/[^\s<]*[^\s<.,:;"')\]!?*_~|]/y,
    build: (m, inner, opts) => autolink(m[0], opts),
  },
  {
    re: /<@!?(\d{1,20})>/y,
    build: (m) => ({ type: 'mention', kind: 'user', id: m[1], text: m[0] }),
  },
  {
    re: /<@&(\d{1,20})>/y,
    build: (m) => ({ type: 'mention', kind: 'role', id: m[1], text: m[0] }),
  },
  {
    re: /<#(\d{1,20})>/y,
    build: (m) => ({ type: 'mention', kind: 'channel', id: m[1], text: m[0] }),
  },
  {
    re: /@(everyone|here)\b/y,
    build: (m) => ({ type: 'mention', kind: 'everyone', text: m[0] }),
  },
  {
    re: /<(a?):([A-Za-z0-9_]{2,32}):(\d{1,20})>/y,
    build: (m) => ({ type: 'emoji', animated: m[1] === 'a', name: m[2], id: m[3] }),
  },
];

// Characters at which some rule may start; plain text runs up to the next one.
const SPECIAL = /[\\`|*_~\[<@h]/g;

function text(value) {
  return { type: 'text', text: value };
}

function autolink(raw, opts) {
  const href = safeUrl(raw);
  if (!href || opts.inLink) return text(raw);
  return { type: 'link', href, children: [text(raw)] };
}

/** Inline markdown (no block quotes or code blocks) into tree nodes. */
export function parseInline(source, opts = {}, depth = 0) {
  const out = [];
  const inner = (s, extra = {}) =>
    depth > 20 ? [text(s)] : parseInline(s, { ...opts, ...extra }, depth + 1);
  let pos = 0;
  let plainStart = 0;
  const flushPlain = (end) => {
    if (end > plainStart) pushText(out, source.slice(plainStart, end));
  };
  while (pos < source.length) {
    let matched = null;
    for (const rule of INLINE_RULES) {
      if (rule.atWordStart && pos > 0 && /[A-Za-z0-9]/.test(source[pos - 1])) continue;
      rule.re.lastIndex = pos;
      const m = rule.re.exec(source);
      if (m) {
        matched = { rule, m };
        break;
      }
    }
    if (matched) {
      flushPlain(pos);
      const node = matched.rule.build(matched.m, inner, opts);
      if (node.type === 'text') pushText(out, node.text);
      else out.push(node);
      pos += matched.m[0].length;
      plainStart = pos;
      continue;
    }
    // Skip to the next character a rule could start at.
    SPECIAL.lastIndex = pos + 1;
    const next = SPECIAL.exec(source);
    pos = next ? next.index : source.length;
  }
  flushPlain(source.length);
  return out;
}

function pushText(out, value) {
  const last = out[out.length - 1];
  if (last && last.type === 'text') last.text += value;
  else out.push(text(value));
}

/** A whole message into tree nodes: code blocks, quotes, then inline. */
export function parse(source) {
  const out = [];
  const fence = /```(?:([A-Za-z0-9_+#.-]{1,20})\n)?\n?([\s\S]*?)\n?```/g;
  let last = 0;
  for (let m = fence.exec(source); m; m = fence.exec(source)) {
    if (!m[2] && !m[1]) continue;
    // A block stands on its own lines: the line breaks around it are not text.
    out.push(...parseQuotes(source.slice(last, m.index).replace(/\n$/, '')));
    out.push({ type: 'codeblock', lang: m[1] || '', text: m[2] });
    last = m.index + m[0].length;
    if (source[last] === '\n') last += 1;
  }
  out.push(...parseQuotes(source.slice(last)));
  return out;
}

// `> ` quotes one line, `>>> ` quotes everything after it.
function parseQuotes(source) {
  if (!source) return [];
  const out = [];
  const lines = source.split('\n');
  let plain = [];
  let quoted = [];
  const flushPlain = () => {
    if (plain.length) out.push(...parseInline(plain.join('\n')));
    plain = [];
  };
  const flushQuote = () => {
    if (quoted.length) out.push({ type: 'quote', children: parseInline(quoted.join('\n')) });
    quoted = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('>>> ')) {
      flushPlain();
      quoted.push(line.slice(4), ...lines.slice(i + 1));
      break;
    }
    if (line.startsWith('> ') || line === '>') {
      // The line break before a quote belongs to the quote's box.
      flushPlain();
      quoted.push(line.slice(2));
    } else {
      flushQuote();
      plain.push(line);
    }
  }
  flushQuote();
  flushPlain();
  return out;
}

/** The plain text of a tree (for previews and notifications). */
export function plainText(nodes) {
  let s = '';
  for (const node of nodes) {
    if (node.children) s += plainText(node.children);
    else if (node.type === 'emoji') s += `:${node.name}:`;
    else s += node.text ?? '';
  }
  return s;
}

/**
 * DOM nodes for a tree, built with `doc` (a Document or anything with
 * createElement/createTextNode/createDocumentFragment). `resolve` names
 * mentions: { user(id), role(id), channel(id), isMe(node) } may each be
 * absent. Only textContent, known tag names and attributes set here are
 * used.
 */
export function toDom(nodes, doc, resolve = {}) {
  const fragment = doc.createDocumentFragment();
  for (const node of nodes) fragment.appendChild(nodeToDom(node, doc, resolve));
  return fragment;
}

const WRAPPERS = { bold: 'strong', italic: 'em', underline: 'u', strike: 's' };

function nodeToDom(node, doc, resolve) {
  const el = (tag, className) => {
    const e = doc.createElement(tag);
    if (className) e.className = className;
    return e;
  };
  const withChildren = (e) => {
    for (const child of node.children) e.appendChild(nodeToDom(child, doc, resolve));
    return e;
  };
  switch (node.type) {
    case 'text':
      return doc.createTextNode(node.text);
    case 'bold':
    case 'italic':
    case 'underline':
    case 'strike':
      return withChildren(el(WRAPPERS[node.type]));
    case 'spoiler': {
      const e = withChildren(el('span', 'md-spoiler'));
      e.setAttribute('role', 'button');
      e.setAttribute('tabindex', '0');
      e.setAttribute('aria-label', 'Spoiler, activate to reveal');
      e.setAttribute('data-testid', 'spoiler');
      return e;
    }
    case 'quote':
      return withChildren(el('blockquote', 'md-quote'));
    case 'code': {
      const e = el('code', 'md-code');
      e.textContent = node.text;
      return e;
    }
    case 'codeblock': {
      const pre = el('pre', 'md-codeblock');
      const code = el('code');
      if (node.lang) code.setAttribute('data-lang', node.lang);
      code.textContent = node.text;
      pre.appendChild(code);
      return pre;
    }
    case 'link': {
      // Checked again here: a tree could come from elsewhere.
      const href = safeUrl(node.href);
      if (!href) return doc.createTextNode(plainText(node.children));
      const a = withChildren(el('a', 'md-link'));
      a.setAttribute('href', href);
      a.setAttribute('target', '_blank');
      a.setAttribute('rel', 'noopener noreferrer nofollow');
      return a;
    }
    case 'mention': {
      const e = el('span', 'md-mention');
      let label = node.text;
      if (node.kind === 'user' && resolve.user) label = '@' + (resolve.user(node.id) ?? 'unknown-user');
      if (node.kind === 'role' && resolve.role) label = '@' + (resolve.role(node.id) ?? 'deleted-role');
      if (node.kind === 'channel' && resolve.channel) label = '#' + (resolve.channel(node.id) ?? 'unknown');
      e.textContent = label;
      if (resolve.isMe && resolve.isMe(node)) e.className += ' md-mention-me';
      e.setAttribute('data-mention', node.kind);
      return e;
    }
    case 'emoji': {
      const e = el('span', 'md-emoji');
      e.textContent = `:${node.name}:`;
      e.setAttribute('title', `:${node.name}:`);
      return e;
    }
    default:
      return doc.createTextNode('');
  }
}
