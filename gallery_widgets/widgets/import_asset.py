"""Import an algorithm or a model straight into the kernel (rule W2): pick the version, name a
kernel variable, Import. The object lands in the notebook's namespace, ready — an algorithm to
train (with a Train form), a model to predict. The line of Python that does the same stays
available under "Show code".

The import (fetch, verify, unpack; a model's loader) runs on a worker thread; the result is bound
and drawn on the kernel thread. Outside IPython there is no user namespace: the object is then
only ``panel.imported``.
"""

from __future__ import annotations

import keyword

import ipywidgets as w
from traitlets import Unicode

from .common import Messages, esc, in_background, row, shows_errors
from .import_workflow import as_identifier, kernel_namespace
from .kernel_loop import KernelLoop

IMPORTABLE = ("algorithm", "model")
USE_HINTS = {
    "algorithm": "train it with {v}.train(params, inputs) or the Train form below",
    "model": "predict with {v}.predict(…) (whatever its loader returned)",
}


def import_line(kind: str, content_id: str, version: str | None, variable: str, gallery_name: str = "g") -> str:
    """The one line of Python that imports the asset, as the widget does."""
    pinned = f", version={version!r}" if version else ""
    return f"{variable} = {gallery_name}.import_{kind}({content_id!r}{pinned})"


class ImportPanel(w.VBox):
    """Version, kernel variable and Import for one algorithm or model you may use.

    ``ImportPanel(g, content_id, kind, title, versions=None, namespace=None, gallery_name="g")``;
    ``versions`` are the asset's ``Version`` entries (read from the service when None). Parts:
    ``version``, ``variable``, ``import_button``, ``show_code``, ``code``, ``messages``,
    ``imported`` (the object), ``train_form`` (an algorithm's, after the import).
    """

    import_state = Unicode("ready", help="ready, importing, imported or failed: where the import stands")

    def __init__(self, g, content_id: str, kind: str, title: str, versions=None, *, namespace: dict | None = None,
                 gallery_name: str = "g"):
        super().__init__()
        if kind not in IMPORTABLE:
            raise ValueError(f"ImportPanel imports algorithms and models, not {kind!r}")
        self.kernel = KernelLoop.here()
        self.g, self.content_id, self.kind, self.title = g, content_id, kind, title
        self.namespace = namespace
        self.gallery_name = gallery_name
        self.imported = None
        self.train_form = None
        self.task = None
        self.messages = Messages()
        if versions is None:
            versions = g.asset(content_id, count_view=False).versions
        offered = [v.version for v in versions if v.status != "discontinued"]
        latest = f"latest ({offered[0]})" if offered else "latest"
        # "" stands for "the latest version you may use" (a Dropdown cannot show a None value)
        self.version = w.Dropdown(options=[(latest, "")] + [(v, v) for v in offered], value="",
                                  description="Version", layout=w.Layout(width="220px"))
        self.version.add_class("gw-import-version")
        self.variable = w.Text(value=as_identifier(title, fallback=kind), description="Variable",
                               layout=w.Layout(width="280px"))
        self.variable.add_class("gw-import-variable")
        self.import_button = w.Button(description="Import", icon="download", button_style="primary")
        self.import_button.add_class("gw-import-into-kernel")
        self.import_button.on_click(self._on_import)
        self.show_code = w.ToggleButton(description="Show code", icon="code", value=False)
        self.show_code.add_class("gw-import-show-code")
        self.code = w.Textarea(rows=1, layout=w.Layout(width="100%", display="none"))
        self.code.add_class("gw-import-code")
        self.show_code.observe(lambda _c: self._draw_code(), names="value")
        self.version.observe(lambda _c: self._draw_code(), names="value")
        self.variable.observe(lambda _c: self._draw_code(), names="value")
        self.train_area = w.VBox([])
        self.train_area.add_class("gw-import-train-area")
        self.children = (
            w.HTML(f'<div class="gw-title">Import {esc(title)} into this kernel</div>'),
            row([self.version, self.variable, self.import_button, self.show_code], align_items="center"),
            self.code,
            self.messages,
            self.train_area,
        )
        self.add_class("gw-import-panel")
        self.add_class("gw-panel")
        self._draw_code()

    def _draw_code(self) -> None:
        self.code.value = import_line(self.kind, self.content_id, self.version.value or None,
                                      self.variable.value.strip() or self.kind, self.gallery_name)
        self.code.layout.display = "" if self.show_code.value else "none"

    @shows_errors
    def _on_import(self, _button=None):
        self.messages.clear()
        variable = self.variable.value.strip()
        if not variable.isidentifier() or keyword.iskeyword(variable):
            self.messages.error(f"Variable name {variable!r} is not a Python identifier; use letters, digits "
                                "and _ (not starting with a digit).")
            return None
        call = getattr(self.g, f"import_{self.kind}")
        version = self.version.value or None
        self.import_state = "importing"
        self.import_button.disabled = True
        self.messages.ok(f"Importing {self.title}…")
        self.task = in_background(lambda: call(self.content_id, version), lambda obj: self._imported(obj, variable),
                                  self._failed, self.kernel)
        return self.task

    def _imported(self, obj, variable: str) -> None:
        self.imported = obj
        self.import_button.disabled = False
        namespace = kernel_namespace(self.namespace)
        hint = USE_HINTS[self.kind].format(v=variable)
        if namespace is None:
            self.messages.ok(f"Imported {self.title}; no kernel namespace here — it is panel.imported "
                             f"(in a notebook it would be `{variable}`).")
        else:
            namespace[variable] = obj
            self.messages.ok(f"Imported as `{variable}` — {hint}.")
        unmet = getattr(obj, "unmet_constraints", ())
        if unmet:
            self.messages.value += (f'<div class="gw-muted">This kernel does not meet: {esc(", ".join(unmet))}.'
                                    "</div>")
        if self.kind == "algorithm":
            from .train import TrainForm

            self.train_form = TrainForm(obj, g=self.g)
            self.train_area.children = (self.train_form,)
        self.import_state = "imported"

    def _failed(self, exc) -> None:
        self.import_button.disabled = False
        self.import_state = "failed"
        from ..errors import GalleryError

        self.messages.error(str(exc) if isinstance(exc, GalleryError)
                            else f"The import failed ({type(exc).__name__}: {exc}).")

    def wait(self, timeout: float | None = None) -> ImportPanel:
        """Wait for the import (on the kernel thread the result is drawn at once)."""
        if self.task is not None:
            self.task.join(timeout)
        return self
