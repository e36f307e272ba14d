# syntax=docker/dockerfile:1
FROM python:3.11-slim

# uv comes from PyPI; it must use this image's Python, never download one.
RUN pip install --no-cache-dir uv

ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PYTHONUNBUFFERED=1

WORKDIR /app

# Dependencies first, so this layer is reused until the lock file changes.
COPY pyproject.toml uv.lock .python-version README.md ./
RUN uv sync --frozen --no-dev --no-install-project --no-cache

# Then the project itself (installs the `parley` console script).
COPY bot/ ./bot/
COPY adapters/ ./adapters/
RUN uv sync --frozen --no-dev --no-cache

ENV PATH="/app/.venv/bin:$PATH"

# Run as an unprivileged user that owns the data directory.
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin parley \
    && mkdir -p /data \
    && chown parley:parley /data
ENV PARLEY_DATA_DIR=/data
USER parley

ENTRYPOINT ["parley"]
CMD ["chat"]
