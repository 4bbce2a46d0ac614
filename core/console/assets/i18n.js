// Every text of the console comes from one message catalogue per language (de.json, en.json with
// the same keys). German is the default; the user's choice is remembered in this browser.
export const LANGUAGES = ['de', 'en'];
const STORAGE_KEY = 'kim.language';

let messages = {};
let current = 'de';

export function language() {
  return current;
}

// The remembered language, or German.
export function preferredLanguage() {
  let stored = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage blocked: German.
  }
  return LANGUAGES.includes(stored) ? stored : 'de';
}

export function rememberLanguage(choice) {
  try {
    localStorage.setItem(STORAGE_KEY, choice);
  } catch {
    // Storage blocked: the choice lasts for this page only.
  }
}

export async function loadMessages(choice = 'de') {
  const wanted = LANGUAGES.includes(choice) ? choice : 'de';
  const response = await fetch(`/console/${wanted}.json`, { credentials: 'same-origin' });
  messages = await response.json();
  current = wanted;
  document.documentElement.lang = wanted;
}

// The message for `key` with {name} placeholders filled in; the key itself when missing, so a
// gap shows instead of hiding.
export function t(key, params = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

// The API's error in the user's language: the catalogue's text for its code ("error.<code>"),
// with the API's own words as {detail}; the API's words alone for a code the catalogue lacks.
export function errorText(code, apiMessage) {
  const key = `error.${code}`;
  return code && key in messages ? t(key, { detail: apiMessage }) : apiMessage;
}

// A vocabulary value's label ("phase.intake"), or the value when the catalogue has none.
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return key in messages ? messages[key] : String(value ?? '');
}
