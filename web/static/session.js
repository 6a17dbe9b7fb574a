// Me: the signed-in user, as GET /api/v1/session describes them, and what
// their role lets them do on the board. The server decides every request;
// the board only avoids offering what it would refuse.
//
// Every action the board sends is made by this user, for their own party
// (if any): the server takes both from the session, so the request bodies
// name neither.

const ROLE_LABELS = {
  admin: 'Admin',
  duty_officer: 'Duty officer',
  liaison: 'Liaison',
  viewer: 'Viewer',
  reporter: 'Reporter',
};

/** "Duty officer" for duty_officer; unknown roles readable too. */
export function roleLabel(role) {
  if (ROLE_LABELS[role]) return ROLE_LABELS[role];
  const s = String(role || '').replace(/[_-]+/g, ' ').trim();
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : 'Unknown role';
}

export class Me {
  /**
   * @param {object} view  the session: {user, full_name, role, party, zones}
   * @param {Catalog} catalog  for the party's name
   */
  constructor(view, catalog) {
    this.user = String(view.user || '');
    this.fullName = String(view.full_name || '');
    this.role = String(view.role || '');
    this.party = String(view.party || '');
    this.zones = Array.isArray(view.zones) ? view.zones.filter((z) => typeof z === 'string') : [];
    this.catalog = catalog;
  }

  /** Whether a session view is this user, with the same role, party and
   *  zones (an admin may have changed them meanwhile). */
  same(view) {
    const zones = Array.isArray(view.zones) ? view.zones : [];
    return String(view.user || '') === this.user && String(view.full_name || '') === this.fullName &&
      String(view.role || '') === this.role && String(view.party || '') === this.party &&
      zones.join('\n') === this.zones.join('\n');
  }

  /** How the user appears on the timeline and in acknowledgements. */
  get name() {
    return this.fullName || this.user;
  }

  /** Whether the user acknowledges, resolves, comments on and snoozes the
   *  alerts they see (a liaison sees only their own zones' alerts). */
  canAct() {
    return this.role === 'admin' || this.role === 'duty_officer' || this.role === 'liaison';
  }

  /** Verification is a party's judgement: only for those acting for one. */
  canVerify() {
    return this.canAct() && Boolean(this.party);
  }

  /** Reporters submit reports through the API; the board has nothing for them. */
  hasBoard() {
    return this.role !== 'reporter';
  }

  partyName() {
    return this.party ? this.catalog.partyName(this.party) : '';
  }

  /** Who acts: {by, party} as the server records it. */
  actor() {
    return { by: this.name, party: this.party };
  }

  /** "Co-chair A" for a party's user, else their name: for hints. */
  label() {
    return this.party ? this.partyName() : this.name;
  }

  /** The request body fields naming the actor: none, the server knows. */
  body() {
    return {};
  }

  /** Why the user may not act, for hints; "" when they may. */
  whyNot() {
    if (this.canAct()) return '';
    return `You are signed in as a ${roleLabel(this.role).toLowerCase()}: you see the alerts but do not act on them.`;
  }
}
