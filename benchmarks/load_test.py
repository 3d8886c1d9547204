#!/usr/bin/env python
"""Load-test the web process as the Procfile runs it, with wrk over image and gallery pages.

    python benchmarks/load_test.py [--dir DIR] [--database-url URL] [--duration 20]
        [--warmup 20] [--runs 3] [--connections 16] [--workers 2]

Makes a 1000-image demo collection in DIR if it is missing (100 groups of 10), indexes it
with random weights if the database has no index yet, starts the Procfile's `web` line on
127.0.0.1 (loopback only), and runs wrk `--runs` times for `--duration` seconds, rotating
through every image page and every gallery page. Each worker's page cache starts empty, so a
first wrk run of --warmup seconds is reported apart (the cold start); then the medians of the
measured runs, and whether they met the target (>= 1000 requests/s, p99 <= 30 ms, no
errors). Also the CPU the web and wrk spend per request, which other work on the machine
changes much less than requests/s. Needs Debian's `wrk` (`make system-deps` installs it).
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from samples.drawn import make_collection  # noqa: E402

TARGET_RPS, TARGET_P99_MS = 1000, 30.0

# Each wrk thread walks the list from its own offset; done() prints one JSON line.
LUA = """
paths = {%s}
local threads = 0
setup = function(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end
init = function(args) counter = offset or 0 end
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "seconds": %%.3f, "p50_ms": %%.3f, "p99_ms": %%.3f, ' ..
    '"socket_errors": %%d, "http_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def ensure_index(image_dir: str, database_url: str, thumbnails: str, rebuild: bool) -> None:
    """Make the collection and index it, unless that was done before."""
    if not os.path.isdir(image_dir):
        members = make_collection(image_dir, groups=100, per_group=10)
        print(f"made {len(members)} images in {image_dir}")
    if not rebuild:
        from webapp import create_app
        from core.records import Build
        app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
        with app.app_context():
            try:
                if Build.active() is not None:
                    return
            except Exception:  # no schema yet: the job creates it
                pass
    command = [sys.executable, os.path.join(ROOT, "scripts", "build_index.py"), image_dir,
               "--database-url", database_url, "--thumbnail-dir", thumbnails,
               "--weights", "none", "--no-progress"]
    print("indexing:", " ".join(command))
    subprocess.run(command, check=True)


def procfile_web() -> str:
    with open(os.path.join(ROOT, "Procfile")) as f:
        for line in f:
            if line.startswith("web:"):
                return line[len("web:"):].strip()
    raise SystemExit("Procfile has no web line")


def start_web(port: int, env: dict, log):
    """Start the Procfile's web line in its own process group; return it once it answers."""
    bin_dir = os.path.dirname(sys.executable)  # gunicorn from this virtualenv
    env = dict(os.environ, **env, PORT=str(port), PATH=bin_dir + os.pathsep + os.environ["PATH"])
    process = subprocess.Popen(["bash", "-c", procfile_web()], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            get_json(f"http://127.0.0.1:{port}/healthz")
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the web process exited with {process.returncode}")
            time.sleep(0.2)
    stop(process)
    raise SystemExit("the web process did not answer within 60 s")


def stop(process) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def page_paths(base: str) -> list[str]:
    """Return every image page and every gallery page of the served index."""
    ids, page = [], 1
    while True:
        body = get_json(f"{base}/api/images?page={page}&per_page=500")
        if not body["images"]:
            break
        ids += [image["id"] for image in body["images"]]
        page += 1
    gallery = get_json(f"{base}/api/images?per_page=1")  # for the count only
    per_page = int(os.environ.get("PER_PAGE", "48"))
    pages = max(1, -(-gallery["total"] // per_page))
    return [f"/?page={p}" for p in range(1, pages + 1)] + [f"/images/{i}" for i in ids]


def group_cpu_seconds(group: int) -> float:
    """Return the CPU time (user + system) used so far by the processes of a process group."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(base: str, script: str, args, seconds: int, web) -> dict:
    """Run wrk once; return its numbers and the CPU that the web and wrk spent per request.

    Other work on the machine changes requests/s a lot; CPU per request much less, and it
    says what two idle cores could serve: 2 s / (web + wrk CPU per request).
    """
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections),
               "-d", f"{seconds}s", "--latency", "-s", script, base]
    web_cpu, wrk_cpu = group_cpu_seconds(web.pid), children_cpu_seconds()
    out = subprocess.run(command, capture_output=True, text=True, check=True,
                         timeout=seconds + 60).stdout
    web_cpu, wrk_cpu = group_cpu_seconds(web.pid) - web_cpu, children_cpu_seconds() - wrk_cpu
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["rps"] = result["requests"] / result["seconds"]
    result["web_us"] = web_cpu / result["requests"] * 1e6
    result["wrk_us"] = wrk_cpu / result["requests"] * 1e6
    return result


def report(label: str, result: dict) -> None:
    print(f"{label}: {result['rps']:.0f} requests/s, p50 {result['p50_ms']:.2f} ms, "
          f"p99 {result['p99_ms']:.2f} ms, socket errors {result['socket_errors']}, "
          f"HTTP errors {result['http_errors']}; CPU per request: web {result['web_us']:.0f} us, "
          f"wrk {result['wrk_us']:.0f} us", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "simimg-load"),
                        help="work folder: images/, index.sqlite3, thumbnails/")
    parser.add_argument("--database-url", default=None, help="default: SQLite in --dir")
    parser.add_argument("--rebuild", action="store_true", help="index again even if indexed")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=20,
                        help="seconds of a first run from cold caches, reported apart (0: none)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--workers", default="2", help="WEB_CONCURRENCY for gunicorn")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: `make system-deps` (Debian package wrk)")

    database_url = args.database_url or f"sqlite:///{os.path.join(args.dir, 'index.sqlite3')}"
    thumbnails = os.path.join(args.dir, "thumbnails")
    ensure_index(os.path.join(args.dir, "images"), database_url, thumbnails, args.rebuild)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"DATABASE_URL": database_url, "THUMBNAIL_DIR": thumbnails,
           "WEB_CONCURRENCY": args.workers}
    log_path = os.path.join(args.dir, "web.log")
    with open(log_path, "w") as log:
        process = start_web(port, env, log)
        try:
            paths = page_paths(base)
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(LUA % ", ".join(json.dumps(p) for p in paths))
            if args.warmup:
                report("cold start", run_wrk(base, script.name, args, args.warmup, process))
            results = []
            for run in range(1, args.runs + 1):
                results.append(run_wrk(base, script.name, args, args.duration, process))
                report(f"run {run}", results[-1])
            os.unlink(script.name)
        finally:
            stop(process)

    rps = statistics.median(r["rps"] for r in results)
    p99 = statistics.median(r["p99_ms"] for r in results)
    errors = sum(r["socket_errors"] + r["http_errors"] for r in results)
    cpu_us = statistics.median(r["web_us"] + r["wrk_us"] for r in results)
    met = rps >= TARGET_RPS and p99 <= TARGET_P99_MS and errors == 0
    print(f"{len(paths)} URLs ({len(paths) - sum(p.startswith('/?') for p in paths)} image pages), "
          f"WEB_CONCURRENCY={args.workers}, wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s x {args.runs}: median {rps:.0f} requests/s, median p99 {p99:.2f} ms, "
          f"{errors} errors, median CPU {cpu_us:.0f} us a request (web + wrk; two idle cores: "
          f"~{2e6 / cpu_us:.0f} requests/s): target {'met' if met else 'MISSED'} "
          f"(>= {TARGET_RPS} requests/s, p99 <= {TARGET_P99_MS:g} ms, no errors); log {log_path}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
