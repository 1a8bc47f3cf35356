from __future__ import annotations

import numpy as np
from scipy import sparse

from insights.demand.candidates import CandidateIndex, Sketcher, nearest_pairs
from insights.demand.clustering import N_FEATURES


def _unit_rows(rng: np.random.Generator, n: int, nnz: int, dense: int) -> sparse.csr_matrix:
    lexical = sparse.random(n, N_FEATURES, density=nnz / N_FEATURES, random_state=rng, format="csr")
    lexical = sparse.diags(1 / np.sqrt(lexical.multiply(lexical).sum(axis=1)).A1) @ lexical
    emb = rng.normal(size=(n, dense))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return sparse.hstack([lexical * np.sqrt(0.7), sparse.csr_matrix(emb * np.sqrt(0.3))]).tocsr()


def test_sketch_dot_products_estimate_cosines_and_are_deterministic() -> None:
    rng = np.random.default_rng(0)
    base = _unit_rows(rng, 200, 60, 32)
    # partners share part of each row: cosines spread over 0..1
    noise = _unit_rows(rng, 200, 60, 32)
    mix = rng.uniform(0, 1, size=(200, 1))
    partner = sparse.csr_matrix(base.multiply(mix) + noise.multiply(1 - mix))
    partner = sparse.diags(1 / np.sqrt(partner.multiply(partner).sum(axis=1)).A1) @ partner
    exact = np.asarray(base.multiply(partner).sum(axis=1)).ravel()
    sketch = Sketcher(N_FEATURES, base.shape[1])
    estimate = (sketch(base) * sketch(partner)).sum(axis=1)
    assert np.corrcoef(exact, estimate)[0, 1] > 0.9
    assert np.abs(exact - estimate).mean() < 0.1
    assert np.array_equal(Sketcher(N_FEATURES, base.shape[1])(base), sketch(base))
    assert np.allclose(np.linalg.norm(sketch(base), axis=1), 1.0, atol=1e-5)


def test_candidates_resolve_entries_to_current_live_clusters() -> None:
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(6, 16)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    index = CandidateIndex(16, neighbours=6)
    index.add(["Ka", "Kb"], rows[:2], clusters=True)
    index.add(["r1", "r2", "r3", "r4"], rows[2:], clusters=False)
    assignment = {"r1": "Ka", "r2": "Kc", "r3": "Kgone", "r4": "Kc"}
    alive = {"Ka": 1, "Kb": 1, "Kc": 1}
    found = index.candidates(rows, assignment, alive)
    assert len(found) == 6 and all(row == sorted(row) for row in found)
    assert set().union(*found) == {"Ka", "Kb", "Kc"}  # Kgone was merged away
    assert all("Ka" in row for row in found)  # six entries, six neighbours: every row sees every entry
    assert len(index) == 6


def test_nearest_pairs_find_the_planted_twin_and_skip_self() -> None:
    rng = np.random.default_rng(2)
    rows = rng.normal(size=(300, 24)).astype(np.float32)
    rows[150:] = rows[:150] + rng.normal(scale=0.05, size=(150, 24))  # row i + 150 is row i's twin
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    pairs = nearest_pairs(rows, list(range(150)), neighbours=3)
    assert all(a != b for a, b in pairs)
    found = {a for a, b in pairs if b == a + 150}
    assert len(found) >= 145
