"""The latest final release of a package on a package index (a private index, usually).

Standard library only, and no imports from `peach` or Pants: the plugin also copies this file
alone into a sandbox and runs it as a script:

    python index.py <index_url> <package>

with the index credentials, if any, in the environment variables PEACH_INDEX_USERNAME and
PEACH_INDEX_PASSWORD. It prints the version on stdout and exits 0; on a lookup error it prints
the message on stderr and exits 1 (2 for a usage error).

An index is either
  * an http(s) "simple" index base URL (PEP 503 HTML or PEP 691 JSON pages), e.g.
    `https://pypi.example.com/simple`, with or without a trailing slash; or
  * a `file://` URL or a plain local directory path holding wheels and sdists directly (a flat
    "find-links" directory).

Only final releases count (`1.2`, `1.2.3`, `1.2.3.post1`): no pre-releases, dev releases or local
versions, and no yanked files. Messages never contain the index credentials.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

__all__ = [
    "IndexLookupError",
    "latest_release",
    "latest_in_filenames",
    "redact_url",
    "normalize_name",
    "version_from_filename",
    "main",
]

USERNAME_ENV = "PEACH_INDEX_USERNAME"
PASSWORD_ENV = "PEACH_INDEX_PASSWORD"
TIMEOUT_ENV = "PEACH_INDEX_TIMEOUT"

ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
_JSON_CONTENT_TYPES = ("application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json")

_CREDENTIALS_HINT = (
    "set the index credentials in the environment (UV_INDEX_<NAME>_USERNAME and "
    "UV_INDEX_<NAME>_PASSWORD, where <NAME> is the index name in upper case with `-` as `_`)"
)

_NORMALIZE = re.compile(r"[-_.]+")
_FINAL_VERSION = re.compile(r"^\d+(\.\d+)*(\.post\d+)?$")
_SDIST_EXTENSIONS = (".tar.gz", ".tar.bz2", ".zip")
_MAX_LISTED_PRERELEASES = 5


class IndexLookupError(Exception):
    """The lookup failed; the message is for the user: what, where, why and how to fix it."""


# --- names, versions and filenames -------------------------------------------------------------


def normalize_name(name: str) -> str:
    """PEP 503 normalisation: `Pipe_Algorithms.Lib` -> `pipe-algorithms-lib`."""
    return _NORMALIZE.sub("-", name).lower()


def version_from_filename(filename: str) -> Optional[Tuple[str, str]]:
    """(normalised project name, version) of a wheel or sdist filename, or None for other files.

    Wheel: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
    Sdist: `{name}-{version}.tar.gz` (or `.zip`, `.tar.bz2`), split at the last `-`.
    """
    base = filename.rsplit("/", 1)[-1]
    lower = base.lower()
    if lower.endswith(".whl"):
        parts = base[: -len(".whl")].split("-")
        if len(parts) not in (5, 6) or not parts[0] or not parts[1]:
            return None
        return normalize_name(parts[0]), parts[1]
    for extension in _SDIST_EXTENSIONS:
        if lower.endswith(extension):
            project, dash, version = base[: -len(extension)].rpartition("-")
            if not dash or not project or not version:
                return None
            return normalize_name(project), version
    return None


def is_final_version(version: str) -> bool:
    """A final release (`1.2.3`, optionally `.postN`); not a pre/dev release or a local version."""
    return bool(_FINAL_VERSION.match(version))


def _version_key(version: str) -> Tuple[Tuple[int, ...], int]:
    """Sort key of a final version: release numbers without trailing zeros, then the post number.

    `1.0` == `1.0.0` < `1.0.post1` < `1.0.1`.
    """
    release, _, post = version.partition(".post")
    numbers = [int(part) for part in release.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers), int(post) if post else -1


class _Scan:
    """What the files of one package say: final versions, other versions seen, yanked count."""

    def __init__(self) -> None:
        self.finals: Set[str] = set()
        self.non_finals: Set[str] = set()
        self.yanked = 0
        self.matched = 0

    def latest(self) -> Optional[str]:
        if not self.finals:
            return None
        return max(self.finals, key=lambda v: (_version_key(v), v))


def _scan(filenames: Iterable[Tuple[str, bool]], package: str) -> _Scan:
    wanted = normalize_name(package)
    scan = _Scan()
    for filename, yanked in filenames:
        parsed = version_from_filename(filename)
        if parsed is None or parsed[0] != wanted:
            continue
        scan.matched += 1
        version = parsed[1]
        if yanked:
            scan.yanked += 1
        elif is_final_version(version):
            scan.finals.add(version)
        else:
            scan.non_finals.add(version)
    return scan


def latest_in_filenames(filenames: Iterable[Tuple[str, bool]], package: str) -> Optional[str]:
    """The latest final version of `package` among (filename, yanked) pairs, or None.

    Files of other projects (compared by PEP 503 normalised name), yanked files, pre-releases,
    dev releases and local versions are ignored. The version is returned as spelled in the file.
    """
    return _scan(filenames, package).latest()


# --- URLs and credentials ----------------------------------------------------------------------


def redact_url(url: str) -> str:
    """`url` without any `user:password@` part, for messages."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//", url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _split_credentials(url: str) -> Tuple[str, Optional[str], Optional[str]]:
    """(url without credentials, username or None, password or None)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return clean, urllib.parse.unquote(user), urllib.parse.unquote(password) if colon else None


def _scrub(message: str, secrets: Sequence[Optional[str]]) -> str:
    for secret in secrets:
        if secret:
            for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}:
                message = message.replace(form, "***")
    return message


# --- the lookup --------------------------------------------------------------------------------


def latest_release(
    index_url: str,
    package: str,
    *,
    username: Optional[str] = None,
    password: Optional[str] = None,
    timeout: float = 30.0,
) -> str:
    """The latest final release of `package` on the index at `index_url`.

    Credentials come from `username`/`password`, or else from a `user:password@` part of the URL.
    Raises IndexLookupError, with a message that never contains the password.
    """
    url_password = None
    try:
        parts = urllib.parse.urlsplit(index_url)
        if parts.scheme in ("http", "https"):
            clean_url, url_username, url_password = _split_credentials(index_url)
            if username is None and password is None:
                username, password = url_username, url_password
            return _latest_over_http(clean_url, package, username, password, timeout)
        if parts.scheme == "file":
            return _latest_in_directory(index_url, _file_url_path(index_url), package)
        if parts.scheme == "" or (len(parts.scheme) == 1 and os.name == "nt"):
            return _latest_in_directory(index_url, index_url, package)
        raise IndexLookupError(
            f"cannot look up the latest release of {package} on {redact_url(index_url)}: "
            f"unsupported index URL scheme {parts.scheme!r}; use an http(s) simple index URL, "
            "a file:// URL or a local directory path"
        )
    except IndexLookupError as error:
        scrubbed = _scrub(str(error), [password, url_password])
        if scrubbed != str(error):
            raise IndexLookupError(scrubbed) from None
        raise
    except ValueError as error:  # a URL urllib cannot parse, e.g. a bad port
        raise IndexLookupError(
            _scrub(
                f"cannot look up the latest release of {package}: the index URL "
                f"{redact_url(index_url)} is not valid: {error}",
                [password, url_password],
            )
        ) from None


def _file_url_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise IndexLookupError(
            f"the local index {redact_url(url)} names a remote host {parts.netloc!r}; use "
            "file:///absolute/path (three slashes) for a local directory"
        )
    return urllib.request.url2pathname(parts.path)


def _latest_in_directory(index_url: str, path: str, package: str) -> str:
    shown = redact_url(index_url)
    if not os.path.exists(path):
        raise IndexLookupError(
            f"the local index directory {shown} does not exist, so the latest release of "
            f"{package} cannot be looked up: build the wheels into it or fix the index URL"
        )
    if not os.path.isdir(path):
        raise IndexLookupError(
            f"the local index {shown} is not a directory, so the latest release of {package} "
            "cannot be looked up: point the index at the directory holding the wheels"
        )
    try:
        names = sorted(os.listdir(path))
    except OSError as error:
        raise IndexLookupError(
            f"cannot read the local index directory {shown} to look up the latest release of "
            f"{package}: {error.strerror or error}"
        ) from None
    return _latest_or_error(_scan(((name, False) for name in names), package), package, shown)


def _latest_or_error(scan: _Scan, package: str, shown_url: str) -> str:
    latest = scan.latest()
    if latest is not None:
        return latest
    details: List[str] = []
    if scan.non_finals:
        seen = sorted(scan.non_finals)
        listed = ", ".join(seen[:_MAX_LISTED_PRERELEASES])
        if len(seen) > _MAX_LISTED_PRERELEASES:
            listed += f" and {len(seen) - _MAX_LISTED_PRERELEASES} more"
        details.append(f"only pre-releases, dev releases or local versions: {listed}")
    if scan.yanked:
        details.append(f"{scan.yanked} yanked file{'s' if scan.yanked != 1 else ''} ignored")
    if not scan.matched:
        details.append("no wheel or sdist files of it")
    raise IndexLookupError(
        f"{package} has no final release on {shown_url} ({'; '.join(details)}): publish a final "
        "release there, or pin a version explicitly"
    )


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects, but sends the credentials only to the origin they were given for."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(new.full_url) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


def _origin(url: str) -> Tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile and not os.path.isfile(cafile):
        raise IndexLookupError(
            f"SSL_CERT_FILE names {cafile}, which is not a file: fix or unset SSL_CERT_FILE"
        )
    if capath and not os.path.isdir(capath):
        capath = None
    return ssl.create_default_context(cafile=cafile, capath=capath)


def _latest_over_http(
    index_url: str,
    package: str,
    username: Optional[str],
    password: Optional[str],
    timeout: float,
) -> str:
    shown = redact_url(index_url)
    page_url = f"{index_url.rstrip('/')}/{urllib.parse.quote(normalize_name(package))}/"
    request = urllib.request.Request(page_url, headers={"Accept": ACCEPT})
    sent_credentials = username is not None or password is not None
    if sent_credentials:
        token = base64.b64encode(f"{username or ''}:{password or ''}".encode("utf-8")).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    handlers: List[urllib.request.BaseHandler] = [_RedirectHandler()]
    if page_url.startswith("https:") or index_url.startswith("https:"):
        handlers.append(urllib.request.HTTPSHandler(context=_ssl_context()))
    opener = urllib.request.build_opener(*handlers)
    lookup = f"look up the latest release of {package}"
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read()
            content_type = response.headers.get_content_type()
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as error:
        raise IndexLookupError(
            _http_status_message(error.code, error.reason, shown, package, page_url, sent_credentials)
        ) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if _is_timeout(reason):
            raise IndexLookupError(_timeout_message(shown, package, timeout)) from None
        if isinstance(reason, ssl.SSLError):
            raise IndexLookupError(
                f"cannot {lookup} on the private index {shown}: TLS failed: {_reason(reason)}; if "
                "the index uses a private certificate authority, set SSL_CERT_FILE to its bundle"
            ) from None
        raise IndexLookupError(
            f"cannot reach the private index {shown} to {lookup}: {_reason(reason)}; check the "
            "index URL and that the index is up and reachable from this machine"
        ) from None
    except (socket.timeout, TimeoutError):
        raise IndexLookupError(_timeout_message(shown, package, timeout)) from None
    except ssl.SSLError as error:
        raise IndexLookupError(
            f"cannot {lookup} on the private index {shown}: TLS failed: {_reason(error)}"
        ) from None
    except ConnectionError as error:  # e.g. the index closed the connection without answering
        raise IndexLookupError(
            f"cannot reach the private index {shown} to {lookup}: {_reason(error)}; check the "
            "index URL and that the index is up and reachable from this machine"
        ) from None
    except http.client.HTTPException as error:
        raise IndexLookupError(
            f"the private index {shown} sent a malformed HTTP response when asked for {package}: "
            f"{type(error).__name__} {_reason(error)}"
        ) from None
    except OSError as error:
        raise IndexLookupError(
            f"cannot reach the private index {shown} to {lookup}: {_reason(error)}; check the "
            "index URL and that the index is up and reachable from this machine"
        ) from None

    try:
        text = body.decode(charset, errors="replace")
    except LookupError:  # an unknown charset
        text = body.decode("utf-8", errors="replace")
    if content_type in _JSON_CONTENT_TYPES:
        files = _files_from_json(text, shown, package)
    else:
        files = _files_from_html(text)
    return _latest_or_error(_scan(files, package), package, shown)


def _is_timeout(reason: object) -> bool:
    return isinstance(reason, (socket.timeout, TimeoutError)) or (
        isinstance(reason, str) and "timed out" in reason
    )


def _timeout_message(shown: str, package: str, timeout: float) -> str:
    return (
        f"the private index {shown} timed out after {timeout:g} s while looking up the latest "
        f"release of {package}: check that the index is up, or try again later"
    )


def _reason(error: object) -> str:
    if isinstance(error, OSError) and error.strerror:
        return str(error.strerror)
    text = str(error)
    return text if text else type(error).__name__


def _http_status_message(
    code: int, reason: object, shown: str, package: str, page_url: str, sent_credentials: bool
) -> str:
    shown_page = redact_url(page_url)
    if code == 401:
        why = "the given ones were rejected" if sent_credentials else "none were given"
        return (
            f"the private index {shown} answered HTTP 401 Unauthorized when looking up the latest "
            f"release of {package}: the credentials are missing or wrong ({why}): {_CREDENTIALS_HINT}"
        )
    if code == 403:
        return (
            f"the private index {shown} answered HTTP 403 Forbidden when looking up the latest "
            f"release of {package}: the credentials lack access to it"
            + (
                " or are wrong (some indexes answer 403 to a wrong password)"
                if sent_credentials
                else ", or it needs credentials and none were given"
            )
            + f": check them: {_CREDENTIALS_HINT}"
        )
    if code == 404:
        return (
            f"the private index {shown} has no package {package} (HTTP 404 Not Found at "
            f"{shown_page}): check the package name and the index URL"
        )
    reason_text = f" {reason}" if reason else ""
    return (
        f"the private index {shown} answered HTTP {code}{reason_text} when looking up the latest "
        f"release of {package} at {shown_page}: check that the index is healthy, or try again later"
    )


def _files_from_json(text: str, shown: str, package: str) -> List[Tuple[str, bool]]:
    def malformed(detail: str) -> IndexLookupError:
        return IndexLookupError(
            f"the private index {shown} sent a malformed PEP 691 JSON page for {package}: {detail}"
        )

    try:
        data = json.loads(text)
    except ValueError as error:
        raise malformed(f"it is not JSON ({error})") from None
    if not isinstance(data, dict) or "files" not in data:
        raise malformed("it has no `files` list")
    files = data["files"]
    if not isinstance(files, list):
        raise malformed("`files` is not a list")
    result: List[Tuple[str, bool]] = []
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            raise malformed("a `files` entry has no `filename` string")
        yanked = entry.get("yanked", False)
        result.append((entry["filename"], bool(yanked) if isinstance(yanked, (bool, str)) else False))
    return result


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: List[Tuple[str, bool]] = []
        self._anchor: Optional[Dict[str, Optional[str]]] = None
        self._text: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag == "a":
            self._finish()
            self._anchor = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._anchor is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._finish()

    def close(self) -> None:
        super().close()
        self._finish()

    def _finish(self) -> None:
        if self._anchor is None:
            return
        anchor, text = self._anchor, "".join(self._text).strip()
        self._anchor, self._text = None, []
        href = anchor.get("href") or ""
        path = urllib.parse.urlsplit(href).path if href else ""
        filename = urllib.parse.unquote(path.rsplit("/", 1)[-1]) if path else text
        if filename:
            self.links.append((filename, "data-yanked" in anchor))


def _files_from_html(text: str) -> List[Tuple[str, bool]]:
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    return parser.links


# --- the script --------------------------------------------------------------------------------


def main(argv: Sequence[str]) -> int:
    """`python index.py <index_url> <package>`: `argv` is the arguments after the program name."""
    args = list(argv)
    if len(args) != 2 or not args[0] or not args[1]:
        print(
            "usage: python index.py <index_url> <package>\n"
            f"credentials, if the index needs them: {USERNAME_ENV} and {PASSWORD_ENV}",
            file=sys.stderr,
        )
        return 2
    index_url, package = args
    username = os.environ.get(USERNAME_ENV) or None
    password = os.environ.get(PASSWORD_ENV) or None
    try:
        timeout = float(os.environ.get(TIMEOUT_ENV) or 30.0)
    except ValueError:
        timeout = 30.0
    try:
        version = latest_release(index_url, package, username=username, password=password, timeout=timeout)
    except IndexLookupError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(version)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
