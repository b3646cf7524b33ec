"""When a file's status can be trusted to show its next change: its file system's clock tick.

Input: `os.stat_result`s and the time (ns) they were taken at, or before. Output: whether each is
settled: changed (modification and change times) longer ago than its device's tick, so a write
after the status was taken gets other times (an edit in the same tick could keep them: git's
"racy" index entries).

Invariants: the tick is the file system's. `SETTLED_NS` (2 s) covers the coarsest (FAT); on a
device where some status has sub-second times (ext4, XFS, Btrfs, APFS: the kernel's clock tick,
at most 10 ms) the window is `FINE_SETTLED_NS`. Device by device: an output may span two.
Users: the run memo's output tree (`commands.runmemo`) and the output index (`emit.outputindex`).
"""

from __future__ import annotations

SETTLED_NS = 2_000_000_000
FINE_SETTLED_NS = 100_000_000


def settling_windows(statuses) -> dict[int, int]:
    """Each device of `statuses` -> its window: `FINE_SETTLED_NS` where some status has a
    sub-second time (so its times are that fine), else `SETTLED_NS`."""
    windows: dict[int, int] = {}
    for status in statuses:
        if windows.get(status.st_dev) != FINE_SETTLED_NS:
            fine = status.st_mtime_ns % 1_000_000_000 or status.st_ctime_ns % 1_000_000_000
            windows[status.st_dev] = FINE_SETTLED_NS if fine else SETTLED_NS
    return windows


def is_settled(status, now: int, windows: dict[int, int]) -> bool:
    """`status`, taken at `now` (ns) or later, changed longer ago than its device's window."""
    return max(status.st_mtime_ns, status.st_ctime_ns) <= now - windows[status.st_dev]


def settled(statuses: list, now: int) -> bool:
    """No status changed within its device's window before `now` (ns)."""
    windows = settling_windows(statuses)
    return all(is_settled(status, now, windows) for status in statuses)
