"""Verification engine: pre-train a design at a rung of the ladder and measure it."""
