# Included by the compiled cores that read and write Python objects' slots (_l2_core.pyx, _quote_core.pyx): one
# text for how a slot's offset is found and how a slot is read and stored, so the cores cannot come to disagree.
# Why slot offsets: a generic attribute load from C costs about what the interpreter's specialised slot load
# does, so the cores read each member descriptor's offset once and touch the slots through it. The including
# module cimports PyObject (cpython.object) and Py_INCREF / Py_XDECREF (cpython.ref).

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef Py_ssize_t _offset(object owner, str name) except -1:
    """The offset of slot ``name`` of ``owner``; refuses anything that is not an object slot."""
    descriptor = getattr(owner, name)
    if type(descriptor).__name__ != "member_descriptor":
        raise TypeError(f"{owner.__name__}.{name} is not a slot")
    cdef PyMemberDef* member = (<PyMemberDescrObject*><PyObject*>descriptor).d_member
    if member.type != 16 and member.type != 6:  # Py_T_OBJECT_EX, Py_T_OBJECT
        raise TypeError(f"{owner.__name__}.{name} is not an object slot")
    return member.offset


cdef inline PyObject* _get(object owner, Py_ssize_t offset):
    """The slot's value, borrowed; NULL when it is unset."""
    return (<PyObject**>((<char*><PyObject*>owner) + offset))[0]


cdef inline void _put(object owner, Py_ssize_t offset, object value):
    """Store into the slot as its descriptor does: take a reference to the new value, drop the old one's."""
    cdef PyObject** cell = <PyObject**>((<char*><PyObject*>owner) + offset)
    cdef PyObject* old = cell[0]
    Py_INCREF(value)
    cell[0] = <PyObject*>value
    Py_XDECREF(old)
