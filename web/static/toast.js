// Small, non-blocking toasts for errors and notices.

const MAX_TOASTS = 4;

export class Toasts {
  /** @param {HTMLElement} container the (aria-live) toast region */
  constructor(container) {
    this.container = container;
  }

  /**
   * Show a message. kind: "error" | "notice". Returns the element.
   * Repeating the same text refreshes the existing toast instead of stacking.
   */
  show(text, { kind = 'error', timeout = 6000 } = {}) {
    for (const el of this.container.children) {
      if (el.dataset.text === text) {
        this._arm(el, timeout);
        return el;
      }
    }
    while (this.container.children.length >= MAX_TOASTS) this.container.firstElementChild.remove();

    const el = document.createElement('div');
    el.className = `toast toast-${kind}`;
    el.dataset.testid = 'toast';
    el.dataset.text = text;
    el.setAttribute('role', kind === 'error' ? 'alert' : 'status');

    const msg = document.createElement('span');
    msg.className = 'toast-text';
    msg.textContent = text;

    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'toast-close';
    close.setAttribute('aria-label', 'Dismiss message');
    close.textContent = '×';
    close.addEventListener('click', () => el.remove());

    el.append(msg, close);
    this.container.append(el);
    this._arm(el, timeout);
    return el;
  }

  error(text) {
    return this.show(text, { kind: 'error', timeout: 8000 });
  }

  notice(text) {
    return this.show(text, { kind: 'notice', timeout: 6000 });
  }

  /** Remove every toast (the user signed out). */
  clear() {
    for (const el of [...this.container.children]) {
      clearTimeout(el._timer);
      el.remove();
    }
  }

  _arm(el, timeout) {
    clearTimeout(el._timer);
    if (timeout > 0) el._timer = setTimeout(() => el.remove(), timeout);
  }
}
