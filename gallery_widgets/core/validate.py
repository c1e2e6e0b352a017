"""Argument checks shared by every service call.

Each returns the cleaned value or raises ``InvalidInput`` with a message that
says what is accepted, so a bad call never reaches the store.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlparse

from ..entities import KINDS, VISIBILITIES, Duration, Paper
from ..errors import InvalidInput

SORTS = ("subscriptions", "favorites", "views", "latest", "relevance")
TABS = ("all", "featured", "official", "favorites")
LICENSES = (
    "Unknown", "Apache-2.0", "MIT", "BSD-3-Clause", "BSD-2-Clause", "GPL-3.0", "LGPL-3.0",
    "MPL-2.0", "AGPL-3.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "Proprietary",
)
MAX_TITLE = 100
MAX_SUMMARY = 200
MAX_DESCRIPTION = 50_000
MAX_VERSION_DESCRIPTION = 5_000
MAX_COMMENT = 2_000
MAX_QUERY = 200
MAX_PAGE_SIZE = 100
MAX_IMAGE_BYTES = 1024 * 1024
MAX_DURATION_DAYS = 36_500

_VERSION = re.compile(r"^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$", re.ASCII)  # ASCII digits only (P3)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_CONTENT_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# C0 control characters other than tab, line feed and carriage return: never text, and NUL
# cannot even be stored by PostgreSQL. One-line fields also refuse every line break.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\n\r\x0b\x0c\x85\u2028\u2029]")


def characters(name: str, value: str) -> str:
    """Refuse what no gallery text may hold: NUL and other control characters, and lone
    surrogates (half of a UTF-16 pair, which cannot be encoded as UTF-8 for the database,
    files or the wire). Every text field of every call passes through here."""
    bad = _CONTROL.search(value)
    if bad:
        char = bad.group()
        what = "a NUL character (\\x00)" if char == "\x00" else f"the control character {char!r}"
        raise InvalidInput(
            f"{name} contains {what} at position {bad.start()}; remove it (it often comes from pasting "
            "binary data or terminal output)."
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"{name} contains an unpaired surrogate {value[exc.start]!r} at position {exc.start}, which is not "
            "valid Unicode text; it usually comes from decoding bytes with errors='surrogateescape'. Decode the "
            "text as UTF-8 first."
        ) from None
    return value


def plain_data(name: str, value, *, _depth: int = 0):
    """Check every string (keys too) inside a manifest-like value of dicts, lists and scalars."""
    if _depth > 20:
        raise InvalidInput(f"{name} is nested more than 20 levels deep.")
    if isinstance(value, str):
        characters(name, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            label = f"{name}.{key}" if isinstance(key, str) else name
            plain_data(label, key, _depth=_depth + 1)
            plain_data(label, item, _depth=_depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            plain_data(f"{name}[{index}]", item, _depth=_depth + 1)
    return value


def name_key(value: str) -> str:
    """What makes two names "the same" for uniqueness: compatibility-normalized (NFKC)
    and case-folded, so 'Ｃhurn', 'churn' and 'CHURN' (or 'ﬁt' and 'fit') clash."""
    if value.isascii():  # the common case, and the same answer: NFKC leaves ASCII alone
        return value.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}.")
    return value


def kind(value) -> str:
    return choice("kind", value, KINDS)


def optional_kind(value) -> str | None:
    return None if value is None else kind(value)


def visibility(value) -> str:
    return choice("visibility", value, VISIBILITIES)


def parse_version(value) -> tuple[int, int, int]:
    """SPEC P3: exactly three dot-separated non-negative integers."""
    if not isinstance(value, str) or not _VERSION.match(value.strip()):
        raise InvalidInput(
            f"Version {value!r} is not valid: use three dot-separated non-negative integers "
            "without leading zeros, like '1.0.0' or '2.10.3'."
        )
    major, minor, patch = (int(p) for p in value.strip().split("."))
    return major, minor, patch


def format_version(parts: tuple[int, int, int]) -> str:
    return ".".join(str(p) for p in parts)


def content_id(value) -> str:
    if not isinstance(value, str) or not _CONTENT_ID.fullmatch(value):
        raise InvalidInput(
            f"{value!r} is not a content id. Content ids are 6-64 letters, digits, '-' or '_' "
            "(as shown in search results and asset details)."
        )
    return value


def digest(value) -> str:
    """A sha256 hex digest (64 lower-case hex digits)."""
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise InvalidInput(f"{value!r} is not a sha256 digest (64 lower-case hex digits).")
    return value


def username(value, what: str = "username") -> str:
    if not isinstance(value, str) or not _USERNAME.fullmatch(value.strip()):
        raise InvalidInput(
            f"{what} {value!r} is not valid: use 1-64 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit."
        )
    return value.strip()


def usernames(values, what: str = "group_users") -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    try:
        items = list(values or ())
    except TypeError:
        raise InvalidInput(f"{what} must be a list of usernames, not {values!r}.") from None
    seen: list[str] = []
    for value in items:
        name = username(value, f"A user in {what}")
        if name not in seen:
            seen.append(name)
    return tuple(seen)


def text(name: str, value, *, max_len: int, required: bool = False, one_line: bool = False) -> str:
    """Checked text, stored in Unicode normal form C (canonically equal spellings, such as
    'é' as one code point or as 'e' plus an accent, become one, so search and uniqueness
    treat them alike; what the reader sees does not change)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text, not {type(value).__name__}.")
    if len(value) > 4 * max_len:  # refuse a huge value before normalizing it
        raise InvalidInput(f"{name} is {len(value):,} characters long; the limit is {max_len:,}.")
    if one_line and _LINE_BREAK.search(value.strip()):
        raise InvalidInput(f"{name} must be a single line; put details in the description.")
    characters(name, value)
    value = unicodedata.normalize("NFC", value)
    value = value.strip() if one_line or required else value
    if required and not value:
        raise InvalidInput(f"{name} must not be empty.")
    if len(value) > max_len:
        raise InvalidInput(f"{name} is {len(value):,} characters long; the limit is {max_len:,}.")
    return value


def title(value) -> str:
    return text("title", value, max_len=MAX_TITLE, required=True, one_line=True)


def page(page_value, page_size) -> tuple[int, int]:
    if not isinstance(page_value, int) or isinstance(page_value, bool) or page_value < 1:
        raise InvalidInput(f"page must be a whole number from 1, not {page_value!r}.")
    if page_value > 100_000:
        raise InvalidInput("page is too large; narrow the search with a keyword or categories.")
    if (
        not isinstance(page_size, int)
        or isinstance(page_size, bool)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise InvalidInput(f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}, not {page_size!r}.")
    return page_value, page_size


def duration(value) -> Duration | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInput("duration must be None (unlimited), a number of days, or gw.Duration(days, auto_renew).")
    if isinstance(value, int):
        value = Duration(value)
    if not isinstance(value, Duration):
        raise InvalidInput("duration must be None (unlimited), a number of days, or gw.Duration(days, auto_renew).")
    if not isinstance(value.days, int) or isinstance(value.days, bool) or not 1 <= value.days <= MAX_DURATION_DAYS:
        raise InvalidInput(f"duration days must be a whole number from 1 to {MAX_DURATION_DAYS}, not {value.days!r}.")
    return Duration(value.days, bool(value.auto_renew))


def paper(value) -> Paper | None:
    if value is None:
        return None
    if isinstance(value, (tuple, list)) and len(value) == 2:
        value = Paper(*value)
    if isinstance(value, dict):
        value = Paper(value.get("title", ""), value.get("url", ""))
    if not isinstance(value, Paper):
        raise InvalidInput("paper must be gw.Paper(title, url), a (title, url) pair, or None to remove it.")
    paper_title = text("paper title", value.title, max_len=300, required=True, one_line=True)
    url = text("paper url", value.url, max_len=2_000, required=True, one_line=True)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(f"paper url {url!r} must be an http:// or https:// address.")
    return Paper(paper_title, url)


def license_name(value) -> str:
    return choice("license", value, LICENSES)


def email(value) -> str:
    value = text("email", value, max_len=254, one_line=True)
    if value and not _EMAIL.fullmatch(value):
        raise InvalidInput(f"email {value!r} does not look like an address (name@example.org).")
    return value


def image(name: str, value) -> bytes:
    """PNG or JPEG bytes of at most 1 MiB. The gallery never reads a path it is given: the
    notebook side reads image files (a server must not open files named by its callers)."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"{name} must be PNG or JPEG bytes or a path to such a file.")
    data = bytes(value)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(f"{name} is {len(data):,} bytes; the limit is 1 MiB. Use a smaller image.")
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")):
        raise InvalidInput(f"{name} must be a PNG or JPEG image; this file is neither.")
    return data


def flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be True or False, not {value!r}.")
    return value
