// Sign in and create an account. After either, the reader goes where they
// were headed (`?next=`: a room link opened while signed out leads into
// the room).

import { login, register } from '../auth.js';
import { field, h } from '../dom.js';
import { submitting } from '../forms.js';
import { go } from '../router.js';

/** Where to go once signed in: only a path of this app. */
function next(/** @type {URLSearchParams} */ query) {
  const target = query.get('next') ?? '/';
  return target.startsWith('/') && !target.startsWith('//') ? target : '/';
}

/** @type {import('../router.js').View} */
export function loginView(main, _params, query) {
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    field('E-mail', email),
    field('Password', password),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    h('p', {}, 'New here? ', h('a', { href: `/register${location.search}` }, 'Create an account')),
  );
  submitting(
    form,
    async () => {
      await login(email.value.trim(), password.value);
      go(next(query), true);
    },
    { inline: true },
  );
  main.appendChild(form);
  email.focus();
}

/** @type {import('../router.js').View} */
export function registerView(main, _params, query) {
  const username = h('input', { name: 'username', autocomplete: 'nickname', required: true, maxlength: 50 });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const confirmation = h('input', {
    name: 'password_confirmation',
    type: 'password',
    autocomplete: 'new-password',
    required: true,
  });
  const form = h(
    'form',
    { class: 'card narrow', 'aria-labelledby': 'register-title' },
    h('h1', { id: 'register-title' }, 'Create your account'),
    field('Name others see', username),
    field('E-mail', email),
    field('Password', password, 'At least 8 characters.'),
    field('Password again', confirmation),
    h('button', { type: 'submit', class: 'primary' }, 'Create account'),
    h('p', {}, 'Have an account? ', h('a', { href: `/login${location.search}` }, 'Sign in')),
  );
  submitting(
    form,
    async () => {
      await register({
        username: username.value.trim(),
        email: email.value.trim(),
        password: password.value,
        password_confirmation: confirmation.value,
      });
      go(next(query), true);
    },
    { inline: true },
  );
  main.appendChild(form);
  username.focus();
}
