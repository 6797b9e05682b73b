"""Benchmark what users wait for: `copier copy` of a service, and a synth of its app.

Not a test (nothing here fails on a slow machine); run it before and after a change and
compare the medians:

    uv run python benchmarks/render_and_synth.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import yaml
from copier import run_copy

TEMPLATE = Path(__file__).resolve().parent.parent
ANSWERS = {
    **yaml.safe_load((TEMPLATE / "example-answers.yml").read_text()),
    "sizing": "large",
    "environments": ["dev", "staging", "prod"],
    "dev_account_id": "210987654321",
    "staging_account_id": "210987654322",
}
SYNTH = (
    "import json; from aws_cdk import App; "
    "from orders_api.environments import SERVICE; from orders_api.stages import add_service; "
    "from orders_api.policy import add_policy_checks; "
    "app = App(context=json.load(open('cdk.json'))['context']); "
    "add_service(app, SERVICE); add_policy_checks(app); app.synth()"
)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def render(destination: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_copy(
            str(TEMPLATE),
            destination,
            data=ANSWERS,
            defaults=True,
            quiet=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.pop("VIRTUAL_ENV", None)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        renders = [timed(functools.partial(render, root / f"render-{i}")) for i in range(repeat)]
        project = root / "render-0"
        subprocess.run(["uv", "sync", "--quiet", "--locked"], cwd=project, check=True)
        command = ["uv", "run", "--no-sync", "python", "-c", SYNTH]
        synths = [
            timed(lambda: subprocess.run(command, cwd=project, check=True, capture_output=True))
            for _ in range(repeat)
        ]
    for name, samples in (("copier copy (large, 3 envs)", renders), ("synth + cdk-nag", synths)):
        print(
            f"{name:30} median {statistics.median(samples):6.2f} s"
            f"  min {min(samples):6.2f} s  max {max(samples):6.2f} s  (n={len(samples)})"
        )


if __name__ == "__main__":
    main()
