# syntax=docker/dockerfile:1
# mcp-warden as an image, installed from the package tarball this source builds (what `npm pack` ships).
#   docker build -t mcp-warden .
#   docker run -p 7400:7400 -v "$PWD/warden.yaml:/etc/warden/warden.yaml:ro" mcp-warden
# The config must listen on 0.0.0.0 (a container's loopback is unreachable from outside), which needs real
# authentication and a publicUrl: see deploy/docker/warden.yaml and docs/operations.md.

FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source where no prebuilt binary can be downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# No lifecycle scripts yet: the sources are not copied, so the project's own `prepare` (the build) would fail.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json README.md LICENSE ./
COPY bin ./bin
COPY policies ./policies
COPY scripts ./scripts
COPY src ./src
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir -p /opt/warden
# Installed like any user would: from the tarball, dependencies from the registry, only better-sqlite3's
# install script allowed.
WORKDIR /opt/warden
RUN printf '{ "name": "warden-image", "private": true, "allowScripts": { "better-sqlite3": true } }\n' > package.json \
 && npm install --omit=dev --no-audit --no-fund /tmp/mcp-warden-*.tgz \
 && node node_modules/mcp-warden/bin/warden.js --version

FROM node:20-bookworm-slim
ENV NODE_ENV=production
COPY --from=build /opt/warden /opt/warden
COPY deploy/docker/entrypoint.sh /usr/local/bin/warden-entrypoint
RUN ln -s /opt/warden/node_modules/mcp-warden/bin/warden.js /usr/local/bin/warden \
 && chmod 0755 /usr/local/bin/warden-entrypoint \
 && mkdir -p /etc/warden /var/lib/warden \
 && chown node:node /var/lib/warden
USER node
# The working directory holds the SQLite store when the config names a relative one under it, and is
# the home of stdio upstreams.
WORKDIR /var/lib/warden
ENV HOME=/var/lib/warden
VOLUME ["/var/lib/warden"]
EXPOSE 7400
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch(process.env.WARDEN_HEALTH_URL || 'http://127.0.0.1:7400/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["warden-entrypoint"]
CMD ["serve", "--config", "/etc/warden/warden.yaml"]
