"""HTTP API under load on loopback, with locust: search and classify on a store of 100,000 GENERATED records.

    .venv/bin/python bench/api_load.py [--records 100000] [--users 50] [--seconds 60] [--workers 2]
                                       [--store PATH] [--think MIN MAX] [--baseline-seconds 10] [--json]

Builds the store once from the synthetic sample generator (ingest, rules labelling, keyword
index; no embeddings) and caches it (default under /tmp/radar-bench/; reused while it holds
at least ``--records``), creates one ``demand_manager`` key per locust user, starts
``radar serve --workers N`` and runs ``bench/locustfile.py`` headless (search:classify = 3:2).
Prints:

- the store: records and the time it took to build;
- per endpoint (``search``, ``classify``): requests, failures, req/s, p50, p90, p99 and max in ms,
  first for one client sending back to back (25 ms apart, under the per-key rate limit: the
  baseline, the latency of a request on an idle server), then for ``--users`` concurrent
  clients (think time ``--think``, default 0.5-1.5 s), with the p99 ratio between the two;
  a request unanswered after 30 s is a failure, and requests still running when the time is
  up are waited for and counted;
- the targets with PASS/FAIL: classify p99 <= 30 ms, search p99 <= 100 ms, 0 errors;
- the machine's core count and load average (the server and locust share those cores).

The keys are revoked when the run ends; the server is stopped on errors and Ctrl-C too.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.keys import create_key, list_keys, revoke_key  # noqa: E402
from api.pipeline import Components, index_store, ingest_sample, label_store  # noqa: E402
from ingestion.sample import SampleSpec, generate_samples  # noqa: E402
from radar.settings import Settings  # noqa: E402
from search.store import Store  # noqa: E402

BIN = Path(sys.executable).parent
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
ENDPOINTS = ("search", "classify")
TARGETS = {"classify": 30.0, "search": 100.0}  # p99, ms
KEY_PREFIX = "bench-api-load-"
BASELINE_THINK = (0.025, 0.025)  # one client, nearly back to back, yet under the per-key rate of 50/s
REQUEST_TIMEOUT = 30  # s; a slower answer is a failure
SERVER_ENV = {"RADAR_SEMANTIC": "false", "RADAR_ZERO_SHOT": "false"}  # the store has no embeddings


# -- the store ------------------------------------------------------------------------------


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    with Store.open(path) as store:
        return store.count()


def _spec(records: int, seed: int) -> SampleSpec:
    """Shares of the sources as in the default sample; a little over, as broken rows are quarantined."""
    total = records + records // 200 + 20
    forum, calls, tickets = total // 5, total // 5, 2 * total // 5
    return SampleSpec(
        seed=seed, forum=forum, calls=calls, tickets=tickets, forms=total - forum - calls - tickets, customers=max(100, total // 3)
    )


def _move(src: Path, dst: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            os.replace(f"{src}{suffix}", f"{dst}{suffix}")


def build_store(path: Path, records: int, seed: int = 20261124) -> tuple[int, dict[str, float]]:
    """Records in the store at ``path`` and the seconds per build step (empty when the cached store was reused)."""
    have = _count(path)
    if have >= records:
        return have, {}
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(path.name + ".building")
    _move(building, Path(tempfile.mkdtemp()) / "stale.db")  # a build interrupted earlier is never reused
    settings = Settings(db=building, semantic=False, zero_shot=False)
    steps: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="radar-bench-sample-") as tmp:
        started = time.perf_counter()
        generate_samples(Path(tmp), _spec(records, seed))
        steps["generate"] = time.perf_counter() - started
        components = Components.build(settings)
        with Store.open(building) as store:
            for name, step in (
                ("ingest", lambda: ingest_sample(store, Path(tmp), settings)),
                ("label", lambda: label_store(store, components, entities=False)),
                ("index", lambda: index_store(store, components)),
            ):
                started = time.perf_counter()
                step()
                steps[name] = time.perf_counter() - started
                print(f"  {name:8} {steps[name]:7.1f} s", file=sys.stderr)
            count = store.count()
    if count < records:
        sys.exit(f"the generated store holds {count:,} records, fewer than {records:,}")
    _move(building, path)
    return count, steps


# -- keys -----------------------------------------------------------------------------------


def make_keys(db: Path, n: int) -> list[str]:
    with Store.open(db) as store:
        return [create_key(store, f"{KEY_PREFIX}{i}", "demand_manager")["key"] for i in range(n)]


def revoke_keys(db: Path) -> None:
    with Store.open(db) as store:
        for key in list_keys(store):
            if key["name"].startswith(KEY_PREFIX) and not key["revoked_at"]:
                revoke_key(store, key["id"])


# -- the server -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, key: str | None = None, body: dict[str, str] | None = None, timeout: float = 120.0) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", "X-API-Key": key or ""})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
        return int(response.status)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if _get(f"{url}/health", timeout=5) == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"the server did not answer /health within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def _warm_up(url: str, keys: list[str], workers: int, every_query: bool = False) -> None:
    """Every worker builds the labeler and tokenizer on its first request: do that before measuring.
    With ``every_query``, each search of the locustfile runs on every worker first (a warm result
    cache: the steady state of a server that has seen these queries; without it, the first
    minute pays the misses)."""
    from urllib.parse import urlencode

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from locustfile import SEARCHES

    searches = [urlencode([("q", q), ("limit", "20"), *(("filter", f) for f in fs)]) for q, fs in SEARCHES] if every_query else []

    def one(i: int) -> None:
        key = keys[i % len(keys)]  # spread over the users' keys: one key alone would meet its rate limit
        _get(f"{url}/classify", key, {"text": "5G套餐每月扣了58元，流量却不够用"})
        _get(f"{url}/search?q=%E6%B5%81%E9%87%8F&limit=20", key)  # q=流量
        for query in searches:
            _get(f"{url}/search?{query}", key)

    with ThreadPoolExecutor(4 * workers) as pool:
        list(pool.map(one, range(12 * workers if not every_query else 4 * workers)))


@contextmanager
def server(db: Path, workers: int, log: Path):  # type: ignore[no-untyped-def]
    """``radar serve`` on a free loopback port, in its own process group: stopped with all its workers."""
    port = _free_port()
    radar = BIN / "radar" if (BIN / "radar").exists() else Path(shutil.which("radar") or "radar")
    cmd = [str(radar), "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db), "--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **SERVER_ENV}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, url, log)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- locust ---------------------------------------------------------------------------------


def run_locust(
    url: str, keys_file: Path, users: int, seconds: int, think: tuple[float, float], prefix: Path
) -> dict[str, dict[str, float]]:
    cmd = [str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
    # users finish the request they are in when time is up (it times out after REQUEST_TIMEOUT): slow ones are counted too
    cmd += ["--host", url, "--csv", str(prefix), "--only-summary", "--stop-timeout", str(REQUEST_TIMEOUT + 5)]
    env = {**os.environ, "RADAR_BENCH_KEYS": str(keys_file), "RADAR_BENCH_THINK": f"{think[0]},{think[1]}"}
    env.update(RADAR_BENCH_TIMEOUT=str(REQUEST_TIMEOUT), RADAR_BENCH_CSV=str(prefix))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    stats = Path(f"{prefix}_final_stats.csv")  # written by the locustfile when locust quits: every request counted
    if not stats.exists():
        sys.exit(f"locust failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return parse_stats(stats)


def _num(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def parse_stats(path: Path) -> dict[str, dict[str, float]]:
    """locust's ``*_stats.csv``: one row per request name plus ``Aggregated``."""
    out = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": _num(row["Requests/s"]),
                "p50": _num(row["50%"]),
                "p90": _num(row["90%"]),
                "p99": _num(row["99%"]),
                "max": _num(row["Max Response Time"]),
            }
    return out


def failures(prefix: Path) -> list[str]:
    path = Path(f"{prefix}_final_failures.csv")
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [f"{r['Occurrences']:>6} x {r['Method']} {r['Name']}: {r['Error'][:160]}" for r in csv.DictReader(fh)]


# -- printing -------------------------------------------------------------------------------


def print_table(title: str, stats: dict[str, dict[str, float]], base: dict[str, dict[str, float]] | None = None) -> None:
    print(title)
    ratio = "  p99 vs 1 client" if base else ""
    print(f"  {'endpoint':10} {'requests':>9} {'failures':>9} {'req/s':>8} {'p50':>6} {'p90':>6} {'p99':>6} {'max':>7}  (ms){ratio}")
    for name in (*ENDPOINTS, "Aggregated"):
        s = stats.get(name)
        if s is None:
            continue
        extra = ""
        if base and name in base and base[name]["p99"] > 0:
            extra = f"  {s['p99'] / base[name]['p99']:5.1f}x"
        label = "all" if name == "Aggregated" else name
        times = " ".join(f"{s[k]:>6.0f}" for k in ("p50", "p90", "p99"))
        print(f"  {label:10} {s['requests']:>9,.0f} {s['failures']:>9,.0f} {s['rps']:>8.1f} {times} {s['max']:>7.0f}      {extra}".rstrip())


def verdicts(stats: dict[str, dict[str, float]]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name, limit in TARGETS.items():
        p99 = stats.get(name, {}).get("p99", float("nan"))
        out[f"{name} p99"] = {"value": p99, "target": f"<= {limit:.0f} ms", "pass": p99 <= limit}
    errors = int(stats.get("Aggregated", {}).get("failures", 0))
    out["errors"] = {"value": errors, "target": "0", "pass": errors == 0}
    return out


def print_verdicts(checks: dict[str, dict[str, object]]) -> None:
    print("targets")
    for name, c in checks.items():
        value = f"{c['value']:.0f} ms" if name != "errors" else f"{c['value']}"
        print(f"  {name:13} {value:>8}   target {c['target']:10} {'PASS' if c['pass'] else 'FAIL'}")


# -- main -----------------------------------------------------------------------------------


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", type=Path, default=None, help="default /tmp/radar-bench/api_load_<records>.db")
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN", "MAX"))
    parser.add_argument("--baseline-seconds", type=int, default=10, help="1 client, 25 ms apart, before the load (0: skip)")
    parser.add_argument("--warm-every-query", action="store_true", help="run each search on every worker before measuring")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = _args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill runs the clean-up too: server stopped, keys revoked
    db = args.store or Path(f"/tmp/radar-bench/api_load_{args.records // 1000}k.db")
    started = time.perf_counter()
    count, steps = build_store(db, args.records)
    built = f"built in {time.perf_counter() - started:,.0f} s (" + ", ".join(f"{k} {v:,.0f} s" for k, v in steps.items()) + ")"
    print(f"store {db}: {count:,} GENERATED records, {built if steps else 'cached (reused)'}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cores} cores (server, locust and anything else running share them), load average {os.getloadavg()[0]:.2f}")
    result: dict[str, object] = {"store": str(db), "records": count, "build_seconds": steps, "cores": cores}
    with tempfile.TemporaryDirectory(prefix="radar-bench-load-") as tmp:
        keys_file = Path(tmp) / "keys.json"
        keys_file.write_text(json.dumps({"keys": make_keys(db, args.users)}))
        try:
            with server(db, args.workers, Path(tmp) / "server.log") as url:
                _warm_up(url, json.loads(keys_file.read_text())["keys"], args.workers, args.warm_every_query)
                print(f"server: radar serve --workers {args.workers} at {url}; {args.users} demand_manager keys, one per user")
                rate, burst = os.environ.get("RADAR_API_RATE", "50"), os.environ.get("RADAR_API_BURST", "100")
                print(f"rate limit per key: {rate}/s, burst {burst} (radar serve splits it across the worker processes)")
                result.update(_measure(args, url, keys_file, Path(tmp)))
        finally:
            revoke_keys(db)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    if not all(c["pass"] for c in result["targets"].values()):  # type: ignore[attr-defined]
        sys.exit(1)


def _measure(args: argparse.Namespace, url: str, keys_file: Path, tmp: Path) -> dict[str, object]:
    base = None
    if args.baseline_seconds > 0:
        base = run_locust(url, keys_file, 1, args.baseline_seconds, BASELINE_THINK, tmp / "base")
        print_table(f"\nbaseline: 1 client, {BASELINE_THINK[0] * 1000:.0f} ms think time, {args.baseline_seconds} s", base)
    stats = run_locust(url, keys_file, args.users, args.seconds, tuple(args.think), tmp / "load")
    think = f"think {args.think[0]:g}-{args.think[1]:g} s"
    print_table(f"\nload: {args.users} concurrent clients, {args.seconds} s, {think}, search:classify 3:2", stats, base)
    for line in failures(tmp / "load"):
        print(line)
    checks = verdicts(stats)
    print()
    print_verdicts(checks)
    total = stats.get("Aggregated", {})
    print(f"throughput {total.get('rps', 0):.1f} req/s in all, {int(total.get('failures', 0))} errors")
    return {"baseline": base, "load": stats, "targets": checks}


if __name__ == "__main__":
    main()
