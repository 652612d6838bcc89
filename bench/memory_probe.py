"""How much CPU this machine spends to hand out new memory, by the way it is asked for.

On the virtual machine the benchmarks run on, memory that has been free for a few seconds
goes back to the host (free page reporting) and is slow to touch again, and how slow depends
on the size of the pieces the kernel hands out: 4 KiB pages cost about 1 s a GiB, huge pages
and large page-cache folios 9-17 s (bench/results/build.md, tenth session). A build writes
about 2.6 GB of new files at a million chunks, so this decides much of its time; run this
before a benchmark to know what kind of hour it is.

Each way is measured in its own process after some seconds of idleness, so that it meets
memory the host has taken back, not memory the previous measurement just freed.

    python bench/memory_probe.py [--mib 1024] [--idle 6]
"""

from __future__ import annotations

import argparse
import mmap
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

WAYS = {
    "anonymous, 4 KiB pages": "anon",
    "anonymous, numpy array (huge pages where enabled)": "numpy",
    "new file, pwrite 16 KiB at a time": "pwrite16",
    "new file, pwrite 1 MiB at a time": "pwrite1024",
    "new file, writable mapping": "mapped",
    "new file, writable mapping, MADV_RANDOM": "mapped-random",
}


def fill(way: str, size: int, folder: str) -> float:
    """Seconds to fill *size* bytes of new memory obtained *way*."""
    piece = np.full(4 << 20, 7, np.uint8)  # touched now, outside the timing
    path = os.path.join(folder, "probe.bin")
    started = time.perf_counter()
    if way == "anon":
        region = mmap.mmap(-1, size)
        view = np.frombuffer(region, np.uint8)
        for at in range(0, size, len(piece)):
            view[at : at + len(piece)] = piece[: size - at]
    elif way == "numpy":
        np.ones(size, np.uint8)
    elif way.startswith("pwrite"):
        step = int(way.removeprefix("pwrite")) << 10
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        data = bytes([7]) * step
        for at in range(0, size, step):
            os.pwrite(fd, data, at)
        os.close(fd)
    else:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        os.ftruncate(fd, size)
        region = mmap.mmap(fd, size)
        if way == "mapped-random":
            region.madvise(mmap.MADV_RANDOM)
        view = np.frombuffer(region, np.uint8)
        for at in range(0, size, len(piece)):
            view[at : at + len(piece)] = piece[: size - at]
        os.close(fd)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="memory to fill each way (MiB)")
    parser.add_argument("--idle", type=float, default=6.0, help="seconds to wait before each way")
    parser.add_argument("--way", help=argparse.SUPPRESS)  # one measurement, in a child process
    parser.add_argument("--folder", default=tempfile.gettempdir(), help="where to write the files")
    args = parser.parse_args()
    if args.way:
        print(fill(args.way, args.mib << 20, args.folder))
        return
    print(f"| {args.mib} MiB of new memory, filled once | s per GiB |\n| --- | --- |")
    for label, way in WAYS.items():
        time.sleep(args.idle)
        command = [sys.executable, __file__, "--way", way, "--mib", str(args.mib), "--folder", args.folder]
        seconds = float(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        print(f"| {label} | {seconds * 1024 / args.mib:.2f} |", flush=True)
    os.unlink(os.path.join(args.folder, "probe.bin"))


if __name__ == "__main__":
    main()
