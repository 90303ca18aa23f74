// A room's queue as the server orders it: each track with its cover,
// uploader, genre, length and score; vote and unvote; and for whoever may,
// play (the administrator), remove (the administrator, a moderator or
// the uploader)
// and add to a playlist.

import { clock, fill, h, title } from '../dom.js';

/**
 * @typedef {{
 *   admin: boolean,
 *   moderator?: boolean,
 *   me: string,
 *   currentId: string | null,
 *   vote: (track: any) => void,
 *   play: (track: any) => void,
 *   remove: (track: any) => void,
 *   save: (track: any) => void,
 *   votersOpen: Set<string>,
 *   showVoters: (track: any, list: HTMLElement) => void,
 * }} QueueActions
 */

/** @param {any} genre */
export function genreBadge(genre) {
  if (!genre) return null;
  const color = /^#[0-9a-f]{3,8}$/i.test(genre.color ?? '') ? genre.color : '#888888';
  const badge = h('span', { class: 'genre' }, genre.name);
  // A style property, not a style attribute: the policy allows no inline styles.
  badge.style.setProperty('--genre', color);
  return badge;
}

/**
 * The score, opening on who voted: a button that says whether its list is
 * open (`aria-expanded`), so a keyboard and a screen reader use it like a
 * pointer. It stays open across the queue's redraws.
 * @param {any} track
 * @param {QueueActions} actions
 */
function score(track, actions) {
  const listId = `voters-${track.id}`;
  const voters = h('ul', { class: 'voters', id: listId });
  const votes = Number(track.vote_score) === 1 ? 'vote' : 'votes';
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'score-button',
      'aria-controls': listId,
      'aria-label': `${track.vote_score} ${votes}: who voted`,
    },
    String(track.vote_score),
  );
  const show = (/** @type {boolean} */ open) => {
    toggle.setAttribute('aria-expanded', String(open));
    voters.hidden = !open;
    if (open) actions.showVoters(track, voters);
    else voters.replaceChildren();
  };
  toggle.addEventListener('click', () => {
    const open = !actions.votersOpen.has(track.id);
    if (open) actions.votersOpen.add(track.id);
    else actions.votersOpen.delete(track.id);
    show(open);
  });
  show(actions.votersOpen.has(track.id));
  return h('div', { class: 'score', 'data-score': track.vote_score }, toggle, voters);
}

/**
 * @param {any} track
 * @param {QueueActions} actions
 */
function row(track, actions) {
  const name = title(track);
  const voted = Boolean(track.user_has_voted);
  const current = track.id === actions.currentId;
  return h(
    'li',
    { class: current ? 'track current' : 'track', 'data-track': track.id },
    track.cover_url
      ? h('img', { class: 'thumb', src: track.cover_url, alt: '', width: 48, height: 48, loading: 'lazy' })
      : h('div', { class: 'thumb placeholder', 'aria-hidden': 'true' }, '♪'),
    h(
      'div',
      { class: 'grow' },
      h('p', { class: 'track-title' }, name, current ? h('span', { class: 'sr-only' }, ' (playing now)') : null),
      h(
        'p',
        { class: 'meta' },
        `${track.uploader?.username ?? 'someone'} · ${clock(track.duration_ms)} `,
        genreBadge(track.genre),
      ),
    ),
    h(
      'div',
      { class: 'actions' },
      score(track, actions),
      h(
        'button',
        {
          type: 'button',
          class: voted ? 'vote voted' : 'vote',
          // The name begins with what the button shows (WCAG 2.5.3: a
          // voice user says what they see), and says what a press does.
          'aria-label': voted ? `Voted for ${name}: take your vote back` : `Vote for ${name}`,
          onclick: () => actions.vote(track),
        },
        voted ? '▲ Voted' : '▲ Vote',
      ),
      actions.admin
        ? h('button', { type: 'button', 'aria-label': `Play ${name} now`, onclick: () => actions.play(track) }, '▶')
        : null,
      h(
        'button',
        { type: 'button', 'aria-label': `Add ${name} to a playlist`, onclick: () => actions.save(track) },
        '+',
      ),
      actions.admin || actions.moderator || track.uploader?.id === actions.me
        ? h('button', { type: 'button', 'aria-label': `Remove ${name}`, onclick: () => actions.remove(track) }, '✕')
        : null,
    ),
  );
}

/**
 * @param {HTMLElement} list
 * @param {any[]} tracks
 * @param {QueueActions} actions
 */
export function showQueue(list, tracks, actions) {
  fill(
    list,
    tracks.length
      ? tracks.map((t) => row(t, actions))
      : h('li', { class: 'muted empty' }, 'The queue is empty: add a track below.'),
  );
}
