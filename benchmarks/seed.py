"""Fill a gallery database with a realistic catalogue, fast (bulk SQL, one version per asset).

Used by the benchmarks; ``python benchmarks/seed.py --url URL --assets N``.
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select

import gallery_widgets as gw
from gallery_widgets.core.taxonomy import all_categories
from gallery_widgets.store.schema import (
    AssetCategoryRow,
    AssetRow,
    AssetTextRow,
    UserRow,
    VersionRow,
    WhitelistRow,
)
from gallery_widgets.store.search import facets, without_accents

TOPICS = ["image", "text", "time series", "tabular", "speech", "graph", "video", "point cloud", "recommendation",
          "anomaly", "forecast", "segmentation", "detection", "classification", "regression", "clustering",
          "translation", "summarization", "retrieval", "ranking"]
METHODS = ["ResNet", "BERT", "XGBoost", "LightGBM", "Transformer", "UNet", "YOLO", "LSTM", "GRU", "Prophet",
           "ARIMA", "random forest", "logistic regression", "k-means", "autoencoder", "GAN", "diffusion",
           "ViT", "CLIP", "Whisper", "GNN", "TabNet", "CatBoost", "SVM"]
DOMAINS = ["retail", "finance", "healthcare", "manufacturing", "energy", "agriculture", "smart home", "logistics",
           "telecom", "insurance", "automotive", "satellite", "city traffic", "robotics", "education"]
FILLER = ("model data training accuracy fast robust scalable pipeline dataset features evaluation baseline "
          "tuned pretrained lightweight production ready open source benchmark inference batch streaming "
          "gpu cpu edge cloud notebook example tutorial metrics loss optimizer learning rate epochs").split()
RARE_WORD = "zanzibarite"  # appears in a handful of descriptions
KINDS = ("algorithm", "model", "workflow")


def seed(url: str, assets: int, *, publishers: int = 300, rng_seed: int = 7, artifacts=None) -> dict:
    rng = random.Random(rng_seed)
    g = gw.open(url, user="bench-admin", artifacts=artifacts)
    db = g._db
    now = datetime.now(timezone.utc)
    categories = all_categories()
    with db.write() as s:
        existing = s.scalar(select(AssetRow.id).limit(1))
        if existing is not None:
            raise SystemExit(f"{url} already holds assets; seed an empty gallery")
        s.execute(insert(UserRow), [
            {"username": f"user{i:04d}", "nickname": f"{rng.choice(['Ada', 'Lin', 'Kai', 'Noor', 'Sam'])} {i}",
             "email": "", "description": "", "role": "user", "created_at": now}
            for i in range(publishers)
        ])
        names = dict(s.execute(select(UserRow.id, UserRow.username).where(UserRow.username.like("user%"))).all())
        user_ids = list(names)
    batch = 5000
    next_id = 1
    for start in range(0, assets, batch):
        rows, texts, cats, versions, whitelist = [], [], [], [], []
        for i in range(start, min(assets, start + batch)):
            kind = KINDS[i % 3]
            topic, method, domain = rng.choice(TOPICS), rng.choice(METHODS), rng.choice(DOMAINS)
            title = f"{method} {topic} {kind} for {domain} #{i}"
            summary = f"{method} based {topic} {kind} tuned for {domain} workloads"
            words = rng.choices(FILLER, k=rng.randint(40, 90))
            if i % 20_000 == 7:
                words.append(RARE_WORD)
            description = f"# {title}\n\n{summary}. " + " ".join(words)
            publisher = rng.choice(user_ids)
            # bench-user is whitelisted on about 200 group assets, others on a few each.
            whitelisted = ["bench-user"] if rng.random() < 0.04 else [f"user{rng.randrange(publishers):04d}"]
            roll = rng.random()
            visibility = "public" if roll < 0.9 else ("group" if roll < 0.95 else "private")
            subs = int(rng.paretovariate(1.2)) - 1
            row = {
                "id": next_id, "content_id": f"bench{next_id:011d}", "kind": kind, "title": title,
                "summary": summary, "cover": None, "publisher_id": publisher, "official": rng.random() < 0.02,
                "featured": rng.random() < 0.03, "visibility": visibility,
                "status": "released" if rng.random() < 0.97 else "discontinued",
                "duration_days": None, "auto_renew": False, "paper_title": None, "paper_url": None,
                "code_open": True, "license": "MIT", "views": subs * rng.randint(3, 30),
                "favorites": subs // 2, "subscriptions": subs,
                "published_at": now - timedelta(minutes=assets - i), "updated_at": now,
            }
            rows.append(row)
            chosen = rng.sample(categories, rng.randint(1, 3))
            for position, category in enumerate(chosen):
                cats.append({"asset_id": next_id, "category": category, "position": position})
            texts.append({
                "asset_id": next_id, "description": description, "description_html": "",
                "search_doc": without_accents("\n".join((title, summary, description, names[publisher], ""))),
                "facets": facets(kind=kind, status=row["status"], visibility=visibility, official=row["official"],
                                 featured=row["featured"], categories=chosen,
                                 audience=[names[publisher]] + (whitelisted if visibility == "group" else [])),
            })
            versions.append({
                "id": next_id, "asset_id": next_id, "version": "1.0.0", "major": 1, "minor": 0, "patch": 0,
                "description": "", "status": "normal", "published_at": row["published_at"],
                "digest": "0" * 64, "size": 0, "manifest": {}, "constraints": {}, "findings": [],
            })
            if visibility == "group":
                whitelist.extend({"version_id": next_id, "username": u} for u in whitelisted)
            next_id += 1
        with db.write() as s:
            s.execute(insert(AssetRow), rows)
            s.execute(insert(AssetTextRow), texts)
            s.execute(insert(AssetCategoryRow), cats)
            s.execute(insert(VersionRow), versions)
            if whitelist:
                s.execute(insert(WhitelistRow), whitelist)
    with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql("INSERT INTO assets_fts(assets_fts) VALUES ('optimize')")
        else:
            for table in ("assets", "versions"):
                conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
    if db.dialect == "postgresql":
        # What autovacuum does to a live database soon after a bulk load (and what an operator
        # does after a restore): statistics, visibility map, GIN pending list merged.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    g.close()
    return {"assets": assets, "publishers": publishers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--assets", type=int, default=100_000)
    args = parser.parse_args()
    print(seed(args.url, args.assets))


if __name__ == "__main__":
    main()
