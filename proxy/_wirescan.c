/*
 * proxy._wirescan: Qdrant requests read straight from the bytes the client sent: an
 * UpsertPoints' points (scan_upsert), a query vector's finiteness (dense_finite, below).
 *
 * scan_upsert(raw) walks the request once and answers only for the plain shape: every
 * point is exactly
 *
 *     PointStruct { id: PointId {num | uuid}          (once, one field)
 *                   payload: map entries             (any number, one key each)
 *                   vectors: Vectors { vector: Vector { dense: DenseVector {
 *                                data: one packed block } } }   (each level once) }
 *
 * with the same block length for every point. For that shape, what protobuf's own
 * parser makes of the bytes is fixed field by field (no merging of repeated
 * occurrences, no oneof switching), so the vectors read here are the vectors of the
 * parsed request, point by point, however the client ordered or laid out its fields.
 * Anything else (named, sparse or multi vectors, a field sent twice, a split or
 * unpacked block, an unknown field, a wire-type mismatch) returns None and the caller
 * takes the general path, which words any refusal. See docs/decisions.md, 49.
 *
 * Returns None or a tuple:
 *   (count, floats_per_point, vectors: bytes (count * floats_per_point float32,
 *    little-endian), ids: list[int] | None (None when any id is a uuid),
 *    keys: frozenset[bytes] (every top-level payload key), finite: bool)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_densevector.h"

#define MAX_KEYS 64 /* distinct payload keys collected; more: the general path */

typedef struct {
    const uint8_t *p, *end;
} Span;

static int read_varint(Span *s, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && s->p < s->end; shift += 7) {
        uint8_t byte = *s->p++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 1;
        }
    }
    return 0;
}

static int read_body(Span *s, Span *body) {
    uint64_t n;
    if (!read_varint(s, &n) || n > (uint64_t)(s->end - s->p)) return 0;
    body->p = s->p;
    body->end = s->p + n;
    s->p += n;
    return 1;
}

static int skip_value(Span *s, unsigned wire_type) {
    uint64_t ignored;
    Span body;
    switch (wire_type) {
    case 0: return read_varint(s, &ignored);
    case 1: if (s->end - s->p < 8) return 0; s->p += 8; return 1;
    case 2: return read_body(s, &body);
    case 5: if (s->end - s->p < 4) return 0; s->p += 4; return 1;
    default: return 0; /* groups and invalid wire types: not our shape */
    }
}

#define KEY(field, wire_type) (((uint64_t)(field) << 3) | (wire_type))

/* The message `msg` is exactly one length-delimited field `field`: its body. */
static int sole_field(Span msg, uint64_t field, Span *body) {
    uint64_t key;
    return read_varint(&msg, &key) && key == KEY(field, 2) && read_body(&msg, body) &&
           msg.p == msg.end;
}

typedef struct {
    const uint8_t *at;
    Py_ssize_t len;
} Key;

typedef struct {
    Key keys[MAX_KEYS];
    int count;
} KeySet;

static int note_key(KeySet *set, Span key) {
    Py_ssize_t len = key.end - key.p;
    for (int i = 0; i < set->count; i++)
        if (set->keys[i].len == len && memcmp(set->keys[i].at, key.p, (size_t)len) == 0) return 1;
    if (set->count == MAX_KEYS) return 0;
    set->keys[set->count].at = key.p;
    set->keys[set->count].len = len;
    set->count++;
    return 1;
}

/* One payload map entry: exactly one key (field 1), any value occurrences (field 2). */
static int read_entry(Span entry, KeySet *keys) {
    int seen = 0;
    Span key = {NULL, NULL}, value;
    while (entry.p < entry.end) {
        uint64_t tag;
        if (!read_varint(&entry, &tag)) return 0;
        if (tag == KEY(1, 2)) {
            if (seen++ || !read_body(&entry, &key)) return 0;
        } else if (tag == KEY(2, 2)) {
            if (!read_body(&entry, &value)) return 0;
        } else {
            return 0;
        }
    }
    return seen == 1 && note_key(keys, key);
}

typedef struct {
    Span vector;     /* the packed float block */
    int uuid;        /* the id is a uuid string */
    uint64_t num;    /* else the numeric id */
} Point;

/* One PointStruct of the plain shape, or 0. */
static int read_point(Span point, Point *out, KeySet *keys) {
    int ids = 0, vectors = 0;
    while (point.p < point.end) {
        uint64_t tag;
        Span body;
        if (!read_varint(&point, &tag) || (tag & 7) != 2 || !read_body(&point, &body)) return 0;
        switch (tag >> 3) {
        case 1: { /* id: PointId, one field: num (varint) or uuid (string) */
            uint64_t inner;
            if (ids++ || !read_varint(&body, &inner)) return 0;
            if (inner == KEY(1, 0)) {
                if (!read_varint(&body, &out->num)) return 0;
                out->uuid = 0;
            } else if (inner == KEY(2, 2)) {
                Span uuid;
                if (!read_body(&body, &uuid)) return 0;
                out->uuid = 1;
            } else {
                return 0;
            }
            if (body.p != body.end) return 0;
            break;
        }
        case 3: /* payload entry */
            if (!read_entry(body, keys)) return 0;
            break;
        case 4: { /* vectors -> vector (1) -> dense (101) -> data (1), each alone */
            Span vector, dense;
            if (vectors++ || !sole_field(body, 1, &vector) || !sole_field(vector, 101, &dense) ||
                !sole_field(dense, 1, &out->vector))
                return 0;
            break;
        }
        default:
            return 0;
        }
    }
    return ids == 1 && vectors == 1;
}

static PyObject *scan_upsert(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer raw;
    if (PyObject_GetBuffer(arg, &raw, PyBUF_SIMPLE) < 0) return NULL;
    Span whole = {(const uint8_t *)raw.buf, (const uint8_t *)raw.buf + raw.len};
    PyObject *result = NULL, *vectors = NULL, *ids = NULL, *keys = NULL;
    Point *points = NULL;
    KeySet *keyset = NULL;
    Py_ssize_t count = 0, block = -1;
    int numeric = 1;
    uint32_t special = 0; /* OR of (exponent bits all ones) over every float: NaN or inf */

    /* Pass 1: count the points; every top-level field must be well formed. */
    Span s = whole;
    while (s.p < s.end) {
        uint64_t tag;
        if (!read_varint(&s, &tag) || (tag >> 3) == 0) goto plain_no;
        if ((tag >> 3) == 3 && (tag & 7) != 2) goto plain_no;
        if (tag == KEY(3, 2)) count++;
        if (!skip_value(&s, (unsigned)(tag & 7))) goto plain_no;
    }
    if (count == 0) goto plain_no;
    points = PyMem_Malloc((size_t)count * sizeof(Point));
    keyset = PyMem_Malloc(sizeof(KeySet));
    if (points == NULL || keyset == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    keyset->count = 0;

    /* Pass 2: read every point (bytes stay in `raw`; nothing copied yet). */
    s = whole;
    Py_ssize_t i = 0;
    while (s.p < s.end) {
        uint64_t tag = 0; /* pass 1 checked every read below: they cannot fail */
        Span body = {NULL, NULL};
        read_varint(&s, &tag);
        if (tag != KEY(3, 2)) {
            skip_value(&s, (unsigned)(tag & 7));
            continue;
        }
        read_body(&s, &body);
        if (!read_point(body, &points[i], keyset)) goto plain_no;
        Py_ssize_t len = points[i].vector.end - points[i].vector.p;
        if (len == 0 || len % 4 != 0 || (block >= 0 && len != block)) goto plain_no;
        block = len;
        numeric &= !points[i].uuid;
        i++;
    }

    /* The plain shape: copy the vectors into one buffer, check them, collect the ids. */
    vectors = PyBytes_FromStringAndSize(NULL, count * block);
    if (vectors == NULL) goto done;
    char *out = PyBytes_AS_STRING(vectors);
    for (i = 0; i < count; i++) {
        memcpy(out + i * block, points[i].vector.p, (size_t)block);
    }
    const uint32_t *words = (const uint32_t *)out;
    Py_ssize_t n_words = count * block / 4;
    for (Py_ssize_t w = 0; w < n_words; w++) {
        special |= (uint32_t)((words[w] & 0x7f800000u) == 0x7f800000u);
    }
    if (numeric) {
        ids = PyList_New(count);
        if (ids == NULL) goto done;
        for (i = 0; i < count; i++) {
            PyObject *number = PyLong_FromUnsignedLongLong(points[i].num);
            if (number == NULL) goto done;
            PyList_SET_ITEM(ids, i, number);
        }
    } else {
        ids = Py_NewRef(Py_None);
    }
    keys = PyFrozenSet_New(NULL);
    if (keys == NULL) goto done;
    for (int k = 0; k < keyset->count; k++) {
        PyObject *key = PyBytes_FromStringAndSize((const char *)keyset->keys[k].at,
                                                  keyset->keys[k].len);
        if (key == NULL || PySet_Add(keys, key) < 0) {
            Py_XDECREF(key);
            goto done;
        }
        Py_DECREF(key);
    }
    result = Py_BuildValue("(nnOOOO)", count, block / 4, vectors, ids, keys,
                           special ? Py_False : Py_True);
    goto done;

plain_no:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(vectors);
    Py_XDECREF(ids);
    Py_XDECREF(keys);
    PyMem_Free(points);
    PyMem_Free(keyset);
    PyBuffer_Release(&raw);
    return result;
}

/* dense_finite(raw, size): whether a DenseVector's bytes are exactly one packed block of
 * `size` floats, all finite (True / False), or None for any other layout (the caller
 * then reads the parsed values). A query's vectors are checked this way (Validate):
 * summing 768 floats as Python objects cost ~14 us a query. */
static PyObject *dense_finite(PyObject *self, PyObject *args) {
    Py_buffer raw;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "y*n", &raw, &size)) return NULL;
    const uint8_t *values = dense_values(raw.buf, raw.len, size);
    PyObject *result = Py_None;
    if (values != NULL) {
        uint32_t special = 0, word;
        for (Py_ssize_t i = 0; i < size; i++) {
            memcpy(&word, values + 4 * i, 4);
            special |= (uint32_t)((word & 0x7f800000u) == 0x7f800000u);
        }
        result = special ? Py_False : Py_True;
    }
    PyBuffer_Release(&raw);
    return Py_NewRef(result);
}

static PyMethodDef methods[] = {
    {"scan_upsert", scan_upsert, METH_O,
     "An UpsertPoints' bytes read in one pass: (count, floats per point, vectors, ids, "
     "payload keys, finite), or None unless every point has the plain shape."},
    {"dense_finite", dense_finite, METH_VARARGS,
     "dense_finite(raw, size) -> bool | None: whether a DenseVector's one packed block of "
     "`size` floats is all finite; None for any other layout."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wirescan", "Wire-level reads of Qdrant requests.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__wirescan(void) { return PyModule_Create(&module); }
