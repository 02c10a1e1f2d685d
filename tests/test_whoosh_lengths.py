"""kb's per-document reader answers field lengths as whoosh's own does (kb.whoosh_safe)."""

from __future__ import annotations

import itertools
from pathlib import Path

from whoosh.codec import whoosh3 as w3

from kb import index, whoosh_safe
from kb.store import Store
from kb.vault import Vault


def test_field_lengths_are_whoosh_s(vault_copy: Path) -> None:
    vault = Vault(root=vault_copy, data_dir=vault_copy / ".kb")
    store = Store(vault)
    store.refresh()
    index.sync(vault, store)
    ix = whoosh_safe.open_dir(str(index.index_dir(vault)), index._schema())
    with ix.reader() as reader:
        for segment_reader, _offset in reader.leaf_readers():
            mine = segment_reader._perdoc
            assert isinstance(mine, whoosh_safe._PerDocReader)
            theirs = w3.W3PerDocReader(mine._storage, mine._segment)
            asked = 0
            for name in ix.schema.names():
                for docnum in range(mine._doccount):
                    want = w3.W3PerDocReader.doc_field_length(theirs, docnum, name)
                    assert mine.doc_field_length(docnum, name) == want, (name, docnum)
                    asked += 1
                # whoosh's default for a field without lengths, and past the last document
                assert mine.doc_field_length(mine._doccount, name, 7) == (
                    w3.W3PerDocReader.doc_field_length(theirs, mine._doccount, name, 7)
                )
            assert asked > 100
            theirs.close()


def test_one_position_is_encoded_as_before() -> None:
    from array import array

    for positions in ([0], [7], [2**32 - 1], [3, 5], [1, 2, 900]):
        raw = whoosh_safe.encode_positions(positions)
        count = len(positions).to_bytes(4, "big")
        deltas = array("I", [positions[0], *(b - a for a, b in itertools.pairwise(positions))])
        assert raw == count + whoosh_safe._to_bytes(deltas)
        assert whoosh_safe.decode_positions(raw) == positions
