// The detail panel's actions: acknowledge, resolve (or, where the parties
// resolve jointly, agree to), and snooze the escalation; whom the user acts
// as, and where a joint acknowledgement or resolution stands. Those who
// only look get no buttons, but a word on why.

import { hasAcknowledged, requiredAcks, resolveView } from './format.js';
import { el, setText } from './dom.js';
import { button } from './panel.js';

const SNOOZES = [
  ['15m', '15 min'],
  ['1h', '1 h'],
  ['4h', '4 h'],
];

export class ActionsSection {
  /**
   * @param {object} opts
   *   catalog  Catalog (party names)
   *   act      (action, body) => void   sends an action on the shown alert
   */
  constructor({ catalog, act }) {
    this.catalog = catalog;
    const actions = el('div', 'detail-actions');
    const mainActions = el('div', 'detail-buttons');
    this.ack = button('btn-ack', 'Acknowledge', 'detail-ack');
    this.resolve = button('btn-resolve', 'Resolve', 'detail-resolve');
    mainActions.append(this.ack, this.resolve);
    const snooze = el('div', 'snooze');
    snooze.setAttribute('role', 'group');
    snooze.setAttribute('aria-label', 'Snooze escalation');
    snooze.append(el('span', 'snooze-label', 'Snooze'));
    this.snoozes = SNOOZES.map(([dur, text]) => {
      const b = button('btn-snooze', text, 'snooze');
      b.dataset.for = dur;
      b.setAttribute('aria-label', `Snooze escalation for ${text}`);
      snooze.append(b);
      return b;
    });
    this.actingHint = el('p', 'acting-hint');
    this.actingHint.dataset.testid = 'acting-hint';
    this.ackNote = el('p', 'ack-note');
    actions.append(mainActions, snooze, this.actingHint, this.ackNote);
    this.el = actions;
    // Instead of the actions, for those who only look.
    this.readOnly = el('p', 'read-only-note');
    this.readOnly.dataset.testid = 'read-only-note';
    this.readOnly.hidden = true;

    this.ack.addEventListener('click', () => act('ack'));
    this.resolve.addEventListener('click', () => act('resolve'));
    for (const b of this.snoozes) b.addEventListener('click', () => act('snooze', { for: b.dataset.for }));
  }

  /** The buttons, each with the action it sends. */
  get buttons() {
    return [[this.ack, 'ack'], [this.resolve, 'resolve'], ...this.snoozes.map((b) => [b, 'snooze'])];
  }

  /** What me (null when nobody is signed in) may do on a. */
  render(a, me) {
    const canAct = Boolean(me && me.canAct());
    const actor = me ? me.actor() : { by: '', party: '' };
    const who = me ? me.label() : '';
    const acked = canAct && hasAcknowledged(a, actor);
    const active = a.state !== 'resolved';
    const partyName = (p) => this.catalog.partyName(p);

    this.el.hidden = !canAct;
    this.readOnly.hidden = canAct || !me;
    setText(this.readOnly, me ? me.whyNot() : '');

    this.ack.hidden = !canAct || a.state !== 'open' || acked;
    setText(this.ack, actor.party ? `Acknowledge for ${who}` : 'Acknowledge');
    const rv = resolveView(a, actor);
    this.resolve.hidden = !canAct || !active || rv.agreed;
    setText(this.resolve, rv.label);
    this.resolve.title = rv.joint
      ? `Agree to resolve for ${who}; it resolves once ${rv.waiting.map(partyName).join(' and ')} agree${rv.waiting.length === 1 ? 's' : ''}`
      : 'Resolve the alert';
    for (const b of this.snoozes) b._blocked = !active || !a.escalation || Boolean(a.escalation.stopped) || !rv.snooze;
    this.snoozes[0].parentElement.hidden = !active || !a.escalation || !rv.snooze;
    setText(this.actingHint, !me ? '' : actor.party ? `Acting as ${me.name}, for ${who}` : `Acting as ${me.name} (for no party)`);

    let note = '';
    if (a.state === 'open' && acked) {
      const waiting = requiredAcks(a).filter((x) => !x.ack).map((x) => partyName(x.party));
      note = (actor.party ? `${who} has acknowledged.` : 'You have acknowledged.') +
        (waiting.length ? ` Waiting for ${waiting.join(' and ')}.` : '');
    }
    if (active && rv.agreedBy.length) {
      const names = (ps) => ps.map(partyName).join(' and ');
      const mine = rv.waiting.length === 1 && rv.waiting[0] === actor.party;
      note = `${note ? `${note} ` : ''}${names(rv.agreedBy)} agreed to resolve.` +
        (mine ? ` It resolves if you agree for ${who}.`
          : rv.waiting.length ? ` It resolves when ${names(rv.waiting)} agree${rv.waiting.length === 1 ? 's' : ''}.` : '');
    }
    if (active && canAct && !rv.snooze) {
      note = `${note ? `${note} ` : ''}Snoozing would hold the escalation towards the other party: only someone acting for no party may.`;
    }
    setText(this.ackNote, note);
    this.ackNote.hidden = !note;
  }
}
