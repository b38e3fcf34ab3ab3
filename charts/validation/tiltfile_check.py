"""Parse and execute the Tiltfile in the Go Starlark interpreter (starlark-go), Tilt's language.

    python tiltfile_check.py Tiltfile

Tilt itself is not available offline, so its builtins are stubs that record their calls and the
helm_resource extension's `load` is checked for its exact form and then dropped. This proves the file
parses, every name resolves and the top-level logic (reading the pins) runs; not what Tilt would deploy.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import starlark_go

TILT_BUILTINS = (
    "docker_build",
    "helm_resource",
    "helm_repo",
    "local_resource",
    "namespace_create",
    "fall_back_on",
    "sync",
    "run",
)
EXTENSION_LOAD = "load('ext://helm_resource', 'helm_resource', 'helm_repo')"


def main(argv: list[str]) -> int:
    path = Path(argv[1])
    source = path.read_text()
    if EXTENSION_LOAD not in source.splitlines():
        print(f"{path}: expected the line {EXTENSION_LOAD}", file=sys.stderr)
        return 1
    source = re.sub(r"^load\(.*\)$", "", source, flags=re.M)
    stubs = "calls = []\n" + "".join(
        f"def {name}(*args, **kwargs):\n    calls.append(('{name}', args[0] if args else kwargs.get('name')))\n"
        for name in TILT_BUILTINS
    )
    stubs += "def read_file(path):\n    return FILES[path]\n"
    stubs += "def local(cmd, quiet=False):\n    calls.append(('local', cmd))\n    return 'stub-output'\n"
    env_file = "charts/platform/versions.env"
    vm = starlark_go.Starlark(globals={"FILES": {env_file: (path.parent / env_file).read_text()}})
    try:
        vm.exec(stubs + source, filename=str(path))
    except starlark_go.StarlarkError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    calls = vm.eval("calls")
    resources = [name for kind, name in calls if kind in ("helm_resource", "local_resource", "docker_build")]
    print(f"  Tiltfile ok: {len(resources)} resources/images ({', '.join(resources)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
