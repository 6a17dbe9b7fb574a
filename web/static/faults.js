// RuleFaultBar: for admins, the rules whose conditions fail on reports
// (GET /api/v1/rule-failures). Reports are handled without such a rule, so
// alerts it would raise do not come: an admin must see it and fix the rule.

import { el, setText } from './dom.js';
import { fullTime, parseTime, shortTime } from './format.js';

const POLL_MS = 30_000;
const SHOWN = 3;

export class RuleFaultBar {
  /**
   * @param {HTMLElement} root   the bar (hidden while there is nothing)
   * @param {object} opts
   *   fetch     () => Promise<[RuleFault]>
   *   dismiss   (rule) => Promise<void>
   *   zoneName  (zone) => string
   */
  constructor(root, { fetch, dismiss, zoneName }) {
    this.root = root;
    this.fetch = fetch;
    this.dismiss = dismiss;
    this.zoneName = zoneName;
    this.timer = null;
    this.generation = 0;
    this.faults = [];
  }

  /** Draw the failures shown again: the zone names may have come since. */
  rerender() {
    this.render(this.faults);
  }

  start() {
    this.stop();
    const gen = ++this.generation;
    const poll = async () => {
      try {
        const faults = await this.fetch();
        if (gen === this.generation) this.render(faults);
      } catch {
        // Unreachable or refused: the connection indicator says so.
      }
      if (gen === this.generation) this.timer = setTimeout(poll, POLL_MS);
    };
    poll();
  }

  stop() {
    this.generation++;
    clearTimeout(this.timer);
    this.timer = null;
    this.render([]);
  }

  render(faults) {
    const list = Array.isArray(faults) ? faults : [];
    this.faults = list;
    this.root.hidden = list.length === 0;
    if (!list.length) {
      this.root.replaceChildren();
      return;
    }
    const head = el('strong', 'rule-faults-head',
      list.length === 1 ? 'A rule is failing:' : `${list.length} rules are failing:`);
    const items = el('ul', 'rule-faults-list');
    for (const f of list.slice(0, SHOWN)) items.append(this.item(f));
    if (list.length > SHOWN) items.append(el('li', 'muted', `+ ${list.length - SHOWN} more (GET /api/v1/rule-failures)`));
    const why = el('span', 'rule-faults-why', 'Reports are handled without a failing rule, so the alerts it would raise do not come.');
    this.root.replaceChildren(head, items, why);
  }

  item(f) {
    const li = el('li', 'rule-fault');
    li.dataset.testid = 'rule-fault';
    li.dataset.rule = f.rule;
    const times = f.count === 1 ? 'once' : `${f.count} times`;
    const at = parseTime(f.at);
    const text = el('span', 'rule-fault-text');
    setText(text, `Rule ${f.rule} failed ${times}, last at ${shortTime(at)} on report ${f.report} in ${this.zoneName(f.zone)}: ${f.error}`);
    text.title = `Since ${fullTime(parseTime(f.since))}; last at ${fullTime(at)}`;
    const dismiss = el('button', 'btn rule-fault-dismiss', 'Dismiss');
    dismiss.type = 'button';
    dismiss.dataset.testid = 'rule-fault-dismiss';
    dismiss.title = 'Forget these failures (recorded in the audit log); writing the rule does the same';
    dismiss.addEventListener('click', async () => {
      dismiss.disabled = true;
      try {
        await this.dismiss(f.rule);
        this.render(this.faults.filter((x) => x.rule !== f.rule));
      } catch {
        dismiss.disabled = false;
      }
    });
    li.append(text, dismiss);
    return li;
  }
}
