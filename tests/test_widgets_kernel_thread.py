"""Rule W1: widgets change only on the kernel thread. Long work runs on a worker thread and hands
its result back to the kernel's event loop; JobView / RunView follow their jobs through one
periodic callback on that loop, shared by every view.

The kernel's loop is a real asyncio loop on the test's main thread (KernelHarness); ThreadGuard
records every widget trait change made on any other thread, and each test asserts there were none.
"""

from __future__ import annotations

import threading

import pytest
from conftest import write_algorithm
from kernel_harness import KernelHarness, ThreadGuard

import gallery_widgets as gw
from gallery_widgets.widgets.kernel_loop import follower_for

WAIT = 120

TRAIN_OK = """\
from gallery_widgets.kernel.runtime.report import report

def main(params, inputs, outputs):
    print("epoch 1 of", params["epochs"], flush=True)
    report(progress=0.5, accuracy=0.9)
    print("epoch 2 of", params["epochs"], flush=True)
    return {"loss": 0.25}
"""

TRAIN_SLOW = """\
import time

def main(params, inputs, outputs):
    print("sleeping", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def kernel():
    harness = KernelHarness()
    with ThreadGuard() as guard:
        harness.guard = guard
        yield harness
    harness.close()
    assert guard.off_thread == [], f"widgets changed off the kernel thread: {guard.off_thread[:5]}"


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1\n2\n3\n")
    return path


class FakeJob:
    """A job whose state the test sets (the view only reads status, progress, metrics, logs)."""

    def __init__(self, name="fake"):
        self.id, self.name = f"job-{name}", name
        self.status, self.progress, self.metrics, self.logs, self.error = "queued", None, {}, "", None

    def tail(self, n=20):
        return "\n".join(self.logs.splitlines()[-n:])

    def wait(self, timeout=None):
        return self

    def cancel(self):
        self.status, self.error = "cancelled", "cancelled by the user"
        return self


def test_w1_job_view_follows_a_real_job_on_the_kernel_loop(kernel, tmp_path, data):
    from gallery_widgets.widgets.jobs import JobView

    algo = gw.Algorithm.from_dir(write_algorithm(tmp_path / "job", "job-algo", extra_files={"train.py": TRAIN_OK}))
    seen_on = set()

    def build():
        job = algo.train({"epochs": 2}, {"data": data}, jobs_root=tmp_path / "jobs")
        view = JobView(job, poll_interval=0.05)
        view.observe(lambda _c: seen_on.add(threading.current_thread().name), names="job_status")
        return view

    view = kernel.run(build)
    assert "job-algo" in view.header.value
    # nobody calls update(): the shared follower on the kernel loop redraws the view
    assert kernel.until(lambda: view.finished, WAIT)
    assert "Succeeded" in view.status.value
    assert "loss" in view.metrics.value and "epoch 2 of 2" in view.logs.value
    assert view.cancel_button.disabled is True
    assert seen_on == {threading.main_thread().name}


def test_w1_job_view_cancel_hands_back_to_the_kernel(kernel, tmp_path, data):
    from gallery_widgets.widgets.jobs import JobView

    algo = gw.Algorithm.from_dir(write_algorithm(tmp_path / "slow", "slow-algo", extra_files={"train.py": TRAIN_SLOW}))
    job = algo.train({"epochs": 1}, {"data": data}, jobs_root=tmp_path / "jobs")
    view = kernel.run(JobView, job, poll_interval=0.05)
    assert kernel.until(lambda: "sleeping" in job.logs, WAIT)
    kernel.run(view.cancel_button.click)  # returns at once; the job stops on a worker thread
    assert view.cancel_button.disabled is True
    assert kernel.until(lambda: view.finished and view.cancel_button.description == "Cancel job", WAIT)
    assert job.status == "cancelled"
    assert "Cancelled" in view.status.value and view.progress.bar_style == "warning"


def test_w1_one_shared_follower_for_every_view_and_no_threads(kernel):
    from gallery_widgets.widgets.jobs import JobView

    jobs = [FakeJob(f"j{i}") for i in range(5)]
    before = threading.active_count()
    views = kernel.run(lambda: [JobView(job, poll_interval=0.01) for job in jobs])
    assert threading.active_count() == before  # no polling thread per view
    follower = follower_for(kernel.loop)
    assert follower is not None and set(follower.views) == set(views)
    for job in jobs:
        job.status, job.progress, job.logs, job.metrics = "running", 0.4, "line 1\nline 2", {"loss": 0.3}
    assert kernel.until(lambda: all(v.progress.value == 0.4 for v in views), 10)
    assert all("40%" in v.progress_label.value and "line 2" in v.logs.value for v in views)
    for job in jobs:
        job.status, job.progress = "succeeded", 1.0
    assert kernel.until(lambda: all(v.finished for v in views), 10)
    ticks = follower.ticks
    assert kernel.until(lambda: follower.handle is None, 10)  # it stops once every view has finished
    assert len(follower.views) == 0
    kernel.until(lambda: False, 0.1)
    assert follower.ticks == ticks or follower.ticks == ticks + 1


def test_w1_views_added_during_a_refresh_do_not_multiply_the_refreshes(kernel):
    """A RunView starts a JobView for each step from inside a refresh; each such start must
    join the one periodic callback, not start another chain of it (which doubled the refreshes
    per step and starved the kernel loop)."""
    from gallery_widgets.widgets.kernel_loop import KernelLoop, follow

    here = kernel.run(KernelLoop.here)  # the kernel loop, captured on its thread as a view does

    class Quiet:  # a view that never finishes and does nothing
        poll_interval, finished, closed = 0.05, False, False

        def update(self):
            pass

    class Spawner(Quiet):
        def __init__(self):
            self.children = []

        def update(self):
            if len(self.children) < 6:
                self.children.append(Quiet())
                follow(self.children[-1], here)

    spawner = kernel.run(Spawner)
    kernel.run(follow, spawner, here)
    assert kernel.until(lambda: len(spawner.children) == 6, 10)
    follower = follower_for(kernel.loop)
    start = follower.ticks
    kernel.until(lambda: False, 1.0)
    # one chain ticks at most 1.0 / 0.05 = 20 times in a second; six doublings would be ~1,280
    assert follower.ticks - start <= 25
    for view in [spawner, *spawner.children]:
        view.closed = True


def test_w1_closed_view_is_dropped_by_the_follower(kernel):
    from gallery_widgets.widgets.jobs import JobView

    job = FakeJob()
    view = kernel.run(JobView, job, poll_interval=0.01)
    follower = follower_for(kernel.loop)
    kernel.run(view.close)
    assert kernel.until(lambda: view not in set(follower.views), 10)


def test_w1_update_from_a_worker_thread_is_handed_to_the_loop(kernel):
    from gallery_widgets.widgets.jobs import JobView

    job = FakeJob()
    view = kernel.run(JobView, job, poll_interval=30)  # the follower will not tick during the test
    job.status = "running"
    worker = threading.Thread(target=view.update)
    worker.start()
    worker.join()
    assert view.job_status == "queued"  # nothing changed on the worker
    assert kernel.until(lambda: view.job_status == "running", 10)


def test_w1_publish_form_publishes_on_a_worker_and_shows_it_on_the_kernel(kernel, admin, open_as, tmp_path,
                                                                          monkeypatch):
    from gallery_widgets.widgets.publish import PublishForm

    alice = open_as("alice")
    source = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "churn", "churn-forecaster"))
    release, started = threading.Event(), threading.Event()
    real_publish = alice.publish

    def slow_publish(*args, **kwargs):
        started.set()
        assert release.wait(WAIT)
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(alice, "publish", slow_publish)
    form = kernel.run(PublishForm, alice, source=source, namespace={})
    form.agree.value = True
    kernel.run(form.publish_button.click)  # returns at once: the kernel is not blocked
    assert started.wait(WAIT)
    assert form.busy and form.publish_button.disabled is True and form.progress.layout.display == ""
    kernel.run(form.publish_button.click)  # a second click while busy does nothing
    release.set()
    assert kernel.until(lambda: not form.busy, WAIT)
    assert form.result is not None and form.progress.layout.display == "none"
    assert form.publish_button.disabled is False
    assert len(alice.publishes()) == 1


def test_w1_without_a_kernel_loop_work_runs_synchronously():
    from gallery_widgets.widgets.common import in_background

    seen = []
    task = in_background(lambda: threading.current_thread(), seen.append, seen.append)
    assert seen == [threading.current_thread()]  # done before in_background returned, on this thread
    assert task.join(0) is True and not task.is_alive()


def test_w1_thread_guard_catches_a_change_made_off_the_kernel_thread():
    import ipywidgets

    label = ipywidgets.HTML()
    with ThreadGuard() as guard:
        worker = threading.Thread(target=lambda: setattr(label, "value", "from a worker"), name="worker")
        worker.start()
        worker.join()
    assert ("HTML", "value", "worker") in guard.off_thread


def test_w1_detail_import_code_and_download_change_widgets_only_on_the_kernel(kernel, admin, open_as, publish,
                                                                             make_source, tmp_path):
    from gallery_widgets.widgets.detail import TAB_NAMES, AssetDetail

    alice, bob = open_as("alice"), open_as("bob")
    asset = publish(alice, "Churn forecaster", source=make_source("churn"))
    alice.edit_asset(asset.content_id, code_open=True)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    namespace = {}
    detail = kernel.run(AssetDetail, bob, content_id=asset.content_id, namespace=namespace)
    kernel.run(setattr, detail.tabs, "selected_index", TAB_NAMES.index("Code"))  # loads the code on a worker
    assert kernel.until(lambda: "def main" in detail.code_tab.code_preview.value, WAIT)
    detail.code_tab.download_dir = tmp_path
    kernel.run(detail.code_tab.download_button.click)
    assert kernel.until(lambda: detail.code_tab.downloaded is not None, WAIT)
    kernel.run(detail.import_button.click)
    panel = detail.import_panel
    # Read on the kernel thread as the click returns: the import runs on a worker, and its
    # result can only come back to the kernel loop after this callback (a cached artifact may
    # be imported before the test thread could look).
    assert kernel.run(lambda: (panel.import_button.click(), panel.import_state)[1]) == "importing"
    assert kernel.until(lambda: panel.import_state == "imported", WAIT), panel.messages.text
    assert namespace["churn_forecaster"] is panel.imported
