"""Fetching checkpoint folders: local mirrors first, then the Hugging Face Hub, always verified.

Order for a registered name: the checkpoint folders installed with neurozoo (``model_cards/<name>/``
of the source tree, shipped in the wheel as the package ``neurozoo_model_cards``) when they hold
weights, then ``$NEUROZOO_HUB_DIR/<name>/``, then ``huggingface_hub`` (``HF_ENDPOINT``,
``HF_HUB_OFFLINE`` and ``HF_HOME`` are read at call time). Each file is checked against the sha256
in the checkpoint record. A download that fails its check is deleted from the Hub cache before the
error is raised, so a later call fetches it again; mirror folders are only read, never changed.

Hashing a 45 MB file on every load would cost more than the load itself, so hashes are remembered
in the verified-hash index, ``$NEUROZOO_CACHE/verified/``: one small JSON entry per file, named
after its resolved path, holding its sha256 and the stat key (size, mtime, ctime, inode, device) it
had when it was read. Any write to a file moves its ctime, which only the kernel sets (``touch``
and ``os.utime`` can restore mtime, not ctime), so an edited file misses the index and is hashed
again (git's index relies on the same rule). An entry is written only when the file's stat did not
change while it was hashed.

The index is a cache, never the authority: an entry that cannot be read or has the wrong shape is
a miss, an entry that disagrees with a record is checked against the bytes again (and replaced),
and a cache that cannot be written only costs a re-hash. Entries are independent files written
through a temporary file and a rename, so concurrent writers never lose each other's entries and a
reader sees a whole entry or none; temporary files left by a killed writer are removed by the next
process that writes an entry.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from neurozoo.checkpoint import CONFIG_NAME, WEIGHTS_NAME, sha256_file
from neurozoo.errors import CheckpointError, ConfigError, IntegrityError, OfflineError
from neurozoo.records import Checkpoint

ENV_HUB_DIR = "NEUROZOO_HUB_DIR"
ENV_CACHE = "NEUROZOO_CACHE"
HF_PREFIX = "hf-hub:"
# the checkpoint folders that ship with neurozoo: model_cards/ of the source tree, installed as package
# data (a source tree on sys.path without an install, or installed before the package existed, has no spec)
_CARDS_SPEC = importlib.util.find_spec("neurozoo_model_cards")
MODEL_CARDS_DIR = (Path(_CARDS_SPEC.origin).parent if _CARDS_SPEC
                   else Path(__file__).resolve().parent.parent / "model_cards")
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")  # huggingface_hub's, in its order
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_STALE_TMP_SECONDS = 24 * 3600  # a temporary entry this old is stray even if its pid was reused
_swept: set[Path] = set()  # temporary-entry folders this process has already cleaned


def cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "neurozoo")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def offline_variable() -> str | None:
    """The variable that puts the Hub offline now (``NAME=value``), by huggingface_hub's rule, or None."""
    for name in OFFLINE_VARIABLES:
        value = os.environ.get(name)
        if value:  # the first one set decides, as in huggingface_hub.constants
            return f"{name}={value}" if _truthy(value) else None
    return None


# ---------------------------------------------------------------- the verified-hash index
def _index_dir() -> Path:
    return cache_dir() / "verified"


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _entry_path(resolved: str) -> Path:
    return _index_dir() / f"{hashlib.sha256(os.fsencode(resolved)).hexdigest()[:32]}.json"


def _read_entry(resolved: str, key: list[int]) -> str | None:
    """The remembered sha256 of ``resolved`` at stat ``key``; None for a miss or an unusable entry."""
    try:
        entry = json.loads(_entry_path(resolved).read_bytes())
    except (OSError, ValueError, RecursionError):  # missing, a folder, unreadable, not JSON
        return None
    if not isinstance(entry, dict) or entry.get("path") != resolved or entry.get("stat") != key:
        return None
    digest = entry.get("sha256")
    return digest if isinstance(digest, str) and _HEX64.match(digest) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid)
        return False
    except OSError:  # another user's process, or no way to tell: keep its file
        return True
    return True


def _remove_stray_temporaries(tmp_dir: Path) -> None:
    """Temporary entries of writers that died (named ``<pid>-...``) or that are a day old."""
    now = time.time()
    for path in tmp_dir.iterdir():
        pid = path.name.split("-", 1)[0]
        try:
            dead = not pid.isdigit() or not _pid_alive(int(pid))
            if dead or now - path.lstat().st_mtime > _STALE_TMP_SECONDS:
                path.unlink()
        except OSError:
            pass  # gone already, or not ours to remove


def _write_entry(resolved: str, key: list[int], digest: str) -> None:
    tmp_dir = _index_dir() / "tmp"  # inside the index folder: the rename stays on one filesystem
    try:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        if tmp_dir not in _swept:
            _remove_stray_temporaries(tmp_dir)
            _swept.add(tmp_dir)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=f"{os.getpid()}-")
        try:
            # no fsync: an entry cut short by a crash does not parse and is a miss
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps({"path": resolved, "stat": key, "sha256": digest}).encode())
            os.replace(tmp, _entry_path(resolved))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a read-only cache, or something else in the entry's place: only costs a re-hash next time


def _sha256(path: Path, *, use_index: bool = True) -> tuple[str, bool]:
    """(sha256 of ``path``, whether it came from the index); a fresh hash is remembered."""
    resolved = str(path.resolve())
    key = _stat_key(os.stat(path))
    if use_index:
        digest = _read_entry(resolved, key)
        if digest is not None:
            return digest, True
    digest = sha256_file(path)
    if _stat_key(os.stat(path)) == key:  # unchanged while it was read, so the digest belongs to this key
        _write_entry(resolved, key, digest)
    return digest, False


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of ``path``, from the verified-hash index when the file is unchanged since it was hashed."""
    return _sha256(Path(path))[0]


def _checked_sha256(path: Path, expected: str) -> str:
    """sha256 of ``path``; when the index disagrees with ``expected``, the bytes decide (and the entry is replaced)."""
    actual, remembered = _sha256(path)
    if actual != expected and remembered:
        actual, _ = _sha256(path, use_index=False)
    return actual


def _evict(cached_path: Path) -> None:
    """Remove a Hub-cache file: the snapshot entry and the blob it points to."""
    blob = cached_path.resolve()
    cached_path.unlink(missing_ok=True)
    if blob != cached_path:
        blob.unlink(missing_ok=True)


def verify_file(path: Path, expected: str, *, evict: bool) -> None:
    try:
        actual = _checked_sha256(path, expected)
    except OSError as exc:  # a file the record lists is missing from the folder, or unreadable
        raise CheckpointError(
            f"{path} cannot be read ({exc.strerror or exc}); the folder {path.parent} does not hold the "
            "checkpoint's files: restore it or remove it"
        ) from None
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
        actual = _checked_sha256(cached_path, etag)
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
def mirror_folders(name: str) -> dict[str, Path]:
    """The local folders that may hold ``name``'s files, by what they are, in the order they are tried."""
    folders = {"installed": MODEL_CARDS_DIR / name}
    if os.environ.get(ENV_HUB_DIR):
        folders[f"${ENV_HUB_DIR}"] = Path(os.environ[ENV_HUB_DIR]) / name
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
    from huggingface_hub import constants, errors

    offline = offline_variable()
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=_hf_cache_dir(),
            endpoint=os.environ.get("HF_ENDPOINT") or None,
            local_files_only=offline is not None,
            library_name="neurozoo",
        )
    except errors.LocalEntryNotFoundError:
        if offline is not None:
            why, fix = f"because {offline} is set", f"or unset {offline.split('=')[0]}"
        elif constants.HF_HUB_OFFLINE:  # huggingface_hub reads the variables once, at its import
            why = f"because {' or '.join(OFFLINE_VARIABLES)} was set when huggingface_hub was imported"
            fix = "or start Python without it"
        else:
            endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
            why, fix = f"(the Hub at {endpoint} did not answer)", "or try again later"
        raise OfflineError(
            f"{repo_id}/{filename} (revision {revision or 'main'}) is not cached and cannot be fetched {why}; "
            f"set {ENV_HUB_DIR} to a folder holding the checkpoint, point HF_ENDPOINT at a reachable mirror, "
            f"{fix}"
        ) from None
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.EntryNotFoundError) as exc:
        raise CheckpointError(f"{repo_id}: {type(exc).__name__}: {exc}") from None
    except errors.HfHubHTTPError as exc:
        raise CheckpointError(f"downloading {repo_id}/{filename} failed: {exc}; try again later") from None
    return Path(path)


def fetch(record: Checkpoint, revision: str | None = None) -> Path:
    """A local folder holding the verified files of ``record``."""
    if not record.pretrained:
        from neurozoo.registry import train_command

        raise CheckpointError(
            f"checkpoint {record.name!r} is planned: its weights are not published yet; train it with "
            f"`{train_command(record)}`"
        )
    if revision is None:
        for folder in mirror_folders(record.name).values():
            if (folder / WEIGHTS_NAME).exists():
                for filename, digest in record.files.items():
                    verify_file(folder / filename, digest, evict=False)
                return folder
    return _fetch_from_hub(record.repo_id, revision or record.revision, record.files)


def weights_location(record: Checkpoint) -> str:
    """Where ``fetch(record)`` would read the weights from now, found without the network (``neurozoo list``).

    ``installed`` or ``$NEUROZOO_HUB_DIR`` (a local folder), ``Hub cache``, ``Hub`` (to download),
    ``unreachable (HF_HUB_OFFLINE=1)``, or ``planned``. The files are verified only when loaded.
    """
    if not record.pretrained:
        return "planned"
    for label, folder in mirror_folders(record.name).items():
        if (folder / WEIGHTS_NAME).exists():
            return label
    from huggingface_hub import try_to_load_from_cache

    cached = [
        try_to_load_from_cache(record.repo_id, filename, cache_dir=_hf_cache_dir(), revision=record.revision)
        for filename in record.files
    ]
    if all(isinstance(path, str) for path in cached):
        return "Hub cache"
    offline = offline_variable()
    return f"unreachable ({offline})" if offline else "Hub"


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
        raise ConfigError(f"{ref!r} is not a Hub reference: use 'hf-hub:ORG/NAME' (optionally '@REVISION')")
    return _fetch_from_hub(repo_id, revision, None)
