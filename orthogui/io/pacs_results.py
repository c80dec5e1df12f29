"""What "Send results to PACS" sends for one approved image: the DICOM objects built from its
reviewed findings, referring to the source image (the CLI and the window share this).
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from orthogui.io.dicom_seg import seg_for_image
from orthogui.io.dicom_sr import sr_for_image
from orthogui.io.store import ProjectStore


def results_for_image(
    store: ProjectStore, image_id: str, *, reviewer: str | None = None
) -> list[Dataset]:
    """The result objects of one approved DICOM image of ``store``: its measurement report
    (TID 1500 SR), then the segmentation of its findings (binary SEG, one segment per
    category), both in new series of the image's study.

    Raises ``SrRefused`` (``SegRefused`` is one) naming the file when the image is not
    approved, not DICOM, or has no reviewed finding (inside the image).
    """
    return [
        sr_for_image(store, image_id, reviewer=reviewer),
        seg_for_image(store, image_id, reviewer=reviewer),
    ]
