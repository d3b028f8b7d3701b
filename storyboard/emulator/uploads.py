"""The ``imageUpload`` and ``mediaStorage`` tasks (§4.1, §4.2): media in, UUIDs out.

``imageUpload`` takes a URL, data URI or base64 image and answers ``imageUUID`` +
``imageURL``; like the service, it keeps the longer side at most 2048 px (larger images are
scaled down to :func:`storyboard.media.limits.upload_size`, the size ``check`` judges them
at; JPEG and PNG keep their format, other formats are stored as PNG).
``mediaStorage`` stores any media (``operation: "upload"``, answers ``mediaUUID`` +
``mediaURL``) or forgets it (``operation: "delete"``). Either UUID is then a valid media
reference in a videoInference task. The emulator never fetches the network: a remote URL
must have bytes registered (``/_emulator/remote``), else the upload fails ``downloadFailed``.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from storyboard.emulator.checks import check_enum, check_str
from storyboard.emulator.store import MediaStore, StoredMedia
from storyboard.emulator.wire import JSON, ApiError
from storyboard.media.limits import MAX_UPLOAD_SIDE, upload_size

MAX_IMAGE_SIDE = MAX_UPLOAD_SIDE


def _fetch(store: MediaStore, ref: str, parameter: str, code: str) -> bytes:
    try:
        resolved = store.resolve(ref)
    except ValueError as exc:
        raise ApiError(code, f"{parameter} {exc}", parameter) from None
    if resolved.data is None:
        raise ApiError(
            "downloadFailed",
            f"{parameter}: the emulator cannot fetch {ref}; "
            "register its bytes with /_emulator/remote",
            parameter,
        )
    return resolved.data


def _normalised_image(data: bytes) -> tuple[bytes, str]:
    """The image as stored: at most 2048 px on its longer side; JPEG/PNG kept, others PNG."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            fmt = (image.format or "").upper()
            if fmt in ("JPEG", "PNG") and max(image.size) <= MAX_IMAGE_SIDE:
                return data, "jpg" if fmt == "JPEG" else "png"
            stored: Image.Image = image
            if max(image.size) > MAX_IMAGE_SIDE:
                # the size `check` expects (the aspect's rounding decides an image at 2.5:1)
                stored = image.resize(upload_size(*image.size), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if fmt == "JPEG":
                stored.convert("RGB").save(out, "JPEG", quality=95)
                return out.getvalue(), "jpg"
            stored.save(out, "PNG")
            return out.getvalue(), "png"
    except (OSError, ValueError):
        raise ApiError("invalidImage", "image is not a readable image", "image") from None


def image_upload(task: JSON, store: MediaStore, owner: str, base_url: str) -> JSON:
    """Store an image; answer ``imageUUID`` and ``imageURL``."""
    if "image" not in task:
        raise ApiError("missingImage", "image is required", "image")
    ref = check_str(task["image"], "image", 1)
    data, ext = _normalised_image(_fetch(store, ref, "image", "invalidImage"))
    media = store.put(data, kind="image", ext=ext, owner=owner)
    return {
        "taskType": "imageUpload",
        "taskUUID": task["taskUUID"],
        "imageUUID": media.uuid,
        "imageURL": base_url + media.route,
    }


def media_storage(task: JSON, store: MediaStore, owner: str, base_url: str) -> JSON:
    """Upload or delete stored media."""
    if "operation" not in task:
        raise ApiError("missingOperation", "operation is required", "operation")
    operation = check_enum(task["operation"], "operation", ["upload", "delete"])
    if "media" not in task:
        raise ApiError("missingMedia", "media is required", "media")
    ref: Any = check_str(task["media"], "media", 1)
    item: JSON = {"taskType": "mediaStorage", "taskUUID": task["taskUUID"], "operation": operation}
    if operation == "delete":
        media: StoredMedia | None = store.delete(ref)
        if media is None:
            raise ApiError(
                "mediaNotFound", f"no stored media has the UUID {ref}", "media", status=404
            )
        item["mediaUUID"] = media.uuid
        return item
    media = store.put(_fetch(store, ref, "media", "invalidMedia"), owner=owner)
    item["mediaUUID"] = media.uuid
    item["mediaURL"] = base_url + media.route
    return item
