"""What the operators make from the chart's custom resources: pods that must not roll when only the chart's version
changes; from the Altinity operator's ClickHouse resources, objects that must not answer the chart's selectors, pods
the chart's Service reaches only while the operator has them marked ready, and volumes that outlive an uninstall
unless the profile throws them away.

The operator copies a ClickHouseInstallation's (and ClickHouseKeeperInstallation's) labels onto every object it
creates: its Services ``clickhouse-<chi>`` and ``chi-<chi>-<cluster>-<shard>-<replica>``, the Keeper's
``keeper-<chk>`` and per-host ones, StatefulSets, pods, PVCs (appendCRProvidedLabels in
pkg/model/common/tags/labeler/scope.go, release-0.25.6, default ``label.include``/``exclude`` empty). install.sh,
the kind smoke test and docs/kubernetes.md find the chart's one ClickHouse Service by instance + component.
"""

from __future__ import annotations

import pytest
from netpol import selects
from renders import PROFILES, objects, render

NS = "argos"


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A Service's (or a kubectl -l) selector: a plain map of labels."""
    return selects({"matchLabels": selector}, labels)


def operator_services(objs: list[dict]) -> list[dict]:
    """The Services the operator makes for each ClickHouse resource, labelled as it labels them."""
    out = []
    for o in objs:
        name, labels = o["metadata"]["name"], o["metadata"].get("labels") or {}
        if o["kind"] == "ClickHouseInstallation":
            own = {"clickhouse.altinity.com/chi": name, "clickhouse.altinity.com/app": "chop"}
            hosts = [f"chi-{name}-{c['name']}-0-{r}" for c in o["spec"]["configuration"]["clusters"]
                     for r in range(c["layout"]["replicasCount"])]
            out += [{"name": n, "labels": {**labels, **own}} for n in (f"clickhouse-{name}", *hosts)]
        elif o["kind"] == "ClickHouseKeeperInstallation":
            own = {"clickhouse-keeper.altinity.com/chk": name, "clickhouse-keeper.altinity.com/app": "chop"}
            out += [{"name": n, "labels": {**labels, **own}} for n in (f"keeper-{name}", f"chk-{name}-keeper-0-0")]
    return out


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "external"])
def test_no_label_that_changes_with_the_chart_reaches_an_operators_pods(profile: str) -> None:
    """Strimzi copies a KafkaNodePool's labels but app.kubernetes.io/* other than part-of onto its brokers and rolls
    them when their hash changes (Labels.java, StrimziPodSet, 1.2.0); the Altinity operator copies all of a
    resource's labels onto its pods."""
    kinds = ("Kafka", "KafkaNodePool", "ClickHouseInstallation", "ClickHouseKeeperInstallation")
    found = {o["kind"]: o["metadata"]["labels"] for o in objects(render(profile, NS)) if o["kind"] in kinds}
    assert {"Kafka", "KafkaNodePool", "ClickHouseInstallation"} <= set(found), found
    for kind, labels in found.items():
        assert not {"helm.sh/chart", "app.kubernetes.io/version"} & set(labels), (kind, labels)
        assert labels["app.kubernetes.io/instance"] == PROFILES[profile][0], (kind, labels)


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "external"])
def test_only_the_charts_service_answers_the_clickhouse_selector(profile: str) -> None:
    objs = objects(render(profile, NS))
    release = PROFILES[profile][0]
    selector = {"app.kubernetes.io/instance": release, "app.kubernetes.io/component": "clickhouse"}
    made = operator_services(objs)
    assert made, f"{profile}: no ClickHouse resource rendered"
    ours = [o["metadata"]["name"] for o in objs
            if o["kind"] == "Service" and matches(selector, o["metadata"].get("labels") or {})]
    theirs = [s["name"] for s in made if matches(selector, s["labels"])]
    assert len(ours) == 1 and not theirs, f"{profile}: the chart's {ours}, the operator's {theirs}"


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "external"])
def test_no_operator_resource_carries_a_component(profile: str) -> None:
    """A component on the resource would reach the operator's Services, StatefulSets and pods; the pods get
    theirs from the podTemplate (what the NetworkPolicies select)."""
    for o in objects(render(profile, NS)):
        if o["kind"] in ("ClickHouseInstallation", "ClickHouseKeeperInstallation"):
            assert "app.kubernetes.io/component" not in o["metadata"]["labels"], o["metadata"]["name"]
            for t in o["spec"]["templates"]["podTemplates"]:
                assert t["metadata"]["labels"]["app.kubernetes.io/component"].startswith("clickhouse")


@pytest.mark.parametrize(("profile", "policy"), [("default", "Retain"), ("production", "Retain"), ("dev", "Delete")])
def test_volumes_are_kept_on_uninstall_unless_the_profile_throws_them_away(profile: str, policy: str) -> None:
    """The operator deletes a resource's volumes with it by default (GetPVCReclaimPolicy,
    pkg/model/common/volume/volumer.go, release-0.25.6); the kept password Secret is only useful with them."""
    kinds = ("ClickHouseInstallation", "ClickHouseKeeperInstallation")
    templates = [t for o in objects(render(profile, NS)) if o["kind"] in kinds
                 for t in o["spec"]["templates"]["volumeClaimTemplates"]]
    assert templates and {t["reclaimPolicy"] for t in templates} == {policy}, templates
    if profile == "production":
        assert len(templates) == 2  # ClickHouse's and Keeper's


@pytest.mark.parametrize("profile", ["dev", "production"])
def test_the_charts_service_sends_queries_only_to_hosts_the_operator_marked_ready(profile: str) -> None:
    """A ClickHouse pod carries its resource's labels, its podTemplate's and the operator's, among them
    ``clickhouse.altinity.com/ready: "yes"`` while the operator is not reconciling it (SelectorCRScopeReady)."""
    objs = objects(render(profile, NS))
    service = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["labels"].get(
        "app.kubernetes.io/component") == "clickhouse")
    pod_labels = {}
    for o in objs:
        if o["kind"] in ("ClickHouseInstallation", "ClickHouseKeeperInstallation"):
            template = o["spec"]["templates"]["podTemplates"][0]["metadata"]["labels"]
            pod_labels[o["kind"]] = {**o["metadata"]["labels"], **template}
    chi = {**pod_labels["ClickHouseInstallation"], "clickhouse.altinity.com/app": "chop"}
    selector = service["spec"]["selector"]
    assert matches(selector, {**chi, "clickhouse.altinity.com/ready": "yes"})
    assert not matches(selector, chi)  # being restarted by the operator
    if "ClickHouseKeeperInstallation" in pod_labels:
        assert not matches(selector, {**pod_labels["ClickHouseKeeperInstallation"],
                                      "clickhouse-keeper.altinity.com/ready": "yes"})


def _env_values(node: object, name: str) -> list[str]:
    """Every value the render gives the environment variable ``name``: a container's ``env`` entry, or a
    SparkApplication's ``spark.kubernetes.driverEnv.<name>`` / ``spark.executorEnv.<name>``."""
    if isinstance(node, dict):
        own = [str(node.get("value"))] if node.get("name") == name else []
        own += [str(v) for k, v in node.items() if isinstance(k, str) and k.endswith(f"Env.{name}")]
        return own + [v for child in node.values() for v in _env_values(child, name)]
    if isinstance(node, list):
        return [v for child in node for v in _env_values(child, name)]
    return []


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_process_waits_for_all_hosts_of_a_replicated_cluster(profile: str) -> None:
    """On a first install the operator lists a ClickHouseInstallation's replicas in the cluster one by one, and
    ON CLUSTER DDL reaches only the hosts listed when it runs (argos_schema.migrate.wait_for_cluster): whoever
    may migrate must wait for every host of the installation, or for none where the schema is not replicated."""
    objs = objects(render(profile, NS))
    chi = [o for o in objs if o["kind"] == "ClickHouseInstallation"]
    replicated = bool(chi) and any(_env_values(objs, "ARGOS_CLICKHOUSE__CLUSTER"))
    hosts = sum(c["layout"].get("shardsCount", 1) * c["layout"]["replicasCount"]
                for o in chi for c in o["spec"]["configuration"]["clusters"])
    configured = [o for o in objs if _env_values(o, "ARGOS_CLICKHOUSE__CLUSTER")]
    assert {o["kind"] for o in configured} >= {"Job", "Deployment", "SparkApplication"}
    for o in configured:
        values = _env_values(o, "ARGOS_CLICKHOUSE__CLUSTER_HOSTS")
        assert len(values) == len(_env_values(o, "ARGOS_CLICKHOUSE__CLUSTER")), o["metadata"]["name"]
        assert set(values) == {str(hosts if replicated else 0)}, (o["metadata"]["name"], values)
    if profile == "production":
        assert hosts == 2
