"""whoosh without pickles: kb's search index is written and read without ``pickle``.

whoosh 2.7 (whoosh-reloaded, codec whoosh3) unpickles what it reads from these files of an
index; a ``.kb/`` folder that arrived with a vault (a clone, a zip) would run its sender's
code in each. Here each is replaced by a format that only decodes data, checked on read:

- the table of contents ``_MAIN_<gen>.toc`` (the pickled schema and segment list,
  ``whoosh.index.TOC``): kb's own JSON TOC under the same name; the schema is kb's, never
  read from disk (:class:`SafeIndex`, :func:`read_toc`);
- stored fields (``MAIN_<seg>._stored.col``, a ``PickleColumn``): JSON, type-checked;
- the extras at the end of the terms file ``.trm`` (a pickled dict: the field map): JSON;
- a term's inlined postings in ``.trm`` (flag byte set): never written, refused on read;
- each posting block's info and data tuples in ``.pst``: struct and arrays;
- word positions in posting values (``formats.Positions``): kb.index's ``_Positions``
  encodes them with :func:`encode_positions`.

Paths of whoosh that unpickle but that kb's index never takes: compound segment files
(``filedb.compound``: kb writes none, and its TOC refuses a compound segment), the legacy TOC
loaders (``whoosh.legacy``: whoosh's TOC reader is never called), term vectors (kb's schema
has none; reading one is refused), spelling graphs (``automata.fst``), column types kb's
schema does not use, the whoosh2 and plaintext codecs. Files kb's own processes write and
read back at once, never from an earlier run: the sorting runs of a writer (``marshal``, in
``MAIN.tmp/`` under a random name; marshal builds data, it runs nothing) and the job files of
the parallel writer (pickles between kb's processes, under random names).

Everything whoosh is asked for goes through :class:`SafeIndex` and :class:`SafeCodec`;
``whoosh.index.open_dir``, ``exists_in`` and ``create_in`` read or write whoosh's pickled TOC
and must not be used on kb's index.
"""

from __future__ import annotations

import json
import re
import struct
import sys
import zlib
from array import array
from collections.abc import Iterator, Sequence
from itertools import accumulate, pairwise
from time import time

from whoosh import columns
from whoosh import index as whoosh_index
from whoosh.codec import whoosh3 as w3
from whoosh.filedb import filetables
from whoosh.index import EmptyIndexError, FileIndex
from whoosh.scoring import BM25F
from whoosh.system import _INT_SIZE
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.util.numlists import delta_encode
from whoosh.writing import SegmentWriter

INDEX_NAME = "MAIN"
TOC_FORMAT = "kb-search-toc/1"
"""What kb's TOC says it is; a file without it (a whoosh TOC, a pickle) is not read."""

TOC_MAX_BYTES = 16 << 20
"""kb's TOC lists segments (a few hundred bytes each, with deletions): anything larger is not."""

_SEGID = re.compile(r"[0-9a-z]{1,64}")
"""A segment id: it becomes part of file names, so nothing else (no ``/``, no ``..``)."""


class IndexDamaged(Exception):
    """A file of the search index does not decode as kb writes it (damaged, or planted)."""


# -- the table of contents -------------------------------------------------------------------


class TOC:
    """What whoosh's ``TOC`` holds, as read from kb's JSON: the schema is kb's own."""

    def __init__(self, schema, segments: list, generation: int):
        self.schema = schema
        self.segments = segments
        self.generation = generation
        self.version = TOC_FORMAT
        self.release = None


def _toc_name(generation: int) -> str:
    return f"_{INDEX_NAME}_{generation}.toc"


def latest_generation(storage) -> int:
    """The highest TOC generation in the folder, -1 when there is none."""
    pattern = re.compile(rf"^_{INDEX_NAME}_([0-9]+)\.toc$")
    found = [int(m.group(1)) for m in map(pattern.match, storage) if m]
    return max(found, default=-1)


def _segment_json(segment) -> dict:
    deleted = segment._deleted
    return {
        "segid": segment.segid,
        "doccount": segment._doccount,
        "deleted": sorted(deleted) if deleted else [],
        "fieldlengths": dict(getattr(segment, "_fieldlengths", {})),
    }


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _segment_from(data, codec) -> w3.W3Segment:
    """A segment from its JSON, every value checked (the id becomes part of file names)."""
    if not isinstance(data, dict):
        raise IndexDamaged("a segment is not an object")
    segid, doccount = data.get("segid"), data.get("doccount")
    deleted, lengths = data.get("deleted"), data.get("fieldlengths")
    if not (isinstance(segid, str) and _SEGID.fullmatch(segid)):
        raise IndexDamaged("a segment id is not a segment id")
    if not _is_count(doccount):
        raise IndexDamaged("a segment's document count is not a count")
    if not (isinstance(deleted, list) and all(_is_count(d) and d < doccount for d in deleted)):
        raise IndexDamaged("a segment's deleted documents are not document numbers")
    if not (isinstance(lengths, dict) and all(_is_count(v) for v in lengths.values())):
        raise IndexDamaged("a segment's field lengths are not counts")
    segment = w3.W3Segment(codec, INDEX_NAME, doccount, segid, set(deleted) or None)
    segment._fieldlengths = dict(lengths)
    return segment


def read_toc(storage, schema, generation: int | None = None) -> TOC:
    """kb's TOC of the index in ``storage``: JSON only, never a pickle; the schema is kb's."""
    if generation is None:
        generation = latest_generation(storage)
        if generation < 0:
            raise EmptyIndexError(f"no search index in {storage}")
    if storage.file_length(_toc_name(generation)) > TOC_MAX_BYTES:
        raise IndexDamaged(f"{_toc_name(generation)} is too large for kb's table of contents")
    f = storage.open_file(_toc_name(generation))
    try:
        raw = f.read()
    finally:
        f.close()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise IndexDamaged(f"{_toc_name(generation)} is not kb's table of contents") from None
    if not isinstance(data, dict) or data.get("format") != TOC_FORMAT:
        raise IndexDamaged(f"{_toc_name(generation)} is not kb's table of contents")
    if data.get("generation") != generation or not isinstance(data.get("segments"), list):
        raise IndexDamaged(f"{_toc_name(generation)} is damaged")
    codec = SafeCodec()
    segments = [_segment_from(s, codec) for s in data["segments"]]
    if len({s.segid for s in segments}) != len(segments):
        raise IndexDamaged(f"{_toc_name(generation)} lists a segment twice")
    return TOC(schema, segments, generation)


def write_toc(storage, segments: list, generation: int) -> None:
    """Write kb's TOC atomically (a temporary name, then a rename, as whoosh does)."""
    data = {
        "format": TOC_FORMAT,
        "generation": generation,
        "segments": [_segment_json(s) for s in segments],
    }
    name = _toc_name(generation)
    tmp = f"{name}.{time()}"
    f = storage.create_file(tmp)
    f.write(json.dumps(data).encode("utf-8"))
    f.close()
    storage.rename_file(tmp, name, safe=True)


# -- the index and its writers ---------------------------------------------------------------


class SafeCommit:
    """Commits write kb's TOC instead of whoosh's pickled one (mixed into whoosh's writers)."""

    def _commit_toc(self, segments):
        for segment in segments:
            if segment.is_compound():
                raise ValueError("kb's index has no compound segments")
        write_toc(self.storage, segments, self.generation)
        whoosh_index.clean_files(self.storage, self.indexname, self.generation, segments)


class SafeWriter(SafeCommit, SegmentWriter):
    """whoosh's SegmentWriter, with kb's codec and TOC."""


class SafeIndex(FileIndex):
    """An index whose TOC is kb's JSON and whose schema is kb's own (never unpickled)."""

    def __init__(self, storage, schema):
        if schema is None:
            raise ValueError("kb supplies the schema of its index")
        self.storage = storage
        self._schema = schema
        self.indexname = INDEX_NAME
        read_toc(storage, schema)  # fails now, as FileIndex does, when there is no usable TOC

    @classmethod
    def create(cls, storage, schema) -> SafeIndex:
        """An empty index in ``storage`` (which should be a new, empty folder)."""
        prefix = f"_{INDEX_NAME}_"
        for name in list(storage):
            if name.startswith(prefix):
                storage.delete_file(name)
        write_toc(storage, [], 0)
        return cls(storage, schema)

    def latest_generation(self):
        return latest_generation(self.storage)

    def _read_toc(self):
        return read_toc(self.storage, self._schema)

    @property
    def release(self):
        return None

    @property
    def version(self):
        return TOC_FORMAT

    def writer(self, procs=1, **kwargs):
        if procs > 1:
            raise ValueError("kb builds its parallel writer itself (kb.index._parallel_writer)")
        kwargs.setdefault("codec", SafeCodec())
        return SafeWriter(self, **kwargs)


def storage_for(folder: str, readonly: bool = False):
    from whoosh.filedb.filestore import FileStorage

    return FileStorage(folder, readonly=readonly)


def create_in(folder: str, schema) -> SafeIndex:
    """A new, empty kb index in an existing folder."""
    return SafeIndex.create(storage_for(folder), schema)


def open_dir(folder: str, schema) -> SafeIndex:
    """kb's index in a folder; IndexDamaged or EmptyIndexError (or OSError) when unusable."""
    return SafeIndex(storage_for(folder, readonly=False), schema)


def exists_in(folder: str) -> bool:
    """True when the folder holds a TOC generation (not that it is usable: open it for that)."""
    from pathlib import Path

    if not Path(folder).is_dir():
        return False
    return latest_generation(storage_for(folder, readonly=True)) >= 0


# -- stored fields ---------------------------------------------------------------------------


def _stored_value_ok(value) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def decode_stored(raw: bytes) -> dict:
    """A document's stored fields from their JSON: names to a str, an int or a list of str."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise IndexDamaged("stored fields that are not kb's JSON") from None
    if not isinstance(data, dict) or not all(_stored_value_ok(v) for v in data.values()):
        raise IndexDamaged("stored fields of the wrong type")
    return data


def encode_stored(fields: dict) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _JsonColumn(columns.WrappedColumn):
    """whoosh's PickleColumn with JSON in place of the pickle."""

    class Writer(columns.WrappedColumnWriter):
        def add(self, docnum, value):
            self._child.add(docnum, b"" if value is None else encode_stored(value))

    class Reader(columns.WrappedColumnReader):
        def __getitem__(self, docnum):
            raw = self._child[docnum]
            return decode_stored(raw) if raw else None

        def __iter__(self):
            for raw in self._child:
                yield decode_stored(raw) if raw else None


STORED_COLUMN = _JsonColumn(columns.CompressedBytesColumn())


class _PerDocWriter(w3.W3PerDocWriter):
    def _create_column(self, fieldname, column):
        if fieldname == "_stored":
            column = STORED_COLUMN  # W3PerDocWriter asks for its PickleColumn
        super()._create_column(fieldname, column)

    def add_vector_items(self, fieldname, fieldobj, items):
        raise ValueError("kb's index has no term vectors")


_BYTE_TO_LENGTH = [byte_to_length(b) for b in range(256)]


class _PerDocReader(w3.W3PerDocReader):
    def doc_field_length(self, docnum, fieldname, default=0):
        """whoosh's answer, from each field's length column read once into bytes.

        whoosh reads the length byte of every posting through its column reader, and for a
        field without lengths (an ID or KEYWORD one) stats the missing column file again each
        time (``_cached_reader`` does not remember a miss): a segment's flush asks once per
        posting, so that was about a tenth of a writer's time.
        """
        if docnum > self._doccount:
            raise IndexError(f"Asked for docnum {docnum!r} of {self._doccount}")
        lengths = self._length_bytes(fieldname)
        if lengths is None:
            return default
        lbyte = lengths[docnum] if docnum < len(lengths) else 0
        if lbyte:
            return _BYTE_TO_LENGTH[lbyte]
        return None  # as whoosh does for a length of 0

    def _length_bytes(self, fieldname: str) -> bytes | None:
        cache = self.__dict__.setdefault("_kb_lengths", {})
        if fieldname not in cache:
            reader = self._cached_reader(w3._lenfield(fieldname), w3.LENGTHS_COLUMN)
            # A fixed-size column: one byte per document from _basepos, 0 past its end.
            if reader is None:
                cache[fieldname] = None
            else:
                cache[fieldname] = bytes(reader._dbfile.get(reader._basepos, reader._count))
        return cache[fieldname]

    def stored_fields(self, docnum):
        reader = self._cached_reader("_stored", STORED_COLUMN)
        value = reader[docnum] if reader is not None else None
        return value if value is not None else {}

    def has_vector(self, docnum, fieldname):
        return False

    def vector(self, docnum, fieldname, format_):
        raise IndexDamaged("kb's index has no term vectors")


# -- postings --------------------------------------------------------------------------------

_BLOCK_INFO = struct.Struct("<IIdBBB")
"""A posting block's info: postings in it, last document, best weight, zlib level, shortest
and longest field length (as whoosh's length bytes)."""

_BLOCK_DATA = struct.Struct("<BIII")
"""Then its data: how the weights are kept (below), bytes of ids, of weights, of value lengths."""

_ALL_ONE, _ALL_SAME, _EACH = 0, 1, 2  # weights: all 1.0; all one value; one float32 each

_LITTLE = sys.byteorder == "little"


def _to_bytes(values: array) -> bytes:
    if not _LITTLE:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_bytes(typecode: str, raw: bytes) -> array:
    out = array(typecode)
    out.frombytes(raw)
    if not _LITTLE:
        out.byteswap()
    return out


_ONE_POSITION = struct.pack("!I", 1)
"""The count of a posting with one position (the deltas are little-endian: see _to_bytes)."""


def encode_positions(positions: list[int]) -> bytes:
    """A posting's word positions: their count and their deltas, as 32-bit numbers."""
    if len(positions) == 1:  # most postings: 5 times faster than through an array
        return _ONE_POSITION + positions[0].to_bytes(4, "little")
    deltas = array("I", positions[:1])
    deltas.extend(b - a for a, b in pairwise(positions))
    return struct.pack("!I", len(positions)) + _to_bytes(deltas)


def decode_positions(raw: bytes) -> list[int]:
    """Word positions from :func:`encode_positions`."""
    body = raw[_INT_SIZE:]
    if len(body) % 4 or len(body) // 4 != struct.unpack("!I", raw[:_INT_SIZE])[0]:
        raise IndexDamaged("word positions that are not kb's")
    return list(accumulate(_from_bytes("I", body)))


def _encode_block(ids, weights, values, fixedsize) -> bytes:
    idbytes = _to_bytes(array("I", delta_encode(ids)))
    if all(w == 1.0 for w in weights):
        kind, weightbytes = _ALL_ONE, b""
    elif all(w == weights[0] for w in weights):
        kind, weightbytes = _ALL_SAME, struct.pack("<d", weights[0])
    else:
        kind, weightbytes = _EACH, _to_bytes(array("f", weights))
    if fixedsize is None or fixedsize < 0:
        lengthbytes = _to_bytes(array("I", [len(v) for v in values]))
    else:
        lengthbytes = b""
    valuebytes = b"" if fixedsize == 0 else b"".join(values)
    head = _BLOCK_DATA.pack(kind, len(idbytes), len(weightbytes), len(lengthbytes))
    return head + idbytes + weightbytes + lengthbytes + valuebytes


def _decode_block(raw: bytes, count: int, fixedsize, values: bool = True):
    """(ids, weights, values) of a block, in the forms W3LeafMatcher keeps them (without
    ``values``, the values are checked but not cut apart: None)."""
    if len(raw) < _BLOCK_DATA.size:
        raise IndexDamaged("a posting block is cut short")
    kind, nids, nweights, nlengths = _BLOCK_DATA.unpack_from(raw)
    at = _BLOCK_DATA.size
    if nids != 4 * count or at + nids + nweights + nlengths > len(raw):
        raise IndexDamaged("a posting block is damaged")
    ids = tuple(accumulate(_from_bytes("I", raw[at : at + nids])))
    at += nids
    chunk = raw[at : at + nweights]
    at += nweights
    if kind == _ALL_ONE and not chunk:
        weights = None
    elif kind == _ALL_SAME and len(chunk) == 8:
        weights = struct.unpack("<d", chunk)[0]
    elif kind == _EACH and len(chunk) == 4 * count:
        weights = _from_bytes("f", chunk)
    else:
        raise IndexDamaged("a posting block's weights are damaged")
    rest = raw[at + nlengths :]
    if fixedsize is None or fixedsize < 0:
        lengths = _from_bytes("I", raw[at : at + nlengths])
        if len(lengths) != count or sum(lengths) != len(rest):
            raise IndexDamaged("a posting block's values are damaged")
        if not values:
            return ids, weights, None
        ends = list(accumulate(lengths))
        return ids, weights, tuple(rest[e - n : e] for e, n in zip(ends, lengths, strict=True))
    if fixedsize == 0:
        return ids, weights, None
    if nlengths or len(rest) != fixedsize * count:
        raise IndexDamaged("a posting block's values are damaged")
    return ids, weights, rest if values else None


class _PostingsWriter(w3.W3PostingsWriter):
    def __init__(self, postfile, blocklimit, byteids=False, compression=3, inlinelimit=0):
        if byteids:
            raise ValueError("kb's index has no term vectors")
        # inlinelimit 0: whoosh would pickle inlined postings into the terms file.
        super().__init__(postfile, blocklimit, False, compression, 0)

    def _write_block(self, last=False):
        if not self._blockcount:
            self._postfile.write(w3.WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids = self._ids
        data = _encode_block(ids, self._weights, self._values, self._format.fixed_value_size())
        comp = self._compression
        if comp:
            data = zlib.compress(data, comp)
        info = _BLOCK_INFO.pack(
            len(ids),
            ids[-1],
            self._maxweight,
            comp,
            length_to_byte(self._minlength),
            length_to_byte(self._maxlength),
        )
        length = len(info) + len(data)
        self._postfile.write_int(-length if last else length)
        self._postfile.write(info)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


class _LeafMatcher(w3.W3LeafMatcher):
    def __init__(self, postfile, startoffset, length, format_, term=None, scorer=None):
        super().__init__(postfile, startoffset, length, format_, term=term, scorer=scorer)

    def _read_header(self):
        try:
            super()._read_header()
        except Exception:  # noqa: BLE001 - whoosh raises a bare Exception for a bad tag
            raise IndexDamaged("a posting list does not start with its tag") from None

    def _goto(self, position):
        postfile = self._postfile
        self._data = self._ids = self._weights = self._values = None
        self._i = 0
        postfile.seek(position)
        length = postfile.read_int()
        if length < 0:
            self._lastblock = True
            length = -length
        if length < _BLOCK_INFO.size:
            raise IndexDamaged("a posting block is cut short")
        self._nextoffset = position + _INT_SIZE + length
        info = postfile.read(_BLOCK_INFO.size)
        if len(info) != _BLOCK_INFO.size:
            raise IndexDamaged("a posting block is cut short")
        self._dataoffset = postfile.tell()
        count, self._maxid, self._maxweight, self._compression, mnlen, mxlen = _BLOCK_INFO.unpack(
            info
        )
        if not count:
            raise IndexDamaged("an empty posting block")
        self._blocklength = count
        self._minlength = byte_to_length(mnlen)
        self._maxlength = byte_to_length(mxlen)

    def _read_data(self, values: bool = True):
        raw = self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
        try:
            if self._compression:
                raw = zlib.decompress(raw)
        except zlib.error:
            raise IndexDamaged("a posting block does not decompress") from None
        self._data = _decode_block(raw, self._blocklength, self._fixedsize, values)

    def _read_ids(self):
        if self._data is None:
            self._read_data()
        self._ids = self._data[0]  # already summed from the deltas by _decode_block

    def blocks(self) -> Iterator[tuple[Sequence[int], Sequence[float]]]:
        """(ids, weights) of each block from the current posting to the last, the values
        left undecoded (the matcher is used up: no ``value()`` may be asked of it after)."""
        while self.is_active():
            if self._data is None:
                self._read_data(values=False)
            if self._ids is None:
                self._read_ids()
            if self._weights is None:
                self._read_weights()
            yield self._ids[self._i :], self._weights[self._i :]
            self._next_block()


def bm25_postings(searcher, field: str, term: str) -> Iterator[tuple[list[int], list[float]]]:
    """Blocks of (document numbers, BM25F scores) of the live postings of ``term`` in
    ``field``, in document order: what ``searcher.postings(field, term).score()`` gives
    posting by posting, the same floats, several times faster.

    whoosh scores each posting through four layers of calls (the segment's matcher, its
    scorer, the field length's column, the deletion check); here the postings are read a
    block at a time, and the length part of the formula is worked out once for each of the
    256 lengths a field-length byte can say.
    """
    weighting = searcher.weighting
    leaves = [(sub.reader(), offset) for sub, offset in searcher.leaf_searchers()]
    if not (
        isinstance(weighting, BM25F)
        and searcher.schema[field].scorable
        and all(isinstance(getattr(r, "_perdoc", None), _PerDocReader) for r, _ in leaves)
    ):
        yield _whoosh_scores(searcher, field, term)
        return
    B = weighting._field_B.get(field, weighting.B)
    K1 = weighting.K1
    idf = searcher.idf(field, term)
    avgfl = searcher.avg_field_length(field) or 1
    # bm25(idf, tf, fl, avgfl, B, K1) as whoosh.scoring writes it, its fl part once per byte
    norm = [K1 * ((1 - B) + B * fl / avgfl) for fl in _BYTE_TO_LENGTH]
    top = K1 + 1
    for reader, offset in leaves:
        if (field, term) not in reader:
            continue
        lengths = reader._perdoc._length_bytes(field) or b""
        m = reader.postings(field, term)
        if not isinstance(m, _LeafMatcher):
            raise IndexDamaged(f"the postings of {term[:40]!r} are not kb's")
        deleted = reader.is_deleted if reader.has_deletions() else None
        for ids, weights in m.blocks():
            if ids and ids[-1] >= len(lengths):
                raise IndexDamaged("a posting names a document past the field lengths")
            if deleted is not None:
                live = [(d, tf) for d, tf in zip(ids, weights, strict=True) if not deleted(d)]
                ids, weights = [d for d, _ in live], [tf for _, tf in live]
            yield (
                [offset + d for d in ids] if offset else list(ids),
                [
                    idf * ((tf * top) / (tf + norm[lengths[d]]))
                    for d, tf in zip(ids, weights, strict=True)
                ],
            )


def _whoosh_scores(searcher, field: str, term: str) -> tuple[list[int], list[float]]:
    """:func:`bm25_postings` as whoosh scores them, one posting at a time (another weighting,
    a field without lengths)."""
    m = searcher.postings(field, term)
    reader = searcher.reader()
    ids, scores = [], []
    while m.is_active():
        docnum = m.id()
        if not reader.is_deleted(docnum):
            ids.append(docnum)
            scores.append(m.score())
        m.next()
    return ids, scores


# -- terms -----------------------------------------------------------------------------------


class _TermInfo(w3.W3TermInfo):
    @classmethod
    def from_bytes(cls, s):
        if s[:1] != b"\x00":
            # whoosh unpickles inlined postings; kb never writes them.
            raise IndexDamaged("a term with inlined postings: not written by kb")
        try:
            return super().from_bytes(s)
        except struct.error:
            raise IndexDamaged("a term's information is cut short") from None


_EXTRAS_MAGIC = b"KBX1"


class _OrderedHashWriter(filetables.OrderedHashWriter):
    def _write_extras(self):
        index = self.index
        self.extras["indextype"] = index.typecode
        self.extras["indexlen"] = len(index)
        raw = json.dumps(self.extras).encode("utf-8")
        self.dbfile.write(_EXTRAS_MAGIC)
        self.dbfile.write_int(len(raw))
        self.dbfile.write(raw)
        index.to_file(self.dbfile)


class _OrderedHashReader(filetables.OrderedHashReader):
    _get_by_type = {"B": "get_byte", "H": "get_ushort", "i": "get_int", "I": "get_uint"}

    def _read_extras(self):
        dbfile = self.dbfile
        if dbfile.read(4) != _EXTRAS_MAGIC:
            raise IndexDamaged("a terms file that is not kb's")
        size = dbfile.read_int()
        if not 0 <= size <= 1 << 24:
            raise IndexDamaged("a terms file that is not kb's")
        try:
            extras = json.loads(dbfile.read(size).decode("utf-8"))
        except (ValueError, RecursionError):
            raise IndexDamaged("a terms file that is not kb's") from None
        fieldmap = extras.get("fieldmap") if isinstance(extras, dict) else None
        if not (
            isinstance(fieldmap, dict)
            and all(_is_count(n) and n < 65535 for n in fieldmap.values())
            and len(set(fieldmap.values())) == len(fieldmap)
            and extras.get("indextype") in self._get_by_type
            and _is_count(extras.get("indexlen"))
        ):
            raise IndexDamaged("a terms file that is not kb's")
        if sorted(fieldmap.values()) != list(range(len(fieldmap))):
            raise IndexDamaged("a terms file that is not kb's")
        self.extras = extras
        self.indexbase = dbfile.tell()
        self.indexlen = extras["indexlen"]
        self.indexsize = struct.calcsize(extras["indextype"])
        self._get_pos = getattr(dbfile, self._get_by_type[extras["indextype"]])


class _FieldWriter(w3.W3FieldWriter):
    def __init__(self, codec, storage, segment):
        super().__init__(codec, storage, segment)
        # The terms file whoosh opened, with a writer whose extras are JSON (nothing was
        # written to it yet: HashWriter writes its header at once, so write it again).
        tifile = self._tindex.dbfile
        tifile.seek(0)
        self._tindex = _OrderedHashWriter(tifile)
        self._fieldmap = self._tindex.extras["fieldmap"] = {}


class _FieldCursor(w3.W3FieldCursor):
    def term_info(self):
        if self._pos is None:
            return None
        return _TermInfo.from_bytes(self._tindex.dbfile.get(self._datapos, self._datalen))


class _TermsReader(w3.W3TermsReader):
    def __init__(self, codec, dbfile, length, postfile):
        self._codec = codec
        self._dbfile = dbfile
        self._tindex = _OrderedHashReader(dbfile, length)
        self._fieldmap = self._tindex.extras["fieldmap"]
        self._postfile = postfile
        self._fieldunmap = [None] * len(self._fieldmap)
        for fieldname, num in self._fieldmap.items():
            self._fieldunmap[num] = fieldname

    def cursor(self, fieldname, fieldobj):
        return _FieldCursor(self._tindex, fieldname, self._keycoder, self._keydecoder, fieldobj)

    def items(self):
        decode = self._keydecoder
        return ((decode(k), _TermInfo.from_bytes(v)) for k, v in self._tindex.items())

    def items_from(self, fieldname, prefix):
        decode = self._keydecoder
        items = self._tindex.items_from(self._keycoder(fieldname, prefix))
        return ((decode(k), _TermInfo.from_bytes(v)) for k, v in items)

    def term_info(self, fieldname, tbytes):
        try:
            raw = self._tindex[self._keycoder(fieldname, tbytes)]
        except KeyError:
            raise w3.TermNotFound(f"No term {fieldname}:{tbytes!r}") from None
        return _TermInfo.from_bytes(raw)


# -- the codec -------------------------------------------------------------------------------


class SafeCodec(w3.W3Codec):
    """whoosh3's codec with every pickle replaced (see the module docstring)."""

    def __init__(self, blocklimit=128, compression=3, inlinelimit=0):
        super().__init__(blocklimit, compression, 0)

    def per_document_writer(self, storage, segment):
        return _PerDocWriter(self, storage, segment)

    def field_writer(self, storage, segment):
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):
        return _PostingsWriter(dbfile, self._blocklimit, byteids, self._compression)

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if terminfo.is_inlined():
            raise IndexDamaged("a term with inlined postings: not written by kb")
        offset, length = terminfo.extent()
        return _LeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)

    def per_document_reader(self, storage, segment):
        return _PerDocReader(storage, segment)

    def terms_reader(self, storage, segment):
        name = segment.make_filename(self.TERMS_EXT)
        length = storage.file_length(name)
        tifile = storage.open_file(name)
        postfile = segment.open_file(storage, self.POSTS_EXT)
        try:
            return _TermsReader(self, tifile, length, postfile)
        except (filetables.FileFormatError, struct.error, EOFError):
            tifile.close()
            postfile.close()
            raise IndexDamaged(f"{name} is not a terms file of kb's") from None
