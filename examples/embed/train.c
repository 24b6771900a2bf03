/* train.c - train a model from a C program that embeds the Strata runtime.
 *
 * Loads an executable compiled with `strata-compile --train`, initialises
 * its weights from a seed and trains on consecutive windows of a token file
 * (little-endian uint32 ids), one optimizer step per batch, printing each
 * step's metrics. Halfway it saves a training checkpoint with its data
 * position as the checkpoint's user JSON; at the end a second session
 * loads that checkpoint, reads the position back, redoes the second half
 * and says whether its losses and learning rates equal the first run's —
 * the exact resume a training loop can rely on.
 *
 *   train MODEL.strata DATA.bin CHECKPOINT_DIR [--steps N] [--batch B]
 *         [--seq T] [--seed S]
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

/* Window w of the stream: tokens [w*T, w*T+T), labels shifted by one. */
static void batch_at(const int32_t *data, size_t n, size_t window, size_t batch,
                     size_t seq, int32_t *tokens, int32_t *labels) {
  size_t windows = (n - 1) / seq;
  for (size_t b = 0; b < batch; ++b) {
    size_t start = ((window + b) % windows) * seq;
    for (size_t s = 0; s < seq; ++s) {
      tokens[b * seq + s] = data[start + s];
      labels[b * seq + s] = data[start + s + 1];
    }
  }
}

static strata_session *open_session(strata_executable *exe,
                                    strata_status *status) {
  strata_session *session = NULL;
  if (check(strata_session_create(exe, &session, status), status))
    return NULL;
  return session;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL.strata DATA.bin CHECKPOINT_DIR "
                    "[--steps N] [--batch B] [--seq T] [--seed S]\n", argv[0]);
    return 2;
  }
  size_t steps = 8, batch = 4, seq = 8;
  unsigned long long seed = 1;
  for (int i = 4; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--steps")) steps = strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--batch")) batch = strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--seq")) seq = strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
  }
  FILE *f = fopen(argv[2], "rb");
  if (!f) {
    fprintf(stderr, "error: cannot open %s\n", argv[2]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  size_t n = (size_t)ftell(f) / 4;
  fseek(f, 0, SEEK_SET);
  int32_t *data = malloc(n * sizeof(int32_t));
  if (!data || fread(data, 4, n, f) != n || n < seq + 1) {
    fprintf(stderr, "error: %s is too short\n", argv[2]);
    return 1;
  }
  fclose(f);
  int32_t *tokens = malloc(batch * seq * sizeof(int32_t));
  int32_t *labels = malloc(batch * seq * sizeof(int32_t));
  float *losses = calloc(steps, sizeof(float)), *rates = calloc(steps, sizeof(float));

  strata_status status;
  strata_executable *exe = NULL;
  if (check(strata_executable_load_file(argv[1], &exe, &status), &status))
    return 1;
  strata_session *session = open_session(exe, &status);
  if (!session ||
      check(strata_session_init_parameters(session, seed, &status), &status))
    return 1;
  size_t half = steps / 2;
  for (size_t step = 0; step < steps; ++step) {
    batch_at(data, n, step * batch, batch, seq, tokens, labels);
    strata_train_metrics m;
    if (check(strata_session_train_step(session, tokens, labels, batch, seq,
                                        &m, &status), &status))
      return 1;
    losses[step] = m.loss;
    rates[step] = m.lr;
    printf("step %lld loss %.6f lr %.3g grad_norm %.4f\n", (long long)m.step,
           m.loss, m.lr, m.grad_norm);
    if (step + 1 == half) {
      char user[64];
      snprintf(user, sizeof(user), "{\"next_window\": %zu}", (step + 1) * batch);
      if (check(strata_session_save_training_checkpoint(session, argv[3], user,
                                                         &status), &status))
        return 1;
    }
  }
  strata_session_release(session);

  /* A new session resumes from the checkpoint. */
  session = open_session(exe, &status);
  if (!session ||
      check(strata_session_load_training_checkpoint(session, argv[3], &status),
            &status))
    return 1;
  size_t window = 0;
  const char *user = strata_session_checkpoint_user_json(session);
  const char *at = strstr(user, "\"next_window\":");
  if (at)
    window = strtoul(at + strlen("\"next_window\":"), NULL, 10);
  printf("resumed at step %lld from window %zu\n",
         (long long)strata_session_train_steps_done(session), window);
  int same = 1;
  for (size_t step = half; step < steps; ++step, window += batch) {
    batch_at(data, n, window, batch, seq, tokens, labels);
    strata_train_metrics m;
    if (check(strata_session_train_step(session, tokens, labels, batch, seq,
                                        &m, &status), &status))
      return 1;
    same &= m.loss == losses[step] && m.lr == rates[step];
  }
  printf(same ? "resume matches: steps %zu-%zu identical\n"
              : "resume differs in steps %zu-%zu\n",
         half + 1, steps);
  strata_session_release(session);
  strata_executable_release(exe);
  free(data), free(tokens), free(labels), free(losses), free(rates);
  return same ? 0 : 1;
}
