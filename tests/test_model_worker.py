"""The answer model in its supervised worker process: same answers as in-process, and the
app outlives a crash of llama.cpp (real model, real signals, a real `qa-bot serve`; slow)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa_bot.answer.prompt import NOT_FOUND_TOKEN, build_messages
from tests.conftest import FOUNDING, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
QA_BOT = str(Path(sys.executable).with_name("qa-bot"))
SNIPPETS = [
    "Sekretaris Jenderal NATO Mark Rutte mengatakan tentara Korea Utara telah dikirim ke Rusia.",
    "Pertemuan DK PBB akan berlangsung pada Rabu (30/10) setelah pukul 15.00 waktu setempat.",
]
MESSAGES = build_messages("Siapa Sekretaris Jenderal NATO?", SNIPPETS, "id")


@pytest.fixture(scope="module")
def gguf(settings_factory) -> str:
    from qa_bot.models.prepare.gguf import prepare_default_gguf

    return str(prepare_default_gguf(settings_factory()))


@pytest.fixture()
def supervised(gguf):
    from qa_bot.models.supervised_chat import SupervisedLlamaChat

    chat = SupervisedLlamaChat(model_path=gguf, n_threads=os.cpu_count() or 2)
    yield chat
    chat.close()


def kill_when_streaming(chat, sig: signal.Signals) -> list[str]:
    """Stream MESSAGES and send ``sig`` to the worker after the first piece arrives."""
    pieces = []
    for chunk in chat.stream(MESSAGES, max_tokens=60):
        pieces.append(chunk.content)
        if len(pieces) == 1:
            os.kill(chat.worker_pid, sig)
    return pieces


def test_worker_streams_what_the_in_process_model_streams(supervised):
    """Greedy decoding in the worker gives the in-process model's text and refusal probability."""
    from qa_bot.models.llamacpp_chat import LlamaCppChat

    inline = LlamaCppChat.load(Path(supervised.model_path), n_threads=supervised.n_threads)
    probe = {"watch_token": NOT_FOUND_TOKEN, "force_above": 0.02}
    want = list(inline.stream(MESSAGES, **probe))
    got = list(supervised.stream(MESSAGES, **probe))
    assert [c.content for c in got] == [c.content for c in want]
    assert "".join(c.content for c in got).startswith("Sekretaris Jenderal NATO adalah Mark Rutte")
    assert got[0].response_metadata["first_token_p"] == pytest.approx(
        want[0].response_metadata["first_token_p"], abs=1e-6
    )


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_a_dead_worker_fails_its_question_and_the_next_one_is_answered(supervised, sig):
    from qa_bot.models.supervised_chat import AnswerModelCrashed

    first_pid = supervised.start() and supervised.worker_pid
    with pytest.raises(AnswerModelCrashed) as crash:
        kill_when_streaming(supervised, sig)
    assert crash.value.reason.startswith(f"{sig.name}: ")
    assert str(crash.value).startswith(f"The answer model stopped while answering ({sig.name}: ")
    reply = supervised.invoke(MESSAGES, max_tokens=30).content
    assert reply.startswith("Sekretaris Jenderal NATO adalah Mark Rutte")
    assert supervised.worker_pid not in (None, first_pid)
    assert supervised.restarts == 1


def test_a_caller_that_stops_reading_leaves_nothing_for_the_next(supervised):
    stream = supervised.stream(MESSAGES, max_tokens=60)
    next(stream)
    stream.close()  # the worker is told to stop; what it still sent is read and dropped
    again = supervised.invoke(build_messages("Kapan DK PBB bertemu?", SNIPPETS, "id"), max_tokens=40)
    assert "Rabu" in again.content and "Mark Rutte" not in again.content


def test_a_waiting_caller_is_answered_by_the_new_worker(supervised):
    """Two callers: the first one's worker dies mid-answer, the second (queued on the model)
    gets its answer from the worker started after the crash."""
    from qa_bot.models.supervised_chat import AnswerModelCrashed

    supervised.start()
    results: dict[str, object] = {}
    streaming = threading.Event()

    def second() -> None:
        streaming.wait()
        results["second"] = supervised.invoke(MESSAGES, max_tokens=30).content

    other = threading.Thread(target=second)
    other.start()
    try:
        for n, chunk in enumerate(supervised.stream(MESSAGES, max_tokens=60)):
            assert chunk.content
            if n == 0:  # later pieces may still come: the worker sent them before it died
                streaming.set()
                time.sleep(0.3)  # the second caller is queued on the model by now
                os.kill(supervised.worker_pid, signal.SIGKILL)
    except AnswerModelCrashed as exc:
        results["first"] = exc
    other.join(timeout=300)
    assert isinstance(results["first"], AnswerModelCrashed)
    assert str(results["second"]).startswith("Sekretaris Jenderal NATO adalah Mark Rutte")


def test_the_worker_ends_when_its_parent_is_killed(gguf):
    script = (
        "import sys\n"
        "from qa_bot.models.supervised_chat import SupervisedLlamaChat\n"
        f"chat = SupervisedLlamaChat(model_path={gguf!r})\n"
        "chat.start()\n"
        "print(chat.worker_pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    worker = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        _reap(worker)
        time.sleep(0.1)
    assert not Path(f"/proc/{worker}").exists() or _state(worker) == "Z"


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name ([] when it is gone):
    [0] is the state, [11] and [12] user and system CPU time in ticks."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _state(pid: int) -> str:
    return (_stat(pid) or [""])[0]


# ---- the app and the CLI, as real processes ------------------------------------------------
def workers_of(pid: int) -> list[int]:
    """Pids of the model workers whose parent is ``pid``."""
    from benchmarks.bench import children

    found = []
    for child in children(pid):
        try:
            if b"qa_bot.models.llm_worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_since(pid: int, baseline: float) -> bool:
    """Whether the worker has worked (read a prompt, written tokens) since ``baseline``."""
    return cpu_seconds(pid) > baseline + 0.3


def idle_cpu(pid: int, timeout: float = 300) -> float:
    """The worker's CPU time once it has stopped working (after loading and priming)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.05:
            return cpu_seconds(pid)
    raise AssertionError(f"the model worker {pid} kept working for {timeout:.0f} s")


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def store_env(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("worker-corpus")
    (corpus / FOUNDING.name).write_bytes(FOUNDING.read_bytes())
    store = tmp_path_factory.mktemp("worker-store")
    env = dict(os.environ, QA_BOT_STORE_DIR=str(store), QA_BOT_ANSWER_CACHE="0")
    done = subprocess.run([QA_BOT, "ingest", str(corpus), "--quiet"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return env, corpus


@pytest.fixture(scope="module")
def served(store_env, tmp_path_factory):
    """`qa-bot serve` as a user starts it, on a free loopback port."""
    import httpx

    env, corpus = store_env
    port = free_port()
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    with log.open("w") as out:
        app = subprocess.Popen(
            [QA_BOT, "serve", "--port", str(port), "--corpus", str(corpus)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: _up(httpx, url) or app.poll() is not None, 120, "the app to listen")
    assert app.poll() is None, log.read_text()
    wait_for(lambda: workers_of(app.pid), 120, "the model worker to start")
    yield app, url, log
    app.terminate()
    app.wait(timeout=30)


def _up(httpx, url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# Its answer must take long enough to be killed mid-way: a sentence ("Amerika Serikat
# memastikan setidaknya 3.000 tentara ..."), not a bare "3.000 [1]." that ends before the kill.
QUESTION_A = "Apa yang dipastikan Amerika Serikat tentang tentara Korea Utara?"
QUESTION_B = "Siapa Sekretaris Jenderal NATO?"


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_serve_outlives_its_model_worker(served, sig):
    """A question in flight when the worker dies gets the message; another client asking at
    the same time gets its answer; the same client is answered when it asks again; the app
    process never exits."""
    from gradio_client import Client

    app, url, log = served
    (worker,) = wait_for(lambda: workers_of(app.pid), 60, "a model worker")
    asker, other = Client(url, verbose=False), Client(url, verbose=False)
    baseline = idle_cpu(worker)
    job = asker.submit(QUESTION_A, [], "", "", api_name="/chat")
    # The chat shows only checked sentences, so nothing appears while the model works: the
    # worker's own CPU time says the question has reached it.
    wait_for(lambda: busy_since(worker, baseline), 300, "the model working on the question")
    answer_b = other.submit(QUESTION_B, [], "", "", api_name="/ask")
    time.sleep(0.5)  # the other question is waiting for the model now
    os.kill(worker, sig)
    final_a = job.result(timeout=300)
    assert final_a.startswith(f"The answer model stopped while answering ({sig.name}: "), final_a
    assert "please ask again" in final_a
    b = answer_b.result(timeout=300)
    assert b["found"] is True and "Mark Rutte" in b["text"], b
    again = asker.predict(QUESTION_A, [], "", "", api_name="/ask")
    assert again["found"] is True and "3.000" in again["text"], again
    assert app.poll() is None, log.read_text()
    assert workers_of(app.pid) not in ([], [worker])


def test_ask_reports_a_crashed_worker_with_an_exit_code(store_env):
    env, _ = store_env
    ask = subprocess.Popen(
        [QA_BOT, "ask", QUESTION_A], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    (worker,) = wait_for(lambda: workers_of(ask.pid), 120, "the model worker")
    assert _cpu_rising(worker), "the worker never started answering"
    os.kill(worker, signal.SIGSEGV)
    out, err = ask.communicate(timeout=120)
    assert ask.returncode == 1, (out, err)
    assert out == ""
    assert err.startswith("qa-bot: the answer model crashed while answering (SIGSEGV: "), err
    assert "qa-bot setup" in err and "Traceback" not in err


def test_setup_reports_a_model_that_crashes_with_the_command_that_fixes_it(store_env):
    env, _ = store_env
    setup = subprocess.Popen(
        [QA_BOT, "setup"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    (worker,) = wait_for(lambda: workers_of(setup.pid), 300, "setup's model check")
    os.kill(worker, signal.SIGSEGV)
    out, err = setup.communicate(timeout=120)
    assert setup.returncode == 1, (out, err)
    assert "models ready" not in out
    assert err.startswith(
        "qa-bot: the answer model failed a test answer in a child process: it died while loading the "
        "model (SIGSEGV: a segmentation fault in llama.cpp). The llama-cpp-python in this environment was "
    ), err
    assert "Rebuild it for this CPU: `make llama LLAMA_CPU=" in err
    assert "please ask again" not in err and "Traceback" not in err


def _cpu_rising(pid: int) -> bool:
    """True once the worker computes for 100 ms on end after a pause of 160 ms or more:
    loading the model runs without such a pause, reading the saved prompt prefix takes a few
    milliseconds, and what follows the parent's retrieval is reading the question's prompt
    (a second or more): the answer."""
    still = busy = 0
    paused = False
    last = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        fields = _stat(pid)
        if not fields:
            return False
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        if ticks == last:
            still, busy = still + 1, 0
            paused = paused or still >= 8
        else:
            still, busy = 0, busy + 1
            if paused and busy >= 5:
                return True
        last = ticks
        time.sleep(0.02)
    return False


def test_setup_proves_the_answer_model_runs(capsys):
    """`qa-bot setup` generates tokens in a child process and says with which build."""
    import re

    from qa_bot.models.prepare.llama_build import installed_build
    from ui.cli import main

    assert main(["setup"]) == 0
    out = capsys.readouterr().out
    build = installed_build().get("tag")
    named = f"llama.cpp build {build}" if build else "llama.cpp build not from `make`"
    assert re.fullmatch(
        rf"answer model runs: 4 tokens generated in \d+\.\d s after a \d+\.\d s load \({re.escape(named)}\)\n"
        r"models ready\n",
        out,
    ), out
