# NetworkPolicy agent for the offline kind profile: kube-router's firewall controller only
# (github.com/cloudnativelabs/kube-router/v2, built from its Go module by
# scripts/kind/offline/netpol.sh), with iptables and ipset from Debian packages, on the
# project's Debian base image. Runs as root in the node's network namespace.
ARG BASE_IMAGE=creditrisk/base:dev
FROM ${BASE_IMAGE}
USER 0:0
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iptables ipset \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc/*
COPY kube-router /usr/local/bin/kube-router
ENTRYPOINT ["/usr/local/bin/kube-router"]
