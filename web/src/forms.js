// Sending a form to the API: the server's objection to a field is shown
// next to that field (its 422 `errors`), any other failure as a message.

import { ApiError } from './api.js';
import { h, showFieldErrors } from './dom.js';
import { failed } from './notify.js';

/**
 * Runs `act` when `form` is submitted. With `inline`, the failure's
 * sentence is also written at the form's foot (sign-in and sign-up, where
 * the reader's eyes are) and the button is held while it runs; without,
 * a failure no field explains is shown as a notice.
 * @param {HTMLFormElement} form
 * @param {() => Promise<unknown>} act
 * @param {{ inline?: boolean }} [options]
 */
export function submitting(form, act, { inline = false } = {}) {
  const status = inline ? form.appendChild(h('p', { class: 'form-error', role: 'alert', hidden: true })) : null;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = /** @type {HTMLButtonElement} */ (form.querySelector('button[type=submit]'));
    if (status) {
      button.disabled = true;
      status.hidden = true;
    }
    showFieldErrors(form, undefined);
    try {
      await act();
    } catch (error) {
      const shown = showFieldErrors(form, error instanceof ApiError ? error.fields : undefined);
      if (status) {
        status.textContent = error instanceof Error ? error.message : 'Something went wrong.';
        status.hidden = false;
      } else if (!shown) {
        failed(error);
      }
    } finally {
      if (status) button.disabled = false;
    }
  });
}
