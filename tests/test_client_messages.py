"""Buyers' messages and post-purchase issues through the client, against the emulator over real HTTP on 127.0.0.1."""

from datetime import datetime, timedelta, timezone

import pytest

from allegro_emulator import AllegroEmulator
from test_client import CLIENT_ID, CLIENT_SECRET, RecordingSleep, TokenProvider, api

# A 1x1 PNG and a one-page PDF: real files, small.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
                    "9c6360000002000100e221bc330000000049454e44ae426082")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" \
      b"trailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def emu():
    with AllegroEmulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, random_seed=7) as emulator:
        yield emulator


@pytest.fixture
def client(emu):
    oauth = api.AllegroOAuth(emu.url + "/auth/oauth", CLIENT_ID, CLIENT_SECRET, sleep=RecordingSleep())
    with api.AllegroClient(emu.url, TokenProvider(oauth, emu.issue_tokens()), timeout=(2, 2),
                           sleep=RecordingSleep()) as allegro:
        yield allegro


def requests_to(emu, prefix):
    return [r for r in emu.requests if r["path"].startswith(prefix)]


def order(emu):
    return emu.add_order(status="READY_FOR_PROCESSING", payment={"type": "ONLINE"})


class Reader:
    """What the Odoo side will do: keep the newest last-message time, read each changed thread after its own."""

    def __init__(self, client):
        self.client = client
        self.since = None
        self.thread_seen = {}  # thread id -> newest createdAt read
        self.messages = []

    def poll(self):
        threads = list(self.client.iter_threads(since=self.since, page_size=2))
        for thread in threads:
            found = list(self.client.iter_thread_messages(thread["id"], after=self.thread_seen.get(thread["id"]),
                                                          page_size=2))
            if found:
                self.thread_seen[thread["id"]] = max(m["createdAt"] for m in found)
            self.messages.extend(found)
        if threads:
            self.since = max([t["lastMessageDateTime"] for t in threads] + ([self.since] if self.since else []))
        return threads


def test_threads_and_messages_read_incrementally_each_message_once(emu, client):
    orders = [order(emu) for _ in range(4)]
    sent = [emu.buyer_message(o["id"], text="Pytanie %d" % n) for n, o in enumerate(orders)]
    sent += [emu.buyer_message(orders[0]["id"], text="Pytanie %d" % n) for n in range(4, 9)]
    sent.append(emu.buyer_message(login="ciekawski_kupujacy", text="Czy macie to w kolorze czerwonym?"))
    reader = Reader(client)

    # A buyer writes while the reader is between pages: the threads shift, none is lost.
    original = client.list_threads
    calls = []

    def list_threads(offset=0, limit=20):
        calls.append(offset)
        if len(calls) == 2:
            sent.append(emu.buyer_message(orders[3]["id"], text="Jeszcze jedno"))
        return original(offset, limit)
    client.list_threads = list_threads
    reader.poll()
    client.list_threads = original
    reader.poll()  # the message that arrived meanwhile
    ids = [m["id"] for m in reader.messages]
    assert sorted(ids) == sorted(m["id"] for m in sent) and len(ids) == len(set(ids))
    relates = {m["text"]: m["relatesTo"].get("order", {}).get("id") for m in reader.messages}
    assert relates["Pytanie 1"] == orders[1]["id"] and relates["Czy macie to w kolorze czerwonym?"] is None

    emu.reset_requests()
    assert reader.poll() == [] and len(emu.requests) == 1  # nothing new: one request

    new = emu.buyer_message(orders[2]["id"], text="Halo?")
    reader.poll()
    assert reader.messages[-1]["id"] == new["id"] and len(reader.messages) == len(sent) + 1


def test_messages_pages_chained_by_before_while_messages_arrive(emu, client):
    o = order(emu)
    first = [emu.buyer_message(o["id"], text="m%d" % n) for n in range(5)]
    thread_id = first[0]["thread"]["id"]
    pages = client.iter_thread_messages(thread_id, page_size=2)
    got = [next(pages), next(pages)]
    late = emu.buyer_message(o["id"], text="late")
    got += list(pages)
    assert [m["id"] for m in got] == [m["id"] for m in reversed(first)]
    assert [m["id"] for m in client.iter_thread_messages(thread_id, after=got[0]["createdAt"])] == [late["id"]]
    befores = [r["query"].get("before") for r in requests_to(emu, "/messaging/threads/" + thread_id)]
    assert befores[0] is None and all(befores[1:3])


def test_attachments_both_ways(emu, client):
    o = order(emu)
    incoming = emu.buyer_message(o["id"], text="Zdjęcie i faktura", attachments=[("foto.png", PNG),
                                                                                ("paragon.pdf", PDF)])
    message = next(client.iter_thread_messages(incoming["thread"]["id"]))
    files = {a["fileName"]: client.download_attachment(url=a["url"]) for a in message["attachments"]}
    assert files == {"foto.png": PNG, "paragon.pdf": PDF}
    assert {a["mimeType"] for a in message["attachments"]} == {"image/png", "application/pdf"}

    attachment_id = client.add_attachment("etykieta.pdf", PDF)
    reply = client.send_message(incoming["thread"]["id"], "Faktura w załączniku", [attachment_id])
    assert client.download_attachment(attachment_id) == PDF
    assert client.download_attachment(url=reply["attachments"][0]["url"]) == PDF
    with pytest.raises(ValueError):
        client.add_attachment("program.exe", b"MZ")


def test_a_sent_message_appears_once_even_when_its_answer_is_lost(emu, client):
    o = order(emu)
    thread_id = emu.buyer_message(o["id"])["thread"]["id"]
    sent = client.send_message(thread_id, "Wysłane dziś")
    assert sent["author"]["isInterlocutor"] is False and "order" not in sent["relatesTo"]

    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    emu.faults.lose_answer(path_prefix="/messaging/threads/%s/messages" % thread_id, method="POST")
    with pytest.raises(api.AllegroTransportError) as lost:
        client.send_message(thread_id, "Paczka jutro")
    assert lost.value.unanswered
    found = client.find_sent_message(thread_id, "Paczka jutro", before)
    assert found is not None  # Allegro took it: the caller keeps it and does not send again
    texts = [m["text"] for m in emu.thread_messages(thread_id)]
    assert texts.count("Paczka jutro") == 1
    posts = [r for r in requests_to(emu, "/messaging/threads/") if r["method"] == "POST"]
    assert len(posts) == 2  # never replayed by the client
    assert client.find_sent_message(thread_id, "Nie wysłane", before) is None


def test_new_thread_about_an_order(emu, client):
    o = order(emu)
    message = client.start_thread(o["buyer"]["login"], o["id"], "Dziękujemy za zakup")
    assert message["relatesTo"]["order"] == {"id": o["id"]}
    assert client.get_thread(message["thread"]["id"])["interlocutor"]["login"] == o["buyer"]["login"]
    assert client.get_message(message["id"])["text"] == "Dziękujemy za zakup"
    client.delete_message(message["id"])
    with pytest.raises(api.AllegroNotFound):
        client.get_message(message["id"])


def test_a_refused_message_gives_allegros_message(emu, client):
    thread_id = emu.buyer_message(order(emu)["id"])["thread"]["id"]
    client.accept_language = "pl-PL"
    with pytest.raises(api.AllegroValidationError) as refused:
        client.send_message(thread_id, "Taniej u nas: https://example.com/sklep")
    assert "Wiadomość zawiera link do strony spoza Allegro" in str(refused.value.user_message)
    with pytest.raises(ValueError):
        client.send_message(thread_id, "x" * 2001)  # caught before sending
    assert client.send_message(thread_id, "Regulamin: https://allegro.pl/regulamin")["text"]


def test_mark_thread_read(emu, client):
    thread_id = emu.buyer_message(order(emu)["id"])["thread"]["id"]
    assert client.get_thread(thread_id)["read"] is False
    assert client.mark_thread_read(thread_id)["read"] is True
    assert emu.threads[0]["read"] is True
    with pytest.raises(api.AllegroNotFound):
        client.mark_thread_read("unknown")


def test_an_issue_listed_its_chat_read_answered_and_its_status_changed(emu, client):
    o = order(emu)
    dispute = emu.open_issue(o["id"])
    claim = emu.open_issue(o["id"], "CLAIM", "Pękła obudowa")
    emu.buyer_issue_message(claim["id"], "Zdjęcie", attachments=[("pekniecie.png", PNG)])
    listed = list(client.iter_issues(order_id=o["id"], page_size=1))
    assert [i["id"] for i in listed] == [claim["id"], dispute["id"]]
    assert [i["id"] for i in client.iter_issues(statuses=["CLAIM_SUBMITTED"])] == [claim["id"]]
    assert {r["headers"].get("Accept") for r in requests_to(emu, "/sale/issues")} == {
        api.MEDIA_TYPE_BETA}
    chat = client.get_issue_chat(claim["id"], page_size=1)
    assert [m["text"] for m in chat] == ["Pękła obudowa", "Zdjęcie"]
    assert client.download_issue_attachment(url=chat[1]["attachments"][0]["url"]) == PNG

    attachment_id = client.add_issue_attachment("odpowiedz.pdf", PDF)
    answer = client.send_issue_message(claim["id"], "Prosimy o odesłanie", "RETURN_REQUIRED_CUSTOM", [attachment_id])
    assert answer["author"]["role"] == "SELLER"
    assert client.download_issue_attachment(attachment_id) == PDF
    assert client.get_issue(claim["id"])["chat"]["lastMessage"]["status"] == "SELLER_REPLIED"

    client.change_issue_status(claim["id"], "ACCEPTED_REFUND", "Zwracamy pieniądze")
    assert client.get_issue(claim["id"])["currentState"]["status"] == "CLAIM_ACCEPTED"
    with pytest.raises(api.AllegroValidationError):
        client.change_issue_status(dispute["id"], "ACCEPTED_REFUND", "Spór to nie reklamacja")
    with pytest.raises(ValueError):
        client.send_issue_message(claim["id"], "x", "BOGUS")

    emu.move_issue(dispute["id"], "DISPUTE_CLOSED", chat_active=False)
    with pytest.raises(api.AllegroConflict):
        client.send_issue_message(dispute["id"], "Czy wszystko w porządku?")


def test_unknown_issue_types_and_statuses_are_kept(emu, client):
    o = order(emu)
    issue = emu.open_issue(o["id"], "CLAIM")
    emu.move_issue(issue["id"], "CLAIM_ESCALATED", type="RETURN_CLAIM")
    got = client.get_issue(issue["id"])
    assert (got["type"], got["currentState"]["status"]) == ("RETURN_CLAIM", "CLAIM_ESCALATED")
    assert [i["currentState"]["status"] for i in client.iter_issues()] == ["CLAIM_ESCALATED"]


def test_a_cheap_poll_costs_two_requests(emu, client):
    """Nothing new for a shop: one page of threads and one of open issues."""
    o = order(emu)
    emu.buyer_message(o["id"])
    emu.open_issue(o["id"])
    since = max(t["lastMessageDateTime"] for t in client.iter_threads())
    known = {i["id"]: i["chat"]["lastMessage"]["createdAt"] for i in client.iter_issues()}
    emu.reset_requests()
    assert list(client.iter_threads(since=since)) == []
    assert {i["id"]: i["chat"]["lastMessage"]["createdAt"] for i in client.iter_issues()} == known
    assert len(emu.requests) == 2


def test_faults_apply_to_the_new_routes(emu, client):
    thread_id = emu.buyer_message(order(emu)["id"])["thread"]["id"]
    emu.faults.add(status=429, count=1, path_prefix="/messaging/threads", method="GET")
    emu.faults.add(status=503, count=1, path_prefix="/sale/issues", method="GET")
    assert client.get_thread(thread_id)["id"] == thread_id
    assert list(client.iter_issues()) == []
    assert [r["status"] for r in emu.requests if r["path"].startswith(("/messaging", "/sale/issues"))] == [
        429, 200, 503, 200]
