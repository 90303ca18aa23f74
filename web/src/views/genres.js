// Genres: the built-in ones and those people added, with their colours and
// how many tracks carry them; adding one, and removing one's own.

import { del, get, post } from '../api.js';
import { field, fill, h } from '../dom.js';
import { submitting } from '../forms.js';
import { failed, notify } from '../notify.js';
import { genreBadge } from './queue.js';

/** @type {import('../router.js').View} */
export function genresView(main) {
  const list = h('ul', { class: 'plain genres' });
  const name = h('input', { name: 'name', required: true, maxlength: 50 });
  const color = h('input', { name: 'color', type: 'color', value: '#1db954' });
  const description = h('input', { name: 'description', maxlength: 255 });
  const form = h(
    'form',
    { class: 'card', 'aria-labelledby': 'new-genre' },
    h('h2', { id: 'new-genre' }, 'Add a genre'),
    field('Name', name),
    field('Colour', color),
    field('Description (optional)', description),
    h('button', { type: 'submit', class: 'primary' }, 'Add genre'),
  );
  const load = () =>
    get('/genres').then((answer) => {
      fill(
        list,
        (answer.data ?? []).map((/** @type {any} */ g) =>
          h(
            'li',
            {},
            genreBadge(g),
            ` ${g.tracks_count} ${g.tracks_count === 1 ? 'track' : 'tracks'}`,
            g.description ? h('span', { class: 'muted' }, ` · ${g.description}`) : null,
            g.is_owner && !g.is_builtin
              ? h('button', {
                  type: 'button',
                  class: 'link',
                  'aria-label': `Delete the genre ${g.name}`,
                  onclick: () => del(`/genres/${g.id}`).then(() => { notify('The genre was deleted.'); load(); }, failed),
                }, 'Delete')
              : null,
          ),
        ),
      );
    }, failed);
  submitting(form, async () => {
    await post('/genres', { name: name.value.trim(), color: color.value, description: description.value.trim() || null });
    form.reset();
    load();
  });
  main.append(h('h1', {}, 'Genres'), h('div', { class: 'columns' }, h('section', { class: 'wide card', 'aria-label': 'All genres' }, list), form));
  load();
}
