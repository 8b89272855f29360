# Herald in a container. Build and run (docs/operations.md#containers):
#   docker build -t herald:local .
#   docker run --rm -p 8080:8080 -v herald-data:/data --stop-timeout 30 \
#     -e HERALD_JWT_SECRET="$(openssl rand -hex 32)" herald:local
#
# The image listens on 0.0.0.0, so it needs a key: without HERALD_JWT_SECRET (or
# HERALD_JWT_PUBLIC_KEY / HERALD_JWKS_URL with HERALD_JWT_AUDIENCE) Herald would be in
# development mode, which mints tokens for anyone, and it refuses to start on a
# non-loopback address; the log line names HERALD_JWT_SECRET.
#
# test/ops/container.test.ts reads this file (no Docker engine runs in the test suite): it
# checks these instructions, then lays out the runtime stage's COPY lines from a fresh build
# and runs Herald from there as uid 10001 with the ENV below.

# ---- build: compile TypeScript, the SDK's browser modules, the inbox page, and better-sqlite3
FROM node:20-bookworm AS build
# better-sqlite3 is compiled here against this image's Node and glibc, not downloaded as a
# prebuilt binary: the runtime stage has the same Debian release, so the module loads there.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
ENV npm_config_build_from_source=better-sqlite3
WORKDIR /app
# Dependencies first: this layer is reused until the lockfile changes. --ignore-scripts
# defers the package's own `prepare` build (the sources are not here yet); better-sqlite3's
# and esbuild's install scripts then run alone.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
    && npm rebuild better-sqlite3 esbuild
COPY tsconfig.json ./
COPY src ./src
COPY client ./client
COPY web ./web
COPY scripts/build-web.mjs scripts/build-bin.mjs ./scripts/
RUN npm run build \
    && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: Node, the built files and production dependencies; no compiler, no npm cache
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HERALD_HOST=0.0.0.0 \
    HERALD_PORT=8080 \
    HERALD_DATABASE_URL=/data/herald.db
# A fixed uid, not 1000 (the image's `node` user): volumes and Kubernetes' runAsUser can
# name it. /data must be made and owned before VOLUME: changes after it would be discarded.
RUN groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin herald \
    && mkdir /data \
    && chown 10001:10001 /data \
    && chmod 0700 /data
WORKDIR /app
# What `herald serve` reads at run time: the compiled server (and the SDK code the CLI
# imports), package.json (the version), production node_modules, the inbox page
# (web/dist) and the browser modules it serves (client/dist/browser). Owned by root, so
# the server cannot rewrite its own code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/client/src ./dist/client/src
COPY --from=build /app/web/dist ./web/dist
COPY --from=build /app/client/dist/browser ./client/dist/browser
RUN ln -s /app/dist/src/cli/herald.js /usr/local/bin/herald
VOLUME ["/data"]
EXPOSE 8080
USER 10001:10001
# No curl in the slim image: Node itself asks /readyz (database, broker and load), which
# answers 503 while the node drains or sheds load.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HERALD_PORT || 8080) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
# No tini (nor `docker run --init` needed): the exec-form CMD makes Node PID 1 and it gets
# SIGTERM itself; Herald handles SIGTERM and SIGINT (drains streams over HERALD_DRAIN_MS,
# then exits 0), which matters because PID 1 ignores signals it has no handler for. Herald
# starts no child processes (the SQLite writer is a worker thread), so there are no zombies
# to reap. Give the stop 30 s (`--stop-timeout 30`, compose's stop_grace_period): the
# default 10 s is the drain window alone.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/herald.js", "serve"]
