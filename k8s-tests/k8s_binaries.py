"""Build kube-apiserver, kubectl and etcd from the Go module proxy, cached by version.

`go install k8s.io/kubernetes/cmd/kube-apiserver@v1.x` is refused (its go.mod replaces the staging modules
with local paths), so a small module of ours requires ``k8s.io/kubernetes`` and replaces every staging module
it requires with its published ``k8s.io/*`` version (``v0.<minor>.<patch>``); etcd is built from a module that
calls ``go.etcd.io/etcd/server/v3/etcdmain``. The Go sources are ``k8s-tests/apiserver/*/main.go`` and
``k8s-tests/etcd/main.go``; ``go.mod`` is written at build time from the version pin (the replace list differs
per Kubernetes release). Binaries land in ``$ARGOS_CACHE_DIR/k8s/<name>-<version>/`` (default
``~/.cache/argos``), never in the repository.

    python k8s-tests/k8s_binaries.py            # build every pinned version (CI pre-build, or by hand)
    python k8s-tests/k8s_binaries.py spark-operator-2.5.2
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSIONS_ENV = HERE.parent / "charts" / "platform" / "versions.env"


def pins() -> dict[str, str]:
    """KEY=value pairs of charts/platform/versions.env (quotes stripped)."""
    out: dict[str, str] = {}
    for line in VERSIONS_ENV.read_text().splitlines():
        if m := re.match(r"^([A-Z0-9_]+)=(.*)$", line.strip()):
            out[m[1]] = m[2].strip('"')
    return out


def cache_root() -> Path:
    return Path(os.environ.get("ARGOS_CACHE_DIR") or Path.home() / ".cache" / "argos").expanduser() / "k8s"


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("go is not on PATH: kube-apiserver and etcd are built from the Go module proxy (Go >= 1.24)")
    return go


def _run(cmd: list[str], cwd: Path, log: Path) -> None:
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    with log.open("a") as out:
        out.write(f"+ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}) in {cwd}; log {log}:\n{tail}")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder per output directory, also across processes (pytest-xdist, a CI pre-build)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def staging_replaces(kubernetes_gomod: str, version: str) -> list[str]:
    """``k8s.io/x => k8s.io/x v0.M.P`` for every staging module that k8s.io/kubernetes requires."""
    major_minor_patch = version.lstrip("v").split(".")
    published = f"v0.{major_minor_patch[1]}.{major_minor_patch[2]}"
    required = set(re.findall(r"^\s*(k8s\.io/[\w.-]+) v0\.0\.0\b", kubernetes_gomod, re.M))
    staged = re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/src/\1\s*$", kubernetes_gomod, re.M)
    if not staged:
        raise RuntimeError(f"k8s.io/kubernetes {version}: no staging replace directives found in its go.mod")
    return [f"{m} => {m} {published}" for m in staged if m in required]


def _module_gomod(module: str, version: str, cwd: Path, log: Path) -> str:
    info = subprocess.run(
        [_go(), "mod", "download", "-json", f"{module}@{version}"], cwd=cwd, capture_output=True, text=True, check=False
    )
    if info.returncode != 0:
        log.write_text(info.stdout + info.stderr)
        raise RuntimeError(f"go mod download {module}@{version} failed: {(info.stdout + info.stderr)[-2000:]}")
    return Path(json.loads(info.stdout)["GoMod"]).read_text()


def _build(name: str, version: str, sources: dict[str, Path], gomod: str, ldflags: str) -> dict[str, Path]:
    out = cache_root() / f"{name}-{version}"
    bins = {binary: out / binary for binary in sources}
    with _locked(out):
        if all(p.is_file() and os.access(p, os.X_OK) for p in bins.values()):
            return bins
        work = cache_root() / "build" / f"{name}-{version}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        log = work / "build.log"
        for binary, src in sources.items():
            (work / binary).mkdir()
            shutil.copy(src, work / binary / "main.go")
        (work / "go.mod").write_text(gomod)
        started = time.monotonic()
        names = ", ".join(sources)
        print(f"building {names} {version} from the Go module proxy (first run only; log {log})", file=sys.stderr,
              flush=True)
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _run(
            [_go(), "build", "-trimpath", "-ldflags", ldflags, "-o", str(tmp) + "/", *[f"./{b}" for b in sources]],
            work,
            log,
        )
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        (out / "build-seconds").write_text(f"{time.monotonic() - started:.0f}\n")
        print(f"built {name} {version} in {time.monotonic() - started:.0f}s -> {out}", file=sys.stderr, flush=True)
        return bins


def _cached(name: str, tag: str, binaries: tuple[str, ...]) -> dict[str, Path] | None:
    out = cache_root() / f"{name}-{tag}"
    bins = {b: out / b for b in binaries}
    return bins if all(p.is_file() and os.access(p, os.X_OK) for p in bins.values()) else None


def kubernetes_binaries(version: str) -> dict[str, Path]:
    """kube-apiserver and kubectl of Kubernetes ``version`` (e.g. ``1.37.2``)."""
    tag = "v" + version.lstrip("v")
    if cached := _cached("kubernetes", tag, ("kube-apiserver", "kubectl")):
        return cached
    work = cache_root() / "build"
    work.mkdir(parents=True, exist_ok=True)
    upstream = _module_gomod("k8s.io/kubernetes", tag, work, work / f"gomod-{tag}.log")
    go_line = re.search(r"^go (\S+)$", upstream, re.M)
    replaces = "\n".join(f"\t{r}" for r in staging_replaces(upstream, tag))
    gomod = (
        "// Generated by k8s-tests/k8s_binaries.py: k8s.io/kubernetes with its staging modules from the proxy.\n"
        f"module argos.test/kubernetes\n\ngo {go_line[1] if go_line else '1.24'}\n\n"
        f"require k8s.io/kubernetes {tag}\n\nreplace (\n{replaces}\n)\n"
    )
    _major, minor, _patch = tag[1:].split(".")
    ldflags = " ".join(
        f"-X {pkg}.{var}={value}"
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for var, value in (("gitVersion", tag), ("gitMajor", "1"), ("gitMinor", minor), ("gitTreeState", "clean"))
    )
    sources = {b: HERE / "apiserver" / b / "main.go" for b in ("kube-apiserver", "kubectl")}
    return _build("kubernetes", tag, sources, gomod, f"-s -w {ldflags}")


def etcd_binary(version: str) -> Path:
    """etcd ``version`` (e.g. ``3.6.5``) built from go.etcd.io/etcd/server/v3."""
    tag = "v" + version.lstrip("v")
    gomod = (
        "// Generated by k8s-tests/k8s_binaries.py: etcd's server module from the proxy.\n"
        f"module argos.test/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 {tag}\n"
    )
    ldflags = f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-{tag}"
    return _build("etcd", tag, {"etcd": HERE / "etcd" / "main.go"}, gomod, ldflags)["etcd"]


def spark_operator_binary(version: str) -> Path:
    """The kubeflow spark-operator ``version`` (e.g. ``2.5.2``), with its own go.mod's (version) replaces."""
    tag = "v" + version.lstrip("v")
    if cached := _cached("spark-operator", tag, ("spark-operator",)):
        return cached["spark-operator"]
    module = "github.com/kubeflow/spark-operator/v2"
    work = cache_root() / "build"
    work.mkdir(parents=True, exist_ok=True)
    upstream = _module_gomod(module, tag, work, work / f"gomod-spark-operator-{tag}.log")
    block = re.search(r"^replace \((.*?)^\)", upstream, re.M | re.S)
    replaces = block[1] if block else ""
    if "=> ./" in replaces or "=> ../" in replaces:
        raise RuntimeError(f"{module}@{tag} replaces modules with local paths: not buildable from the proxy")
    go_line = re.search(r"^go (\S+)$", upstream, re.M)
    gomod = (
        "// Generated by k8s-tests/k8s_binaries.py: the spark-operator with the replaces of its own go.mod.\n"
        f"module argos.test/spark-operator\n\ngo {go_line[1] if go_line else '1.24'}\n\n"
        f"require {module} {tag}\n\nreplace ({replaces})\n"
    )
    sources = {"spark-operator": HERE / "spark-operator" / "main.go"}
    return _build("spark-operator", tag, sources, gomod, "-s -w")["spark-operator"]


def main(argv: list[str]) -> int:
    p = pins()
    versions = argv or [*p["KUBERNETES_APISERVER_VERSIONS"].split(), f"spark-operator-{p['SPARK_OPERATOR_VERSION']}"]
    print(etcd_binary(p["ETCD_VERSION"]))
    for version in versions:
        if version.startswith("spark-operator-"):
            print(spark_operator_binary(version.removeprefix("spark-operator-")))
        else:
            print(*kubernetes_binaries(version).values())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
