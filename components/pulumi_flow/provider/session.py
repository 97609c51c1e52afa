"""Credentials and Flow clients for the provider process.

The provider object is pickled into Pulumi state, so it holds no credentials: they are
read in the provider process from the stack config (`flow:apiKey`, secret) handed over by
`configure`, or from the environment the CLI passes on. Every error that leaves the
provider goes through `scrubbed`, which removes the key from its text.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

from pulumi_flow.provider.errors import FlowProviderError, MissingApiKeyError

if TYPE_CHECKING:
    from flow import Flow

__all__ = ["CONFIG_KEYS", "ENV_KEYS", "MAPPING_LOCK", "Credentials", "FlowProviderError", "MissingApiKeyError",
           "close_reading_sessions", "flow_session", "forget_cached_state", "open_flow", "raise_clean",
           "reading_session", "redact", "scrubbed"]

CONFIG_KEYS = {"api_key": "flow:apiKey", "api_url": "flow:apiUrl", "project": "flow:project",
               "region": "flow:region"}
ENV_KEYS = {"api_key": "MITHRIL_API_KEY", "api_url": "MITHRIL_API_URL", "project": "MITHRIL_PROJECT",
            "region": "MITHRIL_REGION"}
_KEY_PATTERN = re.compile(r"fkey_[A-Za-z0-9_-]+")


@attrs.frozen
class Credentials:
    api_key: str | None = attrs.field(repr=False, default=None)
    api_url: str | None = None
    project: str | None = None
    region: str | None = None

    @classmethod
    def resolve(cls, config: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Credentials:
        """Stack config first (explicit beats ambient), then the environment."""
        environ = os.environ if environ is None else environ
        config = config or {}
        values: dict[str, str | None] = {}
        for field, config_key in CONFIG_KEYS.items():
            value = config.get(config_key) or environ.get(ENV_KEYS[field]) or None
            values[field] = str(value) if value is not None else None
        return cls(**values)


def redact(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "[secret]")
    return _KEY_PATTERN.sub("fkey_[secret]", text)


def _raise_alone(error: FlowProviderError) -> NoReturn:
    """Raise `error` with no link to the exception it replaces. `from None` only hides that one from printed
    tracebacks; it stays reachable as `__context__`, and its text may hold the key (an API that echoes it)."""
    try:
        raise error from None
    except FlowProviderError as raised:
        raised.__context__ = None
        raise  # a bare re-raise leaves __context__ as it is


def raise_clean(exc: BaseException, secret: str | None, context: str) -> NoReturn:
    """Re-raise as FlowProviderError with the key scrubbed and the original chain cut,
    so neither a traceback printed by the engine nor anything holding the error can show it."""
    _raise_alone(FlowProviderError(redact(f"{context}: {type(exc).__name__}: {exc}", secret)))


@contextmanager
def scrubbed(secret: str | None, context: str) -> Iterator[None]:
    try:
        yield
    except FlowProviderError as exc:
        exc.scrub(lambda text: redact(text, secret))  # the same error, its kind and data kept, its text scrubbed
        _raise_alone(exc)
    except Exception as exc:  # noqa: BLE001 - every error leaves through here, scrubbed
        raise_clean(exc, secret, context)


def open_flow(credentials: Credentials) -> Flow:
    """A Flow client on Mithril with these credentials; raises before any network call without a key."""
    if not credentials.api_key:
        raise MissingApiKeyError
    from flow import Flow
    from flow.application.config.config import Config

    provider_config: dict[str, Any] = {}
    if credentials.api_url:
        provider_config["api_url"] = credentials.api_url
    if credentials.project:
        provider_config["project"] = credentials.project
    if credentials.region:
        provider_config["region"] = credentials.region
    return Flow(config=Config(provider="mithril", auth_token=credentials.api_key,
                              provider_config=provider_config))


_SESSIONS = threading.local()


@contextmanager
def flow_session(credentials: Credentials) -> Iterator[Flow]:
    """A Flow client for these credentials, kept per thread of the provider process.

    A client's first request initialises its provider context (~30 ms); reusing it across the
    engine's calls is what a long-running script does. It lives only in process memory (the
    providers pickle nothing), and after any error it is closed and rebuilt on next use.
    """
    entry: tuple[Credentials, Flow] | None = getattr(_SESSIONS, "entry", None)
    if entry is None or entry[0] != credentials:
        if entry is not None:
            entry[1].close()
        entry = (credentials, open_flow(credentials))
        _SESSIONS.entry = entry
    try:
        yield entry[1]
    except BaseException:
        _SESSIONS.entry = None
        entry[1].close()
        raise


_READER_LOCK = threading.Lock()
_READERS: dict[Credentials, Flow] = {}


@contextmanager
def reading_session(credentials: Credentials) -> Iterator[Flow]:
    """One Flow client for these credentials shared by every thread of the provider process, for reads that go
    only through the SDK's JSON seam (its shared connection pool) and its task mapping under `MAPPING_LOCK`: a
    refresh's reads then start one client, not one per engine thread (each costs ~0.3 s of start-up)."""
    with _READER_LOCK:
        flow = _READERS.get(credentials)
        if flow is None:
            flow = open_flow(credentials)
            provider: Any = flow.provider  # made here, once: the SDK makes it lazily, and not under a lock
            _ = provider.project_id
            _READERS[credentials] = flow
    try:
        yield flow
    except BaseException:
        with _READER_LOCK:
            if _READERS.get(credentials) is flow:
                del _READERS[credentials]  # rebuilt on next use; threads still using this one finish with it
        raise


def close_reading_sessions() -> None:
    """Close the shared reading clients (a test's emulator is gone; its address may be reused by the next one)."""
    with _READER_LOCK:
        readers = list(_READERS.values())
        _READERS.clear()
    for flow in readers:
        flow.close()


# The SDK's task mapping keeps caches that are not thread-safe (flow/utils/ttl_cache.py): one mapping at a time.
MAPPING_LOCK = threading.Lock()


def forget_cached_state(*, tasks: bool = True, volumes: bool = False, market: bool = False) -> None:
    """Drop the SDK's cached bids and instances (and volumes) so the next read asks Mithril.

    The SDK keeps an on-disk HTTP cache shared by every process with the same FLOW_DIR
    (bids and instances 5 s, volumes 90 s); a refresh answered from it could say
    "running" about a bid cancelled a second ago. Catalog entries stay: they are safe.
    Each call scans the cache directory, so callers name only what they are about to read.
    """
    from flow.adapters.http.client import HttpClient, HttpClientPool

    if tasks:
        HttpClientPool.invalidate_volatile_caches()
    if volumes:
        HttpClientPool.invalidate_volume_caches()
    if market:
        # The SDK refuses a bid client-side by its availability read (cached 90 s): a market that had no room a
        # minute ago must not be passed over now. The SDK has no public call for it; its client's own does this.
        HttpClient._invalidate_cache_by_url_pattern(["/v2/spot/availability", "/v2/pricing/current"])
