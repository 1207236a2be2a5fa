"""Data errors with messages that say how to fix them: missing files, a wrong data.num_classes."""

from __future__ import annotations

from collections.abc import Sequence


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not where torchvision expects them and could not be downloaded."""


class DatasetCorruptError(RuntimeError):
    """A dataset's files exist but cannot be read (truncated download, wrong file)."""


def dataset_not_found(
    dataset: str,
    folder: str,
    expected: Sequence[str],
    download: bool,
    cause: BaseException | None = None,
    note: str = "",
) -> DatasetNotFoundError:
    """Build a :class:`DatasetNotFoundError` naming the folder, the expected files and the fix.

    Args:
        dataset: human-readable dataset name, e.g. ``"MNIST"``.
        folder: absolute path of the folder where the files belong.
        expected: file or folder names torchvision expects inside ``folder``.
        download: the ``data.download`` setting that was in force.
        cause: the exception torchvision raised, quoted at the end of the message.
        note: an extra sentence (e.g. that archives next to the files are extracted offline).

    Returns:
        the error (the caller raises it, ``from cause``).
    """
    tried = (
        "data.download=true, yet the files are missing: the download failed (no network?) "
        "or prepare_data() did not run"
        if download
        else "data.download=false, so nothing was downloaded"
    )
    lines = [
        f"{dataset} not found or incomplete in {folder} ({tried}).",
        "torchvision expects there: " + ", ".join(expected) + ".",
    ]
    if note:
        lines.append(note)
    lines.append(
        "Fix: put the files in that folder, or point data.root=/path (or paths.data_dir=/path) "
        "at the folder that holds them, or run once with data.download=true on a machine "
        "with network access and copy the folder over."
    )
    if cause is not None:
        lines.append(f"torchvision said: {type(cause).__name__}: {cause}")
    return DatasetNotFoundError("\n".join(lines))


def check_num_classes(given: int | None, actual: int, name: str) -> None:
    """Raise a ValueError naming ``data.num_classes`` when the config disagrees with the data.

    ``data.num_classes`` is read by conditional models (``model.num_classes:
    ${data.num_classes}``), so a wrong value would build wrong-sized label embeddings."""
    if given is not None and given != actual:
        raise ValueError(
            f"data.num_classes={given!r} does not match {name}, whose labels have {actual} "
            f"classes (0 = labels are not classes); set data.num_classes={actual}."
        )
