"""A run's recorded config against the one given when it resumes."""

from genesys_jax.evolve.run_config import config_differences


def test_differences_name_the_fields_and_ignore_worker_counts():
  recorded = {"evolve": {"seed": 0, "workers": {"verifiers": 1}}, "verify": {"train": {"max_steps": 0}}}
  current = {"evolve": {"seed": 1, "workers": {"verifiers": 4}}, "verify": {"train": {"max_steps": 0}}, "new": 1}
  assert config_differences(recorded, current) == ["evolve.seed: 0 -> 1", "new: '(absent)' -> 1"]
  assert config_differences(recorded, recorded) == []
