// Administration (plugins, connectors and dead letters, partners and agreements, users with invites
// and API tokens) and the auditor's log.
import { api, query } from './api.js';
import { h, field, options, formAlert, showError, clearErrors, announce, table, date, dateTime, confirmDialog } from './dom.js';
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

const AGREEMENT_COLUMNS = ['agreements.agreement', 'agreements.parties', 'agreements.services', 'agreements.valid', 'agreements.status'];
const CONNECTOR_COLUMNS = ['connectors.name', 'connectors.type', 'connectors.partners', 'connectors.breaker', 'connectors.queue',
  'connectors.dead', 'connectors.last_success', 'connectors.last_error'];
const DEAD_LETTER_COLUMNS = ['dead.id', 'dead.partner', 'dead.connector', 'dead.type', 'dead.case', 'dead.created', 'dead.error', 'dead.actions'];
const TOKEN_COLUMNS = ['tokens.prefix', 'tokens.label', 'tokens.created', 'tokens.state', 'users.actions'];

export async function partnersView() {
  const [partners, agreements] = await Promise.all([api('GET', '/api/v1/partners'), api('GET', '/api/v1/agreements')]);
  const rows = partners.body.items.map((partner) =>
    h('tr', {},
      h('td', {}, partner.slug),
      h('td', {}, partner.name),
      h('td', {}, partner.kind),
      h('td', {}, (partner.towns ?? []).join(', ')),
      h('td', {}, partner.active === false ? t('app.no') : t('app.yes'))));
  const agreementRows = agreements.body.items.map((agreement) =>
    h('tr', {},
      h('td', {}, agreement.title),
      h('td', {}, agreement.parties.map((party) => party.partner).join(', ')),
      h('td', {}, agreement.services.map((service) => label('service', service)).join(', ')),
      h('td', {}, t('agreements.period', { from: date(agreement.valid_from), to: agreement.valid_to ? date(agreement.valid_to) : t('agreements.open_end') })),
      h('td', {}, h('span', { class: `badge ${agreement.effective_status}` }, label('agreement_status', agreement.effective_status)))));
  return h('section', {}, h('h1', {}, t('partners.title')),
    table(t('partners.title'), [t('partners.slug'), t('partners.name'), t('partners.kind'), t('partners.towns'), t('partners.active')], rows),
    h('h2', { id: 'agreements-h' }, t('agreements.title')),
    agreementRows.length
      ? table(t('agreements.title'), AGREEMENT_COLUMNS.map((key) => t(key)), agreementRows, { hiddenCaption: true })
      : h('p', {}, t('app.none')));
}

// Connector instances with their queue and breaker, and the dead letters an operator re-runs or
// sets aside (with a reason).
export async function connectorsView() {
  const connectorsHolder = h('div');
  async function loadConnectors() {
    const connectors = await api('GET', '/api/v1/connectors');
    const rows = connectors.body.items.map((connector) =>
      h('tr', {},
        h('td', {}, connector.name),
        h('td', {}, connector.type),
        h('td', {}, connector.partners.join(', ')),
        h('td', {}, label('breaker', connector.breaker?.state)),
        h('td', {}, String(connector.queue_depth)),
        h('td', {}, String(connector.dead_letters)),
        h('td', {}, dateTime(connector.last_success)),
        h('td', {}, connector.last_error ? `${dateTime(connector.last_error.at)}: ${connector.last_error.error}` : '')));
    connectorsHolder.replaceChildren(rows.length
      ? table(t('connectors.title'), CONNECTOR_COLUMNS.map((key) => t(key)), rows, { hiddenCaption: true })
      : h('p', {}, t('connectors.none')));
  }
  const body = h('tbody', { 'data-testid': 'dead-letters' });
  const holder = h('div', {}, formAlert());
  const count = h('p', { role: 'status' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('app.more'));
  let cursor = null;
  const showCount = () => {
    count.textContent = t('dead.count', { count: body.rows.length });
  };

  const deadHeading = h('h2', { tabindex: '-1' }, t('dead.title'));
  // A message re-run or set aside leaves the list; focus goes to the next one (or the heading).
  const settled = (row) => {
    const neighbour = row.nextElementSibling ?? row.previousElementSibling;
    row.remove();
    showCount();
    (neighbour?.querySelector('button') ?? deadHeading).focus();
  };

  function deadLetterRow(message) {
    const retry = h('button', { type: 'button', 'aria-label': t('dead.retry_for', { id: message.id }) }, t('dead.retry'));
    const reason = h('input', { name: 'reason', required: true, maxlength: '500', autocomplete: 'off' });
    // A short visible label; screen readers also hear which message it is for.
    const reasonField = field(t('dead.reason'), reason);
    reasonField.querySelector('label').append(h('span', { class: 'visually-hidden' }, ` ${message.id}`));
    const discard = h('form', { class: 'inline-form plain', novalidate: true },
      formAlert(),
      reasonField,
      h('button', { type: 'submit', class: 'secondary', 'aria-label': t('dead.discard_for', { id: message.id }) }, t('dead.discard')));
    const row = h('tr', { 'data-id': message.id },
      h('td', { class: 'id' }, message.id),
      h('td', {}, message.partner),
      h('td', {}, message.connector),
      h('td', {}, message.type),
      h('td', { class: 'id' }, message.case_id),
      h('td', {}, dateTime(message.created_at)),
      h('td', {}, message.last_error ?? ''),
      h('td', {}, retry, discard));
    // Re-run or discard: the row goes, the connectors' figures reload, an error shows at the form.
    async function act(action, body, done) {
      clearErrors(discard);
      try {
        await api('POST', `/api/v1/outbox/${encodeURIComponent(message.id)}/${action}`, body);
        settled(row);
        announce(t(done, { id: message.id }));
        await loadConnectors().catch((error) => showError(holder, error));
      } catch (error) {
        showError(discard, error);
      }
    }
    retry.addEventListener('click', () => act('retry', {}, 'dead.retried'));
    discard.addEventListener('submit', (event) => {
      event.preventDefault();
      act('discard', { reason: reason.value }, 'dead.discarded');
    });
    return row;
  }

  async function load() {
    const page = await api('GET', `/api/v1/outbox/dead-letters${query({ limit: 50, cursor })}`);
    body.append(...page.body.items.map(deadLetterRow));
    showCount();
    cursor = page.body.next_cursor ?? null;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => load().catch((error) => showError(holder, error)));
  await Promise.all([loadConnectors(), load()]);
  return h('section', {}, h('h1', {}, t('connectors.title')),
    connectorsHolder,
    deadHeading,
    h('p', { class: 'note' }, t('dead.intro')),
    holder,
    h('table', {}, h('caption', { class: 'visually-hidden' }, t('dead.title')),
      h('thead', {}, h('tr', {}, DEAD_LETTER_COLUMNS.map((key) => h('th', { scope: 'col' }, t(key))))),
      body),
    count,
    more);
}

const ROLES = ['case_manager', 'coordinator', 'authority_officer', 'auditor', 'admin'];

// A user's API tokens (never the secret: its first characters) with Revoke, after a confirmation.
async function showTokens(user, cell) {
  const tokens = await api('GET', `/api/v1/users/${encodeURIComponent(user.id)}/tokens`);
  const alert = formAlert();
  const rows = tokens.body.items.map((token) => {
    const revoked = Boolean(token.revoked_at);
    const state = revoked
      ? h('span', { class: 'badge revoked' }, t('tokens.revoked_on', { date: dateTime(token.revoked_at) }))
      : h('span', { class: 'badge' }, t('tokens.active'));
    const action = h('td', {});
    if (!revoked) {
      const revokeLabel = t('tokens.revoke_for', { prefix: token.token_prefix, name: user.name });
      const revoke = h('button', { type: 'button', class: 'secondary', 'aria-label': revokeLabel }, t('tokens.revoke'));
      revoke.addEventListener('click', async () => {
        clearErrors(cell);
        const sure = await confirmDialog(t('tokens.confirm', { prefix: token.token_prefix, name: user.name }), t('tokens.revoke'));
        if (!sure) return;
        try {
          await api('POST', `/api/v1/tokens/${encodeURIComponent(token.id)}/revoke`, {});
          await showTokens(user, cell);
          announce(t('tokens.revoked', { prefix: token.token_prefix }));
          // The button is gone with the old list: focus the list it was in.
          const list = cell.querySelector('table');
          list?.setAttribute('tabindex', '-1');
          list?.focus();
        } catch (error) {
          showError(cell, error);
        }
      });
      action.append(revoke);
    }
    return h('tr', {},
      h('td', {}, h('code', {}, `${token.token_prefix}…`)),
      h('td', {}, token.label ?? ''),
      h('td', {}, dateTime(token.created_at)),
      h('td', {}, state),
      action);
  });
  cell.replaceChildren(alert, rows.length
    ? table(t('tokens.title', { name: user.name }), TOKEN_COLUMNS.map((key) => t(key)), rows)
    : h('p', {}, t('tokens.none', { name: user.name })));
}

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
      const tokensId = `tokens-${user.id}`;
      const tokensButton = h('button', {
        type: 'button',
        class: 'secondary',
        'aria-expanded': 'false',
        'aria-controls': tokensId,
        'aria-label': t('tokens.show_for', { name: user.name }),
      }, t('tokens.show'));
      const tokensRow = h('tr', { id: tokensId, class: 'detail', hidden: true }, h('td', { colspan: '5' }));
      tokensButton.addEventListener('click', async () => {
        const open = tokensButton.getAttribute('aria-expanded') === 'true';
        if (open) {
          tokensButton.setAttribute('aria-expanded', 'false');
          tokensRow.hidden = true;
          return;
        }
        try {
          await showTokens(user, tokensRow.firstChild);
          tokensButton.setAttribute('aria-expanded', 'true');
          tokensRow.hidden = false;
        } catch (error) {
          showError(holder, error);
        }
      });
      return [
        h('tr', {},
          h('td', {}, user.name),
          h('td', {}, label('role', user.role)),
          h('td', {}, user.organisation ?? ''),
          h('td', {}, disabled ? t('users.disabled') : t('users.enabled')),
          h('td', { class: 'buttons' }, invite, ' ', toggle, ' ', tokensButton)),
        tokensRow,
      ];
    }).flat());
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
