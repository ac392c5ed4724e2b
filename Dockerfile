# Node 20 (>= 20.19): the version CI and the test machines run (README "Requirements"). nestjs-pino,
# file-type and eventsource-parser declare node >= 22 and print EBADENGINE warnings at install; they run on
# 20 (whole suite green).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# onnxruntime-node's postinstall would download CUDA libraries; the CPU binaries are in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data/artifacts /data/keys /data/agent /data/tokens && chown -R node:node /data
USER node
EXPOSE 3000
CMD ["node", "dist/apps/control-plane/src/main.js"]
