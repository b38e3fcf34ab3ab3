"""Every rendered profile against a real kube-apiserver + etcd (oldest and newest supported Kubernetes).

The API server does what JSON schemas cannot: defaulting, CEL rules, selector/template matching, request <=
limit, Job restartPolicy, CRD structural schemas with Strict field validation. The operators' CRDs are
installed by server-side apply first (the spark-operator's exceed the client-side annotation limit).
Objects of a kind whose CRD cannot be obtained here (the Altinity operator's: its chart repository is not
reachable from every network) are reported as skipped, by name, never as accepted.

The binaries are built from the Go module proxy on the first run (k8s_binaries.py; about 2.5 min for etcd
and 10 min per kube-apiserver on 2 cores) and cached under $ARGOS_CACHE_DIR/k8s/.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
import yaml
from k8s_apiserver import Cluster, install_crds, namespace, running_cluster
from k8s_binaries import etcd_binary, kubernetes_binaries, pins
from renders import (
    ALTINITY_KINDS,
    CHART,
    PROFILES,
    ROOT,
    crd_files,
    declared_unchecked,
    helm,
    objects,
    render,
)

PINS = pins()
VERSIONS = PINS["KUBERNETES_APISERVER_VERSIONS"].split()
# Building both API servers on a cold cache takes ~25 min on 2 cores: the first test's timeout covers it.
pytestmark = pytest.mark.timeout(3600)


@pytest.fixture(scope="session", params=VERSIONS, ids=lambda v: f"k8s-{v}")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    etcd = etcd_binary(PINS["ETCD_VERSION"])
    binaries = kubernetes_binaries(request.param)
    with running_cluster(request.param, binaries, etcd, tmp_path_factory.mktemp(f"k8s-{request.param}")) as c:
        install_crds(c, crd_files())
        yield c


def altinity_crds_present() -> bool:
    return bool(crd_files()["altinity"])


def split(profile: str, ns: str) -> tuple[list[dict], list[dict]]:
    """(objects the API server can check here, objects of kinds whose CRD is missing)."""
    objs = objects(render(profile, ns))
    if altinity_crds_present():
        return objs, []
    return [o for o in objs if o["kind"] not in ALTINITY_KINDS], [o for o in objs if o["kind"] in ALTINITY_KINDS]


def ref(o: dict) -> str:
    return f"{o['kind']}/{o['metadata']['name']}"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_profile_is_accepted(cluster: Cluster, profile: str) -> None:
    ns = namespace(cluster, f"p-{profile}")
    checked, _ = split(profile, ns)
    platform = (ROOT / "charts" / "platform" / "grafana-sidecar-role.yaml").read_text()
    manifest = yaml.safe_dump_all(checked) + "---\n" + platform
    done = cluster.apply(manifest, ns)
    assert done.returncode == 0, f"{profile} refused by Kubernetes {cluster.version}:\n{done.stderr}"
    stored = cluster.kubectl("get", "-n", ns, "-f", "-", "-o", "name", stdin=manifest).stdout.split()
    assert len(stored) == len(checked) + 1, stored
    kinds = {o["kind"] for o in checked}
    assert {"Deployment", "Job", "SparkApplication", "NetworkPolicy"} & kinds, kinds


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "external"])
def test_clickhouse_objects_of_profile(cluster: Cluster, profile: str) -> None:
    """Accepted when the Altinity CRDs are here; otherwise skipped with the name of every unchecked object."""
    ns = namespace(cluster, f"p-{profile}")
    objs = [o for o in objects(render(profile, ns)) if o["kind"] in ALTINITY_KINDS]
    assert objs, f"{profile} renders no ClickHouseInstallation"
    if not altinity_crds_present():
        undeclared = {o["kind"] for o in objs} - declared_unchecked()
        assert not undeclared, f"no CRDs for {sorted(undeclared)} and the gap is not declared (ARGOS_UNCHECKED_KINDS)"
        pytest.skip(
            f"NOT CHECKED on Kubernetes {cluster.version} (Altinity CRDs not obtainable here): "
            + ", ".join(ref(o) for o in objs)
        )
    done = cluster.apply(yaml.safe_dump_all(objs), ns)
    assert done.returncode == 0, done.stderr


def _dev() -> list[dict]:
    return objects(render("dev-networkpolicies", "broken"))


def _one(objs: list[dict], kind: str, component: str | None = None) -> dict:
    for o in objs:
        labels = o["metadata"].get("labels") or {}
        if o["kind"] == kind and (component is None or labels.get("app.kubernetes.io/component") == component):
            return o
    raise AssertionError(f"no {kind} {component or ''} in the render")


def _selector_mismatch(objs: list[dict]) -> dict:
    d = _one(objs, "Deployment", "ingest")
    d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "not-ingest"
    return d


def _request_above_limit(objs: list[dict]) -> dict:
    d = _one(objs, "Deployment", "ingest")
    d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "4"
    return d


def _job_restart_always(objs: list[dict]) -> dict:
    j = _one(objs, "Job", "schema")
    j["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    return j


def _spark_unknown_type(objs: list[dict]) -> dict:
    s = _one(objs, "SparkApplication")
    s["spec"]["type"] = "Cobol"
    return s


def _spark_unknown_field(objs: list[dict]) -> dict:
    s = _one(objs, "SparkApplication")
    s["spec"]["driver"]["coreLimitz"] = "1"
    return s


def _topic_partitions_text(objs: list[dict]) -> dict:
    t = _one(objs, "KafkaTopic")
    t["spec"]["partitions"] = "three"
    return t


def _kafka_unknown_listener_field(objs: list[dict]) -> dict:
    k = _one(objs, "Kafka")
    k["spec"]["kafka"]["listeners"][0]["tlz"] = False
    return k


def _networkpolicy_bad_port(objs: list[dict]) -> dict:
    n = _one(objs, "NetworkPolicy")
    n["spec"]["ingress"][0]["ports"][0]["port"] = 70000
    return n


def _pvc_without_size(objs: list[dict]) -> dict:
    p = _one(objs, "PersistentVolumeClaim")
    del p["spec"]["resources"]["requests"]["storage"]
    return p


BROKEN: dict[str, tuple[Callable[[list[dict]], dict], str]] = {
    "deployment-selector-mismatch": (_selector_mismatch, "selector` does not match template `labels`"),
    "request-above-limit": (_request_above_limit, "must be less than or equal to cpu limit"),
    "job-restart-always": (_job_restart_always, "spec.template.spec.restartPolicy"),
    "spark-unknown-type": (_spark_unknown_type, "spec.type"),
    "spark-unknown-field": (_spark_unknown_field, "coreLimitz"),
    "kafkatopic-partitions-text": (_topic_partitions_text, "spec.partitions"),
    "kafka-unknown-listener-field": (_kafka_unknown_listener_field, "tlz"),
    "networkpolicy-port-out-of-range": (_networkpolicy_bad_port, "70000"),
    "pvc-without-size": (_pvc_without_size, "storage"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_render_is_rejected(cluster: Cluster, case: str) -> None:
    ns = namespace(cluster, "broken")
    objs = _dev()
    mutate, message = BROKEN[case]
    original = copy.deepcopy(mutate(copy.deepcopy(objs)))  # locate the object ...
    intact = next(o for o in objs if ref(o) == ref(original))  # ... and its unbroken form
    ok = cluster.apply(yaml.safe_dump(intact), ns, dry_run=True)
    assert ok.returncode == 0, f"the intact {ref(intact)} must pass first:\n{ok.stderr}"
    done = cluster.apply(yaml.safe_dump(original), ns, dry_run=True)
    assert done.returncode != 0, f"{case}: Kubernetes {cluster.version} accepted a broken {ref(original)}"
    assert message in done.stderr, f"{case}: rejected for another reason:\n{done.stderr}"


def test_crds_installed_by_server_side_apply(cluster: Cluster) -> None:
    names = set(cluster.kubectl("get", "crd", "-o", "name").stdout.split())
    for crd in ("kafkas.kafka.strimzi.io", "kafkanodepools.kafka.strimzi.io", "kafkatopics.kafka.strimzi.io",
                "sparkapplications.sparkoperator.k8s.io"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{crd}" in names, names
    version = cluster.kubectl("version", "-o", "yaml").stdout
    assert f"gitVersion: v{cluster.version}" in version, version


def run_helm(c: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(helm()), "--kubeconfig", str(c.kubeconfig), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def users_secret(c: Cluster, ns: str, key: str = "password") -> None:
    """The external profile's clickhouse.auth.existingSecret, made by the user before the install."""
    done = c.apply(f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: clickhouse-credentials\n  namespace: {ns}\n"
                   f"stringData:\n  {key}: not-a-real-one\n")
    assert done.returncode == 0, done.stderr


def test_a_secret_the_user_brings_must_exist_before_the_install(cluster: Cluster) -> None:
    """Without it the Altinity operator silently leaves the user without a password; helm refuses instead."""
    ns = namespace(cluster, "bring-secret")
    args = ["install", "argos", str(CHART), "--namespace", ns, *PROFILES["external"][1], "--dry-run=server"]
    missing = run_helm(cluster, *args)
    assert missing.returncode != 0 and 'no Secret "clickhouse-credentials" in namespace' in missing.stderr, missing
    users_secret(cluster, ns, key="passwd")
    wrong_key = run_helm(cluster, *args)
    assert wrong_key.returncode != 0 and 'has no key "password"' in wrong_key.stderr, wrong_key
    assert run_helm(cluster, *args, "--set", "clickhouse.auth.passwordKey=passwd").returncode == 0


def test_helm_install_and_upgrade(cluster: Cluster) -> None:
    """helm itself against the API server: --dry-run=server (lookups, kinds known, hooks rendered), then a real
    install and upgrade (hooks skipped: no Job controller runs here). The external profile has no CRs whose CRD
    may be missing, so every object of it is created for real."""
    ns = namespace(cluster, "helm")
    users_secret(cluster, ns)
    args = ["argos", str(CHART), "--namespace", ns, *PROFILES["external"][1]]
    dry = run_helm(cluster, "install", *args, "--dry-run=server")
    assert dry.returncode == 0, dry.stderr
    assert "helm.sh/hook: post-install,post-upgrade" in dry.stdout, dry.stdout[-2000:]
    for verb in ("install", "upgrade"):
        done = run_helm(cluster, verb, *args, "--no-hooks", "--timeout", "60s")
        assert done.returncode == 0, f"helm {verb}: {done.stderr}"
    status = run_helm(cluster, "status", "argos", "--namespace", ns)
    assert "STATUS: deployed" in status.stdout and "REVISION: 2" in status.stdout, status.stdout
    deployments = cluster.kubectl("get", "deployment", "-n", ns, "-o", "name").stdout.split()
    assert deployments == ["deployment.apps/argos-ingest"], deployments


def test_helm_install_runs_the_schema_hook_after_the_workloads(cluster: Cluster) -> None:
    """A real `helm install` with hooks: the post-install Job is created only after the release's objects, and
    the install completes when the Job does. No Job controller runs here, so the test writes the Job's status
    the way the controller would (start, success criteria met, complete)."""
    ns = namespace(cluster, "hooks")
    users_secret(cluster, ns)
    cmd = [str(helm()), "--kubeconfig", str(cluster.kubeconfig), "install", "argos", str(CHART), "--namespace", ns,
           *PROFILES["external"][1], "--timeout", "120s"]  # fmt: skip
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 90
        while not cluster.kubectl("get", "job", "-n", ns, "-o", "name", check=False).stdout.strip():
            assert proc.poll() is None, f"helm ended before creating the hook Job: {proc.communicate()}"
            assert time.monotonic() < deadline, "no hook Job after 90 s"
            time.sleep(0.5)
        job = cluster.kubectl("get", "job", "-n", ns, "-o", "name").stdout.split()
        assert job == ["job.batch/argos-schema"], job
        # The workloads were created before the hook.
        assert cluster.kubectl("get", "deployment", "argos-ingest", "-n", ns, check=False).returncode == 0
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = {
            "status": {
                "startTime": now,
                "completionTime": now,
                "succeeded": 1,
                "conditions": [
                    {"type": t, "status": "True", "lastProbeTime": now, "lastTransitionTime": now}
                    for t in ("SuccessCriteriaMet", "Complete")
                ],
            }
        }
        cluster.kubectl("patch", "job", "argos-schema", "-n", ns, "--subresource=status", "--type=merge",
                        "-p", json.dumps(status))  # fmt: skip
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "STATUS: deployed" in out, out
    # hook-delete-policy hook-succeeded: the Job is gone once it succeeded.
    deadline = time.monotonic() + 30
    while cluster.kubectl("get", "job", "-n", ns, "-o", "name").stdout.strip() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not cluster.kubectl("get", "job", "-n", ns, "-o", "name").stdout.strip()
