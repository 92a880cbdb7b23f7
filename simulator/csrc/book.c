/*
 * book.c: the C twin of simulator/book.py ``Book`` and its ``_Side``: sorted levels, the changes since the last
 * emit, sweeps and the events they turn into.
 */

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

/* A taker takes up to ``size`` from the touch of ``side``, no level whose key (sign * price) is above
 * ``limit_key`` (NO_LIMIT: any); never empties the side's last level. */
#define NO_LIMIT LLONG_MAX
static PyObject *
book_sweep(Side *side, i64 size, i64 limit_key)
{
    PyObject *fills = PyList_New(0);
    if (fills == NULL) {
        return NULL;
    }
    Py_ssize_t touched = 0;
    i64 remaining = size;
    Py_ssize_t last = side->len - 1;
    while (remaining > 0 && touched <= last && side->keys[touched] <= limit_key) {
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
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "sweep(is_buy, size_lots, limit_ticks=None)");
        return NULL;
    }
    int is_buy = PyObject_IsTrue(args[0]);
    i64 size, limit_key = NO_LIMIT;
    if (is_buy < 0 || as_i64(Py_NewRef(args[1]), &size) < 0) {
        return NULL;
    }
    Side *side = is_buy ? &book->asks : &book->bids;
    if (nargs == 3 && args[2] != Py_None) {
        if (as_i64(Py_NewRef(args[2]), &limit_key) < 0) {
            return NULL;
        }
        limit_key *= side->sign;
    }
    return book_sweep(side, size, limit_key);
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
