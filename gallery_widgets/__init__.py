"""gallery_widgets: an asset gallery that lives in Jupyter.

    import gallery_widgets as gw
    g = gw.open()
    g.search(kind="algorithm", query="forecast")

Importing this package stays light: the database layer loads on ``gw.open()``
and the widgets on first use of ``gw.MarketBrowser`` and friends.
"""

from __future__ import annotations

import importlib

from .entities import (
    Asset,
    AssetSummary,
    Comment,
    Constraints,
    Duration,
    Finding,
    Notification,
    PackedSource,
    Page,
    Paper,
    Subscription,
    User,
    Version,
    WhitelistChange,
)
from .errors import (
    AgreementRequired,
    Conflict,
    DatabaseUnavailable,
    GalleryError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ScanFailed,
    SchemaOutdated,
    StorageError,
    SubscriptionRequired,
    TooLarge,
    Unauthenticated,
)

__version__ = "0.1.0"

_LAZY = {
    "open": ("gallery_widgets.opening", "open"),
    "LocalGallery": ("gallery_widgets.gallery", "LocalGallery"),
    "SqlGallery": ("gallery_widgets.core.sql_gallery", "SqlGallery"),
    "Algorithm": ("gallery_widgets.kernel.sources", "Algorithm"),
    "Model": ("gallery_widgets.kernel.sources", "Model"),
    "Workflow": ("gallery_widgets.kernel.workflow", "Workflow"),
    "Step": ("gallery_widgets.kernel.workflow", "Step"),
    "report": ("gallery_widgets.kernel.runtime.report", "report"),
    "categories": ("gallery_widgets.core.taxonomy", "all_categories"),
    "taxonomy": ("gallery_widgets.core.taxonomy", "taxonomy"),
    "render_markdown": ("gallery_widgets.core.markdown", "render_markdown"),
    "LICENSES": ("gallery_widgets.core.validate", "LICENSES"),
    "UNSET": ("gallery_widgets.entities", "UNSET"),
    "GalleryService": ("gallery_widgets.service", "GalleryService"),
    "agreement_text": ("gallery_widgets.core.agreements", "agreement_text"),
    # Widgets (SPEC §5) load ipywidgets on first use only.
    "MarketBrowser": ("gallery_widgets.widgets.market", "MarketBrowser"),
    "AssetDetail": ("gallery_widgets.widgets.detail", "AssetDetail"),
    "PublishForm": ("gallery_widgets.widgets.publish", "PublishForm"),
    "SubscriptionsTable": ("gallery_widgets.widgets.subscriptions", "SubscriptionsTable"),
    "ImportWorkflowDialog": ("gallery_widgets.widgets.import_workflow", "ImportWorkflowDialog"),
    "MyGallery": ("gallery_widgets.widgets.my_gallery", "MyGallery"),
    "JobView": ("gallery_widgets.widgets.jobs", "JobView"),
    "RunView": ("gallery_widgets.widgets.jobs", "RunView"),
    "ImportPanel": ("gallery_widgets.widgets.import_asset", "ImportPanel"),
    "TrainForm": ("gallery_widgets.widgets.train", "TrainForm"),
    "NotificationBell": ("gallery_widgets.widgets.notifications", "NotificationBell"),
}


def __getattr__(name: str):
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'gallery_widgets' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "open", "Algorithm", "Model", "Workflow", "Step", "report", "Duration", "Paper", "Page", "Asset", "AssetSummary", "Version",
    "Finding", "Subscription", "Comment", "User", "Notification", "Constraints", "WhitelistChange", "GalleryError",
    "NotFound", "PermissionDenied", "InvalidInput", "Conflict", "SubscriptionRequired", "AgreementRequired",
    "ScanFailed", "SchemaOutdated", "StorageError", "DatabaseUnavailable", "TooLarge", "Unauthenticated", "PackedSource", "GalleryService", "categories", "taxonomy",
    "LICENSES", "MarketBrowser", "AssetDetail",
    "PublishForm", "SubscriptionsTable", "ImportWorkflowDialog", "MyGallery", "JobView", "RunView",
]
