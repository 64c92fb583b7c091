"""``driftcheck track REPORT…``: one GitHub tracker issue per environment pair.

The issue is found among the repository's open issues by a hidden HTML-comment marker naming
the pair (``<!-- driftcheck-tracker: staging-vs-production -->``):

- drift, no open issue: one is opened;
- drift, an open issue: its title and body are edited (never a second issue, never a comment
  storm);
- clean, an open issue: a comment says so and the issue is closed;
- incomplete: the verdict is unknown, so the issue is never opened nor closed; an open one gets
  a comment saying the run was incomplete.

It talks to the REST API at ``GITHUB_API_URL`` with ``GITHUB_TOKEN`` (the job's token with
``issues: write`` is enough) for ``GITHUB_REPOSITORY``. The token is sent only in the
Authorization header and never printed; messages quote GitHub's status and short error text.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftcheck.errors import ReportError, UsageError
from driftcheck.model import DriftReport, Severity
from driftcheck.render.markdown import STATUS_BADGES, artifacts_link, code, prose
from driftcheck.render.text import neutralize

API_URL_VAR = "GITHUB_API_URL"
TOKEN_VAR = "GITHUB_TOKEN"  # noqa: S105 - the variable's name, not a token
REPOSITORY_VAR = "GITHUB_REPOSITORY"
DEFAULT_API_URL = "https://api.github.com"
MARKER_PREFIX = "<!-- driftcheck-tracker: "
MAX_LISTED_PAGES = 20  # 2,000 open issues: far more than a repository keeps open
MAX_FINDINGS_LISTED = 50
MAX_BODY = 60_000  # GitHub refuses bodies over 65,536 characters
ATTEMPTS = 3
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class TrackerError(ReportError):
    """The tracker issue could not be read or written (exit 2)."""


@dataclass(frozen=True)
class Outcome:
    """What was done for one report: ``opened``, ``updated``, ``closed``, ``commented`` or
    ``nothing``, and the issue number when there is one."""

    pair: str
    action: str
    number: int | None = None

    def line(self) -> str:
        """One line for stderr."""
        where = f" #{self.number}" if self.number is not None else ""
        return f"driftcheck: tracker {self.pair}: {self.action}{where}"


def marker(pair: str) -> str:
    """The hidden marker that identifies the issue of ``pair`` (``staging-vs-production``)."""
    return f"{MARKER_PREFIX}{pair} -->"


def pair_of(report: DriftReport) -> str:
    """``<environment>-vs-<baseline environment>``, as report files are named."""
    return f"{report.environment}-vs-{report.baseline.environment}"


class GitHubIssues:
    """The few issue endpoints the tracker needs, over httpx."""

    def __init__(self, api_url: str, token: str, repository: str, timeout: float = 30.0) -> None:
        import httpx

        from driftcheck import __version__

        self._base = f"{api_url.rstrip('/')}/repos/{repository}/issues"
        self._client = httpx.Client(
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"driftcheck/{__version__}",
            },
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        import httpx

        for attempt in range(ATTEMPTS):
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if attempt + 1 < ATTEMPTS:
                    time.sleep(0.5 * 2**attempt)
                    continue
                raise TrackerError(f"GitHub API {method} issues: {type(exc).__name__}") from None
            if response.status_code in (502, 503, 504) and attempt + 1 < ATTEMPTS:
                time.sleep(0.5 * 2**attempt)
                continue
            if response.status_code >= 400:
                raise TrackerError(f"GitHub API {method} issues: {_describe(response)}")
            return response
        raise TrackerError(f"GitHub API {method} issues: no answer")  # pragma: no cover

    def find_open(self, pair: str) -> dict[str, Any] | None:
        """The open issue (not pull request) whose body carries the marker of ``pair``."""
        wanted = marker(pair)
        url: str | None = self._base
        params: dict[str, str] | None = {"state": "open", "per_page": "100"}
        for _ in range(MAX_LISTED_PAGES):
            if url is None:
                return None
            response = self._request("GET", url, params=params)
            issues = response.json()
            if not isinstance(issues, list):
                raise TrackerError("GitHub API GET issues: the answer is not a list")
            for issue in issues:
                if (
                    isinstance(issue, dict)
                    and "pull_request" not in issue
                    and wanted in str(issue.get("body") or "")
                ):
                    return issue
            url = _next_link(response.headers.get("Link", ""), self._base)
            params = None  # the next link carries the query
        raise TrackerError(f"GitHub API GET issues: more than {MAX_LISTED_PAGES} pages")

    def create(self, title: str, body: str, labels: Sequence[str]) -> int:
        """Open an issue; its number."""
        payload: dict[str, Any] = {"title": title, "body": body}
        if labels:
            payload["labels"] = list(labels)
        return _number(self._request("POST", self._base, json=payload).json())

    def update(self, number: int, **fields: Any) -> None:
        """Edit an issue (title, body, state…)."""
        self._request("PATCH", f"{self._base}/{number}", json=fields)

    def comment(self, number: int, body: str) -> None:
        """Add a comment to an issue."""
        self._request("POST", f"{self._base}/{number}/comments", json={"body": body})


def _next_link(header: str, base: str) -> str | None:
    """The ``rel="next"`` URL of a Link header, only when it stays on the same API."""
    for part in header.split(","):
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="next"', part)
        if match:
            url = match.group(1)
            return url if url.startswith(base) else None
    return None


def _number(issue: Any) -> int:
    number = issue.get("number") if isinstance(issue, dict) else None
    if not isinstance(number, int):
        raise TrackerError("GitHub API: the issue answer has no number")
    return number


def _describe(response: Any) -> str:
    """Status and GitHub's short message, scrubbed and clipped; never headers or the request."""
    from driftcheck.sensitive import scrub

    message = ""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            message = body["message"]
    except ValueError:
        pass
    text = neutralize(scrub(" ".join(message.split())))[:200]
    return f"{response.status_code} {text}".strip()


def issue_title(report: DriftReport) -> str:
    """``Drift: staging vs production (2 critical, 1 high)``."""
    s = report.summary
    counts = ", ".join(
        f"{getattr(s, severity.value)} {severity.value}"
        for severity in Severity
        if getattr(s, severity.value)
    )
    title = f"Drift: {report.environment} vs {report.baseline.environment}"
    return neutralize(f"{title} ({counts})" if counts else title)


def issue_body(report: DriftReport, environ: Mapping[str, str]) -> str:
    """The tracker's body: the marker, the verdict, the active findings, the run's link."""
    pair = pair_of(report)
    active = [f for f in report.findings if not (f.suppressed or f.ignored)]
    lines = [
        marker(pair),
        f"## {STATUS_BADGES[report.status.value]} {prose(report.environment)} vs "
        f"{prose(report.baseline.environment)}: {report.status.value}",
        "",
        f"Last checked: {code(report.generated_at)}. This issue is kept up to date by the "
        "nightly drift check and closed by it when the environments match again.",
        "",
    ]
    link = artifacts_link(environ)
    if link:
        lines += [f"Reports of the latest run: [artifacts]({link})", ""]
    lines += ["| severity | resource | path | what |", "| --- | --- | --- | --- |"]
    for finding in active[:MAX_FINDINGS_LISTED]:
        lines.append(
            f"| {finding.severity.value} | {code(finding.resource)} | "
            f"{code(finding.path or '(resource)')} | {prose(finding.message)} |"
        )
    if len(active) > MAX_FINDINGS_LISTED:
        lines.append(f"\n… and {len(active) - MAX_FINDINGS_LISTED} more in the reports.")
    body = "\n".join(lines) + "\n"
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY].rsplit("\n", 1)[0] + "\n\n… (cut; see the reports)\n"
    return body


def _run_reference(environ: Mapping[str, str]) -> str:
    link = artifacts_link(environ)
    return f" ([run]({link}))" if link else ""


def track_report(
    issues: GitHubIssues,
    report: DriftReport,
    environ: Mapping[str, str],
    labels: Sequence[str] = (),
) -> Outcome:
    """Open, update, close or comment on the tracker issue of one report."""
    pair = pair_of(report)
    existing = issues.find_open(pair)
    number = _number(existing) if existing is not None else None
    status = report.status.value
    if status == "incomplete":
        if number is None:
            return Outcome(pair, "nothing (incomplete run, no open issue)")
        issues.comment(
            number,
            f"The check of {code(report.generated_at)} was **incomplete** "
            f"({len(report.errors)} things could not be read){_run_reference(environ)}: the "
            "drift state is unknown, so this issue is left as it is.",
        )
        return Outcome(pair, "commented (incomplete run)", number)
    if status == "drift":
        title, body = issue_title(report), issue_body(report, environ)
        if number is None:
            return Outcome(pair, "opened", issues.create(title, body, labels))
        issues.update(number, title=title, body=body)
        return Outcome(pair, "updated", number)
    if number is None:
        return Outcome(pair, "nothing (clean, no open issue)")
    issues.comment(
        number,
        f"The check of {code(report.generated_at)} is **clean**{_run_reference(environ)}: closing.",
    )
    issues.update(number, state="closed", state_reason="completed")
    return Outcome(pair, "closed", number)


def github_settings(environ: Mapping[str, str]) -> tuple[str, str, str]:
    """(API URL, token, repository) from the environment; a missing one is a UsageError."""
    api_url = environ.get(API_URL_VAR, "").strip() or DEFAULT_API_URL
    if not api_url.startswith(("https://", "http://")):
        raise UsageError(f"{API_URL_VAR} must be a URL such as {DEFAULT_API_URL}")
    token = environ.get(TOKEN_VAR, "").strip()
    if not token:
        raise UsageError(f"{TOKEN_VAR} is not set (the job's token, with issues: write)")
    repository = environ.get(REPOSITORY_VAR, "").strip()
    if not _REPOSITORY.match(repository):
        raise UsageError(f"{REPOSITORY_VAR} must be OWNER/REPO")
    return api_url, token, repository


def run_track(
    report_paths: Sequence[Path], labels: Sequence[str], environ: Mapping[str, str] | None = None
) -> list[Outcome]:
    """Track every report (all are read before anything is written); the outcomes."""
    from driftcheck.report import read_report

    env = os.environ if environ is None else environ
    api_url, token, repository = github_settings(env)
    reports = [read_report(path) for path in report_paths]
    pairs = [pair_of(report) for report in reports]
    repeated = sorted({pair for pair in pairs if pairs.count(pair) > 1})
    if repeated:
        raise UsageError(f"two reports of the same pair: {repeated[0]}")
    issues = GitHubIssues(api_url, token, repository)
    try:
        return [track_report(issues, report, env, labels) for report in reports]
    finally:
        issues.close()
