"""Severity rules that hold for every Cloud Run workload (services, jobs, worker pools): who may
call it, what it runs, with which identity, settings, files and network."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from driftcheck import remedies
from driftcheck.catalogue import (
    PUBLIC_MEMBERS,
    Advice,
    CatalogueRule,
    CauseRule,
    ViolationAdvice,
    named,
)
from driftcheck.model import Severity

_UPDATE = "gcloud run services update SERVICE"


def _made_public(baseline: Any, actual: Any) -> bool:
    before = set(baseline or []) & PUBLIC_MEMBERS
    after = set(actual or []) & PUBLIC_MEMBERS
    return bool(after - before)


PUBLIC_INVOKER = Advice(
    "roles/run.invoker decides who may call the service: allUsers or allAuthenticatedUsers lets "
    "anyone call it, skipping the authentication the baseline relies on.",
    "gcloud run services remove-iam-policy-binding SERVICE --member=MEMBER "
    "--role=roles/run.invoker (add-iam-policy-binding for a member the baseline grants)",
    remedies.iam_bindings,
)


IAM = Advice(
    "IAM bindings on the service differ: someone may call or administer it in one environment "
    "and not in the other.",
    "gcloud run services add-iam-policy-binding / remove-iam-policy-binding SERVICE "
    "--member=MEMBER --role=ROLE",
    remedies.iam_bindings,
)


BINARY_AUTHORIZATION = Advice(
    "Binary Authorization decides which images may run: without its policy an unsigned or "
    "unvetted image can be deployed here.",
    f"{_UPDATE} --binary-authorization=default (or --clear-binary-authorization)",
)


SERVICE_MESH = Advice(
    "The service mesh carries the service's traffic policy and mutual TLS: without it, calls "
    "between services behave and authenticate differently.",
    f"{_UPDATE} --mesh=MESH (or --clear-mesh)",
)


AUDIENCES = Advice(
    "Custom audiences decide which ID tokens the service accepts: a lost audience makes clients "
    "that mint tokens for it get 401, on the WebSocket upgrade too.",
    f"{_UPDATE} --add-custom-audiences=AUDIENCE / --remove-custom-audiences=AUDIENCE",
)


VPC = Advice(
    "The VPC connector and egress setting decide which network private addresses (Redis, "
    "PostgreSQL) are reached through, and whether all outbound traffic leaves through the VPC: "
    "another connector reaches other, possibly degraded, dependencies.",
    f"{_UPDATE} --vpc-connector=CONNECTOR --vpc-egress=private-ranges-only|all-traffic "
    "(--clear-vpc-connector to remove it; --network/--subnet for Direct VPC)",
    remedies.vpc_access,
)


ENV_VAR = Advice(
    "Environment variables configure the application: another value, or a missing variable, "
    "means the release runs here with settings it will not have there.",
    f"{_UPDATE} --update-env-vars=NAME=VALUE (--remove-env-vars=NAME; "
    "--update-secrets=NAME=SECRET:VERSION for secret references). A redacted value gets no "
    "command: set it from where the secret is kept, or better, from Secret Manager.",
    remedies.env_var,
)


VOLUMES = Advice(
    "Volumes provide files the application reads (mounted secrets, Cloud Storage, NFS): another "
    "mount serves other files, or none.",
    f"{_UPDATE} --update-secrets=/MOUNT/PATH=SECRET:VERSION (secret volumes), "
    "--add-volume and --add-volume-mount for the others",
)


WORKLOAD_IDENTITY = Advice(
    "The workload identity decides which identity (and certificate) the workload presents to "
    "the services it calls: another one is refused, or trusted for more.",
    "Set the template's workload identity as the baseline has it (gcloud run … replace with the "
    "baseline's definition).",
)
SERVICE_ACCOUNT = Advice(
    "The service account is the identity the service calls Google APIs with: another one has "
    "other permissions, so calls that work here can be refused there.",
    f"{_UPDATE} --service-account=EMAIL",
    remedies.service_account,
)


IMAGE = Advice(
    "Another image is other code: this environment is not running the release the baseline runs.",
    f"{_UPDATE} --image=IMAGE (by digest where the baseline pins one)",
    remedies.image,
)


LABELS = Advice(
    "Labels are metadata (billing, ownership, automation selectors); they change no behaviour "
    "unless a tool selects by them.",
    f"{_UPDATE} --update-labels=KEY=VALUE (--remove-labels=KEY)",
    remedies.labels,
)


def _env_reference(resource: str, match: re.Match[str]) -> list[str]:
    """The same place, seen from the service that uses the secret."""
    return [f"secret-reference:{resource}:{match.group('where')}"]


def _volume_reference(resource: str, match: re.Match[str]) -> list[str]:
    return [f"secret-reference:{resource}:volumes.{match.group('volume')}.{match.group('item')}"]


def for_kind(advice: Advice, group: str, noun: str) -> Advice:
    """The advice in the words of another Cloud Run kind (``gcloud run jobs update JOB``). Its
    remedy is dropped: computed commands are written for services only."""
    if group == "services":
        return advice
    how = advice.how.replace("run services", f"run {group}").replace("SERVICE", noun)
    return dataclasses.replace(advice, how=how, remedy=None)


def workload_rules(resources: str, group: str, noun: str) -> tuple[CatalogueRule, ...]:
    """The rules every Cloud Run workload shares, for the resources matching ``resources``
    (``gcloud run <group> update <noun>`` in their advice)."""

    def adapt(advice: Advice) -> Advice:
        return for_kind(advice, group, noun)

    return (
        CatalogueRule(
            "public-invoker",
            resources,
            "iam.roles/run.invoker*",  # conditional grants of the role too
            Severity.HIGH,
            Severity.CRITICAL,
            _made_public,
            advice=adapt(PUBLIC_INVOKER),
        ),
        CatalogueRule(
            "iam",
            resources,
            "iam*",
            Severity.HIGH,
            advice=adapt(IAM),
        ),
        CatalogueRule(
            "custom-audiences",
            resources,
            "custom_audiences*",
            Severity.HIGH,
            advice=adapt(AUDIENCES),
        ),
        CatalogueRule(
            "binary-authorization",
            resources,
            "binary_authorization*",
            Severity.HIGH,
            advice=adapt(BINARY_AUTHORIZATION),
        ),
        CatalogueRule(
            "service-mesh",
            resources,
            "template.service_mesh*",
            Severity.HIGH,
            advice=adapt(SERVICE_MESH),
        ),
        CatalogueRule(
            "vpc-egress",
            resources,
            "template.vpc_access*",
            Severity.HIGH,
            advice=adapt(VPC),
        ),
        CatalogueRule(
            "env-var",
            resources,
            "template.containers.*.env*",
            Severity.MEDIUM,
            advice=adapt(ENV_VAR),
        ),
        CatalogueRule(
            "secret-volume",
            resources,
            "template.volumes*",
            Severity.MEDIUM,
            advice=adapt(VOLUMES),
        ),
        CatalogueRule(
            "volume-mount",
            resources,
            "template.containers.*.volume_mounts*",
            Severity.MEDIUM,
            advice=adapt(VOLUMES),
        ),
        CatalogueRule(
            "workload-identity",
            resources,
            "template.workload_identity_config*",
            Severity.HIGH,
            advice=adapt(WORKLOAD_IDENTITY),
        ),
        CatalogueRule(
            "service-account",
            resources,
            "template.service_account",
            Severity.MEDIUM,
            advice=adapt(SERVICE_ACCOUNT),
        ),
        CatalogueRule(
            "image",
            resources,
            "template.containers.*.image",
            Severity.LOW,
            advice=adapt(IMAGE),
        ),
        CatalogueRule(
            "labels",
            resources,
            "labels*",
            Severity.INFO,
            advice=adapt(LABELS),
        ),
    )


def workload_causes(resources: str) -> tuple[CauseRule, ...]:
    """Findings of a workload that share a cause with others (a plain secret, a secret
    reference)."""
    return (
        # A secret-looking value in clear: the violation, and its difference from the baseline.
        # ...and when the other side takes it from Secret Manager, the reference it lost.
        CauseRule(
            "plain-secret",
            resources,
            re.compile(r"template\.(?P<where>containers\.[^.]+\.env\.[^.]+)\.value"),
            lambda resource, match: [
                f"plain-secret:{resource}:{match.group(0)}",
                f"secret-reference:{resource}:{match.group('where')}",
            ],
        ),
        CauseRule(
            "secret-reference",
            resources,
            re.compile(r"template\.(?P<where>containers\.[^.]+\.env\.[^.]+)\.(?:version|secret)"),
            _env_reference,
        ),
        CauseRule(
            "secret-reference",
            resources,
            re.compile(
                r"template\.volumes\.(?P<volume>[^.]+)\.secret\.items\.(?P<item>.+)\.version"
            ),
            _volume_reference,
        ),
        # One role's grants: a member granted with a condition on one side and without it on the
        # other (a time-boxed grant made permanent) is one difference of that role.
        CauseRule("iam-role", resources, re.compile(r"iam\.(?P<role>[^ ]+)(?: if .*)?"), _iam_role),
        # A split of traffic or instances is one decision, however many targets it moves; what
        # serves as a result of it is the same fact, and so is a failed deploy.
        CauseRule(
            "split",
            resources,
            re.compile(r"(?:traffic|instance_splits|serving|deploy)(?:\..+)?"),
            named("split"),
        ),
    )


def _iam_role(resource: str, match: re.Match[str]) -> list[str]:
    return [f"iam-role:{resource}:{match.group('role')}"]


PLAIN_SECRET = ViolationAdvice(
    "plain-secret",
    Severity.MEDIUM,
    Advice(
        "A secret-looking value is set in clear as an environment variable: whoever may read "
        "the workload's configuration reads the secret, every revision keeps a copy, and "
        "rotating it takes a deploy.",
        "Store it in Secret Manager (gcloud secrets create NAME --data-file=-) and reference "
        "it: gcloud run services update SERVICE --update-secrets=VARIABLE=NAME:latest (jobs "
        "update, worker-pools update for those).",
    ),
)
