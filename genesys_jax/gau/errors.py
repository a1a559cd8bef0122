"""Errors raised by the design language, each naming the design and unit at fault."""

from __future__ import annotations


class DesignError(ValueError):
  """A design that cannot be loaded, built or run; the message says what and where."""

  def __init__(self, message: str, *, design: str | None = None, unit: str | None = None):
    where = []
    if design:
      where.append(f"design {design!r}")
    if unit:
      where.append(f"unit {unit!r}")
    prefix = (", ".join(where) + ": ") if where else ""
    super().__init__(prefix + message)
    self.detail = message
    self.design = design
    self.unit = unit


class UnitShapeError(DesignError):
  """A unit received or returned an array of the wrong shape."""
