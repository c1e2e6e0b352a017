"""The reference data the widgets show: taxonomy, agreements, licenses, regions (SPEC §2, §6)."""

from __future__ import annotations

from ..entities import Agreement
from . import agreements, taxonomy, validate
from .using import REGIONS


class ReferenceData:
    def taxonomy(self) -> dict[str, tuple[str, ...]]:
        """The category taxonomy: each dimension with its leaves, in display order."""
        return dict(taxonomy.taxonomy())

    def categories(self) -> tuple[str, ...]:
        """Every category path ("Dimension/Leaf") an asset may have."""
        return taxonomy.all_categories()

    def agreements(self) -> tuple[Agreement, ...]:
        """The agreements users accept before subscribing or publishing (SPEC SUB1, P1)."""
        return tuple(agreements.ALL.values())

    def licenses(self) -> tuple[str, ...]:
        """The licenses an asset's open code may carry."""
        return tuple(validate.LICENSES)

    def regions(self) -> tuple[str, ...]:
        """Where an imported workflow may run ("local": this machine)."""
        return tuple(REGIONS)
