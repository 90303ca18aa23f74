// Messages for the reader: errors and confirmations, announced to screen
// readers by the live region they are written into, dismissable.

import { h } from './dom.js';

/**
 * @param {string} message
 * @param {'error' | 'info'} [kind]
 */
export function notify(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const toast = h(
    'div',
    { class: `toast ${kind}` },
    h('span', {}, message),
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => toast.remove() }, '×'),
  );
  box.appendChild(toast);
  setTimeout(() => toast.remove(), kind === 'error' ? 10_000 : 4_000);
}

/**
 * Shows what went wrong: an error's own sentence, or a general one.
 * @param {unknown} error
 */
export function failed(error) {
  if (error instanceof DOMException && error.name === 'AbortError') return;
  notify(error instanceof Error && error.message ? error.message : 'Something went wrong.', 'error');
}
