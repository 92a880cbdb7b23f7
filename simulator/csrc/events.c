/*
 * events.c: building the frozen event dataclasses of simulator/events.py from C (slots filled through their
 * descriptors' offsets) and untracking them from the garbage collector.
 */

static PyTypeObject *level_type, *delta_type, *quote_type;
static Py_ssize_t level_price_at, level_size_at;
static Py_ssize_t delta_at[4]; /* symbol_id, time_exchange_ns, asks, bids */
static Py_ssize_t quote_at[6]; /* symbol_id, time_exchange_ns, ask price, ask size, bid price, bid size */
static PyObject *empty_tuple;

static int
slot_offset(PyTypeObject *type, const char *name, Py_ssize_t *offset)
{
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL) {
        return -1;
    }
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, name);
        Py_DECREF(descr);
        return -1;
    }
    *offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    Py_DECREF(descr);
    return 0;
}

/* Events, their levels and level tuples hold only str, int, float, bool and other such values, so they can
 * never be part of a reference cycle; leaving them tracked made every burst of short-lived events (a virtual
 * second's ~2,700 bars) a full traversal for the cyclic collector (~15% of a simbench run with gc on vs off).
 * CPython untracks atomic-only tuples and dicts for the same reason. */
static inline PyObject *
untracked(PyObject *obj)
{
    if (obj != NULL && PyObject_GC_IsTracked(obj)) {
        PyObject_GC_UnTrack(obj);
    }
    return obj;
}

/* Store ``value`` (a new reference, stolen; NULL on error) into a fresh instance's slot. */
static inline void
put_slot(PyObject *obj, Py_ssize_t offset, PyObject *value)
{
    *(PyObject **)((char *)obj + offset) = value;
}

static PyObject *
new_level(i64 price, i64 size)
{
    PyObject *obj = level_type->tp_alloc(level_type, 0);
    if (obj == NULL) {
        return NULL;
    }
    PyObject *p = PyLong_FromLongLong(price);
    PyObject *s = PyLong_FromLongLong(size);
    put_slot(obj, level_price_at, p);
    put_slot(obj, level_size_at, s);
    if (p == NULL || s == NULL) {
        Py_DECREF(obj);
        return NULL;
    }
    return untracked(obj);
}

/* ``values`` are new references, stolen (also on error); NULL entries mean an earlier failure. */
static PyObject *
new_event(PyTypeObject *type, const Py_ssize_t *offsets, PyObject **values, int count)
{
    PyObject *obj = type->tp_alloc(type, 0);
    int failed = obj == NULL;
    for (int i = 0; i < count; i++) {
        failed |= values[i] == NULL;
        if (obj != NULL) {
            put_slot(obj, offsets[i], values[i]);
        }
        else {
            Py_XDECREF(values[i]);
        }
    }
    if (failed) {
        Py_XDECREF(obj);
        return NULL;
    }
    return untracked(obj);
}
