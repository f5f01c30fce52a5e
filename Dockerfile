# Unimanager image for the distributed mode: the same image runs the web server (the default
# command), Celery workers and beat (docker-compose.yml sets their commands).

# Build stage: npm packages, the Python environment and the collected static files.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Front-end packages come from the committed lock file; this layer changes only with it.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

COPY . .
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

# The secret key is given for this one command so that no generated key is left in the image
# (every container built from it would share it). The vendor files are copied into var/static,
# so node_modules is not needed at run time.
RUN UNIMANAGER_SECRET_KEY=collectstatic-only /opt/venv/bin/python manage.py collectstatic --noinput \
    && rm -rf node_modules var/secret_key

# Run stage: no Node, no build tools.
FROM python:3.11-slim

# PYTHONPATH puts the source tree before the installed copy of the package, so settings find the
# templates and static files beside it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN useradd --system --create-home --home-dir /home/unimanager --shell /usr/sbin/nologin unimanager

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
RUN chown -R unimanager:unimanager /app/var

USER unimanager
EXPOSE 8000

# The web container applies migrations, then serves HTTP and websockets.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec daphne -b 0.0.0.0 -p 8000 unimanager.asgi:application"]
