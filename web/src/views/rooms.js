// The room list: every room, what plays in it, how many are in it; a
// search over names and descriptions; and a form to open a new room.

import { get, post } from '../api.js';
import { field, fill, h, title } from '../dom.js';
import { submitting } from '../forms.js';
import { failed } from '../notify.js';
import { go } from '../router.js';

/** @param {any} room */
function roomCard(room) {
  const playing = room.current_track && room.is_playing;
  return h(
    'li',
    { class: 'room-card', 'data-room': room.id },
    room.cover_url
      ? h('img', { class: 'cover', src: room.cover_url, alt: '', width: 64, height: 64, loading: 'lazy' })
      : h('div', { class: 'cover placeholder', 'aria-hidden': 'true' }, '♪'),
    h(
      'div',
      { class: 'grow' },
      h('h2', {}, h('a', { href: `/rooms/${room.id}`, class: 'room-name' }, room.name)),
      room.description ? h('p', { class: 'muted' }, room.description) : null,
      h(
        'p',
        { class: 'meta' },
        `${room.participant_count} ${room.participant_count === 1 ? 'listener' : 'listeners'} · `,
        `${room.track_count} ${room.track_count === 1 ? 'track' : 'tracks'} · `,
        `run by ${room.administrator?.username ?? 'someone'}`,
      ),
      room.current_track
        ? h(
            'p',
            { class: 'now' },
            h('span', { class: 'sr-only' }, playing ? 'Now playing: ' : 'Paused: '),
            h('span', { 'aria-hidden': 'true' }, playing ? '▶ ' : '❚❚ '),
            title(room.current_track),
          )
        : null,
    ),
    h('a', { class: 'button', href: `/rooms/${room.id}` }, room.is_participant ? 'Open' : 'Join'),
  );
}

/** @type {import('../router.js').View} */
export function roomsView(main) {
  /** @type {any[]} */
  let rooms = [];
  let page = 0;
  let lastPage = 1;
  const search = h('input', { type: 'search', name: 'q', placeholder: 'Name or description', autocomplete: 'off' });
  const list = h('ul', { class: 'rooms', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', hidden: true }, 'More rooms');
  const status = h('p', { class: 'muted' }, 'Loading rooms…');

  function show() {
    const words = search.value.trim().toLowerCase();
    const shown = rooms.filter((r) => `${r.name} ${r.description ?? ''}`.toLowerCase().includes(words));
    fill(list, shown.map(roomCard));
    status.textContent = shown.length ? '' : words ? 'No room matches.' : 'No rooms yet: open the first one.';
    more.hidden = page >= lastPage;
  }

  async function load() {
    try {
      const answer = await get(`/rooms?page=${page + 1}&per_page=50`);
      rooms = rooms.concat(answer.data);
      page = answer.pagination?.page ?? page + 1;
      lastPage = answer.pagination?.last_page ?? page;
      show();
    } catch (error) {
      status.textContent = 'The rooms could not be loaded.';
      failed(error);
    }
  }

  const name = h('input', { name: 'name', required: true, maxlength: 255 });
  const description = h('textarea', { name: 'description', rows: 2, maxlength: 1000 });
  const create = h(
    'form',
    { class: 'card', 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'Open a room'),
    field('Name', name),
    field('Description (optional)', description),
    h('button', { type: 'submit', class: 'primary' }, 'Open room'),
  );
  submitting(create, async () => {
    const answer = await post('/rooms', { name: name.value.trim(), description: description.value.trim() || null });
    go(`/rooms/${answer.data.id}`);
  });
  search.addEventListener('input', show);
  more.addEventListener('click', load);

  main.append(
    h('h1', {}, 'Rooms'),
    h('div', { class: 'columns' }, h('section', { 'aria-label': 'All rooms', class: 'wide' }, field('Search rooms', search), status, list, more), create),
  );
  load();
}
