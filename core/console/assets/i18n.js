// Every text of the console comes from one message catalogue (de.json; en.json can follow).
let messages = {};

export async function loadMessages(language = 'de') {
  const response = await fetch(`/console/${language}.json`, { credentials: 'same-origin' });
  messages = await response.json();
  document.documentElement.lang = language;
}

// The message for `key` with {name} placeholders filled in; the key itself when missing, so a
// gap shows instead of hiding.
export function t(key, params = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

// A vocabulary value's label ("phase.intake"), or the value when the catalogue has none.
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return key in messages ? messages[key] : String(value ?? '');
}
