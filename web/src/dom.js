// Building the page. Every text goes in as a text node or an attribute
// value, never as HTML: names, titles and genres other people typed cannot
// become markup (there is no innerHTML anywhere in the app; the lint
// forbids it).

/** @typedef {string | number | Node | null | undefined | false} Child */
/** @typedef {Record<string, unknown>} Props */

/**
 * An element with attributes, listeners (`onclick`, …) and children.
 * `class` sets the class, `hidden`/`disabled`/`checked`/`value` the
 * properties; any other key an attribute.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    } else if (key === 'hidden' || key === 'disabled' || key === 'checked' || key === 'value' || key === 'multiple') {
      /** @type {any} */ (element)[key] = value;
    } else {
      element.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

/**
 * @param {Node} parent
 * @param {(Child | Child[])[]} children
 */
export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces what `parent` holds.
 * @param {Node} parent
 * @param {...(Child | Child[])} children
 */
export function fill(parent, ...children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/**
 * `m:ss` (or `h:mm:ss`) of a duration in milliseconds.
 * @param {number} ms
 */
export function clock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/**
 * A date the way the reader's locale writes it.
 * @param {string | null | undefined} iso
 */
export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleString();
}

/**
 * A track's title: its file name without the extension.
 * @param {{ original_name: string }} track
 */
export function title(track) {
  return track.original_name.replace(/\.[a-z0-9]{2,4}$/i, '');
}

/**
 * A labelled form field: the label, the control, and a place for the
 * server's error about it (tied by `aria-describedby`).
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control
 * @param {string} [hint]
 */
export function field(label, control, hint) {
  const id = control.id || `f-${control.name}-${Math.random().toString(36).slice(2, 8)}`;
  control.id = id;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.setAttribute('aria-describedby', `${id}-error`);
  return h(
    'div',
    { class: 'field', 'data-field': control.name },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint' }, hint) : null,
    error,
  );
}

/**
 * Shows each field's errors next to it (the API's 422 `errors`), clears the
 * others; focuses the first field in error. False when none was shown.
 * @param {HTMLFormElement} form
 * @param {Record<string, string[]> | undefined} errors
 */
export function showFieldErrors(form, errors) {
  let first = null;
  for (const box of form.querySelectorAll('[data-field]')) {
    const name = box.getAttribute('data-field') ?? '';
    const error = /** @type {HTMLElement} */ (box.querySelector('.field-error'));
    const control = box.querySelector('input, select, textarea');
    const messages = errors?.[name];
    error.hidden = !messages;
    error.textContent = messages ? messages.join(' ') : '';
    control?.setAttribute('aria-invalid', messages ? 'true' : 'false');
    if (messages && !first) first = control;
  }
  if (first instanceof HTMLElement) first.focus();
  return first !== null;
}
