# Two commands: `make demo` sets up and runs the main job; `make test` runs lint, types and tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
RADAR_DB ?= ./radar.db

.PHONY: demo test install fonts browser lint typecheck pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# the editable install compiles nlp/_native/jiebac.c (setup.py): an edit to it reinstalls
$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py nlp/_native/jiebac.c
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed fonts browser

# A Chinese font for charts (confusion matrices, reports); best effort: charts fall back without it
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && \
	   apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1)) || echo "note: no Chinese font installed; charts number their labels"; }

# Debian's Chromium for the report's browser test; best effort: the test skips with the reason without it
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && \
	   apt-get install -y -q chromium >/dev/null 2>&1)) || echo "note: chromium not installed; browser tests will skip"; }

demo: install
	$(BIN)/radar demo --db $(RADAR_DB)

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

# pytest exits 5 when it collects no test: say so plainly instead of failing obscurely
pytest: install
	$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "0 passed, 0 failed (no tests collected)"; exit 0; fi; exit $$rc

test: lint typecheck pytest

clean:
	rm -rf $(VENV) radar.db radar.db-* demo-data radar-quarantine
