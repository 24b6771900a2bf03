/* generate.c - embed the Strata runtime in a C program.
 *
 * Loads an executable, initialises its weights (from a safetensors file, or
 * from a seed), and generates tokens greedily from a prompt, using only the
 * C API of runtime/strata.h. The session runs where the executable was
 * compiled for: the CPU, or GPU 0 for a --target=cuda executable (stderr
 * says which).
 *
 *   generate MODEL.strata (--weights FILE | --seed N) TOKEN... [-n COUNT]
 */
#include <strata/strata.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(strata_status_code code, const strata_status *status) {
  if (code != STRATA_OK)
    fprintf(stderr, "error: %s\n", status->message);
  return code != STRATA_OK;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr,
            "usage: %s MODEL.strata (--weights FILE | --seed N) "
            "TOKEN... [-n COUNT] [--threads N]\n",
            argv[0]);
    return 2;
  }
  const char *weights = NULL;
  unsigned long long seed = 0;
  size_t max_new = 16, length = 0;
  unsigned threads = 0; /* one per CPU */
  int32_t prompt[256];
  for (int i = 2; i < argc; ++i) {
    if (!strcmp(argv[i], "--weights") && i + 1 < argc)
      weights = argv[++i];
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = (unsigned)strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "-n") && i + 1 < argc)
      max_new = (size_t)strtoul(argv[++i], NULL, 10);
    else if (length < sizeof(prompt) / sizeof(prompt[0]))
      prompt[length++] = (int32_t)strtol(argv[i], NULL, 10);
  }

  strata_status status;
  strata_executable *exe = NULL;
  strata_session *session = NULL;
  int failed =
      check(strata_executable_load_file(argv[1], &exe, &status), &status) ||
      check(strata_session_create(exe, &session, &status), &status) ||
      check(strata_session_set_num_threads(session, threads, &status), &status);
  if (!failed)
    fprintf(stderr, "running on %s (%u threads)\n",
            strata_session_device_name(session),
            strata_session_num_threads(session));
  if (!failed)
    failed = check(
        weights ? strata_session_load_parameters(session, weights, &status)
                : strata_session_init_parameters(session, seed, &status),
        &status);
  int32_t *out = malloc(max_new * sizeof(int32_t) + 1);
  size_t count = 0;
  if (!failed && out)
    failed = check(strata_session_generate_greedy(
                       session, prompt, length, max_new, out, &count, &status),
                   &status);
  for (size_t i = 0; !failed && i < count; ++i)
    printf("%s%d", i ? "," : "", out[i]);
  if (!failed)
    printf("\n");
  free(out);
  strata_session_release(session);
  strata_executable_release(exe);
  return failed;
}
