// ActingAs: the "Acting as" selector. Every action the board sends names
// its actor: {by, party}, where by is the party's name (or "duty officer")
// and party its id (omitted for the duty officer). The choice is remembered
// in localStorage.

export const DUTY_OFFICER = 'duty officer';
const STORAGE_KEY = 'truceline.actingAs';

function readStored() {
  try {
    return localStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return '';
  }
}

function store(party) {
  try {
    if (party) localStorage.setItem(STORAGE_KEY, party);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage disabled: the choice lasts for this page only */
  }
}

export class ActingAs {
  /**
   * @param {HTMLSelectElement} select
   * @param {Catalog} catalog
   * @param {(actor) => void} onChange  after the person changes it
   */
  constructor(select, catalog, onChange) {
    this.select = select;
    this.catalog = catalog;
    this.onChange = onChange;
    this.party = readStored();
    this._render();
    select.addEventListener('change', () => {
      this.party = select.value;
      store(this.party);
      this._mark();
      this.onChange(this.actor());
    });
  }

  /** The current actor: {by, party}; party is "" for the duty officer. */
  actor() {
    if (!this.party) return { by: DUTY_OFFICER, party: '' };
    return { by: this.catalog.partyName(this.party), party: this.party };
  }

  /** "duty officer" or "Co-chair A": for button labels and hints. */
  label() {
    return this.party ? this.catalog.partyName(this.party) : 'Duty officer';
  }

  /** The request body fields naming the actor. */
  body() {
    const a = this.actor();
    return a.party ? { by: a.by, party: a.party } : { by: a.by };
  }

  /** Rebuild the options from the catalog (after it loads). Returns a
   *  notice when the remembered party is no longer one to act for. */
  refresh() {
    let notice = '';
    if (this.catalog.loaded && this.party && !this.catalog.actingParties().some((p) => p.id === this.party)) {
      notice = `Acting as the duty officer: “${this.party}” is not a party you can act for`;
      this.party = '';
      store('');
    }
    this._render();
    return notice;
  }

  _render() {
    const opts = [new Option('Duty officer (no party)', '')];
    const parties = this.catalog.actingParties();
    for (const p of parties) {
      const opt = new Option(p.name || p.id, p.id);
      if (p.status === 'observer') opt.text += ' (observer)';
      opts.push(opt);
    }
    // Until the catalog loads, keep the remembered party selectable.
    if (this.party && !parties.some((p) => p.id === this.party)) opts.push(new Option(this.party, this.party));
    this.select.replaceChildren(...opts);
    this.select.value = this.party;
    this._mark();
  }

  _mark() {
    // Acting for a party is visible at a glance.
    this.select.closest('.acting')?.classList.toggle('is-party', Boolean(this.party));
  }
}
