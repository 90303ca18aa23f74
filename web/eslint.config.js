// The app's lint: ESLint's recommended rules, and no way to write HTML
// from a string (every text goes in as text: web/src/dom.js).
import js from '@eslint/js';

const browser = Object.fromEntries(
  [
    'window', 'document', 'location', 'history', 'localStorage', 'navigator', 'performance', 'fetch', 'FormData',
    'URL', 'URLSearchParams', 'WebSocket', 'XMLHttpRequest', 'AudioContext', 'OfflineAudioContext', 'AudioBuffer', 'HTMLElement',
    'HTMLFormElement', 'HTMLButtonElement', 'HTMLInputElement', 'HTMLSelectElement', 'HTMLTextAreaElement',
    'Element', 'Node', 'Event', 'EventListener', 'DOMException', 'AbortController', 'AbortSignal', 'addEventListener',
    'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'confirm', 'prompt', 'console',
  ].map((name) => [name, 'readonly']),
);

export default [
  { ignores: ['node_modules/**', 'tests/**'] },
  js.configs.recommended,
  {
    files: ['src/**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: browser },
    rules: {
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'Text goes in as text (dom.js h/fill).' },
        { property: 'outerHTML', message: 'Text goes in as text (dom.js h/fill).' },
        { property: 'insertAdjacentHTML', message: 'Text goes in as text (dom.js h/fill).' },
      ],
      'no-restricted-globals': ['error', 'eval'],
      'no-implied-eval': 'error',
    },
  },
];
