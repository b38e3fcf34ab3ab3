"""The rendered NetworkPolicies against the real pod labels of every workload: needed flows allowed, others denied.

Pod labels come from the render where our chart sets them (ingest Deployment, schema hook Job, the
SparkApplication's driver/executor labels, the ClickHouse/Keeper pod templates) plus what each operator adds,
and from the operators' own charts for their pods (sources beside each entry). The brokers' policy is the
one Strimzi generates from the Kafka resource (KafkaCluster.generateNetworkPolicy, Strimzi 1.2.0): control
plane 9090 and KafkaAgent 8443 from the cluster operator (and brokers), replication 9091 from Strimzi's
components, and each listener's port from its networkPolicyPeers (everyone when it has none).
"""

from __future__ import annotations

from functools import cache

import pytest
from netpol import Pod, allowed
from renders import objects, render

NS = "argos"


def _one(objs: list[dict], kind: str, component: str | None = None) -> dict:
    for o in objs:
        labels = o["metadata"].get("labels") or {}
        if o["kind"] == kind and (component is None or labels.get("app.kubernetes.io/component") == component):
            return o
    raise AssertionError(f"no {kind} {component or ''} in the render")


def strimzi_broker_policy(kafka: dict, pool: str) -> dict:
    """The NetworkPolicy Strimzi 1.2.0 generates for the brokers of this Kafka resource."""
    name = kafka["metadata"]["name"]
    operator = {"podSelector": {"matchLabels": {"strimzi.io/kind": "cluster-operator"}}, "namespaceSelector": {}}
    brokers = {
        "podSelector": {
            "matchLabels": {"strimzi.io/cluster": name, "strimzi.io/name": f"{name}-kafka", "strimzi.io/kind": "Kafka"}
        }
    }
    tools = [{"podSelector": {"matchLabels": {"strimzi.io/name": f"{name}-{c}"}}} for c in
             ("entity-operator", "kafka-exporter", "cruise-control")]  # fmt: skip
    rules = [
        {"ports": [{"port": 9090, "protocol": "TCP"}], "from": [brokers, operator]},
        {"ports": [{"port": 9091, "protocol": "TCP"}], "from": [operator, brokers, *tools]},
        {"ports": [{"port": 8443, "protocol": "TCP"}], "from": [operator]},
    ]
    for listener in kafka["spec"]["kafka"]["listeners"]:
        peers = listener.get("networkPolicyPeers") or []
        rules.append({"ports": [{"port": listener["port"], "protocol": "TCP"}], **({"from": peers} if peers else {})})
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{name}-network-policy-kafka", "namespace": NS},
        "spec": {"podSelector": brokers["podSelector"], "policyTypes": ["Ingress"], "ingress": rules},
    }


def pods(objs: list[dict]) -> dict[str, Pod]:
    """Every pod of the install, labelled as on a cluster."""
    ingest = _one(objs, "Deployment", "ingest")["spec"]["template"]["metadata"]["labels"]
    schema = _one(objs, "Job", "schema")["spec"]["template"]["metadata"]["labels"]
    app = _one(objs, "SparkApplication")
    chi = _one(objs, "ClickHouseInstallation")
    kafka = _one(objs, "Kafka")
    pool = _one(objs, "KafkaNodePool")["metadata"]["name"]
    kname = kafka["metadata"]["name"]
    # spark-operator 2.5.2 (internal/controller/sparkapplication/submission.go) and Spark's own role label.
    spark = {
        "sparkoperator.k8s.io/app-name": app["metadata"]["name"],
        "sparkoperator.k8s.io/launched-by-spark-operator": "true",
    }
    chi_pod = {t["name"]: t["metadata"]["labels"] for t in chi["spec"]["templates"]["podTemplates"]}["server"]
    out = {
        "ingest": Pod("ingest", NS, ingest),
        "schema-job": Pod("schema-job", NS, schema),
        "spark-driver": Pod("spark-driver", NS, {**app["spec"]["driver"]["labels"], **spark, "spark-role": "driver"}),
        "spark-executor": Pod(
            "spark-executor", NS, {**app["spec"]["executor"]["labels"], **spark, "spark-role": "executor"}
        ),
        # Altinity operator: the resource's labels, the podTemplate's and its own clickhouse.altinity.com/* ones.
        "clickhouse": Pod(
            "clickhouse", NS, {**chi["metadata"]["labels"], **chi_pod, "clickhouse.altinity.com/app": "chop",
                               "clickhouse.altinity.com/chi": chi["metadata"]["name"]}
        ),
        # Strimzi 1.2.0: broker pods of a node pool; the entity operator.
        "kafka-broker": Pod(
            "kafka-broker", NS, {"strimzi.io/cluster": kname, "strimzi.io/kind": "Kafka",
                                 "strimzi.io/name": f"{kname}-kafka", "strimzi.io/pool-name": pool,
                                 "strimzi.io/broker-role": "true", "strimzi.io/controller-role": "true",
                                 "strimzi.io/component-type": "kafka"}
        ),
        "entity-operator": Pod(
            "entity-operator", NS, {"strimzi.io/cluster": kname, "strimzi.io/kind": "Kafka",
                                    "strimzi.io/name": f"{kname}-entity-operator"}
        ),
        # Operators and Grafana as their charts label them (install.sh release names):
        # strimzi 1.2.0 helm3 060-Deployment-strimzi-cluster-operator.yaml
        "strimzi-operator": Pod(
            "strimzi-operator", NS, {"name": "strimzi-cluster-operator", "strimzi.io/kind": "cluster-operator"}
        ),
        # altinity-clickhouse-operator chart: _helpers.tpl selectorLabels
        "clickhouse-operator": Pod(
            "clickhouse-operator", NS, {"app.kubernetes.io/name": "altinity-clickhouse-operator",
                                        "app.kubernetes.io/instance": "clickhouse-operator"}
        ),
        # spark-operator 2.5.2 chart: controller/_helpers.tpl selectorLabels
        "spark-operator": Pod(
            "spark-operator", NS, {"app.kubernetes.io/name": "spark-operator",
                                   "app.kubernetes.io/instance": "spark-operator",
                                   "app.kubernetes.io/component": "controller"}
        ),
        # grafana-community chart 12.11.0: _helpers.tpl grafana.selectorLabels (release "grafana")
        "grafana": Pod("grafana", NS, {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "grafana"}),
        "prometheus": Pod("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
        "intruder": Pod("intruder", NS, {"run": "curl"}),
        # The same chart installed again under another release name in the namespace.
        "other-release-spark": Pod(
            "other-release-spark", NS, {**app["spec"]["driver"]["labels"], "app.kubernetes.io/instance": "someone-else"}
        ),
    }
    keeper = [o for o in objs if o["kind"] == "ClickHouseKeeperInstallation"]
    if keeper:
        labels = keeper[0]["spec"]["templates"]["podTemplates"][0]["metadata"]["labels"]
        chk = keeper[0]["metadata"]["name"]
        out["keeper"] = Pod("keeper", NS, {**keeper[0]["metadata"]["labels"], **labels,
                                           "clickhouse-keeper.altinity.com/chk": chk})
    return out


NEEDED = [
    ("ingest", "kafka-broker", 9092),
    ("ingest", "clickhouse", 8123),  # the resume query at start (argos_ingest.resume.clickhouse_positions)
    ("spark-driver", "kafka-broker", 9092),
    ("spark-executor", "kafka-broker", 9092),
    ("spark-driver", "clickhouse", 8123),
    ("spark-executor", "clickhouse", 8123),
    ("schema-job", "clickhouse", 8123),
    ("clickhouse-operator", "clickhouse", 8123),
    ("grafana", "clickhouse", 8123),
    ("clickhouse", "clickhouse", 9009),
    ("clickhouse", "clickhouse", 9000),
    ("strimzi-operator", "kafka-broker", 9090),
    ("strimzi-operator", "kafka-broker", 9091),
    ("strimzi-operator", "kafka-broker", 8443),
    ("entity-operator", "kafka-broker", 9091),
    ("kafka-broker", "kafka-broker", 9091),
    ("prometheus", "ingest", 9108),
    ("spark-driver", "spark-executor", 7079),
    ("spark-executor", "spark-driver", 7078),
]
DENIED = [
    ("intruder", "clickhouse", 8123),
    ("intruder", "clickhouse", 9000),
    ("intruder", "kafka-broker", 9092),
    ("ingest", "clickhouse", 9000),
    ("grafana", "kafka-broker", 9092),
    ("schema-job", "kafka-broker", 9092),
    ("spark-operator", "clickhouse", 8123),
    ("other-release-spark", "clickhouse", 8123),
    ("other-release-spark", "kafka-broker", 9092),
    ("prometheus", "clickhouse", 8123),
    ("spark-driver", "clickhouse", 9009),
    ("intruder", "kafka-broker", 9091),
]
PROFILES = ["production", "renamed", "dev-networkpolicies"]


@cache
def install(profile: str) -> tuple[list[dict], dict[str, Pod]]:
    objs = objects(render(profile, NS))
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    policies.append(strimzi_broker_policy(_one(objs, "Kafka"), _one(objs, "KafkaNodePool")["metadata"]["name"]))
    return policies, pods(objs)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("src", "dst", "port"), NEEDED, ids=[f"{s}->{d}:{p}" for s, d, p in NEEDED])
def test_needed_flow_is_allowed(profile: str, src: str, dst: str, port: int) -> None:
    policies, p = install(profile)
    assert allowed(policies, p[src], p[dst], port), f"{profile}: {src} -> {dst}:{port} is blocked"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("src", "dst", "port"), DENIED, ids=[f"{s}->{d}:{p}" for s, d, p in DENIED])
def test_other_flow_is_denied(profile: str, src: str, dst: str, port: int) -> None:
    policies, p = install(profile)
    assert not allowed(policies, p[src], p[dst], port), f"{profile}: {src} -> {dst}:{port} is open"


KEEPER_NEEDED = [("clickhouse", "keeper", 2181), ("clickhouse-operator", "keeper", 2181), ("keeper", "keeper", 9444)]
KEEPER_DENIED = [("intruder", "keeper", 2181), ("spark-driver", "keeper", 2181), ("ingest", "keeper", 2181),
                 ("clickhouse", "keeper", 9444), ("intruder", "keeper", 9444)]


@pytest.mark.parametrize("profile", ["production", "renamed"])
def test_keeper_admits_only_clickhouse_the_operator_and_its_peers(profile: str) -> None:
    policies, p = install(profile)
    assert [f for f in KEEPER_NEEDED if not allowed(policies, p[f[0]], p[f[1]], f[2])] == []
    assert [f for f in KEEPER_DENIED if allowed(policies, p[f[0]], p[f[1]], f[2])] == []


def test_without_policies_everything_is_open() -> None:
    """The dev profile has no policies: the denied flows above are then open (the test can tell)."""
    policies, p = install("dev")
    assert [o["metadata"]["name"] for o in policies] == ["argos-network-policy-kafka"]
    assert allowed(policies, p["intruder"], p["clickhouse"], 8123)
    assert allowed(policies, p["intruder"], p["kafka-broker"], 9092)


def test_policies_select_the_pods_they_protect() -> None:
    """Each rendered policy selects at least one pod of the install (a typo in a selector protects nothing)."""
    from netpol import selects

    policies, p = install("production")
    for policy in policies:
        assert any(selects(policy["spec"]["podSelector"], pod.labels) for pod in p.values()), policy["metadata"]
