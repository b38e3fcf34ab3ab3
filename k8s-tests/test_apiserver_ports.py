"""The test cluster starts even when another process binds a port it was handed (CI saw exactly that once)."""

from __future__ import annotations

import socket

import k8s_apiserver
import pytest
from k8s_apiserver import free_port, running_cluster
from k8s_binaries import etcd_binary, kubernetes_binaries, pins

pytestmark = pytest.mark.timeout(3600)  # builds the binaries on a cold cache, like test_apiserver.py


def test_a_port_taken_before_the_server_binds_it_is_replaced(tmp_path, monkeypatch, capsys) -> None:
    version = pins()["KUBERNETES_APISERVER_VERSIONS"].split()[0]
    etcd, binaries = etcd_binary(pins()["ETCD_VERSION"]), kubernetes_binaries(version)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        handed = [taken.getsockname()[1]]  # etcd's client port is the first one handed out
        monkeypatch.setattr(k8s_apiserver, "free_port", lambda: handed.pop() if handed else free_port())
        with running_cluster(version, binaries, etcd, tmp_path) as c:
            assert c.kubectl("get", "namespaces", "-o", "name").stdout.count("namespace/") >= 3
    assert "etcd: a port was taken before it bound it; again on new ports" in capsys.readouterr().out
