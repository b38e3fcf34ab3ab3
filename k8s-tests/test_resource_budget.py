"""The dev profile, with the operators and Grafana, fits the budget its header promises (2 CPUs, 6 GiB requested).

Requests are summed as the scheduler sees them: every container of our workloads, the Kafka node pool and
topic operator, the ClickHouse pod template, the Spark driver and executors (coreRequest or cores; memory +
memoryOverhead), and the operator/Grafana pods from charts/platform/*-values.yaml (Grafana runs two sidecars).
"""

from __future__ import annotations

import yaml
from renders import ROOT, objects, render

BUDGET_CPU = 2.0
BUDGET_MEMORY_GIB = 6.0
PLATFORM = ROOT / "charts" / "platform"


def cpu(value: str | int | float) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory(value: str | int) -> float:
    """Bytes of a Kubernetes quantity (Ki/Mi/Gi) or a Spark size (k/m/g)."""
    text = str(value)
    for suffix, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("k", 2**10), ("m", 2**20), ("g", 2**30)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def requests(res: dict | None) -> tuple[float, float]:
    req = (res or {}).get("requests") or {}
    return cpu(req.get("cpu", 0)), memory(req.get("memory", 0))


def platform(name: str) -> dict:
    return yaml.safe_load((PLATFORM / name).read_text())


def dev_requests() -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for o in objects(render("dev", "argos")):
        kind, name = o["kind"], o["metadata"]["name"]
        if kind in ("Deployment", "Job"):
            for c in o["spec"]["template"]["spec"]["containers"]:
                out[f"{kind}/{name}/{c['name']}"] = requests(c.get("resources"))
        elif kind == "KafkaNodePool":
            c, m = requests(o["spec"]["resources"])
            out[f"{kind}/{name}"] = (c * o["spec"]["replicas"], m * o["spec"]["replicas"])
        elif kind == "Kafka":
            out[f"{kind}/{name}/topic-operator"] = requests(o["spec"]["entityOperator"]["topicOperator"]["resources"])
        elif kind == "ClickHouseInstallation":
            for t in o["spec"]["templates"]["podTemplates"]:
                for c in t["spec"]["containers"]:
                    out[f"{kind}/{name}/{c['name']}"] = requests(c["resources"])
        elif kind == "SparkApplication":
            for role in ("driver", "executor"):
                r = o["spec"][role]
                count = r.get("instances", 1)
                c = cpu(r.get("coreRequest") or r["cores"])
                m = memory(r["memory"]) + memory(r["memoryOverhead"])
                out[f"{kind}/{name}/{role}"] = (c * count, m * count)
    out["strimzi-operator"] = requests(platform("strimzi-values.yaml")["resources"])
    spark_op = platform("spark-operator-values.yaml")
    out["spark-operator"] = requests(spark_op["controller"]["resources"])
    assert spark_op["webhook"]["enable"] is False  # else its pod counts too
    altinity = platform("clickhouse-operator-values.yaml")
    out["clickhouse-operator"] = requests(altinity["operator"]["resources"])
    out["clickhouse-operator/metrics"] = requests(altinity["metrics"]["resources"])
    grafana = platform("grafana-values.yaml")
    out["grafana"] = requests(grafana["resources"])
    sc, sm = requests(grafana["sidecar"]["resources"])
    out["grafana/sidecars"] = (2 * sc, 2 * sm)
    return out


def test_dev_profile_fits_its_budget() -> None:
    parts = dev_requests()
    total_cpu = sum(c for c, _ in parts.values())
    total_gib = sum(m for _, m in parts.values()) / 2**30
    table = "\n".join(f"  {k}: {c:.3f} CPU, {m / 2**20:.0f} MiB" for k, (c, m) in sorted(parts.items()))
    print(f"dev requests: {total_cpu:.2f} CPU, {total_gib:.2f} GiB\n{table}")
    assert len(parts) >= 12, table
    assert total_cpu <= BUDGET_CPU, f"{total_cpu:.2f} CPU requested > {BUDGET_CPU}\n{table}"
    assert total_gib <= BUDGET_MEMORY_GIB, f"{total_gib:.2f} GiB requested > {BUDGET_MEMORY_GIB}\n{table}"


def test_budget_is_the_one_the_profile_states() -> None:
    header = (ROOT / "charts" / "argos" / "values-dev.yaml").read_text().split("\n\n")[0]
    assert f"{BUDGET_CPU:g} CPUs and {BUDGET_MEMORY_GIB:g} GiB" in header, header


def test_quantities() -> None:
    assert cpu("250m") == 0.25 and cpu(1) == 1.0
    assert memory("512Mi") == memory("512m") == 512 * 2**20
    assert memory("1Gi") == 2**30
