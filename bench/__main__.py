"""`make bench`: run every `bench/bench_*.py`, print its figures, write bench/RESULTS.md.

Each module exposes `run() -> list[tuple[str, str]]`: rows of (what was measured, figure).
Pass module names (`python -m bench rota`) to run only some.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    sections: list[str] = []
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        rows = module.run()
        took = time.perf_counter() - started
        for label, figure in rows:
            print(f"  {label}: {figure}", flush=True)
        table = "\n".join(f"| {label} | {figure} |" for label, figure in rows)
        doc = (module.__doc__ or "").strip()
        sections.append(
            f"## {name}\n\n{doc}\n\n| measure | figure |\n| --- | --- |\n{table}\n\n"
            f"_(ran in {took:.1f} s)_\n"
        )
    header = (
        "# Benchmark results\n\n"
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}.\n\n"
    )
    (HERE / "RESULTS.md").write_text(header + "\n".join(sections), encoding="utf-8")
    print(f"written to {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
