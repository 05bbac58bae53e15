# Traefik (Gateway API provider) for the offline kind profile: the binary built from its Go
# module by scripts/gateway/build-traefik.sh, on the project's Debian base image.
ARG BASE_IMAGE=creditrisk/base:dev
FROM ${BASE_IMAGE}
COPY traefik /usr/local/bin/traefik
USER 10001:10001
EXPOSE 80 8080
ENTRYPOINT ["/usr/local/bin/traefik"]
