"""`make bench`: run every `bench/bench_*.py`, print its figures, write bench/RESULTS.md.

Each module exposes `run() -> list[tuple[str, str]]`: rows of (what was measured, figure).
Pass module names (`python -m bench rota`) to run only some: their sections of RESULTS.md are
replaced and the others kept. Sizes can be lowered for a quick look (CHATOPS_BENCH_* in each
module's docstring); the figures then say what they were measured on.
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
    sections: dict[str, str] = _kept_sections() if argv else {}
    load_before = os.getloadavg()[0]  # the machine may be shared: figures are only comparable
    # within one run (each benchmark measures its baseline beside it)
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
        sections[name] = (
            f"## {name}\n\n{doc}\n\n| measure | figure |\n| --- | --- |\n{table}\n\n"
            f"_(ran in {took:.1f} s on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)_\n"
        )
    lowered = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("CHATOPS_BENCH_"))
    header = (
        "# Benchmark results\n\n"
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}; "
        f"load average {load_before:.1f} when it started.\n\n"
        + (f"Sizes set for this run: {', '.join(lowered)}.\n\n" if lowered else "")
    )
    body = "\n".join(sections[name] for name in sorted(sections))
    (HERE / "RESULTS.md").write_text(header + body, encoding="utf-8")
    print(f"written to {HERE / 'RESULTS.md'}")
    return 0


def _kept_sections() -> dict[str, str]:
    """The sections of the current RESULTS.md, by benchmark name."""
    path = HERE / "RESULTS.md"
    if not path.exists():
        return {}
    parts = path.read_text(encoding="utf-8").split("\n## ")[1:]
    return {part.split("\n", 1)[0].strip(): "## " + part.rstrip("\n") + "\n" for part in parts}


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
