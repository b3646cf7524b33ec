"""A long random-edit run against the real language server (10,000 edits by default).

    python bench/lsp_fuzz.py [--edits 10000] [--per-sequence 20] [--seed 1]

The machinery is the one of tests/test_lsp_fuzz.py (incremental edits made of fragments
of the language at random places of two buffers of the shop example, requests of every
kind interleaved): sequences of --per-sequence edits, each starting from the original
texts; after each sequence the server's diagnostics must equal `gopc check` on the final
texts (unless the compiler itself crashed on them: then the server must still answer), and
every request must have been answered. Exits 1 on the first failure, printing the seed and
the sequence; at the end, lists the distinct errors the server logged (compiler crashes).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_lsp import REPO, Session  # noqa: E402
from test_lsp_fuzz import FILES, FRAGMENTS, REQUESTS, check_final_state, run_sequence  # noqa: E402


def sequence(rng: random.Random, count: int) -> list[tuple]:
    steps = []
    for _ in range(count):
        text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 3)))
        request = rng.choice(REQUESTS) if rng.random() < 0.5 else None
        steps.append((rng.randrange(len(FILES)), rng.random(), rng.choice([0, 0, 1, 2, 5, 20]), text, request))
    return steps


async def run(edits: int, per_sequence: int, seed: int) -> int:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory) / "shop"
        shutil.copytree(REPO / "examples" / "shop", root)
        session = await Session.start(root)
        originals = {session.uri(name): (root / name).read_text() for name in FILES}
        for name in FILES:
            session.open(name)
        done = sequences = 0
        started = time.monotonic()
        try:
            while done < edits:
                steps = sequence(rng, min(per_sequence, edits - done))
                try:
                    failures_before = await run_sequence(session, originals, steps)
                    await check_final_state(session, root, failures_before)
                except Exception as error:
                    print(f"FAILED after {done} edits (seed {seed}, sequence {sequences}): {error}\n{steps!r}")
                    return 1
                done += len(steps)
                sequences += 1
                if sequences % 50 == 0:
                    print(f"{done} edits, {sequences} sequences, {time.monotonic() - started:.0f} s", flush=True)
        finally:
            await session.stop()
        errors = [m.message.splitlines()[0] for m in session.client.log_messages if m.type.value == 1]
        print(f"OK: {done} edits in {sequences} sequences, {time.monotonic() - started:.0f} s; "
              f"server error log lines: {len(errors)}")
        for line in sorted(set(errors)):
            print(f"  {line}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=10_000)
    parser.add_argument("--per-sequence", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.edits, args.per_sequence, args.seed)))


if __name__ == "__main__":
    main()
