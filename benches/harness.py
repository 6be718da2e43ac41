#!/usr/bin/env python3
"""infra's benchmark harness: one command, tables rewritten in BENCHMARKS.md.

    python3 benches/harness.py [--sizes 1000,10000,50000] [--runs 5]
                               [--emulator-size 1000] [--bin target/release/infra] [--write]

Measures (medians over --runs, with min–max):
  1. `infra plan --refresh=false` with state already matching, at each size:
     wall time and peak RSS of the whole process (gen_env.py --with-state).
  2. On the emulator (must be running), an env of --emulator-size synthetic
     resources: `up`, then `drift` and `destroy`, each through the fault proxy
     with no faults, counting AWS calls; calls per resource and state writes
     per second.
Without --write it prints the tables only (CI runs it small that way).
Tests never assert on time; this is where time is measured.
"""

import argparse
import json
import os
import pathlib
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENDPOINT = os.environ.get("INFRA_TEST_ENDPOINT", "http://127.0.0.1:4566")


def timed(cmd, env=None):
    """(wall seconds, peak RSS MiB, exit code) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all children so far; measure each
    # size in a fresh python child to keep it per process.
    return wall, max(peak, before) / 1024, p.returncode, p.stderr.decode()


def measure_plan(binary, n, runs, work):
    out = work / f"plan{n}"
    subprocess.run([sys.executable, ROOT / "benches/gen_env.py", str(n), out, "--with-state"], check=True, stdout=subprocess.DEVNULL)
    cmd = [binary, "--plans", out / "plans", "--state", out / "state/bench.db", "plan", "--env", "bench", "--refresh=false"]
    walls, rss = [], []
    for _ in range(runs):
        # A fresh interpreter per run, so the peak RSS is this run's alone.
        probe = subprocess.run(
            [sys.executable, "-c", "import resource,subprocess,sys,time,json;"
             "t=time.perf_counter();p=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
             "w=time.perf_counter()-t;print(json.dumps([w,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,p.returncode]))"]
            + [str(c) for c in cmd],
            capture_output=True, text=True, check=True)
        w, r, code = json.loads(probe.stdout)
        if code != 0:
            raise SystemExit(f"plan at {n} exited {code}")
        walls.append(w)
        rss.append(r / 1024)
    return walls, rss


class Proxy:
    def __init__(self):
        self.p = subprocess.Popen([sys.executable, ROOT / "localstack/fault_proxy.py", "--upstream", ENDPOINT, "--port", "0", "--seed", "1"],
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        self.url = "http://127.0.0.1:" + line.split()[-1]

    def stats(self):
        import urllib.request
        return json.load(urllib.request.urlopen(self.url + "/__proxy/stats"))

    def reset(self):
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(self.url + "/__proxy/reset", method="POST")).read()

    def close(self):
        self.p.kill()
        self.p.wait()


def measure_emulator(binary, n, work):
    env_name = f"bench-{int(time.time()) % 100000}"
    out = work / "emu"
    subprocess.run([sys.executable, ROOT / "benches/gen_env.py", str(n), out, "--env", env_name], check=True, stdout=subprocess.DEVNULL)
    proxy = Proxy()
    env = dict(os.environ, AWS_ENDPOINT_URL=proxy.url, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    base = [binary, "--plans", out / "plans", "--state", out / "state.db"]
    rows = {}
    try:
        for step, args in [("up", ["up", "--yes", "--env", env_name]), ("drift", ["drift", "--env", env_name]),
                           ("destroy", ["destroy", "--yes", "--env", env_name])]:
            proxy.reset()
            wall, _, code, err = timed(base + args, env)
            ok = {"drift": (0, 2)}.get(step, (0,))
            if code not in ok:
                raise SystemExit(f"{step} exited {code}: {err[-2000:]}")
            s = proxy.stats()
            rows[step] = {"wall": wall, "calls": s["total"], "mutating": s["mutating"]}
    finally:
        proxy.close()
    return rows


# Per-operation delays, scaled down from AWS (the performance issue's figures).
LATENCY = {"CreateVpc": 0.5, "CreateNatGateway": 6.0, "CreateCluster": 12.0, "CreateNodegroup": 8.0,
           "CreateDBInstance": 10.0, "CreateRole": 0.5, "*": 0.1}


def measure_latency(binary, work):
    """`up` of the dev platform with injected latency, against its critical
    path and a level-by-level schedule computed from the same durations."""
    env_name = f"bench-lat-{int(time.time()) % 100000}"
    plans = work / "lat"
    plans.mkdir()
    (plans / f"{env_name}.toml").write_text((ROOT / "plans/dev.toml").read_text().replace("10.10.", "10.77."))
    lat = work / "latency.json"
    lat.write_text(json.dumps(LATENCY))
    proxy = subprocess.Popen([sys.executable, ROOT / "localstack/fault_proxy.py", "--upstream", ENDPOINT, "--port", "0",
                              "--seed", "1", "--latency", lat], stdout=subprocess.PIPE, text=True)
    url = "http://127.0.0.1:" + proxy.stdout.readline().split()[-1]
    env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    direct = dict(env, AWS_ENDPOINT_URL=ENDPOINT)
    base = [str(binary), "--plans", str(plans), "--state", str(work / "lat.db")]
    try:
        plan = json.loads(subprocess.run(base + ["plan", "--env", env_name, "--refresh=false", "--json"], env=direct,
                                         capture_output=True, text=True, check=True).stdout)
        start = time.perf_counter()
        p = subprocess.run(base + ["up", "--yes", "--parallelism", "64", "--env", env_name], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if p.returncode != 0:
            raise SystemExit(f"latency up exited {p.returncode}: {p.stderr[-2000:]}")
    finally:
        proxy.kill()
        subprocess.run(base + ["destroy", "--yes", "--env", env_name], env=direct, capture_output=True)
    took = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+): create done \(([0-9.]+)s\)$", p.stderr, re.M)}
    deps = {a["address"]: [d for d in a["deps"] if d in took] for a in plan["actions"]}
    finish, level = {}, {}

    def done(a):
        if a not in finish:
            finish[a] = max((done(d) for d in deps.get(a, [])), default=0.0) + took.get(a, 0.0)
            level[a] = max((level[d] + 1 for d in deps.get(a, []) if done(d) is not None), default=0)
        return finish[a]

    critical = max(done(a) for a in took)
    levels = {}
    for a in took:
        levels.setdefault(level[a], []).append(took[a])
    by_level = sum(max(v) for v in levels.values())
    return wall, critical, by_level, len(took)


def fmt(values, unit, digits=2):
    med = statistics.median(values)
    return f"{med:.{digits}f} {unit} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--emulator-size", type=int, default=1000)
    ap.add_argument("--bin", default=None)
    ap.add_argument("--latency", action="store_true", help="also time `up` under injected latency (about a minute)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    binary = pathlib.Path(args.bin) if args.bin else next(
        (b for b in [ROOT / "target/release/infra", ROOT / "target/debug/infra"] if b.exists()), None)
    if binary is None or not binary.exists():
        raise SystemExit("build infra first: cargo build --release --bin infra")
    profile = "release" if "release" in str(binary) else "debug"
    work = pathlib.Path(tempfile.mkdtemp(prefix="infra-bench-"))
    try:
        lines = []
        cmd = f"python3 benches/harness.py --sizes {args.sizes} --runs {args.runs} --emulator-size {args.emulator_size}{' --latency' if args.latency else ''} --bin {binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary} --write"
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        lines.append(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}, {profile} build, "
                     f"{os.cpu_count()} cores, {platform.machine()}. Reproduce: `{cmd}`\n")
        lines.append("| plan, state matching, `--refresh=false` | wall (median, min–max) | peak RSS |")
        lines.append("|---|---|---|")
        for n in [int(x) for x in args.sizes.split(",") if x]:
            walls, rss = measure_plan(binary, n, args.runs, work)
            lines.append(f"| {n} resources | {fmt(walls, 's')} | {fmt(rss, 'MiB', 0)} |")
            print(lines[-1], flush=True)
        if args.emulator_size:
            rows = measure_emulator(binary, args.emulator_size, work)
            n = args.emulator_size
            lines.append("")
            lines.append(f"| on the emulator, {n} resources | wall | AWS calls | calls / resource | state writes / s |")
            lines.append("|---|---|---|---|---|")
            for step in ["up", "drift", "destroy"]:
                r = rows[step]
                writes = f"{n / r['wall']:.0f}" if step != "drift" else "0 (reads only)"
                lines.append(f"| `{step}` | {r['wall']:.1f} s | {r['calls']} | {r['calls'] / n:.3f} | {writes} |")
                print(lines[-1], flush=True)
            lines.append(f"| per-resource refresh (Terraform-style) | | ≥ {n} | 1.000 | |")
        if args.latency:
            wall, critical, by_level, actions = measure_latency(binary, work)
            lines.append("")
            lines.append(f"| `up` of the dev platform ({actions} creates) with injected latency {json.dumps(LATENCY)} | seconds | × critical path |")
            lines.append("|---|---|---|")
            lines.append(f"| critical path (longest chain of the same action durations) | {critical:.1f} | 1.00 |")
            lines.append(f"| infra, readiness-driven | {wall:.1f} | **{wall / critical:.2f}** |")
            lines.append(f"| a level-by-level schedule of the same durations | {by_level:.1f} | {by_level / critical:.2f} |")
            for line in lines[-3:]:
                print(line, flush=True)
        table = "\n".join(lines)
        print(table)
        if args.write:
            path = ROOT / "BENCHMARKS.md"
            text = path.read_text()
            block = f"<!-- harness:start -->\n{table}\n<!-- harness:end -->"
            if "<!-- harness:start -->" in text:
                text = re.sub(r"<!-- harness:start -->.*?<!-- harness:end -->", lambda _: block, text, flags=re.S)
            else:
                text += "\n## Harness results\n\n" + block + "\n"
            path.write_text(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
