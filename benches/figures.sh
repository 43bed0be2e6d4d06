#!/bin/sh
# Reproduces the figures of docs/performance.md (run from the repository root after
# `cargo build --release --example synth`; needs hyperfine, python3, kubectl, gcc and GNU time).
# Times are "seconds peak-RSS-KB" from GNU time, one process each.
set -eu
# The standard release build: target/release/pgtopo (PIE, the system allocator).
R=./target/release
B=$R/pgtopo
S=$R/examples/synth
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

echo "== (a) build prod vs kubectl kustomize of the same overlay"
$B build --out "$T/out" -f topologies/mirror-db.kdl >/dev/null 2>&1
# The floors. `pgtopo --version`: starting pgtopo and printing a line. `c-empty`: a static C
# program that returns at once, through glibc's start-up. `c-bare`: the same without any C
# library (its own `_start` calls exit), so the difference is glibc's start-up alone.
cat > "$T/empty.c" <<'C'
int main(void) { return 0; }
C
cat > "$T/bare.c" <<'C'
void _start(void) { __asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall"); }
C
gcc -O2 -static -o "$T/c-empty" "$T/empty.c"
gcc -O2 -static -nostdlib -o "$T/c-bare" "$T/bare.c"
# The floor for writing a tree (c): the same folders and files from memory, on as many threads as
# `build --out` uses here (one per core), with nothing to render.
gcc -O2 -pthread -o "$T/replay" benches/replay.c
set -- "build-prod=$B build prod -f topologies/mirror-db.kdl" \
  "kustomize=kubectl kustomize $T/out/mirror-db/kubernetes/overlays/prod" \
  "version=$B --version" "c-empty=$T/c-empty" "c-bare=$T/c-bare"
# The musl build, when there is one (docs/performance.md says how to make it).
M=./target/x86_64-unknown-linux-musl/release/pgtopo
[ -x "$M" ] && set -- "$@" "build-prod-musl=$M build prod -f topologies/mirror-db.kdl" "version-musl=$M --version"
# Ten interleaved rounds of 20 runs each (benches/interleave.py).
python3 benches/interleave.py 10 20 "$@" | tee "$T/a.txt"
awk '/^build-prod / {b = $3} /^build-prod-musl / {m = $3} /^kustomize / {k = $3}
  END {printf "kustomize / build prod, by medians: %.1fx\n", k / b; if (m) printf "kustomize / build prod (musl), by medians: %.1fx\n", k / m}' "$T/a.txt"

echo "== (b) lint, cold process"
set --
for f in topologies/*.kdl; do set -- "$@" "$(basename "$f" .kdl)=$B lint $f"; done
python3 benches/interleave.py 5 40 "$@"

echo "== (c) scaling: time and peak RSS of lint, build ENV (each target), diff ENV (every target) and build --out (everything, to tmpfs)"
# GNU time: wall seconds and peak RSS in KB of one process (its last line: a command that exits
# non-zero, like a diff that finds changes, adds a line before it).
measure() { /usr/bin/time -f "%e %M" -o "$T/t" "$@" >/dev/null 2>&1 || true; tail -n 1 "$T/t"; }
for flavor in containers vms; do
  [ $flavor = containers ] && targets="kubernetes helm compose" || targets="haproxy keepalived hosts"
  # Clusters of ten (100, 1,000, 10,000 nodes), then wide clusters (10 × 100, 40 × 250).
  for size in "10 10" "100 10" "1000 10" "10 100" "40 250"; do
    for envs in 5 50; do
      set -- $size
      [ $(($1 * $2)) -ge 10000 ] && [ "$envs" -eq 50 ] && [ -z "${PGTOPO_BENCH_HUGE:-}" ] && continue
      $S $flavor $1 $2 $envs > "$T/s.kdl"
      last="e$((envs - 1))"
      lint=$(measure $B lint "$T/s.kdl")
      one=""
      for t in $targets; do one="$one $t=$(measure $B build "$last" --target $t -f "$T/s.kdl" | tr ' ' /)"; done
      rm -rf /dev/shm/pgtopo-fig
      all=$(measure $B build -f "$T/s.kdl" --out /dev/shm/pgtopo-fig)
      # `diff ENV` of every target against that tree, as a review runs it: after an edit (a base
      # parameter, so every cluster's files change), rendering, reading and comparing the base and
      # the last env.
      mkdir -p "$T/edit"
      sed 's/max_connections 500/max_connections 600/' "$T/s.kdl" > "$T/edit/s.kdl"
      review=$(measure $B diff "$last" -f "$T/edit/s.kdl" --against /dev/shm/pgtopo-fig --stat)
      files=$(find /dev/shm/pgtopo-fig -type f | wc -l)
      mb=$(du -sm --apparent-size /dev/shm/pgtopo-fig | cut -f1)
      # References for writing that tree at all (benches/replay.c, as many threads as cores, the
      # best of two): writing its folders and files again from memory, and only creating them,
      # empty (a floor no renderer can go below).
      best() {
        b=
        for _ in 1 2; do
          rm -rf /dev/shm/pgtopo-copy
          b="$b $("$T/replay" /dev/shm/pgtopo-fig /dev/shm/pgtopo-copy "$(nproc)" "$@")"
        done
        rm -rf /dev/shm/pgtopo-copy
        echo $b | tr ' ' '\n' | sort -n | head -n 1
      }
      replay=$(best)
      empty=$(best empty)
      printf '%-10s %4dx%-3d %3d envs | lint %s | build %s:%s | diff %s %s | build --out %s, %d files, %d MB (from memory: %s s, empty files: %s s)\n' \
        $flavor $1 $2 $envs "$lint" "$last" "$one" "$last" "$review" "$all" $files $mb "$replay" "$empty"
    done
  done
done
rm -rf /dev/shm/pgtopo-fig
