"""The floor for bench/e2e.py: a bare FastAPI endpoint doing one indexed SELECT and one
committed INSERT against the same database as the hub, with the hub's engine settings.

    BENCH_FLOOR_DB=<sqlalchemy url> uvicorn bench.floor_app:app --workers 2
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from sqlalchemy import text

from hub.db.engine import make_engine

engine = make_engine(os.environ["BENCH_FLOOR_DB"])
app = FastAPI()


@app.get("/floor")
def floor(key: str) -> dict[str, int]:
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM record_identifier WHERE blind_index = :k"), {"k": key}
        ).scalar_one()
        conn.execute(text("INSERT INTO bench_floor (note) VALUES (:n)"), {"n": key[:16]})
        conn.commit()
    return {"found": int(found)}
