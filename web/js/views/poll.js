// A message's poll: its question, answers as buttons with their counts
// and shares, the time left or the final results; clicking an answer
// votes (again to take the vote back); its author may end it early. And
// the dialog that composes a new poll.

import { h, toast } from '../dom.js';
import { nextVotes, pollEnded, pollTally, timeLeft } from '../polls.js';
import { openDialog } from './dialog.js';

const MAX_ANSWERS = 10;
const DURATIONS = [[1, '1 hour'], [4, '4 hours'], [8, '8 hours'], [24, '24 hours'], [72, '3 days'], [168, '1 week']];

export function renderPoll(ctx, m) {
  const { poll } = m;
  const ended = pollEnded(poll);
  const tally = pollTally(poll);
  const mine = tally.answers.filter((a) => a.mine).map((a) => a.id);
  const voted = mine.length > 0;
  const list = h('div', { class: 'poll-answers', role: 'group', 'aria-label': 'Answers' });
  for (const a of tally.answers) {
    const showCounts = voted || ended;
    const bar = h('span', { class: 'poll-bar', 'aria-hidden': 'true' });
    bar.style.width = showCounts ? `${a.percent}%` : '0';
    list.appendChild(
      h('button', {
        type: 'button',
        class: ['poll-answer', a.mine && 'mine', ended && a.winner && 'winner'],
        testid: 'poll-answer',
        'data-answer-id': String(a.id),
        'data-count': String(a.count),
        'aria-pressed': String(a.mine),
        disabled: ended || m.pending,
        onClick: () => ctx.actions.votePoll(m.channel_id, m.id, nextVotes(poll, mine, a.id)).catch((e) => toast(e.message, 'error')),
      },
      bar,
      a.emoji?.name ? h('span', { class: 'poll-emoji', text: a.emoji.id ? `:${a.emoji.name}:` : a.emoji.name }) : null,
      h('span', { class: 'poll-text', text: a.text }),
      showCounts ? h('span', { class: 'poll-count', testid: 'poll-count', text: `${a.count} · ${a.percent}%` }) : null,
      a.mine ? h('span', { class: 'visually-hidden', text: ', your vote' }) : null,
      ),
    );
  }
  const status = ended
    ? `Poll ended · ${tally.total} vote${tally.total === 1 ? '' : 's'}`
    : `${tally.total} vote${tally.total === 1 ? '' : 's'}${poll.expiry ? ` · ${timeLeft(poll.expiry)}` : ''}${poll.allow_multiselect ? ' · Select one or more' : ''}`;
  const footer = h('footer', { class: 'poll-footer' }, h('span', { class: 'hint', testid: 'poll-status', text: status }));
  if (!ended && m.author?.id === ctx.store.state.me?.id) {
    footer.appendChild(
      h('button', {
        type: 'button',
        class: 'link-button',
        testid: 'poll-end',
        onClick: () => ctx.actions.endPoll(m.channel_id, m.id).catch((e) => toast(e.message, 'error')),
      }, 'End poll'),
    );
  }
  return h('section', { class: ['poll', ended && 'ended'], testid: 'poll', 'aria-label': `Poll: ${poll.question?.text ?? ''}` },
    h('h3', { class: 'poll-question', testid: 'poll-question', text: poll.question?.text ?? '' }),
    list,
    footer,
  );
}

/** The dialog that composes a poll and sends it to the channel. */
export function openPollComposer(ctx, channelId) {
  return openDialog({
    title: 'Create a poll',
    testid: 'poll-dialog',
    render(close) {
      const question = h('input', { type: 'text', maxLength: 300, required: true, autofocus: true, testid: 'poll-question-input', 'aria-label': 'Question' });
      const answers = h('div', { class: 'poll-inputs' });
      const addAnswer = () => {
        if (answers.children.length >= MAX_ANSWERS) return;
        const n = answers.children.length + 1;
        answers.appendChild(h('input', { type: 'text', maxLength: 55, testid: 'poll-answer-input', 'aria-label': `Answer ${n}`, placeholder: `Answer ${n}` }));
      };
      addAnswer();
      addAnswer();
      const duration = h('select', { testid: 'poll-duration', 'aria-label': 'Duration' },
        ...DURATIONS.map(([hours, text]) => h('option', { value: String(hours), text, selected: hours === 24 })));
      const multi = h('input', { type: 'checkbox', testid: 'poll-multiselect' });
      const error = h('p', { class: 'form-error', role: 'alert' });
      return h('form', {
        class: 'form',
        async onSubmit(e) {
          e.preventDefault();
          const texts = [...answers.querySelectorAll('input')].map((i) => i.value.trim()).filter(Boolean);
          if (!question.value.trim() || texts.length < 1) {
            error.textContent = 'A poll needs a question and at least one answer.';
            return;
          }
          try {
            await ctx.actions.createPoll(channelId, { question: question.value.trim(), answers: texts, hours: Number(duration.value), multiselect: multi.checked });
            close(true);
          } catch (err) {
            error.textContent = err.message;
          }
        },
      },
      h('label', { class: 'field' }, h('span', { text: 'Question' }), question),
      h('fieldset', { class: 'field' }, h('legend', { text: 'Answers' }), answers,
        h('button', { type: 'button', class: 'button button-secondary button-small', testid: 'poll-add-answer', onClick: addAnswer }, 'Add an answer')),
      h('label', { class: 'field' }, h('span', { text: 'Duration' }), duration),
      h('label', { class: 'field field-inline' }, multi, h('span', { text: 'Allow several answers' })),
      error,
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'button button-secondary', onClick: () => close(null) }, 'Cancel'),
        h('button', { type: 'submit', class: 'button', testid: 'poll-submit' }, 'Post poll')),
      );
    },
  });
}
