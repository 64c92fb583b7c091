"""An estate with every field of the Cloud Run Admin API v2 populated, as the REST API sends it.

The shapes follow Google's published discovery document (run.v2: Service, Job, WorkerPool and
every type they hold), including fields that the installed google-cloud-run does not know yet
(``sshEnabled``, ``workloadIdentityConfig``, filestore volumes, sandboxes …). Production and
staging differ only in what must not matter: project ids and numbers, the environment token in
names, volatile and per-build fields, and references to shared cross-project resources.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from driftcheck.emulator.scenario import Scenario
from tests.factories import scenario

PROD, STAGING, SHARED = "acme-prod", "acme-staging", "shared-secrets"
PROD_NUMBER, STAGING_NUMBER = "111111111111", "222222222222"
REGION = "us-central1"
DIGEST = "sha256:" + "cd" * 32
IMAGE = f"europe-docker.pkg.dev/{PROD}/apps/api@{DIGEST}"
Change = Callable[[dict[str, Any]], None]


def _probe(path: str, port: int) -> dict[str, Any]:
    return {
        "initialDelaySeconds": 2,
        "timeoutSeconds": 3,
        "periodSeconds": 10,
        "failureThreshold": 3,
        "httpGet": {
            "path": path,
            "port": port,
            "httpHeaders": [
                {"name": "X-Probe", "value": "1"},
                {"name": "Accept", "value": "application/json"},
            ],
        },
    }


def container(env: str, project_id: str, build: str) -> dict[str, Any]:
    """The main container, every field set; ``build`` varies what is per build."""
    return {
        "name": "app",
        "image": IMAGE,
        "command": ["/app/server"],
        "args": ["--port=8080", "--log-format=json"],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "UPSTREAM", "value": f"https://ws-gateway-{env}.internal"},
            {
                "name": "GEOIP_KEY",
                "valueSource": {
                    "secretKeyRef": {"secret": f"projects/{SHARED}/secrets/geoip", "version": "3"}
                },
            },
        ],
        "resources": {
            "limits": {"cpu": "2", "memory": "1Gi"},
            "cpuIdle": True,
            "startupCpuBoost": True,
        },
        "ports": [{"name": "h2c", "containerPort": 8080}],
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app", "subPath": "app"},
            {"name": "config", "mountPath": "/etc/extra"},
            {"name": "cache", "mountPath": "/cache"},
            {"name": "share", "mountPath": "/share"},
        ],
        "workingDir": "/app",
        "livenessProbe": _probe("/healthz", 8080),
        "startupProbe": {
            "initialDelaySeconds": 0,
            "timeoutSeconds": 1,
            "periodSeconds": 3,
            "failureThreshold": 10,
            "tcpSocket": {"port": 8080},
        },
        "readinessProbe": {
            "periodSeconds": 5,
            "failureThreshold": 2,
            "grpc": {"port": 8081, "service": "health"},
        },
        "dependsOn": ["sidecar", "proxy"],
        "baseImageUri": "us-central1-docker.pkg.dev/serverless-runtimes/google-22/runtimes/go122",
        "buildInfo": {"functionTarget": "Handle", "sourceLocation": f"gs://builds/{build}.zip"},
        "sourceCode": {
            "cloudStorageSource": {
                "bucket": f"run-sources-{project_id}-{REGION}",
                "object": f"services/api/{build}.zip",
                "generation": str(len(build) * 1000),
            }
        },
        "buildConfig": {
            "imageRepositoryUri": f"{REGION}-docker.pkg.dev/{project_id}/builds",
            "serviceAccount": f"builder@{project_id}.iam.gserviceaccount.com",
            "tags": ["latest", "main"],
            "dockerBuild": {},
        },
        "sandboxLauncher": False,
    }


def sidecars() -> list[dict[str, Any]]:
    return [
        {"name": "sidecar", "image": f"{REGION}-docker.pkg.dev/{SHARED}/base/otel@{DIGEST}"},
        {"name": "proxy", "image": f"{REGION}-docker.pkg.dev/{SHARED}/base/envoy@{DIGEST}"},
    ]


def volumes(env: str, project_id: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "config",
            "secret": {
                "secret": f"projects/{SHARED}/secrets/geoip",
                "items": [{"path": "geoip.key", "version": "3", "mode": 256}],
                "defaultMode": 292,
            },
        },
        {"name": "cache", "emptyDir": {"medium": "MEMORY", "sizeLimit": "256Mi"}},
        {
            "name": "cloudsql",
            "cloudSqlInstance": {
                "instances": [
                    f"{project_id}:{REGION}:main-{env}",
                    f"{project_id}:{REGION}:ro-{env}",
                ]
            },
        },
        {"name": "nfs", "nfs": {"server": "10.10.0.2", "path": "/exports", "readOnly": True}},
        {
            "name": "share",
            "gcs": {
                "bucket": f"assets-{env}",
                "readOnly": True,
                "mountOptions": ["implicit-dirs", "only-dir=web"],
            },
        },
        {"name": "files", "filestore": {"volume": f"projects/{project_id}/filestore/files-{env}"}},
    ]


def vpc_access(env: str, project_id: str) -> dict[str, Any]:
    return {
        "connector": f"projects/{project_id}/locations/{REGION}/connectors/egress-{env}",
        "egress": "PRIVATE_RANGES_ONLY",
        "networkInterfaces": [
            {"network": "shared-vpc", "subnetwork": f"run-{env}", "tags": ["run", "egress"]}
        ],
    }


def common(env: str, project_id: str, number: str, build: str) -> dict[str, Any]:
    """What services, jobs and worker pools share at their top level."""
    return {
        "uid": f"uid-{build}",
        "generation": str(len(build) * 7),
        "labels": {"app": "api", "env": env, "team": "platform"},
        "annotations": {
            "run.googleapis.com/client-name": "gcloud",
            "run.googleapis.com/operation-id": f"op-{build}",
        },
        "createTime": f"2026-0{len(env)}-01T00:00:00Z",
        "updateTime": f"2026-0{len(env)}-02T00:00:00Z",
        "expireTime": f"2027-0{len(env)}-01T00:00:00Z",
        "creator": f"deployer-{env}@{project_id}.iam.gserviceaccount.com",
        "lastModifier": f"deployer-{env}@{project_id}.iam.gserviceaccount.com",
        "client": "gcloud",
        "clientVersion": f"5{len(env)}0.0.0",
        "launchStage": "BETA",
        "binaryAuthorization": {
            "policy": f"projects/{project_id}/platforms/cloudRun/policies/strict",
            "breakglassJustification": "",
        },
        "observedGeneration": str(len(build) * 7),
        "reconciling": False,
        "satisfiesPzs": env == "prod",
        "etag": f'"{build}"',
        "conditions": [
            {
                "type": "Ready",
                "state": "CONDITION_SUCCEEDED",
                "lastTransitionTime": f"2026-0{len(env)}-02T00:00:00Z",
                "severity": "INFO",
                "reason": "COMMON_REASON_UNDEFINED",
            }
        ],
        "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"},
    }


def service(env: str, project_id: str, number: str, build: str) -> dict[str, Any]:
    name = f"api-{env}"
    base = f"projects/{project_id}/locations/{REGION}/services/{name}"
    return {
        **common(env, project_id, number, build),
        "name": name,
        "description": "Public API",
        "ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
        "defaultUriDisabled": True,
        "invokerIamDisabled": False,
        "iapEnabled": True,
        "customAudiences": ["https://api.acme.example", "api-clients"],
        "multiRegionSettings": {"regions": [REGION, "europe-west1"], "multiRegionId": "api"},
        "scaling": {"minInstanceCount": 2, "scalingMode": "AUTOMATIC", "maxInstanceCount": 50},
        "threatDetectionEnabled": env == "prod",
        "sshEnabled": False,
        "functionalType": "FUNCTIONAL_TYPE_UNSPECIFIED",
        "buildConfig": {
            "name": f"projects/{number}/locations/{REGION}/builds/{build}",
            "sourceLocation": f"gs://run-sources-{project_id}-{REGION}/services/{build}.zip",
            "functionTarget": "Handle",
            "imageUri": f"{REGION}-docker.pkg.dev/{project_id}/cloud-run-source-deploy/api",
            "baseImage": "go122",
            "enableAutomaticUpdates": True,
            "workerPool": f"projects/{project_id}/locations/{REGION}/workerPools/builders",
            "environmentVariables": {"GOFLAGS": "-mod=vendor"},
            "serviceAccount": f"builder@{project_id}.iam.gserviceaccount.com",
        },
        "template": {
            "revision": f"{name}-{build}",
            "labels": {"tier": "web"},
            "annotations": {"autoscaling.knative.dev/maxScale": "50"},
            "scaling": {
                "minInstanceCount": 2,
                "maxInstanceCount": 50,
                "concurrencyUtilization": 0.8,
                "cpuUtilization": 0.6,
            },
            "vpcAccess": vpc_access(env, project_id),
            "timeout": "3600s",
            "serviceAccount": f"api-{env}@{project_id}.iam.gserviceaccount.com",
            "containers": [container(env, project_id, build), *sidecars()],
            "volumes": volumes(env, project_id),
            "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2",
            "encryptionKey": f"projects/{SHARED}/locations/{REGION}/keyRings/run/cryptoKeys/api",
            "maxInstanceRequestConcurrency": 250,
            "serviceMesh": {"mesh": f"projects/{project_id}/locations/global/meshes/main"},
            "encryptionKeyRevocationAction": "PREVENT_NEW",
            "encryptionKeyShutdownDuration": "3600s",
            "sessionAffinity": True,
            "healthCheckDisabled": False,
            "nodeSelector": {"accelerator": "nvidia-l4"},
            "gpuZonalRedundancyDisabled": True,
            "workloadIdentityConfig": {
                "identity": f"api-{env}@{project_id}.iam.gserviceaccount.com",
                "identityCertificateEnabled": True,
                "identityType": "IDENTITY_TYPE_SERVICE_ACCOUNT",
            },
            "ambientNetworking": {"enabled": True, "ambientScope": "AMBIENT_SCOPE_REGIONAL"},
        },
        "traffic": [
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 90},
            {
                "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                "revision": f"{name}-00041-{build[:3]}",
                "percent": 10,
                "tag": "stable",
            },
            {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "tag": "canary"},
        ],
        "urls": [f"https://{name}-{number}.{REGION}.run.app"],
        "uri": f"https://{name}-{build}-uc.a.run.app",
        "latestReadyRevision": f"{base}/revisions/{name}-00042-{build[:3]}",
        "latestCreatedRevision": f"{base}/revisions/{name}-00042-{build[:3]}",
        "trafficStatuses": [
            {
                "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST",
                "percent": 90,
                "revision": f"{name}-00042-{build[:3]}",
            },
            {
                "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                "revision": f"{name}-00041-{build[:3]}",
                "percent": 10,
                "tag": "stable",
                "uri": f"https://stable---{name}-{build}-uc.a.run.app",
            },
        ],
    }


def revision(env: str, project_id: str, number: str, build: str, serial: str) -> dict[str, Any]:
    """A revision of the service as ``get_revision`` returns it: the template it was made from
    (an older image) and what Cloud Run reports about it."""
    template = service(env, project_id, number, build)["template"]
    template["containers"][0]["image"] = IMAGE.replace("cd", "0a")
    configured = {
        key: template[key]
        for key in (
            "scaling",
            "vpcAccess",
            "timeout",
            "serviceAccount",
            "containers",
            "volumes",
            "executionEnvironment",
            "encryptionKey",
            "maxInstanceRequestConcurrency",
            "serviceMesh",
            "encryptionKeyRevocationAction",
            "encryptionKeyShutdownDuration",
            "sessionAffinity",
            "nodeSelector",
            "gpuZonalRedundancyDisabled",
        )
    }
    configured["scaling"] = {"minInstanceCount": 2, "maxInstanceCount": 50}
    return {
        **configured,
        "name": f"api-{env}-{serial}-{build[:3]}",
        "uid": f"rev-{build}",
        "generation": "1",
        "labels": {"serving.knative.dev/configuration": f"api-{env}"},
        "annotations": {"run.googleapis.com/client-name": "gcloud"},
        "createTime": "2026-01-01T00:00:00Z",
        "launchStage": "BETA",
        "conditions": [{"type": "Ready", "state": "CONDITION_SUCCEEDED"}],
        "observedGeneration": "1",
        "logUri": f"https://console.cloud.google.com/logs?project={project_id}",
        "satisfiesPzs": False,
        "scalingStatus": {"desiredMinInstanceCount": 2},
        "creator": f"deployer-{env}@{project_id}.iam.gserviceaccount.com",
        "etag": f'"{build}"',
    }


def job(env: str, project_id: str, number: str, build: str) -> dict[str, Any]:
    name = f"migrate-{env}"
    main = container(env, project_id, build)
    for probe in ("livenessProbe", "startupProbe", "readinessProbe"):
        main.pop(probe)  # a task has no probes
    main["ports"] = []
    return {
        **common(env, project_id, number, build),
        "name": name,
        "template": {
            "labels": {"kind": "migration"},
            "annotations": {"run.googleapis.com/execution-environment": "gen2"},
            "parallelism": 2,
            "taskCount": 4,
            "template": {
                "containers": [main, *sidecars()],
                "volumes": volumes(env, project_id),
                "maxRetries": 0,
                "timeout": "1800s",
                "serviceAccount": f"migrate-{env}@{project_id}.iam.gserviceaccount.com",
                "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2",
                "encryptionKey": f"projects/{SHARED}/locations/{REGION}/keyRings/run/cryptoKeys/j",
                "vpcAccess": vpc_access(env, project_id),
                "nodeSelector": {"accelerator": "nvidia-l4"},
                "gpuZonalRedundancyDisabled": True,
            },
        },
        "executionCount": len(build),
        "latestCreatedExecution": {
            "name": f"{name}-{build}",
            "createTime": "2026-01-01T00:00:00Z",
            "completionTime": "2026-01-01T00:10:00Z",
            "completionStatus": "EXECUTION_SUCCEEDED",
        },
        # One of a oneof: the token of the execution the last deploy started.
        "startExecutionToken": f"start-{build}",
    }


def worker_pool(env: str, project_id: str, number: str, build: str) -> dict[str, Any]:
    name = f"consumer-{env}"
    main = container(env, project_id, build)
    main["ports"] = []
    return {
        **common(env, project_id, number, build),
        "name": name,
        "description": "Queue consumers",
        "customAudiences": ["consumers"],
        "threatDetectionEnabled": True,
        "scaling": {"manualInstanceCount": 3},
        "template": {
            "revision": f"{name}-{build}",
            "labels": {"tier": "worker"},
            "annotations": {},
            "vpcAccess": vpc_access(env, project_id),
            "serviceAccount": f"consumer-{env}@{project_id}.iam.gserviceaccount.com",
            "containers": [main, *sidecars()],
            "volumes": volumes(env, project_id),
            "encryptionKey": f"projects/{SHARED}/locations/{REGION}/keyRings/run/cryptoKeys/w",
            "serviceMesh": {"mesh": f"projects/{project_id}/locations/global/meshes/main"},
            "encryptionKeyRevocationAction": "SHUTDOWN",
            "encryptionKeyShutdownDuration": "600s",
            "nodeSelector": {"accelerator": "nvidia-l4"},
            "gpuZonalRedundancyDisabled": False,
        },
        "instanceSplits": [
            {"type": "INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST", "percent": 100},
        ],
        "instanceSplitStatuses": [
            {"type": "INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION", "revision": f"{name}-{build}"}
        ],
        "latestReadyRevision": f"{name}-{build}",
        "latestCreatedRevision": f"{name}-{build}",
    }


def iam(env: str, project_id: str, number: str) -> dict[str, Any]:
    return {
        "version": 3,
        "etag": "BwY=",
        "bindings": [
            {
                "role": "roles/run.invoker",
                "members": [
                    f"serviceAccount:frontend-{env}@{project_id}.iam.gserviceaccount.com",
                    f"serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com",
                ],
            },
            {
                "role": "roles/run.developer",
                "members": ["group:oncall@acme.com"],
                "condition": {
                    "title": f"until-{env}",
                    "expression": 'request.time < timestamp("2027-01-01T00:00:00Z")',
                },
            },
        ],
    }


def project(env: str, project_id: str, number: str, build: str) -> dict[str, Any]:
    """One environment's project: a service, a job and a worker pool, each with its IAM."""
    policy = iam(env, project_id, number)
    return {
        "number": number,
        "services": {REGION: [service(env, project_id, number, build)]},
        "jobs": {REGION: [job(env, project_id, number, build)]},
        "worker_pools": {REGION: [worker_pool(env, project_id, number, build)]},
        "revisions": {
            REGION: [
                revision(env, project_id, number, build, serial) for serial in ("00041", "00042")
            ]
        },
        "iam": {
            f"api-{env}": policy,
            f"jobs/migrate-{env}": copy.deepcopy(policy),
            f"workerPools/consumer-{env}": copy.deepcopy(policy),
        },
    }


SHARED_PROJECT = {
    "number": "333333333333",
    "secrets": {
        "geoip": {
            "versions": [
                {"version": 1, "payload": "old-geoip-licence", "state": "DISABLED"},
                {"version": 2, "payload": "geoip-licence-2"},
                {"version": 3, "payload": "geoip-licence-3"},
            ]
        }
    },
}


def estate(*changes: Change, production: Change | None = None, **fields: Any) -> Scenario:
    """Production and staging alike but for what must not matter; each of ``changes`` is then
    applied to staging's project (``production`` to production's); ``fields`` are the
    scenario's own (faults, latency)."""
    prod = project("prod", PROD, PROD_NUMBER, "a1b2c3")
    staging = project("stg", STAGING, STAGING_NUMBER, "9f8e7d0")
    for change in changes:
        change(staging)
    if production is not None:
        production(prod)
    return scenario(projects={PROD: prod, STAGING: staging, SHARED: SHARED_PROJECT}, **fields)


def config(directory: Any) -> dict[str, Any]:
    """A driftcheck.yaml body for the estate."""
    return {
        "version": 1,
        "environments": {
            "production": {
                "project": PROD,
                "project_number": PROD_NUMBER,
                "regions": [REGION],
                "name_map": {"prod": "${env}"},
            },
            "staging": {
                "project": STAGING,
                "project_number": STAGING_NUMBER,
                "regions": [REGION],
                "name_map": {"stg": "${env}"},
            },
        },
        "api": {"timeout_seconds": 5, "retry_seconds": 1},
    }
