// DOM helpers: elements are built with textContent only (never innerHTML), so names and other
// data always show as text.
import { t, language } from './i18n.js';

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'text') element.textContent = value;
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

let fieldCounter = 0;

// A labelled control from the <template id="field"> of index.html, with a place for its error
// (linked by aria-describedby). `control` is an <input>, <select> or <textarea> with a name.
export function field(labelText, control) {
  const id = `f${++fieldCounter}`;
  const fragment = document.getElementById('field').content.cloneNode(true);
  const wrapper = fragment.querySelector('.field');
  const labelElement = wrapper.querySelector('label');
  const error = wrapper.querySelector('.field-error');
  control.id = id;
  labelElement.htmlFor = id;
  labelElement.textContent = labelText;
  error.id = `${id}-error`;
  control.setAttribute('aria-describedby', error.id);
  labelElement.after(control);
  return wrapper;
}

export function options(values, labelOf, { empty = null, selected = '' } = {}) {
  const list = [];
  if (empty !== null) list.push(h('option', { value: '' }, empty));
  for (const value of values) list.push(h('option', { value, selected: value === selected }, labelOf(value)));
  return list;
}

// Shows the API's error next to the field it names (or in the form's alert) and announces it.
export function showError(form, error) {
  clearErrors(form);
  const message = error.message || t('app.network_error');
  const name = (error.field || '').split(/[.[]/)[0];
  const control = name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    const slot = document.getElementById(control.getAttribute('aria-describedby'));
    if (slot) slot.textContent = message;
    control.focus();
  }
  const alert = form.querySelector('.form-alert');
  if (alert) alert.textContent = message;
  announce(t('app.error', { message }));
}

export function clearErrors(form) {
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  for (const slot of form.querySelectorAll('.field-error, .form-alert')) slot.textContent = '';
}

export function announce(message) {
  const status = document.getElementById('status');
  status.textContent = '';
  // A fresh text node so screen readers announce a repeat, too.
  requestAnimationFrame(() => {
    status.textContent = message;
  });
}

export function formAlert() {
  return h('p', { class: 'form-alert', role: 'alert' });
}

// A table with its caption; `hiddenCaption` when a heading right above says the same.
export function table(caption, headings, rows, { hiddenCaption = false } = {}) {
  return h(
    'table',
    {},
    h('caption', { class: hiddenCaption ? 'visually-hidden' : null }, caption),
    h('thead', {}, h('tr', {}, headings.map((heading) => h('th', { scope: 'col' }, heading)))),
    h('tbody', {}, rows),
  );
}

// A date (or the date of a timestamp) as German users write it; ISO 8601 in English.
export function date(value) {
  if (!value) return '';
  const text = String(value);
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!match) return text;
  return language() === 'de' ? `${match[3]}.${match[2]}.${match[1]}` : match[0];
}

// A timestamp of the API (UTC) as date and time, minutes exact.
export function dateTime(value) {
  if (!value) return '';
  const match = /T(\d{2}:\d{2})/.exec(String(value));
  return match ? `${date(value)} ${match[1]} UTC` : date(value);
}

let dialogCounter = 0;

// Asks before a change that cannot be undone, in a modal <dialog> (focus stays inside, Escape
// cancels, focus returns to the button that asked). Resolves true when confirmed.
export function confirmDialog(message, confirmText) {
  return new Promise((resolve) => {
    const textId = `confirm${++dialogCounter}`;
    const opener = document.activeElement;
    const yes = h('button', { type: 'button' }, confirmText);
    const no = h('button', { type: 'button', class: 'secondary' }, t('app.cancel'));
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': textId }, h('p', { id: textId }, message), h('div', {}, yes, ' ', no));
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    };
    yes.addEventListener('click', () => close(true));
    no.addEventListener('click', () => close(false));
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    // Cancelling is the safe default for Enter.
    no.focus();
  });
}
