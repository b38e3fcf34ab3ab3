"""Values that could never work are refused at render time, with the key and the fix in the message."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from renders import CHART, helm, objects, render

REFUSED = {
    "sasl": (["--set", "kafka.external.securityProtocol=SASL_SSL"], "only PLAINTEXT or SSL"),
    "shuffle-in-sparkconf": (
        ["--set-string", "spark.sparkConf.spark\\.sql\\.shuffle\\.partitions=8"],
        "use spark.shufflePartitions",
    ),
    "latest-tag": (["--set", "images.spark.tag=latest"], "must be a pinned version"),
    "anti-affinity-typo": (["--set", "clickhouse.server.antiAffinity=sometimes"], "preferred or required"),
    "kafka-pod-name-too-long": (["--set", "fullnameOverride=argos-analytics-prod-eu1"], "exceed Kubernetes' 63"),
    "second-shard": (["--set", "clickhouse.server.shards=2"], "clickhouse.server.shards must be 1"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused(case: str) -> None:
    args, message = REFUSED[case]
    done = subprocess.run(
        [str(helm()), "template", "argos", str(CHART), *args], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0, f"{case} rendered"
    assert message in done.stderr, done.stderr


def test_only_the_driver_mounts_the_checkpoint_and_executors_go_anywhere() -> None:
    app = next(o for o in objects(render("dev", "argos")) if o["kind"] == "SparkApplication")
    conf = app["spec"]["sparkConf"]
    assert any(k.startswith("spark.kubernetes.driver.volumes.persistentVolumeClaim.checkpoints") for k in conf)
    assert not any(k.startswith("spark.kubernetes.executor.volumes") for k in conf)
    assert "affinity" not in app["spec"]["executor"]["template"]["spec"]
    assert app["spec"]["executor"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert not any("stateStore" in k for k in conf)


def test_shuffle_partitions_reach_the_job_through_its_settings() -> None:
    app = next(o for o in objects(render("production", "argos")) if o["kind"] == "SparkApplication")
    conf = app["spec"]["sparkConf"]
    assert conf["spark.kubernetes.driverEnv.ARGOS_SPARK__SHUFFLE_PARTITIONS"] == "16"
    assert "spark.sql.shuffle.partitions" not in conf


def test_default_images_are_the_published_ones_of_this_chart_version() -> None:
    chart = (CHART / "Chart.yaml").read_text()
    app_version = next(line.split('"')[1] for line in chart.splitlines() if line.startswith("appVersion:"))
    manifest = render("default", "argos")
    assert f"image: ghcr.io/argos-flow/argos-ingest:{app_version}" in manifest
    assert f"image: ghcr.io/argos-flow/argos-spark:{app_version}" in manifest


def test_chart_kube_version_is_the_oldest_tested() -> None:
    """Chart.yaml's kubeVersion floor is the oldest Kubernetes the API-server tests run."""
    from k8s_binaries import pins

    oldest = pins()["KUBERNETES_APISERVER_VERSIONS"].split()[0]
    major, minor, _ = oldest.split(".")
    assert f'kubeVersion: ">={major}.{minor}.0-0"' in (CHART / "Chart.yaml").read_text()


class _UniqueKeys(yaml.SafeLoader):
    """A YAML loader that refuses a mapping with a key twice (helm keeps the last one silently)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    keys = [loader.construct_object(k) for k, _ in node.value]
    repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
    if repeated:
        raise yaml.constructor.ConstructorError(None, None, f"key(s) given twice: {repeated}", node.start_mark)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


VALUES_FILES = sorted(CHART.glob("values*.yaml")) + sorted((CHART.parent / "platform").glob("*.yaml"))


@pytest.mark.parametrize("path", VALUES_FILES, ids=lambda p: p.name)
def test_values_files_name_each_key_once(path: Path) -> None:
    list(yaml.load_all(path.read_text(), Loader=_UniqueKeys))
