// Case management: caseload, case page (phase, goals, tasks, consent, referrals, timeline),
// recording a participant with the duplicate warning, and the coordinator's overdue tasks.
import { api, query } from './api.js';
import { h, field, options, formAlert, showError, clearErrors, announce, table, date } from './dom.js';
import { t, label } from './i18n.js';

const PHASES = ['access', 'intake', 'assessment', 'planning', 'linking', 'monitoring', 'reassessment', 'closed'];
const CLOSURE_REASONS = ['goals_reached', 'moved_away', 'referred_to_other_case_management', 'no_contact', 'declined', 'other'];
const LIFE_DOMAINS = ['residence_status', 'language', 'school_education', 'vocational_training_work', 'recognition', 'housing', 'health', 'family_childcare', 'income_benefits', 'social_participation'];
const NOTE_KINDS = ['meeting', 'phone', 'home_visit', 'accompaniment', 'other'];
const PURPOSES = ['referral', 'joint_case_planning', 'outcome_feedback'];
const CATEGORIES = ['identity', 'contact', 'residence_status', 'education_work', 'language_level', 'health', 'family'];
const TOWNS = ['Altenberge', 'Emsdetten', 'Greven', 'Hörstel', 'Hopsten', 'Horstmar', 'Ibbenbüren', 'Ladbergen', 'Laer', 'Lengerich', 'Lienen', 'Lotte', 'Metelen', 'Mettingen', 'Neuenkirchen', 'Nordwalde', 'Ochtrup', 'Recke', 'Rheine', 'Saerbeck', 'Steinfurt', 'Tecklenburg', 'Westerkappeln', 'Wettringen'];
const RESIDENCE = ['residence_permit', 'settlement_permit', 'duldung', 'aufenthaltsgestattung', 'eu_free_movement', 'naturalised', 'other'];
const GENDERS = ['female', 'male', 'diverse', 'unspecified'];

// The local date (toISOString would give UTC's, a day off around midnight).
const today = () => {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
};
const personName = (person) => `${person.given_names} ${person.family_name}`;

let groupCounter = 0;

// Sends a form's change: on success clears the form, reloads what shows it and announces it;
// otherwise shows the API's error next to the field it names.
async function save(form, send, refresh) {
  try {
    await send();
    form.reset();
    await refresh();
    announce(t('app.saved'));
  } catch (error) {
    showError(form, error);
  }
}

function checkboxGroup(legend, name, values, prefix) {
  const slot = h('p', { class: 'field-error', id: `group${++groupCounter}-error`, 'aria-live': 'polite' });
  return h(
    'fieldset',
    { class: 'field' },
    h('legend', {}, legend),
    values.map((value) =>
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name, value, 'aria-describedby': slot.id }), ' ', label(prefix, value)),
    ),
    slot,
  );
}

const checked = (form, name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);

// ---- caseload ----

export async function caseloadView(user, params) {
  const readOnly = user.role !== 'case_manager';
  const filter = h(
    'form',
    { class: 'filters', 'aria-label': t('cases.filter') },
    field(t('cases.phase'), h('select', { name: 'phase' }, options(PHASES, (p) => label('phase', p), { empty: t('cases.any_phase'), selected: params.get('phase') || '' }))),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'overdue', checked: params.get('overdue') === 'true' }), ' ', t('cases.overdue')),
    h('button', { type: 'submit' }, t('cases.apply')),
  );
  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    const search = query({ phase: filter.elements.phase.value, overdue: filter.elements.overdue.checked ? 'true' : '' });
    location.hash = `#/cases${search}`;
  });
  const body = h('tbody');
  const count = h('p', { role: 'status' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('app.more'));
  let cursor = null;
  let shown = 0;
  async function load() {
    const page = await api('GET', `/api/v1/cases${query({ phase: params.get('phase'), overdue: params.get('overdue'), limit: 25, cursor })}`);
    for (const item of page.body.items) {
      body.append(
        h('tr', {},
          h('td', {}, h('a', { href: `#/cases/${item.id}` }, personName(item.person))),
          h('td', {}, label('phase', item.phase)),
          h('td', {}, item.town),
          h('td', {}, item.case_manager?.name ?? ''),
          h('td', {}, date(item.opened_on))),
      );
    }
    shown += page.body.items.length;
    count.textContent = t('cases.count', { count: shown });
    cursor = page.body.next_cursor ?? null;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => load().catch((error) => announce(t('app.error', { message: error.message }))));
  await load();
  return h('section', {},
    h('h1', {}, readOnly ? t('cases.title_read') : t('cases.title')),
    filter,
    h('table', {},
      h('caption', { class: 'visually-hidden' }, readOnly ? t('cases.title_read') : t('cases.title')),
      h('thead', {}, h('tr', {}, ['cases.col_person', 'cases.col_phase', 'cases.col_town', 'cases.col_manager', 'cases.col_opened'].map((key) => h('th', { scope: 'col' }, t(key))))),
      body),
    count,
    more);
}

// ---- case page ----

export async function caseView(user, id) {
  const caseResponse = await api('GET', `/api/v1/cases/${encodeURIComponent(id)}`);
  let current = caseResponse.body;
  const canChange = user.role === 'case_manager';
  const section = h('section', { class: 'case' });
  // After any change every part reloads: a referral or consent also writes the timeline.
  const reloaders = [];
  const refresh = async () => {
    const again = await api('GET', `/api/v1/cases/${encodeURIComponent(id)}`);
    current = again.body;
    renderHeader();
    await Promise.all(reloaders.map((reload) => reload()));
  };

  const headerSlot = h('div');
  function renderHeader() {
    headerSlot.replaceChildren(
      h('h1', {}, t('case.title', { name: personName(current.person) })),
      h('dl', { class: 'facts' },
        h('dt', {}, t('case.phase')), h('dd', { 'data-testid': 'phase' }, label('phase', current.phase)),
        h('dt', {}, t('case.town')), h('dd', {}, current.town),
        h('dt', {}, t('case.organisation')), h('dd', {}, current.organisation),
        h('dt', {}, t('case.manager')), h('dd', {}, current.case_manager?.name ?? ''),
        h('dt', {}, t('case.opened')), h('dd', {}, date(current.opened_on))),
      canChange ? transitions() : h('p', { class: 'note' }, t('case.read_only')),
    );
  }

  function transitions() {
    const form = h('form', { class: 'transitions', 'aria-label': t('case.transitions') }, h('h2', {}, t('case.transitions')), formAlert());
    const reason = h('select', { name: 'reason' }, options(CLOSURE_REASONS, (r) => label('closure', r)));
    if (current.allowed_transitions.includes('closed')) form.append(field(t('case.closure_reason'), reason));
    const buttons = h('div', { class: 'buttons' });
    for (const to of current.allowed_transitions) {
      buttons.append(h('button', {
        type: 'button',
        class: to === 'closed' ? 'secondary' : null,
        onclick: async () => {
          clearErrors(form);
          const body = { to };
          if (to === 'closed') body.reason = reason.value;
          try {
            await api('POST', `/api/v1/cases/${encodeURIComponent(id)}/transitions`, body, { ifMatch: current.version });
            await refresh();
            announce(t('case.moved', { phase: label('phase', to) }));
          } catch (error) {
            showError(form, { ...error, message: t('case.refused', { message: error.message }) });
          }
        },
      }, t('case.move_to', { phase: label('phase', to) })));
    }
    form.append(buttons);
    return form;
  }

  renderHeader();
  section.append(headerSlot);
  const parts = await Promise.allSettled([
    assessmentsPart(id, canChange, () => current, refresh, reloaders),
    goalsPart(id, canChange, () => current, refresh, reloaders),
    tasksPart(id, canChange, () => current, refresh, reloaders),
    consentPart(current.person.id, canChange, refresh, reloaders),
    referralsPart(id, canChange, () => current, refresh, reloaders),
    timelinePart(id, canChange, () => current, refresh, reloaders),
  ]);
  for (const part of parts) {
    if (part.status === 'fulfilled') section.append(part.value);
  }
  return section;
}

async function assessmentsPart(caseId, canChange, current, refresh, reloaders) {
  const list = h('ul', { class: 'items', 'data-testid': 'assessments' });
  async function load() {
    const assessments = await api('GET', `/api/v1/cases/${encodeURIComponent(caseId)}/assessments`);
    const items = [...assessments.body.items].reverse();
    list.replaceChildren(...(items.length ? items.map((assessment) =>
      h('li', {},
        h('strong', {}, t('assessment.entry', { date: date(assessment.recorded_at), kind: label('assessment_kind', assessment.kind), who: assessment.recorded_by })),
        h('ul', {}, assessment.domains.map((item) =>
          h('li', {}, `${label('domain', item.life_domain)}: ${label('need', item.need_level)}`, item.summary ? ` – ${item.summary}` : ''))))) : [h('li', {}, t('app.none'))]));
  }
  await load();
  reloaders.push(load);
  const part = h('section', { 'aria-labelledby': 'assessment-h' }, h('h2', { id: 'assessment-h' }, t('assessment.title')), list);
  if (canChange) {
    const form = h('form', { class: 'stack-form', novalidate: true }, h('p', { class: 'note' }, t('assessment.intro')), formAlert());
    for (const lifeDomain of LIFE_DOMAINS) {
      const name = label('domain', lifeDomain);
      form.append(h('div', { class: 'inline-form plain' },
        field(t('assessment.need', { domain: name }), h('select', { name: `level-${lifeDomain}` }, options(['none', 'low', 'medium', 'high'], (level) => label('need', level), { empty: t('assessment.not_assessed') }))),
        field(t('assessment.summary', { domain: name }), h('input', { name: `summary-${lifeDomain}`, maxlength: '2000' }))));
    }
    form.append(h('button', { type: 'submit' }, t('assessment.record')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const domains = LIFE_DOMAINS.filter((lifeDomain) => form.elements[`level-${lifeDomain}`].value).map((lifeDomain) => {
        const item = { life_domain: lifeDomain, need_level: form.elements[`level-${lifeDomain}`].value };
        const summary = form.elements[`summary-${lifeDomain}`].value.trim();
        if (summary) item.summary = summary;
        return item;
      });
      await save(form, () => api('POST', `/api/v1/cases/${encodeURIComponent(caseId)}/assessments`, { domains }, { ifMatch: current().version }), refresh);
    });
    part.append(form);
  }
  return part;
}

async function goalsPart(caseId, canChange, current, refresh, reloaders) {
  const list = h('ul', { class: 'items' });
  async function load() {
    const goals = await api('GET', `/api/v1/cases/${encodeURIComponent(caseId)}/goals`);
    list.replaceChildren(...(goals.body.items.length ? goals.body.items.map((goal) =>
      h('li', {}, h('strong', {}, label('domain', goal.life_domain)), ': ', goal.description, ' – ', label('goal_status', goal.status), goal.due_date ? ` (${t('goals.due_date')} ${date(goal.due_date)})` : '')) : [h('li', {}, t('app.none'))]));
  }
  await load();
  reloaders?.push(load);
  const part = h('section', { 'aria-labelledby': 'goals-h' }, h('h2', { id: 'goals-h' }, t('goals.title')), list);
  if (canChange) {
    const form = h('form', { class: 'inline-form', novalidate: true },
      formAlert(),
      field(t('goals.life_domain'), h('select', { name: 'life_domain' }, options(LIFE_DOMAINS, (d) => label('domain', d)))),
      field(t('goals.description'), h('input', { name: 'description', required: true, maxlength: '2000' })),
      field(t('goals.due_date'), h('input', { name: 'due_date', type: 'date' })),
      h('button', { type: 'submit' }, t('goals.add')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = { life_domain: form.elements.life_domain.value, description: form.elements.description.value };
      if (form.elements.due_date.value) body.due_date = form.elements.due_date.value;
      await save(form, () => api('POST', `/api/v1/cases/${encodeURIComponent(caseId)}/goals`, body, { ifMatch: current().version }), refresh);
    });
    part.append(form);
  }
  return part;
}

// Follow-up tasks: due date and done state, each optionally for one of the case's goals.
async function tasksPart(caseId, canChange, current, refresh, reloaders) {
  const casePath = `/api/v1/cases/${encodeURIComponent(caseId)}`;
  const holder = h('div', { 'data-testid': 'tasks' });
  const rowAlert = formAlert();
  const goalSelect = h('select', { name: 'goal_id' });
  async function load() {
    const [tasks, goals] = await Promise.all([api('GET', `${casePath}/tasks`), api('GET', `${casePath}/goals`)]);
    const goalText = new Map(goals.body.items.map((goal) => [goal.id, `${label('domain', goal.life_domain)}: ${goal.description}`]));
    const openGoals = goals.body.items.filter((goal) => goal.status === 'open').map((goal) => goal.id);
    const chosen = goalSelect.value;
    goalSelect.replaceChildren(...options(openGoals, (goalId) => goalText.get(goalId), { empty: t('tasks.no_goal'), selected: chosen }));
    const rows = tasks.body.items.map((task) => {
      const done = Boolean(task.done_on);
      const overdue = !done && task.due_date < today();
      const state = done
        ? h('span', { class: 'badge done' }, t('tasks.done_on', { date: date(task.done_on) }))
        : h('span', { class: overdue ? 'badge overdue' : 'badge' }, overdue ? t('tasks.overdue') : t('tasks.open'));
      const cells = [
        h('td', {}, task.description),
        h('td', {}, date(task.due_date)),
        h('td', {}, task.goal_id ? goalText.get(task.goal_id) ?? '' : ''),
        h('td', {}, state),
      ];
      if (canChange) {
        const text = done ? t('tasks.reopen') : t('tasks.mark_done');
        const toggle = h('button', { type: 'button', class: done ? 'secondary' : null, 'data-task': task.id, 'aria-label': `${text}: ${task.description}` }, text);
        toggle.addEventListener('click', async () => {
          clearErrors(holder);
          try {
            await api('PATCH', `${casePath}/tasks/${encodeURIComponent(task.id)}`, { done: !done }, { ifMatch: current().version });
            await refresh();
            announce(done ? t('tasks.reopened') : t('tasks.marked_done'));
            // The list was drawn anew: focus the same task's button again.
            holder.querySelector(`button[data-task="${CSS.escape(task.id)}"]`)?.focus();
          } catch (error) {
            showError(holder, error);
          }
        });
        cells.push(h('td', {}, toggle));
      }
      return h('tr', { class: done ? 'done' : null }, cells);
    });
    const headings = ['tasks.description', 'tasks.due_date', 'tasks.goal', 'tasks.state'].map((key) => t(key));
    if (canChange) headings.push(t('tasks.action'));
    holder.replaceChildren(rowAlert, rows.length ? table(t('tasks.title'), headings, rows, { hiddenCaption: true }) : h('p', {}, t('app.none')));
  }
  await load();
  reloaders?.push(load);
  const part = h('section', { 'aria-labelledby': 'tasks-h' }, h('h2', { id: 'tasks-h' }, t('tasks.title')), holder);
  if (canChange) {
    const form = h('form', { class: 'inline-form', novalidate: true },
      h('h3', {}, t('tasks.add')),
      formAlert(),
      field(t('tasks.description'), h('input', { name: 'description', required: true, maxlength: '2000', autocomplete: 'off' })),
      field(t('tasks.due_date'), h('input', { name: 'due_date', type: 'date', required: true })),
      field(t('tasks.goal_optional'), goalSelect),
      h('button', { type: 'submit' }, t('tasks.add')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = { description: form.elements.description.value, due_date: form.elements.due_date.value };
      if (goalSelect.value) body.goal_id = goalSelect.value;
      await save(form, () => api('POST', `${casePath}/tasks`, body, { ifMatch: current().version }), refresh);
    });
    part.append(form);
  }
  return part;
}

async function consentPart(personId, canChange, refresh, reloaders) {
  const list = h('ul', { class: 'items', 'data-testid': 'consents' });
  const part = h('section', { 'aria-labelledby': 'consent-h' }, h('h2', { id: 'consent-h' }, t('consent.title')), list);
  async function load() {
    const consents = await api('GET', `/api/v1/persons/${encodeURIComponent(personId)}/consents`);
    list.replaceChildren(...(consents.body.items.length ? consents.body.items.map((consent) => {
      const item = h('li', {},
        h('strong', {}, consent.recipients.join(', ')), ' – ',
        consent.purposes.map((p) => label('purpose', p)).join(', '), '; ',
        consent.categories.map((c) => label('category', c)).join(', '), '; ',
        `${t('consent.given_on')} ${date(consent.given_on)}`, ' – ',
        h('span', { class: `badge ${consent.status}` }, label('consent_status', consent.status)));
      if (canChange && consent.status !== 'revoked') {
        const reason = h('input', { name: 'reason', required: true });
        const form = h('form', { class: 'inline-form' }, formAlert(), field(t('consent.revoke_reason'), reason), h('button', { type: 'submit', class: 'secondary' }, t('consent.revoke')));
        form.addEventListener('submit', async (event) => {
          event.preventDefault();
          try {
            await api('POST', `/api/v1/persons/${encodeURIComponent(personId)}/consents/${encodeURIComponent(consent.id)}/revoke`, { reason: reason.value });
            await refresh();
            announce(t('consent.revoked'));
          } catch (error) {
            showError(form, error);
          }
        });
        item.append(form);
      }
      return item;
    }) : [h('li', {}, t('app.none'))]));
  }
  await load();
  reloaders?.push(load);
  if (canChange) {
    const partners = await api('GET', '/api/v1/partners');
    const recipients = h('select', { name: 'recipients', multiple: true, size: '4' }, partners.body.items.map((partner) => h('option', { value: partner.slug }, partner.name)));
    const form = h('form', { class: 'stack-form', novalidate: true },
      h('h3', {}, t('consent.record')),
      formAlert(),
      field(t('consent.recipients'), recipients),
      checkboxGroup(t('consent.purposes'), 'purposes', PURPOSES, 'purpose'),
      checkboxGroup(t('consent.categories'), 'categories', CATEGORIES, 'category'),
      field(t('consent.form'), h('select', { name: 'form' }, options(['written', 'electronic'], (f) => label('form', f)))),
      field(t('consent.given_on'), h('input', { name: 'given_on', type: 'date', value: today() })),
      field(t('consent.valid_until'), h('input', { name: 'valid_until', type: 'date' })),
      h('button', { type: 'submit' }, t('consent.record')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = {
        recipients: [...recipients.selectedOptions].map((option) => option.value),
        purposes: checked(form, 'purposes'),
        categories: checked(form, 'categories'),
        form: form.elements.form.value,
        given_on: form.elements.given_on.value,
      };
      if (form.elements.valid_until.value) body.valid_until = form.elements.valid_until.value;
      if (body.categories.includes('health')) body.explicit_special_category = true;
      await save(form, () => api('POST', `/api/v1/persons/${encodeURIComponent(personId)}/consents`, body), refresh);
    });
    part.append(form);
  }
  return part;
}

async function referralsPart(caseId, canChange, current, refresh, reloaders) {
  const holder = h('div');
  async function load() {
    const referrals = await api('GET', `/api/v1/cases/${encodeURIComponent(caseId)}/referrals`);
    const rows = referrals.body.items.map((referral) =>
      h('tr', {}, h('td', {}, referral.partner?.name ?? ''), h('td', {}, label('service', referral.service)), h('td', {}, label('referral_status', referral.status)), h('td', {}, date(referral.created_at))));
    holder.replaceChildren(rows.length ? table(t('referrals.title'), [t('referrals.partner'), t('referrals.service'), t('referrals.status'), t('referrals.created')], rows) : h('p', {}, t('app.none')));
  }
  await load();
  reloaders?.push(load);
  const part = h('section', { 'aria-labelledby': 'referrals-h' }, h('h2', { id: 'referrals-h' }, t('referrals.title')), holder);
  if (canChange) {
    const partners = (await api('GET', '/api/v1/partners')).body.items.filter((partner) => partner.active !== false);
    const partnerSelect = h('select', { name: 'partner' }, partners.map((partner) => h('option', { value: partner.slug }, partner.name)));
    const serviceSelect = h('select', { name: 'service' });
    const fillServices = () => {
      const chosen = partners.find((partner) => partner.slug === partnerSelect.value);
      serviceSelect.replaceChildren(...options(chosen?.services ?? [], (service) => label('service', service)));
    };
    partnerSelect.addEventListener('change', fillServices);
    fillServices();
    const form = h('form', { class: 'stack-form', novalidate: true },
      h('h3', {}, t('referrals.new')),
      h('p', { class: 'note' }, t('referrals.hint')),
      formAlert(),
      field(t('referrals.partner'), partnerSelect),
      field(t('referrals.service'), serviceSelect),
      field(t('referrals.purpose'), h('select', { name: 'purpose' }, options(PURPOSES, (p) => label('purpose', p)))),
      checkboxGroup(t('consent.categories'), 'categories', CATEGORIES, 'category'),
      field(t('referrals.message'), h('textarea', { name: 'message', rows: '2' })),
      h('button', { type: 'submit' }, t('referrals.new')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = { partner: partnerSelect.value, service: serviceSelect.value, purpose: form.elements.purpose.value, categories: checked(form, 'categories'), send: true };
      if (form.elements.message.value.trim()) body.message = form.elements.message.value;
      try {
        await api('POST', `/api/v1/cases/${encodeURIComponent(caseId)}/referrals`, body, { ifMatch: current().version });
        form.reset();
        fillServices();
        await refresh();
        announce(t('referrals.sent'));
      } catch (error) {
        showError(form, error);
      }
    });
    part.append(form);
  }
  return part;
}

// A note the host wrote carries its `event` as data: worded here in the user's language (its
// `text` is English). Notes people write are shown as written.
function noteText(note) {
  const event = note.event;
  if (event?.type === 'referral_status') {
    const parts = [t('timeline.referral_status', { partner: event.partner, service: label('service', event.service), status: label('referral_status', event.status) })];
    if (event.own_case_management) parts.push(t('timeline.own_case_management'));
    if (event.reason) parts.push(label('timeline_reason', event.reason));
    if (event.detail) parts.push(event.detail);
    return parts.join(' — ');
  }
  if (event?.type === 'referral_routed') return t('timeline.referral_routed', { partner: event.partner, instead_of: event.instead_of });
  return note.text;
}

async function timelinePart(caseId, canChange, current, refresh, reloaders) {
  const list = h('ol', { class: 'timeline', 'data-testid': 'timeline' });
  async function load() {
    const notes = await api('GET', `/api/v1/cases/${encodeURIComponent(caseId)}/notes`);
    const items = [...notes.body.items].reverse();
    list.replaceChildren(...(items.length ? items.map((note) =>
      h('li', {}, h('span', { class: 'when' }, date(note.occurred_on)), ' ', h('strong', {}, label('note', note.kind)), ': ', noteText(note))) : [h('li', {}, t('app.none'))]));
  }
  await load();
  reloaders?.push(load);
  const part = h('section', { 'aria-labelledby': 'timeline-h' }, h('h2', { id: 'timeline-h' }, t('timeline.title')), list);
  if (canChange) {
    const form = h('form', { class: 'inline-form', novalidate: true },
      formAlert(),
      field(t('timeline.kind'), h('select', { name: 'kind' }, options(NOTE_KINDS, (k) => label('note', k)))),
      field(t('timeline.occurred_on'), h('input', { name: 'occurred_on', type: 'date', value: today() })),
      field(t('timeline.text'), h('textarea', { name: 'text', rows: '2', required: true })),
      h('button', { type: 'submit' }, t('timeline.add')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      try {
        await api('POST', `/api/v1/cases/${encodeURIComponent(caseId)}/notes`, { kind: form.elements.kind.value, occurred_on: form.elements.occurred_on.value, text: form.elements.text.value }, { ifMatch: current().version });
        form.elements.text.value = '';
        await refresh();
        announce(t('app.saved'));
      } catch (error) {
        showError(form, error);
      }
    });
    part.append(form);
  }
  return part;
}

// ---- recording a participant ----

export async function newPersonView() {
  const duplicate = h('div', { class: 'warning', role: 'alert', hidden: true });
  const form = h('form', { class: 'card', novalidate: true },
    h('h1', {}, t('person.title')),
    formAlert(),
    field(t('person.given_names'), h('input', { name: 'given_names', required: true, maxlength: '100', autocomplete: 'off' })),
    field(t('person.family_name'), h('input', { name: 'family_name', required: true, maxlength: '100', autocomplete: 'off' })),
    field(t('person.date_of_birth'), h('input', { name: 'date_of_birth', type: 'date', required: true })),
    field(t('person.town'), h('select', { name: 'town' }, options(TOWNS, (town) => town))),
    field(t('person.residence_status'), h('select', { name: 'residence_status' }, options(RESIDENCE, (r) => label('residence', r)))),
    field(t('person.gender'), h('select', { name: 'gender' }, options(GENDERS, (g) => label('gender', g), { empty: t('person.none') }))),
    duplicate,
    h('button', { type: 'submit' }, t('person.submit')));
  let confirmBox = null;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = {
      given_names: form.elements.given_names.value,
      family_name: form.elements.family_name.value,
      date_of_birth: form.elements.date_of_birth.value,
      town: form.elements.town.value,
      residence_status: form.elements.residence_status.value,
    };
    if (form.elements.gender.value) body.gender = form.elements.gender.value;
    if (confirmBox?.checked) body.confirm_new_person = true;
    try {
      const person = await api('POST', '/api/v1/persons', body);
      const opened = await api('POST', '/api/v1/cases', { person_id: person.body.id });
      announce(t('person.created'));
      location.hash = `#/cases/${opened.body.id}`;
    } catch (error) {
      if (error.code === 'possible_duplicate') {
        const details = error.details || {};
        const candidates = (details.candidates || []).map((candidate) =>
          h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => openFor(candidate.id, form) }, t('person.candidate', { id: candidate.id, organisation: candidate.organisation ?? '' }))));
        confirmBox = h('input', { type: 'checkbox', name: 'confirm_new_person', id: 'confirm-new' });
        duplicate.replaceChildren(...[
          h('p', {}, h('strong', {}, t('person.duplicate'))),
          details.known_elsewhere ? h('p', {}, t('person.duplicate_elsewhere')) : null,
          candidates.length ? h('ul', {}, candidates) : null,
          h('p', {}, confirmBox, ' ', h('label', { for: 'confirm-new' }, t('person.confirm_new'))),
        ].filter(Boolean));
        duplicate.hidden = false;
        announce(t('person.duplicate'));
      } else {
        showError(form, error);
      }
    }
  });
  return form;
}

async function openFor(personId, form) {
  try {
    const opened = await api('POST', '/api/v1/cases', { person_id: personId });
    location.hash = `#/cases/${opened.body.id}`;
  } catch (error) {
    if (error.code === 'case_already_open' && error.details?.case_id) location.hash = `#/cases/${error.details.case_id}`;
    else showError(form, error);
  }
}

// ---- coordinator ----

export async function overdueView() {
  const overdue = await api('GET', '/api/v1/tasks/overdue');
  const groups = overdue.body.items ?? overdue.body.case_managers ?? [];
  const rows = groups.map((group) => h('tr', {}, h('td', {}, group.case_manager?.name ?? group.name ?? ''), h('td', {}, String((group.tasks ?? []).length || group.count || 0))));
  return h('section', {}, h('h1', {}, t('overdue.title')),
    rows.length ? table(t('overdue.title'), [t('overdue.manager'), t('overdue.count')], rows) : h('p', {}, t('app.none')));
}

export async function gapsView() {
  const report = await api('GET', '/api/v1/reports/referral-gaps');
  const rows = report.body.items.map((row) => h('tr', {},
    h('td', {}, row.partner_kind), h('td', {}, label('service', row.service)), h('td', {}, row.town ?? ''),
    h('td', {}, String(row.declined)), h('td', {}, String(row.cancelled)), h('td', {}, String(row.waiting_too_long))));
  return h('section', {}, h('h1', {}, t('gaps.title')),
    h('p', {}, t('gaps.intro', { days: report.body.max_wait_days })),
    rows.length ? table(t('gaps.title'), ['gaps.kind', 'gaps.service', 'gaps.town', 'gaps.declined', 'gaps.cancelled', 'gaps.waiting'].map((key) => t(key)), rows) : h('p', {}, t('app.none')));
}
