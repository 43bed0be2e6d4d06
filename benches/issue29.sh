#!/bin/sh
# The figures of docs/performance.md, "Issue 29": two builds of pgtopo side by side, from one
# run. Usage (from the repository root, after `cargo build --release --example synth`):
#   sh benches/issue29.sh BEFORE_BIN AFTER_BIN SYNTH_BIN
# Needs hyperfine, python3, gcc and GNU time. Trees are written to /dev/shm (tmpfs).
set -eu
OLD=$1 NEW=$2 S=$3
T=$(mktemp -d)
trap 'rm -rf "$T" /dev/shm/pgtopo-29 /dev/shm/pgtopo-29-copy' EXIT
gcc -O2 -pthread -o "$T/replay" benches/replay.c

echo "== (1) every example topology: lint, build ENV, diff ENV (cold processes, medians in ms)"
set --
for f in topologies/*.kdl; do
  n=$(basename "$f" .kdl)
  env=$(sed -n 's/^env "\([^"]*\)".*/\1/p' "$f" | head -n 1)
  # The new binary only: the old one does not read the day-2 topologies.
  set -- "$@" "$n/lint=$NEW lint $f"
  if [ -n "$env" ]; then
    set -- "$@" "$n/build=$NEW build $env -f $f" "$n/diff=$NEW diff $env -f $f --exit-zero"
  fi
done
python3 benches/interleave.py 3 10 "$@"

# GNU time: wall seconds and peak RSS in KB.
measure() { /usr/bin/time -f "%e %M" -o "$T/t" "$@" >/dev/null 2>&1 || true; tail -n 1 "$T/t"; }
best_of_two() {
  b=
  for _ in 1 2; do
    rm -rf /dev/shm/pgtopo-29-copy
    b="$b $("$T/replay" /dev/shm/pgtopo-29 /dev/shm/pgtopo-29-copy "$(nproc)")"
  done
  echo $b | tr ' ' '\n' | sort -n | head -n 1
}

echo "== (2) build --out of the four 1,000-node x 50-env trees (s and peak KB, two interleaved runs),"
echo "   and writing each build's own tree from memory (the two builds write different trees)"
for spec in "containers 100 10" "containers 10 100" "vms 100 10" "vms 10 100"; do
  set -- $spec
  $S $1 $2 $3 50 > "$T/s.kdl"
  for run in 1 2; do
    for b in old new; do
      [ $b = old ] && bin=$OLD || bin=$NEW
      rm -rf /dev/shm/pgtopo-29
      r=$(measure $bin build -f "$T/s.kdl" --out /dev/shm/pgtopo-29)
      echo "$1 $2x$3x50 $b (run $run): $r"
      if [ $run = 2 ]; then
        echo "$1 $2x$3x50 $b tree from memory: $(best_of_two) s," \
          "$(find /dev/shm/pgtopo-29 -type f | wc -l) files, $(du -sm /dev/shm/pgtopo-29 | cut -f1) MB"
      fi
    done
  done
done

echo "== (3) an env costs what it changes: containers 100 x 10, envs that each change one cluster"
echo "   (with 0 envs for the base alone, and the new tree written from memory beside each)"
for envs in 0 10 20 40 80; do
  $S containers 100 10 $envs 1 > "$T/s.kdl"
  for b in old new; do
    [ $b = old ] && bin=$OLD || bin=$NEW
    rm -rf /dev/shm/pgtopo-29
    echo "$envs envs $b: $(measure $bin build -f "$T/s.kdl" --out /dev/shm/pgtopo-29)"
  done
  echo "$envs envs from memory: $(best_of_two) s, $(find /dev/shm/pgtopo-29 -type f | wc -l) files"
done
