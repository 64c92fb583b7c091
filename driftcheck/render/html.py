"""Self-contained HTML report: inline CSS and JS under a hash-based Content-Security-Policy.

Per resource, each finding shows the baseline and the checked value side by side, with the parts
that differ marked inside strings, lists and maps (``<mark data-diff="added|removed|changed">``);
simple values are shown bare, redacted values as "redacted, differs / same" with the fingerprint
on demand, and long values break at word and path boundaries only. Under each finding: why it
matters, the command that undoes it and a suppression snippet, each with a copy button.

Every value is escaped (jinja2 autoescaping, and :func:`markupsafe.escape` where markup is built
here) after its control and bidi characters are neutralized; the CSP forbids any script or style
but ours and any request at all, so a hostile string in the data stays inert text.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from itertools import groupby
from typing import Any

from markupsafe import Markup, escape

from driftcheck.model import DriftReport, Evidence, Finding, FindingKind, Severity
from driftcheck.render.text import (
    is_redacted,
    item_key,
    neutralize,
    plain,
    violation_text,
)

SYMBOLS = {
    FindingKind.CHANGED: "~",
    FindingKind.ADDED: "+",
    FindingKind.REMOVED: "−",
    FindingKind.VIOLATION: "!",
}
SUPPRESSION_DAYS = 90
_BREAK_AFTER = re.compile(r"(?<=[/.:@,=&?_\-])(?=[^/.:@,=&?_\-])")
_TOKENS = re.compile(r"[A-Za-z0-9]+|\s+|[^A-Za-z0-9\s]")
_MARKER = re.compile(r"(<redacted:[^>]*>)")


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@cache
def _asset(name: str) -> str:
    return resources.files("driftcheck.render").joinpath("templates", name).read_text("utf-8")


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` of the template: markup built here passes, text is neutralized."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return neutralize(value)
    return value


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("driftcheck.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters["wrap"] = breakable
    return env


# Values -------------------------------------------------------------------------------------------
def text(value: str) -> Markup:
    """Escaped, neutralized text."""
    return escape(neutralize(value))


def breakable(value: Any) -> Markup:
    """Text that may break only after a path or word separator (``/ . : @ , = & ? _ -``)."""
    parts = _BREAK_AFTER.split(neutralize(str(value)))
    return Markup("<wbr>").join(escape(part) for part in parts)


def _mark(kind: str, inner: Markup, block: bool = False) -> Markup:
    """``inner`` marked as added, removed or changed (a list or map in a block-level mark)."""
    if block:
        return Markup('<div class="d d-{0} d-block" data-diff="{0}">{1}</div>').format(kind, inner)
    return Markup('<mark class="d d-{0}" data-diff="{0}">{1}</mark>').format(kind, inner)


def _string(value: str) -> Markup:
    """A string, with partial redaction markers shown as such."""
    pieces = []
    for part in _MARKER.split(value):
        if _MARKER.fullmatch(part):
            pieces.append(Markup('<span class="chip redacted">redacted</span>'))
        elif part:
            pieces.append(breakable(part))
    return Markup("").join(pieces)


def _scalar(value: Any) -> Markup:
    if isinstance(value, str):
        return Markup('<span class="v v-str">{}</span>').format(_string(value))
    return Markup('<span class="v v-{}">{}</span>').format(type(value).__name__, plain(value))


def _absent() -> Markup:
    return Markup('<span class="absent">absent</span>')


def _fingerprint(value: dict[str, Any], state: str | None) -> Markup:
    label = "redacted" + (f", {state}" if state else "")
    return Markup(
        '<details class="fp" data-fingerprint="{state}"><summary><span class="chip redacted">'
        "{label}</span></summary><code>{fingerprint}</code></details>"
    ).format(
        state=state or "",
        label=label,
        fingerprint=breakable(str(value.get("fingerprint", ""))),
    )


def render_value(value: Any, mark: str | None = None) -> Markup:
    """A whole value, optionally marked as added, removed or changed as a whole."""
    if value is None:
        inner = _absent()
    elif is_redacted(value):
        inner = _fingerprint(value, None)
    elif isinstance(value, list):
        items = Markup("").join(Markup("<li>{}</li>").format(render_value(v)) for v in value)
        inner = Markup('<ul class="v-list">{}</ul>').format(items) if value else _empty("[]")
    elif isinstance(value, dict):
        inner = _map((key, render_value(item), None) for key, item in sorted(value.items()))
    else:
        inner = _scalar(value)
    if not mark or value is None:
        return inner
    block = isinstance(value, list | dict) and not is_redacted(value) and bool(value)
    return _mark(mark, inner, block)


def _empty(shown: str) -> Markup:
    return Markup('<span class="v empty">{}</span>').format(shown)


def _map(entries: Any) -> Markup:
    rows = []
    for key, inner, mark in entries:
        key_markup = breakable(key)
        if mark:
            key_markup = _mark(mark, key_markup)
        rows.append(Markup("<div><dt>{}</dt><dd>{}</dd></div>").format(key_markup, inner))
    if not rows:
        return _empty("{}")
    return Markup('<dl class="v-map">{}</dl>').format(Markup("").join(rows))


def _string_pair(before: str, after: str) -> tuple[Markup, Markup]:
    """Two strings with the differing tokens marked (the whole value when little is shared)."""
    left, right = _TOKENS.findall(before), _TOKENS.findall(after)
    matcher = difflib.SequenceMatcher(None, left, right, autojunk=False)
    if matcher.ratio() < 0.4:
        return (
            _mark("changed", _scalar(before)),
            _mark("changed", _scalar(after)),
        )
    out_left: list[Markup] = []
    out_right: list[Markup] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        removed, added = _string("".join(left[i1:i2])), _string("".join(right[j1:j2]))
        if tag == "equal":
            out_left.append(removed)
            out_right.append(added)
            continue
        if i2 > i1:
            out_left.append(_mark("removed", removed))
        if j2 > j1:
            out_right.append(_mark("added", added))
    wrap = Markup('<span class="v v-str">{}</span>')
    return wrap.format(Markup("").join(out_left)), wrap.format(Markup("").join(out_right))


def _list_pair(before: list[Any], after: list[Any]) -> tuple[Markup, Markup]:
    """Two lists, items only on one side marked; order changes alone are said in words."""
    keys_left, keys_right = [item_key(v) for v in before], [item_key(v) for v in after]
    remaining = list(keys_right)
    left_items = []
    for value, key in zip(before, keys_left, strict=True):
        if key in remaining:
            remaining.remove(key)
            left_items.append(render_value(value))
        else:
            left_items.append(render_value(value, "removed"))
    remaining = list(keys_left)
    right_items = []
    for value, key in zip(after, keys_right, strict=True):
        if key in remaining:
            remaining.remove(key)
            right_items.append(render_value(value))
        else:
            right_items.append(render_value(value, "added"))

    def as_list(items: list[Markup], empty: bool) -> Markup:
        if empty:
            return _empty("[]")
        inner = Markup("").join(Markup("<li>{}</li>").format(item) for item in items)
        return Markup('<ul class="v-list">{}</ul>').format(inner)

    left, right = as_list(left_items, not before), as_list(right_items, not after)
    if sorted(keys_left) == sorted(keys_right):
        note = Markup('<span class="note">same items, another order</span>')
        return left + note, right + note
    return left, right


def _map_pair(before: dict[str, Any], after: dict[str, Any]) -> tuple[Markup, Markup]:
    """Two maps: keys on one side only marked, keys on both with their differences inside."""
    left: list[tuple[str, Markup, str | None]] = []
    right: list[tuple[str, Markup, str | None]] = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            left.append((key, render_value(before[key], "removed"), "removed"))
        elif key not in before:
            right.append((key, render_value(after[key], "added"), "added"))
        elif before[key] == after[key]:
            left.append((key, render_value(before[key]), None))
            right.append((key, render_value(after[key]), None))
        else:
            inner_left, inner_right = value_pair(before[key], after[key])
            left.append((key, inner_left, None))
            right.append((key, inner_right, None))
    return _map(left), _map(right)


def value_pair(before: Any, after: Any) -> tuple[Markup, Markup]:
    """Baseline and checked values side by side, what differs marked on each side."""
    if before is None and after is None:
        return _absent(), _absent()
    if before is None:
        return _absent(), render_value(after, "added")
    if after is None:
        return render_value(before, "removed"), _absent()
    if is_redacted(before) and is_redacted(after):
        state = "same" if before.get("fingerprint") == after.get("fingerprint") else "differs"
        return _fingerprint(before, state), _fingerprint(after, state)
    if isinstance(before, str) and isinstance(after, str):
        return _string_pair(before, after)
    if isinstance(before, list) and isinstance(after, list):
        return _list_pair(before, after)
    plain_maps = not (is_redacted(before) or is_redacted(after))
    if isinstance(before, dict) and isinstance(after, dict) and plain_maps:
        return _map_pair(before, after)
    return render_value(before, "changed"), render_value(after, "changed")


# Findings -----------------------------------------------------------------------------------------
@dataclass
class Observation:
    """One piece of evidence, ready to show."""

    symbol: str
    severity: str
    resource: str
    path: str
    text: Markup


@dataclass
class FindingView:
    """What the template shows of one finding."""

    finding: Finding
    symbol: str
    baseline: Markup
    actual: Markup
    message: str | None
    evidence: list[Observation] = field(default_factory=list)
    commands: Markup | None = None
    suppression: Markup | None = None


def lines(texts: list[str]) -> Markup:
    """Several lines of text for a ``<pre>``: each neutralized and escaped, joined by newlines."""
    return Markup("\n").join(text(line) for line in texts)


def command_lines(commands: list[str]) -> Markup:
    """Shell commands whose arguments wrap as units (never right after a flag's ``--``); the
    text, and so what the copy button copies, is the command itself."""
    rendered = []
    for command in commands:
        try:
            args = shlex.split(command)
        except ValueError:
            rendered.append(text(command))
            continue
        if shlex.join(args) != command:
            rendered.append(text(command))
            continue
        rendered.append(
            Markup(" ").join(
                Markup('<span class="arg">{}</span>').format(text(shlex.quote(arg))) for arg in args
            )
        )
    return Markup("\n").join(rendered)


def _evidence_text(part: Evidence) -> Markup:
    if part.kind is FindingKind.VIOLATION:
        return text(violation_text(part))
    left, right = value_pair(part.baseline, part.actual)
    return Markup('{} <span class="arrow">→</span> {}').format(left, right)


def suppression_snippet(finding: Finding, generated_at: str) -> str:
    """A ``rules.suppress`` entry for ``finding``, accepting the value it has now."""
    accepted = finding.actual
    if is_redacted(accepted):
        accepted = accepted.get("fingerprint")
    try:
        day = datetime.fromisoformat(generated_at.replace("Z", "+00:00")).date()
    except ValueError:
        day = date.today()
    expires = (day + timedelta(days=SUPPRESSION_DAYS)).isoformat()
    return "\n".join(
        [
            "# driftcheck.yaml, under rules.suppress:",
            f"- id: {json.dumps(finding.id)}",
            f"  accepted: {json.dumps(accepted, ensure_ascii=False, sort_keys=True)}",
            '  reason: "TODO: why this difference is accepted"',
            '  owner: "TODO: who answers for it"',
            f"  expires: {expires}",
        ]
    )


def _view(finding: Finding, report: DriftReport) -> FindingView:
    if finding.kind is FindingKind.VIOLATION:
        baseline, actual = _absent(), render_value(finding.actual)
        message: str | None = violation_text(finding)
    else:
        baseline, actual = value_pair(finding.baseline, finding.actual)
        message = None
        if not finding.path:
            message = (
                f"only in {report.environment}"
                if finding.kind is FindingKind.ADDED
                else f"in the baseline, missing in {report.environment}"
            )
        elif finding.evidence:
            message = finding.message
    evidence = [
        Observation(
            SYMBOLS[part.kind], part.severity.value, part.resource, part.path, _evidence_text(part)
        )
        for part in finding.evidence
        if (part.resource, part.path, part.kind) != (finding.resource, finding.path, finding.kind)
    ]
    return FindingView(
        finding=finding,
        symbol=SYMBOLS[finding.kind],
        baseline=baseline,
        actual=actual,
        message=message,
        evidence=evidence,
        commands=(
            command_lines(finding.hint.commands) if finding.hint and finding.hint.commands else None
        ),
        suppression=(
            lines(suppression_snippet(finding, report.generated_at).split("\n"))
            if finding.active
            else None
        ),
    )


def _grouped(views: list[FindingView]) -> list[tuple[str, list[FindingView]]]:
    """Findings by resource; the resources with the most severe findings first."""
    ordered = sorted(
        views, key=lambda v: (v.finding.resource, -v.finding.severity.rank, v.finding.path)
    )
    groups = [
        (res, list(group)) for res, group in groupby(ordered, key=lambda v: v.finding.resource)
    ]
    return sorted(groups, key=lambda group: (-group[1][0].finding.severity.rank, group[0]))


def _counts(views: list[FindingView]) -> list[tuple[str, int]]:
    return [
        (severity.value, n)
        for severity in Severity
        if (n := sum(1 for v in views if v.finding.severity is severity))
    ]


def _legend(report: DriftReport) -> list[tuple[str, str, str]]:
    """What the neutral placeholders in values stand for, on each side."""
    rows = []
    if report.project or report.baseline.project:
        rows.append(("${project}", report.baseline.project or "?", report.project or "?"))
    aliases = sorted(set(report.regions) | set(report.baseline.regions))
    if len(aliases) == 1:
        alias = aliases[0]
        rows.append(
            (
                "${region}",
                report.baseline.regions.get(alias, "?"),
                report.regions.get(alias, "?"),
            )
        )
    return rows


def prepare() -> None:
    """Load jinja2 and compile the page template ahead of use (see ``interface.prepare``)."""
    _asset("report.css")
    _asset("report.js")
    _environment().get_template("report.html.j2")


def render(report: DriftReport) -> str:
    """The whole HTML page."""
    style, script = _asset("report.css"), _asset("report.js")
    csp = (
        "default-src 'none'; "
        f"style-src {_csp_hash(style)}; script-src {_csp_hash(script)}; "
        "img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    views = [_view(f, report) for f in report.findings]
    active = [v for v in views if v.finding.active]
    set_aside = [v for v in views if not v.finding.active]
    return str(
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            csp=csp,
            style=style,
            script=script,
            groups=_grouped(active),
            set_aside=set_aside,
            counts=_counts,
            legend=_legend(report),
            severities=[s.value for s in Severity],
            resources=sorted({f.resource for f in report.findings}),
        )
    )
