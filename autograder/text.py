"""Text that came from student code, made safe for every place it goes: rich, sqlite, HTML, JSON, logs.

Student code chooses its exception messages, its output and every string a probe reports. Such text may
hold lone surrogates (sqlite and UTF-8 encoders refuse them), control characters (terminal escapes,
NUL), rich markup, or megabytes. `safe_text` is applied once, where the text leaves the sandbox
(autograder.protocol), and again where stored text is read back (results written by older versions)."""
from __future__ import annotations

import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # everything but tab and newline
DEFAULT_LIMIT = 100_000


def safe_text(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """Return `value` as valid, printable UTF-8 text of at most `limit` characters (plus a note):
    lone surrogates become U+FFFD, control characters their escaped form (`\\x1b`)."""
    text = value if isinstance(value, str) else str(value)
    dropped = len(text) - limit
    if dropped > 0:
        text = text[:limit]
    text = _LONE_SURROGATE.sub("\ufffd", text)
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return text + (f"\n[... {dropped} more characters dropped]" if dropped > 0 else "")


def is_safe(text: str) -> bool:
    """Return True when `text` needs no change by safe_text (short enough aside)."""
    return not (_LONE_SURROGATE.search(text) or _CONTROL.search(text))
