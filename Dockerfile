# syntax=docker/dockerfile:1
# The control plane (`mcos serve`) on PostgreSQL; compose.yaml runs it with its database, and
# docs/deployment.md says how. Not built where the project's tests run (no Docker engine there):
# tests/deploy/test_container_steps.py runs the same steps outside a container instead (the
# wheel built by `uv build`, deploy/install-wheel.sh, deploy/docker-entrypoint.sh).

FROM python:3.11-slim AS wheel
# The uv the Makefile uses.
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY . .
RUN uv build --wheel --out-dir /dist

FROM python:3.11-slim
COPY deploy/install-wheel.sh deploy/docker-entrypoint.sh /usr/local/lib/mcos/
COPY --from=wheel /usr/local/bin/uv /usr/local/bin/uv
COPY --from=wheel /dist /tmp/dist
RUN UV_NO_CACHE=1 /usr/local/lib/mcos/install-wheel.sh /opt/mcos /tmp/dist/mcos-*.whl \
    && rm -rf /tmp/dist /usr/local/bin/uv \
    && useradd --system --create-home --home-dir /var/lib/mcos mcos
USER mcos
ENV PATH=/opt/mcos/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MCOS_FLEET=/var/lib/mcos/fleet \
    MCOS_HOST=0.0.0.0 \
    MCOS_PORT=8750
EXPOSE 8750
VOLUME /var/lib/mcos
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8750/api/v1/health', timeout=4)"]
ENTRYPOINT ["/usr/local/lib/mcos/docker-entrypoint.sh"]
