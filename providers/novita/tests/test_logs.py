"""Novita's log streams, read without the key."""

from __future__ import annotations

import httpx
import pytest

from providers.base import (
    Rejected,
    Transient,
)
from providers.novita import NovitaProvider
from providers.novita.tests.helpers import ID, INSTANCE_LOG, KEY, ONE, SYSTEM_LOG, fixture

# --- logs ------------------------------------------------------------------------------------------------------


def test_novita_logs_reads_both_streams_without_the_key(respx_mock, novita):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    system = respx_mock.get(SYSTEM_LOG).respond(200, text="pulling image\nimage pulled\n")
    instance = respx_mock.get(INSTANCE_LOG).respond(200, text="INFO started server\nINFO ready on :8000")
    logs = novita.logs(ID)
    assert logs.lines == [
        "── system log ──",
        "pulling image",
        "image pulled",
        "── instance log ──",
        "INFO started server",
        "INFO ready on :8000",
    ]
    assert logs.source == "system log and instance log"
    for route in (system, instance):
        request = route.calls.last.request
        assert "Authorization" not in request.headers
        assert KEY not in str(request.headers)
        assert request.headers["Accept"] == "text/plain"


def test_novita_logs_never_sends_the_key_even_through_a_shared_client(respx_mock):
    shared = httpx.Client(headers={"Authorization": f"Bearer {KEY}"})
    provider = NovitaProvider(api_key=KEY, client=shared)
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    route = respx_mock.get(INSTANCE_LOG).respond(200, text="hello")
    assert provider.logs(ID, which="instance").lines == ["hello"]
    assert "Authorization" not in route.calls.last.request.headers
    shared.close()


def test_novita_logs_keep_one_source_when_the_other_fails(respx_mock, novita):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    respx_mock.get(SYSTEM_LOG).respond(404, text="expired")
    respx_mock.get(INSTANCE_LOG).respond(200, text="line")
    assert novita.logs(ID).lines == [
        "── system log unavailable: the log stream answered HTTP 404 ──",
        "── instance log ──",
        "line",
    ]


def test_novita_logs_fail_when_every_source_fails(respx_mock, novita):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    respx_mock.get(SYSTEM_LOG).respond(503)
    respx_mock.get(INSTANCE_LOG).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(Transient):
        novita.logs(ID)


def test_novita_logs_of_a_following_stream_end_when_it_falls_quiet(respx_mock, novita):
    class Following(httpx.SyncByteStream):
        def __iter__(self):
            yield b"first\nsecond\n"
            raise httpx.ReadTimeout("quiet")

    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    respx_mock.get(INSTANCE_LOG).mock(return_value=httpx.Response(200, stream=Following()))
    assert novita.logs(ID, which="instance").lines == ["first", "second"]


def test_novita_logs_when_no_stream_is_offered(respx_mock, novita):
    item = {**fixture("instance_creating"), "connectComponentLog": {"systemLogAddress": "", "instanceLogAddress": ""}}
    respx_mock.get(ONE).respond(200, json=item)
    assert novita.logs(ID).lines == ["Novita offers no log stream for this instance now (it is toCreate)."]


def test_novita_logs_refuse_an_address_that_is_not_http(respx_mock, novita):
    item = fixture("instance_running")
    item["connectComponentLog"] = {"systemLogAddress": "", "instanceLogAddress": "file:///etc/passwd"}
    respx_mock.get(ONE).respond(200, json=item)
    with pytest.raises(Rejected, match="not an http"):
        novita.logs(ID)


def test_novita_logs_keep_the_last_lines(respx_mock, novita, monkeypatch):
    monkeypatch.setattr("providers.novita.logs.LOG_LINES", 3)
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    respx_mock.get(INSTANCE_LOG).respond(200, text="\n".join(f"l{i}" for i in range(10)))
    assert novita.logs(ID, which="instance").lines == ["l7", "l8", "l9"]
