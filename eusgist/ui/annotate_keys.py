"""Keyboard shortcuts and the in-browser display contrast of the Annotate tab.

Both run in the browser only, so neither can replace the editor's layers or lose a painting
in progress. The shortcuts act on the editor and the tab's buttons, and only while the
focus is not in a text field; Ctrl+Z and Ctrl+Y are always kept from the browser's own undo
outside text fields, which would otherwise edit a form field (e.g. clear "Your name").
"""

from __future__ import annotations

#: The help line shown above the tab (a ``gr.HTML`` whose ``js_on_load`` is :data:`KEYS_JS`).
KEYS_HELP = (
    "<small>Keys (outside text fields): <kbd>Ctrl</kbd>+<kbd>Z</kbd> undo · "
    "<kbd>Ctrl</kbd>+<kbd>Y</kbd> redo · <kbd>B</kbd> brush · <kbd>E</kbd> eraser · "
    "<kbd>Ctrl</kbd>+<kbd>S</kbd> save · <kbd>Ctrl</kbd>+<kbd>Enter</kbd> save and next · "
    "<kbd>Alt</kbd>+<kbd>→</kbd>/<kbd>←</kbd> next/previous image (without saving)</small>"
)

#: Installs the shortcuts once per page and the contrast style (a CSS filter on the editor
#: canvas, set by :data:`CONTRAST_JS`).
KEYS_JS = r"""
if (!window.eusgistAnnotateKeys) {
  window.eusgistAnnotateKeys = true;
  const style = document.createElement('style');
  style.textContent =
    '#annotate-editor canvas { filter: contrast(var(--eusgist-contrast, 1)); }';
  document.head.appendChild(style);
  const textual = (el) => {
    if (!el) return false;
    if (el.isContentEditable || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
    if (el.tagName !== 'INPUT') return false;
    return !['checkbox', 'radio', 'range', 'button', 'submit', 'file', 'color']
      .includes((el.type || 'text').toLowerCase());
  };
  const press = (selector) => {
    const button = document.querySelector(selector);
    if (button && !button.disabled) { button.click(); return true; }
    return false;
  };
  const tool = (...names) => {
    const editor = document.getElementById('annotate-editor');
    if (!editor) return false;
    for (const button of editor.querySelectorAll('button')) {
      const label = (button.getAttribute('aria-label') || button.title || '').toLowerCase();
      if (names.some((n) => label === n) && !button.disabled) { button.click(); return true; }
    }
    return false;
  };
  document.addEventListener('keydown', (e) => {
    const tab = document.getElementById('annotate');
    if (!tab || tab.offsetParent === null || textual(document.activeElement)) return;
    const key = e.key.toLowerCase(), mod = e.ctrlKey || e.metaKey;
    if (mod && ['z', 'y', 's'].includes(key)) e.preventDefault();  // never the browser's
    if (mod && key === 'z' && !e.shiftKey) tool('undo');
    else if (mod && (key === 'y' || (key === 'z' && e.shiftKey))) tool('redo');
    else if (mod && key === 's') press('#annotate-save');
    else if (mod && key === 'enter') { e.preventDefault(); press('#annotate-save-next'); }
    else if (e.altKey && key === 'arrowright') { e.preventDefault(); press('#annotate-next-image'); }
    else if (e.altKey && key === 'arrowleft') { e.preventDefault(); press('#annotate-previous-image'); }
    else if (!mod && !e.altKey && key === 'b') tool('brush', 'draw');
    else if (!mod && !e.altKey && key === 'e') tool('erase', 'eraser');
  }, true);
}
"""

#: The display contrast slider's handler: a CSS filter on the editor canvas (about
#: mid-grey, like :func:`eusgist.masks.adjust_contrast`), applied without the server.
CONTRAST_JS = """(contrast) => {
  const editor = document.getElementById('annotate-editor');
  if (editor) editor.style.setProperty('--eusgist-contrast', String(contrast));
  return [];
}"""
