/*
 * common.h: what every file of the C speedups shares: Python's headers, the 64-bit price and size type, and the
 * book's constants (simulator/book.py) that the book, its maker and the symbol state all use.
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
/* Resting sizes are Pareto with alpha LEVEL_SIZE_TAIL capped at LEVEL_SIZE_CAP (book.py) times size_profile[depth]
 * (SIZE_PROFILE), which is scaled for a mean of LEVEL_MEAN at the touch (book.py _PROFILE_SCALE). */
#define LEVEL_SIZE_TAIL 1.5
#define SIZE_EXPONENT (-1.0 / LEVEL_SIZE_TAIL)
#define LEVEL_SIZE_CAP 300.0
#define LEVEL_MEAN 2.25
#define HUMP_DEPTH 5.0  /* book.py HUMP_DEPTH */
#define HUMP_HEIGHT 3.0 /* book.py HUMP_HEIGHT */
#define DENSE_DEPTH 10  /* book.py DENSE_DEPTH */
#define LEAN_START 0.2  /* book.py LEAN_START */
#define CATCH_UP 0.9    /* book.py CATCH_UP */
#define PROFILE_LEN (MAX_LEVELS + 2)
static double size_profile[PROFILE_LEN]; /* filled at import with book.py's formula */
