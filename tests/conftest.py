"""Fixtures of the HTTP client's tests: a client of the module's emulator
(its ``emu`` fixture), with real OAuth tokens and waits recorded, not slept."""
import pytest

from test_client import CLIENT_ID, CLIENT_SECRET, RecordingSleep, TokenProvider, api


@pytest.fixture
def oauth(emu):
    return api.AllegroOAuth(emu.url + "/auth/oauth", CLIENT_ID, CLIENT_SECRET, sleep=RecordingSleep())


@pytest.fixture
def provider(emu, oauth):
    return TokenProvider(oauth, emu.issue_tokens())


@pytest.fixture
def sleep():
    return RecordingSleep()


@pytest.fixture
def make_client(emu, provider, sleep):
    clients = []

    def make(**kwargs):
        kwargs.setdefault("timeout", (2, 5))
        kwargs.setdefault("sleep", sleep)
        client = api.AllegroClient(emu.url, kwargs.pop("token_provider", provider), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()
