// Pieces the detail panel's sections share: a section with its heading, a
// time, a button, a note's text field, and a form's error line with the
// way it is shown and cleared.

import { fullTime, parseTime } from './format.js';
import { el } from './dom.js';

/** A section of the panel: {s, h}, the section and its heading. */
export function section(title, className) {
  const s = el('section', `detail-section ${className || ''}`.trim());
  const h = el('h3', 'detail-h', title);
  s.append(h);
  return { s, h };
}

/** A time shown as text, with the full time as its title. */
export function timeEl(iso, text) {
  const t = el('time', 'when', text);
  if (iso) {
    t.dateTime = iso;
    t.title = fullTime(parseTime(iso));
  }
  return t;
}

export function button(className, text, testid) {
  const b = el('button', `btn ${className}`, text);
  b.type = 'button';
  if (testid) b.dataset.testid = testid;
  return b;
}

/** A text field for a note of at most 2048 characters (the server's limit). */
export function noteInput(cls, placeholder, label) {
  const input = el('input', cls);
  input.type = 'text';
  input.maxLength = 2048;
  input.placeholder = placeholder;
  input.dataset.testid = cls;
  input.setAttribute('aria-label', label);
  return input;
}

/** A form's error line, announced when shown. */
export function formError() {
  const p = el('p', 'form-error');
  p.setAttribute('role', 'alert');
  p.hidden = true;
  return p;
}

/** Hide the error line box, and unmark input (when given). */
export function clearError(box, input) {
  box.hidden = true;
  box.textContent = '';
  if (input) input.removeAttribute('aria-invalid');
}

/** Show text in the error line box, and mark and focus input (when given). */
export function showError(box, text, input) {
  box.textContent = text;
  box.hidden = false;
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}
