// Unit tests of the web client's markdown parser: `node --test tests/web/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parse, parseInline, plainText, safeUrl, toDom } from '../../web/js/markdown.js';

// A minimal document: records every element and refuses HTML parsing, so a
// test fails if the renderer ever reaches for innerHTML.
function fakeDocument() {
  const created = [];
  class Node {
    constructor(tag) {
      this.tagName = tag;
      this.children = [];
      this.attributes = {};
      this.className = '';
      this._text = '';
    }
    appendChild(child) {
      this.children.push(child);
      return child;
    }
    setAttribute(name, value) {
      if (/^on/i.test(name)) throw new Error(`event handler attribute ${name}`);
      this.attributes[name] = String(value);
    }
    set textContent(value) {
      this.children = [];
      this._text = String(value);
    }
    get textContent() {
      return this._text + this.children.map((c) => c.textContent).join('');
    }
    set innerHTML(_) {
      throw new Error('innerHTML used');
    }
  }
  class Text {
    constructor(value) {
      this.textContent = value;
    }
  }
  return {
    created,
    createElement(tag) {
      const n = new Node(tag);
      created.push(n);
      return n;
    },
    createTextNode: (value) => new Text(value),
    createDocumentFragment: () => new Node('#fragment'),
  };
}

function only(nodes) {
  assert.equal(nodes.length, 1, JSON.stringify(nodes));
  return nodes[0];
}

test('plain text stays one text node', () => {
  assert.deepEqual(parse('hello world'), [{ type: 'text', text: 'hello world' }]);
});

test('HTML stays text', () => {
  const source = '<img src=x onerror=alert(1)>';
  const nodes = parse(source);
  assert.equal(plainText(nodes), source);
  assert.ok(nodes.every((n) => n.type === 'text'), JSON.stringify(nodes));
  const doc = fakeDocument();
  const fragment = toDom(nodes, doc);
  assert.equal(fragment.textContent, source);
  assert.deepEqual(
    doc.created.map((e) => e.tagName).filter((t) => t !== '#fragment'),
    [],
    'no element is created for HTML in a message',
  );
});

test('HTML inside formatting stays text', () => {
  const nodes = parse('**<script>alert(1)</script>**');
  const bold = only(nodes);
  assert.equal(bold.type, 'bold');
  assert.deepEqual(bold.children, [{ type: 'text', text: '<script>alert(1)</script>' }]);
});

test('a javascript: masked link makes no link', () => {
  for (const source of [
    '[x](javascript:alert(1))',
    '[click](javascript:window.__xss=2)',
    '[x](JaVaScRiPt:alert(1))',
    '[x]( javascript:alert(1) )',
    '[x](data:text/html,<b>x</b>)',
    '[x](vbscript:msgbox)',
    '[x](//evil.example/)',
  ]) {
    const nodes = parse(source);
    const walk = (list) => list.some((n) => n.type === 'link' || (n.children && walk(n.children)));
    assert.ok(!walk(nodes), `${source} -> ${JSON.stringify(nodes)}`);
    const doc = fakeDocument();
    toDom(nodes, doc);
    assert.ok(!doc.created.some((e) => e.tagName === 'a'), source);
  }
});

test('an http(s) masked link is a link', () => {
  const link = only(parse('[docs](https://example.com/a?b=1)'));
  assert.equal(link.type, 'link');
  assert.equal(link.href, 'https://example.com/a?b=1');
  assert.deepEqual(link.children, [{ type: 'text', text: 'docs' }]);
  const doc = fakeDocument();
  toDom([link], doc);
  const a = doc.created.find((e) => e.tagName === 'a');
  assert.equal(a.attributes.href, 'https://example.com/a?b=1');
  assert.match(a.attributes.rel, /noopener/);
});

test('bare URLs are linked without trailing punctuation', () => {
  const nodes = parse('see https://example.com/x. ok');
  assert.equal(nodes[1].type, 'link');
  assert.equal(nodes[1].href, 'https://example.com/x');
  assert.equal(nodes[2].text, '. ok');
});

test('safeUrl accepts only http and https', () => {
  assert.equal(safeUrl('http://a.b/'), 'http://a.b/');
  assert.equal(safeUrl('https://a.b/c'), 'https://a.b/c');
  for (const bad of ['javascript:alert(1)', ' javascript:x', 'java\tscript:x', 'ftp://a', 'mailto:a@b', '/relative', '']) {
    assert.equal(safeUrl(bad), null, bad);
  }
});

test('bold, italics, underline, strike, spoiler, code', () => {
  const nodes = parse('**b** *i* _j_ __u__ ~~s~~ ||sp|| `c`');
  const types = nodes.filter((n) => n.type !== 'text').map((n) => n.type);
  assert.deepEqual(types, ['bold', 'italic', 'italic', 'underline', 'strike', 'spoiler', 'code']);
  assert.equal(nodes.find((n) => n.type === 'code').text, 'c');
});

test('nested formatting', () => {
  const bold = only(parse('**bold *and italic***'));
  assert.equal(bold.type, 'bold');
  assert.equal(bold.children[1].type, 'italic');
});

test('snake_case words stay text', () => {
  assert.deepEqual(parse('a_long_name here'), [{ type: 'text', text: 'a_long_name here' }]);
});

test('inline code keeps markdown and HTML literal', () => {
  const code = only(parseInline('`**not bold** <b>`'));
  assert.deepEqual(code, { type: 'code', text: '**not bold** <b>' });
});

test('code blocks keep their content verbatim', () => {
  const nodes = parse('before\n```js\nconst a = "<b>**x**</b>";\n```\nafter');
  const block = nodes.find((n) => n.type === 'codeblock');
  assert.equal(block.lang, 'js');
  assert.equal(block.text, 'const a = "<b>**x**</b>";');
  // The line breaks around a block belong to it, not to the text.
  assert.deepEqual(nodes.map((n) => n.type === 'codeblock' ? 'BLOCK' : n.text), ['before', 'BLOCK', 'after']);
});

test('quotes', () => {
  const nodes = parse('> quoted **line**\nplain');
  assert.equal(nodes[0].type, 'quote');
  assert.equal(nodes[0].children[1].type, 'bold');
  assert.equal(plainText(nodes.slice(1)), 'plain');
  const rest = parse('intro\n>>> all\nof this');
  assert.equal(rest[1].type, 'quote');
  assert.equal(plainText(rest[1].children), 'all\nof this');
});

test('mentions', () => {
  const nodes = parse('hi <@123> and <@!45> in <#67> for <@&89> @everyone');
  const mentions = nodes.filter((n) => n.type === 'mention').map((n) => [n.kind, n.id]);
  assert.deepEqual(mentions, [
    ['user', '123'],
    ['user', '45'],
    ['channel', '67'],
    ['role', '89'],
    ['everyone', undefined],
  ]);
  const doc = fakeDocument();
  const fragment = toDom(nodes, doc, {
    user: (id) => (id === '123' ? 'alice' : null),
    isMe: (n) => n.kind === 'user' && n.id === '123',
  });
  const spans = doc.created.filter((e) => e.attributes['data-mention'] === 'user');
  assert.equal(spans[0].textContent, '@alice');
  assert.match(spans[0].className, /md-mention-me/);
  assert.equal(spans[1].textContent, '@unknown-user');
  assert.ok(fragment.textContent.includes('@alice'));
});

test('escapes', () => {
  assert.deepEqual(parse('\\*not italic\\*'), [{ type: 'text', text: '*not italic*' }]);
});

test('custom emoji become names, not images', () => {
  const nodes = parse('<:blob:123456>');
  assert.deepEqual(only(nodes), { type: 'emoji', animated: false, name: 'blob', id: '123456' });
  const doc = fakeDocument();
  toDom(nodes, doc);
  assert.ok(!doc.created.some((e) => e.tagName === 'img'));
});

test('unclosed markers stay text', () => {
  assert.equal(plainText(parse('**open and `tick and ||bar')), '**open and `tick and ||bar');
});

test('deep nesting does not blow the stack', () => {
  const source = '**'.repeat(200) + 'x' + '**'.repeat(200);
  assert.ok(plainText(parse(source)).includes('x'));
});
