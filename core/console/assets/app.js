// The console's entry: loads the catalogue (German, or the language the user chose), finds the
// session, routes by the URL's hash (#/cases/<id>), and shows only the screens the user's role
// may use — the API decides anyway.
import { api, setCsrfToken, whenSignedOut } from './api.js';
import { h, announce } from './dom.js';
import { loadMessages, t, label, LANGUAGES, language, preferredLanguage, rememberLanguage } from './i18n.js';
import { signInView, inviteView } from './views-auth.js';
import { caseloadView, caseView, newPersonView, overdueView, gapsView } from './views-cases.js';
import { pluginsView, connectorsView, partnersView, usersView, auditView } from './views-admin.js';

const state = { user: null };

const navigation = {
  case_manager: [['#/cases', 'nav.caseload'], ['#/persons/new', 'nav.new_person']],
  coordinator: [['#/cases', 'nav.cases_read'], ['#/overdue', 'nav.overdue'], ['#/gaps', 'nav.gaps']],
  admin: [['#/admin/plugins', 'nav.plugins'], ['#/admin/connectors', 'nav.connectors'], ['#/admin/partners', 'nav.partners'], ['#/admin/users', 'nav.users']],
  auditor: [['#/audit', 'nav.audit']],
  authority_officer: [['#/admin/partners', 'nav.partners']],
};

function home(user) {
  return (navigation[user.role] || [['#/admin/partners']])[0][0];
}

function renderChrome() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  nav.replaceChildren();
  who.replaceChildren();
  if (!state.user) return;
  const links = (navigation[state.user.role] || []).map(([href, key]) =>
    h('a', { href, 'aria-current': location.hash.startsWith(href) ? 'page' : null }, t(key)),
  );
  nav.append(h('ul', {}, links.map((link) => h('li', {}, link))));
  who.append(
    h('span', {}, t('who.signed_in', { name: state.user.name, role: label('role', state.user.role) })),
    ' ',
    h('button', { type: 'button', class: 'link', onclick: signOut }, t('nav.sign_out')),
  );
}

async function signOut() {
  try {
    await api('DELETE', '/api/v1/session', undefined, { quiet401: true });
  } catch {
    // Ended already: the same outcome.
  }
  state.user = null;
  setCsrfToken(null);
  location.hash = '#/signin';
  announce(t('signin.signed_out'));
}

export function signedIn(session) {
  state.user = session.user;
  setCsrfToken(session.csrf_token);
  location.hash = home(session.user);
}

const routes = [
  [/^#\/signin$/, () => signInView(signedIn), true],
  [/^#\/invite\/([0-9a-f]{64})$/, (token) => inviteView(token), true],
  [/^#\/cases$/, () => caseloadView(state.user, new URLSearchParams())],
  [/^#\/cases\?(.*)$/, (search) => caseloadView(state.user, new URLSearchParams(search))],
  [/^#\/cases\/([A-Za-z0-9_]+)$/, (id) => caseView(state.user, id)],
  [/^#\/persons\/new$/, () => newPersonView(state.user)],
  [/^#\/overdue$/, () => overdueView(state.user)],
  [/^#\/admin\/plugins$/, () => pluginsView()],
  [/^#\/admin\/connectors$/, () => connectorsView()],
  [/^#\/admin\/partners$/, () => partnersView()],
  [/^#\/admin\/users$/, () => usersView()],
  [/^#\/gaps$/, () => gapsView()],
  [/^#\/audit$/, () => auditView()],
  [/^#\/audit\?(.*)$/, (search) => auditView(new URLSearchParams(search))],
];

async function route() {
  const main = document.getElementById('main');
  const hash = location.hash || '#/';
  for (const [pattern, view, isPublic] of routes) {
    const match = pattern.exec(hash);
    if (!match) continue;
    if (!isPublic && !state.user) {
      location.hash = '#/signin';
      return;
    }
    renderChrome();
    main.replaceChildren(h('p', {}, t('app.loading')));
    try {
      const screen = await view(...match.slice(1).map(decodeURIComponent));
      main.replaceChildren(screen);
    } catch (error) {
      main.replaceChildren(h('p', { role: 'alert' }, error.status === 404 ? t('app.not_found') : t('app.error', { message: error.message })));
    }
    const heading = main.querySelector('h1');
    document.title = `${heading ? heading.textContent : ''} – ${t('app.title')}`;
    main.focus();
    return;
  }
  location.hash = state.user ? home(state.user) : '#/signin';
}

// The texts of index.html itself and the language switch in the header.
function renderStatic() {
  for (const element of document.querySelectorAll('[data-i18n]')) element.textContent = t(element.dataset.i18n);
  for (const element of document.querySelectorAll('[data-i18n-label]')) element.setAttribute('aria-label', t(element.dataset.i18nLabel));
  const holder = document.getElementById('language');
  // Each language named in itself (and marked so for screen readers).
  const choice = h('select', { id: 'language-select' }, LANGUAGES.map((code) =>
    h('option', { value: code, lang: code, selected: code === language() }, t(`language.${code}`))));
  choice.addEventListener('change', () => switchLanguage(choice.value));
  holder.replaceChildren(h('label', { for: 'language-select' }, t('app.language')), ' ', choice);
}

async function switchLanguage(code) {
  rememberLanguage(code);
  await loadMessages(code);
  renderStatic();
  await route();
  document.getElementById('language-select').focus();
  announce(t('app.language_changed'));
}

async function start() {
  await loadMessages(preferredLanguage());
  renderStatic();
  // The skip link moves focus without touching the hash the router reads.
  document.querySelector('.skip').addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('main').focus();
  });
  whenSignedOut(() => {
    state.user = null;
    setCsrfToken(null);
    if (!location.hash.startsWith('#/signin') && !location.hash.startsWith('#/invite/')) location.hash = '#/signin';
  });
  try {
    const session = await api('GET', '/api/v1/session', undefined, { quiet401: true });
    state.user = session.body.user;
    setCsrfToken(session.body.csrf_token);
  } catch {
    state.user = null;
  }
  window.addEventListener('hashchange', route);
  if (state.user && (!location.hash || location.hash === '#/' || location.hash === '#/signin')) {
    location.hash = home(state.user);
  } else {
    await route();
  }
}

start();
