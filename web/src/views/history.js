// What played in the room, newest first: each track with who added it, how
// far it got and why it ended (it finished, or was skipped by the
// administrator or by vote, removed, replaced or stopped). Paged: older
// rows on request.

import { get } from '../api.js';
import { clock, fill, h } from '../dom.js';
import { failed } from '../notify.js';

/** What each ending is called here. @type {Record<string, string>} */
const ENDINGS = {
  finished: 'played to the end',
  admin: 'skipped by the administrator',
  vote: 'skipped by vote',
  removed: 'removed while playing',
  replaced: 'replaced by another track',
  stopped: 'stopped',
};

/** @param {string} roomId */
export function historyPanel(roomId) {
  const list = h('ol', { class: 'plain history', 'aria-labelledby': 'history-title' });
  const older = h('button', { type: 'button', hidden: true }, 'Show older');
  const element = h('section', { class: 'card' }, h('h2', { id: 'history-title' }, 'Played'), list, older);
  /** @type {number | null} */
  let before = null;

  /** @param {any} row */
  const item = (row) =>
    h(
      'li',
      { 'data-ending': row.ending },
      h('span', { class: 'who' }, row.track_name.replace(/\.[a-z0-9]{2,4}$/i, '')),
      h(
        'span',
        { class: 'meta' },
        ` · added by ${row.added_by?.username ?? 'someone'} · ${ENDINGS[row.ending] ?? row.ending}` +
          (row.ending === 'finished' ? '' : ` at ${clock(row.played_ms)}`) +
          ` · ${new Date(row.ended_at).toLocaleTimeString()}`,
      ),
    );

  /** @param {boolean} more */
  async function load(more) {
    const answer = await get(`/rooms/${roomId}/history?limit=20${more && before ? `&before=${before}` : ''}`);
    /** @type {any[]} */
    const rows = answer.data ?? [];
    if (!more) fill(list, rows.length ? rows.map(item) : h('li', { class: 'muted' }, 'Nothing has played here yet.'));
    else list.append(...rows.map(item));
    before = answer.next_before ?? null;
    older.hidden = before === null;
  }
  older.addEventListener('click', () => load(true).catch(failed));

  let timer = 0;
  return {
    element,
    /** Reads the newest rows again, soon (a track just ended). */
    refresh() {
      clearTimeout(timer);
      timer = window.setTimeout(() => load(false).catch(() => {}), 200);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}
