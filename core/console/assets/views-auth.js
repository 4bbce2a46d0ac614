// Sign-in and setting one's password through an invite link.
import { api } from './api.js';
import { h, field, formAlert, showError, clearErrors, announce } from './dom.js';
import { t } from './i18n.js';

export function signInView(onSignedIn) {
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true },
    h('h1', {}, t('signin.title')),
    formAlert(),
    field(t('signin.name'), h('input', { name: 'name', autocomplete: 'username', required: true, autocapitalize: 'none' })),
    field(t('signin.password'), h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit' }, t('signin.submit')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const session = await api('POST', '/api/v1/session', {
        name: form.elements.name.value.trim().toLowerCase(),
        password: form.elements.password.value,
      }, { quiet401: true });
      onSignedIn(session.body);
    } catch (error) {
      form.elements.password.value = '';
      if (error.status === 401) showError(form, { message: t('signin.failed') });
      else if (error.status === 429) showError(form, { message: t('signin.throttled', { seconds: error.headers?.get('Retry-After') ?? '?' }) });
      else showError(form, error);
    }
  });
  return form;
}

export function inviteView(token) {
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true },
    h('h1', {}, t('invite.title')),
    h('p', {}, t('invite.intro')),
    formAlert(),
    field(t('invite.password'), h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: '12' })),
    field(t('invite.repeat'), h('input', { name: 'repeat', type: 'password', autocomplete: 'new-password', required: true })),
    h('button', { type: 'submit' }, t('invite.submit')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (form.elements.password.value !== form.elements.repeat.value) {
      showError(form, { field: 'repeat', message: t('invite.mismatch') });
      return;
    }
    try {
      await api('POST', `/api/v1/invites/${token}/password`, { password: form.elements.password.value });
      location.hash = '#/signin';
      announce(t('invite.done'));
    } catch (error) {
      showError(form, error);
    }
  });
  return form;
}
