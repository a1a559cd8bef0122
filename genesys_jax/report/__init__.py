"""The static HTML report of an evolution run: phylogeny, progress plots, leaderboards and a page per design.

`write_report(workdir)` writes it; `python -m genesys_jax.report --workdir DIR` does the same from a shell.
"""

from genesys_jax.report.site import write_report

__all__ = ["write_report"]
