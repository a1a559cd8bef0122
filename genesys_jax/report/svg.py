"""Small inline-SVG plots: line charts, horizontal bar charts and sparklines, with nice axis ticks."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from genesys_jax.report.html import esc

PALETTE = ("#3b6fb6", "#e8871e", "#3a9d5d", "#c8423b", "#8a5fb8", "#2aa3b5", "#b5873a", "#d764a8", "#6b7a8f",
           "#97b82a")
"""Categorical colours, distinct on white and for the common colour-vision deficiencies in their order."""
MUTED = "#a3a9b3"
REFERENCE = "#2b2f36"
"""Reference lines (the best seed)."""
_CHAR_W = 6.6  # the average width of a 12px sans-serif character, for sizing labels


@dataclasses.dataclass(frozen=True)
class Series:
  """One line: (x, y) points in x order; `step` draws it as a step function (values holding until the next)."""

  name: str
  points: Sequence[tuple[float, float]]
  color: str
  dashed: bool = False
  step: bool = False
  markers: bool = False


@dataclasses.dataclass(frozen=True)
class Bar:
  label: str
  value: float
  color: str = PALETTE[0]
  note: str = ""  # shown after the value, e.g. "of 16"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
  """About `n` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart)."""
  if not (math.isfinite(lo) and math.isfinite(hi)):
    return [0.0]
  if hi <= lo:
    lo, hi = lo - (abs(lo) or 1.0) * 0.5, hi + (abs(hi) or 1.0) * 0.5
  raw = (hi - lo) / max(n - 1, 1)
  power = 10 ** math.floor(math.log10(raw))
  step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
  start = math.floor(lo / step + 1e-9) * step
  ticks = [round(start, 12), round(start + step, 12)]
  while ticks[-1] < hi - step * 1e-9:
    ticks.append(round(start + len(ticks) * step, 12))
  return ticks


def tick_text(value: float, ticks: Sequence[float]) -> str:
  """A tick's label with as many decimals as the tick spacing needs."""
  spacing = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
  digits = max(0, -math.floor(math.log10(spacing) + 1e-9)) if spacing > 0 else 0
  if spacing >= 1000 and abs(value) >= 1000:
    return f"{value / 1000:g}k"
  return f"{value:.{digits}f}".replace("-", "−")


def _legend(series: Sequence[Series]) -> str:
  items = "".join(f'<span class="key"><svg width="22" height="10"><line x1="1" y1="5" x2="21" y2="5" '
                  f'stroke="{s.color}" stroke-width="2.5"{_dash(s.dashed)}/></svg>{esc(s.name)}</span>'
                  for s in series)
  return f'<div class="legend">{items}</div>'


def _dash(dashed: bool) -> str:
  return ' stroke-dasharray="5 4"' if dashed else ""


def line_chart(series: Sequence[Series], x_label: str, y_label: str, width: int = 600, height: int = 300,
               y_range: tuple[float, float] | None = None) -> str:
  """A line chart of `series` with axes, grid and an HTML legend below; points get hover titles. `y_range`
  zooms the y axis (lines leaving it are clipped at the frame)."""
  points = [p for s in series for p in s.points]
  if not points:
    return '<p class="empty">no data yet</p>'
  xs, ys = [x for x, _ in points], [y for _, y in points]
  x_ticks = nice_ticks(min(xs), max(xs))
  y_ticks = nice_ticks(*(y_range or (min(ys), max(ys))))
  y_texts = [tick_text(t, y_ticks) for t in y_ticks]
  left = 18 + max(len(t) for t in y_texts) * _CHAR_W + 8
  right, top, bottom = 14, 10, 42
  x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
  def sx(x: float) -> float:
    return left + (x - x0) / ((x1 - x0) or 1.0) * (width - left - right)
  def sy(y: float) -> float:
    return top + (1 - (y - y0) / ((y1 - y0) or 1.0)) * (height - top - bottom)
  parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
  for t, text in zip(y_ticks, y_texts):
    parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{sy(t):.1f}" y2="{sy(t):.1f}"/>'
                 f'<text class="tick" x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{text}</text>')
  for t in x_ticks:
    parts.append(f'<line class="grid" x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top}" y2="{height - bottom}"/>'
                 f'<text class="tick" x="{sx(t):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                 f'{tick_text(t, x_ticks)}</text>')
  parts.append(f'<rect class="frame" x="{left}" y="{top}" width="{width - left - right}" '
               f'height="{height - top - bottom}"/>')
  parts.append(f'<text class="axis" x="{(left + width - right) / 2:.0f}" y="{height - 6}" text-anchor="middle">'
               f'{esc(x_label)}</text>')
  parts.append(f'<text class="axis" transform="translate(13 {(top + height - bottom) / 2:.0f}) rotate(-90)" '
               f'text-anchor="middle">{esc(y_label)}</text>')
  pad = 4  # lets markers on the frame show whole
  parts.append(f'<svg x="{left - pad}" y="{top - pad}" width="{width - left - right + 2 * pad}" '
               f'height="{height - top - bottom + 2 * pad}" viewBox="{left - pad} {top - pad} '
               f'{width - left - right + 2 * pad} {height - top - bottom + 2 * pad}">')
  for s in series:
    if not s.points:
      continue
    path = []
    for k, (x, y) in enumerate(s.points):
      if s.step and k:
        path.append(f"H{sx(x):.1f}")
      path.append(f"{'L' if k else 'M'}{sx(x):.1f},{sy(y):.1f}")
    parts.append(f'<path d="{"".join(path)}" fill="none" stroke="{s.color}" stroke-width="2" '
                 f'stroke-linejoin="round"{_dash(s.dashed)}><title>{esc(s.name)}</title></path>')
    if s.markers:
      parts.extend(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.8" fill="{s.color}">'
                   f'<title>{esc(s.name)}: {y:.4g} at {x:.4g}</title></circle>' for x, y in s.points)
  parts.append("</svg></svg>")
  return f'<figure class="chart">{"".join(parts)}{_legend(series)}</figure>'


def bar_chart(bars: Sequence[Bar], x_label: str, width: int = 600) -> str:
  """Horizontal bars with their labels on the left and values at their ends."""
  if not bars:
    return '<p class="empty">no data yet</p>'
  row, top = 26, 6
  label_w = 14 + max(len(b.label) for b in bars) * _CHAR_W
  value_w = 16 + max(len(f"{b.value:g} {b.note}") for b in bars) * _CHAR_W
  height = top + row * len(bars) + 30
  span = max(max(b.value for b in bars), 1e-12)
  plot_w = width - label_w - value_w
  parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
  for k, b in enumerate(bars):
    y = top + k * row
    w = max(b.value / span * plot_w, 1.5 if b.value else 0)
    parts.append(f'<text class="label" x="{label_w - 8:.0f}" y="{y + 16}" text-anchor="end">{esc(b.label)}</text>'
                 f'<rect x="{label_w:.0f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="3" fill="{b.color}">'
                 f'<title>{esc(b.label)}: {b.value:g} {esc(b.note)}</title></rect>'
                 f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 16}">{b.value:g}'
                 f'<tspan class="note"> {esc(b.note)}</tspan></text>')
  parts.append(f'<text class="axis" x="{label_w + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">'
               f'{esc(x_label)}</text></svg>')
  return f'<figure class="chart">{"".join(parts)}</figure>'


def sparkline(values: Sequence[float], color: str = PALETTE[0], width: int = 160, height: int = 34,
              title: str = "") -> str:
  """A tiny line of `values` (no axes); its title gives the first and last values."""
  if len(values) < 2:
    return ""
  lo, hi = min(values), max(values)
  step = (width - 4) / (len(values) - 1)
  pts = " ".join(f"{2 + k * step:.1f},{2 + (1 - (v - lo) / ((hi - lo) or 1.0)) * (height - 4):.1f}"
                 for k, v in enumerate(values))
  return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
          f'<title>{esc(title)} {values[0]:.4g} → {values[-1]:.4g} (min {lo:.4g}, max {hi:.4g})</title>'
          f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.6"/></svg>')
