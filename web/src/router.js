// The app's routes, in the address bar: links inside the app change the
// view without reloading, and each route is also a real URL the server
// answers with the app (a shared room link, a reload, the back button).

/**
 * @typedef {(main: HTMLElement, params: string[], query: URLSearchParams) => (void | (() => void))} View
 * @typedef {{ pattern: RegExp, view: View, open?: boolean, title: string }} Route
 */

/** @type {Route[]} */
let routes = [];
/** @type {(() => void) | void} */
let leave;
/** @type {(path: string) => boolean} */
let admitted = () => true;

/**
 * @param {Route[]} table
 * @param {(path: string) => boolean} mayEnter false sends the reader to sign in
 */
export function start(table, mayEnter) {
  routes = table;
  admitted = mayEnter;
  addEventListener('popstate', render);
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a') : null;
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api') || link.hasAttribute('download')) return;
    event.preventDefault();
    go(url.pathname + url.search);
  });
  render();
}

/** @param {string} path @param {boolean} [replace] */
export function go(path, replace = false) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

export function render() {
  const main = /** @type {HTMLElement} */ (document.getElementById('main'));
  if (typeof leave === 'function') leave();
  leave = undefined;
  const path = location.pathname;
  const route = routes.find((r) => r.pattern.test(path));
  if (route && !route.open && !admitted(path)) {
    go(`/login?next=${encodeURIComponent(path + location.search)}`, true);
    return;
  }
  while (main.firstChild) main.removeChild(main.firstChild);
  if (!route) {
    const heading = document.createElement('h1');
    heading.textContent = 'There is nothing here';
    main.appendChild(heading);
    document.title = 'Not found · Spotik';
    return;
  }
  document.title = `${route.title} · Spotik`;
  const match = /** @type {RegExpExecArray} */ (route.pattern.exec(path));
  leave = route.view(main, match.slice(1).map(decodeURIComponent), new URLSearchParams(location.search));
  // Screen readers and keyboards start at the new view's content.
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}
