"""The Kubernetes manifests (deploy/k8s) hold what the production set-up needs.

Parsed with PyYAML; no cluster. The measured figures the manifests rest on are in
docs/scaling.md; the ones the checks use are repeated here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional
from urllib.parse import urlparse

import pytest
import yaml

from bot.settings import PROJECT_ROOT, load_settings

K8S = PROJECT_ROOT / "deploy" / "k8s"

# Measured on the production set-up here (docs/scaling.md, `make loadtest`).
RASA_START_S = 60  # slowest start seen: two replicas loading at once on 2 shared cores
RASA_RSS_MIB = 1200  # resident memory after a 10-minute soak, rounded up
ACTIONS_RSS_MIB = 60

SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|DATABASE_URL|API_KEY|PRIVATE", re.IGNORECASE)
CHART_DEFAULTS = ("rasaToken", "rasaXToken", "changeme", "password123")


def documents() -> List[Dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return docs


def of_kind(kind: str) -> List[Dict[str, Any]]:
    return [doc for doc in documents() if doc.get("kind") == kind]


def named(kind: str, name: str) -> Dict[str, Any]:
    found = [doc for doc in of_kind(kind) if doc["metadata"]["name"] == name]
    assert found, f"no {kind} named {name} in deploy/k8s"
    return found[0]


def pod_spec(workload: Dict[str, Any]) -> Dict[str, Any]:
    return dict(workload["spec"]["template"]["spec"])


def containers(workload: Dict[str, Any]) -> List[Dict[str, Any]]:
    return list(pod_spec(workload)["containers"])


def workloads() -> Iterator[Dict[str, Any]]:
    yield from of_kind("Deployment")
    yield from of_kind("Job")


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(quantity))
    assert match, f"memory quantity {quantity!r}"
    return float(match.group(1)) * (units[match.group(2)] if match.group(2) else 1 / 2**20)


def cores(quantity: str) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def probe_window_s(probe: Dict[str, Any]) -> int:
    return int(probe.get("initialDelaySeconds", 0)) + (
        int(probe.get("periodSeconds", 10)) * int(probe.get("failureThreshold", 3)))


def clinic_host() -> str:
    host = urlparse(str(load_settings().clinic["booking_url"])).hostname or ""
    return host.removeprefix("www.")


def rasa() -> Dict[str, Any]:
    return containers(named("Deployment", "clinic-rasa"))[0]


def actions() -> Dict[str, Any]:
    return containers(named("Deployment", "clinic-actions"))[0]


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_rasa_and_actions_run_as_deployments_behind_services() -> None:
    services = of_kind("Service")
    for deployment in of_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for service in services:
        matching = [d for d in of_kind("Deployment") if service["spec"]["selector"].items()
                    <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert matching, f"Service {service['metadata']['name']} selects no Deployment's pods"
        port_names = {p.get("name") for c in containers(matching[0]) for p in c.get("ports", [])}
        port_numbers = {p["containerPort"] for c in containers(matching[0]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names | port_numbers
    assert {s["metadata"]["name"] for s in services} >= {"clinic-rasa-headless", "clinic-actions"}


def test_every_container_has_requests_and_limits() -> None:
    for workload in workloads():
        for container in containers(workload):
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), (
                    f"{workload['metadata']['name']}/{container['name']} lacks {kind}")
            assert mebibytes(resources["limits"]["memory"]) >= mebibytes(resources["requests"]["memory"])
            assert cores(resources["limits"]["cpu"]) >= cores(resources["requests"]["cpu"])


def test_rasa_resources_cover_the_measured_memory_and_a_core() -> None:
    resources = rasa()["resources"]
    assert mebibytes(resources["requests"]["memory"]) >= RASA_RSS_MIB
    assert mebibytes(resources["limits"]["memory"]) >= 1.25 * RASA_RSS_MIB, "no headroom: OOM kills"
    assert cores(resources["requests"]["cpu"]) >= 1, "one Rasa process keeps a core busy at load"
    assert mebibytes(actions()["resources"]["requests"]["memory"]) >= ACTIONS_RSS_MIB


def test_rasas_tensorflow_threads_fit_the_pods_cpu_request() -> None:
    """TensorFlow sizes its thread pools by the node's cores unless told; pods share nodes."""
    from bot.deploy.prod import TF_THREAD_SETTINGS

    container = rasa()
    env = {item["name"]: item.get("value") for item in container.get("env") or []}
    request = cores(container["resources"]["requests"]["cpu"])
    for name in TF_THREAD_SETTINGS:
        assert name in env, f"{name} is not set: TensorFlow would use every core of the node"
        assert 1 <= int(env[name]) <= request


def test_probes_allow_for_rasas_slow_start() -> None:
    container = rasa()
    startup = container["startupProbe"]
    assert probe_window_s(startup) >= 3 * RASA_START_S, "a slow start would be killed"
    assert startup["httpGet"]["path"] == "/webhooks/rest/"
    assert container["readinessProbe"]["httpGet"]["path"] == "/webhooks/rest/"
    # Liveness must not kill a replica whose event loop is busy for a few seconds.
    assert probe_window_s(container["livenessProbe"]) >= 30
    assert container["livenessProbe"].get("timeoutSeconds", 1) >= 3


def test_every_long_running_container_has_readiness_and_liveness_on_its_own_ports() -> None:
    for deployment in of_kind("Deployment"):
        for container in containers(deployment):
            ports = {p.get("name") for p in container["ports"]} | {
                p["containerPort"] for p in container["ports"]}
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{deployment['metadata']['name']} has no {probe}"
                assert container[probe]["httpGet"]["port"] in ports


def _env_value_sources(container: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    yield from container.get("env", [])


def test_secrets_come_from_secret_objects_and_no_file_holds_one() -> None:
    for secret in of_kind("Secret"):
        assert not secret.get("data") and not secret.get("stringData"), "a Secret with values"
    referenced = set()
    for workload in workloads():
        for container in containers(workload):
            for variable in _env_value_sources(container):
                if SECRET_NAME.search(variable["name"]):
                    reference = variable.get("valueFrom", {}).get("secretKeyRef")
                    assert reference and "value" not in variable, (
                        f"{variable['name']} in {workload['metadata']['name']} is not from a Secret")
                    referenced.add(reference["name"])
    assert referenced == {"clinic-secrets"}
    for config_map in of_kind("ConfigMap"):
        for key, value in config_map.get("data", {}).items():
            assert not SECRET_NAME.search(key), f"ConfigMap key {key} looks like a secret"
            for line in str(value).splitlines():
                if re.match(r"\s*(password|token|secret)\s*:", line, re.IGNORECASE):
                    assert re.search(r":\s*\$\{[A-Z_]+\}\s*$", line), f"literal secret: {line!r}"
    text = "\n".join(p.read_text() for p in K8S.glob("*.yaml"))
    assert not [word for word in CHART_DEFAULTS if word in text]


def test_cors_is_limited_to_the_clinics_origins() -> None:
    args = rasa()["args"]
    origins = args[args.index("--cors") + 1:]
    origins = origins[: next((i for i, a in enumerate(origins) if a.startswith("--")), len(origins))]
    assert origins, "no origin after --cors"
    for origin in origins:
        parsed = urlparse(origin)
        assert parsed.scheme == "https" and "*" not in origin
        assert (parsed.hostname or "").removeprefix("www.") == clinic_host(), origin


def test_rasa_scales_horizontally_from_two_replicas() -> None:
    autoscaler = named("HorizontalPodAutoscaler", "clinic-rasa")
    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "clinic-rasa"}
    assert autoscaler["spec"]["minReplicas"] >= 2
    assert autoscaler["spec"]["maxReplicas"] > autoscaler["spec"]["minReplicas"]
    metric = autoscaler["spec"]["metrics"][0]["resource"]
    assert metric["name"] == "cpu" and 0 < metric["target"]["averageUtilization"] <= 80


def _policy_for(labels: Dict[str, str]) -> Optional[Dict[str, Any]]:
    for policy in of_kind("NetworkPolicy"):
        if policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items():
            return policy
    return None


def test_only_rasa_reaches_the_action_server() -> None:
    action_labels = named("Deployment", "clinic-actions")["spec"]["template"]["metadata"]["labels"]
    rasa_labels = named("Deployment", "clinic-rasa")["spec"]["template"]["metadata"]["labels"]
    policy = _policy_for(action_labels)
    assert policy is not None, "no NetworkPolicy selects the action server's pods"
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    action_ports = {p["containerPort"] for p in actions()["ports"]}
    for rule in policy["spec"]["ingress"]:
        assert rule["from"], "an ingress rule without 'from' admits everyone"
        for peer in rule["from"]:
            assert set(peer) == {"podSelector"}, f"admits more than pods: {peer}"
            assert peer["podSelector"]["matchLabels"].items() <= rasa_labels.items()
            assert not peer["podSelector"]["matchLabels"].items() <= action_labels.items()
        assert {p["port"] for p in rule["ports"]} <= action_ports


def test_rasa_talks_to_the_action_service_and_locks_with_the_atomic_store() -> None:
    files = named("ConfigMap", "clinic-rasa-files")["data"]
    endpoints = yaml.safe_load(files["endpoints.yml"])
    action_url = urlparse(endpoints["action_endpoint"]["url"])
    service = named("Service", action_url.hostname or "")
    assert action_url.port in {p["port"] for p in service["spec"]["ports"]}
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    module, _, name = endpoints["lock_store"]["type"].rpartition(".")
    assert module == "bot.runtime.locks" and name == "AtomicRedisLockStore"
    mounted = {m["mountPath"] for m in rasa()["volumeMounts"]}
    assert any(arg.startswith(tuple(mounted)) for arg in rasa()["args"] if arg.endswith("endpoints.yml"))


def haproxy_config() -> str:
    return str(named("ConfigMap", "clinic-haproxy")["data"]["haproxy.cfg"])


def test_haproxy_sends_one_conversation_to_one_rasa_pod_and_checks_health() -> None:
    config = haproxy_config()
    assert "json_query('$.sender')" in config and "balance hash var(txn.sender)" in config
    assert "hash-type consistent" in config and "option http-buffer-request" in config
    weight = re.search(r"default-server .*\bweight (\d+)", config)
    assert weight and int(weight.group(1)) >= 32, "weight 1 splits two pods 65/35 on the hash ring"
    assert "option httpchk GET /webhooks/rest/" in config
    headless = named("Service", "clinic-rasa-headless")
    assert headless["spec"]["clusterIP"] == "None"
    port = headless["spec"]["ports"][0]["port"]
    assert re.search(rf"server-template \w+ \d+ clinic-rasa-headless\.clinic\.svc\.cluster\.local:{port}",
                     config)


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed (make run-prod installs it)")
def test_haproxy_accepts_the_kubernetes_configuration(tmp_path: Path) -> None:
    config = haproxy_config()
    version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True, check=True).stdout
    major_minor = tuple(int(n) for n in re.search(r"version (\d+)\.(\d+)", version).groups())  # type: ignore[union-attr]
    if major_minor < (2, 8):  # the image runs 2.8; hash-key is its only newer keyword here
        config = config.replace(" hash-key addr-port", "")
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    check = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_no_pod_writes_or_mounts_world_readable_files() -> None:
    """Issue 16: every pod has an fsGroup and every configMap/secret volume is 0440 or less."""
    pods = [doc["spec"]["template"]["spec"] for doc in documents()
            if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet")]
    pods += [doc["spec"]["template"]["spec"] for doc in of_kind("Job")]
    assert pods
    for pod in pods:
        assert pod["securityContext"].get("fsGroup"), pod["containers"][0]["name"]
        for volume in pod.get("volumes") or []:
            source = volume.get("configMap") or volume.get("secret")
            if source is not None:
                mode = source.get("defaultMode")
                assert mode is not None and mode & 0o007 == 0, (volume["name"], mode)


def test_the_image_runs_every_process_with_umask_077() -> None:
    dockerfile = (PROJECT_ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    entrypoint = next(line for line in dockerfile.splitlines() if line.startswith("ENTRYPOINT"))
    assert "umask 077" in entrypoint and 'exec \\"$@\\"' in entrypoint
    for doc in documents():
        if doc.get("kind") in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container.get("image") == "clinic-assistant" and container.get("command"):
                    assert "umask 077" in " ".join(container["command"]), container["name"]
