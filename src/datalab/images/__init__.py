"""Images: the ObsCore index of the FITS files served by SIA and SODA, and demo images.

Files live under the data directory's ``images/`` folder; ``ivoa.obscore`` in the
catalog describes each image HDU (:class:`ImageRecord`). :func:`ingest_images` fills
the table from files, :class:`ImageIndex` answers the services' searches, and
:func:`make_demo_images` draws the simulated demo set from the demo catalogs.
"""

from datalab.images.demo import DEMO_COLLECTION, DEMO_FACILITY, make_demo_images
from datalab.images.header import read_image_header
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
    "ImageIndex",
    "ImageRecord",
    "IngestReport",
    "ingest_images",
    "make_demo_images",
    "read_image_header",
]
