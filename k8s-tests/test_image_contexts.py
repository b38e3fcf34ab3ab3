"""What the images build from, checked without a Docker engine: each Dockerfile's build context, the wheel built
from it, and the Spark image's build of Argos' Kafka reader.

The context is the repository (``git ls-files``) filtered by the image's ``Dockerfile.dockerignore`` with Docker's
rules: a pattern matches a path or one of its parent directories, and the last matching pattern decides (``!``
lets a path back in). The wheel is built from that copy as the image's ``pip install ".[extra]"`` would build it.
The reader's build is the Spark Dockerfile's own ``python -c`` program, read from the file as Docker hands it to
the shell, run against that wheel with the image's paths (``/jars``, ``/opt/argos``) moved to a temporary
directory. So a file left out of a context, or a program that no longer fits ``build_kafka_reader``, fails here and
not first in the release or kind workflow.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
READER_SOURCES = ROOT / "spark-jobs" / "kafka-reader" / "src" / "main"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex over a slash-separated relative path (Go's filepath.Match, plus ``**``)."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(text[i], re.escape(text[i]))
            i += 1
    return re.compile(out)


def context_files(dockerignore: Path) -> list[str]:
    """The repository's files that Docker sends as the build context under ``dockerignore``."""
    rules = []
    for line in dockerignore.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keep = line.startswith("!")
            rules.append((keep, _pattern(line.removeprefix("!").strip("/"))))

    def sent(path: str) -> bool:
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        ignored = False
        for keep, pattern in rules:
            if keep == ignored and any(pattern.fullmatch(c) for c in candidates):
                ignored = not keep
        return not ignored

    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    return [path for path in listed if (ROOT / path).is_file() and sent(path)]


def copy_context(dockerfile: Path, target: Path) -> Path:
    for path in context_files(dockerfile.with_name(dockerfile.name + ".dockerignore")):
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, target / path)
    return target


def build_wheel(context: Path, out: Path) -> Path:
    """The wheel that ``pip install .`` builds from ``context`` (its build backend fetched as pip would)."""
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(context)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"the wheel does not build from the image's context:\n{done.stderr[-3000:]}"
    (wheel,) = out.glob("*.whl")
    return wheel


def run_instructions(dockerfile: Path) -> list[str]:
    """Each RUN's shell command as Docker passes it on: continuation lines joined, comment lines dropped."""
    logical, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if current and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1]
            continue
        logical.append(current + line)
        current = ""
    return [line.removeprefix("RUN ") for line in logical if line.startswith("RUN ")]


@pytest.fixture(scope="module")
def image_build(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Path]]:
    """An image's build context and the wheel built from it, once per image."""
    built: dict[str, tuple[Path, Path]] = {}

    def build(image: str) -> tuple[Path, Path]:
        if image not in built:
            root = tmp_path_factory.mktemp(image)
            context = copy_context(ROOT / image / "Dockerfile", root / "context")
            built[image] = context, build_wheel(context, root / "dist")
        return built[image]

    return build


@pytest.mark.parametrize("image", ["ingest", "spark-jobs"])
def test_the_wheel_builds_from_the_image_context(image: str, image_build) -> None:
    dockerfile = ROOT / image / "Dockerfile"
    context, wheel = image_build(image)
    assert not (context / ".git").exists() and not (context / "tests").exists(), "the context sends too much"
    with zipfile.ZipFile(wheel) as built:
        names = set(built.namelist())
        metadata = next(built.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    hatch = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    expected = {f"{Path(package).name}/{p.relative_to(ROOT / package).as_posix()}"
                for package in hatch["packages"] for p in (ROOT / package).rglob("*.py")}
    for source, target in hatch["force-include"].items():
        expected |= {f"{target}/{p.relative_to(ROOT / source).as_posix()}" for p in (ROOT / source).rglob("*.sql")}
    assert len(expected) > 50, expected
    assert not expected - names, f"missing from the wheel built in {image}'s context: {sorted(expected - names)}"
    extra = "etl" if image == "spark-jobs" else "ingest"
    assert f"Provides-Extra: {extra}" in metadata, f"the image installs '.[{extra}]', which the wheel lacks"
    assert f'pip install ".[{extra}]"' in dockerfile.read_text()


def test_the_spark_image_builds_the_kafka_reader(tmp_path: Path, image_build) -> None:
    from argos_etl.jars import spark_kafka_jars

    dockerfile = ROOT / "spark-jobs" / "Dockerfile"
    (command,) = [run for run in run_instructions(dockerfile) if "build_kafka_reader" in run]
    words = shlex.split(command)
    program = next(word for before, word in pairwise(words) if before == "-c" and "build_kafka_reader" in word)
    assert "JAVA_HOME=/opt/jdk" in words, "the reader is compiled with the Maven stage's JDK"

    jars = tmp_path / "jars"  # the Maven stage's /jars: the Kafka connector's four jars
    jars.mkdir()
    for jar in spark_kafka_jars():
        shutil.copy2(jar, jars / jar.name)
    out = tmp_path / "opt-argos"
    moved = program.replace('"/jars/', f'"{jars}/').replace('"/opt/argos/', f'"{out}/')
    assert moved.count(str(jars)) == 1 and moved.count(str(out)) == 1, f"the image's paths moved in:\n{program}"

    context, wheel = image_build("spark-jobs")
    site = tmp_path / "site"  # the image's venv: the wheel built from the context, and this machine's pyspark
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import argos_etl; print(argos_etl.__file__)"], env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site)), f"argos_etl came from {where}, not the wheel"
    done = subprocess.run([sys.executable, "-c", moved], cwd=context, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    with zipfile.ZipFile(out / "argos-kafka-reader.jar") as jar:
        names = set(jar.namelist())
    java, resources = READER_SOURCES / "java", READER_SOURCES / "resources"
    classes = {p.relative_to(java).with_suffix(".class").as_posix() for p in java.rglob("*.java")}
    services = {p.relative_to(resources).as_posix() for p in resources.rglob("*") if p.is_file()}
    assert classes and services and classes | services <= names, sorted(names)


def tilt_builds() -> dict[str, tuple[Path, list[str]]]:
    """Each ``docker_build`` of the Tiltfile: its image name → (Dockerfile, the paths of its ``only=``)."""
    tree = ast.parse((ROOT / "Tiltfile").read_text())  # Starlark, in the subset Python parses alike
    names: dict[str, object] = {}
    builds = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(Exception):  # only the literal lists matter here
                names[node.targets[0].id] = ast.literal_eval(node.value)
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "docker_build":
            kw = {k.arg: k.value for k in call.keywords}
            only = eval(compile(ast.Expression(kw["only"]), "Tiltfile", "eval"), dict(names))
            builds[ast.literal_eval(call.args[0])] = ROOT / ast.literal_eval(kw["dockerfile"]), only
    return builds


def test_tilt_sends_each_image_what_its_docker_build_context_holds() -> None:
    """Tilt's ``only=`` replaces the Dockerfile's .dockerignore as the filter of what it sends: a path the image
    builds from and ``only`` leaves out breaks ``tilt up`` (as the Kafka reader's sources once did)."""
    builds = tilt_builds()
    assert set(builds) == {"argos-ingest", "argos-spark"}
    for image, (dockerfile, only) in builds.items():
        prefixes = [p.rstrip("/") for p in only]
        context = context_files(dockerfile.with_name(dockerfile.name + ".dockerignore"))
        missing = [f for f in context if not any(f == p or f.startswith(p + "/") for p in prefixes)]
        assert not missing, f"{image}: the Tiltfile's only= leaves out {missing[:5]}"
