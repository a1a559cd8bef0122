"""The GAU design language: the public API unit code may import.

Units import from here only (plus the modules and names `genesys_jax.check.allowlist` admits).
"""

from genesys_jax.gau import ops
from genesys_jax.gau.base import ChildDecl, GAUBase, gau_test
from genesys_jax.gau.errors import DesignError, UnitShapeError
from genesys_jax.gau.layers import LOGICAL_AXES, Dense, constant, default_init, param

__all__ = [
    "ChildDecl", "Dense", "DesignError", "GAUBase", "LOGICAL_AXES", "UnitShapeError", "constant",
    "default_init", "gau_test", "ops", "param",
]
