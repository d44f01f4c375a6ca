"""Reading DATABASE_URL for messages: the password hidden, whatever shape the URL has.

SQLAlchemy's own parser hides the password only when it can parse the URL, and its answer for an
unencoded `@` in a password puts the password's tail into the host, where a DNS error quotes it.
So every operator message about the URL goes through `redact`, which never raises, and
`check_shape` refuses the shapes that would leak or crash before anything connects.
"""

from __future__ import annotations

import re

HIDDEN = "***"
_QUERY_SECRET = re.compile(r"((?:^|[?&;])(?:ssl)?password=)[^&;]*", re.IGNORECASE)


class UrlShapeError(ValueError):
    """DATABASE_URL cannot be read; the message names the problem and never the password."""


def _split(url: str) -> tuple[str, str, str, str]:
    """(scheme with its separator, user info, the rest of the authority and path, query)."""
    scheme, colon, rest = url.partition(":")
    if not colon or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return "", "", url, ""
    slashes = len(rest) - len(rest.lstrip("/"))
    head, body = scheme + ":" + rest[:slashes], rest[slashes:]
    body, mark, query = body.partition("?")
    if "@" not in body:
        return head, "", body, mark + query
    # The user info ends at the LAST `@` before the query: a password may hold `@` or `/`.
    userinfo, _, hostpath = body.rpartition("@")
    return head, userinfo, hostpath, mark + query


def redact(url: str) -> str:
    """`url` safe for a log line or an error: the password (and any query password) hidden."""
    head, userinfo, hostpath, query = _split(url.strip())
    query = _QUERY_SECRET.sub(lambda m: m.group(1) + HIDDEN, query)
    if not userinfo and not head:
        # No scheme at all: nothing tells a password from the rest, so show no text of it.
        return "<unreadable DATABASE_URL>"
    if not userinfo:
        return f"{head}{hostpath}{query}"
    user, colon, _password = userinfo.partition(":")
    shown_user = user if re.fullmatch(r"[\w.%+-]*", user) else HIDDEN
    return f"{head}{shown_user}{':' + HIDDEN if colon else ''}@{hostpath}{query}"


def password_of(url: str) -> str:
    """The password as an operator typed it (empty if none), to keep it out of messages."""
    _head, userinfo, _hostpath, _query = _split(url.strip())
    return userinfo.partition(":")[2]


def check_shape(url: str) -> None:
    """Refuse, in one line without the password, the server URLs that cannot be read safely."""
    head, userinfo, hostpath, _query = _split(url.strip())
    kind = head.split(":", 1)[0].split("+", 1)[0].lower()
    if kind == "sqlite":
        return
    shown = redact(url)
    if not head.endswith("://"):
        raise UrlShapeError(f"cannot parse {shown}: write it as postgresql://USER:PASSWORD@HOST/DB")
    if "@" in userinfo:
        raise UrlShapeError(
            f"cannot parse {shown}: the user or password holds an '@'; percent-encode it as %40"
        )
    host = hostpath.split("/", 1)[0]
    if host.startswith("["):
        closing = host.find("]")
        if closing < 0:
            raise UrlShapeError(f"cannot parse {shown}: an IPv6 host needs its closing ']'")
        port = host[closing + 1 :].removeprefix(":") if host[closing + 1 :] else ""
    else:
        port = host.partition(":")[2]
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise UrlShapeError(f"cannot parse {shown}: the port must be a number from 1 to 65535")


def scrub(message: str, password: str | None) -> str:
    """A driver's error message with the password, and every sizeable piece of it, removed."""
    if not password:
        return message
    for piece in sorted({password, *re.split(r"[@:/]", password)}, key=len, reverse=True):
        if len(piece) >= 3:
            message = message.replace(piece, HIDDEN)
    return message
