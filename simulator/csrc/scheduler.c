/*
 * scheduler.c: the C twin of simulator/market.py ``Market._run``: a heap of (time, symbol) over the C symbol
 * states, the whole-second tick, and the advance() iterator.
 */

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
