"""Cell Tracking Challenge (CTC) folders, in and out.

Layout (``NN`` = two or more digits, ``TTT`` = 3 or 4 digits, frames numbered from 0)::

    DATASET/NN/tTTT.tif                         images (uint8, uint16 or float), optional
    DATASET/NN_GT/TRA/man_trackTTT.tif          track masks, uint16, value = track id
    DATASET/NN_GT/TRA/man_track.txt             rows "id t_start t_end parent"
    DATASET/NN_GT/SEG/man_segTTT.tif            segmentation masks (gold truth: often sparse)
    DATASET/NN_ST/SEG/man_segTTT.tif            silver-truth segmentation (dense)

Reading: TRA with ``man_track.txt`` -> lineage read from the file and checked against the masks;
TRA without it, or a dense SEG folder -> lineage derived from mask ids that are linked over time
(:func:`masksynth.lineage_from_labels`); per-frame ids that are not linked raise
:class:`masksynth.NotLinkedError` (tgan-aug does not guess links).

Writing: a temporary hidden sibling folder is filled and renamed into place at the end, so an
interrupted write never leaves a folder that looks finished; existing output is replaced only
with ``overwrite=True``.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from masksynth.tracked import (
    CTCValidationError,
    NotLinkedError,
    TrackedMasks,
    TrackedVideo,
    lineage_from_labels,
    validate_tracked,
)
from tgan_aug.errors import UserError
from tgan_aug.io._tiff import WRITE_THREADS, read_frames, write_tiff

__all__ = ["CTCLayout", "find_ctc", "list_ctc_sequences", "read_ctc", "read_man_track", "write_ctc"]

_SEQ = re.compile(r"^(\d{2,})$")
_ANN = re.compile(r"^(\d{2,})_(GT|ST)$")
_FRAME = {
    "img": re.compile(r"^t(\d{3,4})\.tiff?$"),
    "TRA": re.compile(r"^man_track(\d{3,4})\.tiff?$"),
    "SEG": re.compile(r"^man_seg(\d{3,4})\.tiff?$"),
}
#: Annotation folders tried in this order when gt/kind are "auto": tracking markers first,
#: then dense silver-truth segmentation, then (often sparse) gold-truth segmentation.
_SEARCH_ORDER = (("GT", "TRA"), ("ST", "TRA"), ("ST", "SEG"), ("GT", "SEG"))


@dataclass(frozen=True)
class CTCLayout:
    """Where one CTC sequence's files are.

    root: the dataset folder; name: sequence ("01"); truth: "GT" or "ST"; kind: "TRA" or "SEG";
    masks: the folder holding the mask files; image_files / mask_files: one file per frame,
    in time order (image_files empty when the sequence has no image folder);
    man_track: the ``man_track.txt`` path when present.
    """

    root: Path
    name: str
    truth: str
    kind: str
    masks: Path
    mask_files: tuple[Path, ...]
    image_files: tuple[Path, ...]
    man_track: Path | None

    @property
    def n_frames(self) -> int:
        return len(self.mask_files)

    def describe(self) -> str:
        """e.g. ``01_GT/TRA + man_track.txt``."""
        lineage = " + man_track.txt" if self.man_track else " (lineage from ids)"
        return f"{self.name}_{self.truth}/{self.kind}{lineage}"


def _frame_files(folder: Path, kind: str) -> dict[int, Path]:
    """{frame number: file} for the frame files of one kind in a folder."""
    pattern = _FRAME[kind]
    found: dict[int, Path] = {}
    if not folder.is_dir():
        return found
    for entry in os.scandir(folder):
        m = pattern.match(entry.name)
        if m and entry.is_file():
            t = int(m.group(1))
            if t in found:
                raise UserError(
                    f"{folder}: frame {t} appears twice ({found[t].name}, {entry.name}); keep one"
                )
            found[t] = Path(entry.path)
    return found


def _contiguous(files: dict[int, Path], folder: Path, what: str, hint: str = "") -> tuple[Path, ...]:
    frames = sorted(files)
    missing = sorted(set(range(frames[-1] + 1)) - set(frames))
    if missing:
        shown = ", ".join(str(t) for t in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise UserError(
            f"{folder}: {what} for frames {shown} missing ({len(frames)} files for frames "
            f"0..{frames[-1]}); CTC frames are numbered from 0 without gaps{hint}"
        )
    return tuple(files[t] for t in frames)


def list_ctc_sequences(path: str | os.PathLike) -> list[str]:
    """Sequence names (``"01"``, ``"02"``, ...) of a CTC dataset folder that have annotations.

    path: the dataset folder (holding ``NN`` and ``NN_GT``/``NN_ST``), or one of ``NN``,
    ``NN_GT``, ``NN_ST`` (then that sequence only, if annotated).
    """
    path = Path(path)
    root, only, _, _ = _split_path(path)
    names = set()
    if root.is_dir():
        for entry in os.scandir(root):
            m = _ANN.match(entry.name)
            if m and entry.is_dir() and any((Path(entry.path) / k).is_dir() for k in ("TRA", "SEG")):
                names.add(m.group(1))
    if only is not None:
        return [only] if only in names else []
    return sorted(names)


def _split_path(path: Path) -> tuple[Path, str | None, str | None, str | None]:
    """(dataset root, sequence or None, truth or None, kind or None) implied by a path."""
    name = path.name
    if name in ("TRA", "SEG") and _ANN.match(path.parent.name):
        m = _ANN.match(path.parent.name)
        return path.parent.parent, m.group(1), m.group(2), name
    m = _ANN.match(name)
    if m:
        return path.parent, m.group(1), m.group(2), None
    if _SEQ.match(name):
        return path.parent, name, None, None
    return path, None, None, None


def find_ctc(
    path: str | os.PathLike,
    *,
    sequence: str | None = None,
    gt: Literal["auto", "GT", "ST"] = "auto",
    kind: Literal["auto", "TRA", "SEG"] = "auto",
    images: bool = True,
) -> CTCLayout:
    """Locate one CTC sequence's image and mask files (see :func:`read_ctc` for the arguments)."""
    path = Path(path)
    if gt not in ("auto", "GT", "ST"):
        raise UserError(f"gt must be 'auto', 'GT' or 'ST', got {gt!r}")
    if kind not in ("auto", "TRA", "SEG"):
        raise UserError(f"kind must be 'auto', 'TRA' or 'SEG', got {kind!r}")
    if not path.exists():
        raise UserError(f"{path} does not exist; give a CTC dataset folder (holding NN/ and NN_GT/ or NN_ST/)")
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; give a CTC dataset folder (holding NN/ and NN_GT/ or NN_ST/)")
    root, implied_seq, implied_gt, implied_kind = _split_path(path)
    for given, implied, flag in ((sequence, implied_seq, "sequence"), (gt, implied_gt, "gt"), (kind, implied_kind, "kind")):
        if implied is not None and given not in (None, "auto", implied):
            raise UserError(f"{path} is {flag} {implied!r} but {flag}={given!r} was asked for; drop the option or give the dataset folder")
    sequence = sequence or implied_seq
    gt = implied_gt or gt
    kind = implied_kind or kind
    if sequence is None:
        names = list_ctc_sequences(root)
        if not names:
            if not any(root.iterdir()):
                raise UserError(f"{root} is empty; give a CTC dataset folder (holding NN/ and NN_GT/ or NN_ST/)")
            raise UserError(
                f"{root} holds no CTC annotations (no NN_GT/TRA, NN_GT/SEG or NN_ST/SEG folder); "
                "give a CTC dataset folder"
            )
        if len(names) > 1:
            raise UserError(f"{root} holds sequences {', '.join(names)}; choose one with sequence= (--sequence)")
        sequence = names[0]
    if not _SEQ.match(str(sequence)):
        raise UserError(f"sequence must be two or more digits like '01', got {sequence!r}")

    tried = []
    for truth, k in _SEARCH_ORDER:
        if gt not in ("auto", truth) or kind not in ("auto", k):
            continue
        folder = root / f"{sequence}_{truth}" / k
        tried.append(f"{sequence}_{truth}/{k}")
        files = _frame_files(folder, k)
        if files:
            break
    else:
        raise UserError(
            f"{root}: no mask files for sequence {sequence} (looked in {', '.join(tried)} for "
            "man_trackTTT.tif / man_segTTT.tif); check the path, --sequence, --gt and --kind"
        )
    hint = (
        "; CTC gold-truth SEG annotates only some frames: read the TRA folder or the silver truth (ST)"
        if (truth, k) == ("GT", "SEG")
        else ""
    )
    mask_files = _contiguous(files, folder, "mask files", hint)
    img_dir = root / sequence
    img = _frame_files(img_dir, "img") if images else {}
    image_files: tuple[Path, ...] = ()
    if img:
        image_files = _contiguous(img, img_dir, "images")
        if len(image_files) != len(mask_files):
            raise UserError(
                f"{img_dir} has {len(image_files)} frames but {folder} has {len(mask_files)}; images "
                "and masks must cover the same frames; remove the extra image or mask files"
            )
    man_track = folder / "man_track.txt" if k == "TRA" and (folder / "man_track.txt").is_file() else None
    return CTCLayout(root, sequence, truth, k, folder, mask_files, image_files, man_track)


def read_man_track(path: str | os.PathLike) -> np.ndarray:
    """Read a CTC ``man_track.txt`` (or ``res_track.txt``).

    Returns (N, 4) int64 rows ``id t_start t_end parent`` in file order. A malformed line raises
    UserError naming the file and line.
    """
    path = Path(path)
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file; expected rows 'id t_start t_end parent'") from None
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4:
            raise UserError(
                f"{path} line {n}: expected 4 integers 'id t_start t_end parent', got {line.strip()!r}"
            )
        rows.append(values)
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def read_ctc(
    path: str | os.PathLike,
    *,
    sequence: str | None = None,
    gt: Literal["auto", "GT", "ST"] = "auto",
    kind: Literal["auto", "TRA", "SEG"] = "auto",
    images: bool = True,
    progress: bool = False,
) -> TrackedVideo | TrackedMasks:
    """Read one sequence of a CTC dataset.

    path: the dataset folder (holding ``NN`` and ``NN_GT``/``NN_ST``), or the ``NN``, ``NN_GT``,
        ``NN_ST`` or ``NN_GT/TRA`` folder of one sequence.
    sequence: "01", "02", ...; needed only when the dataset holds several.
    gt: "GT" (gold truth), "ST" (silver truth) or "auto" (GT TRA, ST TRA, ST SEG, GT SEG: the first found).
    kind: "TRA" (tracking masks) or "SEG" (segmentation masks whose ids must be linked over time).
    images: read ``NN/tTTT.tif`` too (when present).
    progress: show a progress bar over frames.

    Returns a :class:`TrackedVideo` (labels (T, Y, X) uint16, images (T, Y, X) in their own dtype)
    when images are read and present, else :class:`TrackedMasks`. Its provenance says which
    folder and lineage source were used.

    Raises UserError (missing/empty folder, missing frames, unreadable TIFF, frame counts or sizes
    that differ, ids > 65535, a ``man_track.txt`` that contradicts the masks: names track and
    frame) and NotLinkedError (SEG ids not linked over time: tgan-aug does not guess links).
    """
    layout = find_ctc(path, sequence=sequence, gt=gt, kind=kind, images=images)
    n_files = layout.n_frames + len(layout.image_files)
    with tqdm(total=n_files, desc=f"reading {layout.name}", unit="file", disable=not progress, leave=False) as bar:
        labels = read_frames(layout.mask_files, labels=True, progress=bar.update)
        imgs = None
        if layout.image_files:
            imgs = read_frames(layout.image_files, labels=False, progress=bar.update)
            if imgs.shape != labels.shape:
                raise UserError(
                    f"{layout.image_files[0]}: images are {imgs.shape[1]}x{imgs.shape[2]} but masks "
                    f"in {layout.masks} are {labels.shape[1]}x{labels.shape[2]} (Y x X); they must match"
                )
    masks = _masks_from_layout(layout, labels)
    if imgs is None:
        return masks
    provenance = {
        "source": str(layout.root),
        "format": "ctc",
        "sequence": layout.name,
        "masks": f"{layout.name}_{layout.truth}/{layout.kind}",
        "lineage": "man_track.txt" if layout.man_track else "derived from mask ids",
    }
    return TrackedVideo(masks, imgs, provenance=provenance)


def _masks_from_layout(layout: CTCLayout, labels: np.ndarray) -> TrackedMasks:
    if layout.man_track is not None:
        lineage = read_man_track(layout.man_track)
        try:
            validate_tracked(labels, lineage)
        except CTCValidationError as exc:
            raise UserError(
                f"{layout.man_track} contradicts the masks in {layout.masks}: {exc}; correct the file "
                "(or remove it to derive the lineage from the mask ids, without divisions)"
            ) from None
        return TrackedMasks(labels, lineage, validate=False)
    try:
        out, lineage = lineage_from_labels(labels)
    except NotLinkedError as exc:
        raise NotLinkedError(f"{layout.masks}: {exc}") from None
    return TrackedMasks(out, lineage, validate=False)


# ----------------------------------------------------------------------------------- writing


def _sequence_outputs(out_dir: Path, sequence: str) -> list[Path]:
    """Folders that belong to one written sequence (existing ones count as existing output)."""
    return [out_dir / sequence, out_dir / f"{sequence}_GT", out_dir / f"{sequence}_ST"]


def write_ctc(
    out_dir: str | os.PathLike,
    data: TrackedVideo | TrackedMasks,
    *,
    sequence: str = "01",
    seg: bool = False,
    overwrite: bool = False,
    digits: int = 3,
    progress: bool = False,
) -> Path:
    """Write one sequence as a CTC dataset folder.

    out_dir: the dataset folder; gets ``NN/tTTT.tif`` (only for a TrackedVideo),
        ``NN_GT/TRA/man_trackTTT.tif`` + ``man_track.txt`` and, with ``seg=True``,
        ``NN_GT/SEG/man_segTTT.tif`` (the same dense masks). Other sequences in it are kept.
    data: labels (T, Y, X) uint16 + lineage; images in their own dtype (deflate-compressed TIFF).
        A :class:`~tgan_aug.io.store.StoreSequence` is streamed frame by frame (never all in memory).
    sequence: two or more digits ("01").
    overwrite: replace this sequence's folders (``NN``, ``NN_GT``, ``NN_ST``) when they exist;
        without it an existing one raises UserError.
    digits: frame-number digits (3 or 4; 4 is used anyway beyond 1000 frames).
    Returns ``out_dir``. Files are written into a hidden temporary folder beside the target and
    renamed into place at the end: an interrupted write leaves only that hidden folder.
    """
    out_dir = Path(out_dir)
    if not _SEQ.match(str(sequence)):
        raise UserError(f"sequence must be two or more digits like '01', got {sequence!r}")
    if digits not in (3, 4):
        raise UserError(f"digits must be 3 or 4, got {digits}")
    from tgan_aug.io.store import StoreSequence

    if isinstance(data, TrackedVideo):
        labels, lineage, images = data.labels, data.lineage, data.images
    elif isinstance(data, TrackedMasks):
        labels, lineage, images = data.labels, data.lineage, None
    elif isinstance(data, StoreSequence):  # streamed frame by frame from the store
        labels, lineage, images = data.labels, data.lineage, data.images
    else:
        raise UserError(f"data must be a TrackedVideo, TrackedMasks or StoreSequence, got {type(data).__name__}")
    n_frames = int(labels.shape[0])
    digits = max(digits, len(str(max(n_frames - 1, 0))))
    if digits > 4:
        raise UserError(f"{n_frames} frames need more than 4 frame digits; CTC numbering allows at most 10000 frames")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} exists and is not a folder; choose another output folder")
    existing = [p for p in _sequence_outputs(out_dir, sequence) if p.exists()]
    if existing and not overwrite:
        raise UserError(f"{existing[0]} already exists; pass --overwrite to replace it")

    fresh = not out_dir.exists()
    parent = out_dir.parent if fresh else out_dir
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{out_dir.name if fresh else sequence}.partial-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        _write_sequence(tmp, labels, lineage, images, sequence=sequence, seg=seg, digits=digits, progress=progress)
        if fresh:
            os.replace(tmp, out_dir)
        else:
            trash = tmp / ".replaced"
            trash.mkdir()
            for old in existing:
                os.replace(old, trash / old.name)
            for new in sorted(tmp.iterdir()):
                if new.name != ".replaced":
                    os.replace(new, out_dir / new.name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _write_sequence(
    folder: Path,
    labels,
    lineage: np.ndarray,
    images,
    *,
    sequence: str,
    seg: bool,
    digits: int,
    progress: bool,
) -> None:
    """labels/images: (T, Y, X) numpy or zarr arrays, read one frame at a time."""
    tra = folder / f"{sequence}_GT" / "TRA"
    tra.mkdir(parents=True)
    seg_dir = folder / f"{sequence}_GT" / "SEG"
    if seg:
        seg_dir.mkdir()
    img_dir = folder / sequence
    if images is not None:
        img_dir.mkdir()

    def write_frame(t: int) -> None:
        frame = np.ascontiguousarray(labels[t])
        write_tiff(tra / f"man_track{t:0{digits}d}.tif", frame)
        if seg:
            write_tiff(seg_dir / f"man_seg{t:0{digits}d}.tif", frame)
        if images is not None:
            write_tiff(img_dir / f"t{t:0{digits}d}.tif", np.ascontiguousarray(images[t]))

    n_frames = int(labels.shape[0])
    with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
        jobs = pool.map(write_frame, range(n_frames))
        for _ in tqdm(jobs, total=n_frames, desc=f"writing {sequence}", unit="frame", disable=not progress, leave=False):
            pass
    rows = np.asarray(lineage, dtype=np.int64).reshape(-1, 4)
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    lines = "".join(f"{i} {t0} {t1} {p}\n" for i, t0, t1, p in rows.tolist())
    (tra / "man_track.txt").write_text(lines, encoding="utf-8")
