"""The contract every vendor adapter keeps (issue 9), run over every row of the registry.

The same cases for each vendor — create, get, list across pages, each action or
``Unsupported``, every error status to its type, ``find_by_name``, the status table —
on the vendor's documented answers (``providers/<slug>/tests/contract.py``, each body's
source named there), asserted through the ``Provider`` interface only. A new registry
row is covered automatically, and fails here until it has its case module (libcloud's
``TestCaseMixin`` works the same way for its drivers).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
import respx

from providers.base import (
    Action,
    AuthError,
    LogLines,
    NotFound,
    Provider,
    RateLimited,
    Remote,
    RemoteState,
    SpecError,
    Transient,
    Unsupported,
    VendorEvent,
)
from providers.contract import PAGING, Case, Error, Expect, Route, load_case, response, serve, url_for
from providers.registry import SLUGS, get_provider_class

# Background routes (catalogs read for prices, the account) need not be called by every case;
# each test asserts the routes that matter to it itself.
pytestmark = pytest.mark.respx(assert_all_called=False)

UNKNOWN_STATUS = "no-such-status-from-the-contract-suite"
RETRY_AFTER = 30  # longer than http.py waits inline, so the 429 reaches the caller at once


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(params=SLUGS)
def case(request: pytest.FixtureRequest) -> Case:
    slug = request.param
    try:
        return load_case(slug)
    except ModuleNotFoundError as exc:
        if exc.name != f"providers.contract.{slug}":
            raise
        pytest.fail(f"{slug} is in the registry but has no case data: add providers/{slug}/tests/contract.py")


@pytest.fixture(autouse=True)
def known_failure(request: pytest.FixtureRequest) -> None:
    """A case the vendor's adapter is known to fail runs as a strict xfail with its reason."""
    if "case" not in request.fixturenames:
        return
    case: Case = request.getfixturevalue("case")
    reason = case.known_failures.get(request.node.originalname)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"{case.slug} adapter bug: {reason}"))


@pytest.fixture
def provider_class(case: Case) -> type[Provider]:
    return get_provider_class(case.slug)


@pytest.fixture(scope="module")
def http_client() -> Iterator[httpx.Client]:
    """One client for the module: building one per adapter (its TLS context) would cost more
    than the cases themselves. respx mocks its transport like any other."""
    with httpx.Client(timeout=httpx.Timeout(30, connect=5)) as client:
        yield client


@pytest.fixture
def provider(case: Case, provider_class: type[Provider], http_client: httpx.Client) -> Iterator[Provider]:
    instance = provider_class(api_key=case.key, client=http_client)
    yield instance
    instance.close()


# --- helpers ----------------------------------------------------------------------------------


def status_table(provider_class: type[Provider]) -> Mapping[str, RemoteState]:
    """The adapter's status table, declared on the class (``Provider.status_table``)."""
    table = provider_class.status_table
    assert table, f"{provider_class.__name__} declares no status_table"
    return table


def assert_remote(remote: Any, expect: Expect) -> None:
    assert isinstance(remote, Remote)
    assert (remote.external_id, remote.name, remote.state) == (expect.external_id, expect.name, expect.state)


def serve_case(mock: respx.MockRouter, case: Case, *routes: tuple[Route, ...]) -> list[respx.Route]:
    """``routes`` first, then the case's background answers."""
    served = serve(mock, case.base_url, *routes, case.background)
    return served[: sum(len(group) for group in routes)]


def error_answer(case: Case, status: int) -> httpx.Response:
    """The vendor's documented body for ``status``, else the bare text a proxy would send."""
    headers = {"Retry-After": str(RETRY_AFTER)} if status == 429 else None
    documented = case.errors.get(status)
    if documented is None:
        return httpx.Response(status, text=f"{status} {httpx.codes.get_reason_phrase(status)}", headers=headers)
    return response(documented, status, headers)


def call_action(provider: Provider, case: Case, action: Action, kwargs: Mapping[str, Any]) -> Any:
    return getattr(provider, action.value)(case.get_id, **copy.deepcopy(dict(kwargs)))


def default_kwargs(case: Case, action: Action) -> dict[str, Any]:
    """The arguments an action takes, for calling one the vendor does not have."""
    if action in (Action.START, Action.STOP, Action.RESTART):
        return {"spec": dict(case.spec)}
    if action is Action.SCALE:
        return {"changes": {"min_replicas": 1, "max_replicas": 1}}
    if action is Action.UPDATE:
        return {"spec": dict(case.spec), "previous": dict(case.spec)}
    return {}


# --- the case data itself -----------------------------------------------------------------------


def test_case_data_is_complete_and_cites_its_sources(case: Case, provider_class: type[Provider]) -> None:
    assert provider_class.name == case.slug
    assert case.paging in PAGING
    assert case.listing, "the list needs at least one page"
    uncited = [f"{r.method} {r.path}" for r in case.all_routes() if r.has_body() and not r.source]
    assert not uncited, f"bodies without a source: {uncited}"
    errors: list[Error] = [*case.errors.values(), case.not_found, *case.not_found_readings.values()]
    assert all(e.source for e in errors), "every documented error body names its source"
    assert case.statuses
    assert case.statuses_source


def test_adapter_uses_the_documented_base_url_and_auth(
    case: Case, provider_class: type[Provider], provider: Provider, respx_mock: respx.MockRouter
) -> None:
    assert provider_class.default_base_url.rstrip("/") == case.base_url.rstrip("/")
    served = serve_case(respx_mock, case, case.get)
    provider.get(case.get_id)
    assert served[0].called
    for call in respx_mock.calls:
        assert call.request.url.host == httpx.URL(case.base_url).host
        assert call.request.headers.get(case.auth_header) == case.auth_value


def test_adapter_honours_a_base_url_override(
    case: Case, provider_class: type[Provider], http_client: httpx.Client, respx_mock: respx.MockRouter
) -> None:
    """``ProviderAccount.base_url`` (the sandbox) replaces the vendor's constant."""
    sandbox = f"https://sandbox.contract.test{provider_class.sandbox_path}"
    served = serve(respx_mock, sandbox, case.get, [r for r in case.background if not r.path.startswith("http")])
    with provider_class(api_key=case.key, base_url=sandbox, client=http_client) as provider:
        assert_remote(provider.get(case.get_id), case.got)
    assert served[0].called
    assert all(call.request.url.host == "sandbox.contract.test" for call in respx_mock.calls)


# --- create, get, list -------------------------------------------------------------------------------


def test_create_returns_the_new_remote(case: Case, provider: Provider, respx_mock: respx.MockRouter) -> None:
    served = serve_case(respx_mock, case, case.create)
    remote = provider.create(copy.deepcopy(dict(case.spec)))
    assert_remote(remote, case.created)
    assert [route.call_count for route in served] == [1] * len(served)


def test_get_returns_the_remote(case: Case, provider: Provider, respx_mock: respx.MockRouter) -> None:
    served = serve_case(respx_mock, case, case.get)
    assert_remote(provider.get(case.get_id), case.got)
    assert served[0].call_count == 1


def test_list_remotes_reads_every_page(case: Case, provider: Provider, respx_mock: respx.MockRouter) -> None:
    served = serve_case(respx_mock, case, case.listing)
    remotes = list(provider.list_remotes())
    assert [r.external_id for r in remotes] == list(case.listed)
    assert all(isinstance(r.state, RemoteState) for r in remotes)
    assert [route.call_count for route in served] == [1] * len(served), "each page (and each read) once"
    first = url_for(case.base_url, case.listing[0].path)
    pages = [r for r in case.listing if r.method == "GET" and url_for(case.base_url, r.path) == first]
    if case.paging == "none":
        assert len(pages) == 1
    else:
        assert len(pages) >= 2, f"{case.slug} pages by {case.paging}: the case needs a page after the first"


def test_list_remotes_reads_every_page_under_each_documented_reading(case: Case, provider: Provider) -> None:
    """The case's own list first, so the test asserts something for every vendor."""
    wrong = {}
    for reading, routes in {"as in the case": case.listing, **case.list_readings}.items():
        with respx.mock(assert_all_called=False) as mock:
            serve_case(mock, case, routes)
            ids = [r.external_id for r in provider.list_remotes()]
        if ids != list(case.listed):
            wrong[reading] = ids
    assert not wrong, f"expected {list(case.listed)} under every reading, got {wrong}"


def test_listing_reads_every_page_from_the_list_alone_and_is_complete(case: Case, provider: Provider) -> None:
    """The panel's refresh reads ``listing()``: the same rows as ``list_remotes()``, in order,
    complete, under every documented reading; where the list says less than a read by id
    (``list_is_detailed`` false) no row is read by id, and ``detail`` then adds what it lacks."""
    wrong = {}
    for reading, routes in {"as in the case": case.listing, **case.list_readings}.items():
        with respx.mock(assert_all_called=False) as mock:
            serve_case(mock, case, routes)
            listing = provider.listing()
            pages = {url_for(case.base_url, r.path) for r in case.listing[:1]}
            per_row = [c for c in mock.calls if str(c.request.url.copy_with(query=None)) not in pages]
        ids = [r.external_id for r in listing.remotes]
        if ids != list(case.listed) or not listing.complete:
            wrong[reading] = (ids, listing.complete)
        if not type(provider).list_is_detailed:
            reads = [c.request.url.path for c in per_row if any(i in str(c.request.url) for i in case.listed)]
            assert not reads, f"{reading}: rows read one by one in listing(): {reads}"
    assert not wrong, f"expected {list(case.listed)}, complete, under every reading; got {wrong}"


# --- actions -------------------------------------------------------------------------------------------


def test_case_lists_the_actions_the_adapter_offers(case: Case, provider_class: type[Provider]) -> None:
    assert set(case.actions) == set(provider_class.actions)


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_each_action_works_or_is_unsupported(
    case: Case, provider_class: type[Provider], provider: Provider, action: Action, respx_mock: respx.MockRouter
) -> None:
    if action not in provider_class.actions:
        with pytest.raises(Unsupported):
            call_action(provider, case, action, default_kwargs(case, action))
        assert not respx_mock.calls, "an unsupported action sends nothing"
        return
    call = case.actions[action]
    served = serve_case(respx_mock, case, call.routes)
    result = call_action(provider, case, action, call.kwargs)
    if action is Action.LOGS:
        assert isinstance(result, LogLines)
        assert result.lines
    elif action is Action.EVENTS:
        assert isinstance(result, list)
        assert result
        assert all(isinstance(e, VendorEvent) for e in result)
    else:
        assert result is None or isinstance(result, Remote)
    uncalled = [f"{r.method} {r.path}" for r, route in zip(call.routes, served, strict=True) if not route.called]
    assert not uncalled, f"{action} did not call {uncalled}"


# --- errors --------------------------------------------------------------------------------------------

ERROR_TYPES: dict[int, type[Exception]] = {
    400: SpecError,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    422: SpecError,
    429: RateLimited,
    500: Transient,
    502: Transient,
    503: Transient,
}


@pytest.mark.parametrize("status", list(ERROR_TYPES))
def test_error_status_raises_its_type(
    case: Case, provider: Provider, status: int, respx_mock: respx.MockRouter
) -> None:
    """400/422 on create (the vendor judging a spec); every other status on get."""
    failing = case.create[0] if status in (400, 422) else case.get[0]
    route = respx_mock.route(method=failing.method, url=url_for(case.base_url, failing.path)).mock(
        return_value=error_answer(case, status)
    )
    on_create = status in (400, 422)
    with pytest.raises(ERROR_TYPES[status]) as raised:
        provider.create(copy.deepcopy(dict(case.spec))) if on_create else provider.get(case.get_id)
    assert route.called
    assert raised.value.status_code == status
    assert case.key not in str(raised.value)
    if status == 429:
        assert raised.value.retry_after == RETRY_AFTER
    if ERROR_TYPES[status] is Transient:
        assert not isinstance(raised.value, RateLimited)


@pytest.mark.parametrize("method", ["get", "create"])
def test_timeout_is_transient(case: Case, provider: Provider, method: str, respx_mock: respx.MockRouter) -> None:
    failing = case.get[0] if method == "get" else case.create[0]
    respx_mock.route(method=failing.method, url=url_for(case.base_url, failing.path)).mock(
        side_effect=httpx.ReadTimeout("timed out")
    )
    with pytest.raises(Transient) as raised:
        provider.get(case.get_id) if method == "get" else provider.create(copy.deepcopy(dict(case.spec)))
    assert not isinstance(raised.value, RateLimited)


def test_create_is_never_retried(case: Case, provider: Provider, respx_mock: respx.MockRouter) -> None:
    """A retried create could deploy (and bill) twice: a 503 on it reaches the caller at once."""
    failing = case.create[0]
    route = respx_mock.route(method=failing.method, url=url_for(case.base_url, failing.path)).mock(
        return_value=error_answer(case, 503)
    )
    with pytest.raises(Transient):
        provider.create(copy.deepcopy(dict(case.spec)))
    assert route.call_count == 1


def test_get_of_an_id_the_vendor_does_not_know_is_not_found(
    case: Case, provider: Provider, respx_mock: respx.MockRouter
) -> None:
    answer = case.not_found
    failing = case.get[0]
    respx_mock.route(method=failing.method, url=url_for(case.base_url, failing.path)).mock(
        return_value=response(answer, answer.status or 404)
    )
    with pytest.raises(NotFound):
        provider.get(case.get_id)


def test_get_of_an_unknown_id_is_not_found_in_each_documented_shape(case: Case, provider: Provider) -> None:
    """The case's own answer first, so the test asserts something for every vendor."""
    wrong = {}
    failing = case.get[0]
    for reading, answer in {"as in the case": case.not_found, **case.not_found_readings}.items():
        with respx.mock(assert_all_called=False) as mock:
            mock.route(method=failing.method, url=url_for(case.base_url, failing.path)).mock(
                return_value=response(answer, answer.status or 404)
            )
            try:
                provider.get(case.get_id)
            except NotFound:
                continue
            except Exception as exc:  # the contract's point: which type it was instead
                wrong[reading] = type(exc).__name__
            else:
                wrong[reading] = "no error"
    assert not wrong, f"not NotFound: {wrong}"


# --- find_by_name -----------------------------------------------------------------------------------------


def test_find_by_name_finds_the_live_one(case: Case, provider: Provider, respx_mock: respx.MockRouter) -> None:
    serve_case(respx_mock, case, case.find.routes)
    found = provider.find_by_name(case.find.name)
    assert isinstance(found, Remote)
    assert (found.external_id, found.name) == (case.find.external_id, case.find.name)
    assert found.state != RemoteState.DELETED


def test_find_by_name_ignores_deleted_ones(case: Case, provider: Provider, respx_mock: respx.MockRouter) -> None:
    serve_case(respx_mock, case, case.find.routes)
    assert provider.find_by_name(case.find.gone) is None


# --- the status table ----------------------------------------------------------------------------------------


def test_status_table_maps_each_status_to_a_remote_state(provider_class: type[Provider]) -> None:
    table = status_table(provider_class)
    assert table
    assert all(isinstance(key, str) and key for key in table)
    assert all(isinstance(state, RemoteState) for state in table.values())


def test_status_table_covers_every_documented_status(case: Case, provider_class: type[Provider]) -> None:
    missing = [s for s in case.statuses if s not in status_table(provider_class)]
    assert not missing, f"{case.slug} documents {missing} ({case.statuses_source}); the status table lacks them"


def test_get_maps_every_status_of_the_table(case: Case, provider_class: type[Provider], provider: Provider) -> None:
    wrong = {}
    for status, state in status_table(provider_class).items():
        with respx.mock(assert_all_called=False) as mock:
            serve_case(mock, case, case.status_routes(status))
            remote = provider.get(case.get_id)
        if remote.state != state or (case.unknown_state is RemoteState.UNKNOWN and remote.vendor_state != status):
            wrong[status] = (remote.state, remote.vendor_state, state)
    assert not wrong, f"status -> (state, vendor_state, table's state): {wrong}"


def test_get_of_an_unknown_status_does_not_raise(case: Case, provider: Provider, respx_mock: respx.MockRouter) -> None:
    serve_case(respx_mock, case, case.status_routes(UNKNOWN_STATUS))
    remote = provider.get(case.get_id)
    assert remote.state == case.unknown_state
    if case.unknown_state is RemoteState.UNKNOWN:  # the vendor's word is kept for people to read
        assert remote.vendor_state == UNKNOWN_STATUS
