"""Writes the example notebooks 01-05 (without outputs): ``python notebooks/make_notebooks.py``.

Edit the cells here, not in the .ipynb files, so that the notebooks stay clean and
reviewable. Every notebook runs top to bottom on a fresh gallery: its first cell loads
the demo catalogue (``gallery_widgets.demo.load_demo()``, which adds nothing when the
demo is already there). ``00-quickstart.ipynb`` is written by hand.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent

SETUP = '''\
import os

import gallery_widgets as gw
from gallery_widgets import demo

catalogue = demo.load_demo()      # a first run fills the gallery with the demo; later runs add nothing
ids = catalogue["assets"]         # the demo's content ids, by key
g = gw.open(user=os.environ.get("GALLERY_USER", demo.DEMO_USER))
g'''

SETUP_NOTE = (
    "The first cell opens the embedded gallery (a SQLite file under `GALLERY_HOME`) and, on a first run, fills it "
    "with the demo catalogue — the same as `gallery-widgets demo` in a terminal. You act as `GALLERY_USER` "
    "(`bash .ci/lab` sets it to **sam**, the demo's data scientist), else as *sam*."
)


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    return new_code_cell(text.strip("\n"))


NOTEBOOKS = {
    "01-browse-and-subscribe": [
        md(f"""
# Browse the gallery and subscribe

Find assets in the market — from Python and with the `MarketBrowser` widget — open their details,
and subscribe to them.

{SETUP_NOTE}
"""),
        code(SETUP),
        md("""
## The market from Python

`g.search` returns one page of a market (one per kind: algorithms, models, workflows). A keyword matches the
title, summary, description and publisher; `sort="relevance"` ranks the best matches first.
"""),
        code('''
page = g.search(kind="algorithm", query="forecast", sort="relevance")
print(f"{page.total} algorithms match 'forecast':")
for asset in page.items:
    print(f"  {asset.title:<36} by {asset.publisher_nickname:<15} ☆ {asset.favorites:<3} ⬇ {asset.subscriptions}")
'''),
        code('''
featured = g.search(kind="model", tab="featured")
smart_home = g.search(kind="algorithm", categories=["Scenario/Smart Home"])
print("Featured models:", [a.title for a in featured.items])
print("Smart Home algorithms:", [a.title for a in smart_home.items])
'''),
        md("""
## The market widget

Kind tabs, the *All / Featured / Official / My Favorites* tabs, a category picker, the sort order and a search
box (type and press Enter). **Open** on a card shows the asset's details; *Back to market* returns to the same
page.
"""),
        code('''
market = gw.MarketBrowser(g, kind="algorithm")
market
'''),
        md("""
## One asset's details

The details page of the *Rolling z-score anomaly detector*: description, versions, restrictions (it is free
for 14 days per subscription), code and comments. Click **Subscribe**: the widget shows the version
constraints and, because the asset is not official, the two agreements; tick them and **Continue**.
"""),
        code('''
detail = gw.AssetDetail(g, ids["zscore"])
detail
'''),
        md("""
## Subscribing from Python

The same flow in code: without accepting the constraints and agreements, `subscribe` says what to accept
(`AgreementRequired.missing`). Subscribing again later returns the same subscription.
"""),
        code('''
tfidf = ids["tfidf"]
print(g.constraints(tfidf))
try:
    g.subscribe(tfidf)
except gw.AgreementRequired as error:
    print("Accept first:", error.missing)
subscription = g.subscribe(tfidf, accept_constraints=True, accept_agreements=True)
subscription
'''),
        code('''
asset = g.favorite(tfidf)
print(f"{asset.title}: {asset.favorites} favorites, {asset.subscriptions} subscriptions")
'''),
        md("""
## Use it right away

A subscribed algorithm is imported into the kernel and trains in a separate process; the job view follows
its progress and logs. The demo ships small sample datasets (`demo.dataset("reviews")`).
"""),
        code('''
keywords = g.import_algorithm(tfidf)
job = keywords.train({"top_k": 5}, {"data": demo.dataset("reviews")})
gw.JobView(job)
'''),
        code('''
job.wait(timeout=120)
print(job.status, job.metrics)
print(job.tail(3))
'''),
        md("## My subscriptions"),
        code('''
g.subscriptions().to_dataframe()[["title", "kind", "publisher", "status", "remaining_days"]]
'''),
    ],
    "02-publish-from-a-notebook": [
        md(f"""
# Publish an algorithm from a notebook

Self-service publishing: write the training function in a cell, turn it into an algorithm with
`gw.Algorithm.from_function`, try it locally, publish it, and let a colleague train it.

{SETUP_NOTE}
"""),
        code(SETUP),
        md("""
## The training code

An algorithm is a function `fn(params, inputs, outputs)`: `params` holds the hyperparameters, `inputs` and
`outputs` map names to paths. It may return a dict of metrics, and report progress with `gw.report`.
This one learns a *churn scorecard*: one threshold per feature, and a customer churns when enough rules agree.
"""),
        code('''
import csv
import json

FEATURES = ("tenure_months", "monthly_charges", "support_calls", "contract_monthly")


def best_threshold(values, labels):
    """The threshold and direction that best separate churners, and their accuracy."""
    best = (0.0, 0.0, 1)
    for threshold in sorted(set(values))[:-1]:  # a rule must be able to fire
        for direction in (1, -1):
            hits = sum((direction * (v - threshold) > 0) == bool(y) for v, y in zip(values, labels))
            best = max(best, (hits / len(values), threshold, direction))
    return best


def churn_scorecard(params, inputs, outputs):
    """Learns one threshold per feature; predicts churn when at least `min_votes` rules agree."""
    with open(inputs["data"], newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if all(r[f] for f in FEATURES)]
    labels = [int(r["churned"]) for r in rows]
    rules = {}
    for i, feature in enumerate(FEATURES):
        accuracy, threshold, direction = best_threshold([float(r[feature]) for r in rows], labels)
        rules[feature] = {"threshold": threshold, "direction": direction}
        print(f"{feature:>17}: churn when {'>' if direction > 0 else '<='} {threshold}  (accuracy {accuracy:.3f})")
        gw.report(progress=(i + 1) / len(FEATURES))
    votes = [sum(rule["direction"] * (float(r[f]) - rule["threshold"]) > 0 for f, rule in rules.items()) for r in rows]
    accuracy = sum((v >= params["min_votes"]) == bool(y) for v, y in zip(votes, labels)) / len(rows)
    (outputs["model"] / "scorecard.json").write_text(json.dumps(rules, indent=1))
    return {"accuracy": round(accuracy, 4), "rows": len(rows)}
'''),
        code('''
algorithm = gw.Algorithm.from_function(
    churn_scorecard,
    name="churn-scorecard",
    hyperparameters=[
        {"name": "min_votes", "type": "int", "default": 2, "range": [1, 4],
         "description": "rules that must say 'churn'"},
    ],
    inputs=[{"name": "data", "description": "a customers CSV with a 0/1 churned column"}],
    outputs=[{"name": "model", "description": "scorecard.json"}],
)
print(algorithm.files["train.py"].decode())   # the function, with the imports, constants and helpers it uses
'''),
        md("""
## Try it before publishing

`train()` validates the hyperparameters against the manifest, then runs the function in its own process — a
crash there never takes the kernel down. `gw.JobView` shows the progress bar, metrics and live logs.
"""),
        code('''
job = algorithm.train({"min_votes": 2}, {"data": demo.dataset("churn")})
gw.JobView(job)
'''),
        code('''
job.wait(timeout=120)
job.status, job.metrics
'''),
        md("""
## Publish it

The first run creates the asset (version 1.0.0); running the notebook again publishes the next version of it
(1.0.1, 1.0.2, …) — a new version must be greater than every existing one. Publishing is security-scanned.
"""),
        code('''
TITLE = "Churn scorecard (from a notebook)"
mine = {a.title: a for a in g.publishes("algorithm")}
if TITLE in mine:
    asset = g.add_version(mine[TITLE].content_id, algorithm, description="Published again from notebook 02.",
                          agree=True)
else:
    asset = g.publish(algorithm, title=TITLE, summary="One threshold per feature; churn when enough rules agree.",
                      visibility="public", categories=["Industry/Retail", "Special Subject/Getting Started"],
                      description="First version, published from notebook 02.", agree=True)
    asset = g.edit_asset(asset.content_id, code_open=True, license="MIT", description=(
        "## Churn scorecard\\n\\nLearns one **threshold per feature** and predicts churn when at least "
        "`min_votes` rules agree. Written in a notebook cell and published with `gw.Algorithm.from_function`."))
print(asset.title, asset.content_id, [v.version for v in asset.versions])
'''),
        md("""
The same with a form: pick the source (the form lists the `gw.Algorithm`, `gw.Model` and `gw.Workflow`
variables of this kernel, or loads a folder), choose *Create Asset* or *Add Asset Version*, set the visibility
and the free-duration limit, accept the agreement and **Publish**.
"""),
        code('''
gw.PublishForm(g, source=algorithm)
'''),
        md("""
## A colleague trains it

Omar subscribes (accepting the constraints and agreements), imports it into his kernel and trains it.
"""),
        code('''
omar = gw.open(user="omar")
omar.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
scorecard = omar.import_algorithm(asset.content_id)
print(scorecard, scorecard.hyperparameters)
omar_job = scorecard.train({"min_votes": 3}, {"data": demo.dataset("churn")})
gw.JobView(omar_job)
'''),
        code('''
omar_job.wait(timeout=120)
omar_job.status, omar_job.metrics
'''),
    ],
    "03-import-and-run-a-workflow": [
        md(f"""
# Import a workflow and run it

The *Daily sales forecasting pipeline* has two steps: **prep** cleans the daily sales and holds out the last
days, **train** fits a Holt-Winters model on prep's output and forecasts two weeks. Import it into a workspace
(with the dialog or from Python) and run it here.

{SETUP_NOTE}
"""),
        code(SETUP),
        md("""
## The workflow and its subscription

A workflow version names the exact algorithm versions of its steps. Import needs an active subscription;
subscribing again when you already are returns the same subscription.
"""),
        code('''
pipeline_id = ids["sales-pipeline"]
asset = g.asset(pipeline_id)
print(asset.title, "—", asset.summary)
for version in asset.versions:
    print(version.version, "steps:", ", ".join(version.dependencies))
g.subscribe(pipeline_id, accept_constraints=True, accept_agreements=True)
'''),
        md("""
## The Import Workflow dialog

Asset, version, workflow name, region and workspace, as in the gallery's *Import Workflow* dialog, plus the
name of the kernel variable that receives the workflow. **Import**, then **Run**.
"""),
        code('''
gw.ImportWorkflowDialog(g, content_id=pipeline_id)
'''),
        md("""
## The same from Python

An imported workflow is kept in its workspace (`g.workflows()` lists them), so this notebook reuses it when it
runs again.
"""),
        code('''
imported = {w.name: w for w in g.workflows()}
sales = imported.get("sales_forecast") or g.import_workflow(pipeline_id, name="sales_forecast")
print(sales)
for step in sales.steps:
    print(f"  {step['name']}: {step['algorithm']}  params={step['params']}")
'''),
        md("Run it: the steps start in dependency order, each as a training job; the run view follows them."),
        code('''
run = sales.run()
gw.RunView(run)
'''),
        code('''
run.wait(timeout=300)
print(run.status)
{name: job.metrics for name, job in run.jobs.items()}
'''),
        code('''
print((run.jobs["train"].outputs["model"] / "forecast.csv").read_text())
'''),
        md("""
## With your own data

The prep step reads the sample data that ships with the demo; give it yours instead:

```python
run = sales.run(inputs={"prep": {"raw": "my_daily_sales.csv"}})   # a CSV with a `sales` column
```
"""),
        md("""
## On a Dask cluster

The same run on a cluster: here a `LocalCluster` of two worker processes on this machine; on a team cluster pass
its `distributed.Client` or scheduler address instead (or set `GALLERY_DASK_SCHEDULER`). The workflow becomes one
Dask graph, each step still a job in its own process, and the run view follows it unchanged. Step inputs and
outputs must be paths every worker can reach (see the README).
"""),
        code('''
from distributed import Client, LocalCluster

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
client = Client(cluster)
cluster_run = sales.run(cluster=client)
gw.RunView(cluster_run)
'''),
        code('''
cluster_run.wait(timeout=300)
print(cluster_run.status)
{name: job.metrics for name, job in cluster_run.jobs.items()}
'''),
        code('''
client.close()
cluster.close()
'''),
    ],
    "04-my-gallery": [
        md(f"""
# My Gallery

What you publish, what you subscribed to, and your profile — in one widget, and from Python.

{SETUP_NOTE}
"""),
        code(SETUP),
        md("""
**My Publishes** lists your assets per kind with their status and counters, and Release / Discontinue / Delete.
**My Subscriptions** shows the remaining free quota, with Cancel / Retrieve / Import.
**My Information** edits your nickname, email, description and avatar (the account name cannot change).
"""),
        code('''
gw.MyGallery(g)
'''),
        md("## The same from Python"),
        code('''
import pandas as pd

pd.DataFrame([
    {"title": a.title, "kind": a.kind, "status": a.status, "visibility": a.visibility,
     "views": a.views, "favorites": a.favorites, "subscriptions": a.subscriptions}
    for a in g.publishes()
])
'''),
        code('''
g.subscriptions().to_dataframe()[["title", "kind", "publisher", "status", "remaining_days", "asset_status"]]
'''),
        md("""
A cancelled subscription stays listed as *Subscription canceled*; `g.retrieve_subscription(content_id)` makes it
active again under its original quota.
"""),
        code('''
[(s.title, s.status) for s in g.subscriptions(status="cancelled")]
'''),
        code('''
g.me
'''),
        md("Only your subscriptions of one kind, as a table of their own:"),
        code('''
gw.SubscriptionsTable(g, kind="model")
'''),
    ],
    "05-import-train-notify": [
        md(f"""
# Import, train and stay informed — all from the widgets

Import an algorithm straight into this kernel from its page, train it from a form generated from its
manifest, download its open code, and read the notifications the gallery keeps for you.

{SETUP_NOTE}
"""),
        code(SETUP),
        md("""
## Import from the asset's page

You subscribed to the *Holt-Winters demand forecaster*. **Import** on its page asks for a version and the name
of a kernel variable; the algorithm is then in that variable, ready to train (a form for that appears under
it). *Show code* gives the line of Python that does the same. The **Code** tab downloads the archive into this
notebook's folder and lists its files.
"""),
        code('detail = gw.AssetDetail(g, ids["holt-winters"])\ndetail'),
        md("""
## Train from a form

`gw.TrainForm` builds one control per hyperparameter from the algorithm's manifest (ranges, choices and
defaults included; required ones are marked `*`), a path field per input that says whether the path exists,
and the output folder. Each field is checked as you type, with the same messages `train()` gives. **Start
training** shows the job live.
"""),
        code("""
algo = g.import_algorithm(ids["holt-winters"])
form = gw.TrainForm(algo)
form.params_form.input_paths["history"].value = str(demo.dataset("sales"))
form"""),
        md("""
## Notifications

When a publisher adds a version of something you subscribed to, the gallery tells you; it also warns you a few
days before a subscription ends. Here *mei.chen* publishes a new version of the forecaster; the bell of the
market (and of My Gallery) counts what you have not read yet.
"""),
        code("""
mei = gw.open(user="mei.chen")
source = gw.Algorithm.from_dir(demo.DEMO_DIR / "algorithms" / "holt-winters")   # mei's source folder
mei.add_version(ids["holt-winters"], source, description="Same model, refreshed packaging.",
                agree=True).versions[0].version"""),
        code("market = gw.MarketBrowser(g)\nmarket"),
    ],
}


def build(name: str, cells) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for number, cell in enumerate(notebook.cells):
        cell.id = f"{name[:2]}-{number:02d}"  # stable ids: regenerating does not churn the diff
    nbformat.validate(notebook)
    return notebook


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(name, cells), path)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
