# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The TF-IDF sums of `model._scaled(read(text))`, compiled: the crisis model's hot loop.

Why: the learned model reads every message of every room, and in pure Python building its
features (words, pairs, prefixes as new strings) and looking each one up in a table of
63,000 features cost about 40 % of the guards' time, most of it waiting on memory. Here the
features are never built as Python objects: each is looked up where it lies in the message's
UTF-8 bytes (a pair in a small reused buffer), in one flat open-addressing table of hashes
(1 MB of slots instead of 63,000 Python strings and numbers scattered across 9 MB). The slots of
all of a message's features are asked for before any is read, then their entries, so that the
waits on memory overlap instead of adding up (1.4-1.6x faster alone than one feature at a time).

Exactly the features of `model.read`: the words, the pairs of neighbouring words that no
punctuation token or blanked span (`~`) separates, the first `PREFIX` characters of each word
longer than that (code points, as Python slices), `~` once when present; tags (`#…`, `@…`)
count as words and pairs but have no prefix and are not counted in `words`. Each feature
counts once, as in a set: a slot hit twice for one message adds nothing the second time (a
stamp per call, no set to build). Only the order of the additions differs from the Python
sum, so the last bits may too (`tests/unit/test_guards_model_sums.py` checks both agree).

Optional: `model.py` uses the pure-Python sums when this module is not built (no C++
compiler where the bot was installed), with the same answers.
"""

from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcmp
from libcpp.string cimport string
from libcpp.vector cimport vector


cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)


cdef extern from "<string_view>" namespace "std" nogil:
    cdef cppclass string_view:
        string_view(const char*, size_t)


cdef extern from "<functional>" namespace "std" nogil:
    cdef cppclass hash[T]:
        size_t operator()(const T&)


cdef struct Slot:  # 8 bytes: the 131,072 slots of the shipped model fit in 1 MB
    uint32_t hash  # the feature's hash, its upper half: the lower bits chose the slot
    uint32_t entry  # the entry's index + 1; 0: an empty slot


cdef struct Feature:  # one feature of the message being read
    uint64_t hash
    const char* pointer  # where its bytes are: in a token, or NULL: in the arena, at `start`
    size_t start
    size_t length
    int64_t slot  # the first slot with its hash; -1: not in the table


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define HALTE_PREFETCH(p) __builtin_prefetch(p)
    #else
    #define HALTE_PREFETCH(p) ((void)(p))
    #endif
    """
    void prefetch "HALTE_PREFETCH"(const void*) nogil  # a hint only: a no-op where unknown


cdef struct Entry:
    double weighted
    double square
    uint32_t offset  # of the feature's UTF-8 bytes in `keys`
    uint32_t length
    uint32_t stamp  # the call that last counted this feature


cdef class Sums:
    """The table of one model: feature → (weight times idf, idf squared), as `model._terms`;
    `prefix` and `skip` are `model.PREFIX` and `model._SKIP` (the one-character tokens that
    are not words; `blanked`, `model.BLANKED`, among them is a feature)."""

    cdef vector[Slot] slots
    cdef vector[Entry] entries
    cdef string keys
    cdef uint64_t mask
    cdef uint32_t stamp
    cdef string pair
    cdef vector[Feature] features  # of the message being read, reused
    cdef string arena  # the bytes of its pairs and prefixes
    cdef const char* previous  # the token before, while one is read (NULL: none)
    cdef Py_ssize_t previous_n
    cdef int words
    cdef double weighted
    cdef double squares
    cdef hash[string_view] hasher
    cdef string skip
    cdef char blanked
    cdef int prefix

    def __init__(self, terms, int prefix, str skip, str blanked):
        if not skip.isascii() or len(blanked) != 1 or blanked not in skip:
            raise ValueError("skip must be ASCII and hold blanked")
        self.skip = skip.encode()
        self.blanked = ord(blanked)
        self.prefix = prefix
        cdef size_t size = 1, wanted = 2 * len(terms)
        while size < wanted:
            size <<= 1
        self.mask = size - 1
        cdef Slot empty
        empty.hash = 0
        empty.entry = 0
        self.slots.assign(size, empty)
        cdef Entry entry
        cdef bytes raw
        cdef uint64_t h, i
        for feature, term in terms.items():
            raw = (<str?>feature).encode("utf-8")
            entry.weighted = term.real
            entry.square = term.imag
            entry.offset = self.keys.size()
            entry.length = len(raw)
            entry.stamp = 0
            self.keys.append(<const char*>raw, len(raw))
            self.entries.push_back(entry)
            h = self.hasher(string_view(<const char*>raw, len(raw)))
            i = h & self.mask
            while self.slots[i].entry != 0:
                i = (i + 1) & self.mask
            self.slots[i].hash = <uint32_t>(h >> 32)
            self.slots[i].entry = self.entries.size()
        self.stamp = 0

    cdef inline void _feature(self, const char* p, size_t n, bint own) noexcept:
        """Note the feature `p[:n]` (`own`: copy it to the arena, it is not in a token) and
        ask the processor for its slot now, so that the slots of all a message's features
        are fetched from memory together instead of one after the other."""
        cdef Feature feature
        feature.hash = self.hasher(string_view(p, n))
        feature.length = n
        if own:
            feature.start = self.arena.size()
            feature.pointer = NULL
            self.arena.append(p, n)
        else:
            feature.pointer = p
        prefetch(&self.slots[feature.hash & self.mask])
        self.features.push_back(feature)

    cdef inline void _find(self, Feature* feature) noexcept:
        """The first slot with the feature's hash (its entry not checked yet), or none; and
        ask for that entry and its key now, as `_feature` did for the slot."""
        cdef uint64_t i = feature.hash & self.mask
        cdef uint32_t check = <uint32_t>(feature.hash >> 32)
        cdef Slot* slot
        while True:
            slot = &self.slots[i]
            if slot.entry == 0:
                feature.slot = -1
                return
            if slot.hash == check:
                feature.slot = <int64_t>i
                prefetch(&self.entries[slot.entry - 1])
                prefetch(self.keys.data() + self.entries[slot.entry - 1].offset)
                return
            i = (i + 1) & self.mask

    cdef inline void _count(self, Feature* feature) noexcept:
        """Add the feature to the sums, if the table knows it and it is not counted yet."""
        if feature.slot < 0:
            return
        cdef const char* p = feature.pointer
        if p == NULL:
            p = self.arena.data() + feature.start
        cdef size_t n = feature.length
        cdef uint64_t i = <uint64_t>feature.slot
        cdef uint32_t check = <uint32_t>(feature.hash >> 32)
        cdef Slot* slot
        cdef Entry* entry
        while True:
            slot = &self.slots[i]
            if slot.entry == 0:
                return
            if slot.hash == check:
                entry = &self.entries[slot.entry - 1]
                if entry.length == n and memcmp(self.keys.data() + entry.offset, p, n) == 0:
                    if entry.stamp != self.stamp:
                        entry.stamp = self.stamp
                        self.weighted += entry.weighted
                        self.squares += entry.square
                    return
            i = (i + 1) & self.mask

    cdef void _start(self) noexcept:
        self.stamp += 1
        if self.stamp == 0:  # wrapped around: forget every stamp
            for k in range(self.entries.size()):
                self.entries[k].stamp = 0
            self.stamp = 1
        self.weighted = 0.0
        self.squares = 0.0
        self.features.clear()
        self.arena.clear()
        self.previous = NULL
        self.words = 0

    cdef void _token(self, const char* p, Py_ssize_t n) noexcept:
        """Note the features of one token (`n` > 0 bytes at `p`, which outlive the call)."""
        cdef Py_ssize_t i, seen
        if n == 1 and self.skip.find(p[0]) != <size_t>-1:
            if p[0] == self.blanked:
                self._feature(p, n, False)
            self.previous = NULL
            return
        self._feature(p, n, False)
        if self.previous != NULL:
            self.pair.assign(self.previous, self.previous_n)
            self.pair.push_back(b" ")
            self.pair.append(p, n)
            self._feature(self.pair.data(), self.pair.size(), True)
        self.previous = p
        self.previous_n = n
        if p[0] == b"#" or p[0] == b"@":
            return
        self.words += 1
        # The first `prefix` code points (UTF-8 continuation bytes are 10xxxxxx), if more follow.
        seen = 0
        i = 0
        while i < n:
            if (p[i] & 0xC0) != 0x80:
                if seen == self.prefix:
                    break
                seen += 1
            i += 1
        if i < n:
            self.pair.assign(p, i)
            self.pair.push_back(b"-")
            self._feature(self.pair.data(), self.pair.size(), True)

    cdef tuple _finish(self):
        """In three passes over the message's features (noted and their slots fetched, then
        their entries found and fetched, then added up), so that the memory waits overlap:
        the table is larger than the processor's caches. The additions are made in the order
        of the features, as one pass would make them."""
        cdef size_t k
        for k in range(self.features.size()):
            self._find(&self.features[k])
        for k in range(self.features.size()):
            self._count(&self.features[k])
        return self.weighted, self.squares, self.words

    def of(self, list tokens):
        """(sum of weight times idf, sum of idf squared, word count) for `text.split()`."""
        cdef Py_ssize_t n
        cdef const char* p
        self._start()
        for token in tokens:
            p = PyUnicode_AsUTF8AndSize(<str?>token, &n)
            if n:
                self._token(p, n)
        return self._finish()

    def of_text(self, str text):
        """`of(text.split())`, without making the list: the text's bytes are read where they
        are. Only for ASCII text, where `split` splits at ASCII whitespace alone; other text
        is split by Python (Unicode has more spaces)."""
        if not PyUnicode_IS_COMPACT_ASCII(text):
            return self.of(text.split())
        cdef Py_ssize_t n, i = 0, start
        cdef const char* p = PyUnicode_AsUTF8AndSize(text, &n)
        self._start()
        while True:
            while i < n and _space(p[i]):
                i += 1
            if i == n:
                break
            start = i
            while i < n and not _space(p[i]):
                i += 1
            self._token(p + start, i - start)
        return self._finish()


cdef inline bint _space(char c) noexcept:
    """Whether `str.split()` splits at this ASCII character: space, \t \n \v \f \r, and the
    separators \x1c to \x1f."""
    return c == 32 or 9 <= c <= 13 or 28 <= c <= 31
