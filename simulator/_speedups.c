/*
 * simulator._speedups: the order book and its liquidity model in C.
 *
 * ``Book`` and ``BookMaker`` here have the API and the behaviour of the pure-Python classes in
 * ``simulator/book.py``, which stay the reference: the same calls give the same levels, the same events
 * and the same random draws, in the same order, from the same generator (its ``random`` method is called
 * for every draw, so a ``random.Random`` subclass works too). tests/simulator/test_speedups.py holds the
 * two to that, event for event. The market spends most of its time in the book; done in C, a book event
 * costs a few method calls instead of a few hundred bytecodes.
 *
 * Prices (ticks) and sizes (lots) are 64-bit here, where Python's are unbounded: the catalogue's largest
 * are below 2**53 by orders of magnitude, which also keeps their comparisons with float mids exact.
 *
 * Events are built as the frozen slotted dataclasses of ``simulator.events``: allocated with the type's
 * own allocator, their slots filled through the offsets of the slot descriptors (what the frozen
 * ``__init__`` would store, without its ``object.__setattr__`` per field).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef long long i64;

/* Fewest levels a side keeps after a book event, and most it holds (book.py MIN_LEVELS, MAX_LEVELS). */
#define MIN_LEVELS 20
#define MAX_LEVELS 50
/* Resting sizes are Pareto with alpha 1.8 (book.py _SIZE_EXPONENT) times size_profile[depth] (SIZE_PROFILE). */
#define SIZE_EXPONENT (-0.5555555555555556)
#define HUMP_DEPTH 5.0  /* book.py HUMP_DEPTH */
#define HUMP_HEIGHT 3.0 /* book.py HUMP_HEIGHT */
#define DENSE_DEPTH 10  /* book.py DENSE_DEPTH */
#define LEAN_START 0.2  /* book.py LEAN_START */
#define PROFILE_LEN (MAX_LEVELS + 2)
static double size_profile[PROFILE_LEN]; /* filled at import with book.py's formula */

/* ------------------------------------------------------------------------------------------------------ */
/* event construction                                                                                     */

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

/* ------------------------------------------------------------------------------------------------------ */
/* one side of a book                                                                                     */

/* Keys ``sign * price`` ascending (best first) with their sizes, and the changes since the last emit. */
typedef struct {
    i64 *keys;
    i64 *sizes;
    Py_ssize_t len, cap;
    i64 *change_prices;
    i64 *change_sizes;
    Py_ssize_t changes, change_cap;
    int sign;
} Side;

static void
side_free(Side *side)
{
    PyMem_Free(side->keys);
    PyMem_Free(side->sizes);
    PyMem_Free(side->change_prices);
    PyMem_Free(side->change_sizes);
    memset(side, 0, sizeof(*side));
}

static int
grow(i64 **a, i64 **b, Py_ssize_t *cap, Py_ssize_t need)
{
    if (need <= *cap) {
        return 0;
    }
    Py_ssize_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) {
        cap2 *= 2;
    }
    i64 *a2 = PyMem_Realloc(*a, cap2 * sizeof(i64));
    if (a2 == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *a = a2;
    i64 *b2 = PyMem_Realloc(*b, cap2 * sizeof(i64));
    if (b2 == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *b = b2;
    *cap = cap2;
    return 0;
}

/* First index whose key is >= ``key``. */
static Py_ssize_t
side_lower_bound(const Side *side, i64 key)
{
    Py_ssize_t lo = 0, hi = side->len;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (side->keys[mid] < key) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

static int
side_has(const Side *side, i64 price)
{
    i64 key = price * side->sign;
    Py_ssize_t i = side_lower_bound(side, key);
    return i < side->len && side->keys[i] == key;
}

static i64
side_size(const Side *side, i64 price)
{
    return side->sizes[side_lower_bound(side, price * side->sign)];
}

static int
side_record(Side *side, i64 price, i64 size)
{
    for (Py_ssize_t i = 0; i < side->changes; i++) {
        if (side->change_prices[i] == price) {
            side->change_sizes[i] = size;
            return 0;
        }
    }
    if (grow(&side->change_prices, &side->change_sizes, &side->change_cap, side->changes + 1) < 0) {
        return -1;
    }
    side->change_prices[side->changes] = price;
    side->change_sizes[side->changes] = size;
    side->changes++;
    return 0;
}

/* Level ``price`` to ``size``, not recorded as a change. */
static int
side_put(Side *side, i64 price, i64 size)
{
    i64 key = price * side->sign;
    Py_ssize_t i = side_lower_bound(side, key);
    int found = i < side->len && side->keys[i] == key;
    if (size > 0) {
        if (found) {
            side->sizes[i] = size;
            return 0;
        }
        if (grow(&side->keys, &side->sizes, &side->cap, side->len + 1) < 0) {
            return -1;
        }
        memmove(side->keys + i + 1, side->keys + i, (side->len - i) * sizeof(i64));
        memmove(side->sizes + i + 1, side->sizes + i, (side->len - i) * sizeof(i64));
        side->keys[i] = key;
        side->sizes[i] = size;
        side->len++;
    }
    else if (found) {
        memmove(side->keys + i, side->keys + i + 1, (side->len - i - 1) * sizeof(i64));
        memmove(side->sizes + i, side->sizes + i + 1, (side->len - i - 1) * sizeof(i64));
        side->len--;
    }
    return 0;
}

/* book.py ``_Side.set``: the level changes and the change is recorded (even deleting a missing level). */
static int
side_set(Side *side, i64 price, i64 size)
{
    if (side_put(side, price, size) < 0) {
        return -1;
    }
    return side_record(side, price, size);
}

/* Append behind the worst level (the caller knows ``key`` sorts last). */
static int
side_append(Side *side, i64 key, i64 size)
{
    if (grow(&side->keys, &side->sizes, &side->cap, side->len + 1) < 0) {
        return -1;
    }
    side->keys[side->len] = key;
    side->sizes[side->len] = size;
    side->len++;
    return 0;
}

static PyObject *
side_levels(const Side *side, Py_ssize_t n)
{
    if (n < 0) {
        n = side->len + n < 0 ? 0 : side->len + n; /* a negative count slices from the end, as keys[:n] */
    }
    if (n > side->len) {
        n = side->len;
    }
    PyObject *out = PyTuple_New(n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *level = new_level(side->keys[i] * side->sign, side->sizes[i]);
        if (level == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, level);
    }
    return untracked(out);
}

/* The pending changes as levels, best first, and forget them. */
static PyObject *
side_drain(Side *side)
{
    Py_ssize_t n = side->changes;
    i64 *p = side->change_prices, *s = side->change_sizes;
    int sign = side->sign;
    for (Py_ssize_t i = 1; i < n; i++) { /* insertion sort: a handful of changes per instant */
        i64 price = p[i], size = s[i];
        Py_ssize_t j = i;
        while (j > 0 && p[j - 1] * sign > price * sign) {
            p[j] = p[j - 1];
            s[j] = s[j - 1];
            j--;
        }
        p[j] = price;
        s[j] = size;
    }
    side->changes = 0;
    PyObject *out = PyTuple_New(n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *level = new_level(p[i], s[i]);
        if (level == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, level);
    }
    return untracked(out);
}

static int
side_copy(Side *to, const Side *from)
{
    if (grow(&to->keys, &to->sizes, &to->cap, from->len) < 0) {
        return -1;
    }
    memcpy(to->keys, from->keys, from->len * sizeof(i64));
    memcpy(to->sizes, from->sizes, from->len * sizeof(i64));
    to->len = from->len;
    return 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Book                                                                                                   */

typedef struct {
    PyObject_HEAD
    Side asks;
    Side bids;
    /* the touch as of the last emit; ``quoted`` is 0 before the first, or while a side is empty */
    int quoted;
    i64 quote[4];
} BookObject;

static PyTypeObject Book_Type;

static int
book_touch(BookObject *book, i64 touch[4])
{
    if (book->asks.len == 0 || book->bids.len == 0) {
        PyErr_SetString(PyExc_IndexError, "the book has an empty side");
        return -1;
    }
    touch[0] = book->asks.keys[0];
    touch[1] = book->asks.sizes[0];
    touch[2] = -book->bids.keys[0];
    touch[3] = book->bids.sizes[0];
    return 0;
}

static void
book_settle(BookObject *book)
{
    book->asks.changes = 0;
    book->bids.changes = 0;
    book->quoted = book->asks.len && book->bids.len;
    if (book->quoted) {
        book_touch(book, book->quote);
    }
}

static BookObject *
book_alloc(void)
{
    BookObject *book = PyObject_New(BookObject, &Book_Type);
    if (book == NULL) {
        return NULL;
    }
    memset(&book->asks, 0, sizeof(BookObject) - offsetof(BookObject, asks));
    book->asks.sign = 1;
    book->bids.sign = -1;
    return book;
}

static int
as_i64(PyObject *obj, i64 *out)
{
    if (obj == NULL) {
        return -1;
    }
    *out = PyLong_AsLongLong(obj);
    Py_DECREF(obj);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* Set every level of an iterable of ``Level`` on ``side`` (not recorded: the caller settles). */
static int
put_levels(Side *side, PyObject *levels)
{
    PyObject *iter = PyObject_GetIter(levels);
    if (iter == NULL) {
        return -1;
    }
    PyObject *level;
    while ((level = PyIter_Next(iter)) != NULL) {
        i64 price, size;
        int ok = as_i64(PyObject_GetAttrString(level, "price_ticks"), &price) == 0 &&
                 as_i64(PyObject_GetAttrString(level, "size_lots"), &size) == 0 &&
                 side_put(side, price, size) == 0;
        Py_DECREF(level);
        if (!ok) {
            Py_DECREF(iter);
            return -1;
        }
    }
    Py_DECREF(iter);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *
Book_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"asks", "bids", NULL};
    PyObject *asks = empty_tuple, *bids = empty_tuple;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:Book", keywords, &asks, &bids)) {
        return NULL;
    }
    BookObject *book = book_alloc();
    if (book == NULL) {
        return NULL;
    }
    if (put_levels(&book->asks, asks) < 0 || put_levels(&book->bids, bids) < 0) {
        Py_DECREF(book);
        return NULL;
    }
    book_settle(book);
    return (PyObject *)book;
}

static void
Book_dealloc(BookObject *book)
{
    side_free(&book->asks);
    side_free(&book->bids);
    PyObject_Free(book);
}

static PyObject *
Book_asks(BookObject *book, PyObject *Py_UNUSED(ignored))
{
    return side_levels(&book->asks, PY_SSIZE_T_MAX);
}

static PyObject *
Book_bids(BookObject *book, PyObject *Py_UNUSED(ignored))
{
    return side_levels(&book->bids, PY_SSIZE_T_MAX);
}

static PyObject *
Book_top(BookObject *book, PyObject *arg)
{
    Py_ssize_t n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *asks = side_levels(&book->asks, n);
    PyObject *bids = asks == NULL ? NULL : side_levels(&book->bids, n);
    if (bids == NULL) {
        Py_XDECREF(asks);
        return NULL;
    }
    PyObject *out = PyTuple_Pack(2, asks, bids);
    Py_DECREF(asks);
    Py_DECREF(bids);
    return out;
}

static PyObject *
best_level(const Side *side)
{
    if (side->len == 0) {
        Py_RETURN_NONE;
    }
    return new_level(side->keys[0] * side->sign, side->sizes[0]);
}

static PyObject *
Book_best_ask(BookObject *book, PyObject *Py_UNUSED(ignored))
{
    return best_level(&book->asks);
}

static PyObject *
Book_best_bid(BookObject *book, PyObject *Py_UNUSED(ignored))
{
    return best_level(&book->bids);
}

static PyObject *
Book_depth(BookObject *book, PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(nn)", book->asks.len, book->bids.len);
}

static PyObject *
Book_touch(BookObject *book, PyObject *Py_UNUSED(ignored))
{
    i64 t[4];
    if (book_touch(book, t) < 0) {
        return NULL;
    }
    return Py_BuildValue("(LLLL)", t[0], t[1], t[2], t[3]);
}

static PyObject *
set_level(Side *side, PyObject *const *args, Py_ssize_t nargs)
{
    i64 price, size;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "expected (price_ticks, size_lots)");
        return NULL;
    }
    if (as_i64(Py_NewRef(args[0]), &price) < 0 ||
        as_i64(Py_NewRef(args[1]), &size) < 0 || side_set(side, price, size) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Book_set_ask(BookObject *book, PyObject *const *args, Py_ssize_t nargs)
{
    return set_level(&book->asks, args, nargs);
}

static PyObject *
Book_set_bid(BookObject *book, PyObject *const *args, Py_ssize_t nargs)
{
    return set_level(&book->bids, args, nargs);
}

/* A taker takes up to ``size`` from the touch of ``side``; never empties its last level. */
static PyObject *
book_sweep(Side *side, i64 size)
{
    PyObject *fills = PyList_New(0);
    if (fills == NULL) {
        return NULL;
    }
    Py_ssize_t touched = 0;
    i64 remaining = size;
    Py_ssize_t last = side->len - 1;
    while (remaining > 0 && touched <= last) {
        i64 available = side->sizes[touched] - (touched == last ? 1 : 0);
        i64 take = remaining < available ? remaining : available;
        if (take <= 0) {
            break;
        }
        PyObject *fill = Py_BuildValue("(LL)", side->keys[touched] * side->sign, take);
        if (fill == NULL || PyList_Append(fills, fill) < 0) {
            Py_XDECREF(fill);
            Py_DECREF(fills);
            return NULL;
        }
        Py_DECREF(fill);
        remaining -= take;
        touched++;
    }
    /* levels are set after the walk, best first, as book.py does (the fully taken ones leave the front) */
    for (Py_ssize_t i = 0; i < touched; i++) {
        PyObject *fill = PyList_GET_ITEM(fills, i);
        i64 price = PyLong_AsLongLong(PyTuple_GET_ITEM(fill, 0));
        i64 take = PyLong_AsLongLong(PyTuple_GET_ITEM(fill, 1));
        if (side_set(side, price, side_size(side, price) - take) < 0) {
            Py_DECREF(fills);
            return NULL;
        }
    }
    return fills;
}

static PyObject *
Book_sweep(BookObject *book, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "sweep(is_buy, size_lots)");
        return NULL;
    }
    int is_buy = PyObject_IsTrue(args[0]);
    i64 size;
    if (is_buy < 0 || as_i64(Py_NewRef(args[1]), &size) < 0) {
        return NULL;
    }
    return book_sweep(is_buy ? &book->asks : &book->bids, size);
}

static PyObject *
book_emit(BookObject *book, PyObject *symbol_id, PyObject *time_ns)
{
    PyObject *ask_levels;
    if (book->asks.changes) {
        ask_levels = side_drain(&book->asks);
        if (ask_levels == NULL) {
            return NULL;
        }
    }
    else if (book->bids.changes) {
        ask_levels = Py_NewRef(empty_tuple);
    }
    else {
        return PyList_New(0);
    }
    PyObject *bid_levels = book->bids.changes ? side_drain(&book->bids) : Py_NewRef(empty_tuple);
    PyObject *values[4] = {Py_NewRef(symbol_id), Py_NewRef(time_ns), ask_levels, bid_levels};
    PyObject *delta = new_event(delta_type, delta_at, values, 4);
    if (delta == NULL) {
        return NULL;
    }
    i64 t[4];
    if (book_touch(book, t) < 0) {
        Py_DECREF(delta);
        return NULL;
    }
    if (book->quoted && memcmp(t, book->quote, sizeof(t)) == 0) {
        PyObject *out = PyList_New(1);
        if (out == NULL) {
            Py_DECREF(delta);
            return NULL;
        }
        PyList_SET_ITEM(out, 0, delta);
        return out;
    }
    book->quoted = 1;
    memcpy(book->quote, t, sizeof(t));
    PyObject *qv[6] = {
        Py_NewRef(symbol_id),       Py_NewRef(time_ns),         PyLong_FromLongLong(t[0]),
        PyLong_FromLongLong(t[1]), PyLong_FromLongLong(t[2]), PyLong_FromLongLong(t[3]),
    };
    PyObject *quote = new_event(quote_type, quote_at, qv, 6);
    if (quote == NULL) {
        Py_DECREF(delta);
        return NULL;
    }
    PyObject *out = PyList_New(2);
    if (out == NULL) {
        Py_DECREF(delta);
        Py_DECREF(quote);
        return NULL;
    }
    PyList_SET_ITEM(out, 0, delta);
    PyList_SET_ITEM(out, 1, quote);
    return out;
}

static PyObject *
Book_emit(BookObject *book, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "emit(symbol_id, time_ns)");
        return NULL;
    }
    return book_emit(book, args[0], args[1]);
}

static PyObject *
Book_apply(BookObject *book, PyObject *delta)
{
    PyObject *asks = PyObject_GetAttrString(delta, "asks");
    if (asks == NULL) {
        return NULL;
    }
    int ok = put_levels(&book->asks, asks) == 0;
    Py_DECREF(asks);
    PyObject *bids = ok ? PyObject_GetAttrString(delta, "bids") : NULL;
    if (bids == NULL) {
        return NULL;
    }
    ok = put_levels(&book->bids, bids) == 0;
    Py_DECREF(bids);
    if (!ok) {
        return NULL;
    }
    book_settle(book);
    Py_RETURN_NONE;
}

static PyObject *
Book_copy(BookObject *book, PyObject *Py_UNUSED(ignored))
{
    BookObject *copy = book_alloc();
    if (copy == NULL) {
        return NULL;
    }
    if (side_copy(&copy->asks, &book->asks) < 0 || side_copy(&copy->bids, &book->bids) < 0) {
        Py_DECREF(copy);
        return NULL;
    }
    book_settle(copy);
    return (PyObject *)copy;
}

static PyMethodDef Book_methods[] = {
    {"asks", (PyCFunction)Book_asks, METH_NOARGS, "All ask levels, best (lowest price) first."},
    {"bids", (PyCFunction)Book_bids, METH_NOARGS, "All bid levels, best (highest price) first."},
    {"top", (PyCFunction)Book_top, METH_O, "(asks, bids): at most n levels per side, best first."},
    {"best_ask", (PyCFunction)Book_best_ask, METH_NOARGS, "The lowest ask, or None if the side is empty."},
    {"best_bid", (PyCFunction)Book_best_bid, METH_NOARGS, "The highest bid, or None if the side is empty."},
    {"depth", (PyCFunction)Book_depth, METH_NOARGS, "Number of (ask, bid) levels."},
    {"touch", (PyCFunction)Book_touch, METH_NOARGS, "(ask_price, ask_size, bid_price, bid_size) of the top."},
    {"set_ask", (PyCFunction)(void (*)(void))Book_set_ask, METH_FASTCALL, "Set an ask level (0 deletes it)."},
    {"set_bid", (PyCFunction)(void (*)(void))Book_set_bid, METH_FASTCALL, "Set a bid level (0 deletes it)."},
    {"sweep", (PyCFunction)(void (*)(void))Book_sweep, METH_FASTCALL, "Take liquidity: the fills, best first."},
    {"emit", (PyCFunction)(void (*)(void))Book_emit, METH_FASTCALL, "Events for the changes since the last."},
    {"apply", (PyCFunction)Book_apply, METH_O, "Apply a BookDelta, not recorded as changes."},
    {"copy", (PyCFunction)Book_copy, METH_NOARGS, "An independent copy with no pending changes."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Book_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "coinapi_emulator.simulator._speedups.Book",
    .tp_basicsize = sizeof(BookObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An L2 book (the C twin of simulator.book.Book).",
    .tp_new = Book_new,
    .tp_dealloc = (destructor)Book_dealloc,
    .tp_methods = Book_methods,
};

/* ------------------------------------------------------------------------------------------------------ */
/* BookMaker                                                                                              */

typedef struct {
    PyObject_HEAD
    PyObject *rng;
    PyObject *random; /* rng.random, bound once */
    i64 gap_ticks, touch_gap_ticks;
    double half_spread_ticks;
    double size_lots;
    double spacing[PROFILE_LEN]; /* book.py BookMaker._spacing */
} MakerObject;

static PyTypeObject Maker_Type;

static int
draw(PyObject *random, double *out)
{
    PyObject *value = PyObject_CallNoArgs(random);
    if (value == NULL) {
        return -1;
    }
    *out = PyFloat_AsDouble(value);
    Py_DECREF(value);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* book.py ``BookMaker._size``: one draw. */
static int
level_size(MakerObject *maker, PyObject *random, i64 depth, i64 *out)
{
    double r;
    if (draw(random, &r) < 0) {
        return -1;
    }
    double u = 1.0 - r;
    i64 size = (i64)floor(maker->size_lots * size_profile[depth] * pow(u, SIZE_EXPONENT));
    *out = size ? size : 1;
    return 0;
}

/* book.py ``BookMaker._extend``: ``count`` levels behind the worst one, from ``first_price`` outwards. */
static int
extend(MakerObject *maker, Side *side, i64 first_price, i64 count, PyObject *random, int record)
{
    int sign = side->sign;
    i64 key = first_price * sign;
    Py_ssize_t start = side->len;
    for (i64 depth = start; depth < start + count; depth++) {
        i64 price = key * sign;
        if (price < 1) {
            return 0;
        }
        i64 size;
        double r;
        if (level_size(maker, random, depth, &size) < 0 || side_append(side, key, size) < 0 ||
            (record && side_record(side, price, size) < 0) || draw(random, &r) < 0) {
            return -1;
        }
        key += (i64)floor(r * maker->spacing[depth]) + 1;
    }
    return 0;
}

static int
fix_depth(MakerObject *maker, Side *side)
{
    if (side->len > MAX_LEVELS) {
        while (side->len > MAX_LEVELS) {
            if (side_set(side, side->keys[side->len - 1] * side->sign, 0) < 0) {
                return -1;
            }
        }
        return 0;
    }
    if (side->len == 0) {
        PyErr_SetString(PyExc_IndexError, "a side of the book is empty");
        return -1;
    }
    i64 first = (side->keys[side->len - 1] + maker->gap_ticks) * side->sign;
    return extend(maker, side, first, MIN_LEVELS - side->len, maker->random, 1);
}

/* book.py ``BookMaker._fill``: up to 4 levels from ``touch_price`` towards the current best, then the old best
 * joins the queue of its new depth. */
static int
fill(MakerObject *maker, Side *side, i64 touch_price)
{
    int sign = side->sign, has_best = side->len > 0;
    i64 best_key = has_best ? side->keys[0] : 0;
    i64 key = touch_price * sign;
    i64 added = 0;
    while (added < 4) {
        if ((has_best && key >= best_key) || key * sign < 1) {
            break;
        }
        i64 size;
        double r;
        if (level_size(maker, maker->random, added, &size) < 0 || side_set(side, key * sign, size) < 0 ||
            draw(maker->random, &r) < 0) {
            return -1;
        }
        key += (i64)floor(r * maker->spacing[added]) + 1;
        added++;
    }
    if (added && has_best) {
        i64 joined, old_best = best_key * sign;
        if (level_size(maker, maker->random, added, &joined) < 0) {
            return -1;
        }
        if (joined > side_size(side, old_best)) {
            return side_set(side, old_best, joined);
        }
    }
    return 0;
}

static int
reprice(MakerObject *maker, BookObject *book, double mid, double hs, double tol, double far)
{
    Side *asks = &book->asks, *bids = &book->bids;
    double ceiling = mid + tol;
    while (asks->len && asks->keys[0] <= ceiling) {
        if (side_set(asks, asks->keys[0], 0) < 0) {
            return -1;
        }
    }
    double floor_key = tol - mid; /* as a bid key: bids at or above mid - tol are stale */
    while (bids->len && bids->keys[0] <= floor_key) {
        if (side_set(bids, -bids->keys[0], 0) < 0) {
            return -1;
        }
    }
    if ((!asks->len || asks->keys[0] > mid + far) && fill(maker, asks, (i64)ceil(mid + hs)) < 0) {
        return -1;
    }
    if ((!bids->len || -bids->keys[0] < mid - far) && fill(maker, bids, (i64)floor(mid - hs)) < 0) {
        return -1;
    }
    return 0;
}

/* book.py ``BookMaker._noise``: resize, add, cancel or improve one level near the touch. */
static int
noise(MakerObject *maker, Side *side, double mid, double tol)
{
    PyObject *random = maker->random;
    int sign = side->sign;
    double r, action;
    if (draw(random, &r) < 0) {
        return -1;
    }
    i64 depth = (i64)floor(-4.0 * log(1.0 - r));
    if (depth >= side->len) {
        depth = side->len - 1;
    }
    if (depth > MAX_LEVELS) {
        depth = MAX_LEVELS;
    }
    i64 price = side->keys[depth] * sign;
    if (draw(random, &action) < 0) {
        return -1;
    }
    if (action < 0.4) {
        if (draw(random, &r) < 0) {
            return -1;
        }
        i64 size = (i64)floor(side->sizes[depth] * (0.3 + 1.4 * r));
        return side_set(side, price, size ? size : 1);
    }
    if (action < 0.65) {
        if (draw(random, &r) < 0) {
            return -1;
        }
        i64 new_price = price + sign * ((i64)floor(r * 0.5 * maker->spacing[depth]) + 1);
        i64 size;
        if (side_has(side, new_price) || new_price < 1) {
            return 0;
        }
        return level_size(maker, random, depth + 1, &size) < 0 ? -1 : side_set(side, new_price, size);
    }
    if (action < 0.85) {
        return side->len > 1 ? side_set(side, price, 0) : 0;
    }
    if (draw(random, &r) < 0) {
        return -1;
    }
    i64 new_price = (side->keys[0] - (i64)floor(r * maker->touch_gap_ticks) - 1) * sign;
    int inside = sign > 0 ? new_price > mid + tol : new_price < mid - tol;
    i64 size;
    if (!inside || new_price < 1) {
        return 0;
    }
    return level_size(maker, random, 0, &size) < 0 ? -1 : side_set(side, new_price, size);
}

/* book.py ``BookMaker._lean``: thin the touch queue on the side the fair mid has moved towards. */
static int
lean(MakerObject *maker, BookObject *book, double mid)
{
    i64 ask = book->asks.keys[0], bid = -book->bids.keys[0];
    double offset = (2.0 * mid - (double)ask - (double)bid) / (double)(ask - bid);
    if (-LEAN_START <= offset && offset <= LEAN_START) {
        return 0;
    }
    Side *side = offset > 0.0 ? &book->asks : &book->bids;
    i64 price = offset > 0.0 ? ask : bid;
    double reach = fabs(offset) < 0.95 ? fabs(offset) : 0.95;
    i64 target = (i64)floor(maker->size_lots * (1.0 - reach));
    if (target == 0) {
        target = 1;
    }
    return target < side->sizes[0] ? side_set(side, price, target) : 0;
}

static int
maker_update(MakerObject *maker, BookObject *book, double mid, double spread_multiplier)
{
    double hs = (maker->half_spread_ticks + 0.5) * spread_multiplier - 0.5;
    if (hs < 0.01) {
        hs = 0.01;
    }
    if (mid < hs + 1.0) {
        mid = hs + 1.0; /* keep bids at positive prices */
    }
    double tol = 0.5 * hs;
    double far = hs + (double)maker->touch_gap_ticks;
    Side *asks = &book->asks, *bids = &book->bids;
    if (asks->len == 0 || bids->len == 0) {
        PyErr_SetString(PyExc_IndexError, "the book has an empty side");
        return -1;
    }
    double ask = (double)asks->keys[0], bid = (double)-bids->keys[0];
    if (mid + tol < ask && ask <= mid + far && mid - far <= bid && bid < mid - tol) {
        /* the common case: both touches inside their band around the fair mid, so just flicker */
        double r;
        if (draw(maker->random, &r) < 0 || noise(maker, r < 0.5 ? asks : bids, mid, tol) < 0) {
            return -1;
        }
    }
    else if (reprice(maker, book, mid, hs, tol, far) < 0) {
        return -1;
    }
    if (!(MIN_LEVELS <= asks->len && asks->len <= MAX_LEVELS) && fix_depth(maker, asks) < 0) {
        return -1;
    }
    if (!(MIN_LEVELS <= bids->len && bids->len <= MAX_LEVELS) && fix_depth(maker, bids) < 0) {
        return -1;
    }
    return lean(maker, book, mid);
}

static PyObject *
Maker_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"rng", "gap_ticks", "half_spread_ticks", "size_lots", "touch_gap_ticks", NULL};
    PyObject *rng, *touch_gap_obj = Py_None;
    i64 gap, touch_gap;
    double hs, size_lots;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OLdd|O:BookMaker", keywords, &rng, &gap, &hs, &size_lots,
                                     &touch_gap_obj)) {
        return NULL;
    }
    gap = gap > 1 ? gap : 1;
    if (touch_gap_obj == Py_None) {
        touch_gap = gap;
    }
    else if (as_i64(Py_NewRef(touch_gap_obj), &touch_gap) < 0) {
        return NULL;
    }
    touch_gap = touch_gap < 1 ? 1 : (touch_gap > gap ? gap : touch_gap);
    PyObject *random = PyObject_GetAttrString(rng, "random");
    if (random == NULL) {
        return NULL;
    }
    MakerObject *maker = PyObject_GC_New(MakerObject, type);
    if (maker == NULL) {
        Py_DECREF(random);
        return NULL;
    }
    maker->rng = Py_NewRef(rng);
    maker->random = random;
    maker->gap_ticks = gap;
    maker->touch_gap_ticks = touch_gap;
    maker->half_spread_ticks = hs > 0.01 ? hs : 0.01;
    maker->size_lots = size_lots > 1.0 ? size_lots : 1.0;
    for (int d = 0; d < PROFILE_LEN; d++) {
        double share = (double)d / DENSE_DEPTH;
        double ramp = share < 1.0 ? share : 1.0;
        maker->spacing[d] = 2.0 * ((double)touch_gap + (double)(gap - touch_gap) * (ramp * ramp));
    }
    PyObject_GC_Track(maker);
    return (PyObject *)maker;
}

static int
Maker_traverse(MakerObject *maker, visitproc visit, void *arg)
{
    Py_VISIT(maker->rng);
    Py_VISIT(maker->random);
    return 0;
}

static int
Maker_clear(MakerObject *maker)
{
    Py_CLEAR(maker->rng);
    Py_CLEAR(maker->random);
    return 0;
}

static void
Maker_dealloc(MakerObject *maker)
{
    PyObject_GC_UnTrack(maker);
    Maker_clear(maker);
    PyObject_GC_Del(maker);
}

static BookObject *
book_arg(PyObject *obj)
{
    if (!Py_IS_TYPE(obj, &Book_Type)) {
        PyErr_Format(PyExc_TypeError, "expected a coinapi_emulator.simulator._speedups.Book, not %.100s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    return (BookObject *)obj;
}

static PyObject *
Maker_initial_book(MakerObject *maker, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "initial_book(mid_ticks, rng)");
        return NULL;
    }
    double mid = PyFloat_AsDouble(args[0]);
    if (mid == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    double hs = maker->half_spread_ticks;
    if (mid < hs + 1.0) {
        mid = hs + 1.0;
    }
    i64 count;
    if (as_i64(PyObject_CallMethod(args[1], "randint", "ii", 25, 45), &count) < 0) {
        return NULL;
    }
    PyObject *random = PyObject_GetAttrString(args[1], "random");
    if (random == NULL) {
        return NULL;
    }
    BookObject *book = book_alloc();
    int ok = book != NULL && extend(maker, &book->asks, (i64)ceil(mid + hs), count, random, 0) == 0 &&
             extend(maker, &book->bids, (i64)floor(mid - hs), count, random, 0) == 0;
    Py_DECREF(random);
    if (!ok) {
        Py_XDECREF(book);
        return NULL;
    }
    book_settle(book);
    return (PyObject *)book;
}

static PyObject *
Maker_update(MakerObject *maker, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "update(book, mid_ticks, spread_multiplier=1.0)");
        return NULL;
    }
    BookObject *book = book_arg(args[0]);
    if (book == NULL) {
        return NULL;
    }
    double mid = PyFloat_AsDouble(args[1]);
    double multiplier = nargs == 3 ? PyFloat_AsDouble(args[2]) : 1.0;
    if (PyErr_Occurred() || maker_update(maker, book, mid, multiplier) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Maker_step(MakerObject *maker, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "step(book, mid_ticks, spread_multiplier, symbol_id, time_ns)");
        return NULL;
    }
    BookObject *book = book_arg(args[0]);
    if (book == NULL) {
        return NULL;
    }
    double mid = PyFloat_AsDouble(args[1]);
    double multiplier = PyFloat_AsDouble(args[2]);
    if (PyErr_Occurred() || maker_update(maker, book, mid, multiplier) < 0) {
        return NULL;
    }
    return book_emit(book, args[3], args[4]);
}

static PyObject *
Maker_get_gap(MakerObject *maker, void *Py_UNUSED(closure))
{
    return PyLong_FromLongLong(maker->gap_ticks);
}

static PyObject *
Maker_get_touch_gap(MakerObject *maker, void *Py_UNUSED(closure))
{
    return PyLong_FromLongLong(maker->touch_gap_ticks);
}

static PyObject *
Maker_get_half_spread(MakerObject *maker, void *Py_UNUSED(closure))
{
    return PyFloat_FromDouble(maker->half_spread_ticks);
}

static PyObject *
Maker_get_size(MakerObject *maker, void *Py_UNUSED(closure))
{
    return PyFloat_FromDouble(maker->size_lots);
}

static PyGetSetDef Maker_getset[] = {
    {"gap_ticks", (getter)Maker_get_gap, NULL, "Typical spacing between deep levels, in ticks.", NULL},
    {"touch_gap_ticks", (getter)Maker_get_touch_gap, NULL, "Typical spacing near the touch, in ticks.", NULL},
    {"half_spread_ticks", (getter)Maker_get_half_spread, NULL, "Distance of a fresh touch from the mid.", NULL},
    {"size_lots", (getter)Maker_get_size, NULL, "Scale of resting sizes, in lots.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Maker_methods[] = {
    {"initial_book", (PyCFunction)(void (*)(void))Maker_initial_book, METH_FASTCALL,
     "A fresh book around mid_ticks, drawn from rng (not the maker's generator)."},
    {"update", (PyCFunction)(void (*)(void))Maker_update, METH_FASTCALL,
     "One book event: follow the fair mid if it moved, else one small random change; then fix the depth."},
    {"step", (PyCFunction)(void (*)(void))Maker_step, METH_FASTCALL,
     "update(book, mid_ticks, spread_multiplier), then book.emit(symbol_id, time_ns), in one call."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Maker_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "coinapi_emulator.simulator._speedups.BookMaker",
    .tp_basicsize = sizeof(MakerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The liquidity model of one symbol (the C twin of simulator.book.BookMaker).",
    .tp_new = Maker_new,
    .tp_dealloc = (destructor)Maker_dealloc,
    .tp_traverse = (traverseproc)Maker_traverse,
    .tp_clear = (inquiry)Maker_clear,
    .tp_methods = Maker_methods,
    .tp_getset = Maker_getset,
};


#define NS_PER_S 1000000000LL

/* ------------------------------------------------------------------------------------------------------ */
/* TradeFolder: ohlcv.py OhlcvEngine.add_trade over the engine's own state arrays                         */

/* The layout of a symbol's state array (simulator/ohlcv.py; OHLCV_LAYOUT lets a test compare the two). */
enum { C_START, C_END, C_OPEN_T, C_CLOSE_T, C_OPEN, C_HIGH, C_LOW, C_CLOSE, C_VOLUME, C_COUNT, C_KEY, C_SLOTS };
enum { S_LAST = 0, S_SETTLED = 1, S_SEQUENCE = 2, S_SECOND = 3, S_BLOCK = S_SECOND + C_SLOTS };
enum { S_CANDLES = S_BLOCK + C_SLOTS, BAR_VALUES = 10 };
#define INTERIM_EVERY_NS (5 * NS_PER_S)
#define MAX_PERIODS 64

typedef struct {
    PyObject_HEAD
    Py_buffer *views;       /* one held export per state array (``array('q')``): it stays put, as an exported
                             * array cannot resize, and the export keeps it alive */
    i64 **rows;             /* views[i].buf */
    Py_ssize_t nrows;
    PyObject *recent;       /* dict of symbol indices in order of last trading second, or None */
    PyObject *count_after;  /* OhlcvEngine._count_just_after */
    PyObject *symbol_ids;   /* list of str, by symbol index */
    PyObject *period_ids;   /* tuple of str, by period index */
    i64 next_key;
    Py_ssize_t seconds, blocks, lengths;
    i64 second_at[MAX_PERIODS], second_len[MAX_PERIODS], block_at[MAX_PERIODS], block_len[MAX_PERIODS];
    i64 length[MAX_PERIODS];
} FolderObject;

static PyTypeObject Folder_Type;

/* Python's ``%`` for a positive divisor (C's truncates towards zero; a never-traded symbol's time is < 0). */
static inline i64
floor_mod(i64 a, i64 b)
{
    i64 r = a % b;
    return r < 0 ? r + b : r;
}

/* ohlcv.py ``_merge``: the later trades at ``src`` into the candle or accumulator at ``dst``. */
static void
merge(i64 *st, Py_ssize_t src, Py_ssize_t dst)
{
    st[dst + C_CLOSE_T] = st[src + C_CLOSE_T];
    if (st[src + C_HIGH] > st[dst + C_HIGH]) {
        st[dst + C_HIGH] = st[src + C_HIGH];
    }
    if (st[src + C_LOW] < st[dst + C_LOW]) {
        st[dst + C_LOW] = st[src + C_LOW];
    }
    st[dst + C_CLOSE] = st[src + C_CLOSE];
    st[dst + C_VOLUME] += st[src + C_VOLUME];
    st[dst + C_COUNT] += st[src + C_COUNT];
}

/* ohlcv.py ``_fold``: the accumulator at ``acc`` into the candles at (``at``, ``len``), opening new ones. */
static void
fold(i64 *st, Py_ssize_t acc, const i64 *at, const i64 *len, Py_ssize_t n)
{
    i64 start = st[acc];
    for (Py_ssize_t i = 0; i < n; i++) {
        i64 *candle = st + at[i];
        if (candle[C_END] <= start) {
            memcpy(candle, st + acc, C_SLOTS * sizeof(i64));
            candle[C_START] = start - floor_mod(start, len[i]);
            candle[C_END] = candle[C_START] + len[i];
        }
        else {
            merge(st, acc, at[i]);
        }
    }
}

/* ohlcv.py ``OhlcvEngine._fold_pending``. */
static void
fold_pending(FolderObject *fo, i64 *st, i64 until)
{
    if (st[S_SECOND + C_COUNT]) {
        fold(st, S_SECOND, fo->second_at, fo->second_len, fo->seconds);
        if (st[S_BLOCK + C_COUNT]) {
            merge(st, S_SECOND, S_BLOCK);
        }
        else {
            memcpy(st + S_BLOCK, st + S_SECOND, C_SLOTS * sizeof(i64));
            st[S_BLOCK] -= floor_mod(st[S_BLOCK], INTERIM_EVERY_NS);
            st[S_BLOCK + C_END] = st[S_BLOCK] + INTERIM_EVERY_NS;
        }
        st[S_SECOND + C_COUNT] = 0;
    }
    if (st[S_BLOCK + C_COUNT] && until >= st[S_BLOCK + C_END]) {
        fold(st, S_BLOCK, fo->block_at, fo->block_len, fo->blocks);
        st[S_BLOCK + C_COUNT] = 0;
    }
}

/* ohlcv.py ``OhlcvEngine._settle``. */
static int
settle(FolderObject *fo, i64 *st, i64 until)
{
    i64 after = st[S_SETTLED];
    if (until <= after) {
        return 0;
    }
    st[S_SETTLED] = until;
    i64 last = st[S_LAST], count = 0;
    if (after == last && until == last + NS_PER_S) {
        PyObject *n = PyObject_CallFunction(fo->count_after, "L", until);
        if (as_i64(n, &count) < 0) {
            return -1;
        }
        st[S_SEQUENCE] += count;
        return 0;
    }
    i64 block = last - floor_mod(last, INTERIM_EVERY_NS) + INTERIM_EVERY_NS;
    int interim = after < block && block <= until;
    for (Py_ssize_t i = 0; i < fo->lengths; i++) {
        i64 end = last - floor_mod(last, fo->length[i]) + fo->length[i];
        count += after < end && end <= until;
        count += interim && block < end;
    }
    st[S_SEQUENCE] += count;
    return 0;
}

/* ohlcv.py ``OhlcvEngine._start_second``. */
static int
start_second(FolderObject *fo, i64 *st, PyObject *index, i64 t, i64 price, i64 size)
{
    fold_pending(fo, st, t);
    i64 second = t - floor_mod(t, NS_PER_S);
    if (fo->recent == Py_None) {
        if (settle(fo, st, second) < 0) {
            return -1;
        }
    }
    else if ((PyDict_Contains(fo->recent, index) == 1 && PyDict_DelItem(fo->recent, index) < 0) ||
             PyDict_SetItem(fo->recent, index, Py_None) < 0) {
        return -1;
    }
    i64 *acc = st + S_SECOND;
    st[S_LAST] = acc[C_START] = second;
    acc[C_END] = second + NS_PER_S;
    acc[C_OPEN_T] = acc[C_CLOSE_T] = t;
    acc[C_OPEN] = acc[C_HIGH] = acc[C_LOW] = acc[C_CLOSE] = price;
    acc[C_VOLUME] = size;
    acc[C_COUNT] = 1;
    acc[C_KEY] = fo->next_key++;
    return 0;
}

/* ohlcv.py ``OhlcvEngine.add_trade``. */
static int
folder_add(FolderObject *fo, PyObject *index, i64 t, i64 price, i64 size)
{
    Py_ssize_t i = PyLong_AsSsize_t(index);
    if (i == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (i < 0 || i >= fo->nrows) {
        PyErr_SetString(PyExc_IndexError, "symbol index out of range");
        return -1;
    }
    i64 *st = fo->rows[i];
    if (t >= st[S_SECOND + C_END]) {
        return start_second(fo, st, index, t, price, size);
    }
    i64 *acc = st + S_SECOND;
    acc[C_CLOSE_T] = t;
    if (price > acc[C_HIGH]) {
        acc[C_HIGH] = price;
    }
    else if (price < acc[C_LOW]) {
        acc[C_LOW] = price;
    }
    acc[C_CLOSE] = price;
    acc[C_VOLUME] += size;
    acc[C_COUNT] += 1;
    return 0;
}

static PyObject *
Folder_call(FolderObject *fo, PyObject *args, PyObject *kwargs)
{
    PyObject *index;
    i64 t, price, size;
    static char *keywords[] = {"index", "time_ns", "price_ticks", "size_lots", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OLLL:add_trade", keywords, &index, &t, &price, &size)) {
        return NULL;
    }
    if (folder_add(fo, index, t, price, size) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static int
periods_arg(PyObject *periods, i64 *at, i64 *len, Py_ssize_t *n)
{
    PyObject *seq = PySequence_Fast(periods, "periods must be a sequence of (offset, length)");
    if (seq == NULL) {
        return -1;
    }
    *n = PySequence_Fast_GET_SIZE(seq);
    int failed = *n > MAX_PERIODS;
    for (Py_ssize_t i = 0; !failed && i < *n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        failed = !PyArg_ParseTuple(pair, "LL", &at[i], &len[i]);
    }
    Py_DECREF(seq);
    if (failed && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "too many periods");
    }
    return failed ? -1 : 0;
}

/* Export every state array for the folder's life; each must be an ``array('q')`` of at least ``size`` items. */
static int
hold_rows(FolderObject *fo, PyObject *states, Py_ssize_t size)
{
    Py_ssize_t n = PyList_GET_SIZE(states);
    fo->views = PyMem_Calloc(n ? n : 1, sizeof(Py_buffer));
    fo->rows = PyMem_Calloc(n ? n : 1, sizeof(i64 *));
    if (fo->views == NULL || fo->rows == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_buffer *view = &fo->views[i];
        PyObject *state = PyList_GET_ITEM(states, i);
        if (!PyObject_CheckBuffer(state)) {
            goto not_state;
        }
        if (PyObject_GetBuffer(state, view, PyBUF_WRITABLE | PyBUF_FORMAT) < 0) {
            return -1;
        }
        fo->nrows = i + 1;
        if (view->format == NULL || strcmp(view->format, "q") != 0 || view->len < size * (Py_ssize_t)sizeof(i64)) {
            goto not_state;
        }
        fo->rows[i] = view->buf;
    }
    return 0;
not_state:
    PyErr_SetString(PyExc_TypeError, "states must be array('q') in the layout of simulator/ohlcv.py");
    return -1;
}

static PyObject *
Folder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"states",  "recent",      "second_periods", "block_periods", "lengths",
                               "count_after", "symbol_ids", "period_ids",     NULL};
    PyObject *states, *recent, *second_periods, *block_periods, *lengths, *count_after, *symbol_ids, *period_ids;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OOOOOO!O!:TradeFolder", keywords, &PyList_Type, &states,
                                     &recent, &second_periods, &block_periods, &lengths, &count_after, &PyList_Type,
                                     &symbol_ids, &PyTuple_Type, &period_ids)) {
        return NULL;
    }
    if (PyList_GET_SIZE(symbol_ids) != PyList_GET_SIZE(states)) {
        return PyErr_Format(PyExc_ValueError, "one symbol id per state list");
    }
    if (recent != Py_None && !PyDict_CheckExact(recent)) {
        return PyErr_Format(PyExc_TypeError, "recent must be a dict or None");
    }
    FolderObject *fo = PyObject_GC_New(FolderObject, type);
    if (fo == NULL) {
        return NULL;
    }
    fo->views = NULL;
    fo->rows = NULL;
    fo->nrows = 0;
    fo->recent = Py_NewRef(recent);
    fo->count_after = Py_NewRef(count_after);
    fo->symbol_ids = Py_NewRef(symbol_ids);
    fo->period_ids = Py_NewRef(period_ids);
    fo->next_key = 1;
    PyObject_GC_Track(fo);
    PyObject *seq = PySequence_Fast(lengths, "lengths must be a sequence of ints");
    int failed = seq == NULL || periods_arg(second_periods, fo->second_at, fo->second_len, &fo->seconds) < 0 ||
                 periods_arg(block_periods, fo->block_at, fo->block_len, &fo->blocks) < 0;
    if (!failed) {
        fo->lengths = PySequence_Fast_GET_SIZE(seq);
        failed = fo->lengths > MAX_PERIODS;
        for (Py_ssize_t i = 0; !failed && i < fo->lengths; i++) {
            failed = as_i64(Py_NewRef(PySequence_Fast_GET_ITEM(seq, i)), &fo->length[i]) < 0;
        }
        if (failed && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "too many periods");
        }
    }
    Py_XDECREF(seq);
    failed = failed || hold_rows(fo, states, S_CANDLES + C_SLOTS * fo->lengths) < 0;
    if (failed) {
        Py_DECREF(fo);
        return NULL;
    }
    return (PyObject *)fo;
}

static int
Folder_traverse(FolderObject *fo, visitproc visit, void *arg)
{
    Py_VISIT(fo->recent);
    Py_VISIT(fo->count_after);
    Py_VISIT(fo->symbol_ids);
    Py_VISIT(fo->period_ids);
    return 0;
}

static int
Folder_clear(FolderObject *fo)
{
    Py_CLEAR(fo->recent);
    Py_CLEAR(fo->count_after);
    Py_CLEAR(fo->symbol_ids);
    Py_CLEAR(fo->period_ids);
    return 0;
}

static void
Folder_dealloc(FolderObject *fo)
{
    PyObject_GC_UnTrack(fo);
    for (Py_ssize_t i = 0; i < fo->nrows; i++) {
        PyBuffer_Release(&fo->views[i]);
    }
    PyMem_Free(fo->views);
    PyMem_Free(fo->rows);
    Folder_clear(fo);
    PyObject_GC_Del(fo);
}

static PyTypeObject *bar_type;
static Py_ssize_t bar_at[15]; /* symbol_id, period_id, ten candle values, is_final, time_ns, sequence */

/* One symbol's bar of period ``pi`` due at a whole second: its sort key and the symbol index. */
typedef struct {
    i64 key;
    Py_ssize_t index;
} BarItem;

static int
bar_item_order(const void *a, const void *b)
{
    const BarItem *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return (x->index > y->index) - (x->index < y->index);
}

/* ohlcv.py ``_sort_key``. */
static i64
bar_sort_key(const i64 *st, Py_ssize_t pi, int is_final, i64 second_ns)
{
    const i64 *candle = st + S_CANDLES + C_SLOTS * pi;
    if (is_final || candle[C_START] >= second_ns - INTERIM_EVERY_NS) {
        return candle[C_KEY];
    }
    return st[S_BLOCK + C_KEY];
}

/* ohlcv.py ``OhlcvEngine._append_bar`` (``_fast.make_bar``). */
static int
append_bar(FolderObject *fo, PyObject *out, Py_ssize_t index, Py_ssize_t pi, int is_final, PyObject *second,
           i64 sequence)
{
    const i64 *candle = fo->rows[index] + S_CANDLES + C_SLOTS * pi;
    PyObject *values[15];
    values[0] = Py_NewRef(PyList_GET_ITEM(fo->symbol_ids, index));
    values[1] = Py_NewRef(PyTuple_GET_ITEM(fo->period_ids, pi));
    for (int i = 0; i < BAR_VALUES; i++) {
        values[2 + i] = PyLong_FromLongLong(candle[i]);
    }
    values[12] = PyBool_FromLong(is_final);
    values[13] = Py_NewRef(second);
    values[14] = PyLong_FromLongLong(sequence);
    PyObject *bar = new_event(bar_type, bar_at, values, 15);
    if (bar == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, bar);
    Py_DECREF(bar);
    return failed;
}

/* Per due period: (period index, earliest last-trade second of an emitting symbol, is_final). */
typedef struct {
    Py_ssize_t pi;
    i64 since;
    int is_final;
    BarItem *items;
    Py_ssize_t len, cap;
} DuePeriod;

static int
due_push(DuePeriod *d, i64 key, Py_ssize_t index)
{
    if (d->len == d->cap) {
        Py_ssize_t cap = d->cap ? 2 * d->cap : 256;
        BarItem *items = PyMem_Realloc(d->items, cap * sizeof(BarItem));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        d->items = items;
        d->cap = cap;
    }
    d->items[d->len++] = (BarItem){key, index};
    return 0;
}

/* Find the symbols that emit at ``second_ns`` among the most recently traded (ohlcv.py ``_emit_all``). */
static int
collect_bars(FolderObject *fo, DuePeriod *due, Py_ssize_t ndue, i64 second_ns)
{
    i64 threshold = due[0].since;
    for (Py_ssize_t k = 1; k < ndue; k++) {
        threshold = due[k].since < threshold ? due[k].since : threshold;
    }
    PyObject *newest_first = PyObject_CallMethod(fo->recent, "__reversed__", NULL);
    if (newest_first == NULL) {
        return -1;
    }
    PyObject *index_obj;
    int failed = 0;
    while (!failed && (index_obj = PyIter_Next(newest_first)) != NULL) {
        Py_ssize_t index = PyLong_AsSsize_t(index_obj);
        Py_DECREF(index_obj);
        if (index < 0 || index >= fo->nrows) {
            failed = 1;
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_IndexError, "symbol index out of range");
            }
            break;
        }
        i64 *st = fo->rows[index];
        i64 last = st[S_LAST];
        if (last < threshold) {
            break;
        }
        fold_pending(fo, st, second_ns);
        for (Py_ssize_t k = 0; !failed && k < ndue; k++) {
            if (last >= due[k].since) {
                failed = due_push(&due[k], bar_sort_key(st, due[k].pi, due[k].is_final, second_ns), index) < 0;
            }
        }
    }
    Py_DECREF(newest_first);
    return failed || PyErr_Occurred() ? -1 : 0;
}

static int
emit_bars(FolderObject *fo, DuePeriod *due, Py_ssize_t ndue, PyObject *second, PyObject *out)
{
    for (Py_ssize_t k = 0; k < ndue; k++) {
        qsort(due[k].items, due[k].len, sizeof(BarItem), bar_item_order);
        for (Py_ssize_t j = 0; j < due[k].len; j++) {
            Py_ssize_t index = due[k].items[j].index;
            i64 sequence = ++fo->rows[index][S_SEQUENCE];
            if (append_bar(fo, out, index, due[k].pi, due[k].is_final, second, sequence) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* ``OhlcvEngine._due``'s list of (period index, since, is_final), into ``due`` (its items lists empty). */
static int
parse_due(FolderObject *fo, PyObject *list, DuePeriod *due, Py_ssize_t *ndue)
{
    memset(due, 0, MAX_PERIODS * sizeof(DuePeriod));
    *ndue = PyList_GET_SIZE(list);
    if (*ndue > MAX_PERIODS) {
        PyErr_SetString(PyExc_ValueError, "too many periods");
        return -1;
    }
    for (Py_ssize_t k = 0; k < *ndue; k++) {
        i64 pi;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, k), "LLp", &pi, &due[k].since, &due[k].is_final)) {
            return -1;
        }
        if (pi < 0 || pi >= PyTuple_GET_SIZE(fo->period_ids)) {
            PyErr_SetString(PyExc_IndexError, "period index out of range");
            return -1;
        }
        due[k].pi = (Py_ssize_t)pi;
    }
    return 0;
}

static void
free_due(DuePeriod *due, Py_ssize_t ndue)
{
    for (Py_ssize_t k = 0; k < ndue; k++) {
        PyMem_Free(due[k].items);
    }
}

static PyObject *
Folder_emit_all(FolderObject *fo, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_Check(args[0]) || !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "emit_all(due: list, second_ns: int, out: list)");
        return NULL;
    }
    if (fo->recent == Py_None) {
        PyErr_SetString(PyExc_ValueError, "emit_all needs an engine that builds every bar");
        return NULL;
    }
    DuePeriod due[MAX_PERIODS];
    Py_ssize_t ndue = 0;
    i64 second_ns = PyLong_AsLongLong(args[1]);
    int failed = (second_ns == -1 && PyErr_Occurred()) || parse_due(fo, args[0], due, &ndue) < 0;
    failed = failed || (ndue && (collect_bars(fo, due, ndue, second_ns) < 0 ||
                                 emit_bars(fo, due, ndue, args[1], args[2]) < 0));
    free_due(due, ndue);
    return failed ? NULL : Py_NewRef(Py_None);
}

/* ohlcv.py ``OhlcvEngine._sequence``: the candles the symbol emitted before ``second_ns``, plus its bars of the
 * periods up to ``pi`` at ``second_ns``. */
static int
wanted_sequence(FolderObject *fo, i64 *st, Py_ssize_t pi, const DuePeriod *due, Py_ssize_t ndue, i64 second_ns,
                i64 *sequence)
{
    if (settle(fo, st, second_ns - NS_PER_S) < 0) {
        return -1;
    }
    i64 last = st[S_LAST], count = 0;
    for (Py_ssize_t k = 0; k < ndue; k++) {
        count += due[k].pi <= pi && last >= due[k].since;
    }
    *sequence = st[S_SEQUENCE] + count;
    return 0;
}

/* One due period of ohlcv.py ``OhlcvEngine._emit_wanted``: the bars of the symbols in ``wanted`` (a set of
 * indices) that traded in its window, in the order of their first trade there. */
static int
emit_wanted_period(FolderObject *fo, DuePeriod *d, const DuePeriod *due, Py_ssize_t ndue, PyObject *wanted,
                   i64 second_ns, PyObject *second, PyObject *out)
{
    PyObject *indices = PyObject_GetIter(wanted);
    if (indices == NULL) {
        return -1;
    }
    PyObject *index_obj;
    int failed = 0;
    while (!failed && (index_obj = PyIter_Next(indices)) != NULL) {
        Py_ssize_t index = PyLong_AsSsize_t(index_obj);
        Py_DECREF(index_obj);
        if (index < 0 || index >= fo->nrows) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_IndexError, "symbol index out of range");
            }
            failed = 1;
            break;
        }
        i64 *st = fo->rows[index];
        if (st[S_LAST] >= d->since) {
            fold_pending(fo, st, second_ns);
            failed = due_push(d, bar_sort_key(st, d->pi, d->is_final, second_ns), index) < 0;
        }
    }
    Py_DECREF(indices);
    if (failed || PyErr_Occurred()) {
        return -1;
    }
    qsort(d->items, d->len, sizeof(BarItem), bar_item_order);
    for (Py_ssize_t j = 0; j < d->len; j++) {
        Py_ssize_t index = d->items[j].index;
        i64 sequence;
        if (wanted_sequence(fo, fo->rows[index], d->pi, due, ndue, second_ns, &sequence) < 0 ||
            append_bar(fo, out, index, d->pi, d->is_final, second, sequence) < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
Folder_emit_wanted(FolderObject *fo, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_Check(args[0]) || !PyList_Check(args[2]) || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "emit_wanted(due: list, second_ns: int, out: list, wanted: list)");
        return NULL;
    }
    if (fo->recent != Py_None) {
        PyErr_SetString(PyExc_ValueError, "emit_wanted needs an engine that builds only the wanted bars");
        return NULL;
    }
    DuePeriod due[MAX_PERIODS];
    Py_ssize_t ndue = 0;
    i64 second_ns = PyLong_AsLongLong(args[1]);
    int failed = (second_ns == -1 && PyErr_Occurred()) || parse_due(fo, args[0], due, &ndue) < 0;
    for (Py_ssize_t k = 0; !failed && k < ndue; k++) {
        if (due[k].pi >= PyList_GET_SIZE(args[3])) {
            PyErr_SetString(PyExc_IndexError, "one wanted set per period");
            failed = 1;
            break;
        }
        PyObject *wanted = PyList_GET_ITEM(args[3], due[k].pi);
        int any = PyObject_IsTrue(wanted); /* ``if not wanted: continue`` (an empty set, or None) */
        failed = any < 0 || (any && emit_wanted_period(fo, &due[k], due, ndue, wanted, second_ns, args[1],
                                                       args[2]) < 0);
    }
    free_due(due, ndue);
    return failed ? NULL : Py_NewRef(Py_None);
}

static PyMethodDef Folder_methods[] = {
    {"emit_all", (PyCFunction)(void (*)(void))Folder_emit_all, METH_FASTCALL,
     "OhlcvEngine._emit_all: append every bar due at second_ns to out, counting each as its symbol's next."},
    {"emit_wanted", (PyCFunction)(void (*)(void))Folder_emit_wanted, METH_FASTCALL,
     "OhlcvEngine._emit_wanted: append the bars of the wanted pairs (wanted[pi]: a set of symbol indices) due "
     "at second_ns to out."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Folder_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "coinapi_emulator.simulator._speedups.TradeFolder",
    .tp_basicsize = sizeof(FolderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "OhlcvEngine.add_trade in C, over the engine's state arrays: call it with "
              "(index, time_ns, price_ticks, size_lots).",
    .tp_new = Folder_new,
    .tp_call = (ternaryfunc)Folder_call,
    .tp_methods = Folder_methods,
    .tp_dealloc = (destructor)Folder_dealloc,
    .tp_traverse = (traverseproc)Folder_traverse,
    .tp_clear = (inquiry)Folder_clear,
};

/* ------------------------------------------------------------------------------------------------------ */
/* SymbolState: one symbol's trades and book changes (market.py SymbolState.event, flow.py, price.py)     */

#define BASIS_REFRESH_NS 100000000LL      /* price.py BASIS_REFRESH_NS */
#define REFILL_RATE_PER_S 20.0            /* market.py _REFILL_RATE_PER_S */
#define SIZE_TAIL_EXPONENT (-1.0 / 1.4)   /* flow.py _SIZE_EXPONENT */
#define TRADE_SIZE_CAP 400.0              /* flow.py SIZE_CAP */
#define ROUND_SHARE 0.4                   /* flow.py ROUND_SHARE */
#define METAORDER_SHARE 0.7               /* flow.py METAORDER_SHARE */
#define RUN_EXPONENT (-1.0 / 1.3)         /* flow.py _RUN_EXPONENT */
#define RUN_CAP 20000.0                   /* flow.py RUN_CAP */
#define SQRT12 3.4641016151377544
#define YEAR_S (365.0 * 86400.0)
enum { LINEAR = 0, FUTURE = 1, OPTION = 2 }; /* price.py _LINEAR, _FUTURE, _OPTION */

static PyTypeObject *trade_type;
static Py_ssize_t trade_at[6]; /* symbol_id, time_exchange_ns, price_ticks, size_lots, taker_side, uuid */
static PyObject *taker_buy, *taker_sell, *random_class, *uuid_bits;

typedef struct {
    PyObject_HEAD
    PyObject *symbol;
    PyObject *symbol_id;
    PyObject *index;
    PyObject *rng;
    PyObject *random;      /* rng.random */
    PyObject *getrandbits; /* rng.getrandbits */
    PyObject *factors;     /* PriceFactors: read when the fair mid expires and at each arrival (activity) */
    /* offsets of the factors' slots read on the hot path: activity, vol_scale, step_count, next_step_ns, history */
    Py_ssize_t at_activity, at_vol_scale, at_step_count, at_next_step_ns, at_history;
    PyObject *on_trade;
    FolderObject *folder;  /* on_trade itself when it is a TradeFolder: called without boxing */
    MakerObject *maker;
    BookObject *book;      /* NULL until first needed */
    PyObject *init_seed;
    double mid0;
    /* flow.py TradeFlow */
    double beta, jump, base_rate, excitation, trade_size_lots;
    int last_buy, run_buy;
    i64 run_left;
    /* price.py SymbolPricer */
    Py_ssize_t base, quote, lag;
    int kind, is_call;
    double ticks, sd, decay_per_ns, mean, basis, carry_per_ns, strike, vol, mid;
    double premium, premium_sd, premium_decay_per_ns;
    i64 last_ns, expiry_ns, valid_until_ns;
    /* market.py SymbolState */
    double us_per_book, spread_multiplier;
    int halted;
    i64 next_trade_ns, next_book_ns, next_ns, trades_count, volume_lots, last_price_ticks;
} StateObject;

static PyTypeObject State_Type;

static int
attr_double(PyObject *obj, const char *name, double *out)
{
    PyObject *value = PyObject_GetAttrString(obj, name);
    if (value == NULL) {
        return -1;
    }
    *out = PyFloat_AsDouble(value);
    Py_DECREF(value);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static int
attr_i64(PyObject *obj, const char *name, i64 *out)
{
    return as_i64(PyObject_GetAttrString(obj, name), out);
}

static int
attr_bool(PyObject *obj, const char *name, int *out)
{
    PyObject *value = PyObject_GetAttrString(obj, name);
    if (value == NULL) {
        return -1;
    }
    *out = PyObject_IsTrue(value);
    Py_DECREF(value);
    return *out < 0 ? -1 : 0;
}

/* The value in the factors' slot at ``at`` (borrowed): read through the slot's offset, as for events, since
 * a lookup by name on every event would cost more than the rest of a gap draw. */
static PyObject *
factors_slot(StateObject *st, Py_ssize_t at)
{
    PyObject *value = *(PyObject **)((char *)st->factors + at);
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a PriceFactors slot is not set");
    }
    return value;
}

static int
factors_double(StateObject *st, Py_ssize_t at, double *out)
{
    PyObject *value = factors_slot(st, at);
    if (value == NULL) {
        return -1;
    }
    *out = PyFloat_AsDouble(value);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static int
factors_i64(StateObject *st, Py_ssize_t at, i64 *out)
{
    PyObject *value = factors_slot(st, at);
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsLongLong(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
attr_ref(PyObject *obj, const char *name, PyObject **out)
{
    *out = PyObject_GetAttrString(obj, name);
    return *out == NULL ? -1 : 0;
}

static int
take_flow(StateObject *st, PyObject *flow)
{
    return attr_double(flow, "_beta", &st->beta) || attr_double(flow, "_jump", &st->jump) ||
                   attr_double(flow, "base_rate_per_s", &st->base_rate) ||
                   attr_double(flow, "_excitation", &st->excitation) ||
                   attr_double(flow, "_size_lots", &st->trade_size_lots) ||
                   attr_bool(flow, "_last_buy", &st->last_buy) || attr_bool(flow, "_run_buy", &st->run_buy) ||
                   attr_i64(flow, "_run_left", &st->run_left)
               ? -1
               : 0;
}

static int
take_pricer(StateObject *st, PyObject *pricer)
{
    i64 base, quote, kind, lag;
    if (attr_i64(pricer, "_base", &base) || attr_i64(pricer, "_quote", &quote) || attr_i64(pricer, "_lag", &lag) ||
        attr_double(pricer, "premium", &st->premium) || attr_double(pricer, "_premium_sd", &st->premium_sd) ||
        attr_double(pricer, "_premium_decay_per_ns", &st->premium_decay_per_ns) ||
        attr_i64(pricer, "_kind_code", &kind) || attr_bool(pricer, "_is_call", &st->is_call) ||
        attr_double(pricer, "_ticks", &st->ticks) || attr_double(pricer, "_sd", &st->sd) ||
        attr_double(pricer, "_decay_per_ns", &st->decay_per_ns) || attr_double(pricer, "_mean", &st->mean) ||
        attr_double(pricer, "basis", &st->basis) || attr_double(pricer, "_carry_per_ns", &st->carry_per_ns) ||
        attr_double(pricer, "_strike", &st->strike) || attr_double(pricer, "_vol", &st->vol) ||
        attr_double(pricer, "_mid", &st->mid) || attr_i64(pricer, "_last_ns", &st->last_ns) ||
        attr_i64(pricer, "_expiry_ns", &st->expiry_ns) || attr_i64(pricer, "_valid_until_ns", &st->valid_until_ns)) {
        return -1;
    }
    st->base = (Py_ssize_t)base;
    st->quote = (Py_ssize_t)quote;
    st->lag = (Py_ssize_t)lag;
    st->kind = (int)kind;
    return 0;
}

static int
take_factor_slots(StateObject *st)
{
    PyTypeObject *type = Py_TYPE(st->factors);
    return slot_offset(type, "activity", &st->at_activity) || slot_offset(type, "vol_scale", &st->at_vol_scale) ||
                   slot_offset(type, "step_count", &st->at_step_count) ||
                   slot_offset(type, "next_step_ns", &st->at_next_step_ns) ||
                   slot_offset(type, "history", &st->at_history)
               ? -1
               : 0;
}

static int
take_state(StateObject *st, PyObject *ref)
{
    PyObject *maker = NULL, *flow = NULL, *pricer = NULL, *book = NULL;
    int failed = attr_ref(ref, "symbol", &st->symbol) || attr_ref(ref, "symbol_id", &st->symbol_id) ||
                 attr_ref(ref, "index", &st->index) || attr_ref(ref, "rng", &st->rng) ||
                 attr_ref(st->rng, "random", &st->random) || attr_ref(st->rng, "getrandbits", &st->getrandbits) ||
                 attr_ref(ref, "_factors", &st->factors) || take_factor_slots(st) ||
                 attr_ref(ref, "_on_trade", &st->on_trade) || attr_ref(ref, "_init_seed", &st->init_seed) ||
                 attr_double(ref, "_mid0", &st->mid0) || attr_ref(ref, "book_maker", &maker) ||
                 attr_ref(ref, "flow", &flow) || attr_ref(ref, "pricer", &pricer) || attr_ref(ref, "_book", &book) ||
                 take_flow(st, flow) || take_pricer(st, pricer) ||
                 attr_double(ref, "us_per_book", &st->us_per_book) ||
                 attr_double(ref, "spread_multiplier", &st->spread_multiplier) ||
                 attr_bool(ref, "halted", &st->halted) || attr_i64(ref, "next_trade_ns", &st->next_trade_ns) ||
                 attr_i64(ref, "next_book_ns", &st->next_book_ns) || attr_i64(ref, "next_ns", &st->next_ns) ||
                 attr_i64(ref, "trades_count", &st->trades_count) || attr_i64(ref, "volume_lots", &st->volume_lots) ||
                 attr_i64(ref, "last_price_ticks", &st->last_price_ticks);
    Py_XDECREF(flow);
    Py_XDECREF(pricer);
    if (!failed && Py_IS_TYPE(st->on_trade, &Folder_Type)) {
        st->folder = (FolderObject *)st->on_trade; /* borrowed: on_trade holds it */
    }
    if (!failed && !Py_IS_TYPE(maker, &Maker_Type)) {
        PyErr_SetString(PyExc_TypeError, "the reference state must use simulator._speedups.BookMaker");
        failed = 1;
    }
    if (!failed && book != Py_None && !Py_IS_TYPE(book, &Book_Type)) {
        PyErr_SetString(PyExc_TypeError, "the reference state's book must be a coinapi_emulator.simulator._speedups.Book");
        failed = 1;
    }
    if (failed) {
        Py_XDECREF(maker);
        Py_XDECREF(book);
        return -1;
    }
    st->maker = (MakerObject *)maker;
    if (book == Py_None) {
        Py_DECREF(book);
    }
    else {
        st->book = (BookObject *)book;
    }
    return 0;
}

static PyObject *
State_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *reference;
    static char *keywords[] = {"reference", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:SymbolState", keywords, &reference)) {
        return NULL;
    }
    StateObject *st = PyObject_GC_New(StateObject, type);
    if (st == NULL) {
        return NULL;
    }
    memset(&st->symbol, 0, sizeof(StateObject) - offsetof(StateObject, symbol));
    PyObject_GC_Track(st);
    if (take_state(st, reference) < 0) {
        Py_DECREF(st);
        return NULL;
    }
    return (PyObject *)st;
}

static int
State_traverse(StateObject *st, visitproc visit, void *arg)
{
    Py_VISIT(st->symbol);
    Py_VISIT(st->symbol_id);
    Py_VISIT(st->index);
    Py_VISIT(st->rng);
    Py_VISIT(st->random);
    Py_VISIT(st->getrandbits);
    Py_VISIT(st->factors);
    Py_VISIT(st->on_trade);
    Py_VISIT(st->maker);
    Py_VISIT(st->book);
    Py_VISIT(st->init_seed);
    return 0;
}

static int
State_clear(StateObject *st)
{
    Py_CLEAR(st->symbol);
    Py_CLEAR(st->symbol_id);
    Py_CLEAR(st->index);
    Py_CLEAR(st->rng);
    Py_CLEAR(st->random);
    Py_CLEAR(st->getrandbits);
    Py_CLEAR(st->factors);
    st->folder = NULL;
    Py_CLEAR(st->on_trade);
    Py_CLEAR(st->maker);
    Py_CLEAR(st->book);
    Py_CLEAR(st->init_seed);
    return 0;
}

static void
State_dealloc(StateObject *st)
{
    PyObject_GC_UnTrack(st);
    State_clear(st);
    PyObject_GC_Del(st);
}

/* The book, built on first use from the start-time mid with its own generator (market.py SymbolState.book). */
static BookObject *
state_book(StateObject *st)
{
    if (st->book != NULL) {
        return st->book;
    }
    PyObject *rng = PyObject_CallOneArg(random_class, st->init_seed);
    if (rng == NULL) {
        return NULL;
    }
    PyObject *mid = PyFloat_FromDouble(st->mid0);
    PyObject *args[2] = {mid, rng};
    PyObject *book = mid == NULL ? NULL : Maker_initial_book(st->maker, args, 2);
    Py_XDECREF(mid);
    Py_DECREF(rng);
    st->book = (BookObject *)book;
    return st->book;
}

/* price.py ``SymbolPricer.fair_mid_ticks``. */
static double
normal_cdf(double x)
{
    return 0.5 * (1.0 + erf(x / sqrt(2.0)));
}

static double
black_scholes(double spot, double strike, i64 remaining_ns, double vol, int is_call)
{
    double years = (double)(remaining_ns > 60000000000LL ? remaining_ns : 60000000000LL) / (YEAR_S * 1e9);
    double width = vol * sqrt(years);
    double d1 = (log(spot / strike) + 0.5 * width * width) / width;
    double d2 = d1 - width;
    if (is_call) {
        return spot * normal_cdf(d1) - strike * normal_cdf(d2);
    }
    return strike * normal_cdf(-d2) - spot * normal_cdf(-d1);
}

/* The factor ratio base / quote as this venue sees it: ``lag`` steps back in ``factors.history`` (a ring). */
static int
lagged_spot(StateObject *st, i64 step_count, double *out)
{
    PyObject *history = factors_slot(st, st->at_history);
    if (history == NULL) {
        return -1;
    }
    Py_ssize_t size = PyList_Check(history) ? PyList_GET_SIZE(history) : 0;
    PyObject *log_usd = size ? PyList_GET_ITEM(history, (Py_ssize_t)(((step_count - st->lag) % size + size) % size)) : NULL;
    int failed = log_usd == NULL || !PyList_Check(log_usd) || st->base >= PyList_GET_SIZE(log_usd) ||
                 st->quote >= PyList_GET_SIZE(log_usd);
    if (failed) {
        PyErr_SetString(PyExc_TypeError, "factors.history must be a non-empty list of lists covering every asset");
    }
    else {
        *out = exp(PyFloat_AsDouble(PyList_GET_ITEM(log_usd, st->base)) -
                   PyFloat_AsDouble(PyList_GET_ITEM(log_usd, st->quote)));
    }
    return failed || PyErr_Occurred() ? -1 : 0;
}

static int
fair_mid(StateObject *st, i64 t, double *out)
{
    if (t < st->valid_until_ns) {
        *out = st->mid;
        return 0;
    }
    i64 dt = t - st->last_ns;
    if (dt >= BASIS_REFRESH_NS) {
        st->last_ns = t;
        double r, vol_scale;
        if (factors_double(st, st->at_vol_scale, &vol_scale) < 0 || draw(st->random, &r) < 0) {
            return -1;
        }
        double decay = exp(-st->decay_per_ns * (double)dt);
        double noise = (r - 0.5) * SQRT12;
        st->basis = st->basis * decay + st->sd * vol_scale * sqrt(1.0 - decay * decay) * noise;
        if (draw(st->random, &r) < 0) {
            return -1;
        }
        decay = exp(-st->premium_decay_per_ns * (double)dt);
        noise = (r - 0.5) * SQRT12;
        st->premium = st->mean + (st->premium - st->mean) * decay + st->premium_sd * sqrt(1.0 - decay * decay) * noise;
    }
    i64 next_step_ns, step_count;
    if (factors_i64(st, st->at_next_step_ns, &next_step_ns) < 0 ||
        factors_i64(st, st->at_step_count, &step_count) < 0) {
        return -1;
    }
    i64 refresh_ns = st->last_ns + BASIS_REFRESH_NS;
    st->valid_until_ns = refresh_ns < next_step_ns ? refresh_ns : next_step_ns;
    double spot;
    if (lagged_spot(st, step_count, &spot) < 0) {
        return -1;
    }
    double deviation = 1.0 + st->premium + st->basis;
    double mid;
    if (st->kind == LINEAR) {
        mid = spot * deviation * st->ticks;
    }
    else if (st->kind == FUTURE) {
        i64 remaining = st->expiry_ns - t > 0 ? st->expiry_ns - t : 0;
        mid = spot * (deviation + st->carry_per_ns * (double)remaining) * st->ticks;
    }
    else {
        double value = black_scholes(spot, st->strike, st->expiry_ns - t, st->vol, st->is_call);
        mid = value * deviation * st->ticks;
    }
    st->mid = mid;
    *out = mid;
    return PyErr_Occurred() ? -1 : 0;
}

/* flow.py ``TradeFlow.next_gap_ns`` at the factors' current activity. */
static int
next_trade_gap(StateObject *st, i64 *out)
{
    double r, beta = st->beta, gap_s = INFINITY, activity;
    if (factors_double(st, st->at_activity, &activity) < 0) {
        return -1;
    }
    if (st->base_rate > 0.0) {
        if (draw(st->random, &r) < 0) {
            return -1;
        }
        gap_s = -log(1.0 - r) / st->base_rate;
    }
    double excitation = st->excitation;
    if (excitation > 1e-12) {
        if (draw(st->random, &r) < 0) {
            return -1;
        }
        double d = 1.0 + beta * log(1.0 - r) / excitation;
        if (d > 0.0) {
            double excited = -log(d) / beta;
            if (excited < gap_s) {
                gap_s = excited;
            }
        }
    }
    if (gap_s == INFINITY) {
        *out = (i64)1 << 62;
        return 0;
    }
    st->excitation = excitation * exp(-beta * gap_s) + st->jump;
    *out = ((i64)floor(gap_s / activity * 1e6) + 1) * 1000;
    return 0;
}

/* A lower-case RFC 4122 version-4 UUID string from the generator's next 128 bits (market.py _uuid4). */
static PyObject *
draw_uuid(StateObject *st)
{
    static const char hex[] = "0123456789abcdef";
    PyObject *bits = PyObject_CallOneArg(st->getrandbits, uuid_bits);
    if (bits == NULL) {
        return NULL;
    }
    unsigned char b[16];
#if PY_VERSION_HEX >= 0x030D0000
    int failed = _PyLong_AsByteArray((PyLongObject *)bits, b, 16, 0, 0, 1);
#else
    int failed = _PyLong_AsByteArray((PyLongObject *)bits, b, 16, 0, 0);
#endif
    Py_DECREF(bits);
    if (failed < 0) {
        return NULL;
    }
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    PyObject *text = PyUnicode_New(36, 127);
    if (text == NULL) {
        return NULL;
    }
    Py_UCS1 *c = PyUnicode_1BYTE_DATA(text);
    for (int i = 0, j = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            c[j++] = '-';
        }
        c[j++] = hex[b[i] >> 4];
        c[j++] = hex[b[i] & 0xF];
    }
    return text;
}

static int
append_trade(StateObject *st, PyObject *out, PyObject *time_ns, i64 price, i64 size, PyObject *side)
{
    PyObject *price_obj = PyLong_FromLongLong(price);
    PyObject *size_obj = PyLong_FromLongLong(size);
    PyObject *values[6] = {Py_NewRef(st->symbol_id), Py_NewRef(time_ns), price_obj, size_obj, Py_NewRef(side),
                           draw_uuid(st)};
    if (values[5] == NULL || price_obj == NULL || size_obj == NULL) {
        for (int i = 0; i < 6; i++) {
            Py_XDECREF(values[i]);
        }
        return -1;
    }
    PyObject *call[4] = {st->index, time_ns, price_obj, size_obj};
    PyObject *trade = new_event(trade_type, trade_at, values, 6);
    if (trade == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, trade);
    Py_DECREF(trade);
    if (failed) {
        return -1;
    }
    if (st->folder != NULL) {
        return folder_add(st->folder, st->index, PyLong_AsLongLong(time_ns), price, size);
    }
    PyObject *done = PyObject_Vectorcall(st->on_trade, call, 4, NULL);
    Py_XDECREF(done);
    return done == NULL ? -1 : 0;
}

/* flow.py ``TradeFlow.taker_is_buy``. */
static int
taker_side(StateObject *st, double pressure, int *is_buy)
{
    double r;
    if (draw(st->random, &r) < 0) {
        return -1;
    }
    if (r < METAORDER_SHARE) {
        if (st->run_left <= 0) {
            if (draw(st->random, &r) < 0) {
                return -1;
            }
            double length = pow(1.0 - r, RUN_EXPONENT);
            st->run_left = length < RUN_CAP ? (i64)floor(length) : (i64)RUN_CAP;
            if (draw(st->random, &r) < 0) {
                return -1;
            }
            st->run_buy = r < 0.5;
        }
        st->run_left -= 1;
        *is_buy = st->run_buy;
    }
    else {
        double lean = 0.4 * pressure / (1.0 + fabs(pressure)) + (st->last_buy ? 0.08 : -0.08);
        if (draw(st->random, &r) < 0) {
            return -1;
        }
        *is_buy = r < 0.5 + lean;
    }
    st->last_buy = *is_buy;
    return 0;
}

/* flow.py ``TradeFlow.size_lots``. */
static int
trade_size(StateObject *st, i64 *out)
{
    double r;
    if (draw(st->random, &r) < 0) {
        return -1;
    }
    double scale = pow(1.0 - r, SIZE_TAIL_EXPONENT);
    if (scale > TRADE_SIZE_CAP) {
        scale = TRADE_SIZE_CAP;
    }
    i64 lots = (i64)floor(st->trade_size_lots * scale);
    if (lots == 0) {
        lots = 1;
    }
    if (draw(st->random, &r) < 0) {
        return -1;
    }
    if (r < ROUND_SHARE && lots >= 10) {
        i64 unit = 1;
        while (unit <= lots / 10) {
            unit *= 10;
        }
        lots = (i64)floor((double)lots / (double)unit + 0.5) * unit;
    }
    *out = lots;
    return 0;
}

/* market.py ``SymbolState._trade``. */
static PyObject *
state_trade(StateObject *st, i64 t, PyObject *time_ns)
{
    i64 gap;
    if (next_trade_gap(st, &gap) < 0) {
        return NULL;
    }
    st->next_trade_ns = t + gap;
    if (st->halted) {
        return PyTuple_New(0);
    }
    BookObject *book = state_book(st);
    double mid, r;
    i64 touch[4];
    if (book == NULL || fair_mid(st, t, &mid) < 0 || book_touch(book, touch) < 0) {
        return NULL;
    }
    double pressure = (mid - 0.5 * (double)(touch[0] + touch[2])) / (double)(touch[0] - touch[2]);
    int is_buy;
    i64 size;
    if (taker_side(st, pressure, &is_buy) < 0 || trade_size(st, &size) < 0) {
        return NULL;
    }
    PyObject *fills = book_sweep(is_buy ? &book->asks : &book->bids, size);
    if (fills == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(fills);
    if (n == 0) {
        Py_DECREF(fills);
        return PyTuple_New(0);
    }
    PyObject *out = PyList_New(0);
    i64 volume = 0, price = 0;
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *fill = PyList_GET_ITEM(fills, i);
        price = PyLong_AsLongLong(PyTuple_GET_ITEM(fill, 0));
        i64 filled = PyLong_AsLongLong(PyTuple_GET_ITEM(fill, 1));
        if (append_trade(st, out, time_ns, price, filled, is_buy ? taker_buy : taker_sell) < 0) {
            Py_CLEAR(out);
        }
        volume += filled;
    }
    Py_DECREF(fills);
    if (out == NULL) {
        return NULL;
    }
    st->trades_count += n;
    st->volume_lots += volume;
    st->last_price_ticks = price;
    PyObject *changes = book_emit(book, st->symbol_id, time_ns);
    int failed = changes == NULL || PyList_SetSlice(out, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, changes) < 0;
    Py_XDECREF(changes);
    if (failed || draw(st->random, &r) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    i64 refill_ns = t + ((i64)floor(-log(1.0 - r) / REFILL_RATE_PER_S * 1e6) + 1) * 1000;
    if (refill_ns < st->next_book_ns) {
        st->next_book_ns = refill_ns;
    }
    return out;
}

/* market.py ``SymbolState._book_event``. */
static PyObject *
state_book_event(StateObject *st, i64 t, PyObject *time_ns)
{
    double r, mid, activity;
    if (draw(st->random, &r) < 0 || factors_double(st, st->at_activity, &activity) < 0) {
        return NULL;
    }
    st->next_book_ns = t + ((i64)floor(-log(1.0 - r) * st->us_per_book / activity) + 1) * 1000;
    if (st->halted) {
        return PyTuple_New(0);
    }
    if (fair_mid(st, t, &mid) < 0) {
        return NULL;
    }
    BookObject *book = state_book(st);
    if (book == NULL || maker_update(st->maker, book, mid, st->spread_multiplier) < 0) {
        return NULL;
    }
    return book_emit(book, st->symbol_id, time_ns);
}

static PyObject *
State_event(StateObject *st, PyObject *time_ns)
{
    i64 t = PyLong_AsLongLong(time_ns);
    if (t == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *out = st->next_trade_ns <= t ? state_trade(st, t, time_ns) : state_book_event(st, t, time_ns);
    st->next_ns = st->next_trade_ns < st->next_book_ns ? st->next_trade_ns : st->next_book_ns;
    return out;
}

static PyObject *
State_get_book(StateObject *st, void *Py_UNUSED(closure))
{
    return Py_XNewRef((PyObject *)state_book(st));
}

#define STATE_I64_GETTER(field)                                                                                \
    static PyObject *State_get_##field(StateObject *st, void *Py_UNUSED(closure))                              \
    {                                                                                                          \
        return PyLong_FromLongLong(st->field);                                                                 \
    }
STATE_I64_GETTER(next_ns)
STATE_I64_GETTER(next_trade_ns)
STATE_I64_GETTER(next_book_ns)
STATE_I64_GETTER(trades_count)
STATE_I64_GETTER(volume_lots)
STATE_I64_GETTER(last_price_ticks)

static PyObject *
State_get_halted(StateObject *st, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(st->halted);
}

static int
State_set_halted(StateObject *st, PyObject *value, void *Py_UNUSED(closure))
{
    int halted = value == NULL ? -1 : PyObject_IsTrue(value);
    if (halted < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError, "halted cannot be deleted");
        }
        return -1;
    }
    st->halted = halted;
    return 0;
}

static PyObject *
State_get_spread_multiplier(StateObject *st, void *Py_UNUSED(closure))
{
    return PyFloat_FromDouble(st->spread_multiplier);
}

static int
State_set_spread_multiplier(StateObject *st, PyObject *value, void *Py_UNUSED(closure))
{
    double multiplier = value == NULL ? -1.0 : PyFloat_AsDouble(value);
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "spread_multiplier cannot be deleted");
        return -1;
    }
    if (multiplier == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    st->spread_multiplier = multiplier;
    return 0;
}

static PyMemberDef State_members[] = {
    {"symbol", T_OBJECT, offsetof(StateObject, symbol), READONLY, "The catalogue symbol."},
    {"symbol_id", T_OBJECT, offsetof(StateObject, symbol_id), READONLY, "The symbol's id."},
    {"index", T_OBJECT, offsetof(StateObject, index), READONLY, "The symbol's position in the catalogue."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef State_getset[] = {
    {"book", (getter)State_get_book, NULL, "The symbol's book; built on first use.", NULL},
    {"next_ns", (getter)State_get_next_ns, NULL, "Time of the symbol's next event.", NULL},
    {"next_trade_ns", (getter)State_get_next_trade_ns, NULL, "Time of the next trade arrival.", NULL},
    {"next_book_ns", (getter)State_get_next_book_ns, NULL, "Time of the next book change.", NULL},
    {"trades_count", (getter)State_get_trades_count, NULL, "Trades since the market started.", NULL},
    {"volume_lots", (getter)State_get_volume_lots, NULL, "Traded volume since the start, in lots.", NULL},
    {"last_price_ticks", (getter)State_get_last_price_ticks, NULL, "Price of the last trade, 0 before.", NULL},
    {"halted", (getter)State_get_halted, (setter)State_set_halted, "Scenario hook: no events while True.", NULL},
    {"spread_multiplier", (getter)State_get_spread_multiplier, (setter)State_set_spread_multiplier,
     "Scenario hook: multiplies the quoted spread of new touch levels.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef State_methods[] = {
    {"event", (PyCFunction)State_event, METH_O,
     "The symbol's event at t (its next_ns): a trade arrival or a background book change."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject State_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "coinapi_emulator.simulator._speedups.SymbolState",
    .tp_basicsize = sizeof(StateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The C twin of simulator.market.SymbolState, taking over a freshly built reference state.",
    .tp_new = State_new,
    .tp_dealloc = (destructor)State_dealloc,
    .tp_traverse = (traverseproc)State_traverse,
    .tp_clear = (inquiry)State_clear,
    .tp_methods = State_methods,
    .tp_members = State_members,
    .tp_getset = State_getset,
};


/* ------------------------------------------------------------------------------------------------------ */
/* Scheduler: the market's event loop (market.py Market._run) over C symbol states                        */

/* Heap entries: (time, order), order 0 the whole-second tick, order i + 1 symbol i (market.py's packed keys). */
typedef struct {
    i64 t;
    Py_ssize_t order;
} Due;

typedef struct RunObject RunObject;

typedef struct {
    PyObject_HEAD
    Due *heap;
    Py_ssize_t len;
    PyObject *states;  /* list of SymbolState (C) */
    PyObject *second;  /* the whole-second tick: callable(t) -> events */
    PyObject *factors; /* PriceFactors: step_to(t) when t reaches next_step_ns */
    i64 next_step_ns;  /* cached; never above the factors' own (they only move forward) */
    i64 now_ns;
    PyObject *pending; /* events of the current instant not yet yielded */
    Py_ssize_t pending_at;
    RunObject *active; /* the open advance() iterator, borrowed: it clears this when it ends */
} SchedulerObject;

struct RunObject {
    PyObject_HEAD
    SchedulerObject *scheduler;
    i64 until_ns;
};

static PyTypeObject Scheduler_Type, Run_Type;

static inline int
due_before(Due a, Due b)
{
    return a.t < b.t || (a.t == b.t && a.order < b.order);
}

static void
heap_sift_down(Due *heap, Py_ssize_t len, Py_ssize_t i)
{
    Due item = heap[i];
    for (;;) {
        Py_ssize_t child = 2 * i + 1;
        if (child >= len) {
            break;
        }
        if (child + 1 < len && due_before(heap[child + 1], heap[child])) {
            child++;
        }
        if (!due_before(heap[child], item)) {
            break;
        }
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = item;
}

static PyObject *
Scheduler_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"states", "second", "factors", "first_second_ns", "now_ns", NULL};
    PyObject *states, *second, *factors;
    i64 first_second, now;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OOLL:Scheduler", keywords, &PyList_Type, &states, &second,
                                     &factors, &first_second, &now)) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(states);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!Py_IS_TYPE(PyList_GET_ITEM(states, i), &State_Type)) {
            PyErr_SetString(PyExc_TypeError, "states must be simulator._speedups.SymbolState objects");
            return NULL;
        }
    }
    i64 next_step;
    if (attr_i64(factors, "next_step_ns", &next_step) < 0) {
        return NULL;
    }
    SchedulerObject *sc = PyObject_GC_New(SchedulerObject, type);
    if (sc == NULL) {
        return NULL;
    }
    sc->heap = PyMem_New(Due, n + 1);
    sc->states = Py_NewRef(states);
    sc->second = Py_NewRef(second);
    sc->factors = Py_NewRef(factors);
    sc->pending = NULL;
    sc->pending_at = 0;
    sc->active = NULL;
    sc->next_step_ns = next_step;
    sc->now_ns = now;
    sc->len = n + 1;
    PyObject_GC_Track(sc);
    if (sc->heap == NULL) {
        Py_DECREF(sc);
        return PyErr_NoMemory();
    }
    sc->heap[0] = (Due){first_second, 0};
    for (Py_ssize_t i = 0; i < n; i++) {
        sc->heap[i + 1] = (Due){((StateObject *)PyList_GET_ITEM(states, i))->next_ns, i + 1};
    }
    for (Py_ssize_t i = sc->len / 2 - 1; i >= 0; i--) {
        heap_sift_down(sc->heap, sc->len, i);
    }
    return (PyObject *)sc;
}

static int
Scheduler_traverse(SchedulerObject *sc, visitproc visit, void *arg)
{
    Py_VISIT(sc->states);
    Py_VISIT(sc->second);
    Py_VISIT(sc->factors);
    Py_VISIT(sc->pending);
    return 0;
}

static int
Scheduler_clear(SchedulerObject *sc)
{
    Py_CLEAR(sc->states);
    Py_CLEAR(sc->second);
    Py_CLEAR(sc->factors);
    Py_CLEAR(sc->pending);
    return 0;
}

static void
Scheduler_dealloc(SchedulerObject *sc)
{
    PyObject_GC_UnTrack(sc);
    Scheduler_clear(sc);
    PyMem_Free(sc->heap);
    PyObject_GC_Del(sc);
}

/* The events of the next instant at or before ``until``, as a sequence; NULL with no error when none is due. */
static PyObject *
scheduler_instant(SchedulerObject *sc, i64 until)
{
    Due due = sc->heap[0];
    if (due.t > until) {
        return NULL;
    }
    sc->now_ns = due.t;
    if (due.t >= sc->next_step_ns) {
        PyObject *done = PyObject_CallMethod(sc->factors, "step_to", "L", due.t);
        Py_XDECREF(done);
        if (done == NULL || attr_i64(sc->factors, "next_step_ns", &sc->next_step_ns) < 0) {
            return NULL;
        }
    }
    PyObject *t = PyLong_FromLongLong(due.t);
    if (t == NULL) {
        return NULL;
    }
    PyObject *out;
    if (due.order) {
        StateObject *st = (StateObject *)PyList_GET_ITEM(sc->states, due.order - 1);
        out = State_event(st, t);
        sc->heap[0].t = st->next_ns;
    }
    else {
        out = PyObject_CallOneArg(sc->second, t);
        sc->heap[0].t = due.t + NS_PER_S;
    }
    Py_DECREF(t);
    heap_sift_down(sc->heap, sc->len, 0);
    if (out != NULL && !PyList_CheckExact(out) && !PyTuple_CheckExact(out)) {
        Py_SETREF(out, PySequence_List(out));
    }
    return out;
}

static PyObject *
Scheduler_advance(SchedulerObject *sc, PyObject *arg)
{
    i64 until = PyLong_AsLongLong(arg);
    if (until == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (until < sc->now_ns) {
        return PyErr_Format(PyExc_ValueError, "advance to %lld is before now (%lld)", until, sc->now_ns);
    }
    if (sc->active != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the previous advance() iterator is still open");
        return NULL;
    }
    RunObject *run = PyObject_GC_New(RunObject, &Run_Type);
    if (run == NULL) {
        return NULL;
    }
    run->scheduler = (SchedulerObject *)Py_NewRef(sc);
    run->until_ns = until;
    sc->active = run;
    PyObject_GC_Track(run);
    return (PyObject *)run;
}

static PyObject *
Scheduler_get_now(SchedulerObject *sc, void *Py_UNUSED(closure))
{
    return PyLong_FromLongLong(sc->now_ns);
}

static PyGetSetDef Scheduler_getset[] = {
    {"now_ns", (getter)Scheduler_get_now, NULL, "Virtual time (market.py Market.now_ns).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef Scheduler_methods[] = {
    {"advance", (PyCFunction)Scheduler_advance, METH_O,
     "An iterator over every event with time in (now_ns, until_ns], in order (market.py Market.advance)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Scheduler_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "coinapi_emulator.simulator._speedups.Scheduler",
    .tp_basicsize = sizeof(SchedulerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The market's event loop over C symbol states (the C twin of market.py Market._run).",
    .tp_new = Scheduler_new,
    .tp_dealloc = (destructor)Scheduler_dealloc,
    .tp_traverse = (traverseproc)Scheduler_traverse,
    .tp_clear = (inquiry)Scheduler_clear,
    .tp_methods = Scheduler_methods,
    .tp_getset = Scheduler_getset,
};

/* The end of an advance() iterator: exhausted, closed or dropped. The unyielded rest of an instant stays
 * pending in the scheduler, for the next advance(). */
static void
run_end(RunObject *run)
{
    SchedulerObject *sc = run->scheduler;
    if (sc != NULL && sc->active == run) {
        sc->active = NULL;
    }
}

static PyObject *
Run_next(RunObject *run)
{
    SchedulerObject *sc = run->scheduler;
    if (sc == NULL || sc->active != run) {
        return NULL;
    }
    for (;;) {
        if (sc->pending != NULL) {
            if (sc->pending_at < PySequence_Fast_GET_SIZE(sc->pending)) {
                return Py_NewRef(PySequence_Fast_GET_ITEM(sc->pending, sc->pending_at++));
            }
            Py_CLEAR(sc->pending);
        }
        PyObject *out = scheduler_instant(sc, run->until_ns);
        if (out == NULL) {
            if (!PyErr_Occurred()) {
                sc->now_ns = run->until_ns;
            }
            run_end(run);
            return NULL;
        }
        sc->pending = out;
        sc->pending_at = 0;
    }
}

static PyObject *
Run_close(RunObject *run, PyObject *Py_UNUSED(ignored))
{
    run_end(run);
    Py_RETURN_NONE;
}

static int
Run_traverse(RunObject *run, visitproc visit, void *arg)
{
    Py_VISIT(run->scheduler);
    return 0;
}

static int
Run_clear(RunObject *run)
{
    run_end(run);
    Py_CLEAR(run->scheduler);
    return 0;
}

static void
Run_dealloc(RunObject *run)
{
    PyObject_GC_UnTrack(run);
    Run_clear(run);
    PyObject_GC_Del(run);
}

static PyMethodDef Run_methods[] = {
    {"close", (PyCFunction)Run_close, METH_NOARGS, "Stop here; the next advance() goes on from this point."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Run_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "coinapi_emulator.simulator._speedups.Run",
    .tp_basicsize = sizeof(RunObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One advance(): the events up to its target, in order.",
    .tp_dealloc = (destructor)Run_dealloc,
    .tp_traverse = (traverseproc)Run_traverse,
    .tp_clear = (inquiry)Run_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Run_next,
    .tp_methods = Run_methods,
};

/* ------------------------------------------------------------------------------------------------------ */
/* module                                                                                                 */

static int
load_event_types(void)
{
    PyObject *events = PyImport_ImportModule("coinapi_emulator.simulator.events");
    if (events == NULL) {
        return -1;
    }
    trade_type = (PyTypeObject *)PyObject_GetAttrString(events, "Trade");
    bar_type = (PyTypeObject *)PyObject_GetAttrString(events, "Bar");
    PyObject *sides = PyObject_GetAttrString(events, "TakerSide");
    if (sides != NULL) {
        taker_buy = PyObject_GetAttrString(sides, "BUY");
        taker_sell = PyObject_GetAttrString(sides, "SELL");
        Py_DECREF(sides);
    }
    level_type = (PyTypeObject *)PyObject_GetAttrString(events, "Level");
    delta_type = (PyTypeObject *)PyObject_GetAttrString(events, "BookDelta");
    quote_type = (PyTypeObject *)PyObject_GetAttrString(events, "Quote");
    Py_DECREF(events);
    if (level_type == NULL || delta_type == NULL || quote_type == NULL || trade_type == NULL || bar_type == NULL ||
        taker_buy == NULL || taker_sell == NULL) {
        return -1;
    }
    static const char *trade_fields[] = {"symbol_id", "time_exchange_ns", "price_ticks",
                                         "size_lots", "taker_side",       "uuid"};
    for (int i = 0; i < 6; i++) {
        if (slot_offset(trade_type, trade_fields[i], &trade_at[i]) < 0) {
            return -1;
        }
    }
    static const char *bar_fields[] = {
        "symbol_id",        "period_id",        "time_period_start_ns", "time_period_end_ns", "time_open_ns",
        "time_close_ns",    "price_open_ticks", "price_high_ticks",     "price_low_ticks",    "price_close_ticks",
        "volume_traded_lots", "trades_count",   "is_final",             "time_ns",            "sequence"};
    for (int i = 0; i < 15; i++) {
        if (slot_offset(bar_type, bar_fields[i], &bar_at[i]) < 0) {
            return -1;
        }
    }
    PyObject *random_module = PyImport_ImportModule("random");
    if (random_module == NULL) {
        return -1;
    }
    random_class = PyObject_GetAttrString(random_module, "Random");
    Py_DECREF(random_module);
    uuid_bits = PyLong_FromLong(128);
    if (random_class == NULL || uuid_bits == NULL) {
        return -1;
    }
    static const char *delta_fields[] = {"symbol_id", "time_exchange_ns", "asks", "bids"};
    static const char *quote_fields[] = {"symbol_id",     "time_exchange_ns", "ask_price_ticks",
                                         "ask_size_lots", "bid_price_ticks",  "bid_size_lots"};
    if (slot_offset(level_type, "price_ticks", &level_price_at) < 0 ||
        slot_offset(level_type, "size_lots", &level_size_at) < 0) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (slot_offset(delta_type, delta_fields[i], &delta_at[i]) < 0) {
            return -1;
        }
    }
    for (int i = 0; i < 6; i++) {
        if (slot_offset(quote_type, quote_fields[i], &quote_at[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
add_layout(PyObject *module)
{
    PyObject *layout = Py_BuildValue("(iiiii)(iiiiiiiiiii)", S_LAST, S_SETTLED, S_SEQUENCE, S_SECOND, S_BLOCK,
                                     C_START, C_END, C_OPEN_T, C_CLOSE_T, C_OPEN, C_HIGH, C_LOW, C_CLOSE, C_VOLUME,
                                     C_COUNT, C_KEY);
    int failed = layout == NULL || PyModule_AddObjectRef(module, "OHLCV_LAYOUT", layout) < 0;
    Py_XDECREF(layout);
    return failed ? -1 : 0;
}

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "coinapi_emulator.simulator._speedups",
    .m_doc = "The order book and its liquidity model in C (simulator/book.py is the reference).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    for (int d = 0; d < PROFILE_LEN; d++) {
        size_profile[d] = 1.0 + HUMP_HEIGHT * d / HUMP_DEPTH * exp(1.0 - d / HUMP_DEPTH);
    }
    empty_tuple = PyTuple_New(0);
    if (empty_tuple == NULL || load_event_types() < 0 || PyType_Ready(&Book_Type) < 0 ||
        PyType_Ready(&Maker_Type) < 0 || PyType_Ready(&State_Type) < 0 ||
        PyType_Ready(&Scheduler_Type) < 0 || PyType_Ready(&Run_Type) < 0 ||
        PyType_Ready(&Folder_Type) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Book", (PyObject *)&Book_Type) < 0 ||
        PyModule_AddObjectRef(module, "BookMaker", (PyObject *)&Maker_Type) < 0 ||
        PyModule_AddObjectRef(module, "SymbolState", (PyObject *)&State_Type) < 0 ||
        PyModule_AddObjectRef(module, "Scheduler", (PyObject *)&Scheduler_Type) < 0 ||
        PyModule_AddObjectRef(module, "TradeFolder", (PyObject *)&Folder_Type) < 0 ||
        add_layout(module) < 0 ||
        PyModule_AddIntConstant(module, "MIN_LEVELS", MIN_LEVELS) < 0 ||
        PyModule_AddIntConstant(module, "MAX_LEVELS", MAX_LEVELS) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
