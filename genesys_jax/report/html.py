"""The HTML around a report page: the shell with the inlined stylesheet and script, escaping, links, numbers."""

from __future__ import annotations

import functools
import html
import importlib.resources
import math
import re


@functools.cache
def asset(name: str) -> str:
  """A file of the report's assets folder (CSS, JS)."""
  return importlib.resources.files("genesys_jax.report").joinpath("assets", name).read_text()


def esc(value: object) -> str:
  return html.escape(str(value), quote=True)


def page(title: str, body: str) -> str:
  """A whole self-contained page: no external files, no network."""
  return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
          f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{esc(title)}</title>\n'
          f"<style>\n{asset('report.css')}</style>\n</head>\n<body>\n{body}\n"
          f"<script>\n{asset('report.js')}</script>\n</body>\n</html>\n")


def slug(name: str) -> str:
  """A design name made safe as a file name."""
  return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


def design_href(name: str, from_index: bool) -> str:
  """The link to a design's page, from the index or from another design page."""
  return f"designs/{slug(name)}.html" if from_index else f"{slug(name)}.html"


def design_link(name: str, from_index: bool) -> str:
  return f'<a class="design" href="{esc(design_href(name, from_index))}">{esc(name)}</a>'


def badge(text: str, kind: str | None = None) -> str:
  return f'<span class="badge {esc(kind or text)}">{esc(text)}</span>'


def number(value: float | None, digits: int = 3) -> str:
  return "–" if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 3) -> str:
  """With its sign (a typographic minus); ±0 when it rounds to zero."""
  if value is None:
    return "–"
  text = f"{value:+.{digits}f}"
  return "±" + text[1:] if float(text) == 0 else text.replace("-", "−")


def signed_rating(value: float | None) -> str:
  """A Massey rating with its sign: two decimals, or two significant digits below 0.1 (at most four
  decimals): a short run's ratings are all small, and two decimals would show them all as ±0.00."""
  if value is None or value == 0 or abs(value) >= 0.1:
    return signed(value, 2)
  return signed(value, min(4, 1 - math.floor(math.log10(abs(value)))))


def count(value: int | None) -> str:
  return "–" if value is None else f"{value:,}"


def table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
  """A table of already-escaped cells."""
  head = "".join(f"<th>{h}</th>" for h in headers)
  body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
  return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
