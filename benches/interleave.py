#!/usr/bin/env python3
"""Times commands as cold processes, interleaved: round after round, each command once per round.

A shared machine drifts between faster and slower phases; timing one command's runs and then
the other's (as hyperfine does) lets a drift land on one side of a comparison. Interleaving
puts every phase on both sides, so ratios of medians are fair.

Usage: interleave.py ROUNDS LABEL=COMMAND [LABEL=COMMAND ...]
Prints, per command: median, mean, 10th and 90th percentile, in milliseconds.
"""
import os
import shlex
import statistics
import sys
import time


def main():
    rounds = int(sys.argv[1])
    cases = []
    for spec in sys.argv[2:]:
        label, command = spec.split("=", 1)
        cases.append((label, shlex.split(command)))
    devnull = os.open(os.devnull, os.O_WRONLY)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    times = {label: [] for label, _ in cases}
    # Warm-up: page cache and the programs' first runs.
    for _ in range(3):
        for label, argv in cases:
            os.waitpid(os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions), 0)
    for _ in range(rounds):
        for label, argv in cases:
            start = time.perf_counter()
            pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
            _, status = os.waitpid(pid, 0)
            times[label].append(time.perf_counter() - start)
            if os.waitstatus_to_exitcode(status) not in (0, 1):
                sys.exit(f"{label}: exit {os.waitstatus_to_exitcode(status)}")
    for label, t in times.items():
        t.sort()
        print(
            "%-24s median %8.2f ms  mean %8.2f  p10 %8.2f  p90 %8.2f"
            % (label, statistics.median(t) * 1e3, statistics.mean(t) * 1e3,
               t[len(t) // 10] * 1e3, t[len(t) * 9 // 10] * 1e3)
        )


main()
