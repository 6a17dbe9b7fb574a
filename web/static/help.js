// HelpOverlay: the keyboard shortcuts, shown with "?" (a small modal
// dialog; Esc, "?" or a click outside closes it and focus goes back).

export class HelpOverlay {
  /** @param {HTMLElement} root  the backdrop holding the dialog (hidden) */
  constructor(root) {
    this.root = root;
    this.dialog = root.querySelector('[role="dialog"]');
    this.closeBtn = root.querySelector('[data-close]');
    this.returnTo = null;
    this.closeBtn?.addEventListener('click', () => this.close());
    root.addEventListener('click', (ev) => {
      if (ev.target === root) this.close();
    });
    root.addEventListener('keydown', (ev) => {
      if (ev.key === 'Tab') {
        // the close button is the only control: keep focus in the dialog
        ev.preventDefault();
        this.closeBtn?.focus();
      }
    });
  }

  get isOpen() {
    return !this.root.hidden;
  }

  open() {
    if (this.isOpen) return;
    this.returnTo = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    this.root.hidden = false;
    document.body.classList.add('has-help');
    this.dialog.focus();
  }

  close() {
    if (!this.isOpen) return;
    this.root.hidden = true;
    document.body.classList.remove('has-help');
    const to = this.returnTo;
    this.returnTo = null;
    if (to && to.isConnected) to.focus({ preventScroll: true });
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }
}
