#!/usr/bin/env python3
"""How much CPU the kernel spends putting written bytes into the page cache, GB by GB.

Writes one file of GB gigabytes (default 10) in 64 KiB pwrite(2)s, as the embedded store
writes its segment files, and prints the wall and system CPU time of each GB. On a virtual
machine, pages the guest has not touched lately can cost many times more than pages the
kernel has just freed (docs/BENCHMARKS.md, eleventh round: 0.2 s against 2.7 s of CPU per
GB); this is why the store drops a segment's synced pages from the page cache.

    python3 scripts/fresh-pages.py [DIR] [GB]

The file is removed at the end. DIR defaults to the current directory: use the disk the
data directory is on.
"""
import os
import resource
import sys
import time

directory = sys.argv[1] if len(sys.argv) > 1 else "."
gigabytes = int(sys.argv[2]) if len(sys.argv) > 2 else 10
path = os.path.join(directory, "fresh-pages.probe")
chunk = b"x" * 65536
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
try:
    offset = 0
    for gb in range(gigabytes):
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.time()
        for _ in range(16384):
            os.pwrite(fd, chunk, offset)
            offset += len(chunk)
        after = resource.getrusage(resource.RUSAGE_SELF)
        print(f"GB {gb + 1}: wall {time.time() - started:.2f} s, "
              f"system CPU {after.ru_stime - before.ru_stime:.2f} s", flush=True)
finally:
    os.close(fd)
    os.unlink(path)
