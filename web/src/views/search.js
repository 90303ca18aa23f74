// Searching the tracks of the reader's rooms by name, optionally within
// one genre; each result leads to its room or into a playlist.

import { get } from '../api.js';
import { clock, field, fill, h, title } from '../dom.js';
import { failed } from '../notify.js';
import { addToPlaylist } from './picker.js';
import { genreBadge } from './queue.js';

/** @type {import('../router.js').View} */
export function searchView(main, _params, query) {
  const words = h('input', { type: 'search', name: 'search', value: query.get('q') ?? '', autocomplete: 'off' });
  const genre = h('select', { name: 'genre_id' }, h('option', { value: '' }, 'Any genre'));
  const results = h('ol', { class: 'queue', 'aria-live': 'polite', 'aria-label': 'Results' });
  const form = h('form', { class: 'card search', role: 'search' }, field('Track name', words), field('Genre', genre), h('button', { type: 'submit', class: 'primary' }, 'Search'));
  let latest = 0;
  async function run() {
    const asked = ++latest;
    const params = new URLSearchParams({ search: words.value.trim() });
    if (genre.value) params.set('genre_id', genre.value);
    history.replaceState(null, '', `/search?q=${encodeURIComponent(words.value.trim())}`);
    try {
      const found = (await get(`/tracks?${params}`)).data ?? [];
      if (asked !== latest) return;
      fill(
        results,
        found.length
          ? found.map((/** @type {any} */ t) =>
              h(
                'li',
                { class: 'track', 'data-track': t.id },
                h(
                  'div',
                  { class: 'grow' },
                  h('p', { class: 'track-title' }, title(t)),
                  h('p', { class: 'meta' }, `${t.uploader?.username ?? ''} · ${clock(t.duration_ms)} `, genreBadge(t.genre)),
                ),
                h(
                  'div',
                  { class: 'actions' },
                  h('a', { class: 'button', href: `/rooms/${t.room_id}` }, 'Open room'),
                  h('button', { type: 'button', 'aria-label': `Add ${title(t)} to a playlist`, onclick: () => addToPlaylist(t) }, '+'),
                ),
              ),
            )
          : h('li', { class: 'muted empty' }, 'No track of your rooms matches.'),
      );
    } catch (error) {
      failed(error);
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run();
  });
  main.append(h('h1', {}, 'Search tracks'), form, results);
  get('/genres').then((answer) => {
    genre.append(...(answer.data ?? []).map((/** @type {any} */ g) => h('option', { value: String(g.id) }, g.name)));
  }, failed);
  if (words.value) run();
  words.focus();
}
