// Playlists: the reader's own and everyone's public ones; one playlist's
// tracks, which its owner reorders, removes, renames or deletes.

import { del, get, post, put } from '../api.js';
import { clock, field, fill, h, title } from '../dom.js';
import { submitting } from '../forms.js';
import { failed, notify } from '../notify.js';
import { go } from '../router.js';
import { genreBadge } from './queue.js';

/** @param {any} playlist */
function card(playlist) {
  return h(
    'li',
    { class: 'room-card' },
    h(
      'div',
      { class: 'grow' },
      h('h2', {}, h('a', { href: `/playlists/${playlist.id}` }, playlist.name)),
      playlist.description ? h('p', { class: 'muted' }, playlist.description) : null,
      h(
        'p',
        { class: 'meta' },
        `${playlist.tracks_count} ${playlist.tracks_count === 1 ? 'track' : 'tracks'} · ${clock(playlist.total_duration * 1000)} · `,
        playlist.is_owner ? 'yours' : `by ${playlist.creator?.username ?? 'someone'}`,
        playlist.is_public ? ' · public' : ' · private',
      ),
    ),
  );
}

/** @type {import('../router.js').View} */
export function playlistsView(main) {
  const mine = h('ul', { class: 'rooms' });
  const others = h('ul', { class: 'rooms' });
  const name = h('input', { name: 'name', required: true, maxlength: 255 });
  const description = h('input', { name: 'description', maxlength: 1000 });
  const isPublic = h('input', { name: 'is_public', type: 'checkbox' });
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'new-playlist' },
    h('h2', { id: 'new-playlist' }, 'New playlist'),
    field('Name', name),
    field('Description (optional)', description),
    h('label', { class: 'check' }, isPublic, ' Others may see it'),
    h('button', { type: 'submit', class: 'primary' }, 'Create playlist'),
  );
  submitting(form, async () => {
    const made = await post('/playlists', {
      name: name.value.trim(),
      description: description.value.trim() || null,
      is_public: isPublic.checked,
    });
    go(`/playlists/${made.data.id}`);
  });
  main.append(
    h('h1', {}, 'Playlists'),
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        { class: 'wide' },
        h('section', { 'aria-labelledby': 'mine' }, h('h2', { id: 'mine' }, 'Yours'), mine),
        h('section', { 'aria-labelledby': 'public' }, h('h2', { id: 'public' }, 'Shared by others'), others),
      ),
      form,
    ),
  );
  get('/playlists?per_page=100').then((answer) => {
    const all = answer.data ?? [];
    const own = all.filter((/** @type {any} */ p) => p.is_owner);
    const shared = all.filter((/** @type {any} */ p) => !p.is_owner);
    fill(mine, own.length ? own.map(card) : h('li', { class: 'muted' }, 'None yet: make one, then add tracks from a room.'));
    fill(others, shared.length ? shared.map(card) : h('li', { class: 'muted' }, 'Nobody has shared a playlist yet.'));
  }, failed);
}

/** @type {import('../router.js').View} */
export function playlistView(main, [id]) {
  const heading = h('h1', {}, 'Playlist');
  const about = h('p', { class: 'muted' });
  const list = h('ol', { class: 'queue' });
  const tools = h('div', { class: 'admin-tools' });
  main.append(h('div', { class: 'room-head' }, h('div', { class: 'grow' }, heading, about), tools), h('section', { class: 'card' }, list));

  /** @param {any} playlist */
  function show(playlist) {
    heading.textContent = playlist.name;
    document.title = `${playlist.name} · Spotik`;
    about.textContent = `${playlist.description ?? ''} ${playlist.is_owner ? '' : `by ${playlist.creator?.username ?? 'someone'}`}`.trim();
    const tracks = playlist.tracks ?? [];
    /** @param {any} track @param {number} to */
    const move = (track, to) =>
      change(async () => {
        await del(`/playlists/${id}/tracks/${track.id}`);
        return post(`/playlists/${id}/tracks`, { track_id: track.id, position: to });
      });
    fill(
      list,
      tracks.length
        ? tracks.map((/** @type {any} */ track, /** @type {number} */ i) =>
            h(
              'li',
              { class: 'track', 'data-track': track.id },
              h(
                'div',
                { class: 'grow' },
                h('p', { class: 'track-title' }, title(track)),
                h('p', { class: 'meta' }, `${track.uploader?.username ?? ''} · ${clock(track.duration_ms)} `, genreBadge(track.genre), ' ', h('a', { href: `/rooms/${track.room_id}` }, 'its room')),
              ),
              playlist.is_owner
                ? h(
                    'div',
                    { class: 'actions' },
                    h('button', { type: 'button', disabled: i === 0, 'aria-label': `Move ${title(track)} up`, onclick: () => move(track, i - 1) }, '↑'),
                    h('button', { type: 'button', disabled: i === tracks.length - 1, 'aria-label': `Move ${title(track)} down`, onclick: () => move(track, i + 1) }, '↓'),
                    h('button', { type: 'button', 'aria-label': `Remove ${title(track)} from the playlist`, onclick: () => change(() => del(`/playlists/${id}/tracks/${track.id}`)) }, '✕'),
                  )
                : null,
            ),
          )
        : h('li', { class: 'muted empty' }, 'No tracks yet: add some from a room’s queue with “+”.'),
    );
    fill(
      tools,
      playlist.is_owner
        ? [
            h('button', {
              type: 'button',
              onclick: () => {
                const name = prompt('New name', playlist.name);
                if (name && name.trim()) change(() => put(`/playlists/${id}`, { name: name.trim() }));
              },
            }, 'Rename'),
            h('button', { type: 'button', onclick: () => change(() => put(`/playlists/${id}`, { is_public: !playlist.is_public })) }, playlist.is_public ? 'Make private' : 'Share publicly'),
            h('button', {
              type: 'button',
              class: 'danger',
              onclick: () => {
                if (!confirm(`Delete the playlist “${playlist.name}”?`)) return;
                del(`/playlists/${id}`).then(() => {
                  notify('The playlist was deleted.');
                  go('/playlists');
                }, failed);
              },
            }, 'Delete playlist'),
          ]
        : [],
    );
  }

  /** @param {() => Promise<any>} action */
  async function change(action) {
    try {
      const answer = await action();
      if (answer?.data?.tracks) show(answer.data);
      else load();
    } catch (error) {
      failed(error);
    }
  }

  const load = () =>
    get(`/playlists/${id}`).then(
      (answer) => show(answer.data),
      (error) => {
        heading.textContent = 'Playlist unavailable';
        failed(error);
      },
    );
  load();
}
