"""The evolution tree as an inline SVG: seeds on the left, one column per generation (the longest path from
a root), children placed near their parents; colour = fitness, shape = highest rung, edges = operator."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from genesys_jax.evolve.store_rows import DesignRow
from genesys_jax.report.html import design_href, esc, signed_rating
from genesys_jax.report.metrics import VALIDATION_BPB
from genesys_jax.report.run_data import Run
from genesys_jax.report.svg import MUTED, PALETTE

OPERATOR_COLORS = {"mutation": PALETTE[0], "crossover": PALETTE[1], "scratch": PALETTE[2]}
_VIRIDIS = ((0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)), (0.75, (94, 201, 98)),
            (1.0, (253, 231, 37)))
_ROW, _RADIUS, _TOP, _LEFT = 30.0, 8.0, 34.0, 24.0
_GAP = 6.0                     # between a node and its label
_NAME_W, _SCORE_W = 7.6, 6.7   # character widths of the labels' name (monospace) and fitness
_THICK = ' stroke-width="2.4"'
_DASHED, _DOTTED = ' stroke-dasharray="4 3"', ' stroke-dasharray="3 2"'


@dataclasses.dataclass(frozen=True)
class Layout:
  """Node centres by design id, relative to the tree's top left; `columns` lists each generation's ids."""

  x: dict[int, float]
  y: dict[int, float]
  columns: list[list[int]]
  width: float
  height: float


def generations(rows: Sequence[DesignRow]) -> dict[int, int]:
  """0 for roots (seeds, designs without parents), else one more than the deepest parent.

  Parents are recorded before their children, so one pass in id order sees every parent first.
  """
  out: dict[int, int] = {}
  for r in sorted(rows, key=lambda r: r.id):
    parents = [out[p] for p in r.parents if p in out]
    out[r.id] = 0 if r.seed or not parents else 1 + max(parents)
  return out


def pack(desired: Sequence[float], gap: float) -> list[float]:
  """Positions closest to `desired` (least squares) that keep the order and are at least `gap` apart."""
  blocks: list[list[float]] = []  # [sum, count] of pooled values of desired[k] - k * gap
  for k, d in enumerate(desired):
    blocks.append([d - k * gap, 1])
    while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
      total, n = blocks.pop()
      blocks[-1][0] += total
      blocks[-1][1] += n
  flat = [total / n for total, n in blocks for _ in range(int(n))]
  return [v + k * gap for k, v in enumerate(flat)]


def layout_tree(rows: Sequence[DesignRow], column_gap: float, row_gap: float = _ROW, sweeps: int = 4) -> Layout:
  """Columns by generation; within a column designs are ordered by their parents' (then children's) mean
  height and packed `row_gap` apart, alternately pulled toward their children and their parents."""
  gen = generations(rows)
  by_id = {r.id: r for r in rows}
  n_columns = max(gen.values(), default=-1) + 1
  columns: list[list[int]] = [[] for _ in range(n_columns)]
  for r in sorted(rows, key=lambda r: (not r.seed, r.id)):
    columns[gen[r.id]].append(r.id)
  parents = {i: [p for p in by_id[i].parents if p in by_id] for i in by_id}
  children: dict[int, list[int]] = {i: [] for i in by_id}
  for i, ps in parents.items():
    for p in ps:
      children[p].append(i)
  y: dict[int, float] = {i: k * row_gap for col in columns for k, i in enumerate(col)}

  def settle(column: list[int], neighbours: dict[int, list[int]]) -> None:
    desired = {i: sum(y[j] for j in neighbours[i]) / len(neighbours[i]) if neighbours[i] else y[i] for i in column}
    column.sort(key=lambda i: (desired[i], i))
    for i, v in zip(column, pack([desired[i] for i in column], row_gap)):
      y[i] = v

  for g in range(1, n_columns):
    settle(columns[g], parents)
  for _ in range(sweeps):
    for g in reversed(range(n_columns - 1)):
      settle(columns[g], children)
    for g in range(1, n_columns):
      settle(columns[g], parents)
  top = min(y.values(), default=0.0)
  y = {i: v - top for i, v in y.items()}
  x = {i: gen[i] * column_gap for i in by_id}
  return Layout(x, y, columns, max(n_columns - 1, 0) * column_gap, max(y.values(), default=0.0))


def fitness_color(t: float) -> str:
  """The viridis colour at `t` in [0, 1] (dark purple = worst, yellow = best)."""
  t = min(max(t, 0.0), 1.0)
  for (t0, c0), (t1, c1) in zip(_VIRIDIS, _VIRIDIS[1:]):
    if t <= t1:
      f = (t - t0) / (t1 - t0)
      return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(c0, c1))
  return "#fde725"


def fitness_scale(run: Run) -> tuple[float, float]:
  """The lowest and highest fitness among verified designs (the colour scale's ends)."""
  ratings = run.verified_ratings
  return (ratings[-1], ratings[0]) if ratings else (0.0, 0.0)


def _shape(highest: int | None, x: float, y: float, fill: str, stroke: str, extra: str) -> str:
  r = _RADIUS
  if highest is None or highest == 0:
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{fill}" stroke="{stroke}"{extra}/>'
  if highest == 1:
    return (f'<rect x="{x - r + 0.5:.1f}" y="{y - r + 0.5:.1f}" width="{2 * r - 1}" height="{2 * r - 1}" rx="1.5" '
            f'fill="{fill}" stroke="{stroke}"{extra}/>')
  d = r * 1.3
  return (f'<polygon points="{x:.1f},{y - d:.1f} {x + d:.1f},{y:.1f} {x:.1f},{y + d:.1f} {x - d:.1f},{y:.1f}" '
          f'fill="{fill}" stroke="{stroke}"{extra}/>')


def _tooltip(run: Run, row: DesignRow) -> str:
  names = [run.by_id[p].name for p in row.parents if p in run.by_id]
  origin = "seed" if row.seed else f"{row.operator or 'design'}" + (f" of {' and '.join(names)}" if names else "")
  lines = [f"{row.name} ({origin})", f"status: {run.status(row.id)}"]
  place = run.place(row.id)
  if place is not None:
    lines.append(f"fitness {signed_rating(run.rating(row.id))} (rank {place[0]} of {place[1]})")
  for rung, results in run.completed(row.id).items():
    bpb = VALIDATION_BPB.value(results)
    if bpb is not None:
      lines.append(f"{rung}: validation bits/byte {bpb:.3f}")
  if row.changed_units:
    lines.append("changed: " + ", ".join(row.changed_units))
  if row.rationale and not row.seed:
    lines.append(row.rationale if len(row.rationale) <= 240 else row.rationale[:237] + "...")
  return "\n".join(lines)


def _label_width(run: Run, row: DesignRow) -> float:
  """The width of a node's label: its name (monospace) and its fitness."""
  rating = run.rating(row.id)
  score = 0 if rating is None else len(signed_rating(rating)) + 1
  return len(row.name) * _NAME_W + score * _SCORE_W


def phylogeny_svg(run: Run) -> str:
  """The tree; each design is an `<a class="node" data-design=NAME>` linking to its page. Edges leave a parent
  after its label and end at the child's node."""
  if not run.rows:
    return '<p class="empty">no designs yet</p>'
  label = {row.id: _label_width(run, row) for row in run.rows}
  column_gap = _RADIUS + _GAP + max(label.values()) + 90.0
  tree = layout_tree(run.rows, column_gap)
  lo, hi = fitness_scale(run)
  def at(i: int) -> tuple[float, float]:
    return _LEFT + tree.x[i], _TOP + tree.y[i]
  parts = [f'<text class="column" x="{_LEFT - _RADIUS + g * column_gap:.1f}" y="14">'
           f'{"roots" if g == 0 else f"generation {g}"}</text>' for g in range(len(tree.columns))]
  for row in run.rows:
    x2, y2 = at(row.id)
    muted = run.muted(row.id)
    color = MUTED if muted else OPERATOR_COLORS.get(row.operator or "", PALETTE[8])
    for p in row.parents:
      if p not in run.by_id:
        continue
      x1, y1 = at(p)
      x1 += _RADIUS + _GAP + label[p] + 4
      bend = max((x2 - x1) / 2, 20.0)
      parts.append(f'<path class="edge" data-child="{row.id}" data-parent="{p}" '
                   f'd="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} '
                   f'{x2 - _RADIUS - 1:.1f},{y2:.1f}" stroke="{color}"{_DASHED if muted else ""}>'
                   f'<title>{esc(run.by_id[p].name)} → {esc(row.name)}: {esc(row.operator or "")}</title></path>')
  for row in run.rows:
    x, y = at(row.id)
    rating = run.rating(row.id)
    muted = run.muted(row.id)
    if muted:
      fill, stroke, extra = "#e6e8ec", MUTED, _DOTTED
    elif rating is None:
      fill, stroke, extra = "#ffffff", "#4b5563", ""
    else:
      fill, stroke, extra = fitness_color((rating - lo) / ((hi - lo) or 1.0)), "#1f2937", ""
    if row.seed:
      extra += _THICK
    score = f'<tspan class="score"> {signed_rating(rating)}</tspan>' if rating is not None else ""
    classes = "node" + (" muted" if muted else "") + (" seed" if row.seed else "")
    parents = " ".join(str(p) for p in row.parents)
    parts.append(f'<a class="{classes}" data-design="{esc(row.name)}" data-id="{row.id}" data-parents="{parents}" '
                 f'href="{esc(design_href(row.name, from_index=True))}"><title>{esc(_tooltip(run, row))}</title>'
                 f'{_shape(run.highest_rung(row.id), x, y, fill, stroke, extra)}'
                 f'<text x="{x + _RADIUS + _GAP:.1f}" y="{y + 4:.1f}">{esc(row.name)}{score}</text></a>')
  width = _LEFT + tree.width + _RADIUS + _GAP + max(label.values()) + 16
  height = _TOP + tree.height + 24
  return (f'<svg class="phylogeny" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
          f'height="{height:.0f}" role="img" aria-label="evolution tree">{"".join(parts)}</svg>')


def _key(symbol: str, text: str) -> str:
  return f'<span class="key">{symbol}<span>{text}</span></span>'


def phylogeny_legend(run: Run) -> str:
  """What colours, shapes and line styles mean, as a row of keys above the tree."""
  lo, hi = fitness_scale(run)
  stops = "".join(f'<stop offset="{t:.2f}" stop-color="{fitness_color(t)}"/>' for t in (0, 0.25, 0.5, 0.75, 1))
  gradient = (f'<svg width="120" height="12"><defs><linearGradient id="fitness-gradient">{stops}</linearGradient>'
              f'</defs><rect width="120" height="12" rx="2" fill="url(#fitness-gradient)"/></svg>')
  keys = [f'<span class="key">fitness {signed_rating(lo)} {gradient} {signed_rating(hi)}</span>',
          _key(_key_shape(None, "#ffffff", "#4b5563", ""), "not verified yet")]
  shape_names = ["circle", "square", "diamond"]
  for k, rung in enumerate(run.rungs[:3]):
    text = f"reached {rung}" + ("+" if k == 2 and len(run.rungs) > 3 else "") if k else f"{rung} only"
    keys.append(_key(_key_shape(k, "#cfd4dc", "#1f2937", ""), f"{shape_names[k]}: {esc(text)}"))
  for operator, color in OPERATOR_COLORS.items():
    line = f'<svg width="26" height="12"><line x1="1" y1="6" x2="25" y2="6" stroke="{color}" stroke-width="2.2"/></svg>'
    keys.append(_key(line, operator))
  keys.append(_key(_key_shape(None, "#e6e8ec", MUTED, _DOTTED), "rejected, duplicate or failed"))
  keys.append(_key(_key_shape(None, "#cfd4dc", "#1f2937", _THICK), "seed (<b>bold</b> name)"))
  return f'<div class="legend">{"".join(keys)}</div>'


def _key_shape(highest: int | None, fill: str, stroke: str, extra: str) -> str:
  return f'<svg width="24" height="24">{_shape(highest, 12, 12, fill, stroke, extra)}</svg>'
