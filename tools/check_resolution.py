"""Check, without installing anything, that the lock resolves for every Python version and
platform the course supports.

    python tools/check_resolution.py [--python 3.11 ...] [--platform linux|macos ...]

For each (Python version, platform) pair, uv resolves what ``./course.sh setup`` installs (the
package with all its extras, ``pyproject.toml``) under the lock (``constraints.txt``) for that
target interpreter and platform, with binary wheels only (``--only-binary :all:``): a pair passes
when every locked version has a wheel there. uv evaluates the environment markers of the lock and
of every dependency for the *target* (``python_version``, ``sys_platform``), which pip's
``--dry-run --python-version --platform`` does not: pip evaluates markers for the interpreter it
runs on. Only package metadata is fetched; a pair takes a few seconds.

``./course.sh resolve`` runs this; CI runs it on every push. ``./course.sh lock`` regenerates the
lock (one universal resolution with markers, preferring the versions already locked).

Platforms: ``linux`` is glibc x86_64 (manylinux 2.28: Debian 10, Ubuntu 20.04 and later);
``macos`` is Apple silicon with macOS 14 or later (torch 2.13 ships arm64 wheels for macOS 14+
only, and no Intel-mac wheels).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = ("3.11", "3.12", "3.13")
PLATFORMS = {
    "linux": ("x86_64-manylinux_2_28", {}),
    "macos": ("aarch64-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": "14.0"}),
}


def uv() -> str:
    exe = Path(sys.executable).with_name("uv")
    found = str(exe) if exe.is_file() else shutil.which("uv")
    if not found:
        raise SystemExit("uv is not installed: run ./course.sh setup (it is in the dev extra)")
    return found


def resolve(python: str, platform: str) -> tuple[bool, dict[str, str], str]:
    """Resolve for one target; return (ok, {package: version}, uv's messages)."""
    target, env = PLATFORMS[platform]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "resolved.txt"
        cmd = [
            uv(), "pip", "compile", "--quiet", "--no-header", "--no-annotate",
            "--python-version", python, "--python-platform", target, "--only-binary", ":all:",
            str(ROOT / "pyproject.toml"), "--all-extras",
            "-c", str(ROOT / "constraints.txt"), "-o", str(out),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                              env={**os.environ, **env}, cwd=tmp)
        if proc.returncode != 0 or not out.is_file():
            return False, {}, proc.stdout + proc.stderr
        pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", out.read_text(), flags=re.M))
    return True, {k.lower().replace("_", "-"): v for k, v in pins.items()}, proc.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", action="append", choices=PYTHONS)
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS))
    args = parser.parse_args(argv)
    pairs = [(py, pf) for pf in (args.platform or sorted(PLATFORMS))
             for py in (args.python or PYTHONS)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(pairs, pool.map(lambda p: resolve(*p), pairs), strict=True))
    for (py, pf), (ok, versions, messages) in results.items():
        detail = (f"{len(versions):>4} packages, torch {versions.get('torch', '?')}, "
                  f"numpy {versions.get('numpy', '?')}") if ok else ""
        print(f"Python {py} {pf:<6} {'resolves' if ok else 'FAILS':<9} {detail}")
        if not ok:
            print("    " + messages.strip().replace("\n", "\n    "))
    for pf in sorted({pf for _, pf in pairs}):
        table = {py: results[(py, pf)][1] for py in PYTHONS if (py, pf) in results}
        names = sorted({n for v in table.values() for n in v})
        differ = [n for n in names if len({v.get(n, "-") for v in table.values()}) > 1]
        if differ and len(table) > 1:
            print(f"\nversions that differ between Python versions ({pf}; the lock's markers):")
            print(f"  {'package':<24}" + "".join(f"{py:>12}" for py in table))
            for n in differ:
                print(f"  {n:<24}" + "".join(f"{v.get(n, '-'):>12}" for v in table.values()))
    failed = [p for p, (ok, _, _) in results.items() if not ok]
    if failed:
        print(f"\n{len(failed)} of {len(pairs)} (Python, platform) pairs do not resolve")
        return 1
    print(f"\nall {len(pairs)} (Python, platform) pairs resolve with binary wheels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
