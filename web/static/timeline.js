// The detail panel's Timeline: what happened to the alert, newest first
// (the engine's notes given their party names, deliveries dotted by their
// outcome), with the form that adds a comment on top.

import { clockTime, fullTime, label, parseTime } from './format.js';
import { el } from './dom.js';
import { clearError, formError, noteInput, section, showError, timeEl } from './panel.js';

const TIMELINE_MAX = 100;

export class TimelineSection {
  /**
   * @param {object} opts
   *   catalog  Catalog (party names)
   *   submit   ({note}) => Promise<true | {error} | false>   comments
   */
  constructor({ catalog, submit }) {
    this.catalog = catalog;
    this.submit = submit;
    const { s } = section('Timeline', 'detail-timeline');
    const form = el('form', 'inline-form comment-form');
    form.noValidate = true;
    form.setAttribute('aria-label', 'Comment');
    this.text = noteInput('comment-text', 'Add a comment to the timeline', 'Comment');
    this.button = el('button', 'btn', 'Comment');
    this.button.type = 'submit';
    this.button.dataset.testid = 'comment-submit';
    this.error = formError();
    form.append(this.text, this.button);
    this.list = el('ol', 'timeline');
    s.append(form, this.error, this.list);
    this.form = form;
    this.el = s;

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this._comment();
    });
    this.text.addEventListener('input', () => clearError(this.error, this.text));
  }

  reset() {
    this.text.value = '';
    clearError(this.error, this.text);
  }

  async _comment() {
    clearError(this.error, this.text);
    const note = this.text.value.trim();
    if (!note) return showError(this.error, 'Write the comment first.', this.text);
    const ok = await this.submit({ note });
    if (ok === true) this.text.value = '';
    else if (ok && ok.error) showError(this.error, ok.error.message, this.text);
  }

  /** Those who may act may comment. */
  renderActions(canAct) {
    this.form.hidden = !canAct;
    this.text.disabled = !canAct;
  }

  render(a) {
    const tl = Array.isArray(a.timeline) ? a.timeline : [];
    const items = [];
    const newest = tl.slice(-TIMELINE_MAX).reverse();
    for (const e of newest) {
      if (!e) continue;
      const { kind, text } = describe(e, (id) => this.catalog.partyName(id));
      const li = el('li', `tl-item tl-${kind}`);
      if (kind === 'delivery') {
        // "webhook to up/hook: failed, attempt 1: …": colour by the outcome.
        const m = /^[^:]*: (sent|failed|gave_up|cancelled|pending)\b/.exec(text);
        if (m) li.classList.add(`tl-delivery-${m[1]}`);
      }
      li.dataset.testid = 'timeline-entry';
      const head = el('div', 'tl-head');
      head.append(timeEl(e.at, clockTime(parseTime(e.at))), el('span', 'tl-action', tlLabel(kind)));
      // "Delivery delivery" would say it twice.
      if (kind !== 'delivery') head.append(el('span', `tl-by${e.by === 'engine' ? ' is-engine' : ''}`, e.by || ''));
      li.append(head);
      if (text) li.append(el('p', 'tl-note', text));
      items.push(li);
    }
    if (tl.length > TIMELINE_MAX) items.push(el('li', 'muted small', `${tl.length - TIMELINE_MAX} older entries not shown`));
    this.list.replaceChildren(...items);
  }
}

/** What a timeline entry was, from its action and note; party ids in the
 *  engine's notes are given their names. */
function describe(e, partyName) {
  const note = e.note || '';
  if (e.by === 'delivery') return { kind: 'delivery', text: note };
  switch (e.action) {
    case 'updated': {
      if (note.startsWith('comment: ')) return { kind: 'comment', text: note.slice('comment: '.length) };
      const snooze = /^snoozed until (\S+?)\.\s*(.*)$/s.exec(note);
      if (snooze) {
        const until = parseTime(snooze[1]);
        const text = until ? `Escalation held until ${fullTime(until)}` : note;
        return { kind: 'snoozed', text: snooze[2] ? `${text}. ${snooze[2]}` : text };
      }
      const verified = /^([A-Za-z0-9._-]+): (confirmed|cannot_confirm|disputed|not_applicable) \((.*)\)$/s.exec(note);
      if (verified) return { kind: 'verified', text: `${partyName(verified[1])}: ${label(verified[2]).toLowerCase()} — ${verified[3]}` };
      const attributed = /^attribution of ([a-z0-9-]+) by ([a-z0-9-]+): (substantiated|not_substantiated|undetermined) \((.*)\)$/s.exec(note);
      if (attributed) {
        return { kind: 'attributed', text: `${partyName(attributed[2])} on ${partyName(attributed[1])}: ${label(attributed[3]).toLowerCase()} — ${attributed[4]}` };
      }
      return { kind: 'updated', text: note };
    }
    case 'acknowledged':
      return {
        kind: 'acknowledged',
        text: note.replace(/\(still waiting for ([^)]*)\)/, (_, ids) =>
          `(still waiting for ${ids.split(', ').map((id) => partyName(id)).join(', ')})`),
      };
    case 'opened':
    case 'reopened':
    case 'escalated':
    case 'resolved':
      return { kind: e.action, text: note };
    default:
      return { kind: 'other', text: note };
  }
}

function tlLabel(kind) {
  return {
    comment: 'Comment',
    snoozed: 'Snoozed',
    verified: 'Verified',
    attributed: 'Attribution',
    updated: 'Updated',
    opened: 'Opened',
    reopened: 'Reopened',
    escalated: 'Escalated',
    acknowledged: 'Acknowledged',
    resolved: 'Resolved',
    delivery: 'Delivery',
  }[kind] || 'Change';
}
