"""Severity rules of live probes (WebSocket and health endpoints) and their defects."""

from __future__ import annotations

import re

from driftcheck.catalogue import (
    Advice,
    CatalogueRule,
    CauseRule,
    ViolationAdvice,
    named,
)
from driftcheck.model import Severity

PROBE_SUBPROTOCOL = Advice(
    "The server, or a proxy in front of it, no longer answers with the negotiated "
    "Sec-WebSocket-Protocol: browsers close such a connection at once, so WebSocket clients "
    "fail while plain HTTP health checks still pass.",
    "Make the proxy (or the server) echo the selected subprotocol in Sec-WebSocket-Protocol, as "
    "the baseline's does.",
)

PROBE_HANDSHAKE = Advice(
    "The endpoint answers the probe differently: the handshake or status clients rely on changed.",
    "Compare the proxy, ingress and authentication in front of the endpoint with the baseline's.",
)

PROBE_HEALTH = Advice(
    "The health endpoint reports a dependency differently (Redis or PostgreSQL degraded): the "
    "service runs, but what it depends on does not.",
    "Check the dependency and the network path to it (VPC connector, egress, authorized network).",
)

PROBE_MESSAGES = Advice(
    "The first messages after connecting differ: clients that wait for them "
    "(connection_established) never start their work.",
    "Check what the server sends on connect, and whether the client's token is accepted.",
)

PROBE_HEADERS = Advice(
    "Response headers differ; clients or proxies that depend on them behave differently."
)


CATALOGUE: tuple[CatalogueRule, ...] = (
    CatalogueRule(
        "probe-subprotocol", "probe/*", "subprotocol", Severity.HIGH, advice=PROBE_SUBPROTOCOL
    ),
    CatalogueRule("probe-handshake", "probe/*", "handshake", Severity.HIGH, advice=PROBE_HANDSHAKE),
    CatalogueRule("probe-status", "probe/*", "status", Severity.HIGH, advice=PROBE_HANDSHAKE),
    CatalogueRule("probe-health", "probe/*", "fields*", Severity.MEDIUM, advice=PROBE_HEALTH),
    CatalogueRule("probe-messages", "probe/*", "messages*", Severity.MEDIUM, advice=PROBE_MESSAGES),
    CatalogueRule("probe-headers", "probe/*", "headers*", Severity.MEDIUM, advice=PROBE_HEADERS),
)

VIOLATIONS: tuple[ViolationAdvice, ...] = (
    ViolationAdvice("probe-subprotocol", Severity.HIGH, PROBE_SUBPROTOCOL),
    ViolationAdvice("probe-handshake", Severity.HIGH, PROBE_HANDSHAKE),
    ViolationAdvice("probe-status", Severity.HIGH, PROBE_HANDSHAKE),
    ViolationAdvice("probe-messages", Severity.MEDIUM, PROBE_MESSAGES),
    ViolationAdvice("probe-degraded", Severity.HIGH, PROBE_HEALTH),
    ViolationAdvice(
        "probe-latency",
        Severity.MEDIUM,
        Advice(
            "The endpoint answers slower than its limit: clients with timeouts give up, and "
            "load tests measure a slower system than the baseline's.",
            "Check the service's instances (cold starts, CPU) and its dependencies.",
        ),
    ),
)

CAUSES: tuple[CauseRule, ...] = (
    # A proxy that drops Sec-WebSocket-Protocol: the subprotocol, the echoed header, the defect.
    CauseRule(
        "probe-subprotocol",
        "probe/*",
        re.compile(r"subprotocol|headers\.sec-websocket-protocol|defects\.subprotocol"),
        named("probe-subprotocol"),
    ),
    CauseRule(
        "probe-handshake",
        "probe/*",
        re.compile(r"handshake|status|defects\.(?:handshake|status)"),
        named("probe-handshake"),
    ),
    # When the handshake itself changed, what the connection would have shown follows from it.
    CauseRule(
        "probe-handshake",
        "probe/*",
        re.compile(r"subprotocol|headers(?:\..+)?|messages|close_code|defects\..+"),
        named("probe-handshake"),
        follows=True,
    ),
    # A degraded dependency shows in the health field that reports it, and in its defect.
    CauseRule(
        "probe-health",
        "probe/*",
        re.compile(r"(?:fields\.|defects\.degraded:)(?P<field>.+)"),
        lambda resource, match: [f"probe-health:{resource}:{match.group('field')}"],
    ),
    CauseRule(
        "probe-messages",
        "probe/*",
        re.compile(r"messages|close_code|defects\.messages"),
        named("probe-messages"),
    ),
)
