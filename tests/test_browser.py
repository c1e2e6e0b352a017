"""The widgets in a real browser: JupyterLab on loopback, driven in Debian's Chromium by Playwright.

Each test opens an example notebook over a gallery holding the demo catalogue, runs every cell
and checks that the widgets render and respond. Screenshots go to tests/artifacts/ (look at
them: they are how layout problems are caught).

Without /usr/bin/chromium (``apt-get install -y chromium``) or the playwright package these
tests skip, unless GALLERY_REQUIRE_BROWSER=1 (CI sets it), which makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

import gallery_widgets as gw
from gallery_widgets import demo

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parent.parent
NOTEBOOKS = ROOT / "notebooks"

def _artifacts() -> Path:
    """tests/artifacts/, or tests/artifacts/ipykernel6/ for the run pinned to ipykernel 6 (.ci/run)."""
    import ipykernel

    base = Path(__file__).parent / "artifacts"
    return base if ipykernel.version_info[0] >= 7 else base / f"ipykernel{ipykernel.version_info[0]}"


ARTIFACTS = _artifacts()
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "gallery-widgets-browser-test"
USER = demo.DEMO_USER
TIMEOUT_MS = 90_000


def _unavailable(reason: str):
    if os.environ.get("GALLERY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} — GALLERY_REQUIRE_BROWSER=1 requires the browser tests to run", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright_api():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium); "
                     "never `playwright install`")
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    return sync_api


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def lab(playwright_api, tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a private HOME, over a gallery holding the demo; yields its base URL."""
    base = tmp_path_factory.mktemp("lab")
    home, root, gallery_home = base / "home", base / "notebooks", base / "gallery"
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    _write_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    # Every cell stays in the DOM (no virtual scrolling), so the test can count and find them.
    _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns("*.py", ".ipynb_checkpoints"))
    catalogue = demo.load_demo(home=gallery_home)

    port = _free_port()
    env = {**os.environ, "HOME": str(home), "GALLERY_HOME": str(gallery_home), "GALLERY_USER": USER,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "GALLERY_ARTIFACTS", "JUPYTERLAB_WORKSPACES_DIR"):
        env.pop(name, None)
    command = [
        str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = base / "jupyter.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 90 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"url": url, "root": root, "gallery_home": gallery_home, "ids": catalogue["assets"], "log": log_path,
               "home": home}
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started (its own group)
        except ProcessLookupError:
            pass
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


@pytest.fixture(scope="module")
def browser(playwright_api, lab):
    playwright = playwright_api.sync_playwright().start()
    instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
    playwright_api.expect.set_options(timeout=TIMEOUT_MS)
    try:
        yield instance
    finally:
        instance.close()
        playwright.stop()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1400}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.page_errors = []
    page.on("pageerror", lambda error: page.page_errors.append(str(error)))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield page
    context.close()


def _gallery(lab, user=USER):
    return gw.open(f"sqlite:///{lab['gallery_home'] / 'gallery.db'}", user=user,
                   artifacts=lab["gallery_home"] / "artifacts")


def _cell_index(notebook: str, snippet: str) -> int:
    cells = nbformat.read(NOTEBOOKS / notebook, as_version=4).cells
    return next(i for i, c in enumerate(cells) if snippet in c.source)


CELL_STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model) { return null; }
  const cells = panel.content.model.cells;
  const state = {code: 0, done: 0, errors: []};
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') { continue; }
    state.code += 1;
    if (cell.executionCount) { state.done += 1; }
    for (const output of cell.outputs.toJSON()) {
      if (output.output_type === 'error') { state.errors.push(`cell ${i}: ${output.ename}: ${output.evalue}`); }
    }
  }
  return state;
}"""


def open_and_run(page, lab, notebook: str, expect) -> dict:
    """Open ``notebook`` in its own workspace, wait until it is really loaded, run all cells, wait for the end."""
    cells = nbformat.read(NOTEBOOKS / notebook, as_version=4).cells
    workspace = re.sub(r"\W", "", Path(notebook).stem)
    page.goto(f"{lab['url']}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={TOKEN}")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel.locator(".jp-Cell")).to_have_count(len(cells))
    expect(page.get_by_role("button", name=re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_be_visible()
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    code_cells = sum(c.cell_type == "code" for c in cells)
    deadline = time.monotonic() + 240
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(CELL_STATE_JS)
        if state and state["done"] == code_cells:
            break
        page.wait_for_timeout(500)
    assert state and state["done"] == code_cells, f"not every cell ran: {state}"
    assert not state["errors"], state["errors"]
    expect(page.get_by_role("button", name=re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_be_visible()
    return state


def assert_widgets_rendered(page, expect) -> None:
    expect(page.get_by_text("Loading widget")).to_have_count(0)
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)
    expect(page.get_by_text("Traceback (most recent call last)")).to_have_count(0)


def cell(page, notebook: str, snippet: str):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").nth(_cell_index(notebook, snippet))


def shoot(page, locator, name: str) -> None:
    """Screenshot one widget whole: the viewport grows first when the widget is taller than it
    (JupyterLab scrolls inside its own panel, so full-page screenshots miss content)."""
    box = locator.bounding_box()
    needed = int(box["height"]) + 260 if box else 0
    if needed > page.viewport_size["height"]:
        page.set_viewport_size({"width": page.viewport_size["width"], "height": needed})
        page.wait_for_timeout(300)
    locator.evaluate("element => element.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(100)
    locator.screenshot(path=str(ARTIFACTS / name))


def test_browse_search_open_and_subscribe_in_the_browser(page, lab, playwright_api):
    """01-browse-and-subscribe: the market renders, search narrows the cards, a card opens its details and
    Subscribe → accept → Continue ends at Subscribed."""
    expect = playwright_api.expect
    notebook = "01-browse-and-subscribe.ipynb"
    open_and_run(page, lab, notebook, expect)
    assert_widgets_rendered(page, expect)
    page.screenshot(path=str(ARTIFACTS / "01-notebook-viewport.png"))

    # -- the market: all algorithms, then a keyword ----------------------------------------------
    sam = _gallery(lab)
    market = cell(page, notebook, "gw.MarketBrowser(").locator(".gw-market")
    cards = market.locator(".gw-card")
    everything = sam.search(kind="algorithm", page_size=20)
    expect(cards).to_have_count(len(everything.items))
    expect(market.locator(".gw-pager-label")).to_contain_text(f"{everything.total} assets")
    expect(market.locator(".gw-badge-official").first).to_be_visible()
    shoot(page, market, "01-market.png")

    matches = sam.search(kind="algorithm", query="forecast")
    assert 0 < matches.total < everything.total
    search = market.locator(".gw-search input")
    search.fill("forecast")
    search.press("Enter")
    expect(cards).to_have_count(matches.total)
    titles = cards.locator(".gw-title").all_inner_texts()
    assert sorted(titles) == sorted(a.title for a in matches.items)
    shoot(page, market, "01-market-search.png")

    # -- a card opens the details in place; Back returns to the same results ----------------------
    cards.filter(has_text="Holt-Winters").locator(".gw-card-open").click()
    opened = market.locator(".gw-detail")
    expect(opened).to_be_visible()
    expect(opened.locator(".gw-detail-title")).to_contain_text("Holt-Winters demand forecaster")
    expect(opened.locator(".gw-description").first).to_contain_text("Holt-Winters exponential smoothing")
    shoot(page, market, "01-market-detail.png")
    market.locator(".gw-back").first.click()
    expect(cards).to_have_count(matches.total)

    # -- nothing found: the empty state ------------------------------------------------------------
    search.fill("no such asset anywhere")
    search.press("Enter")
    expect(market.locator(".gw-market-empty")).to_contain_text("No assets match")
    expect(cards).to_have_count(0)
    shoot(page, market, "01-market-empty.png")

    # -- the subscribe flow on the z-score detector's page ------------------------------------------
    zscore = lab["ids"]["zscore"]
    assert zscore not in {s.content_id for s in sam.subscriptions()}
    detail = cell(page, notebook, 'gw.AssetDetail(g, ids["zscore"])').locator(".gw-detail")
    expect(detail.locator(".gw-detail-title")).to_contain_text("Rolling z-score anomaly detector")
    subscribe = detail.locator(".gw-subscribe")
    expect(subscribe).to_have_text(re.compile(r"^\s*Subscribe\s*$"))
    shoot(page, detail, "01-detail.png")
    subscribe.click()
    panel = detail.locator(".gw-subscribe-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Service Agreement")
    detail.locator(".gw-accept-constraints input[type=checkbox]").check()
    detail.locator(".gw-accept-agreements input[type=checkbox]").check()
    shoot(page, panel, "01-subscribe-panel.png")
    detail.locator(".gw-continue").click()
    expect(subscribe).to_have_text(re.compile(r"Subscribed"))
    expect(panel).to_be_hidden()
    expect(detail.locator(".gw-messages")).to_contain_text("Subscribed to Rolling z-score anomaly detector")
    shoot(page, detail, "01-subscribed.png")
    subscription = next(s for s in sam.subscriptions() if s.content_id == zscore)
    assert subscription.status == "active" and subscription.remaining_days == 14

    # -- the job view of the imported TF-IDF algorithm finished ----------------------------------------
    job = cell(page, notebook, "gw.JobView(job)").locator(".gw-job")
    expect(job).to_contain_text("Succeeded")
    shoot(page, job, "01-job.png")
    assert not page.page_errors, page.page_errors


def test_my_gallery_in_the_browser(page, lab, playwright_api):
    """04-my-gallery: My Publishes, My Subscriptions and My Information render with the demo's data."""
    expect = playwright_api.expect
    notebook = "04-my-gallery.ipynb"
    open_and_run(page, lab, notebook, expect)
    assert_widgets_rendered(page, expect)

    mine = cell(page, notebook, "gw.MyGallery(g)").locator(".gw-my-gallery")
    expect(mine).to_contain_text("Sam Rivera")
    expect(mine.locator(".gw-my-publishes")).to_contain_text("Feature scaler (pandas)")
    shoot(page, mine, "04-my-publishes.png")

    mine.locator(".gw-pubs-kind button").filter(has_text="Models").click()  # sam publishes no model
    expect(mine.locator(".gw-my-publishes")).not_to_contain_text("Feature scaler (pandas)")
    shoot(page, mine, "04-my-publishes-empty.png")

    tabs = mine.locator(".gw-my-tabs .lm-TabBar-tab")
    tabs.filter(has_text="My Subscriptions").click()
    subscriptions = mine.locator(".gw-sub-row")
    expect(subscriptions.first).to_be_visible()
    expect(mine).to_contain_text("Subscription canceled")
    expect(mine).to_contain_text("Holt-Winters demand forecaster")
    shoot(page, mine, "04-my-subscriptions.png")

    tabs.filter(has_text="My Information").click()
    expect(mine.locator(".gw-profile-nickname input")).to_have_value("Sam Rivera")
    expect(mine.locator(".gw-profile-account input")).to_be_disabled()
    shoot(page, mine, "04-my-information.png")

    table = cell(page, notebook, "gw.SubscriptionsTable(g").locator(".gw-sub-row")
    expect(table.first).to_be_visible()
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.screenshot(path=str(ARTIFACTS / "04-notebook-viewport.png"))
    assert not page.page_errors, page.page_errors


def test_publish_from_a_notebook_in_the_browser(page, lab, playwright_api):
    """02-publish-from-a-notebook: both training jobs succeed in their job views; the publish form renders."""
    expect = playwright_api.expect
    notebook = "02-publish-from-a-notebook.ipynb"
    open_and_run(page, lab, notebook, expect)
    assert_widgets_rendered(page, expect)
    for snippet, name in (("gw.JobView(job)", "02-job.png"), ("gw.JobView(omar_job)", "02-job-colleague.png")):
        job = cell(page, notebook, snippet).locator(".gw-job")
        expect(job).to_contain_text("Succeeded")
        expect(job.locator(".gw-job-metrics")).to_contain_text("accuracy")
        shoot(page, job, name)
    form = cell(page, notebook, "gw.PublishForm(g").locator(".gw-publish-form")
    expect(form.locator(".gw-publish-button")).to_be_visible()
    shoot(page, form, "02-publish-form.png")
    assert not page.page_errors, page.page_errors


def test_import_and_run_a_workflow_in_the_browser(page, lab, playwright_api):
    """03-import-and-run-a-workflow: the run view ends with both steps succeeded; the Import Workflow dialog
    imports the workflow into the kernel and runs it."""
    expect = playwright_api.expect
    notebook = "03-import-and-run-a-workflow.ipynb"
    open_and_run(page, lab, notebook, expect)
    assert_widgets_rendered(page, expect)
    run = cell(page, notebook, "gw.RunView(run)").locator(".gw-run")
    expect(run.locator(".gw-step")).to_have_count(2)
    expect(run).not_to_contain_text("Running", timeout=120_000)
    failed = run.locator(".gw-step-failed")
    assert failed.count() == 0, f"a step failed: {failed.first.inner_text()}"
    shoot(page, run, "03-run.png")

    dialog = cell(page, notebook, "gw.ImportWorkflowDialog(").locator(".gw-import-workflow")
    expect(dialog.locator(".gw-import-asset select")).to_contain_text("Daily sales forecasting pipeline")
    dialog.locator(".gw-import-name input").fill("from_the_dialog")
    dialog.locator(".gw-import-name input").press("Tab")
    expect(dialog.locator(".gw-import-variable input")).to_have_value("from_the_dialog")
    shoot(page, dialog, "03-import-dialog.png")
    dialog.locator(".gw-import-button").click()
    expect(dialog.locator(".gw-messages")).to_contain_text("Imported as")
    assert "from_the_dialog" in {w.name for w in _gallery(lab).workflows()}
    dialog.locator(".gw-import-run").click()
    dialog_run = dialog.locator(".gw-run")
    expect(dialog_run.locator(".gw-step")).to_have_count(2)
    expect(dialog_run).not_to_contain_text("Running", timeout=120_000)
    failed = dialog_run.locator(".gw-step-failed")
    assert failed.count() == 0, f"a step failed: {failed.first.inner_text()}"
    shoot(page, dialog, "03-import-dialog-run.png")
    assert not page.page_errors, page.page_errors


def test_import_train_and_notifications_in_the_browser(page, lab, playwright_api):
    """05-import-train-notify (W1-W6): Import binds the algorithm in the kernel and its Train form runs a job
    whose view follows it live from the kernel loop; the Train form checks a field with the service's
    message; the Code tab downloads the archive; the market's bell counts the new-version notification
    and marks it read."""
    expect = playwright_api.expect
    notebook = "05-import-train-notify.ipynb"
    open_and_run(page, lab, notebook, expect)
    assert_widgets_rendered(page, expect)

    # -- Import from the asset's page, then train the imported object ----------------------------------
    detail = cell(page, notebook, 'gw.AssetDetail(g, ids["holt-winters"])').locator(".gw-detail")
    detail.locator(".gw-import").click()
    panel = detail.locator(".gw-import-panel")
    expect(panel).to_be_visible()
    panel.locator(".gw-import-variable input").fill("hw")
    panel.locator(".gw-import-variable input").press("Tab")
    panel.locator(".gw-import-show-code").click()
    expect(panel.locator(".gw-import-code textarea")).to_have_value(re.compile(r'^hw = g\.import_algorithm\('))
    panel.locator(".gw-import-into-kernel").click()
    expect(panel.locator(":scope > .gw-messages")).to_contain_text("Imported as `hw`")  # not the Train form's
    train = panel.locator(".gw-train-form")
    expect(train).to_be_visible()
    history = str(demo.dataset("sales"))
    train.locator(".gw-input-history input").fill(history)
    train.locator(".gw-input-history input").press("Tab")
    expect(train.locator(".gw-path-state").first).to_contain_text("file exists")
    train.locator(".gw-train-start").click()
    job = train.locator(".gw-job")
    expect(job).to_contain_text("Succeeded", timeout=120_000)  # pushed by the kernel loop, no cell running
    expect(job.locator(".gw-job-metrics")).to_contain_text("mae")
    shoot(page, detail, "05-import-and-train.png")

    # -- the Code tab downloads the archive into the notebook's folder ----------------------------------
    detail.locator(".widget-tab .lm-TabBar-tab").filter(has_text="Code").click()
    detail.locator(".gw-code-download").click()
    expect(detail.locator(".gw-code-files")).to_contain_text("Saved")
    expect(detail.locator(".gw-code-files")).to_contain_text("train.py")
    assert list(lab["root"].glob("holt-winters-demand-forecaster-*.zip"))
    shoot(page, detail, "05-code-download.png")

    # -- the Train form checks each field with the service's message -----------------------------------
    form = cell(page, notebook, "gw.TrainForm(algo)").locator(".gw-train-form")
    alpha = form.locator(".gw-param-alpha input")
    alpha.fill("3")
    alpha.press("Tab")
    expect(form.locator(".gw-field-error")).to_contain_text("field 'alpha' must be between 0.01 and 1.0")
    expect(form.locator(".gw-train-start")).to_be_disabled()
    shoot(page, form, "05-train-form-error.png")
    alpha.fill("0.4")
    alpha.press("Tab")
    expect(form.locator(".gw-field-error")).to_have_count(0)
    expect(form.locator(".gw-train-start")).to_be_enabled()
    form.locator(".gw-train-start").click()
    expect(form.locator(".gw-job")).to_contain_text("Succeeded", timeout=120_000)
    shoot(page, form, "05-train-form-job.png")

    # -- the bell: the new version mei.chen published, then mark it read -----------------------------
    sam = _gallery(lab)
    unread = len(sam.notifications(unread_only=True))
    assert unread >= 1
    market = cell(page, notebook, "gw.MarketBrowser(g)").locator(".gw-market")
    bell = market.locator(".gw-bell")
    expect(bell).to_have_text(re.compile(rf"^\s*{unread}\s*$"))
    bell.click()
    notes = market.locator(".gw-note-unread")
    expect(notes.first).to_contain_text("New version")
    expect(notes.first).to_contain_text("Holt-Winters demand forecaster")
    shoot(page, market.locator(".gw-bell-area"), "05-bell-open.png")
    notes.first.locator(".gw-note-read").click()
    expect(notes).to_have_count(unread - 1)
    assert len(sam.notifications(unread_only=True)) == unread - 1
    expect(bell).to_have_text(re.compile(rf"^\s*{unread - 1 or ''}\s*$"))
    shoot(page, market, "05-market-bell.png")
    assert not page.page_errors, page.page_errors
