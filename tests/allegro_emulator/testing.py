"""pytest helpers for talking to the emulator with ``requests`` (test-only; needs pytest and requests).

Import the fixtures into a test module to use them:
    from allegro_emulator.testing import api, emu  # noqa: F401
"""

import pytest
import requests

from .common import JSON_V1
from .emulator import AllegroEmulator


class ApiSession(requests.Session):
    """A requests session for one emulator: relative URLs, Allegro media type, optional bearer token."""

    def __init__(self, emulator, access_token=None):
        super().__init__()
        self.emulator = emulator
        self.headers.update({"Accept": JSON_V1, "Content-Type": JSON_V1})
        if access_token:
            self.headers["Authorization"] = "Bearer " + access_token

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 10)
        return super().request(method, self.emulator.url + url if url.startswith("/") else url, *args, **kwargs)


@pytest.fixture
def emu():
    """A started emulator with a fixed random seed and no data."""
    with AllegroEmulator(random_seed=1) as emulator:
        yield emulator


@pytest.fixture
def api(emu):
    """An ApiSession on ``emu`` holding a valid access token."""
    with ApiSession(emu, emu.issue_tokens()["access_token"]) as session:
        yield session
