"""One ingest Deployment per venue from the chart's ingest.venues list: distinct names and selectors, the
component label the NetworkPolicies match, and environment that Argos itself turns into the right markets."""

from __future__ import annotations

import os

import pytest
from renders import objects, render

from argos.settings import Settings, load_settings
from argos_ingest.venues import venue_markets

VENUES = [
    "--set", "ingest.venues[0].name=binance",
    "--set", "ingest.venues[1].name=coinbase",
    "--set", "ingest.venues[2].name=okx", "--set", "ingest.venues[2].markets={spot,swap}",
    "--set", "ingest.venues[3].name=bybit", "--set", "ingest.venues[3].markets={linear}",
    "--set", "ingest.venues[3].symbols={BTCUSDT}",
]  # fmt: skip


def ingest_objects(*extra: str) -> list[dict]:
    return [o for o in objects(render("dev-networkpolicies", "argos", *extra))
            if o["metadata"]["labels"].get("app.kubernetes.io/component") == "ingest"]


def env_of(deployment: dict) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def settings_of(env: dict[str, str], prefix: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """What Argos itself loads from the rendered variables starting with ``prefix`` (and no others)."""
    for key in [k for k in os.environ if k.startswith("ARGOS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith(prefix):
            monkeypatch.setenv(key, value)
    return load_settings()


def test_one_deployment_and_service_per_venue() -> None:
    found = ingest_objects(*VENUES)
    deployments = {o["metadata"]["name"]: o for o in found if o["kind"] == "Deployment"}
    services = {o["metadata"]["name"]: o for o in found if o["kind"] == "Service"}
    names = {f"argos-ingest-{v}" for v in ("binance", "coinbase", "okx", "bybit")}
    assert set(deployments) == names and set(services) == names
    selectors = [tuple(sorted(d["spec"]["selector"]["matchLabels"].items())) for d in deployments.values()]
    assert len(set(selectors)) == 4, "each Deployment owns its pods"
    for name, deployment in deployments.items():
        venue = name.rsplit("-", 1)[1]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pod_labels["argos.io/venue"] == venue and pod_labels["app.kubernetes.io/component"] == "ingest"
        assert services[name]["spec"]["selector"]["argos.io/venue"] == venue
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize(("venue", "expected"), [
    ("binance", {("spot", ("BTCUSDT", "ETHUSDT"))}),
    ("coinbase", {("spot", ("BTC-USD", "ETH-USD"))}),
    ("okx", {("spot", ("BTC-USDT", "ETH-USDT")), ("swap", ("BTC-USDT-SWAP", "ETH-USDT-SWAP"))}),
    ("bybit", {("linear", ("BTCUSDT",))}),
])
def test_rendered_environment_is_what_the_ingest_streams(venue: str, expected: set, monkeypatch) -> None:
    deployment = next(o for o in ingest_objects(*VENUES, "--set", "ingest.symbols={BTCUSDT,ETHUSDT}")
                      if o["kind"] == "Deployment" and o["metadata"]["name"].endswith(venue))
    env = env_of(deployment)
    assert env["ARGOS_INGEST__SOURCE"] == "live" and env["ARGOS_INGEST__VENUES"] == venue
    settings = settings_of(env, "ARGOS_INGEST__", monkeypatch)
    assert {(m.market, m.symbols) for m in venue_markets(settings.ingest)} == expected


def test_empty_list_keeps_the_single_deployment() -> None:
    deployments = [o for o in ingest_objects() if o["kind"] == "Deployment"]
    assert [d["metadata"]["name"] for d in deployments] == ["argos-ingest"]
    assert "ARGOS_INGEST__VENUES" not in env_of(deployments[0])


@pytest.mark.parametrize(("profile", "creates"), [("default", False), ("production", False), ("external", True)])
def test_the_ingest_waits_for_the_topic_strimzi_owns(profile: str, creates: bool, monkeypatch) -> None:
    """With Strimzi the chart's KafkaTopic owns the topic (partitions, replicas, config): an ingest that created it
    first would race the Topic Operator with broker defaults. An external Kafka has no owner in the chart."""
    deployment = next(o for o in objects(render(profile, "argos"))
                      if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("ingest"))
    assert settings_of(env_of(deployment), "ARGOS_KAFKA__", monkeypatch).kafka.create_topic is creates
