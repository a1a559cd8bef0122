"""How the report writes numbers: signed differences and Massey ratings that stay readable when small."""

import pytest

from genesys_jax.report.html import signed, signed_rating


@pytest.mark.parametrize("value, text", [
    (None, "–"), (0.0, "±0.000"), (0.0004, "±0.000"), (0.25, "+0.250"), (-1.5, "−1.500")])
def test_signed_uses_a_typographic_minus_and_plus_minus_for_zero(value, text):
  assert signed(value) == text


@pytest.mark.parametrize("value, text", [
    (None, "–"), (0.0, "±0.00"), (1.56, "+1.56"), (-2.345, "−2.35"), (0.1, "+0.10"),
    (0.05, "+0.050"), (0.0031, "+0.0031"), (-0.0031, "−0.0031"), (1e-7, "±0.0000")])
def test_small_ratings_keep_two_significant_digits(value, text):
  assert signed_rating(value) == text
