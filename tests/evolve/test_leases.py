"""The heartbeat that keeps a lease: a refused renewal loses it at once, a store that cannot be reached
loses it only after three beats in a row."""

import threading

from genesys_jax.evolve.leases import Heartbeat


def _beats(outcomes: list) -> tuple[Heartbeat, threading.Event]:
  """A heartbeat every 10 ms whose renewals give `outcomes` in turn (an exception is raised), then True."""
  done, calls = threading.Event(), iter(outcomes)

  def renew() -> bool:
    outcome = next(calls, None)
    if outcome is None:
      done.set()
      return True
    if isinstance(outcome, Exception):
      raise outcome
    return outcome

  return Heartbeat(renew, 0.01), done


def test_a_refused_renewal_loses_the_lease():
  heartbeat, _ = _beats([True, False])
  with heartbeat:
    assert heartbeat.lost.wait(5)


def test_two_unreachable_beats_are_survived_and_three_lose_the_lease():
  heartbeat, done = _beats([OSError("down"), OSError("down"), True])
  with heartbeat:
    assert done.wait(5) and not heartbeat.lost.is_set()
  heartbeat, _ = _beats([OSError("down")] * 3)
  with heartbeat:
    assert heartbeat.lost.wait(5)
