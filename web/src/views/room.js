// A room: what plays (heard here, in step with everyone in it), the
// administrator's controls, the queue, adding tracks, who is in it and
// what just happened. A link to it opens it for anyone: a newcomer is
// asked to sign in, then joins.
//
// The room's state arrives over the socket; every event carries the
// room's `seq`, so a gap (events missed while reconnecting) or a new
// `room_joined` after a reconnect refetches everything.

import { ApiError, call, del, get, post, put, upload } from '../api.js';
import { clock, field, fill, h, title, when } from '../dom.js';
import { failed, notify } from '../notify.js';
import { go } from '../router.js';
import { session } from '../session.js';
import { joinRoom, leaveRoom, onMessage } from '../socket.js';
import { serverNow, wallOffset } from '../sync/clock.js';
import { Engine } from '../sync/engine.js';
import { roomPositionAt } from '../sync/plan.js';
import { chatPanel } from './chat.js';
import { historyPanel } from './history.js';
import { moderationPanel, moderationTools } from './moderation.js';
import { addToPlaylist } from './picker.js';
import { genreBadge, showQueue } from './queue.js';
import { skipVote } from './skip.js';
import { uploadForm } from './upload.js';

/** @param {any} view a PlaybackView or an event that carries one */
function playbackOf(view) {
  return {
    track: view.current_track ?? view.track ?? null,
    playing: Boolean(view.is_playing),
    startedAtMs: typeof view.started_at_ms === 'number' ? view.started_at_ms : null,
    positionMs: Number(view.position_ms ?? 0),
    pausedAtMs: typeof view.paused_at_ms === 'number' ? view.paused_at_ms : null,
    stopsAtMs: typeof view.stops_at_ms === 'number' ? view.stops_at_ms : null,
    nextTrack: view.next_track ?? null,
  };
}

/**
 * How far ahead a pause or a stop is asked for (ms): long enough for the
 * event to reach listeners on slow links before its instant, so that every
 * page stops its sound at that one instant rather than one network trip
 * after the click; short enough to feel like the click (docs/sync.md).
 */
const TRANSITION_LEAD_MS = 250;

/** How often this page tells the server how well it keeps time (ms). */
const REPORT_EVERY = 10_000;

/** `?channel=left|right` sends this page's sound to one side only: the benchmark's test setting (loadtest/sync). */
function panOf(/** @type {string} */ search) {
  const channel = new URLSearchParams(search).get('channel');
  return channel === 'left' ? -1 : channel === 'right' ? 1 : 0;
}

/** @param {number} ms */
const millis = (ms) => (Math.abs(ms) < 10 ? ms.toFixed(1) : String(Math.round(ms)));

/** @type {import('../router.js').View} */
export function roomView(main, [roomId]) {
  const me = session()?.user.id ?? '';
  /** @type {any} */
  let room = null;
  /** @type {any[]} */
  let tracks = [];
  /** @type {any[]} */
  let genres = [];
  /** @type {any[]} */
  let participants = [];
  /** Users connected to the room now (the socket's presence). */
  let online = new Set();
  /** Tracks whose voters are shown: kept open across redraws. */
  const votersOpen = new Set();
  let seq = -1;
  /** The newest numbered event heard on the socket. */
  let heard = -1;
  let closed = false;
  const player = new Engine({ pan: panOf(location.search) });
  player.warm();

  const heading = h('h1', { id: 'room-title' }, 'Room');
  const description = h('p', { class: 'muted' });
  const headCover = h('div', { class: 'room-cover' });
  const adminTools = h('div', { class: 'admin-tools' });
  const nowPlaying = h('section', { class: 'card now-playing', 'aria-labelledby': 'now-title' });
  const queueList = h('ol', { class: 'queue', 'aria-labelledby': 'queue-title' });
  const people = h('ul', { class: 'plain people', 'aria-labelledby': 'people-title' });
  const activity = h('ol', { class: 'plain activity', 'aria-live': 'polite', 'aria-labelledby': 'activity-title' });
  const { form: uploader, offerGenres } = uploadForm(roomId, () => genres);
  const skip = skipVote(roomId, me);
  const played = historyPanel(roomId);
  const isAdmin = () => room?.administrator_id === me;
  /** Whether this user moderates the room (the administrator does too). */
  const amModerator = () => isAdmin() || participants.some((p) => p.user_id === me && p.is_moderator);
  const chat = chatPanel(roomId, me, () => amModerator());
  const moderation = moderationPanel(roomId);

  /** @param {string} text */
  function happened(text) {
    activity.prepend(h('li', {}, h('time', {}, new Date().toLocaleTimeString()), ' ', text));
    while (activity.children.length > 20) activity.lastElementChild?.remove();
  }

  /**
   * Runs an action; shows its failure.
   * @param {() => Promise<unknown>} action
   */
  async function attempt(action) {
    try {
      await action();
    } catch (error) {
      failed(error);
    }
  }

  // ---- the header: name, cover, and what the administrator may change

  function showHeader() {
    heading.textContent = room.name;
    document.title = `${room.name} · Spotik`;
    description.textContent = room.description ?? '';
    fill(
      headCover,
      room.cover_url ? h('img', { src: room.cover_url, alt: `Cover of ${room.name}`, width: 96, height: 96 }) : null,
    );
    const link = `${location.origin}/rooms/${roomId}`;
    // Redrawn on every change of the room: an open panel stays open.
    const open = /** @type {HTMLDetailsElement | null} */ (adminTools.querySelector('details.manage'))?.open ?? false;
    fill(
      adminTools,
      h(
        'button',
        {
          type: 'button',
          onclick: () =>
            navigator.clipboard?.writeText(link).then(
              () => notify('The room’s link is copied: send it to whoever should listen.'),
              () => notify(`The room’s link: ${link}`),
            ),
        },
        'Copy room link',
      ),
      isAdmin() ? adminForms() : h('button', { type: 'button', onclick: () => attempt(leave) }, 'Leave room'),
    );
    const manage = /** @type {HTMLDetailsElement | null} */ (adminTools.querySelector('details.manage'));
    if (manage) manage.open = open;
  }

  async function leave() {
    await post(`/rooms/${roomId}/leave`);
    go('/');
  }

  function adminForms() {
    const name = h('input', { name: 'name', value: room.name, required: true, maxlength: 255 });
    const about = h('textarea', { name: 'description', rows: 2, maxlength: 1000 });
    about.value = room.description ?? '';
    const rename = h(
      'form',
      { class: 'inline-form' },
      field('Room name', name),
      field('Description', about),
      h('button', { type: 'submit' }, 'Save'),
    );
    const voteSkip = h('input', { type: 'checkbox', id: 'vote-skip', checked: room.vote_skip !== false });
    voteSkip.addEventListener('change', () =>
      attempt(async () => {
        const on = /** @type {HTMLInputElement} */ (voteSkip).checked;
        room = { ...room, ...(await put(`/rooms/${roomId}`, { vote_skip: on })).data };
        skip.refresh();
        notify(on ? 'Listeners can now skip by vote.' : 'Only you can skip now.');
      }),
    );
    const limit = h('input', { type: 'number', id: 'queue-limit', min: 1, max: 100, step: 1, value: room.queue_limit_per_user ?? '', 'aria-describedby': 'queue-limit-help' });
    limit.addEventListener('change', () =>
      attempt(async () => {
        const text = /** @type {HTMLInputElement} */ (limit).value.trim();
        room = { ...room, ...(await put(`/rooms/${roomId}`, { queue_limit_per_user: text ? Number(text) : null })).data };
        notify(text ? `Each listener may now have ${text} tracks waiting.` : 'Listeners may queue as many tracks as they like.');
      }),
    );
    const mode = h(
      'select',
      { id: 'queue-mode' },
      h('option', { value: 'votes', selected: room.queue_mode !== 'fair' }, 'by votes: the most voted plays next'),
      h('option', { value: 'fair', selected: room.queue_mode === 'fair' }, 'fair: everyone in turn, votes within a turn'),
    );
    mode.addEventListener('change', () =>
      attempt(async () => {
        room = { ...room, ...(await put(`/rooms/${roomId}`, { queue_mode: /** @type {HTMLSelectElement} */ (mode).value })).data };
        showQueueTitle();
        refreshQueue();
      }),
    );
    const fill_ = h(
      'select',
      { id: 'autofill' },
      h('option', { value: 'off', selected: room.autofill === 'off' }, 'stop'),
      h('option', { value: 'history', selected: room.autofill === 'history' }, 'play on from what played here'),
      h('option', { value: 'playlist', selected: room.autofill === 'playlist' }, 'play on from a playlist'),
    );
    const playlist = h('select', { id: 'autofill-playlist', hidden: room.autofill !== 'playlist' });
    const offerPlaylists = async () => {
      /** @type {any[]} */
      const lists = (await get('/playlists?per_page=100')).data ?? [];
      fill(
        playlist,
        h('option', { value: '' }, 'choose a playlist'),
        lists.map((l) => h('option', { value: String(l.id), selected: l.id === room.autofill_playlist_id }, l.name)),
      );
    };
    if (room.autofill === 'playlist') offerPlaylists().catch(failed);
    const saveAutofill = () =>
      attempt(async () => {
        const chosen = /** @type {HTMLSelectElement} */ (fill_).value;
        const list = /** @type {HTMLSelectElement} */ (playlist).value;
        room = { ...room, ...(await put(`/rooms/${roomId}`, { autofill: chosen, autofill_playlist_id: list ? Number(list) : null })).data };
      });
    fill_.addEventListener('change', () => {
      const chosen = /** @type {HTMLSelectElement} */ (fill_).value;
      playlist.hidden = chosen !== 'playlist';
      if (chosen === 'playlist') offerPlaylists().catch(failed);
      saveAutofill();
    });
    playlist.addEventListener('change', saveAutofill);
    const rules = h(
      'div',
      {},
      h('label', { for: 'queue-mode' }, 'Queue order'),
      mode,
      h('label', { for: 'autofill' }, 'When the queue runs dry'),
      fill_,
      h('label', { for: 'autofill-playlist', class: 'sr-only' }, 'Playlist to play on from'),
      playlist,
      h('p', { class: 'check' }, voteSkip, ' ', h('label', { for: 'vote-skip' }, 'Listeners may skip a track by vote')),
      h('label', { for: 'queue-limit' }, 'Tracks each listener may have waiting'),
      limit,
      h('p', { class: 'muted', id: 'queue-limit-help' }, 'Empty for no limit.'),
    );
    rename.addEventListener('submit', (event) => {
      event.preventDefault();
      attempt(async () => {
        room = { ...room, ...(await put(`/rooms/${roomId}`, { name: name.value.trim(), description: about.value.trim() || null })).data };
        showHeader();
        notify('The room was renamed.');
      });
    });
    const coverFile = h('input', { name: 'cover_image', type: 'file', accept: 'image/jpeg,image/png,image/webp' });
    coverFile.addEventListener('change', () => {
      const file = coverFile.files?.[0];
      if (!file) return;
      const form = new FormData();
      form.append('cover_image', file);
      attempt(async () => {
        const answer = await upload(`/rooms/${roomId}/cover`, form, () => {});
        room = { ...room, cover_url: answer.cover_url ?? answer.data?.cover_url ?? room.cover_url };
        showHeader();
        notify('The room’s cover was changed.');
      });
    });
    return h(
      'details',
      { class: 'manage' },
      h('summary', {}, 'Manage room'),
      rename,
      rules,
      field('Cover image', coverFile),
      room.cover_url
        ? h(
            'button',
            {
              type: 'button',
              onclick: () =>
                attempt(async () => {
                  await del(`/rooms/${roomId}/cover`);
                  room = { ...room, cover_url: null };
                  showHeader();
                }),
            },
            'Remove cover',
          )
        : null,
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          onclick: () => {
            if (!confirm(`Delete “${room.name}” and its queue for everyone?`)) return;
            attempt(async () => {
              await del(`/rooms/${roomId}`);
              notify('The room was deleted.');
              go('/');
            });
          },
        },
        'Delete room',
      ),
    );
  }

  // ---- what plays

  const progress = h('progress', { max: 1, value: 0, 'aria-label': 'Position in the track' });
  const elapsed = h('span', { class: 'elapsed' });
  const left = h('span', { class: 'left' });
  const badge = h('span', { class: 'sync', role: 'status' });
  const clockLine = h('p', { class: 'meta sync-quality' });
  const delay = h('input', {
    type: 'number',
    id: 'speaker-delay',
    min: -1000,
    max: 1000,
    step: 1,
    value: String(player.deviceDelayMs),
    'aria-describedby': 'speaker-delay-help',
  });
  delay.addEventListener('change', () => player.setDeviceDelay(Number(/** @type {HTMLInputElement} */ (delay).value) || 0));
  const settings = h(
    'details',
    { class: 'sound-settings' },
    h('summary', {}, 'Sound settings'),
    h('label', { for: 'speaker-delay' }, 'Speaker delay (ms)'),
    delay,
    h(
      'p',
      { class: 'muted', id: 'speaker-delay-help' },
      'If this device sounds late beside the others (Bluetooth speakers often do), raise this until they match. It is kept for this browser.',
    ),
  );
  const nowTitle = h('p', { class: 'now-title', id: 'now-track' });
  const nowMeta = h('p', { class: 'meta' });
  const nowCover = h('div', { class: 'now-cover' });
  const listen = h('button', { type: 'button', class: 'primary listen', hidden: true }, '🔊 Start listening');
  listen.addEventListener('click', () => player.unblock());
  const controls = h('div', { class: 'controls', role: 'group', 'aria-label': 'Playback controls' });

  /** @param {string} path @param {string} label */
  const control = (path, label) =>
    h('button', { type: 'button', onclick: () => attempt(() => post(`/rooms/${roomId}/${path}`)) }, label);

  function showPlayback() {
    const { track, playing } = player.playback;
    fill(
      nowPlaying,
      h('h2', { id: 'now-title' }, playing ? 'Now playing' : track ? 'Paused' : 'Nothing is playing'),
      h(
        'div',
        { class: 'now' },
        nowCover,
        h('div', { class: 'grow' }, nowTitle, nowMeta, h('div', { class: 'time' }, elapsed, progress, left), badge, clockLine),
      ),
      listen,
      controls,
      skip.element,
      settings,
    );
    fill(
      nowCover,
      track?.cover_url
        ? h('img', { src: track.cover_url, alt: '', width: 120, height: 120 })
        : h('div', { class: 'cover placeholder big', 'aria-hidden': 'true' }, '♪'),
    );
    nowTitle.textContent = track ? title(track) : 'Add a track and press play.';
    fill(
      nowMeta,
      track
        ? [
            track.autofill ? h('span', { class: 'tag' }, 'autofill') : null,
            track.autofill ? ' from the room’s picks · ' : null,
            `added by ${track.uploader?.username ?? 'someone'} `,
            genreBadge(track.genre),
          ]
        : [],
    );
    listen.hidden = !player.blocked;
    fill(
      controls,
      isAdmin()
        ? [
            !track && tracks.length ? control(`tracks/${tracks[0].id}/play`, '▶ Play') : null,
            track && playing ? control(`playback/pause?lead_ms=${TRANSITION_LEAD_MS}`, '❚❚ Pause') : null,
            track && !playing ? control('playback/resume', '▶ Resume') : null,
            track ? control('playback/skip', '⏭ Skip') : null,
            track ? control(`playback/stop?lead_ms=${TRANSITION_LEAD_MS}`, '■ Stop') : null,
          ]
        : [],
    );
    tick();
  }

  function tick() {
    const { track } = player.playback;
    const duration = track?.duration_ms ?? 0;
    const position = track ? Math.min(player.roomPosition(), duration) : 0;
    progress.value = duration ? position / duration : 0;
    progress.setAttribute('aria-valuetext', `${clock(position)} of ${clock(duration)}`);
    elapsed.textContent = clock(position);
    left.textContent = track ? `−${clock(duration - position)}` : '';
    const sync = player.sync();
    const steady = Math.abs(sync.driftMs) <= 10;
    badge.hidden = !track || !player.playback.playing || player.blocked || !sync.sounding;
    badge.textContent = steady
      ? `In sync (${sync.driftMs >= 0 ? '+' : ''}${millis(sync.driftMs)} ms)`
      : `Catching up (${millis(sync.driftMs)} ms off)`;
    badge.dataset.state = steady ? 'ok' : 'wait';
    clockLine.hidden = badge.hidden;
    clockLine.textContent = Number.isFinite(sync.roundTripMs)
      ? `Clock ±${millis(sync.uncertaintyMs)} ms · round trip ${millis(sync.roundTripMs)} ms · output ${Math.round(sync.outputLatencyMs)} ms`
      : 'Measuring the clock…';
  }
  const ticker = window.setInterval(tick, 250);
  const reporter = window.setInterval(() => {
    const sync = player.sync();
    if (!sync.sounding || player.blocked) return;
    // Telemetry: a refused report (429, a restart) costs the listener nothing.
    post(`/rooms/${roomId}/sync-report`, { clock_offset_ms: wallOffset(), drift_ms: sync.driftMs }).catch(() => {});
  }, REPORT_EVERY);
  // What this page hears, by the clock model, for the benchmark and for
  // anyone asking why a room sounds off (docs/sync.md).
  Object.assign(window, {
    spotikSync: {
      positionAt: (/** @type {number} */ serverMs) => player.positionAt(serverMs),
      roomAt: (/** @type {number} */ serverMs) => roomPositionAt(player.playback, serverMs),
      positionAtWall: (/** @type {number} */ unixMs) => player.positionAtWall(unixMs),
      wallOffset,
      state: () => ({ ...player.sync(), track: player.playback.track?.id ?? null, playing: player.playback.playing, pausedAtMs: player.playback.pausedAtMs ?? null, positionMs: player.playback.positionMs, position: player.positionAt(serverNow()), corrections: { ...player.corrections }, history: [...player.history] }),
      serverNow,
    },
  });
  player.onChange(showPlayback);

  // ---- the queue, the people, the genres

  const actions = () => ({
    admin: isAdmin(),
    moderator: amModerator(),
    me,
    currentId: player.playback.track?.id ?? null,
    /** @param {any} track */
    vote: (track) =>
      attempt(async () => {
        const answer = await call(track.user_has_voted ? 'DELETE' : 'POST', `/rooms/${roomId}/tracks/${track.id}/vote`);
        track.user_has_voted = answer.user_has_voted ?? !track.user_has_voted;
        track.vote_score = answer.vote_score ?? track.vote_score;
        refreshQueue();
      }),
    /** @param {any} track */
    play: (track) => attempt(() => post(`/rooms/${roomId}/tracks/${track.id}/play`)),
    /** @param {any} track */
    remove: (track) => {
      if (confirm(`Remove “${title(track)}” from the queue?`)) attempt(() => del(`/rooms/${roomId}/tracks/${track.id}`));
    },
    save: addToPlaylist,
    votersOpen,
    /** @param {any} track @param {HTMLElement} list */
    showVoters: (track, list) => {
      fill(list, h('li', { class: 'muted' }, 'Loading…'));
      get(`/rooms/${roomId}/tracks/${track.id}/votes`)
        .then((answer) => {
          /** @type {any[]} */
          const voters = answer.data ?? [];
          const more = Number(track.vote_score) - voters.length;
          fill(
            list,
            voters.length
              ? [
                  ...voters.map((v) => h('li', {}, v.id === me ? `${v.username} (you)` : v.username)),
                  more > 0 ? h('li', { class: 'muted' }, `and ${more} more`) : null,
                ]
              : h('li', { class: 'muted' }, 'No votes yet'),
          );
        })
        .catch((error) => fill(list, h('li', { class: 'muted' }, error instanceof Error ? error.message : 'Could not load the votes')));
    },
  });
  const showTracks = () => showQueue(queueList, tracks, actions());
  const queueTitle = h('h2', { id: 'queue-title' }, 'Up next');
  const queueNote = h('p', { class: 'muted' });
  function showQueueTitle() {
    queueNote.textContent =
      room?.queue_mode === 'fair' ? 'Fair turns: whoever has had the fewest tracks plays next; votes order each turn.' : '';
  }

  let queueTimer = 0;
  /** Refetches the queue soon: a burst of votes costs one request. */
  function refreshQueue() {
    clearTimeout(queueTimer);
    queueTimer = window.setTimeout(async () => {
      try {
        tracks = (await get(`/rooms/${roomId}/tracks`)).tracks ?? [];
        if (!closed) {
          showTracks();
          showPlayback();
        }
      } catch (error) {
        failed(error);
      }
    }, 100);
  }

  async function refreshPeople() {
    participants = (await get(`/rooms/${roomId}/participants`)).data ?? [];
    showPeople();
  }

  /** The participants, those connected now first, said in words as well as by the dot. */
  function showPeople() {
    const here = (/** @type {any} */ p) => online.has(p.user_id) || p.user_id === me;
    const sorted = [...participants].sort((a, b) => Number(here(b)) - Number(here(a)));
    fill(
      people,
      sorted.map((/** @type {any} */ p) =>
        h(
          'li',
          { 'data-user': p.user_id, 'data-online': here(p) ? 'yes' : 'no', class: here(p) ? 'online' : 'away' },
          h('span', { class: 'avatar', 'aria-hidden': 'true' }, (p.username ?? '?').slice(0, 1).toUpperCase()),
          h('span', { class: 'who' }, p.username),
          p.is_administrator ? h('span', { class: 'tag' }, 'administrator') : null,
          p.user_id === me ? h('span', { class: 'tag' }, 'you') : null,
          h('span', { class: 'presence' }, here(p) ? 'listening' : 'away'),
          p.is_moderator ? h('span', { class: 'tag' }, 'moderator') : null,
          p.muted_until ? h('span', { class: 'tag muted' }, 'muted') : null,
          moderationTools(roomId, p, { me, admin: isAdmin(), moderator: amModerator(), done: () => refreshPeople().catch(failed) }),
        ),
      ),
    );
    moderation.element.hidden = !amModerator();
  }

  /** Reads in a row that came back older than the events applied. */
  let stale = 0;
  /** Everything, from the API: at the start and after missed events. */
  async function refreshAll() {
    const asked = seq;
    const [shown, queue, status] = await Promise.all([
      get(`/rooms/${roomId}`),
      get(`/rooms/${roomId}/tracks`),
      get(`/rooms/${roomId}/playback/status`),
      refreshPeople(),
    ]);
    if (closed) return;
    // An event was applied while these reads were under way (the room
    // changed as the page opened): they may be older than it, and applying
    // them would undo it with no later event to say so. Read again.
    if (seq > asked && stale < 3) {
      stale += 1;
      await refreshAll();
      return;
    }
    stale = 0;
    room = shown.data;
    seq = Math.max(seq, Number(room.event_seq ?? -1));
    tracks = queue.tracks ?? [];
    showHeader();
    showQueueTitle();
    showTracks();
    player.follow(playbackOf(status.data));
    skip.refresh();
    played.refresh();
    chat.refresh();
  }

  // ---- events

  /** @param {import('../socket.js').Message} message */
  function onEvent({ type, data }) {
    if (closed || !data || (data.room_id && data.room_id !== roomId && type !== 'room_joined')) return;
    if (type === 'room_joined') {
      if (data.room?.id !== roomId) return;
      if (Array.isArray(data.online)) {
        online = new Set(data.online);
        showPeople();
      }
      // After a reconnect: anything missed meanwhile is fetched again.
      if (Number(data.seq) !== seq) refreshAll().catch(failed);
      return;
    }
    if (type === 'room_left' && data.reason) {
      notify(data.reason, 'error');
      go('/');
      return;
    }
    if (typeof data.seq === 'number') {
      // Heard already: while the socket moves to its room's replica
      // (socket.js), both sockets may carry the same event for a moment.
      // (Against the events heard, not `seq`: a read may be newer than an
      // event and its sibling read older, so the event must still apply.)
      if (!data.catch_up && data.seq <= heard) return;
      if (!data.catch_up) heard = data.seq;
      if (seq >= 0 && data.seq > seq + 1 && !data.catch_up) {
        seq = data.seq;
        refreshAll().catch(failed);
        return;
      }
      seq = Math.max(seq, data.seq);
    }
    const who = data.user?.username ?? data.voter?.username ?? 'Someone';
    switch (type) {
      case 'playback_started':
      case 'playback_paused':
      case 'playback_resumed':
      case 'playback_stopped':
      case 'track_skipped':
        // A catch-up begins with a skip to nothing, which resets the Vue
        // front end's player; here it would only cut the sound for the
        // instant before the `playback_started` that follows.
        if (type === 'track_skipped' && data.catch_up) break;
        player.follow(playbackOf(data));
        if (type === 'track_skipped' && data.reason === 'vote') happened('Skipped by vote');
        if (type === 'playback_started' || type === 'playback_stopped' || type === 'track_skipped') {
          skip.refresh();
          played.refresh();
        }
        if (type === 'playback_started' && data.track && !data.catch_up) happened(`Now playing: ${title(data.track)}`);
        if (type === 'playback_paused') happened('Paused');
        if (type === 'playback_resumed') happened('Resumed');
        if (type === 'playback_stopped') happened('Stopped');
        refreshQueue();
        break;
      case 'track_added':
        if (data.track) happened(`${data.track.uploader?.username ?? who} added ${title(data.track)}`);
        refreshQueue();
        break;
      case 'track_voted': {
        const track = tracks.find((t) => t.id === data.track?.id);
        if (track) happened(`${who} ${data.vote_added === false ? 'took back a vote for' : 'voted for'} ${title(track)}`);
        refreshQueue();
        break;
      }
      case 'track_removed':
        refreshQueue();
        break;
      case 'user_joined':
        happened(`${who} joined`);
        refreshPeople().catch(failed);
        break;
      case 'user_left':
        happened(`${who} left`);
        refreshPeople().catch(failed);
        break;
      case 'participant_updated':
        refreshPeople().catch(failed);
        break;
      case 'member_added':
      case 'member_removed':
        if (typeof data.user_id !== 'string') break;
        if (type === 'member_added') online.add(data.user_id);
        else online.delete(data.user_id);
        showPeople();
        // The votes needed follow the listeners present.
        skip.refresh();
        break;
      case 'skip_voted':
        skip.counted(data);
        break;
      case 'chat_message':
        chat.received(data);
        break;
      case 'chat_deleted':
        chat.deleted(data.message_id);
        break;
      case 'reaction_sent':
        chat.reacted(data);
        break;
      case 'room_state_updated':
        if (data.room) {
          room = { ...room, ...data.room };
          showHeader();
          showQueueTitle();
          refreshQueue();
        }
        break;
      case 'room_deleted':
        notify('This room was deleted by its administrator.', 'error');
        go('/');
        break;
      default:
        break;
    }
  }

  // ---- the page

  const status = h('p', { class: 'muted', role: 'status' }, 'Opening the room…');
  main.append(
    h(
      'div',
      { class: 'room-head' },
      headCover,
      h('div', { class: 'grow' }, heading, description, h('p', { class: 'meta' }, status)),
      adminTools,
    ),
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        { class: 'wide' },
        nowPlaying,
        h('section', { class: 'card' }, queueTitle, queueNote, queueList),
        uploader,
      ),
      h(
        'aside',
        {},
        h('section', { class: 'card' }, h('h2', { id: 'people-title' }, 'Listeners'), people),
        chat.element,
        moderation.element,
        h('section', { class: 'card' }, h('h2', { id: 'activity-title' }, 'What just happened'), activity),
        played.element,
      ),
    ),
  );
  showPlayback();

  const unsubscribe = onMessage(onEvent);
  (async () => {
    try {
      get('/genres')
        .then((list) => {
          genres = list.data ?? [];
          offerGenres();
        })
        .catch(() => {});
      // A member's reads go at once, one round trip before the room can be
      // heard; a newcomer's are refused, and follow its joining.
      joinRoom(roomId);
      const member = await refreshAll().then(
        () => true,
        (error) => {
          if (error instanceof ApiError && error.status === 403) return false;
          throw error;
        },
      );
      if (!member && !closed) {
        const joined = await post(`/rooms/${roomId}/join`);
        notify(`You joined “${joined.data.room.name}”.`);
        joinRoom(roomId);
        await refreshAll();
      }
      if (closed) return;
      status.textContent = `Run by ${room.administrator?.username ?? 'someone'} · opened ${when(room.created_at)}`;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) status.textContent = 'This room does not exist (any more).';
      else status.textContent = error instanceof Error ? error.message : 'The room could not be opened.';
      heading.textContent = 'Room unavailable';
    }
  })();

  return () => {
    closed = true;
    unsubscribe();
    leaveRoom();
    player.stop();
    clearInterval(ticker);
    clearInterval(reporter);
    clearTimeout(queueTimer);
    skip.stop();
    played.stop();
    Reflect.deleteProperty(window, 'spotikSync');
  };
}
