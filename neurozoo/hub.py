"""Fetching checkpoint folders: local mirrors first, then the Hugging Face Hub, always verified.

Order for a registered name: the repo's own ``model_cards/<name>/`` (when it holds weights), then
``$NEUROZOO_HUB_DIR/<name>/``, then ``huggingface_hub`` (``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and
``HF_HOME`` are read at call time). Each file is checked against the sha256 in the checkpoint
record. A download that fails its check is deleted from the Hub cache before the error is raised,
so a later call fetches it again; mirror folders are only read, never changed.

Hashing a 45 MB file on every load would cost more than the load itself, so verified hashes are
remembered in ``$NEUROZOO_CACHE/verified.json`` keyed by (path, size, mtime, inode): any change to
the file invalidates its entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from neurozoo.checkpoint import CONFIG_NAME, WEIGHTS_NAME, atomic_write_bytes, sha256_file
from neurozoo.errors import CheckpointError, IntegrityError, OfflineError
from neurozoo.records import Checkpoint

ENV_HUB_DIR = "NEUROZOO_HUB_DIR"
ENV_CACHE = "NEUROZOO_CACHE"
HF_PREFIX = "hf-hub:"
MODEL_CARDS_DIR = Path(__file__).resolve().parent.parent / "model_cards"
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "neurozoo")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


# ---------------------------------------------------------------- verification
def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"


def _verified_index_path() -> Path:
    return cache_dir() / "verified.json"


def _read_index() -> dict[str, str]:
    try:
        return json.loads(_verified_index_path().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of ``path``, from the verified-hash index when the file is unchanged since."""
    path = Path(path)
    key = _stat_key(path)
    index = _read_index()
    if key in index:
        return index[key]
    digest = sha256_file(path)
    index = _read_index()  # another process may have added entries meanwhile
    index[key] = digest
    try:
        _verified_index_path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(_verified_index_path(), json.dumps(index).encode())
    except OSError:
        pass  # a read-only cache only costs a re-hash next time
    return digest


def _evict(cached_path: Path) -> None:
    """Remove a Hub-cache file: the snapshot entry and the blob it points to."""
    blob = cached_path.resolve()
    cached_path.unlink(missing_ok=True)
    if blob != cached_path:
        blob.unlink(missing_ok=True)


def verify_file(path: Path, expected: str, *, evict: bool) -> None:
    actual = file_sha256(path)
    if actual != expected:
        if evict:
            _evict(path)
        where = "removed it from the cache; fetch again" if evict else "replace the file in that mirror"
        raise IntegrityError(
            f"{path.name} from {path.parent} has sha256 {actual}, expected {expected} (truncated or "
            f"tampered file); neurozoo {where}"
        )


def _etag_check(cached_path: Path) -> None:
    """Without a record, check a Hub download against its ETag (blob name): sha256 for LFS, git sha1 otherwise."""
    blob = cached_path.resolve()
    etag = blob.name
    if _HEX64.match(etag):
        actual = file_sha256(cached_path)
    elif _HEX40.match(etag):
        data = blob.read_bytes()
        actual = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    else:
        return
    if actual != etag:
        _evict(cached_path)
        raise IntegrityError(
            f"{cached_path.name} does not match the hash the server announced ({etag}); "
            "neurozoo removed it from the cache; fetch again"
        )


# ---------------------------------------------------------------- sources
def mirror_folders(name: str) -> list[Path]:
    folders = [MODEL_CARDS_DIR / name]
    if os.environ.get(ENV_HUB_DIR):
        folders.append(Path(os.environ[ENV_HUB_DIR]) / name)
    return folders


def _hf_cache_dir() -> str | None:
    """HF_HUB_CACHE / HF_HOME as they are now (huggingface_hub reads them only at its import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def _hub_download(repo_id: str, filename: str, revision: str | None) -> Path:
    import huggingface_hub
    from huggingface_hub import errors

    offline = _truthy(os.environ.get("HF_HUB_OFFLINE"))
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=_hf_cache_dir(),
            endpoint=os.environ.get("HF_ENDPOINT") or None,
            local_files_only=offline,
            library_name="neurozoo",
        )
    except errors.LocalEntryNotFoundError:
        raise OfflineError(
            f"{repo_id}/{filename} (revision {revision or 'main'}) is not cached and cannot be fetched"
            f"{' because HF_HUB_OFFLINE is set' if offline else ' (the Hub did not answer)'}; set "
            f"{ENV_HUB_DIR} to a folder holding the checkpoint, point HF_ENDPOINT at a reachable mirror, "
            "or unset HF_HUB_OFFLINE"
        ) from None
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.EntryNotFoundError) as exc:
        raise CheckpointError(f"{repo_id}: {type(exc).__name__}: {exc}") from None
    except errors.HfHubHTTPError as exc:
        raise CheckpointError(f"downloading {repo_id}/{filename} failed: {exc}; try again later") from None
    return Path(path)


def fetch(record: Checkpoint, revision: str | None = None) -> Path:
    """A local folder holding the verified files of ``record``."""
    if not record.pretrained:
        raise CheckpointError(
            f"checkpoint {record.name!r} is registered but its weights are not published yet; train it "
            f"with `neurozoo train {record.method} --arch {record.arch} --dataset {record.dataset}`"
        )
    if revision is None:
        for folder in mirror_folders(record.name):
            if (folder / WEIGHTS_NAME).exists():
                for filename, digest in record.files.items():
                    verify_file(folder / filename, digest, evict=False)
                return folder
    return _fetch_from_hub(record.repo_id, revision or record.revision, record.files)


def _fetch_from_hub(repo_id: str, revision: str | None, files: Mapping[str, str] | None) -> Path:
    folder = None
    for filename in files or (CONFIG_NAME, WEIGHTS_NAME):
        path = _hub_download(repo_id, filename, revision)
        if files:
            verify_file(path, files[filename], evict=True)
        else:
            _etag_check(path)
        folder = path.parent
    return folder


def fetch_hf_hub(ref: str, revision: str | None = None) -> Path:
    """``hf-hub:org/name[@revision]`` -> local snapshot folder (config.json + model.safetensors)."""
    repo_id = ref[len(HF_PREFIX):]
    if "@" in repo_id:
        repo_id, pinned = repo_id.split("@", 1)
        revision = revision or pinned
    if repo_id.count("/") != 1:
        raise ValueError(f"{ref!r} is not a Hub reference: use 'hf-hub:ORG/NAME' (optionally '@REVISION')")
    return _fetch_from_hub(repo_id, revision, None)
