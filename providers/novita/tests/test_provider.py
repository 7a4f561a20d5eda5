"""The Novita adapter against respx: registration, every call's request and parsed
result (create, get, list, find_by_name, actions, verify, catalog, account metadata)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers import get_provider_class
from providers.base import (
    Action,
    AuthError,
    NotFound,
    Rejected,
    RemoteState,
    SpecError,
    Transient,
)
from providers.novita import NovitaProvider
from providers.novita.mapping import MASK
from providers.novita.tests.helpers import (
    BALANCE,
    CREATE,
    GPU,
    ID,
    KEY,
    LIST,
    NOTES_BODY,
    NOTES_CREATE,
    ONE,
    PRODUCTS,
    assert_sent,
    err,
    fixture,
    sent_json,
)

# --- registry and interface ------------------------------------------------------------------------


def test_novita_is_registered_with_its_real_base_url_and_actions():
    cls = get_provider_class("novita")
    assert cls is NovitaProvider
    assert (cls.default_base_url, cls.sandbox_path) == ("https://api.novita.ai", "/novita")
    assert cls.actions == {Action.START, Action.STOP, Action.RESTART, Action.UPDATE, Action.DELETE, Action.LOGS}
    assert cls.unique_names is False


def test_novita_repr_never_shows_the_key(novita):
    assert KEY not in repr(novita)


# --- create -------------------------------------------------------------------------------------------------


def test_novita_create_posts_the_body_and_reads_the_instance_back(respx_mock, novita, products):
    route = respx_mock.post(CREATE).respond(200, json=fixture("create"))
    get = respx_mock.get(ONE).respond(200, json=fixture("instance_creating"))
    remote = novita.create(copy.deepcopy(NOTES_CREATE))
    request = assert_sent(route, "POST", "/gpu-instance/openapi/v1/gpu/instance/create")
    assert request.headers["Content-Type"] == "application/json"
    assert sent_json(route) == NOTES_BODY
    assert_sent(get, "GET", "/gpu-instance/openapi/v1/gpu/instance")
    assert get.calls.last.request.url.params["instanceId"] == ID
    assert (remote.external_id, remote.name, remote.state, remote.vendor_state) == (
        ID,
        "llama-serve-01",
        RemoteState.PROVISIONING,
        "toCreate",
    )
    assert remote.price_per_hour == Decimal("0")  # billing starts at pulling
    assert products.call_count == 0  # nothing billed: no prices needed


def test_novita_create_checks_the_spec_before_any_request(respx_mock, novita):
    route = respx_mock.post(CREATE).respond(200, json=fixture("create"))
    with pytest.raises(SpecError) as caught:
        novita.create({**NOTES_CREATE, "ports": "2222/tcp"})
    assert set(caught.value.fields) == {"ports"}
    assert route.call_count == 0


def test_novita_create_is_not_retried_on_a_server_error(respx_mock, novita):
    route = respx_mock.post(CREATE).respond(**err("error_unknown"))
    with pytest.raises(Transient):
        novita.create(copy.deepcopy(NOTES_CREATE))
    assert route.call_count == 1


def test_novita_create_is_not_retried_on_a_timeout(respx_mock, novita):
    route = respx_mock.post(CREATE).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(Transient):
        novita.create(copy.deepcopy(NOTES_CREATE))
    assert route.call_count == 1


def test_novita_create_survives_a_failed_read_back(respx_mock, novita):
    route = respx_mock.post(CREATE).respond(200, json=fixture("create"))
    respx_mock.get(ONE).respond(**err("error_not_found"))  # not visible yet
    remote = novita.create(copy.deepcopy(NOTES_CREATE))
    assert (remote.external_id, remote.state, remote.name) == (ID, RemoteState.PROVISIONING, "llama-serve-01")
    assert remote.message == "Created; Novita has not reported its status yet."
    assert route.call_count == 1


def test_novita_create_without_an_id_is_refused(respx_mock, novita):
    respx_mock.post(CREATE).respond(200, json=fixture("empty"))
    with pytest.raises(Rejected, match="no instance id"):
        novita.create(copy.deepcopy(NOTES_CREATE))


@pytest.mark.parametrize(
    ("name", "cls", "field"),
    [
        ("error_balance", Rejected, None),
        ("error_insufficient", Rejected, None),
        ("error_billing_mode", SpecError, "billingMode"),
        ("error_validator_gpunum", SpecError, "gpuNum"),
        ("error_validator_env", SpecError, "envs.0.key"),
    ],
)
def test_novita_create_maps_novitas_refusals(respx_mock, novita, name, cls, field):
    respx_mock.post(CREATE).respond(**err(name))
    with pytest.raises(cls) as caught:
        novita.create(copy.deepcopy(NOTES_CREATE))
    assert fixture(name)["message"] in caught.value.message
    if field:
        assert caught.value.fields == {field: [f"{fixture(name)['message']} ({fixture(name)['reason']})"]}


# --- get -------------------------------------------------------------------------------------------------------


def test_novita_get_parses_the_instance(respx_mock, novita, products):
    route = respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    remote = novita.get(ID)
    assert_sent(route, "GET", "/gpu-instance/openapi/v1/gpu/instance")
    assert dict(route.calls.last.request.url.params) == {"instanceId": ID}
    assert (remote.state, remote.vendor_state, remote.message) == (RemoteState.RUNNING, "running", "Running.")
    assert remote.price_per_hour == Decimal("1.6")  # one A100 on demand
    assert products.calls.last.request.url.params["billingMethod"] == "onDemand"
    assert remote.created_at == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    assert [e.as_dict() for e in remote.endpoints] == [
        {"url": f"https://{ID}-8000.proxy.novita.example", "port": 8000, "protocol": "http", "label": "8000/http"},
        {"host": "203.0.113.10", "port": 31522, "protocol": "tcp", "label": "22/tcp"},
        {"url": f"https://{ID}-8888.proxy.novita.example", "port": 8888, "protocol": "http", "label": "8888/http"},
    ]
    assert remote.primary_url == f"https://{ID}-8000.proxy.novita.example"
    assert remote.connection == {
        "SSH": "ssh root@203.0.113.10 -p 31522",
        "Web terminal": f"https://terminal.novita.example/{ID} (user root)",
        "Jupyter": f"https://{ID}-8888.proxy.novita.example/lab",
    }


def test_novita_get_masks_every_password_and_the_log_urls(respx_mock, novita, products):
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    remote = novita.get(ID)
    text = json.dumps(remote.raw) + json.dumps(remote.connection)
    for secret in ("Zq8vR2mKp4Lx", "Tw7nB3cYh9Qe", "tok-sys-91f2", "tok-ins-3c7d"):
        assert secret not in text
    assert remote.raw["connectComponentSSH"]["password"] == MASK
    assert remote.raw["connectComponentWebTerminal"]["password"] == MASK
    assert remote.raw["connectComponentLog"]["instanceLogAddress"] == MASK
    # Everything else is Novita's answer as sent.
    expected = fixture("instance_running")
    for key in ("connectComponentSSH", "connectComponentWebTerminal", "connectComponentLog"):
        expected.pop(key)
        remote.raw.pop(key)
    assert remote.raw == expected


def test_novita_get_endpoint_forms_not_documented(respx_mock, novita, products):
    item = fixture("instance_running")
    item["portMappings"] = [
        {"port": 22, "endpoint": "ssh.novita.example", "type": "tcp"},
        {"port": "80", "type": "HTTP"},
    ]
    respx_mock.get(ONE).respond(200, json=item)
    assert [e.as_dict() for e in novita.get(ID).endpoints] == [
        {"host": "ssh.novita.example", "port": 22, "protocol": "tcp", "label": "22/tcp"},
        {"port": 80, "protocol": "http", "label": "80/http"},
    ]


def test_novita_get_of_an_unknown_id_is_not_found(respx_mock, novita):
    respx_mock.get(ONE).respond(**err("error_not_found"))
    with pytest.raises(NotFound, match="instance not found"):
        novita.get("nope")


def test_novita_get_of_an_empty_answer_is_not_found(respx_mock, novita):
    respx_mock.get(ONE).respond(200, json=fixture("empty"))
    with pytest.raises(NotFound):
        novita.get(ID)


def test_novita_get_reads_a_wrapped_answer(respx_mock, novita, products):
    respx_mock.get(ONE).respond(200, json={"instance": fixture("instance_running")})
    assert novita.get(ID).external_id == ID


@pytest.mark.parametrize(
    ("changes", "price"),
    [
        ({"status": "exited"}, Decimal("0")),  # GPU not billed while stopped
        ({"status": "creating"}, Decimal("0")),  # billing starts at pulling
        ({"status": "pulling", "gpuNum": "2"}, Decimal("3.2")),
        ({"status": "toStop"}, Decimal("1.6")),
        ({"status": "removed"}, Decimal("0")),
        ({"status": "freezing"}, None),
        ({"billingMode": "spot"}, Decimal("0.8")),
        ({"billingMode": "monthly", "status": "exited"}, Decimal("1.3194")),
        ({"productId": "gone.product"}, None),
        ({"kind": "cpu"}, None),
    ],
)
def test_novita_instance_price_per_hour(respx_mock, novita, products, changes, price):
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), **changes})
    got = novita.get(ID).price_per_hour
    assert got == price
    if got is not None:
        assert got.as_tuple().exponent >= -4  # the panel's 4 places: no change on every poll


def test_novita_instance_price_reads_the_list_of_its_billing_mode(respx_mock, novita):
    route = respx_mock.get(PRODUCTS).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=fixture("products_monthly_only") if request.url.params["billingMethod"] == "monthly" else {"data": []},
        )
    )
    item = {**fixture("instance_running"), "billingMode": "monthly", "productId": "L40S.8c64g"}
    respx_mock.get(ONE).respond(200, json=item)
    assert novita.get(ID).price_per_hour == Decimal("0.7222")
    assert [c.request.url.params["billingMethod"] for c in route.calls] == ["monthly"]


def test_novita_instance_price_unknown_when_products_fail(respx_mock, novita):
    respx_mock.get(PRODUCTS).respond(**err("error_unknown"))
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    assert novita.get(ID).price_per_hour is None


# --- list and find_by_name --------------------------------------------------------------------------------


def pages(*answers: dict[str, Any], base: int = 0, page_zero: str = "empty"):
    """A list endpoint counting its pages from ``base``. One counting from 1 answers
    page 0 as page 1 (``page_zero="as_one"``) or with no rows (``"empty"``)."""

    def respond(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["pageNum"])
        if base == 1 and page == 0 and page_zero == "as_one":
            page = 1
        index = page - base
        empty: dict[str, Any] = {"instances": []}
        if answers and "total" in answers[0]:
            empty["total"] = answers[0]["total"]
        return httpx.Response(200, json=answers[index] if 0 <= index < len(answers) else empty)

    return respond


def details_by_id(respx_mock):
    return respx_mock.get(ONE).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={**fixture("instance_running"), "id": request.url.params["instanceId"]},
        )
    )


def test_novita_list_reads_every_page_dedupes_and_details_running_ones(respx_mock, novita, products):
    route = respx_mock.get(LIST).mock(side_effect=pages(fixture("instances_page1"), fixture("instances_page2")))
    details = details_by_id(respx_mock)
    remotes = novita.list_remotes()
    assert [c.request.url.params["pageNum"] for c in route.calls] == ["0", "1"]  # from 0; stops at total
    assert {c.request.url.params["pageSize"] for c in route.calls} == {"100"}
    assert_sent(route, "GET", "/gpu-instance/openapi/v1/gpu/instances")
    assert [r.external_id for r in remotes] == ["inst0001", "inst0002", ID, "inst0004", "inst0005"]
    assert sorted(c.request.url.params["instanceId"] for c in details.calls) == [ID, "inst0005"]
    by_id = {r.external_id: r for r in remotes}
    assert (by_id["inst0001"].state, by_id["inst0001"].price_per_hour) == (RemoteState.STOPPED, Decimal("0"))
    assert (by_id["inst0002"].state, by_id["inst0002"].price_per_hour) == (RemoteState.PROVISIONING, Decimal("0.7"))
    assert [e.as_dict() for e in by_id["inst0002"].endpoints] == [{"port": 22, "protocol": "tcp", "label": "22/tcp"}]
    assert by_id["inst0002"].connection == {}
    assert by_id[ID].connection["SSH"] == "ssh root@203.0.113.10 -p 31522"
    assert by_id["inst0004"].state == RemoteState.STOPPING


@pytest.mark.parametrize(
    ("base", "page_zero", "asked"),
    [
        (0, "empty", ["0", "1"]),  # the docs' reading (">= 0") and the cnovita client's
        (1, "as_one", ["0", "1", "2"]),  # page 1 repeats page 0: the next page is 2
        (1, "empty", ["0", "1", "2"]),  # no page 0, but total says there are rows
    ],
)
def test_novita_list_reads_the_first_page_whichever_way_the_server_counts(
    respx_mock, novita, products, base, page_zero, asked
):
    answers = (fixture("instances_page1"), fixture("instances_page2"))
    route = respx_mock.get(LIST).mock(side_effect=pages(*answers, base=base, page_zero=page_zero))
    details_by_id(respx_mock)
    remotes = novita.list_remotes()
    assert [c.request.url.params["pageNum"] for c in route.calls] == asked
    assert [r.external_id for r in remotes] == ["inst0001", "inst0002", ID, "inst0004", "inst0005"]


@pytest.mark.parametrize(("base", "page_zero"), [(0, "empty"), (1, "as_one"), (1, "empty")])
def test_novita_list_without_total_reads_until_an_empty_or_repeated_page(respx_mock, novita, products, base, page_zero):
    answers = [{"instances": fixture(f"instances_page{n}")["instances"]} for n in (1, 2)]
    route = respx_mock.get(LIST).mock(side_effect=pages(*answers, base=base, page_zero=page_zero))
    details_by_id(respx_mock)
    remotes = novita.list_remotes()
    assert [r.external_id for r in remotes] == ["inst0001", "inst0002", ID, "inst0004", "inst0005"]
    assert route.calls.last.request.url.params["pageNum"] == str(base + 2)  # the empty page after the last


def test_novita_list_keeps_the_listed_answer_when_a_detail_read_fails(respx_mock, novita, products):
    respx_mock.get(LIST).mock(side_effect=pages(fixture("instances_page2")))
    respx_mock.get(ONE).respond(**err("error_unknown"))
    remotes = {r.external_id: r for r in novita.list_remotes()}
    assert remotes["inst0005"].state == RemoteState.RUNNING
    assert "Novita has announced it will reclaim this spot instance." in remotes["inst0005"].message
    assert remotes["inst0005"].price_per_hour == Decimal("0.35")  # 2 × $0.175 spot


def test_novita_list_stops_on_an_empty_page(respx_mock, novita, products):
    first = {"instances": fixture("instances_page1")["instances"], "total": 50}
    route = respx_mock.get(LIST).mock(side_effect=pages(first))
    respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    assert len(novita.list_remotes()) == 3
    assert route.call_count == 2


def test_novita_list_stops_when_a_page_brings_nothing_new(respx_mock, novita, products):
    page = {"instances": fixture("instances_page1")["instances"][:2], "total": 50}
    route = respx_mock.get(LIST).respond(200, json=page)  # a server that ignores pageNum
    assert len(novita.list_remotes()) == 2
    # Page 1 repeating page 0 could be a server counting from 1: page 2 settles it.
    assert [c.request.url.params["pageNum"] for c in route.calls] == ["0", "1", "2"]


def test_novita_list_of_an_empty_account(respx_mock, novita):
    route = respx_mock.get(LIST).respond(200, json={"instances": [], "total": 0})
    assert novita.list_remotes() == []
    assert route.call_count == 1


def test_novita_find_by_name_takes_the_newest_exact_live_match(respx_mock, novita, products):
    older = {**fixture("instances_page1")["instances"][0], "id": "old", "name": "job-7", "createdAt": "100"}
    newer = {**older, "id": "new", "createdAt": "200"}
    gone = {**older, "id": "gone", "status": "removed", "createdAt": "300"}
    fuzzy = {**older, "id": "fuzzy", "name": "job-77", "createdAt": "400"}
    route = respx_mock.get(LIST).respond(200, json={"instances": [older, newer, gone, fuzzy], "total": 4})
    found = novita.find_by_name("job-7")
    assert route.calls.last.request.url.params["name"] == "job-7"
    assert found is not None
    assert found.external_id == "new"


def test_novita_find_by_name_none_when_absent(respx_mock, novita):
    respx_mock.get(LIST).respond(200, json={"instances": [], "total": 0})
    assert novita.find_by_name("ghost") is None
    assert novita.find_by_name("") is None


# --- start, stop, restart, delete ----------------------------------------------------------------------


@pytest.mark.parametrize(("verb", "status"), [("start", "starting"), ("stop", "stopping"), ("restart", "restarting")])
def test_novita_actions_post_the_instance_id_and_read_it_back(respx_mock, novita, products, verb, status):
    route = respx_mock.post(f"{GPU}/gpu/instance/{verb}").respond(200, json={})
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": status})
    remote = getattr(novita, verb)(ID, NOTES_BODY)
    assert_sent(route, "POST", f"/gpu-instance/openapi/v1/gpu/instance/{verb}")
    assert sent_json(route) == {"instanceId": ID}
    assert remote is not None
    assert remote.vendor_state == status


def test_novita_action_with_an_empty_body_answer(respx_mock, novita, products):
    respx_mock.post(f"{GPU}/gpu/instance/stop").respond(200, content=b"")
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": "toStop"})
    assert novita.stop(ID, NOTES_BODY).state == RemoteState.STOPPING


def test_novita_action_survives_a_failed_read_back(respx_mock, novita):
    route = respx_mock.post(f"{GPU}/gpu/instance/start").respond(200, json={})
    respx_mock.get(ONE).mock(side_effect=httpx.ConnectError("down"))
    assert novita.start(ID, NOTES_BODY) is None
    assert route.call_count == 1


@pytest.mark.parametrize(("verb", "status"), [("start", "running"), ("stop", "exited"), ("restart", "restarting")])
def test_novita_repeated_action_already_reached_counts_as_done(respx_mock, novita, products, verb, status):
    respx_mock.post(f"{GPU}/gpu/instance/{verb}").respond(**err("error_conflict"))
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": status})
    assert getattr(novita, verb)(ID, NOTES_BODY).vendor_state == status


def test_novita_action_in_the_wrong_state_is_rejected(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/start").respond(**err("error_conflict"))
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": "pulling"})
    with pytest.raises(Rejected, match="instance status conflict"):
        novita.start(ID, NOTES_BODY)


def test_novita_delete_posts_the_instance_id(respx_mock, novita):
    route = respx_mock.post(f"{GPU}/gpu/instance/delete").respond(200, json={})
    assert novita.delete(ID) is None
    assert_sent(route, "POST", "/gpu-instance/openapi/v1/gpu/instance/delete")
    assert sent_json(route) == {"instanceId": ID}


def test_novita_delete_of_a_subscription_before_it_ends_is_rejected(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/delete").respond(**err("error_prepaid"))
    with pytest.raises(Rejected) as caught:
        novita.delete(ID)
    assert caught.value.message == (
        "prepaid instance can not be released before expiration (PREPAID_INSTANCE_NOT_SUPPORT_RELEASE)"
    )


def test_novita_delete_of_an_unknown_instance_is_not_found(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/delete").respond(**err("error_not_found"))
    with pytest.raises(NotFound):
        novita.delete(ID)


def test_novita_delete_repeated_while_removing_counts_as_done(respx_mock, novita):
    respx_mock.post(f"{GPU}/gpu/instance/delete").respond(**err("error_conflict"))
    respx_mock.get(ONE).respond(200, json={**fixture("instance_running"), "status": "removing"})
    assert novita.delete(ID) is None


def test_novita_actions_need_an_id(novita):
    with pytest.raises(NotFound):
        novita.stop("", {})


# --- verify, catalog, account metadata ----------------------------------------------------------------------


def test_novita_verify_reads_the_balance_in_usd(respx_mock, novita):
    route = respx_mock.get(BALANCE).respond(200, json=fixture("balance"))
    info = novita.verify()
    assert_sent(route, "GET", "/openapi/v1/billing/balance/detail")
    assert info.balance == Decimal("125.34")  # "1253400" in 1/10 000 USD
    assert info.summary == (
        "Key accepted: $125.34 available (cash $100.34, credit limit $25.00, pending charges $1.20, "
        "outstanding invoices $0.00)."
    )


def test_novita_verify_with_a_sparse_answer(respx_mock, novita):
    respx_mock.get(BALANCE).respond(200, json={"data": {"availableBalance": "10000"}})
    assert novita.verify().summary == "Key accepted: $1.00 available."


def test_novita_verify_refused_key(respx_mock, novita):
    respx_mock.get(BALANCE).respond(**err("error_unauthorized"))
    with pytest.raises(AuthError) as caught:
        novita.verify()
    assert caught.value.message == "invalid api key (UNAUTHORIZED)"


def test_novita_catalog_merges_the_lists_of_every_billing_method(respx_mock, novita):
    def respond(request: httpx.Request) -> httpx.Response:
        method = request.url.params["billingMethod"]
        return httpx.Response(200, json=fixture("products_monthly_only" if method == "monthly" else "products"))

    route = respx_mock.get(PRODUCTS).mock(side_effect=respond)
    catalog = novita.catalog()
    assert sorted(c.request.url.params["billingMethod"] for c in route.calls) == ["monthly", "onDemand", "spot"]
    assert [o.sku for o in catalog] == ["A100-80GB.14c240g", "4090.16c62g", "H100-80GB.16c200g", "L40S.8c64g"]
    assert {o.sku: o.price_per_hour for o in catalog}["4090.16c62g"] == Decimal("0.35")
    assert all(o.gpu_count == 1 and o.kind == "gpu" for o in catalog)


def test_novita_account_metadata_names_but_never_passwords(respx_mock, novita):
    respx_mock.get(f"{GPU}/clusters").respond(200, json=fixture("clusters"))
    respx_mock.get(f"{GPU}/repository/auths").respond(200, json=fixture("registry_auths"))
    storages = respx_mock.get(f"{GPU}/networkstorages/list").respond(200, json=fixture("network_storages"))
    templates = respx_mock.get(f"{GPU}/templates").mock(
        side_effect=lambda request: httpx.Response(200, json=fixture(f"templates_{request.url.params['channel']}"))
    )
    meta = novita.account_metadata()
    assert meta["clusters"][0] == {
        "id": "5",
        "name": "US-CA-06",
        "gpu_types": ["A100 SXM 80GB", "H100 SXM 80GB"],
        "network_storage": True,
        "instance_network": True,
    }
    assert meta["registry_auths"] == [{"id": "ra-1", "name": "ghcr-team"}, {"id": "ra-2", "name": "dockerhub"}]
    assert meta["network_storages"] == [
        {
            "id": "d4e82677-3f80-4020-a731-d15b1c589aa8",
            "name": "models",
            "cluster_id": "5",
            "cluster_name": "US-CA-06",
            "size_gb": 10,
        },
        {
            "id": "0f3b9c1e-2222-4a7b-9c44-1a2b3c4d5e6f",
            "name": "datasets",
            "cluster_id": "9",
            "cluster_name": "EU-DE-01",
            "size_gb": 200,
        },
    ]
    assert dict(storages.calls.last.request.url.params) == {"pageNo": "1", "pageSize": "100"}
    # What the form's template picker fills in; a port listed twice once, a port that is no
    # number left out, the entry without an id skipped.
    assert meta["templates"] == [
        {
            "id": "tpl-77",
            "name": "vllm-llama3",
            "channel": "private",
            "image": "docker.io/vllm/vllm-openai:latest",
            "ports": [{"port": 8000, "type": "http"}, {"port": 22, "type": "tcp"}],
            "env_keys": ["HF_TOKEN", "MODEL"],
            "start_command": "--model meta-llama/Llama-3.1-8B-Instruct",
            "rootfs_gb": 100,
            "tools": [],
        },
        {
            "id": "tpl-1",
            "name": "PyTorch 2.4 CUDA 12.4",
            "channel": "official",
            "image": "docker.io/pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime",
            "ports": [{"port": 8888, "type": "http"}, {"port": 22, "type": "tcp"}],
            "env_keys": [],
            "start_command": "",
            "rootfs_gb": 60,
            "tools": ["Jupyter"],
        },
        {
            "id": "tpl-2",
            "name": "Jupyter Lab",
            "channel": "official",
            "image": "docker.io/jupyter/base-notebook:latest",
            "ports": [{"port": 8888, "type": "http"}],
            "env_keys": ["JUPYTER_TOKEN"],
            "start_command": "start-notebook.sh",
            "rootfs_gb": 20,
            "tools": ["Jupyter"],
        },
    ]
    assert [dict(c.request.url.params) for c in templates.calls] == [
        {"channel": channel, "isMyCommunity": "false", "pageSize": "100"} for channel in ("private", "official")
    ]
    text = json.dumps(meta)
    assert "ghp_s3cr3tT0ken" not in text
    assert "dckr_pat_abc" not in text
    assert "acme-bot" not in text
    # A template's env values and registry credential stay at Novita.
    for secret in ("hf_tplS3cr3tValue", "m0del-v4lue", "official-default-token", "ghp_tplS3cr3t", "imageAuth"):
        assert secret not in text


def test_novita_account_metadata_survives_one_missing_list(respx_mock, novita):
    respx_mock.get(f"{GPU}/clusters").respond(200, json=fixture("clusters"))
    respx_mock.get(f"{GPU}/repository/auths").respond(**err("error_unknown"))
    respx_mock.get(f"{GPU}/networkstorages/list").respond(200, json={"data": [], "total": 0})
    respx_mock.get(f"{GPU}/templates").respond(200, json={"template": [], "total": 0})
    meta = novita.account_metadata()
    assert meta["registry_auths"] == []
    assert len(meta["clusters"]) == 2


def test_novita_account_metadata_refused_key_is_an_auth_error(respx_mock, novita):
    respx_mock.get(f"{GPU}/clusters").respond(**err("error_unauthorized"))
    with pytest.raises(AuthError):
        novita.account_metadata()


# --- the listing the panel's refresh reads: rows alone, and whether every page was read -----


@pytest.mark.parametrize(
    ("base", "page_zero", "with_total"),
    [(0, "empty", True), (1, "as_one", True), (1, "empty", True), (0, "empty", False), (1, "as_one", False)],
)
def test_novita_listing_reads_rows_alone_and_is_complete_whichever_base(
    respx_mock, novita, products, base, page_zero, with_total
):
    answers = [fixture(f"instances_page{n}") for n in (1, 2)]
    if not with_total:
        answers = [{"instances": a["instances"]} for a in answers]
    respx_mock.get(LIST).mock(side_effect=pages(*answers, base=base, page_zero=page_zero))
    details = respx_mock.get(ONE).respond(200, json=fixture("instance_running"))
    listing = novita.listing()
    assert listing.complete
    assert [r.external_id for r in listing.remotes] == ["inst0001", "inst0002", ID, "inst0004", "inst0005"]
    assert details.call_count == 0  # status, statusError, billingMode, endTime: the list says enough
    by_id = {r.external_id: r for r in listing.remotes}
    assert (by_id[ID].state, by_id[ID].connection) == (RemoteState.RUNNING, {})
    assert by_id["inst0001"].state == RemoteState.STOPPED


def test_novita_listing_short_of_total_is_incomplete(respx_mock, novita, products):
    # An empty page while total says 50: rows are missing, so nothing may be called lost.
    first = {"instances": fixture("instances_page1")["instances"], "total": 50}
    respx_mock.get(LIST).mock(side_effect=pages(first))
    listing = novita.listing()
    assert (len(listing.remotes), listing.complete) == (3, False)


def test_novita_listing_of_repeated_pages_short_of_total_is_incomplete(respx_mock, novita, products):
    page = {"instances": fixture("instances_page1")["instances"][:2], "total": 50}
    respx_mock.get(LIST).respond(200, json=page)  # a server that ignores pageNum
    listing = novita.listing()
    assert (len(listing.remotes), listing.complete) == (2, False)


def test_novita_listing_of_an_empty_account_is_complete_in_one_call(respx_mock, novita):
    route = respx_mock.get(LIST).respond(200, json={"instances": [], "total": 0})
    listing = novita.listing()
    assert (listing.remotes, listing.complete, route.call_count) == ([], True, 1)


def test_novita_listing_without_total_and_no_page_zero(respx_mock, novita, products):
    # A server counting from 1 with no page 0 and no total: page 0 is empty, page 1 has rows.
    answers = [{"instances": fixture("instances_page1")["instances"]}]
    route = respx_mock.get(LIST).mock(side_effect=pages(*answers, base=1, page_zero="empty"))
    listing = novita.listing()
    assert (len(listing.remotes), listing.complete) == (3, True)
    assert [c.request.url.params["pageNum"] for c in route.calls] == ["0", "1", "2"]
