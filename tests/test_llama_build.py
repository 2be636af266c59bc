"""Which llama.cpp build a CPU gets, where its wheel is cached, and what setup says about a
build that does not fit the CPU."""

from __future__ import annotations

import json

import pytest

from qa_bot.models.prepare import llama_build
from qa_bot.models.prepare.llama_build import (
    BuildError,
    best_tag,
    build_problems,
    cmake_args,
    resolve,
    wheel_dir,
)

BASE = {"sse4_2", "avx", "avx2", "bmi2", "fma", "f16c"}
AVX512 = {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}
# Flags as lscpu lists them on the machines this project has run on.
EPYC_ZEN3 = BASE | {"sse4a", "sha_ni", "vaes"}
XEON_SAPPHIRE_RAPIDS = BASE | AVX512 | {"avx512vbmi", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8"}
EPYC_ZEN4 = BASE | AVX512 | {"avx512vbmi", "avx512_vnni", "avx512_bf16"}
XEON_SKYLAKE = BASE | AVX512


@pytest.mark.parametrize(
    ("flags", "tag"),
    [
        (EPYC_ZEN3, "avx2"),
        (XEON_SAPPHIRE_RAPIDS, "avx512-vbmi-vnni-bf16"),
        (EPYC_ZEN4, "avx512-vbmi-vnni-bf16"),
        (XEON_SKYLAKE, "avx512"),
    ],
)
def test_best_tag_takes_the_features_the_cpu_has_and_never_amx(flags, tag):
    assert best_tag(flags, prefer_avx512=True) == tag
    assert not any("AMX" in a and a.endswith("=ON") for a in cmake_args(tag))
    assert "-DGGML_NATIVE=OFF" in cmake_args(tag)


def test_best_tag_without_avx2_says_what_to_do():
    with pytest.raises(BuildError, match="lacks AVX2/FMA/F16C.*QA_BOT_LLM_BASE_URL"):
        best_tag({"sse4_2", "avx"})


@pytest.mark.parametrize(
    ("cpu", "flags", "message"),
    [
        (
            "avx512",
            EPYC_ZEN3,
            "this CPU lacks avx512bw, avx512cd, avx512dq, avx512f, avx512vl, which the avx512",
        ),
        ("avx512-vnni", XEON_SKYLAKE, "this CPU lacks avx512_vnni, which the avx512-vnni build uses"),
        ("avx512-amx", EPYC_ZEN4, "unknown llama.cpp build 'avx512-amx'"),
        ("native", EPYC_ZEN4, "unknown llama.cpp build 'native'"),
    ],
)
def test_resolve_refuses_a_build_the_cpu_cannot_run(cpu, flags, message):
    with pytest.raises(BuildError) as refused:
        resolve(cpu, flags)
    assert str(refused.value).startswith(message)


def test_wheel_folder_names_the_features_and_the_exact_flags(tmp_path):
    folders = {tag: wheel_dir(tmp_path, tag) for tag in ("avx2", "avx512", "avx512-vbmi-vnni-bf16")}
    assert folders["avx2"].name.startswith(f"llama-cpp-python-{llama_build.LLAMA_VERSION}-avx2-")
    assert len(set(folders.values())) == 3
    assert wheel_dir(tmp_path, "avx2") == folders["avx2"]  # stable: the cache is found again


@pytest.mark.parametrize(
    ("system_info", "flags", "problems"),
    [
        ("CPU : SSE3 = 1 | AVX2 = 1 | FMA = 1 | AVX512 = 0 | OPENMP = 1 |", EPYC_ZEN3, []),
        (
            "CPU : AVX2 = 1 | AVX512 = 1 | AVX512_VNNI = 1 | OPENMP = 1 |",
            EPYC_ZEN3,
            ["it uses AVX512, which this CPU lacks", "it uses AVX512_VNNI, which this CPU lacks"],
        ),
        (
            "CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 |",
            XEON_SAPPHIRE_RAPIDS,
            ["it uses AMX (crashed on Intel Xeons in VMs)"],
        ),
        ("CPU : AVX2 = 1 | AVX512 = 1 |", set(), []),  # flags unknown: nothing to judge
    ],
)
def test_build_problems_names_features_the_cpu_lacks_and_amx(system_info, flags, problems):
    assert build_problems(system_info, flags) == problems


def test_installed_build_reads_what_install_recorded(tmp_path):
    assert llama_build.installed_build(str(tmp_path)) == {}
    (tmp_path / llama_build.MARKER).write_text(json.dumps({"tag": "avx2"}))
    assert llama_build.installed_build(str(tmp_path))["tag"] == "avx2"


def test_fix_command_gives_make_and_pip_forms():
    fix = llama_build.fix_command("avx2")
    assert fix.startswith("`make llama LLAMA_CPU=avx2` in the project folder, or by hand: `CMAKE_ARGS=")
    assert "-DGGML_NATIVE=OFF" in fix and "--no-binary llama-cpp-python" in fix


def test_the_running_llama_build_fits_this_cpu():
    """The build this environment runs (the one CI just installed) uses no feature the CPU
    lacks and no AMX: what setup checks, asked of the real library."""
    import subprocess
    import sys

    info = subprocess.run(
        [sys.executable, "-c", "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "AVX2 = 1" in info
    assert build_problems(info, llama_build.cpu_flags()) == []
    assert "AMX_INT8 = 1" not in info


@pytest.mark.parametrize(
    ("installed", "suggested"),
    [("", "auto"), ("avx2", "auto"), ("auto", "avx2")],
)
def test_setup_suggests_another_build_than_the_one_that_failed(installed, suggested):
    """Setup's advice rebuilds for this CPU's own features, or falls back to the AVX2
    baseline when that build is the one installed (and crashed): never the same again."""
    from qa_bot.models.prepare.model_check import _fix

    auto = resolve("auto")
    installed = auto if installed == "auto" else installed
    want = auto if suggested == "auto" else "avx2"
    if installed == auto and auto == "avx2":
        want = "avx2"  # on an AVX2 machine there is nothing else to suggest
    assert _fix(installed).startswith(f"`make llama LLAMA_CPU={want}` ")


def test_setup_advice_says_what_happened_and_when():
    from qa_bot.models.prepare.model_check import _crash_advice

    advice = _crash_advice("it died while generating (SIGSEGV: a segmentation fault in llama.cpp)", "avx2")
    assert advice.startswith(
        "the answer model failed a test answer in a child process: it died while generating (SIGSEGV: "
        "a segmentation fault in llama.cpp). The llama-cpp-python in this environment was built for avx2 "
        "by `make`. Rebuild it for this CPU: `make llama LLAMA_CPU="
    )
    assert advice.endswith(
        "then run `qa-bot setup` again. To use a model server instead, set QA_BOT_LLM_BASE_URL."
    )
