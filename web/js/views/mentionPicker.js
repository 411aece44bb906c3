// `@` members and roles, `#` channels and `:` emoji suggested while typing
// in the composer; a pick puts the mention (`<@id>`, `<@&id>`, `<#id>`)
// or the emoji in the text.

import { h } from '../dom.js';
import { complete, rank, tokenAt } from '../autocomplete.js';
import { COMMON_EMOJI } from '../emoji.js';
import { displayName } from '../util.js';
import { mountListbox } from './listbox.js';

/** Who and what the token can name in this channel. */
function candidates(store, channelId, trigger) {
  const channel = store.state.channels.get(channelId);
  const guildId = channel?.guild_id;
  const guild = guildId ? store.state.guilds.get(guildId) : null;
  if (trigger === '@') {
    const people = guildId
      ? [...(store.state.members.get(guildId)?.keys() ?? [])].map((id) => [id, store.state.users.get(id), store.member(guildId, id)])
      : [...(channel?.recipients ?? []), store.state.me].filter(Boolean).map((u) => [u.id, u, null]);
    const users = people.map(([id, user, member]) => ({
      label: displayName(user, member),
      detail: user?.username ?? '',
      insert: `<@${id}>`,
      search: [user?.username, user?.global_name, member?.nick],
      key: `user-${id}`,
    }));
    const roles = [...(guild?.roles.values() ?? [])]
      .filter((r) => r.id !== guildId)
      .map((r) => ({ label: `@${r.name}`, detail: 'role', insert: `<@&${r.id}>`, search: [r.name], key: `role-${r.id}` }));
    const everyone = guildId ? [{ label: '@everyone', detail: 'everyone here', insert: '@everyone', search: ['everyone'], key: 'everyone' }] : [];
    return [...users, ...roles, ...everyone];
  }
  if (trigger === '#') {
    return (guildId ? store.guildChannels(guildId) : [])
      .filter((c) => c.type !== 4)
      .map((c) => ({ label: `#${c.name}`, detail: '', insert: `<#${c.id}>`, search: [c.name], key: `channel-${c.id}` }));
  }
  const custom = (guild?.emojis ?? []).map((e) => ({
    label: `:${e.name}:`, detail: guild.name, insert: `<${e.animated ? 'a' : ''}:${e.name}:${e.id}>`, search: [e.name], key: `emoji-${e.id}`,
  }));
  const common = COMMON_EMOJI.map(([emoji, name]) => ({
    label: `${emoji} :${name.replace(/ /g, '_')}:`, detail: '', insert: emoji, search: [name, name.replace(/ /g, '_')], key: `emoji-${name}`,
  }));
  return [...custom, ...common];
}

export function mountMentionPicker(ctx, { input, channelId, onChange }) {
  let token = null;
  const list = mountListbox({
    input,
    label: 'Suggestions',
    testid: 'mention-picker',
    optionTestid: 'mention-option',
    key: (c) => c.key,
    render: (c) => [h('span', { class: 'command-name', text: c.label }), h('span', { class: 'hint truncate', text: c.detail })],
    onPick(c) {
      if (!token) return;
      const done = complete(input.value, input.selectionStart, token, c.insert);
      input.value = done.text;
      input.setSelectionRange(done.caret, done.caret);
      token = null;
      onChange();
    },
  });

  return {
    el: list.el,
    handleKey: list.handleKey,
    close: list.close,
    update() {
      token = input.value.startsWith('/') ? null : tokenAt(input.value, input.selectionStart);
      if (!token) return list.close();
      const found = rank(candidates(ctx.store, channelId(), token.trigger), token.query);
      if (!found.length) return list.close();
      list.show(found);
    },
  };
}
