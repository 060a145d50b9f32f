"""The load benchmark: N simulated users, each K turns, against the app and against a bare Streamlit
chat page, in one invocation, with the same model server and the same Streamlit configuration.

Each user is a websocket session (bench/load/streamlit_client.py) with its own forwarded identity.
Per turn it records the time to the first streamed text and to the end of the page run, how many
times the reply was updated on the way, and whether the reply says exactly what the model sent.
Per round it records turns per second, the server's resident memory per connected session and the
server process's CPU time per turn (page loads included).

    .venv/bin/python bench/load/run_load.py --users 1,10,50,100 --turns 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "load"))

from fake_model import FakeModelServer, reply_words  # noqa: E402
from streamlit_client import BrowserTab, RunResult  # noqa: E402

PROMPT_WORDS = 30


@dataclass
class Round:
    target: str
    users: int
    turns: int
    first_text_ms: list[float] = field(default_factory=list)
    finished_ms: list[float] = field(default_factory=list)
    updates: list[int] = field(default_factory=list)
    wrong_replies: int = 0  # a reply that did not say what the model sent (or none at all)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    memory_mb_per_session: float = 0.0
    server_cpu_seconds: float = 0.0  # the server process's CPU time over the round
    machine_idle_share: float = 0.0  # of all cores' time over the round, the share no process used
    server_cores_busiest_second: float = 0.0  # the server's CPU time in its busiest second, in cores

    def summary(self) -> dict[str, float | int]:
        def percentile(values: list[float], share: float) -> float:
            if not values:
                return float("nan")
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

        return {
            "first_text_p50_ms": percentile(self.first_text_ms, 0.5),
            "first_text_p95_ms": percentile(self.first_text_ms, 0.95),
            "finished_p50_ms": percentile(self.finished_ms, 0.5),
            "turns_per_second": len(self.finished_ms) / self.seconds if self.seconds else 0.0,
            "updates_per_reply_median": statistics.median(self.updates) if self.updates else 0,
            "turns_without_a_right_reply": self.wrong_replies,
            "memory_mb_per_session": self.memory_mb_per_session,
            "server_cpu_ms_per_turn": 1000 * self.server_cpu_seconds / len(self.finished_ms)
            if self.finished_ms
            else float("nan"),
            # A server's Python runs on one core at a time: near 1.0 here, it has no more to give,
            # whatever the machine's idle share says.
            "server_cores_busy": self.server_cpu_seconds / self.seconds if self.seconds else 0.0,
            "server_cores_busiest_second": self.server_cores_busiest_second,
            "machine_idle_share": self.machine_idle_share,
        }


class Server:
    """`streamlit run <script>` from the project root, through serve.py as the app ships, so both pages
    read .streamlit/config.toml and both have Nagle's algorithm off."""

    def __init__(self, script: str, env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(tempfile.mkdtemp(prefix="bench-server-")) / "server.log"
        self.healthy = False
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "serve.py", "run", script, "--server.port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started = time.monotonic()

    def wait_healthy(self, timeout: float = 90) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        self.healthy = True
                        return time.monotonic() - self.started
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.url} did not become healthy; see {self.log_path}")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        """CPU time the server process has used (user + system), all its threads."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.healthy:
            # A server that never became healthy keeps its log: the error names it.
            shutil.rmtree(self.log_path.parent, ignore_errors=True)


def machine_cpu_times() -> tuple[int, int]:
    """(idle, total) clock ticks of all cores since boot, from /proc/stat."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)  # idle and iowait count as idle


async def busiest_second(server: Server, round_over: asyncio.Event) -> float:
    """The server's CPU time over its busiest second while the round runs, in cores: the rounds' ramps
    (users connecting, the last replies ending) pull the round's average down."""
    readings = [(time.monotonic(), server.cpu_seconds())]
    while not round_over.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(round_over.wait(), 0.25)
        readings.append((time.monotonic(), server.cpu_seconds()))
    busiest = 0.0
    for index, (start, cpu_at_start) in enumerate(readings):
        # the first reading at least a second later (CPU time comes in 10 ms ticks)
        later = next(((at, cpu) for at, cpu in readings[index + 1 :] if at - start >= 1.0), None)
        if later is not None:
            busiest = max(busiest, (later[1] - cpu_at_start) / (later[0] - start))
    return busiest


def prompt_for(user: int, turn: int) -> str:
    # 30 words, the first one unique per user and turn, so the reply is recognisable.
    return f"u{user}t{turn} " + " ".join(f"word{i}" for i in range(PROMPT_WORDS - 1))


async def one_user(server: Server, page: str, user: int, turns: int, reply_tokens: int) -> list[RunResult]:
    tab = BrowserTab(server.url, headers={"X-Forwarded-Email": f"bench-user-{user}@example.com"}, page=page)
    await tab.open()
    try:
        await tab.load()
        results = []
        for turn in range(turns):
            prompt = prompt_for(user, turn)
            expected = "".join(reply_words(prompt, reply_tokens))
            result = await tab.send(prompt, expect=expected.split(" ", 1)[0])
            if result.reply_text != expected:
                result.reply_text = f"WRONG:{result.reply_text}"
            results.append(result)
        return results
    finally:
        await tab.close()


def start_profiler(server: Server, path: Path) -> subprocess.Popen[bytes]:
    """py-spy on the server for the length of a round: only samples holding the GIL, which on a busy
    server is where the time goes that every other thread waits for."""
    py_spy = Path(sys.executable).with_name("py-spy")
    command = [str(py_spy), "record", "--pid", str(server.process.pid), "--gil", "--rate", "100"]
    command += ["--format", "raw", "--output", str(path), "--nonblocking"]
    profiler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attaching takes a moment; samples before the round starts are idle anyway
    return profiler


def stop_profiler(profiler: subprocess.Popen[bytes]) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.kill()


async def run_round(
    server: Server,
    target: str,
    page: str,
    users: int,
    turns: int,
    reply_tokens: int,
    profile_to: Path | None = None,
) -> Round:
    record = Round(target=target, users=users, turns=turns)
    memory_before = server.rss_mb()
    profiler = start_profiler(server, profile_to) if profile_to else None
    cpu_before = server.cpu_seconds()
    idle_before, total_before = machine_cpu_times()
    round_over = asyncio.Event()
    sampler = asyncio.create_task(busiest_second(server, round_over))
    started = time.monotonic()
    outcomes = await asyncio.gather(
        *(one_user(server, page, user, turns, reply_tokens) for user in range(users)), return_exceptions=True
    )
    record.seconds = time.monotonic() - started
    record.server_cpu_seconds = server.cpu_seconds() - cpu_before
    round_over.set()
    record.server_cores_busiest_second = await sampler
    idle_after, total_after = machine_cpu_times()
    record.machine_idle_share = (idle_after - idle_before) / max(1, total_after - total_before)
    if profiler:
        stop_profiler(profiler)
    record.memory_mb_per_session = max(0.0, server.rss_mb() - memory_before) / users
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            record.errors.append(f"{type(outcome).__name__}: {outcome}")
            record.wrong_replies += turns
            continue
        for result in outcome:
            if result.error or result.exceptions:
                record.errors.append(result.error or "; ".join(result.exceptions))
            if result.first_text_seconds is None or (result.reply_text or "").startswith("WRONG"):
                record.wrong_replies += 1
            else:
                record.first_text_ms.append(result.first_text_seconds * 1000)
                record.updates.append(result.updates)
            if result.finished_seconds is not None:
                record.finished_ms.append(result.finished_seconds * 1000)
    return record


def environment(model: FakeModelServer, data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "LLM_", "DATABASE_"))}
    env.update(
        LLM_BASE_URL=model.base_url,
        LLM_ENDPOINT="bench",
        TRUST_FORWARDED_HEADERS="true",
        MODEL_TITLES="false",
        EMBEDDED_DB_DIR=str(data_dir / "postgres"),
        OUTBOX_DIR=str(data_dir / "outbox"),
        MAX_TURNS_PER_MINUTE_PER_USER="1000",
        LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def markdown_table(rounds: list[Round]) -> str:
    by_users: dict[int, dict[str, Round]] = {}
    for record in rounds:
        by_users.setdefault(record.users, {})[record.target] = record
    lines = [
        "| users | first streamed text p50 / p95, bare | same, app | turns/s bare / app "
        "| updates per reply bare / app | turns without the right reply bare / app "
        "| MB per session bare / app | server CPU ms per turn bare / app "
        "| server cores busy, round / busiest second, bare | same, app | machine idle bare / app |",
        "|---:|---|---|---|---|---|---|---|---|---|---|",
    ]
    for users, pair in sorted(by_users.items()):
        bare, app = pair["bare"].summary(), pair["app"].summary()
        lines.append(
            f"| {users} | {bare['first_text_p50_ms']:,.0f} / {bare['first_text_p95_ms']:,.0f} ms "
            f"| {app['first_text_p50_ms']:,.0f} / {app['first_text_p95_ms']:,.0f} ms "
            f"| {bare['turns_per_second']:.1f} / {app['turns_per_second']:.1f} "
            f"| {bare['updates_per_reply_median']:.0f} / {app['updates_per_reply_median']:.0f} "
            f"| {bare['turns_without_a_right_reply']} / {app['turns_without_a_right_reply']} "
            f"| {bare['memory_mb_per_session']:.2f} / {app['memory_mb_per_session']:.2f} "
            f"| {bare['server_cpu_ms_per_turn']:.0f} / {app['server_cpu_ms_per_turn']:.0f} "
            f"| {bare['server_cores_busy']:.2f} / {bare['server_cores_busiest_second']:.2f} "
            f"| {app['server_cores_busy']:.2f} / {app['server_cores_busiest_second']:.2f} "
            f"| {bare['machine_idle_share']:.0%} / {app['machine_idle_share']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def plot(rounds: list[Round], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(11, 4))
    for target, style in (("bare", "o--"), ("app", "s-")):
        own = sorted((r for r in rounds if r.target == target), key=lambda r: r.users)
        users = [r.users for r in own]
        latency.plot(users, [r.summary()["first_text_p95_ms"] for r in own], style, label=f"{target} p95")
        p50 = [r.summary()["first_text_p50_ms"] for r in own]
        latency.plot(users, p50, style, alpha=0.5, label=f"{target} p50")
        throughput.plot(users, [r.summary()["turns_per_second"] for r in own], style, label=target)
    latency.set(xlabel="concurrent users", ylabel="first streamed text (ms)", title="Latency", yscale="log")
    throughput.set(xlabel="concurrent users", ylabel="turns per second", title="Throughput")
    for axes in (latency, throughput):
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", default="1,10,50,100", help="comma-separated numbers of concurrent users")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--first-token-ms", type=float, default=100)
    parser.add_argument("--tokens-per-second", type=float, default=100)
    parser.add_argument("--reply-tokens", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record a py-spy profile of each server for each round (out/profile-<page>-N<n>.txt, raw "
        "collapsed stacks) and their summaries by kind of work (out/profiles.md)",
    )
    arguments = parser.parse_args()
    model = FakeModelServer(
        first_token_seconds=arguments.first_token_ms / 1000,
        tokens_per_second=arguments.tokens_per_second,
        reply_tokens=arguments.reply_tokens,
    )
    data_dir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    arguments.out.mkdir(parents=True, exist_ok=True)
    app = Server("Home.py", environment(model, data_dir, {}), 8710)
    bare = Server("bench/load/bare_chat.py", environment(model, data_dir, {}), 8711)
    rounds: list[Round] = []
    try:
        app_start = app.wait_healthy()
        bare.wait_healthy()
        print(f"app healthy {app_start:.2f} s after start", flush=True)
        for users in (int(n) for n in arguments.users.split(",")):
            for target, server, page in (("bare", bare, ""), ("app", app, "chat")):
                profile_to = arguments.out / f"profile-{target}-N{users}.txt" if arguments.profile else None
                record = asyncio.run(
                    run_round(
                        server, target, page, users, arguments.turns, arguments.reply_tokens, profile_to
                    )
                )
                rounds.append(record)
                print(f"{target:>4} N={users:<3} {record.summary()} errors={len(record.errors)}", flush=True)
                for error in sorted(set(record.errors))[:3]:
                    print(f"       {error[:160]}", flush=True)
    finally:
        app.stop()
        bare.stop()
        model.stop()
        sys.path.insert(0, str(ROOT))
        from persistence.embedded import stop_embedded_server

        stop_embedded_server(data_dir / "postgres")
        shutil.rmtree(data_dir, ignore_errors=True)  # about 40 MB of database files a run
    document = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine_cores": os.cpu_count(),
        "app_seconds_to_healthy": app_start,
        "settings": vars(arguments) | {"out": str(arguments.out)},
        "rounds": [asdict(r) | {"summary": r.summary()} for r in rounds],
    }
    (arguments.out / "load.json").write_text(json.dumps(document, indent=2))
    (arguments.out / "load.md").write_text(markdown_table(rounds))
    plotted = plot(rounds, arguments.out / "load.png")
    if arguments.profile:
        # The raw profiles are large and stay out of git (.gitignore); their summaries are kept.
        from profile_summary import profiles_markdown

        profiles = [arguments.out / f"profile-{r.target}-N{r.users}.txt" for r in rounds]
        (arguments.out / "profiles.md").write_text(profiles_markdown(profiles, top=10))
    print(markdown_table(rounds))
    written = "load.json, load.md" + (", load.png" if plotted else " (no matplotlib: no plot)")
    print(f"Wrote {written} in {arguments.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
