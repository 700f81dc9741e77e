"""Start-up benchmark: how long a whole `news-monitor` process takes before it has done
anything useful, next to `python -c pass` measured in the same run.

Each case is a fresh process (`python -m monitor ...`), run RUNS times; the table shows
the median wall time, the ratio to `python -c pass`, the median CPU time (user + sys,
less sensitive than wall time to other work on a shared machine) and the peak RSS (the
largest of the runs, from ``getrusage(RUSAGE_CHILDREN)`` of a wrapper process per run).
Targets are judged on wall time.

    --help, --version   the Typer app only
    check               config/example.yaml of the measured tree (feeds, rules, recipients)
    status              a config with no feeds, on an empty (migrated) SQLite database
    once                the same config: no feeds to poll, nothing to deliver

Run:  python bench/startup.py [--runs 5] [--root /path/to/a/checkout] [--baseline /path]
``--root`` measures another checkout (e.g. main) with this interpreter: its folder is
put first on PYTHONPATH. ``--baseline`` also measures a second checkout (e.g. a
``git archive`` of an older commit), alternating run by run with the first so both
see the same load, and adds its CPU time and the ratio: on a shared machine, that
ratio is the figure to compare. Results are printed; record them by hand in
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Runs the command given as argv[1:] and prints its wall time and peak RSS as JSON, so
#: the RSS is that one process tree's (RUSAGE_CHILDREN of a fresh wrapper), not a max
#: over every earlier case of this benchmark.
_WRAPPER = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
wall = time.perf_counter() - t0
if rc:
    sys.exit(f"exit {rc}: {sys.argv[1:]}")
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "rss_mb": usage.ru_maxrss / 1024}))
"""

#: (case, target seconds, target MB or None)
TARGETS = {
    "python -c pass": (None, None),
    "--help": (0.3, None),
    "--version": (0.3, None),
    "check": (0.6, None),
    "status (empty db)": (0.6, None),
    "once (no feeds)": (1.0, 80),
}


def measure(argv: list[str], env: dict[str, str], cwd: Path,
            runs: int) -> tuple[float, float, float]:
    """Median wall time, median CPU time (user + sys) and the largest peak RSS."""
    walls, cpus, rss = [], [], []
    if runs > 1:  # warm-up, untimed: .pyc files written, the OS file cache filled
        subprocess.run([sys.executable, "-c", _WRAPPER, *argv], env=env, cwd=cwd,
                       capture_output=True, check=False)
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], env=env, cwd=cwd,
                              capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
        row = json.loads(done.stdout)
        walls.append(row["wall_s"])
        cpus.append(row["cpu_s"])
        rss.append(row["rss_mb"])
    return statistics.median(walls), statistics.median(cpus), max(rss)


def cases(root: Path, work: Path) -> dict[str, list[str]]:
    py = sys.executable
    empty = work / "empty.yaml"
    empty.write_text(f"database: sqlite:///{work / 'empty.db'}\nfeeds: []\nrules: []\n")
    cli = [py, "-m", "monitor"]
    return {
        "python -c pass": [py, "-c", "pass"],
        "--help": [*cli, "--help"],
        "--version": [*cli, "--version"],
        "check": [*cli, "check", "-c", str(root / "config" / "example.yaml")],
        "status (empty db)": [*cli, "status", "-c", str(empty)],
        "once (no feeds)": [*cli, "once", "-c", str(empty)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", type=Path, default=HERE.parent,
                        help="the checkout to measure (default: this one)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout, measured alternately with --root")
    args = parser.parse_args()
    root = args.root.resolve()
    # As installed: pip writes .pyc files at install time, so a user's process never
    # compiles our modules. (PYTHONDONTWRITEBYTECODE, set on some machines, would make
    # every run compile them; the warm-up run of each case writes them instead.)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MONITOR_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(root)
    if args.baseline is not None:
        compare(root, args.baseline.resolve(), env, args.runs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        todo = cases(root, work)
        # The empty database exists and is migrated before anything is timed.
        subprocess.run([*todo["once (no feeds)"][:3], "db", "upgrade", "-c",
                        str(work / "empty.yaml")], env=env, cwd=work, check=True,
                       capture_output=True)
        load = os.getloadavg()[0]
        print(f"tree: {root}   runs: {args.runs}   python {sys.version.split()[0]}   "
              f"cores: {os.cpu_count()}   load avg (1 min) at start: {load:.1f}")
        print(f"{'case':<20} {'median s':>9} {'x pass':>7} {'cpu s':>7} {'peak MB':>8}   target")
        print("-" * 74)
        base = None
        for name, argv in todo.items():
            if name == "--version" and not supports_version(argv, env, work):
                print(f"{name:<20} {'n/a':>9}")
                continue
            wall, cpu, rss = measure(argv, env, work, args.runs)
            base = base or wall
            seconds, megabytes = TARGETS[name]
            target = " ".join(
                t for t in (f"<= {seconds} s" if seconds else "",
                            f"<= {megabytes} MB" if megabytes else "") if t)
            met = "" if not target else (
                "  met" if (not seconds or wall <= seconds) and (not megabytes or rss <= megabytes)
                else "  MISSED")
            print(f"{name:<20} {wall:>9.3f} {wall / base:>7.1f} {cpu:>7.3f} {rss:>8.1f}   "
                  f"{target}{met}")


def compare(root: Path, baseline: Path, env: dict[str, str], runs: int) -> None:
    """Each case on both trees, alternating run by run; CPU medians and their ratio."""
    base_env = {**env, "PYTHONPATH": str(baseline)}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as base_tmp:
        # Each tree its own empty database, migrated by its own code: an older tree
        # refuses a database that a newer one migrated further.
        work, base_work = Path(tmp), Path(base_tmp)
        todo, base_todo = cases(root, work), cases(baseline, base_work)
        for argv, e, w in ((todo, env, work), (base_todo, base_env, base_work)):
            # cwd: `python -m` puts the working directory first on sys.path, which
            # would import the tree this script was started from.
            subprocess.run([*argv["once (no feeds)"][:3], "db", "upgrade", "-c",
                            str(w / "empty.yaml")], env=e, cwd=w, check=True,
                           capture_output=True)
        print(f"tree: {root}\nbaseline: {baseline}\nruns: {runs} each, alternating   "
              f"python {sys.version.split()[0]}   cores: {os.cpu_count()}   "
              f"load avg (1 min) at start: {os.getloadavg()[0]:.1f}")
        print(f"{'case':<20} {'cpu s':>7} {'base cpu':>9} {'ratio':>6} {'wall s':>7} "
              f"{'base wall':>10} {'MB':>6} {'base MB':>8}")
        print("-" * 80)
        for name, argv in todo.items():
            if name == "--version" and not supports_version(base_todo[name], base_env, base_work):
                continue
            mine: list[tuple[float, float, float]] = []
            theirs: list[tuple[float, float, float]] = []
            for argv_, env_, w in ((argv, env, work), (base_todo[name], base_env, base_work)):
                subprocess.run(argv_, env=env_, cwd=w, capture_output=True, check=False)  # warm
            for _ in range(runs):
                mine.append(measure(argv, env, work, 1))
                theirs.append(measure(base_todo[name], base_env, base_work, 1))
            wall, cpu = (statistics.median(r[i] for r in mine) for i in (0, 1))
            bwall, bcpu = (statistics.median(r[i] for r in theirs) for i in (0, 1))
            print(f"{name:<20} {cpu:>7.3f} {bcpu:>9.3f} {cpu / bcpu:>6.2f} {wall:>7.3f} "
                  f"{bwall:>10.3f} {max(r[2] for r in mine):>6.1f} "
                  f"{max(r[2] for r in theirs):>8.1f}")


def supports_version(argv: list[str], env: dict[str, str], cwd: Path) -> bool:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True,
                          check=False).returncode == 0


if __name__ == "__main__":
    main()
