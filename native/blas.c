/*
 * detox_blas: the system BLAS's cblas_sgemm for the wasm backend, called directly on the wasm heap (no copies).
 *
 * Exports (N-API, context-aware so every worker thread can load it):
 *   sgemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
 *       row-major C = alpha·op(A)·op(B) + beta·C on Float32Arrays (cblas semantics, lengths checked).
 *   sgemmHeap(heap, transA, transB, m, n, k, aOff, lda, strideA, bOff, ldb, strideB, cOff, ldc, strideC, batch,
 *             biasOff, accumulate)
 *       for i < batch: C[i] = op(A[i])·op(B[i]) (+ bias row) (+ C[i] when accumulate), on one ArrayBuffer (the wasm
 *       heap) with byte offsets; strides are in elements (0 = the same matrix for every i); biasOff < 0 = no bias.
 *   setThreads(n)   threads OpenBLAS uses for the calls of this thread (process-wide in OpenBLAS; re-applied before
 *                   a call when another thread changed it).
 *   getConfig()     { config: openblas_get_config(), threads: openblas_get_num_threads(), corename }
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Declared by OpenBLAS's cblas.h; repeated so a cblas.h without them still compiles against -lopenblas. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);

/* Per-environment (main thread or worker thread) state. */
typedef struct {
  int threads; /* 0 = leave OpenBLAS's setting alone */
} Env;

#define CHECK(call)                                                  \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      napi_throw_error(env, NULL, "detox_blas: N-API call failed");  \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

static int get_bool(napi_env env, napi_value v, int *out) {
  bool b = false;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_boolean) {
    if (napi_get_value_bool(env, v, &b) != napi_ok) return 0;
    *out = b ? 1 : 0;
    return 1;
  }
  int64_t x;
  if (!get_i64(env, v, &x)) return 0;
  *out = x != 0;
  return 1;
}

static void apply_threads(napi_env env) {
  Env *e = NULL;
  if (napi_get_instance_data(env, (void **)&e) != napi_ok || !e || e->threads <= 0) return;
  if (openblas_get_num_threads() != e->threads) openblas_set_num_threads(e->threads);
}

/* Elements spanned by a row-major matrix of `rows` × `cols` with leading dimension ld (0 when empty). */
static int64_t span(int64_t rows, int64_t cols, int64_t ld) {
  if (rows <= 0 || cols <= 0) return 0;
  return (rows - 1) * ld + cols;
}

/* C[m, n] rows set to bias (or 0). */
static void fill_rows(float *c, int64_t m, int64_t n, int64_t ldc, const float *bias) {
  for (int64_t i = 0; i < m; i++) {
    if (bias) memcpy(c + i * ldc, bias, (size_t)n * sizeof(float));
    else memset(c + i * ldc, 0, (size_t)n * sizeof(float));
  }
}

static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 13) return fail(env, "sgemm: expected 13 arguments (transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)");
  int ta, tb;
  int64_t m, n, k, lda, ldb, ldc;
  double alpha, beta;
  if (!get_bool(env, argv[0], &ta) || !get_bool(env, argv[1], &tb) || !get_i64(env, argv[2], &m) ||
      !get_i64(env, argv[3], &n) || !get_i64(env, argv[4], &k) || napi_get_value_double(env, argv[5], &alpha) != napi_ok ||
      !get_i64(env, argv[7], &lda) || !get_i64(env, argv[9], &ldb) || napi_get_value_double(env, argv[10], &beta) != napi_ok ||
      !get_i64(env, argv[12], &ldc)) {
    return fail(env, "sgemm: transA/transB must be booleans, m, n, k, lda, ldb, ldc integers, alpha and beta numbers");
  }
  if (m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) return fail(env, "sgemm: m, n, k must be in [0, 2^31)");
  float *p[3];
  size_t len[3];
  const int idx[3] = {6, 8, 11};
  for (int i = 0; i < 3; i++) {
    napi_typedarray_type t;
    napi_value ab;
    size_t off;
    void *data;
    if (napi_get_typedarray_info(env, argv[idx[i]], &t, &len[i], &data, &ab, &off) != napi_ok || t != napi_float32_array) {
      return fail(env, "sgemm: A, B and C must be Float32Arrays");
    }
    p[i] = (float *)data;
  }
  const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  if (lda < (ac > 1 ? ac : 1) || ldb < (bc > 1 ? bc : 1) || ldc < (n > 1 ? n : 1)) return fail(env, "sgemm: a leading dimension is smaller than its row");
  if ((uint64_t)span(ar, ac, lda) > len[0] || (uint64_t)span(br, bc, ldb) > len[1] || (uint64_t)span(m, n, ldc) > len[2]) {
    return fail(env, "sgemm: a matrix extends past the end of its Float32Array");
  }
  if (m == 0 || n == 0) return NULL;
  apply_threads(env);
  if (k == 0) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) p[2][i * ldc + j] = beta == 0 ? 0.0f : (float)(beta * p[2][i * ldc + j]);
    return NULL;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              (float)alpha, p[0], (int)lda, p[1], (int)ldb, (float)beta, p[2], (int)ldc);
  return NULL;
}

static napi_value SgemmHeap(napi_env env, napi_callback_info info) {
  size_t argc = 18;
  napi_value argv[18];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 18) {
    return fail(env, "sgemmHeap: expected 18 arguments (heap, transA, transB, m, n, k, aOff, lda, strideA, bOff, ldb, "
                     "strideB, cOff, ldc, strideC, batch, biasOff, accumulate)");
  }
  void *base;
  size_t bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &base, &bytes) != napi_ok) return fail(env, "sgemmHeap: heap must be an ArrayBuffer");
  int ta, tb, acc;
  int64_t v[14];
  if (!get_bool(env, argv[1], &ta) || !get_bool(env, argv[2], &tb) || !get_bool(env, argv[17], &acc)) {
    return fail(env, "sgemmHeap: transA, transB and accumulate must be booleans");
  }
  for (int i = 0; i < 14; i++) {
    if (!get_i64(env, argv[3 + i], &v[i])) return fail(env, "sgemmHeap: sizes, offsets and strides must be integers");
  }
  const int64_t m = v[0], n = v[1], k = v[2], aOff = v[3], lda = v[4], sA = v[5], bOff = v[6], ldb = v[7], sB = v[8];
  const int64_t cOff = v[9], ldc = v[10], sC = v[11], batch = v[12], biasOff = v[13];
  if (m < 0 || n < 0 || k < 0 || batch < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) return fail(env, "sgemmHeap: m, n, k, batch must be in [0, 2^31)");
  if (sA < 0 || sB < 0 || sC < 0) return fail(env, "sgemmHeap: strides must be >= 0");
  if ((aOff | bOff | cOff) & 3 || (biasOff >= 0 && (biasOff & 3))) return fail(env, "sgemmHeap: byte offsets must be multiples of 4");
  if (aOff < 0 || bOff < 0 || cOff < 0) return fail(env, "sgemmHeap: byte offsets must be >= 0");
  const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  if (lda < (ac > 1 ? ac : 1) || ldb < (bc > 1 ? bc : 1) || ldc < (n > 1 ? n : 1)) return fail(env, "sgemmHeap: a leading dimension is smaller than its row");
  if (m == 0 || n == 0 || batch == 0) return NULL;
  const int64_t last = batch - 1;
  const uint64_t words = bytes / 4;
  const uint64_t endA = (uint64_t)(aOff / 4) + (uint64_t)(last * sA) + (uint64_t)span(ar, ac, lda);
  const uint64_t endB = (uint64_t)(bOff / 4) + (uint64_t)(last * sB) + (uint64_t)span(br, bc, ldb);
  const uint64_t endC = (uint64_t)(cOff / 4) + (uint64_t)(last * sC) + (uint64_t)span(m, n, ldc);
  if ((k > 0 && (endA > words || endB > words)) || endC > words || (biasOff >= 0 && (uint64_t)(biasOff / 4 + n) > words)) {
    return fail(env, "sgemmHeap: a matrix extends past the end of the heap");
  }
  float *heap = (float *)base;
  const float *bias = biasOff >= 0 ? heap + biasOff / 4 : NULL;
  apply_threads(env);
  for (int64_t i = 0; i < batch; i++) {
    float *c = heap + cOff / 4 + i * sC;
    float beta = acc ? 1.0f : 0.0f;
    if (bias) {
      if (acc) {
        for (int64_t r = 0; r < m; r++) cblas_saxpy((int)n, 1.0f, bias, 1, c + r * ldc, 1);
      } else {
        fill_rows(c, m, n, ldc, bias);
      }
      beta = 1.0f;
    }
    if (k == 0) {
      if (beta == 0.0f) fill_rows(c, m, n, ldc, NULL);
      continue;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, heap + aOff / 4 + i * sA, (int)lda, heap + bOff / 4 + i * sB, (int)ldb, beta, c, (int)ldc);
  }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n;
  if (argc != 1 || !get_i64(env, argv[0], &n) || n < 1 || n > 1024) return fail(env, "setThreads: n must be an integer in [1, 1024]");
  Env *e = NULL;
  CHECK(napi_get_instance_data(env, (void **)&e));
  if (e) e->threads = (int)n;
  openblas_set_num_threads((int)n);
  return NULL;
}

static napi_value GetConfig(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, s, t, c;
  CHECK(napi_create_object(env, &obj));
  const char *cfg = openblas_get_config();
  CHECK(napi_create_string_utf8(env, cfg ? cfg : "", NAPI_AUTO_LENGTH, &s));
  CHECK(napi_set_named_property(env, obj, "config", s));
  const char *core = openblas_get_corename();
  CHECK(napi_create_string_utf8(env, core ? core : "", NAPI_AUTO_LENGTH, &c));
  CHECK(napi_set_named_property(env, obj, "corename", c));
  Env *e = NULL;
  CHECK(napi_get_instance_data(env, (void **)&e));
  CHECK(napi_create_int32(env, e && e->threads > 0 ? e->threads : openblas_get_num_threads(), &t));
  CHECK(napi_set_named_property(env, obj, "threads", t));
  return obj;
}

static void free_env(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

NAPI_MODULE_INIT() {
  Env *e = (Env *)calloc(1, sizeof(Env));
  if (!e || napi_set_instance_data(env, e, free_env, NULL) != napi_ok) {
    free(e);
    napi_throw_error(env, NULL, "detox_blas: could not set instance data");
    return NULL;
  }
  napi_property_descriptor props[] = {
    {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sgemmHeap", NULL, SgemmHeap, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
    {"getConfig", NULL, GetConfig, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
