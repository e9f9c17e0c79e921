# Rulebook's image: `rulebook serve` (gunicorn) as a non-root user, configured by environment.
#
#   docker build -t rulebook .
#   docker compose up --build          # with PostgreSQL and a one-shot migration: compose.yaml
#
# Every build step is deploy/build.sh, which the test suite runs too (tests/test_packaging.py:
# venv, wheel, app, layout, then this image's CMD and HEALTHCHECK against a fresh instance):
# the image differs from what the suite tested only by its base image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The build stage: a compiler for durable-rules' sdist, the locked virtualenv, the wheel.
FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1
WORKDIR /src
# The locked virtualenv first: a layer that only a change of the locks rebuilds.
COPY requirements ./requirements
COPY deploy/build.sh ./deploy/build.sh
RUN sh deploy/build.sh venv /opt/rulebook requirements
COPY . .
RUN sh deploy/build.sh wheel /opt/rulebook /src /tmp/dist \
    && sh deploy/build.sh app /opt/rulebook /tmp/dist

# The runtime stage: the virtualenv (same path, same Python), no compiler, no sources.
FROM ${PYTHON_IMAGE}
COPY --from=build /opt/rulebook /opt/rulebook
COPY deploy/build.sh /opt/rulebook/build.sh
RUN sh /opt/rulebook/build.sh layout /var/lib/rulebook rulebook
ENV PATH=/opt/rulebook/bin:$PATH
ENV PYTHONUNBUFFERED=1
ENV RULEBOOK_HOME=/var/lib/rulebook
ENV RULEBOOK_HOST=0.0.0.0
ENV RULEBOOK_PORT=8000
ENV RULEBOOK_LOG_FORMAT=json
USER rulebook
WORKDIR /var/lib/rulebook
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('RULEBOOK_PORT', '8000'), timeout=4)"
CMD ["rulebook", "serve"]
