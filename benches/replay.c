/* The floor for writing a tree: reads every folder and file of a tree into memory, then times
 * writing them again under a new root on N threads (one mkdir per folder; one open, write and
 * close per file), as `build --out` does, but with nothing to render. benches/figures.sh runs it
 * next to `build --out` of each synthetic tree.
 *
 * usage: replay SRC DST THREADS [empty]    (prints the seconds the writing took)
 * With `empty`, the files are created but nothing is written into them: the floor for making
 * that many files at all.
 * Folders are made a depth at a time, so that a parent exists before its children on any thread;
 * files are then shared out in contiguous runs (the walk's order, folder by folder), so that two
 * threads seldom write into one folder at once, as `build --out` gives each env to one thread. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct entry { char *rel; int depth; char *data; size_t len; };
static struct entry *dirs, *files;
static size_t ndirs, nfiles, cap_d, cap_f, src_len;
static const char *dst;
static int threads, level, empty;
static pthread_barrier_t barrier;

static void push(struct entry **v, size_t *n, size_t *cap, struct entry e) {
  if (*n == *cap) { *cap = *cap ? *cap * 2 : 1024; *v = realloc(*v, *cap * sizeof **v); }
  (*v)[(*n)++] = e;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *f) {
  if (f->level == 0) return 0;
  struct entry e = { strdup(path + src_len), f->level, NULL, 0 };
  if (type == FTW_D) { push(&dirs, &ndirs, &cap_d, e); return 0; }
  if (type != FTW_F) return 0;
  e.len = st->st_size;
  e.data = malloc(e.len + 1);
  int fd = open(path, O_RDONLY);
  if (fd < 0 || read(fd, e.data, e.len) != (ssize_t)e.len) { perror(path); exit(1); }
  close(fd);
  push(&files, &nfiles, &cap_f, e);
  return 0;
}

static void *work(void *arg) {
  long t = (long)arg;
  char p[4096];
  for (int d = 1; d <= level; d++) {
    for (size_t i = ndirs * t / threads; i < ndirs * (t + 1) / threads; i++)
      if (dirs[i].depth == d) {
        snprintf(p, sizeof p, "%s%s", dst, dirs[i].rel);
        if (mkdir(p, 0755) != 0) { perror(p); exit(1); }
      }
    pthread_barrier_wait(&barrier);
  }
  for (size_t i = nfiles * t / threads; i < nfiles * (t + 1) / threads; i++) {
    snprintf(p, sizeof p, "%s%s", dst, files[i].rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (!empty && write(fd, files[i].data, files[i].len) != (ssize_t)files[i].len)) {
      perror(p);
      exit(1);
    }
    close(fd);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 5) { fprintf(stderr, "usage: replay SRC DST THREADS [empty]\n"); return 2; }
  empty = argc == 5 && strcmp(argv[4], "empty") == 0;
  src_len = strlen(argv[1]);
  dst = argv[2];
  threads = atoi(argv[3]);
  if (nftw(argv[1], visit, 64, FTW_PHYS) != 0) { perror(argv[1]); return 1; }
  for (size_t i = 0; i < ndirs; i++) if (dirs[i].depth > level) level = dirs[i].depth;
  pthread_barrier_init(&barrier, NULL, threads);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  if (mkdir(dst, 0755) != 0) { perror(dst); return 1; }
  pthread_t th[256];
  for (long t = 0; t < threads; t++) pthread_create(&th[t], NULL, work, (void *)t);
  for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.3f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
  return 0;
}
