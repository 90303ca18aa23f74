// Moderation in the room page: beside each listener, what this user may do
// to them (the administrator makes moderators; moderators and the
// administrator mute for ten minutes and ban), and the room's moderation
// log for those who moderate. The server decides; these only ask.

import { del, get, put } from '../api.js';
import { fill, h } from '../dom.js';
import { failed, notify } from '../notify.js';

/** Words for the log's actions. @type {Record<string, string>} */
const DONE = {
  moderator_added: 'made a moderator:',
  moderator_removed: 'took moderation from',
  muted: 'muted',
  unmuted: 'unmuted',
  banned: 'banned',
  unbanned: 'let back in',
  track_removed: 'removed the track',
  message_deleted: 'deleted',
};

/**
 * The buttons for participant `p`, or null when there are none.
 * @param {string} roomId
 * @param {any} p
 * @param {{ me: string, admin: boolean, moderator: boolean, done: () => void }} who
 */
export function moderationTools(roomId, p, who) {
  if (p.user_id === who.me || p.is_administrator || !who.moderator) return null;
  const name = p.username;
  /** The visible label starts the name a screen reader says (WCAG 2.5.3). @param {string} label @param {string} aria @param {() => Promise<unknown>} act */
  const button = (label, aria, act) =>
    h('button', { type: 'button', class: 'link', 'aria-label': aria, onclick: () => act().then(who.done, failed) }, label);
  const tools = [];
  if (who.admin) {
    tools.push(
      p.is_moderator
        ? button('Remove moderator', `Remove moderator: ${name}`, () => del(`/rooms/${roomId}/moderators/${p.user_id}`))
        : button('Make moderator', `Make moderator: ${name}`, () => put(`/rooms/${roomId}/moderators/${p.user_id}`, {})),
    );
  }
  if (who.admin || !p.is_moderator) {
    tools.push(
      p.muted_until
        ? button('Unmute', `Unmute ${name}`, () => del(`/rooms/${roomId}/mutes/${p.user_id}`))
        : button('Mute', `Mute ${name} for 10 minutes`, () => put(`/rooms/${roomId}/mutes/${p.user_id}`, { minutes: 10 })),
      button('Ban', `Ban ${name} from the room`, async () => {
        if (!confirm(`Ban ${name}? They leave the room at once and cannot come back until a moderator lets them.`)) return;
        await put(`/rooms/${roomId}/bans/${p.user_id}`, {});
        notify(`${name} was banned.`);
      }),
    );
  }
  return h('span', { class: 'mod-tools' }, ...tools);
}

/** The moderation log, read when opened. @param {string} roomId */
export function moderationPanel(roomId) {
  const list = h('ol', { class: 'plain mod-log' });
  const element = h('details', { class: 'card', hidden: true }, h('summary', {}, 'Moderation log'), list);
  element.addEventListener('toggle', async () => {
    if (!(/** @type {HTMLDetailsElement} */ (element).open)) return;
    try {
      /** @type {any[]} */
      const rows = (await get(`/rooms/${roomId}/moderation-log?limit=50`)).data ?? [];
      fill(
        list,
        rows.length
          ? rows.map((e) =>
              h('li', {}, `${new Date(e.created_at).toLocaleTimeString()} · ${e.actor_name} ${DONE[e.action] ?? e.action} ${e.target_name}`),
            )
          : h('li', { class: 'muted' }, 'Nothing yet.'),
      );
    } catch (error) {
      failed(error);
    }
  });
  return { element };
}
