# The API image: Python 3.11, the package, and the built web app served at / by the API itself.
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci
COPY schema.graphql /src/schema.graphql
COPY web/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 APP_ENV=production
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app app
COPY schema schema
COPY engine engine
COPY migrations migrations
RUN pip install --no-cache-dir . && useradd --system --uid 10001 recommender
COPY --from=web /src/web/dist web/dist
USER recommender
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["recommender", "serve", "--host", "0.0.0.0", "--port", "8000"]
