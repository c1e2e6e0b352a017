"""Jobs are contained (U2) and the unpacked cache is never trusted just because it is there (U7).

Written as an attacker would try: a subscribed algorithm whose job rewrites another
algorithm's cached code, starts ``setsid`` daemons, reads the kernel's secrets from its
environment, or prints 30 MB on one line. Every job here is a real process tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import gallery_widgets as gw
from gallery_widgets.kernel import extract
from gallery_widgets.kernel.runtime.jobs import SHOW_LINE_CHARS, SHOW_LOG_BYTES, start_job
from gallery_widgets.kernel.runtime.runner import LOG_PART_BYTES

from conftest import write_algorithm
from test_jobs import gone, run, wait_for

VICTIM = """\
def main(params, inputs, outputs):
    return {"who": "victim"}
"""

# Rewrites every train.py it can find under the folder it is given (the kernel's cache),
# adds a module that would shadow the standard library there, and also tries its own copy.
ATTACKER = """\
import os, stat
from pathlib import Path

EVIL = "def main(params, inputs, outputs):\\n    return {'who': 'pwned'}\\n"


def force_write(path, text):
    for folder in [path.parent, *path.parent.parents][:3]:
        try:
            folder.chmod(0o755)
        except OSError:
            pass
    if path.exists():
        path.chmod(0o644)
    path.write_text(text)


def main(params, inputs, outputs):
    hits = 0
    for target in Path(inputs["cache"]).rglob("train.py"):
        force_write(target, EVIL)
        force_write(target.parent / "json.py", "raise SystemExit('shadowed')\\n")
        hits += 1
    force_write(Path(__file__), EVIL)  # its own code: the next job of this algorithm must not see it
    return {"hits": hits, "cwd": os.getcwd()}
"""


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """This machine's cache, job folders and runs, for this test only."""
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def publish_algorithm(alice, bob, root: Path, name: str, train: str, manifest: str | None = None):
    root = write_algorithm(root, name, manifest=manifest)
    (root / "train.py").write_text(train)
    asset = alice.publish(gw.Algorithm.from_dir(root), title=name.title(), visibility="public", agree=True)
    alice.edit_asset(asset.content_id, code_open=True)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    return asset


ATTACKER_MANIFEST = "name: attacker\nentrypoint: train:main\ninputs: [{name: cache}]\noutputs: [{name: model}]\n"


def test_u7_a_job_cannot_change_what_the_next_import_or_job_runs(alice, bob, home, tmp_path, gallery_url):
    victim_asset = publish_algorithm(alice, bob, tmp_path / "src" / "victim", "victim", VICTIM)
    attacker_asset = publish_algorithm(alice, bob, tmp_path / "src" / "attacker", "attacker", ATTACKER,
                                       manifest=ATTACKER_MANIFEST)
    data = tmp_path / "data.txt"
    data.write_text("1\n")
    victim = bob.import_algorithm(victim_asset.content_id)
    attacker = bob.import_algorithm(attacker_asset.content_id)
    assert victim.train({"epochs": 1}, {"data": data}).wait(timeout=30).metrics["who"] == "victim"

    attack = attacker.train({}, {"cache": bob.cache_root}).wait(timeout=30)
    assert attack.status == "succeeded", attack.error
    assert attack.metrics["hits"] >= 2  # it really rewrote the cached code (ours runs as root: no chmod stops it)
    assert Path(attack.metrics["cwd"]) == attack.job_dir / "work"  # it never works inside the cache

    # This kernel: the next job and the next in-kernel import run the published code.
    assert victim.train({"epochs": 1}, {"data": data}).wait(timeout=30).metrics["who"] == "victim"
    assert victim.module.main({}, {}, {}) == {"who": "victim"}
    assert attacker.train({}, {"cache": tmp_path / "src"}).wait(timeout=30).metrics["hits"] == 2  # not "pwned"

    # A new process (a new kernel) that imports and trains it runs the published code too.
    attack2 = attacker.train({}, {"cache": bob.cache_root}).wait(timeout=30)
    assert attack2.status == "succeeded"
    script = textwrap.dedent("""
        import json, sys
        import gallery_widgets as gw
        url, artifacts, content_id, data = sys.argv[1:]
        g = gw.open(url, user="bob", artifacts=artifacts)
        algorithm = g.import_algorithm(content_id)
        job = algorithm.train({"epochs": 1}, {"data": data}).wait(timeout=30)
        print(json.dumps({"job": job.metrics, "module": algorithm.module.main({}, {}, {})}))
    """)
    kernel = subprocess.run([sys.executable, "-c", script, gallery_url, str(tmp_path / "artifacts"),
                             victim_asset.content_id, str(data)],
                            capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert kernel.returncode == 0, kernel.stderr
    assert json.loads(kernel.stdout.splitlines()[-1]) == {"job": {"who": "victim"}, "module": {"who": "victim"}}
    assert not (victim._folder / "json.py").exists()  # and the cache holds the published tree again


def test_u7_changed_added_or_removed_file_in_the_cache_is_unpacked_again(tmp_path):
    import io
    import zipfile

    from gallery_widgets.artifacts import sha256

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.py", VICTIM)
        archive.writestr("lib/util.py", "X = 1\n")
    data = buffer.getvalue()
    digest = sha256(data)
    cache = tmp_path / "cache"
    reads = []

    def read_archive(wanted):
        reads.append(wanted)
        return data

    folder = extract.fetch(digest, cache, read_archive)
    assert extract.fetch(digest, cache, read_archive) == folder and len(reads) == 1  # warm: no re-read
    for tamper in (lambda f: (f / "train.py").write_text("evil"),
                   lambda f: (f / "lib" / "json.py").write_text("evil"),
                   lambda f: (f / "lib" / "util.py").unlink()):
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        (folder / "train.py").chmod(0o644)
        tamper(folder)
        assert extract.tree_differences(folder, extract.file_list(data))
        assert extract.fetch(digest, cache, read_archive) == folder
        assert extract.tree_differences(folder, extract.file_list(data)) == []
        assert (folder / "train.py").read_text() == VICTIM
    assert len(reads) == 4  # each change was noticed and the archive read again
    # A new process knows nothing yet: it checks the tree against the archive it reads.
    extract._extracted.clear()
    (folder / "train.py").chmod(0o644)
    (folder / "train.py").write_text("evil")
    assert (extract.fetch(digest, cache, read_archive) / "train.py").read_text() == VICTIM
    assert oct((folder / "train.py").stat().st_mode & 0o777) == "0o444"  # unpacked read-only


def test_u7_job_refuses_code_changed_between_check_and_copy(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(VICTIM)
    files = {"train.py": extract.hashlib.sha256(VICTIM.encode()).hexdigest()}
    (code / "train.py").write_text("def main(p, i, o):\n    return {'who': 'pwned'}\n")
    from gallery_widgets.artifacts import TamperedArtifact

    with pytest.raises(TamperedArtifact, match="changed after it was checked"):
        start_job(code_dir=code, entrypoint="train:main", params={}, inputs={}, outputs={},
                  jobs_root=tmp_path / "jobs", name="x", code_files=files)
    assert list((tmp_path / "jobs").iterdir()) == []  # no half-made job left behind


# --- the process tree ------------------------------------------------------------------------------

DAEMONS = """
pids = Path(params["pids"])
# A real setsid(1) daemon that forks away (setsid -f), and a Python one with a double fork
# and a new session: neither is in the job's process group any more.
subprocess.run(["setsid", "-f", "sh", "-c", f"echo $$ >> {pids}; exec sleep 300"], check=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\\n")
        time.sleep(300)
    os._exit(0)
wait_until = time.monotonic() + 10
while len(pids.read_text().split()) < 2 and time.monotonic() < wait_until:
    time.sleep(0.02)
print("daemons up", flush=True)
while not Path(params["pids"] + ".go").exists():  # the test looks at the daemons first
    time.sleep(0.02)
"""

ENDINGS = {
    "finish": ("return {'ok': 1}", {}, "succeeded"),
    "fail": ("raise RuntimeError('boom')", {}, "failed"),
    "cancel": ("", {}, "cancelled"),
    "timeout": ("", {"timeout_s": 3}, "cancelled"),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_u2_detached_daemons_end_with_the_job(tmp_path, ending):
    tail, options, status = ENDINGS[ending]
    pids = tmp_path / "pids.txt"
    pids.write_text("")
    job = run(tmp_path, DAEMONS + tail, params={"pids": str(pids)}, **options)
    wait_for(lambda: "daemons up" in job.logs or job.status in ("succeeded", "failed", "cancelled"), timeout=20,
             what="the daemons")
    daemons = [int(p) for p in pids.read_text().split()]
    assert len(daemons) == 2 and not any(gone(pid) for pid in daemons), job.logs
    if ending == "cancel":
        job.cancel()
    elif ending != "timeout":
        Path(str(pids) + ".go").touch()
    job.wait(timeout=30)
    assert job.status == status, job.error
    wait_for(lambda: all(gone(pid) for pid in daemons) and gone(job.pid), timeout=10,
             what="every process of the job to end")


def test_u2_a_stuck_runner_is_killed_with_everything_it_started(tmp_path):
    """The kernel's backstop: when the runner itself does not answer (here: stopped with
    SIGSTOP), cancel still ends its detached descendants, not only its process group."""
    import signal

    pids = tmp_path / "pids.txt"
    pids.write_text("")
    job = run(tmp_path, DAEMONS, params={"pids": str(pids)})
    wait_for(lambda: "daemons up" in job.logs, timeout=20, what="the daemons")
    daemons = [int(p) for p in pids.read_text().split()]
    os.kill(job.pid, signal.SIGSTOP)
    job.cancel()
    assert job.status == "cancelled"
    wait_for(lambda: all(gone(pid) for pid in daemons) and gone(job.pid), timeout=10, what="the whole tree to end")


# --- the environment ----------------------------------------------------------------------------------

def test_u2_job_gets_an_allow_listed_environment_without_secrets(tmp_path, monkeypatch):
    secrets = {"GALLERY_SMTP_PASSWORD": "hunter2", "GALLERY_SMTP_USER": "mailer", "AWS_SECRET_ACCESS_KEY": "aws",
               "GALLERY_TEST_POSTGRES_URL": "postgresql://u:pw@db/x", "GITHUB_TOKEN": "ghp", "LD_PRELOAD": "/evil.so"}
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    job = run(tmp_path, """
        import subprocess
        child = subprocess.run(["env"], capture_output=True, text=True).stdout
        return {"env": json.dumps(dict(os.environ)), "child": child}
    """, env={"OMP_NUM_THREADS": "2"}).wait(timeout=30)
    assert job.status == "succeeded", job.error
    env = json.loads(job.metrics["env"])
    for key, value in secrets.items():
        assert key not in env
        assert value not in job.metrics["child"]  # nor in what its own child processes get
    assert env["PATH"] == os.environ["PATH"] and env["HOME"] == os.environ["HOME"]
    assert env["LC_ALL"] == "C.UTF-8" and env["OMP_NUM_THREADS"] == "2"  # allowed, and asked for


# --- the logs ----------------------------------------------------------------------------------------------

def test_u2_a_30_mb_line_is_capped_when_stored_and_when_shown(tmp_path):
    job = run(tmp_path, """
        sys.stdout.write("x" * (30 * 1024 * 1024) + "\\n")
        print("the end")
    """).wait(timeout=60)
    assert job.status == "succeeded", job.error
    stored = sum(p.stat().st_size for p in job.job_dir.glob("log*.txt"))
    assert stored <= 2 * LOG_PART_BYTES + 65536
    shown = job.logs
    assert len(shown) <= SHOW_LOG_BYTES
    assert shown.startswith("[gallery_widgets: earlier output not shown")
    assert max(len(line) for line in shown.splitlines()) <= SHOW_LINE_CHARS + 60
    assert shown.endswith("the end\n")
    tail = job.tail(5)
    assert tail.splitlines()[-1] == "the end" and len(tail) <= SHOW_LINE_CHARS + 100


def test_u2_many_lines_keep_the_newest_output(tmp_path):
    job = run(tmp_path, """
        for i in range(400_000):
            print(f"line {i:07d} " + "y" * 40)
    """).wait(timeout=60)
    assert job.status == "succeeded", job.error
    assert job.tail(1).startswith("line 0399999")
    assert sum(p.stat().st_size for p in job.job_dir.glob("log*.txt")) <= 2 * LOG_PART_BYTES + 65536


def test_u2_metrics_and_events_cannot_flood_the_views(tmp_path):
    job = run(tmp_path, """
        report(note="n" * 5_000_000)
        with open(os.environ["GALLERY_JOB_EVENTS"], "a") as events:  # around gw.report, straight into the file
            events.write('{"progress": 0.9, "metrics": {"huge": "' + "h" * 3_000_000 + '"}}\\n')
            events.write('[1, 2]\\n{"metrics": "not a dict"}\\n')
        report(progress=0.5, loss=0.25)
        return {"summary": "s" * 2_000_000}
    """).wait(timeout=60)
    assert job.status == "succeeded", job.error
    assert job.progress == 0.5  # the over-long line was skipped, the lines after it were read
    assert job.metrics["loss"] == 0.25 and "huge" not in job.metrics
    assert len(job.metrics["note"]) == len(job.metrics["summary"]) == 1001
