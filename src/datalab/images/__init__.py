"""Images: the ObsCore index of the FITS files served by SIA and SODA, and demo images.

Files live under the data directory's ``images/`` folder; ``ivoa.obscore`` in the
catalog describes each image HDU (:class:`ImageRecord`). :func:`ingest_images` fills
the table from files, :class:`ImageIndex` answers the services' searches,
:func:`make_demo_images` draws the simulated demo set from the demo catalogs, and
:func:`build_hips` makes HiPS surveys of the images for sky viewers (the data
directory's ``hips/``).
"""

from datalab.images.demo import DEMO_COLLECTION, DEMO_FACILITY, make_demo_images
from datalab.images.header import read_image_header
from datalab.images.hips import (
    HipsInfo,
    HipsReport,
    build_hips,
    build_hips_for_catalog,
    hips_file,
    list_hips,
    tile_file,
)
from datalab.images.index import INTERSECT_MODES, ImageIndex
from datalab.images.ingest import IngestReport, ingest_images
from datalab.images.obscore import ACCESS_URL_PREFIX
from datalab.images.records import OBSCORE_TABLE, PUBLISHER_DID_PREFIX, ImageRecord

__all__ = [
    "ACCESS_URL_PREFIX",
    "DEMO_COLLECTION",
    "DEMO_FACILITY",
    "INTERSECT_MODES",
    "OBSCORE_TABLE",
    "PUBLISHER_DID_PREFIX",
    "HipsInfo",
    "HipsReport",
    "ImageIndex",
    "ImageRecord",
    "IngestReport",
    "build_hips",
    "build_hips_for_catalog",
    "hips_file",
    "ingest_images",
    "list_hips",
    "make_demo_images",
    "read_image_header",
    "tile_file",
]
