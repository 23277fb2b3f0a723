"""Rules a JSON Schema cannot express: unique names, reachable URLs, and secrets kept out of Git.

Errors:
  * a hook name used twice (the second is reported, with the line of the first);
  * an ``endpoint`` or ``authorization_endpoint`` that is not an http(s) URL with a DNS host name.
    The seed requires endpoints "publicly accessible via DNS", so IP literals (``10.0.0.5``,
    ``[::1]``) and single-label hosts (``receiver``) are rejected; the one exception is
    ``localhost``, which local receivers and tests use. Credentials inside a URL are rejected
    too: they belong in ``auth``, where they are treated as secrets;
  * a name, workspace or header written over several lines (a JSON Schema ``$`` accepts a final
    line break);
  * a ``signing_secret`` with the ``whsec_`` prefix whose rest is not base64.
Warnings:
  * a secret written literally instead of as a ``${env:}``/``${file:}`` reference;
  * a plain ``http://`` URL (except to localhost, which never leaves the machine).
Messages show a URL's scheme or host, never the whole URL: a path or query may carry a token.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from hookplan.config.report import Report, field_name
from hookplan.config.yaml_source import Path
from hookplan.model import AUTH_SECRET_FIELDS, find_path

_SPACE = re.compile(r"\s")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_PARAM_GROUPS = (("invocation_http_parameters",), ("auth", "oauth_http_parameters"))


def check(data: Any, report: Report) -> None:
    """Report semantic errors and warnings for a document that is (mostly) schema-valid."""
    if not isinstance(data, dict):
        return
    _one_line(report, ("workspace",), data.get("workspace"))
    hooks = data.get("hooks")
    if not isinstance(hooks, list):
        return
    first_seen: dict[str, int] = {}
    for i, hook in enumerate(hooks):
        if isinstance(hook, dict):
            _check_hook(report, ("hooks", i), hook, first_seen)


def _check_hook(report: Report, at: Path, hook: dict[str, Any], first_seen: dict[str, int]) -> None:
    name = hook.get("name")
    if isinstance(name, str):
        _unique_name(report, at, name, first_seen)
        _one_line(report, (*at, "name"), name)
    _url(report, (*at, "endpoint"), hook.get("endpoint"))
    auth = hook.get("auth")
    if isinstance(auth, dict):
        _url(report, (*at, "auth", "authorization_endpoint"), auth.get("authorization_endpoint"))
    _headers_one_line(report, at, hook)
    _signing_secret(report, (*at, "signing_secret"), hook.get("signing_secret"))
    _literal_secrets(report, at, hook)


def _unique_name(report: Report, at: Path, name: str, first_seen: dict[str, int]) -> None:
    if name not in first_seen:
        first_seen[name] = at[1]  # type: ignore[assignment]
        return
    line, _ = report.source.locate(("hooks", first_seen[name], "name"))
    report.error(
        (*at, "name"),
        f"duplicate hook name '{name}': it is already used by the hook at line {line}; names must be unique",
    )


def _one_line(report: Report, path: Path, value: Any) -> None:
    if isinstance(value, str) and ("\n" in value or "\r" in value) and path not in report.failed:
        report.error(path, f"{field_name(path)} must be one line (no line breaks)")


def _headers_one_line(report: Report, at: Path, hook: dict[str, Any]) -> None:
    for group in _PARAM_GROUPS:
        params = find_path(hook, (*group, "header"))
        for j, param in enumerate(params if isinstance(params, list) else []):
            if isinstance(param, dict):
                for part in ("key", "value"):
                    _one_line(report, (*at, *group, "header", j, part), param.get(part))


def _url(report: Report, path: Path, url: Any) -> None:
    if not isinstance(url, str) or path in report.failed:
        return
    problem, plain_http = url_problem(url)
    field = field_name(path)
    if problem:
        report.error(path, f"{field} {problem}")
    elif plain_http:
        report.warning(path, f"{field} uses plain http://: events and credentials travel unencrypted; use https://")


def url_problem(url: str) -> tuple[str | None, bool]:
    """(what is wrong with ``url`` or None, whether it is plain http to a host other than localhost)."""
    if not url or _SPACE.search(url):
        return "must be a URL without spaces", False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL (check the host and port)", False
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"must be an http(s) URL, not {f'{scheme}:' if scheme else 'a relative URL'}", False
    if "@" in parts.netloc:
        return "must not hold credentials (user:password@); put them in auth, where they are kept secret", False
    host = parts.hostname or ""
    problem = host_problem(host, bracketed=parts.netloc.split("@")[-1].startswith("["))
    return problem, problem is None and scheme == "http" and host != "localhost"


@lru_cache(maxsize=4096)
def host_problem(host: str, bracketed: bool = False) -> str | None:
    """What keeps ``host`` from being a DNS host name, or None when it is one (or localhost)."""
    if not host:
        return "has no host name"
    if bracketed or _is_ip(host):
        return f"must use a DNS host name, not the IP address {host}"
    if host == "localhost":
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return f"has an invalid host name '{host}'"
    labels = ascii_host.lower().removesuffix(".").split(".")
    if len(labels) < 2:
        return f"host '{host}' is not a fully qualified DNS name (use e.g. {host}.example.com, or localhost)"
    if len(ascii_host) > 253 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        return f"has an invalid DNS host name '{host}'"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _signing_secret(report: Report, path: Path, value: Any) -> None:
    if not isinstance(value, str) or not value.startswith("whsec_") or path in report.failed:
        return
    try:
        base64.b64decode(value[6:], validate=True)
    except (binascii.Error, ValueError):
        report.error(
            path, "signing_secret starts with 'whsec_', so the rest must be base64 key material, and it is not"
        )


def _literal_secrets(report: Report, at: Path, hook: dict[str, Any]) -> None:
    """Secrets written into the file itself: valid, but a Git repository should hold references."""
    for path in _secret_paths(at, hook):
        if path not in report.references and path not in report.failed:
            report.warning(
                path,
                f"{field_name(path)} is a secret written literally; "
                "use ${env:NAME} or ${file:PATH} so the repository does not hold it",
            )


def _secret_paths(at: Path, hook: dict[str, Any]) -> list[Path]:
    """Paths of non-empty secret strings in one hook as written (like model.secret_paths)."""
    found: list[Path] = []
    auth = hook.get("auth")
    if isinstance(auth, dict):
        found += [(*at, "auth", f) for f in AUTH_SECRET_FIELDS if _filled(auth.get(f))]
    if _filled(hook.get("signing_secret")):
        found.append((*at, "signing_secret"))
    for group in _PARAM_GROUPS:
        for kind in ("header", "query_string"):
            params = find_path(hook, (*group, kind))
            for j, param in enumerate(params if isinstance(params, list) else []):
                if isinstance(param, dict) and param.get("secret") is True and _filled(param.get("value")):
                    found.append((*at, *group, kind, j, "value"))
    return found


def _filled(value: Any) -> bool:
    return isinstance(value, str) and value != ""
