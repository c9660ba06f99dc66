# STAND-IN for grafana/grafana-oss in tests only (see README.md): Grafana is not packaged
# for this machine, so this container only holds the service's place in the stack;
# tests/compose/test_grafana.py validates the provisioning and dashboard statically.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ENTRYPOINT ["sleep", "infinity"]
