/*
 * proxy._mapkernel: a bridge map applied to one query vector, wire bytes in, wire bytes
 * out (docs/decisions.md, 50).
 *
 * A bridged query's vector is a `DenseVector`, whose only field is `repeated float
 * data = 1`: its bytes are 0x0A, a varint length, then the float32 values,
 * little-endian. A `Kernel` holds one map, copied into C memory when the map is loaded,
 * and `kernel.apply(raw)` takes those bytes (the parsed message serialised again: one
 * call, no Python float per value), maps the vector, and returns the `DenseVector`
 * bytes of the result, to be parsed back into the request. Any other layout (an
 * unpacked or split block, another field, a length that is not the map's input
 * dimension) returns None: the caller maps the vector in numpy instead.
 *
 *   dense(weights, d_in, d_out, bias)          y = x W + b; W row-major (d_in, d_out),
 *                                              float32
 *   dense_i8(weights, scales, sums, d_in, d_out, bias, portable=False)
 *                                              the same for W[i][j] = q[i][j] scale[j],
 *                                              q int8 in blocks (`I8_COLUMNS`), sums[j]
 *                                              the sum of column j's q
 *   residual(left, right, rank, bias)          y = x + (x U) V + b; U (d, rank) and
 *                                              V (rank, d), float32
 *
 * bias is None or d_out float32 values. The map is read once, front to back: a query's
 * cost is mostly reading the map, and the code and data of the call, from memory, since
 * the search's scan and whatever else the host ran have pushed them out of the caches
 * (hence one C object per map, with its scratch, and a call of one argument: decision
 * 54). An int8 map is a quarter of the float32 bytes. A CPU with the AVX-512 VNNI byte
 * dot product (`I8_KERNEL` says whether this one has it) reads it with exact integer
 * sums, the query taken to 24-bit fixed point (decision 53). Other CPUs, and the float32
 * maps, sum in float32.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#include <float.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

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

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_VNNI_DOT 1
#endif

/* int8 maps (`dense_i8`): W[i][j] = q[i][j] * scale[j], q in [-127, 127], laid out in
 * blocks of 128 columns; in a block, quad q holds rows 4q..4q+3 of each column as four
 * consecutive bytes (zero rows and columns pad the last quad and block). */
enum { I8_COLUMNS = 128 };

/* y[j] = scale[j] * sum_i x[i] q[i][j]: the portable loop; x has 4 * quads values. */
KERNEL static void add_quads_i8(float *restrict y, const float *restrict x,
                                const int8_t *restrict w, const float *restrict scales,
                                Py_ssize_t quads, Py_ssize_t n) {
    float sum[I8_COLUMNS];
    for (Py_ssize_t j0 = 0; j0 < n; j0 += I8_COLUMNS) {
        const int8_t *block = w + j0 * quads * 4;
        for (int c = 0; c < I8_COLUMNS; c++) sum[c] = 0.0f;
        for (Py_ssize_t q = 0; q < quads; q++) {
            const int8_t *row = block + q * I8_COLUMNS * 4;
            float a0 = x[4 * q], a1 = x[4 * q + 1], a2 = x[4 * q + 2], a3 = x[4 * q + 3];
            for (int c = 0; c < I8_COLUMNS; c++)
                sum[c] += a0 * row[4 * c] + a1 * row[4 * c + 1] + a2 * row[4 * c + 2] +
                          a3 * row[4 * c + 3];
        }
        for (Py_ssize_t c = 0; c < I8_COLUMNS && j0 + c < n; c++)
            y[j0 + c] = sum[c] * scales[j0 + c];
    }
}

#ifdef HAVE_VNNI_DOT
#define I8_DOT __attribute__((target("avx512f,avx512bw,avx512vnni")))

/* Lanes [0, count) of a 16-lane register, for a loop's last, partial step. */
static inline __mmask16 first_lanes(Py_ssize_t count) {
    return count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1u);
}

/* The query in 24-bit fixed point for the byte dot product (u8 x s8): x[i] * 2^shift
 * rounded to nearest even, plus 2^23 so that it is unsigned, cut in three bytes;
 * byte k of row i is byte i of plane k, the plane starting at parts + k * quads, so
 * parts[k * quads + q] holds byte k of rows 4q..4q+3. The shift puts the largest |x|
 * just under 2^23. Sixteen values a step: the scaling (scalef) is exact where the
 * result is normal, and a result below the normal range is under 2^-126, rounded to 0
 * either way, so this is lrintf(ldexpf(x, shift)) per value (with denormals not flushed
 * to zero, the default). */
I8_DOT static int fixed_point(uint32_t *parts, const float *x, Py_ssize_t quads) {
    Py_ssize_t n = 4 * quads;
    __m512 largest = _mm512_setzero_ps();
    for (Py_ssize_t i = 0; i < n; i += 16) {
        __m512 v = _mm512_maskz_loadu_ps(first_lanes(n - i), x + i);
        largest = _mm512_max_ps(largest, _mm512_abs_ps(v));
    }
    float big = _mm512_reduce_max_ps(largest);
    int exponent = 0;
    if (big > 0.0f) frexpf(big, &exponent);
    int shift = 23 - exponent;
    const __m512 power = _mm512_set1_ps((float)shift);
    const __m512i top = _mm512_set1_epi32(8388607), bottom = _mm512_set1_epi32(-8388607);
    const __m512i offset = _mm512_set1_epi32(8388608);
    uint8_t *planes = (uint8_t *)parts;
    for (Py_ssize_t i = 0; i < n; i += 16) {
        __mmask16 lanes = first_lanes(n - i);
        __m512 scaled = _mm512_scalef_ps(_mm512_maskz_loadu_ps(lanes, x + i), power);
        __m512i v = _mm512_cvtps_epi32(scaled); /* the current rounding: nearest even */
        v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, bottom), top), offset);
        for (int k = 0; k < 3; k++)
            _mm512_mask_cvtepi32_storeu_epi8(planes + 4 * k * quads + i, lanes,
                                             _mm512_srli_epi32(v, 8 * k));
    }
    return shift;
}

/* y = x W with the AVX-512 VNNI byte dot product: per block of 128 columns, 8 registers
 * of sums per byte of the query; every product and sum is exact (int32), and y[j] =
 * scale[j] * 2^-shift * (sums - 2^23 * sum_i q[i][j]). */
I8_DOT static void dot_quads_i8(float *y, const uint32_t *parts, int shift, const int8_t *w,
                                const float *scales, const int32_t *column_sums,
                                Py_ssize_t quads, Py_ssize_t n) {
    const double unscale = ldexp(1.0, -shift); /* a power of two: exact */
    for (Py_ssize_t j0 = 0; j0 < n; j0 += I8_COLUMNS) {
        const int8_t *block = w + j0 * quads * 4;
        __m512i s0[8], s1[8], s2[8];
        for (int k = 0; k < 8; k++) s0[k] = s1[k] = s2[k] = _mm512_setzero_si512();
        for (Py_ssize_t q = 0; q < quads; q++) {
            const int8_t *row = block + q * I8_COLUMNS * 4;
            __m512i x0 = _mm512_set1_epi32((int)parts[q]);
            __m512i x1 = _mm512_set1_epi32((int)parts[quads + q]);
            __m512i x2 = _mm512_set1_epi32((int)parts[2 * quads + q]);
            for (int k = 0; k < 8; k++) {
                __m512i weights = _mm512_loadu_si512(row + 64 * k);
                s0[k] = _mm512_dpbusd_epi32(s0[k], x0, weights);
                s1[k] = _mm512_dpbusd_epi32(s1[k], x1, weights);
                s2[k] = _mm512_dpbusd_epi32(s2[k], x2, weights);
            }
        }
        int32_t t0[I8_COLUMNS], t1[I8_COLUMNS], t2[I8_COLUMNS];
        for (int k = 0; k < 8; k++) {
            _mm512_storeu_si512(t0 + 16 * k, s0[k]);
            _mm512_storeu_si512(t1 + 16 * k, s1[k]);
            _mm512_storeu_si512(t2 + 16 * k, s2[k]);
        }
        for (Py_ssize_t c = 0; c < I8_COLUMNS && j0 + c < n; c++) {
            /* products, not shifts: a left shift of a negative value is undefined in C */
            int64_t total = (int64_t)t0[c] + (int64_t)t1[c] * 256 + (int64_t)t2[c] * 65536 -
                            (int64_t)column_sums[j0 + c] * 8388608;
            y[j0 + c] = (float)((double)total * scales[j0 + c] * unscale);
        }
    }
}
#endif

/* Whether int8 kernels use the AVX-512 VNNI byte dot product (set once, at import). */
static int i8_dot;

/* y = x W for an int8 map; x has 4 * quads values, all finite; parts has room for
 * 3 * quads words. */
static void i8_product(float *y, const float *x, const int8_t *w, const float *scales,
                       const int32_t *column_sums, uint32_t *parts, Py_ssize_t quads,
                       Py_ssize_t n, int portable) {
#ifdef HAVE_VNNI_DOT
    if (i8_dot && !portable) {
        int shift = fixed_point(parts, x, quads);
        dot_quads_i8(y, parts, shift, w, scales, column_sums, quads, n);
        return;
    }
#endif
    (void)column_sums, (void)parts;
    add_quads_i8(y, x, w, scales, quads, n);
}

/* Whether all n values are finite; no early exit, so the loop vectorises. */
static int all_finite(const float *x, Py_ssize_t n) {
    int finite = 1;
    for (Py_ssize_t i = 0; i < n; i++) finite &= fabsf(x[i]) <= FLT_MAX;
    return finite;
}

/* -- Kernel: one map, held in C ---------------------------------------------------- */

typedef enum { DENSE_F32, DENSE_I8, RESIDUAL } Form;

/* A map and the scratch its product needs, in one 64-byte aligned block of memory: a
 * bridged query's map step runs with the caches cold (the search before it read
 * megabytes), so its call touches as few objects, pages and code paths as it can. The
 * scratch is safe because `apply` holds the GIL from start to end. */
typedef struct {
    PyObject_HEAD
    Form form;
    int portable;              /* int8: the loop any CPU runs, not the VNNI dot */
    Py_ssize_t d_in, d_out;
    Py_ssize_t rank;           /* RESIDUAL: U is (d, rank), V (rank, d) */
    Py_ssize_t quads;          /* DENSE_I8: ceil(d_in / 4) */
    void *memory;              /* what PyMem_RawCalloc or map_pages returned */
    size_t pages;              /* > 0: `memory` is that many bytes of map_pages */
    const void *weights;       /* float32 (d_in, d_out) | int8 blocks | U */
    const float *right;        /* RESIDUAL: V */
    const float *scales;       /* DENSE_I8 */
    const int32_t *sums;       /* DENSE_I8 */
    const float *bias;         /* NULL: no bias */
    float *x, *y;              /* scratch: the query (zero-padded), the result */
    uint32_t *parts;           /* scratch: the query's fixed-point bytes (DENSE_I8) */
} Kernel;

static PyTypeObject KernelType;

typedef struct {
    Py_buffer view;
    int held;
} Held;

static void release(Held *h) {
    if (h->held) PyBuffer_Release(&h->view);
    h->held = 0;
}

/* A C-contiguous buffer of items of format `format` ("f": float32, "i": int32, "b":
 * int8), exactly `bytes` bytes long (0: any size), or an error. */
static int hold(PyObject *obj, Held *h, Py_ssize_t bytes, char format, const char *what) {
    if (PyObject_GetBuffer(obj, &h->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return 0;
    h->held = 1;
    const char *f = h->view.format ? h->view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    Py_ssize_t itemsize = format == 'b' ? 1 : 4;
    int same = f[0] == format && f[1] == '\0';
    if (format == 'i' && f[0] == 'l' && f[1] == '\0' && h->view.itemsize == 4) same = 1;
    if (!same || h->view.itemsize != itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: items of format '%s' (%zd bytes), expected '%c'",
                     what, f, h->view.itemsize, format);
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

/* A map of at least this many bytes is held in a 2 MB page where Linux gives one: read
 * after the search's scan, it then takes one TLB miss instead of one per 4 KB page. */
enum { HUGE_PAGE_FROM = 64 * 1024 };

#if defined(__linux__) && defined(MADV_HUGEPAGE)
enum { HUGE_PAGE = 2 * 1024 * 1024 };

/* `bytes` of zeroed memory at a 2 MB boundary, advised to be one huge page per 2 MB
 * (the kernel may still use 4 KB pages); its size in `*size`, or NULL. */
static void *map_pages(Py_ssize_t bytes, size_t *size) {
    size_t length = ((size_t)bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    char *raw = mmap(NULL, length + HUGE_PAGE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *start = (char *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (start > raw) munmap(raw, start - raw); /* the unaligned head and tail */
    munmap(start + length, raw + HUGE_PAGE - start);
    madvise(start, length, MADV_HUGEPAGE);
    *size = length;
    return start;
}

static void unmap_pages(void *memory, size_t size) { munmap(memory, size); }
#else
static void *map_pages(Py_ssize_t bytes, size_t *size) {
    (void)bytes, (void)size;
    return NULL;
}

static void unmap_pages(void *memory, size_t size) { (void)memory, (void)size; }
#endif

/* Room for `bytes` more at a 64-byte boundary of the block being laid out. */
static Py_ssize_t reserve(Py_ssize_t *used, Py_ssize_t bytes) {
    Py_ssize_t at = *used;
    *used += (bytes + 63) / 64 * 64;
    return at;
}

/* A Kernel whose block holds `sizes[k]` bytes for each of `count` parts, zeroed, their
 * addresses in `parts[k]`; NULL with an error. */
static Kernel *kernel_new(Form form, Py_ssize_t d_in, Py_ssize_t d_out, const Py_ssize_t *sizes,
                          char **parts, int count) {
    Py_ssize_t offsets[8], used = 0;
    for (int k = 0; k < count; k++) offsets[k] = reserve(&used, sizes[k]);
    Kernel *kernel = PyObject_New(Kernel, &KernelType);
    if (kernel == NULL) return NULL;
    kernel->pages = 0;
    kernel->memory = used >= HUGE_PAGE_FROM ? map_pages(used, &kernel->pages) : NULL;
    if (kernel->memory == NULL) kernel->memory = PyMem_RawCalloc(1, used + 64);
    if (kernel->memory == NULL) {
        Py_DECREF(kernel);
        PyErr_NoMemory();
        return NULL;
    }
    char *base = (char *)(((uintptr_t)kernel->memory + 63) & ~(uintptr_t)63);
    for (int k = 0; k < count; k++) parts[k] = sizes[k] ? base + offsets[k] : NULL;
    kernel->form = form;
    kernel->portable = 0;
    kernel->d_in = d_in;
    kernel->d_out = d_out;
    kernel->rank = kernel->quads = 0;
    kernel->right = kernel->scales = kernel->bias = NULL;
    kernel->sums = NULL;
    kernel->parts = NULL;
    return kernel;
}

/* The bias argument (None or d float32 values) held, or an error. */
static int hold_bias(PyObject *bias, Held *b, Py_ssize_t d) {
    return bias == Py_None || hold(bias, b, d * 4, 'f', "bias");
}

static PyObject *new_dense(PyObject *self, PyObject *args) {
    PyObject *weights, *bias;
    Py_ssize_t d_in, d_out;
    if (!PyArg_ParseTuple(args, "OnnO", &weights, &d_in, &d_out, &bias)) return NULL;
    if (d_in <= 0 || d_out <= 0) {
        PyErr_SetString(PyExc_ValueError, "dimensions must be positive");
        return NULL;
    }
    Held w = {0}, b = {0};
    Kernel *k = NULL;
    if (hold(weights, &w, d_in * d_out * 4, 'f', "weights (d_in x d_out float32)") &&
        hold_bias(bias, &b, d_out)) {
        Py_ssize_t sizes[] = {w.view.len, b.held ? d_out * 4 : 0, d_in * 4, d_out * 4};
        char *at[4];
        if ((k = kernel_new(DENSE_F32, d_in, d_out, sizes, at, 4)) != NULL) {
            memcpy(at[0], w.view.buf, w.view.len);
            if (b.held) memcpy(at[1], b.view.buf, d_out * 4);
            k->weights = at[0], k->bias = (float *)at[1];
            k->x = (float *)at[2], k->y = (float *)at[3];
        }
    }
    release(&w);
    release(&b);
    return (PyObject *)k;
}

static PyObject *new_dense_i8(PyObject *self, PyObject *args) {
    PyObject *weights, *scales, *sums, *bias;
    Py_ssize_t d_in, d_out;
    int portable = 0;
    if (!PyArg_ParseTuple(args, "OOOnnO|p", &weights, &scales, &sums, &d_in, &d_out, &bias,
                          &portable))
        return NULL;
    if (d_in <= 0 || d_out <= 0) {
        PyErr_SetString(PyExc_ValueError, "dimensions must be positive");
        return NULL;
    }
    /* The VNNI sums are int32: 255 * 127 per row stays exact up to 66,000 rows. */
    if (d_in > 65536) portable = 1;
    Py_ssize_t quads = (d_in + 3) / 4;
    Py_ssize_t padded = (d_out + I8_COLUMNS - 1) / I8_COLUMNS * I8_COLUMNS;
    Held w = {0}, s = {0}, c = {0}, b = {0};
    Kernel *k = NULL;
    if (hold(weights, &w, quads * padded * 4, 'b', "weights (int8 blocks)") &&
        hold(scales, &s, d_out * 4, 'f', "scales") &&
        hold(sums, &c, d_out * 4, 'i', "column sums") && hold_bias(bias, &b, d_out)) {
        Py_ssize_t sizes[] = {w.view.len, d_out * 4, d_out * 4, b.held ? d_out * 4 : 0,
                              quads * 16, padded * 4, quads * 12};
        char *at[7];
        if ((k = kernel_new(DENSE_I8, d_in, d_out, sizes, at, 7)) != NULL) {
            memcpy(at[0], w.view.buf, w.view.len);
            memcpy(at[1], s.view.buf, d_out * 4);
            memcpy(at[2], c.view.buf, d_out * 4);
            if (b.held) memcpy(at[3], b.view.buf, d_out * 4);
            k->weights = at[0], k->scales = (float *)at[1], k->sums = (int32_t *)at[2];
            k->bias = (float *)at[3], k->x = (float *)at[4], k->y = (float *)at[5];
            k->parts = (uint32_t *)at[6];
            k->quads = quads, k->portable = portable;
        }
    }
    release(&w);
    release(&s);
    release(&c);
    release(&b);
    return (PyObject *)k;
}

static PyObject *new_residual(PyObject *self, PyObject *args) {
    PyObject *left, *right, *bias;
    Py_ssize_t rank;
    if (!PyArg_ParseTuple(args, "OOnO", &left, &right, &rank, &bias)) return NULL;
    if (rank <= 0) {
        PyErr_SetString(PyExc_ValueError, "rank must be positive");
        return NULL;
    }
    Held u = {0}, v = {0}, b = {0};
    Kernel *k = NULL;
    if (!hold(left, &u, 0, 'f', "left") || !hold(right, &v, u.view.len, 'f', "right"))
        goto done;
    Py_ssize_t d = u.view.len / 4 / rank;
    if (d == 0 || d * rank * 4 != u.view.len) {
        PyErr_Format(PyExc_ValueError, "left: %zd bytes is not d x %zd float32", u.view.len, rank);
        goto done;
    }
    if (!hold_bias(bias, &b, d)) goto done;
    Py_ssize_t sizes[] = {u.view.len, v.view.len, b.held ? d * 4 : 0, d * 4, rank * 4};
    char *at[5];
    if ((k = kernel_new(RESIDUAL, d, d, sizes, at, 5)) != NULL) {
        memcpy(at[0], u.view.buf, u.view.len);
        memcpy(at[1], v.view.buf, v.view.len);
        if (b.held) memcpy(at[2], b.view.buf, d * 4);
        k->weights = at[0], k->right = (float *)at[1], k->bias = (float *)at[2];
        k->x = (float *)at[3], k->y = (float *)at[4];
        k->rank = rank;
    }
done:
    release(&u);
    release(&v);
    release(&b);
    return (PyObject *)k;
}

/* kernel.apply(raw): the mapped DenseVector's bytes, or None for another layout. */
static PyObject *kernel_apply(PyObject *self, PyObject *raw) {
    Kernel *k = (Kernel *)self;
    if (!PyBytes_Check(raw)) {
        PyErr_Format(PyExc_TypeError, "apply takes the DenseVector's bytes, not %.100s",
                     Py_TYPE(raw)->tp_name);
        return NULL;
    }
    const uint8_t *values =
        dense_values((const uint8_t *)PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), k->d_in);
    if (values == NULL) Py_RETURN_NONE;
    float *x = k->x, *y = k->y;
    memcpy(x, values, k->d_in * 4); /* the int8 form's padding stays zero */
    float *out = y;
    switch (k->form) {
    case DENSE_F32:
        memset(y, 0, k->d_out * 4);
        add_rows_f32(y, x, k->weights, k->d_in, k->d_out);
        break;
    case DENSE_I8:
        if (!all_finite(x, k->d_in)) Py_RETURN_NONE; /* the fixed point needs finite values */
        i8_product(y, x, k->weights, k->scales, k->sums, k->parts, k->quads, k->d_out,
                   k->portable);
        break;
    case RESIDUAL: /* y holds x U (rank values); x becomes x + (x U) V */
        memset(y, 0, k->rank * 4);
        add_rows_f32(y, x, k->weights, k->d_in, k->rank);
        add_rows_f32(x, y, k->right, k->rank, k->d_in);
        out = x;
        break;
    }
    if (k->bias != NULL)
        for (Py_ssize_t j = 0; j < k->d_out; j++) out[j] += k->bias[j];
    return dense_bytes(out, k->d_out);
}

static void kernel_dealloc(PyObject *self) {
    Kernel *k = (Kernel *)self;
    if (k->pages)
        unmap_pages(k->memory, k->pages);
    else
        PyMem_RawFree(k->memory);
    PyObject_Free(self);
}

static PyMethodDef kernel_methods[] = {
    {"apply", kernel_apply, METH_O,
     "apply(raw) -> bytes | None: the mapped vector's DenseVector bytes, or None when raw "
     "is not one packed block of d_in floats (or, for an int8 map, holds a non-finite "
     "value)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef kernel_members[] = {
    {"d_in", T_PYSSIZET, offsetof(Kernel, d_in), READONLY, "input dimension"},
    {"d_out", T_PYSSIZET, offsetof(Kernel, d_out), READONLY, "output dimension"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject KernelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "proxy._mapkernel.Kernel",
    .tp_basicsize = sizeof(Kernel),
    .tp_dealloc = kernel_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A bridge map held in C (made by dense, dense_i8 or residual).",
    .tp_methods = kernel_methods,
    .tp_members = kernel_members,
};

static PyMethodDef methods[] = {
    {"dense", new_dense, METH_VARARGS,
     "dense(weights, d_in, d_out, bias) -> Kernel: y = x W + b, W float32 row-major."},
    {"dense_i8", new_dense_i8, METH_VARARGS,
     "dense_i8(weights, scales, sums, d_in, d_out, bias, portable=False) -> Kernel: y = x W "
     "+ b, W as int8 blocks times a scale per column (portable: the loop any CPU runs, not "
     "the AVX-512 VNNI dot product)."},
    {"residual", new_residual, METH_VARARGS,
     "residual(left, right, rank, bias) -> Kernel: y = x + (x U) V + b."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "proxy._mapkernel",
    "Bridge maps applied to a query vector's DenseVector bytes (docs/decisions.md, 50).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__mapkernel(void) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    PyErr_SetString(PyExc_ImportError, "proxy._mapkernel reads little-endian floats only");
    return NULL;
#endif
    if (PyType_Ready(&KernelType) < 0) return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL) return NULL;
#ifdef HAVE_VNNI_DOT
    __builtin_cpu_init();
    i8_dot = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
#endif
    if (PyModule_AddStringConstant(mod, "I8_KERNEL", i8_dot ? "avx512_vnni" : "portable") < 0 ||
        PyModule_AddObjectRef(mod, "Kernel", (PyObject *)&KernelType) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
