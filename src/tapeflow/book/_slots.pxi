# Included by every compiled core that reads and writes Python objects' slots (book/_l2_core.pyx, book/_l3_core.pyx,
# book/_quote_core.pyx, engine/_kernel_core.pyx, ml/_sample_core.pyx): one text for how a slot's offset is found and
# how a slot is read and stored, so the cores cannot come to disagree. It sits in book, the lowest package with a
# core; the cores above include it from here (imports point downward).
# Why slot offsets: a generic attribute load from C costs about what the interpreter's specialised slot load
# does, so the cores read each member descriptor's offset once and touch the slots through it. The including
# module cimports PyObject (cpython.object) and Py_INCREF / Py_XDECREF (cpython.ref).

from types import MemberDescriptorType as _MemberDescriptor


cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef Py_ssize_t _slot_offset_or_fallback(object owner, str name):
    """The offset of object slot ``name`` of ``owner`` (defined there or inherited), or -1 when ``name`` is anything
    else (no attribute, a property, a slot of a C type holding a C value): the caller then goes through
    getattr/setattr, for a class it cannot know (a subclass of the kernel that adds its own attribute)."""
    descriptor = getattr(owner, name, None)
    if type(descriptor) is not _MemberDescriptor:
        return -1
    cdef PyMemberDef* member = (<PyMemberDescrObject*><PyObject*>descriptor).d_member
    if member.type != 16 and member.type != 6:  # Py_T_OBJECT_EX, Py_T_OBJECT
        return -1
    return member.offset


cdef Py_ssize_t _required_slot_offset(object owner, str name) except -1:
    """``_slot_offset_or_fallback``, for a core that has no fallback: anything but an object slot is refused when
    the module loads (a field renamed or retyped in the Python class), never read wrong later."""
    cdef Py_ssize_t offset = _slot_offset_or_fallback(owner, name)
    if offset < 0:
        raise TypeError(f"{owner.__name__}.{name} is not an object slot")
    return offset


# Both noexcept: neither can raise, and without it Cython 3 checks PyErr_Occurred() after every call (after every
# NULL read for ``_get``), a function call the kernel's feed paid once per event when it moved onto this text.
cdef inline PyObject* _get(object owner, Py_ssize_t offset) noexcept:
    """The slot's value, borrowed; NULL when it is unset."""
    return (<PyObject**>((<char*><PyObject*>owner) + offset))[0]


cdef inline void _put(object owner, Py_ssize_t offset, object value) noexcept:
    """Store into the slot as its descriptor does: take a reference to the new value, drop the old one's."""
    cdef PyObject** cell = <PyObject**>((<char*><PyObject*>owner) + offset)
    cdef PyObject* old = cell[0]
    Py_INCREF(value)
    cell[0] = <PyObject*>value
    Py_XDECREF(old)
