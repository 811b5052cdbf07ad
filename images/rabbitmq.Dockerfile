# RabbitMQ's image: the base image and Debian's rabbitmq-server (3.10, its OAuth 2 plugin
# included). Built by scripts/provision-containers with `docker build --network host` (the
# engine runs without NAT, so the install reaches the mirror through this machine's network);
# tagged clawchaos/rabbitmq:<sha256 of this file, 12 hex digits>-<base image's hash>, which the
# harness computes too. The node's config and data are written into the run folder by
# `services::rabbitmq`, as on the process backend.
ARG BASE
FROM $BASE
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d
LABEL clawchaos.image=rabbitmq
