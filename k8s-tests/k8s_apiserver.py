"""A real kube-apiserver + etcd on loopback for the duration of a test session, and kubectl against it.

No controllers, kubelet or scheduler run: objects are admitted, validated (OpenAPI, CEL, CRD schemas,
field validation Strict) and stored exactly as on a cluster, which is what the chart tests need.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from ssl import CERT_NONE, create_default_context


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    """A running API server: its version, a kubeconfig for cluster-admin and a kubectl of the same version."""

    version: str
    url: str
    token: str
    kubeconfig: Path
    kubectl_bin: Path
    log: Path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.kubectl_bin), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def apply(self, manifest: str, namespace: str | None = None, dry_run: bool = False) -> subprocess.CompletedProcess:
        """Server-side apply (Strict field validation); returns the result without raising."""
        args = ["apply", "--server-side", "--field-manager=argos-tests", "--validate=strict", "-f", "-"]
        if namespace:
            args += ["-n", namespace]
        if dry_run:
            args.append("--dry-run=server")
        return self.kubectl(*args, stdin=manifest, check=False)


def _wait(proc: subprocess.Popen, what: str, ready: Callable[[], bool], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _start(
    what: str, command: Callable[..., list[str]], ready: Callable[..., bool], log: Path, ports: int
) -> tuple[subprocess.Popen, list[int]]:
    """Start a server on ``ports`` free ports, on new ones if another process bound one first; wait until ready.

    A free port is only free until someone binds it: CI once saw kube-apiserver exit with "address already in use".
    """
    for attempt in range(1, 4):
        chosen = [free_port() for _ in range(ports)]
        with log.open("w") as out:
            proc = subprocess.Popen(command(*chosen), stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait(proc, what, lambda: ready(*chosen), log)  # noqa: B023 - called before the loop moves on
            return proc, chosen
        except RuntimeError:
            _stop(proc)
            if attempt == 3 or "address already in use" not in log.read_text():
                raise
            print(f"{what}: a port was taken before it bound it; again on new ports", flush=True)
    raise AssertionError("unreachable")


@contextmanager
def running_cluster(version: str, binaries: dict[str, Path], etcd: Path, workdir: Path) -> Iterator[Cluster]:
    """etcd, then kube-apiserver (loopback, random ports); on exit the API server stops before etcd."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is required to create the service-account signing key of the test API server")
    workdir.mkdir(parents=True, exist_ok=True)
    key = workdir / "sa.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    token = secrets.token_hex(16)
    (workdir / "tokens.csv").write_text(f'{token},argos-test-admin,argos-test-admin,"system:masters"\n')
    ctx = create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, CERT_NONE

    def etcd_command(port: int, peer: int) -> list[str]:
        return [
            str(etcd),
            "--data-dir", str(workdir / f"etcd-{port}"),  # a fresh member on each attempt
            "--listen-client-urls", f"http://127.0.0.1:{port}",
            "--advertise-client-urls", f"http://127.0.0.1:{port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync",
            "--log-level", "warn",
        ]  # fmt: skip

    def etcd_ready(port: int, _peer: int) -> bool:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200

    def api_command(port: int) -> list[str]:
        return [
            str(binaries["kube-apiserver"]),
            "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1",
            "--advertise-address", "127.0.0.1",
            "--secure-port", str(port),
            "--cert-dir", str(workdir / "certs"),
            "--token-auth-file", str(workdir / "tokens.csv"),
            "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", str(key),
            "--service-account-signing-key-file", str(key),
            "--service-cluster-ip-range", "10.96.0.0/16",
            # No Endpoints for the kubernetes Service: with a loopback address 1.37 refuses to start.
            "--endpoint-reconciler-type", "none",
            "--v", "1",
        ]  # fmt: skip

    def api_ready(port: int) -> bool:
        req = urllib.request.Request(f"https://127.0.0.1:{port}/readyz", headers={"Authorization": f"Bearer {token}"})
        return urllib.request.urlopen(req, timeout=2, context=ctx).status == 200

    etcd_proc, (etcd_port, _) = _start("etcd", etcd_command, etcd_ready, workdir / "etcd.log", ports=2)
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    api_proc: subprocess.Popen | None = None
    try:
        started = time.monotonic()
        api_log = workdir / "kube-apiserver.log"
        api_proc, (api_port,) = _start(f"kube-apiserver {version}", api_command, api_ready, api_log, ports=1)
        url = f"https://127.0.0.1:{api_port}"
        kubeconfig = workdir / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
            f"clusters: [{{name: test, cluster: {{server: '{url}', insecure-skip-tls-verify: true}}}}]\n"
            f"users: [{{name: admin, user: {{token: '{token}'}}}}]\n"
            "contexts: [{name: test, context: {cluster: test, user: admin}}]\n"
        )
        os.chmod(kubeconfig, 0o600)
        print(f"kube-apiserver {version} ready in {time.monotonic() - started:.1f}s at {url}", flush=True)
        yield Cluster(version, url, token, kubeconfig, binaries["kubectl"], api_log)
    finally:
        if api_proc is not None:
            _stop(api_proc)
        _stop(etcd_proc)


REQUIRED_CRDS = ("strimzi", "spark-operator")


def install_crds(c: Cluster, files: dict[str, list[Path]], required: tuple[str, ...] = REQUIRED_CRDS) -> None:
    """Server-side apply the operators' CRDs (the spark-operator's exceed the client-side annotation limit)."""
    for operator in required:
        assert files.get(operator), f"no CRDs of {operator}: .ci/validate-charts.sh tools should have fetched them"
    for path in [p for group in files.values() for p in group]:
        done = c.kubectl("apply", "--server-side", "--field-manager=argos-tests", "-f", str(path), check=False)
        assert done.returncode == 0, f"CRD {path.name} refused by Kubernetes {c.version}:\n{done.stderr}"
    c.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")


def namespace(c: Cluster, name: str) -> str:
    c.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    return name
