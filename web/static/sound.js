// Sound: an optional audible cue when a severe or extreme alert opens or
// reopens, and a louder one when an alert's escalation runs out with nobody
// having acknowledged it. Off by default; the toggle (aria-pressed) is remembered in
// localStorage. The tone is synthesised with the Web Audio API: no audio
// files. Browsers only let a page make sound after a person has interacted
// with it, so a setting restored on load waits for the first click or key.

const STORAGE_KEY = 'truceline.sound';
/** at most one cue of a kind in this many ms: a burst of alerts is one cue */
const GAP_MS = 1500;

function readStored() {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'on';
  } catch {
    return false;
  }
}

function store(on) {
  try {
    if (on) localStorage.setItem(STORAGE_KEY, 'on');
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage disabled: the choice lasts for this page only */
  }
}

// Tones: [frequency Hz, start s, length s]. Extreme: four alternating
// notes; severe: two; unanswered: the extreme tone twice, rising.
const TONES = {
  extreme: [[988, 0, 0.16], [784, 0.2, 0.16], [988, 0.4, 0.16], [784, 0.6, 0.24]],
  unanswered: [[784, 0, 0.16], [988, 0.2, 0.16], [784, 0.4, 0.16], [988, 0.6, 0.16],
    [784, 1.0, 0.16], [988, 1.2, 0.16], [784, 1.4, 0.16], [1175, 1.6, 0.4]],
  severe: [[880, 0, 0.14], [659, 0.18, 0.22]],
  // falling, low: the board can no longer vouch for what it shows
  stale: [[523, 0, 0.25], [392, 0.3, 0.25], [262, 0.6, 0.5]],
  test: [[880, 0, 0.1]],
};

export class Sound {
  /** @param {HTMLButtonElement} button  the toggle */
  constructor(button) {
    this.button = button;
    this.on = readStored();
    this.ctx = null;
    /** when each kind of cue last played ("alert", "unanswered") */
    this.lastAt = { alert: 0, unanswered: 0, stale: 0 };
    this._render();
    button.addEventListener('click', () => {
      this.on = !this.on;
      store(this.on);
      this._render();
      // The click is the gesture that lets the page make sound: say how it
      // sounds, quietly.
      if (this.on) this._play('test', 0.08);
    });
    if (this.on) this._armUnlock();
  }

  /** A severe or extreme alert opened or reopened. */
  alert(severity) {
    if (this._due('alert')) this._play(severity === 'extreme' ? 'extreme' : 'severe', 0.16);
  }

  /** Every escalation step of an open alert ran and nobody acknowledged
   *  it. Not held back by a cue for an alert that just opened. */
  unanswered() {
    if (this._due('unanswered')) this._play('unanswered', 0.2);
  }

  /** The board turned stale: the server fell silent or the connection
   *  dropped. Once per outage; the caller says when one begins. */
  stale() {
    if (this._due('stale')) this._play('stale', 0.16);
  }

  /** Whether a cue of kind may play now (sound on, none just played). */
  _due(kind) {
    if (!this.on) return false;
    const now = Date.now();
    if (now - this.lastAt[kind] < GAP_MS) return false;
    this.lastAt[kind] = now;
    return true;
  }

  _context() {
    if (this.ctx) return this.ctx;
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    try {
      this.ctx = new AC();
    } catch {
      return null;
    }
    this.ctx.addEventListener?.('statechange', () => this._render());
    return this.ctx;
  }

  /** Make (or resume) the audio context at the first interaction. */
  _armUnlock() {
    const unlock = () => {
      document.removeEventListener('pointerdown', unlock, true);
      document.removeEventListener('keydown', unlock, true);
      const ctx = this._context();
      if (ctx && ctx.state === 'suspended') ctx.resume().catch(() => {});
      this._render();
    };
    document.addEventListener('pointerdown', unlock, true);
    document.addEventListener('keydown', unlock, true);
  }

  /** Play the tone of TONES[name]. */
  _play(name, volume) {
    const notes = TONES[name];
    const ctx = this._context();
    if (!ctx) return;
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    const t0 = ctx.currentTime + 0.02;
    const out = ctx.createGain();
    out.gain.value = volume;
    out.connect(ctx.destination);
    for (const [freq, start, len] of notes) {
      const osc = ctx.createOscillator();
      const env = ctx.createGain();
      osc.type = 'triangle';
      osc.frequency.value = freq;
      // short attack and release: no clicks
      env.gain.setValueAtTime(0.0001, t0 + start);
      env.gain.exponentialRampToValueAtTime(1, t0 + start + 0.015);
      env.gain.setValueAtTime(1, t0 + start + len - 0.04);
      env.gain.exponentialRampToValueAtTime(0.0001, t0 + start + len);
      osc.connect(env);
      env.connect(out);
      osc.start(t0 + start);
      osc.stop(t0 + start + len + 0.02);
    }
  }

  _render() {
    const b = this.button;
    const waiting = this.on && (!this.ctx || this.ctx.state !== 'running');
    b.setAttribute('aria-pressed', this.on ? 'true' : 'false');
    b.dataset.state = !this.on ? 'off' : waiting ? 'waiting' : 'on';
    const text = b.querySelector('.sound-label');
    if (text) text.textContent = this.on ? 'Sound on' : 'Sound off';
    b.title = !this.on
      ? 'Sound is off. Turn on to hear a tone when a severe or extreme alert opens, and an alarm when an alert’s escalation runs out unacknowledged'
      : waiting
        ? 'Sound is on; the browser allows it after your first click or key press on this page'
        : 'Sound is on: a tone plays when a severe or extreme alert opens or reopens, an alarm when an alert’s escalation runs out unacknowledged';
  }
}
