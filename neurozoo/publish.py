"""``neurozoo push``: upload a checkpoint folder to a Hub repo in one commit.

The folder is checked first (schema-valid config, strictly loadable weights), so nothing broken is
published. The token comes from ``HF_TOKEN`` or the stored Hugging Face login; the endpoint from
``HF_ENDPOINT`` at call time. The result carries the commit sha and the sha256 of every uploaded
file, i.e. everything a ``Checkpoint`` record needs to pin the upload.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from neurozoo.checkpoint import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, load_folder, read_config, sha256_file
from neurozoo.errors import NeurozooError
from neurozoo.zoo import resolve

PUBLISHED_FILES = (WEIGHTS_NAME, CONFIG_NAME, CARD_NAME, "model.onnx", "model.int8.onnx")


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    revision: str
    commit: str
    files: dict[str, str]  # filename -> sha256
    config: dict

    def record_source(self) -> str:
        """Python source of the ``Checkpoint`` record that pins this upload."""
        hashes = {name: digest for name, digest in self.files.items() if name in (WEIGHTS_NAME, CONFIG_NAME)}
        lines = ",\n".join(f'        "{name}": "{digest}"' for name, digest in sorted(hashes.items()))
        return (
            "Checkpoint(\n"
            f'    method="{self.config["method"]}", arch="{self.config["arch"]}", '
            f'dataset="{self.config.get("dataset") or "UNKNOWN"}",\n'
            f'    repo_id="{self.repo_id}", revision="{self.commit}",\n'
            f"    files={{\n{lines},\n    }},\n)"
        )


def push(
    name_or_path: str | os.PathLike,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
) -> PushResult:
    import huggingface_hub
    from huggingface_hub import errors

    folder = Path(resolve(name_or_path))
    config = read_config(folder)
    load_folder(folder)  # refuse to publish weights that do not load strictly
    present = [name for name in PUBLISHED_FILES if (folder / name).is_file()]
    token = token or huggingface_hub.get_token()
    if not token:
        raise NeurozooError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then push again")
    api = huggingface_hub.HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    branch = revision or "main"
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        if branch != "main":
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        info = api.upload_folder(
            folder_path=folder,
            repo_id=repo_id,
            revision=branch,
            allow_patterns=present,
            commit_message=commit_message or f"Upload {config['method']}-{config['arch']} with neurozoo",
        )
    except errors.HfHubHTTPError as exc:
        raise NeurozooError(f"pushing {folder} to {repo_id}@{branch} failed: {exc}") from None
    return PushResult(
        repo_id=repo_id,
        revision=branch,
        commit=info.oid,
        files={name: sha256_file(folder / name) for name in present},
        config=config,
    )


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("push", help="upload a checkpoint folder to a Hugging Face Hub repo")
    p.add_argument("source", metavar="NAME_OR_RUN", help="registered name, run folder or checkpoint folder")
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the Hub repo (created if needed)")
    p.add_argument("--revision", default=None, help="branch to commit to (created if needed; default main)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.set_defaults(func=_cmd_push)


def _cmd_push(args) -> int:
    result = push(args.source, args.repo_id, revision=args.revision, private=args.private)
    print(f"pushed {', '.join(result.files)} to {result.repo_id}@{result.revision}")
    print(f"commit {result.commit}")
    print("checkpoint record pinning this upload:")
    print(result.record_source())
    return 0
