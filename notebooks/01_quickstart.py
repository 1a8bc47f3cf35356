# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Demand Radar quickstart (需求雷达)
#
# The main job through the Python API: generate the **synthetic** sample (for demos only,
# never for quality claims), ingest the four sources, label, index, and search.
# Open as a notebook with `jupytext --to ipynb notebooks/01_quickstart.py`.

# %%
import tempfile
from pathlib import Path

from api.pipeline import Components, index_store, ingest_sample, label_store
from ingestion.sample import SampleSpec, generate_samples
from insights.summary import summarize
from radar.settings import Settings
from search.backends.base import SearchRequest
from search.store import Store

workdir = Path(tempfile.mkdtemp(prefix="radar-quickstart-"))
settings = Settings(db=workdir / "radar.db")
files = generate_samples(workdir / "data", SampleSpec(forum=60, calls=60, tickets=120, forms=40))
{source: [p.name for p in paths] for source, paths in files.items()}

# %% [markdown]
# ## Ingest: normalise, mask personal data, deduplicate; bad rows go to quarantine

# %%
store = Store.open(settings.db)
reports = ingest_sample(store, workdir / "data", settings)
{source: r.to_dict() for source, r in reports.items()}

# %%
# nothing lost: every row read is a record, a linked duplicate, or quarantined with a reason
for r in store.quarantined()[:5]:
    print(r["source"], r["location"], r["code"], r["message"])

# %% [markdown]
# ## Label with the versioned taxonomy, then index for search

# %%
components = Components.build(settings)
label_report = label_store(store, components)
indexed = index_store(store, components)
print(f"labelled {label_report.records} records ({label_report.docs_per_s:,.0f}/s), indexed {indexed}")

# %%
record = store.get(store.conn.execute("SELECT id FROM records WHERE source = 'calls' LIMIT 1").fetchone()[0])
print(record.text)
for facet, labels in record.labels.items():
    for lab in labels:
        print(f"{facet:16} {lab.label:12} {lab.score:.2f} {lab.source:20} {[e.text for e in lab.evidence]}")

# %% [markdown]
# ## Search with filters and facet counts

# %%
backend = components.backend(store)
response = backend.search(SearchRequest(query="流量 扣费", filters=[("intent", "投诉")], limit=5))
print(response.total, "hits")
for hit in response.hits:
    print(hit.record.id, hit.record.text[:60].replace("\n", " "), hit.highlights[:3])
response.facets["demand_category"]

# %%
summary = summarize(store)
assert all(summary.records[s] > 0 for s in ("forum", "calls", "tickets", "forms"))
summary.top_themes[:5]

# %%
store.close()
