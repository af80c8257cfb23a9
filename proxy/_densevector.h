/*
 * A Qdrant `DenseVector` read from its bytes, shared by vecgate's C modules.
 *
 * The message's only field is `repeated float data = 1`; protobuf writes it as 0x0A,
 * a varint length, then the float32 values, little-endian.
 */
#ifndef VECGATE_DENSEVECTOR_H
#define VECGATE_DENSEVECTOR_H

#include <Python.h>
#include <stdint.h>

#define DENSE_FIELD_1_LENGTH_DELIMITED 0x0A

/* The float bytes of a DenseVector that is exactly one packed block of `floats`
 * values, or NULL for any other layout (unpacked, split, another field, cut short). */
static inline const uint8_t *dense_values(const uint8_t *p, Py_ssize_t size, Py_ssize_t floats) {
    const uint8_t *end = p + size;
    uint64_t length = 0;
    if (floats <= 0 || size < 2 || *p++ != DENSE_FIELD_1_LENGTH_DELIMITED) return NULL;
    for (int shift = 0;; shift += 7) {
        if (p >= end || shift >= 64) return NULL;
        uint8_t byte = *p++;
        length |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) break;
    }
    if (length != (uint64_t)floats * 4 || (uint64_t)(end - p) != length) return NULL;
    return p;
}

#endif
