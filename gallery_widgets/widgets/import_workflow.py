"""ImportWorkflowDialog: the seed's "Import Workflow from AI Gallery" dialog (SPEC §5, U3).

Asset / Asset Version / Workflow Name (``workflow_`` + 4 hex) / Region / Workspace, plus
the name of the kernel variable that receives the imported workflow. Import calls
``g.import_workflow(...)``; Configure shows each step's parameters and inputs (the Train form's
controls); Run starts ``imported.run(...)`` with them and follows it in a RunView.
"""

from __future__ import annotations

import keyword
import re
import secrets

import ipywidgets as w

from ..errors import GalleryError
from .common import Messages, default_gallery, in_background, shows_errors, style
from .jobs import GAP_STYLE, RunView, hbox
from .kernel_loop import KernelLoop

_REGION_LABELS = {"local": "Local — this machine"}

DIALOG_STYLE = """
<style>
.gw-import-workflow { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 10px; padding: 10px 14px;
  background: var(--jp-layout-color1, #fff); }
</style>
""" + GAP_STYLE


def kernel_namespace(namespace: dict | None = None) -> dict | None:
    """``namespace`` when given, else the running IPython kernel's user namespace, else None."""
    if namespace is not None:
        return namespace
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        return None
    shell = get_ipython()
    return getattr(shell, "user_ns", None) if shell is not None else None


def default_workflow_name() -> str:
    return f"workflow_{secrets.token_hex(2)}"


def as_identifier(text: str, fallback: str = "workflow") -> str:
    """A Python variable name made from ``text`` (``my-flow 2`` → ``my_flow_2``)."""
    name = re.sub(r"\W+", "_", text.strip()).strip("_").lower()
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    if keyword.iskeyword(name):
        name += "_"
    return name


class ImportWorkflowDialog(w.VBox):
    """Import a subscribed (or own) workflow into a workspace and hand it to the kernel."""

    def __init__(self, g=None, content_id: str | None = None, namespace: dict | None = None):
        super().__init__()
        self.g = default_gallery(g)
        self.namespace = namespace
        self.imported = None
        self.last_run = None
        self.run_view: RunView | None = None
        self.config = None  # the WorkflowConfig once Configure loaded the steps
        self.config_task = None
        self.kernel = KernelLoop.here()
        self.messages = Messages()

        self.asset = w.Dropdown(description="Asset Name", style={"description_width": "130px"},
                                layout=w.Layout(width="520px"))
        self.asset.add_class("gw-import-asset")
        self.version = w.Dropdown(description="Asset Version", style={"description_width": "130px"},
                                  layout=w.Layout(width="320px"))
        self.version.add_class("gw-import-version")
        self.name = w.Text(value=default_workflow_name(), description="Workflow Name",
                           style={"description_width": "130px"}, layout=w.Layout(width="420px"))
        self.name.add_class("gw-import-name")
        self.region = w.Dropdown(options=[(_REGION_LABELS.get(r, r), r) for r in self.g.regions()], value="local",
                                 description="Region", style={"description_width": "130px"},
                                 layout=w.Layout(width="420px"))
        self.region.add_class("gw-import-region")
        self.workspace = w.Combobox(value="default", options=["default"], ensure_option=False,
                                    description="Workspace", placeholder="default",
                                    style={"description_width": "130px"}, layout=w.Layout(width="420px"))
        self.workspace.add_class("gw-import-workspace")
        self.variable = w.Text(value=as_identifier(self.name.value), description="Variable name",
                               style={"description_width": "130px"}, layout=w.Layout(width="420px"),
                               tooltip="The kernel variable that receives the imported workflow")
        self.variable.add_class("gw-import-variable")
        self.import_button = w.Button(description="Import", button_style="primary", icon="download")
        self.import_button.add_class("gw-import-button")
        self.close_button = w.Button(description="Close", tooltip="Close this dialog")
        self.close_button.add_class("gw-import-close")
        self.run_button = w.Button(description="Run", icon="play", button_style="success",
                                   layout=w.Layout(display="none"))
        self.run_button.add_class("gw-import-run")
        self.configure_button = w.Button(description="Configure", icon="sliders", layout=w.Layout(display="none"),
                                         tooltip="Set each step's parameters and inputs before Run")
        self.configure_button.add_class("gw-import-configure")
        self.configure_area = w.VBox()
        self.configure_area.add_class("gw-import-configure-area")
        self.empty = w.HTML()
        self.run_area = w.VBox()
        self.run_area.add_class("gw-import-run-area")

        self.asset.observe(self._on_asset, names="value")
        self.name.observe(self._on_name, names="value")
        self.import_button.on_click(self._on_import)
        self.run_button.on_click(self._on_run)
        self.configure_button.on_click(self._on_configure)
        self.close_button.on_click(self._on_close)

        self.children = [
            style(),
            w.HTML(DIALOG_STYLE),
            w.HTML('<div class="gw-h1">Import Workflow from AI Gallery</div>'
                   '<div class="gw-muted">The workflow is kept in the workspace and handed to this kernel as a '
                   'variable.</div>'),
            self.empty,
            self.asset,
            self.version,
            self.name,
            self.region,
            self.workspace,
            self.variable,
            hbox([self.import_button, self.close_button, self.configure_button, self.run_button], gap=8,
                 margin="8px 0 0 0"),
            self.messages,
            self.configure_area,
            self.run_area,
        ]
        self.add_class("gw-root")
        self.add_class("gw-import-workflow")
        self.layout = w.Layout(max_width="780px")
        self._load_assets(content_id)

    # -- options ---------------------------------------------------------------------
    @shows_errors
    def _load_assets(self, content_id: str | None) -> None:
        options: list[tuple[str, str]] = []
        seen: set[str] = set()
        subscriptions = self.g.subscriptions(kind="workflow")
        for sub in subscriptions:
            if sub.usable and sub.content_id not in seen:
                options.append((f"{sub.title} — {sub.publisher}", sub.content_id))
                seen.add(sub.content_id)
        for own in self.g.publishes(kind="workflow"):
            if own.content_id not in seen:
                options.append((f"{own.title} — published by you", own.content_id))
                seen.add(own.content_id)
        if content_id is not None and content_id not in seen:
            # Not usable now (cancelled, expired) or unknown: list it so Import can say what to do.
            match = next((s for s in subscriptions if s.content_id == content_id), None)
            if match is not None:
                state = "Subscription canceled" if match.status == "cancelled" else "Expired"
                options.append((f"{match.title} — {match.publisher} ({state})", content_id))
            else:
                options.append((content_id, content_id))
        self.asset.options = options
        if not options:
            self.empty.value = ('<div class="gw-empty">No workflows to import yet: subscribe to a workflow in the '
                                'market (or publish one), then come back.</div>')
            self.import_button.disabled = True
            self.version.options = []
            return
        self.empty.value = ""
        self.import_button.disabled = False
        self.asset.value = content_id if content_id is not None else options[0][1]
        self._load_versions()

    def _on_asset(self, change) -> None:
        self._load_versions()

    @shows_errors
    def _load_versions(self) -> None:
        self.version.options = []
        cid = self.asset.value
        if cid is None:
            return
        asset = self.g.asset(cid, count_view=False)
        options = [
            (v.version if v.status == "normal" else f"{v.version} (discontinued)", v.version) for v in asset.versions
        ]
        self.version.options = options
        latest = asset.latest_version
        if latest is not None:
            self.version.value = latest.version

    def _on_name(self, change) -> None:
        # The variable follows the workflow name until the user picks their own.
        if self.variable.value == as_identifier(change["old"] or ""):
            self.variable.value = as_identifier(change["new"] or "")

    # -- actions -----------------------------------------------------------------------
    @shows_errors
    def _on_import(self, _=None):
        self.messages.clear()
        variable = self.variable.value.strip()
        if not variable.isidentifier() or keyword.iskeyword(variable):
            self.messages.error(
                f"Variable name {variable!r} is not a Python identifier; use letters, digits and _ "
                "(not starting with a digit)."
            )
            return
        if self.asset.value is None:
            self.messages.error("Pick the workflow to import first.")
            return
        imported = self.g.import_workflow(
            self.asset.value,
            version=self.version.value or None,
            name=self.name.value.strip(),
            region=self.region.value,
            workspace=self.workspace.value.strip() or "default",
        )
        self.imported = imported
        self.config = None
        self.configure_area.children = ()
        namespace = kernel_namespace(self.namespace)
        self.run_button.layout.display = ""
        self.configure_button.layout.display = ""
        if namespace is None:
            self.messages.ok(
                f"Imported {imported.name!r} into workspace {imported.workspace!r}; no kernel is attached here — get "
                f"it with g.workflow({imported.name!r}, {imported.workspace!r}) and run it with .run()."
            )
            return
        namespace[variable] = imported
        self.messages.ok(f"Imported as `{variable}` — run it with {variable}.run()")

    @shows_errors
    def _on_run(self, _=None):
        if self.imported is None:
            self.messages.error("Import the workflow first.")
            return
        self.messages.clear()
        options = {}
        if self.config is not None:
            if not self.config.check_all():
                self.messages.error("Fix the step fields marked in red first.")
                return
            options = {"inputs": self.config.inputs(), "params": self.config.params()}
        if self.run_view is not None:
            self.run_view.close()
        self.last_run = self.imported.run(**options)
        self.run_view = RunView(self.last_run)
        self.run_area.children = [self.run_view]

    @shows_errors
    def _on_configure(self, _=None):
        """Load the steps' algorithms on a worker, then show one form per step (the Train form's controls)."""
        if self.imported is None:
            self.messages.error("Import the workflow first.")
            return None
        from .train import WorkflowConfig

        self.messages.clear()
        workflow = self.imported
        self.configure_button.disabled = True
        self.configure_area.children = (w.HTML('<div class="gw-muted">⏳ Loading the steps…</div>'),)

        def work():
            return {s["name"]: workflow.step_algorithm(s["name"]) for s in workflow.steps}

        def done(algorithms):
            self.configure_button.disabled = False
            self.config = WorkflowConfig(workflow, algorithms)
            self.configure_area.children = (self.config,)

        def failed(exc):
            self.configure_button.disabled = False
            self.configure_area.children = ()
            self.messages.error(str(exc) if isinstance(exc, GalleryError)
                                else f"The steps could not be loaded ({type(exc).__name__}: {exc}).")

        self.config_task = in_background(work, done, failed, self.kernel)
        return self.config_task

    def _on_close(self, _=None):
        self.layout.display = "none"
