"""HTTP for ingest: a polite client with a timeout, retries, a size cap, and http(s) only.

Every failure is a :class:`FetchError` whose message says what happened and what to do,
so one item's failure can be reported as one line while the rest of a feed is ingested.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from qa_bot.config import Settings

# Sites block anonymous clients; a named one is the polite norm. Operators who fetch a lot
# add their contact through QA_BOT_FETCH_USER_AGENT.
USER_AGENT = "qa-bot/0.1 (news question answering; article and feed ingest)"
MAX_BYTES = 20 * 1024 * 1024
DEFAULT_TIMEOUT = 15.0
DEFAULT_RETRIES = 2
# A server asking for a long pause is obeyed only this long: ingest should not hang.
MAX_RETRY_AFTER = 10.0
_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/html;q=0.9, */*;q=0.5"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class FetchError(Exception):
    """A URL that could not be fetched; the message says why and what to do."""


def is_url(text: str) -> bool:
    """True for anything with a scheme, so ``file://`` or ``ftp://`` is refused as a URL
    instead of being looked up as a local file name.

    Example:
        >>> is_url("https://kabar.example/rss"), is_url("file:///tmp/a.xml"), is_url("corpus/a.md")
        (True, True, False)
    """
    return bool(_SCHEME.match(text.strip()))


def check_url(url: str) -> str:
    """The URL stripped, or :class:`FetchError` if it is not http(s) with a host (the
    message leaves the URL out: callers name it).

    Example:
        >>> try:
        ...     check_url("file:///etc/hosts")
        ... except FetchError as exc:
        ...     print(exc)
        only http:// and https:// URLs can be fetched, not file:; give a local file as a path instead
    """
    url = url.strip()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchError(
            f"only http:// and https:// URLs can be fetched, not {parsed.scheme}:; "
            "give a local file as a path instead"
        )
    if not parsed.host:
        raise FetchError("the URL has no host name")
    return url


@dataclass(frozen=True)
class Fetched:
    """A successful response, read in full."""

    url: str  # after redirects
    status: int
    content_type: str  # media type in lower case, without parameters; "" when not sent
    charset: str | None
    content: bytes

    def text(self) -> str:
        """The body decoded with the declared charset (UTF-8 when none is declared)."""
        try:
            return self.content.decode(self.charset or "utf-8", errors="replace")
        except LookupError:  # a charset name Python does not know
            return self.content.decode("utf-8", errors="replace")


class _Transient(Exception):
    """A failure worth another try (connection, timeout, 429, 5xx)."""

    def __init__(self, reason: str, advice: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.advice, self.wait = reason, advice, wait


_ADVICE_4XX = {
    401: "the page needs a login: save it from a browser and ingest the file",
    403: "the site refuses automated access: save the page from a browser and ingest the file",
    404: "the page is gone or the link is wrong: check it in a browser",
    410: "the page was removed by the site",
}


class Fetcher:
    """GET with a timeout, retries with exponential backoff, redirects and a size cap.

    Retried: connection errors, timeouts, HTTP 429 and 5xx (``Retry-After`` is honoured up
    to ``max_retry_after`` seconds). Not retried: other 4xx, which another try will not fix.

    Example:
        >>> with Fetcher(timeout=5, retries=1) as fetcher:               # doctest: +SKIP
        ...     page = fetcher.get("https://www.antaranews.com/rss/terkini.xml")
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = 1.0,
        max_bytes: int = MAX_BYTES,
        max_retry_after: float = MAX_RETRY_AFTER,
        user_agent: str = USER_AGENT,
    ) -> None:
        if timeout <= 0 or retries < 0 or backoff < 0 or max_bytes < 1:
            raise ValueError("timeout and max_bytes must be positive, retries and backoff not negative")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_bytes = max_bytes
        self.max_retry_after = max_retry_after
        self.user_agent = user_agent
        self._client: httpx.Client | None = None  # made on first use: most ingests fetch nothing

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Fetcher:
        """A fetcher with the ``fetch_*`` settings (timeout, retries, user agent)."""
        overrides.setdefault("user_agent", settings.fetch_user_agent or USER_AGENT)
        return cls(timeout=settings.fetch_timeout, retries=settings.fetch_retries, **overrides)

    def get(self, url: str) -> Fetched:
        """The response to GET ``url``, following redirects.

        Raises:
            FetchError: a non-http(s) URL, an HTTP error, a timeout or connection failure
                after the retries, or a body larger than ``max_bytes``.
        """
        url = check_url(url)
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._get_once(url)
            except _Transient as exc:
                if attempt == attempts:
                    tries = f" (tried {attempts} times)" if attempts > 1 else ""
                    raise FetchError(f"{exc.reason}{tries}: {exc.advice}") from None
                time.sleep(exc.wait if exc.wait is not None else self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _get_once(self, url: str) -> Fetched:
        try:
            with self._http().stream("GET", url) as resp:
                code = resp.status_code
                if code == 429 or code >= 500:
                    raise _Transient(
                        f"HTTP {code} {resp.reason_phrase}",
                        "the server is busy or failing: try again later",
                        self._retry_after(resp.headers.get("retry-after")),
                    )
                if code >= 400:
                    advice = _ADVICE_4XX.get(code, "the server refused the request")
                    raise FetchError(f"HTTP {code} {resp.reason_phrase}: {advice}")
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(self._too_big())
                body = bytearray()
                for part in resp.iter_bytes():
                    body += part
                    if len(body) > self.max_bytes:
                        raise FetchError(self._too_big())
                media, _, params = resp.headers.get("content-type", "").partition(";")
                return Fetched(str(resp.url), code, media.strip().lower(), _charset(params), bytes(body))
        except httpx.TimeoutException as exc:
            raise _Transient(
                f"no answer within {self.timeout:g} s",
                "the server is slow or unreachable: try again later, or raise QA_BOT_FETCH_TIMEOUT",
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise FetchError(f"redirected to a non-http(s) address ({exc})") from exc
        except httpx.TooManyRedirects as exc:
            raise FetchError("too many redirects: open the link in a browser to see where it leads") from exc
        except httpx.TransportError as exc:
            raise _Transient(
                f"cannot connect ({exc or type(exc).__name__})", "check the address and the network"
            ) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(f"the download failed ({type(exc).__name__}: {exc})") from exc

    def _too_big(self) -> str:
        mb = self.max_bytes / (1024 * 1024)
        return f"larger than the {mb:g} MB download limit: this is not a news page or feed of usual size"

    def _retry_after(self, value: str | None) -> float | None:
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            seconds = float(value)
        else:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        return min(max(seconds, 0.0), self.max_retry_after)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                follow_redirects=True,
                timeout=httpx.Timeout(self.timeout),
                headers={"User-Agent": self.user_agent, "Accept": _ACCEPT},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _charset(params: str) -> str | None:
    m = re.search(r"charset\s*=\s*\"?([\w.:-]+)", params, re.IGNORECASE)
    return m.group(1) if m else None
