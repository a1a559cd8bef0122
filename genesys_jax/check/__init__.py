"""Checks of designs: dynamic probes of a composed model (causality, gradients, a short training run)."""
