"""Reading and writing tracked data: CTC folders, zarr (OME-Zarr) stores, GEFF graphs, TIFF pairs.

Every area reads user data through :func:`load_tracked` and writes through :func:`write_store`
or :func:`write_ctc`. User mistakes raise :class:`tgan_aug.errors.UserError` (one line naming
the file and the fix).
"""

from tgan_aug.io.convert import export_ctc, import_ctc
from tgan_aug.io.geff_export import export_geff
from tgan_aug.io.geff_import import import_geff, read_geff
from tgan_aug.io.ctc import list_ctc_sequences, read_ctc, read_man_track, write_ctc
from tgan_aug.io.info import dataset_info, summarize
from tgan_aug.io.load import describe_source, load_masks, load_tracked
from tgan_aug.io.store import (
    FORMAT_VERSION,
    StoreSequence,
    StoreWriter,
    is_store,
    list_store_sequences,
    open_store_sequence,
    read_store,
    write_store,
)
from tgan_aug.io.tiff_pair import link_by_overlap, read_tiff_pair, read_untracked_pair

__all__ = [
    "FORMAT_VERSION",
    "StoreSequence",
    "StoreWriter",
    "dataset_info",
    "describe_source",
    "export_ctc",
    "export_geff",
    "import_ctc",
    "import_geff",
    "is_store",
    "link_by_overlap",
    "list_ctc_sequences",
    "list_store_sequences",
    "load_masks",
    "load_tracked",
    "open_store_sequence",
    "read_ctc",
    "read_geff",
    "read_man_track",
    "read_store",
    "read_tiff_pair",
    "read_untracked_pair",
    "summarize",
    "write_ctc",
    "write_store",
]
