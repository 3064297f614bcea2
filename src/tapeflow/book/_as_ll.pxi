# Included by _l2_core.pyx, _l3_core.pyx, _quote_core.pyx, engine/_kernel_core.pyx and ml/_sample_core.pyx:
# ``tf_as_ll``, an exact int that fits 64 bits read into C, one text for every core (each module gets its own static
# copy of the function).

from cpython.object cimport PyObject

cdef extern from *:
    """
    /* An exact int that fits 64 bits, read from its digits when it is small (a price, a size, a sequence number, a
       nanosecond timestamp): PyLong_AsLongLongAndOverflow is a tenth of the budget over the four fields of an
       update, and ~64 instructions a timestamp in the kernel's merge. A timestamp of this century is three 30-bit
       digits on 3.11 (above 2**60); the third is taken while the value stays below 2**63. */
    static inline int tf_as_ll(PyObject* v, long long* out) {
        int overflow = 0;
        long long value;
        if (v == NULL || !PyLong_CheckExact(v)) return 0;
    #if PY_VERSION_HEX >= 0x030C0000
        if (PyUnstable_Long_IsCompact((PyLongObject*)v)) {
            *out = (long long)PyUnstable_Long_CompactValue((PyLongObject*)v);
            return 1;
        }
    #else
        {
            const digit* d = ((PyLongObject*)v)->ob_digit;
            switch (Py_SIZE(v)) {
            case 0: *out = 0; return 1;
            case 1: *out = (long long)d[0]; return 1;
            case -1: *out = -(long long)d[0]; return 1;
            case 2: *out = ((long long)d[1] << PyLong_SHIFT) | (long long)d[0]; return 1;
            case -2: *out = -(((long long)d[1] << PyLong_SHIFT) | (long long)d[0]); return 1;
            case 3: case -3:
                if (d[2] < 8) {
                    value = ((long long)d[2] << (2 * PyLong_SHIFT)) | ((long long)d[1] << PyLong_SHIFT) | (long long)d[0];
                    *out = Py_SIZE(v) < 0 ? -value : value;
                    return 1;
                }
            }
        }
    #endif
        value = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow != 0 || (value == -1 && PyErr_Occurred())) { PyErr_Clear(); return 0; }
        *out = value;
        return 1;
    }
    """
    bint tf_as_ll(PyObject* value, long long* out)
