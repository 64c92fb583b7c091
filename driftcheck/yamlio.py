"""Strict YAML reading and canonical YAML writing.

Every YAML file driftcheck reads (config, baselines, snapshots, scenarios) goes through
:func:`load_yaml`: a safe loader that refuses aliases and anchors (no alias bombs), duplicate keys
(a later key must not silently win), excessive nesting and oversized or non-UTF-8 files, and that
remembers the line of every key so that errors can say where they are.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import yaml

from driftcheck.errors import InputError, ReportError

MAX_FILE_BYTES = 20 * 1024 * 1024  # config, policies, scenarios: written by people
# Snapshots and baselines are written by driftcheck itself: the limit it reads is the limit it
# writes (see ``baseline.write_snapshot``), so a baseline it made is never refused by ``check``.
MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024
MAX_DEPTH = 64

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML document and the line (1-based) of every key path in it."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    text: str | None = field(default=None, repr=False)  # to index lines when an error needs it

    def where(self, key_path: KeyPath) -> str:
        """``file:line`` for the deepest known prefix of ``key_path``."""
        if not self.lines and self.text is not None:
            # Read on the fast path: the line index is built now, for this error only.
            object.__setattr__(self, "lines", parse_yaml(self.text, self.path).lines)
        for end in range(len(key_path), -1, -1):
            line = self.lines.get(tuple(key_path[:end]))
            if line is not None:
                return f"{self.path}:{line}"
        return str(self.path)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and anchors."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused("aliases are not allowed", event.start_mark)
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise _Refused("anchors are not allowed", event.start_mark)
        return super().compose_node(parent, index)


class _Refused(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.line = mark.line + 1 if mark is not None else None


def _key_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else "<complex key>"


def _index_lines(node: yaml.Node, prefix: KeyPath, lines: dict[KeyPath, int], depth: int) -> None:
    """Record the line of every key, and refuse duplicate keys and excessive depth."""
    if depth > MAX_DEPTH:
        raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused("mapping keys must be plain scalars", key_node.start_mark)
            key = _key_text(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _Refused(
                    f"duplicate key {key!r} (first defined on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = line
            lines[(*prefix, key)] = line
            _index_lines(value_node, (*prefix, key), lines, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*prefix, index)] = item.start_mark.line + 1
            _index_lines(item, (*prefix, index), lines, depth + 1)


def read_text(path: Path, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """A file's UTF-8 text, never more than ``limit`` bytes read; errors name the file."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"{path}: {what} is {size} bytes, larger than the {limit} byte limit")
        # A device or a pipe reports no size: never read more than the limit from anything.
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
        if len(raw) > limit:
            raise InputError(f"{path}: {what} is larger than the {limit} byte limit")
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: {what} is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: {what} is not valid UTF-8") from None


def load_yaml(path: Path, what: str = "file", limit: int = MAX_FILE_BYTES) -> YamlDocument:
    """Parse one YAML file strictly; raise :class:`InputError` naming file and line."""
    return parse_yaml(read_text(path, what, limit), path, what)


def parse_yaml(text: str, path: Path, what: str = "document") -> YamlDocument:
    """Parse YAML text strictly; ``path`` names its origin (a file, or a URL) in errors."""
    if not text.strip():
        raise InputError(f"{path}: {what} is empty")
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise InputError(f"{path}: {what} is empty")
        lines: dict[KeyPath, int] = {}
        _index_lines(node, (), lines, 0)
        data = loader.construct_document(node)
    except _Refused as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise InputError(f"{where}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise InputError(f"{path}:{line}: invalid YAML: control character in the text") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {type(exc).__name__}") from None
    except RecursionError:
        raise InputError(f"{path}: nesting too deep") from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(path=path, data=data, lines=lines)


_LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))


class _Unusual(Exception):
    """Something the event reader leaves to the strict path (an explicit tag, a complex key)."""


@lru_cache(maxsize=65536)
def _plain(value: str) -> Any:
    """A plain scalar's value, as PyYAML's safe loader resolves it (cached: values repeat)."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return value
    return _CONSTRUCTOR.construct_object(yaml.ScalarNode(tag, value), deep=True)


_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.SafeLoader("")


def _from_events(text: str) -> Any:
    """Build the document straight from libyaml's events: no node tree, no generic constructor.
    Refuses aliases, anchors, duplicate keys and nesting deeper than MAX_DEPTH."""
    from yaml._yaml import CParser

    parser = CParser(text)
    stack: list[Any] = []  # open collections; for a mapping, [dict, pending key or _NO_KEY]
    result: Any = None
    try:
        while True:
            event: Any = parser.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                if event.anchor is not None:
                    raise _Refused("anchors are not allowed", event.start_mark)
                if event.tag is not None and event.tag != "!":
                    raise _Unusual(event.tag)
                value = _plain(event.value) if event.implicit[0] else event.value
                _add(stack, value, event)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.anchor is not None:
                    raise _Refused("anchors are not allowed", event.start_mark)
                if len(stack) >= MAX_DEPTH:
                    raise _Refused(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
                stack.append([{}, _NO_KEY] if kind is yaml.MappingStartEvent else [[]])
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                done = stack.pop()[0]
                if stack:
                    _add(stack, done, event)
                else:
                    result = done
            elif kind is yaml.AliasEvent:
                raise _Refused("aliases are not allowed", event.start_mark)
            elif kind is yaml.StreamEndEvent:
                return result
    finally:
        with contextlib.suppress(AttributeError):
            parser.dispose()


_NO_KEY = object()

# What a canonical file never holds; any of it sends the text to libyaml (which reports it).
_NOT_CANONICAL = re.compile(
    r"[\t\r\x85\u2028\u2029\ufeff\ufffe\uffff"
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]"
)
# A plain scalar or key may not start with these (YAML indicators); driftcheck quotes them.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")


class _LineReader:
    """Reads the block YAML that :func:`dump_yaml` writes, a line at a time, with no event
    objects at all: about three times faster than libyaml's events through Python.

    Only the canonical shape is read: two-space indentation, sequences not indented under
    their key, one-line scalars (plain, or quoted without escapes), ``{}`` and ``[]``. Anything
    else (a comment, a flow collection, a folded or escaped scalar, a tag, an anchor, a
    duplicate key) raises :class:`_Unusual` and the text is read by libyaml instead, which
    reports what is wrong and where. Scalars resolve through :func:`_plain`, as there.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()

    def document(self) -> Any:
        if not self.lines or self.lines[0][:1] == " ":
            raise _Unusual("no block at column 0")
        value, end = self._block(0, 0, 0)
        if end != len(self.lines):
            raise _Unusual("text after the document")
        return value

    def _indent(self, index: int) -> int:
        line = self.lines[index]
        return len(line) - len(line.lstrip(" "))

    def _block(self, index: int, indent: int, depth: int) -> tuple[Any, int]:
        if depth >= MAX_DEPTH:
            raise _Unusual("deep nesting")
        content = self.lines[index][indent:]
        if content == "-" or content.startswith("- "):
            return self._sequence(index, indent, depth)
        return self._mapping(index, indent, depth)

    def _value_below(self, index: int, indent: int, depth: int) -> tuple[Any, int]:
        """The value of a key or item written on the lines after ``index`` (or null)."""
        below = index + 1
        if below < len(self.lines):
            inner = self._indent(below)
            if inner > indent:
                return self._block(below, inner, depth + 1)
            content = self.lines[below][indent:]
            if inner == indent and (content == "-" or content.startswith("- ")):
                return self._sequence(below, indent, depth + 1)
        return None, below

    def _mapping(self, index: int, indent: int, depth: int) -> tuple[dict[Any, Any], int]:
        lines = self.lines
        mapping: dict[Any, Any] = {}
        while index < len(lines):
            line = lines[index]
            at = len(line) - len(line.lstrip(" "))
            if at < indent:
                break
            if at > indent:
                raise _Unusual("unexpected indentation")
            key, rest = _split_key(line[at:])
            if key in mapping:
                raise _Unusual("duplicate key")
            if rest:
                mapping[key] = _scalar(rest)
                index += 1
            else:
                mapping[key], index = self._value_below(index, indent, depth)
        return mapping, index

    def _sequence(self, index: int, indent: int, depth: int) -> tuple[list[Any], int]:
        lines = self.lines
        items: list[Any] = []
        while index < len(lines):
            line = lines[index]
            at = len(line) - len(line.lstrip(" "))
            if at < indent:
                break
            content = line[at:]
            if at > indent or not (content == "-" or content.startswith("- ")):
                if at == indent:
                    break  # the next key of the mapping this sequence belongs to
                raise _Unusual("unexpected indentation")
            rest = content[2:]
            if not rest:
                item, index = self._value_below(index, indent, depth)
            elif rest.startswith("- ") or rest == "-" or _is_key(rest):
                # "- - x" or "- key: value": a block that starts on the item's own line.
                lines[index] = " " * (indent + 2) + rest
                item, index = self._block(index, indent + 2, depth + 1)
            else:
                item = _scalar(rest)
                index += 1
            items.append(item)
        return items, index


def _quoted(text: str) -> tuple[str, str] | None:
    """A one-line quoted scalar at the start of ``text`` and what follows it; None if the
    quote does not close on this line or holds an escape."""
    quote = text[0]
    if quote == "'":
        end = 1
        while True:
            end = text.find("'", end)
            if end < 0:
                return None
            if text[end + 1 : end + 2] != "'":
                return text[1:end].replace("''", "'"), text[end + 1 :]
            end += 2
    end = text.find('"', 1)
    if end < 0 or "\\" in text[1:end]:
        return None
    return text[1:end], text[end + 1 :]


def _is_key(text: str) -> bool:
    """Whether a sequence item's text starts a mapping (``key: value`` or ``key:``)."""
    if text[0] in "'\"":
        quoted = _quoted(text)
        return quoted is not None and (quoted[1] == ":" or quoted[1].startswith(": "))
    return text.endswith(":") or ": " in text


def _split_key(content: str) -> tuple[Any, str]:
    """``key: value`` -> (key, value text); ``key:`` -> (key, "")."""
    if content[:1] in "'\"" and content:
        quoted = _quoted(content)
        if quoted is None:
            raise _Unusual("a quoted key")
        key, after = quoted
    else:
        colon = content.find(": ")
        if colon < 0:
            if not content.endswith(":"):
                raise _Unusual("not a key")
            colon = len(content) - 1
        text = content[:colon]
        if not text or text[0] in _INDICATORS or " #" in text or text != text.rstrip(" "):
            raise _Unusual("a key that needs libyaml")
        key, after = _plain(text), content[colon:]
    if after == ":":
        return key, ""
    if not after.startswith(": ") or len(after) == 2:
        raise _Unusual("not a key")
    return key, after[2:]


def _scalar(text: str) -> Any:
    """A one-line scalar value as libyaml and the safe loader read it."""
    first = text[0]
    if first in "'\"":
        quoted = _quoted(text)
        if quoted is None or quoted[1]:
            raise _Unusual("a quoted scalar that needs libyaml")
        return quoted[0]
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if (
        first in _INDICATORS
        and not (first in "-?:" and len(text) > 1 and text[1] != " ")
        or ": " in text
        or text.endswith(":")
        or " #" in text
        or text != text.rstrip(" ")
    ):
        raise _Unusual("a scalar that needs libyaml")
    return _plain(text)


def _add(stack: list[Any], value: Any, event: Any) -> None:
    if not stack:
        raise _Unusual("a scalar document")
    top = stack[-1]
    if len(top) == 1:  # a sequence
        top[0].append(value)
    elif top[1] is _NO_KEY:
        if isinstance(value, dict | list):
            raise _Unusual("a complex key")
        if value in top[0]:
            raise _Refused(f"duplicate key {value!r}", event.start_mark)
        top[1] = value
    else:
        top[0][top[1]] = value
        top[1] = _NO_KEY


def _from_lines(text: str) -> Any:
    """The canonical fast path, else libyaml's events (see :class:`_LineReader`)."""
    if not _NOT_CANONICAL.search(text):
        with contextlib.suppress(_Unusual):
            return _LineReader(text).document()
    return _from_events(text)


def load_large_yaml(path: Path, what: str, limit: int, text: str | None = None) -> YamlDocument:
    """Like :func:`load_yaml`, for large machine-written files (snapshots, baselines): parsed by
    libyaml with the garbage collector paused, the line index built only if an error needs it.
    ``text``: the file's text when it was already read (:func:`read_text`)."""
    if text is None:
        text = read_text(path, what, limit)
    if not _LIBYAML:
        return parse_yaml(text, path, what)
    if not text.strip():
        raise InputError(f"{path}: {what} is empty")
    collecting = gc.isenabled()
    gc.disable()
    try:
        data = _from_lines(text)
    except (_Refused, _Unusual, yaml.YAMLError, RecursionError):
        return parse_yaml(text, path, what)  # the strict path says what and where
    finally:
        if collecting:
            gc.enable()
    if data is None:
        raise InputError(f"{path}: {what} is empty")
    return YamlDocument(path=path, data=data, text=text)


def dump_yaml(data: Any) -> str:
    """Canonical YAML: sorted keys, block style, no aliases, stable across runs. The canonical
    shape is written here directly (:func:`_emit_canonical`); anything else by libyaml when
    available; the same bytes either way."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        with contextlib.suppress(_Unusual, RecursionError):
            return _emit_canonical(data)
        return _libyaml_dump(data)
    finally:
        if collecting:
            gc.enable()


def _libyaml_dump(data: Any) -> str:
    """What :func:`dump_yaml` writes, through PyYAML's representer and libyaml's emitter."""
    return yaml.dump(
        data,
        Dumper=_NoAliasDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=_WIDTH,
    )


_WIDTH = 4096
_BASE_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper) if _LIBYAML else yaml.SafeDumper


class _NoAliasDumper(_BASE_DUMPER):
    def ignore_aliases(self, data: Any) -> bool:
        return True


# Strings libyaml always writes as they are (plain) once the resolver reads them back as
# strings: no indicator, no space, no quote, no colon at the end; short enough to be a simple key.
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./@:+=-]{0,98}")
_STR_TAG = "tag:yaml.org,2002:str"
# One line, ended by its only line break (YAML also breaks lines at NEL, LS and PS).
_ONE_LINE = re.compile("[^\n\r\x85\u2028\u2029]*\n")


def _plain_as_is(text: str) -> bool:
    """Whether libyaml writes ``text`` plain, unchanged (value or key)."""
    return (
        _PLAIN_SAFE.fullmatch(text) is not None
        and text[-1] != ":"
        and _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG
    )


def _value_text(value: Any, kind: type) -> str:
    """How the dumper writes one scalar as a block value; :class:`_Unusual` when that is not
    one short line."""
    if kind is str:
        return _string_text(value)
    if kind is float:
        return _written_value(repr(value), value)  # 0.0 and -0.0 are equal, not written alike
    return _written_value(kind, value)


@lru_cache(maxsize=65536)
def _written_value(_spelling: Any, value: Any) -> str:
    """libyaml's spelling of a scalar (``_spelling`` tells apart equal values of other types:
    1, 1.0 and True)."""
    written = _libyaml_dump({"k": value})
    if not written.startswith("k: ") or _ONE_LINE.fullmatch(written) is None:
        raise _Unusual("a scalar written on several lines")
    return written[3:-1]


# Strings repeat (field names, regions, images): each is looked at once per process, within
# bounds.
@lru_cache(maxsize=1 << 17)
def _string_text(value: str) -> str:
    """How the dumper writes a string value (see :func:`_value_text`)."""
    return value if _plain_as_is(value) else _written_value(str, value)


@lru_cache(maxsize=1 << 17)
def _written_key(key: str) -> str:
    """How the dumper writes a string key: a simple key on one line, else :class:`_Unusual`."""
    if _plain_as_is(key):
        return key
    written = _libyaml_dump({key: None})
    if not written.endswith(": null\n") or not _ONE_LINE.fullmatch(written) or written[:2] == "? ":
        raise _Unusual("a key written as a complex key")
    return written[: -len(": null\n")]


_SCALARS = frozenset({str, int, bool, float, type(None)})
# A scalar that ends past this column could be folded by the emitter (it breaks plain and quoted
# scalars at a space past the width): such a document is left to libyaml.
_FOLD_MARGIN = _WIDTH - 2


def _emit_canonical(data: Any) -> str:
    """The bytes libyaml writes for ``data`` (see :func:`_libyaml_dump`), built directly: JSON-
    shaped data (dicts with string keys, lists, strings, numbers, booleans, None) with every
    scalar on one line. Each distinct scalar's spelling is asked of libyaml once (cached), so
    quoting and escaping are libyaml's own; the layout (two-space block mappings, sequences not
    indented under their key, ``{}`` and ``[]`` when empty) is written here. Anything else
    raises :class:`_Unusual` and the whole document is written by libyaml."""
    out: list[str] = []
    if type(data) is dict and data:
        _emit_mapping(data, 0, out, "")
    elif type(data) is list and data:
        _emit_sequence(data, 0, out, "")
    else:
        out.append(_scalar_text(data, 0) + "\n")
    return "".join(out)


def _scalar_text(value: Any, column: int) -> str:
    kind = type(value)
    if kind is dict:
        if value:
            raise _Unusual("a mapping where a scalar was expected")
        return "{}"
    if kind is list:
        if value:
            raise _Unusual("a sequence where a scalar was expected")
        return "[]"
    if kind not in _SCALARS:
        raise _Unusual(f"a {kind.__name__} (left to the representer)")
    text = _value_text(value, kind)
    if column + len(text) > _FOLD_MARGIN:
        raise _Unusual("a scalar the emitter could fold")
    return text


def _emit_mapping(mapping: dict[Any, Any], indent: int, out: list[str], first: str) -> None:
    """A non-empty block mapping at ``indent``; its first line starts with ``first`` (the
    ``- `` of the sequence item it is in) instead of spaces."""
    pad = " " * indent
    lead = first or pad
    try:
        items = sorted(mapping.items(), key=_first)
    except TypeError:
        raise _Unusual("keys that do not sort") from None
    for key, value in items:
        if type(key) is not str:
            raise _Unusual("a key that is not a string")
        key_text = _written_key(key)
        kind = type(value)
        if kind is dict and value:
            out.append(f"{lead}{key_text}:\n")
            _emit_mapping(value, indent + 2, out, "")
        elif kind is list and value:
            out.append(f"{lead}{key_text}:\n")
            _emit_sequence(value, indent, out, "")
        else:
            out.append(f"{lead}{key_text}: {_scalar_text(value, indent + len(key_text) + 2)}\n")
        lead = pad


def _emit_sequence(items: list[Any], indent: int, out: list[str], first: str) -> None:
    """A non-empty block sequence whose dashes are at ``indent``."""
    pad = " " * indent
    lead = first or pad
    for item in items:
        kind = type(item)
        if kind is dict and item:
            _emit_mapping(item, indent + 2, out, lead + "- ")
        elif kind is list and item:
            _emit_sequence(item, indent + 2, out, lead + "- ")
        else:
            out.append(f"{lead}- {_scalar_text(item, indent + 2)}\n")
        lead = pad


def _first(item: tuple[Any, Any]) -> Any:
    return item[0]


@contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """Write ``path`` through a temporary file renamed into place, so no half file is seen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text``; a failure is one ReportError naming the path."""
    try:
        with atomic_writer(path) as handle:
            handle.write(text)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write: {exc.strerror or type(exc).__name__}") from None
