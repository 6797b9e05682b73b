"""Benchmark what users wait for: `copier copy` of a service, a synth of its app (with the
cdk-nag gate, as every synth a user runs), and its own tests, against a floor: a minimal
hand-written app of the same four stacks per environment (`minimal_app.py`).

Not a test (nothing here fails on a slow machine). Runs are interleaved (app, floor, tests,
app, ...) so that a busy moment of the machine hits all three alike; the fastest run of each
is what the code costs. Goals (issue 18): render within 1 s, synth within 1.2x the floor,
the tests within 1.2 synths.

    uv run python benchmarks/render_and_synth.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import yaml
from copier import run_copy

BENCHMARKS = Path(__file__).resolve().parent
TEMPLATE = BENCHMARKS.parent
ANSWERS = {
    **yaml.safe_load((TEMPLATE / "example-answers.yml").read_text()),
    "sizing": "large",
    "environments": ["dev", "staging", "prod"],
    "dev_account_id": "210987654321",
    "staging_account_id": "210987654322",
}


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def render(destination: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(str(TEMPLATE), destination, data=ANSWERS, defaults=True, quiet=True)


def command(project: Path, *arguments: str) -> Callable[[], object]:
    """Run in the project's own environment, as its developer would."""
    return functools.partial(
        subprocess.run,
        ["uv", "run", "--no-sync", *arguments],
        cwd=project,
        check=True,
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.pop("VIRTUAL_ENV", None)
    # Bytecode is written, as on a developer's machine (some CI images turn it off).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        renders = [timed(functools.partial(render, root / f"render-{i}")) for i in range(repeat)]
        project = root / "render-0"
        subprocess.run(["git", "init", "--quiet"], cwd=project, check=True)
        subprocess.run(["uv", "sync", "--quiet", "--locked"], cwd=project, check=True)
        shutil.copy(BENCHMARKS / "minimal_app.py", project / "minimal_app.py")
        runs = {
            "synth, rendered app + cdk-nag": command(project, "python", "app.py"),
            "synth, minimal app (floor)": command(
                project, "python", "minimal_app.py", "dev", "staging", "prod"
            ),
            "the rendered app's tests": command(project, "pytest", "-q", "-p", "no:cacheprovider"),
        }
        for run in runs.values():
            run()  # warm-up: bytecode, the CDK's own caches
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeat):
            for name, run in runs.items():
                samples[name].append(timed(run))
    fastest = {name: min(values) for name, values in samples.items()}
    print(f"{'copier copy (large, 3 envs)':34} {min(renders):6.2f} s  (goal: 1 s)")
    for name, seconds in fastest.items():
        print(f"{name:34} {seconds:6.2f} s")
    synth = fastest["synth, rendered app + cdk-nag"]
    floor = fastest["synth, minimal app (floor)"]
    tests = fastest["the rendered app's tests"]
    print(f"{'synth / floor':34} {synth / floor:6.2f} x  (goal: 1.2)")
    print(f"{'tests / synth':34} {tests / synth:6.2f} x  (goal: 1.2)")
    print(f"(fastest of {repeat} interleaved runs each)")


if __name__ == "__main__":
    main()
