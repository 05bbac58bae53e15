"""The Helm chart: lint, render, conventions, security contexts, schema rejections."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from services.core.web.serving import KEEP_ALIVE_SECONDS
from tests.integration.deploy.chart import (
    ALL_FEATURES,
    CHART,
    CI_VALUES,
    REPO,
    Manifest,
    by_kind,
    helm,
    pod_specs,
    render,
    template_text,
)

pytestmark = pytest.mark.integration

VALUE_FILES = sorted(CI_VALUES.glob("*-values.yaml"))
SELECTOR_KEYS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "track",
}


@pytest.mark.parametrize("values", VALUE_FILES, ids=lambda p: p.name)
def test_helm_lint_strict(values: Path) -> None:
    out = helm("lint", "--strict", str(CHART), "-f", str(values)).stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in out


@pytest.mark.parametrize("values", VALUE_FILES, ids=lambda p: p.name)
def test_template_renders_valid_objects(values: Path) -> None:
    docs = render(values)
    kinds = {d["kind"] for d in docs}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "HTTPRoute",
        "Job",
        "NetworkPolicy",
        "Secret",
        "Role",
        "ServiceAccount",
    } <= kinds | {"Role"}
    for d in docs:
        assert d.get("apiVersion"), d
        assert d.get("kind"), d
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", d["metadata"]["name"]), d["metadata"]
        assert len(d["metadata"]["name"]) <= 63
        labels = d["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/instance") == "cr", d["metadata"]


def test_all_features_render_every_optional_block() -> None:
    kinds = {d["kind"] for d in render(ALL_FEATURES)}
    assert {
        "Gateway",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
        "Role",
        "RoleBinding",
    } <= kinds
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}, "no cluster-wide RBAC mode"
    bound = {d["metadata"]["namespace"] for d in by_kind(render(ALL_FEATURES), "RoleBinding")}
    assert bound == {"credit-risk", "credit-risk-staging"}
    hpas = {d["metadata"]["name"] for d in by_kind(render(ALL_FEATURES), "HorizontalPodAutoscaler")}
    assert hpas == {"cr-creditrisk-inference", "cr-creditrisk-batch-worker"}


@pytest.mark.parametrize("values", [None, *VALUE_FILES], ids=lambda v: v.name if v else "default")
def test_every_pod_is_locked_down(values: Path | None) -> None:
    for name, spec in pod_specs(render(values)):
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, name
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert isinstance(pod_sc.get("runAsUser"), int), name
        assert pod_sc["runAsUser"] > 0, name
        mounts_tmp = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        assert "tmp" in mounts_tmp, name
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            assert sc.get("readOnlyRootFilesystem") is True, (name, c["name"])
            assert sc.get("allowPrivilegeEscalation") is False, (name, c["name"])
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], (name, c["name"])
            assert any(m["mountPath"] == "/tmp" for m in c.get("volumeMounts", [])), (
                name,
                c["name"],
            )
            assert c.get("resources", {}).get("requests"), (name, c["name"])
            image = c["image"]
            assert not image.endswith(":latest"), image
            assert ":" in image.rsplit("/", 1)[-1], image


def test_selectors_hold_only_stable_labels() -> None:
    docs = render(None)
    for d in by_kind(docs, "Deployment"):
        selector = d["spec"]["selector"]["matchLabels"]
        assert set(selector) <= SELECTOR_KEYS, d["metadata"]["name"]
        assert selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    for s in by_kind(docs, "Service"):
        assert set(s["spec"]["selector"]) <= SELECTOR_KEYS, s["metadata"]["name"]
    # the rollout controller narrows the stable selector to track=canary: stable must carry it
    inference = next(
        d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-inference")
    )
    assert inference["spec"]["selector"]["matchLabels"]["track"] == "stable"


def test_inference_objects_share_the_target_name() -> None:
    """The ModelRollout controller finds Deployment, Service, HPA and HTTPRoute by one name."""
    docs = render(None)
    names = {
        d["kind"]: d["metadata"]["name"]
        for d in docs
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "inference"
        and d["kind"] in ("Deployment", "Service", "HorizontalPodAutoscaler", "HTTPRoute")
    }
    assert set(names.values()) == {"cr-creditrisk-inference"}, names
    deployment = next(
        d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "cr-creditrisk-inference"
    )
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MODEL_URI"]["value"] == "models:/credit-default@champion"
    assert env["TRACK"]["value"] == "stable"
    assert env["INFERENCE_API_KEY_HASHES"]["valueFrom"]["secretKeyRef"]["key"] == "api-key-hashes"


def test_generated_api_key_matches_its_digest() -> None:
    secrets = {s["metadata"]["name"]: s for s in by_kind(render(None), "Secret")}
    key = base64.b64decode(secrets["cr-creditrisk-api-key"]["data"]["api-key"]).decode()
    hashes = json.loads(
        base64.b64decode(secrets["cr-creditrisk-api-keys"]["data"]["api-key-hashes"])
    )
    import hashlib

    assert hashes == [hashlib.sha256(key.encode()).hexdigest()]
    assert len(key) >= 32


def test_given_digests_are_used_and_no_key_is_generated() -> None:
    secrets = {s["metadata"]["name"]: s for s in by_kind(render(ALL_FEATURES), "Secret")}
    assert "cr-creditrisk-api-key" not in secrets
    hashes = json.loads(
        base64.b64decode(secrets["cr-creditrisk-api-keys"]["data"]["api-key-hashes"])
    )
    given = yaml.safe_load(ALL_FEATURES.read_text())["auth"]["apiKeyHashes"]
    assert hashes == given


def test_ingress_exposure_with_class() -> None:
    text = template_text(
        extra=(
            "--set",
            "exposure.type=ingress",
            "--set",
            "exposure.ingress.className=traefik",
            "--set",
            "exposure.hostnames[0]=scoring.example.com",
        )
    )
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert not [d for d in docs if d["kind"] == "HTTPRoute"]
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    assert ingress["spec"]["ingressClassName"] == "traefik"
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "scoring.example.com"
    paths = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert paths == {
        "/api/v1/predict": "cr-creditrisk-inference",
        "/api/v1/predict/bulk": "cr-creditrisk-inference",
        "/api/v1/model/info": "cr-creditrisk-inference",
        "/api/v1/jobs": "cr-creditrisk-batch-api",
        "/api/v1/predict/batch": "cr-creditrisk-batch-api",
    }


def test_external_redis_and_mlflow() -> None:
    text = template_text(
        extra=(
            "--set",
            "redis.enabled=false",
            "--set",
            "redis.external.url=redis://r:6379/1",
            "--set",
            "mlflow.enabled=false",
            "--set",
            "mlflow.external.trackingUri=http://mlflow.ml:5000",
            # egress to external servers is never implicit
            "--set-json",
            'networkPolicy.egress.externalRedis=[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8"}}],'
            '"ports":[{"port":6379}]}]',
            "--set-json",
            'networkPolicy.egress.externalMlflow=[{"to":[{"namespaceSelector":{}}],'
            '"ports":[{"port":5000}]}]',
        )
    )
    docs = [d for d in yaml.safe_load_all(text) if d]
    names = {d["metadata"]["name"] for d in docs}
    assert "cr-creditrisk-redis" not in names
    assert "cr-creditrisk-mlflow" not in names
    (inference,) = [
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "cr-creditrisk-inference"
    ]
    env = {
        e["name"]: e.get("value")
        for e in inference["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["INFERENCE_REDIS_URL"] == "redis://r:6379/1"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.ml:5000"


BAD_VALUES = {
    "bad-batch-rate-limit": {"batch": {"api": {"rateLimit": "lots"}}},
    "bad-batch-admin-digest": {"batch": {"adminKeys": {"hashes": ["admin-key"]}}},
    "bad-mlflow-username": {"mlflow": {"auth": {"readerUsername": "reader;drop"}}},
    "unknown-top-level-key": {"replicas": 3},
    "negative-drift-threshold": {"inference": {"drift": {"threshold": -0.1}}},
    "bad-exposure-type": {"exposure": {"type": "loadbalancer"}},
    "bad-digest": {"auth": {"apiKeyHashes": ["not-a-sha256"]}},
    "production-without-keys": {"environment": "production", "auth": {"generateKey": False}},
    "port-out-of-range": {"inference": {"containerPort": 70000}},
    "external-redis-without-url": {"redis": {"enabled": False}},
    "external-mlflow-without-uri": {"mlflow": {"enabled": False}},
    "postgres-without-secret": {"mlflow": {"backendStore": "postgres"}},
    "bad-image-digest": {"image": {"digest": "latest"}},
    "bad-storage-size": {"batch": {"storage": {"size": "lots"}}},
    "bad-access-mode": {"mlflow": {"persistence": {"accessModes": ["ReadWriteSometimes"]}}},
    "bad-prometheus-duration": {"metrics": {"prometheusRule": {"driftFor": "fifteen minutes"}}},
    "typo-in-component": {"inference": {"replicaCont": 2}},
    "bad-log-level": {"logLevel": "verbose"},
    "upstream-idle-not-below-keep-alive": {
        "exposure": {"httpRoute": {"upstreamIdleTimeout": "100s"}}
    },
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_schema_rejects_bad_values(case: str, tmp_path: Path) -> None:
    bad = tmp_path / f"{case}.yaml"
    bad.write_text(yaml.safe_dump(BAD_VALUES[case]))
    proc = helm("template", "cr", str(CHART), "-f", str(bad), check=False)
    assert proc.returncode != 0, f"{case} was accepted"
    assert "schema" in proc.stderr.lower() or "values don't meet" in proc.stderr.lower(), (
        proc.stderr
    )


def test_values_are_documented_field_by_field() -> None:
    """Every leaf of values.yaml has an `## @param` line (bitnami readme-generator style)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    documented = set(re.findall(r"^## @param (\S+)", (CHART / "values.yaml").read_text(), re.M))

    def leaves(node: object, prefix: str = "") -> list[str]:
        if isinstance(node, dict) and node:
            return [leaf for k, v in node.items() for leaf in leaves(v, f"{prefix}{k}.")]
        return [prefix.rstrip(".")]

    missing = [
        leaf
        for leaf in leaves(values)
        if not any(leaf == d or leaf.startswith(d + ".") for d in documented)
    ]
    assert not missing, f"values without @param: {missing}"
    stale = [
        d
        for d in documented
        if not any(leaf == d or leaf.startswith(d + ".") for leaf in leaves(values))
    ]
    assert not stale, f"@param for values that do not exist: {stale}"


def test_crd_copy_equals_the_source() -> None:
    source = REPO / "k8s" / "crd" / "modelrollouts.yaml"
    copy = CHART / "crds" / "modelrollouts.yaml"
    assert copy.exists(), "copy k8s/crd/modelrollouts.yaml to helm/creditrisk/crds/"
    assert copy.read_text() == source.read_text(), (
        "helm/creditrisk/crds/ is stale: cp k8s/crd/modelrollouts.yaml"
    )


def test_plain_manifests_are_rendered_from_the_chart(tmp_path: Path) -> None:
    """k8s/manifests/creditrisk.yaml is `make manifests` output for the current chart."""
    committed = REPO / "k8s" / "manifests" / "creditrisk.yaml"
    text = helm(
        "template",
        "creditrisk",
        str(CHART),
        "--namespace",
        "credit-risk",
        "--include-crds",
        "--skip-tests",
        "-f",
        str(REPO / "k8s" / "manifests" / "values-minimal.yaml"),
    ).stdout
    body = "\n".join(
        line for line in committed.read_text().splitlines() if not line.startswith("# ")
    )
    assert [d for d in yaml.safe_load_all(body) if d] == [
        d for d in yaml.safe_load_all(text) if d
    ], "k8s/manifests/creditrisk.yaml is stale: run `make -f mk/kind.mk manifests`"
    assert "kind: Secret" not in body, "no key material in a committed file"


def container_env(docs: Iterable[Manifest], name: str) -> dict[str, Manifest]:
    """The first container's env entries of Deployment ``name``, by variable name."""
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e for e in env}


def test_batch_api_rate_limit_is_on_by_default_and_counted_in_the_limiter_database() -> None:
    env = container_env(render(None), "cr-creditrisk-batch-api")
    assert env["BATCH_RATE_LIMIT"]["value"] == "10/second;300/minute"
    assert env["REDIS_RATELIMIT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "cr-creditrisk-redis",
        "key": "ratelimit-password",
    }
    url = env["BATCH_RATE_LIMIT_STORAGE_URI"]["value"]
    assert url == "redis://ratelimit:$(REDIS_RATELIMIT_PASSWORD)@cr-creditrisk-redis:6379/1"
    worker = container_env(render(None), "cr-creditrisk-batch-worker")
    assert "BATCH_RATE_LIMIT_STORAGE_URI" not in worker  # workers serve no requests
    assert "REDIS_RATELIMIT_PASSWORD" not in worker

    off = yaml.safe_load_all(template_text(extra=("--set", "batch.api.rateLimit=")))
    env = container_env((d for d in off if d), "cr-creditrisk-batch-api")
    assert env["BATCH_RATE_LIMIT"]["value"] == ""
    assert "BATCH_RATE_LIMIT_STORAGE_URI" not in env
    assert "REDIS_RATELIMIT_PASSWORD" not in env


def test_batch_admin_key_digests_reach_the_job_api_only(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = render(ALL_FEATURES)
    secrets = {s["metadata"]["name"]: s for s in by_kind(docs, "Secret")}
    stored = base64.b64decode(secrets["cr-creditrisk-batch-admin-keys"]["data"]["admin-key-hashes"])
    given = yaml.safe_load(ALL_FEATURES.read_text())["batch"]["adminKeys"]["hashes"]
    assert json.loads(stored) == given
    env = container_env(docs, "cr-creditrisk-batch-api")
    assert env["BATCH_ADMIN_KEY_HASHES"]["valueFrom"]["secretKeyRef"] == {
        "name": "cr-creditrisk-batch-admin-keys",
        "key": "admin-key-hashes",
    }
    assert "BATCH_ADMIN_KEY_HASHES" not in container_env(docs, "cr-creditrisk-batch-worker")
    for name, spec in pod_specs(docs):  # the digests are only in the Secret
        assert given[0] not in json.dumps(spec), name

    # the Secret's value is what the service reads from that variable
    from services.batch.settings import BatchSettings

    monkeypatch.setenv("BATCH_ADMIN_KEY_HASHES", stored.decode())
    assert BatchSettings().admin_ids == {given[0][:12]}

    default = render(None)
    assert "cr-creditrisk-batch-admin-keys" not in {
        s["metadata"]["name"] for s in by_kind(default, "Secret")
    }
    assert "BATCH_ADMIN_KEY_HASHES" not in container_env(default, "cr-creditrisk-batch-api")

    text = template_text(
        extra=(
            "--set",
            "batch.adminKeys.existingSecret=desk-admins",
            "--set",
            "batch.adminKeys.existingSecretKey=digests",
        )
    )
    docs = tuple(d for d in yaml.safe_load_all(text) if d)
    assert "cr-creditrisk-batch-admin-keys" not in {
        s["metadata"]["name"] for s in by_kind(docs, "Secret")
    }
    env = container_env(docs, "cr-creditrisk-batch-api")
    assert env["BATCH_ADMIN_KEY_HASHES"]["valueFrom"]["secretKeyRef"] == {
        "name": "desk-admins",
        "key": "digests",
    }


def secret_refs(env: dict[str, Manifest]) -> dict[str, tuple[str, str]]:
    return {
        name: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for name, e in env.items()
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def container(docs: Iterable[Manifest], kind: str, name: str) -> Manifest:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return dict(doc["spec"]["template"]["spec"]["containers"][0])


def test_mlflow_runs_basic_auth_and_each_workload_gets_its_identity() -> None:
    docs = render(None)
    secret = "cr-creditrisk-mlflow-auth"
    (stored,) = [s for s in by_kind(docs, "Secret") if s["metadata"]["name"] == secret]
    keys = {"admin-password", "reader-password", "writer-password", "flask-secret-key"}
    assert set(stored["data"]) == keys
    assert all(len(base64.b64decode(v)) >= 32 for v in stored["data"].values())

    mlflow = container(docs, "Deployment", "cr-creditrisk-mlflow")
    assert mlflow["command"] == ["sh", "-c"]
    assert "exec mlflow server --app-name basic-auth" in mlflow["args"][0]
    assert "python -m services.trainer.mlflow_auth" in mlflow["args"][0]
    env = {e["name"]: e for e in mlflow["env"]}
    assert {k for _, k in secret_refs(env).values()} == keys
    assert env["MLFLOW_AUTH_MODEL"]["value"] == "credit-default"

    identities = {
        ("Deployment", "cr-creditrisk-inference"): ("creditrisk-reader", "reader-password"),
        ("Deployment", "cr-creditrisk-batch-api"): ("creditrisk-reader", "reader-password"),
        ("Deployment", "cr-creditrisk-batch-worker"): ("creditrisk-reader", "reader-password"),
        ("Job", "cr-creditrisk-trainer"): ("creditrisk-writer", "writer-password"),
        ("Deployment", "cr-creditrisk-controller"): ("creditrisk-writer", "writer-password"),
    }
    for (kind, name), (user, key) in identities.items():
        env = {e["name"]: e for e in container(docs, kind, name)["env"]}
        assert env["MLFLOW_TRACKING_USERNAME"]["value"] == user, name
        assert secret_refs(env)["MLFLOW_TRACKING_PASSWORD"] == (secret, key), name
        assert [k for s, k in secret_refs(env).values() if s == secret] == [key], name


def test_mlflow_auth_existing_secret_and_off() -> None:
    text = template_text(extra=("--set", "mlflow.auth.existingSecret=mlflow-people"))
    docs = tuple(d for d in yaml.safe_load_all(text) if d)
    assert "cr-creditrisk-mlflow-auth" not in {
        s["metadata"]["name"] for s in by_kind(docs, "Secret")
    }
    env = {e["name"]: e for e in container(docs, "Deployment", "cr-creditrisk-inference")["env"]}
    assert secret_refs(env)["MLFLOW_TRACKING_PASSWORD"] == ("mlflow-people", "reader-password")

    text = template_text(extra=("--set", "mlflow.auth.enabled=false"))
    docs = tuple(d for d in yaml.safe_load_all(text) if d)
    assert "cr-creditrisk-mlflow-auth" not in {
        s["metadata"]["name"] for s in by_kind(docs, "Secret")
    }
    assert container(docs, "Deployment", "cr-creditrisk-mlflow")["command"] == ["mlflow", "server"]
    for kind, name in (("Deployment", "cr-creditrisk-inference"), ("Job", "cr-creditrisk-trainer")):
        names = {e["name"] for e in container(docs, kind, name)["env"]}
        assert not {
            n for n in names if n.startswith("MLFLOW_TRACKING_") and n != "MLFLOW_TRACKING_URI"
        }


MAP_API = "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy"


def test_action_by_policy_renders_only_where_the_cluster_serves_its_api() -> None:
    assert "MutatingAdmissionPolicy" not in template_text()
    watched = "controller.watchNamespaces={credit-risk,scoring}"
    text = template_text(extra=("--api-versions", MAP_API, "--set", watched))
    docs = [d for d in yaml.safe_load_all(text) if d]
    (policy,) = by_kind(tuple(docs), "MutatingAdmissionPolicy")
    (binding,) = by_kind(tuple(docs), "MutatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    (selector,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert selector["values"] == ["credit-risk", "scoring"]
    plain = list(yaml.safe_load_all((REPO / "k8s" / "admission" / "action-by.yaml").read_text()))
    assert policy["spec"] == plain[0]["spec"], "k8s/admission/action-by.yaml drifted from the chart"
    off = ("--api-versions", MAP_API, "--set", "controller.actionByPolicy.enabled=false")
    assert "MutatingAdmissionPolicy" not in template_text(extra=off)


BTP_API = "gateway.envoyproxy.io/v1alpha1/BackendTrafficPolicy"


def test_envoy_gateway_drops_idle_upstream_connections_before_the_services_do() -> None:
    assert "BackendTrafficPolicy" not in template_text(), "rendered without Envoy Gateway's API"
    docs = tuple(
        d for d in yaml.safe_load_all(template_text(extra=("--api-versions", BTP_API))) if d
    )
    (policy,) = by_kind(docs, "BackendTrafficPolicy")
    routes = {r["metadata"]["name"] for r in by_kind(docs, "HTTPRoute")}
    assert {ref["name"] for ref in policy["spec"]["targetRefs"]} == routes
    assert {ref["kind"] for ref in policy["spec"]["targetRefs"]} == {"HTTPRoute"}
    idle = policy["spec"]["timeout"]["http"]["connectionIdleTimeout"]
    seconds = int(re.fullmatch(r"(\d+)s", idle).group(1))  # type: ignore[union-attr]
    assert seconds < KEEP_ALIVE_SECONDS, (idle, KEEP_ALIVE_SECONDS)
    off = ("--api-versions", BTP_API, "--set", "exposure.httpRoute.upstreamIdleTimeout=")
    assert "BackendTrafficPolicy" not in template_text(extra=off)
    ingress = ("--api-versions", BTP_API, "--set", "exposure.type=ingress")
    assert "BackendTrafficPolicy" not in template_text(extra=ingress)
