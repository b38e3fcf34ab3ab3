"""The kubeflow spark-operator's controller (pinned version, built from the Go module proxy) against the real
API server: our SparkApplication must become a driver pod whose spec carries the checkpoint volume, the
environment, the security context and the resources we expect.

The controller runs spark-submit (pyspark's, this machine's Java) in cluster mode against the API server, as
it does in its own pod; with no kubelet the driver pod stays Pending, which is enough to read what was asked
for. Runs on the newest supported Kubernetes only (the acceptance of every object on both versions is
test_apiserver.py's job). The first run builds the controller (a few minutes; cached).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from k8s_apiserver import Cluster, install_crds, namespace, running_cluster
from k8s_binaries import etcd_binary, kubernetes_binaries, pins, spark_operator_binary
from renders import ALTINITY_KINDS, crd_files, objects, render

PINS = pins()
NEWEST = PINS["KUBERNETES_APISERVER_VERSIONS"].split()[-1]
NS = "spark"
pytestmark = pytest.mark.timeout(3600)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    etcd = etcd_binary(PINS["ETCD_VERSION"])
    binaries = kubernetes_binaries(NEWEST)
    with running_cluster(NEWEST, binaries, etcd, tmp_path_factory.mktemp("spark-operator-k8s")) as c:
        install_crds(c, crd_files())
        yield c


def java_home() -> str:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    assert java, "java is required (the controller runs spark-submit)"
    return str(Path(java).resolve().parents[1])


@pytest.fixture(scope="module")
def submitted(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The dev profile applied, the controller running until the driver pod exists; yields the objects."""
    import pyspark

    operator = spark_operator_binary(PINS["SPARK_OPERATOR_VERSION"])
    namespace(cluster, NS)
    objs = [o for o in objects(render("dev", NS)) if o["kind"] not in ALTINITY_KINDS]
    done = cluster.apply(yaml.safe_dump_all(objs), NS)
    assert done.returncode == 0, done.stderr
    app = next(o for o in objs if o["kind"] == "SparkApplication")
    log = tmp_path_factory.mktemp("spark-operator") / "controller.log"
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": cluster.url.rsplit(":", 1)[1],
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "JAVA_HOME": java_home(),
    }
    cmd = [str(operator), "controller", "start", f"--namespaces={NS}", "--leader-election=false",
           "--metrics-bind-address=0", "--health-probe-bind-address=0",  # "0": not served (controller-runtime)
           "--enable-ui-service=true"]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    driver = f"{app['metadata']['name']}-driver"
    try:
        deadline = time.monotonic() + 240
        while cluster.kubectl("get", "pod", driver, "-n", NS, check=False).returncode != 0:
            assert proc.poll() is None, f"the controller exited:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"no driver pod after 240 s:\n{log.read_text()[-4000:]}"
            time.sleep(1)
        yield {
            "objects": objs,
            "app": app,
            "pod": json.loads(cluster.kubectl("get", "pod", driver, "-n", NS, "-o", "json").stdout),
            "log": log,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _component(objs: list[dict], kind: str, component: str) -> dict:
    return next(
        o for o in objs if o["kind"] == kind and o["metadata"]["labels"]["app.kubernetes.io/component"] == component
    )


def test_driver_pod_has_our_identity_and_security(submitted: dict) -> None:
    pod, app = submitted["pod"], submitted["app"]
    labels = pod["metadata"]["labels"]
    assert app["spec"]["driver"]["labels"].items() <= labels.items(), labels
    assert labels["spark-role"] == "driver" and labels["sparkoperator.k8s.io/app-name"] == app["metadata"]["name"]
    spec = pod["spec"]
    assert spec["serviceAccountName"] == app["spec"]["driver"]["serviceAccount"]
    assert spec["securityContext"]["runAsUser"] == 185 and spec["securityContext"]["runAsNonRoot"] is True
    container = next(c for c in spec["containers"] if c["name"] == "spark-kubernetes-driver")
    assert container["image"] == app["spec"]["image"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["args"][0] == "driver", container["args"]  # the image's entrypoint contract


def test_driver_pod_mounts_the_checkpoint_claim(submitted: dict) -> None:
    pod = submitted["pod"]
    pvc = _component(submitted["objects"], "PersistentVolumeClaim", "spark")["metadata"]["name"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["checkpoints"]["persistentVolumeClaim"]["claimName"] == pvc, volumes
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "spark-kubernetes-driver")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["checkpoints"] == "/checkpoints", mounts


def test_driver_pod_environment_and_resources(submitted: dict) -> None:
    pod = submitted["pod"]
    secret = _component(submitted["objects"], "Secret", "clickhouse")["metadata"]["name"]
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "spark-kubernetes-driver")
    env = {e["name"]: e for e in container["env"]}
    assert env["ARGOS_SPARK__CHECKPOINT_DIR"]["value"] == "/checkpoints"
    assert env["ARGOS_SPARK__SHUFFLE_PARTITIONS"]["value"] == "2"
    assert env["ARGOS_SPARK__SOURCE"]["value"] == "kafka"
    assert env["ARGOS_CLICKHOUSE__PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "password"}
    # 512m heap + 384m overhead, as requested and limit; a quarter core requested, one as the limit.
    assert container["resources"]["limits"]["memory"] == "896Mi", container["resources"]
    assert container["resources"]["requests"]["cpu"] == "250m", container["resources"]
    assert container["resources"]["limits"]["cpu"] == "1", container["resources"]


def test_application_is_submitted(cluster: Cluster, submitted: dict) -> None:
    name = submitted["app"]["metadata"]["name"]
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        app = json.loads(cluster.kubectl("get", "sparkapplication", name, "-n", NS, "-o", "json").stdout)
        state = app.get("status", {}).get("applicationState", {}).get("state", "")
        if state in ("SUBMITTED", "RUNNING"):
            break
        time.sleep(1)
    assert state in ("SUBMITTED", "RUNNING"), f"{state}\n{submitted['log'].read_text()[-3000:]}"


def test_driver_and_executors_exit_when_out_of_heap(cluster: Cluster, submitted: dict) -> None:
    """The chart's javaOptions reach the spark.properties the driver starts with (and hands its executors)."""
    volumes = {v["name"]: v for v in submitted["pod"]["spec"]["volumes"]}
    conf_map = volumes["spark-conf-volume-driver"]["configMap"]["name"]
    data = json.loads(cluster.kubectl("get", "configmap", conf_map, "-n", NS, "-o", "json").stdout)["data"]
    props = dict(
        line.replace("\\", "").split("=", 1) for line in data["spark.properties"].splitlines() if "=" in line
    )
    for role in ("driver", "executor"):
        assert "-XX:+ExitOnOutOfMemoryError" in props.get(f"spark.{role}.extraJavaOptions", ""), props
