"""End-to-end smoke test of the Kubernetes deployment on a kind cluster.

Creates a cluster from k8s-tests/kind-config.yaml, builds and loads both images, installs the platform
and the chart (charts/platform/install.sh, dev profile with NetworkPolicies on, release "smoke" so that no
name may assume "argos"), waits for every component, then checks: trades arrive in ClickHouse; the
SparkApplication is RUNNING; Grafana shows the Argos dashboards in the folder "Argos", its ClickHouse
datasource is healthy and a panel's own SQL returns rows through /api/ds/query; deleting the Spark driver pod
-> the job resumes from its PVC checkpoint with 0 duplicated trade ids. Tears the cluster down at the end
(KEEP_CLUSTER=1 keeps it). Object names are found by their labels, never spelled.

Needs docker (a running engine), kind, kubectl and helm on PATH; skips with one line otherwise
(fails instead when ARGOS_REQUIRE_KIND=1, as in CI). KIND_CLUSTER=name reuses an existing cluster;
ARGOS_RELEASE, SMOKE_NETWORK_POLICIES=0 change the release name and turn the policies off.
The cluster fixture (image builds, kind load, four --wait installs) runs inside the first test, so every
test of this module gets a timeout that covers it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from k8s_apiserver import free_port

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = os.environ.get("KIND_CLUSTER", "argos-smoke")
NAMESPACE = "argos"
RELEASE = os.environ.get("ARGOS_RELEASE", "smoke")
TAG = "smoke"
NETWORK_POLICIES = os.environ.get("SMOKE_NETWORK_POLICIES", "1") != "0"


def _missing_prerequisite() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "docker is installed but no engine answers `docker info`"
    for tool in ("kind", "kubectl", "helm"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    return None


_why = _missing_prerequisite()
if _why and os.environ.get("ARGOS_REQUIRE_KIND"):
    pytest.fail(f"kind smoke test cannot run: {_why} (ARGOS_REQUIRE_KIND is set)", pytrace=False)
if _why:
    pytest.skip(f"kind smoke test skipped: {_why}", allow_module_level=True)

kubernetes = pytest.importorskip("kubernetes", reason="kind smoke test skipped: the kubernetes client is missing")
# The first test also runs the cluster fixture (~20-30 min on a GitHub runner).
pytestmark = [pytest.mark.kind, pytest.mark.slow, pytest.mark.timeout(3600)]


def sh(*cmd: str, env: dict[str, str] | None = None, timeout: float = 1800) -> str:
    print("+", " ".join(cmd), flush=True)
    done = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


def wait_for(what: str, check: Callable[[], Any], timeout: float = 900, every: float = 5) -> Any:
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the API or the service may not be there yet
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last})")


class PortForward:
    """`kubectl port-forward` that is restarted whenever it died (a pod restart ends a forward)."""

    def __init__(self, target: str, port: int) -> None:
        self.target, self.port, self.local = target, port, 0
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        self.ensure()
        return f"http://127.0.0.1:{self.local}"

    def ensure(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        wait_for(f"port-forward to {self.target}", self._start, timeout=60, every=1)

    def _start(self) -> bool:
        """Start the forward if it is not running, on a new free port (the last may have been taken); True once up."""
        if self.proc is None or self.proc.poll() is not None:
            self.local = free_port()
            self.proc = subprocess.Popen(
                ["kubectl", "-n", NAMESPACE, "port-forward", self.target, f"{self.local}:{self.port}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        socket.create_connection(("127.0.0.1", self.local), 1).close()
        return True

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


@contextmanager
def port_forward(target: str, port: int) -> Iterator[PortForward]:
    forward = PortForward(target, port)
    try:
        forward.ensure()
        yield forward
    finally:
        forward.close()


def by_labels(api: Any, kind: str, component: str) -> str:
    """Name of this release's object of a component (Service or Secret): found by labels, never spelled."""
    core = api.CoreV1Api()
    selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}"
    items = (core.list_namespaced_service if kind == "svc" else core.list_namespaced_secret)(
        NAMESPACE, label_selector=selector
    ).items
    assert len(items) == 1, f"{len(items)} {kind} with {selector}"
    return items[0].metadata.name


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    created = CLUSTER not in sh("kind", "get", "clusters").split()
    if created:
        sh("kind", "create", "cluster", "--name", CLUSTER, "--config", "k8s-tests/kind-config.yaml", "--wait", "180s")
    sh("kubectl", "config", "use-context", f"kind-{CLUSTER}")
    try:
        for image, dockerfile in (("argos-ingest", "ingest/Dockerfile"), ("argos-spark", "spark-jobs/Dockerfile")):
            sh("docker", "build", "-f", dockerfile, "-t", f"{image}:{TAG}", ".")
            sh("kind", "load", "docker-image", "--name", CLUSTER, f"{image}:{TAG}")
        sh(
            "charts/platform/install.sh",
            *("--set", "images.ingest.repository=argos-ingest", "--set", f"images.ingest.tag={TAG}"),
            *("--set", "images.spark.repository=argos-spark", "--set", f"images.spark.tag={TAG}"),
            *("--set", f"networkPolicy.enabled={str(NETWORK_POLICIES).lower()}"),
            env={"NAMESPACE": NAMESPACE, "PROFILE": "dev", "RELEASE": RELEASE, "TIMEOUT": "20m"},
        )
        kubernetes.config.load_kube_config(context=f"kind-{CLUSTER}")
        yield
    finally:
        if created and not os.environ.get("KEEP_CLUSTER"):
            sh("kind", "delete", "cluster", "--name", CLUSTER)


@pytest.fixture(scope="module")
def api(cluster: None) -> Any:
    return kubernetes.client


def secret_value(api: Any, name: str, key: str) -> str:
    data = api.CoreV1Api().read_namespaced_secret(name, NAMESPACE).data
    return base64.b64decode(data[key]).decode()


def clickhouse(api: Any, forward: PortForward, sql: str) -> str:
    password = secret_value(api, by_labels(api, "secret", "clickhouse"), "password")
    req = urllib.request.Request(
        f"{forward.base}/?{urllib.parse.urlencode({'query': sql})}",
        headers={"X-ClickHouse-User": "argos", "X-ClickHouse-Key": password},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.read().decode().strip()


def grafana(api: Any, forward: PortForward, path: str, body: dict | None = None) -> Any:
    user = secret_value(api, "grafana", "admin-user")
    password = secret_value(api, "grafana", "admin-password")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(forward.base + path, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def panel_sql(title: str) -> str:
    """The rawSql of one panel of grafana-dashboards/argos.json (the SQL Grafana runs for it)."""
    dashboard = json.loads((ROOT / "grafana-dashboards" / "argos.json").read_text())
    for panel in dashboard["panels"]:
        if panel.get("title") == title:
            sql = panel["targets"][0]["rawSql"]
            assert not re.search(r"\$\{|\$(?!__)\w", sql), f"panel {title!r} uses dashboard variables"
            return sql
    raise AssertionError(f"no panel {title!r}")


def spark_state(api: Any) -> str:
    apps = api.CustomObjectsApi().list_namespaced_custom_object(
        "sparkoperator.k8s.io", "v1beta2", NAMESPACE, "sparkapplications",
        label_selector=f"app.kubernetes.io/instance={RELEASE}",
    )["items"]  # fmt: skip
    assert len(apps) == 1, [a["metadata"]["name"] for a in apps]
    app = apps[0]
    return (app.get("status") or {}).get("applicationState", {}).get("state", "")


def driver_pod(api: Any) -> Any:
    pods = api.CoreV1Api().list_namespaced_pod(NAMESPACE, label_selector="spark-role=driver").items
    running = [p for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None]
    return running[0] if running else None


def listed(api: Any, group: str, version: str, plural: str) -> dict:
    """This release's one custom object of a kind (found by its instance label)."""
    items = api.CustomObjectsApi().list_namespaced_custom_object(
        group, version, NAMESPACE, plural, label_selector=f"app.kubernetes.io/instance={RELEASE}"
    )["items"]
    assert len(items) == 1, [i["metadata"]["name"] for i in items]
    return items[0]


def deployment_available(api: Any, selector: str) -> bool:
    items = api.AppsV1Api().list_namespaced_deployment(NAMESPACE, label_selector=selector).items
    return bool(items) and all((d.status.available_replicas or 0) >= 1 for d in items)


def test_components_become_ready(api: Any) -> None:
    def kafka_ready() -> bool:
        conditions = listed(api, "kafka.strimzi.io", "v1", "kafkas").get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    wait_for("Kafka Ready", kafka_ready)
    wait_for(
        "ClickHouseInstallation Completed",
        lambda: listed(api, "clickhouse.altinity.com", "v1", "clickhouseinstallations").get("status", {}).get("status")
        == "Completed",
    )
    wait_for(
        "ingest available",
        lambda: deployment_available(api, f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=ingest"),
    )
    wait_for("Grafana available", lambda: deployment_available(api, "app.kubernetes.io/name=grafana"))
    assert wait_for("SparkApplication RUNNING", lambda: spark_state(api) == "RUNNING")


def test_trades_arrive_in_clickhouse(api: Any) -> None:
    with port_forward(f"svc/{by_labels(api, 'svc', 'clickhouse')}", 8123) as ch:
        count = wait_for("trades in ClickHouse", lambda: int(clickhouse(api, ch, "SELECT count() FROM argos.trades")))
    assert count > 0


def test_grafana_dashboards_datasource_and_a_panel_query(api: Any) -> None:
    expected = {json.loads(p.read_text())["uid"] for p in (ROOT / "grafana-dashboards").glob("*.json")}
    with port_forward("svc/grafana", 80) as gf:
        found = wait_for(
            "Argos dashboards in Grafana",
            lambda: [d for d in grafana(api, gf, "/api/search?type=dash-db") if d["uid"] in expected],
            timeout=300,
        )
        assert {d["uid"] for d in found} == expected
        assert {d.get("folderTitle") for d in found} == {"Argos"}, found
        health = wait_for(
            "datasource health", lambda: grafana(api, gf, "/api/datasources/uid/argos-clickhouse/health"), timeout=300
        )
        assert health.get("status") == "OK", health
        # One panel's own SQL through Grafana's query API: the datasource, its password and the network path.
        query = {
            "from": "now-1h",
            "to": "now",
            "queries": [
                {
                    "refId": "A",
                    "datasource": {"uid": "argos-clickhouse", "type": "grafana-clickhouse-datasource"},
                    "rawSql": panel_sql("Data freshness"),
                    "format": 1,
                    "queryType": "sql",
                    "editorType": "sql",
                }
            ],
        }
        result = wait_for("panel query rows", lambda: grafana(api, gf, "/api/ds/query", query), timeout=300)
    frame = result["results"]["A"]["frames"][0]
    columns = {f["name"]: values for f, values in zip(frame["schema"]["fields"], frame["data"]["values"], strict=True)}
    assert columns["since_trade"] and columns["since_trade"][0] is not None, columns
    assert 0 <= columns["since_trade"][0] < 600, columns


# Panels that may rightly be empty in a few minutes of one synthetic venue (every query must still succeed).
MAY_BE_EMPTY = {
    "cross-venue spread": "needs two venues; the smoke cluster ingests one",
    "whale radar": "whales are rare, random events",
    "latest whales": "whales are rare, random events",
}


def ds_query(api: Any, gf: PortForward, target: dict[str, Any]) -> list[dict[str, Any]]:
    """One target through Grafana's /api/ds/query (the plugin expands its macros server-side); its frames."""
    body = {"from": "now-1h", "to": "now", "queries": [{**target, "refId": "A"}]}
    result = grafana(api, gf, "/api/ds/query", body)["results"]["A"]
    assert not result.get("error"), f"{target['rawSql'][:300]}: {result['error']}"
    return result.get("frames", [])


def frame_rows(frames: list[dict[str, Any]]) -> int:
    return sum(len(f["data"]["values"][0]) for f in frames if f.get("data", {}).get("values"))


def dashboard_variables(api: Any, gf: PortForward, dashboard: dict[str, Any]) -> dict[str, list[str]]:
    """Each template variable's values, queried in order as Grafana does (later ones use the earlier ones)."""
    from argos_dashboards.macros import interpolate

    datasource = {"uid": "argos-clickhouse", "type": "grafana-clickhouse-datasource"}
    chosen: dict[str, list[str]] = {}
    for var in dashboard["templating"]["list"]:
        frames = ds_query(api, gf, {"datasource": datasource, "rawSql": interpolate(var["query"], chosen),
                                    "format": 1, "queryType": "table", "editorType": "sql"})
        values = [str(v) for f in frames for v in (f["data"]["values"] or [[]])[0]]
        assert values, f"dashboard variable ${var['name']} has no values"
        preferred = ((var.get("current") or {}).get("value"))
        chosen[var["name"]] = values if var.get("multi") else [preferred if preferred in values else values[0]]
    return chosen


def test_grafana_serves_the_dashboard_and_every_panel_query_succeeds(api: Any) -> None:
    """The provisioned dashboard unchanged by Grafana's migrations, and each panel's own SQL answered."""
    from argos_dashboards.macros import interpolate

    committed = json.loads((ROOT / "grafana-dashboards" / "argos.json").read_text())
    with port_forward("svc/grafana", 80) as gf:
        served = wait_for("dashboard by uid", lambda: grafana(api, gf, f"/api/dashboards/uid/{committed['uid']}"),
                          timeout=300)["dashboard"]
        assert served["schemaVersion"] == committed["schemaVersion"], "Grafana migrated the dashboard on load"
        assert [p.get("pluginVersion") for p in served["panels"]] == [p.get("pluginVersion") for p in committed[
            "panels"]]
        variables = wait_for("dashboard variables", lambda: dashboard_variables(api, gf, committed), timeout=300)
        empty = []
        for panel in (p for p in committed["panels"] if p.get("targets")):
            for target in panel["targets"]:
                frames = ds_query(api, gf, {**target, "rawSql": interpolate(target["rawSql"], variables)})
                if not frame_rows(frames) and not any(k in panel["title"] for k in MAY_BE_EMPTY):
                    empty.append(panel["title"])
    assert not empty, f"panels without rows: {empty} (variables {variables})"


def test_driver_restart_resumes_from_checkpoint_without_duplicates(api: Any) -> None:
    assert wait_for("SparkApplication RUNNING", lambda: spark_state(api) == "RUNNING")
    old = wait_for("a running driver pod", lambda: driver_pod(api))
    with port_forward(f"svc/{by_labels(api, 'svc', 'clickhouse')}", 8123) as ch:
        before = int(clickhouse(api, ch, "SELECT count() FROM argos.trades"))
        api.CoreV1Api().delete_namespaced_pod(old.metadata.name, NAMESPACE)
        wait_for("a new driver pod", lambda: (p := driver_pod(api)) is not None and p.metadata.uid != old.metadata.uid)
        wait_for("SparkApplication RUNNING again", lambda: spark_state(api) == "RUNNING")
        wait_for(
            "new trades after the restart",
            lambda: int(clickhouse(api, ch, "SELECT count() FROM argos.trades")) > before + 100,
        )
        rows, distinct = map(
            int,
            clickhouse(api, ch, "SELECT count(), uniqExact(venue, market, symbol, trade_id) FROM argos.trades").split(),
        )
    assert rows == distinct, f"{rows - distinct} duplicated trade ids after the driver restart"
