"""The fast paths give exactly what the general ones give: the line reader of canonical YAML
what libyaml's events give, the canonical writer the bytes libyaml writes, the change walker of
``compare`` the paths deepdiff reports."""

from __future__ import annotations

import json
from typing import Any

import pytest
from deepdiff import DeepDiff
from hypothesis import example, given, settings
from hypothesis import strategies as st

from driftcheck.compare import _comparison_point, _diff_paths, _dotted
from driftcheck.yamlio import (
    _emit_canonical,
    _from_events,
    _from_lines,
    _libyaml_dump,
    _LineReader,
    _Unusual,
    dump_yaml,
)

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(
    text,
    st.sampled_from(["", " x", "x ", "'q'", '"d"', "a: b", "- x", "#c", "it's", "null", "1e3"]),
    st.sampled_from(["true", "~", "0o7", "0x1F", "2024-01-02", "1:30", "-", "?", "{}", "[]"]),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
keys = st.one_of(text, st.sampled_from(["a", "b", "1", "true", "x: y", "- k", "'k'"]))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, documents, min_size=1, max_size=4))
def test_line_reader_reads_what_libyaml_reads(data: dict[str, Any]) -> None:
    written = dump_yaml(data)
    expected = _from_events(written)
    try:
        fast = _LineReader(written).document()
    except _Unusual:
        fast = expected  # left to libyaml
    assert repr(fast) == repr(expected)
    assert repr(_from_lines(written)) == repr(expected)


def test_line_reader_takes_canonical_snapshots_itself() -> None:
    body = {"resources": {"service/r/api": {"env": [{"name": "A", "value": "1"}], "n": 3}}}
    assert _LineReader(dump_yaml(body)).document() == body


# Strings near the writer's plain fast path: safe characters, and what the resolver would read
# as something else (numbers, booleans, dates, sexagesimals), colons at the end.
plainish = st.text(alphabet="aZy9_./@:+=-0 #'", min_size=1, max_size=14)
written_scalars = st.one_of(
    scalars,
    plainish,
    st.sampled_from(["yes", "No", "ON", "1:20", "1_000", "0.5", ".inf", "-.5", "=", "<<"]),
    st.sampled_from([0.0, -0.0, 1.0, 1e300, float("inf"), -1, "a" * 130, "b " * 2100]),
    st.sampled_from(["line\nbreak", "tab\there", "\x85", "\u2028", "caf\u00e9", "\U0001f600"]),
)
written_documents = st.recursive(
    written_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(keys, plainish), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=600, deadline=None)
@given(written_documents)
def test_canonical_writer_writes_what_libyaml_writes(data: Any) -> None:
    expected = _libyaml_dump(data)
    try:
        written = _emit_canonical(data)
    except _Unusual:
        written = expected  # left to libyaml
    assert written == expected
    assert dump_yaml(data) == expected


def test_canonical_writer_writes_snapshots_itself() -> None:
    body = {
        "resources": {
            "service/r/api": {"env": [{"name": "A", "value": "1"}], "n": 3, "e": {}, "l": []},
            "service/r/b": {"nested": [[1, "x"], [{"a": None, "b": True}], []], "f": 0.5},
        }
    }
    assert _emit_canonical(body) == _libyaml_dump(body)


bodies = st.recursive(
    st.one_of(st.sampled_from([0, 1, 1.0, True, False, None, "a", "b", ""]), text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=4),
    ),
    max_leaves=20,
)


def _deepdiff_paths(before: dict[str, Any], after: dict[str, Any]) -> list[list[Any]]:
    diff = DeepDiff(before, after, threshold_to_diff_deeper=0, view="tree", verbose_level=2)
    paths: dict[str, list[Any]] = {}
    for report_type in diff:
        for node in diff[report_type]:
            point = _comparison_point(before, after, list(node.path(output_format="list")))
            paths.setdefault(_dotted(point), point)
    return [paths[key] for key in sorted(paths)]


@settings(max_examples=600, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), bodies, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), bodies, max_size=3),
)
# deepdiff compares a list of scalars only as Python does (1, 1.0 and True alike), any other
# list item by item, strictly
@example({"b": [0, 1, 1], "a": []}, {"b": [0, 1, 1.0]})
@example({"b": [[True], {"x": 1}], "a": 1}, {"b": [[1], {"x": 1.0}]})
@example({"a": 0, "b": [1, []]}, {"a": 1, "b": [True, []]})
@example({"a": 0, "b": [1, {}]}, {"a": 1, "b": [1.0, {}]})
def test_changed_paths_are_deepdiffs(before: dict[str, Any], after: dict[str, Any]) -> None:
    if before == after:
        return  # compare never walks equal bodies
    assert _diff_paths(before, after) == _deepdiff_paths(before, after)


def test_the_token_pattern_is_built_once_however_many_threads_ask_at_once(
    monkeypatch: Any,
) -> None:
    import threading
    import time

    from driftcheck import sensitive

    builds: list[int] = []
    real = sensitive._build_token_pattern

    def slow_build() -> Any:
        builds.append(1)
        time.sleep(0.05)  # long enough for every thread to ask while it is being built
        return real()

    monkeypatch.setattr(sensitive, "_PATTERN", [])
    monkeypatch.setattr(sensitive, "_build_token_pattern", slow_build)
    start = threading.Barrier(8)
    found: list[bool] = []

    def redact() -> None:
        start.wait()
        found.append(bool(sensitive._spans("token ghp_" + "a1B2" * 9)))

    threads = [threading.Thread(target=redact) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [1]
    assert found == [True] * 8


_HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters="\n"),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.sampled_from(["Content-Length", "content-type", "X-Goog-Meta"]), _HEADER_TEXT
            ),
            st.tuples(_HEADER_TEXT, _HEADER_TEXT),
        ),
        max_size=8,
    ),
    st.sampled_from([b"\r\n", b"\n"]),
    st.booleans(),
)
def test_answer_headers_are_parsed_as_http_client_parses_them(
    headers: list[tuple[str, str]], newline: bytes, folded: bool
) -> None:
    import http.client
    import io

    from driftcheck.lean_http import _header_lines, _parse_headers

    lines = [f"{name}: {value}".encode("latin-1") + newline for name, value in headers]
    if folded and lines:
        lines.insert(1, b"  continued" + newline)  # an obsolete folded line
    block = b"".join(lines) + newline + b"body"
    ours = _parse_headers(_header_lines(io.BytesIO(block)))
    theirs = http.client.parse_headers(io.BytesIO(block))
    assert ours.items() == theirs.items()
    for name in ("content-length", "Content-Type", "x-goog-meta"):
        assert ours.get(name) == theirs.get(name)
        assert ours.get_all(name) == theirs.get_all(name)


def _whole_api_messages() -> list[Any]:
    """Every type driftcheck turns into dicts, each with every field the API sends populated,
    plus empty ones (all defaults) and open enums holding numbers the client does not know."""
    import json

    from google.cloud import run_v2, secretmanager_v1
    from google.iam.v1 import policy_pb2
    from google.protobuf import json_format

    from tests import whole_api as api

    args = ("prod", api.PROD, api.PROD_NUMBER, "b1")

    def parsed(kind: Any, data: dict[str, Any]) -> Any:
        return kind.from_json(json.dumps(data), ignore_unknown_fields=True)

    messages = [
        parsed(run_v2.Service, api.service(*args)),
        parsed(run_v2.Revision, api.revision(*args, "00042")),
        parsed(run_v2.Job, api.job(*args)),
        parsed(run_v2.WorkerPool, api.worker_pool(*args)),
        json_format.ParseDict(api.iam("prod", api.PROD, api.PROD_NUMBER), policy_pb2.Policy()),
        run_v2.Service(),
        run_v2.Job(),
        secretmanager_v1.Secret(
            name="projects/p/secrets/s",
            labels={"team": "core"},
            version_aliases={"current": 3},
            annotations={"a": "b"},
            replication={"automatic": {}},
            ttl="3600s",
            etag="e",
        ),
        secretmanager_v1.SecretVersion(name="projects/p/secrets/s/versions/3", state=2),
    ]
    from google.cloud import redis_v1, sqladmin_v1, vpcaccess_v1

    from tests.test_dependencies import dependencies

    behind_the_vpc = dependencies(api.PROD)
    messages += [parsed(redis_v1.Instance, item) for item in behind_the_vpc["redis"][api.REGION]]
    messages += [parsed(sqladmin_v1.DatabaseInstance, item) for item in behind_the_vpc["sql"]]
    messages += [
        parsed(vpcaccess_v1.Connector, item) for item in behind_the_vpc["connectors"][api.REGION]
    ]
    unknown = parsed(run_v2.Service, api.service(*args))
    type(unknown).pb(unknown).ingress = 97  # a setting newer than the client
    messages.append(unknown)
    return messages


def test_message_dicts_are_what_to_dict_makes() -> None:
    from google.protobuf import json_format

    from driftcheck.protodict import message_dict

    for message in _whole_api_messages():
        kind = type(message)
        if hasattr(kind, "pb"):
            expected = kind.to_dict(
                message, preserving_proto_field_name=True, use_integers_for_enums=False
            )
        else:
            expected = json_format.MessageToDict(
                message,
                preserving_proto_field_name=True,
                always_print_fields_with_no_presence=True,
            )
        made = message_dict(message)
        assert made == expected
        assert json.dumps(made) == json.dumps(expected)  # the same order of keys too


def test_a_value_without_a_json_form_fails_as_to_dict_fails() -> None:
    from google.cloud import run_v2
    from google.protobuf import json_format

    from driftcheck.protodict import message_dict

    service = run_v2.Service()
    type(service).pb(service).create_time.seconds = 253402300800  # past the year 9999
    with pytest.raises(json_format.SerializeToJsonError, match="create_time"):
        type(service).to_dict(service)
    with pytest.raises(json_format.SerializeToJsonError, match="create_time"):
        message_dict(service)


def test_a_lone_carriage_return_in_a_header_is_a_line_break_as_for_http_client() -> None:
    import http.client
    import io

    from driftcheck.lean_http import _header_lines, _parse_headers

    for block in (
        b"Content-Length: 5\r\nX-Note: a\rTransfer-Encoding: chunked\r\n\r\n",
        b"X-Note: a\rConnection: close\r\nContent-Length: 2\r\n\r\n",
        b"X-Note: a\r\r\nContent-Length: 2\r\n\r\n",
    ):
        ours = _parse_headers(_header_lines(io.BytesIO(block)))
        theirs = http.client.parse_headers(io.BytesIO(block))
        assert ours.items() == theirs.items()
