"""Which llama.cpp build runs on this CPU: CPU features chosen on purpose, never ``-march=native``.

llama-cpp-python compiles llama.cpp from source, and its default build targets the CPU it
is built on (``-march=native``). On Intel Xeons with AMX that turns on ggml's AMX path,
which crashed with a general protection fault in a KVM guest here; a native build copied
to a CPU with fewer features dies of an illegal instruction. So the build names its CPU
features explicitly, never AMX, and the wheel is cached in a folder named after them, so a
wheel built for other features (an older build, another machine sharing the home folder)
is never taken by mistake.

Feature sets ("tags"):

* ``avx2``: AVX2, FMA, F16C, BMI2 (x86-64-v3; every x86 server CPU of the last decade);
* ``avx512[-vbmi][-vnni][-bf16]``: AVX-512 F/CD/VL/DQ/BW plus the named extensions.

``auto`` picks the measured fastest set this CPU supports (see :data:`AUTO_PREFERS_AVX512`):
AVX-512 with every extension the CPU has, else AVX2.
Standard library only: the Makefile runs this file before the venv has anything else::

    python3 -P qa_bot/models/prepare/llama_build.py tag auto    # e.g. avx2
    python3 -P qa_bot/models/prepare/llama_build.py install --venv .venv --wheels ~/.cache/qa-bot/wheels
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

LLAMA_VERSION = "0.3.36"
# Written into the venv by `install`: which tag and flags built the llama.cpp it runs.
MARKER = "qa-bot-llama-build.json"

# Flags every x86 set shares: no -march=native, no AMX; mtmd (multimodal) is not used here
# and skipping it saves a minute of compiling.
_BASE = [
    "-DGGML_NATIVE=OFF",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
    "-DLLAVA_BUILD=OFF",
]
_AVX2 = [
    "-DGGML_SSE42=ON",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_BMI2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
]
# cpuinfo flags each ggml option compiles in (GGML_AVX512 turns on -mavx512f/cd/vl/dq/bw).
_NEEDS = {
    "avx2": {"sse4_2", "avx", "avx2", "bmi2", "fma", "f16c"},
    "avx512": {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"},
    "vbmi": {"avx512vbmi"},
    "vnni": {"avx512_vnni"},
    "bf16": {"avx512_bf16"},
}
_OPTION = {"vbmi": "-DGGML_AVX512_VBMI=ON", "vnni": "-DGGML_AVX512_VNNI=ON", "bf16": "-DGGML_AVX512_BF16=ON"}
# Measured on an Intel Xeon (AVX-512, AMX; 2 cores): AVX-512 read prompts ~1.5x faster than
# the AVX2 build (see docs/performance.md), so `auto` takes it where the CPU has it.
AUTO_PREFERS_AVX512 = True


class BuildError(Exception):
    """No build of the asked kind runs on this CPU; the message says what to do."""


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The feature flags of this CPU (``/proc/cpuinfo``), empty where unknown.

    Example:
        >>> sorted(cpu_flags("processor : 0\\nflags : fpu avx2 fma\\n"))
        ['avx2', 'fma', 'fpu']
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def best_tag(flags: set[str], prefer_avx512: bool = AUTO_PREFERS_AVX512) -> str:
    """The feature set to build for a CPU with ``flags``.

    Example:
        >>> best_tag({"sse4_2", "avx", "avx2", "bmi2", "fma", "f16c"})
        'avx2'
        >>> avx512 = {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw", "avx512_vnni"}
        >>> best_tag({"sse4_2", "avx", "avx2", "bmi2", "fma", "f16c", *avx512}, prefer_avx512=True)
        'avx512-vnni'
    """
    if not _NEEDS["avx2"] <= flags:
        raise BuildError(
            "this CPU lacks AVX2/FMA/F16C, which the prepared llama.cpp builds need: run the answer "
            "model on another machine (QA_BOT_LLM_BASE_URL) or build llama-cpp-python by hand"
        )
    if not (prefer_avx512 and _NEEDS["avx512"] <= flags):
        return "avx2"
    return "-".join(["avx512", *(ext for ext in ("vbmi", "vnni", "bf16") if _NEEDS[ext] <= flags)])


def tag_needs(tag: str) -> set[str]:
    """The cpuinfo flags a build of ``tag`` executes.

    Example:
        >>> sorted(tag_needs("avx512-vnni") - tag_needs("avx2"))
        ['avx512_vnni', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512f', 'avx512vl']
    """
    parts = tag.split("-")
    if parts[0] not in ("avx2", "avx512") or any(p not in _OPTION for p in parts[1:]):
        raise BuildError(f"unknown llama.cpp build {tag!r}: use auto, avx2 or avx512[-vbmi][-vnni][-bf16]")
    needs = set(_NEEDS["avx2"])
    for part in parts:
        needs |= _NEEDS[part]
    return needs


def cmake_args(tag: str) -> list[str]:
    """The CMake arguments that build ``tag``.

    Example:
        >>> "-DGGML_NATIVE=OFF" in cmake_args("avx2") and "-DGGML_AVX512=ON" not in cmake_args("avx2")
        True
    """
    tag_needs(tag)  # validates the tag
    parts = tag.split("-")
    args = _BASE + _AVX2
    if parts[0] == "avx512":
        args = [*args, "-DGGML_AVX512=ON", *(_OPTION[p] for p in parts[1:])]
    return args


def resolve(cpu: str, flags: set[str] | None = None) -> str:
    """``cpu`` ("auto" or a tag) as a tag this CPU can run.

    Raises:
        BuildError: the named tag uses features this CPU lacks.
    """
    flags = cpu_flags() if flags is None else flags
    if cpu == "auto":
        return best_tag(flags)
    missing = tag_needs(cpu) - flags
    if flags and missing:
        raise BuildError(
            f"this CPU lacks {', '.join(sorted(missing))}, which the {cpu} build uses: "
            "use LLAMA_CPU=auto (or avx2)"
        )
    return cpu


def wheel_dir(wheels: Path, tag: str) -> Path:
    """The cache folder of wheels built for ``tag``: named after the version, the tag and a
    digest of the exact CMake arguments, so a change of flags never reuses an old wheel."""
    digest = hashlib.sha256(" ".join(cmake_args(tag)).encode()).hexdigest()[:8]
    return Path(wheels) / f"llama-cpp-python-{LLAMA_VERSION}-{tag}-{digest}"


def installed_build(prefix: str | None = None) -> dict:
    """What ``install`` recorded in the venv (tag, CMake arguments, wheel), {} when it did
    not install the llama.cpp there (a plain `pip install` compiles with -march=native)."""
    try:
        return json.loads((Path(prefix or sys.prefix) / MARKER).read_text())
    except (OSError, ValueError):
        return {}


# llama.cpp's system-info names -> the cpuinfo flag each needs.
_SYSTEM_INFO_FLAGS = {
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX_VNNI": "avx_vnni",
    "AVX2": "avx2",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}


def build_features(system_info: str) -> set[str]:
    """The features a loaded llama.cpp build uses, from ``llama_print_system_info()``.

    Example:
        >>> sorted(build_features("CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 0 | AMX_INT8 = 1 |"))
        ['AMX_INT8', 'AVX2', 'SSE3']
    """
    used = set()
    for part in system_info.replace("\n", "|").split("|"):
        name, _, value = part.rpartition("=")
        name = name.split(":")[-1].strip()
        if name and value.strip() == "1":
            used.add(name)
    return used


def build_problems(system_info: str, flags: set[str]) -> list[str]:
    """What is wrong with a llama.cpp build on a CPU with ``flags``: features it uses that
    the CPU lacks, and AMX (which crashed here even where the CPU has it).

    Example:
        >>> build_problems("CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 |", {"avx2", "amx_int8"})
        ['it uses AVX512, which this CPU lacks', 'it uses AMX (crashed on Intel Xeons in VMs)']
    """
    used = build_features(system_info)
    problems = [
        f"it uses {name}, which this CPU lacks"
        for name, flag in _SYSTEM_INFO_FLAGS.items()
        if name in used and flags and flag not in flags
    ]
    if "AMX_INT8" in used and flags and "amx_int8" in flags:
        problems.append("it uses AMX (crashed on Intel Xeons in VMs)")
    return problems


def fix_command(tag: str = "avx2") -> str:
    """The commands that rebuild llama-cpp-python for ``tag`` (make, or pip by hand)."""
    args = " ".join(cmake_args(tag))
    return (
        f"`make llama LLAMA_CPU={tag}` in the project folder, or by hand: "
        f'`CMAKE_ARGS="{args}" pip install --force-reinstall --no-deps --no-binary llama-cpp-python '
        f"llama-cpp-python=={LLAMA_VERSION}`"
    )


def install(venv: Path, wheels: Path, cpu: str = "auto") -> Path:
    """Build (once per tag) and install llama-cpp-python into ``venv``; return the wheel."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        raise BuildError(
            f"the prepared builds are for x86-64, this is {platform.machine()}: install "
            f"llama-cpp-python=={LLAMA_VERSION} with pip (its default build suits ARM)"
        )
    tag = resolve(cpu)
    folder = wheel_dir(wheels, tag)
    pip = [str(Path(venv) / "bin" / "python"), "-m", "pip"]
    found = sorted(folder.glob(f"llama_cpp_python-{LLAMA_VERSION}-*.whl"))
    if not found:
        print(
            f"Compiling llama-cpp-python {LLAMA_VERSION} for {tag} (once, 4-7 minutes on 2 cores); "
            f"the wheel is kept in {folder}",
            flush=True,
        )
        started = time.monotonic()
        env = dict(os.environ, CMAKE_ARGS=" ".join(cmake_args(tag)))
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        tmp = folder.with_name(folder.name + ".partial")
        # --no-cache-dir: pip's own wheel cache is keyed by the sdist, not the flags, and
        # would hand a build for other CPU features back.
        subprocess.run(
            [*pip, "wheel", "--no-deps", "--no-cache-dir", "--no-binary", "llama-cpp-python",
             "-w", str(tmp), f"llama-cpp-python=={LLAMA_VERSION}"],
            env=env,
            check=True,
        )  # fmt: skip
        tmp.rename(folder)  # only a finished build gets the name `install` looks for
        found = sorted(folder.glob(f"llama_cpp_python-{LLAMA_VERSION}-*.whl"))
        print(f"compiled in {time.monotonic() - started:.0f} s", flush=True)
    wheel = found[-1]
    subprocess.run([*pip, "install", "--quiet", "--force-reinstall", "--no-deps", str(wheel)], check=True)
    marker = {"tag": tag, "cmake_args": cmake_args(tag), "wheel": str(wheel), "version": LLAMA_VERSION}
    (Path(venv) / MARKER).write_text(json.dumps(marker, indent=1))
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llama_build", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tag = sub.add_parser("tag", help="print the build tag for this CPU")
    tag.add_argument("cpu", nargs="?", default="auto")
    inst = sub.add_parser("install", help="build once and install into a venv")
    inst.add_argument("--venv", type=Path, required=True)
    inst.add_argument("--wheels", type=Path, required=True)
    inst.add_argument("--cpu", default="auto", help="auto, avx2 or avx512[-vbmi][-vnni][-bf16]")
    args = parser.parse_args(argv)
    try:
        if args.command == "tag":
            print(resolve(args.cpu))
        else:
            print(f"llama-cpp-python installed from {install(args.venv, args.wheels, args.cpu)}")
    except BuildError as exc:
        print(f"llama_build: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"llama_build: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
