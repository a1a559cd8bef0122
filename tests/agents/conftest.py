"""Fixtures of the LLM tests: the provider flavours and their fake servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agents.fake_providers import FLAVORS, FakeServer, Flavor


@pytest.fixture(params=FLAVORS, ids=lambda f: f.name)
def flavor(request: pytest.FixtureRequest) -> Flavor:
  return request.param


@pytest.fixture
def serve(flavor: Flavor) -> Iterator[Callable[..., FakeServer]]:
  """Starts fake servers of `flavor`'s provider (its schema rules applied); closes them at the end."""
  servers: list[FakeServer] = []

  def start(script: list[tuple[int, Any]], delay_s: float = 0.0) -> FakeServer:
    servers.append(FakeServer(script, delay_s, flavor.refuse))
    return servers[-1]

  yield start
  for server in servers:
    server.close()
