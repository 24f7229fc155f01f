"""The page's styles and the few lines of script Gradio has no setting for: `[n]` links that
unfold and scroll to their answer's source, file names that open the document viewer, a
copy button that copies the answer as plain text with its `[n]` markers, a question box that
stays editable while an answer comes, and the note on a bad k."""

from __future__ import annotations

import json

from ui import render

CSS = """
#kb-status, #kb-answerer { color: var(--body-text-color-subdued); }
#kb-status p:last-child, #kb-answerer p, #how-to { font-size: 0.9em; }
#kb-answerer { margin-top: calc(-1 * var(--layout-gap)); }  /* one paragraph with the status line */
/* the chat's toolbar (share, clear, copy all) in a strip of its own above the messages: laid
   over them, it covered the top of a question's bubble in a follow-up */
#chat .wrapper > .icon-button-wrapper.top-panel { position: static; align-self: flex-end;
                                                  margin: var(--block-label-margin); }
#chat .wrapper > .bubble-wrap { height: auto; flex: 1 1 0; min-height: 0; padding-top: 0; }
/* narrow screens, where the two columns (min 320 px each) stack: a shorter chat, so that the
   question box is on the first screen after an answer. At 390x844 with a three-line "About" the
   box ends at 795 px with 45vh (884 px, below the fold, with 58vh; the sources start at 896 px,
   were 986 px); checked by `pytest tests/test_ui_browser.py -k keeps_its_sources` */
@media (max-width: 720px) { #chat { height: min(520px, 45vh) !important; } }
#how-to { color: var(--body-text-color-subdued); }
.rag-sources h3 { margin: 0 0 6px 0; }
.rag-turn { margin: 4px 0 10px 0; }
.rag-turn > summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: 0.9em; }
.rag-source { border-left: 3px solid var(--color-accent); padding: 4px 10px; margin: 10px 0; }
.rag-source.rag-flash { background: var(--color-accent-soft); }
.rag-source-head { font-size: 0.9em; margin-bottom: 4px; overflow-wrap: anywhere; }
.rag-source-head span, .rag-source-head a { margin-right: 6px; }
.rag-source-head .rag-section { display: inline-block; }  /* the § stays with its section's name */
.rag-marker { font-weight: 600; margin-right: 2px !important; }
.rag-file { font-family: var(--font-mono); }
a.rag-file { text-decoration: underline; cursor: pointer; }
.rag-section, .rag-page, .rag-score, .rag-timing, .rag-answerer, .rag-pending, .rag-stopped { color: var(--body-text-color-subdued); }
.rag-answerer { font-size: 0.85em; margin-top: 6px; }
.rag-chunk { white-space: pre-wrap; font-size: 0.9em; line-height: 1.45; overflow-wrap: anywhere; }
mark.rag-quote { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
.rag-abstained, .rag-unsupported, .rag-failed { color: #b45309; }
.rag-viewer { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 6px 10px; margin-bottom: 10px; }
.rag-k-note { color: #b45309; font-size: 0.9em; }
.rag-viewer-note { margin: 6px 0 2px 0; color: #b45309; }
.rag-viewer-head { display: flex; flex-wrap: wrap; gap: 8px; align-items: baseline; font-size: 0.9em; overflow-wrap: anywhere; }
.rag-close { margin-left: auto; cursor: pointer; font-size: 0.85em; font-weight: normal; padding: 1px 8px;
             border: 1px solid var(--border-color-primary); border-radius: 4px; }
#viewer:not(:has(.rag-viewer)), #k-note:not(:has(.rag-k-note)) { display: none; }
.rag-doc { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 55vh; overflow-y: auto; font-size: 0.85em;
           line-height: 1.45; margin: 6px 0 0 0; }
"""

_CONSTANTS = json.dumps({
    "banner": render.ABSTAINED_BANNER, "stopped": render.STOPPED_NOTE, "note": render.UNSUPPORTED_NOTE,
    # the markers' rule (rag.text) and the escapes, as ui.render writes them
    "link": render.LINK_PATTERN, "flagged": render.FLAGGED_PATTERN, "unescape": render.UNESCAPE_PATTERN,
    "fallback": render.FALLBACK_PATTERN,
})

# Runs once, when the sources panel loads. `element` and `trigger` come from gr.HTML.
SOURCES_JS = r"""
const C = __CONSTANTS__;
const show = (id) => {
  const target = document.getElementById(id);
  if (!target) return false;
  const turn = target.closest('details');
  if (turn) turn.open = true;
  document.querySelectorAll('.rag-flash').forEach((e) => e.classList.remove('rag-flash'));
  const entry = target.closest('.rag-source') || target;
  entry.classList.add('rag-flash');
  entry.scrollIntoView({block: 'start'});
  return true;
};
// the copy button's text: the answer as plain text with [n] markers. Gradio's button copies a
// message's Markdown, so this is the inverse of render.answer_markdown, on render's patterns (the
// conversation a follow-up is asked with is kept as data on the server, never parsed back).
const plain = (t) => {
  const ours = new RegExp(C.link).test(t) || t.startsWith(C.banner) || t.endsWith(C.stopped)
    || t.endsWith(C.note) || new RegExp(C.fallback).test(t);
  if (!ours) return t;  // a question, or text copied from elsewhere
  t = t.replace(new RegExp(C.fallback), '');  // the note that the llm answerer's quotes came instead
  if (t.endsWith(C.stopped)) t = t.slice(0, -C.stopped.length);
  if (t.endsWith(C.note)) t = t.slice(0, -C.note.length);
  if (t.startsWith(C.banner)) {
    t = t.slice(C.banner.length).split('\n').map((l) => l.startsWith('> ') ? l.slice(2) : l).join('\n');
  }
  t = t.replace(new RegExp(C.flagged, 'g'), '$1').replace(new RegExp(C.link, 'g'), '[$1]');
  const box = document.createElement('textarea');
  box.innerHTML = t;  // the entities
  return box.value.replace(new RegExp(C.unescape, 'g'), '$1');
};
window.ragPlainText = plain;
if (!window.ragLinks) {
  window.ragLinks = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#a"]');
    if (!link) return;
    const id = link.getAttribute('href').slice(1);
    if (show(id)) {
      event.preventDefault();
      event.stopPropagation();
      history.replaceState(null, '', '#' + id);
    }
  }, true);
  // Enter in the question box: the question is taken out of the box at once, before the key
  // reaches Gradio (whose submit takes a few ticks, during which fast typing would be wiped);
  // while an answer is on its way, nothing is asked and the text stays.
  document.addEventListener('keydown', (event) => {
    const box = event.target.closest && event.target.closest('#question textarea');
    if (!box || event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    if (window.ragBusy) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    window.ragAsked = box.value;
    box.value = '';
    box.dispatchEvent(new Event('input', {bubbles: true}));
  }, true);
  const clip = navigator.clipboard;
  if (clip) {
    const write = clip.writeText.bind(clip);
    clip.writeText = (text) => write(plain(String(text)));
  }
}
element.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-open]');
  if (!link) return;
  event.preventDefault();
  trigger('click', JSON.parse(link.dataset.open));
});
""".replace("__CONSTANTS__", _CONSTANTS)

# The chat's question box, on submit, in the browser: the question moves from the box (never
# disabled, so that it keeps its focus and what is typed next) into the hidden `asked` box that
# the answer reads. On Enter, SOURCES_JS has already taken it out of the box (`window.ragAsked`),
# and the box is left alone (`undefined`); while an answer is on its way (`window.ragBusy`),
# Enter in the box does nothing, so what was typed stays there for the next question.
SUBMIT_JS = """(text) => {
  const typed = window.ragAsked;
  window.ragAsked = null;
  window.ragBusy = true;
  return typed == null ? ['', text ?? ''] : [undefined, typed];
}"""
# The note under the Passages (k) slider. What is typed into its number box reaches the slider
# only when the box is left or Enter is pressed, and only when it is a good value: Gradio's slider
# would send on 0, -3, 500 or 2.5, and the server would refuse it with a traceback in its log (and
# typing "12" would first set 1). A bad value is said at once, with the value answers use (the
# slider's); leaving the box puts that value back into it and the note says the typed one was not
# taken, until a good value is typed or the slider is moved.
K_NOTE_JS = """
const MAX = __MAX_K__;
const good = (text) => text !== '' && Number.isInteger(Number(text)) && Number(text) >= 1 && Number(text) <= MAX;
// (the note's latest mount says it; the listeners are added once: a second set, from a note mounted
// again, stopped the first set's committed value on its way to the slider, which stayed at 5)
window.ragKSay = (html) => { if (props.value !== html) props.value = html; };
const say = (html) => window.ragKSay(html);
const used = () => document.querySelector('#k input[type=range]')?.value ?? '';
const note = (tail) => `<div class="rag-k-note">k must be a whole number of passages from 1 to ${MAX}: ${tail}</div>`;
const numberBox = (event) => event.target.closest && event.target.closest('#k input[type=number]');
let committing = false;
if (!window.ragKListening) {
window.ragKListening = true;
document.addEventListener('input', (event) => {
  const box = numberBox(event);
  if (!box) {
    if (event.target.closest && event.target.closest('#k')) say('');  // the slider was moved
    return;
  }
  if (committing) return;
  event.stopPropagation();  // the slider keeps its value until the box is left
  say(good(box.value.trim()) ? '' : note(`answers use ${used()}, the slider's value.`));
}, true);
const commit = (box) => {
  const text = box.value.trim();
  if (good(text)) {
    if (text !== used()) {
      committing = true;
      box.value = String(Number(text));
      box.dispatchEvent(new Event('input', {bubbles: true}));
      committing = false;
    }
    say('');
    return;
  }
  const typed = text.slice(0, 12).replace(/[^0-9eE.+-]/g, '');
  box.value = used();
  say(note(`${typed ? typed + ' was' : 'an empty box is'} not taken; answers use ${used()}.`));
};
// (on blur, caught on its way down: before the slider's own blur handler, which writes the
// slider's value back; a commit after it, on focusout, may have read that value from the box,
// the likeliest cause of CI runs where the slider stayed at 5 after 2 was typed)
document.addEventListener('blur', (event) => { const box = numberBox(event); if (box) commit(box); }, true);
document.addEventListener('keydown', (event) => {
  const box = numberBox(event);
  if (box && event.key === 'Enter') commit(box);
}, true);
}
"""

# An example or a retry starts an answer; the answer's end (or failure, or stop) ends it.
BUSY_JS = "(...args) => { window.ragBusy = true; return args; }"
IDLE_JS = "(...args) => { window.ragBusy = false; return args; }"

# Runs once, when the document viewer loads: scroll to the highlighted span on every new value.
VIEWER_JS = """
watch('value', () => {
  const mark = element.querySelector('#viewer-mark');
  if (mark) mark.scrollIntoView({block: 'center'});
});
element.addEventListener('click', (event) => {
  if (event.target.closest('.rag-close')) props.value = '';
});
"""
