# metrics-server for the offline kind profile: built from sigs.k8s.io/metrics-server by
# scripts/kind/offline/metrics-server.sh, on the project's Debian base image.
ARG BASE_IMAGE=creditrisk/base:dev
FROM ${BASE_IMAGE}
COPY metrics-server /usr/local/bin/metrics-server
USER 10001:10001
EXPOSE 10250
ENTRYPOINT ["/usr/local/bin/metrics-server"]
