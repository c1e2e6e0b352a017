"""The seed's workflow SDK (SPEC §4, P6, V5, V6; ``003_71d9b4b480b65f7e.txt``).

    from gallery_widgets import workflow as wf
    pipeline = wf.Workflow("churn", steps=[prep, train])
    pipeline.release_to_gallery(title="Churn pipeline")
    wf.add_whitelist_users(content_id=..., version_num="1.0.0", user_groups=["bob"])

These act on the gallery passed as ``gallery=…``, else the one most recently opened
in this process (``gw.open``).
"""

from __future__ import annotations

from .kernel.facade import current
from .kernel.workflow import Step, StepOutput, Workflow

__all__ = ["Workflow", "Step", "StepOutput", "add_whitelist_users", "delete_whitelist_users"]


def add_whitelist_users(content_id: str, version_num: str, user_groups, gallery=None):
    """Whitelist users on a workflow version and on the algorithm versions it depends on
    that you publish (SPEC V5, V6); the result lists what was skipped.

    Raises:
        InvalidInput / PermissionDenied / NotFound: as ``g.add_whitelist_users``.
    """
    return current(gallery).add_whitelist_users(content_id, version_num, user_groups)


def delete_whitelist_users(content_id: str, version_num: str, user_groups, gallery=None):
    """Remove users from a workflow version's whitelist and its own algorithms' (SPEC V5, V6).

    Raises:
        InvalidInput / PermissionDenied / NotFound: as ``g.delete_whitelist_users``.
    """
    return current(gallery).delete_whitelist_users(content_id, version_num, user_groups)
