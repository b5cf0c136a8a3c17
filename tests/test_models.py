import hashlib

import pytest

from rag.errors import UserError
from rag.models import assemble, is_verified


@pytest.fixture
def parts(tmp_path):
    paths = []
    for i, data in enumerate([b"first-", b"second-", b"third"]):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_assembles_parts_in_order_and_verifies(parts, tmp_path):
    whole = b"first-second-third"
    sha = hashlib.sha256(whole).hexdigest()
    target = assemble(parts, tmp_path / "cache" / "m.gguf", len(whole), sha, progress=False)
    assert target.read_bytes() == whole
    assert is_verified(target, len(whole), sha)


def test_mismatch_is_a_clear_error_and_leaves_no_file(parts, tmp_path):
    target = tmp_path / "m.gguf"
    with pytest.raises(UserError, match="corrupt"):
        assemble(parts, target, 18, "0" * 64, progress=False)
    assert not target.exists() and not list(tmp_path.glob("m.gguf*"))


def test_truncated_file_is_not_verified(parts, tmp_path):
    whole = b"first-second-third"
    sha = hashlib.sha256(whole).hexdigest()
    target = assemble(parts, tmp_path / "m.gguf", len(whole), sha, progress=False)
    target.write_bytes(whole[:-1])
    assert not is_verified(target, len(whole), sha)


def test_missing_part_is_a_clear_error(parts, tmp_path):
    with pytest.raises(UserError, match="model part missing"):
        assemble([*parts, tmp_path / "nope.bin"], tmp_path / "m.gguf", 1, "0" * 64, progress=False)
