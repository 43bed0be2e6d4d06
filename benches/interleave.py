#!/usr/bin/env python3
"""Times commands as cold processes in interleaved batches, with hyperfine doing the timing.

A shared machine drifts between faster and slower phases. Timing all of one command's runs and
then all of the other's (one hyperfine call) lets a drift land on one side of a comparison.
This runs ROUNDS hyperfine calls, each timing every command RUNS times, and reports medians over
all runs of each command: every phase lands on both sides, so a ratio of medians is fair.
hyperfine -N (no shell) times each run with less overhead than a script could.

Usage: interleave.py ROUNDS RUNS LABEL=COMMAND [LABEL=COMMAND ...]
Every command must exit 0, as hyperfine requires (`pgtopo diff` needs --exit-zero).
Prints, per command: median, mean, 10th and 90th percentile, in milliseconds.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile


def main():
    rounds, runs = int(sys.argv[1]), int(sys.argv[2])
    cases = [spec.split("=", 1) for spec in sys.argv[3:]]
    times = {label: [] for label, _ in cases}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "round.json")
        for _ in range(rounds):
            argv = ["hyperfine", "-N", "--warmup", "2", "--runs", str(runs),
                    "--export-json", out]
            for label, command in cases:
                argv += ["-n", label, command]
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            for result in json.load(open(out))["results"]:
                times[result["command"]].extend(result["times"])
    for label, t in times.items():
        t.sort()
        print("%-24s median %8.2f ms  mean %8.2f  p10 %8.2f  p90 %8.2f  (%d runs)"
              % (label, statistics.median(t) * 1e3, statistics.mean(t) * 1e3,
                 t[len(t) // 10] * 1e3, t[len(t) * 9 // 10] * 1e3, len(t)))


main()
