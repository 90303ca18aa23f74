// Adding a track to a room's queue: the audio file, a genre and a cover,
// with the upload's progress, and the server's objection to a field shown
// next to that field.

import { ApiError, upload } from '../api.js';
import { field, h, showFieldErrors } from '../dom.js';
import { notify } from '../notify.js';

/**
 * @param {string} roomId
 * @param {() => any[]} genres the genres to offer, read when the form opens
 */
export function uploadForm(roomId, genres) {
  const audio = h('input', { name: 'audio_file', type: 'file', accept: 'audio/*,.mp3,.wav,.m4a,.ogg', required: true });
  const genre = h('select', { name: 'genre_id' });
  const cover = h('input', { name: 'cover_image', type: 'file', accept: 'image/jpeg,image/png,image/webp' });
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Upload');
  const status = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const form = h(
    'form',
    { class: 'card upload', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Add a track'),
    field('Audio file', audio, 'MP3, WAV, M4A or OGG, up to 50 MB.'),
    field('Genre', genre),
    field('Cover image (optional)', cover, 'JPEG, PNG or WebP.'),
    progress,
    status,
    submit,
  );

  function offerGenres() {
    const chosen = genre.value;
    genre.replaceChildren(
      h('option', { value: '' }, 'No genre'),
      ...genres().map((g) => h('option', { value: String(g.id) }, g.name)),
    );
    genre.value = chosen;
  }
  genre.addEventListener('focus', offerGenres);
  offerGenres();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = audio.files?.[0];
    if (!file) return;
    const data = new FormData();
    data.append('audio_file', file);
    if (genre.value) data.append('genre_id', genre.value);
    const image = cover.files?.[0];
    if (image) data.append('cover_image', image);
    submit.disabled = true;
    status.hidden = true;
    showFieldErrors(form, undefined);
    progress.hidden = false;
    progress.value = 0;
    try {
      await upload(`/rooms/${roomId}/tracks`, data, (fraction) => {
        progress.value = fraction;
      });
      notify(`“${file.name}” was added to the queue.`);
      form.reset();
      offerGenres();
    } catch (error) {
      const fields = error instanceof ApiError ? error.fields : undefined;
      if (!showFieldErrors(form, fields)) {
        status.textContent = error instanceof Error ? error.message : 'The upload failed.';
        status.hidden = false;
      }
    } finally {
      submit.disabled = false;
      progress.hidden = true;
    }
  });
  return { form, offerGenres };
}
