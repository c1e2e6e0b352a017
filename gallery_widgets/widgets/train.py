"""The Train form (rule W3): generated from an algorithm's manifest, one control per
hyperparameter (a number with its range, a choice, a checkbox, a text), defaults filled,
required ones marked; each input a path field that says whether the path exists, and the output
folder likewise. Every field is checked as it changes with the same checks ``train()`` runs
(``manifest.check_value``), so the messages are the service's. Start → a JobView.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w
from traitlets import Bool

from ..errors import GalleryError, InvalidInput
from ..manifest import check_value
from .common import Messages, esc, shows_errors
from .jobs import JobView

LABEL = {"description_width": "150px"}
FIELD = w.Layout(width="420px")


def _label(spec: dict) -> str:
    return spec["name"] + (" *" if spec.get("required") else "")


def _hint(spec: dict) -> str:
    parts = [spec["type"]]
    if spec.get("range") is not None:
        lo, hi = spec["range"]
        parts.append(f"{lo} … {hi}")
    if spec.get("default") is not None:
        parts.append(f"default {spec['default']!r}")
    if spec.get("required"):
        parts.append("required")
    text = ", ".join(parts)
    if spec.get("description"):
        text += f" — {spec['description']}"
    return text


class _Shared:
    """Layout and style objects shared by every field of a form: each is a widget of its own, and
    one per field would triple the widgets a 20-parameter form builds (speed target: ≤ 50 ms)."""

    def __init__(self):
        self.styles: dict[type, w.Widget] = {}
        self.note = w.Layout(margin="0 0 0 8px", max_width="520px")
        self.row = w.Layout(align_items="flex-start")
        self.note_style = None

    def style(self, cls):
        if cls not in self.styles:
            self.styles[cls] = cls.style.klass(**LABEL)
        return self.styles[cls]

    def html(self, value: str = "") -> w.HTML:
        if self.note_style is None:
            self.note_style = w.HTML.style.klass()
        return w.HTML(value, layout=self.note, style=self.note_style)


def param_control(spec: dict, shared: _Shared | None = None) -> w.Widget:
    """The control for one hyperparameter, filled with its default."""
    shared = shared or _Shared()
    kind, default, label = spec["type"], spec.get("default"), _label(spec)

    def make(cls, **options):
        return cls(description=label, style=shared.style(cls), layout=FIELD, **options)

    if spec.get("choices") is not None:
        options = [("—", None)] if default is None else []
        options += [(str(c), c) for c in spec["choices"]]
        return make(w.Dropdown, options=options, value=default)
    if kind == "bool":
        return make(w.Checkbox, value=bool(default), indent=True)
    if kind in ("int", "float") and default is not None:
        return make(w.IntText if kind == "int" else w.FloatText, value=default)
    # a number without a default may stay empty: a text field, read as the declared type
    return make(w.Text, value="" if default is None else str(default), placeholder=spec["type"])


def read_value(spec: dict, control: w.Widget):
    """The control's value as the manifest's type (None when left empty)."""
    value = control.value
    if isinstance(control, w.Text):
        text = value.strip()
        if text == "":
            return None
        if spec["type"] == "int":
            try:
                return int(text)
            except ValueError:
                raise InvalidInput(f"hyperparameters: field '{spec['name']}' must be of type int, not {text!r}.")
        if spec["type"] == "float":
            try:
                return float(text)
            except ValueError:
                raise InvalidInput(f"hyperparameters: field '{spec['name']}' must be of type float, not {text!r}.")
    return value


def path_state(text: str) -> tuple[bool, str]:
    """(exists, what the field says about the path)."""
    if not text.strip():
        return False, "no path yet"
    path = Path(text.strip()).expanduser()
    if path.is_dir():
        return True, f"✓ folder exists ({path.resolve()})"
    if path.exists():
        return True, f"✓ file exists ({path.stat().st_size:,} bytes)"
    return False, f"✗ {path} does not exist"


class ParamsForm(w.VBox):
    """Hyperparameter controls and input path fields for one manifest (also a workflow step's)."""

    valid = Bool(True, help="True while every field passes its check")

    def __init__(self, manifest: dict, *, params: dict | None = None, inputs: dict | None = None,
                 optional_inputs: bool = False):
        super().__init__()
        self.manifest = manifest
        self.optional_inputs = optional_inputs  # a workflow step's wired inputs may stay empty
        self.controls: dict[str, w.Widget] = {}
        self.notes: dict[str, w.HTML] = {}  # per field: its hint, and its error when it has one
        self.errors: dict[str, str] = {}  # per field: the check's message, "" when it passes
        self.input_paths: dict[str, w.Text] = {}
        self.input_states: dict[str, w.HTML] = {}
        self._specs = {p["name"]: p for p in manifest.get("hyperparameters", [])}
        shared = _Shared()
        rows = []
        for spec in self._specs.values():
            name = spec["name"]
            control = param_control(spec, shared)
            if params and name in params and params[name] is not None:
                control.value = str(params[name]) if isinstance(control, w.Text) else params[name]
            control.add_class(f"gw-param-{name}")
            control.observe(lambda _c, n=name: self.check_field(n), names="value")
            self.controls[name], self.errors[name] = control, ""
            self.notes[name] = shared.html(self._note(name))
            self.notes[name].add_class("gw-field-note")
            rows.append(w.HBox([control, self.notes[name]], layout=shared.row))
        for port in manifest.get("inputs", []):
            name = port["name"]
            text = w.Text(value=str((inputs or {}).get(name, "")), description=f"input {name}" +
                          ("" if optional_inputs else " *"), style=shared.style(w.Text), layout=FIELD,
                          placeholder="wired from the previous step" if optional_inputs else "path/to/data")
            text.add_class(f"gw-input-{name}")
            state = shared.html()
            state.add_class("gw-path-state")
            text.observe(lambda _c, n=name: self.check_input(n), names="value")
            self.input_paths[name], self.input_states[name] = text, state
            rows.append(w.HBox([text, state], layout=shared.row))
            self.check_input(name)
        self.children = tuple(rows)
        self.add_class("gw-params-form")

    def _note(self, name: str) -> str:
        hint = f'<span class="gw-muted">{esc(_hint(self._specs[name]))}</span>'
        error = self.errors.get(name)
        return hint + (f'<div class="gw-error gw-field-error">{esc(error)}</div>' if error else "")

    def check_field(self, name: str) -> bool:
        spec = self._specs[name]
        try:
            value = read_value(spec, self.controls[name])
            if value is None:
                if spec.get("required"):
                    raise InvalidInput(f"hyperparameters: field '{name}' is required ({spec['type']}).")
            else:
                check_value("hyperparameters", name, spec, value)
        except GalleryError as exc:
            self.errors[name] = str(exc)
            self.notes[name].value = self._note(name)
            self._revalidate()
            return False
        if self.errors[name]:
            self.errors[name] = ""
            self.notes[name].value = self._note(name)
        self._revalidate()
        return True

    def check_input(self, name: str) -> bool:
        text = self.input_paths[name].value
        exists, note = path_state(text)
        ok = exists or (self.optional_inputs and not text.strip())
        if self.optional_inputs and not text.strip():
            note = "wired from the workflow"
        colour = "#1b5e20" if exists else ("#656d76" if ok else "#8a1c1c")
        self.input_states[name].value = f'<span style="color:{colour};font-size:12px">{esc(note)}</span>'
        self._revalidate()
        return ok

    def _revalidate(self) -> None:
        errors = any(self.errors.values())
        inputs_ok = all(
            path_state(t.value)[0] or (self.optional_inputs and not t.value.strip())
            for t in self.input_paths.values()
        )
        self.valid = not errors and inputs_ok

    def check_all(self) -> bool:
        fields = [self.check_field(n) for n in self.controls]
        ports = [self.check_input(n) for n in self.input_paths]
        return all(fields) and all(ports)

    def params(self) -> dict:
        """The hyperparameters as typed values (empty ones left out: the defaults apply)."""
        values = {n: read_value(self._specs[n], c) for n, c in self.controls.items()}
        return {n: v for n, v in values.items() if v is not None}

    def inputs(self) -> dict:
        return {n: t.value.strip() for n, t in self.input_paths.items() if t.value.strip()}


class TrainForm(w.VBox):
    """Train an imported (or local) algorithm from a form; Start shows its JobView (SPEC U2).

    ``TrainForm(algorithm, g=None, output_dir=None)``. Parts: ``params_form`` (``controls``,
    ``errors``, ``input_paths``), ``output_dir`` and ``output_state``, ``start_button``,
    ``messages``, ``job`` and ``job_view`` after Start.
    """

    def __init__(self, algorithm, g=None, *, output_dir: str | None = None):
        super().__init__()
        self.algorithm = algorithm
        self.g = g
        self.job = None
        self.job_view: JobView | None = None
        self.messages = Messages()
        manifest = algorithm.manifest
        self.params_form = ParamsForm(manifest)
        outputs = [o["name"] for o in manifest.get("outputs", [])]
        self.output_dir = w.Text(value=output_dir or "", description="output folder", style=LABEL, layout=FIELD,
                                 placeholder="empty: a new folder under the jobs folder")
        self.output_dir.add_class("gw-train-output")
        self.output_state = w.HTML()
        self.output_state.add_class("gw-path-state")
        self.output_dir.observe(lambda _c: self._check_output(), names="value")
        self.start_button = w.Button(description="Start training", icon="play", button_style="success")
        self.start_button.add_class("gw-train-start")
        self.start_button.on_click(self._on_start)
        self.params_form.observe(lambda c: setattr(self.start_button, "disabled", not c["new"]), names="valid")
        self.start_button.disabled = not self.params_form.valid
        self.job_area = w.VBox([])
        title = getattr(algorithm, "title", None) or manifest.get("name")
        self.children = (
            w.HTML(f'<div class="gw-title">Train {esc(title)}</div>'
                   f'<div class="gw-muted">Fields marked * are required. Outputs: '
                   f'{esc(", ".join(outputs)) or "none declared"}.</div>'),
            self.params_form,
            w.HBox([self.output_dir, self.output_state]),
            self.start_button,
            self.messages,
            self.job_area,
        )
        self.add_class("gw-train-form")
        self._check_output()

    def _check_output(self) -> None:
        text = self.output_dir.value.strip()
        if not text:
            note, colour = "a new folder will be made for this job", "#656d76"
        else:
            path = Path(text).expanduser()
            if path.is_dir():
                note, colour = "✓ folder exists; the outputs are written into it", "#1b5e20"
            elif path.exists():
                note, colour = "✗ this is a file, not a folder", "#8a1c1c"
            else:
                note, colour = "the folder will be created", "#656d76"
        self.output_state.value = f'<span style="color:{colour};font-size:12px">{esc(note)}</span>'

    @shows_errors
    def _on_start(self, _button=None):
        self.messages.clear()
        if not self.params_form.check_all():
            self.messages.error("Fix the fields marked in red first.")
            return None
        out = self.output_dir.value.strip()
        if out and Path(out).expanduser().exists() and not Path(out).expanduser().is_dir():
            self.messages.error(f"output folder {out!r} is a file; name a folder (it is created when missing).")
            return None
        self.job = self.algorithm.train(self.params_form.params(), self.params_form.inputs(), out or None)
        if self.job_view is not None:
            self.job_view.close()
        self.job_view = JobView(self.job)
        self.job_area.children = (self.job_view,)
        self.messages.ok(f"Started job {self.job.id}.")
        return self.job


class WorkflowConfig(w.VBox):
    """Configure an imported workflow before Run (the seed's "Configure"): for each step, the
    same controls as the Train form — its hyperparameters filled with the workflow's values, its
    inputs as path fields that may stay empty (then they stay wired to the previous step).

    ``WorkflowConfig(workflow, algorithms)``: ``algorithms`` maps step name → the step's
    algorithm (``workflow.step_algorithm(name)``). ``forms`` maps step name → its ParamsForm;
    ``params()`` / ``inputs()`` are what ``workflow.run(inputs=…, params=…)`` takes.
    """

    valid = Bool(True, help="True while every step's fields pass their checks")

    def __init__(self, workflow, algorithms: dict):
        super().__init__()
        self.workflow = workflow
        self.forms: dict[str, ParamsForm] = {}
        parts = [w.HTML('<div class="gw-title">Configure the steps</div>'
                        '<div class="gw-muted">Each step starts with the workflow\'s values; an empty input stays '
                        "wired to the step before it.</div>")]
        for step in workflow.steps:
            name = step["name"]
            form = ParamsForm(algorithms[name].manifest, params=step.get("params") or {}, optional_inputs=True)
            form.add_class(f"gw-config-step-{name}")
            form.observe(lambda _c: self._revalidate(), names="valid")
            self.forms[name] = form
            parts += [w.HTML(f'<div class="gw-section"><b>{esc(name)}</b> '
                             f'<span class="gw-muted">{esc(algorithms[name].title)} {esc(algorithms[name].version)}'
                             "</span></div>"), form]
        self.children = tuple(parts)
        self.add_class("gw-workflow-config")
        self._revalidate()

    def _revalidate(self) -> None:
        self.valid = all(f.valid for f in self.forms.values())

    def check_all(self) -> bool:
        return all([f.check_all() for f in self.forms.values()])

    def params(self) -> dict:
        """Per step, the hyperparameters that differ from the workflow's own."""
        changed = {}
        for step in self.workflow.steps:
            form = self.forms[step["name"]]
            defaults = {p["name"]: p.get("default") for p in form.manifest.get("hyperparameters", [])}
            own = {**defaults, **(step.get("params") or {})}
            values = {k: v for k, v in form.params().items() if own.get(k) != v}
            if values:
                changed[step["name"]] = values
        return changed

    def inputs(self) -> dict:
        return {name: form.inputs() for name, form in self.forms.items() if form.inputs()}
