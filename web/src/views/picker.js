// "Add to playlist": a dialog listing the reader's playlists, with a
// field to make a new one on the spot.

import { get, post } from '../api.js';
import { fill, h, title } from '../dom.js';
import { failed, notify } from '../notify.js';

/** @param {{ id: string, original_name: string }} track */
export async function addToPlaylist(track) {
  const list = h('ul', { class: 'plain' });
  const name = h('input', { name: 'name', required: true, maxlength: 255, 'aria-label': 'New playlist name' });
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'picker-title' },
    h('h2', { id: 'picker-title' }, `Add “${title(track)}” to a playlist`),
    list,
    h(
      'form',
      { class: 'inline', onsubmit: (/** @type {Event} */ e) => create(e) },
      name,
      h('button', { type: 'submit' }, 'New playlist'),
    ),
    h('button', { type: 'button', onclick: () => dialog.close() }, 'Close'),
  );
  dialog.addEventListener('close', () => dialog.remove());

  /** @param {any} playlist */
  async function add(playlist) {
    try {
      await post(`/playlists/${playlist.id}/tracks`, { track_id: track.id });
      notify(`Added to “${playlist.name}”.`);
      dialog.close();
    } catch (error) {
      failed(error);
    }
  }

  /** @param {Event} event */
  async function create(event) {
    event.preventDefault();
    try {
      const made = await post('/playlists', { name: name.value.trim(), is_public: false });
      await add(made.data);
    } catch (error) {
      failed(error);
    }
  }

  document.body.appendChild(dialog);
  dialog.showModal();
  try {
    const answer = await get('/playlists?per_page=100');
    const mine = answer.data.filter((/** @type {any} */ p) => p.is_owner);
    fill(
      list,
      mine.length
        ? mine.map((/** @type {any} */ p) =>
            h('li', {}, h('button', { type: 'button', onclick: () => add(p) }, `${p.name} (${p.tracks_count})`)),
          )
        : h('li', { class: 'muted' }, 'You have no playlist yet.'),
    );
  } catch (error) {
    failed(error);
  }
}
