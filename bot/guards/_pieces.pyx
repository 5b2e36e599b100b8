# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Steps 2 to 5a of `normalise.py`, compiled: the common case.

Why: every message of every room is normalised before any list reads it, and in Python the
common case, piece by piece through two remembered dicts (`_PIECES`, `_Mapped`), still cost
about a fifth of the guards' time: a new string per piece, a lookup per piece in dicts of
tens of thousands of entries (waits on memory once the patterns have filled the caches), two
joins. Here the text's characters are read once: each through a table of 256 outputs (the
translations `_TABLE` makes; a character beyond Latin-1 is asked of it once), runs of a letter
squeezed, each piece's words through the language's token map (a few hundred entries), into
one buffer.

Exactly what `normalise._Mapped` gives, joined: `Pieces.words(text)` is
`"".join(map(mapped.__getitem__, text.split(" ")))` for the language's `mapped`. It answers
None where the Python code must decide (a piece whose words start with a space or leave two,
or one of the `before` rewrites' needles in the text), and `normalise.py` then takes its own
path.

Optional, as `_model_sums`: without a C++ compiler `normalise.py` does all of it in Python.
"""

from cython.operator cimport dereference as deref
from cpython.unicode cimport PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_KIND, PyUnicode_READ
from libcpp.string cimport string
from libc.stdint cimport uint32_t
from libcpp.unordered_map cimport unordered_map
from libcpp.vector cimport vector


cdef extern from "Python.h":
    object PyUnicode_DecodeLatin1(const char* s, Py_ssize_t size, const char* errors)


cdef class Pieces:
    """One language's steps 2 to 5a: `table` is the translation of each of the 256 Latin-1
    characters (`normalise._TABLE`), `tokens` the token map, `apostrophe` what an apostrophe
    becomes before splitting (`normalise._SPLIT`), `needles` the `before` rewrites' needles."""

    cdef vector[string] table
    # Beyond Latin-1 (typographic apostrophes, « œ », emoji…): each character's translation,
    # asked of `more` (`normalise._TABLE`) the first time it is seen, then remembered here.
    cdef unordered_map[uint32_t, string] beyond
    cdef object more
    cdef unordered_map[string, string] tokens
    cdef string apostrophe
    cdef vector[string] needles
    # Buffers reused from one text to the next.
    cdef string piece  # one piece, translated and squeezed
    cdef string split  # the same, apostrophes as `apostrophe`
    cdef string base  # the pieces translated and squeezed, joined by spaces (for the needles)
    cdef string out  # the answer

    def __init__(self, table, more, tokens, str apostrophe, needles):
        if len(table) != 256:
            raise ValueError("the table must give the 256 Latin-1 characters' translations")
        for translation in table:
            self.table.push_back((<str?>translation).encode("latin-1"))
        for key, value in tokens.items():
            if not (<str?>key).isascii() or not (<str?>value).isascii():
                raise ValueError("the token map must be ASCII, as normalised text is")
            self.tokens[key.encode()] = value.encode()
        self.more = more
        self.apostrophe = apostrophe.encode("latin-1")
        for needle in needles:
            self.needles.push_back((<str?>needle).encode("latin-1"))

    cdef string* _beyond(self, uint32_t code) except NULL:
        cdef unordered_map[uint32_t, string].iterator found = self.beyond.find(code)
        if found != self.beyond.end():
            return &deref(found).second
        out = self.more(code)
        if not (<str?>out).isascii():
            raise ValueError(f"translation of U+{code:04X} is not ASCII")
        self.beyond[code] = out.encode()
        return &self.beyond[code]

    cdef int _translate(self, int kind, void* data, Py_ssize_t start, Py_ssize_t end) except -1:
        """`self.piece`: `piece.translate(_TABLE)` then `_REPEATED.sub(r"\\1", …)`, which
        squeezes each run of one lower-case ASCII letter."""
        cdef Py_ssize_t i
        cdef size_t j
        cdef unsigned char c, last = 0
        cdef string* out
        cdef uint32_t code
        self.piece.clear()
        for i in range(start, end):
            code = PyUnicode_READ(kind, data, i)
            out = &self.table[code] if code < 256 else self._beyond(code)
            for j in range(out.size()):
                c = <unsigned char>out[0][j]
                if c == last and 97 <= c <= 122:  # a run of one letter, a to z
                    continue
                self.piece.push_back(c)
                last = c
        return 0

    cdef bint _map(self) noexcept:
        """Append `self.piece`'s words to `self.out` as `_token_map` gives them, and a space;
        False when it has no word (then nothing is appended)."""
        cdef size_t i, start, end
        cdef unordered_map[string, string].iterator found
        cdef bint any_word = False
        cdef bint elided = False
        cdef size_t from_here = self.out.size()
        cdef string word
        self.split.clear()
        for i in range(self.piece.size()):
            if self.piece[i] == 39:  # an apostrophe
                self.split.append(self.apostrophe)
                elided = True
            else:
                self.split.push_back(self.piece[i])
        i = 0
        while i < self.split.size():
            while i < self.split.size() and self.split[i] == 32:
                i += 1
            if i == self.split.size():
                break
            start = i
            while i < self.split.size() and self.split[i] != 32:
                i += 1
            end = i
            if any_word:
                self.out.push_back(b" ")
            any_word = True
            word.assign(self.split, start, end - start)
            found = self.tokens.find(word)
            if found != self.tokens.end():
                self.out.append(deref(found).second)
            else:
                self.out.append(word)
        if elided:
            # The apostrophes left in words the map did not know are dropped (no value has one).
            end = from_here
            for i in range(from_here, self.out.size()):
                if self.out[i] != 39:
                    self.out[end] = self.out[i]
                    end += 1
            self.out.resize(end)
        if any_word:
            self.out.push_back(b" ")
        return any_word

    def words(self, str text):
        """`"".join(map(mapped.__getitem__, text.split(" ")))`, or None (see the module)."""
        cdef int kind = PyUnicode_KIND(text)
        cdef void* data = PyUnicode_DATA(text)
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0, start
        cdef bint check = not self.needles.empty()
        cdef size_t k
        self.out.clear()
        self.base.clear()
        while True:
            start = i
            while i < n and PyUnicode_READ(kind, data, i) != 32:
                i += 1
            self._translate(kind, data, start, i)
            if check:
                if start:
                    self.base.push_back(b" ")
                self.base.append(self.piece)
            self._map()
            if i >= n:
                break
            i += 1  # the space; a text ending with one ends with an empty piece, as split gives
        if check:
            for k in range(self.needles.size()):
                if self.base.find(self.needles[k]) != <size_t>-1:
                    return None
        if self.out.size() and self.out[0] == 32:
            return None
        if self.out.find(b"  ") != <size_t>-1:
            return None
        return PyUnicode_DecodeLatin1(self.out.data(), self.out.size(), NULL)
