/*
 * book_maker.c: the C twin of simulator/book.py ``BookMaker``: the initial book, repricing after the fair mid,
 * refills, the background noise, the depth profile and the micro-price lean.
 */

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
    double scale = pow(1.0 - r, SIZE_EXPONENT);
    if (scale > LEVEL_SIZE_CAP) {
        scale = LEVEL_SIZE_CAP;
    }
    i64 size = (i64)floor(maker->size_lots * size_profile[depth] * scale);
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
    else {
        /* makers re-quote in steps: one repricing goes CATCH_UP of the way from the book's mid to the fair mid */
        double book_mid = 0.5 * (ask + bid);
        if (reprice(maker, book, book_mid + CATCH_UP * (mid - book_mid), hs, tol, far) < 0) {
            return -1;
        }
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
