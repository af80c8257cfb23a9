/*
 * proxy._mapkernel: a bridge map applied to one query vector, wire bytes in, wire bytes
 * out (docs/decisions.md, 50).
 *
 * A bridged query's vector is a `DenseVector`, whose only field is `repeated float
 * data = 1`: its bytes are 0x0A, a varint length, then the float32 values,
 * little-endian. Each function takes those bytes (the parsed message serialised
 * again: one call, no Python float per value), maps the vector, and returns the
 * `DenseVector` bytes of the result, to be parsed back into the request. Any other
 * layout (an unpacked or split block, another field, a length that is not the map's
 * input dimension) returns None: the caller maps the vector in numpy instead.
 *
 *   dense(raw, weights, d_in, d_out, bias)       y = x W + b; W row-major (d_in, d_out),
 *                                                float32
 *   dense_bf16(raw, pairs, d_in, d_out, bias)    the same, W in bfloat16 as row pairs:
 *                                                (ceil(d_in / 2), d_out) uint32, element
 *                                                j of pair p = W[2p][j] | W[2p+1][j] << 16
 *                                                (a zero row pads an odd d_in)
 *   residual(raw, left, right, rank, bias)       y = x + (x U) V + b; U (d, rank) and
 *                                                V (rank, d), float32
 *
 * bias is None or d_out float32 values. Sums run in float32, and the map is read once,
 * front to back: a query's cost is mostly reading the map from memory (a search's scan
 * and whatever else the host ran have pushed it out of the caches). A CPU with the
 * AVX-512 bfloat16 dot product (`BF16_KERNEL` says whether this one has) reads a
 * bfloat16 map with it: one instruction per cache line of the map and per part of the
 * query, so more of the map is in flight from memory at once (decision 52).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_densevector.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
/* AVX-512 and AVX2 + FMA builds of the loops beside the baseline one, chosen at load
 * time. */
#define KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL
#endif

/* A DenseVector of `floats` values from `values` (bytes object, new reference). */
static PyObject *dense_bytes(const float *values, Py_ssize_t floats) {
    uint8_t head[11];
    Py_ssize_t used = 0;
    uint64_t length = (uint64_t)floats * 4;
    head[used++] = DENSE_FIELD_1_LENGTH_DELIMITED;
    do {
        uint8_t byte = length & 0x7f;
        length >>= 7;
        head[used++] = byte | (length ? 0x80 : 0);
    } while (length);
    PyObject *out = PyBytes_FromStringAndSize(NULL, used + floats * 4);
    if (out == NULL) return NULL;
    char *data = PyBytes_AS_STRING(out);
    memcpy(data, head, used);
    memcpy(data + used, values, floats * 4);
    return out;
}

/* Blocks of four rows asked for ahead of the one being summed: the map comes back from
 * memory on every query, and the hardware prefetcher alone leaves the loop waiting on
 * it (decision 51: 4 ahead, kept in every cache level; 8 ahead or non-temporal was
 * slower). */
enum { BLOCKS_AHEAD = 4 };

/* Ask for the block of four rows that starts at row `first` of a map of `rows` rows
 * of `row_bytes` bytes each, if it exists. Called outside the inner loop, which stays
 * vectorised. */
static inline void prefetch_block(const void *map, Py_ssize_t first, Py_ssize_t rows,
                                  Py_ssize_t row_bytes) {
    if (first >= rows) return;
    Py_ssize_t last = first + 4 < rows ? first + 4 : rows;
    const char *from = (const char *)map + first * row_bytes;
    const char *to = (const char *)map + last * row_bytes;
    for (const char *p = from; p < to; p += 64) __builtin_prefetch(p, 0, 3);
}

/* y += x W for W row-major (rows, n): four rows at a time, so y is loaded and stored
 * once per four rows of the map. */
KERNEL static void add_rows_f32(float *restrict y, const float *restrict x,
                                const float *restrict w, Py_ssize_t rows, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const float *r0 = w + i * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
        prefetch_block(w, i + 4 * BLOCKS_AHEAD, rows, n * 4);
        float a0 = x[i], a1 = x[i + 1], a2 = x[i + 2], a3 = x[i + 3];
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] += a0 * r0[j] + a1 * r1[j] + a2 * r2[j] + a3 * r3[j];
    }
    for (; i < rows; i++)
        for (Py_ssize_t j = 0; j < n; j++) y[j] += x[i] * w[i * n + j];
}

/* The float32 of these bits (a bfloat16 in the upper half widens to it exactly). */
static inline float widened(uint32_t bits) {
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

/* y += x W for W as bfloat16 row pairs (`dense_bf16`): element j of pair p holds
 * W[2p][j] in its low half and W[2p+1][j] in its high half; x has 2 * pairs values.
 * Two pairs (four rows) at a time, the portable loop of any CPU. */
KERNEL static void add_pairs_bf16(float *restrict y, const float *restrict x,
                                  const uint32_t *restrict w, Py_ssize_t pairs, Py_ssize_t n) {
    Py_ssize_t p = 0;
    for (; p + 2 <= pairs; p += 2) {
        const uint32_t *r0 = w + p * n, *r1 = r0 + n;
        prefetch_block(w, p + 2 * BLOCKS_AHEAD, pairs, n * 4);
        float a0 = x[2 * p], a1 = x[2 * p + 1], a2 = x[2 * p + 2], a3 = x[2 * p + 3];
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] += a0 * widened(r0[j] << 16) + a1 * widened(r0[j] & 0xffff0000u) +
                    a2 * widened(r1[j] << 16) + a3 * widened(r1[j] & 0xffff0000u);
    }
    for (; p < pairs; p++) {
        const uint32_t *r = w + p * n;
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] += x[2 * p] * widened(r[j] << 16) + x[2 * p + 1] * widened(r[j] & 0xffff0000u);
    }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_BF16_DOT 1
#define BF16_DOT __attribute__((target("avx512f,avx512bf16")))

/* The query split for the dot-product instruction, which multiplies bfloat16 pairs: x =
 * x1 + x2 + x3 exactly, each part a bfloat16 (8 bits of x's 24 each), so every product
 * with a weight is exact in float32 and only the sums round, as in the portable loop.
 * parts[3p + k] holds part k of x[2p] (low half) and of x[2p + 1] (high half). */
static void split_query(uint32_t *parts, const float *x, Py_ssize_t pairs) {
    for (Py_ssize_t p = 0; p < pairs; p++) {
        float lo = x[2 * p], hi = x[2 * p + 1];
        for (int k = 0; k < 3; k++) {
            uint32_t lo_bits, hi_bits;
            memcpy(&lo_bits, &lo, 4);
            memcpy(&hi_bits, &hi, 4);
            lo_bits &= 0xffff0000u;
            hi_bits &= 0xffff0000u;
            parts[3 * p + k] = (lo_bits >> 16) | hi_bits;
            lo -= widened(lo_bits);
            hi -= widened(hi_bits);
        }
    }
}

/* Pair rows asked for ahead of the one being summed. Without it, the loads wait on the
 * dot products that wait on earlier loads, and only a few cache lines of the map are
 * on their way from memory at once: reading a 768 x 384 map after a 64 MB sweep took
 * 52-58 us, 27-33 us with it (2 ahead; 1, 3 and 4 were no better; docs/benchmarks.md). */
enum { PAIRS_AHEAD = 2 };

/* y[0:16 * width) = x W over `width` registers of 16 columns, read from pair row p at
 * `w + p * n`; the last register's columns are `last` (a mask). All the sums stay in
 * registers: the map is read once, front to back, a full cache line per load. */
static inline __attribute__((always_inline)) BF16_DOT void dot_columns(
    float *y, const uint32_t *parts, const uint32_t *w, Py_ssize_t pairs, Py_ssize_t n,
    const int width, __mmask16 last) {
    __m512 sum[24];
#pragma GCC unroll 24
    for (int k = 0; k < width; k++) sum[k] = _mm512_setzero_ps();
    for (Py_ssize_t p = 0; p < pairs; p++) {
        const uint32_t *row = w + p * n;
        if (p + PAIRS_AHEAD < pairs) {
#pragma GCC unroll 24
            for (int k = 0; k < width; k++)
                _mm_prefetch((const char *)(row + PAIRS_AHEAD * n + 16 * k), _MM_HINT_T0);
        }
        __m512bh x1 = (__m512bh)_mm512_set1_epi32((int)parts[3 * p]);
        __m512bh x2 = (__m512bh)_mm512_set1_epi32((int)parts[3 * p + 1]);
        __m512bh x3 = (__m512bh)_mm512_set1_epi32((int)parts[3 * p + 2]);
#pragma GCC unroll 24
        for (int k = 0; k < width; k++) {
            __mmask16 mask = k == width - 1 ? last : 0xffff;
            __m512bh weights = (__m512bh)_mm512_maskz_loadu_epi32(mask, row + 16 * k);
            sum[k] = _mm512_dpbf16_ps(sum[k], weights, x1);
            sum[k] = _mm512_dpbf16_ps(sum[k], weights, x2);
            sum[k] = _mm512_dpbf16_ps(sum[k], weights, x3);
        }
    }
#pragma GCC unroll 24
    for (int k = 0; k < width; k++)
        _mm512_mask_storeu_ps(y + 16 * k, k == width - 1 ? last : 0xffff, sum[k]);
}

/* y = x W with the AVX-512 bfloat16 dot product: 384 columns (24 registers) per pass
 * over the map, then 128, then 16 at a time. */
BF16_DOT static void dot_pairs_bf16(float *y, const uint32_t *parts, const uint32_t *w,
                                    Py_ssize_t pairs, Py_ssize_t n) {
    Py_ssize_t j = 0;
    for (; j + 384 <= n; j += 384) dot_columns(y + j, parts, w + j, pairs, n, 24, 0xffff);
    for (; j + 128 <= n; j += 128) dot_columns(y + j, parts, w + j, pairs, n, 8, 0xffff);
    for (; j < n; j += 16) {
        Py_ssize_t left = n - j < 16 ? n - j : 16;
        __mmask16 last = (__mmask16)((1u << left) - 1);
        dot_columns(y + j, parts, w + j, pairs, n, 1, last);
    }
}
#endif

/* Whether `dense_bf16` uses the AVX-512 bfloat16 dot product (set once, at import). */
static int bf16_dot;

/* y = x W for W as bfloat16 row pairs; x has 2 * pairs values, y n zeros. */
static int bf16_product(float *y, const float *x, const uint32_t *w, Py_ssize_t pairs,
                        Py_ssize_t n, int portable) {
#ifdef HAVE_BF16_DOT
    if (bf16_dot && !portable) {
        uint32_t *parts = PyMem_Malloc(pairs * 3 * sizeof(uint32_t));
        if (parts == NULL) return 0;
        split_query(parts, x, pairs);
        dot_pairs_bf16(y, parts, w, pairs, n);
        PyMem_Free(parts);
        return 1;
    }
#endif
    add_pairs_bf16(y, x, w, pairs, n);
    return 1;
}

typedef struct {
    Py_buffer view;
    int held;
} Held;

static void release(Held *h) {
    if (h->held) PyBuffer_Release(&h->view);
    h->held = 0;
}

/* A C-contiguous buffer of four-byte items (float32, or uint32 row pairs), exactly
 * `bytes` bytes long (0: any size), or an error. */
static int hold(PyObject *obj, Held *h, Py_ssize_t bytes, const char *what) {
    if (PyObject_GetBuffer(obj, &h->view, PyBUF_C_CONTIGUOUS) < 0) return 0;
    h->held = 1;
    if (h->view.itemsize != 4) {
        PyErr_Format(PyExc_ValueError, "%s: items of %zd bytes, expected 4 (float32, or "
                     "uint32 for bfloat16 row pairs)", what, h->view.itemsize);
        release(h);
        return 0;
    }
    if (bytes && h->view.len != bytes) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, expected %zd", what, h->view.len, bytes);
        release(h);
        return 0;
    }
    return 1;
}

/* The bias (None or d floats) added to y; 0 on a wrong buffer. */
static int add_bias(float *y, PyObject *bias, Py_ssize_t d) {
    if (bias == Py_None) return 1;
    Held b = {0};
    if (!hold(bias, &b, d * 4, "bias")) return 0;
    const float *values = b.view.buf;
    for (Py_ssize_t j = 0; j < d; j++) y[j] += values[j];
    release(&b);
    return 1;
}

/* The query of a mapped DenseVector: a zero-padded float32 copy of its `floats` values
 * in `room` slots, NULL with no exception for another layout (then the caller answers
 * None), or NULL with MemoryError. */
static float *query_copy(const Py_buffer *raw, Py_ssize_t floats, Py_ssize_t room, int *declined) {
    const uint8_t *values = dense_values(raw->buf, raw->len, floats);
    *declined = values == NULL;
    if (values == NULL) return NULL;
    float *x = PyMem_Calloc(room, 4);
    if (x == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(x, values, floats * 4);
    return x;
}

/* DenseVector bytes of y + bias (None or d float32 values), or NULL with an error. */
static PyObject *answer(float *y, PyObject *bias, Py_ssize_t d) {
    return add_bias(y, bias, d) ? dense_bytes(y, d) : NULL;
}

static PyObject *dense(PyObject *self, PyObject *args) {
    Py_buffer raw;
    PyObject *weights, *bias, *out = NULL;
    Py_ssize_t d_in, d_out;
    int declined = 0;
    if (!PyArg_ParseTuple(args, "y*OnnO", &raw, &weights, &d_in, &d_out, &bias)) return NULL;
    Held w = {0};
    float *x = NULL, *y = NULL;
    if (d_in <= 0 || d_out <= 0) {
        PyErr_SetString(PyExc_ValueError, "dimensions must be positive");
        goto done;
    }
    if (!hold(weights, &w, d_in * d_out * 4, "weights (d_in x d_out float32)")) goto done;
    x = query_copy(&raw, d_in, d_in, &declined);
    if (declined) out = Py_NewRef(Py_None);
    if (x == NULL) goto done;
    if ((y = PyMem_Calloc(d_out, 4)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    add_rows_f32(y, x, w.view.buf, d_in, d_out);
    out = answer(y, bias, d_out);
done:
    PyMem_Free(x);
    PyMem_Free(y);
    release(&w);
    PyBuffer_Release(&raw);
    return out;
}

static PyObject *dense_bf16(PyObject *self, PyObject *args) {
    Py_buffer raw;
    PyObject *weights, *bias, *out = NULL;
    Py_ssize_t d_in, d_out;
    int portable = 0, declined = 0;
    if (!PyArg_ParseTuple(args, "y*OnnO|p", &raw, &weights, &d_in, &d_out, &bias, &portable))
        return NULL;
    Held w = {0};
    float *x = NULL, *y = NULL;
    if (d_in <= 0 || d_out <= 0) {
        PyErr_SetString(PyExc_ValueError, "dimensions must be positive");
        goto done;
    }
    Py_ssize_t pairs = (d_in + 1) / 2;
    if (!hold(weights, &w, pairs * d_out * 4, "weights (bfloat16 row pairs)")) goto done;
    x = query_copy(&raw, d_in, 2 * pairs, &declined);
    if (declined) out = Py_NewRef(Py_None);
    if (x == NULL) goto done;
    if ((y = PyMem_Calloc(d_out, 4)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (!bf16_product(y, x, w.view.buf, pairs, d_out, portable)) {
        PyErr_NoMemory();
        goto done;
    }
    out = answer(y, bias, d_out);
done:
    PyMem_Free(x);
    PyMem_Free(y);
    release(&w);
    PyBuffer_Release(&raw);
    return out;
}

static PyObject *residual(PyObject *self, PyObject *args) {
    Py_buffer raw;
    PyObject *left, *right, *bias, *out = NULL;
    Py_ssize_t rank;
    int declined = 0;
    if (!PyArg_ParseTuple(args, "y*OOnO", &raw, &left, &right, &rank, &bias)) return NULL;
    Held u = {0}, v = {0};
    float *x = NULL, *low = NULL;
    Py_ssize_t d = 0;
    if (rank <= 0) {
        PyErr_SetString(PyExc_ValueError, "rank must be positive");
        goto done;
    }
    if (!hold(left, &u, 0, "left") || !hold(right, &v, u.view.len, "right")) goto done;
    d = u.view.len / 4 / rank;
    if (d * rank * 4 != u.view.len) {
        PyErr_Format(PyExc_ValueError, "left: %zd bytes is not d x %zd float32", u.view.len, rank);
        goto done;
    }
    x = query_copy(&raw, d, d, &declined);
    if (declined) out = Py_NewRef(Py_None);
    if (x == NULL) goto done;
    if ((low = PyMem_Calloc(rank, 4)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    add_rows_f32(low, x, u.view.buf, d, rank);
    add_rows_f32(x, low, v.view.buf, rank, d); /* x becomes x + (x U) V */
    out = answer(x, bias, d);
done:
    PyMem_Free(x);
    PyMem_Free(low);
    release(&u);
    release(&v);
    PyBuffer_Release(&raw);
    return out;
}

static PyMethodDef methods[] = {
    {"dense", dense, METH_VARARGS,
     "dense(raw, weights, d_in, d_out, bias) -> bytes | None: DenseVector bytes of x W + b."},
    {"dense_bf16", dense_bf16, METH_VARARGS,
     "dense_bf16(raw, pairs, d_in, d_out, bias, portable=False) -> bytes | None: "
     "DenseVector bytes of x W + b, W as bfloat16 row pairs (portable: the loop any CPU "
     "runs, not the AVX-512 dot product)."},
    {"residual", residual, METH_VARARGS,
     "residual(raw, left, right, rank, bias) -> bytes | None: DenseVector bytes of "
     "x + (x U) V + b."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "proxy._mapkernel",
    "A bridge map applied to a query vector's DenseVector bytes (docs/decisions.md, 50).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__mapkernel(void) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    PyErr_SetString(PyExc_ImportError, "proxy._mapkernel reads little-endian floats only");
    return NULL;
#endif
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL) return NULL;
#ifdef HAVE_BF16_DOT
    __builtin_cpu_init();
    bf16_dot = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#endif
    const char *kernel = bf16_dot ? "avx512_bf16" : "portable";
    if (PyModule_AddStringConstant(mod, "BF16_KERNEL", kernel) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
