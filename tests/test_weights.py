import hashlib

import pytest

from rag.errors import UserError
from rag.weights import GgufSpec, assemble, gguf_file, is_verified


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


WHOLE = b"first-second"


@pytest.fixture
def spec(tmp_path, monkeypatch) -> GgufSpec:
    """Two fake data-only packages, importable like the model wheels: part<i> in package <prefix><i>."""
    for i, data in [(1, b"first-"), (2, b"second")]:
        (tmp_path / "site" / f"fake_model_part{i}" / "data").mkdir(parents=True)
        (tmp_path / "site" / f"fake_model_part{i}" / "__init__.py").write_text("")
        (tmp_path / "site" / f"fake_model_part{i}" / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return GgufSpec("m.gguf", "fake_model_part", 2, len(WHOLE), hashlib.sha256(WHOLE).hexdigest())


def test_a_spec_is_assembled_from_its_packages_once(spec, tmp_path):
    target = gguf_file(spec, progress=False)
    assert target == tmp_path / "cache" / "papers-rag" / "m.gguf" and target.read_bytes() == WHOLE
    (tmp_path / "site" / "fake_model_part2" / "data" / "part02.bin").unlink()
    assert gguf_file(spec, progress=False) == target  # verified already: the parts are not read again


def test_a_modified_model_file_is_assembled_again(spec):
    target = gguf_file(spec, progress=False)
    with target.open("r+b") as f:  # one byte changed in place: same size
        f.seek(3)
        f.write(b"X")
    assert not is_verified(target, spec.size, spec.sha256)
    assert gguf_file(spec, progress=False).read_bytes() == WHOLE


def test_missing_model_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(UserError, match="model package 'no_such_model_part1' is not installed"):
        gguf_file(GgufSpec("m.gguf", "no_such_model_part", 1, 1, "0" * 64), progress=False)

