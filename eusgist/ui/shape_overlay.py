"""A drawing overlay: boxes and polygons drawn with the mouse on an image.

A ``gr.HTML`` component (Gradio 6's ``html_template`` / ``js_on_load``; no extra package):
the image with an SVG on top where the user drags a box, or clicks polygon vertices
(closed by clicking the first vertex, double-clicking, Enter or "Close polygon"); a
vertex is moved by dragging its handle, a vertex or a whole shape deleted by right-click,
a selected shape by Delete; "Clear" removes all. Its value is JSON text in *image pixel*
coordinates, so it does not depend on how large the picture is displayed::

    {"width": 512, "height": 400, "key": "...",
     "shapes": [{"type": "box", "points": [[x0, y0], [x1, y1]]},
                {"type": "polygon", "points": [[x, y], [x, y], [x, y]]}]}

:func:`eusgist.masks.shapes_mask` turns it into a mask. The picture comes from Python as
the ``image_src`` prop (a data URL) with ``image_width``/``image_height``
(:func:`overlay_update`).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence

import gradio as gr
import numpy as np
from PIL import Image

#: Longest side of the picture sent to the browser (the shapes stay in image pixels).
DISPLAY_MAX = 1024

_TEMPLATE = '<div class="eus-shapes"></div>'

_CSS = """
.eus-shapes { font-size: 14px; }
.eus-bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.eus-bar button { padding: 3px 10px; border: 1px solid #9aa; border-radius: 6px;
  background: #fff; color: #222; cursor: pointer; }
.eus-bar button.on { background: #ffb000; border-color: #c80; font-weight: 600; }
.eus-bar button:disabled { opacity: .45; cursor: default; }
.eus-help { color: #555; font-size: 13px; min-height: 2.6em; margin-bottom: 2px; }
.eus-stage { position: relative; display: inline-block; line-height: 0; max-width: 100%;
  background: #111; outline: none; }
.eus-stage img { display: block; user-select: none; }
.eus-stage svg { position: absolute; left: 0; top: 0; width: 100%; height: 100%;
  cursor: crosshair; touch-action: none; }
.eus-empty { padding: 40px 12px; color: #888; line-height: 1.4; }
.eus-info { font-size: 13px; color: #333; margin-top: 4px; min-height: 1.3em; }
"""

# Runs once per component; `element`, `props`, `trigger` and `watch` come from gr.HTML.
_JS = r"""
const root = element.querySelector('.eus-shapes');
const NS = 'http://www.w3.org/2000/svg';
const modes = props.modes || ['box', 'polygon'];
const single = !!props.single;
let mode = modes[0], state = {shapes: []}, draft = null, drag = null, selected = -1;

root.innerHTML = `<div class="eus-bar"></div>
  <div class="eus-stage" tabindex="0"><img alt="image to draw on" draggable="false">
  <svg preserveAspectRatio="none"></svg></div><div class="eus-info"></div>`;
const bar = root.querySelector('.eus-bar'), stage = root.querySelector('.eus-stage');
const img = stage.querySelector('img'), svg = stage.querySelector('svg');
const info = root.querySelector('.eus-info');
const names = {box: '▭ Box', polygon: '⬠ Polygon'};
const tips = {box: 'Drag on the image to draw a box',
  polygon: 'Click the outline point by point; click the first point to close'};
const buttons = {};
for (const m of modes) {
  const b = document.createElement('button');
  b.type = 'button'; b.textContent = names[m]; b.title = tips[m]; b.dataset.mode = m;
  b.onclick = () => { mode = m; draft = null; render(); };
  bar.appendChild(b); buttons[m] = b;
}
function action(text, fn) {
  const b = document.createElement('button');
  b.type = 'button'; b.textContent = text; b.onclick = fn; bar.appendChild(b); return b;
}
const closeBtn = modes.includes('polygon') ? action('Close polygon', () => closeDraft()) : null;
const delBtn = action('Delete', () => removeShape(selected));
delBtn.title = 'Delete the selected shape (or press Delete)';
const clearBtn = action('Clear', () => {
  state.shapes = []; draft = null; selected = -1; commit();
});
const help = document.createElement('div'); help.className = 'eus-help'; bar.after(help);

function size() { return {w: +props.image_width || 0, h: +props.image_height || 0}; }
function parse(v) {
  try { const s = JSON.parse(v || '{}'); return Array.isArray(s.shapes) ? s : {shapes: []}; }
  catch (e) { return {shapes: []}; }
}
function commit() {
  const {w, h} = size();
  state.width = w; state.height = h;
  props.value = JSON.stringify(state);
  render();
}
function toImage(ev) {
  const r = svg.getBoundingClientRect(), {w, h} = size();
  const x = Math.min(w, Math.max(0, (ev.clientX - r.left) / r.width * w));
  const y = Math.min(h, Math.max(0, (ev.clientY - r.top) / r.height * h));
  return [Math.round(x), Math.round(y)];
}
function unit() {  // image pixels per screen pixel
  const r = svg.getBoundingClientRect();
  return r.width ? size().w / r.width : 1;
}
function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  (parent || svg).appendChild(e); return e;
}
function corners(s) {
  if (s.type !== 'box') return s.points;
  const [[x0, y0], [x1, y1]] = s.points;
  return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
}
function outline(pts, attrs) {
  return el('polygon', Object.assign({points: pts.map(p => p.join(',')).join(' '),
    'vector-effect': 'non-scaling-stroke', 'stroke-width': 2}, attrs));
}
function fit() {  // largest display that fits the width and most of the window height
  const {w, h} = size();
  if (!w || !h) return;
  const room = root.clientWidth || w;
  const tall = Math.min(+props.display_height || 560, 0.7 * window.innerHeight);
  const scale = Math.min(room / w, tall / h);
  img.style.width = `${Math.floor(w * scale)}px`;
  img.style.height = `${Math.floor(h * scale)}px`;
}
function render() {
  fit();
  const {w, h} = size(), u = unit(), r = 6 * u;
  for (const m of modes) buttons[m].classList.toggle('on', m === mode);
  svg.setAttribute('viewBox', `0 0 ${w || 1} ${h || 1}`);
  svg.replaceChildren();
  state.shapes.forEach((s, i) => {
    const on = i === selected;
    const body = outline(corners(s), {fill: on ? 'rgba(255,176,0,.28)' : 'rgba(255,176,0,.12)',
      stroke: on ? '#ff4000' : '#ffb000', 'data-shape': i});
    body.style.cursor = 'pointer';
    corners(s).forEach((p, j) => el('circle', {cx: p[0], cy: p[1], r, fill: '#fff',
      stroke: '#c00', 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke',
      'data-shape': i, 'data-vertex': j, class: 'eus-handle'}).style.cursor = 'move');
  });
  if (draft && draft.type === 'box') {
    outline(corners(draft), {fill: 'rgba(255,176,0,.15)', stroke: '#ffb000',
      'stroke-dasharray': '6 4'});
  } else if (draft) {
    const pts = draft.hover ? [...draft.points, draft.hover] : draft.points;
    el('polyline', {points: pts.map(p => p.join(',')).join(' '), fill: 'none',
      stroke: '#ffb000', 'stroke-width': 2, 'stroke-dasharray': '6 4',
      'vector-effect': 'non-scaling-stroke'});
    draft.points.forEach((p, j) => el('circle', {cx: p[0], cy: p[1], r: j ? r * 0.8 : r * 1.4,
      fill: j ? '#fff' : '#ffb000', stroke: '#c00', 'stroke-width': 2,
      'vector-effect': 'non-scaling-stroke', 'data-first': j ? '' : '1'}));
  }
  root.dataset.value = JSON.stringify(state);  // for tests and debugging
  const n = state.shapes.length;
  const drawing = draft && draft.type === 'polygon';
  if (closeBtn) closeBtn.disabled = !(drawing && draft.points.length >= 3);
  delBtn.disabled = selected < 0; clearBtn.disabled = !n && !draft;
  help.textContent = mode === 'box'
    ? 'Drag on the image. Drag a corner to adjust; right-click a shape to delete it.'
    : 'Click the vertices; close on the first point, by double-click or Enter. '
      + 'Drag a vertex to move it; right-click a vertex to delete it.';
  const desc = state.shapes.map((s, i) => s.type === 'box'
    ? `box ${i + 1}: (${s.points[0]}) to (${s.points[1]})`
    : `polygon ${i + 1}: ${s.points.length} points`);
  info.textContent = !w ? '' : (desc.length ? desc.join(' · ') : 'No shape drawn')
    + (drawing ? ` · drawing a polygon (${draft.points.length} points)` : '')
    + ` · image ${w}×${h} px`;
  root.querySelector('.eus-empty')?.remove();
  stage.style.display = props.image_src ? '' : 'none';
  if (!props.image_src) {
    const empty = document.createElement('div'); empty.className = 'eus-empty';
    empty.textContent = props.placeholder || 'No image yet.'; stage.after(empty);
  }
}
function addShape(s) {
  if (single) state.shapes = [];
  state.shapes.push(s); selected = state.shapes.length - 1; commit();
}
function closeDraft() {
  if (draft && draft.type === 'polygon' && draft.points.length >= 3) {
    const pts = draft.points; draft = null; addShape({type: 'polygon', points: pts});
  }
}
function removeShape(i) {
  if (i < 0 || i >= state.shapes.length) return;
  state.shapes.splice(i, 1); selected = -1; commit();
}
function removeVertex(i, j) {
  const s = state.shapes[i];
  if (s.type === 'polygon' && s.points.length > 3) { s.points.splice(j, 1); commit(); }
  else removeShape(i);
}
function near(a, b) { return Math.hypot(a[0] - b[0], a[1] - b[1]) <= 8 * unit(); }

svg.addEventListener('pointerdown', ev => {
  if (ev.button !== 0 || !size().w) return;
  stage.focus({preventScroll: true});
  const t = ev.target, p = toImage(ev);
  if (t.dataset.vertex !== undefined) {
    selected = +t.dataset.shape;
    drag = {shape: selected, vertex: +t.dataset.vertex};
  } else if (mode === 'box') {  // a click on a shape selects it, a drag draws a new box
    selected = t.dataset.shape !== undefined ? +t.dataset.shape : -1;
    draft = {type: 'box', points: [p, p]};
  } else {
    if (t.dataset.shape !== undefined && !draft) { selected = +t.dataset.shape; render(); }
    return;  // polygon vertices are added on click
  }
  svg.setPointerCapture(ev.pointerId); ev.preventDefault(); render();
});
svg.addEventListener('pointermove', ev => {
  const p = toImage(ev);
  if (drag) {
    const s = state.shapes[drag.shape];
    if (s.type === 'box') {
      const v = drag.vertex;
      s.points[v === 0 || v === 3 ? 0 : 1][0] = p[0];
      s.points[v === 0 || v === 1 ? 0 : 1][1] = p[1];
    } else s.points[drag.vertex] = p;
    render();
  } else if (draft && draft.type === 'box') { draft.points[1] = p; render(); }
  else if (draft) { draft.hover = p; render(); }
});
svg.addEventListener('pointerup', ev => {
  if (drag) {
    const s = state.shapes[drag.shape];
    if (s.type === 'box') s.points = normal(s.points);
    drag = null; commit();
  } else if (draft && draft.type === 'box') {
    const b = normal(draft.points); draft = null;
    if (b[1][0] - b[0][0] >= 2 && b[1][1] - b[0][1] >= 2) addShape({type: 'box', points: b});
    else render();
  }
});
function normal([[x0, y0], [x1, y1]]) {
  return [[Math.min(x0, x1), Math.min(y0, y1)], [Math.max(x0, x1), Math.max(y0, y1)]];
}
svg.addEventListener('click', ev => {
  if (mode !== 'polygon' || !size().w || ev.button !== 0) return;
  const t = ev.target, p = toImage(ev);
  if (!draft && (t.dataset.shape !== undefined)) return;
  if (t.dataset.first && draft.points.length >= 3) { closeDraft(); return; }
  if (!draft) { selected = -1; draft = {type: 'polygon', points: []}; }
  const last = draft.points[draft.points.length - 1];
  if (!last || !near(last, p)) draft.points.push(p);
  render();
});
svg.addEventListener('dblclick', ev => { ev.preventDefault(); closeDraft(); });
svg.addEventListener('contextmenu', ev => {
  const t = ev.target;
  if (draft && draft.type === 'polygon') {  // right-click while drawing: undo the last point
    draft.points.pop(); if (!draft.points.length) draft = null; render();
  }
  else if (t.dataset.vertex !== undefined) removeVertex(+t.dataset.shape, +t.dataset.vertex);
  else if (t.dataset.shape !== undefined) removeShape(+t.dataset.shape);
  else return;
  ev.preventDefault();
});
stage.addEventListener('keydown', ev => {
  if (ev.key === 'Enter') closeDraft();
  else if (ev.key === 'Escape') { draft = null; selected = -1; render(); }
  else if ((ev.key === 'Delete' || ev.key === 'Backspace') && selected >= 0) removeShape(selected);
  else return;
  ev.preventDefault(); ev.stopPropagation();
});
function load() {
  img.src = img.dataset.src = props.image_src || '';
  state = parse(props.value); draft = null; drag = null; selected = -1;
  render();
}
img.addEventListener('load', render);
new ResizeObserver(render).observe(root);
window.addEventListener('resize', render);
// Prop names stay unquoted here: gr.HTML treats a quoted name in this code as an event.
watch('value image_src image_width image_height'.split(' '), () => {
  if (props.value !== JSON.stringify(state) || img.dataset.src !== (props.image_src || '')) load();
});
load();
"""


def empty_value(width: int = 0, height: int = 0, key: str = "") -> str:
    """The value of an overlay with no shapes, on an image of ``width`` × ``height``."""
    return json.dumps({"width": width, "height": height, "key": key, "shapes": []})


def shape_overlay(
    label: str,
    *,
    elem_id: str,
    modes: Sequence[str] = ("box", "polygon"),
    single: bool = False,
    placeholder: str = "No image yet.",
    display_height: int = 560,
) -> gr.HTML:
    """The drawing overlay component (value: JSON text, see the module docstring).

    ``modes`` are the shape kinds offered (``"box"``, ``"polygon"``); ``single`` keeps one
    shape only (a new one replaces it); the picture is shown at most ``display_height`` px
    (and 70% of the window) high, as wide as the column allows.
    """
    return gr.HTML(
        value=empty_value(), label=label, show_label=True, container=True, padding=True,
        html_template=_TEMPLATE, css_template=_CSS, js_on_load=_JS, elem_id=elem_id,
        image_src="", image_width=0, image_height=0, modes=list(modes), single=single,
        placeholder=placeholder, display_height=display_height,
    )


def data_url(image: np.ndarray) -> str:
    """A PNG data URL of a uint8 grey or RGB image, at most :data:`DISPLAY_MAX` px wide
    or high (the browser scales it back: shapes are in the image's own pixels)."""
    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    picture.thumbnail((DISPLAY_MAX, DISPLAY_MAX))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def overlay_update(image: np.ndarray | None, key: str = "", *, keep: str | None = None) -> dict:
    """An update showing ``image`` (uint8 grey or RGB; None: no image) in the overlay.

    The shapes are cleared, unless ``keep`` (the current value) is given: then they stay
    (the same image redrawn, e.g. at another contrast).
    """
    if image is None:
        return gr.update(value=empty_value(), image_src="", image_width=0, image_height=0)
    height, width = image.shape[:2]
    value = keep if keep is not None else empty_value(width, height, key)
    return gr.update(value=value, image_src=data_url(image), image_width=width,
                     image_height=height)


def overlay_key(value: str | None) -> str:
    """The ``key`` an overlay's value was made with (which image it shows), or ``""``."""
    try:
        return str(json.loads(value or "{}").get("key", ""))
    except (json.JSONDecodeError, AttributeError):
        return ""
