"""Memory of streaming a large archive through the artifact store (issue 10; target: peak RSS
≤ 100 MB above idle for a 500 MB upload and for its download).

Starts moto's standalone S3 server on loopback, writes a file of random bytes (default 500 MB),
then in a fresh child process per measurement: opens the store, records its resident set
(VmRSS, the idle figure), runs one operation and reads its peak (VmHWM):

- upload: ``store.put_file(path)`` (hash, then a multipart upload straight to the blob's key),
- download: ``store.open(digest)`` read to the end in 1 MiB chunks (verified at the end),

for ``s3://bucket/bench`` and, for comparison, a local artifact folder. Prints MB and MB/s.

    python benchmarks/bench_artifact_store.py [--mb 500] [--only s3|local]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

CHILD = r"""
import json, sys, time
from gallery_widgets.artifacts import open_store

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024  # kB -> MB
location, operation, argument = sys.argv[1:]
store = open_store(location)
store.exists("0" * 64)  # connect (and import s3fs, botocore) before the idle figure
idle = status("VmRSS")
start = time.perf_counter()
if operation == "upload":
    digest, _ = store.put_file(argument)
else:
    digest = argument
    with store.open(digest) as stream:
        while stream.read(1 << 20):
            pass
seconds = time.perf_counter() - start
print(json.dumps({"idle": idle, "peak": status("VmHWM"), "seconds": seconds, "digest": digest}))
"""


def run(location: str, operation: str, argument: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, location, operation, argument], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(name: str, operation: str, result: dict, megabytes: int) -> None:
    above = result["peak"] - result["idle"]
    print(f"{name:6} {operation:8} idle {result['idle']:6.0f} MB   peak {result['peak']:6.0f} MB   "
          f"above idle {above:5.0f} MB   {megabytes / result['seconds']:6.0f} MB/s ({result['seconds']:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--only", choices=("s3", "local"))
    args = parser.parse_args()
    from s3server import MotoS3

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "archive.bin"
        with open(big, "wb") as handle:
            for _ in range(args.mb):
                handle.write(os.urandom(1 << 20))
        targets = []
        server = None
        if args.only != "local":
            server = MotoS3()
            server.create_bucket("bench")
            targets.append(("s3", "s3://bench/bench", {**os.environ, **server.env}))
        if args.only != "s3":
            targets.append(("local", str(Path(tmp) / "artifacts"), dict(os.environ)))
        try:
            print(f"{args.mb} MB of random bytes, one fresh process per line")
            for name, location, env in targets:
                up = run(location, "upload", str(big), env)
                report(name, "upload", up, args.mb)
                down = run(location, "download", up["digest"], env)
                report(name, "download", down, args.mb)
                time.sleep(0.5)
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
