"""``manage.py chaos``: exactly-once under faults and crashes, measured end to end (issue 11).

    manage.py chaos --deployments 40 --seed 7

What runs, all on this machine and none of it shared with anything else:

- a throwaway database of the configured kind (``_bench_fleet.throwaway_database``: the
  configured one is never opened);
- its own ``redis-server`` on a free port as broker, rate-limit store and cache, when one is
  installed (else the file broker in a temporary folder; the JSON says which), killed with
  SIGKILL once mid-run and started again on the same port, empty (no persistence: every
  queued message is lost, as after a crash);
- the five vendors' twins over a real socket (``bench_refresh._PooledServer``), with the
  sandbox's own faults switched on for every vendor (``SandboxFault``, the rows
  ``sandbox_faults`` writes): 20 % answered 503, 10 % held past the client's timeout, 5 %
  answered 429 with ``Retry-After``, 5 % carried out and answered 502 (the lost answer
  after a successful create), and every answer slowed;
- real Celery worker processes and beat (``celery worker``/``celery beat``), SIGKILLed at
  random moments and started again, some of the kills landing right after a twin answered
  a create (before the worker can record what it made);
- simulated users, one thread per vendor account, creating through the real views
  (Django's test ``Client``: the form, its confirmation with the price, the confirmed POST
  with the page's idempotency token), some POSTing the same confirmation twice at once,
  and stopping and deleting some of what they made, some at once while it is submitting.

It stops by itself: when the users are done and at least ``--kills`` kills have happened,
the faults are switched off and the panel is given ``--settle`` seconds to finish. Then
every twin's resources (each vendor's list, through the adapter) are compared with the
panel's records, and the last line printed is one JSON object:

- ``requested``: creates the users confirmed (distinct tokens);
- ``created_at_vendor``: resources the twins made for them (every create the twins carried
  out, whatever became of it);
- ``duplicates``: resources made beyond one per confirmed create (same name), and tokens
  that produced more than one row;
- ``lost``: resources alive at a vendor that no live row of the panel knows (they bill
  unseen), and confirmed creates with no row;
- ``stuck``: rows still in motion (queued, submitting, stopping...), with an action pending
  or an attempt claimed, after the settle time;
- ``wrong_state``: rows whose state is not what the vendor says (or not what the user
  asked for: a delete that left it alive, a stop that left it running);
- ``unexplained``: failed rows with no line on their timeline saying why;
- ``mean_attempts``: create requests the twins received per confirmed create (answered or
  not: the retries that faults, kills and lost answers cost);
- ``kills``, ``redis_restarts``, ``seconds``, ``redis_used``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote
from wsgiref.simple_server import make_server

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import CommandError, OutputWrapper
from django.db import close_old_connections, connection, connections
from django.db.models import Q
from django.db.models.signals import post_save
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from controlpanel.catalog.services import catalog_sync
from controlpanel.credentials.models import ProviderAccount
from controlpanel.credentials.services import provider_for
from controlpanel.deployments.management.commands._bench_fleet import throwaway_database
from controlpanel.deployments.management.commands.bench_refresh import _PooledServer, _QuietHandler, bench_account
from controlpanel.deployments.models import Deployment, DeploymentEvent, EventKind, IdempotencyKey
from controlpanel.deployments.states import IN_MOTION, State
from controlpanel.sandbox.models import SandboxFault, SandboxObject
from controlpanel.teams.models import Membership, Role
from controlpanel.vendors import demo_spec, vendor_module
from providers.base import Action, RemoteState
from providers.registry import SLUGS

ROOT = Path(settings.BASE_DIR)
NAME_PREFIX = "chaos-"
READY_TIMEOUT = 60.0  # a cold worker's start, generous on a loaded machine

# The faults, for every vendor (issue 11's rates). A hang lasts past the client's timeout.
FAULTS = {
    "error_rate": 0.20,
    "timeout_rate": 0.10,
    "rate_limit_rate": 0.05,
    "retry_after_seconds": 1,
    "lost_response_rate": 0.05,
    "latency_ms": 40,
}
HTTP_TIMEOUT = 1.5  # the workers' PANEL_HTTP_TIMEOUT; a hang is held a little longer
HANG_SECONDS = HTTP_TIMEOUT + 0.5

# The workers' settings: the panel's own timings, shortened so that what normally takes
# minutes (a killed worker's claim expiring, a lost message being noticed) fits in a run.
# Every one is an ordinary setting of the panel (controlpanel/settings.py).
WORKER_ENV = {
    "PANEL_SWEEP_SECONDS": "1",
    "PANEL_REFRESH_FAST_SECONDS": "1",
    "PANEL_REFRESH_SLOW_SECONDS": "2",
    "PANEL_REFRESH_LEASE_SECONDS": "20",
    "PANEL_STALE_WORK_SECONDS": "4",
    "PANEL_HTTP_TIMEOUT": str(HTTP_TIMEOUT),
    "PANEL_RETRY_BASE_SECONDS": "0.5",
    "PANEL_RETRY_MAX_SECONDS": "4",
    "CELERY_TASK_SOFT_TIME_LIMIT": "15",
    "CELERY_TASK_TIME_LIMIT": "20",
    "CELERY_VISIBILITY_TIMEOUT": "25",
    "PANEL_RATE_LIMITS": "*=6000/200",
    "PANEL_RATE_LIMIT_MAX_WAIT": "3",
    "PANEL_NOTIFY_SWEEP_SECONDS": "30",
    "PYTHONUNBUFFERED": "1",
}
SANDBOX_SETTINGS = {
    "SANDBOX_PROVISION_SECONDS": 1.0,
    # Nosana's jobs end after their timeout in "minutes": none ends during a run.
    "SANDBOX_NOSANA_SECONDS_PER_MINUTE": 3600.0,
    "SANDBOX_MAX_OBJECTS_PER_ACCOUNT": 100000,
}
# The share of confirmed creates posted twice at once (a double click), and the shares of
# the users' later actions.
DOUBLE_SUBMIT = 0.2
DELETE_AT_ONCE = 0.08  # deleted right after the create, while it is queued or submitting
STOP_LATER = 0.2
DELETE_LATER = 0.15
AFTER_CREATE_KILL = 0.25  # of the creates the twins carry out, how many are followed by a kill
SETTLED = frozenset(State) - IN_MOTION


def run_chaos(
    stdout: OutputWrapper,
    *,
    deployments: int,
    seed: int,
    workers: int,
    kills: int,
    settle: float,
    logs: Path | None = None,
) -> dict[str, Any]:
    started = time.monotonic()
    logging.disable(logging.ERROR)  # the twins' 503s and the panel's warnings under faults: by the hundred
    try:
        with throwaway_database(stdout, label="chaos"):
            summary = _Chaos(
                stdout, deployments=deployments, seed=seed, workers=workers, kills=kills, settle=settle
            ).run()
    finally:
        logging.disable(logging.NOTSET)
    summary["seconds"] = round(time.monotonic() - started, 1)
    stdout.write(json.dumps(summary))
    return summary


# --- the parts: Redis, the twins' server, the worker processes ------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Redis:
    """A private ``redis-server`` with no persistence, killed and started again on demand."""

    def __init__(self, folder: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.port = _free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise CommandError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = s.get("HOST") or "localhost"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


@dataclass
class _Process:
    """One worker or beat process of the panel's: started, SIGKILLed, started again."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> bool:
        """SIGKILL to its whole process group (pool threads die with it): True if it was running."""
        if not self.alive:
            return False
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        self.process.wait()
        return True

    def stop(self) -> None:
        if self.alive:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class _Twins:
    """The sandbox on a real socket. Every create a twin carries out is recorded (the
    ``SandboxObject`` of its vendor's ``CREATES`` kind), and may be followed at once by a
    kill of the workers: the moment between the vendor's answer and the panel's commit."""

    def __init__(self, on_create: Any) -> None:
        self.app = WSGIHandler()
        self.on_create = on_create
        self.local = threading.local()
        self.lock = threading.Lock()
        self.created: list[tuple[str, str, str]] = []  # (vendor, object id, name)
        self.create_attempts = 0  # create requests the twins received, answered or not
        self.creates = {slug: vendor_module(slug, "twin").CREATES for slug in SLUGS}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.local.created = False
        if environ.get("REQUEST_METHOD") == "POST":
            # A create attempt carries the deployment's name (and nothing else the panel sends
            # does): counted whatever the twin answers, faults included.
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            if NAME_PREFIX.encode() in body:
                with self.lock:
                    self.create_attempts += 1
        try:
            return self.app(environ, start_response)
        finally:
            if self.local.created:
                self.on_create()
            close_old_connections()

    def saved(self, sender: Any, instance: SandboxObject, created: bool, **kwargs: Any) -> None:
        if created and instance.name.startswith(NAME_PREFIX) and self.creates.get(instance.vendor) == instance.kind:
            with self.lock:
                self.created.append((instance.vendor, instance.object_id, instance.name))
            self.local.created = True


class _TwinServer(_PooledServer):
    workers = 24  # a held answer (the timeout fault) occupies a thread for its length


# --- what the users do ----------------------------------------------------------------------


class _FormFields(HTMLParser):
    """The fields a browser would post from the page's create form (the one carrying the
    idempotency token): inputs, checked boxes, selected options, text areas."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[list[tuple[str, str]]] = []
        self._form: list[tuple[str, str]] | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = []
            self.forms.append(self._form)
        if self._form is None or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form.append((name, a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a and not self._select_chosen:
                self._form.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag: str) -> None:
        if self._form is None:
            return
        if tag == "select" and self._select is not None:
            if not self._select_chosen and self._select_first is not None:
                self._form.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self._form.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "form":
            self._form = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)


def _form_data(html: str) -> dict[str, Any]:
    parser = _FormFields()
    parser.feed(html)
    for fields in parser.forms:
        if any(name == "idempotency_key" for name, _ in fields):
            data: dict[str, Any] = {}
            for name, value in fields:
                if name in data:
                    data[name] = [*data[name], value] if isinstance(data[name], list) else [data[name], value]
                else:
                    data[name] = value
            return data
    raise CommandError("the create page has no form carrying an idempotency token")


CONFIRMED_RE = re.compile(r'name="confirmed" value="([0-9a-f]{20})"')


@dataclass
class _Made:
    """One confirmed create, as the user saw it."""

    vendor: str
    name: str
    token: str
    pk: int | None = None
    asked: str = ""  # the action a user had accepted last: "stop", "delete" or ""


@dataclass
class _User:
    vendor: str
    client: Client
    source_pk: int
    account: ProviderAccount
    made: list[_Made] = field(default_factory=list)
    refused: int = 0


# --- the run --------------------------------------------------------------------------------


class _Chaos:
    def __init__(
        self,
        stdout: OutputWrapper,
        *,
        deployments: int,
        seed: int,
        workers: int,
        kills: int,
        settle: float,
        logs: Path | None = None,
    ) -> None:
        if deployments < len(SLUGS):
            raise CommandError(f"--deployments must be at least {len(SLUGS)} (one per vendor)")
        self.stdout = stdout
        self.count = deployments
        self.seed = seed
        self.random = random.Random(seed)
        self.workers_wanted = workers
        self.kills_wanted = kills
        self.settle_s = settle
        self.logs = logs
        self.folder = Path(tempfile.mkdtemp(prefix="chaos-"))
        self.redis = _Redis(self.folder) if shutil.which("redis-server") else None
        self.processes: list[_Process] = []
        self.kill_lock = threading.Lock()
        self.kills = 0
        self.after_create_kills = 0
        self.redis_restarts = 0
        self.users_done = threading.Event()
        self.stopping = threading.Event()
        self.twins = _Twins(self._maybe_kill_after_create)
        self.user_errors: list[str] = []
        self.confirmed = 0

    def say(self, message: str) -> None:
        self.stdout.write(message)

    def run(self) -> dict[str, Any]:
        # Every create a twin carries out is seen, whichever thread of the server made it.
        post_save.connect(self.twins.saved, sender=SandboxObject, dispatch_uid="chaos-created")
        server = make_server("127.0.0.1", 0, self.twins, server_class=_TwinServer, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sandbox_url = f"http://127.0.0.1:{server.server_port}/sandbox"
        try:
            with ExitStack() as stack:
                broker_env = self._broker(stack)
                stack.enter_context(
                    override_settings(
                        PANEL_SANDBOX_URL=sandbox_url,
                        ALLOWED_HOSTS=["*"],
                        PANEL_HTTP_TIMEOUT=HTTP_TIMEOUT * 4,
                        **SANDBOX_SETTINGS,
                    )
                )
                for slug in SLUGS:
                    for name, value in getattr(vendor_module(slug, "twin"), "BENCH_LIFTED", {}).items():
                        stack.enter_context(mock.patch.object(vendor_module(slug, "twin"), name, value))
                users = self._seed()
                for user in users:  # the forms' markets, plans and products, as a verified key brings them
                    catalog_sync(account_id=user.account.pk)
                self._start_processes(sandbox_url, broker_env)
                self.say(
                    f"{len(self.processes) - 1} workers and beat on "
                    f"{'redis-server at ' + self.redis.url if self.redis else 'the file broker (no redis-server)'}, "
                    f"twins at {sandbox_url} with faults {FAULTS}"
                )
                SandboxFault.objects.update_or_create(vendor="*", defaults={**FAULTS, "timeout_seconds": HANG_SECONDS})
                self._users_and_kills(users)
                SandboxFault.objects.all().delete()
                self.say(
                    f"users done; {self.kills} kills ({self.after_create_kills} right after a create), "
                    f"{self.redis_restarts} Redis restart; faults off, settling (at most {self.settle_s:.0f} s)"
                )
                summary = self._settle_and_compare(users)
                for process in self.processes:
                    process.stop()
        finally:
            self.stopping.set()
            for process in self.processes:
                process.stop()
            post_save.disconnect(dispatch_uid="chaos-created", sender=SandboxObject)
            server.shutdown()
            server.server_close()
            if self.redis:
                self.redis.stop()
            self._close_broker()
            if self.logs:
                self.logs.mkdir(parents=True, exist_ok=True)
                for log in self.folder.glob("*.log"):
                    shutil.copy(log, self.logs / log.name)
            shutil.rmtree(self.folder, ignore_errors=True)
        return summary

    # --- the broker -------------------------------------------------------------------------

    def _broker(self, stack: ExitStack) -> dict[str, str]:
        """Point this process (the views queue the submissions) and the workers at the run's
        own broker; the configured one is never used."""
        from controlpanel.celery import app
        from controlpanel.core import ratelimit

        var = self.folder / "var"
        var.mkdir()
        env = {"PANEL_VAR_DIR": str(var), "CELERY_QUEUE": f"chaos-{uuid.uuid4().hex[:6]}", "CELERY_KEY_PREFIX": ""}
        if self.redis:
            self.redis.start()
            env["REDIS_URL"] = self.redis.url
            options: dict[str, Any] = {"visibility_timeout": int(WORKER_ENV["CELERY_VISIBILITY_TIMEOUT"])}
            broker_url = self.redis.url
            caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": broker_url}}
        else:
            env["REDIS_URL"] = ""
            broker = var / "broker"
            for sub in ("queue", "processed", "control"):
                (broker / sub).mkdir(parents=True)
            options = {
                "data_folder_in": str(broker / "queue"),
                "data_folder_out": str(broker / "queue"),
                "processed_folder": str(broker / "processed"),
                "control_folder": str(broker / "control"),
                "store_processed": False,
            }
            broker_url = "filesystem://localhost/"
            caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        self._old_conf = {
            key: app.conf.get(key) for key in ("broker_url", "broker_transport_options", "task_default_queue")
        }
        app.conf.update(broker_url=broker_url, broker_transport_options=options, task_default_queue=env["CELERY_QUEUE"])
        self._reset_pool()
        stack.enter_context(
            override_settings(
                CACHES=caches,
                REDIS_URL=env["REDIS_URL"],
                PANEL_RATE_LIMITS={"*": (0.0, None)},
                PANEL_RATE_LIMIT_FILE=var / "ratelimit.sqlite3",
            )
        )
        ratelimit._redis_buckets.cache_clear()
        return env

    def _reset_pool(self) -> None:
        from controlpanel.celery import app

        if app._pool is not None:
            app._pool.force_close_all()
            app._pool = None
        app.__dict__.pop("amqp", None)

    def _close_broker(self) -> None:
        from controlpanel.celery import app

        if hasattr(self, "_old_conf"):
            app.conf.update(self._old_conf)
            self._reset_pool()

    # --- the fleet and its users --------------------------------------------------------------

    def _seed(self) -> list[_User]:
        users = []
        team = None
        for slug in SLUGS:
            account, _ = bench_account(slug, f"chaos {slug}")
            if team is None:
                team = account.team
            else:
                ProviderAccount.objects.filter(pk=account.pk).update(team=team, label=f"chaos {slug}")
                account.team.delete()
                account.refresh_from_db()
            # The page a user clones: the vendor's documented example, never sent anywhere.
            source = Deployment.objects.create(
                team=team,
                account=account,
                vendor=slug,
                name=f"example-{slug}",
                spec=account.provider_class.validate(demo_spec(slug)),
                state=State.DELETED,
            )
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.create_user(username=f"chaos-{slug}", password=uuid.uuid4().hex)
            Membership.objects.create(team=team, user=user, role=Role.OWNER)
            client = Client(raise_request_exception=True)
            client.force_login(user)
            users.append(_User(slug, client, source.pk, account))
        return users

    def _start_processes(self, sandbox_url: str, broker_env: dict[str, str]) -> None:
        env = {
            **os.environ,
            **WORKER_ENV,
            **broker_env,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "controlpanel.settings"),
            "DATABASE_URL": _database_url(),
            "PANEL_SANDBOX_URL": sandbox_url,
            # The same secrets as this process (the workers' var folder is a fresh one), so
            # they decrypt the keys this process stored.
            "SECRET_KEY": settings.SECRET_KEY,
            "FERNET_KEYS": ",".join(settings.FERNET_KEYS),
        }
        celery = [sys.executable, "-m", "celery", "-A", "controlpanel"]
        for index in range(self.workers_wanted):
            command = [
                *celery,
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--loglevel",
                "WARNING",
                "-n",
                f"chaos{index}-{uuid.uuid4().hex[:6]}@localhost",
                "--without-gossip",
                "--without-mingle",
            ]
            self.processes.append(_Process(f"worker {index}", command, env, self.folder / f"worker{index}.log"))
        beat = [*celery, "beat", "--loglevel", "WARNING", "-s", str(self.folder / "beat-schedule")]
        self.processes.append(_Process("beat", beat, env, self.folder / "beat.log"))
        for process in self.processes:
            process.start()
        from controlpanel.core.models import Heartbeat

        deadline = time.monotonic() + READY_TIMEOUT
        while Heartbeat.objects.filter(kind="worker").count() < self.workers_wanted:
            dead = [p for p in self.processes if not p.alive]
            if dead or time.monotonic() > deadline:
                log = (dead or self.processes)[0].log
                raise CommandError(f"the workers did not start; {log}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def _users_and_kills(self, users: list[_User]) -> None:
        per_user = [self.count // len(users) + (1 if i < self.count % len(users) else 0) for i in range(len(users))]
        threads = [
            threading.Thread(target=self._user, args=(user, n, random.Random(self.seed * 100 + i)), daemon=True)
            for i, (user, n) in enumerate(zip(users, per_user, strict=True))
        ]
        killer = threading.Thread(target=self._killer, daemon=True)
        for thread in threads:
            thread.start()
        killer.start()
        for thread in threads:
            thread.join()
        self.users_done.set()
        killer.join()
        if self.user_errors:
            raise CommandError("a user's request failed: " + "; ".join(self.user_errors[:3]))

    def _user(self, user: _User, count: int, rng: random.Random) -> None:
        try:
            for index in range(count):
                made = self._create(user, index, rng)
                if made.pk is not None and rng.random() < DELETE_AT_ONCE:
                    self._act(user, made, "delete", tries=1)
            # Later, some of what was made is stopped or deleted, while the faults go on.
            for made in user.made:
                if made.pk is None or made.asked:
                    continue
                roll = rng.random()
                stops = Action.STOP in user.account.provider_class.actions
                if roll < STOP_LATER and stops:
                    self._act(user, made, "stop", tries=20)
                elif roll < STOP_LATER + DELETE_LATER:
                    self._act(user, made, "delete", tries=20)
        except Exception as exc:  # noqa: BLE001  # reported by the main thread, which stops the run
            self.user_errors.append(f"{user.vendor}: {exc!r}")
        finally:
            connections.close_all()

    def _create(self, user: _User, index: int, rng: random.Random) -> _Made:
        url = reverse("deployments:create", args=[user.vendor])
        page = user.client.get(url, {"from": user.source_pk})
        if page.status_code != 200:
            raise CommandError(f"GET {url} answered {page.status_code}")
        data = _form_data(page.content.decode())
        name = f"{NAME_PREFIX}{index:04d}-{user.vendor[:4]}-{self.seed % 1000}"
        data["name"] = name
        confirm = user.client.post(url, data)
        html = confirm.content.decode()
        digest = CONFIRMED_RE.search(html)
        if confirm.status_code != 200 or digest is None:
            Path(self.folder.parent / f"chaos-form-{user.vendor}.html").write_text(html)
            raise CommandError(f"{user.vendor}: the form did not ask to confirm ({confirm.status_code}): {html[:400]}")
        data = {**_form_data(html), "confirmed": digest.group(1)}
        made = _Made(user.vendor, name, data["idempotency_key"])
        if rng.random() < DOUBLE_SUBMIT:
            # A double click: the same confirmation twice at once, on two connections.
            twin_client = Client()
            twin_client.cookies = user.client.cookies
            answers: list[Any] = []
            other = threading.Thread(
                target=lambda: (answers.append(twin_client.post(url, data)), connections.close_all())
            )
            other.start()
            answers.append(user.client.post(url, data))
            other.join()
        else:
            answers = [user.client.post(url, data)]
        for answer in answers:
            if answer.status_code != 302 or "/deployments/" not in answer["Location"]:
                Path(self.folder.parent / f"chaos-create-{user.vendor}.html").write_bytes(answer.content)
                raise CommandError(f"{user.vendor}: the confirmed create answered {answer.status_code}")
        pks = {int(re.search(r"/deployments/(\d+)/", a["Location"]).group(1)) for a in answers}  # type: ignore[union-attr]
        made.pk = min(pks)
        if len(pks) > 1:
            made.pk = None  # counted as a duplicate below, from the tokens
        user.made.append(made)
        with self.kill_lock:
            self.confirmed += 1
            if self.confirmed % max(1, self.count // 5) == 0:
                self.say(
                    f"{self.confirmed} of {self.count} creates confirmed, {len(self.twins.created)} made at the "
                    f"twins, {self.kills} kills so far"
                )
        return made

    def _act(self, user: _User, made: _Made, name: str, *, tries: int) -> None:
        url = reverse("deployments:action", args=[made.pk, name])
        for _ in range(tries):
            if self.stopping.is_set():
                return
            answer = user.client.post(url)
            if answer.status_code not in (200, 302):
                raise CommandError(f"{user.vendor}: {name} answered {answer.status_code}")
            row = Deployment.objects.get(pk=made.pk)
            if row.pending_action == name or row.state in _ACCEPTED[name]:
                made.asked = name
                return
            user.refused += 1
            time.sleep(0.5)

    # --- the kills --------------------------------------------------------------------------

    def _maybe_kill_after_create(self) -> None:
        """Right after a twin answered a create: kill every worker (one of them is waiting on
        this answer), now or a few milliseconds later, before it can record what it made."""
        if self.users_done.is_set() or self.random.random() >= AFTER_CREATE_KILL:
            return
        if self.after_create_kills >= max(2, self.kills_wanted // 2):
            return
        delay = self.random.uniform(0.0, 0.03)
        threading.Timer(delay, self._kill, args=([p for p in self.processes if p.name != "beat"], True)).start()

    def _kill(self, victims: list[_Process], after_create: bool = False) -> None:
        with self.kill_lock:
            if self.stopping.is_set():
                return
            killed = sum(victim.kill() for victim in victims)
            if not killed:
                return
            self.kills += killed
            if after_create:
                self.after_create_kills += killed
        # Started again a moment later, as a supervisor would.
        time.sleep(self.random.uniform(0.3, 1.5))
        with self.kill_lock:
            for victim in victims:
                if not victim.alive and not self.stopping.is_set():
                    victim.start()

    def _killer(self) -> None:
        """Kills at random moments until the users are done and at least ``--kills`` happened;
        Redis is killed (SIGKILL) and started again once, empty, once a few creates are in."""
        redis_at = max(3, self.count // 3)
        while not self.stopping.is_set():
            if (
                self.users_done.is_set()
                and self.kills >= self.kills_wanted
                and self.redis_restarts >= (1 if self.redis else 0)
            ):
                return
            time.sleep(self.random.uniform(0.5, 3.0))
            if (
                self.redis
                and not self.redis_restarts
                and (len(self.twins.created) >= redis_at or self.users_done.is_set())
            ):
                self.redis.kill()
                time.sleep(self.random.uniform(1.0, 3.0))
                self.redis.start()
                self.redis_restarts += 1  # the panel's connections find the new one by themselves
                continue
            victim = self.random.choice(self.processes)
            self._kill([victim])

    # --- the end: settle, compare -------------------------------------------------------------

    def _settle_and_compare(self, users: list[_User]) -> dict[str, Any]:
        deadline = time.monotonic() + self.settle_s
        while True:
            report = self._compare(users)
            done = not (report["stuck"] or report["wrong_state"] or report["lost"] or report["duplicates"])
            if done or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        for line in report.pop("details"):
            self.say(line)
        self.say(f"the panel's rows at the end: {report.pop('states')}")
        refused = sum(user.refused for user in users)
        self.say(f"actions refused while the row was busy (asked again): {refused}")
        return report

    def _compare(self, users: list[_User]) -> dict[str, Any]:
        close_old_connections()
        details: list[str] = []
        made = [m for user in users for m in user.made]
        rows = {d.pk: d for d in Deployment.objects.filter(name__startswith=NAME_PREFIX)}
        duplicates = 0
        lost = 0
        # Tokens: one row each.
        by_token = Counter(
            IdempotencyKey.objects.filter(deployment__name__startswith=NAME_PREFIX).values_list("key", flat=True)
        )
        rows_by_name = Counter(d.name for d in rows.values())
        for m in made:
            if rows_by_name[m.name] > 1 or by_token[m.token] > 1 or m.pk is None:
                duplicates += 1
                details.append(f"duplicate rows for {m.name} ({m.vendor})")
            if rows_by_name[m.name] == 0:
                lost += 1
                details.append(f"no row for the confirmed create {m.name} ({m.vendor})")
        # The twins: one resource made per confirmed create, at most.
        made_names = Counter((vendor, name) for vendor, _, name in self.twins.created)
        for (vendor, name), n in made_names.items():
            if n > 1:
                duplicates += n - 1
                details.append(f"{vendor} made {n} resources named {name}")
        # Every live resource at a vendor belongs to one live row; every row says what the vendor says.
        stuck = wrong = 0
        for user in users:
            with provider_for(user.account) as provider:
                remotes = {
                    r.external_id: r
                    for r in provider.list_remotes()
                    if r.name.startswith(NAME_PREFIX) and r.state != RemoteState.DELETED
                }
            mine = [d for d in rows.values() if d.vendor == user.vendor]
            known = {d.external_id for d in mine if d.external_id and d.state != State.DELETED}
            for external_id, remote in remotes.items():
                if external_id not in known:
                    lost += 1
                    details.append(
                        f"{user.vendor}: {remote.name} ({external_id}, {remote.state}) is alive, unknown to the panel"
                    )
            asked = {m.pk: m.asked for m in user.made}
            for row in mine:
                if row.state not in SETTLED or row.pending_action or _live_claim(row):
                    stuck += 1
                    details.append(
                        f"{user.vendor}: {row.name} stuck {row.state}"
                        + (f", {row.pending_action} pending" if row.pending_action else "")
                        + f" (attempt {row.attempt_id or '-'} claimed {row.attempt_claimed_at}, next attempt "
                        f"{row.next_attempt_at}, external id {row.external_id or '-'}); its timeline: " + _timeline(row)
                    )
                    continue
                remote = remotes.get(row.external_id) if row.external_id else None
                expected = _expected(row, remote, asked.get(row.pk, ""))
                if expected:
                    wrong += 1
                    details.append(f"{user.vendor}: {row.name} {expected}; its timeline: {_timeline(row)}")
        unexplained = 0
        for row in rows.values():
            if row.state == State.FAILED and not _explained(row):
                unexplained += 1
                details.append(f"{row.vendor}: {row.name} failed with nothing on its timeline saying why")
        # Create requests the panel sent per confirmed create (retries after faults, kills
        # and lost answers; a create the user deleted first may have sent none).
        mean_attempts = round(self.twins.create_attempts / len(made), 2) if made else 0.0
        return {
            "requested": len(made),
            "created_at_vendor": len(self.twins.created),
            "duplicates": duplicates,
            "lost": lost,
            "stuck": stuck,
            "wrong_state": wrong,
            "unexplained": unexplained,
            "mean_attempts": mean_attempts,
            "kills": self.kills,
            "redis_restarts": self.redis_restarts,
            "seconds": 0.0,
            "redis_used": self.redis is not None,
            "states": dict(Counter(d.state for d in rows.values())),
            "details": details,
        }


_ACCEPTED = {
    "stop": frozenset({State.STOPPING, State.STOPPED}),
    "delete": frozenset({State.DELETING, State.DELETED}),
}


def _expected(row: Deployment, remote: Any, asked: str) -> str:
    """What is wrong with a settled row, or "" (the vendor's word is ``remote``)."""
    if row.state == State.DELETED:
        return "" if remote is None else f"is deleted in the panel, {remote.state} at the vendor"
    if asked == "delete" and not _delete_refused(row):
        return f"was deleted by its user and is {row.state}"
    if remote is None:
        if row.state in (State.FAILED, State.LOST):
            return ""
        return f"is {row.state} in the panel and not at the vendor"
    if str(row.state) != remote.state.value:
        return f"is {row.state} in the panel, {remote.state} at the vendor"
    if asked == "stop" and row.state not in (State.STOPPED, State.FAILED):
        return f"was stopped by its user and is {row.state}"
    return ""


def _live_claim(row: Deployment) -> bool:
    """An attempt holds the row: a claim younger than the workers' hard time limit (an
    older one belongs to a killed worker, and the next attempt takes it over)."""
    limit = dt.timedelta(seconds=int(WORKER_ENV["CELERY_TASK_TIME_LIMIT"]))
    return (
        bool(row.attempt_id) and row.attempt_claimed_at is not None and row.attempt_claimed_at > timezone.now() - limit
    )


def _delete_refused(row: Deployment) -> bool:
    """The vendor refused the delete for now by its own rules (Replicate: 15 minutes after
    the stop), and the timeline says so: not done, but not wrong either."""
    return DeploymentEvent.objects.filter(
        deployment=row, kind=EventKind.STATE, to_state=State.FAILED, message__startswith="Not deleted: "
    ).exists()


def _timeline(row: Deployment) -> str:
    events = DeploymentEvent.objects.filter(deployment=row).order_by("created_at", "pk")
    return " | ".join(
        f"{e.created_at:%H:%M:%S.%f} {e.from_state + '->' + e.to_state if e.kind == EventKind.STATE else e.kind}"
        f" {e.message[:160]}"
        for e in events
    )


def _explained(row: Deployment) -> bool:
    """A failure some line of the timeline gives a reason for."""
    said = Q(kind=EventKind.STATE, to_state=State.FAILED) | Q(kind=EventKind.ERROR)
    return DeploymentEvent.objects.filter(said, deployment=row).exclude(message="").exists()
