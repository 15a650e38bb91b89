/*
 * The verifier's row reader for a ledger stored in SQLite (ADR 0015, addendum 3).
 *
 * Reads the entries in index order on a connection of its own and, per row, does what
 * ``_rows.check_rows`` does: the RFC 6962 leaf hash, the comparison with the stored leaf_hash,
 * and the check that the leaf starts and ends with what its plain columns say. Written in C
 * because Python's sqlite3 module spends about 0.9 us per row (it hands the GIL over around
 * every step and builds a tuple of objects per row), as much as all the hashing: measured,
 * it kept verification below half of the raw hashing rate that the ledger issue sets.
 *
 * The reader only ever confirms. A row it cannot confirm (a mismatch, a value in an unexpected
 * type or form, a column with characters JSON escapes) ends the chunk's fast path: the caller
 * reads that chunk again through the Python checks, which name the fault exactly or accept it.
 * So a built reader changes the speed of ``assay ledger verify``, never its verdict.
 *
 * It links the same libsqlite3 and libcrypto as Python's own sqlite3 and hashlib modules, so
 * the process holds one SQLite library (POSIX locks are per library copy) and one OpenSSL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <string.h>

#define HASH_SIZE 32
/* "YYYY-MM-DD HH:MM:SS.ffffff", the form SQLite stores event_time in. */
#define TIME_WIDTH 26

static const char ENTRIES_SQL[] =
    "SELECT leaf, leaf_hash, actor, tenant, event_type, event_time FROM ledger_entries ORDER BY idx";

typedef struct {
    PyObject_HEAD
    sqlite3 *db;
    sqlite3_stmt *stmt;
    EVP_MD *sha256;
    EVP_MD_CTX *ctx;
    unsigned char *buffer; /* expected leaf head and tail, rebuilt per row */
    size_t capacity;
    int done;
} Reader;

static PyObject *ReaderError;

static int raise_sqlite(Reader *self, const char *doing)
{
    PyErr_Format(ReaderError, "%s: %s", doing, self->db ? sqlite3_errmsg(self->db) : "out of memory");
    return -1;
}

static void release(Reader *self)
{
    if (self->stmt) sqlite3_finalize(self->stmt);
    if (self->db) sqlite3_close_v2(self->db);
    if (self->ctx) EVP_MD_CTX_free(self->ctx);
    if (self->sha256) EVP_MD_free(self->sha256);
    PyMem_Free(self->buffer);
    self->stmt = NULL;
    self->db = NULL;
    self->ctx = NULL;
    self->sha256 = NULL;
    self->buffer = NULL;
    self->capacity = 0;
    self->done = 1;
}

static int Reader_init(Reader *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"path", NULL};
    const char *path;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s", keywords, &path)) return -1;
    release(self);
    self->done = 0;
    /* Read-write without create: a read-only handle cannot join a WAL database whose -shm it
     * may not map; query_only keeps this connection from ever writing. */
    if (sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return raise_sqlite(self, "opening the database");
    sqlite3_busy_timeout(self->db, 30000); /* as the pool's connections (store/db.py) */
    if (sqlite3_exec(self->db, "PRAGMA query_only=1; PRAGMA mmap_size=1073741824", NULL, NULL, NULL) != SQLITE_OK)
        return raise_sqlite(self, "configuring the connection");
    if (sqlite3_prepare_v2(self->db, ENTRIES_SQL, -1, &self->stmt, NULL) != SQLITE_OK)
        return raise_sqlite(self, "reading the entries");
    self->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    self->ctx = EVP_MD_CTX_new();
    if (!self->sha256 || !self->ctx) {
        PyErr_SetString(ReaderError, "OpenSSL has no SHA-256");
        return -1;
    }
    return 0;
}

static void Reader_dealloc(Reader *self)
{
    release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int leaf_hash(Reader *self, const void *leaf, int size, unsigned char *out)
{
    static const unsigned char prefix = 0x00;
    return EVP_DigestInit_ex2(self->ctx, self->sha256, NULL) && EVP_DigestUpdate(self->ctx, &prefix, 1) &&
           EVP_DigestUpdate(self->ctx, leaf, (size_t)size) && EVP_DigestFinal_ex(self->ctx, out, NULL);
}

/* A column's text when JSON writes it verbatim between quotes (no '"', '\\' or control
 * character); NULL otherwise. */
static const unsigned char *plain_text(sqlite3_stmt *stmt, int column, int *size)
{
    if (sqlite3_column_type(stmt, column) != SQLITE_TEXT) return NULL;
    const unsigned char *text = sqlite3_column_text(stmt, column);
    *size = sqlite3_column_bytes(stmt, column);
    for (int i = 0; i < *size; i++) {
        if (text[i] < 0x20 || text[i] == '"' || text[i] == '\\') return NULL;
    }
    return text;
}

static int stored_time(const unsigned char *when, int size)
{
    static const char form[] = "0000-00-00 00:00:00.000000";
    if (size != TIME_WIDTH) return 0;
    for (int i = 0; i < TIME_WIDTH; i++) {
        int digit = when[i] >= '0' && when[i] <= '9';
        if (form[i] == '0' ? !digit : when[i] != (unsigned char)form[i]) return 0;
    }
    return 1;
}

static unsigned char *put(unsigned char *at, const void *bytes, size_t size)
{
    memcpy(at, bytes, size);
    return at + size;
}

#define PUT_LITERAL(at, literal) put((at), (literal), sizeof(literal) - 1)

static int reserve(Reader *self, size_t size)
{
    if (size <= self->capacity) return 0;
    unsigned char *grown = PyMem_Realloc(self->buffer, size);
    if (!grown) return -1;
    self->buffer = grown;
    self->capacity = size;
    return 0;
}

/* 1 when the leaf starts ``{"actor":A,"attributes":`` and ends
 * ``,"tenant":T,"time":"W","type":Y}`` for this row's columns; 0 when that cannot be confirmed
 * here; -1 on a memory error. */
static int columns_fit(Reader *self, const unsigned char *leaf, int leaf_size)
{
    sqlite3_stmt *stmt = self->stmt;
    int actor_size, kind_size, tenant_size = 0, when_size;
    const unsigned char *actor = plain_text(stmt, 2, &actor_size);
    const unsigned char *kind = plain_text(stmt, 4, &kind_size);
    int null_tenant = sqlite3_column_type(stmt, 3) == SQLITE_NULL;
    const unsigned char *tenant = null_tenant ? NULL : plain_text(stmt, 3, &tenant_size);
    if (!actor || !kind || (!null_tenant && !tenant) || sqlite3_column_type(stmt, 5) != SQLITE_TEXT) return 0;
    const unsigned char *when = sqlite3_column_text(stmt, 5);
    when_size = sqlite3_column_bytes(stmt, 5);
    if (!stored_time(when, when_size)) return 0;
    if (reserve(self, (size_t)actor_size + kind_size + tenant_size + 128) < 0) return -1;

    unsigned char *at = PUT_LITERAL(self->buffer, "{\"actor\":\"");
    at = put(at, actor, (size_t)actor_size);
    at = PUT_LITERAL(at, "\",\"attributes\":");
    size_t head = (size_t)(at - self->buffer);
    if ((size_t)leaf_size < head || memcmp(leaf, self->buffer, head) != 0) return 0;

    at = PUT_LITERAL(self->buffer, ",\"tenant\":");
    if (null_tenant) {
        at = PUT_LITERAL(at, "null");
    } else {
        at = put(PUT_LITERAL(at, "\""), tenant, (size_t)tenant_size);
        at = PUT_LITERAL(at, "\"");
    }
    at = put(PUT_LITERAL(at, ",\"time\":\""), when, 10);
    at = put(PUT_LITERAL(at, "T"), when + 11, 8);
    if (memcmp(when + 19, ".000000", 7) != 0) at = put(at, when + 19, 7); /* no fraction for a whole second */
    at = put(PUT_LITERAL(at, "Z\",\"type\":\""), kind, (size_t)kind_size);
    at = PUT_LITERAL(at, "\"}");
    size_t tail = (size_t)(at - self->buffer);
    return (size_t)leaf_size >= tail && memcmp(leaf + leaf_size - tail, self->buffer, tail) == 0;
}

/* 1 when the current row is confirmed (its digest appended to ``digests``), 0 when not, -1 on error. */
static int confirm_row(Reader *self, PyObject *digests)
{
    sqlite3_stmt *stmt = self->stmt;
    if (sqlite3_column_type(stmt, 0) != SQLITE_BLOB || sqlite3_column_type(stmt, 1) != SQLITE_BLOB) return 0;
    const unsigned char *leaf = sqlite3_column_blob(stmt, 0);
    int leaf_size = sqlite3_column_bytes(stmt, 0);
    unsigned char digest[HASH_SIZE];
    if (!leaf_hash(self, leaf ? (const void *)leaf : "", leaf_size, digest)) {
        PyErr_SetString(ReaderError, "SHA-256 failed");
        return -1;
    }
    const void *stored = sqlite3_column_blob(stmt, 1);
    if (sqlite3_column_bytes(stmt, 1) != HASH_SIZE || memcmp(stored, digest, HASH_SIZE) != 0) return 0;
    int fit = columns_fit(self, leaf ? leaf : (const unsigned char *)"", leaf_size);
    if (fit <= 0) {
        if (fit < 0) PyErr_NoMemory();
        return fit;
    }
    PyObject *hash = PyBytes_FromStringAndSize((const char *)digest, HASH_SIZE);
    if (!hash) return -1;
    int appended = PyList_Append(digests, hash);
    Py_DECREF(hash);
    return appended < 0 ? -1 : 1;
}

/* read(limit) -> (digests, rows): the leaf hashes of the confirmed rows at the front of the
 * next ``limit`` rows, and how many rows were consumed. ``len(digests) < rows`` means row
 * ``len(digests)`` of this chunk could not be confirmed; ``rows == 0`` means the end. */
static PyObject *Reader_read(Reader *self, PyObject *arg)
{
    Py_ssize_t limit = PyLong_AsSsize_t(arg);
    if (limit < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "limit must not be negative");
        return NULL;
    }
    if (!self->stmt && !self->done) {
        PyErr_SetString(ReaderError, "the reader is not open");
        return NULL;
    }
    PyObject *digests = PyList_New(0);
    if (!digests) return NULL;
    Py_ssize_t rows = 0;
    int confirming = 1;
    while (!self->done && rows < limit) {
        int step = sqlite3_step(self->stmt);
        if (step == SQLITE_DONE) {
            self->done = 1;
            break;
        }
        if (step != SQLITE_ROW) {
            raise_sqlite(self, "reading the entries");
            Py_DECREF(digests);
            return NULL;
        }
        rows++;
        if (!confirming) continue; /* the caller re-reads this chunk; keep the row count exact */
        int confirmed = confirm_row(self, digests);
        if (confirmed < 0) {
            Py_DECREF(digests);
            return NULL;
        }
        confirming = confirmed;
    }
    return Py_BuildValue("(Nn)", digests, rows);
}

static PyObject *Reader_close(Reader *self, PyObject *Py_UNUSED(ignored))
{
    release(self);
    Py_RETURN_NONE;
}

static PyMethodDef Reader_methods[] = {
    {"read", (PyCFunction)Reader_read, METH_O,
     "read(limit) -> (digests, rows): leaf hashes of the confirmed rows that start the next chunk."},
    {"close", (PyCFunction)Reader_close, METH_NOARGS, "Finish the statement and close the connection."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "assay.ledger._entry_reader.EntryReader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "EntryReader(path): the ledger's entries in index order, hashed and checked per row.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_methods = Reader_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_entry_reader", "The ledger verifier's SQLite row reader.", -1, NULL,
};

PyMODINIT_FUNC PyInit__entry_reader(void)
{
    if (PyType_Ready(&ReaderType) < 0) return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (!mod) return NULL;
    ReaderError = PyErr_NewException("assay.ledger._entry_reader.ReaderError", NULL, NULL);
    if (!ReaderError || PyModule_AddObjectRef(mod, "ReaderError", ReaderError) < 0 ||
        PyModule_AddObjectRef(mod, "EntryReader", (PyObject *)&ReaderType) < 0) {
        Py_XDECREF(ReaderError);
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
