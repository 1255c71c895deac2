/* embed_c: the same as embed_self, through dprof's C API (dprof.h).
 *
 *   embed_c [SECONDS] [OUTPUT.html|.svg]
 *
 * Profiles itself while it runs the shared workload, writes a flame graph and folded stacks
 * (OUTPUT.folded), and prints the sampler and the hot functions' shares, read back from the folded
 * stacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dprof.h"
#include "samples/embed_workload/workload.h"

static void print_notice(const char* message, void* arg) {
  (void)arg;
  fprintf(stderr, "embed_c: %s\n", message);
}

/* The weight of the folded stacks whose leaf is `function`, and of all of them. */
static void leaf_weights(const char* path, const char* function, double* weight, double* total) {
  FILE* in = fopen(path, "r");
  char line[8192];
  *weight = 0;
  *total = 0;
  if (in == NULL) return;
  while (fgets(line, sizeof line, in) != NULL) {
    char* space = strrchr(line, ' ');
    if (space == NULL) continue;
    const double w = atof(space + 1);
    *space = '\0';
    const char* leaf = strrchr(line, ';');
    leaf = leaf == NULL ? line : leaf + 1;
    *total += w;
    if (strcmp(leaf, function) == 0) *weight += w;
  }
  fclose(in);
}

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? atof(argv[1]) : 2.0;
  const char* output = argc > 2 ? argv[2] : "embed_c.html";
  char folded[4096];
  snprintf(folded, sizeof folded, "%s.folded", output);

  dprof_options options;
  dprof_options_init(&options);
  options.frequency = 499;
  options.notice = print_notice;
  dprof_profiler* profiler = dprof_start(&options);
  if (profiler == NULL) {
    fprintf(stderr, "embed_c: %s\n", dprof_last_error());
    return 1;
  }
  workload_run(seconds);
  if (dprof_stop(profiler) != 0 || dprof_write_flamegraph(profiler, output) != 0 ||
      dprof_write_folded(profiler, folded) != 0) {
    fprintf(stderr, "embed_c: %s\n", dprof_last_error());
    dprof_free(profiler);
    return 1;
  }
  printf("embed_c: sampler %s\n", dprof_sampler_name(profiler));
  printf("embed_c: %llu samples\n", dprof_sample_count(profiler));
  const char* functions[] = {"hot_a", "hot_b"};
  for (int i = 0; i < 2; ++i) {
    double weight, total;
    leaf_weights(folded, functions[i], &weight, &total);
    printf("embed_c: %s %.1f%%\n", functions[i], total > 0 ? 100.0 * weight / total : 0.0);
  }
  printf("embed_c: wrote %s and %s\n", output, folded);
  dprof_free(profiler);
  return 0;
}
