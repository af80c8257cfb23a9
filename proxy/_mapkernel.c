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
 *   dense(raw, weights, d_in, d_out, bias)   y = x W + b; W row-major (d_in, d_out),
 *                                            float32 or bfloat16 (uint16: the upper
 *                                            half of a float32, exact for a map
 *                                            rounded to bfloat16 when trained)
 *   residual(raw, left, right, rank, bias)   y = x + (x U) V + b; U (d, rank) and
 *                                            V (rank, d), float32
 *
 * bias is None or d_out float32 values. Sums run in float32, row by row over the
 * map, so the map is read once, front to back: the cost of a query is mostly reading
 * the map from memory (a search's scan has pushed it out of the caches).
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

static inline float bf16(uint16_t half) {
    uint32_t bits = (uint32_t)half << 16;
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

KERNEL static void add_rows_bf16(float *restrict y, const float *restrict x,
                                 const uint16_t *restrict w, Py_ssize_t rows, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const uint16_t *r0 = w + i * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
        prefetch_block(w, i + 4 * BLOCKS_AHEAD, rows, n * 2);
        float a0 = x[i], a1 = x[i + 1], a2 = x[i + 2], a3 = x[i + 3];
        for (Py_ssize_t j = 0; j < n; j++)
            y[j] += a0 * bf16(r0[j]) + a1 * bf16(r1[j]) + a2 * bf16(r2[j]) + a3 * bf16(r3[j]);
    }
    for (; i < rows; i++)
        for (Py_ssize_t j = 0; j < n; j++) y[j] += x[i] * bf16(w[i * n + j]);
}

typedef struct {
    Py_buffer view;
    int held;
} Held;

static void release(Held *h) {
    if (h->held) PyBuffer_Release(&h->view);
    h->held = 0;
}

/* A C-contiguous buffer of exactly `bytes` bytes (0: any size), or an error. */
static int hold(PyObject *obj, Held *h, Py_ssize_t bytes, const char *what) {
    if (PyObject_GetBuffer(obj, &h->view, PyBUF_C_CONTIGUOUS) < 0) return 0;
    h->held = 1;
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

static PyObject *dense(PyObject *self, PyObject *args) {
    Py_buffer raw;
    PyObject *weights, *bias, *out = NULL;
    Py_ssize_t d_in, d_out;
    if (!PyArg_ParseTuple(args, "y*OnnO", &raw, &weights, &d_in, &d_out, &bias)) return NULL;
    Held w = {0};
    float *x = NULL, *y = NULL;
    if (d_in <= 0 || d_out <= 0) {
        PyErr_SetString(PyExc_ValueError, "dimensions must be positive");
        goto done;
    }
    if (!hold(weights, &w, 0, "weights")) goto done;
    int half = w.view.len == d_in * d_out * 2;
    if (!half && w.view.len != d_in * d_out * 4) {
        PyErr_Format(PyExc_ValueError, "weights: %zd bytes, expected %zd x %zd float32 or "
                     "bfloat16 values", w.view.len, d_in, d_out);
        goto done;
    }
    const uint8_t *values = dense_values(raw.buf, raw.len, d_in);
    if (values == NULL) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    x = PyMem_Malloc(d_in * 4);
    y = PyMem_Calloc(d_out, 4);
    if (x == NULL || y == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(x, values, d_in * 4);
    if (half)
        add_rows_bf16(y, x, w.view.buf, d_in, d_out);
    else
        add_rows_f32(y, x, w.view.buf, d_in, d_out);
    if (add_bias(y, bias, d_out)) out = dense_bytes(y, d_out);
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
    const uint8_t *values = dense_values(raw.buf, raw.len, d);
    if (values == NULL) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    x = PyMem_Malloc(d * 4);
    low = PyMem_Malloc(rank * 4);
    if (x == NULL || low == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(x, values, d * 4);
    for (Py_ssize_t k = 0; k < rank; k++) low[k] = 0.0f;
    add_rows_f32(low, x, u.view.buf, d, rank);
    add_rows_f32(x, low, v.view.buf, rank, d); /* x becomes x + (x U) V */
    if (add_bias(x, bias, d)) out = dense_bytes(x, d);
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
    return PyModule_Create(&module);
}
