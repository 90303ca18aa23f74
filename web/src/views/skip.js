// Vote to skip: any listener present may vote to skip what plays; it is
// skipped when enough of those present have (the server counts, the
// threshold grows slower than the room: docs/room-life.md). The button
// says how many votes there are and how many skip, and whether this
// listener's is among them (`aria-pressed`).

import { call, get } from '../api.js';
import { fill, h } from '../dom.js';
import { failed } from '../notify.js';

/**
 * @typedef {{ track_id: string | null, votes: number, needed: number, present: number,
 *   enabled: boolean, voters: string[], voted?: boolean }} Tally
 */

/**
 * @param {string} roomId
 * @param {string} me
 */
export function skipVote(roomId, me) {
  /** @type {Tally | null} */
  let tally = null;
  const button = h('button', { type: 'button', class: 'skip-vote', 'aria-describedby': 'skip-vote-count' });
  const count = h('span', { class: 'muted', id: 'skip-vote-count', 'aria-live': 'polite' });
  const element = h('div', { class: 'skip-vote-row', hidden: true }, button, ' ', count);

  function show() {
    const track = tally?.track_id;
    element.hidden = !tally || !tally.enabled || !track;
    if (!tally || element.hidden) return;
    const voted = Boolean(tally.voted);
    button.setAttribute('aria-pressed', String(voted));
    fill(button, voted ? '✓ Voted to skip' : '⏭ Vote to skip');
    const left = Math.max(0, tally.needed - tally.votes);
    count.textContent =
      `${tally.votes} of ${tally.needed} ${tally.needed === 1 ? 'vote' : 'votes'} to skip` +
      (left && tally.votes ? ` · ${left} more skip${left === 1 ? 's' : ''} it` : '');
  }

  button.addEventListener('click', async () => {
    if (!tally?.track_id) return;
    button.setAttribute('aria-busy', 'true');
    try {
      const answer = await call(tally.voted ? 'DELETE' : 'POST', `/rooms/${roomId}/skip-votes`, tally.voted ? {} : { json: { track_id: tally.track_id } });
      tally = answer;
      show();
    } catch (error) {
      failed(error);
      refresh();
    } finally {
      button.removeAttribute('aria-busy');
    }
  });

  let timer = 0;
  /** Asks the server again soon (the track or the listeners changed). */
  function refresh() {
    clearTimeout(timer);
    timer = window.setTimeout(async () => {
      try {
        tally = await get(`/rooms/${roomId}/skip-votes`);
        show();
      } catch {
        // A member-only read failing (left the room, a restart) hides nothing useful.
      }
    }, 150);
  }

  return {
    element,
    refresh,
    /** A `skip_voted` event: the room's tally; this listener's vote is among its voters or not. @param {any} data */
    counted(data) {
      const voters = Array.isArray(data.voters) ? data.voters : [];
      // A tally names its first hundred voters: past them, this listener's
      // own vote is what it last knew.
      const voted = voters.includes(me) || (data.votes > voters.length && Boolean(tally?.voted));
      tally = { ...data, voted };
      show();
    },
    stop() {
      clearTimeout(timer);
    },
  };
}
