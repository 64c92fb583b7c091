"""SARIF 2.1.0 for GitHub code scanning (``--format sarif``).

One SARIF rule per catalogue rule and violation rule, with its why and what-to-do as help, its
severity as level and ``security-severity``; a finding at another severity than its rule's
default (an escalation, a ``rules.severity`` override) refers to a ``<rule>/<severity>`` variant,
so that GitHub shows the severity the report gives. Each result is located in the repository file
that defines the expectation, the baseline, at the line of that resource and path (GitHub refuses
results without a location); its fingerprint is the finding id, so an alert survives reruns.
Suppressed and ignored findings carry a SARIF suppression with their reason; what could not be
read is a tool notification, and ``automationDetails.id`` keeps each pair of environments apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

from driftcheck.hints import advice_for
from driftcheck.model import DriftReport, Finding, FindingKind, Severity
from driftcheck.render.text import abbreviate, neutralize, plain
from driftcheck.severity import Advice, catalogue, catalogue_rule, violation_advice, violations
from driftcheck.yamlio import KeyPath

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub: 9.0+ critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}
FINGERPRINT = "driftcheckFindingId/v1"


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.:])(?:\s|$)", text)
    return match.group(1) if match else text


def _descriptor(rule_id: str, advice: Advice, severity: Severity) -> dict[str, Any]:
    help_text = f"Why it matters: {advice.why}"
    help_markdown = f"**Why it matters.** {advice.why}"
    if advice.how:
        help_text += f"\n\nWhat to do: {advice.how}"
        help_markdown += f"\n\n**What to do.** {advice.how}"
    properties: dict[str, Any] = {"driftcheck-severity": severity.value, "tags": ["drift"]}
    if severity in SECURITY_SEVERITY:
        properties["security-severity"] = SECURITY_SEVERITY[severity]
        properties["tags"] = ["security", "drift"]
    return {
        "id": rule_id,
        "name": _pascal(rule_id),
        "shortDescription": {"text": _first_sentence(advice.why)},
        "fullDescription": {"text": advice.why},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": properties,
    }


def _catalogue() -> dict[str, tuple[Advice, Severity]]:
    """Every rule of the catalogue and of the violations, by name, with its default severity."""
    rules: dict[str, tuple[Advice, Severity]] = {}
    for rule in catalogue():
        if rule.advice is not None:
            rules.setdefault(rule.name, (rule.advice, rule.severity))
    for entry in violations():
        rules.setdefault(entry.name, (entry.advice, entry.severity))
    return rules


def _rule_of(finding: Finding, rules: dict[str, tuple[Advice, Severity]]) -> str:
    """The SARIF rule id of a finding: its rule, or the variant at the finding's severity."""
    if finding.kind is FindingKind.VIOLATION:
        entry = violation_advice(finding.rule)
        name = entry.name if entry is not None else (finding.rule or "violation")
    else:
        name = catalogue_rule(finding.resource, finding.path).name
    if name not in rules:
        advice = advice_for(finding.resource, finding.path, finding.kind, finding.rule)
        rules[name] = (advice, finding.severity)
    return name if rules[name][1] is finding.severity else f"{name}/{finding.severity.value}"


_KEY_LINE = re.compile(
    r"^(?P<indent> *)(?P<item>- )?"
    r"""(?P<key>'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^\s'"#-][^\n]*?|-[^\s][^\n]*?)"""
    r":(?: |$)"
)


def _unquote(key: str) -> str:
    if key.startswith(("'", '"')):
        value = yaml.safe_load(key)
        return value if isinstance(value, str) else key
    return key


def index_keys(text: str) -> dict[KeyPath, int]:
    """The line (1-based) of every mapping key in YAML written by driftcheck (block style, two
    spaces per level; see ``yamlio.dump_yaml``), in one pass over the text: a 50,000-service
    baseline is indexed in a second, where a full strict parse would take minutes. Keys inside
    list items are not indexed (no finding points into one)."""
    lines: dict[KeyPath, int] = {}
    stack: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        match = _KEY_LINE.match(line)
        if match is None:
            continue
        indent = len(match.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if match.group("item"):
            stack.append((indent, "\x00item"))  # what follows belongs to a list item
            continue
        if any(key == "\x00item" for _indent, key in stack):
            continue
        stack.append((indent, _unquote(match.group("key"))))
        lines[tuple(key for _indent, key in stack)] = number
    return lines


class _BaselineLines:
    """Lines of resources and paths in the baseline file the report names (when it is still
    the file the report was made from)."""

    def __init__(self, path: Path, sha256: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.children: dict[KeyPath, list[str]] = {}
        try:
            raw = path.read_bytes()
        except OSError:
            return
        if hashlib.sha256(raw).hexdigest() != sha256:
            return  # the baseline changed since: its lines would point at the wrong place
        try:
            self.lines = index_keys(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return
        for key_path in self.lines:
            self.children.setdefault(key_path[:-1], []).append(str(key_path[-1]))

    def line(self, resource: str, path: str) -> int:
        """The line of ``path`` inside ``resource``, or of its deepest part that is there."""
        key_path: KeyPath = ("resources", resource)
        if key_path not in self.lines:
            return self.lines.get(("resources",), 1)
        rest = path
        while rest:
            keys = [
                k for k in self.children.get(key_path, []) if rest == k or rest.startswith(k + ".")
            ]
            if not keys:
                break
            key = max(keys, key=len)
            key_path = (*key_path, key)
            rest = rest[len(key) + 1 :]
        return self.lines.get(key_path, 1)


def _artifact_uri(path: str) -> str:
    """The baseline's path relative to the working directory (the repository root in CI)."""
    candidate = Path(path)
    if not candidate.is_absolute():
        return candidate.as_posix()
    try:
        return candidate.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return candidate.as_uri()


def _message(finding: Finding) -> str:
    if finding.kind is FindingKind.VIOLATION:
        text = finding.message
    else:
        before = abbreviate(plain(finding.baseline), 120)
        after = abbreviate(plain(finding.actual), 120)
        text = f"{finding.resource} {finding.path or '(resource)'}: {before} -> {after}"
    if finding.hint and finding.hint.commands:
        text += f". To restore the baseline: {finding.hint.commands[0]}"
    return neutralize(text)


def _result(finding: Finding, rule_id: str, index: int, uri: str, line: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": LEVELS[finding.severity],
        "kind": "fail",
        "message": {"text": _message(finding)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": line},
                },
                "logicalLocations": [
                    {
                        "name": finding.path or finding.resource,
                        "fullyQualifiedName": f"{finding.resource}:{finding.path}",
                        "kind": "resource",
                    }
                ],
            }
        ],
        "partialFingerprints": {FINGERPRINT: finding.id},
        "properties": {
            "id": finding.id,
            "resource": finding.resource,
            "path": finding.path,
            "kind": finding.kind.value,
            "severity": finding.severity.value,
            "commands": finding.hint.commands if finding.hint else [],
        },
    }
    if not finding.active:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{'suppressed' if finding.suppressed else 'ignored'} in "
                f"driftcheck.yaml: {finding.reason or ''}",
            }
        ]
    return result


def render(report: DriftReport) -> str:
    """The SARIF log: one run, its rules, one result per finding."""
    rules = _catalogue()
    rule_ids = [_rule_of(finding, rules) for finding in report.findings]
    descriptors = [
        _descriptor(name, advice, severity) for name, (advice, severity) in rules.items()
    ]
    for rule_id in dict.fromkeys(rule_ids):
        if rule_id not in rules:
            name, _, severity = rule_id.rpartition("/")
            descriptors.append(_descriptor(rule_id, rules[name][0], Severity(severity)))
    index = {descriptor["id"]: i for i, descriptor in enumerate(descriptors)}
    lines = _BaselineLines(Path(report.baseline.path), report.baseline.sha256)
    uri = _artifact_uri(report.baseline.path)
    results = [
        _result(finding, rule_id, index[rule_id], uri, lines.line(finding.resource, finding.path))
        for finding, rule_id in zip(report.findings, rule_ids, strict=True)
    ]
    notifications = [
        {
            "level": "error",
            "message": {
                "text": f"not read or not compared: {error.resource}"
                f"{' ' + error.path if error.path else ''} ({error.source}): {error.message}"
            },
        }
        for error in report.errors
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "driftcheck",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "rules": descriptors,
            }
        },
        "automationDetails": {
            "id": f"driftcheck/{report.environment}-vs-{report.baseline.environment}/"
        },
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": notifications,
                "properties": {"status": report.status.value},
            }
        ],
        "results": results,
        "properties": {
            "environment": report.environment,
            "baseline": report.baseline.environment,
            "status": report.status.value,
        },
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
