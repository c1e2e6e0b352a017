"""Following a training job or a workflow run live (SPEC §5: "a training job or workflow run
shows a progress bar and live logs").

``JobView(job)`` shows one job: status badge, progress bar, metrics table, the tail of its
logs and a Cancel button. Views follow their job from the kernel's event loop: one periodic
callback shared by every open JobView and RunView reads the jobs and redraws them on the
kernel thread (widgets are never touched from a worker thread; see kernel_loop.py). Without a
kernel loop (a plain script) ``update()`` and ``wait()`` redraw.

``RunView(run)`` shows a workflow run: one row per step with its status, and the step's
``JobView`` as soon as the step has started; the failed step is highlighted.

Neither view holds business rules: they read the job / run and render it.
"""

from __future__ import annotations

import ipywidgets as w
from traitlets import Bool, Int, Unicode

from .common import Messages, esc, in_background, log, shows_errors, style
from .kernel_loop import FOLLOW_INTERVAL, KernelLoop, follow

JOB_FINAL = frozenset({"succeeded", "failed", "cancelled"})
STEP_FINAL = frozenset({"succeeded", "failed", "cancelled", "skipped"})

_STATUS_COLOURS = {
    "queued": ("#eceff1", "#37474f"),
    "pending": ("#eceff1", "#37474f"),
    "running": ("#e3f2fd", "#0d47a1"),
    "succeeded": ("#e8f5e9", "#1b5e20"),
    "failed": ("#fdecea", "#8a1c1c"),
    "cancelled": ("#fff3e0", "#b45309"),
    "skipped": ("#f3f4f6", "#6b7280"),
}
_BAR_STYLES = {"running": "info", "succeeded": "success", "failed": "danger", "cancelled": "warning"}

GAP_STYLE = """
<style>
.gw-gap-4 { gap: 4px; } .gw-gap-6 { gap: 6px; } .gw-gap-8 { gap: 8px; } .gw-gap-10 { gap: 10px; }
.gw-gap-12 { gap: 12px; } .gw-gap-14 { gap: 14px; }
</style>
"""


JOB_STYLE = """
<style>
.gw-job { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 10px; padding: 8px 12px; }
.gw-job-logs textarea { font-family: var(--jp-code-font-family, monospace); font-size: 12px; background: #0f172a0d;
                        color: #1f2328; -webkit-text-fill-color: #1f2328; opacity: 1; }
.gw-metrics { width: auto; min-width: 260px; }
.gw-metrics td:first-child, .gw-metrics th:first-child { padding-right: 32px; }
.gw-step .gw-job { border: none; padding: 4px 0 0 0; }
.gw-step { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 8px; padding: 6px 10px; margin: 4px 0; }
.gw-step-failed { border-color: #d32f2f; background: #fff5f5; }
.gw-step-error { color: #8a1c1c; font-size: 12px; white-space: pre-wrap; }
.gw-spinner { display: inline-block; width: 12px; height: 12px; border: 2px solid #90caf9; border-top-color: #1565c0;
              border-radius: 50%; animation: gw-spin .8s linear infinite; vertical-align: middle; margin-right: 6px; }
@keyframes gw-spin { to { transform: rotate(360deg); } }
</style>
""" + GAP_STYLE


def hbox(children, gap: int = 8, **layout) -> w.HBox:
    """A row whose children are ``gap`` px apart (ipywidgets' Layout has no ``gap``; a class does it)."""
    box = w.HBox(list(children), layout=w.Layout(**layout))
    box.add_class(f"gw-gap-{gap}")
    return box


def status_badge(status: str | None) -> str:
    """A coloured pill for a job, step or run status."""
    status = status or "unknown"
    background, colour = _STATUS_COLOURS.get(status, ("#eceff1", "#37474f"))
    spinner = '<span class="gw-spinner"></span>' if status == "running" else ""
    return (
        f'<span class="gw-badge gw-status-{esc(status)}" style="background:{background};color:{colour}">'
        f"{spinner}{esc(status.capitalize())}</span>"
    )


def metrics_table(metrics: dict) -> str:
    if not metrics:
        return '<div class="gw-muted">No metrics reported yet.</div>'
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{esc(_number(value))}</td></tr>" for name, value in sorted(metrics.items())
    )
    return f'<table class="gw-table gw-metrics"><tr><th>Metric</th><th>Value</th></tr>{rows}</table>'


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class JobView(w.VBox):
    """A training job, live: status, progress, metrics, logs tail and Cancel (SPEC U2)."""

    job_status = Unicode(None, allow_none=True,
                         help="The job's status as last read (queued, running, succeeded, failed, cancelled)")
    closed = Bool(False, help="True once close() was called: the shared follower drops the view")

    def __init__(self, job, *, tail_lines: int = 200, poll_interval: float = FOLLOW_INTERVAL,
                 title: str | None = None):
        super().__init__()
        self.kernel = KernelLoop.here()
        self.job = job
        self.tail_lines = tail_lines
        self.poll_interval = poll_interval
        self.messages = Messages()
        self.header = w.HTML()
        self.status = w.HTML()
        self.progress = w.FloatProgress(min=0.0, max=1.0, value=0.0, layout=w.Layout(width="260px"))
        self.progress.add_class("gw-job-progress")
        self.progress_label = w.HTML()
        self.metrics = w.HTML()
        self.metrics.add_class("gw-job-metrics")
        self.logs = w.Textarea(
            value="", disabled=True, placeholder="No output yet.",
            layout=w.Layout(width="100%", height="68px"),
        )
        self.logs.add_class("gw-job-logs")
        self.error = w.HTML()
        self.cancel_button = w.Button(description="Cancel job", icon="stop", button_style="danger",
                                      tooltip="Stop this job")
        self.cancel_button.add_class("gw-job-cancel")
        self.cancel_button.on_click(self._on_cancel)
        self._title = title
        self._cancel_thread = None

        self.children = [
            style(),
            w.HTML(JOB_STYLE),
            hbox([self.header, self.status], gap=8, align_items="center"),
            hbox([self.progress, self.progress_label, self.cancel_button], gap=10, align_items="center"),
            self.error,
            self.metrics,
            self.logs,
            self.messages,
        ]
        self.add_class("gw-root")
        self.add_class("gw-job")
        self.update()
        self.follower = None if self.finished else follow(self, self.kernel)

    # -- state ---------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.job_status in JOB_FINAL

    def update(self, *_):
        """Read the job once and render it (on the kernel thread: the shared follower calls it)."""
        if not self.kernel.on_kernel_thread:  # never touch a widget from another thread
            self.kernel.call(self.update)
            return
        try:
            status = self.job.status
            progress = self.job.progress
            metrics = dict(self.job.metrics or {})
            logs = self.job.tail(self.tail_lines) if hasattr(self.job, "tail") else (self.job.logs or "")
            error = self.job.error
        except Exception as exc:  # noqa: BLE001 - a job folder read mid-write must not break the view
            log.debug("could not read job %r: %s", getattr(self.job, "id", "?"), exc)
            return
        self.job_status = status
        name = self._title or getattr(self.job, "name", "job")
        self.header.value = (
            f'<span class="gw-title">{esc(name)}</span> '
            f'<span class="gw-muted">job {esc(getattr(self.job, "id", ""))}</span>'
        )
        self.status.value = status_badge(status)
        if status == "succeeded":
            value = 1.0
        else:
            value = min(max(float(progress), 0.0), 1.0) if progress is not None else 0.0
        self.progress.value = value
        self.progress.bar_style = _BAR_STYLES.get(status, "")
        if progress is not None or status == "succeeded":
            self.progress_label.value = f'<span class="gw-muted">{value:.0%}</span>'
        elif status in ("queued", "running"):
            self.progress_label.value = f'<span class="gw-muted">{esc(status)}…</span>'
        else:
            self.progress_label.value = ""
        self.metrics.value = metrics_table(metrics)
        if logs != self.logs.value:
            self.logs.value = logs
            lines = min(12, max(3, logs.count("\n") + 1))
            self.logs.layout.height = f"{lines * 18 + 14}px"  # as tall as the output, up to 12 lines
        self.error.value = (
            f'<div class="gw-error">{esc(error)}</div>' if error and status in ("failed", "cancelled") else ""
        )
        self.cancel_button.disabled = status in JOB_FINAL
        self.cancel_button.layout.display = "none" if status in JOB_FINAL else ""

    def wait(self, timeout: float | None = None) -> JobView:
        """Block until the job has finished and the view shows it (for tests and scripts)."""
        self.job.wait(timeout)
        self.update()
        return self

    # -- actions ----------------------------------------------------------------------
    @shows_errors
    def _on_cancel(self, _=None):
        self.messages.clear()
        self.cancel_button.disabled = True
        self.cancel_button.description = "Cancelling…"

        def done(_):
            self.cancel_button.description = "Cancel job"
            self.update()

        def failed(exc):
            self.cancel_button.description = "Cancel job"
            self.cancel_button.disabled = False
            self.messages.error(str(exc))

        self._cancel_thread = in_background(self.job.cancel, done, failed, self.kernel)

    def close(self):
        self.closed = True
        super().close()


class StepRow(w.VBox):
    """One step of a run: name, status, error, and its JobView once the step started."""

    def __init__(self, name: str, *, tail_lines: int = 100):
        super().__init__()
        self.name = name
        self.tail_lines = tail_lines
        self.status = w.HTML()
        self.error = w.HTML()
        self.job_view: JobView | None = None
        self._job = None
        self.job_area = w.VBox()
        self.step_status: str | None = None
        self.children = [
            hbox([w.HTML(f'<span class="gw-title">{esc(name)}</span>'), self.status], gap=8,
                 align_items="center"),
            self.error,
            self.job_area,
        ]
        self.add_class("gw-step")

    def render(self, step) -> None:
        self.step_status = step.status
        self.status.value = status_badge(step.status)
        self.error.value = f'<div class="gw-step-error">{esc(step.error)}</div>' if step.error else ""
        if step.status == "failed":
            self.add_class("gw-step-failed")
        else:
            self.remove_class("gw-step-failed")
        if step.job is not None and step.job is not self._job:
            self._job = step.job
            self.job_view = JobView(step.job, tail_lines=self.tail_lines, title=f"{self.name}: {step.job.name}")
            self.job_area.children = [self.job_view]


class RunView(w.VBox):
    """A workflow run, live: overall status and progress, one row per step (SPEC U3)."""

    run_status = Unicode(None, allow_none=True, help="The run's status as last read")
    steps_done = Int(0, help="How many steps have finished (succeeded, failed, cancelled or skipped)")
    closed = Bool(False, help="True once close() was called: the shared follower drops the view")

    def __init__(self, run, *, poll_interval: float = FOLLOW_INTERVAL):
        super().__init__()
        self.kernel = KernelLoop.here()
        self.run = run
        self.poll_interval = poll_interval
        self.messages = Messages()
        self.header = w.HTML()
        self.status = w.HTML()
        self.progress = w.IntProgress(min=0, max=max(1, len(run.steps)), value=0, layout=w.Layout(width="260px"))
        self.progress.add_class("gw-run-progress")
        self.progress_label = w.HTML()
        self.cancel_button = w.Button(description="Cancel run", icon="stop", button_style="danger")
        self.cancel_button.add_class("gw-run-cancel")
        self.cancel_button.on_click(self._on_cancel)
        self.rows: dict[str, StepRow] = {name: StepRow(name) for name in run.steps}
        self._cancel_thread = None
        self.children = [
            style(),
            w.HTML(JOB_STYLE),
            hbox([self.header, self.status], gap=8, align_items="center"),
            hbox([self.progress, self.progress_label, self.cancel_button], gap=10, align_items="center"),
            self.messages,
            w.VBox(list(self.rows.values())),
        ]
        self.add_class("gw-root")
        self.add_class("gw-run")
        self.update()
        self.follower = follow(self, self.kernel)

    @property
    def finished(self) -> bool:
        return self.run.status != "running" and not self._alive()

    def _alive(self) -> bool:
        thread = getattr(self.run, "_thread", None)
        return bool(thread is not None and thread.is_alive())

    def update(self, *_):
        """Read the run once and render it (on the kernel thread: the shared follower calls it)."""
        if not self.kernel.on_kernel_thread:  # never touch a widget from another thread
            self.kernel.call(self.update)
            return
        try:
            steps = dict(self.run.steps)
            status = self.run.status
            failed = self.run.failed_step
        except Exception as exc:  # noqa: BLE001 - keep the view alive
            log.debug("could not read run: %s", exc)
            return
        workflow = getattr(self.run, "workflow", None)
        name = getattr(workflow, "name", "workflow")
        title = getattr(workflow, "title", "")
        self.header.value = (
            f'<span class="gw-title">Run of {esc(name)}</span> '
            + (f'<span class="gw-muted">{esc(title)} {esc(getattr(workflow, "version", ""))}</span>' if title else "")
        )
        self.status.value = status_badge(status)
        self.run_status = status
        done = sum(1 for step in steps.values() if step.status in STEP_FINAL)
        self.progress.max = max(1, len(steps))
        self.progress.value = done
        self.steps_done = done
        self.progress.bar_style = _BAR_STYLES.get(status, "")
        self.progress_label.value = f'<span class="gw-muted">{done} of {len(steps)} steps done</span>'
        for step_name, step in steps.items():
            row = self.rows.get(step_name)
            if row is not None:
                row.render(step)
        if failed:
            self.messages.error(f"Step {failed!r} failed: {steps[failed].error or 'see its logs below'}.")
        self.cancel_button.layout.display = "none" if status != "running" else ""

    def wait(self, timeout: float | None = None) -> RunView:
        """Block until the run has finished and the view shows it (for tests and scripts)."""
        self.run.wait(timeout)
        self.update()
        for row in self.rows.values():
            if row.job_view is not None:
                row.job_view.update()
        return self

    @shows_errors
    def _on_cancel(self, _=None):
        self.cancel_button.disabled = True
        self.cancel_button.description = "Cancelling…"

        def done(_):
            self.cancel_button.description = "Cancel run"
            self.update()

        def failed(exc):
            self.cancel_button.disabled = False
            self.cancel_button.description = "Cancel run"
            self.messages.error(str(exc))

        self._cancel_thread = in_background(self.run.cancel, done, failed, self.kernel)

    def close(self):
        self.closed = True
        for row in self.rows.values():
            if row.job_view is not None:
                row.job_view.close()
        super().close()
