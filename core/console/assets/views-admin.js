// Administration (plugins, partners, users with invites) and the auditor's log.
import { api, query } from './api.js';
import { h, field, options, formAlert, showError, clearErrors, announce, table, date } from './dom.js';
import { t, label } from './i18n.js';

export async function pluginsView() {
  const plugins = await api('GET', '/api/v1/plugins');
  const rows = plugins.body.items.map((plugin) =>
    h('tr', {},
      h('td', {}, plugin.id),
      h('td', {}, plugin.version),
      h('td', {}, h('span', { class: `badge ${plugin.state}` }, label('state', plugin.state))),
      h('td', {}, plugin.reason ?? '')));
  return h('section', {}, h('h1', {}, t('plugins.title')),
    rows.length ? table(t('plugins.title'), [t('plugins.id'), t('plugins.version'), t('plugins.state'), t('plugins.reason')], rows) : h('p', {}, t('app.none')));
}

export async function partnersView() {
  const partners = await api('GET', '/api/v1/partners');
  const rows = partners.body.items.map((partner) =>
    h('tr', {},
      h('td', {}, partner.slug),
      h('td', {}, partner.name),
      h('td', {}, partner.kind),
      h('td', {}, (partner.towns ?? []).join(', ')),
      h('td', {}, partner.active === false ? t('app.no') : t('app.yes'))));
  return h('section', {}, h('h1', {}, t('partners.title')),
    table(t('partners.title'), [t('partners.slug'), t('partners.name'), t('partners.kind'), t('partners.towns'), t('partners.active')], rows));
}

const ROLES = ['case_manager', 'coordinator', 'authority_officer', 'auditor', 'admin'];

export async function usersView() {
  const section = h('section', {}, h('h1', {}, t('users.title')));
  const linkSlot = h('div', { class: 'notice', 'aria-live': 'polite' });
  const body = h('tbody');
  const tableAlert = formAlert();
  const holder = h('div', {}, tableAlert);
  async function load() {
    const users = await api('GET', '/api/v1/users');
    body.replaceChildren(...users.body.items.map((user) => {
      const disabled = Boolean(user.disabled_at);
      const invite = h('button', { type: 'button', disabled, 'aria-label': t('users.invite_for', { name: user.name }) }, t('users.invite'));
      invite.addEventListener('click', async () => {
        try {
          const made = await api('POST', `/api/v1/users/${user.id}/invite`, {});
          const link = `${location.origin}${made.body.path}`;
          const linkId = `invite-link-${user.id}`;
          linkSlot.replaceChildren(
            h('label', { for: linkId }, t('users.invite_link', { name: user.name, expires: made.body.expires_at })),
            h('input', { id: linkId, readonly: true, value: link, class: 'wide', 'data-testid': 'invite-link' }));
          linkSlot.querySelector('input').select();
        } catch (error) {
          showError(holder, error);
        }
      });
      const toggle = h('button', { type: 'button', class: 'secondary' }, disabled ? t('users.enable') : t('users.disable'));
      toggle.addEventListener('click', async () => {
        try {
          await api('POST', `/api/v1/users/${user.id}/${disabled ? 'enable' : 'disable'}`, {});
          await load();
          announce(t('app.saved'));
        } catch (error) {
          showError(holder, error);
        }
      });
      return h('tr', {},
        h('td', {}, user.name),
        h('td', {}, label('role', user.role)),
        h('td', {}, user.organisation ?? ''),
        h('td', {}, disabled ? t('users.disabled') : t('users.enabled')),
        h('td', { class: 'buttons' }, invite, ' ', toggle));
    }));
  }
  await load();
  const organisations = await api('GET', '/api/v1/organisations');
  const form = h('form', { class: 'inline-form', novalidate: true },
    h('h2', {}, t('users.create')),
    formAlert(),
    field(t('users.name'), h('input', { name: 'name', required: true, autocomplete: 'off' })),
    field(t('users.role'), h('select', { name: 'role' }, options(ROLES, (r) => label('role', r)))),
    field(t('users.organisation'), h('select', { name: 'organisation' }, options(organisations.body.items.map((o) => o.slug), (slug) => slug, { empty: '—' }))),
    h('button', { type: 'submit' }, t('users.create')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const request = { name: form.elements.name.value, role: form.elements.role.value };
    if (form.elements.organisation.value) request.organisation = form.elements.organisation.value;
    try {
      // The response's API token is not shown: console users sign in with an invite.
      await api('POST', '/api/v1/users', request);
      form.reset();
      await load();
      announce(t('app.saved'));
    } catch (error) {
      showError(form, error);
    }
  });
  section.append(holder, linkSlot,
    h('table', {}, h('caption', {}, t('users.title')),
      h('thead', {}, h('tr', {}, ['users.name', 'users.role', 'users.organisation', 'users.state', 'users.actions'].map((key) => h('th', { scope: 'col' }, t(key))))),
      body),
    form);
  return section;
}

export async function auditView(params = new URLSearchParams()) {
  const filter = h('form', { class: 'filters', 'aria-label': t('audit.title') },
    field(t('audit.filter_kind'), h('select', { name: 'kind' }, options(['access', 'security'], (kind) => t(`audit.kind_${kind}`), { empty: t('audit.any_kind'), selected: params.get('kind') || '' }))),
    field(t('audit.case_id'), h('input', { name: 'case_id', value: params.get('case_id') || '', autocomplete: 'off' })),
    h('button', { type: 'submit' }, t('audit.apply')));
  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/audit${query({ kind: filter.elements.kind.value, case_id: filter.elements.case_id.value.trim() })}`;
  });
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('app.more'));
  let cursor = null;
  async function load() {
    const page = await api('GET', `/api/v1/audit${query({ kind: params.get('kind'), case_id: params.get('case_id'), limit: 50, cursor })}`);
    for (const entry of page.body.items) {
      body.append(h('tr', {},
        h('td', {}, entry.at),
        h('td', {}, entry.user_name ?? ''),
        h('td', {}, entry.action),
        h('td', {}, `${entry.object_type} ${entry.object_id ?? ''}`),
        h('td', {}, entry.kind)));
    }
    cursor = page.body.next_cursor ?? null;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => load().catch((error) => announce(t('app.error', { message: error.message }))));
  await load();
  return h('section', {}, h('h1', {}, t('audit.title')), filter,
    h('table', {}, h('caption', {}, t('audit.title')),
      h('thead', {}, h('tr', {}, ['audit.at', 'audit.user', 'audit.action', 'audit.object', 'audit.kind'].map((key) => h('th', { scope: 'col' }, t(key))))),
      body),
    more);
}
