// Voice in the channel sidebar: the people in a voice channel, listed under
// it with a ring on whoever speaks, and, while connected, a panel with the
// channel, the microphone's level and mute, deafen, camera, screen share
// and leave.

import { h, avatar, toast } from '../dom.js';
import { displayName } from '../util.js';

/** Joins a voice channel, saying why not if it cannot. */
export async function joinVoice(ctx, channel) {
  try {
    await ctx.voice.join(channel);
  } catch (e) {
    toast(e.message, 'error');
  }
}

/** The people in a voice channel, for under its row. */
export function voiceParticipants(ctx, channel) {
  const { store, voice } = ctx;
  const states = voice.membersOf(channel.guild_id, channel.id);
  if (!states.length) return null;
  return h(
    'ul',
    { class: 'voice-participants', testid: 'voice-participants', 'aria-label': `In ${channel.name}` },
    states.map((s) => {
      const user = store.state.users.get(s.user_id) ?? s.member?.user ?? { id: s.user_id };
      const member = store.state.members.get(channel.guild_id)?.get(s.user_id) ?? s.member;
      const speaking = voice.isSpeaking(s.user_id);
      const muted = s.self_mute || s.mute;
      const deafened = s.self_deaf || s.deaf;
      const name = displayName(user, member);
      return h(
        'li',
        {
          class: ['voice-participant', speaking && 'speaking'],
          testid: 'voice-participant',
          'data-user-id': s.user_id,
          'data-speaking': String(speaking),
        },
        avatar(user, { size: 24 }),
        h('span', { class: 'truncate', text: name }),
        h('span', { class: 'visually-hidden', text: `${speaking ? ', speaking' : ''}${muted ? ', muted' : ''}${deafened ? ', deafened' : ''}` }),
        muted ? h('span', { class: 'voice-flag', 'aria-hidden': 'true', title: 'Muted', text: '🔇' }) : null,
        deafened ? h('span', { class: 'voice-flag', 'aria-hidden': 'true', title: 'Deafened', text: '🎧' }) : null,
        s.self_video ? h('span', { class: 'voice-flag', testid: 'voice-camera-on', title: 'Camera on', text: '📹' }) : null,
        s.self_stream ? h('span', { class: 'voice-flag live', testid: 'voice-live', title: 'Sharing the screen', text: 'LIVE' }) : null,
      );
    }),
  );
}

/** The connected panel, above the user panel; empty while not in voice. */
export function mountVoicePanel(ctx) {
  const { store, voice } = ctx;
  const el = h('section', { class: 'voice-panel', testid: 'voice-panel', 'aria-label': 'Voice connection' });
  const level = h('span', { class: 'voice-level-bar' });
  let frame = 0;

  const render = () => {
    const now = voice.current();
    el.hidden = !now;
    if (!now) {
      el.replaceChildren();
      return;
    }
    const channel = store.state.channels.get(now.channelId);
    const guild = store.state.guilds.get(now.guildId);
    const status = now.status === 'connected' ? 'Voice connected' : 'Connecting…';
    el.replaceChildren(
      h(
        'div',
        { class: 'voice-panel-info' },
        h('strong', { class: ['voice-status', now.status], testid: 'voice-status', 'data-status': now.status, text: status }),
        h('span', { class: 'truncate hint', text: `${channel?.name ?? ''}${guild ? ` / ${guild.name}` : ''}` }),
        h('span', { class: 'voice-level', role: 'meter', 'aria-label': 'Your input level', 'aria-valuemin': '0', 'aria-valuemax': '100' }, level),
      ),
      h(
        'div',
        { class: 'voice-panel-actions' },
        toggle('Mute', '🎙', now.muted, 'voice-mute', () => voice.setMuted(!now.muted)),
        toggle('Deafen', '🎧', now.deafened, 'voice-deafen', () => voice.setDeafened(!now.deafened)),
        toggle('Camera', '📹', now.camera, 'voice-camera', () => share(() => voice.setCamera(!now.camera), 'camera')),
        toggle('Share your screen', '🖥', now.screen, 'voice-screen', () => share(() => voice.setScreen(!now.screen), 'screen')),
        h('button', { type: 'button', class: 'icon-button danger', testid: 'voice-leave', 'aria-label': 'Leave voice', title: 'Leave voice', text: '✆', onClick: () => voice.leave() }),
      ),
    );
  };

  // The input level, drawn every frame while connected.
  const draw = () => {
    const value = Math.min(1, voice.inputLevel() * 8);
    level.style.width = `${Math.round(value * 100)}%`;
    level.parentElement?.setAttribute('aria-valuenow', String(Math.round(value * 100)));
    frame = requestAnimationFrame(draw);
  };
  frame = requestAnimationFrame(draw);

  const off = store.on('voice', render);
  render();
  return {
    el,
    destroy() {
      off();
      cancelAnimationFrame(frame);
    },
  };
}

/** Turns a camera or screen share on or off, saying why not if it cannot. */
async function share(run, what) {
  try {
    await run();
  } catch (e) {
    toast(`Could not share your ${what}: ${e.message}`, 'error');
  }
}

function toggle(label, glyph, pressed, testid, onClick) {
  return h('button', { type: 'button', class: ['icon-button', pressed && 'active'], testid, 'aria-label': label, title: label, 'aria-pressed': String(pressed), text: glyph, onClick });
}
