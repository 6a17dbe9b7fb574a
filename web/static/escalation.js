// The detail panel's Escalation: the policy's level and the countdown to
// its next step (or why it stopped), whom that step notifies, which pass
// of the policy this is, and until when it is snoozed.

import { escalationView, shortTime } from './format.js';
import { el } from './dom.js';
import { section } from './panel.js';

export class EscalationSection {
  /**
   * @param {object} opts
   *   catalog  Catalog (policies)
   */
  constructor({ catalog }) {
    this.catalog = catalog;
    const { s } = section('Escalation', 'detail-esc');
    this.box = el('div', 'esc-box');
    s.append(this.box);
    this.el = s;
    /** what is shown, so that the countdown's ticks redraw only a change */
    this._sig = null;
  }

  /** Draw again at the next render, whatever it shows. */
  invalidate() {
    this._sig = null;
  }

  render(a, now) {
    const v = escalationView(a, now);
    const sig = v ? `${v.level}|${v.next}|${v.snoozedUntil}|${v.unanswered}` : 'none';
    if (this._sig === sig) return;
    this._sig = sig;
    if (!v) {
      this.box.replaceChildren(el('p', 'muted', a.policy ? 'Escalation has not started.' : 'No escalation policy.'));
      return;
    }
    const lines = [];
    const top = el('div', 'esc-top');
    top.append(el('span', 'esc-level-big', v.level));
    const cd = el('span', ['esc-next', v.stopped && 'is-stopped', v.unanswered && 'is-unanswered', v.soon && 'is-soon']
      .filter(Boolean).join(' '), v.next);
    cd.dataset.testid = 'countdown';
    top.append(cd);
    lines.push(top);
    if (v.unanswered) {
      lines.push(el('p', 'small esc-unanswered', 'Every step of the policy ran and the alert is still open: acknowledge it, or resolve it.'));
    }
    const e = a.escalation || {};
    const policy = this.catalog.policies.get(a.policy);
    if (!v.stopped && policy && Array.isArray(policy.steps) && policy.steps[e.step]) {
      const targets = policy.steps[e.step].notify || [];
      if (targets.length) lines.push(el('p', 'small', `Next: step ${e.step + 1} notifies ${targets.join(', ')}`));
    }
    if (policy && policy.repeat) {
      lines.push(el('p', 'small muted', `Pass ${(e.repeat || 0) + 1} of ${policy.repeat + 1}`));
    }
    if (v.snoozedUntil) {
      lines.push(el('p', 'small snoozed', `Snoozed until ${shortTime(v.snoozedUntil, now)}`));
    }
    this.box.replaceChildren(...lines);
  }
}
