# The load balancer in front of the gateways of docker/compose.scale.yml: Debian's HAProxy with the config given.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends haproxy && rm -rf /var/lib/apt/lists/*
ARG CONFIG=haproxy.cfg
COPY ${CONFIG} /etc/haproxy/haproxy.cfg
USER haproxy
EXPOSE 8765
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
