# STAND-IN for minio/minio in tests only (see README.md): moto's S3 protocol server on
# port 9000. Build context: a folder of moto[server] wheels (scripts/e2e.sh makes it).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN --mount=type=bind,source=.,target=/wheels \
    python3 -m venv /opt/moto \
 && /opt/moto/bin/pip install -q --no-cache-dir --no-index --find-links /wheels 'moto[server]'
EXPOSE 9000
# sh -c ignores the arguments after it: the compose file's `command` (MinIO's
# `server /data ...`) does not reach moto.
ENTRYPOINT ["/bin/sh", "-c", "exec /opt/moto/bin/moto_server -H 0.0.0.0 -p 9000", "moto"]
