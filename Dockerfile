# rotor image: docker-compose.yml runs it as the `worker` service (the CMD below) and as the
# `codec` service (`node --import tsx workers/codec-main.ts`); the Helm chart likewise.
# TypeScript runs through tsx at run time (a runtime dependency): there is no build step, so
# the image runs exactly the sources that `npm start` and the tests run.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# tini as PID 1: it passes SIGTERM on from the first instant (node as PID 1 drops a signal it has
# no handler for yet, e.g. while tsx loads) and reaps children.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["/usr/bin/tini", "--"]

# Dependencies first, so a source change does not reinstall them. --ignore-scripts: no
# dependency runs install scripts; the native parts (Temporal core bridge, SWC, esbuild) ship
# prebuilt for linux-x64/arm64 gnu in their packages.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# Every top-level folder the entry points import (workers/main.ts, workers/codec-main.ts,
# cli/rotor.js, migrations/migrate.ts); test/unit/docker-compose.test.ts fails when one is missing.
COPY tsconfig.json ./
COPY workers ./workers
COPY observe ./observe
COPY metrics ./metrics
COPY notifications ./notifications
COPY workflows ./workflows
COPY activities ./activities
COPY config ./config
COPY vault ./vault
COPY schedules ./schedules
COPY migrations ./migrations
COPY cli ./cli
COPY stack ./stack

# The official image's unprivileged user; the sources stay root-owned and read-only to it.
USER node

# --max-semi-space-size: see stack/worker-node-flags.mjs
CMD ["node", "--max-semi-space-size=32", "--import", "tsx", "workers/main.ts"]
