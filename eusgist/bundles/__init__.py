"""Model bundles: one card schema (:mod:`.card`), tabular (:mod:`.tabular`) and CNN
(:mod:`.cnn`, imports torch) bundles, with the same checksum and version rules.

Only the card is imported here, so ``import eusgist.bundles`` stays light.
"""

from eusgist.bundles.card import (
    CARD,
    Kind,
    ModelCard,
    check_checksums,
    check_versions,
    file_sha256,
    read_card,
    read_json_object,
)
from eusgist.errors import BundleError

__all__ = [
    "CARD",
    "BundleError",
    "Kind",
    "ModelCard",
    "check_checksums",
    "check_versions",
    "file_sha256",
    "read_card",
    "read_json_object",
]
