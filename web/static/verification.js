// The detail panel's Verification: what each party judges of what was
// observed (confirmed, cannot confirm, disputed, not applicable), a card
// each, the alert's overall verification, and the form with which a user of
// a party records its judgement. Only a party verifies: someone acting for
// no party sees why not. The cards and the form's pieces serve attribution.js
// too: a party's judgement of who did it looks the same.

import { clockTime, label, parseTime } from './format.js';
import { el, setText } from './dom.js';
import { clearError, formError, noteInput, section, showError, timeEl } from './panel.js';

const VERIFY_STATUSES = [
  ['confirmed', 'Confirmed'],
  ['cannot_confirm', 'Cannot confirm'],
  ['disputed', 'Disputed'],
  ['not_applicable', 'Not applicable'],
];

export class VerificationSection {
  /**
   * @param {object} opts
   *   catalog  Catalog (party names)
   *   me       () => Me | null   the signed-in user
   *   submit   ({status, note}) => Promise<true | {error} | false>
   */
  constructor({ catalog, me, submit }) {
    this.catalog = catalog;
    this.me = me;
    this.submit = submit;
    const { s, h } = section('Verification', 'detail-verif');
    this.pill = el('span', 'head-pill');
    h.append(' ', this.pill);
    this.sentence = el('p', 'verif-sentence');
    this.sentence.dataset.testid = 'verification-summary';
    this.cards = el('div', 'verif-grid');
    this.cards.dataset.testid = 'verifications';
    const form = judgementForm('verify-form', 'Verify');
    this.status = statusSelect('verify-status', 'Verification status', 'Status…', VERIFY_STATUSES);
    this.reason = noteInput('verify-reason', 'Reason (required)', 'Reason for the verification');
    this.button = submitButton('Verify', 'verify-submit');
    this.error = formError();
    this.hint = el('p', 'form-hint');
    form.append(this.status, this.reason, this.button);
    s.append(this.sentence, this.cards, form, this.hint, this.error);
    this.form = form;
    this.el = s;

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this._verify();
    });
    for (const input of [this.status, this.reason]) input.addEventListener('input', () => clearError(this.error, input));
  }

  reset() {
    this.status.value = '';
    this.reason.value = '';
    clearError(this.error, this.reason);
    clearError(this.error, this.status);
  }

  async _verify() {
    clearError(this.error, this.status);
    clearError(this.error, this.reason);
    const me = this.me();
    if (!me || !me.canVerify()) {
      showError(this.error, 'Verification is a party’s judgement: you act for no party.', null);
      return;
    }
    const status = this.status.value;
    const note = this.reason.value.trim();
    if (!status) return showError(this.error, 'Choose confirmed, cannot confirm, disputed or not applicable.', this.status);
    if (!note) return showError(this.error, 'Give a reason: it goes on the record.', this.reason);
    await sendJudgement(this.submit, { status, note }, this);
  }

  /** Verification is per party (and stays possible after resolving: the
   *  facts may be established later); the form is for those acting for
   *  one (canVerify; who names it). */
  renderActions(canAct, canVerify, who) {
    this.form.hidden = !canVerify;
    this.status.disabled = !canVerify;
    this.reason.disabled = !canVerify;
    this.button._blocked = !canVerify;
    setText(this.hint, canVerify ? `Recorded as ${who}'s judgement, replacing any earlier one.`
      : canAct ? 'Verification is a party’s judgement: you act for no party, so you cannot verify.' : '');
    this.hint.hidden = !canAct;
  }

  render(a) {
    const vs = Array.isArray(a.verifications) ? a.verifications : [];
    const verification = a.verification || 'unverified';
    this.pill.className = `head-pill verif-${verification}`;
    setText(this.pill, label(verification));
    setText(this.sentence, a.verification_summary || '');
    this.sentence.hidden = !a.verification_summary;
    const parties = [];
    for (const p of a.require_ack_from || []) if (!parties.includes(p)) parties.push(p);
    for (const v of vs) if (v && v.party && !parties.includes(v.party)) parties.push(v.party);
    const cards = parties.map((party) => {
      const v = vs.find((x) => x && x.party === party);
      const { card, meta } = judgementCard('verification', party, this.catalog.partyName(party), v, 'Not verified');
      if (v) {
        meta.append(timeEl(v.at, clockTime(parseTime(v.at))));
        if (v.by && v.by !== this.catalog.partyName(party)) meta.append(` · ${v.by}`);
      }
      return card;
    });
    if (!cards.length) cards.push(el('p', 'muted', 'No party has verified this alert yet.'));
    this.cards.replaceChildren(...cards);
  }
}

/** A party's judgement as a card: the party, its judgement (null: none
 *  yet) with the reason, and meta, the line for when and by whom, for the
 *  caller to fill (null when there is no judgement). */
export function judgementCard(testid, party, partyName, judgement, notYet) {
  const card = el('div', 'verif-card');
  card.dataset.testid = testid;
  card.dataset.party = party;
  card.dataset.status = judgement ? judgement.status : 'none';
  const head = el('div', 'verif-card-head');
  head.append(el('span', 'verif-party', partyName),
    el('span', 'verif-status', judgement ? label(judgement.status) : notYet));
  card.append(head);
  if (!judgement) {
    card.append(el('p', 'verif-reason muted', 'No judgement yet.'));
    return { card, meta: null };
  }
  card.append(el('p', 'verif-reason', judgement.reason || '(no reason given)'));
  const meta = el('p', 'verif-meta');
  card.append(meta);
  return { card, meta };
}

/** Send a judgement from form (its status, reason, error line and, for an
 *  attribution, alleged party): once recorded, clear the status and the
 *  reason; when refused, show why, at the field the server names. */
export async function sendJudgement(submit, body, { status, reason, alleged, error }) {
  const ok = await submit(body);
  if (ok === true) {
    reason.value = '';
    status.value = '';
  } else if (ok && ok.error) {
    const err = ok.error;
    const input = err.problem && (err.problem('reason') || err.problem('note')) ? reason
      : err.problem && err.problem('status') ? status
        : alleged && err.problem && err.problem('alleged') ? alleged : null;
    showError(error, err.message, input);
  }
}

/** The form in which a party records a judgement (cls names it). */
export function judgementForm(cls, ariaLabel) {
  const form = el('form', `inline-form ${cls}`);
  form.noValidate = true;
  form.setAttribute('aria-label', ariaLabel);
  return form;
}

/** A select of statuses ([value, text]), with a placeholder to choose. */
export function statusSelect(testid, ariaLabel, placeholder, statuses) {
  const select = el('select', 'verify-status');
  select.dataset.testid = testid;
  select.setAttribute('aria-label', ariaLabel);
  select.append(new Option(placeholder, ''), ...statuses.map(([v, t]) => new Option(t, v)));
  select.options[0].disabled = true;
  return select;
}

export function submitButton(text, testid) {
  const b = el('button', 'btn btn-primary', text);
  b.type = 'submit';
  b.dataset.testid = testid;
  return b;
}
