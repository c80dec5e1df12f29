# OrthoGUI: `make demo` installs and starts the app on the bundled demo; `make test` installs
# and runs the whole suite (lint, format, types, import rules, tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo run test lint typecheck imports pytest wheel bundle clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python main.py --demo

run: $(STAMP)
	$(BIN)/python main.py

lint: $(STAMP)
	$(BIN)/ruff check orthogui tests bench main.py
	$(BIN)/ruff format --check orthogui tests bench main.py

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

test: lint typecheck imports pytest

# The installable product (code, models/, resources/; entry points orthogui and orthogui-cli).
wheel: $(STAMP)
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation -w dist .

# The frozen app (PyInstaller, one folder: orthogui + orthogui-cli), then its smoke test.
bundle: $(STAMP)
	$(BIN)/python -m pip install -q "pyinstaller>=6.10"
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath build/bundle/dist \
		--workpath build/bundle/work packaging/orthogui.spec
	$(BIN)/python packaging/smoke.py build/bundle/dist/orthogui

clean-venv:
	rm -rf $(VENV)
