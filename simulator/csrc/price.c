/*
 * price.c: the C twin of simulator/price.py ``SymbolPricer``: a symbol's fair mid from the (lagged) factors,
 * its premium and basis, carry and option value.
 */
#define BASIS_REFRESH_NS 100000000LL      /* price.py BASIS_REFRESH_NS */
#define SQRT12 3.4641016151377544
#define YEAR_S (365.0 * 86400.0)
enum { LINEAR = 0, FUTURE = 1, OPTION = 2 }; /* price.py _LINEAR, _FUTURE, _OPTION */

static int
take_pricer(StateObject *st, PyObject *pricer)
{
    i64 base, quote, kind, lag;
    if (attr_i64(pricer, "base", &base) || attr_i64(pricer, "quote", &quote) || attr_i64(pricer, "lag", &lag) ||
        attr_double(pricer, "premium", &st->premium) || attr_double(pricer, "premium_sd", &st->premium_sd) ||
        attr_double(pricer, "premium_decay_per_ns", &st->premium_decay_per_ns) ||
        attr_i64(pricer, "kind", &kind) || attr_bool(pricer, "is_call", &st->is_call) ||
        attr_double(pricer, "ticks", &st->ticks) || attr_double(pricer, "sd", &st->sd) ||
        attr_double(pricer, "decay_per_ns", &st->decay_per_ns) || attr_double(pricer, "mean", &st->mean) ||
        attr_double(pricer, "basis", &st->basis) || attr_double(pricer, "carry_per_ns", &st->carry_per_ns) ||
        attr_double(pricer, "strike", &st->strike) || attr_double(pricer, "vol", &st->vol) ||
        attr_double(pricer, "mid", &st->mid) || attr_i64(pricer, "last_ns", &st->last_ns) ||
        attr_i64(pricer, "expiry_ns", &st->expiry_ns) || attr_i64(pricer, "valid_until_ns", &st->valid_until_ns)) {
        return -1;
    }
    st->base = (Py_ssize_t)base;
    st->quote = (Py_ssize_t)quote;
    st->lag = (Py_ssize_t)lag;
    st->kind = (int)kind;
    return 0;
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
