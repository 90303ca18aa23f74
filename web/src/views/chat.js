// The room's chat: the last messages (older ones on request), a line to
// write in, and reactions to what plays. New messages, deletions and
// reactions arrive over the socket; its author and the administrator may
// delete a message. The log is a live region, so a screen reader reads
// what others write as it comes.

import { del, get, post } from '../api.js';
import { fill, h } from '../dom.js';
import { failed } from '../notify.js';

/** The reactions the server takes (domain/chat.rs), with what they say. */
const REACTIONS = [
  ['👍', 'thumbs up'],
  ['❤️', 'love it'],
  ['🔥', 'fire'],
  ['😂', 'laughing'],
  ['👏', 'applause'],
  ['🎉', 'party'],
];

/**
 * @param {string} roomId
 * @param {string} me
 * @param {() => boolean} isAdmin
 */
export function chatPanel(roomId, me, isAdmin) {
  const log = h('ol', { class: 'plain chat-log', role: 'log', 'aria-live': 'polite', 'aria-labelledby': 'chat-title' });
  const older = h('button', { type: 'button', hidden: true }, 'Show older messages');
  const input = h('input', { id: 'chat-line', name: 'body', maxlength: 500, autocomplete: 'off', required: true });
  const form = h(
    'form',
    { class: 'chat-form' },
    h('label', { for: 'chat-line', class: 'sr-only' }, 'Message'),
    input,
    h('button', { type: 'submit' }, 'Send'),
  );
  const reactions = h(
    'div',
    { class: 'reactions', role: 'group', 'aria-label': 'React to what plays' },
    ...REACTIONS.map(([emoji, says]) =>
      h('button', { type: 'button', 'aria-label': `React: ${says}`, onclick: () => post(`/rooms/${roomId}/reactions`, { emoji }).catch(failed) }, emoji),
    ),
  );
  const element = h('section', { class: 'card chat' }, h('h2', { id: 'chat-title' }, 'Chat'), reactions, older, log, form);
  /** @type {number | null} */
  let before = null;

  /** @param {any} message */
  function line(message) {
    const mine = message.user_id === me;
    return h(
      'li',
      { 'data-message': String(message.id) },
      h('span', { class: 'who' }, mine ? `${message.username} (you)` : message.username),
      ': ',
      h('span', { class: 'body' }, message.body),
      mine || isAdmin()
        ? h(
            'button',
            {
              type: 'button',
              class: 'link',
              'aria-label': `Delete the message “${message.body.slice(0, 40)}”`,
              onclick: () => del(`/rooms/${roomId}/messages/${message.id}`).catch(failed),
            },
            '✕',
          )
        : null,
    );
  }

  /** @param {boolean} more older messages, below those shown */
  async function load(more) {
    const answer = await get(`/rooms/${roomId}/messages?limit=30${more && before ? `&before=${before}` : ''}`);
    /** @type {any[]} */
    const rows = (answer.data ?? []).slice().reverse();
    if (more) log.prepend(...rows.map(line));
    else fill(log, rows.map(line));
    before = answer.next_before ?? null;
    older.hidden = before === null;
  }
  older.addEventListener('click', () => load(true).catch(failed));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = /** @type {HTMLInputElement} */ (input).value.trim();
    if (!body) return;
    try {
      await post(`/rooms/${roomId}/messages`, { body });
      /** @type {HTMLInputElement} */ (input).value = '';
    } catch (error) {
      failed(error);
    }
  });

  return {
    element,
    refresh: () => load(false).catch(() => {}),
    /** A `chat_message` event. @param {any} message */
    received(message) {
      if (log.querySelector(`[data-message="${Number(message.id)}"]`)) return;
      log.append(line(message));
      while (log.children.length > 200) log.firstElementChild?.remove();
    },
    /** A `chat_deleted` event. @param {number} id */
    deleted(id) {
      log.querySelector(`[data-message="${Number(id)}"]`)?.remove();
    },
    /** A `reaction_sent` event. @param {any} data */
    reacted(data) {
      log.append(h('li', { class: 'reaction' }, h('span', { class: 'who' }, data.user?.username ?? 'Someone'), ` ${data.emoji}`));
      while (log.children.length > 200) log.firstElementChild?.remove();
    },
  };
}
