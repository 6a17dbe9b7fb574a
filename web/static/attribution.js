// The detail panel's Attribution section: who the reports allege did it
// (the alert's `alleged`, with how many reports say so), each party's
// judgement of each alleged party side by side, and the form with which a
// user of a party records its own judgement. Attribution is kept apart from
// what was observed: it never changes the alert's verification or state.

import { clockTime, fullTime, parseTime } from './format.js';
import { el, setText } from './dom.js';
import { clearError, formError, noteInput, showError } from './panel.js';
import { judgementCard, judgementForm, sendJudgement, statusSelect, submitButton } from './verification.js';

export const ATTRIBUTION_STATUSES = [
  ['substantiated', 'Substantiated'],
  ['not_substantiated', 'Not substantiated'],
  ['undetermined', 'Undetermined'],
];

export class AttributionSection {
  /**
   * @param {object} opts
   *   catalog   Catalog (party names)
   *   submit    ({alleged, status, note}) => Promise<true | {error} | false>
   */
  constructor({ catalog, submit }) {
    this.catalog = catalog;
    this.submit = submit;
    const s = el('section', 'detail-section detail-attr');
    s.dataset.testid = 'attribution';
    const h = el('h3', 'detail-h', 'Attribution');
    s.append(h);
    this.groups = el('div', 'attr-groups');
    this.groups.dataset.testid = 'attributions';

    const form = judgementForm('attr-form', 'Attribution judgement');
    this.alleged = el('select', 'verify-status');
    this.alleged.dataset.testid = 'attr-alleged';
    this.alleged.setAttribute('aria-label', 'Alleged party');
    this.status = statusSelect('attr-status', 'Attribution judgement', 'Judgement…', ATTRIBUTION_STATUSES);
    this.reason = noteInput('attr-reason', 'Reason (required)', 'Reason for the judgement');
    this.button = submitButton('Record', 'attr-submit');
    this.error = formError();
    this.hint = el('p', 'form-hint');
    form.append(this.alleged, this.status, this.reason, this.button);
    s.append(this.groups, form, this.hint, this.error);
    this.form = form;
    this.el = s;

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this._record();
    });
    for (const input of [this.alleged, this.status, this.reason]) input.addEventListener('input', () => this._clear(input));
  }

  reset() {
    this.status.value = '';
    this.reason.value = '';
    this.alleged.value = '';
    for (const input of [this.alleged, this.status, this.reason]) this._clear(input);
  }

  _clear(input) {
    clearError(this.error, input);
  }

  _show(text, input) {
    showError(this.error, text, input);
  }

  async _record() {
    for (const input of [this.alleged, this.status, this.reason]) this._clear(input);
    const alleged = this.alleged.value;
    const status = this.status.value;
    const note = this.reason.value.trim();
    if (!alleged) return this._show('Choose the party alleged to have done it.', this.alleged);
    if (!status) return this._show('Choose substantiated, not substantiated or undetermined.', this.status);
    if (!note) return this._show('Give a reason: it goes on the record.', this.reason);
    await sendJudgement(this.submit, { alleged, status, note }, this);
  }

  /** Who may judge: canJudge when acting for a party (who names it). */
  renderActions(canAct, canJudge, who) {
    this.form.hidden = !canJudge;
    for (const c of [this.alleged, this.status, this.reason]) c.disabled = !canJudge;
    this.button._blocked = !canJudge;
    setText(this.hint, canJudge ? `Recorded as ${who}'s judgement of that party, replacing its earlier one; the other parties' stand.`
      : canAct ? 'Attribution is a party’s judgement: you act for no party, so you cannot record one.' : '');
    this.hint.hidden = !canAct;
  }

  /** The alleged parties, each with every judging party's judgement. */
  render(a) {
    const alleged = Array.isArray(a.alleged) ? a.alleged.filter((x) => x && x.party) : [];
    const judgements = Array.isArray(a.attributions) ? a.attributions.filter((x) => x && x.party && x.alleged) : [];
    const accused = alleged.map((x) => x.party);
    for (const j of judgements) if (!accused.includes(j.alleged)) accused.push(j.alleged);
    // Judging parties: those whose acknowledgement the alert needs, then
    // any other that judged.
    const judges = [];
    for (const p of a.require_ack_from || []) if (!judges.includes(p)) judges.push(p);
    for (const j of judgements) if (!judges.includes(j.party)) judges.push(j.party);

    const groups = accused.map((party) => {
      const g = el('div', 'attr-group');
      g.dataset.testid = 'attribution-group';
      g.dataset.alleged = party;
      const n = (alleged.find((x) => x.party === party) || {}).reports || 0;
      const head = el('p', 'attr-head');
      head.append(el('strong', null, this.catalog.partyName(party)),
        n > 0 ? ` — alleged by ${n} ${n === 1 ? 'report' : 'reports'}` : ' — no standing report alleges it');
      const grid = el('div', 'verif-grid');
      for (const judge of judges) {
        const j = judgements.find((x) => x.party === judge && x.alleged === party);
        const { card, meta } = judgementCard('attribution-judgement', judge, this.catalog.partyName(judge), j, 'Not judged');
        if (j) {
          const t = el('time', 'when', clockTime(parseTime(j.at)));
          t.dateTime = j.at || '';
          t.title = fullTime(parseTime(j.at));
          meta.append(t);
          if (j.by) meta.append(` · ${j.by}`);
        }
        grid.append(card);
      }
      g.append(head, grid);
      return g;
    });
    if (!groups.length) groups.push(el('p', 'muted', 'No report alleges who did it, and no party has judged.'));
    this.groups.replaceChildren(...groups);

    // The form offers the alleged parties first, then every other party.
    const keep = this.alleged.value;
    const options = [new Option('Alleged party…', '')];
    options[0].disabled = true;
    for (const p of accused) options.push(new Option(this.catalog.partyName(p), p));
    const others = [...this.catalog.parties.keys()].filter((p) => !accused.includes(p)).sort();
    if (others.length) {
      const og = document.createElement('optgroup');
      og.label = 'Other parties';
      for (const p of others) og.append(new Option(this.catalog.partyName(p), p));
      options.push(og);
    }
    this.alleged.replaceChildren(...options);
    this.alleged.value = keep && [...this.alleged.options].some((o) => o.value === keep) ? keep
      : accused.length === 1 ? accused[0] : '';
  }
}
