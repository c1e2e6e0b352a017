"""An asset's details page (SPEC §5 AssetDetail): page.py holds the page, each tab is its own
widget module."""

from .page import EDITABLE_TABS, TAB_NAMES, AssetDetail

__all__ = ["AssetDetail", "TAB_NAMES", "EDITABLE_TABS"]
