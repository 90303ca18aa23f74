// A room's queue as the server orders it: each track with its cover,
// uploader, genre, length and score; vote and unvote; and for whoever may,
// play (the administrator), remove (the administrator or the uploader)
// and add to a playlist.

import { clock, fill, h, title } from '../dom.js';

/**
 * @typedef {{
 *   admin: boolean,
 *   me: string,
 *   currentId: string | null,
 *   vote: (track: any) => void,
 *   play: (track: any) => void,
 *   remove: (track: any) => void,
 *   save: (track: any) => void,
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
      h(
        'span',
        { class: 'score', 'aria-label': `Score ${track.vote_score}`, 'data-score': track.vote_score },
        String(track.vote_score),
      ),
      h(
        'button',
        {
          type: 'button',
          class: voted ? 'vote voted' : 'vote',
          'aria-pressed': voted ? 'true' : 'false',
          'aria-label': voted ? `Take back your vote for ${name}` : `Vote for ${name}`,
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
      actions.admin || track.uploader?.id === actions.me
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
