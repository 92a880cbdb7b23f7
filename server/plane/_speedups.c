/*
 * coinapi_emulator.server.plane._speedups: the per-symbol frame codec in C.
 *
 * ``SymbolCodec`` here has the constructor, methods and output of ``server/plane/codec.py``'s ``ReferenceCodec``
 * (the protocol's payload encoders plus their ``*_frame`` twins), which stays the reference: the same arguments
 * give the same bytes (tests/server/plane/test_codec_speedups.py holds the two to that). The encoders run once
 * per market event; in C a frame is written straight into one buffer, header in front of the payload, instead of
 * through a dozen f-string pieces, memo lookups and calls and a second copy to frame it.
 *
 * Fast path and domain: numbers that are exact ``int`` within 64 bits (times, prices, sizes, sequences, counts)
 * and precisions of at most 64 decimals either way are formatted here. That covers every time from 1677-09-21
 * to 2262-04-11 (all 64-bit nanoseconds) and every price, size and sequence the market makes. Anything else
 * (a time in another century, a bigger or non-``int`` number) is formatted by the reference functions in
 * ``encode.py``, so the output is the same for any input the Python accepts.
 *
 * Event fields are read straight from the slots of the frozen slotted dataclasses of ``simulator.events``
 * (through the offsets of their slot descriptors); objects of any other type are read by attribute.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

typedef long long i64;
typedef unsigned long long u64;

#define NS_PER_S 1000000000LL
/* Precisions beyond this many decimals (either way) go to the reference formatter. */
#define MAX_DECIMALS 64
/* Room kept free in front of a payload for the longest WebSocket frame header (RFC 6455 §5.2). */
#define FRAME_ROOM 10
#define FIN_TEXT 0x81

/* ------------------------------------------------------------------------------------------------------ */
/* output buffer                                                                                          */

/* A frame under construction: on the stack while it fits (almost every frame), then on the heap. */
typedef struct {
    char *base; /* FRAME_ROOM bytes, then the payload */
    char *at;   /* where the next byte goes */
    char *end;
    char stack[4096];
} Out;

static void
out_init(Out *out)
{
    out->base = out->stack;
    out->at = out->stack + FRAME_ROOM;
    out->end = out->stack + sizeof(out->stack);
}

static void
out_free(Out *out)
{
    if (out->base != out->stack) {
        PyMem_Free(out->base);
    }
}

/* Room for ``n`` more bytes. */
static int
out_grow(Out *out, Py_ssize_t n)
{
    Py_ssize_t used = out->at - out->base, cap = out->end - out->base;
    while (cap - used < n) {
        cap *= 2;
    }
    char *heap = out->base == out->stack ? PyMem_Malloc(cap) : PyMem_Realloc(out->base, cap);
    if (heap == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (out->base == out->stack) {
        memcpy(heap, out->stack, used);
    }
    out->base = heap;
    out->at = heap + used;
    out->end = heap + cap;
    return 0;
}

static inline Py_ALWAYS_INLINE int
out_room(Out *out, Py_ssize_t n)
{
    return out->end - out->at >= n ? 0 : out_grow(out, n);
}

/* Inlined, so that a literal's memcpy is a few moves rather than a call. */
static inline Py_ALWAYS_INLINE int
put(Out *out, const char *bytes, Py_ssize_t n)
{
    if (out_room(out, n) < 0) {
        return -1;
    }
    memcpy(out->at, bytes, n);
    out->at += n;
    return 0;
}

/* A string literal. */
#define PUT(out, literal) put((out), (literal), (Py_ssize_t)sizeof(literal) - 1)

/* The payload as bytes. */
static PyObject *
out_payload(Out *out)
{
    char *payload = out->base + FRAME_ROOM;
    return PyBytes_FromStringAndSize(payload, out->at - payload);
}

/* The payload in one unmasked text frame (server/transport/frames.py ``text_frame``), its header written in front. */
static PyObject *
out_frame(Out *out)
{
    char *payload = out->base + FRAME_ROOM;
    u64 n = (u64)(out->at - payload);
    char *head;
    if (n < 126) {
        head = payload - 2;
        head[1] = (char)n;
    }
    else if (n < 65536) {
        head = payload - 4;
        head[1] = 126;
        head[2] = (char)(n >> 8);
        head[3] = (char)n;
    }
    else {
        head = payload - 10;
        head[1] = 127;
        for (int i = 0; i < 8; i++) {
            head[2 + i] = (char)(n >> (56 - 8 * i));
        }
    }
    head[0] = (char)FIN_TEXT;
    return PyBytes_FromStringAndSize(head, out->at - head);
}

/* ------------------------------------------------------------------------------------------------------ */
/* numbers                                                                                                */

static const char DIGIT_PAIRS[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                  "8081828384858687888990919293949596979899";

/* The decimal digits of ``value``, written to end at ``end``; returns where they start. */
static char *
digits_before(char *end, u64 value)
{
    while (value >= 100) {
        end -= 2;
        memcpy(end, DIGIT_PAIRS + 2 * (value % 100), 2);
        value /= 100;
    }
    if (value >= 10) {
        end -= 2;
        memcpy(end, DIGIT_PAIRS + 2 * value, 2);
    }
    else {
        *--end = (char)('0' + value);
    }
    return end;
}

static inline u64
magnitude(i64 value)
{
    return value < 0 ? (u64)0 - (u64)value : (u64)value;
}

static int
put_i64(Out *out, i64 value)
{
    char text[24];
    char *end = text + sizeof(text);
    char *start = digits_before(end, magnitude(value));
    if (value < 0) {
        *--start = '-';
    }
    return put(out, start, end - start);
}

/* Two digits of ``value`` (< 100) at ``at``. */
static inline void
two_digits(char *at, unsigned value)
{
    memcpy(at, DIGIT_PAIRS + 2 * value, 2);
}

/* encode.py ``format_fixed``: ``units * 10**-decimals`` as a plain decimal token, trailing zeros dropped. */
static int
put_fixed_i64(Out *out, i64 units, Py_ssize_t decimals)
{
    char text[24];
    char *end = text + sizeof(text);
    u64 mag = magnitude(units);
    char *digits = digits_before(end, mag);
    Py_ssize_t n = end - digits;
    if (out_room(out, n + MAX_DECIMALS + 3) < 0) {
        return -1;
    }
    char *at = out->at;
    if (units < 0) {
        *at++ = '-';
    }
    if (decimals <= 0 || mag == 0) { /* an integer: the digits, then -decimals zeros (none for 0) */
        memcpy(at, digits, n);
        at += n;
        if (mag != 0) {
            memset(at, '0', -decimals);
            at -= decimals;
        }
        out->at = at;
        return 0;
    }
    Py_ssize_t trailing = 0; /* trailing zeros of the digits: a fraction drops them */
    while (digits[n - 1 - trailing] == '0') {
        trailing++;
    }
    Py_ssize_t kept = decimals - trailing; /* fractional digits written, counting leading zeros */
    if (n > decimals) {
        memcpy(at, digits, n - decimals);
        at += n - decimals;
        if (kept > 0) {
            *at++ = '.';
            memcpy(at, digits + n - decimals, kept);
            at += kept;
        }
    }
    else {
        /* all digits are fraction, and not all zeros: "0." and the zeros in front of them */
        memcpy(at, "0.", 2);
        at += 2;
        memset(at, '0', decimals - n);
        at += decimals - n;
        memcpy(at, digits, n - trailing);
        at += n - trailing;
    }
    out->at = at;
    return 0;
}

/* days since 1970-01-01 to a civil date (H. Hinnant's ``civil_from_days``, proleptic Gregorian). */
static void
civil_from_days(i64 days, i64 *year, unsigned *month, unsigned *day)
{
    days += 719468;
    i64 era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (i64)yoe + era * 400 + (*month <= 2);
}

/* ``YYYY-MM-DDTHH:MM:SS.`` of a whole second since the epoch. Every 64-bit ns falls in the years 1677-2262,
 * which have four digits. */
static void
second_text(i64 second, char *text)
{
    i64 days = second / 86400, in_day = second % 86400;
    if (in_day < 0) {
        in_day += 86400;
        days -= 1;
    }
    i64 year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    two_digits(text, (unsigned)(year / 100));
    two_digits(text + 2, (unsigned)(year % 100));
    text[4] = '-';
    two_digits(text + 5, month);
    text[7] = '-';
    two_digits(text + 8, day);
    text[10] = 'T';
    two_digits(text + 11, (unsigned)(in_day / 3600));
    text[13] = ':';
    two_digits(text + 14, (unsigned)(in_day / 60 % 60));
    text[16] = ':';
    two_digits(text + 17, (unsigned)(in_day % 60));
    text[19] = '.';
}

/* The texts of recent seconds, direct-mapped. The times in one frame, and in the frames around it, fall in a
 * few seconds (encode.py memoises these prefixes for the same reason); a hit skips the calendar. */
#define SECOND_SLOTS 16
static struct {
    i64 second;
    char text[20];
} seconds_seen[SECOND_SLOTS];

static void
seconds_seen_init(void)
{
    for (i64 second = 0; second < SECOND_SLOTS; second++) { /* valid from the start: slot i holds second i */
        seconds_seen[second].second = second;
        second_text(second, seconds_seen[second].text);
    }
}

/* encode.py ``format_time``: ``YYYY-MM-DDTHH:MM:SS.fffffffZ`` (PROTOCOL.md §4.1), 100 ns truncated. */
static int
put_time_i64(Out *out, i64 ns)
{
    if (out_room(out, 28) < 0) {
        return -1;
    }
    i64 second = ns / NS_PER_S, fraction = ns % NS_PER_S;
    if (fraction < 0) { /* floor division, as Python's // and % */
        fraction += NS_PER_S;
        second -= 1;
    }
    int slot = (int)((u64)second % SECOND_SLOTS);
    if (seconds_seen[slot].second != second) {
        seconds_seen[slot].second = second;
        second_text(second, seconds_seen[slot].text);
    }
    char *at = out->at;
    memcpy(at, seconds_seen[slot].text, 20);
    unsigned ticks = (unsigned)(fraction / 100); /* 7 digits */
    at[20] = (char)('0' + ticks / 1000000);
    two_digits(at + 21, ticks / 10000 % 100);
    two_digits(at + 23, ticks / 100 % 100);
    two_digits(at + 25, ticks % 100);
    at[27] = 'Z';
    out->at = at + 28;
    return 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* anything else: through Python, as the reference does it                                               */

/* ``str`` as UTF-8 (``.encode()`` of the reference: lone surrogates raise). */
static int
put_str(Out *out, PyObject *text)
{
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &n);
    return utf8 == NULL ? -1 : put(out, utf8, n);
}

/* ``f"{value}"``; takes a new reference (NULL: an error is set). */
static int
put_formatted(Out *out, PyObject *value)
{
    if (value == NULL) {
        return -1;
    }
    PyObject *text = PyUnicode_CheckExact(value) ? Py_NewRef(value) : PyObject_Format(value, NULL);
    Py_DECREF(value);
    if (text == NULL) {
        return -1;
    }
    int status = put_str(out, text);
    Py_DECREF(text);
    return status;
}

/* ``encode.<name>`` (the reference, for values outside the fast path); a new reference. */
static PyObject *
reference(const char *name)
{
    PyObject *encode = PyImport_ImportModule("coinapi_emulator.server.protocol.encode");
    if (encode == NULL) {
        return NULL;
    }
    PyObject *function = PyObject_GetAttrString(encode, name);
    Py_DECREF(encode);
    return function;
}

/* ``fixed_formatter(decimals)`` of the reference; a new reference. */
static PyObject *
reference_fixed(Py_ssize_t decimals)
{
    PyObject *factory = reference("fixed_formatter");
    if (factory == NULL) {
        return NULL;
    }
    PyObject *formatter = PyObject_CallFunction(factory, "n", decimals);
    Py_DECREF(factory);
    return formatter;
}

/* An exact ``int`` that fits 64 bits, or 0 (no error set). */
static inline int
as_i64(PyObject *value, i64 *out)
{
    if (!PyLong_CheckExact(value)) {
        return 0;
    }
    int overflow;
    *out = PyLong_AsLongLongAndOverflow(value, &overflow);
    return !overflow;
}

static int
put_int(Out *out, PyObject *value)
{
    i64 v;
    return as_i64(value, &v) ? put_i64(out, v) : put_formatted(out, Py_NewRef(value));
}

static int
put_time(Out *out, PyObject *ns)
{
    i64 v;
    if (as_i64(ns, &v)) {
        return put_time_i64(out, v);
    }
    PyObject *format_time = reference("format_time");
    if (format_time == NULL) {
        return -1;
    }
    PyObject *text = PyObject_CallOneArg(format_time, ns);
    Py_DECREF(format_time);
    return put_formatted(out, text);
}

static int
put_fixed(Out *out, PyObject *units, Py_ssize_t decimals)
{
    i64 v;
    if (as_i64(units, &v) && -MAX_DECIMALS <= decimals && decimals <= MAX_DECIMALS) {
        return put_fixed_i64(out, v, decimals);
    }
    PyObject *formatter = reference_fixed(decimals);
    if (formatter == NULL) {
        return -1;
    }
    PyObject *text = PyObject_CallOneArg(formatter, units);
    Py_DECREF(formatter);
    return put_formatted(out, text);
}

/* ------------------------------------------------------------------------------------------------------ */
/* event fields                                                                                           */

#define MAX_FIELDS 11

/* The fields an encoder reads from one event type, and where its instances keep them. */
typedef struct {
    const char *type_name; /* in simulator.events */
    int count;
    const char *names[MAX_FIELDS];
    PyTypeObject *type;
    PyObject *interned[MAX_FIELDS];
    Py_ssize_t offsets[MAX_FIELDS];
} Layout;

enum { TRADE_TIME, TRADE_PRICE, TRADE_SIZE, TRADE_SIDE, TRADE_UUID };
static Layout trade_layout = {
    "Trade", 5, {"time_exchange_ns", "price_ticks", "size_lots", "taker_side", "uuid"},
};
enum { QUOTE_TIME, QUOTE_ASK_PRICE, QUOTE_ASK_SIZE, QUOTE_BID_PRICE, QUOTE_BID_SIZE };
static Layout quote_layout = {
    "Quote", 5, {"time_exchange_ns", "ask_price_ticks", "ask_size_lots", "bid_price_ticks", "bid_size_lots"},
};
enum { DELTA_TIME, DELTA_ASKS, DELTA_BIDS };
static Layout delta_layout = {"BookDelta", 3, {"time_exchange_ns", "asks", "bids"}};
enum { LEVEL_PRICE, LEVEL_SIZE };
static Layout level_layout = {"Level", 2, {"price_ticks", "size_lots"}};
enum { BAR_PERIOD, BAR_START, BAR_END, BAR_OPEN_TIME, BAR_CLOSE_TIME, BAR_OPEN, BAR_HIGH, BAR_LOW, BAR_CLOSE,
       BAR_VOLUME, BAR_COUNT };
static Layout bar_layout = {
    "Bar",
    11,
    {"period_id", "time_period_start_ns", "time_period_end_ns", "time_open_ns", "time_close_ns", "price_open_ticks",
     "price_high_ticks", "price_low_ticks", "price_close_ticks", "volume_traded_lots", "trades_count"},
};

static int
load_layout(PyObject *events, Layout *layout)
{
    layout->type = (PyTypeObject *)PyObject_GetAttrString(events, layout->type_name);
    if (layout->type == NULL) {
        return -1;
    }
    for (int i = 0; i < layout->count; i++) {
        PyObject *name = PyUnicode_InternFromString(layout->names[i]);
        if (name == NULL) {
            return -1;
        }
        layout->interned[i] = name;
        PyObject *descr = PyObject_GetAttr((PyObject *)layout->type, name);
        if (descr == NULL) {
            return -1;
        }
        int is_slot = Py_IS_TYPE(descr, &PyMemberDescr_Type);
        if (is_slot) {
            layout->offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        }
        Py_DECREF(descr);
        if (!is_slot) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", layout->type_name, layout->names[i]);
            return -1;
        }
    }
    return 0;
}

static void
release(PyObject **values, int count)
{
    for (int i = 0; i < count; i++) {
        Py_DECREF(values[i]);
    }
}

/* New references to the fields of ``obj`` in ``values``: from its slots if it is exactly the event type
 * (the frozen dataclass holds them), else by attribute, as the reference reads them. */
static int
read_fields(PyObject *obj, const Layout *layout, PyObject **values)
{
    int exact = Py_IS_TYPE(obj, layout->type);
    for (int i = 0; i < layout->count; i++) {
        PyObject *value = exact ? *(PyObject **)((char *)obj + layout->offsets[i]) : NULL;
        /* an unset slot: the attribute lookup raises the AttributeError the reference would */
        values[i] = value != NULL ? Py_NewRef(value) : PyObject_GetAttr(obj, layout->interned[i]);
        if (values[i] == NULL) {
            release(values, i);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------------ */
/* enum values on the wire                                                                                */

#define MAX_MEMBERS 16

/* The members of an enum (those ``keep`` accepts) with their ``value`` as UTF-8, looked up by identity. */
typedef struct {
    int count;
    PyObject *members[MAX_MEMBERS];
    PyObject *values[MAX_MEMBERS]; /* bytes */
} Members;

static Members taker_sides, stream_types;
static PyObject *type_trade, *type_quote, *type_book, *type_ohlcv; /* bytes: the ``type`` of each method */

static int
load_members(PyObject *module, const char *enum_name, const char *keep, Members *members)
{
    PyObject *enum_type = PyObject_GetAttrString(module, enum_name);
    PyObject *list = enum_type == NULL ? NULL : PySequence_List(enum_type);
    Py_XDECREF(enum_type);
    if (list == NULL) {
        return -1;
    }
    int status = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list) && status == 0; i++) {
        PyObject *member = PyList_GET_ITEM(list, i);
        PyObject *flag = keep == NULL ? Py_NewRef(Py_True) : PyObject_GetAttrString(member, keep);
        PyObject *value = PyObject_GetAttrString(member, "_value_");
        PyObject *utf8 = value == NULL ? NULL : PyUnicode_AsUTF8String(value);
        Py_XDECREF(value);
        if (flag == NULL || utf8 == NULL || members->count == MAX_MEMBERS) {
            status = -1;
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_RuntimeError, "more than %d members in %s", MAX_MEMBERS, enum_name);
            }
        }
        else if (flag == Py_True) {
            members->members[members->count] = Py_NewRef(member);
            members->values[members->count++] = Py_NewRef(utf8);
        }
        Py_XDECREF(flag);
        Py_XDECREF(utf8);
    }
    Py_DECREF(list);
    return status;
}

/* The value of ``member`` (borrowed bytes), or NULL (no error set). */
static PyObject *
member_value(const Members *members, PyObject *member)
{
    for (int i = 0; i < members->count; i++) {
        if (members->members[i] == member) {
            return members->values[i];
        }
    }
    return NULL;
}

static PyObject *
stream_type(PyObject *datatypes, const char *name)
{
    PyObject *enum_type = PyObject_GetAttrString(datatypes, "DataType");
    PyObject *member = enum_type == NULL ? NULL : PyObject_GetAttrString(enum_type, name);
    Py_XDECREF(enum_type);
    if (member == NULL) {
        return NULL;
    }
    PyObject *value = member_value(&stream_types, member);
    Py_DECREF(member);
    if (value == NULL) {
        PyErr_Format(PyExc_RuntimeError, "DataType.%s is not a symbol stream", name);
    }
    return value;
}

/* ------------------------------------------------------------------------------------------------------ */
/* SymbolCodec                                                                                            */

typedef struct {
    PyObject_HEAD
    PyObject *symbol_id;
    PyObject *tail; /* bytes: ``","symbol_id":"<symbol_id>","sequence":``, behind ``{"type":"<type>`` */
    Py_ssize_t price_decimals;
    Py_ssize_t size_decimals;
} CodecObject;

static PyTypeObject Codec_Type;

/* ``symbol.<name>``, a precision: a number of decimals, or minus the zeros of a coarse tick or lot. */
static int
decimals_of(PyObject *symbol, const char *name, Py_ssize_t *decimals)
{
    PyObject *value = PyObject_GetAttrString(symbol, name);
    if (value == NULL) {
        return -1;
    }
    *decimals = PyNumber_AsSsize_t(value, PyExc_OverflowError);
    Py_DECREF(value);
    return *decimals == -1 && PyErr_Occurred() ? -1 : 0;
}

static int
codec_init(CodecObject *codec, PyObject *symbol)
{
    codec->symbol_id = PyObject_GetAttrString(symbol, "symbol_id");
    PyObject *text = codec->symbol_id == NULL ? NULL : PyObject_Format(codec->symbol_id, NULL);
    PyObject *tail = text == NULL ? NULL : PyUnicode_FromFormat("\",\"symbol_id\":\"%U\",\"sequence\":", text);
    Py_XDECREF(text);
    codec->tail = tail == NULL ? NULL : PyUnicode_AsUTF8String(tail);
    Py_XDECREF(tail);
    if (codec->tail == NULL || decimals_of(symbol, "price_decimals", &codec->price_decimals) < 0) {
        return -1;
    }
    return decimals_of(symbol, "size_decimals", &codec->size_decimals);
}

static PyObject *
Codec_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"symbol", NULL};
    PyObject *symbol;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:SymbolCodec", keywords, &symbol)) {
        return NULL;
    }
    CodecObject *codec = (CodecObject *)type->tp_alloc(type, 0);
    if (codec != NULL && codec_init(codec, symbol) < 0) {
        Py_CLEAR(codec);
    }
    return (PyObject *)codec;
}

static void
Codec_dealloc(CodecObject *codec)
{
    Py_XDECREF(codec->symbol_id);
    Py_XDECREF(codec->tail);
    Py_TYPE(codec)->tp_free((PyObject *)codec);
}

/* ``{"type":"<type>","symbol_id":"<symbol_id>","sequence":<sequence>`` */
static int
put_head(Out *out, const CodecObject *codec, PyObject *type, PyObject *sequence)
{
    if (PUT(out, "{\"type\":\"") < 0 || put(out, PyBytes_AS_STRING(type), PyBytes_GET_SIZE(type)) < 0 ||
        put(out, PyBytes_AS_STRING(codec->tail), PyBytes_GET_SIZE(codec->tail)) < 0) {
        return -1;
    }
    return put_int(out, sequence);
}

/* ``,"time_exchange":"...","time_coinapi":"...",`` */
static int
put_times(Out *out, PyObject *time_exchange_ns, PyObject *time_coinapi_ns)
{
    if (PUT(out, ",\"time_exchange\":\"") < 0 || put_time(out, time_exchange_ns) < 0 ||
        PUT(out, "\",\"time_coinapi\":\"") < 0 || put_time(out, time_coinapi_ns) < 0) {
        return -1;
    }
    return PUT(out, "\",");
}

/* ``{"price":...,"size":...}`` */
static int
put_level(Out *out, const CodecObject *codec, PyObject *level)
{
    PyObject *f[2];
    if (read_fields(level, &level_layout, f) < 0) {
        return -1;
    }
    int ok = PUT(out, "{\"price\":") == 0 && put_fixed(out, f[LEVEL_PRICE], codec->price_decimals) == 0 &&
             PUT(out, ",\"size\":") == 0 && put_fixed(out, f[LEVEL_SIZE], codec->size_decimals) == 0 &&
             PUT(out, "}") == 0;
    release(f, 2);
    return ok ? 0 : -1;
}

/* ``[{"price":...,"size":...},...]`` from any iterable of levels */
static int
put_levels(Out *out, const CodecObject *codec, PyObject *levels)
{
    PyObject *seq = PySequence_Fast(levels, "levels must be iterable");
    if (seq == NULL) {
        return -1;
    }
    int ok = PUT(out, "[") == 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && ok; i++) {
        /* held: reading a level that is not a Level runs Python code, which could change a list of them */
        PyObject *level = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        ok = (i == 0 || PUT(out, ",") == 0) && put_level(out, codec, level) == 0;
        Py_DECREF(level);
    }
    Py_DECREF(seq);
    return ok ? PUT(out, "]") : -1;
}

/* ``,"asks":[...],"bids":[...]}`` */
static int
put_sides(Out *out, const CodecObject *codec, PyObject *asks, PyObject *bids)
{
    if (PUT(out, "\"asks\":") < 0 || put_levels(out, codec, asks) < 0 || PUT(out, ",\"bids\":") < 0 ||
        put_levels(out, codec, bids) < 0) {
        return -1;
    }
    return PUT(out, "}");
}

static int
write_trade(Out *out, const CodecObject *codec, PyObject *const *args)
{
    PyObject *f[5];
    if (read_fields(args[0], &trade_layout, f) < 0) {
        return -1;
    }
    PyObject *side = member_value(&taker_sides, f[TRADE_SIDE]);
    /* ``_value_``, as the reference reads it; a member of TakerSide has it ready */
    int ok = put_head(out, codec, type_trade, args[1]) == 0 && put_times(out, f[TRADE_TIME], args[2]) == 0 &&
             PUT(out, "\"uuid\":\"") == 0 && put_formatted(out, Py_NewRef(f[TRADE_UUID])) == 0 &&
             PUT(out, "\",\"price\":") == 0 && put_fixed(out, f[TRADE_PRICE], codec->price_decimals) == 0 &&
             PUT(out, ",\"size\":") == 0 && put_fixed(out, f[TRADE_SIZE], codec->size_decimals) == 0 &&
             PUT(out, ",\"taker_side\":\"") == 0 &&
             (side != NULL ? put(out, PyBytes_AS_STRING(side), PyBytes_GET_SIZE(side))
                           : put_formatted(out, PyObject_GetAttrString(f[TRADE_SIDE], "_value_"))) == 0 &&
             PUT(out, "\"}") == 0;
    release(f, 5);
    return ok ? 0 : -1;
}

static int
write_quote(Out *out, const CodecObject *codec, PyObject *const *args)
{
    PyObject *f[5];
    if (read_fields(args[0], &quote_layout, f) < 0) {
        return -1;
    }
    Py_ssize_t price = codec->price_decimals, size = codec->size_decimals;
    int ok = put_head(out, codec, type_quote, args[1]) == 0 && put_times(out, f[QUOTE_TIME], args[2]) == 0 &&
             PUT(out, "\"ask_price\":") == 0 && put_fixed(out, f[QUOTE_ASK_PRICE], price) == 0 &&
             PUT(out, ",\"ask_size\":") == 0 && put_fixed(out, f[QUOTE_ASK_SIZE], size) == 0 &&
             PUT(out, ",\"bid_price\":") == 0 && put_fixed(out, f[QUOTE_BID_PRICE], price) == 0 &&
             PUT(out, ",\"bid_size\":") == 0 && put_fixed(out, f[QUOTE_BID_SIZE], size) == 0 && PUT(out, "}") == 0;
    release(f, 5);
    return ok ? 0 : -1;
}

static int
write_book_delta(Out *out, const CodecObject *codec, PyObject *const *args)
{
    PyObject *f[3];
    if (read_fields(args[0], &delta_layout, f) < 0) {
        return -1;
    }
    int ok = put_head(out, codec, type_book, args[1]) == 0 && put_times(out, f[DELTA_TIME], args[2]) == 0 &&
             PUT(out, "\"is_snapshot\":false,") == 0 && put_sides(out, codec, f[DELTA_ASKS], f[DELTA_BIDS]) == 0;
    release(f, 3);
    return ok ? 0 : -1;
}

/* args: data_type, asks, bids, sequence, time_exchange_ns, time_coinapi_ns, is_snapshot (NULL: not given) */
static int
write_book(Out *out, const CodecObject *codec, PyObject *const *args)
{
    PyObject *type = member_value(&stream_types, args[0]);
    if (type == NULL) {
        PyErr_SetObject(PyExc_KeyError, args[0]); /* the reference's lookup in its per-type heads */
        return -1;
    }
    if (put_head(out, codec, type, args[3]) < 0 || put_times(out, args[4], args[5]) < 0) {
        return -1;
    }
    PyObject *is_snapshot = args[6];
    if (is_snapshot != NULL && is_snapshot != Py_None) {
        int truth = PyObject_IsTrue(is_snapshot);
        if (truth < 0 || (truth ? PUT(out, "\"is_snapshot\":true,") : PUT(out, "\"is_snapshot\":false,")) < 0) {
            return -1;
        }
    }
    return put_sides(out, codec, args[1], args[2]);
}

static int
write_bar(Out *out, const CodecObject *codec, PyObject *const *args)
{
    PyObject *f[11];
    if (read_fields(args[0], &bar_layout, f) < 0) {
        return -1;
    }
    Py_ssize_t price = codec->price_decimals;
    int ok = put_head(out, codec, type_ohlcv, args[1]) == 0 && PUT(out, ",\"period_id\":\"") == 0 &&
             put_formatted(out, Py_NewRef(f[BAR_PERIOD])) == 0 && PUT(out, "\",\"time_period_start\":\"") == 0 &&
             put_time(out, f[BAR_START]) == 0 && PUT(out, "\",\"time_period_end\":\"") == 0 &&
             put_time(out, f[BAR_END]) == 0 && PUT(out, "\",\"time_open\":\"") == 0 &&
             put_time(out, f[BAR_OPEN_TIME]) == 0 && PUT(out, "\",\"time_close\":\"") == 0 &&
             put_time(out, f[BAR_CLOSE_TIME]) == 0 && PUT(out, "\",\"price_open\":") == 0 &&
             put_fixed(out, f[BAR_OPEN], price) == 0 && PUT(out, ",\"price_high\":") == 0 &&
             put_fixed(out, f[BAR_HIGH], price) == 0 && PUT(out, ",\"price_low\":") == 0 &&
             put_fixed(out, f[BAR_LOW], price) == 0 && PUT(out, ",\"price_close\":") == 0 &&
             put_fixed(out, f[BAR_CLOSE], price) == 0 && PUT(out, ",\"volume_traded\":") == 0 &&
             put_fixed(out, f[BAR_VOLUME], codec->size_decimals) == 0 && PUT(out, ",\"trades_count\":") == 0 &&
             put_int(out, f[BAR_COUNT]) == 0 && PUT(out, "}") == 0;
    release(f, 11);
    return ok ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------------------ */
/* methods                                                                                                */

typedef int (*Writer)(Out *, const CodecObject *, PyObject *const *);

/* How a method binds its arguments: ``positional`` of them (all required), then optional keyword-only ones. */
typedef struct {
    Py_ssize_t positional;
    Py_ssize_t total;
    const char *format; /* PyArg_ParseTupleAndKeywords format, for calls that name arguments */
    char *keywords[8];
} Signature;

static const Signature trade_signature = {3, 3, "OOO:trade", {"trade", "sequence", "time_coinapi_ns", NULL}};
static const Signature quote_signature = {3, 3, "OOO:quote", {"quote", "sequence", "time_coinapi_ns", NULL}};
static const Signature delta_signature = {3, 3, "OOO:book_delta", {"delta", "sequence", "time_coinapi_ns", NULL}};
static const Signature bar_signature = {2, 2, "OO:bar", {"bar", "sequence", NULL}};
static const Signature book_signature = {
    6,
    7,
    "OOOOOO|$O:book",
    {"data_type", "asks", "bids", "sequence", "time_exchange_ns", "time_coinapi_ns", "is_snapshot", NULL},
};

/* Bind a vectorcall's arguments as the reference's ``def`` would; missing optional ones are NULL. The common
 * call (every argument by position) takes no detour; one with keywords goes through PyArg_ParseTupleAndKeywords,
 * which also gives the reference's errors for a wrong call. */
static int
bind(const Signature *signature, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **bound)
{
    memset(bound, 0, signature->total * sizeof(PyObject *));
    if (kwnames == NULL && nargs == signature->positional) {
        memcpy(bound, args, nargs * sizeof(PyObject *));
        return 0;
    }
    PyObject *tuple = PyTuple_New(nargs), *dict = PyDict_New();
    int status = tuple == NULL || dict == NULL ? -1 : 0;
    for (Py_ssize_t i = 0; i < nargs && status == 0; i++) {
        PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
    }
    Py_ssize_t named = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < named && status == 0; i++) {
        status = PyDict_SetItem(dict, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]);
    }
    PyObject **b = bound; /* the arguments stay alive in the caller's frame after tuple and dict are gone */
    if (status == 0 && !PyArg_ParseTupleAndKeywords(tuple, dict, signature->format, (char **)signature->keywords,
                                                    &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7])) {
        status = -1;
    }
    Py_XDECREF(tuple);
    Py_XDECREF(dict);
    return status;
}

static PyObject *
encode(PyObject *self, const Signature *signature, Writer write, int framed, PyObject *const *args,
       Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[8];
    if (bind(signature, args, nargs, kwnames, bound) < 0) {
        return NULL;
    }
    Out out;
    out_init(&out);
    PyObject *result = NULL;
    if (write(&out, (const CodecObject *)self, bound) == 0) {
        result = framed ? out_frame(&out) : out_payload(&out);
    }
    out_free(&out);
    return result;
}

/* One method and its framed twin per event type. */
#define METHODS(name, signature, writer)                                                                    \
    static PyObject *Codec_##name(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) \
    {                                                                                                       \
        return encode(self, &signature, writer, 0, args, nargs, kwnames);                                   \
    }                                                                                                       \
    static PyObject *Codec_##name##_frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs,          \
                                          PyObject *kwnames)                                                \
    {                                                                                                       \
        return encode(self, &signature, writer, 1, args, nargs, kwnames);                                   \
    }

METHODS(trade, trade_signature, write_trade)
METHODS(quote, quote_signature, write_quote)
METHODS(book, book_signature, write_book)
METHODS(book_delta, delta_signature, write_book_delta)
METHODS(bar, bar_signature, write_bar)

#define METHOD(name, doc) {#name, (PyCFunction)(void (*)(void))Codec_##name, METH_FASTCALL | METH_KEYWORDS, doc}

static PyMethodDef Codec_methods[] = {
    METHOD(trade, "trade($self, trade, sequence, time_coinapi_ns)\n--\n\nA ``trade`` payload (PROTOCOL.md §3.1)."),
    METHOD(quote, "quote($self, quote, sequence, time_coinapi_ns)\n--\n\nA ``quote`` payload (PROTOCOL.md §3.2)."),
    METHOD(book, "book($self, data_type, asks, bids, sequence, time_exchange_ns, time_coinapi_ns, *, "
                 "is_snapshot=None)\n--\n\n"
                 "A ``book`` (snapshot or delta, ``is_snapshot`` given) or ``book5/20/50`` payload (``is_snapshot`` "
                 "None)."),
    METHOD(book_delta, "book_delta($self, delta, sequence, time_coinapi_ns)\n--\n\n"
                       "An incremental ``book`` payload; a level with size 0 is a deletion (PROTOCOL.md §3.3)."),
    METHOD(bar, "bar($self, bar, sequence)\n--\n\nAn ``ohlcv`` payload (PROTOCOL.md §3.6)."),
    METHOD(trade_frame, "trade_frame($self, trade, sequence, time_coinapi_ns)\n--\n\n"
                        "``text_frame(trade(...))``, written in one go."),
    METHOD(quote_frame, "quote_frame($self, quote, sequence, time_coinapi_ns)\n--\n\n"
                        "``text_frame(quote(...))``, written in one go."),
    METHOD(book_frame, "book_frame($self, data_type, asks, bids, sequence, time_exchange_ns, time_coinapi_ns, *, "
                       "is_snapshot=None)\n--\n\n``text_frame(book(...))``, written in one go."),
    METHOD(book_delta_frame, "book_delta_frame($self, delta, sequence, time_coinapi_ns)\n--\n\n"
                             "``text_frame(book_delta(...))``, written in one go."),
    METHOD(bar_frame, "bar_frame($self, bar, sequence)\n--\n\n``text_frame(bar(...))``, written in one go."),
    {NULL, NULL, 0, NULL},
};

/* ``price`` and ``size``: the reference's token formatters (nothing here calls them; they are its API). */
static PyObject *
Codec_get_price(CodecObject *codec, void *Py_UNUSED(closure))
{
    return reference_fixed(codec->price_decimals);
}

static PyObject *
Codec_get_size(CodecObject *codec, void *Py_UNUSED(closure))
{
    return reference_fixed(codec->size_decimals);
}

static PyGetSetDef Codec_getset[] = {
    {"price", (getter)Codec_get_price, NULL, "A price in ticks as its wire token.", NULL},
    {"size", (getter)Codec_get_size, NULL, "A size in lots as its wire token.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef Codec_members[] = {
    {"symbol_id", T_OBJECT_EX, offsetof(CodecObject, symbol_id), READONLY, "The symbol this codec encodes."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject Codec_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "coinapi_emulator.server.plane._speedups.SymbolCodec",
    .tp_basicsize = sizeof(CodecObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SymbolCodec(symbol)\n--\n\n"
              "Encoders for one symbol's streams (the C twin of server.protocol.encode.SymbolCodec).",
    .tp_new = Codec_new,
    .tp_dealloc = (destructor)Codec_dealloc,
    .tp_methods = Codec_methods,
    .tp_members = Codec_members,
    .tp_getset = Codec_getset,
};

/* ------------------------------------------------------------------------------------------------------ */
/* module                                                                                                 */

static int
load_events(void)
{
    PyObject *events = PyImport_ImportModule("coinapi_emulator.simulator.events");
    if (events == NULL) {
        return -1;
    }
    int status = load_layout(events, &trade_layout) < 0 || load_layout(events, &quote_layout) < 0 ||
                         load_layout(events, &delta_layout) < 0 || load_layout(events, &level_layout) < 0 ||
                         load_layout(events, &bar_layout) < 0 || load_members(events, "TakerSide", NULL, &taker_sides) < 0
                     ? -1
                     : 0;
    Py_DECREF(events);
    return status;
}

static int
load_stream_types(void)
{
    PyObject *datatypes = PyImport_ImportModule("coinapi_emulator.server.protocol.datatypes");
    if (datatypes == NULL) {
        return -1;
    }
    int status = load_members(datatypes, "DataType", "is_symbol_stream", &stream_types);
    if (status == 0) {
        type_trade = stream_type(datatypes, "TRADE");
        type_quote = stream_type(datatypes, "QUOTE");
        type_book = stream_type(datatypes, "BOOK");
        type_ohlcv = stream_type(datatypes, "OHLCV");
        status = type_trade && type_quote && type_book && type_ohlcv ? 0 : -1;
    }
    Py_DECREF(datatypes);
    return status;
}

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "coinapi_emulator.server.plane._speedups",
    .m_doc = "The per-symbol encoders in C (server/protocol/encode.py is the reference).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (load_events() < 0 || load_stream_types() < 0 || PyType_Ready(&Codec_Type) < 0) {
        return NULL;
    }
    seconds_seen_init();
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "SymbolCodec", (PyObject *)&Codec_Type) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
