"""Demo data for a first run: publishers, a catalogue of runnable assets, and activity.

    from gallery_widgets.demo import load_demo
    ids = load_demo()                       # the embedded gallery (GALLERY_HOME)
    ids["assets"]["sales-pipeline"]         # content ids by demo key

or from a shell: ``gallery-widgets demo [--url URL]``.

The catalogue is data (``gallery_widgets/data/demo/catalogue.yaml``): nine users with
nicknames, algorithms, models and workflows whose code ships in
``gallery_widgets/data/demo/{algorithms,models}`` and really runs (standard library;
one uses pandas, a dependency of the package), plus sample datasets
(``dataset("sales")``). Publishing dates are spread over the last months; the
operator sets the official and featured flags; subscriptions, favorites, comments and
views make the counters non-zero.

Loading is idempotent: an asset that its publisher already has (same kind and title)
is left as it is, and the activity of an asset is only added when the asset is created,
so running it again adds nothing.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from .errors import Conflict, GalleryError, InvalidInput

DEMO_DIR = Path(__file__).parent / "data" / "demo"
DEMO_USER = "sam"  # the data scientist the notebooks and `bash .ci/lab` run as
ADMIN_USER = "admin"  # the operator of a gallery the demo creates


def dataset(name: str) -> Path:
    """The path of a sample dataset shipped with the demo: ``dataset("sales")`` or ``dataset("sales.csv")``.

    Available: baskets, churn, flowers, houses, reviews, sales, sensors.
    """
    filename = name if name.endswith(".csv") else f"{name}.csv"
    path = DEMO_DIR / "datasets" / filename
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in (DEMO_DIR / "datasets").glob("*.csv")))
        raise InvalidInput(f"No demo dataset {name!r}; the demo ships: {known}.")
    return path


def catalogue() -> dict:
    """The demo catalogue as data (users, then assets in publishing order)."""
    return yaml.safe_load((DEMO_DIR / "catalogue.yaml").read_text("utf-8"))


# -- images ---------------------------------------------------------------------------------
def _hex(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def gradient_png(start: str, end: str, width: int = 360, height: int = 200) -> bytes:
    """A diagonal two-colour gradient as PNG bytes (covers are 360×200, SPEC P7)."""
    a, b = _hex(start), _hex(end)
    span = max(1, width + height - 2)
    # One precomputed colour per diagonal; every row is a slice of that strip.
    strip = bytearray()
    for step in range(width + height - 1):
        t = step / span
        strip += bytes(round(a[c] + (b[c] - a[c]) * t) for c in range(3))
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter type: none
        raw += strip[3 * y: 3 * (y + width)]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + chunk(b"IEND", b""))


# -- the clock the demo publishes with -------------------------------------------------------
@dataclass
class _DemoClock:
    """Publishing dates spread over the past: ``at(days_ago)`` moves it."""

    base: datetime
    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return self.base - self.offset

    def at(self, days_ago: float) -> None:
        self.offset = timedelta(days=max(0.0, float(days_ago)))


# -- loading ----------------------------------------------------------------------------------
def load_demo(g_admin_url=None, *, home=None) -> dict:
    """Fill a gallery with the demo catalogue; returns what it holds.

    ``g_admin_url``: a gallery URL (``sqlite:///…``, ``postgresql://…``) or an open gallery
    (``gw.open(...)``, ideally as its admin); default: the embedded gallery under
    ``home`` (a ``GALLERY_HOME``-style folder) or ``GALLERY_HOME``.

    The operator account sets the official and featured flags: in a new gallery the demo
    opens ``admin`` first (which makes it the admin); in a gallery that already has an
    admin, that admin is used. Idempotent: see the module's docstring.

    Returns ``{"url", "admin", "demo_user", "users", "assets": {key: content_id},
    "created": [keys], "existing": [keys], "warnings": [...]}``.
    """
    from .gallery import LocalGallery

    spec = catalogue()
    if isinstance(g_admin_url, LocalGallery):
        context = g_admin_url._ctx
    else:
        if g_admin_url is not None and not isinstance(g_admin_url, str):
            raise InvalidInput("load_demo takes a gallery URL, an open gallery (gw.open()) or nothing.")
        context = _context_for(g_admin_url, home)
    clock = _DemoClock(base=_now_rounded())
    loader = _Loader(context, clock, spec)
    return loader.run()


def _now_rounded() -> datetime:
    now = datetime.now(timezone.utc)
    return now.replace(second=0, microsecond=0)


def _context_for(url, home):
    from .gallery import _context
    from .paths import default_home

    artifacts = None
    if home is not None:
        home_path = Path(home).expanduser()
        home_path.mkdir(parents=True, exist_ok=True)
        if url is None:
            url = f"sqlite:///{home_path / 'gallery.db'}"
        artifacts = home_path / "artifacts"
    elif url is None:
        default_home().mkdir(parents=True, exist_ok=True)
    return _context(url, artifacts)


class _Loader:
    def __init__(self, context, clock: _DemoClock, spec: dict):
        self.ctx = context
        self.clock = clock
        self.spec = spec
        self.galleries: dict = {}
        self.ids: dict[str, str] = {}
        self.versions: dict[str, list[str]] = {}
        self.created: list[str] = []
        self.existing: list[str] = []
        self.warnings: list[str] = []
        self.admin = None

    # -- users --------------------------------------------------------------------------------
    def gallery(self, username: str):
        """The gallery as ``username`` (created on first use), on the demo clock."""
        if username not in self.galleries:
            from .core.sql_gallery import ensure_user
            from .gallery import LocalGallery

            user_id = ensure_user(self.ctx, username, self.clock)
            self.galleries[username] = LocalGallery(self.ctx, user_id, username, self.clock)
        return self.galleries[username]

    def _existing_admin(self) -> str | None:
        from sqlalchemy import select

        from .store.schema import UserRow

        with self.ctx.db.read() as s:
            return s.scalar(select(UserRow.username).where(UserRow.role == "admin").order_by(UserRow.id).limit(1))

    def setup_users(self) -> None:
        self.clock.at(220)
        first = self.spec["users"][0]["username"]
        existing_admin = self._existing_admin()
        # In a new gallery the first account opened becomes its admin: open the operator first.
        self.gallery(first if existing_admin is None else existing_admin)
        admin_name = existing_admin or first
        if self.gallery(admin_name).me.role == "admin":
            self.admin = self.gallery(admin_name)
        else:
            self.warnings.append("no admin account found; official and featured flags were not set")
        for user in self.spec["users"]:
            g = self.gallery(user["username"])
            me = g.me
            if me.avatar is None and me.nickname == me.username:  # a fresh account: fill My Information
                g.update_profile(nickname=user["nickname"], email=user.get("email", ""),
                                 description=user.get("description", ""),
                                 avatar=gradient_png(*user["avatar"], width=96, height=96)
                                 if user.get("avatar") else None)

    # -- assets -------------------------------------------------------------------------------
    def run(self) -> dict:
        self.setup_users()
        owned: dict[str, dict] = {}
        for item in self.spec["assets"]:
            publisher = item["publisher"]
            if publisher not in owned:
                owned[publisher] = {(a.kind, a.title.lower()): a for a in self.gallery(publisher).publishes()}
            found = owned[publisher].get((item["kind"], item["title"].lower()))
            if found is not None:
                self.ids[item["key"]] = found.content_id
                self.existing.append(item["key"])
                continue
            try:
                self.create(item)
            except Conflict:
                # Another process created it meanwhile: use theirs, add nothing.
                for a in self.gallery(publisher).publishes(item["kind"]):
                    if a.title.lower() == item["title"].lower():
                        self.ids[item["key"]] = a.content_id
                        self.existing.append(item["key"])
                        break
                else:
                    raise
        return {
            "url": self.gallery(self.spec["users"][0]["username"]).url,
            "admin": self.admin.username if self.admin is not None else None,
            "demo_user": self.spec.get("demo_user", DEMO_USER),
            "users": [u["username"] for u in self.spec["users"]],
            "assets": dict(self.ids),
            "created": list(self.created),
            "existing": list(self.existing),
            "warnings": list(self.warnings),
        }

    def _source(self, item: dict, changelog: str | None = None):
        from .kernel.sources import Algorithm, Model

        folder = DEMO_DIR / item["source"]
        cls = Algorithm if item["kind"] == "algorithm" else Model
        source = cls.from_dir(folder)
        if changelog is not None:  # each version gets its own artifact
            files = dict(source.files)
            files["CHANGELOG.md"] = changelog.encode()
            source = cls(source.manifest, files, source.origin)
        return source

    def _workflow(self, item: dict):
        from .kernel.workflow import Step, StepOutput, Workflow

        steps = []
        for step in item["steps"]:
            key, _, version = step["algorithm"].partition("@")
            if key not in self.ids:
                raise InvalidInput(
                    f"demo workflow {item['key']!r}: step algorithm {key!r} comes later in the catalogue.")
            inputs = {}
            for name, wire in (step.get("inputs") or {}).items():
                if "dataset" in wire:
                    inputs[name] = str(dataset(wire["dataset"]))
                else:
                    inputs[name] = StepOutput(wire["step"], wire["output"])
            steps.append(Step(step["name"], f"{self.ids[key]}@{version}", params=dict(step.get("params") or {}),
                              inputs=inputs))
        return Workflow(item["key"], steps=steps)

    def create(self, item: dict) -> None:
        rng = random.Random(item["key"])
        age = float(item.get("age", 30))
        g = self.gallery(item["publisher"])
        self.clock.at(age)
        duration = None
        if item.get("duration"):
            from .entities import Duration

            duration = Duration(item["duration"]["days"], bool(item["duration"].get("auto_renew", False)))
        options = dict(
            title=item["title"], summary=item.get("summary", ""), visibility=item.get("visibility", "public"),
            group_users=tuple(item.get("group_users", ())), duration=duration,
            categories=tuple(item.get("categories", ())), agree=True,
        )
        if item["kind"] == "workflow":
            asset = g.publish(self._workflow(item), description=item.get("version_description", "First release."),
                              **options)
        else:
            history = [item.get("version_description", "First release.")]
            asset = g.publish(self._source(item), description=history[0], **options)
        cid = asset.content_id
        self.ids[item["key"]] = cid
        self.created.append(item["key"])

        edits = {"description": item.get("description", "")}
        if item.get("cover"):
            edits["cover"] = gradient_png(*item["cover"])
        if item.get("paper"):
            from .entities import Paper

            edits["paper"] = Paper(item["paper"]["title"], item["paper"]["url"])
        if "code_open" in item:
            edits["code_open"] = bool(item["code_open"])
        if item.get("license"):
            edits["license"] = item["license"]
        g.edit_asset(cid, **edits)

        for version in item.get("versions", ()):
            self.clock.at(version.get("age", age))
            history.append(version["description"])
            changelog = "# Changes\n\n" + "\n".join(f"- {line}" for line in reversed(history)) + "\n"
            g.add_version(cid, self._source(item, changelog), version=version["version"],
                          description=version["description"], agree=True)
        for version in item.get("discontinue_versions", ()):
            g.discontinue_version(cid, version)

        if self.admin is not None and (item.get("official") or item.get("featured")):
            if item.get("official"):
                self.admin.set_official(cid, True)
            if item.get("featured"):
                self.admin.set_featured(cid, True)
        self._activity(item, cid, rng, age)
        if item.get("discontinued"):
            self.clock.at(max(0.5, age / 4))
            g.discontinue(cid)
        self.clock.at(0)

    def _activity(self, item: dict, cid: str, rng: random.Random, age: float) -> None:
        """Subscriptions, favorites, comments and views — once, when the asset is created."""
        limit = item["duration"]["days"] / 2 if item.get("duration") else age
        window = max(0.2, min(age, limit) - 0.1)

        def moment(lo: float = 0.1) -> float:
            return rng.uniform(lo, window)

        for user in item.get("subscribers", ()):
            self.clock.at(moment())
            try:
                self.gallery(user).subscribe(cid, accept_constraints=True, accept_agreements=True)
            except GalleryError as exc:
                self.warnings.append(f"{user} could not subscribe to {item['title']!r}: {exc}")
        for user in item.get("cancelled", ()):
            self.clock.at(0.05)  # after every subscription above
            self.gallery(user).cancel_subscription(cid)
        for user in item.get("favorites", ()):
            self.clock.at(moment())
            self.gallery(user).favorite(cid)
        comments = item.get("comments", ())
        times = sorted((moment() for _ in comments), reverse=True)  # in the order written
        for comment, when in zip(comments, times):
            self.clock.at(when)
            self.gallery(comment["user"]).comment(cid, comment["text"])
        viewers = self._viewers(item)
        for n in range(int(item.get("views", 0)) if viewers else 0):
            self.clock.at(moment())
            self.gallery(viewers[n % len(viewers)]).asset(cid)

    def _viewers(self, item: dict) -> list[str]:
        visibility = item.get("visibility", "public")
        if visibility == "private":
            return []
        candidates = list(item.get("group_users", ())) if visibility == "group" else [
            u["username"] for u in self.spec["users"]]
        admin = self.admin.username if self.admin is not None else None
        return [u for u in candidates if u not in (item["publisher"], admin)]


__all__ = ["load_demo", "dataset", "catalogue", "gradient_png", "DEMO_USER", "ADMIN_USER"]
