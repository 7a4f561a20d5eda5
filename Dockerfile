# The panel's production image: gunicorn + whitenoise for web; the same image runs
# the Celery worker and beat (see docker-compose.yml, which mirrors the Procfile).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PANEL_VAR_DIR=/var/lib/panel

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings to load; these placeholders exist for this one step only
# and are never part of the image's environment.
RUN DEBUG=false SECRET_KEY=collectstatic-only-placeholder-value-not-used-at-runtime-0000000 \
    FERNET_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= PANEL_VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput \
 && rm -rf /tmp/build-var \
 && useradd --system --uid 10001 --home-dir /app panel \
 && mkdir -p /var/lib/panel && chown panel /var/lib/panel

USER panel
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["sh", "-c", "exec gunicorn controlpanel.wsgi --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2} --threads ${GUNICORN_THREADS:-4} --access-logfile - --graceful-timeout 5"]
