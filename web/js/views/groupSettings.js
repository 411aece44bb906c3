// A group DM's settings: its name and its icon, which any of its members
// may change (as on Discord), and how the icon is drawn in the DM list.

import { h, imageOr, toast } from '../dom.js';
import { icon } from '../icons.js';
import { imagePath } from '../util.js';
import { actionForm, openDialog } from './dialog.js';
import { imageField } from './imageUpload.js';

/** A group DM's icon: its image if it has one, else the group glyph. */
export function groupIcon(channel, size) {
  const glyph = h('span', { class: 'channel-glyph' }, icon('group', 20));
  const image = imageOr(imagePath('channel-icons', channel?.id, channel?.icon, size * 2), glyph, 'group-icon-image');
  if (image === glyph) return glyph;
  const wrap = h('span', { class: 'group-icon', 'aria-hidden': 'true' }, image);
  wrap.style.setProperty('--size', `${size}px`);
  return wrap;
}

export function openGroupSettings(ctx, channelId) {
  const { api, store } = ctx;
  const current = () => store.state.channels.get(channelId);
  const apply = (updated) => store.applyDispatch('CHANNEL_UPDATE', updated);
  return openDialog({
    title: 'Group settings',
    testid: 'group-settings',
    render() {
      const name = h('input', { type: 'text', value: current()?.name ?? '', maxLength: 100, testid: 'group-name', placeholder: 'The members’ names' });
      return h('div', {},
        imageField({
          label: 'Icon',
          testid: 'group-icon',
          preview: () => groupIcon(current(), 64),
          save: async (value) => apply(await api.patchChannel(channelId, { icon: value })),
        }),
        actionForm(
          async () => {
            // An empty name goes back to the members' names.
            apply(await api.patchChannel(channelId, { name: name.value.trim() || null }));
            toast('Group renamed.');
          },
          h('label', { class: 'field' }, h('span', { text: 'Name' }), name),
          h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button button-small', testid: 'save-group-name' }, 'Save'))));
    },
  });
}
