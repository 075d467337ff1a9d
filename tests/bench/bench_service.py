"""Benchmark: the local render service under load (job-status polling and submissions).

    .venv/bin/python tests/bench/bench_service.py [--duration 10] [--concurrency 16]
        [--client raw|httpx] [--rate REQUESTS_PER_S] [--slow-ms MS]

Starts a real service as a separate process (`python -m app serve --port 0 --data TMP
--stall-warning-ms 20`), so the
load generator never shares a GIL with the server, on 127.0.0.1 only, over a temporary data
folder with one Enterprise account (`serve create-account`: huge rate limit, credits and
concurrency, so no 429/402 ever interferes). Everything the benchmark creates (server process
group, render workers, data folder, REELSMITH_HOME) is removed at the end, Ctrl-C included.

Phases (each prints requests/s and p50/p90/p99 latency as seen by the client):

0. Idle baseline: a few seconds of the polling mix with no job rendering (for comparison).
1. Polling while renders run: `--render-jobs` real renders (320×180, 30 fps, 60 s of video,
   a few seconds of CPU each) are queued behind the service's single render slot, so one is
   rendering through the whole measurement; then `--concurrency` async workers (one
   connection each) hammer `GET /api/jobs/{id}` (round-robin over the render jobs) with every
   5th request a `GET /api/jobs?status=queued,rendering`, for `--duration` seconds or
   `--max-requests` requests. Target: >= 200 requests/s and p99 <= 50 ms, no errors.
   By default the pollers run flat out (closed loop); `--rate` paces them on a fixed schedule
   (latency then counts from the scheduled send time). The pollers speak HTTP/1.1 over plain
   asyncio streams (`--client raw`, the default); `--client httpx` uses httpx, which costs
   ~1.2 ms of client CPU per request, so 16 flat-out httpx pollers saturate a core of their
   own and measure mostly their own queueing.
   `--slow-ms 50` lists the slow requests of this phase in bursts, next to the job status
   changes the pollers saw around them.
2. Submissions: `--submissions` POST /api/render of a tiny valid script (live key, so the full
   credit-reservation path runs) with a unique Idempotency-Key each, `--submit-concurrency` at a
   time. Design: the render slot is still busy with the phase-1 renders (the queue is FIFO), so
   the tiny jobs only queue and never render during the measurement; afterwards they are all
   cancelled (DELETE, timed separately, whole reservation refunded) and the service is stopped.
   Reported: submissions/s, p50/p99, and p50 of the first vs the last quarter (does submitting
   get slower as queued jobs pile up?).

Client-side latency includes the client's own event-loop time; the machine's cores are shared
by client, server and render workers (see the machine facts printed at the top). So every phase
also reports the event-loop stalls over 20 ms of both sides — the server's from its stall
watch's warnings (`app/server/stallwatch.py`), the load generator's from the same watch run
here — and, of the requests over 50 ms, how many were in flight during a server stall, during a
load-generator stall (the request was sent late, or its answer read late, because this process
could not run), or during neither. The verdict itself counts every request as measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from app.server.stallwatch import StallStats, watch_stalls

ROOT = Path(__file__).resolve().parents[2]
POLL_TARGET_RPS = 200.0
POLL_TARGET_P99_MS = 50.0
SEQUENTIAL_REQUESTS = 30
LIST_EVERY = 5  # every 5th polling request is the status-filtered list
STALL_MS = 20.0  # event-loop stalls longer than this are reported (server and load generator)


# -- scripts ----------------------------------------------------------------------------------


def render_script(index: int, seconds: float = 60.0) -> dict[str, Any]:
    """320×180 at 30 fps, three animated texts: a few seconds of real rendering each."""
    return {
        "width": 320,
        "height": 180,
        "fps": 30,
        "quality": "low",
        "scenes": [
            {
                "duration": seconds,
                "background": "#203040",
                "elements": [
                    {
                        "type": "text",
                        "text": f"Bench {index}",
                        "font_size": 40,
                        "animation": "zoom-in",
                    },
                    {
                        "type": "text",
                        "text": "lower third",
                        "font_size": 24,
                        "position": "bottom-center",
                        "animation": "slide-in-left",
                    },
                    {
                        "type": "text",
                        "text": "corner",
                        "font_size": 18,
                        "position": "top-right",
                        "animation": "fade-in",
                    },
                ],
            }
        ],
    }


def tiny_script() -> dict[str, Any]:
    """64×64, 10 fps, 1 s: the smallest realistic submission."""
    return {
        "width": 64,
        "height": 64,
        "fps": 10,
        "quality": "low",
        "scenes": [
            {
                "duration": 1.0,
                "background": "#203040",
                "elements": [{"type": "text", "text": "Hi", "font_size": 20}],
            }
        ],
    }


# -- statistics -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(p / 100.0 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class Sample:
    """Latencies (seconds) and outcomes of one measured phase."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    codes: Counter[str] = field(default_factory=Counter)
    statuses_seen: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    server_cpu: float = float("nan")  # seconds of CPU the server process used meanwhile
    client_cpu: float = float("nan")  # seconds of CPU this load generator used meanwhile
    machine_busy: float = float("nan")  # share of all cores busy meanwhile (any process)
    # (wall-clock time the request was due, latency) of every request, for --slow-ms.
    timeline: list[tuple[float, float]] = field(default_factory=list)
    # Job status changes as the pollers saw them: (wall-clock time, "status job-id"), and the
    # last status seen per job. With 14 jobs polled hundreds of times a second, a change is
    # seen within a few tens of ms (the jobs' own timestamps have whole seconds only).
    changes: list[tuple[float, str]] = field(default_factory=list)
    last_status: dict[str, str] = field(default_factory=dict)
    load_before: float = float("nan")  # 1-minute load average when the phase began
    wall: tuple[float, float] = (0.0, 0.0)  # wall-clock start and end of the phase
    # Event-loop stalls longer than STALL_MS during the phase, as (wall-clock start, seconds):
    # the server's (its stall watch's warnings) and this load generator's own (the same watch).
    server_stalls: list[tuple[float, float]] = field(default_factory=list)
    client_stalls: list[tuple[float, float]] = field(default_factory=list)

    def add(self, kind: str, seconds: float, code: str) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        self.codes[code] += 1

    def all(self) -> list[float]:
        return sorted(x for values in self.latencies.values() for x in values)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def errors(self) -> int:
        return sum(n for code, n in self.codes.items() if not code.startswith("2"))


def describe(label: str, values: list[float], elapsed: float | None = None) -> str:
    values = sorted(values)
    rate = f"{len(values) / elapsed:8.1f} req/s  " if elapsed else ""
    return (
        f"  {label:<34} n={len(values):<6} {rate}"
        f"p50={percentile(values, 50) * 1000:7.2f} ms  "
        f"p90={percentile(values, 90) * 1000:7.2f} ms  "
        f"p99={percentile(values, 99) * 1000:7.2f} ms  "
        f"max={(values[-1] if values else float('nan')) * 1000:7.2f} ms"
    )


# -- the service process ----------------------------------------------------------------------


class ServiceProcess:
    """`python -m app serve --port 0` in its own session; stop() ends its whole process group."""

    def __init__(self, data: Path, env: dict[str, str]) -> None:
        self.data = data
        self.env = env
        self.command = [
            sys.executable,
            "-m",
            "app",
            "serve",
            "--port",
            "0",
            "--data",
            str(data),
            "--stall-warning-ms",
            f"{STALL_MS:g}",
        ]
        self.log_path = data.parent / "serve.log"
        self.err_path = data.parent / "serve.err"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def create_account(self) -> dict[str, Any]:
        command = [
            sys.executable,
            "-m",
            "app",
            "serve",
            "create-account",
            "--plan",
            "enterprise",
            "--credits",
            "100000000",
            "--rate-limit",
            "100000000",
            "--concurrency",
            "100000",
            "--data",
            str(self.data),
            "--json",
        ]
        out = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        )
        account: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return account

    def start(self, timeout: float = 60.0) -> str:
        # stdout (the URL, then uvicorn's access log at info level) goes to a file: a pipe
        # nobody drains would fill up and block the server.
        with open(self.log_path, "wb") as out, open(self.err_path, "wb") as err:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.err_path.read_text()[-2000:]}")
            first = self.log_path.read_text(errors="replace").split("\n", 1)
            if len(first) == 2 and first[0].startswith("http://127.0.0.1:"):
                self.url = first[0].strip()
                break
            time.sleep(0.02)
        else:
            raise RuntimeError("serve printed no URL")
        while time.monotonic() < deadline:  # the URL comes before uvicorn accepts: wait
            with contextlib.suppress(httpx.TransportError):
                response = httpx.get(self.url + "/api/render/schema", timeout=2, trust_env=False)
                if response.status_code == 200:
                    return self.url
            time.sleep(0.05)
        raise RuntimeError("the service did not answer")

    def stalls(self, since: float, until: float) -> list[tuple[float, float]]:
        """The server's event-loop stalls (wall-clock start, seconds) that overlap [since,
        until], from its stall watch's warnings on stderr ("<ISO 8601 time with UTC offset>
        WARNING app.server.stallwatch: the event loop was blocked for N ms from …", logged when
        the stall ends)."""
        found = []
        with contextlib.suppress(OSError):
            for line in self.err_path.read_text(errors="replace").splitlines():
                if "event loop was blocked for " not in line:
                    continue
                try:
                    ended = datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()
                    ms = float(line.split("blocked for ", 1)[1].split(" ms", 1)[0])
                except (ValueError, IndexError):
                    continue
                began = ended - ms / 1000
                if began <= until and ended >= since:
                    found.append((began, ms / 1000))
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process itself (render workers not included)."""
        if self.process is None:
            return float("nan")
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGINT (clean shutdown: running renders cancelled, jobs failed and refunded), then
        SIGKILL of the process group we created if it lingers."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # leftover render workers, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        self.process = None


# -- load -------------------------------------------------------------------------------------


class RawConnection:
    """One keep-alive HTTP/1.1 connection driven with asyncio streams: a load generator that
    costs ~10x less CPU per request than httpx, so the client's own event loop does not queue
    the requests it measures (the machine has 2 cores for client, server and renders)."""

    def __init__(self, base: str) -> None:
        parts = base.removeprefix("http://").split(":")
        self.host, self.port = parts[0], int(parts[1])
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str, key: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"x-api-key: {key}\r\n\r\n".encode("latin-1")
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def poll_phase(
    client: httpx.AsyncClient,
    base: str,
    key: str,
    job_ids: list[str],
    *,
    duration: float,
    max_requests: int,
    concurrency: int,
    raw: bool = False,
    rate: float = 0.0,
) -> Sample:
    """Closed loop (each worker sends its next request as soon as the last is answered), or,
    with `rate` > 0, paced: the workers together send `rate` requests/s on a fixed schedule,
    as real pollers do, and latency counts from the scheduled send time (a late send is
    charged to the server, so queueing is not hidden)."""
    sample = Sample()
    headers = {"x-api-key": key}
    counter = 0
    began = time.perf_counter()
    stop_at = began + duration
    period = concurrency / rate if rate > 0 else 0.0

    async def worker(index: int) -> None:
        connection = RawConnection(base) if raw else None
        try:
            await work(index, connection)
        finally:
            if connection is not None:
                await connection.close()

    async def work(index: int, connection: RawConnection | None) -> None:
        nonlocal counter
        scheduled = began + period * index / concurrency  # workers spread over one period
        while time.perf_counter() < stop_at and counter < max_requests:
            if period:
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            n = counter
            counter += 1
            if n % LIST_EVERY == LIST_EVERY - 1:
                kind, url = "GET /api/jobs?status=queued,rendering", "/api/jobs"
                params: dict[str, str] | None = {"status": "queued,rendering"}
            else:
                kind, url, params = (
                    "GET /api/jobs/{id}",
                    f"/api/jobs/{job_ids[n % len(job_ids)]}",
                    None,
                )
            started = scheduled if period else time.perf_counter()
            scheduled += period
            try:
                if connection is not None:
                    target = url + ("?status=queued,rendering" if params else "")
                    status, body = await connection.get(target, key)
                    code = str(status)
                else:
                    response = await client.get(base + url, headers=headers, params=params)
                    body = response.content
                    code = str(response.status_code)
            except (httpx.HTTPError, OSError, asyncio.IncompleteReadError) as exc:
                body, code = b"", type(exc).__name__
            latency = time.perf_counter() - started
            sample.add(kind, latency, code)
            sample.timeline.append((time.time() - (time.perf_counter() - started), latency))
            if code == "200" and params is None:
                job = json.loads(body)
                sample.statuses_seen[job["status"]] += 1
                previous = sample.last_status.get(job["job_id"])
                if previous is not None and previous != job["status"]:
                    sample.changes.append((time.time(), f"{job['status']} {job['job_id'][:8]}"))
                sample.last_status[job["job_id"]] = job["status"]

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    sample.elapsed = time.perf_counter() - began
    return sample


async def submit_phase(
    client: httpx.AsyncClient, base: str, key: str, *, total: int, concurrency: int
) -> tuple[Sample, list[float], list[str]]:
    sample = Sample()
    body = json.dumps(tiny_script()).encode()
    ordered: list[float] = [0.0] * total
    job_ids: list[str] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < total:
            index = next_index
            next_index += 1
            headers = {
                "x-api-key": key,
                "content-type": "application/json",
                "idempotency-key": str(uuid.uuid4()),
            }
            started = time.perf_counter()
            try:
                response = await client.post(base + "/api/render", content=body, headers=headers)
                code = str(response.status_code)
                if response.status_code == 202:
                    job_ids.append(response.json()["job_id"])
            except httpx.HTTPError as exc:
                code = type(exc).__name__
            ordered[index] = time.perf_counter() - started
            sample.add("POST /api/render", ordered[index], code)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    sample.elapsed = time.perf_counter() - began
    return sample, ordered, job_ids


async def cancel_all(
    client: httpx.AsyncClient, base: str, key: str, job_ids: list[str], concurrency: int
) -> tuple[Counter[str], float]:
    codes: Counter[str] = Counter()
    pending = list(job_ids)

    async def worker() -> None:
        while pending:
            job_id = pending.pop()
            try:
                response = await client.delete(
                    f"{base}/api/jobs/{job_id}", headers={"x-api-key": key}
                )
                codes[str(response.status_code)] += 1
            except httpx.HTTPError as exc:
                codes[type(exc).__name__] += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return codes, time.perf_counter() - began


def report_slow(sample: Sample, slow: float, near: float = 0.5) -> None:
    """Where the slow requests of a phase fall: grouped into bursts (gaps under 0.5 s), each with
    the job status changes the pollers saw within `near` seconds of it, and how much of the
    phase lies that near a change at all (the share of bursts expected there by chance)."""
    slow_ones = sorted((t, latency) for t, latency in sample.timeline if latency > slow)
    print(f"  requests slower than {slow * 1000:.0f} ms: {len(slow_ones)} of {sample.count}")
    bursts: list[list[tuple[float, float]]] = []
    for item in slow_ones:
        if bursts and item[0] - bursts[-1][-1][0] < 0.5:
            bursts[-1].append(item)
        else:
            bursts.append([item])
    began = sample.timeline[0][0] if sample.timeline else 0.0
    ended = max((t + latency for t, latency in sample.timeline), default=began)
    close = 0
    for burst in bursts:
        first, last = burst[0][0], burst[-1][0]
        seen = [name for at, name in sample.changes if first - near <= at <= last + near]
        close += bool(seen)
        end = max(at + latency for at, latency in burst)
        server = overlapping(first, end - first, sample.server_stalls) * 1000
        client = overlapping(first, end - first, sample.client_stalls) * 1000
        print(
            f"    burst at +{first - began:6.2f} s: {len(burst)} requests over "
            f"{(last - first) * 1000:4.0f} ms, worst {max(x[1] for x in burst) * 1000:6.1f} ms; "
            f"stalls meanwhile: server {server:.0f} ms, load generator {client:.0f} ms; "
            f"job changes within {near:g} s: {', '.join(seen) or 'none'}"
        )
    # The part of the phase within `near` of some change (merged intervals).
    covered, reach = 0.0, began
    for at, _ in sorted(sample.changes):
        low, high = max(reach, at - near, began), min(at + near, ended)
        if high > low:
            covered += high - low
        reach = max(reach, at + near)
    share = covered / (ended - began) if ended > began else float("nan")
    print(
        f"  job changes seen: {len(sample.changes)}; bursts within {near:g} s of one: {close} of "
        f"{len(bursts)}; share of the phase within {near:g} s of one: {share * 100:.0f}%"
    )


def pacing(args: argparse.Namespace) -> str:
    return f"paced at {args.rate:g} req/s" if args.rate > 0 else "closed loop"


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def cpu_line(sample: Sample) -> str:
    n = max(1, sample.count)
    return (
        f"  CPU: server process {sample.server_cpu:.2f} s ({sample.server_cpu / n * 1000:.2f} ms"
        f"/request, {sample.server_cpu / sample.elapsed * 100:.0f}% of a core), load generator "
        f"{sample.client_cpu:.2f} s ({sample.client_cpu / n * 1000:.2f} ms/request); machine "
        f"{sample.machine_busy:.0f}% busy (all cores, any process: render workers, other "
        f"users), load average {sample.load_before:.2f} at the start"
    )


async def measured(coro: Any, service: ServiceProcess) -> Any:
    """Await a phase and attach the CPU the server and this process spent during it, and both
    sides' event-loop stalls: this process's own matter because a request due while the load
    generator could not run is late by that much, whoever answers it (see `attribution`)."""
    server_cpu = service.cpu_seconds
    wall0 = time.time()
    server0, client0, machine0 = server_cpu(), time.process_time(), machine_ticks()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    stalls = StallStats()
    watch = asyncio.get_running_loop().create_task(watch_stalls(STALL_MS / 1000, stalls))
    try:
        result = await coro
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
    sample = result[0] if isinstance(result, tuple) else result
    sample.server_cpu = server_cpu() - server0
    sample.client_cpu = time.process_time() - client0
    machine1 = machine_ticks()
    if machine1[1] > machine0[1]:
        sample.machine_busy = 100.0 * (machine1[0] - machine0[0]) / (machine1[1] - machine0[1])
    sample.load_before = load
    sample.wall = (wall0, time.time())
    sample.client_stalls = list(stalls.recent)
    await asyncio.sleep(0.2)  # a stall is logged when it ends
    sample.server_stalls = service.stalls(*sample.wall)
    return result


def overlapping(at: float, seconds: float, stalls: list[tuple[float, float]]) -> float:
    """How long the stalls overlapping [at, at + seconds] lasted in all (0 if none)."""
    return sum(length for began, length in stalls if began <= at + seconds and began + length >= at)


def stall_line(sample: Sample) -> str:
    def summary(stalls: list[tuple[float, float]]) -> str:
        if not stalls:
            return "none"
        worst = max(length for _, length in stalls) * 1000
        total = sum(length for _, length in stalls) * 1000
        return f"{len(stalls)} (worst {worst:.0f} ms, {total:.0f} ms in all)"

    return (
        f"  event-loop stalls > {STALL_MS:g} ms: server {summary(sample.server_stalls)}; "
        f"load generator {summary(sample.client_stalls)}"
    )


def attribution(sample: Sample, slow: float) -> str:
    """Which requests slower than `slow` were in flight during a server stall, during a stall
    of the load generator itself (due while it could not run: late before they were sent, or
    answered while it could not read), or during neither."""
    slow_ones = [(at, latency) for at, latency in sample.timeline if latency > slow]
    server = sum(1 for at, lat in slow_ones if overlapping(at, lat, sample.server_stalls))
    client = sum(1 for at, lat in slow_ones if overlapping(at, lat, sample.client_stalls))
    neither = sum(
        1
        for at, lat in slow_ones
        if not overlapping(at, lat, sample.server_stalls + sample.client_stalls)
    )
    return (
        f"  requests over {slow * 1000:.0f} ms: {len(slow_ones)}; in flight during a server "
        f"stall: {server}, during a load-generator stall: {client}, during neither: {neither}"
    )


def report_poll(title: str, sample: Sample) -> tuple[float, float]:
    print(title)
    for kind, values in sorted(sample.latencies.items()):
        print(describe(kind, values, sample.elapsed))
    everything = sample.all()
    print(describe("all polling requests", everything, sample.elapsed))
    print(f"  responses: {dict(sample.codes)}  elapsed: {sample.elapsed:.2f} s")
    print(cpu_line(sample))
    print(stall_line(sample))
    print(attribution(sample, POLL_TARGET_P99_MS / 1000))
    if sample.statuses_seen:
        print(f"  job statuses seen by GET /api/jobs/{{id}}: {dict(sample.statuses_seen)}")
    return sample.count / sample.elapsed, percentile(everything, 99) * 1000


async def run_benchmark(
    args: argparse.Namespace, base: str, account: dict[str, Any], service: ServiceProcess
) -> bool:
    key = account["live_key"]
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:
        headers = {"x-api-key": key}

        # Phase 0: idle baseline, polling one tiny job that has already completed.
        warm = await client.post(base + "/api/render", json=tiny_script(), headers=headers)
        warm.raise_for_status()
        warm_id = warm.json()["job_id"]
        for _ in range(50):  # warm-up: connections, thread pool, SQLite connections
            await client.get(f"{base}/api/jobs/{warm_id}", headers=headers)
        deadline = time.monotonic() + 30
        while (await client.get(f"{base}/api/jobs/{warm_id}", headers=headers)).json()[
            "status"
        ] in ("queued", "rendering"):
            if time.monotonic() > deadline:
                raise RuntimeError("the warm-up job did not finish")
            await asyncio.sleep(0.1)
        # One connection, one request at a time: the per-request floor (no queueing at all).
        async with httpx.AsyncClient(timeout=30.0, trust_env=False) as single:
            floor: dict[str, list[float]] = {}
            for path in ("/api/render/schema", f"/api/jobs/{warm_id}"):
                for _ in range(SEQUENTIAL_REQUESTS):
                    began = time.perf_counter()
                    (await single.get(base + path, headers=headers)).raise_for_status()
                    floor.setdefault(path, []).append(time.perf_counter() - began)
        print(f"\n[0] idle, sequential: {SEQUENTIAL_REQUESTS} requests on one connection each")
        print(describe("GET /api/render/schema (no DB)", floor["/api/render/schema"]))
        print(describe("GET /api/jobs/{id}", floor[f"/api/jobs/{warm_id}"]))
        idle = await measured(
            poll_phase(
                client,
                base,
                key,
                [warm_id],
                duration=args.baseline,
                max_requests=args.max_requests,
                concurrency=args.concurrency,
                raw=args.client == "raw",
                rate=args.rate,
            ),
            service,
        )
        report_poll(
            f"\n[0] idle, concurrent: no job rendering ({args.concurrency} connections, "
            f"{args.client} client, {pacing(args)})",
            idle,
        )

        # Phase 1: queue real renders, wait until one is rendering, then poll.
        job_ids = []
        for i in range(args.render_jobs):
            response = await client.post(
                base + "/api/render", json=render_script(i), headers=headers
            )
            if response.status_code != 202:
                raise RuntimeError(f"render submission failed: {response.text}")
            job_ids.append(response.json()["job_id"])
        deadline = time.monotonic() + 30
        while True:
            first = (await client.get(f"{base}/api/jobs/{job_ids[0]}", headers=headers)).json()
            if first["status"] == "rendering" and first["progress"] > 0:
                break
            if first["status"] not in ("queued", "rendering") or time.monotonic() > deadline:
                raise RuntimeError(f"the first render job did not start rendering: {first}")
            await asyncio.sleep(0.05)
        poll = await measured(
            poll_phase(
                client,
                base,
                key,
                job_ids,
                duration=args.duration,
                max_requests=args.max_requests,
                concurrency=args.concurrency,
                raw=args.client == "raw",
                rate=args.rate,
            ),
            service,
        )
        rps, p99 = report_poll(
            f"\n[1] polling while renders run: {args.render_jobs} render jobs queued "
            f"(320x180, 30 fps, 60 s each; 1 render slot), {args.concurrency} connections "
            f"({args.client} client, {pacing(args)}), "
            f"{args.duration:g} s or {args.max_requests} requests, "
            f"1 in {LIST_EVERY} is the status list",
            poll,
        )
        if args.slow_ms > 0:
            report_slow(poll, args.slow_ms / 1000.0)
        poll_ok = rps >= POLL_TARGET_RPS and p99 <= POLL_TARGET_P99_MS and poll.errors == 0
        print(
            f"  target >= {POLL_TARGET_RPS:.0f} req/s and p99 <= {POLL_TARGET_P99_MS:.0f} ms, "
            f"no errors: {'MET' if poll_ok else 'NOT MET'} "
            f"({rps:.1f} req/s, p99 {p99:.2f} ms, {poll.errors} errors)"
        )

        # Phase 2: submissions while the slot is still busy with the phase-1 renders.
        active = (
            await client.get(
                base + "/api/jobs", params={"status": "queued,rendering"}, headers=headers
            )
        ).json()["jobs"]
        print(
            f"\n[2] submissions: {args.submissions} x POST /api/render (tiny script, live key, "
            f"unique Idempotency-Key), {args.submit_concurrency} in flight; "
            f"{len(active)} render jobs still queued/rendering ahead of them"
        )
        sub, ordered, submitted = await measured(
            submit_phase(
                client, base, key, total=args.submissions, concurrency=args.submit_concurrency
            ),
            service,
        )
        print(describe("POST /api/render", sub.all(), sub.elapsed))
        quarter = max(1, len(ordered) // 4)
        print(
            f"  first {quarter}: p50={percentile(sorted(ordered[:quarter]), 50) * 1000:.2f} ms"
            f"   last {quarter}: p50={percentile(sorted(ordered[-quarter:]), 50) * 1000:.2f} ms"
        )
        print(
            f"  responses: {dict(sub.codes)}  elapsed: {sub.elapsed:.2f} s  "
            f"=> {sub.count / sub.elapsed:.1f} submissions/s"
        )
        print(cpu_line(sub))
        print(stall_line(sub))
        still = (
            await client.get(base + "/api/jobs", params={"status": "rendering"}, headers=headers)
        ).json()["jobs"]
        blocked = all(job["job_id"] in job_ids for job in still) and bool(still)
        print(
            "  render slot busy with a phase-1 job throughout (tiny jobs stayed queued): "
            + ("yes" if blocked else "NO (some tiny jobs may have rendered)")
        )
        codes, took = await cancel_all(client, base, key, submitted, args.submit_concurrency)
        print(
            f"  cleanup: DELETE of {len(submitted)} tiny jobs in {took:.2f} s "
            f"({len(submitted) / took if took else 0:.1f}/s): {dict(codes)}"
        )
        return poll_ok and sub.errors == 0


def machine_facts(command: str, serve_command: str) -> None:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    import starlette
    import uvicorn

    print(f"command:  {command}")
    print(f"server:   {serve_command}")
    print(f"machine:  {platform.platform()}; {os.cpu_count()} cores ({affinity} usable); {cpu}")
    print(
        f"python:   {platform.python_implementation()} {platform.python_version()}; "
        f"httpx {httpx.__version__}, uvicorn {uvicorn.__version__}, "
        f"starlette {starlette.__version__}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--duration", type=float, default=10.0, help="polling seconds (phase 1)")
    parser.add_argument("--baseline", type=float, default=4.0, help="idle polling seconds")
    parser.add_argument("--max-requests", type=int, default=50_000, help="cap per polling phase")
    parser.add_argument("--concurrency", type=int, default=16, help="polling connections")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="paced polling: total requests/s on a fixed schedule (0: closed loop, flat out)",
    )
    parser.add_argument(
        "--slow-ms",
        type=float,
        default=0.0,
        help="list the polling-while-rendering requests slower than this, in bursts",
    )
    parser.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="raw",
        help="polling load generator: raw asyncio streams (default: ~10x less client CPU per "
        "request), or httpx (measures mostly its own CPU when 16 run flat out)",
    )
    parser.add_argument("--render-jobs", type=int, default=14, help="background renders")
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--submit-concurrency", type=int, default=8)
    return parser.parse_args()


OWN_SESSION_ENV = "REELSMITH_BENCH_OWN_SESSION"


def rerun_in_own_session() -> int | None:
    """Linux: run this benchmark again as the leader of a new session and return its exit code;
    None when this process is to run it (already a session leader, or not Linux).

    With autogroup scheduling (Linux's default for desktops), each session gets a fair share of
    the CPU as a whole, however many processes it runs. The server runs in a session of its own
    (see `ServiceProcess.start`); so does the load generator, or it shares one share of the CPU
    with whatever else runs in the terminal's session, and measures its own waits for a CPU as
    late answers. Ctrl-C and SIGTERM are passed on, so the child still cleans up."""
    if not sys.platform.startswith("linux") or os.environ.get(OWN_SESSION_ENV):
        return None
    if os.getsid(0) == os.getpid():
        return None
    child: subprocess.Popen[bytes] | None = None
    stopped = False

    def forward(signum: int, frame: Any) -> None:
        nonlocal stopped
        stopped = True
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGINT)

    # Before the child exists: a Ctrl-C from here on reaches it (or stops it from starting).
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    if stopped:
        return 130
    child = subprocess.Popen(
        [sys.executable, *sys.orig_argv[1:]],  # with the interpreter's own options
        env={**os.environ, OWN_SESSION_ENV: "1"},
        start_new_session=True,
    )
    if stopped:
        forward(signal.SIGINT, None)
    code = child.wait()
    return 128 + -code if code < 0 else code  # killed by a signal: the shell's convention


def main() -> int:
    args = parse_args()
    code = rerun_in_own_session()
    if code is not None:
        return code
    # This process's own stalls are reported per phase, not logged as they happen.
    logging.getLogger("app.server.stallwatch").setLevel(logging.ERROR)
    command = shlex.join([Path(sys.executable).name, *sys.argv])
    work = Path(tempfile.mkdtemp(prefix="reelsmith-bench-service-"))
    env = {**os.environ, "REELSMITH_HOME": str(work / "home")}
    env.pop("PYTHONSTARTUP", None)
    service = ServiceProcess(work / "data", env)
    machine_facts(command, shlex.join(service.command))

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    started = time.perf_counter()
    ok = False
    try:
        account = service.create_account()
        base = service.url or service.start()
        print(f"service:  {base} (data folder {work})")
        ok = asyncio.run(run_benchmark(args, base, account, service))
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip cleanup
        service.stop()
        shutil.rmtree(work, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print(
            f"\ntotal wall time {time.perf_counter() - started:.1f} s; server stopped, "
            f"{work} removed"
        )
    print("result: " + ("all targets met" if ok else "targets NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
