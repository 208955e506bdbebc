# The two commands of README.md. Both set up everything first (scripts/bootstrap.sh,
# idempotent), then run.
VENV ?= .venv
OUT ?= runs/main
PYTEST_ARGS ?=

.PHONY: setup run test clean
setup:
	@bash scripts/bootstrap.sh

run: setup
	$(VENV)/bin/uav-mec run --out $(OUT) --overwrite

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf build build.configure.log build-px4_msgs build-px4_msgs.configure.log runs
