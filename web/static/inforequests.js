// Requests for information: the co-chairs ask a party (usually the alleged
// perpetrator) about an alert, with a deadline; the party answers, late once
// the deadline passed. The detail panel lists an alert's requests with a
// live countdown, and has the forms to ask, answer and withdraw; the alert
// list marks the rows whose alert waits for information from the user's
// party. The server decides who may do what (docs/API.md): the board only
// offers what it would accept.

import { clockTime, fullTime, parseTime } from './format.js';
import { el, setText } from './dom.js';
import { formError, timeEl } from './panel.js';

const DEADLINES = [
  ['2h', '2 hours'],
  ['6h', '6 hours'],
  ['24h', '24 hours'],
  ['48h', '48 hours'],
  ['72h', '72 hours'],
];
const QUESTION_MAX = 2000;
const ANSWER_MAX = 8000;
const ATTACHMENTS_MAX = 10;

/** The requests of alert still owed by party (open or overdue). */
export function owedRequests(alert, party) {
  if (!party || !alert || !Array.isArray(alert.info_requests)) return [];
  return alert.info_requests.filter((r) => r && r.party === party && (r.state === 'open' || r.state === 'overdue'));
}

/** "3 h 05 m", "12 m 09 s", "41 s": a duration for a deadline. */
export function span(ms) {
  const total = Math.max(0, Math.floor(Math.abs(ms) / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n) => String(n).padStart(2, '0');
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${pad(m)} m`;
  if (m) return `${m} m ${pad(s)} s`;
  return `${s} s`;
}

/** Where a request's clock stands at now: {text, cls}. */
export function clockView(r, now = Date.now()) {
  const deadline = parseTime(r.deadline);
  switch (r.state) {
    case 'open':
      return deadline > now ? { text: `due in ${span(deadline - now)}`, cls: deadline - now < 3600e3 ? 'is-soon' : '' }
        : { text: 'deadline passed', cls: 'is-overdue' };
    case 'overdue':
      return { text: `OVERDUE by ${span(now - deadline)}`, cls: 'is-overdue' };
    case 'answered': {
      const at = parseTime(r.answer && r.answer.at);
      const late = r.answer && r.answer.late;
      return { text: late ? `answered ${span(at - deadline)} late` : 'answered in time', cls: late ? 'is-late' : 'is-done' };
    }
    case 'withdrawn':
      return { text: 'withdrawn', cls: 'is-withdrawn' };
    default:
      return { text: String(r.state || ''), cls: '' };
  }
}

function submit(text, testid, cls = 'btn') {
  const b = el('button', cls, text);
  b.type = 'submit';
  b.dataset.testid = testid;
  return b;
}

/** A reference of an answer: a link for http(s), the reference itself else. */
function attachment(ref) {
  if (/^https?:\/\//i.test(ref)) {
    const a = el('a', 'ir-attachment', ref);
    a.href = ref;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }
  return el('code', 'ir-attachment', ref);
}

/**
 * The detail panel's section. opts:
 *   catalog  Catalog (party names and statuses)
 *   me       () => Me | null
 *   run      (action, body) => Promise<true | {error}>   an action on the shown alert
 */
export class InfoRequestsSection {
  constructor({ catalog, me, run }) {
    this.catalog = catalog;
    this.me = me;
    this.run = run;
    this.alert = null;
    /** the answer and withdraw forms by alert id and request id: they
     *  outlive re-renders, so what someone is typing stays */
    this._forms = new Map();
    this._build();
  }

  _build() {
    const s = el('section', 'detail-section detail-info');
    s.dataset.testid = 'info-requests';
    const h = el('h3', 'detail-h', 'Requests for information');
    this.pill = el('span', 'head-pill');
    this.pill.dataset.testid = 'info-requests-summary';
    h.append(' ', this.pill);
    this.list = el('ol', 'ir-list');
    s.append(h, this.list);

    // Asking: party (the alleged perpetrator first), question, deadline.
    const f = el('form', 'ir-ask');
    f.noValidate = true;
    f.setAttribute('aria-label', 'Request information');
    const row = el('div', 'ir-ask-row');
    this.askParty = el('select', 'ir-ask-party');
    this.askParty.dataset.testid = 'ir-ask-party';
    this.askParty.setAttribute('aria-label', 'Party asked');
    this.askWithin = el('select', 'ir-ask-within');
    this.askWithin.dataset.testid = 'ir-ask-within';
    this.askWithin.setAttribute('aria-label', 'Deadline');
    this.askWithin.append(...DEADLINES.map(([v, t]) => new Option(`answer within ${t}`, v)));
    this.askWithin.value = '24h';
    row.append(el('span', 'ir-ask-label', 'Ask'), this.askParty, this.askWithin);
    this.askQuestion = el('textarea', 'ir-ask-question');
    this.askQuestion.rows = 2;
    this.askQuestion.maxLength = QUESTION_MAX;
    this.askQuestion.placeholder = 'The question: what the party must say, about what';
    this.askQuestion.dataset.testid = 'ir-ask-question';
    this.askQuestion.setAttribute('aria-label', 'Question');
    this.askSubmit = submit('Request information', 'ir-ask-submit', 'btn btn-primary');
    this.askError = formError();
    this.askHint = el('p', 'form-hint');
    f.append(row, this.askQuestion, this.askSubmit, this.askHint, this.askError);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this._ask();
    });
    this.askQuestion.addEventListener('input', () => { this.askError.hidden = true; });
    this.askForm = f;
    s.append(f);
    this.el = s;
  }

  /** Forget forms and input: another alert, or another user. */
  reset() {
    this._forms.clear();
    this.askQuestion.value = '';
    this.askError.hidden = true;
    this._askFor = null;
  }

  render(a, now = Date.now()) {
    const changed = a !== this.alert;
    this.alert = a;
    if (changed || this._catalogSeen !== this.catalog.parties || this._meSeen !== this.me()) {
      this._catalogSeen = this.catalog.parties;
      this._meSeen = this.me();
      this._renderList(a);
      this._renderAsk(a);
    }
    this.tick(now);
  }

  /** The countdowns, every second. */
  tick(now = Date.now()) {
    for (const item of this.list.children) {
      const r = item._request;
      if (!r) continue;
      const v = clockView(r, now);
      setText(item._clock, v.text);
      const cls = `ir-clock ${v.cls}`.trim();
      if (item._clock.className !== cls) item._clock.className = cls;
    }
  }

  _renderList(a) {
    const rs = Array.isArray(a.info_requests) ? a.info_requests.filter((r) => r && typeof r === 'object') : [];
    const me = this.me();
    const items = rs.slice().reverse().map((r) => this._item(a, r, me));
    if (!items.length) items.push(el('li', 'muted small', 'No information requested.'));
    this.list.replaceChildren(...items);
    const count = (st) => rs.filter((r) => r.state === st).length;
    const parts = [['overdue', 'overdue'], ['open', 'open'], ['answered', 'answered']].filter(([st]) => count(st)).map(([st, t]) => `${count(st)} ${t}`);
    this.pill.hidden = !parts.length;
    setText(this.pill, parts.join(' · '));
    this.pill.className = `head-pill${count('overdue') ? ' is-bad' : count('open') ? '' : ' is-done'}`;
  }

  _item(a, r, me) {
    const name = (p) => this.catalog.partyName(p);
    const li = el('li', `ir-item ir-${r.state}`);
    li.dataset.testid = 'info-request';
    li.dataset.id = r.id;
    li.dataset.state = r.state;
    li.dataset.party = r.party;
    li._request = r;
    const mine = Boolean(me && me.party && me.party === r.party);
    if (mine && (r.state === 'open' || r.state === 'overdue')) li.classList.add('is-mine');

    const head = el('div', 'ir-head');
    const to = el('span', 'ir-to', `${r.id} · to ${name(r.party)}`);
    to.dataset.testid = 'ir-to';
    const state = el('span', `ir-state ir-state-${r.state}`, r.state);
    state.dataset.testid = 'ir-state';
    li._clock = el('span', 'ir-clock');
    li._clock.dataset.testid = 'ir-clock';
    li._clock.title = `Deadline ${fullTime(parseTime(r.deadline))}`;
    head.append(to, state, li._clock);
    li.append(head);
    const q = el('p', 'ir-question', r.question || '');
    q.dataset.testid = 'ir-question';
    li.append(q);
    const meta = el('p', 'ir-meta');
    meta.append(`asked by ${r.asked_by || '?'}${r.asked_for ? ` for ${name(r.asked_for)}` : ' for the centre'} · `,
      timeEl(r.asked_at, clockTime(parseTime(r.asked_at))), ' · deadline ', timeEl(r.deadline, fullTime(parseTime(r.deadline))));
    li.append(meta);

    if (r.answer) {
      const ans = el('div', 'ir-answer');
      ans.dataset.testid = 'ir-answer';
      ans.append(el('p', 'ir-answer-text', r.answer.text || ''));
      const refs = Array.isArray(r.answer.attachments) ? r.answer.attachments : [];
      if (refs.length) {
        const box = el('p', 'ir-attachments');
        for (const ref of refs) box.append(attachment(String(ref)), ' ');
        ans.append(box);
      }
      const by = el('p', 'ir-meta');
      by.append(`${name(r.answer.party)} · ${r.answer.by || '?'}${r.answer.on_behalf ? ' (recorded on its behalf)' : ''} · `,
        timeEl(r.answer.at, clockTime(parseTime(r.answer.at))));
      if (r.answer.late) by.append(el('span', 'ir-late', ' · late'));
      ans.append(by);
      li.append(ans);
    }
    if (r.withdrawal) {
      const w = el('p', 'ir-withdrawal', `Withdrawn by ${r.withdrawal.by || '?'}${r.withdrawal.party ? ` for ${name(r.withdrawal.party)}` : ''}: ${r.withdrawal.reason || ''}`);
      w.dataset.testid = 'ir-withdrawal';
      li.append(w);
    }
    if (r.state === 'open' || r.state === 'overdue') {
      const forms = this._formsFor(a.id, r.id);
      const canAct = Boolean(me && me.canAct());
      forms.answer.hidden = !(canAct && (mine || !me.party));
      setText(forms.answerHint, mine ? `Answering for ${name(r.party)}.` : `Recording ${name(r.party)}'s answer on its behalf (given by the hotline, say).`);
      forms.withdraw.hidden = !(canAct && (!me.party || me.party === r.asked_for));
      li.append(forms.answer, forms.withdraw);
    }
    return li;
  }

  /** The answer and withdraw forms of one request, made once. */
  _formsFor(alertID, rid) {
    const key = `${alertID}/${rid}`;
    let forms = this._forms.get(key);
    if (forms) return forms;
    const answer = el('form', 'ir-answer-form');
    answer.noValidate = true;
    answer.setAttribute('aria-label', `Answer ${rid}`);
    const text = el('textarea', 'ir-answer-input');
    text.rows = 3;
    text.maxLength = ANSWER_MAX;
    text.placeholder = 'The answer';
    text.dataset.testid = 'ir-answer-text';
    text.setAttribute('aria-label', 'Answer');
    const refs = el('input', 'ir-answer-refs');
    refs.type = 'text';
    refs.placeholder = 'Documents (optional): https://… doc:…';
    refs.title = 'Links (https://…) or document references (doc:…), separated by spaces; at most 10';
    refs.dataset.testid = 'ir-answer-refs';
    refs.setAttribute('aria-label', 'Attachments');
    const answerHint = el('p', 'form-hint');
    const answerError = formError();
    const send = submit('Answer', 'ir-answer-submit', 'btn btn-primary');
    const row = el('div', 'ir-form-row');
    row.append(refs, send);
    answer.append(text, row, answerHint, answerError);
    answer.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      answerError.hidden = true;
      const t = text.value.trim();
      const list = refs.value.split(/\s+/).filter(Boolean);
      if (!t) return this._error(answerError, 'Write the answer first.', text);
      if (list.length > ATTACHMENTS_MAX) return this._error(answerError, `At most ${ATTACHMENTS_MAX} documents.`, refs);
      const body = { text: t };
      if (list.length) body.attachments = list;
      send.disabled = true;
      try {
        const ok = await this.run(`info-requests/${encodeURIComponent(rid)}/answer`, body);
        if (ok === true) {
          text.value = '';
          refs.value = '';
        } else if (ok && ok.error) {
          const err = ok.error;
          const field = err.problem && err.problem('text') ? text : refs;
          this._error(answerError, err.message, field);
        }
      } finally {
        send.disabled = false;
      }
    });

    const withdraw = el('form', 'ir-withdraw-form');
    withdraw.noValidate = true;
    withdraw.setAttribute('aria-label', `Withdraw ${rid}`);
    const reason = el('input', 'ir-withdraw-reason');
    reason.type = 'text';
    reason.maxLength = 2048;
    reason.placeholder = 'Why withdraw it (required)';
    reason.dataset.testid = 'ir-withdraw-reason';
    reason.setAttribute('aria-label', 'Reason for withdrawing');
    const drop = submit('Withdraw', 'ir-withdraw-submit');
    const withdrawError = formError();
    const wrow = el('div', 'ir-form-row');
    wrow.append(reason, drop);
    withdraw.append(wrow, withdrawError);
    withdraw.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      withdrawError.hidden = true;
      const why = reason.value.trim();
      if (!why) return this._error(withdrawError, 'Say why: it goes on the record.', reason);
      drop.disabled = true;
      try {
        const ok = await this.run(`info-requests/${encodeURIComponent(rid)}/withdraw`, { reason: why });
        if (ok === true) reason.value = '';
        else if (ok && ok.error) this._error(withdrawError, ok.error.message, reason);
      } finally {
        drop.disabled = false;
      }
    });
    forms = { answer, answerHint, withdraw };
    this._forms.set(key, forms);
    return forms;
  }

  _renderAsk(a) {
    const me = this.me();
    const canAct = Boolean(me && me.canAct());
    this.askForm.hidden = !canAct || a.state === 'resolved';
    if (this.askForm.hidden) return;
    // The parties that may be asked: not excluded, not the asker's own;
    // the alleged perpetrators first, most alleged first.
    const alleged = (Array.isArray(a.alleged) ? a.alleged.slice() : []).sort((x, y) => (y.reports || 0) - (x.reports || 0)).map((x) => x.party);
    const parties = [...this.catalog.parties.values()].filter((p) => p && p.status !== 'excluded' && p.id !== (me && me.party));
    parties.sort((x, y) => {
      const ix = alleged.indexOf(x.id);
      const iy = alleged.indexOf(y.id);
      if ((ix < 0) !== (iy < 0)) return ix < 0 ? 1 : -1;
      if (ix !== iy) return ix - iy;
      return String(x.name || x.id).localeCompare(String(y.name || y.id));
    });
    const keep = this._askFor === a.id ? this.askParty.value : '';
    this.askParty.replaceChildren(...parties.map((p) => new Option(`${p.name || p.id}${alleged.includes(p.id) ? ' (alleged)' : ''}`, p.id)));
    if (keep && parties.some((p) => p.id === keep)) this.askParty.value = keep;
    this._askFor = a.id;
    setText(this.askHint, me.party ? `Asked for ${this.catalog.partyName(me.party)}.` : 'Asked for the centre (you act for no party).');
  }

  async _ask() {
    const question = this.askQuestion.value.trim();
    if (!this.askParty.value) return this._error(this.askError, 'Choose the party to ask.', this.askParty);
    if (!question) return this._error(this.askError, 'Write the question first.', this.askQuestion);
    this.askSubmit.disabled = true;
    try {
      const ok = await this.run('info-requests', { to: this.askParty.value, question, within: this.askWithin.value });
      if (ok === true) this.askQuestion.value = '';
      else if (ok && ok.error) this._error(this.askError, ok.error.message, this.askQuestion);
    } finally {
      this.askSubmit.disabled = false;
    }
  }

  _error(box, text, input) {
    box.textContent = text;
    box.hidden = false;
    if (input) input.focus();
  }
}
