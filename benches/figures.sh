#!/bin/sh
# Reproduces the figures of docs/performance.md (run from the repository root after
# `cargo build --release --example synth`; needs hyperfine, kubectl and GNU time).
set -eu
B=./target/release/pgtopo
S=./target/release/examples/synth
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

echo "== (a) build prod vs kubectl kustomize of the same overlay"
$B build --out "$T/out" -f topologies/mirror-db.kdl >/dev/null 2>&1
hyperfine -N --warmup 5 --runs 50 \
  "$B build prod -f topologies/mirror-db.kdl" \
  "kubectl kustomize $T/out/mirror-db/kubernetes/overlays/prod"

echo "== (b) lint, cold process"
for f in topologies/*.kdl; do
  hyperfine -N --warmup 5 --runs 100 --export-json "$T/l.json" "$B lint $f" >/dev/null
  python3 -c "import json,sys; r=json.load(open('$T/l.json'))['results'][0]; print('%-32s median %.2f ms' % (sys.argv[1], r['median']*1000))" "$f"
done

echo "== (c) scaling: in-memory build of every target (build --out to tmpfs), time and peak RSS"
for flavor in containers vms; do
  for size in "10 10" "10 100" "40 250"; do
    for envs in 5 50; do
      set -- $size
      [ "$1" -eq 40 ] && [ "$envs" -eq 50 ] && [ -z "${PGTOPO_BENCH_HUGE:-}" ] && continue
      $S $flavor $1 $2 $envs > "$T/s.kdl"
      rm -rf /dev/shm/pgtopo-fig
      /usr/bin/time -f "%e %M" -o "$T/t" $B build -f "$T/s.kdl" --out /dev/shm/pgtopo-fig >/dev/null 2>&1
      files=$(find /dev/shm/pgtopo-fig -type f | wc -l)
      printf '%-10s %6d nodes %3d envs: %s s, %s KB peak RSS, %d files\n' $flavor $(($1*$2)) $envs $(cut -d' ' -f1 "$T/t") $(cut -d' ' -f2 "$T/t") $files
    done
  done
done
rm -rf /dev/shm/pgtopo-fig
